#include "userd/config/capacity.h"

#include <algorithm>

namespace tcpfo {

size_t backup_capacity(uint64_t open_files, size_t table_bound) {
    if (open_files <= kDescriptorReserve) return 0;
    const uint64_t by_files = (open_files - kDescriptorReserve) / kBackupDescriptorsPerConnection;
    return size_t(std::min<uint64_t>(by_files, table_bound));
}

size_t primary_capacity(size_t table_bound) { return table_bound; }

}  // namespace tcpfo

#include "userd/base/open_file_limit.h"

#include <sys/resource.h>

#include <cstdio>

namespace tcpfo {

Result<OpenFileLimit> raise_open_file_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return sys_fail(errno, "can't read the open-file limit");
    // An unlimited hard limit still stops at fs.nr_open.
    rlim_t target = limit.rlim_max;
    if (target == RLIM_INFINITY) {
        target = 1 << 20;  // the kernel's default nr_open
        if (std::FILE* f = std::fopen("/proc/sys/fs/nr_open", "r")) {
            unsigned long long nr_open = 0;
            if (std::fscanf(f, "%llu", &nr_open) == 1 && nr_open > 0) target = rlim_t(nr_open);
            std::fclose(f);
        }
    }
    OpenFileLimit out{limit.rlim_cur, target, false};
    if (limit.rlim_cur < target) {
        const rlim_t old_soft = limit.rlim_cur;
        limit.rlim_cur = target;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
            return sys_fail(errno, "can't raise the open-file limit from {} to {}", old_soft, target);
        out.soft = target;
        out.raised = true;
    }
    return out;
}

}  // namespace tcpfo

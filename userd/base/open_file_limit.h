// The process's open-file limit (RLIMIT_NOFILE), raised at start to what is allowed.
#pragma once

#include <cstdint>

#include "userd/base/error.h"

namespace tcpfo {

struct OpenFileLimit {
    uint64_t soft = 0;  // in force now (after raising)
    uint64_t hard = 0;
    bool raised = false;  // soft was below hard and was raised
};

// Raises RLIMIT_NOFILE's soft limit to the hard limit (fs.nr_open if the hard limit is
// unlimited; root without CAP_SYS_RESOURCE cannot go beyond the hard one) and returns
// the limits in force.
Result<OpenFileLimit> raise_open_file_limit();

}  // namespace tcpfo

#include "userd/base/scheduling.h"

#include <sched.h>

#include <cerrno>
#include <cstring>

#include "userd/base/log.h"

namespace tcpfo {

void raise_to_realtime(pid_t tid, int priority, const char* what) {
    if (priority <= 0) return;
    sched_param param{};
    param.sched_priority = priority;
    if (sched_setscheduler(tid, SCHED_FIFO, &param) != 0)
        log_warn("failoverd: can't run {} at real-time priority {}: {}; failure detection may misfire under load",
                 what, priority, std::strerror(errno));
}

void back_to_normal_priority() {
    if (sched_getscheduler(0) != SCHED_FIFO) return;
    sched_param param{};
    sched_setscheduler(0, SCHED_OTHER, &param);
}

}  // namespace tcpfo

#include "replay/preload/single_caller.h"

#include <cstdio>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "replay/preload/app_log_stream.h"
#include "replay/preload/preload_state.h"

namespace tcpfo::preload {
namespace {

std::atomic<bool> g_refused{false};

}  // namespace

void check_single_caller(const char* call, int fd) {
    const Caller who = caller();
    if (who == Caller::child)
        die(kForeignChildExit,
            "tcpfo-preload: forked child %ld called %s on fd %d, which its parent records or replays: a "
            "replica cannot be given a child's use of a client connection; the child exits",
            long(syscall(SYS_getpid)), call, fd);
    if (who != Caller::other_thread || g_refused.exchange(true)) return;
    const long tid = long(syscall(SYS_gettid));
    char line[400];
    if (mode_configured() == CallMode::record) {
        std::snprintf(line, sizeof line,
                      "tcpfo-preload: thread %ld called %s on fd %d, which the main thread records: another "
                      "thread's calls have no order a replica can be given; recording and output commit stop, "
                      "the service runs on unprotected",
                      tid, call, fd);
        warn("%s", line);
        stop();
        return;
    }
    std::snprintf(line, sizeof line,
                  "tcpfo-preload: thread %ld called %s on fd %d, which the main thread replays: another "
                  "thread's calls have no recorded order; the replica goes live",
                  tid, call, fd);
    replay_refused(line);
}

}  // namespace tcpfo::preload

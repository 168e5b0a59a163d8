// getpid() (recorded and replayed: the replica sees the primary's pid, so that what
// the application derives from it, such as a seed or a temporary name, is the same),
// and the exec family, before which the record buffer is written: exec replaces the
// image and its buffer. execl*() and fexecve() are not interposed (libc calls execve
// inside itself, past this library): an exec through them loses the buffered entries.
#include <cerrno>
#include <sys/syscall.h>
#include <unistd.h>

#include "replay/preload/app_log_stream.h"
#include "replay/preload/preload_state.h"
#include "replay/preload/real_functions.h"

using namespace tcpfo;
using namespace tcpfo::preload;

namespace {

void flush_before_exec() {
    const CallMode mode = call_mode();
    if (mode == CallMode::record) flush_record_buffer();
    if (mode == CallMode::replay) settle_replay_before_exec();
}

}  // namespace

TCPFO_EXPORT pid_t getpid() noexcept {
    auto real_getpid = [] {
        if (auto real = TCPFO_REAL(getpid)) return real();
        return pid_t(syscall(SYS_getpid));
    };
    switch (call_mode()) {
        case CallMode::pass_through: break;
        case CallMode::record: {
            const pid_t pid = real_getpid();
            const int saved_errno = errno;
            record_entry(GetpidEntry{int32_t(pid)});
            errno = saved_errno;
            return pid;
        }
        case CallMode::replay: {
            const AppLogEntry* entry = replay_entry(AppLogKind::getpid);
            if (entry == nullptr) break;
            return pid_t(std::get<GetpidEntry>(*entry).pid);
        }
    }
    return real_getpid();
}

TCPFO_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
    flush_before_exec();
    auto real = TCPFO_REAL(execve);
    if (real == nullptr) return int(syscall(SYS_execve, path, argv, envp));
    return real(path, argv, envp);
}

TCPFO_EXPORT int execv(const char* path, char* const argv[]) noexcept {
    flush_before_exec();
    auto real = TCPFO_REAL(execv);
    if (real == nullptr) return int(syscall(SYS_execve, path, argv, environ));
    return real(path, argv);
}

TCPFO_EXPORT int execvp(const char* file, char* const argv[]) noexcept {
    flush_before_exec();
    auto real = TCPFO_REAL(execvp);
    if (real == nullptr) {
        errno = ENOSYS;
        return -1;
    }
    return real(file, argv);
}

TCPFO_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
    flush_before_exec();
    auto real = TCPFO_REAL(execvpe);
    if (real == nullptr) {
        errno = ENOSYS;
        return -1;
    }
    return real(file, argv, envp);
}

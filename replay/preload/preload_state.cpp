#include "replay/preload/preload_state.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "replay/preload/app_log_stream.h"
#include "replay/preload/output_gate.h"

namespace tcpfo::preload {
namespace {

// Exit status for a configuration the library refuses at load.
constexpr int kBadConfigurationExit = 2;
// Set at load to the pid of the process whose log this is.
constexpr const char* kOwnerVariable = "TCPFO_PRELOAD_OWNER_PID";

enum class Setup { not_started, running, done };

std::atomic<Setup> g_setup{Setup::not_started};
bool g_owner_steps_pending = false;  // set_up() done, its allocating steps not yet
CallMode g_mode = CallMode::pass_through;
int g_log_fd = -1;
pid_t g_owner_pid = 0;       // the main thread's tid, which is the process's pid
std::atomic<bool> g_child{false};
std::atomic<bool> g_live{false};
std::atomic<bool> g_stopped{false};

__attribute__((tls_model("initial-exec"))) thread_local pid_t t_tid = 0;

// Our own code asks the kernel: getpid() is interposed, and gettid() is a syscall
// anyway; the tid is cached per thread (a forked child inherits the cache, but
// g_child already makes it pass through).
bool on_main_thread() {
    if (t_tid == 0) t_tid = pid_t(syscall(SYS_gettid));
    return t_tid == g_owner_pid;
}

// Before fork: the parent's entries so far reach the log before the child exists, so a
// child that inherits the buffer never writes it (it drops it below).
void before_fork() {
    if (call_mode() == CallMode::record) flush_record_buffer();
}

void in_child_after_fork() {
    g_child.store(true);
    drop_record_buffer();
}

int parse_fd(const char* mode_name) {
    const char* text = getenv("TCPFO_PRELOAD_LOG_FD");
    if (text == nullptr || *text == '\0')
        die(kBadConfigurationExit, "tcpfo-preload: TCPFO_PRELOAD_MODE=%s needs TCPFO_PRELOAD_LOG_FD",
            mode_name);
    char* end = nullptr;
    errno = 0;
    const long fd = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || fd < 0 || fd > 0x7fffffff)
        die(kBadConfigurationExit, "tcpfo-preload: TCPFO_PRELOAD_LOG_FD=%s is not a descriptor number",
            text);
    const int flags = fcntl(int(fd), F_GETFL);
    if (flags < 0)
        die(kBadConfigurationExit, "tcpfo-preload: TCPFO_PRELOAD_LOG_FD=%ld is not an open descriptor: %s",
            fd, strerror(errno));
    const int access = flags & O_ACCMODE;
    const bool record = g_mode == CallMode::record;
    if (record ? access == O_RDONLY : access == O_WRONLY)
        die(kBadConfigurationExit, "tcpfo-preload: TCPFO_PRELOAD_LOG_FD=%ld is not open for %s", fd,
            record ? "writing" : "reading");
    return int(fd);
}

void set_up() {
    const char* mode = getenv("TCPFO_PRELOAD_MODE");
    if (mode == nullptr) return;
    if (strcmp(mode, "record") == 0) {
        g_mode = CallMode::record;
    } else if (strcmp(mode, "replay") == 0) {
        g_mode = CallMode::replay;
    } else {
        die(kBadConfigurationExit,
            "tcpfo-preload: unknown TCPFO_PRELOAD_MODE '%s' (expected record or replay)", mode);
    }
    g_owner_pid = pid_t(syscall(SYS_getpid));
    // A forked child that execs loads this library afresh, with the parent's
    // environment and log descriptor: the owner's pid in the environment tells it the
    // log is not its own. An exec in the owner itself keeps the pid and the log.
    char owner_text[16];
    snprintf(owner_text, sizeof owner_text, "%d", int(g_owner_pid));
    const char* owner = getenv(kOwnerVariable);
    if (owner != nullptr && strcmp(owner, owner_text) != 0) {
        g_mode = CallMode::pass_through;
        return;
    }
    g_log_fd = parse_fd(mode);
    if (g_mode == CallMode::record) set_up_output_gate(g_log_fd, owner != nullptr);
    g_owner_steps_pending = true;
}

// The steps of the set-up that may allocate (setenv, pthread_atfork), run from the
// constructor only. The set-up itself may run inside the allocator: jemalloc (Debian's
// redis) reads the clock while it holds its own lock, and a setenv() from that first
// interposed call waited for the same lock for ever.
void finish_set_up_outside_the_allocator() {
    if (!g_owner_steps_pending) return;
    g_owner_steps_pending = false;
    char owner_text[16];
    snprintf(owner_text, sizeof owner_text, "%d", int(g_owner_pid));
    setenv(kOwnerVariable, owner_text, 1);
    pthread_atfork(before_fork, nullptr, in_child_after_fork);
}

// Runs on the first interposed call or at load, whichever comes first: a library
// loaded before this one may call the clock from its own constructor.
bool ready() {
    Setup state = g_setup.load(std::memory_order_acquire);
    if (state == Setup::done) return true;
    if (state == Setup::running) return false;
    if (!g_setup.compare_exchange_strong(state, Setup::running)) return false;
    set_up();
    g_setup.store(Setup::done, std::memory_order_release);
    return true;
}

__attribute__((constructor)) void at_load() {
    // A call made before the constructor ran the set-up already; ready() waits for
    // nothing then.
    ready();
    finish_set_up_outside_the_allocator();
}

// A process that ends with _exit() (or a signal) loses the entries still buffered:
// only exit() runs this.
__attribute__((destructor)) void at_exit() {
    if (g_mode == CallMode::record) finish_recording();
}

void vprint_line(const char* format, va_list args) {
    char line[1024];
    int n = vsnprintf(line, sizeof line - 1, format, args);
    if (n < 0) return;
    if (size_t(n) > sizeof line - 2) n = int(sizeof line - 2);
    line[n++] = '\n';
    // One write: the line is not interleaved with the application's own stderr. The
    // raw syscall: write() is interposed, and a line the output gate prints must not
    // come back to the gate.
    syscall(SYS_write, STDERR_FILENO, line, size_t(n));
}

}  // namespace

CallMode call_mode() {
    if (!ready() || g_mode == CallMode::pass_through) return CallMode::pass_through;
    if (g_child.load(std::memory_order_relaxed) || g_stopped.load(std::memory_order_relaxed) ||
        !on_main_thread())
        return CallMode::pass_through;
    if (g_mode == CallMode::replay && g_live.load(std::memory_order_relaxed))
        return CallMode::pass_through;
    return g_mode;
}

Caller caller() {
    if (!ready() || g_mode == CallMode::pass_through || g_stopped.load(std::memory_order_relaxed))
        return Caller::unrecorded;
    if (g_mode == CallMode::replay && g_live.load(std::memory_order_relaxed)) return Caller::unrecorded;
    if (g_child.load(std::memory_order_relaxed)) return Caller::child;
    return on_main_thread() ? Caller::in_step : Caller::other_thread;
}

bool is_main_thread() { return !g_child.load(std::memory_order_relaxed) && on_main_thread(); }

CallMode mode_configured() { return ready() ? g_mode : CallMode::pass_through; }

bool tracks_devices() { return ready() && g_mode != CallMode::pass_through; }

int log_fd() { return g_log_fd; }

void go_live() { g_live.store(true); }

void stop() { g_stopped.store(true); }

void die(int code, const char* format, ...) {
    va_list args;
    va_start(args, format);
    vprint_line(format, args);
    va_end(args);
    _exit(code);
}

void warn(const char* format, ...) {
    va_list args;
    va_start(args, format);
    vprint_line(format, args);
    va_end(args);
}

}  // namespace tcpfo::preload

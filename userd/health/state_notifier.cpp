#include "userd/health/state_notifier.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <algorithm>

#include "userd/base/log.h"
#include "userd/health/probe.h"

extern char** environ;

namespace tcpfo {
namespace {

std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (char c : text) out += (c == '"' || c == '\n') ? '\'' : c;
    return out + "\"";
}

}  // namespace

const char* instance_state_name(InstanceState state) {
    switch (state) {
        case InstanceState::master: return "MASTER";
        case InstanceState::backup: return "BACKUP";
        case InstanceState::fault: return "FAULT";
        case InstanceState::stop: return "STOP";
    }
    return "?";
}

std::string StateNotifier::instance_line(InstanceState state, int priority) {
    return fmt::format("INSTANCE \"tcpfo\" {} {}\n", instance_state_name(state), priority);
}

std::string StateNotifier::check_line(const std::string& name, bool up, const std::string& reason) {
    return up ? fmt::format("CHECK {} UP\n", quoted(name))
              : fmt::format("CHECK {} DOWN {}\n", quoted(name), quoted(reason));
}

Result<std::unique_ptr<StateNotifier>> StateNotifier::open(EventLoop& loop, std::string program, std::string fifo,
                                                           int priority) {
    std::unique_ptr<StateNotifier> n(new StateNotifier(loop, std::move(program), std::move(fifo), priority));
    if (!n->fifo_path_.empty()) {
        struct stat st{};
        if (::stat(n->fifo_path_.c_str(), &st) != 0) {
            if (::mkfifo(n->fifo_path_.c_str(), 0600) != 0)
                return sys_fail(errno, "notify_fifo: can't make the FIFO {}", n->fifo_path_);
        } else if (!S_ISFIFO(st.st_mode)) {
            return fail("notify_fifo: {} is not a FIFO", n->fifo_path_);
        }
    }
    return n;
}

StateNotifier::~StateNotifier() {
    // Programs still running are left to finish (they are told of a stop, typically);
    // only their pidfds leave the loop.
    for (auto& c : children_) loop_.remove(c.pidfd.get());
}

void StateNotifier::instance(InstanceState state) {
    if (last_instance_ == int(state)) return;  // edge-triggered
    last_instance_ = int(state);
    log_info("notify: INSTANCE tcpfo {} {}", instance_state_name(state), priority_);
    tell({"INSTANCE", "tcpfo", instance_state_name(state), std::to_string(priority_)},
         instance_line(state, priority_));
}

void StateNotifier::check(const std::string& name, bool up, const std::string& reason) {
    // The monitor calls this on an edge only.
    if (up) tell({"CHECK", name, "UP"}, check_line(name, up, reason));
    else tell({"CHECK", name, "DOWN", reason}, check_line(name, up, reason));
}

void StateNotifier::tell(const std::vector<std::string>& args, const std::string& line) {
    if (!program_.empty()) run_program(args);
    if (!fifo_path_.empty()) write_fifo(line);
}

void StateNotifier::run_program(const std::vector<std::string>& args) {
    if (children_.size() >= kMaxRunning) {
        ++programs_dropped_;
        log_warn("notify: {} programs still running; {} {} {} not told", children_.size(), args[0], args[1], args[2]);
        return;
    }
    std::vector<std::string> owned{program_};
    owned.insert(owned.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : owned) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid = 0;
    const int err = posix_spawn(&pid, program_.c_str(), nullptr, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    if (err != 0) {
        ++programs_dropped_;
        log_warn("notify: can't run {}: {}", program_, errno_reason(err));
        return;
    }
    UniqueFd pidfd(int(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) {
        // Cannot be watched: reaped by the next one that exits (waitpid below takes any).
        log_warn("notify: can't watch {} (pid {}): {}", program_, pid, errno_reason(errno));
        return;
    }
    const int fd = pidfd.get();
    if (auto r = loop_.add(fd, EPOLLIN, [this, fd](uint32_t) { on_child_exit(fd); }); !r) {
        log_warn("notify: {}", r.error().message);
        return;
    }
    children_.push_back({pid, std::move(pidfd)});
}

void StateNotifier::on_child_exit(int pidfd) {
    auto it = std::find_if(children_.begin(), children_.end(), [&](const Child& c) { return c.pidfd.get() == pidfd; });
    if (it == children_.end()) return;
    int status = 0;
    if (::waitpid(it->pid, &status, WNOHANG) == 0) return;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        log_warn("notify: {} (pid {}) {}", program_, it->pid,
                 WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                                   : fmt::format("killed by signal {}", WTERMSIG(status)));
    loop_.remove(pidfd);
    children_.erase(it);
}

void StateNotifier::write_fifo(const std::string& line) {
    if (!fifo_) {
        // No reader yet: ENXIO. The line is dropped; the next change tries again.
        fifo_.reset(::open(fifo_path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
        if (!fifo_) {
            ++fifo_dropped_;
            log_debug("notify: {}: {}; line dropped", fifo_path_, errno_reason(errno));
            return;
        }
    }
    // A line is far below PIPE_BUF: written whole or not at all.
    const ssize_t n = ::write(fifo_.get(), line.data(), line.size());
    if (n == ssize_t(line.size())) return;
    ++fifo_dropped_;
    if (n < 0 && errno == EPIPE) fifo_.reset();  // the reader left: reopen next time
    log_debug("notify: {}: {}; line dropped", fifo_path_, n < 0 ? errno_reason(errno) : "short write");
}

}  // namespace tcpfo

#include "userd/health/script_check.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "userd/base/log.h"

extern char** environ;

namespace tcpfo {
namespace {

// The child's end is watched through a pidfd (readable when it exits): no SIGCHLD
// handler, and no wait for a child that is not this probe's.
int pidfd_open(pid_t pid) { return int(::syscall(SYS_pidfd_open, pid, 0)); }

class ScriptProbe final : public Probe {
public:
    ScriptProbe(EventLoop& loop, const CheckSpec& spec, Done done)
        : loop_(loop), argv_(spec.argv), timeout_ms_(spec.receive_timeout_ms), done_(std::move(done)) {}

    ~ScriptProbe() override {
        release();
        if (pid_ > 0) {
            // Cancelled while running (the node stops): killed and reaped, not left behind.
            ::kill(-pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    Result<void> start() {
        std::vector<char*> args;
        for (auto& a : argv_) args.push_back(a.data());
        args.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        // Its output is not read: a chatty script must not fill a pipe and hang.
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        // failoverd blocks SIGTERM, SIGINT and SIGHUP for its signalfd; a script gets
        // them unblocked, so the kill on timeout and an operator's signals work.
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attr, &none);
        // A process group of its own: the kill at the timeout reaches what a shell
        // script started too (a `curl` it waits for), not the script alone.
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
        pid_t pid = 0;
        const int err = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        if (err != 0) {
            finish({false, fmt::format("can't run {}: {}", argv_[0], errno_reason(err))});
            return {};
        }
        pid_ = pid;
        pidfd_.reset(pidfd_open(pid));
        if (!pidfd_) return sys_fail(errno, "can't watch {} (pid {})", argv_[0], pid);
        if (auto r = loop_.add(pidfd_.get(), EPOLLIN, [this](uint32_t) { on_exit(); }); !r)
            return std::unexpected(r.error());
        auto timer = make_oneshot_timer();
        if (!timer) return std::unexpected(timer.error());
        timer_ = std::move(*timer);
        if (auto r = loop_.add(timer_.get(), EPOLLIN, [this](uint32_t) { on_deadline(); }); !r)
            return std::unexpected(r.error());
        if (auto r = arm_oneshot_timer(timer_.get(), uint64_t(timeout_ms_)); !r) return std::unexpected(r.error());
        return {};
    }

private:
    void on_exit() {
        int status = 0;
        const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
        if (reaped == 0) return;  // not yet (a spurious wakeup)
        pid_ = 0;
        if (reaped < 0) return finish({false, fmt::format("can't reap {}: {}", argv_[0], errno_reason(errno))});
        if (timed_out_) return finish({false, timeout_reason(timeout_ms_)});
        if (WIFEXITED(status)) {
            if (WEXITSTATUS(status) == 0) return finish({true, ""});
            return finish({false, fmt::format("exit status {}", WEXITSTATUS(status))});
        }
        finish({false, fmt::format("killed by signal {}", WTERMSIG(status))});
    }

    void on_deadline() {
        drain_timer(timer_.get());
        if (pid_ <= 0) return;
        // The verdict waits for the reaping (on_exit), so no zombie is left.
        timed_out_ = true;
        ::kill(-pid_, SIGKILL);
    }

    void finish(ProbeOutcome outcome) {
        if (finished_) return;
        finished_ = true;
        release();
        done_(std::move(outcome));  // last: the scheduler may retire this probe
    }

    void release() {
        if (pidfd_) {
            loop_.remove(pidfd_.get());
            pidfd_.reset();
        }
        if (timer_) {
            loop_.remove(timer_.get());
            timer_.reset();
        }
    }

    EventLoop& loop_;
    std::vector<std::string> argv_;
    int timeout_ms_;
    Done done_;
    pid_t pid_ = 0;
    bool timed_out_ = false;
    bool finished_ = false;
    UniqueFd pidfd_, timer_;
};

}  // namespace

std::vector<std::string> split_command(std::string_view text) {
    std::vector<std::string> words;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && text[i] == ' ') ++i;
        size_t j = i;
        while (j < text.size() && text[j] != ' ') ++j;
        if (j > i) words.emplace_back(text.substr(i, j - i));
        i = j;
    }
    return words;
}

Result<std::unique_ptr<Probe>> start_script_probe(EventLoop& loop, const CheckSpec& spec, Probe::Done done) {
    auto probe = std::make_unique<ScriptProbe>(loop, spec, std::move(done));
    if (auto r = probe->start(); !r) return std::unexpected(r.error());
    return probe;
}

}  // namespace tcpfo

// Tells the world of every state change, as keepalived's `notify` and `notify_fifo` do
// (docs/operations.md, "Health checks"): a program run with keepalived's arguments
//   notify INSTANCE tcpfo MASTER 200      (TYPE NAME STATE PRIORITY)
//   notify CHECK web DOWN "HTTP 503"     (TYPE NAME STATE REASON)
// and one line per change on a FIFO:
//   INSTANCE "tcpfo" MASTER 200
//   CHECK "web" DOWN "HTTP 503"
// Edge-triggered: a state said again is not told again. Nothing here blocks the loop:
// the program is spawned and reaped through a pidfd, the FIFO is written nonblocking,
// and a line that does not fit (or has no reader) is dropped and counted.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "userd/base/event_loop.h"

namespace tcpfo {

// keepalived's instance states: MASTER (serves the VIP), BACKUP (ready to take
// over), FAULT (its own check fails: a primary that hands over, a backup that is not
// eligible), STOP (failoverd stops).
enum class InstanceState { master, backup, fault, stop };
const char* instance_state_name(InstanceState state);

class StateNotifier {
public:
    // `program` or `fifo` may be empty (not used). A FIFO that does not exist is made
    // (mode 0600), as keepalived does.
    static Result<std::unique_ptr<StateNotifier>> open(EventLoop& loop, std::string program, std::string fifo,
                                                       int priority);
    ~StateNotifier();

    void instance(InstanceState state);
    void check(const std::string& name, bool up, const std::string& reason);

    uint64_t fifo_lines_dropped() const { return fifo_dropped_; }
    uint64_t programs_dropped() const { return programs_dropped_; }

    // The FIFO line for a change, "\n"-terminated (quotes in a reason become ').
    static std::string instance_line(InstanceState state, int priority);
    static std::string check_line(const std::string& name, bool up, const std::string& reason);

private:
    StateNotifier(EventLoop& loop, std::string program, std::string fifo, int priority)
        : loop_(loop), program_(std::move(program)), fifo_path_(std::move(fifo)), priority_(priority) {}
    void tell(const std::vector<std::string>& args, const std::string& line);
    void run_program(const std::vector<std::string>& args);
    void write_fifo(const std::string& line);
    void on_child_exit(int pidfd);

    EventLoop& loop_;
    std::string program_, fifo_path_;
    int priority_;
    int last_instance_ = -1;
    UniqueFd fifo_;
    struct Child {
        pid_t pid;
        UniqueFd pidfd;
    };
    std::vector<Child> children_;
    uint64_t fifo_dropped_ = 0, programs_dropped_ = 0;
    // Programs still running beyond this are not started (a hung notify program must
    // not make failoverd fork without end).
    static constexpr size_t kMaxRunning = 8;
};

}  // namespace tcpfo

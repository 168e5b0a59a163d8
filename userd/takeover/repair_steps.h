// The system calls that finish a rebuild (finish_rebuild() in tcp_repair.h), as data:
// one list per connection, in the order the kernel needs them. The same list is run
// one syscall at a time (run_repair_step) or, for thousands of sockets at takeover,
// through io_uring (repair_ring.h), which pays the syscall entry once per batch.
#pragma once

#include <netinet/in.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "userd/base/error.h"
#include "userd/takeover/tcp_repair.h"

namespace tcpfo {

struct RepairStep {
    enum class Kind : uint8_t {
        setsockopt,       // setsockopt(level, name, value)
        connect,          // the repaired connect() to the sockaddr_in in value
        size_send_buffer, // SO_SNDBUFFORCE to at least the uint32_t in value (reads first)
        restore_output,   // the output in [snd_una, snd_nxt) queued as already sent
    };
    Kind kind = Kind::setsockopt;
    int level = 0;
    int name = 0;
    uint32_t length = 0;                  // bytes of value used
    alignas(8) std::array<uint8_t, 32> value{};  // fits tcp_repair_opt[4], the window, a sockaddr_in
    const char* what = "";                // the step, for the error line

    // Steps io_uring cannot take as one operation (a read before the write, a send
    // that may be partial) are run directly.
    bool direct() const { return kind == Kind::size_send_buffer || kind == Kind::restore_output; }
};

struct RepairSteps {
    std::array<RepairStep, 12> steps{};
    size_t count = 0;
    std::span<const RepairStep> view() const { return {steps.data(), count}; }
};

// The steps of finish_rebuild() for a prepared socket and a validated state.
RepairSteps repair_steps(const PreparedSocket& prepared, const RepairState& state, size_t sent_unacked_bytes);

// Runs one step with its own syscall(s); errno is left set on failure.
bool run_repair_step(int fd, const RepairStep& step, std::span<const uint8_t> sent_unacked);

}  // namespace tcpfo

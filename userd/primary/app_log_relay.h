// The primary's end of a service's application log. tcpfo-run's library, in the
// service, writes what it records (the service's nondeterministic results,
// docs/protocol.md "The application log") into its control connection; the relay
// reads it, sends it to the backups as APP_LOG records, and tells the library how
// much of it every backup holds (8-byte held offsets). The library's output gate
// waits for those before the service's replies leave (DESIGN.md invariant 6).
//
// A backup holds the log only if it got it from its first byte: one that joined
// later, or refused it (APP_REFUSED), is not waited for. With none left, the log is
// "held" as soon as it is read: the service runs on, unprotected, never blocked.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "userd/base/event_loop.h"
#include "userd/protocol/peer_id.h"
#include "userd/protocol/record_codec.h"

namespace tcpfo {

class AppLogRelay {
public:
    // Sends a record to one peer if it is live (the node checks).
    using SendTo = std::function<void(PeerId, const Record&)>;
    // `holders`: the peers live now, which will get the log from its first byte.
    static Result<std::unique_ptr<AppLogRelay>> open(EventLoop& loop, UniqueFd fd, std::string leftover, int pid,
                                                     std::vector<bool> holders, SendTo send);
    ~AppLogRelay();

    // A peer's APP_STABLE.
    void on_stable(PeerId peer, uint64_t offset);
    // A peer refused the log, or was lost: it is no longer waited for.
    void drop_peer(PeerId peer);
    // A peer became live: it missed the log so far unless nothing was read yet.
    void peer_joined(PeerId peer);
    // Stop reading while the backups' queues are full (the service then blocks in its
    // own writes to the channel), and read again.
    void pause_reading(bool paused);

    bool closed() const { return !fd_; }
    int pid() const { return pid_; }
    uint64_t received() const { return received_; }
    uint64_t held() const { return held_; }
    size_t holders() const;

private:
    AppLogRelay(EventLoop& loop, UniqueFd fd, int pid, std::vector<bool> holders, SendTo send);
    void on_events(uint32_t events);
    void forward(std::span<const uint8_t> bytes);
    void recompute_held();
    void write_held();
    void update_interest();
    void close(const std::string& why);

    EventLoop& loop_;
    UniqueFd fd_;
    int pid_;
    std::vector<bool> holders_;
    std::vector<uint64_t> peer_held_;
    SendTo send_;
    uint64_t received_ = 0;
    uint64_t held_ = 0;
    uint8_t message_[8] = {};     // the held offset being written to the library
    size_t message_sent_ = 8;     // bytes of message_ written (8: none pending)
    uint64_t told_ = 0;           // the held offset last put into message_
    bool paused_ = false;
    uint32_t interest_ = 0;
};

}  // namespace tcpfo

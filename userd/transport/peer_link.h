// One replication stream to a peer: a nonblocking TCP socket carrying framed
// records (record_codec.h) both ways. A corrupt record or a socket error closes
// the link with one log line; nothing of a bad record is applied.
#pragma once

#include <netinet/in.h>

#include <functional>
#include <memory>
#include <string>

#include "userd/base/byte_queue.h"
#include "userd/base/event_loop.h"
#include "userd/base/tcp_socket.h"
#include "userd/protocol/record_codec.h"

namespace tcpfo {

class PeerLink {
public:
    struct Callbacks {
        // `record` may point into the link's buffer: valid during the call only.
        std::function<void(const Record& record)> on_record;
        // Called once, as the last thing the link does; the owner may destroy it
        // there (but not inside on_record: call close() there and destroy later).
        std::function<void(const std::string& why)> on_closed;
    };

    // `fd` is a connected (or connecting) nonblocking TCP socket.
    static Result<std::unique_ptr<PeerLink>> open(EventLoop& loop, UniqueFd fd, std::string name,
                                                  Callbacks callbacks);
    ~PeerLink();

    // Queues a record; it leaves at the next flush() or when the socket is writable.
    void send(const Record& record);
    // Writes what is queued now. Owners call it once per batch of events, so a batch
    // leaves in one write instead of waiting for another trip through epoll.
    void flush();
    size_t queued_bytes() const { return out_.size(); }
    const std::string& name() const { return name_; }
    bool closed() const { return !fd_; }
    // The TCP connect has not completed: a SYN is out and nothing came back yet.
    bool connecting() const;
    // Closes without calling on_closed (the owner is shutting the link down itself).
    void close();

private:
    PeerLink(EventLoop& loop, UniqueFd fd, std::string name, Callbacks callbacks);
    void on_events(uint32_t events);
    void fail_link(const std::string& why);
    void update_interest();

    EventLoop& loop_;
    UniqueFd fd_;
    std::string name_;
    Callbacks callbacks_;
    ByteQueue in_;
    ByteQueue out_;
    bool want_write_ = false;
};

}  // namespace tcpfo

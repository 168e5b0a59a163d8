// After takeover: joins a connection rebuilt with TCP_REPAIR (the client's side)
// with the replica's connection, copying bytes both ways and carrying FIN both
// ways. It starts with the replica output the client has not acknowledged.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "userd/base/byte_queue.h"
#include "userd/base/event_loop.h"
#include "userd/protocol/conn_key.h"

namespace tcpfo {

class ConnectionSplice {
public:
    struct Start {
        uint64_t conn_id = 0;                  // for log lines (conn_label), formatted
        ConnKey key{};                         // only when one is written
        UniqueFd client;                       // the rebuilt socket
        UniqueFd replica;                      // the replica's connection, already watched by the loop
                                               // (ReplicaFeed::release_replica_socket)
        ByteQueue unacked;                     // first bytes to send the client (moved in, never copied:
                                               // megabytes per connection at takeover)
        uint64_t skip_replica_bytes = 0;       // replica output the client already has
        bool replica_output_ended = false;     // the replica already closed its side
        bool client_input_ended = false;       // the client's FIN was already fed
        // Runs once, right after the first bytes are written toward the client.
        std::function<void()> on_first_output;
    };
    // `on_done` runs once both directions are closed (or on an error).
    static Result<std::unique_ptr<ConnectionSplice>> open(EventLoop& loop, Start start,
                                                          std::function<void()> on_done);
    ~ConnectionSplice();
    bool done() const { return done_; }

private:
    struct Direction {
        int from = -1;
        int to = -1;
        ByteQueue buffer;
        bool eof = false;       // read side saw EOF
        bool shut = false;      // shutdown(SHUT_WR) sent downstream
        uint64_t skip = 0;      // bytes to drop from the read side first
    };
    ConnectionSplice(EventLoop& loop, Start start, std::function<void()> on_done);
    void pump();
    bool move(Direction& d);  // false on error
    // Sends what is buffered, at most `budget` bytes (taken from it), and the FIN once
    // due; false on error.
    bool push(Direction& d, size_t& budget);
    uint32_t client_interest() const;
    uint32_t replica_interest() const;
    void finish(const std::string& why);
    void update_interest();

    EventLoop& loop_;
    std::string name() const { return conn_label(conn_id_, key_); }
    uint64_t conn_id_;
    ConnKey key_;
    UniqueFd client_;
    UniqueFd replica_;
    Direction to_client_;
    Direction to_replica_;
    std::function<void()> on_done_;
    std::function<void()> on_first_output_;
    bool done_ = false;
    uint32_t client_interest_ = 0, replica_interest_ = 0;
};

}  // namespace tcpfo

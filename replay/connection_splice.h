// After takeover: joins a connection rebuilt with TCP_REPAIR (the client's side)
// with the replica's connection, copying bytes both ways and carrying FIN both
// ways. It starts with the replica output the client has not acknowledged.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "replay/output_check.h"
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
        // Digests of the dead primary's output the replica has not matched yet
        // (ReplicaOutput::take_check; null: nothing to check). No byte a pending
        // digest covers goes to the client before it matched; a mismatch resets the
        // connection and runs on_diverged with the offset.
        std::unique_ptr<OutputCheck> check;
        uint64_t unacked_offset = 0;  // server offset of unacked's first byte
        // Logged client bytes the replica had not read when the takeover rebuilt the
        // socket, written to it before anything the client sends next (the rebuilt
        // socket acknowledged them: the client will not send them again), and whether
        // the client's FIN follows them.
        ByteQueue unfed_input;
        bool client_fin_unfed = false;
        uint64_t replica_offset = 0;  // server offset of the replica's next byte
        std::function<void(uint64_t)> on_diverged;
    };
    // `on_done` runs once both directions are closed (or on an error).
    static Result<std::unique_ptr<ConnectionSplice>> open(EventLoop& loop, Start start,
                                                          std::function<void()> on_done);
    ~ConnectionSplice();
    bool done() const { return done_; }
    // Resets the connection as diverged if digests have waited for the replica's
    // bytes more than `limit_ms` since the splice opened (Takeover::kCheckDeadlineMs).
    void expire_check(uint64_t now_ms, uint64_t limit_ms);

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
    // Events of the socket `reading` reads from and `writing` writes to.
    void on_event(Direction& reading, Direction& writing, uint32_t events);
    bool move(Direction& d);  // false on error
    // Sends what is buffered, at most `budget` bytes (taken from it), and the FIN once
    // due; false on error.
    bool push(Direction& d, size_t& budget);
    uint32_t client_interest() const;
    uint32_t replica_interest() const;
    // Output toward the client that may go now: what is buffered, up to the first
    // byte a pending digest covers.
    size_t sendable_to_client() const;
    // Buffered output waits for a digest to match: more of the replica's must be read.
    bool awaiting_check() const;
    // Replica bytes read toward the client: checked, then buffered (or skipped).
    // False once the replica diverged (the connection was reset).
    bool observe_replica_output(std::span<const uint8_t> bytes);
    void reset_diverged(uint64_t at);
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
    std::unique_ptr<OutputCheck> check_;
    uint64_t opened_ms_ = 0;
    uint64_t sent_offset_ = 0;     // server offset of to_client_.buffer's first byte
    uint64_t replica_offset_ = 0;  // server offset of the replica's next byte (kept while checking)
    std::function<void(uint64_t)> on_diverged_;
    bool done_ = false;
    uint32_t client_interest_ = 0, replica_interest_ = 0;
};

}  // namespace tcpfo

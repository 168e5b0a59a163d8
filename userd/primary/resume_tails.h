// A node that took over while other backups live (architecture.md, "Election among
// several backups") protects the connections it rebuilt again: each backup that
// follows it still holds them from the dead primary's stream, up to where its log
// ends. This keeps, per rebuilt connection, the client bytes that backup may lack:
// from what this node's replica had been fed when the takeover began (no follower fed
// its replica further: it fed only committed bytes) up to now. They are sent after a
// RESUME record to each follower whose stream goes live (protocol.md). Bounded: a
// tail stops growing at kMaxTailBytes (later followers then do not get it), and every
// tail is freed kKeepMs after the promotion (a follower that comes later is not
// offered the connection: it would lack what the clients sent since).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "userd/protocol/record_codec.h"

namespace tcpfo {

class ResumeTails {
public:
    static constexpr uint64_t kKeepMs = 1000;
    static constexpr size_t kMaxTailBytes = 8u << 20;

    // Connection `conn` was rebuilt holding the client's bytes from `offset` on
    // (`bytes`); kept until `now_ms + kKeepMs`.
    void add(const ConnOpenRecord& conn, uint64_t offset, std::vector<uint8_t> bytes, uint64_t now_ms);
    // A DATA record this node sends for a connection it keeps a tail of: its bytes
    // are the tail's too (what the followers that come later lack).
    void note(const DataRecord& data);
    bool keeps(uint64_t conn_id) const { return tails_.count(conn_id) > 0; }
    bool empty() const { return tails_.empty(); }

    // What a follower whose stream just went live is sent, per kept connection: a
    // RESUME then the tail's DATA (in records of at most kMaxDataBytes).
    template <class Send>
    size_t offer(Send&& send) const;
    // Frees the tails kept past their time; returns their connection ids.
    std::vector<uint64_t> expire(uint64_t now_ms);
    // The connection ended (closed, reset, forgotten): nothing to offer any more.
    void forget(uint64_t conn_id) { tails_.erase(conn_id); }

private:
    struct Tail {
        ConnOpenRecord conn;
        uint64_t offset = 0;        // of bytes[0]
        std::vector<uint8_t> bytes;  // contiguous from offset
        bool overflowed = false;    // grew past kMaxTailBytes: offered to nobody more
        uint64_t until_ms = 0;
    };
    std::map<uint64_t, Tail> tails_;
};

inline constexpr size_t kMaxDataBytes = 64 * 1024;

template <class Send>
size_t ResumeTails::offer(Send&& send) const {
    size_t offered = 0;
    for (const auto& [id, t] : tails_) {
        if (t.overflowed) continue;
        send(Record{ResumeRecord{id, t.conn.client_addr, t.conn.client_port}});
        for (size_t at = 0; at < t.bytes.size(); at += kMaxDataBytes) {
            const size_t n = std::min(kMaxDataBytes, t.bytes.size() - at);
            send(Record{DataRecord{id, t.offset + at, std::span<const uint8_t>(t.bytes).subspan(at, n)}});
        }
        ++offered;
    }
    return offered;
}

}  // namespace tcpfo

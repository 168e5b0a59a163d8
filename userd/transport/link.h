// One replication stream to a peer, whatever carries it (TCP today; SCTP, multihomed,
// where the kernel has it). Records go out in order and come in in order; a broken
// stream is reported once through on_closed and the link stays closed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "userd/auth/frame_auth.h"
#include "userd/protocol/record_codec.h"

namespace tcpfo {

// What one link carried, for the metrics (userd/status/metrics_text.h). A node adds
// a link's counters to its peer's totals when it replaces the link.
struct LinkCounters {
    uint64_t records_sent = 0;
    uint64_t bytes_sent = 0;        // written to the transport (what is still queued is not)
    uint64_t records_received = 0;
    uint64_t bytes_received = 0;    // of whole records delivered

    LinkCounters& operator+=(const LinkCounters& other) {
        records_sent += other.records_sent;
        bytes_sent += other.bytes_sent;
        records_received += other.records_received;
        bytes_received += other.bytes_received;
        return *this;
    }
};

class Link {
public:
    struct Callbacks {
        // `record` may point into the link's buffer: valid during the call only.
        std::function<void(const Record& record)> on_record;
        // Called once, as the last thing the link does; the owner may destroy it
        // there (but not inside on_record: call close() there and destroy later).
        std::function<void(const std::string& why)> on_closed;
        // An authenticated stream refused what its peer sent (forged, replayed, another
        // key, garbage): called just before the link closes (on_closed follows), so the
        // owner can count and log it once per peer and rate. Must not close the link.
        std::function<void(const AuthError& error)> on_auth_drop;
    };

    virtual ~Link() = default;
    // Queues a record; it leaves at the next flush() or when the transport is ready.
    virtual void send(const Record& record) = 0;
    // Writes what is queued now. Owners call it once per batch of events, so a batch
    // leaves in one write instead of waiting for another trip through epoll.
    virtual void flush() = 0;
    virtual size_t queued_bytes() const = 0;
    virtual const LinkCounters& counters() const = 0;
    // The peer's address, for log lines.
    virtual const std::string& name() const = 0;
    virtual bool closed() const = 0;
    // The transport's connect has not completed yet (nothing came back from the peer).
    virtual bool connecting() const = 0;
    // When the kernel received the newest bytes read so far (monotonic ms), 0 if
    // unknown: a loop that reads a backlog late must not date the peer's last sign of
    // life by its own reading.
    virtual uint64_t last_arrival_ms() const = 0;
    // Closes without calling on_closed (the owner is shutting the link down itself).
    virtual void close() = 0;
};

}  // namespace tcpfo

// The replication records failoverd nodes exchange (docs/protocol.md is the spec).
// Every record is a 16-byte header and a typed payload, all integers big-endian,
// the whole checked by CRC-32C. Decoding never trusts the peer: a record that is
// truncated, oversized, of an unknown type, of the wrong length for its type or with
// a bad checksum is an error, never a crash and never a partial apply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "userd/base/error.h"

namespace tcpfo {

inline constexpr uint32_t kRecordMagic = 0x54464f31;  // "TFO1"
inline constexpr uint16_t kProtocolVersion = 1;
inline constexpr size_t kRecordHeaderSize = 16;
// A DATA record carries at most one snooped segment (64 KiB); anything larger is an
// attack or corruption.
inline constexpr size_t kMaxRecordPayload = 128 * 1024;

enum class RecordType : uint8_t {
    hello = 1,
    conn_open = 2,
    data = 3,
    client_ack = 4,
    client_fin = 5,
    server_fin = 6,
    close = 7,
    stable = 8,
    heartbeat = 9,
    conn_refused = 10,
    output_digest = 11,
    app_log = 12,
    app_stable = 13,
    app_refused = 14,
    handover = 15,
    health = 16,
    lease_reply = 17,
    handover_request = 18,
    commit = 19,
    resume = 20,
    resume_end = 21,
    holdings = 22,
    node_report = 23,
};

// candidate: a backup asking for votes (its heartbeats carry the epoch it asks for);
// witness: a voter with no VIP and no replica (failoverd --witness).
enum class NodeRole : uint8_t { primary = 1, backup = 2, candidate = 3, witness = 4 };

struct TcpOptions {
    uint16_t mss = 0;
    uint8_t wscale = 0;
    uint8_t present = 0;  // TCPFO_OPT_* bits from tcpfo_events.h
    bool operator==(const TcpOptions&) const = default;
};

// First record on a replication stream, both ways.
struct HelloRecord {
    uint16_t version = kProtocolVersion;
    NodeRole role = NodeRole::primary;
    uint64_t epoch = 0;
    bool operator==(const HelloRecord&) const = default;
};

// Addresses in network order, ports in host order.
struct ConnOpenRecord {
    uint64_t conn_id = 0;
    uint32_t client_addr = 0;
    uint16_t client_port = 0;
    uint32_t vip_addr = 0;
    uint16_t vip_port = 0;
    uint32_t client_isn = 0;
    uint32_t server_isn = 0;
    TcpOptions client_options;
    TcpOptions server_options;
    bool operator==(const ConnOpenRecord&) const = default;
};

// Client bytes at a stream offset (0 = the byte after the SYN). `bytes` points into
// the decoded buffer: copy before the buffer moves.
struct DataRecord {
    uint64_t conn_id = 0;
    uint64_t offset = 0;
    std::span<const uint8_t> bytes;
    bool operator==(const DataRecord& o) const {
        return conn_id == o.conn_id && offset == o.offset &&
               std::equal(bytes.begin(), bytes.end(), o.bytes.begin(), o.bytes.end());
    }
};

// How far the client acknowledged the server's stream, with the segment's window
// (raw field) and timestamps: what a backup needs to resume sending.
struct ClientAckRecord {
    uint64_t conn_id = 0;
    uint64_t acked = 0;  // server stream offset
    uint16_t window = 0;
    uint32_t tsval = 0;
    uint32_t tsecr = 0;
    bool operator==(const ClientAckRecord&) const = default;
};

struct ClientFinRecord {
    uint64_t conn_id = 0;
    uint64_t offset = 0;  // client stream offset of the FIN
    bool operator==(const ClientFinRecord&) const = default;
};

struct ServerFinRecord {
    uint64_t conn_id = 0;
    uint64_t offset = 0;  // server stream offset of the FIN
    bool operator==(const ServerFinRecord&) const = default;
};

enum class CloseReason : uint8_t { finished = 1, reset_by_client = 2, reset_by_server = 3 };

struct CloseRecord {
    uint64_t conn_id = 0;
    CloseReason reason = CloseReason::finished;
    bool operator==(const CloseRecord&) const = default;
};

// Backup -> primary: every client byte below `offset` (and the FIN, counted as one
// byte after the data) is in the backup's log.
struct StableRecord {
    uint64_t conn_id = 0;
    uint64_t offset = 0;
    bool operator==(const StableRecord&) const = default;
};

// UDP liveness datagram, same framing. A primary's (or a candidate's) asks each voter
// for a LEASE_REPLY; `sent_ms` is the sender's own monotonic clock at sending, echoed
// back by the reply so that the sender dates its lease by its own clock alone.
struct HeartbeatRecord {
    uint64_t epoch = 0;
    uint64_t counter = 0;
    NodeRole role = NodeRole::primary;
    uint32_t lease_ms = 0;  // the lease the sender counts on: a voter promises at least this long
    uint64_t sent_ms = 0;
    // What an election compares (userd/cluster/election_rank.h): the sender's node id
    // and priority (0 when the sender has none: the two-node shorthand), and how much of
    // the serving primary's replication stream it holds (0 unless a backup).
    uint8_t node_id = 0;
    uint8_t priority = 0;
    uint64_t log_position = 0;
    uint64_t log_epoch = 0;  // the epoch of the stream log_position counts (0: none)
    // A backup that holds every connection its primary protects (HoldingsRecord).
    bool holds_every_connection = false;
    bool operator==(const HeartbeatRecord&) const = default;
};

// UDP, voter -> the primary or candidate whose heartbeat it answers (docs/protocol.md,
// "Leases and votes"). granted: a promise not to vote for another node before the
// voter's clock + promise_ms (for a candidate's heartbeat, also its vote for `epoch`).
// Refused: `epoch` is the highest the voter granted, which may tell the sender a
// higher epoch exists (it falls silent).
struct LeaseReplyRecord {
    uint64_t epoch = 0;
    uint64_t echoed_ms = 0;  // the heartbeat's sent_ms
    uint32_t promise_ms = 0;
    bool granted = false;
    bool operator==(const LeaseReplyRecord&) const = default;
};

// Why a backup does not hold a connection.
enum class RefuseReason : uint8_t {
    capacity = 1,   // it holds as many connections as its limits allow (descriptors, tables)
    resources = 2,  // a socket for it could not be made (descriptors, memory)
    replica = 3,    // the replica could not be reached
    duplicate = 4,  // the conn_id is already in use
    out_of_step = 5,  // its replica cannot be in step with the service (AppLogSink)
};
const char* refuse_reason_text(RefuseReason reason);

// Backup -> primary: the backup does not hold this connection and never will, so it
// will never acknowledge its bytes. The primary stops requiring this backup for it
// (and stops protecting it when no backup is left), which lifts the ACK clamp:
// otherwise the stable point would never move and the client would stall for ever.
struct ConnRefusedRecord {
    uint64_t conn_id = 0;
    RefuseReason reason = RefuseReason::capacity;
    bool operator==(const ConnRefusedRecord&) const = default;
};

// Primary -> backup: the server wrote `length` bytes at server stream offset `offset`
// whose digest (bpf/tcpfo_events.h, OUT_DIGEST) is `digest`. The backup checks its
// replica's output against it: a replica that wrote other bytes has diverged, and
// its connection must not be continued from it.
struct OutputDigestRecord {
    uint64_t conn_id = 0;
    uint64_t offset = 0;
    uint32_t length = 0;
    uint64_t digest = 0;
    bool operator==(const OutputDigestRecord&) const = default;
};
// A digest covers one segment's payload: at most a 64 KiB GSO packet.
inline constexpr uint32_t kMaxDigestSpan = 64 * 1024;

// Primary -> backup: bytes of the service's application log (tcpfo-run's library
// records the service's nondeterministic results: docs/protocol.md) at log offset
// `offset`. `bytes` points into the decoded buffer, as DataRecord's.
struct AppLogRecord {
    uint64_t offset = 0;
    std::span<const uint8_t> bytes;
    bool operator==(const AppLogRecord& o) const {
        return offset == o.offset && std::equal(bytes.begin(), bytes.end(), o.bytes.begin(), o.bytes.end());
    }
};

// Backup -> primary: every application log byte below `offset` is held.
struct AppStableRecord {
    uint64_t offset = 0;
    bool operator==(const AppStableRecord&) const = default;
};

// Why a backup does not hold the application log (and so cannot be in step with
// the service).
enum class AppRefuseReason : uint8_t {
    joined_late = 1,  // the log began before this backup's stream: its replica missed state
    overflow = 2,     // the log outgrew the backup's bound (its replica does not read it)
    replica_diverged = 3,  // the replica's replay diverged from the log: it went live
    // The log holds an accept of a client whose connection this backup does not hold
    // (refused, never opened, or not within AppLogSink::kAcceptHoldMs): its replica
    // cannot be given that client's input.
    input_missing = 4,
};
const char* app_refuse_reason_text(AppRefuseReason reason);

// Backup -> primary: this backup does not hold the application log and never will;
// the primary stops waiting for it before releasing the service's output.
struct AppRefusedRecord {
    AppRefuseReason reason = AppRefuseReason::joined_late;
    bool operator==(const AppRefusedRecord&) const = default;
};

// Primary -> backup, the last record of a planned handover (`failoverctl handover`):
// the primary has frozen its egress for protected connections, sent every client byte
// and output digest it had, and given up the VIP. The backup takes over at once, with
// no detection wait. `epoch` is the primary's: a backup at another epoch ignores it.
struct HandoverRecord {
    uint64_t epoch = 0;
    bool operator==(const HandoverRecord&) const = default;
};

// Backup -> primary, after its hello and on every change: whether this backup may take
// over, by its own health checks of its replica (userd/health/). An ineligible backup
// is not handed over to and does not take over on the primary's death. A backup that
// never sends one (it has no checks) is eligible.
struct HealthRecord {
    bool eligible = true;
    std::string reason;  // "check web: HTTP 503" when not eligible; at most kMaxHealthReason bytes
    bool operator==(const HealthRecord&) const = default;
};
inline constexpr size_t kMaxHealthReason = 124;

// Backup -> primary: a returning node started with --preempt, of higher priority than
// the primary, has caught up (its stream is live and every connection it holds is fed
// in step) and asks for a planned handover to itself. `epoch` is the primary's as the
// backup knows it: a primary at another epoch ignores the request.
struct HandoverRequestRecord {
    uint64_t epoch = 0;
    bool operator==(const HandoverRequestRecord&) const = default;
};

// Primary -> backup: every backup that holds the connection holds its client bytes
// below `offset` (the stable point, the FIN counting as one byte): a backup feeds its
// replica only this far, so that no replica is fed what another backup could lack
// (docs/architecture.md, "Election among several backups").
struct CommitRecord {
    uint64_t conn_id = 0;
    uint64_t offset = 0;
    bool operator==(const CommitRecord&) const = default;
};

// Primary -> backup, after the hello of a node that took over: it continues the
// connection the previous primary opened as `conn_id`, from the client `client_addr`
// (network order) and `client_port`: a backup that holds it keeps its feed. DATA of the
// tail the new primary holds follows.
struct ResumeRecord {
    uint64_t conn_id = 0;
    uint32_t client_addr = 0;
    uint16_t client_port = 0;
    bool operator==(const ResumeRecord&) const = default;
};

// Primary -> backup: every connection this primary resumes was named (`count` of
// them): a backup drops the feeds of the previous primary's stream it was not told to
// keep.
struct ResumeEndRecord {
    uint32_t count = 0;
    bool operator==(const ResumeEndRecord&) const = default;
};

// Primary -> backup: of the `protected_count` connections this primary protects, the
// backup holds all but `missing` (it joined after they opened, refused them, or was not
// resumed them). A backup that holds every one says so in its heartbeats: an election
// prefers it (docs/architecture.md, "Election among several backups"). Sent when the
// counts change, at most every 100 ms.
struct HoldingsRecord {
    uint32_t missing = 0;
    uint32_t protected_count = 0;
    bool operator==(const HoldingsRecord&) const = default;
};

// UDP, every node -> every peer, once a second and on a change (docs/protocol.md,
// "Node reports"): what a heartbeat has no room for, for the other nodes' status
// (failoverctl status, "cluster"). Nothing acts on it: it is for people and metrics.
// Every list and text is bounded: a longer one is cut by the sender.
inline constexpr size_t kMaxReportChecks = 4;
inline constexpr size_t kMaxReportCheckName = 24;
inline constexpr size_t kMaxReportReason = 56;
inline constexpr size_t kMaxReportBackups = 16;
enum class ReportCheckType : uint8_t { tcp = 1, http = 2, banner = 3, script = 4 };
enum class ReportCheckResult : uint8_t { none = 0, success = 1, failure = 2 };
// One of the sender's health checks as it stood when the report was sent.
struct ReportCheck {
    ReportCheckType type = ReportCheckType::tcp;
    bool up = true;
    ReportCheckResult last_result = ReportCheckResult::none;
    std::string name;    // at most kMaxReportCheckName bytes
    std::string reason;  // the last failure's ("connection refused"); at most kMaxReportReason bytes
    bool operator==(const ReportCheck&) const = default;
};
enum class ReportBackupState : uint8_t { connecting = 1, live = 2, lost = 3 };
enum class ReportEligibility : uint8_t { ineligible = 0, eligible = 1, unknown = 2 };
// A primary's view of one of its backups: its stream, what it said of its health
// (HEALTH), and the client bytes forwarded to it that it has not acknowledged.
struct ReportBackup {
    uint32_t address = 0;  // network order
    ReportBackupState state = ReportBackupState::connecting;
    ReportEligibility eligible = ReportEligibility::unknown;
    uint64_t lag_bytes = 0;
    uint32_t lag_ms = 0;  // how long the oldest of them has waited
    bool operator==(const ReportBackup&) const = default;
};
struct NodeReportRecord {
    uint64_t epoch = 0;          // the sender's, as in its heartbeats
    bool has_checks = false;     // the sender runs health checks (else `eligible` is by default)
    bool eligible = true;        // every check up
    bool lease_enforced = false;
    bool lease_held = false;     // a primary holding its lease
    uint32_t lease_remaining_ms = 0;  // how long that lease still ran at sending
    uint32_t lease_renewed_ms = 0;    // how long before sending it was last renewed
    uint64_t voted_epoch = 0;         // the sender's vote: the highest epoch it granted ...
    uint32_t voted_for = 0;           // ... to whom (network order; 0: nobody) ...
    uint32_t promise_remaining_ms = 0;  // ... and how long its promise still ran at sending
    std::vector<ReportCheck> checks;    // at most kMaxReportChecks
    std::vector<ReportBackup> backups;  // a primary's; at most kMaxReportBackups
    bool operator==(const NodeReportRecord&) const = default;
};

using Record = std::variant<HelloRecord, ConnOpenRecord, DataRecord, ClientAckRecord,
                            ClientFinRecord, ServerFinRecord, CloseRecord, StableRecord,
                            HeartbeatRecord, ConnRefusedRecord, OutputDigestRecord, AppLogRecord,
                            AppStableRecord, AppRefusedRecord, HandoverRecord, HealthRecord,
                            HandoverRequestRecord, LeaseReplyRecord, CommitRecord, ResumeRecord,
                            ResumeEndRecord, HoldingsRecord, NodeReportRecord>;

// Appends the encoded record to `out`.
void encode_record(const Record& record, std::vector<uint8_t>& out);

struct DecodedRecord {
    Record record;
    size_t size = 0;  // bytes consumed from the input
};

// Decodes the first record of `input`. Returns std::nullopt when more bytes are
// needed, an error when the input can never become a valid record.
Result<std::optional<DecodedRecord>> decode_record(std::span<const uint8_t> input);

RecordType record_type(const Record& record);
const char* record_type_name(RecordType type);

}  // namespace tcpfo

// What `failoverctl status` reports, as plain data: a node fills a NodeStatus from
// its own state (a snapshot, cheap to take), and status_json.h renders it. Nothing
// here refers back into the node, except `complete`, which the control server calls
// on each connection just before rendering it (see below).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tcpfo {

inline constexpr int kStatusVersion = 1;

// Primary: what a backup said of its own health (a HEALTH record).
struct PeerHealthStatus {
    bool eligible = true;
    std::string reason;
};

struct PeerStatus {
    std::string address;            // "192.0.2.11:7100"
    // primary: "connecting" (never live yet, retrying), "live" (hello exchanged),
    // "lost" (was live, retrying); backup: "waiting" (no stream from the primary
    // yet), "live", "lost" (the stream broke or the primary went silent).
    std::string state;
    uint64_t since_us = 0;          // wall clock of entering `state`; 0 if unknown
    uint64_t connected_us = 0;      // primary: when the stream last became live; 0 if never
    uint64_t queued_bytes = 0;      // replication bytes queued for this peer, not yet sent
    std::optional<uint64_t> failed_attempts;    // primary: connect failures since it was last live
    std::optional<uint64_t> retry_in_ms;        // primary, not connected: the next attempt is due in
    std::optional<uint64_t> retry_interval_ms;  // primary: the delay after the next failure (capped)
    std::string last_error;         // why the last attempt or the stream failed; "" if none
    // Replication carried to and from this peer since start, over every stream to it
    // (records and their bytes; bytes_sent counts what the socket took).
    uint64_t records_sent = 0, bytes_sent = 0, records_received = 0, bytes_received = 0;
    // Primary: client bytes forwarded to this peer that it has not acknowledged yet,
    // over the connections it holds.
    std::optional<uint64_t> lag_bytes;
    // Primary: how long the oldest of those bytes has waited (microseconds); 0 when
    // the peer holds every byte forwarded to it (userd/primary/replication_lag.h).
    std::optional<uint64_t> lag_us;
    // Primary: the backup's own health, once it said (a backup without checks is eligible).
    std::optional<PeerHealthStatus> health;
};

struct ConnStatus {
    uint64_t id = 0;
    uint32_t client_addr = 0;  // network order
    uint16_t client_port = 0;  // host order
    // primary: "handshake" (SYN-ACK sent, client not heard yet), "open", "closing"
    // (a FIN was seen); backup: "replicating", "replica-failed", then after takeover
    // "spliced" (rebuilt and joined with the replica), "done" (splice closed),
    // "not-rebuilt".
    std::string phase;
    bool is_protected = true;
    std::string why_not;  // when !is_protected
    // Client -> server bytes, as stream offsets (0 = the byte after the SYN).
    std::optional<uint64_t> client_forwarded;  // primary: every byte below was sent to the backups
    std::optional<uint64_t> client_logged;     // backup: contiguous in its log
    std::optional<uint64_t> client_stable;     // the stable point: held by every backup (primary) / acknowledged (backup)
    std::optional<uint64_t> client_fed;     // backup: written to the replica
    // Server -> client bytes.
    std::optional<uint64_t> server_sent;       // primary: the server's send sequence (a FIN counts one)
    std::optional<uint64_t> replica_produced;  // backup: what the replica wrote
    std::optional<uint64_t> server_acked;      // acknowledged by the client
    // Backup, once a takeover ran: whether this connection was rebuilt, and why not.
    std::optional<bool> rebuilt;
    std::string not_rebuilt_why;
    // Backup: the server offset from which the replica's output differs from the
    // primary's (checked against the primary's digests); such a connection is reset,
    // not continued, at takeover.
    std::optional<uint64_t> diverged_at;
};

// A connection the primary stopped protecting (or never protected); the primary
// forgets such connections, so this is a bounded list of the most recent ones.
struct UnprotectedStatus {
    uint32_t client_addr = 0;  // network order
    uint16_t client_port = 0;  // host order
    std::string why;
    uint64_t at_us = 0;
};

struct TakeoverStatus {
    std::string reason;
    uint64_t epoch = 0;
    uint64_t started_us = 0;
    uint64_t finished_us = 0;  // 0 while running
    bool succeeded = false;
    std::string error;         // when it failed
    std::string step;         // the takeover's current step (takeover.h)
    uint64_t rebuilt = 0;
    uint64_t reset = 0;       // connections reset toward their clients (see the log for why)
    uint64_t reset_diverged = 0;  // of those, because the replica's output differed from the primary's
    uint64_t claim_attempts = 0;
    uint64_t positions_learned = 0;  // clients that answered the probe in time
    uint64_t prompted = 0;           // clients prompted to resend what the dead primary took
    // Milliseconds from the decision to each step's end.
    uint64_t claimed_ms = 0, probed_ms = 0, learned_ms = 0, drained_ms = 0, rebuilt_ms = 0, serving_ms = 0, total_ms = 0;
};

// Backup: what the divergence check (replay/output_check.h) found since start.
struct OutputCheckStatus {
    uint64_t checked_bytes = 0;    // replica output that matched the primary's digests
    uint64_t unchecked_spans = 0;  // digests that could not be checked
    uint64_t diverged_total = 0;   // connections whose replica diverged
};

// The service run under tcpfo-run on this node, if one asked (docs/protocol.md).
struct ServiceLogStatus {
    int pid = 0;
    std::string mode;          // "record" (primary) or "replay" (backup)
    bool open = false;         // the log channel is open
    uint64_t log_bytes = 0;    // primary: read from the service; backup: received from the primary
    uint64_t held = 0;         // primary: held by every backup that holds it; backup: written to the replica
    std::optional<uint64_t> holders;  // primary: backups that hold the log
    std::string refused;       // backup: why it does not hold the log ("" if it does)
    // backup: feeder names written to the replica's channel, and those waiting (for
    // the channel to attach or the next entry boundary) (docs/protocol.md, "Feeder names")
    std::optional<uint64_t> feeder_names;
    std::optional<uint64_t> names_waiting;
    // backup: the client ("192.0.2.1:40312") of an accept entry held until its
    // feeder's name; "" when none is held
    std::optional<std::string> accept_held;
};

// How the node was described when started the symmetric way (--id/--node or a config
// file): its id, its priority and every node's. Absent with the two-node shorthand.
struct MembershipStatus {
    struct Member {
        int id = 0;
        std::string address;
        int priority = 0;
    };
    int id = 0;
    int priority = 0;
    bool two_node = false;
    std::vector<Member> nodes;
};

// How much of a status to take: `summary` leaves out the per-connection entries (the
// metrics need only the counts below, and a scrape must stay cheap at 10,000
// connections).
enum class StatusDetail { full, summary };
// Peer authentication (docs/operations.md, "Keys"): the keys in force and what was
// dropped, by kind ("garbage", "unknown key", "forged", "replayed", "not a peer").
struct AuthStatus {
    bool enabled = false;                   // a key file is configured
    std::string sending_key;                // the key id this node sends with ("" if none)
    std::vector<std::string> accepted_keys;  // every key id accepted now (retired ones in their grace too)
    std::vector<std::pair<std::string, uint64_t>> heartbeats_dropped;
    std::vector<std::pair<std::string, uint64_t>> streams_dropped;
};

// The node's health checks (docs/operations.md, "Health checks") and what they make
// of the node: a primary whose check is down hands over; a backup whose check is down
// is not eligible to take over.
struct HealthCheckStatus {
    std::string name;
    std::string type;         // "tcp", "http", "banner", "script"
    std::string target;       // "127.0.0.1:8080", or the script's command line
    std::string state;        // "up" or "down"
    std::string last_result;  // "none" (not run yet), "success" or "failure"
    std::string reason;       // why the last run failed ("HTTP 503"); "" after a success
    double latency_ms = 0;    // of the last run
    uint64_t last_run_us = 0; // wall clock of the last verdict; 0 if none
    uint64_t since_us = 0;    // wall clock of entering `state`
    uint64_t runs = 0, failures = 0;  // since start
    int streak = 0;           // results in a row against `state` (toward fall or rise)
};
struct HealthStatus {
    std::vector<HealthCheckStatus> checks;
    bool eligible = true;     // every check up (a backup may take over; a primary keeps serving)
    std::string reason;       // the first down check and its reason, when not eligible
};
// One role this node has held since it started (userd/node/role_history.h).
struct RoleChange {
    std::string role;     // "backup", "taking-over", "primary", "handed-over"
    uint64_t epoch = 0;   // the epoch it entered the role at (a backup's: its primary's, once greeted)
    uint64_t since_us = 0;
    std::string why;      // "started", "joined the primary of epoch 2", "took over: ..."
};

// Leases and votes (docs/architecture.md, "Leases and fencing").
struct LeaseStatus {
    std::string mode;            // "quorum" (leases enforced) or "two-node" (none: no partition safety)
    uint64_t quorum = 1;         // nodes, this one included, that make a lease or an election
    uint64_t lease_ms = 0;
    // A primary: whether it holds its lease now, and for how much longer.
    std::optional<bool> held;
    std::optional<uint64_t> remaining_ms;
    std::string silent;          // why this node fell silent ("" while it may speak)
    uint64_t campaign_epoch = 0; // a backup asking for votes: the epoch it asks for (0: none)
    // This node's own vote: the highest epoch it granted, to whom, and how long its
    // promise not to grant another still runs.
    uint64_t voted_epoch = 0;
    std::string voted_for;       // an address, "" if none
    uint64_t promise_remaining_ms = 0;
    uint64_t grants = 0, refusals = 0;
    uint64_t outranked_refusals = 0;  // candidates refused because this backup ranks above them
    // Campaigning: the better candidate this node stands aside for ("" if none), and
    // how many heartbeats it sent as a plain backup meanwhile.
    std::string deferring_to;
    uint64_t deferrals = 0;
};

// What another node said of itself in its last NODE_REPORT (docs/protocol.md, "Node
// reports"), as it stood when the report was sent (reports come once a second and on
// a change): its checks, its lease, its vote, and a primary's view of its backups.
struct ReportedCheckStatus {
    std::string name;
    std::string type;         // "tcp", "http", "banner", "script"
    std::string state;        // "up" or "down"
    std::string last_result;  // "none", "success", "failure"
    std::string reason;       // the last failure's ("connection refused"); "" after a success
};
struct ReportedBackupStatus {
    std::string address;
    std::string state;              // "connecting", "live", "lost" (the primary's stream to it)
    std::optional<bool> eligible;   // what the backup said (HEALTH); unknown until it did
    uint64_t lag_bytes = 0;         // client bytes forwarded to it, not yet acknowledged
    uint64_t lag_ms = 0;            // how long the oldest of them has waited
};
struct ClusterReportStatus {
    uint64_t age_ms = 0;            // since the report came
    uint64_t epoch = 0;
    bool has_checks = false;        // the node runs health checks
    bool eligible = true;           // every check up (a backup may take over)
    std::vector<ReportedCheckStatus> checks;
    bool lease_enforced = false;
    bool lease_held = false;        // a primary holding its lease
    uint64_t lease_remaining_ms = 0;  // at the report
    uint64_t lease_renewed_ms_ago = 0;  // at the report
    uint64_t voted_epoch = 0;       // its vote: the highest epoch it granted, to whom, and
    std::string voted_for;          // how long its promise still ran at the report
    uint64_t promise_remaining_ms = 0;
    std::vector<ReportedBackupStatus> backups;  // a primary's
};

// Another node of the cluster as its heartbeats describe it (failoverctl status,
// "cluster"): what this node heard last, and how long ago.
struct ClusterPeerStatus {
    std::string address;
    bool heard = false;          // a heartbeat ever taken from it
    std::string role;            // "primary", "backup", "candidate"; "" if never heard
    uint64_t epoch = 0;
    int id = 0;                  // 0 from a node of the two-node shorthand
    int priority = 0;
    uint64_t log_position = 0;   // a backup's: bytes of the serving primary's stream it holds
    bool holds_every_connection = false;  // a backup's, as its primary last told it (HOLDINGS)
    uint64_t silence_ms = 0;
    std::optional<ClusterReportStatus> report;  // none from a node that never sent one (an older failoverd)
};

struct NodeStatus {
    // "primary", "backup", "taking-over" (a backup in the middle of a takeover),
    // "taken-over-primary" (a backup that took over), "silent" (a primary that lost
    // its lease or saw a higher epoch), "candidate" (a backup asking for votes),
    // "witness".
    std::string role;
    uint64_t epoch = 0;
    // Filled by the control server from the command line (fill_common).
    int pid = 0;
    uint64_t started_us = 0;  // when the node had started (a backup is listening by then)
    uint64_t now_us = 0;
    std::string listen;
    std::string vip;
    std::string dev;
    uint16_t port = 0;
    std::optional<MembershipStatus> membership;

    std::vector<PeerStatus> peers;
    std::vector<std::pair<std::string, uint64_t>> hooks;  // the BPF hooks' counters
    std::optional<TakeoverStatus> takeover;
    std::vector<UnprotectedStatus> unprotected;  // primary: the most recent ones
    uint64_t unprotected_total = 0;              // primary: since start
    std::optional<uint64_t> diverged;            // backup: connections held now whose replica diverged
    std::optional<OutputCheckStatus> output_check;
    std::optional<ServiceLogStatus> service;
    std::optional<HealthStatus> health;  // absent without checks
    std::optional<LeaseStatus> lease;
    std::vector<ClusterPeerStatus> cluster;  // every peer heartbeats go to (the witness too)
    AuthStatus auth;
    std::vector<ConnStatus> conns;
    // Counts, whatever the detail. Protected: the primary's table; a backup's
    // replicating connections whose replica is healthy; 0 once it took over (nothing
    // protects those yet).
    uint64_t conns_protected = 0;
    std::optional<uint64_t> conns_unprotected;  // backup: held, but the replica failed
    std::optional<uint64_t> conns_spliced;      // after a takeover: rebuilt and still open
    // Client bytes the stable point has not reached yet, summed over the connections:
    // primary, forwarded but not held by every backup; backup, logged but not yet
    // acknowledged to the primary.
    std::optional<uint64_t> stable_lag_bytes;
    // A backup's: what its primary last said of the connections it holds (HOLDINGS).
    struct Holdings {
        uint32_t missing = 0;
        uint32_t protected_count = 0;
        bool holds_every_connection = false;
    };
    std::optional<Holdings> holdings;
    uint64_t takeovers = 0;  // takeovers this node began since start
    // Every role this node has held, oldest first (the last is the current one); empty
    // when the node does not keep them (a role object's status alone).
    std::vector<RoleChange> roles;
    // The node protects new connections as a primary (the unprotected list applies).
    bool serves_as_primary = false;
    // Called on each connection just before it is rendered, from the event loop, in
    // pieces: fills what costs a system call per connection (the primary's BPF map
    // lookups), so a status of many connections never holds the loop for long. It
    // may leave the connection unchanged (it closed meanwhile).
    std::function<void(ConnStatus&)> complete;
};

}  // namespace tcpfo

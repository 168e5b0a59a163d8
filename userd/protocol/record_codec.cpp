#include "userd/protocol/record_codec.h"

#include <algorithm>
#include <iterator>
#include <string_view>

#include "userd/base/crc32c.h"

namespace tcpfo {
namespace {

// HEARTBEAT's flags byte (it was reserved, zero, before).
constexpr uint8_t kHeartbeatHoldsAll = 0x1;

class Writer {
public:
    explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
    void u8(uint8_t v) { out_.push_back(v); }
    void u16(uint16_t v) { for (int s = 8; s >= 0; s -= 8) out_.push_back(uint8_t(v >> s)); }
    void u32(uint32_t v) { for (int s = 24; s >= 0; s -= 8) out_.push_back(uint8_t(v >> s)); }
    void u64(uint64_t v) { for (int s = 56; s >= 0; s -= 8) out_.push_back(uint8_t(v >> s)); }
    // Addresses stay in network order: copy the bytes as they are in memory.
    void addr(uint32_t network_order) {
        const auto* p = reinterpret_cast<const uint8_t*>(&network_order);
        out_.insert(out_.end(), p, p + 4);
    }
    void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
    void options(const TcpOptions& o) { u16(o.mss); u8(o.wscale); u8(o.present); }

private:
    std::vector<uint8_t>& out_;
};

// Reads a payload whose length the caller has already checked against the type's
// size, so the getters cannot run past the end.
class Reader {
public:
    explicit Reader(std::span<const uint8_t> in) : in_(in) {}
    uint8_t u8() { return in_[pos_++]; }
    uint16_t u16() { uint16_t v = 0; for (int i = 0; i < 2; ++i) v = uint16_t(v << 8 | in_[pos_++]); return v; }
    uint32_t u32() { uint32_t v = 0; for (int i = 0; i < 4; ++i) v = v << 8 | in_[pos_++]; return v; }
    uint64_t u64() { uint64_t v = 0; for (int i = 0; i < 8; ++i) v = v << 8 | in_[pos_++]; return v; }
    uint32_t addr() { uint32_t v; std::copy_n(&in_[pos_], 4, reinterpret_cast<uint8_t*>(&v)); pos_ += 4; return v; }
    TcpOptions options() { TcpOptions o; o.mss = u16(); o.wscale = u8(); o.present = u8(); return o; }
    std::span<const uint8_t> rest() { auto r = in_.subspan(pos_); pos_ = in_.size(); return r; }
    std::span<const uint8_t> bytes(size_t n) { auto r = in_.subspan(pos_, n); pos_ += n; return r; }

private:
    std::span<const uint8_t> in_;
    size_t pos_ = 0;
};

constexpr size_t kOptionsSize = 4;
constexpr size_t kDataHeaderSize = 16;
// NODE_REPORT: a fixed part, then its checks and its backups, each of a fixed size.
constexpr size_t kReportFixedSize = 8 + 4 + 4 + 4 + 4 + 8 + 4 + 4;
constexpr size_t kReportCheckSize = 8 + kMaxReportCheckName + kMaxReportReason;
constexpr size_t kReportBackupSize = 4 + 4 + 8 + 4 + 4;
constexpr size_t kMaxReportPayload =
    kReportFixedSize + kMaxReportChecks * kReportCheckSize + kMaxReportBackups * kReportBackupSize;
// NODE_REPORT's flags byte.
constexpr uint8_t kReportHasChecks = 1, kReportEligible = 2, kReportLeaseEnforced = 4, kReportLeaseHeld = 8;

// Fixed payload size per type; DATA is kDataHeaderSize plus its bytes.
constexpr size_t fixed_payload_size(RecordType type) {
    switch (type) {
        case RecordType::hello: return 2 + 1 + 1 + 8;
        case RecordType::conn_open: return 8 + 4 + 2 + 4 + 2 + 4 + 4 + 2 * kOptionsSize;
        case RecordType::data: return kDataHeaderSize;
        case RecordType::client_ack: return 8 + 8 + 2 + 2 + 4 + 4;
        case RecordType::client_fin: return 16;
        case RecordType::server_fin: return 16;
        case RecordType::close: return 8 + 1 + 3;
        case RecordType::stable: return 16;
        case RecordType::heartbeat: return 8 + 8 + 1 + 1 + 1 + 1 + 4 + 8 + 8 + 8;
        case RecordType::conn_refused: return 8 + 1 + 3;
        case RecordType::output_digest: return 8 + 8 + 4 + 4 + 8;
        case RecordType::app_log: return 8;
        case RecordType::app_stable: return 8;
        case RecordType::app_refused: return 4;
        case RecordType::handover: return 8;
        case RecordType::health: return 4 + kMaxHealthReason;
        case RecordType::handover_request: return 8;
        case RecordType::lease_reply: return 8 + 8 + 4 + 1 + 3;
        case RecordType::commit: return 16;
        case RecordType::resume: return 8 + 4 + 2 + 2;
        case RecordType::resume_end: return 4 + 4;
        case RecordType::holdings: return 4 + 4;
        case RecordType::node_report: return kReportFixedSize;  // without checks or backups
    }
    return 0;
}

bool known_type(uint8_t t) { return t >= 1 && t <= uint8_t(RecordType::node_report); }

// Types whose payload is a fixed header and then bytes (at least one).
bool carries_bytes(RecordType t) { return t == RecordType::data || t == RecordType::app_log; }
// Types whose payload is a fixed part and then a bounded number of fixed-size
// entries: the header's length is checked against the bounds, the payload's own
// counts against the length (decode_payload).
bool carries_entries(RecordType t) { return t == RecordType::node_report; }

// `text` cut to at most `max` bytes, not inside a UTF-8 sequence.
std::string_view cut_text(std::string_view text, size_t max) {
    if (text.size() <= max) return text;
    size_t n = max;
    while (n > 0 && (uint8_t(text[n]) & 0xc0) == 0x80) --n;  // text[n] continues a sequence
    return text.substr(0, n);
}

// A text field of `width` bytes: the text, then zero bytes.
void put_text(Writer& w, std::string_view text, size_t width) {
    w.bytes(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    for (size_t i = text.size(); i < width; ++i) w.u8(0);
}

RecordType type_of_record(const Record& r) {
    static constexpr RecordType by_index[] = {
        RecordType::hello,      RecordType::conn_open,  RecordType::data,
        RecordType::client_ack, RecordType::client_fin, RecordType::server_fin,
        RecordType::close,      RecordType::stable,     RecordType::heartbeat,
        RecordType::conn_refused, RecordType::output_digest, RecordType::app_log,
        RecordType::app_stable, RecordType::app_refused, RecordType::handover,
        RecordType::health,     RecordType::handover_request, RecordType::lease_reply,
        RecordType::commit,     RecordType::resume,     RecordType::resume_end,
        RecordType::holdings,   RecordType::node_report};
    static_assert(std::size(by_index) == std::variant_size_v<Record>);
    return by_index[r.index()];
}

void encode_payload(const Record& record, Writer& w) {
    std::visit(
        [&](const auto& r) {
            using T = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<T, HelloRecord>) {
                w.u16(r.version); w.u8(uint8_t(r.role)); w.u8(0); w.u64(r.epoch);
            } else if constexpr (std::is_same_v<T, ConnOpenRecord>) {
                w.u64(r.conn_id); w.addr(r.client_addr); w.u16(r.client_port);
                w.addr(r.vip_addr); w.u16(r.vip_port); w.u32(r.client_isn); w.u32(r.server_isn);
                w.options(r.client_options); w.options(r.server_options);
            } else if constexpr (std::is_same_v<T, DataRecord>) {
                w.u64(r.conn_id); w.u64(r.offset); w.bytes(r.bytes);
            } else if constexpr (std::is_same_v<T, ClientAckRecord>) {
                w.u64(r.conn_id); w.u64(r.acked); w.u16(r.window); w.u16(0);
                w.u32(r.tsval); w.u32(r.tsecr);
            } else if constexpr (std::is_same_v<T, ClientFinRecord> ||
                                 std::is_same_v<T, ServerFinRecord> ||
                                 std::is_same_v<T, StableRecord>) {
                w.u64(r.conn_id); w.u64(r.offset);
            } else if constexpr (std::is_same_v<T, CloseRecord>) {
                w.u64(r.conn_id); w.u8(uint8_t(r.reason)); w.u8(0); w.u16(0);
            } else if constexpr (std::is_same_v<T, HeartbeatRecord>) {
                w.u64(r.epoch); w.u64(r.counter); w.u8(uint8_t(r.role)); w.u8(r.node_id); w.u8(r.priority);
                w.u8(r.holds_every_connection ? kHeartbeatHoldsAll : 0);
                w.u32(r.lease_ms); w.u64(r.sent_ms); w.u64(r.log_position); w.u64(r.log_epoch);
            } else if constexpr (std::is_same_v<T, LeaseReplyRecord>) {
                w.u64(r.epoch); w.u64(r.echoed_ms); w.u32(r.promise_ms); w.u8(r.granted ? 1 : 0); w.u8(0); w.u16(0);
            } else if constexpr (std::is_same_v<T, ConnRefusedRecord>) {
                w.u64(r.conn_id); w.u8(uint8_t(r.reason)); w.u8(0); w.u16(0);
            } else if constexpr (std::is_same_v<T, OutputDigestRecord>) {
                w.u64(r.conn_id); w.u64(r.offset); w.u32(r.length); w.u32(0); w.u64(r.digest);
            } else if constexpr (std::is_same_v<T, AppLogRecord>) {
                w.u64(r.offset); w.bytes(r.bytes);
            } else if constexpr (std::is_same_v<T, AppStableRecord>) {
                w.u64(r.offset);
            } else if constexpr (std::is_same_v<T, CommitRecord>) {
                w.u64(r.conn_id); w.u64(r.offset);
            } else if constexpr (std::is_same_v<T, ResumeRecord>) {
                w.u64(r.conn_id); w.addr(r.client_addr); w.u16(r.client_port); w.u16(0);
            } else if constexpr (std::is_same_v<T, ResumeEndRecord>) {
                w.u32(r.count); w.u32(0);
            } else if constexpr (std::is_same_v<T, HoldingsRecord>) {
                w.u32(r.missing); w.u32(r.protected_count);
            } else if constexpr (std::is_same_v<T, HandoverRecord> || std::is_same_v<T, HandoverRequestRecord>) {
                w.u64(r.epoch);
            } else if constexpr (std::is_same_v<T, AppRefusedRecord>) {
                w.u8(uint8_t(r.reason)); w.u8(0); w.u16(0);
            } else if constexpr (std::is_same_v<T, HealthRecord>) {
                // A fixed size (the reason cut and zero-padded): the decoder's length
                // check stays one comparison.
                const size_t n = std::min(r.reason.size(), kMaxHealthReason);
                w.u8(r.eligible ? 1 : 0); w.u8(uint8_t(n)); w.u16(0);
                w.bytes(std::span(reinterpret_cast<const uint8_t*>(r.reason.data()), n));
                for (size_t i = n; i < kMaxHealthReason; ++i) w.u8(0);
            } else if constexpr (std::is_same_v<T, NodeReportRecord>) {
                const size_t checks = std::min(r.checks.size(), kMaxReportChecks);
                const size_t backups = std::min(r.backups.size(), kMaxReportBackups);
                const uint8_t flags = (r.has_checks ? kReportHasChecks : 0) | (r.eligible ? kReportEligible : 0) |
                                      (r.lease_enforced ? kReportLeaseEnforced : 0) |
                                      (r.lease_held ? kReportLeaseHeld : 0);
                w.u64(r.epoch); w.u8(flags); w.u8(uint8_t(checks)); w.u8(uint8_t(backups)); w.u8(0);
                w.u32(r.lease_remaining_ms); w.u32(r.lease_renewed_ms); w.u32(r.promise_remaining_ms);
                w.u64(r.voted_epoch); w.addr(r.voted_for); w.u32(0);
                for (size_t i = 0; i < checks; ++i) {
                    const ReportCheck& c = r.checks[i];
                    const std::string_view name = cut_text(c.name, kMaxReportCheckName);
                    const std::string_view reason = cut_text(c.reason, kMaxReportReason);
                    w.u8(uint8_t(c.type)); w.u8(c.up ? 1 : 2); w.u8(uint8_t(c.last_result));
                    w.u8(uint8_t(name.size())); w.u8(uint8_t(reason.size())); w.u8(0); w.u16(0);
                    put_text(w, name, kMaxReportCheckName);
                    put_text(w, reason, kMaxReportReason);
                }
                for (size_t i = 0; i < backups; ++i) {
                    const ReportBackup& b = r.backups[i];
                    w.addr(b.address); w.u8(uint8_t(b.state)); w.u8(uint8_t(b.eligible)); w.u16(0);
                    w.u64(b.lag_bytes); w.u32(b.lag_ms); w.u32(0);
                }
            }
        },
        record);
}

// A text field of `width` bytes holding `length` bytes of text: nothing but zeros after it.
Result<std::string> take_text(Reader& r, size_t length, size_t width, const char* what) {
    const auto field = r.bytes(width);
    if (std::any_of(field.begin() + length, field.end(), [](uint8_t b) { return b != 0; }))
        return fail("node report with bytes after its {}", what);
    return std::string(reinterpret_cast<const char*>(field.data()), length);
}

Result<Record> decode_node_report(Reader& r, size_t size) {
    NodeReportRecord n;
    n.epoch = r.u64();
    const uint8_t flags = r.u8();
    const uint8_t checks = r.u8();
    const uint8_t backups = r.u8();
    if (flags & ~(kReportHasChecks | kReportEligible | kReportLeaseEnforced | kReportLeaseHeld))
        return fail("node report with unknown flags {:#04x}", flags);
    if (checks > kMaxReportChecks) return fail("node report with {} checks (at most {})", checks, kMaxReportChecks);
    if (backups > kMaxReportBackups)
        return fail("node report with {} backups (at most {})", backups, kMaxReportBackups);
    if (size != kReportFixedSize + checks * kReportCheckSize + backups * kReportBackupSize)
        return fail("node report of {} bytes for {} checks and {} backups", size, checks, backups);
    if (r.u8() != 0) return fail("node report with nonzero padding");
    n.has_checks = flags & kReportHasChecks;
    n.eligible = flags & kReportEligible;
    n.lease_enforced = flags & kReportLeaseEnforced;
    n.lease_held = flags & kReportLeaseHeld;
    n.lease_remaining_ms = r.u32(); n.lease_renewed_ms = r.u32(); n.promise_remaining_ms = r.u32();
    n.voted_epoch = r.u64(); n.voted_for = r.addr();
    if (r.u32() != 0) return fail("node report with nonzero padding");
    for (size_t i = 0; i < checks; ++i) {
        ReportCheck c;
        const uint8_t type = r.u8(), state = r.u8(), result = r.u8();
        const uint8_t name_length = r.u8(), reason_length = r.u8();
        if (type < 1 || type > 4) return fail("node report with check type {}", type);
        if (state < 1 || state > 2) return fail("node report with check state {}", state);
        if (result > 2) return fail("node report with check result {}", result);
        if (name_length > kMaxReportCheckName) return fail("node report with a check name of {} bytes", name_length);
        if (reason_length > kMaxReportReason) return fail("node report with a check reason of {} bytes", reason_length);
        if (r.u8() != 0 || r.u16() != 0) return fail("node report with nonzero padding");
        c.type = ReportCheckType(type);
        c.up = state == 1;
        c.last_result = ReportCheckResult(result);
        auto name = take_text(r, name_length, kMaxReportCheckName, "check name");
        if (!name) return std::unexpected(name.error());
        auto reason = take_text(r, reason_length, kMaxReportReason, "check reason");
        if (!reason) return std::unexpected(reason.error());
        c.name = std::move(*name);
        c.reason = std::move(*reason);
        n.checks.push_back(std::move(c));
    }
    for (size_t i = 0; i < backups; ++i) {
        ReportBackup b;
        b.address = r.addr();
        const uint8_t state = r.u8(), eligible = r.u8();
        if (state < 1 || state > 3) return fail("node report with backup state {}", state);
        if (eligible > 2) return fail("node report with backup eligibility {}", eligible);
        if (r.u16() != 0) return fail("node report with nonzero padding");
        b.state = ReportBackupState(state);
        b.eligible = ReportEligibility(eligible);
        b.lag_bytes = r.u64(); b.lag_ms = r.u32();
        if (r.u32() != 0) return fail("node report with nonzero padding");
        n.backups.push_back(b);
    }
    return n;
}

Result<Record> decode_payload(RecordType type, std::span<const uint8_t> payload) {
    Reader r(payload);
    switch (type) {
        case RecordType::hello: {
            HelloRecord h;
            h.version = r.u16();
            const uint8_t role = r.u8();
            r.u8();
            h.epoch = r.u64();
            if (role != uint8_t(NodeRole::primary) && role != uint8_t(NodeRole::backup))
                return fail("hello record with unknown role {}", role);
            h.role = NodeRole(role);
            return h;
        }
        case RecordType::conn_open: {
            ConnOpenRecord c;
            c.conn_id = r.u64(); c.client_addr = r.addr(); c.client_port = r.u16();
            c.vip_addr = r.addr(); c.vip_port = r.u16(); c.client_isn = r.u32();
            c.server_isn = r.u32(); c.client_options = r.options(); c.server_options = r.options();
            if (c.client_options.wscale > 14 || c.server_options.wscale > 14)
                return fail("conn-open record {} with window scale above 14", c.conn_id);
            return c;
        }
        case RecordType::data: {
            DataRecord d;
            d.conn_id = r.u64(); d.offset = r.u64(); d.bytes = r.rest();
            if (d.bytes.empty()) return fail("data record {} without bytes", d.conn_id);
            if (d.offset + d.bytes.size() < d.offset)
                return fail("data record {} offset {} overflows", d.conn_id, d.offset);
            return d;
        }
        case RecordType::client_ack: {
            ClientAckRecord a;
            a.conn_id = r.u64(); a.acked = r.u64(); a.window = r.u16(); r.u16();
            a.tsval = r.u32(); a.tsecr = r.u32();
            return a;
        }
        case RecordType::client_fin: { ClientFinRecord f; f.conn_id = r.u64(); f.offset = r.u64(); return f; }
        case RecordType::server_fin: { ServerFinRecord f; f.conn_id = r.u64(); f.offset = r.u64(); return f; }
        case RecordType::stable: { StableRecord s; s.conn_id = r.u64(); s.offset = r.u64(); return s; }
        case RecordType::close: {
            CloseRecord c;
            c.conn_id = r.u64();
            const uint8_t reason = r.u8();
            if (reason < 1 || reason > 3) return fail("close record {} with unknown reason {}", c.conn_id, reason);
            c.reason = CloseReason(reason);
            return c;
        }
        case RecordType::heartbeat: {
            HeartbeatRecord h;
            h.epoch = r.u64(); h.counter = r.u64();
            const uint8_t role = r.u8();
            if (role < uint8_t(NodeRole::primary) || role > uint8_t(NodeRole::witness))
                return fail("heartbeat with unknown role {}", role);
            h.role = NodeRole(role);
            h.node_id = r.u8(); h.priority = r.u8();
            const uint8_t flags = r.u8();
            if ((flags & ~kHeartbeatHoldsAll) != 0) return fail("heartbeat with unknown flags {:#x}", flags);
            h.holds_every_connection = (flags & kHeartbeatHoldsAll) != 0;
            h.lease_ms = r.u32();
            h.sent_ms = r.u64();
            h.log_position = r.u64();
            h.log_epoch = r.u64();
            return h;
        }
        case RecordType::lease_reply: {
            LeaseReplyRecord l;
            l.epoch = r.u64(); l.echoed_ms = r.u64(); l.promise_ms = r.u32();
            const uint8_t granted = r.u8();
            if (granted > 1) return fail("lease reply with granted {}", granted);
            l.granted = granted == 1;
            return l;
        }
        case RecordType::conn_refused: {
            ConnRefusedRecord c;
            c.conn_id = r.u64();
            const uint8_t reason = r.u8();
            if (reason < 1 || reason > 5)
                return fail("conn-refused record {} with unknown reason {}", c.conn_id, reason);
            if (r.u8() != 0 || r.u16() != 0)
                return fail("conn-refused record {} with nonzero padding", c.conn_id);
            c.reason = RefuseReason(reason);
            return c;
        }
        case RecordType::output_digest: {
            OutputDigestRecord d;
            d.conn_id = r.u64(); d.offset = r.u64(); d.length = r.u32();
            if (r.u32() != 0) return fail("output-digest record {} with nonzero padding", d.conn_id);
            d.digest = r.u64();
            if (d.length == 0 || d.length > kMaxDigestSpan)
                return fail("output-digest record {} covers {} bytes (1..{})", d.conn_id, d.length, kMaxDigestSpan);
            if (d.offset + d.length < d.offset)
                return fail("output-digest record {} offset {} overflows", d.conn_id, d.offset);
            return d;
        }
        case RecordType::app_log: {
            AppLogRecord a;
            a.offset = r.u64(); a.bytes = r.rest();
            if (a.bytes.empty()) return fail("app-log record without bytes");
            if (a.offset + a.bytes.size() < a.offset) return fail("app-log record offset {} overflows", a.offset);
            return a;
        }
        case RecordType::app_stable: { AppStableRecord a; a.offset = r.u64(); return a; }
        case RecordType::app_refused: {
            AppRefusedRecord a;
            const uint8_t reason = r.u8();
            if (reason < 1 || reason > 4) return fail("app-refused record with unknown reason {}", reason);
            if (r.u8() != 0 || r.u16() != 0) return fail("app-refused record with nonzero padding");
            a.reason = AppRefuseReason(reason);
            return a;
        }
        case RecordType::handover: { HandoverRecord h; h.epoch = r.u64(); return h; }
        case RecordType::handover_request: { HandoverRequestRecord h; h.epoch = r.u64(); return h; }
        case RecordType::commit: { CommitRecord c; c.conn_id = r.u64(); c.offset = r.u64(); return c; }
        case RecordType::resume: {
            ResumeRecord c;
            c.conn_id = r.u64(); c.client_addr = r.addr(); c.client_port = r.u16();
            if (r.u16() != 0) return fail("resume record {} with nonzero padding", c.conn_id);
            return c;
        }
        case RecordType::resume_end: {
            ResumeEndRecord e;
            e.count = r.u32();
            if (r.u32() != 0) return fail("resume-end record with nonzero padding");
            return e;
        }
        case RecordType::holdings: {
            HoldingsRecord h;
            h.missing = r.u32(); h.protected_count = r.u32();
            if (h.missing > h.protected_count)
                return fail("holdings record missing {} of only {} connections", h.missing, h.protected_count);
            return h;
        }
        case RecordType::health: {
            HealthRecord h;
            const uint8_t eligible = r.u8();
            const uint8_t length = r.u8();
            if (eligible > 1) return fail("health record with eligible {}", eligible);
            if (r.u16() != 0) return fail("health record with nonzero padding");
            if (length > kMaxHealthReason) return fail("health record with reason length {}", length);
            const auto rest = r.rest();
            if (std::any_of(rest.begin() + length, rest.end(), [](uint8_t b) { return b != 0; }))
                return fail("health record with bytes after its reason");
            h.eligible = eligible == 1;
            h.reason.assign(reinterpret_cast<const char*>(rest.data()), length);
            return h;
        }
        case RecordType::node_report: return decode_node_report(r, payload.size());
    }
    return fail("record of unknown type {}", int(type));
}

uint32_t load_be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

}  // namespace

RecordType record_type(const Record& record) { return type_of_record(record); }

const char* record_type_name(RecordType type) {
    switch (type) {
        case RecordType::hello: return "hello";
        case RecordType::conn_open: return "conn-open";
        case RecordType::data: return "data";
        case RecordType::client_ack: return "client-ack";
        case RecordType::client_fin: return "client-fin";
        case RecordType::server_fin: return "server-fin";
        case RecordType::close: return "close";
        case RecordType::stable: return "stable";
        case RecordType::heartbeat: return "heartbeat";
        case RecordType::conn_refused: return "conn-refused";
        case RecordType::output_digest: return "output-digest";
        case RecordType::app_log: return "app-log";
        case RecordType::app_stable: return "app-stable";
        case RecordType::app_refused: return "app-refused";
        case RecordType::handover: return "handover";
        case RecordType::health: return "health";
        case RecordType::handover_request: return "handover-request";
        case RecordType::lease_reply: return "lease-reply";
        case RecordType::commit: return "commit";
        case RecordType::resume: return "resume";
        case RecordType::resume_end: return "resume-end";
        case RecordType::holdings: return "holdings";
        case RecordType::node_report: return "node-report";
    }
    return "unknown";
}

const char* refuse_reason_text(RefuseReason reason) {
    switch (reason) {
        case RefuseReason::capacity: return "the backup holds as many connections as its limits allow";
        case RefuseReason::resources: return "the backup could not make a socket for it";
        case RefuseReason::replica: return "the backup could not reach its replica";
        case RefuseReason::duplicate: return "the connection id is already in use on the backup";
        case RefuseReason::out_of_step: return "the backup's replica is not in step with the service (it does not hold the service's log)";
    }
    return "unknown reason";
}

const char* app_refuse_reason_text(AppRefuseReason reason) {
    switch (reason) {
        case AppRefuseReason::joined_late: return "the service's log began before this backup joined";
        case AppRefuseReason::overflow: return "the service's log outgrew the backup's bound (its replica does not read it)";
        case AppRefuseReason::replica_diverged: return "the replica's replay of the service's log diverged (it went live)";
        case AppRefuseReason::input_missing: return "the service's log accepted a client whose connection this backup does not hold";
    }
    return "unknown reason";
}

void encode_record(const Record& record, std::vector<uint8_t>& out) {
    const size_t start = out.size();
    Writer w(out);
    w.u32(kRecordMagic);
    w.u8(uint8_t(type_of_record(record)));
    w.u8(0);   // flags
    w.u16(0);  // reserved
    w.u32(0);  // payload length, patched below
    w.u32(0);  // crc, patched below
    encode_payload(record, w);
    const uint32_t length = uint32_t(out.size() - start - kRecordHeaderSize);
    for (int i = 0; i < 4; ++i) out[start + 8 + i] = uint8_t(length >> (24 - 8 * i));
    const uint32_t crc = crc32c(std::span(out).subspan(start, out.size() - start));
    for (int i = 0; i < 4; ++i) out[start + 12 + i] = uint8_t(crc >> (24 - 8 * i));
}

Result<std::optional<DecodedRecord>> decode_record(std::span<const uint8_t> input) {
    // Check what can be checked as early as possible, so garbage is refused after
    // 16 bytes instead of after waiting for a bogus length's worth.
    if (input.size() < kRecordHeaderSize) {
        const size_t n = std::min<size_t>(input.size(), 4);
        for (size_t i = 0; i < n; ++i)
            if (input[i] != uint8_t(kRecordMagic >> (24 - 8 * i)))
                return fail("record does not start with the tcpfo magic");
        return std::nullopt;
    }
    const uint8_t* h = input.data();
    if (load_be32(h) != kRecordMagic) return fail("record does not start with the tcpfo magic");
    const uint8_t type = h[4];
    if (!known_type(type)) return fail("record of unknown type {}", type);
    if (h[5] != 0 || h[6] != 0 || h[7] != 0)
        return fail("{} record with nonzero flags or reserved bits", record_type_name(RecordType(type)));
    const uint32_t length = load_be32(h + 8);
    const RecordType rtype = RecordType(type);
    const size_t fixed = fixed_payload_size(rtype);
    const bool length_ok = carries_bytes(rtype)     ? length > fixed && length <= kMaxRecordPayload
                           : carries_entries(rtype) ? length >= fixed && length <= kMaxReportPayload
                                                    : length == fixed;
    if (!length_ok)
        return fail("{} record with invalid payload length {}", record_type_name(rtype), length);
    if (input.size() < kRecordHeaderSize + length) return std::nullopt;

    const uint32_t expected_crc = load_be32(h + 12);
    uint8_t header_copy[kRecordHeaderSize];
    std::copy_n(h, kRecordHeaderSize, header_copy);
    std::fill_n(header_copy + 12, 4, 0);
    uint32_t crc = crc32c(std::span<const uint8_t>(header_copy, kRecordHeaderSize));
    const auto payload = input.subspan(kRecordHeaderSize, length);
    crc = crc32c(payload, crc);
    if (crc != expected_crc)
        return fail("{} record with bad checksum {:08x}, expected {:08x}", record_type_name(rtype),
                    expected_crc, crc);
    auto record = decode_payload(rtype, payload);
    if (!record) return std::unexpected(record.error());
    return DecodedRecord{std::move(*record), kRecordHeaderSize + length};
}

}  // namespace tcpfo

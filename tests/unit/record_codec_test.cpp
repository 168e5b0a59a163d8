#include "userd/protocol/record_codec.h"

#include <algorithm>

#include <random>

#include <fmt/core.h>
#include <gtest/gtest.h>

#include "userd/base/crc32c.h"

using namespace tcpfo;

namespace {

std::vector<uint8_t> encode(const Record& r) {
    std::vector<uint8_t> out;
    encode_record(r, out);
    return out;
}

// A NODE_REPORT at its bounds: every check and backup it may carry, full-length texts.
NodeReportRecord full_node_report() {
    NodeReportRecord r;
    r.epoch = 0x0102030405060708ULL;
    r.has_checks = true;
    r.eligible = false;
    r.lease_enforced = true;
    r.lease_held = true;
    r.lease_remaining_ms = 29;
    r.lease_renewed_ms = 1;
    r.voted_epoch = 7;
    r.voted_for = 0x0a0200c0;
    r.promise_remaining_ms = 30;
    for (size_t i = 0; i < kMaxReportChecks; ++i)
        r.checks.push_back({ReportCheckType(1 + i % 4), i % 2 == 0, ReportCheckResult(i % 3),
                            std::string(kMaxReportCheckName, char('a' + i)), std::string(kMaxReportReason, 'r')});
    for (size_t i = 0; i < kMaxReportBackups; ++i)
        r.backups.push_back({uint32_t(0x0b0200c0 + (i << 24)), ReportBackupState(1 + i % 3), ReportEligibility(i % 3),
                             (uint64_t(1) << 40) + i, uint32_t(1000 + i)});
    return r;
}

std::vector<Record> sample_records(const std::vector<uint8_t>& payload) {
    ConnOpenRecord open;
    open.conn_id = 42; open.client_addr = 0x010200c0; open.client_port = 40000;
    open.vip_addr = 0x640200c0; open.vip_port = 7000; open.client_isn = 0xfffffff0;
    open.server_isn = 7; open.client_options = {1460, 7, 0xf}; open.server_options = {1460, 9, 0xf};
    return {HelloRecord{kProtocolVersion, NodeRole::backup, 3},
            open,
            DataRecord{42, (uint64_t(1) << 33) + 5, payload},
            ClientAckRecord{42, 123456789, 501, 111, 222},
            ClientFinRecord{42, 99},
            ServerFinRecord{42, 77},
            CloseRecord{42, CloseReason::reset_by_server},
            StableRecord{42, 1000},
            HeartbeatRecord{9, 10, NodeRole::primary},
            HeartbeatRecord{9, 11, NodeRole::candidate, 30, 0x0102030405060708ULL},
            HeartbeatRecord{0, 12, NodeRole::witness, 0, 1},
            HeartbeatRecord{5, 13, NodeRole::candidate, 100, 7, 3, 250, (uint64_t(1) << 40) + 9, 4},
            HeartbeatRecord{6, 14, NodeRole::backup, 100, 8, 2, 100, 77, 5, true},
            LeaseReplyRecord{7, 0x1122334455667788ULL, 30, true},
            LeaseReplyRecord{8, 5, 45, false},
            ConnRefusedRecord{42, RefuseReason::resources},
            OutputDigestRecord{42, (uint64_t(1) << 40) + 3, 65536, 0x0123456789abcdefULL},
            AppLogRecord{(uint64_t(1) << 35) + 1, payload},
            AppStableRecord{123456789012ULL},
            AppRefusedRecord{AppRefuseReason::overflow},
            AppRefusedRecord{AppRefuseReason::input_missing},
            HandoverRecord{0x0102030405060708ULL},
            HealthRecord{true, ""},
            HealthRecord{false, "check web: HTTP 503"},
            HandoverRequestRecord{0x0807060504030201ULL},
            CommitRecord{42, (uint64_t(1) << 36) + 7},
            ResumeRecord{42, 0x0100020a, 40312},
            ResumeEndRecord{12345},
            HoldingsRecord{3, 1000},
            NodeReportRecord{},
            full_node_report()};
}

}  // namespace

TEST(RecordCodec, RoundTripsEveryType) {
    std::vector<uint8_t> payload(65536);
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = uint8_t(i * 7);
    for (const Record& r : sample_records(payload)) {
        const auto wire = encode(r);
        auto decoded = decode_record(wire);
        ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
        ASSERT_TRUE(decoded->has_value());
        EXPECT_EQ((*decoded)->size, wire.size());
        EXPECT_EQ((*decoded)->record, r);
    }
}

TEST(RecordCodec, DecodesAStreamOfRecordsByteByByte) {
    std::vector<uint8_t> payload = {1, 2, 3};
    std::vector<uint8_t> stream;
    for (const Record& r : sample_records(payload)) encode_record(r, stream);
    // Feed growing prefixes: every prefix is either "need more" or a whole record.
    size_t pos = 0, count = 0;
    for (size_t end = 1; end <= stream.size(); ++end) {
        auto d = decode_record(std::span(stream).subspan(pos, end - pos));
        ASSERT_TRUE(d.has_value()) << d.error().message;
        if (d->has_value()) { pos += (*d)->size; ++count; }
    }
    EXPECT_EQ(pos, stream.size());
    EXPECT_EQ(count, sample_records(payload).size());
}

TEST(RecordCodec, HandoverRequestIsTypeEighteenWithEightBytesOfEpoch) {
    const auto wire = encode(HandoverRequestRecord{9});
    ASSERT_EQ(wire.size(), kRecordHeaderSize + 8);
    EXPECT_EQ(wire[4], 18);
    EXPECT_EQ(wire[kRecordHeaderSize + 7], 9);
}

TEST(RecordCodec, HandoverIsEightBytesOfEpoch) {
    const auto wire = encode(HandoverRecord{7});
    ASSERT_EQ(wire.size(), kRecordHeaderSize + 8);
    EXPECT_EQ(wire[4], 15);  // the type
    EXPECT_EQ(wire[kRecordHeaderSize + 7], 7);  // big-endian epoch
    for (size_t n = 0; n < wire.size(); ++n) {
        auto d = decode_record(std::span(wire).first(n));
        ASSERT_TRUE(d.has_value()) << "prefix " << n << ": " << d.error().message;
        EXPECT_FALSE(d->has_value());
    }
    // Any other payload length is refused from the header alone.
    auto longer = wire;
    longer[11] = 9;
    longer.push_back(0);
    auto d = decode_record(longer);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().message, "handover record with invalid payload length 9");
    EXPECT_STREQ(record_type_name(RecordType::handover), "handover");
}

TEST(RecordCodec, HealthIsAFixedSizeWithItsReasonZeroPadded) {
    const auto wire = encode(HealthRecord{false, "check web: HTTP 503"});
    ASSERT_EQ(wire.size(), kRecordHeaderSize + 4 + kMaxHealthReason);
    EXPECT_EQ(wire[4], 16);                     // the type
    EXPECT_EQ(wire[kRecordHeaderSize], 0);      // not eligible
    EXPECT_EQ(wire[kRecordHeaderSize + 1], 19);  // the reason's length
    EXPECT_STREQ(record_type_name(RecordType::health), "health");
    // A reason longer than the field is cut, not refused.
    auto cut = decode_record(encode(HealthRecord{false, std::string(300, 'x')}));
    ASSERT_TRUE(cut && cut->has_value());
    EXPECT_EQ(std::get<HealthRecord>((*cut)->record).reason, std::string(kMaxHealthReason, 'x'));
    // Garbage after the reason, an eligible flag other than 0 or 1, a length past the
    // field: refused (the checksum recomputed, so the payload is what is judged).
    auto refused = [&](size_t at, uint8_t value, const char* what) {
        auto bad = wire;
        bad[at] = value;
        std::fill_n(bad.begin() + 12, 4, 0);
        const uint32_t crc = crc32c(bad);
        for (int i = 0; i < 4; ++i) bad[12 + i] = uint8_t(crc >> (24 - 8 * i));
        auto d = decode_record(bad);
        ASSERT_FALSE(d) << what;
        EXPECT_EQ(d.error().message.find('\n'), std::string::npos);
    };
    refused(kRecordHeaderSize + 4 + 100, 'x', "bytes after the reason");
    refused(kRecordHeaderSize, 2, "eligible 2");
    refused(kRecordHeaderSize + 1, 200, "a reason longer than the field");
}

TEST(RecordCodec, TruncatedInputNeedsMore) {
    const auto wire = encode(StableRecord{1, 2});
    for (size_t n = 0; n < wire.size(); ++n) {
        auto d = decode_record(std::span(wire).first(n));
        ASSERT_TRUE(d.has_value()) << "prefix " << n << ": " << d.error().message;
        EXPECT_FALSE(d->has_value());
    }
}

TEST(RecordCodec, RefusesCorruptInputWithOneLineErrors) {
    const auto good = encode(StableRecord{1, 2});
    auto expect_error = [](std::vector<uint8_t> wire, const char* what) {
        auto d = decode_record(wire);
        ASSERT_FALSE(d.has_value()) << "accepted " << what;
        EXPECT_EQ(d.error().message.find('\n'), std::string::npos);
        EXPECT_FALSE(d.error().message.empty());
    };
    auto bad_magic = good; bad_magic[0] ^= 1; expect_error(bad_magic, "bad magic");
    auto bad_type = good; bad_type[4] = 77; expect_error(bad_type, "unknown type");
    auto bad_flags = good; bad_flags[5] = 1; expect_error(bad_flags, "flags");
    auto bad_len = good; bad_len[11] += 1; expect_error(bad_len, "wrong length for type");
    auto bad_crc = good; bad_crc.back() ^= 0x40; expect_error(bad_crc, "flipped payload bit");
    // A DATA record claiming a huge length is refused from its header alone.
    auto huge = encode(DataRecord{1, 0, std::vector<uint8_t>{1}});
    huge[8] = 0x7f;
    huge.resize(kRecordHeaderSize);
    expect_error(huge, "oversized data");
    // A garbage prefix is refused before 16 bytes arrive.
    expect_error({'G', 'E', 'T', ' '}, "garbage prefix");
}

TEST(RecordCodec, ConnRefusedLayout) {
    // conn_id u64, reason u8, three zero bytes (docs/protocol.md).
    const auto wire = encode(ConnRefusedRecord{0x0102030405060708, RefuseReason::replica});
    ASSERT_EQ(wire.size(), kRecordHeaderSize + 12);
    EXPECT_EQ(wire[4], 10);
    const std::vector<uint8_t> payload(wire.begin() + kRecordHeaderSize, wire.end());
    EXPECT_EQ(payload, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8, 3, 0, 0, 0}));
    for (uint8_t reason = 1; reason <= 5; ++reason)
        EXPECT_NE(std::string(refuse_reason_text(RefuseReason(reason))), "unknown reason");
}

TEST(RecordCodec, OutputDigestLayoutAndLimits) {
    // conn_id u64, offset u64, length u32, four zero bytes, digest u64 (docs/protocol.md).
    const OutputDigestRecord good{7, 0x1000, 1448, 0x1122334455667788ULL};
    const auto wire = encode(good);
    ASSERT_EQ(wire.size(), kRecordHeaderSize + 32);
    EXPECT_EQ(wire[4], 11);
    const std::vector<uint8_t> payload(wire.begin() + kRecordHeaderSize, wire.end());
    EXPECT_EQ(payload, (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 5, 0xa8,
                                             0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}));
    for (uint32_t length : {0u, kMaxDigestSpan + 1, UINT32_MAX}) {
        auto d = decode_record(encode(OutputDigestRecord{7, 0x1000, length, 1}));
        ASSERT_FALSE(d) << length;
        EXPECT_EQ(d.error().message, fmt::format("output-digest record 7 covers {} bytes (1..65536)", length));
    }
    auto overflow = decode_record(encode(OutputDigestRecord{7, UINT64_MAX - 10, 100, 1}));
    ASSERT_FALSE(overflow);
    EXPECT_EQ(overflow.error().message, fmt::format("output-digest record 7 offset {} overflows", UINT64_MAX - 10));
}

// Re-encodes `wire` after changing payload byte `at` to `value`, with a valid checksum,
// so only the decoder's own checks can refuse it.
static std::vector<uint8_t> with_payload_byte(const Record& r, size_t at, uint8_t value) {
    std::vector<uint8_t> wire = encode(r);
    wire[kRecordHeaderSize + at] = value;
    std::fill_n(wire.begin() + 12, 4, 0);
    const uint32_t crc = crc32c(wire);
    for (int i = 0; i < 4; ++i) wire[12 + i] = uint8_t(crc >> (24 - 8 * i));
    return wire;
}

TEST(RecordCodec, ConnRefusedRefusesUnknownReasonAndPadding) {
    const ConnRefusedRecord good{7, RefuseReason::capacity};
    for (uint8_t reason : {0, 6, 255}) {
        auto d = decode_record(with_payload_byte(good, 8, reason));
        ASSERT_FALSE(d) << int(reason);
        EXPECT_EQ(d.error().message, fmt::format("conn-refused record 7 with unknown reason {}", reason));
    }
    for (size_t at : {9, 10, 11}) {
        auto d = decode_record(with_payload_byte(good, at, 1));
        ASSERT_FALSE(d) << at;
        EXPECT_EQ(d.error().message, "conn-refused record 7 with nonzero padding");
    }
    for (size_t at : {20, 21, 22, 23}) {
        auto d = decode_record(with_payload_byte(OutputDigestRecord{7, 0, 1, 1}, at, 1));
        ASSERT_FALSE(d) << at;
        EXPECT_EQ(d.error().message, "output-digest record 7 with nonzero padding");
    }
    auto ok = decode_record(with_payload_byte(good, 8, 4));
    ASSERT_TRUE(ok && ok->has_value());
    EXPECT_EQ((*ok)->record, Record(ConnRefusedRecord{7, RefuseReason::duplicate}));
}

// Fuzz: mutate valid records at random and feed random bytes; the decoder must
// either need more, return an error, or return a record that re-encodes to exactly
// the bytes it consumed. It must never crash (ASan builds catch out-of-bounds reads).
TEST(RecordCodec, SurvivesMutationFuzzing) {
    std::mt19937_64 rng(20261125);
    std::vector<uint8_t> payload = {9, 8, 7, 6, 5};
    const auto records = sample_records(payload);
    size_t accepted = 0, refused = 0;
    for (int iter = 0; iter < 200000; ++iter) {
        std::vector<uint8_t> wire = encode(records[rng() % records.size()]);
        const int mutations = 1 + int(rng() % 4);
        for (int m = 0; m < mutations; ++m) {
            switch (rng() % 4) {
                case 0: wire[rng() % wire.size()] ^= uint8_t(1u << (rng() % 8)); break;
                case 1: wire[rng() % wire.size()] = uint8_t(rng()); break;
                case 2: wire.resize(rng() % (wire.size() + 1)); if (wire.empty()) wire.push_back(0); break;
                case 3: wire.push_back(uint8_t(rng())); break;
            }
        }
        auto d = decode_record(wire);
        if (!d) { ++refused; continue; }
        if (!d->has_value()) continue;
        ++accepted;
        std::vector<uint8_t> again;
        encode_record((*d)->record, again);
        ASSERT_EQ(again, std::vector<uint8_t>(wire.begin(), wire.begin() + (*d)->size));
    }
    EXPECT_GT(refused, 100000u);  // the checksum catches nearly every mutation
    for (int iter = 0; iter < 100000; ++iter) {
        std::vector<uint8_t> junk(rng() % 64);
        for (auto& b : junk) b = uint8_t(rng());
        (void)decode_record(junk);
    }
    SUCCEED() << accepted << " mutated records still valid";
}

TEST(RecordCodec, HoldingsIsTypeTwentyTwoAndRefusesMoreMissingThanProtected) {
    const auto wire = encode(HoldingsRecord{2, 5});
    ASSERT_EQ(wire.size(), kRecordHeaderSize + 8);
    EXPECT_EQ(wire[4], 22);
    EXPECT_STREQ(record_type_name(RecordType::holdings), "holdings");
    auto d = decode_record(with_payload_byte(HoldingsRecord{2, 5}, 3, 6));  // missing 6 of 5
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().message, "holdings record missing 6 of only 5 connections");
}

TEST(RecordCodec, HeartbeatFlagsCarryHoldsEveryConnectionAndRefuseUnknownBits) {
    HeartbeatRecord hb{4, 5, NodeRole::backup};
    hb.holds_every_connection = true;
    // epoch, counter, role, node id, priority: the flags byte follows.
    const size_t flags = 8 + 8 + 1 + 1 + 1;
    EXPECT_EQ(encode(hb)[kRecordHeaderSize + flags], 1);
    auto d = decode_record(with_payload_byte(hb, flags, 0x3));
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().message, "heartbeat with unknown flags 0x3");
}

// NODE_REPORT (docs/protocol.md, "Node reports"): a fixed part of 40 bytes, then 88
// bytes per check and 24 per backup, as many as its counts say.
TEST(RecordCodec, NodeReportLayout) {
    NodeReportRecord r;
    r.epoch = 3;
    r.has_checks = true;
    r.eligible = false;
    r.lease_held = true;
    r.voted_for = 0x0a0200c0;
    r.checks.push_back({ReportCheckType::tcp, false, ReportCheckResult::failure, "echo", "connection refused"});
    r.backups.push_back({0x0b0200c0, ReportBackupState::live, ReportEligibility::eligible, 4096, 12});
    const auto wire = encode(r);
    ASSERT_EQ(wire.size(), kRecordHeaderSize + 40 + 88 + 24);
    EXPECT_EQ(wire[4], 23);
    EXPECT_STREQ(record_type_name(RecordType::node_report), "node-report");
    const uint8_t* p = wire.data() + kRecordHeaderSize;
    EXPECT_EQ(p[7], 3);          // epoch, big-endian
    EXPECT_EQ(p[8], 1 | 8);      // flags: has checks, lease held (not eligible)
    EXPECT_EQ(p[9], 1);          // checks
    EXPECT_EQ(p[10], 1);         // backups
    EXPECT_EQ(p[32], 192);       // voted_for, as on the wire
    EXPECT_EQ(p[40], 1);         // the check: tcp
    EXPECT_EQ(p[41], 2);         // down
    EXPECT_EQ(p[42], 2);         // last result: failure
    EXPECT_EQ(p[43], 4);         // name length
    EXPECT_EQ(p[44], 18);        // reason length
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(p + 48), 4), "echo");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(p + 48 + 24), 18), "connection refused");
    EXPECT_EQ(p[128], 192);      // the backup's address
    EXPECT_EQ(p[132], 2);        // live
    EXPECT_EQ(p[133], 1);        // eligible
    EXPECT_EQ(p[128 + 14], 0x10);  // lag_bytes 4096, big-endian
    // At its bounds it stays one datagram well below an Ethernet MTU, sealed or not.
    EXPECT_EQ(encode(full_node_report()).size(), kRecordHeaderSize + 40 + 4 * 88 + 16 * 24);
}

TEST(RecordCodec, NodeReportCutsWhatIsOverItsBounds) {
    NodeReportRecord r;
    for (int i = 0; i < 6; ++i) r.checks.push_back({ReportCheckType::http, true, ReportCheckResult::success, "c", ""});
    for (int i = 0; i < 20; ++i) r.backups.push_back({uint32_t(i + 1), ReportBackupState::live, ReportEligibility::unknown, 0, 0});
    // A name and a reason over their fields, cut at a UTF-8 boundary ("é" is two bytes).
    r.checks[0].name = std::string(kMaxReportCheckName - 1, 'n') + "é";
    r.checks[0].reason = "timeout after 200 ms " + std::string(100, 'x');
    auto d = decode_record(encode(r));
    ASSERT_TRUE(d && d->has_value());
    const auto& got = std::get<NodeReportRecord>((*d)->record);
    EXPECT_EQ(got.checks.size(), kMaxReportChecks);
    EXPECT_EQ(got.backups.size(), kMaxReportBackups);
    EXPECT_EQ(got.checks[0].name, std::string(kMaxReportCheckName - 1, 'n'));
    EXPECT_EQ(got.checks[0].reason.size(), kMaxReportReason);
    EXPECT_TRUE(got.checks[0].reason.starts_with("timeout after 200 ms"));
}

TEST(RecordCodec, NodeReportRefusesWhatItCannotBe) {
    NodeReportRecord r;
    r.checks.push_back({ReportCheckType::banner, true, ReportCheckResult::success, "ssh", ""});
    r.backups.push_back({0x0b0200c0, ReportBackupState::lost, ReportEligibility::ineligible, 1, 2});
    const auto good = encode(r);
    auto refused = [&](size_t at, uint8_t value, const std::string& expected) {
        std::vector<uint8_t> bad = good;
        bad[kRecordHeaderSize + at] = value;
        std::fill_n(bad.begin() + 12, 4, 0);
        const uint32_t crc = crc32c(bad);
        for (int i = 0; i < 4; ++i) bad[12 + i] = uint8_t(crc >> (24 - 8 * i));
        auto d = decode_record(bad);
        ASSERT_FALSE(d) << expected;
        EXPECT_EQ(d.error().message, expected);
    };
    refused(8, 0x10, "node report with unknown flags 0x10");
    refused(9, 5, "node report with 5 checks (at most 4)");
    refused(10, 17, "node report with 17 backups (at most 16)");
    refused(9, 0, "node report of 152 bytes for 0 checks and 1 backups");
    refused(11, 1, "node report with nonzero padding");
    refused(36, 1, "node report with nonzero padding");
    refused(40, 5, "node report with check type 5");
    refused(41, 0, "node report with check state 0");
    refused(42, 3, "node report with check result 3");
    refused(43, 25, "node report with a check name of 25 bytes");
    refused(44, 57, "node report with a check reason of 57 bytes");
    refused(45, 1, "node report with nonzero padding");
    refused(48 + 3, 'x', "node report with bytes after its check name");
    refused(48 + 24 + 1, 'x', "node report with bytes after its check reason");
    refused(128 + 4, 4, "node report with backup state 4");
    refused(128 + 5, 3, "node report with backup eligibility 3");
    refused(128 + 20, 1, "node report with nonzero padding");
    // A length outside the type's bounds is refused from the header alone.
    auto short_one = good;
    short_one[11] = 39;
    auto d = decode_record(short_one);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().message, "node-report record with invalid payload length 39");
    auto long_one = good;
    long_one[10] = 0x03;  // 0x300 + ...: above 776
    d = decode_record(long_one);
    ASSERT_FALSE(d);
    EXPECT_TRUE(d.error().message.starts_with("node-report record with invalid payload length")) << d.error().message;
    // Truncated: every prefix needs more, none is an error.
    for (size_t n = 0; n < good.size(); ++n) {
        auto prefix = decode_record(std::span(good).first(n));
        ASSERT_TRUE(prefix) << n << ": " << prefix.error().message;
        EXPECT_FALSE(prefix->has_value());
    }
}

// The mutation fuzz of SurvivesMutationFuzzing, on NODE_REPORT alone (its counts and
// texts are what a corrupt report gets wrong), with the checksum made right again
// after each mutation so that the payload checks, not the CRC, are what refuse it.
TEST(RecordCodec, NodeReportSurvivesMutationFuzzing) {
    std::mt19937_64 rng(20261203);
    NodeReportRecord small;
    small.checks.push_back({ReportCheckType::tcp, false, ReportCheckResult::failure, "echo", "connection refused"});
    small.backups.push_back({0x0b0200c0, ReportBackupState::live, ReportEligibility::eligible, 4096, 12});
    const std::vector<std::vector<uint8_t>> seeds = {encode(small), encode(full_node_report()), encode(NodeReportRecord{})};
    size_t accepted = 0, refused = 0;
    for (int iter = 0; iter < 100000; ++iter) {
        std::vector<uint8_t> wire = seeds[rng() % seeds.size()];
        const int mutations = 1 + int(rng() % 3);
        for (int m = 0; m < mutations; ++m) {
            const size_t at = kRecordHeaderSize + rng() % (wire.size() - kRecordHeaderSize);
            switch (rng() % 3) {
                case 0: wire[at] ^= uint8_t(1u << (rng() % 8)); break;
                case 1: wire[at] = uint8_t(rng()); break;
                case 2: wire[at] = uint8_t(rng() % 4); break;  // small values: plausible counts and enums
            }
        }
        std::fill_n(wire.begin() + 12, 4, 0);
        const uint32_t crc = crc32c(wire);
        for (int i = 0; i < 4; ++i) wire[12 + i] = uint8_t(crc >> (24 - 8 * i));
        auto d = decode_record(wire);
        if (!d) {
            ++refused;
            EXPECT_EQ(d.error().message.find('\n'), std::string::npos);
            continue;
        }
        ASSERT_TRUE(d->has_value());
        ++accepted;
        std::vector<uint8_t> again;
        encode_record((*d)->record, again);
        ASSERT_EQ(again, wire);
    }
    EXPECT_GT(refused, 0u);
    EXPECT_GT(accepted, 0u);
}

#include "userd/protocol/record_codec.h"

#include <random>

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {

std::vector<uint8_t> encode(const Record& r) {
    std::vector<uint8_t> out;
    encode_record(r, out);
    return out;
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
            HeartbeatRecord{9, 10, NodeRole::primary}};
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
    EXPECT_EQ(count, 9u);
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

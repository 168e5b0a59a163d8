#include "client_options.h"
#include "counter_reply_check.h"
#include "stamp_reply_check.h"
#include "stream_protocol.h"
#include "tool_args.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

using namespace tcpfo::streamtest;

namespace {

std::vector<std::uint8_t> pattern(std::uint64_t stream, std::uint64_t offset, std::size_t n) {
    std::vector<std::uint8_t> out(n);
    fill_pattern(stream, offset, out);
    return out;
}

}  // namespace

TEST(StreamHeader, RoundTrips) {
    std::uint8_t wire[header_size];
    encode_header({StreamMode::half_close, 513, 0x0102030405060708ull}, std::span<std::uint8_t, header_size>(wire, header_size));
    auto decoded = decode_header(std::span<const std::uint8_t, header_size>(wire, header_size));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->mode, StreamMode::half_close);
    EXPECT_EQ(decoded->seed, 513);
    EXPECT_EQ(decoded->count, 0x0102030405060708ull);
}

TEST(StreamHeader, RejectsWrongMagicModeAndReserved) {
    std::uint8_t wire[header_size];
    auto view = std::span<const std::uint8_t, header_size>(wire, header_size);
    encode_header({StreamMode::echo, 1, 0}, std::span<std::uint8_t, header_size>(wire, header_size));
    wire[0] ^= 1;
    EXPECT_FALSE(decode_header(view));
    wire[0] ^= 1;
    wire[4] = 9;
    EXPECT_FALSE(decode_header(view));
    wire[4] = 1;
    wire[5] = 1;
    EXPECT_FALSE(decode_header(view));
    wire[5] = 0;
    EXPECT_TRUE(decode_header(view));
}

TEST(Pattern, PiecewiseFillEqualsOneFill) {
    auto whole = pattern(7, 3, 10000);
    std::vector<std::uint8_t> pieces(10000);
    std::size_t cuts[] = {0, 1, 6, 13, 4096, 4101, 9999, 10000};
    for (std::size_t i = 0; i + 1 < std::size(cuts); ++i)
        fill_pattern(7, 3 + cuts[i], std::span(pieces.data() + cuts[i], cuts[i + 1] - cuts[i]));
    EXPECT_EQ(whole, pieces);
    // Every byte against the definition: the word loop stores whole words at once.
    for (std::size_t i = 0; i < whole.size(); ++i) ASSERT_EQ(whole[i], pattern_byte(7, 3 + i)) << "byte " << i;
    EXPECT_EQ(find_pattern_mismatch(7, 3, whole), no_mismatch);
}

TEST(Pattern, StreamsDiffer) {
    EXPECT_NE(pattern(client_stream(1), 0, 64), pattern(client_stream(2), 0, 64));
    EXPECT_NE(pattern(client_stream(1), 0, 64), pattern(server_stream(1), 0, 64));
    // No short period: a chunk shifted by a typical buffer size does not match.
    EXPECT_NE(pattern(1, 0, 64), pattern(1, 65536, 64));
}

TEST(Pattern, DetectsLostDuplicatedReorderedAndFlippedBytes) {
    const std::uint64_t stream = client_stream(42);
    auto good = pattern(stream, 1000, 8192);

    auto lost = good;
    lost.erase(lost.begin() + 5000);  // one byte missing
    EXPECT_EQ(find_pattern_mismatch(stream, 1000, lost), 5000u);

    auto duplicated = good;
    duplicated.insert(duplicated.begin() + 3000, good.begin() + 2900, good.begin() + 3000);
    EXPECT_EQ(find_pattern_mismatch(stream, 1000, duplicated), 3000u);

    auto reordered = good;
    std::swap_ranges(reordered.begin() + 1024, reordered.begin() + 2048, reordered.begin() + 2048);
    EXPECT_EQ(find_pattern_mismatch(stream, 1000, reordered), 1024u);

    auto flipped = good;
    flipped[8191] ^= 0x10;
    EXPECT_EQ(find_pattern_mismatch(stream, 1000, flipped), 8191u);
}

TEST(Checksum, IsCrc32AndStreams) {
    const char* check = "123456789";
    auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(check), 9);
    EXPECT_EQ(crc32_update(0, bytes), 0xCBF43926u);
    EXPECT_EQ(crc32_update(crc32_update(0, bytes.first(4)), bytes.subspan(4)), 0xCBF43926u);
    std::uint8_t wire[sink_reply_size];
    encode_sink_reply({123456789012ull, 0xCBF43926u}, std::span<std::uint8_t, sink_reply_size>(wire, sink_reply_size));
    auto reply = decode_sink_reply(std::span<const std::uint8_t, sink_reply_size>(wire, sink_reply_size));
    EXPECT_EQ(reply.count, 123456789012ull);
    EXPECT_EQ(reply.crc, 0xCBF43926u);
}

TEST(StreamHeader, AcceptsCounterMode) {
    std::uint8_t wire[header_size];
    encode_header({StreamMode::counter, 7, 64}, std::span<std::uint8_t, header_size>(wire, header_size));
    auto decoded = decode_header(std::span<const std::uint8_t, header_size>(wire, header_size));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->mode, StreamMode::counter);
}

TEST(StreamHeader, AcceptsStampModeAndNothingAfterIt) {
    std::uint8_t wire[header_size];
    encode_header({StreamMode::stamp, 7, 64}, std::span<std::uint8_t, header_size>(wire, header_size));
    EXPECT_EQ(wire[4], 6);
    auto decoded = decode_header(std::span<const std::uint8_t, header_size>(wire, header_size));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->mode, StreamMode::stamp);
    wire[4] = static_cast<std::uint8_t>(StreamMode::stamp) + 1;
    EXPECT_FALSE(decode_header(std::span<const std::uint8_t, header_size>(wire, header_size)));
}

namespace {

std::array<std::uint8_t, counter_request_size> counter_request(std::uint16_t seed, std::uint64_t index) {
    std::array<std::uint8_t, counter_request_size> request{};
    fill_pattern(client_stream(seed), index * counter_request_size, request);
    return request;
}

std::array<std::uint8_t, counter_reply_size> encoded(const CounterReply& reply, std::uint16_t seed) {
    std::array<std::uint8_t, counter_reply_size> wire{};
    encode_counter_reply(reply, seed, wire);
    return wire;
}

}  // namespace

TEST(CounterReply, RoundTripsWithTheDocumentedLayout) {
    const auto request = counter_request(9, 3);
    const CounterReply reply{0x1112131415161718ull, 3, counter_reply_crc(request, 0x1112131415161718ull, 3)};
    const auto wire = encoded(reply, 9);
    EXPECT_EQ(wire[0], 0x18);  // value, little-endian
    EXPECT_EQ(wire[7], 0x11);
    EXPECT_EQ(wire[8], 3);     // index
    EXPECT_EQ(wire[16], reply.crc & 0xff);
    EXPECT_EQ(find_pattern_mismatch(server_stream(9), 3 * counter_reply_size + 20, std::span(wire).subspan(20)),
              no_mismatch);
    auto decoded = decode_counter_reply(wire, 9);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->value, reply.value);
    EXPECT_EQ(decoded->index, 3u);
    EXPECT_EQ(decoded->crc, reply.crc);
}

TEST(CounterReply, CrcCoversRequestValueAndIndex) {
    const auto request = counter_request(9, 0);
    const std::uint32_t crc = counter_reply_crc(request, 5, 0);
    std::uint8_t numbers[16] = {5};  // value 5, index 0, little-endian
    EXPECT_EQ(crc, crc32_update(crc32_update(0, request), numbers));
    EXPECT_NE(crc, counter_reply_crc(request, 6, 0));
    EXPECT_NE(crc, counter_reply_crc(request, 5, 1));
    EXPECT_NE(crc, counter_reply_crc(counter_request(9, 1), 5, 0));
    EXPECT_NE(crc, counter_reply_crc(counter_request(10, 0), 5, 0));
}

TEST(CounterReply, PaddingBindsTheReplyToItsSeedAndPlace) {
    auto wire = encoded({5, 2, 0}, 9);
    EXPECT_TRUE(decode_counter_reply(wire, 9));
    EXPECT_FALSE(decode_counter_reply(wire, 10));  // another connection's reply
    wire[8] = 3;                                   // the index of another place
    EXPECT_FALSE(decode_counter_reply(wire, 9));
    wire[8] = 2;
    wire[31] ^= 1;
    EXPECT_FALSE(decode_counter_reply(wire, 9));
}

namespace {

std::array<std::uint8_t, stamp_request_size> stamp_request(std::uint16_t seed, std::uint64_t index) {
    std::array<std::uint8_t, stamp_request_size> request{};
    fill_pattern(client_stream(seed), index * stamp_request_size, request);
    return request;
}

StampReply stamp_reply(std::uint16_t seed, std::uint64_t index, std::int64_t time_ns, std::uint8_t random_byte) {
    StampReply reply;
    reply.index = index;
    reply.time_ns = time_ns;
    for (std::size_t i = 0; i < stamp_random_size; ++i) reply.random[i] = static_cast<std::uint8_t>(random_byte + i);
    reply.crc = stamp_reply_crc(stamp_request(seed, index), index, time_ns, reply.random);
    return reply;
}

std::array<std::uint8_t, stamp_reply_size> encoded(const StampReply& reply) {
    std::array<std::uint8_t, stamp_reply_size> wire{};
    encode_stamp_reply(reply, wire);
    return wire;
}

}  // namespace

TEST(StampReply, RoundTripsWithTheDocumentedLayout) {
    const auto reply = stamp_reply(9, 0x0102030405060708ull, 0x1112131415161718ll, 0xA0);
    auto wire = encoded(reply);
    EXPECT_EQ(wire[0], 0x08);  // index, little-endian
    EXPECT_EQ(wire[7], 0x01);
    EXPECT_EQ(wire[8], 0x18);  // time, little-endian
    EXPECT_EQ(wire[15], 0x11);
    EXPECT_EQ(wire[16], 0xA0);  // random bytes as drawn
    EXPECT_EQ(wire[23], 0xA7);
    EXPECT_EQ(wire[24], reply.crc & 0xff);
    EXPECT_EQ(wire[27], reply.crc >> 24);
    for (std::size_t i = 28; i < stamp_reply_size; ++i) EXPECT_EQ(wire[i], 0) << i;
    auto decoded = decode_stamp_reply(wire);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->index, reply.index);
    EXPECT_EQ(decoded->time_ns, reply.time_ns);
    EXPECT_EQ(std::memcmp(decoded->random, reply.random, stamp_random_size), 0);
    EXPECT_EQ(decoded->crc, reply.crc);
    // A time before 1970 (negative) survives too.
    EXPECT_EQ(decode_stamp_reply(encoded(stamp_reply(9, 0, -5, 0)))->time_ns, -5);
}

TEST(StampReply, CrcCoversRequestIndexTimeAndRandomBytes) {
    const auto request = stamp_request(9, 0);
    std::uint8_t random[stamp_random_size] = {1, 2, 3, 4, 5, 6, 7, 8};
    const std::uint32_t crc = stamp_reply_crc(request, 0, 5, random);
    std::uint8_t numbers[16] = {0, 0, 0, 0, 0, 0, 0, 0, 5};  // index 0, time 5, little-endian
    EXPECT_EQ(crc, crc32_update(crc32_update(crc32_update(0, request), numbers), random));
    EXPECT_NE(crc, stamp_reply_crc(request, 1, 5, random));
    EXPECT_NE(crc, stamp_reply_crc(request, 0, 6, random));
    EXPECT_NE(crc, stamp_reply_crc(stamp_request(9, 1), 0, 5, random));
    EXPECT_NE(crc, stamp_reply_crc(stamp_request(10, 0), 0, 5, random));
    random[7] ^= 1;
    EXPECT_NE(crc, stamp_reply_crc(request, 0, 5, random));
}

TEST(StampReply, RefusesNonZeroTrailingBytes) {
    for (std::size_t i = 28; i < stamp_reply_size; ++i) {
        auto wire = encoded(stamp_reply(3, 1, 2, 3));
        wire[i] = 0x10;
        EXPECT_FALSE(decode_stamp_reply(wire)) << i;
    }
}

TEST(ToolArgs, ParsesSizesAndEndpoints) {
    EXPECT_EQ(parse_size("--bytes", "64M").value(), 64ull << 20);
    EXPECT_EQ(parse_size("--bytes", "4096").value(), 4096u);
    EXPECT_EQ(parse_size("--bytes", "1G").value(), 1ull << 30);
    EXPECT_FALSE(parse_size("--bytes", "1.5K"));
    EXPECT_FALSE(parse_size("--bytes", ""));
    EXPECT_FALSE(parse_size("--bytes", "-3"));
    auto endpoint = parse_endpoint("--connect", "192.0.2.100:7000");
    ASSERT_TRUE(endpoint);
    EXPECT_EQ(ntohs(endpoint->sin_port), 7000);
    EXPECT_FALSE(parse_endpoint("--connect", "192.0.2.100"));
    EXPECT_FALSE(parse_endpoint("--connect", "192.0.2.100:70000"));
    EXPECT_FALSE(parse_endpoint("--connect", "example:7000"));
}

namespace {

tcpfo::Result<ClientOptions> parse(std::vector<std::string> args) {
    std::vector<char*> argv{const_cast<char*>("tcpfo-stream-client")};
    for (auto& a : args) argv.push_back(a.data());
    bool help = false;
    return parse_client_options(static_cast<int>(argv.size()), argv.data(), help);
}

}  // namespace

TEST(ClientOptions, PauseAtHoldsEveryStreamingMode) {
    for (const char* mode : {"echo", "upload", "download", "half-close", "counter", "stamp"}) {
        auto o = parse({mode, "--connect", "192.0.2.100:7000", "--bytes", "4M", "--pause-at", "3M",
                        "--resume-file", "/tmp/r"});
        ASSERT_TRUE(o) << mode << ": " << o.error().message;
        EXPECT_EQ(o->pause_at.value(), 3ull << 20) << mode;
    }
    EXPECT_FALSE(parse({"rr", "--connect", "192.0.2.100:7000", "--pause-at", "1K", "--resume-file", "/tmp/r"}));
    EXPECT_FALSE(parse({"download", "--connect", "192.0.2.100:7000", "--bytes", "4M", "--pause-at", "3M"}));
    EXPECT_FALSE(parse({"download", "--connect", "192.0.2.100:7000", "--bytes", "4M", "--pause-at", "4M",
                        "--resume-file", "/tmp/r"}));
}

TEST(ClientOptions, ReportGaps) {
    auto o = parse({"echo", "--connect", "192.0.2.100:7000", "--bytes", "1M", "--report-gaps-ms", "200"});
    ASSERT_TRUE(o);
    EXPECT_EQ(o->report_gaps_ms, 200);
    EXPECT_EQ(parse({"echo", "--connect", "192.0.2.100:7000", "--bytes", "1M"})->report_gaps_ms, 0);
    EXPECT_FALSE(parse({"echo", "--connect", "192.0.2.100:7000", "--bytes", "1M", "--report-gaps-ms", "x"}));
}

TEST(ClientOptions, CounterSendsWholeRequests) {
    auto o = parse({"counter", "--connect", "192.0.2.100:7000", "--bytes", "2M"});
    ASSERT_TRUE(o) << o.error().message;
    EXPECT_EQ(o->mode, ClientMode::counter);
    auto odd = parse({"counter", "--connect", "192.0.2.100:7000", "--bytes", "1000"});
    ASSERT_FALSE(odd);
    EXPECT_NE(odd.error().message.find("multiple of 32"), std::string::npos) << odd.error().message;
    EXPECT_FALSE(parse({"counter", "--connect", "192.0.2.100:7000"}));
}

namespace {

// The wire bytes of the counter reply the service makes for request `index`.
std::vector<std::uint8_t> counter_wire(std::uint16_t seed, std::uint64_t index, std::uint64_t value) {
    const auto request = counter_request(seed, index);
    const auto wire = encoded({value, index, counter_reply_crc(request, value, index)}, seed);
    return {wire.begin(), wire.end()};
}

CounterReplies replies_of(std::uint32_t conn, std::uint16_t seed) {
    CounterReplies r;
    r.conn = conn;
    r.seed = seed;
    return r;
}

}  // namespace

TEST(CounterReplyCheck, AcceptsInterleavedConnectionsInPieces) {
    CounterReplyCheck check(8);
    auto a = replies_of(0, 1), b = replies_of(1, 2);
    std::vector<std::uint8_t> stream_a, stream_b;
    for (auto [index, value] : {std::pair{0, 1}, {1, 3}, {2, 4}}) {
        auto w = counter_wire(1, index, value);
        stream_a.insert(stream_a.end(), w.begin(), w.end());
    }
    for (auto [index, value] : {std::pair{0, 2}, {1, 5}}) {
        auto w = counter_wire(2, index, value);
        stream_b.insert(stream_b.end(), w.begin(), w.end());
    }
    // Cuts that split replies anywhere, the two connections taking turns.
    EXPECT_TRUE(check.take(a, std::span(stream_a).first(5), 3));
    EXPECT_TRUE(check.take(b, std::span(stream_b).first(40), 2));
    EXPECT_TRUE(check.take(a, std::span(stream_a).subspan(5, 60), 3));
    EXPECT_TRUE(check.take(b, std::span(stream_b).subspan(40), 2));
    EXPECT_TRUE(check.take(a, std::span(stream_a).subspan(65), 3));
    EXPECT_EQ(a.next_index, 3u);
    EXPECT_EQ(a.last_value, 4u);
    EXPECT_EQ(b.next_index, 2u);
    EXPECT_EQ(a.partial_len, 0u);
}

TEST(CounterReplyCheck, RefusesAValueAnotherConnectionHad) {
    CounterReplyCheck check(8);
    auto a = replies_of(0, 1), b = replies_of(7, 2);
    ASSERT_TRUE(check.take(b, counter_wire(2, 0, 5), 1));
    auto bad = check.take(a, counter_wire(1, 0, 5), 1);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "counter reply 0: value 5 was already the reply to a request of conn 7");
}

TEST(CounterReplyCheck, RefusesARepeatedValueFarBeyondTheExpectedOnes) {
    CounterReplyCheck check(8);
    auto a = replies_of(0, 1), b = replies_of(4, 2);
    const std::uint64_t far = 1ull << 40;  // past the table indexed by value
    ASSERT_TRUE(check.take(a, counter_wire(1, 0, far), 1));
    ASSERT_TRUE(check.take(a, counter_wire(1, 1, far + 1), 2));
    auto bad = check.take(b, counter_wire(2, 0, far + 1), 1);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message,
              fmt::format("counter reply 0: value {} was already the reply to a request of conn 0", far + 1));
}

TEST(CounterReplyCheck, RefusesAValueNotAboveThePreviousOne) {
    CounterReplyCheck check(8);
    auto a = replies_of(0, 1);
    ASSERT_TRUE(check.take(a, counter_wire(1, 0, 9), 2));
    auto bad = check.take(a, counter_wire(1, 1, 8), 2);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "counter reply 1: value 8 is not above the previous reply's 9");
    auto zero = replies_of(1, 2);
    EXPECT_FALSE(check.take(zero, counter_wire(2, 0, 0), 1));  // the service counts from 1
}

TEST(CounterReplyCheck, RefusesAWrongIndexCrcOrPaddingAndUnaskedReplies) {
    CounterReplyCheck check(8);
    auto a = replies_of(0, 1);
    // Reply 1 where reply 0 belongs (its padding is that of reply 1's place).
    auto skipped = check.take(a, counter_wire(1, 1, 1), 2);
    ASSERT_FALSE(skipped);
    EXPECT_NE(skipped.error().message.find("counter reply 0: carries index 1"), std::string::npos)
        << skipped.error().message;

    auto b = replies_of(1, 2);
    auto value_changed = counter_wire(2, 0, 3);
    value_changed[0] = 4;  // the value no longer matches the crc
    auto crc = check.take(b, value_changed, 1);
    ASSERT_FALSE(crc);
    EXPECT_NE(crc.error().message.find("counter reply 0: crc32"), std::string::npos) << crc.error().message;

    auto c = replies_of(2, 3);
    auto padding = counter_wire(3, 0, 6);
    padding[25] ^= 0x40;
    auto pad = check.take(c, padding, 1);
    ASSERT_FALSE(pad);
    EXPECT_NE(pad.error().message.find("padding"), std::string::npos) << pad.error().message;

    auto d = replies_of(3, 4);
    auto unasked = check.take(d, counter_wire(4, 0, 7), 0);
    ASSERT_FALSE(unasked);
    EXPECT_EQ(unasked.error().message, "counter reply 0: the client has sent only 0 request(s)");
}

TEST(ClientOptions, StampSendsWholeRequests) {
    auto o = parse({"stamp", "--connect", "192.0.2.100:7000", "--bytes", "4M", "--rate", "1", "--pause-at", "3M",
                    "--resume-file", "/tmp/r"});
    ASSERT_TRUE(o) << o.error().message;
    EXPECT_EQ(o->mode, ClientMode::stamp);
    auto odd = parse({"stamp", "--connect", "192.0.2.100:7000", "--bytes", "1000"});
    ASSERT_FALSE(odd);
    EXPECT_NE(odd.error().message.find("multiple of 32"), std::string::npos) << odd.error().message;
    EXPECT_FALSE(parse({"stamp", "--connect", "192.0.2.100:7000"}));
}

namespace {

std::vector<std::uint8_t> stamp_wire(std::uint16_t seed, std::uint64_t index, std::int64_t time_ns) {
    const auto wire = encoded(stamp_reply(seed, index, time_ns, static_cast<std::uint8_t>(index * 8)));
    return {wire.begin(), wire.end()};
}

StampReplies stamp_replies_of(std::uint16_t seed) {
    StampReplies r;
    r.seed = seed;
    return r;
}

constexpr std::int64_t t0 = 1'800'000'000'000'000'000ll;  // 2027, in ns

}  // namespace

TEST(StampReplyCheck, AcceptsRepliesInPieces) {
    auto a = stamp_replies_of(1);
    std::vector<std::uint8_t> stream;
    for (std::uint64_t i = 0; i < 3; ++i) {
        auto w = stamp_wire(1, i, t0 + static_cast<std::int64_t>(i) * 1000);
        stream.insert(stream.end(), w.begin(), w.end());
    }
    EXPECT_TRUE(take_stamp_replies(a, std::span(stream).first(5), 3));
    EXPECT_EQ(a.next_index, 0u);
    EXPECT_TRUE(take_stamp_replies(a, std::span(stream).subspan(5, 60), 3));
    EXPECT_EQ(a.next_index, 2u);
    EXPECT_TRUE(take_stamp_replies(a, std::span(stream).subspan(65), 3));
    EXPECT_EQ(a.next_index, 3u);
    EXPECT_EQ(a.latest_time_ns, t0 + 2000);
    EXPECT_EQ(a.partial_len, 0u);
}

TEST(StampReplyCheck, AllowsTheTimeToGoBackOneSecondAtMost) {
    auto a = stamp_replies_of(1);
    ASSERT_TRUE(take_stamp_replies(a, stamp_wire(1, 0, t0), 4));
    // A live replica after a takeover: another process's clock, a little behind.
    ASSERT_TRUE(take_stamp_replies(a, stamp_wire(1, 1, t0 - 999'000'000), 4));
    // Still measured from the highest time seen, not the previous reply's.
    ASSERT_TRUE(take_stamp_replies(a, stamp_wire(1, 2, t0 - stamp_max_back_ns), 4));
    auto bad = take_stamp_replies(a, stamp_wire(1, 3, t0 - stamp_max_back_ns - 1), 4);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, fmt::format("stamp reply 3: time {} ns is 1.000 s before the connection's latest "
                                               "{} ns (at most 1 s back)",
                                               t0 - stamp_max_back_ns - 1, t0));
    // Garbage far in the past: no overflow in the difference.
    auto b = stamp_replies_of(2);
    ASSERT_TRUE(take_stamp_replies(b, stamp_wire(2, 0, INT64_MAX), 2));
    EXPECT_FALSE(take_stamp_replies(b, stamp_wire(2, 1, INT64_MIN), 2));
}

TEST(StampReplyCheck, RefusesAWrongIndexCrcZeroBytesAndUnaskedReplies) {
    auto a = stamp_replies_of(1);
    auto skipped = take_stamp_replies(a, stamp_wire(1, 1, t0), 2);
    ASSERT_FALSE(skipped);
    EXPECT_EQ(skipped.error().message, "stamp reply 0: carries index 1");

    auto b = stamp_replies_of(2);
    auto time_changed = stamp_wire(2, 0, t0);
    time_changed[8] ^= 1;  // the time no longer matches the crc
    auto crc = take_stamp_replies(b, time_changed, 1);
    ASSERT_FALSE(crc);
    EXPECT_NE(crc.error().message.find("stamp reply 0: crc32"), std::string::npos) << crc.error().message;

    auto c = stamp_replies_of(3);
    auto random_changed = stamp_wire(3, 0, t0);
    random_changed[20] ^= 0x80;
    EXPECT_FALSE(take_stamp_replies(c, random_changed, 1));

    auto d = stamp_replies_of(4);
    auto other_conn = stamp_wire(5, 0, t0);  // another connection's request under the crc
    EXPECT_FALSE(take_stamp_replies(d, other_conn, 1));

    auto e = stamp_replies_of(6);
    auto nonzero = stamp_wire(6, 0, t0);
    nonzero[31] = 1;
    auto zero = take_stamp_replies(e, nonzero, 1);
    ASSERT_FALSE(zero);
    EXPECT_EQ(zero.error().message, "stamp reply 0: its last 4 bytes are not zero (misplaced or corrupted)");

    auto f = stamp_replies_of(7);
    auto unasked = take_stamp_replies(f, stamp_wire(7, 0, t0), 0);
    ASSERT_FALSE(unasked);
    EXPECT_EQ(unasked.error().message, "stamp reply 0: the client has sent only 0 request(s)");
}

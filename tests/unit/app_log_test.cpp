#include "replay/preload/app_log.h"

#include <random>

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {

std::vector<uint8_t> encode(const AppLogEntry& e) {
    std::vector<uint8_t> out;
    encode_app_log_entry(e, out);
    return out;
}

// Two ready descriptors in wire form: fd 5 with EPOLLIN (1), fd 70000 with 0x2005.
const std::vector<uint8_t> kTwoReady = {0, 0, 0, 5, 0, 0, 0, 1, 0, 1, 0x11, 0x70, 0, 0, 0x20, 0x05};
// An IPv4 sockaddr_in: family 2, port 7000, 192.0.2.1, zero padding.
const std::vector<uint8_t> kAddress = {2, 0, 0x1b, 0x58, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0};

std::vector<AppLogEntry> sample_entries(const std::vector<uint8_t>& bytes) {
    return {ReadyEntry{ReadyCall::epoll_wait, 4, 2, 0, kTwoReady},
            ReadyEntry{ReadyCall::poll, 3, 0, 0, {}},
            ReadyEntry{ReadyCall::select, 9, 3, 0, kTwoReady},
            ReadyEntry{ReadyCall::epoll_wait, 4, -1, 4, {}},
            SocketReadEntry{{5, uint16_t(SocketCall::recv), 4096, 0}},
            SocketReadEntry{{5, uint16_t(SocketCall::read), -1, 11}},
            SocketWriteEntry{{6, uint16_t(SocketCall::writev), 17, 0}},
            SocketNameEntry{5, NameCall::getpeername, 0, 0, kAddress},
            SocketNameEntry{5, NameCall::getsockname, -1, 9, {}},
            ClockGettimeEntry{1, 0, 0, 1796222049, 999999999},
            ClockGettimeEntry{-7, -1, 22, 0, 0},
            GettimeofdayEntry{0, 0, -5, 123456},
            TimeEntry{int64_t(1) << 40},
            GetrandomEntry{int64_t(bytes.size()), 0, bytes},
            GetrandomEntry{-1, 4, {}},
            GetpidEntry{4242},
            DeviceReadEntry{int64_t(bytes.size()), 0, bytes},
            DeviceReadEntry{0, 0, {}},
            AcceptEntry{3, 9, 0, 0xc0000201, 40000},
            AcceptEntry{3, -1, 11, 0, 0},
            FeederNameEntry{0xc0000201, 40000, 51234}};
}

void expect_error(const std::vector<uint8_t>& wire, const std::string& wanted) {
    auto d = decode_app_log_entry(wire);
    ASSERT_FALSE(d.has_value()) << "accepted, wanted: " << wanted;
    EXPECT_EQ(d.error().message, wanted);
}

}  // namespace

TEST(AppLog, RoundTripsEveryKind) {
    std::vector<uint8_t> bytes(4096);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i * 13);
    for (const AppLogEntry& e : sample_entries(bytes)) {
        const auto wire = encode(e);
        EXPECT_EQ(wire.size(), app_log_entry_size(e));
        auto d = decode_app_log_entry(wire);
        ASSERT_TRUE(d.has_value()) << d.error().message;
        ASSERT_TRUE(d->has_value());
        EXPECT_EQ((*d)->size, wire.size());
        EXPECT_EQ((*d)->entry, e);
        EXPECT_EQ(app_log_kind((*d)->entry), app_log_kind(e));
        EXPECT_STRNE(app_log_kind_name(app_log_kind(e)), "unknown");
    }
}

// The layout docs/protocol.md gives: header {kind, flags, reserved u16, length u32},
// payload integers big-endian.
TEST(AppLog, LayoutIsBigEndianAsDocumented) {
    EXPECT_EQ(encode(ClockGettimeEntry{1, 0, 0, 0x0102030405060708, 9}),
              (std::vector<uint8_t>{1, 0, 0, 0, 0, 0, 0, 28,
                                    0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
                                    1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 9}));
    EXPECT_EQ(encode(GettimeofdayEntry{-1, 14, 0, 0}).size(), 8u + 24);
    EXPECT_EQ(encode(TimeEntry{-2}),
              (std::vector<uint8_t>{3, 0, 0, 0, 0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}));
    EXPECT_EQ(encode(GetpidEntry{0x01020304}), (std::vector<uint8_t>{5, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4}));
    const std::vector<uint8_t> two = {0xaa, 0xbb};
    EXPECT_EQ(encode(DeviceReadEntry{2, 0, two}),
              (std::vector<uint8_t>{6, 0, 0, 0, 0, 0, 0, 14, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0xaa, 0xbb}));
    EXPECT_EQ(encode(GetrandomEntry{2, 0, two})[0], 4);
    EXPECT_EQ(encode(AcceptEntry{3, 9, 0, 0xc0000201, 0x9c40}),
              (std::vector<uint8_t>{7, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0, 9, 0, 0, 0, 0,
                                    192, 0, 2, 1, 0x9c, 0x40, 0, 0}));
    EXPECT_EQ(encode(FeederNameEntry{0xc0000201, 0x9c40, 0xc822}),
              (std::vector<uint8_t>{8, 0, 0, 0, 0, 0, 0, 8, 192, 0, 2, 1, 0x9c, 0x40, 0xc8, 0x22}));
}

TEST(AppLog, RefusesAnAcceptWithReservedBytesOrAResultBelowMinusOne) {
    auto wire = encode(AcceptEntry{3, 9, 0, 1, 2});
    wire[27] = 1;
    expect_error(wire, "accept entry with nonzero reserved bytes");
    wire = encode(AcceptEntry{3, -1, 11, 0, 0});
    wire[15] = 0xfe;
    expect_error(wire, "accept entry with invalid result -2");
}

TEST(AppLog, InputOrderLayoutsAreBigEndianAsDocumented) {
    const std::vector<uint8_t> one = {0, 0, 0, 5, 0, 0, 0, 1};
    EXPECT_EQ(encode(ReadyEntry{ReadyCall::epoll_wait, 4, 1, 0, one}),
              (std::vector<uint8_t>{9, 0, 0, 0, 0, 0, 0, 28, 0, 1, 0, 0, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0,
                                    0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 1}));
    uint8_t wire[kReadyFdWireSize];
    put_ready_fd(wire, {70000, 0x2005});
    EXPECT_EQ(std::vector<uint8_t>(wire, wire + 8), (std::vector<uint8_t>{0, 1, 0x11, 0x70, 0, 0, 0x20, 0x05}));
    const ReadyEntry two{ReadyCall::select, 9, 3, 0, kTwoReady};
    EXPECT_EQ(ready_fd_at(two, 0), (ReadyFd{5, 1}));
    EXPECT_EQ(ready_fd_at(two, 1), (ReadyFd{70000, 0x2005}));
    EXPECT_EQ(encode(SocketReadEntry{{5, uint16_t(SocketCall::recv), 0x0102, 0}}),
              (std::vector<uint8_t>{10, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 5, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2,
                                    0, 0, 0, 0}));
    EXPECT_EQ(encode(SocketWriteEntry{{6, uint16_t(SocketCall::write), -1, 11}}),
              (std::vector<uint8_t>{11, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 6, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0, 0, 0, 11}));
    auto name = encode(SocketNameEntry{5, NameCall::getsockname, 0, 0, kAddress});
    EXPECT_EQ(std::vector<uint8_t>(name.begin(), name.begin() + 24),
              (std::vector<uint8_t>{12, 0, 0, 0, 0, 0, 0, 36, 0, 0, 0, 5, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(name.size(), 24u + 4 + 16);
    EXPECT_EQ(name[27], 16);
}

TEST(AppLog, RefusesInputOrderEntriesThatCannotBe) {
    const std::vector<uint8_t> one = {0, 0, 0, 5, 0, 0, 0, 1};
    auto wire = encode(ReadyEntry{ReadyCall::epoll_wait, 4, 1, 0, one});
    wire[9] = 4;
    expect_error(wire, "ready entry for unknown call 4");
    wire = encode(ReadyEntry{ReadyCall::epoll_wait, 4, 1, 0, one});
    wire[19] = 2;  // ret 2, one descriptor
    expect_error(wire, "ready entry returning 2 names 1 descriptors");
    wire = encode(ReadyEntry{ReadyCall::poll, 4, 1, 0, one});
    wire[27] = 2;  // count 2, 8 bytes
    expect_error(wire, "ready entry naming 2 descriptors carries 8 bytes");
    wire = encode(ReadyEntry{ReadyCall::poll, 4, 1, 0, one});
    wire[11] = 1;
    expect_error(wire, "ready entry with nonzero reserved bytes");
    // A tail that is not whole descriptors is refused from the header alone.
    wire = encode(ReadyEntry{ReadyCall::poll, 4, 1, 0, one});
    wire[7] = 27;
    wire.resize(8);
    expect_error(wire, "ready entry with invalid payload length 27");
    // More than kMaxReadyFds descriptors, from the header alone.
    std::vector<uint8_t> header = {9, 0, 0, 0, 0, 0x08, 0, 0x1c};  // 20 + 8 * 65537 = 0x8001c
    header[5] = 0x08; header[6] = 0x00; header[7] = 0x1c;
    expect_error(header, "ready entry with invalid payload length 524316");
    wire = encode(ReadyEntry{ReadyCall::select, 9, -1, 4, {}});
    wire[27] = 1; wire.insert(wire.end(), one.begin(), one.end()); wire[7] += 8;
    expect_error(wire, "ready entry returning -1 names 1 descriptors");

    wire = encode(SocketReadEntry{{5, uint16_t(SocketCall::read), 3, 0}});
    wire[13] = 6;
    expect_error(wire, "socket-read entry for unknown call 6");
    wire = encode(SocketWriteEntry{{5, uint16_t(SocketCall::write), -1, 32}});
    wire[23] = 0xfe;
    expect_error(wire, "socket-write entry with invalid result -2");
    wire = encode(SocketWriteEntry{{5, uint16_t(SocketCall::write), 3, 0}});
    wire[15] = 1;
    expect_error(wire, "socket-write entry with nonzero reserved bytes");

    wire = encode(SocketNameEntry{5, NameCall::getpeername, 0, 0, kAddress});
    wire[27] = 15;
    expect_error(wire, "socket-name entry of a 15-byte address carries 16 bytes");
    wire = encode(SocketNameEntry{5, NameCall::getpeername, 0, 0, kAddress});
    wire[19] = 1;
    expect_error(wire, "socket-name entry with invalid result 1");
    wire = encode(SocketNameEntry{5, NameCall::getpeername, 0, 0, kAddress});
    for (int i = 16; i < 20; ++i) wire[size_t(i)] = 0xff;
    expect_error(wire, "socket-name entry returning -1 carries an address");
    // An address longer than a sockaddr_storage, from the header alone.
    header = {12, 0, 0, 0, 0, 0, 0, 20 + 129};
    expect_error(header, "socket-name entry with invalid payload length 149");
}

TEST(AppLog, EncodesIntoAFixedBuffer) {
    uint8_t buffer[64];
    const AppLogEntry e = GetpidEntry{77};
    const size_t n = encode_app_log_entry(e, buffer);
    EXPECT_EQ(std::vector<uint8_t>(buffer, buffer + n), encode(e));
}

TEST(AppLog, DecodesAStreamByteByByte) {
    const std::vector<uint8_t> bytes = {1, 2, 3, 4, 5};
    std::vector<uint8_t> stream;
    const auto entries = sample_entries(bytes);
    for (const AppLogEntry& e : entries) encode_app_log_entry(e, stream);
    size_t pos = 0, count = 0;
    for (size_t end = 1; end <= stream.size(); ++end) {
        auto d = decode_app_log_entry(std::span(stream).subspan(pos, end - pos));
        ASSERT_TRUE(d.has_value()) << d.error().message;
        if (!d->has_value()) continue;
        EXPECT_EQ((*d)->entry, entries[count]);
        pos += (*d)->size;
        ++count;
    }
    EXPECT_EQ(pos, stream.size());
    EXPECT_EQ(count, entries.size());
}

TEST(AppLog, TruncatedEntryNeedsMoreBytes) {
    const std::vector<uint8_t> bytes = {9, 9, 9};
    for (const AppLogEntry& e : sample_entries(bytes)) {
        const auto wire = encode(e);
        for (size_t n = 0; n < wire.size(); ++n) {
            auto d = decode_app_log_entry(std::span(wire).first(n));
            ASSERT_TRUE(d.has_value()) << "prefix " << n << ": " << d.error().message;
            EXPECT_FALSE(d->has_value()) << "prefix " << n;
        }
    }
}

TEST(AppLog, RefusesCorruptEntriesWithOneLineErrors) {
    const auto pid = encode(GetpidEntry{1});
    auto bad = pid; bad[0] = 0;
    expect_error(bad, "entry of unknown kind 0");
    bad = pid; bad[0] = 13;
    expect_error(bad, "entry of unknown kind 13");
    bad = pid; bad[1] = 1;
    expect_error(bad, "getpid entry with nonzero flags or reserved bits");
    bad = pid; bad[3] = 0x80;
    expect_error(bad, "getpid entry with nonzero flags or reserved bits");
    bad = pid; bad[7] = 5; bad.push_back(0);
    expect_error(bad, "getpid entry with invalid payload length 5");
    // Refused from the header alone, before the bytes it announces arrive.
    bad = pid; bad[7] = 3; bad.resize(8);
    expect_error(bad, "getpid entry with invalid payload length 3");
    auto clock = encode(ClockGettimeEntry{});
    clock[7] = 27; clock.pop_back();
    expect_error(clock, "clock_gettime entry with invalid payload length 27");
    // A junk first byte is refused at once.
    expect_error({'G'}, "entry of unknown kind 71");
    expect_error({3, 0, 1}, "time entry with nonzero flags or reserved bits");
}

TEST(AppLog, RefusesLengthsAboveOneMebibyte) {
    std::vector<uint8_t> header = {4, 0, 0, 0, 0, 0x10, 0, 1};  // 1 MiB + 1
    expect_error(header, "getrandom entry with payload length 1048577 above 1048576");
    // Exactly 1 MiB is a valid announcement: more bytes needed.
    header[7] = 0;
    auto d = decode_app_log_entry(header);
    ASSERT_TRUE(d.has_value()) << d.error().message;
    EXPECT_FALSE(d->has_value());
}

TEST(AppLog, ByteCountsMustMatchTheBytesCarried) {
    const std::vector<uint8_t> three = {1, 2, 3};
    // ret 3 with 3 bytes is valid; ret 4 with 3 bytes, ret -1 or 0 with bytes, and
    // ret below -1 are not.
    auto wire = encode(GetrandomEntry{3, 0, three});
    wire[15] = 4;
    expect_error(wire, "getrandom entry returning 4 carries 3 bytes");
    wire = encode(DeviceReadEntry{3, 0, three});
    for (int i = 8; i < 16; ++i) wire[i] = 0xff;
    expect_error(wire, "device-read entry returning -1 carries 3 bytes");
    wire = encode(GetrandomEntry{3, 0, three});
    wire[15] = 0;
    expect_error(wire, "getrandom entry returning 0 carries 3 bytes");
    wire = encode(GetrandomEntry{-1, 0, {}});
    wire[15] = 0xfe;
    expect_error(wire, "getrandom entry with invalid result -2");
    wire = encode(DeviceReadEntry{0, 0, {}});
    wire[7] = 11; wire.pop_back();
    expect_error(wire, "device-read entry with invalid payload length 11");
}

// Fuzz: mutate valid entries at random and feed random bytes; the decoder must either
// need more, return an error, or return an entry that re-encodes to exactly the bytes
// it consumed. It must never crash (ASan builds catch out-of-bounds reads).
TEST(AppLog, SurvivesMutationFuzzing) {
    std::mt19937_64 rng(20261202);
    const std::vector<uint8_t> bytes = {9, 8, 7, 6, 5, 4, 3};
    const auto entries = sample_entries(bytes);
    size_t accepted = 0, refused = 0, need_more = 0;
    for (int iter = 0; iter < 200000; ++iter) {
        std::vector<uint8_t> wire = encode(entries[rng() % entries.size()]);
        const int mutations = 1 + int(rng() % 4);
        for (int m = 0; m < mutations; ++m) {
            switch (rng() % 4) {
                case 0: wire[rng() % wire.size()] ^= uint8_t(1u << (rng() % 8)); break;
                case 1: wire[rng() % wire.size()] = uint8_t(rng()); break;
                case 2: wire.resize(rng() % (wire.size() + 1)); if (wire.empty()) wire.push_back(0); break;
                case 3: wire.push_back(uint8_t(rng())); break;
            }
        }
        auto d = decode_app_log_entry(wire);
        if (!d) {
            ++refused;
            EXPECT_EQ(d.error().message.find('\n'), std::string::npos);
            continue;
        }
        if (!d->has_value()) { ++need_more; continue; }
        ++accepted;
        ASSERT_LE((*d)->size, wire.size());
        std::vector<uint8_t> again;
        encode_app_log_entry((*d)->entry, again);
        ASSERT_EQ(again, std::vector<uint8_t>(wire.begin(), wire.begin() + ptrdiff_t((*d)->size)));
    }
    // Without a checksum many payload mutations stay valid; all three outcomes occur.
    EXPECT_GT(accepted, 1000u);
    EXPECT_GT(refused, 1000u);
    EXPECT_GT(need_more, 1000u);
    for (int iter = 0; iter < 100000; ++iter) {
        std::vector<uint8_t> junk(rng() % 64);
        for (auto& b : junk) b = uint8_t(rng());
        auto d = decode_app_log_entry(junk);
        if (d && d->has_value()) {
            std::vector<uint8_t> again;
            encode_app_log_entry((*d)->entry, again);
            ASSERT_EQ(again, std::vector<uint8_t>(junk.begin(), junk.begin() + ptrdiff_t((*d)->size)));
        }
    }
}

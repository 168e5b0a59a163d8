#include "userd/transport/tcp_link.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {

// A TcpLink on one end of a stream socket pair; the test writes raw bytes into the
// other end, as a peer would, and sees what the link hands its owner.
struct LinkUnderTest {
    std::unique_ptr<EventLoop> loop;
    std::unique_ptr<TcpLink> link;
    UniqueFd peer;
    std::vector<DataRecord> data;     // copies: the bytes live only during the call
    std::vector<std::vector<uint8_t>> payloads;
    std::vector<StableRecord> stables;
    std::string closed_why;
    int closed_calls = 0;

    LinkUnderTest() {
        auto created = EventLoop::create();
        EXPECT_TRUE(created);
        loop = std::move(*created);
        int fds[2];
        EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
        peer = UniqueFd(fds[1]);
        Link::Callbacks cb;
        cb.on_record = [this](const Record& r) {
            if (const auto* d = std::get_if<DataRecord>(&r)) {
                payloads.emplace_back(d->bytes.begin(), d->bytes.end());
                data.push_back(*d);
            } else if (const auto* s = std::get_if<StableRecord>(&r)) {
                stables.push_back(*s);
            }
        };
        cb.on_closed = [this](const std::string& why) {
            closed_why = why;
            ++closed_calls;
        };
        auto opened = TcpLink::open(*loop, UniqueFd(fds[0]), "test-peer", std::move(cb));
        EXPECT_TRUE(opened);
        link = std::move(*opened);
    }
    // All of `bytes`, letting the link read whenever the socket is full.
    void peer_writes(std::span<const uint8_t> bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(peer.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0) {
                ASSERT_EQ(errno, EAGAIN);
                ASSERT_TRUE(loop->run_once(5));
                continue;
            }
            bytes = bytes.subspan(size_t(n));
        }
    }
    void run(int turns = 5) {
        for (int i = 0; i < turns; ++i) ASSERT_TRUE(loop->run_once(5));
    }
};

std::vector<uint8_t> encoded(const Record& r) {
    std::vector<uint8_t> out;
    encode_record(r, out);
    return out;
}

}  // namespace

TEST(TcpLink, DeliversARecordThatArrivesOneByteAtATimeOnceAndWhole) {
    LinkUnderTest t;
    const std::vector<uint8_t> payload{'h', 'e', 'l', 'l', 'o'};
    const auto bytes = encoded(DataRecord{7, 100, payload});
    for (size_t i = 0; i < bytes.size(); ++i) {
        t.peer_writes(std::span(bytes).subspan(i, 1));
        t.run(1);
        if (i + 1 < bytes.size()) ASSERT_TRUE(t.data.empty()) << "delivered before its last byte, at byte " << i;
    }
    ASSERT_EQ(t.data.size(), 1u);
    EXPECT_EQ(t.data[0].conn_id, 7u);
    EXPECT_EQ(t.data[0].offset, 100u);
    EXPECT_EQ(t.payloads[0], payload);
    EXPECT_EQ(t.closed_calls, 0);
}

TEST(TcpLink, DeliversEveryRecordOfOneReadInOrderAndKeepsThePartialTailForTheNext) {
    LinkUnderTest t;
    std::vector<uint8_t> stream;
    for (uint64_t i = 1; i <= 3; ++i) {
        const auto r = encoded(StableRecord{i, i * 10});
        stream.insert(stream.end(), r.begin(), r.end());
    }
    std::vector<uint8_t> big(120 * 1024);  // several reads' worth on a socket pair
    for (size_t i = 0; i < big.size(); ++i) big[i] = uint8_t(i * 7);
    const auto d = encoded(DataRecord{4, 0, big});
    stream.insert(stream.end(), d.begin(), d.end());
    const size_t cut = stream.size() - d.size() / 2;  // the data record split in two writes
    t.peer_writes(std::span(stream).first(cut));
    t.run();
    ASSERT_EQ(t.stables.size(), 3u);
    for (uint64_t i = 0; i < 3; ++i) EXPECT_EQ(t.stables[i], (StableRecord{i + 1, (i + 1) * 10}));
    EXPECT_TRUE(t.data.empty()) << "delivered half a record";
    t.peer_writes(std::span(stream).subspan(cut));
    t.run();
    ASSERT_EQ(t.data.size(), 1u);
    EXPECT_EQ(t.payloads[0], big);
    EXPECT_EQ(t.closed_calls, 0);
}

TEST(TcpLink, ACorruptRecordClosesTheLinkOnceAndNothingAfterItIsDelivered) {
    LinkUnderTest t;
    auto good = encoded(StableRecord{1, 1});
    auto bad = encoded(StableRecord{2, 2});
    bad.back() ^= 0xff;  // breaks its checksum or its contents
    auto after = encoded(StableRecord{3, 3});
    std::vector<uint8_t> stream = good;
    stream.insert(stream.end(), bad.begin(), bad.end());
    stream.insert(stream.end(), after.begin(), after.end());
    t.peer_writes(stream);
    t.run();
    ASSERT_EQ(t.stables.size(), 1u);
    EXPECT_EQ(t.stables[0], (StableRecord{1, 1}));
    EXPECT_EQ(t.closed_calls, 1);
    EXPECT_NE(t.closed_why.find("corrupt record"), std::string::npos) << t.closed_why;
    EXPECT_TRUE(t.link->closed());
}

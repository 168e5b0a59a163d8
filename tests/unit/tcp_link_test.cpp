#include "userd/transport/tcp_link.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>
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
        if (i + 1 < bytes.size()) {
            ASSERT_TRUE(t.data.empty()) << "delivered before its last byte, at byte " << i;
        }
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

// A TCP connection on loopback: `peer` connected, `ours` accepted (nonblocking).
static void loopback_tcp_pair(UniqueFd& peer, UniqueFd& ours) {
    UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(listener);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ASSERT_EQ(listen(listener.get(), 1), 0);
    peer = UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(connect(peer.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ours = UniqueFd(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    ASSERT_TRUE(ours);
}

TEST(TcpLink, DatesWhatItReadsByWhenTheKernelReceivedItNotByWhenItWasRead) {
    // A TCP pair on loopback: the receive timestamps are TCP's.
    UniqueFd peer, ours;
    ASSERT_NO_FATAL_FAILURE(loopback_tcp_pair(peer, ours));

    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    int records = 0;
    Link::Callbacks cb;
    cb.on_record = [&](const Record&) { ++records; };
    cb.on_closed = [](const std::string&) {};
    auto link = TcpLink::open(**created, std::move(ours), "tcp-peer", std::move(cb));
    ASSERT_TRUE(link);
    EXPECT_EQ((*link)->last_arrival_ms(), 0u);

    // The kernel turns receive timestamps on for the whole stack asynchronously (a
    // work item after the first SO_TIMESTAMPNS), so the first segments may come
    // unstamped and be dated by their reading, as without the option: a few tries.
    const auto bytes = encoded(StableRecord{1, 2});
    uint64_t sent_ms = 0, read_from_ms = 0, arrived = 0;
    for (int attempt = 0; attempt < 5; ++attempt) {
        const int before = records;
        sent_ms = monotonic_ms();
        ASSERT_EQ(::send(peer.get(), bytes.data(), bytes.size(), 0), ssize_t(bytes.size()));
        // The loop gets to it late, as a busy daemon does.
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        read_from_ms = monotonic_ms();
        for (int i = 0; i < 100 && records == before; ++i) ASSERT_TRUE((*created)->run_once(5));
        ASSERT_EQ(records, before + 1);
        arrived = (*link)->last_arrival_ms();
        if (arrived < read_from_ms - 200) break;
    }
    // Two clocks (the stamp is wall-clock time), each read in whole ms: a few ms slack.
    EXPECT_GE(arrived + 5, sent_ms);
    EXPECT_LT(arrived, read_from_ms - 200) << "dated by the reading, not by the arrival";
}

TEST(TcpLink, ALongBatchIsWrittenAsItGoesNotHeldUntilItsFlush) {
    LinkUnderTest t;  // `t.link` writes toward `t.peer`
    const size_t record_size = encoded(StableRecord{0, 0}).size();
    const size_t records = 10000, total = records * record_size;  // 320 KB, more than the socket holds
    for (uint64_t i = 0; i < records; ++i) t.link->send(StableRecord{i, i});  // and no flush()
    // What the socket took left already; only the rest waits in the queue.
    size_t left = 0;
    char buf[65536];
    for (ssize_t n; (n = ::recv(t.peer.get(), buf, sizeof buf, MSG_DONTWAIT)) > 0;) left += size_t(n);
    EXPECT_GT(left, 64u * 1024) << "the batch was held for its flush";
    EXPECT_EQ(left + t.link->queued_bytes(), total);
}

TEST(TcpLink, TurnsNagleOffOnAnAcceptedSocket) {
    // An accepted socket does not get TCP_NODELAY from connect_nonblocking: a backup's
    // STABLE records then waited for the primary's delayed ACK (40 ms each).
    UniqueFd peer, ours;
    ASSERT_NO_FATAL_FAILURE(loopback_tcp_pair(peer, ours));
    const int fd = ours.get();
    int nodelay = -1;
    socklen_t size = sizeof nodelay;
    ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &size), 0);
    ASSERT_EQ(nodelay, 0) << "the kernel's default changed: this test proves nothing";

    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    Link::Callbacks cb;
    cb.on_record = [](const Record&) {};
    cb.on_closed = [](const std::string&) {};
    auto link = TcpLink::open(**created, std::move(ours), "tcp-peer", std::move(cb));
    ASSERT_TRUE(link);
    ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &size), 0);
    EXPECT_NE(nodelay, 0);
}

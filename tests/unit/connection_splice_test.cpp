#include "replay/connection_splice.h"
#include "replay/output_digest.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "tests/unit/socket_pair.h"

using namespace tcpfo;
using tcpfo::test::Pair;
using tcpfo::test::read_all;
using tcpfo::test::stream_pair;

namespace {

ByteQueue queue_of(const std::string& s) {
    ByteQueue q;
    q.append(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
    return q;
}

void write_all(int fd, const std::string& s) {
    ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size()));
}

}  // namespace

TEST(ConnectionSplice, SendsTheHandedOverOutputThenTheReplicasAndCarriesBothFins) {
    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    EventLoop& loop = **created;
    Pair client = stream_pair(), replica = stream_pair();
    // The replica socket arrives watched, as ReplicaFeed::release_replica_socket leaves it.
    ASSERT_TRUE(loop.add(replica.ours.get(), EPOLLIN, [](uint32_t) {}));

    int first_output_calls = 0;
    bool done = false;
    ConnectionSplice::Start start;
    start.conn_id = 1;
    start.client = std::move(client.ours);
    start.replica = std::move(replica.ours);
    start.unacked = queue_of("kept-by-the-backup|");
    // The replica lags: its first 6 bytes are output the client already has.
    start.skip_replica_bytes = 6;
    start.on_first_output = [&] { ++first_output_calls; };
    auto splice = ConnectionSplice::open(loop, std::move(start), [&] { done = true; });
    ASSERT_TRUE(splice) << splice.error().message;

    write_all(replica.peer.get(), "OLDOLDfrom-the-replica");
    write_all(client.peer.get(), "from-the-client");
    std::string to_client, to_replica;
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(loop.run_once(10));
        to_client += read_all(client.peer.get());
        to_replica += read_all(replica.peer.get());
    }
    EXPECT_EQ(to_client, "kept-by-the-backup|from-the-replica");
    EXPECT_EQ(to_replica, "from-the-client");
    EXPECT_EQ(first_output_calls, 1);
    EXPECT_FALSE(done);

    // FIN both ways: each side's shutdown reaches the other, then the splice is done.
    ASSERT_EQ(::shutdown(replica.peer.get(), SHUT_WR), 0);
    ASSERT_EQ(::shutdown(client.peer.get(), SHUT_WR), 0);
    bool client_eof = false, replica_eof = false;
    for (int i = 0; i < 20 && !(client_eof && replica_eof && done); ++i) {
        ASSERT_TRUE(loop.run_once(10));
        read_all(client.peer.get(), &client_eof);
        read_all(replica.peer.get(), &replica_eof);
    }
    EXPECT_TRUE(client_eof);
    EXPECT_TRUE(replica_eof);
    EXPECT_TRUE(done);
    EXPECT_TRUE((*splice)->done());
}

TEST(ConnectionSplice, WritesABoundedAmountPerWakeUpSoEveryConnectionGetsItsTurn) {
    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    EventLoop& loop = **created;
    Pair client = stream_pair(), replica = stream_pair();
    // Room for the whole backlog in the socket: only the splice's own budget limits it.
    const int big = 4 << 20;
    setsockopt(client.ours.get(), SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(client.peer.get(), SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    ASSERT_TRUE(loop.add(replica.ours.get(), EPOLLIN, [](uint32_t) {}));

    std::string backlog(1 << 20, '\0');
    for (size_t i = 0; i < backlog.size(); ++i) backlog[i] = char('a' + i % 26);
    ConnectionSplice::Start start;
    start.conn_id = 2;
    start.client = std::move(client.ours);
    start.replica = std::move(replica.ours);
    start.unacked = queue_of(backlog);
    auto splice = ConnectionSplice::open(loop, std::move(start), [] {});
    ASSERT_TRUE(splice) << splice.error().message;

    // At takeover open() runs for every connection in one loop turn: it sends only a
    // first flight (4 KiB), the loop the rest, 64 KiB per wake-up (connection_splice.cpp).
    std::string got = read_all(client.peer.get());
    EXPECT_GT(got.size(), 0u);
    EXPECT_LE(got.size(), 4u * 1024);
    for (int i = 0; i < 200 && got.size() < backlog.size(); ++i) {
        ASSERT_TRUE(loop.run_once(10));
        const std::string more = read_all(client.peer.get());
        EXPECT_LE(more.size(), 64u * 1024) << "one wake-up wrote more than its budget";
        got += more;
    }
    EXPECT_TRUE(got == backlog) << "got " << got.size() << " of " << backlog.size() << " bytes, or out of order";
}

TEST(ConnectionSplice, SendsTheFinOnlyAfterTheLastByteOfAnOutputThatTakesSeveralWakeUps) {
    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    EventLoop& loop = **created;
    Pair client = stream_pair(), replica = stream_pair();
    ASSERT_TRUE(loop.add(replica.ours.get(), EPOLLIN, [](uint32_t) {}));

    // The replica has closed already, and its output left for the client is more than
    // one budget: the FIN must wait for the last byte (it once went out with the first).
    std::string backlog(300 * 1024, '\0');
    for (size_t i = 0; i < backlog.size(); ++i) backlog[i] = char('A' + i % 23);
    bool done = false;
    ConnectionSplice::Start start;
    start.conn_id = 3;
    start.client = std::move(client.ours);
    start.replica = std::move(replica.ours);
    start.unacked = queue_of(backlog);
    start.replica_output_ended = true;
    auto splice = ConnectionSplice::open(loop, std::move(start), [&] { done = true; });
    ASSERT_TRUE(splice) << splice.error().message;

    std::string got;
    bool eof = false;
    for (int i = 0; i < 500 && !eof; ++i) {
        got += read_all(client.peer.get(), &eof);
        if (!eof) {
            ASSERT_TRUE(loop.run_once(10));
        }
    }
    EXPECT_TRUE(eof);
    EXPECT_TRUE(got == backlog) << "got " << got.size() << " of " << backlog.size() << " bytes before the FIN";
    // The client's FIN ends the splice.
    ASSERT_EQ(::shutdown(client.peer.get(), SHUT_WR), 0);
    for (int i = 0; i < 20 && !done; ++i) ASSERT_TRUE(loop.run_once(10));
    EXPECT_TRUE(done);
}

namespace {
std::span<const uint8_t> as_bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
}  // namespace

// The dead primary sent "0123456789" at server offset 100; the client got "01234"
// (rcv_nxt 105). The replica lags: nothing written yet. The splice may send the
// replica's "56789" only once the replica's whole span matched the primary's digest.
TEST(ConnectionSplice, HoldsOutputAPendingDigestCoversUntilTheReplicaMatchedIt) {
    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    EventLoop& loop = **created;
    Pair client = stream_pair(), replica = stream_pair();
    ASSERT_TRUE(loop.add(replica.ours.get(), EPOLLIN, [](uint32_t) {}));

    const std::string primary_wrote = "0123456789";
    auto check = std::make_unique<OutputCheck>(100);
    check->expect({4, 100, uint32_t(primary_wrote.size()), digest_of(as_bytes(primary_wrote))}, {}, 100);
    bool diverged = false;
    ConnectionSplice::Start start;
    start.conn_id = 4;
    start.client = std::move(client.ours);
    start.replica = std::move(replica.ours);
    start.skip_replica_bytes = 5;
    start.unacked_offset = 100;
    start.replica_offset = 100;
    start.check = std::move(check);
    start.on_diverged = [&](uint64_t) { diverged = true; };
    auto splice = ConnectionSplice::open(loop, std::move(start), [] {});
    ASSERT_TRUE(splice) << splice.error().message;

    write_all(replica.peer.get(), "0123456");
    std::string got;
    for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(loop.run_once(5));
        got += read_all(client.peer.get());
    }
    EXPECT_EQ(got, "") << "bytes sent before the digest matched";
    write_all(replica.peer.get(), "789 and more");
    for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(loop.run_once(5));
        got += read_all(client.peer.get());
    }
    EXPECT_EQ(got, "56789 and more");
    EXPECT_FALSE(diverged);
}

// Same, but the replica wrote other bytes (another counter value): the client gets
// none of them, and the splice ends as a divergence at the span's offset.
TEST(ConnectionSplice, ResetsInsteadOfSendingAReplicasOutputThatDiffers) {
    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    EventLoop& loop = **created;
    Pair client = stream_pair(), replica = stream_pair();
    ASSERT_TRUE(loop.add(replica.ours.get(), EPOLLIN, [](uint32_t) {}));

    const std::string primary_wrote = "counter=41\n";
    auto check = std::make_unique<OutputCheck>(100);
    check->expect({5, 100, uint32_t(primary_wrote.size()), digest_of(as_bytes(primary_wrote))}, {}, 100);
    std::optional<uint64_t> diverged_at;
    bool done = false;
    ConnectionSplice::Start start;
    start.conn_id = 5;
    start.client = std::move(client.ours);
    start.replica = std::move(replica.ours);
    start.skip_replica_bytes = 8;  // the client got "counter="
    start.unacked_offset = 100;
    start.replica_offset = 100;
    start.check = std::move(check);
    start.on_diverged = [&](uint64_t at) { diverged_at = at; };
    auto splice = ConnectionSplice::open(loop, std::move(start), [&] { done = true; });
    ASSERT_TRUE(splice) << splice.error().message;

    write_all(replica.peer.get(), "counter=42\ncounter=43\n");
    std::string got;
    bool eof = false;
    for (int i = 0; i < 10 && !done; ++i) ASSERT_TRUE(loop.run_once(5));
    got += read_all(client.peer.get(), &eof);
    EXPECT_TRUE(done);
    ASSERT_TRUE(diverged_at);
    EXPECT_EQ(*diverged_at, 100u);
    EXPECT_EQ(got, "") << "a diverged replica's bytes reached the client";
    EXPECT_TRUE(eof) << "the client's connection was not closed";
}

// A takeover that rebuilt a connection before its replica had read the whole log: the
// rebuilt socket acknowledged those bytes, so the client never sends them again. The
// splice writes them to the replica first, then what the client sends next.
TEST(ConnectionSplice, WritesTheLogsUnfedBytesToTheReplicaBeforeTheClientsNewOnes) {
    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    EventLoop& loop = **created;
    Pair client = stream_pair(), replica = stream_pair();
    ASSERT_TRUE(loop.add(replica.ours.get(), EPOLLIN, [](uint32_t) {}));
    ConnectionSplice::Start start;
    start.conn_id = 2;
    start.client = std::move(client.ours);
    start.replica = std::move(replica.ours);
    start.unfed_input = queue_of("logged-but-unfed|");
    auto splice = ConnectionSplice::open(loop, std::move(start), [] {});
    ASSERT_TRUE(splice) << splice.error().message;
    write_all(client.peer.get(), "sent-after-the-takeover");
    std::string to_replica;
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(loop.run_once(10));
        to_replica += read_all(replica.peer.get());
    }
    EXPECT_EQ(to_replica, "logged-but-unfed|sent-after-the-takeover");
}

// The same with the client's FIN logged after those bytes: the replica gets them, then
// its end of input, and nothing from the client is read any more.
TEST(ConnectionSplice, PassesAnUnfedFinOnAfterTheUnfedBytes) {
    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    EventLoop& loop = **created;
    Pair client = stream_pair(), replica = stream_pair();
    ASSERT_TRUE(loop.add(replica.ours.get(), EPOLLIN, [](uint32_t) {}));
    ConnectionSplice::Start start;
    start.conn_id = 3;
    start.client = std::move(client.ours);
    start.replica = std::move(replica.ours);
    start.unfed_input = queue_of("last-request");
    start.client_fin_unfed = true;
    auto splice = ConnectionSplice::open(loop, std::move(start), [] {});
    ASSERT_TRUE(splice) << splice.error().message;
    std::string to_replica;
    bool replica_eof = false;
    for (int i = 0; i < 20 && !replica_eof; ++i) {
        ASSERT_TRUE(loop.run_once(10));
        to_replica += read_all(replica.peer.get(), &replica_eof);
    }
    EXPECT_EQ(to_replica, "last-request");
    EXPECT_TRUE(replica_eof);
}

// ReplicaFeed's connect to the replica: a replica that is not listening yet (still
// replaying its service's start-up) refuses the backup's connection; the feed tries
// again from the same local port, the one the replica's log names it by.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "replay/replica_feed.h"
#include "userd/base/event_loop.h"

using namespace tcpfo;

namespace {

sockaddr_in loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
}

// A loopback port nobody listens on (bound, then released).
uint16_t free_port() {
    UniqueFd probe(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a = loopback(0);
    EXPECT_EQ(bind(probe.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    EXPECT_EQ(getsockname(probe.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
    return ntohs(a.sin_port);
}

}  // namespace

TEST(ReplicaFeed, ARefusedConnectIsTriedAgainFromTheSamePortUntilTheReplicaListens) {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    const uint16_t port = free_port();
    ConnOpenRecord conn{};
    conn.conn_id = 7;
    auto feed = ReplicaFeed::open(**loop, loopback(port), conn, FeedLimits{});
    ASSERT_TRUE(feed) << feed.error().message;
    const uint16_t named = (*feed)->local_port();
    ASSERT_NE(named, 0);
    // Refused at least once: nobody listens yet.
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*loop)->run_once(5));
    EXPECT_FALSE((*feed)->connected());
    EXPECT_FALSE((*feed)->broken());

    UniqueFd replica(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    setsockopt(replica.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in at = loopback(port);
    ASSERT_EQ(bind(replica.get(), reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
    ASSERT_EQ(listen(replica.get(), 4), 0);
    for (int i = 0; i < 200 && !(*feed)->connected(); ++i) ASSERT_TRUE((*loop)->run_once(5));
    ASSERT_TRUE((*feed)->connected());
    EXPECT_FALSE((*feed)->broken());

    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    UniqueFd accepted(accept4(replica.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
    ASSERT_TRUE(accepted);
    EXPECT_EQ(ntohs(peer.sin_port), named) << "the feeder came from another port than its name says";
    EXPECT_EQ((*feed)->local_port(), named);
}

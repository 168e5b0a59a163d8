// close_sockets_of on real loopback sockets: the accepted ends of the service port are
// closed (the service sees ECONNABORTED), the listener and other ports are not.
#include "userd/node/silent_close.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "userd/base/unique_fd.h"

namespace tcpfo {
namespace {

struct Listener {
    UniqueFd fd;
    uint16_t port = 0;
};

Listener listen_loopback() {
    Listener l{UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)), 0};
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(l.fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(l.fd.get(), 8), 0);
    socklen_t len = sizeof a;
    getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
    l.port = ntohs(a.sin_port);
    return l;
}

UniqueFd connect_to(uint16_t port) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return fd;
}

TEST(SilentClose, ClosesTheAcceptedSocketsOfThePortOnly) {
    if (geteuid() != 0) GTEST_SKIP() << "SOCK_DESTROY needs CAP_NET_ADMIN";
    Listener service = listen_loopback();
    Listener other = listen_loopback();
    UniqueFd c1 = connect_to(service.port), c2 = connect_to(service.port), c3 = connect_to(other.port);
    UniqueFd s1(accept4(service.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    UniqueFd s2(accept4(service.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    UniqueFd s3(accept4(other.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));

    auto closed = close_sockets_of(htonl(INADDR_LOOPBACK), service.port);
    ASSERT_TRUE(closed) << closed.error().message;
    EXPECT_EQ(closed->closed.size(), 2u);
    EXPECT_EQ(closed->failed, 0u);
    for (const ConnKey& k : closed->closed) EXPECT_EQ(ntohs(k.vip_port), service.port);

    char b;
    errno = 0;
    EXPECT_EQ(recv(s1.get(), &b, 1, MSG_DONTWAIT), -1);
    EXPECT_EQ(errno, ECONNABORTED);
    // The other port's connection and the listener are untouched.
    EXPECT_EQ(send(s3.get(), "x", 1, 0), 1);
    EXPECT_EQ(recv(c3.get(), &b, 1, 0), 1);
    UniqueFd c4 = connect_to(service.port);
    UniqueFd s4(accept4(service.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    EXPECT_TRUE(s4);
}

}  // namespace
}  // namespace tcpfo

// The metrics endpoint end to end, without root: a MetricsServer in an event loop on
// this thread (as in failoverd: MHD runs only from the loop), HTTP clients on another.
#include "userd/status/metrics_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <future>

#include <gtest/gtest.h>

#include "userd/base/inet_address.h"
#include "userd/status/metrics_text.h"

using namespace tcpfo;
using namespace std::chrono_literals;

namespace {

// Connects to "ADDR:PORT" (blocking, 5 s timeouts).
UniqueFd connect_to(const std::string& address) {
    auto endpoint = parse_endpoint(address, 0);
    EXPECT_TRUE(endpoint) << address;
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval five{5, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*endpoint), sizeof *endpoint), 0)
        << std::strerror(errno);
    return fd;
}

// Sends `request` and reads until the server closes (HTTP/1.0).
std::string http_exchange(const std::string& address, const std::string& request) {
    UniqueFd fd = connect_to(address);
    EXPECT_EQ(::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL), ssize_t(request.size()));
    std::string reply;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n <= 0) break;
        reply.append(buf, size_t(n));
    }
    return reply;
}

// The status code of an HTTP reply ("HTTP/1.1 200 OK" -> 200; MHD answers 1.0
// requests as 1.1), 0 for no reply.
int code(const std::string& reply) {
    if (!reply.starts_with("HTTP/1.") || reply.size() < 12) return 0;
    return std::stoi(reply.substr(9, 3));
}

class MetricsServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto loop = EventLoop::create();
        ASSERT_TRUE(loop);
        loop_ = std::move(*loop);
    }
    void open_server(MetricsServer::Limits limits = {}) {
        auto s = MetricsServer::open(*loop_, make_endpoint(htonl(INADDR_LOOPBACK), 0), limits);
        ASSERT_TRUE(s) << s.error().message;
        server_ = std::move(*s);
    }
    // One HTTP exchange from another thread; this thread runs the loop meanwhile.
    std::string ask(const std::string& request) {
        auto reply = std::async(std::launch::async, [this, request] { return http_exchange(server_->address(), request); });
        while (reply.wait_for(0ms) != std::future_status::ready) (void)loop_->run_once(10);
        return reply.get();
    }
    std::unique_ptr<EventLoop> loop_;
    std::unique_ptr<MetricsServer> server_;
};

}  // namespace

TEST_F(MetricsServerTest, ServesTheMetricsOfItsSource) {
    open_server();
    EXPECT_TRUE(server_->address().starts_with("127.0.0.1:")) << server_->address();
    EXPECT_NE(server_->address(), "127.0.0.1:0");
    // No source yet: the node is still starting.
    EXPECT_EQ(code(ask("GET /metrics HTTP/1.0\r\n\r\n")), 503) << "before the source";

    int scrapes = 0;
    server_->set_source([&scrapes] {
        ++scrapes;
        NodeStatus s;
        s.role = "backup";
        s.epoch = 3;
        return s;
    });
    const std::string reply = ask("GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
    EXPECT_EQ(code(reply), 200) << reply;
    EXPECT_NE(reply.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos) << reply;
    const std::string body = reply.substr(reply.find("\r\n\r\n") + 4);
    NodeStatus expected;
    expected.role = "backup";
    expected.epoch = 3;
    EXPECT_EQ(body, render_metrics(expected));
    EXPECT_EQ(scrapes, 1);

    // HTTP/1.1 with keep-alive: two scrapes on one connection, each built afresh.
    const std::string two = ask("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    size_t answers = 0;
    for (size_t at = two.find("HTTP/1.1 200 OK"); at != std::string::npos; at = two.find("HTTP/1.1 200 OK", at + 1)) ++answers;
    EXPECT_EQ(answers, 2u) << two;
    EXPECT_EQ(scrapes, 3);

    server_->set_source({});
    EXPECT_EQ(code(ask("GET /metrics HTTP/1.0\r\n\r\n")), 503) << "after the source went";
}

TEST_F(MetricsServerTest, OtherPathsAndMethodsAreRefused) {
    open_server();
    server_->set_source([] { return NodeStatus{}; });
    EXPECT_EQ(code(ask("GET / HTTP/1.0\r\n\r\n")), 404);
    EXPECT_EQ(code(ask("GET /metrics/x HTTP/1.0\r\n\r\n")), 404);
    const std::string post = ask("POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc");
    EXPECT_EQ(code(post), 405) << post;
    EXPECT_NE(post.find("Allow: GET, HEAD"), std::string::npos) << post;
    const std::string head = ask("HEAD /metrics HTTP/1.0\r\n\r\n");
    EXPECT_EQ(code(head), 200) << head;
    EXPECT_EQ(head.find("tcpfo_epoch"), std::string::npos) << "HEAD answers without a body";
}

TEST_F(MetricsServerTest, APortInUseIsOneLine) {
    open_server();
    auto taken = parse_endpoint(server_->address(), 0);
    ASSERT_TRUE(taken);
    auto second = MetricsServer::open(*loop_, *taken);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().message, "metrics " + server_->address() + ": can't bind: Address already in use");
}

TEST_F(MetricsServerTest, AClientBeyondTheBoundWaitsForAPlace) {
    open_server(MetricsServer::Limits{.max_clients = 1, .client_timeout_s = 10});
    server_->set_source([] { return NodeStatus{}; });
    // One client holds the only place, saying nothing.
    UniqueFd idle = connect_to(server_->address());
    for (int i = 0; i < 10; ++i) (void)loop_->run_once(5);
    // The next waits in the listen backlog, unanswered, while the place is held...
    auto waiting = std::async(std::launch::async, [this] { return http_exchange(server_->address(), "GET /metrics HTTP/1.0\r\n\r\n"); });
    for (int i = 0; i < 20; ++i) (void)loop_->run_once(10);
    EXPECT_NE(waiting.wait_for(0ms), std::future_status::ready);
    // ... and is served as soon as the place is free (not at some later event).
    idle.reset();
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (waiting.wait_for(0ms) != std::future_status::ready && std::chrono::steady_clock::now() < deadline)
        (void)loop_->run_once(10);
    ASSERT_EQ(waiting.wait_for(0ms), std::future_status::ready) << "still waiting 2 s after the place was freed";
    EXPECT_EQ(code(waiting.get()), 200);
}

// The control socket end to end, without root: a ControlServer in an event loop on
// this thread, clients on another thread (control_request) or raw sockets here.
#include "userd/status/control_server.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <chrono>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "userd/status/control_client.h"

using namespace tcpfo;
using namespace std::chrono_literals;
using Json = nlohmann::json;

namespace {

NodeStatus fake_status(size_t conns) {
    NodeStatus s;
    s.role = "backup";
    s.epoch = 3;
    PeerStatus p;
    p.address = "192.0.2.10:7100";
    p.state = "live";
    s.peers.push_back(p);
    for (size_t i = 1; i <= conns; ++i) {
        ConnStatus c;
        c.id = i;
        c.client_addr = inet_addr("192.0.2.1");
        c.client_port = uint16_t(i);
        c.phase = "replicating";
        c.client_logged = i;
        s.conns.push_back(c);
    }
    return s;
}

UniqueFd raw_connect(const std::string& path) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, path.size());
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
    return fd;
}

class ControlServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/tcpfo-control-test.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/failoverd.sock";
        auto loop = EventLoop::create();
        ASSERT_TRUE(loop);
        loop_ = std::move(*loop);
    }
    void TearDown() override {
        server_.reset();
        std::filesystem::remove_all(dir_);
    }
    void open_server(ControlServer::Limits limits = {}) {
        auto s = ControlServer::open(*loop_, path_, limits);
        ASSERT_TRUE(s) << s.error().message;
        server_ = std::move(*s);
    }
    // One request from another thread; this thread runs the loop meanwhile.
    Result<std::string> ask(const std::string& request, ControlClientLimits limits = {}) {
        auto answer = std::async(std::launch::async, [this, request, limits] { return control_request(path_, request, limits); });
        while (answer.wait_for(0s) != std::future_status::ready) {
            (void)loop_->run_once(5);
            ++wakeups_;
        }
        return answer.get();
    }
    void spin(std::chrono::milliseconds how_long) {
        const auto end = std::chrono::steady_clock::now() + how_long;
        while (std::chrono::steady_clock::now() < end) (void)loop_->run_once(2);
    }
    // Runs the loop until the server has `n` clients (a loaded machine is slow).
    bool spin_until_clients(size_t n) {
        const auto end = std::chrono::steady_clock::now() + 5s;
        while (server_->client_count() != n) {
            if (std::chrono::steady_clock::now() > end) return false;
            (void)loop_->run_once(2);
        }
        return true;
    }
    Json ask_json(const std::string& request) {
        auto r = ask(request);
        EXPECT_TRUE(r) << r.error().message;
        if (!r) return Json();
        EXPECT_EQ(r->back(), '\n');
        return Json::parse(*r, nullptr, false);
    }

    std::string dir_, path_;
    std::unique_ptr<EventLoop> loop_;
    std::unique_ptr<ControlServer> server_;
    size_t wakeups_ = 0;
};

}  // namespace

TEST_F(ControlServerTest, AnswersStatus) {
    open_server();
    server_->set_status_source([] { return fake_status(3); });
    const Json j = ask_json(make_status_request());
    EXPECT_EQ(j["role"], "backup");
    EXPECT_EQ(j["epoch"], 3);
    EXPECT_EQ(j["connections"].size(), 3u);
    const Json one = ask_json(make_status_request(2));
    EXPECT_EQ(one["connection"]["id"], 2);
    EXPECT_EQ(ask_json(make_status_request(9))["error"], "no connection 9");
    EXPECT_EQ(server_->client_count(), 0u) << "each client is closed after its answer";
}

TEST_F(ControlServerTest, ErrorsAreDocumentsToo) {
    open_server();
    EXPECT_EQ(ask_json(make_status_request())["error"], "failoverd is still starting");
    server_->set_status_source([] { return fake_status(1); });
    EXPECT_EQ(ask_json("{\"command\":\"reboot\"}\n")["error"], "unknown command \"reboot\"");
    EXPECT_EQ(ask_json("hello\n")["error"], "request is not JSON");
    const Json too_long = ask_json(std::string(3 * kMaxControlRequest, 'x'));
    EXPECT_NE(too_long["error"].get<std::string>().find("longer than 4096 bytes"), std::string::npos);
}

TEST_F(ControlServerTest, RequestWithoutNewlineEndsAtEof) {
    open_server();
    server_->set_status_source([] { return fake_status(1); });
    UniqueFd fd = raw_connect(path_);
    const std::string req = "{\"command\":\"status\"}";
    ASSERT_EQ(::send(fd.get(), req.data(), req.size(), 0), ssize_t(req.size()));
    ::shutdown(fd.get(), SHUT_WR);
    std::string got;
    const auto end = std::chrono::steady_clock::now() + 5s;
    for (;;) {
        ASSERT_LT(std::chrono::steady_clock::now(), end);
        (void)loop_->run_once(2);
        char buf[4096];
        const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n == 0) break;
        if (n > 0) got.append(buf, size_t(n));
    }
    EXPECT_EQ(Json::parse(got)["connection_count"], 1);
}

TEST_F(ControlServerTest, TenThousandConnectionsInPiecesThroughTheLoop) {
    open_server();
    size_t completed = 0;
    server_->set_status_source([&completed] {
        NodeStatus s = fake_status(10000);
        s.complete = [&completed](ConnStatus& c) {
            ++completed;
            c.server_sent = c.id * 2;
        };
        return s;
    });
    const auto start = std::chrono::steady_clock::now();
    const Json j = ask_json(make_status_request());
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ASSERT_EQ(j["connections"].size(), 10000u);
    EXPECT_EQ(j["connections"][9999]["server_bytes"]["sent"], 20000);
    EXPECT_EQ(completed, 10000u);
    // 64 connections a piece, a piece a wake-up: the answer took many trips through
    // the loop, never one long handler.
    EXPECT_GE(wakeups_, 10000u / 64);
    std::printf("status of 10,000 connections: %.1f ms, %zu loop wake-ups\n", ms, wakeups_);
}

TEST_F(ControlServerTest, ServesAFewClientsAtOnceAndTellsTheRestItIsBusy) {
    open_server();
    server_->set_status_source([] { return fake_status(1); });
    std::vector<UniqueFd> idle;
    for (int i = 0; i < 4; ++i) idle.push_back(raw_connect(path_));
    ASSERT_TRUE(spin_until_clients(4));
    const Json busy = ask_json(make_status_request());
    EXPECT_EQ(busy["error"], "busy: 4 clients already");
    idle.clear();
    EXPECT_TRUE(spin_until_clients(0));
    EXPECT_EQ(ask_json(make_status_request())["connection_count"], 1);
}

TEST_F(ControlServerTest, ClosesAClientThatTakesTooLong) {
    ControlServer::Limits limits;
    limits.client_timeout_ms = 50;
    open_server(limits);
    server_->set_status_source([] { return fake_status(1); });
    UniqueFd silent = raw_connect(path_);
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        ASSERT_LT(std::chrono::steady_clock::now() - start, 5s);
        (void)loop_->run_once(5);
        char c;
        if (::recv(silent.get(), &c, 1, 0) == 0) break;  // closed by the server
    }
    EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
    EXPECT_EQ(server_->client_count(), 0u);
}

TEST_F(ControlServerTest, ResettingTheSourceDropsClientsBeingAnswered) {
    open_server();
    server_->set_status_source([] { return fake_status(50000); });
    UniqueFd reader = raw_connect(path_);  // asks, then never reads
    const std::string req = make_status_request();
    ASSERT_EQ(::send(reader.get(), req.data(), req.size(), 0), ssize_t(req.size()));
    ASSERT_TRUE(spin_until_clients(1));
    spin(50ms);
    EXPECT_EQ(server_->client_count(), 1u) << "still answering: the reader does not read";
    server_->set_status_source({});
    EXPECT_EQ(server_->client_count(), 0u);
}

TEST_F(ControlServerTest, ReplacesAStaleSocket) {
    {
        UniqueFd old(::socket(AF_UNIX, SOCK_STREAM, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        path_.copy(addr.sun_path, path_.size());
        ASSERT_EQ(::bind(old.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    }  // closed: the file stays, nobody listens (a failoverd killed with -9)
    ASSERT_TRUE(std::filesystem::is_socket(path_));
    open_server();
    server_->set_status_source([] { return fake_status(0); });
    EXPECT_EQ(ask_json(make_status_request())["role"], "backup");
}

TEST_F(ControlServerTest, RefusesWhileAnotherServerIsLive) {
    open_server();
    server_->set_status_source([] { return fake_status(0); });
    auto second = ControlServer::open(*loop_, path_);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().message, "another failoverd is running on control socket " + path_);
    EXPECT_EQ(ask_json(make_status_request())["role"], "backup") << "the first one is untouched";
}

TEST_F(ControlServerTest, RefusesAPathThatIsNotASocket) {
    std::ofstream(path_) << "precious\n";
    auto s = ControlServer::open(*loop_, path_);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("not a socket"), std::string::npos) << s.error().message;
    std::ifstream in(path_);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "precious");
}

TEST_F(ControlServerTest, CreatesItsDirectoryPrivateAndRemovesItsSocket) {
    path_ = dir_ + "/run/failoverd.sock";
    open_server();
    struct stat st {};
    ASSERT_EQ(::stat((dir_ + "/run").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    server_.reset();
    EXPECT_FALSE(std::filesystem::exists(path_));
    EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/run"));

    auto deep = ControlServer::open(*loop_, dir_ + "/a/b/c.sock");
    ASSERT_FALSE(deep);
    EXPECT_NE(deep.error().message.find("can't create directory " + dir_ + "/a/b"), std::string::npos)
        << deep.error().message;
    auto too_long = ControlServer::open(*loop_, dir_ + "/" + std::string(120, 'x'));
    ASSERT_FALSE(too_long);
    EXPECT_NE(too_long.error().message.find("1 to 107 bytes"), std::string::npos);
}

TEST_F(ControlServerTest, LeavesAReplacedSocketAlone) {
    open_server();
    ASSERT_EQ(::unlink(path_.c_str()), 0);
    UniqueFd other(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, path_.size());
    ASSERT_EQ(::bind(other.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    server_.reset();
    EXPECT_TRUE(std::filesystem::is_socket(path_)) << "not ours any more: not removed";
}

TEST(ControlClient, OneLineWhenNobodyListens) {
    auto r = control_request("/nonexistent/failoverd.sock", make_status_request());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "no failoverd on /nonexistent/failoverd.sock: No such file or directory");
}

TEST_F(ControlServerTest, ClientBoundsTheAnswer) {
    open_server();
    server_->set_status_source([] { return fake_status(1000); });
    ControlClientLimits limits;
    limits.max_response = 1000;
    auto r = ask(make_status_request(), limits);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("more than 1000 bytes"), std::string::npos) << r.error().message;
    EXPECT_TRUE(spin_until_clients(0)) << "the server saw the client go";
}

// tcpfo-run's handshake: the answer line, then the connection is the node's.
TEST_F(ControlServerTest, HandsAServiceConnectionOverAfterItsModeLine) {
    open_server();
    server_->set_status_source([] { return fake_status(1); });
    EXPECT_NE(ask_json("{\"command\":\"service\",\"pid\":5}\n")["error"].get<std::string>().find("does not run services"),
              std::string::npos);
    UniqueFd taken;
    std::string leftover;
    int asked_pid = 0;
    server_->set_service_handler([&](int pid) -> Result<ControlServer::ServiceOffer> {
        asked_pid = pid;
        if (pid == 6) return fail("no, not pid 6");
        return ControlServer::ServiceOffer{"record", [&](UniqueFd fd, std::string rest) {
                                               taken = std::move(fd);
                                               leftover = std::move(rest);
                                           }};
    });
    EXPECT_EQ(ask_json("{\"command\":\"service\",\"pid\":6}\n")["error"], "no, not pid 6");

    const int c = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(c, 0);
    UniqueFd client(c);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    ASSERT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string request = "{\"command\":\"service\",\"pid\":7}\nLOG";
    ASSERT_EQ(::send(c, request.data(), request.size(), 0), ssize_t(request.size()));
    for (int i = 0; i < 200 && !taken; ++i) (void)loop_->run_once(5);
    ASSERT_TRUE(taken) << "the connection was not handed over";
    EXPECT_EQ(asked_pid, 7);
    EXPECT_EQ(leftover, "LOG");
    EXPECT_EQ(server_->client_count(), 0u);
    char reply[64] = {};
    ASSERT_EQ(::recv(c, reply, sizeof reply, 0), ssize_t(strlen("{\"mode\":\"record\"}\n")));
    EXPECT_STREQ(reply, "{\"mode\":\"record\"}\n");
    // Still open both ways: the channel.
    ASSERT_EQ(::send(taken.get(), "held", 4, 0), 4);
    ASSERT_EQ(::recv(c, reply, 4, 0), 4);
}

TEST_F(ControlServerTest, HandoverAnswersOneLineEitherWay) {
    open_server();
    EXPECT_EQ(ask_json(make_handover_request())["error"], "failoverd is still starting");
    std::vector<std::optional<std::string>> asked;
    server_->set_handover_handler([&](const std::optional<std::string>& node) -> Result<std::string> {
        asked.push_back(node);
        if (!node) return std::string("192.0.2.11:7100");
        return fail("no ready backup: '{}' is not a backup of this node", *node);
    });
    auto sent = ask(make_handover_request());
    ASSERT_TRUE(sent) << sent.error().message;
    EXPECT_EQ(*sent, "{\"handover\":\"sent\",\"to\":\"192.0.2.11:7100\"}\n");
    auto refused = ask(make_handover_request("9"));
    ASSERT_TRUE(refused) << refused.error().message;
    EXPECT_EQ(*refused, "{\"error\":\"no ready backup: '9' is not a backup of this node\"}\n");
    ASSERT_EQ(asked.size(), 2u);
    EXPECT_EQ(asked[1], "9");
    // A bad request never reaches the node.
    EXPECT_EQ(ask_json("{\"command\":\"handover\",\"node\":1}\n")["error"],
              "\"node\" must be a backup's address or node id (64 characters at most)");
    EXPECT_EQ(asked.size(), 2u);
}

// The health checkers against local sockets and programs, on a real event loop: a
// refused port, a silent server (the timeouts), an HTTP server that answers 200 then
// 503, a banner server, scripts exiting 0 and 1; and the fall/rise counting, result
// by result.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "userd/health/banner_check.h"
#include "userd/health/check_state.h"
#include "userd/health/health_monitor.h"
#include "userd/health/http_check.h"
#include "userd/health/probe.h"
#include "userd/health/script_check.h"

using namespace tcpfo;

namespace {

// A loopback listener on an ephemeral port, served by a thread: each connection gets
// `answer(request)` (after reading the request if `read_request`) and is closed; an
// empty answer with `silent` keeps it open, saying nothing, until the test ends.
class LocalServer {
public:
    explicit LocalServer(std::function<std::string()> answer, bool read_request, bool silent = false)
        : answer_(std::move(answer)), read_request_(read_request), silent_(silent) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in at{};
        at.sin_family = AF_INET;
        at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
        EXPECT_EQ(::listen(fd_, 16), 0);
        socklen_t len = sizeof at;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&at), &len);
        address_ = at;
        thread_ = std::thread([this] { serve(); });
    }
    ~LocalServer() {
        stopping_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        thread_.join();
        ::close(fd_);
        for (int c : held_) ::close(c);
    }
    sockaddr_in address() const { return address_; }

private:
    void serve() {
        while (!stopping_) {
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) return;
            if (silent_) {
                held_.push_back(c);
                continue;
            }
            if (read_request_) {
                std::string request;
                char buf[1024];
                while (request.find("\r\n\r\n") == std::string::npos) {
                    const ssize_t n = ::recv(c, buf, sizeof buf, 0);
                    if (n <= 0) break;
                    request.append(buf, size_t(n));
                }
            }
            const std::string answer = answer_();
            [[maybe_unused]] ssize_t n = ::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
            ::close(c);
        }
    }
    std::function<std::string()> answer_;
    bool read_request_, silent_;
    int fd_ = -1;
    sockaddr_in address_{};
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::vector<int> held_;
};

// A loopback port nothing listens on: bound, then closed.
sockaddr_in refused_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at);
    socklen_t len = sizeof at;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&at), &len);
    ::close(fd);
    return at;
}

// Runs one probe of `spec` to its verdict (at most 5 s of loop turns).
ProbeOutcome probe_once(const CheckSpec& spec) {
    auto loop = EventLoop::create();
    EXPECT_TRUE(loop);
    std::optional<ProbeOutcome> outcome;
    auto probe = start_probe(**loop, spec, [&](ProbeOutcome o) { outcome = std::move(o); });
    EXPECT_TRUE(probe) << probe.error().message;
    const uint64_t deadline = monotonic_ms() + 5000;
    while (!outcome && monotonic_ms() < deadline) (void)(*loop)->run_once(50);
    EXPECT_TRUE(outcome) << "no verdict in 5 s";
    return outcome.value_or(ProbeOutcome{false, "no verdict"});
}

CheckSpec spec_for(CheckKind kind, sockaddr_in target) {
    CheckSpec s;
    s.name = "svc";
    s.kind = kind;
    s.target = target;
    s.connect_timeout_ms = 200;
    s.receive_timeout_ms = 200;
    return s;
}

std::string http_answer(int status, std::string_view body) {
    return fmt::format("HTTP/1.0 {} X\r\nContent-Type: text/plain\r\n\r\n{}", status, body);
}

}  // namespace

TEST(TcpCheck, UpWhenTheServiceAcceptsAndConnectionRefusedWhenNothingListens) {
    LocalServer server([] { return std::string(); }, false);
    EXPECT_TRUE(probe_once(spec_for(CheckKind::tcp, server.address())).ok);
    const ProbeOutcome refused = probe_once(spec_for(CheckKind::tcp, refused_port()));
    EXPECT_FALSE(refused.ok);
    EXPECT_EQ(refused.reason, "connection refused");
}

TEST(TcpCheck, ConnectTimeoutNamesItsMilliseconds) {
    // A listener that never accepts, its accept queue filled: Linux drops further SYNs,
    // so the probe's connect neither completes nor fails within its timeout.
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
    ASSERT_EQ(::listen(listener, 0), 0);
    socklen_t len = sizeof at;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&at), &len);
    std::vector<int> fillers;
    for (int i = 0; i < 4; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        (void)::connect(fd, reinterpret_cast<sockaddr*>(&at), sizeof at);
        fillers.push_back(fd);
    }
    ::usleep(50000);  // the fillers' handshakes complete and fill the queue
    const ProbeOutcome outcome = probe_once(spec_for(CheckKind::tcp, at));
    EXPECT_FALSE(outcome.ok);
    EXPECT_EQ(outcome.reason, "timeout after 200 ms");
    for (int fd : fillers) ::close(fd);
    ::close(listener);
}

TEST(HttpCheck, AnswersTwoHundredThenFiveOhThree) {
    std::atomic<int> status{200};
    LocalServer server([&] { return http_answer(status, "all good\n"); }, true);
    CheckSpec spec = spec_for(CheckKind::http, server.address());
    spec.path = "/health";
    EXPECT_TRUE(probe_once(spec).ok);
    status = 503;
    const ProbeOutcome down = probe_once(spec);
    EXPECT_FALSE(down.ok);
    EXPECT_EQ(down.reason, "HTTP 503");
}

TEST(HttpCheck, BodySubstringAndDigest) {
    LocalServer server([] { return http_answer(200, "status: ok\n"); }, true);
    CheckSpec spec = spec_for(CheckKind::http, server.address());
    spec.body_contains = "ok";
    spec.body_sha256 = sha256_hex("status: ok\n");
    EXPECT_TRUE(probe_once(spec).ok);
    spec.body_contains = "ready";
    EXPECT_EQ(probe_once(spec).reason, "body lacks 'ready'");
    spec.body_contains.clear();
    spec.body_sha256 = sha256_hex("something else");
    EXPECT_EQ(probe_once(spec).reason, "body digest mismatch");
}

TEST(HttpCheck, SilentServerTimesOutAfterTheReceiveTimeout) {
    LocalServer server([] { return std::string(); }, false, /*silent=*/true);
    const ProbeOutcome outcome = probe_once(spec_for(CheckKind::http, server.address()));
    EXPECT_FALSE(outcome.ok);
    EXPECT_EQ(outcome.reason, "timeout after 200 ms");
}

TEST(HttpCheck, JudgesPartialAnswers) {
    CheckSpec spec;
    spec.expect_status = 200;
    EXPECT_FALSE(judge_http_response(spec, "HTTP/1.1 20", false));
    EXPECT_EQ(judge_http_response(spec, "HTTP/1.1 500 Oops\r\n", false)->reason, "HTTP 500");
    EXPECT_TRUE(judge_http_response(spec, "HTTP/1.1 200 OK\r\n", false)->ok);
    EXPECT_EQ(judge_http_response(spec, "SSH-2.0-x\r\n", false)->reason, "not an HTTP response");
    EXPECT_EQ(judge_http_response(spec, "", true)->reason, "connection closed without a response");
}

TEST(BannerCheck, MatchesAGreetingAndNamesAMismatch) {
    LocalServer ssh([] { return std::string("SSH-2.0-OpenSSH_9.2\r\n"); }, false);
    CheckSpec spec = spec_for(CheckKind::banner, ssh.address());
    spec.banner = "^SSH-2\\.0-";
    EXPECT_TRUE(probe_once(spec).ok);
    LocalServer smtp([] { return std::string("220 mail.example ESMTP\r\n"); }, false);
    spec.target = smtp.address();
    const ProbeOutcome outcome = probe_once(spec);
    EXPECT_FALSE(outcome.ok);
    EXPECT_EQ(outcome.reason, "banner mismatch");
    spec.banner = "^220 ";
    EXPECT_TRUE(probe_once(spec).ok);
}

TEST(BannerCheck, SilentServerTimesOut) {
    LocalServer server([] { return std::string(); }, false, /*silent=*/true);
    CheckSpec spec = spec_for(CheckKind::banner, server.address());
    spec.banner = "^\\+OK";
    EXPECT_EQ(probe_once(spec).reason, "timeout after 200 ms");
}

TEST(BannerCheck, ABadExpressionIsOneLine) {
    auto r = compile_banner("(");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
}

TEST(ScriptCheck, ExitStatusDecides) {
    CheckSpec spec;
    spec.name = "script";
    spec.kind = CheckKind::script;
    spec.receive_timeout_ms = 2000;
    spec.argv = {"/bin/true"};
    EXPECT_TRUE(probe_once(spec).ok);
    spec.argv = {"/bin/false"};
    EXPECT_EQ(probe_once(spec).reason, "exit status 1");
    EXPECT_EQ(split_command(" /bin/check  --port 80 ").size(), 3u);
    spec.argv = {"/bin/sh", "-c", "exit 3"};
    EXPECT_EQ(probe_once(spec).reason, "exit status 3");
    spec.argv = {"/nonexistent/check"};
    EXPECT_FALSE(probe_once(spec).ok);
}

TEST(ScriptCheck, TheKillReachesWhatTheScriptStarted) {
    CheckSpec spec;
    spec.name = "slow-shell";
    spec.kind = CheckKind::script;
    spec.receive_timeout_ms = 100;
    const std::string marker = fmt::format("/tmp/tcpfo_script_child_{}", getpid());
    ::unlink(marker.c_str());
    // The shell waits for a child that would leave a mark after 300 ms.
    spec.argv = {"/bin/sh", "-c", "(sleep 0.3; touch " + marker + ") & wait"};
    EXPECT_EQ(probe_once(spec).reason, "timeout after 100 ms");
    ::usleep(500000);
    EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "the script's child outlived the kill";
    ::unlink(marker.c_str());
}

TEST(ScriptCheck, KilledAtItsTimeout) {
    CheckSpec spec;
    spec.name = "slow";
    spec.kind = CheckKind::script;
    spec.receive_timeout_ms = 100;
    spec.argv = {"/bin/sleep", "5"};
    const uint64_t began = monotonic_ms();
    EXPECT_EQ(probe_once(spec).reason, "timeout after 100 ms");
    EXPECT_LT(monotonic_ms() - began, 2000u);
}

TEST(CheckState, FallAndRiseCountResultsInARow) {
    CheckState s(/*fall=*/3, /*rise=*/2, /*init_fail=*/false);
    const ProbeOutcome ok{true, ""}, bad{false, "HTTP 503"};
    EXPECT_TRUE(s.up());
    EXPECT_FALSE(s.count(bad));
    EXPECT_FALSE(s.count(bad));
    EXPECT_FALSE(s.count(ok));  // the streak is broken
    EXPECT_FALSE(s.count(bad));
    EXPECT_FALSE(s.count(bad));
    EXPECT_TRUE(s.count(bad));  // the third in a row: down, once
    EXPECT_FALSE(s.up());
    EXPECT_FALSE(s.count(bad));  // edge-triggered: no second change
    EXPECT_FALSE(s.count(ok));
    EXPECT_FALSE(s.count(bad));
    EXPECT_FALSE(s.count(ok));
    EXPECT_TRUE(s.count(ok));  // the second success in a row: up
    EXPECT_TRUE(s.up());
}

TEST(CheckState, InitFailStartsDownAndNeedsRise) {
    CheckState s(3, 2, /*init_fail=*/true);
    EXPECT_FALSE(s.up());
    EXPECT_FALSE(s.count({true, ""}));
    EXPECT_TRUE(s.count({true, ""}));
    EXPECT_TRUE(s.up());
}

TEST(HealthMonitor, GoesDownOnceAfterFallFailuresAndSaysWhy) {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    CheckSpec spec = spec_for(CheckKind::tcp, refused_port());
    spec.name = "web";
    spec.interval_ms = 20;
    spec.fall = 2;
    int changes = 0;
    std::string reason;
    auto monitor = HealthMonitor::start(**loop, {spec}, [&](const HealthMonitor::Change& c) {
        ++changes;
        reason = c.reason;
        EXPECT_FALSE(c.up);
    });
    ASSERT_TRUE(monitor) << monitor.error().message;
    EXPECT_TRUE((*monitor)->healthy());
    const uint64_t deadline = monotonic_ms() + 500;
    while (monotonic_ms() < deadline) (void)(*loop)->run_once(10);
    EXPECT_EQ(changes, 1);
    EXPECT_EQ(reason, "connection refused");
    EXPECT_FALSE((*monitor)->healthy());
    EXPECT_EQ((*monitor)->unhealthy_reason(), "check web: connection refused");
    const HealthStatus status = (*monitor)->status();
    ASSERT_EQ(status.checks.size(), 1u);
    EXPECT_EQ(status.checks[0].state, "down");
    EXPECT_EQ(status.checks[0].last_result, "failure");
    EXPECT_GE(status.checks[0].runs, 10u);
    EXPECT_FALSE(status.eligible);
}

TEST(HealthMonitor, AnHttpServiceThatAnswers503GoesDownThenUpAgainOncePerChange) {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    std::atomic<int> status{200};
    LocalServer server([&] { return http_answer(status, "ok\n"); }, true);
    CheckSpec spec = spec_for(CheckKind::http, server.address());
    spec.name = "web";
    spec.interval_ms = 20;
    spec.fall = 3;
    spec.rise = 2;
    std::vector<std::pair<bool, std::string>> changes;
    auto monitor = HealthMonitor::start(**loop, {spec}, [&](const HealthMonitor::Change& c) {
        changes.emplace_back(c.up, c.reason);
    });
    ASSERT_TRUE(monitor) << monitor.error().message;
    auto turn_until = [&](auto done) {
        const uint64_t deadline = monotonic_ms() + 3000;
        while (!done() && monotonic_ms() < deadline) (void)(*loop)->run_once(10);
    };
    turn_until([&] { return (*monitor)->status().checks[0].runs >= 3; });
    EXPECT_TRUE(changes.empty()) << "up from the start: successes change nothing";
    EXPECT_EQ((*monitor)->status().checks[0].last_result, "success");
    status = 503;
    turn_until([&] { return !changes.empty(); });
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0], (std::pair<bool, std::string>{false, "HTTP 503"}));
    const uint64_t runs_at_down = (*monitor)->status().checks[0].runs;
    turn_until([&] { return (*monitor)->status().checks[0].runs >= runs_at_down + 3; });
    EXPECT_EQ(changes.size(), 1u) << "edge-triggered: more failures say nothing";
    status = 200;
    turn_until([&] { return changes.size() >= 2; });
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_TRUE(changes[1].first);
    EXPECT_TRUE((*monitor)->healthy());
    EXPECT_EQ((*monitor)->status().checks[0].reason, "");
}

TEST(HealthMonitor, InitFailStartsNotHealthyUntilRiseSuccesses) {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    LocalServer server([] { return std::string(); }, false);
    CheckSpec spec = spec_for(CheckKind::tcp, server.address());
    spec.name = "own";
    spec.interval_ms = 20;
    spec.init_fail = true;
    spec.rise = 2;
    int ups = 0;
    auto monitor = HealthMonitor::start(**loop, {spec}, [&](const HealthMonitor::Change& c) { ups += c.up; });
    ASSERT_TRUE(monitor);
    EXPECT_FALSE((*monitor)->healthy());
    EXPECT_EQ((*monitor)->unhealthy_reason(), "check own: not passed yet (init_fail)");
    EXPECT_EQ((*monitor)->status().checks[0].last_result, "none");
    const uint64_t deadline = monotonic_ms() + 3000;
    while (ups == 0 && monotonic_ms() < deadline) (void)(*loop)->run_once(10);
    EXPECT_EQ(ups, 1);
    EXPECT_TRUE((*monitor)->healthy());
    EXPECT_EQ((*monitor)->status().checks[0].runs, 2u);
}

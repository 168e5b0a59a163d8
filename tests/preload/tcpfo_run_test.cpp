// tcpfo-run and the output gate, with this test playing failoverd: it listens on a
// unix socket, answers tcpfo-run's announcement, reads the application log the library
// sends and says how much of it is held (docs/protocol.md, "The application log").
// The service is gated_service on 127.0.0.1. No root needed.
//
// Negative checks ("nothing arrives") wait 300 ms, the only fixed waits; everything
// else waits for a condition, bounded.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <gtest/gtest.h>

#include "replay/preload/app_log.h"

using namespace tcpfo;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kPositiveWaitMs = 5000;  // something must happen within this
constexpr int kNegativeWaitMs = 300;   // nothing may happen within this

extern "C" char** environ;

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? int(left) : 0;
}

bool readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
}

// What is readable on `fd` within `timeout_ms` (up to EOF or the first pause), or "".
std::string read_some(int fd, int timeout_ms) {
    if (!readable(fd, timeout_ms)) return {};
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

// Reads `fd` until a newline or EOF or the deadline; the line with its newline.
std::string read_line(int fd, int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string line;
    while (line.empty() || line.back() != '\n') {
        if (!readable(fd, remaining_ms(deadline))) break;
        char c;
        if (::read(fd, &c, 1) != 1) break;
        line.push_back(c);
    }
    return line;
}

class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "tcpfo-run-test.XXXXXX").string();
        path_ = ::mkdtemp(pattern.data());
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// The fake failoverd: one control socket, one service connection.
class FakeDaemon {
public:
    explicit FakeDaemon(std::string path) : path_(std::move(path)) {}
    ~FakeDaemon() {
        close_connection();
        if (listener_ >= 0) ::close(listener_);
    }

    // bind() without listen(): a connect then gets ECONNREFUSED.
    void bind_only() {
        listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_GE(listener_, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        path_.copy(addr.sun_path, path_.size());
        ASSERT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << strerror(errno);
    }
    void listen() {
        if (listener_ < 0) bind_only();
        ASSERT_EQ(::listen(listener_, 4), 0) << strerror(errno);
    }

    bool connection_pending() const { return readable(listener_, 0); }

    // Accepts tcpfo-run and reads its announcement line.
    std::string accept_announcement() {
        if (!readable(listener_, kPositiveWaitMs)) return "(no connection)";
        conn_ = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (conn_ < 0) return "(accept failed)";
        return read_line(conn_, kPositiveWaitMs);
    }

    void send(const std::string& bytes) {
        ASSERT_EQ(::send(conn_, bytes.data(), bytes.size(), MSG_NOSIGNAL), ssize_t(bytes.size()));
    }
    void send(const std::vector<uint8_t>& bytes) {
        send(std::string(bytes.begin(), bytes.end()));
    }

    // The held offset as the library reads it: u64 big-endian, here in two writes
    // (3 + 5 bytes, 20 ms apart) so that the library must put a message together.
    void send_held(uint64_t held) {
        std::string message(8, '\0');
        for (int i = 0; i < 8; ++i) message[size_t(i)] = char(held >> (56 - 8 * i));
        send(message.substr(0, 3));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        send(message.substr(3));
    }

    // Reads the log until it holds `wanted` whole clock and getrandom entries (or the
    // wait ends); returns how many it holds. The input-order entries between them
    // (accept, reads, writes) are not counted.
    size_t read_log_until(size_t wanted, int timeout_ms = kPositiveWaitMs) {
        const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
        while (clock_and_random_entries().size() < wanted) {
            const std::string more = read_some(conn_, remaining_ms(deadline));
            if (more.empty()) break;
            log_.insert(log_.end(), more.begin(), more.end());
        }
        return clock_and_random_entries().size();
    }

    // The clock and getrandom entries received so far, which gated_service's replies show.
    std::vector<AppLogEntry> clock_and_random_entries() const {
        std::vector<AppLogEntry> out;
        for (const AppLogEntry& e : decode_entries())
            if (std::holds_alternative<ClockGettimeEntry>(e) || std::holds_alternative<GetrandomEntry>(e))
                out.push_back(e);
        return out;
    }

    // The whole entries received so far; a decode error fails the test.
    std::vector<AppLogEntry> decode_entries() const {
        std::vector<AppLogEntry> entries;
        for (size_t off = 0;;) {
            auto d = decode_app_log_entry(std::span(log_).subspan(off));
            EXPECT_TRUE(d.has_value()) << "log byte " << off << ": " << d.error().message;
            if (!d || !d->has_value()) break;
            entries.push_back((*d)->entry);
            off += (*d)->size;
        }
        return entries;
    }

    const std::vector<uint8_t>& log() const { return log_; }
    uint64_t log_bytes() const { return log_.size(); }
    // A line the library wrote on the channel (replay: its divergence notice).
    std::string read_notice() { return read_line(conn_, kPositiveWaitMs); }
    void close_connection() {
        if (conn_ >= 0) ::close(conn_);
        conn_ = -1;
    }

private:
    std::string path_;
    int listener_ = -1;
    int conn_ = -1;
    std::vector<uint8_t> log_;
};

// tcpfo-run ARGS, its stdout and stderr on pipes; killed (by its pid) if still running
// at the end.
class TcpfoRunProcess {
public:
    TcpfoRunProcess(const std::vector<std::string>& args, const std::vector<std::string>& extra_env = {}) {
        int out[2], err[2];
        if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) std::abort();
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(out[1], STDOUT_FILENO);
            ::dup2(err[1], STDERR_FILENO);
            std::vector<std::string> env_strings(extra_env);
            for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
            std::vector<char*> argv{const_cast<char*>(TCPFO_RUN_PATH)};
            for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            std::vector<char*> envp;
            for (auto& e : env_strings) envp.push_back(e.data());
            envp.push_back(nullptr);
            ::execve(TCPFO_RUN_PATH, argv.data(), envp.data());
            ::_exit(126);
        }
        ::close(out[1]);
        ::close(err[1]);
        out_ = out[0];
        err_ = err[0];
    }
    ~TcpfoRunProcess() {
        if (pid_ > 0 && !status_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(out_);
        ::close(err_);
    }

    pid_t pid() const { return pid_; }

    // The service's "port N" line.
    int port() {
        const std::string line = read_line(out_, kPositiveWaitMs);
        int port = 0;
        if (std::sscanf(line.c_str(), "port %d", &port) != 1) return 0;
        return port;
    }

    // The exit status (or -1 if it did not end within the wait, -2 if killed by a signal).
    int wait_exit(int timeout_ms = kPositiveWaitMs) {
        const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
        while (!status_) {
            int status = 0;
            const pid_t r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_) {
                status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -2;
                break;
            }
            if (Clock::now() >= deadline) return -1;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return *status_;
    }
    bool running() {
        if (status_) return false;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -2;
        return false;
    }
    void kill() {
        if (running()) {
            ::kill(pid_, SIGKILL);
            wait_exit();
        }
    }

    // Everything written so far (after an exit: everything).
    std::string drain(int fd) {
        std::string all;
        for (std::string more; !(more = read_some(fd, 50)).empty();) all += more;
        return all;
    }
    std::string stdout_text() { return drain(out_); }
    std::string stderr_text() { return drain(err_); }

private:
    pid_t pid_ = -1;
    int out_ = -1, err_ = -1;
    std::optional<int> status_;
};

// A socket bound to an ephemeral port of 127.0.0.1, not connected yet: a feeder whose
// port the test names on the channel before it connects.
int bound_socket() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::abort();
    return fd;
}

int local_port(int fd) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.sin_port);
}

class Client {
public:
    // Connects to 127.0.0.1:port, from `fd` when given (bound_socket()).
    explicit Client(int port, int fd = -1) {
        fd_ = fd >= 0 ? fd : ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(uint16_t(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~Client() { ::close(fd_); }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    bool connected() const { return connected_; }
    int port() const { return local_port(fd_); }
    void request(const std::string& line) {
        const std::string bytes = line + "\n";
        ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL), ssize_t(bytes.size()));
    }
    // True when no byte arrives within `ms`.
    bool nothing_within(int ms) { return !readable(fd_, ms); }
    std::string reply(int timeout_ms = kPositiveWaitMs) { return read_line(fd_, timeout_ms); }

private:
    int fd_ = -1;
    bool connected_ = false;
};

// The reply gated_service makes from its K-th pair of entries.
std::string expected_reply(int k, const std::string& request, const AppLogEntry& clock,
                           const AppLogEntry& random) {
    const auto* c = std::get_if<ClockGettimeEntry>(&clock);
    const auto* r = std::get_if<GetrandomEntry>(&random);
    if (c == nullptr || r == nullptr) return "(entries of other kinds)";
    std::string hex;
    for (uint8_t b : r->bytes) hex += fmt::format("{:02x}", b);
    return fmt::format("reply {} to '{}': t={}.{:09} r={}\n", k, request, c->sec, c->nsec, hex);
}

std::string announcement(pid_t pid) { return fmt::format("{{\"command\":\"service\",\"pid\":{}}}\n", pid); }

int line_count(const std::string& text) { return int(std::count(text.begin(), text.end(), '\n')); }

class TcpfoRun : public ::testing::Test {
protected:
    TempDir dir_;
    std::string control_ = dir_.file("failoverd.sock");
};

}  // namespace

// The gate: each reply waits until the daemon holds every entry recorded before it,
// whichever of the five write calls sends it, on a connection from accept() (requests
// 1-3) or accept4() (requests 4-5, after the first connection closed).
TEST_F(TcpfoRun, RecordHoldsEachReplyUntilTheLogIsHeld) {
    FakeDaemon daemon(control_);
    daemon.listen();
    TcpfoRunProcess run({"--control", control_, "--", GATED_SERVICE_PATH});
    ASSERT_EQ(daemon.accept_announcement(), announcement(run.pid()));
    daemon.send(std::string("{\"mode\":\"record\"}\n"));
    const int port = run.port();
    ASSERT_GT(port, 0) << run.stderr_text();
    std::optional<Client> client(port);
    ASSERT_TRUE(client->connected());

    for (int k = 1; k <= 5; ++k) {
        SCOPED_TRACE(fmt::format("request {}", k));
        if (k == 4) {
            client.emplace(port);
            ASSERT_TRUE(client->connected());
        }
        const std::string request = fmt::format("hello {}", k);
        client->request(request);
        // The library sends its buffered entries when the reply reaches the gate.
        ASSERT_EQ(daemon.read_log_until(size_t(2 * k)), size_t(2 * k)) << run.stderr_text();
        EXPECT_TRUE(client->nothing_within(kNegativeWaitMs)) << "the reply left before any of its entries was held";
        daemon.send_held(daemon.log_bytes() - 1);
        EXPECT_TRUE(client->nothing_within(kNegativeWaitMs / 2)) << "the reply left with its last entry not held";
        daemon.send_held(daemon.log_bytes());
        const std::string reply = client->reply();
        const auto entries = daemon.clock_and_random_entries();
        ASSERT_EQ(entries.size(), size_t(2 * k)) << "an entry was recorded after the reply was let go";
        EXPECT_EQ(reply, expected_reply(k, request, entries[size_t(2 * k - 2)], entries[size_t(2 * k - 1)]));
    }
    EXPECT_TRUE(run.running());
    run.kill();
    EXPECT_EQ(run.stderr_text(), "");
}

// A daemon that goes away while a reply waits: one line, the reply goes, the service runs
// on without recording or waiting.
TEST_F(TcpfoRun, RecordChannelBreakLetsTheServiceRunOnUnprotected) {
    FakeDaemon daemon(control_);
    daemon.listen();
    TcpfoRunProcess run({"--control", control_, "--", GATED_SERVICE_PATH});
    ASSERT_EQ(daemon.accept_announcement(), announcement(run.pid()));
    daemon.send(std::string("{\"mode\":\"record\"}\n"));
    const int port = run.port();
    ASSERT_GT(port, 0) << run.stderr_text();
    Client client(port);
    client.request("first");
    ASSERT_EQ(daemon.read_log_until(2), 2u);
    EXPECT_TRUE(client.nothing_within(kNegativeWaitMs));
    daemon.close_connection();
    EXPECT_TRUE(client.reply().starts_with("reply 1 to 'first': "));
    client.request("second");
    EXPECT_TRUE(client.reply().starts_with("reply 2 to 'second': "));
    EXPECT_TRUE(run.running());
    run.kill();
    const std::string err = run.stderr_text();
    EXPECT_EQ(line_count(err), 1) << err;
    EXPECT_TRUE(std::regex_search(err, std::regex("^tcpfo-preload: the application log channel on fd [0-9]+ broke "
                                                  "while output waited \\(failoverd closed it\\): recording and "
                                                  "output commit stop, the service runs on unprotected\n$")))
        << err;
}

// Replay through tcpfo-run, fed the recorded log: the same reply bytes; a reply whose
// entries have not come yet waits for them (the replica keeping in step); after the
// log's end the service is live.
TEST_F(TcpfoRun, ReplayGivesTheRecordedRepliesAndWaitsForEntries) {
    const std::vector<std::string> requests = {"alpha", "beta", "gamma"};
    std::vector<std::string> recorded;
    std::vector<uint8_t> log;
    size_t two_requests_bytes = 0;
    {
        FakeDaemon daemon(control_);
        daemon.listen();
        TcpfoRunProcess run({"--control", control_, "--", GATED_SERVICE_PATH});
        ASSERT_EQ(daemon.accept_announcement(), announcement(run.pid()));
        daemon.send(std::string("{\"mode\":\"record\"}\n"));
        const int port = run.port();
        ASSERT_GT(port, 0) << run.stderr_text();
        Client client(port);
        for (size_t i = 0; i < requests.size(); ++i) {
            client.request(requests[i]);
            ASSERT_EQ(daemon.read_log_until(2 * (i + 1)), 2 * (i + 1));
            daemon.send_held(daemon.log_bytes());
            recorded.push_back(client.reply());
        }
        log = daemon.log();
        run.kill();
    }
    // Two requests' worth: up to the read of the third request (the writes of the
    // second reply are recorded after it left, and reach the log with the third's).
    {
        int clock_and_random = 0;
        for (size_t off = 0; off < log.size();) {
            auto d = decode_app_log_entry(std::span(log).subspan(off));
            ASSERT_TRUE(d && d->has_value());
            const AppLogEntry& e = (*d)->entry;
            if (clock_and_random == 4 && std::holds_alternative<SocketReadEntry>(e)) {
                two_requests_bytes = off;
                break;
            }
            if (std::holds_alternative<ClockGettimeEntry>(e) || std::holds_alternative<GetrandomEntry>(e))
                ++clock_and_random;
            off += (*d)->size;
        }
        ASSERT_GT(two_requests_bytes, 0u);
    }
    std::filesystem::remove(control_);

    // The recorded client, whose feeder this test opens as the backup would.
    std::optional<AcceptEntry> accepted;
    {
        auto d = decode_app_log_entry(log);
        ASSERT_TRUE(d && d->has_value());
        if (const auto* a = std::get_if<AcceptEntry>(&(*d)->entry)) accepted = *a;
        ASSERT_TRUE(accepted) << "the log does not start with the accept";
    }
    const int feeder = bound_socket();
    std::vector<uint8_t> name;
    encode_app_log_entry(FeederNameEntry{accepted->client_addr, accepted->client_port, uint16_t(local_port(feeder))},
                         name);

    FakeDaemon daemon(control_);
    daemon.listen();
    TcpfoRunProcess run({"--control", control_, "--", GATED_SERVICE_PATH});
    ASSERT_EQ(daemon.accept_announcement(), announcement(run.pid()));
    // The answer, the feeder's name and the log's first entries in one write: tcpfo-run
    // must leave the bytes after the newline to the service.
    std::string first("{\"mode\":\"replay\"}\n");
    first.append(name.begin(), name.end());
    first.append(log.begin(), log.begin() + std::ptrdiff_t(two_requests_bytes));
    daemon.send(first);
    const int port = run.port();
    ASSERT_GT(port, 0) << run.stderr_text();
    Client client(port, feeder);
    client.request(requests[0]);
    EXPECT_EQ(client.reply(), recorded[0]);
    client.request(requests[1]);
    EXPECT_EQ(client.reply(), recorded[1]);
    client.request(requests[2]);
    EXPECT_TRUE(client.nothing_within(kNegativeWaitMs)) << "the replica went on without its entries";
    daemon.send(std::vector<uint8_t>(log.begin() + std::ptrdiff_t(two_requests_bytes), log.end()));
    daemon.close_connection();  // the end of the log: takeover
    EXPECT_EQ(client.reply(), recorded[2]);
    client.request("delta");
    const std::string live = client.reply();
    EXPECT_TRUE(live.starts_with("reply 4 to 'delta': ")) << live;
    EXPECT_TRUE(run.running());
    run.kill();
    EXPECT_EQ(run.stderr_text(), "");
}

// A replica whose calls leave the log (here: a getrandom entry where the service
// accepts first) goes live rather than die, says so on stderr and tells failoverd on
// the channel ("diverged K": its backup then hands the service's connections back), and
// serves on with real results.
TEST_F(TcpfoRun, ReplayThatLeavesTheLogGoesLiveAndTellsFailoverd) {
    FakeDaemon daemon(control_);
    daemon.listen();
    TcpfoRunProcess run({"--control", control_, "--", GATED_SERVICE_PATH});
    ASSERT_EQ(daemon.accept_announcement(), announcement(run.pid()));
    const std::vector<uint8_t> random(8, 0x5a);
    std::vector<uint8_t> log;
    encode_app_log_entry(AppLogEntry{GetrandomEntry{8, 0, random}}, log);
    std::string first("{\"mode\":\"replay\"}\n");
    first.append(log.begin(), log.end());
    daemon.send(first);
    const int port = run.port();
    ASSERT_GT(port, 0) << run.stderr_text();
    Client client(port);
    client.request("alpha");
    EXPECT_EQ(daemon.read_notice(), "diverged 1\n");
    const std::string live = client.reply();
    EXPECT_TRUE(live.starts_with("reply 1 to 'alpha': ")) << live;
    client.request("beta");
    EXPECT_TRUE(client.reply().starts_with("reply 2 to 'beta': "));
    EXPECT_TRUE(run.running()) << "a replica whose replay diverged was killed";
    run.kill();
    EXPECT_NE(run.stderr_text().find("tcpfo-preload: replay diverged at entry 1: the replica called accept where "
                                     "the primary called getrandom; the replica goes live"),
              std::string::npos)
        << run.stderr_text();
}

// tcpfo-run first, failoverd later: no socket file (ENOENT), then one nobody listens on
// (ECONNREFUSED), then failoverd.
TEST_F(TcpfoRun, WaitsForAFailoverdThatStartsLater) {
    TcpfoRunProcess run({"--control", control_, "--wait-s", "10", "--", GATED_SERVICE_PATH});
    std::this_thread::sleep_for(std::chrono::milliseconds(kNegativeWaitMs));
    ASSERT_TRUE(run.running()) << run.stderr_text();
    FakeDaemon daemon(control_);
    daemon.bind_only();
    std::this_thread::sleep_for(std::chrono::milliseconds(kNegativeWaitMs));
    ASSERT_TRUE(run.running()) << run.stderr_text();
    daemon.listen();
    ASSERT_EQ(daemon.accept_announcement(), announcement(run.pid()));
    daemon.send(std::string("{\"mode\":\"record\"}\n"));
    const int port = run.port();
    ASSERT_GT(port, 0) << run.stderr_text();
    Client client(port);
    client.request("late");
    ASSERT_EQ(daemon.read_log_until(2), 2u);
    daemon.send_held(daemon.log_bytes());
    EXPECT_TRUE(client.reply().starts_with("reply 1 to 'late': "));
    run.kill();
    EXPECT_EQ(run.stderr_text(), "");
}

TEST_F(TcpfoRun, GivesUpAfterWaitSWithOneLine) {
    const auto start = Clock::now();
    TcpfoRunProcess run({"--control", control_, "--wait-s", "1", "--", GATED_SERVICE_PATH});
    EXPECT_EQ(run.wait_exit(), 69);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    EXPECT_GE(took, 1000);
    EXPECT_LT(took, 4000);
    EXPECT_EQ(run.stderr_text(), fmt::format("tcpfo-run: no failoverd answers on {} after 1 s (last error: No "
                                             "such file or directory)\n",
                                             control_));
    EXPECT_EQ(run.stdout_text(), "") << "the service ran";
}

// A path that is no socket cannot become one by waiting: at once, not after --wait-s.
TEST_F(TcpfoRun, APathThatIsNoSocketFailsAtOnce) {
    const std::string file = dir_.file("not-a-socket");
    { std::ofstream{file} << "x"; }
    TcpfoRunProcess run({"--control", file, "--wait-s", "10", "--", GATED_SERVICE_PATH});
    EXPECT_EQ(run.wait_exit(2000), 69);
    EXPECT_EQ(run.stderr_text(), fmt::format("tcpfo-run: can't connect to failoverd on {}: not a socket\n", file));
}

TEST_F(TcpfoRun, ARefusalIsOneLineAndStatus69) {
    FakeDaemon daemon(control_);
    daemon.listen();
    TcpfoRunProcess run({"--control", control_, "--", GATED_SERVICE_PATH});
    ASSERT_EQ(daemon.accept_announcement(), announcement(run.pid()));
    daemon.send(std::string("{\"error\":\"this node protects another service\"}\n"));
    EXPECT_EQ(run.wait_exit(), 69);
    EXPECT_EQ(run.stderr_text(), "tcpfo-run: failoverd refused the service: this node protects another service\n");
    EXPECT_EQ(run.stdout_text(), "") << "the service ran";
}

TEST_F(TcpfoRun, AMalformedAnswerIsOneLineAndStatus69) {
    for (const std::string answer : {"{\"mode\":\"rewind\"}\n", "hello\n", ""}) {
        SCOPED_TRACE(answer);
        std::filesystem::remove(control_);
        FakeDaemon daemon(control_);
        daemon.listen();
        TcpfoRunProcess run({"--control", control_, "--", GATED_SERVICE_PATH});
        ASSERT_EQ(daemon.accept_announcement(), announcement(run.pid()));
        if (answer.empty())
            daemon.close_connection();
        else
            daemon.send(answer);
        EXPECT_EQ(run.wait_exit(), 69);
        const std::string err = run.stderr_text();
        EXPECT_EQ(line_count(err), 1) << err;
        EXPECT_TRUE(err.starts_with(answer.empty() ? "tcpfo-run: failoverd on " : "tcpfo-run: failoverd sent a malformed answer: "))
            << err;
    }
}

TEST_F(TcpfoRun, ACommandThatCannotRunIsOneLineAndStatus127) {
    FakeDaemon daemon(control_);
    daemon.listen();
    TcpfoRunProcess run({"--control", control_, "--", "/nonexistent/service"});
    ASSERT_EQ(daemon.accept_announcement(), announcement(run.pid()));
    daemon.send(std::string("{\"mode\":\"record\"}\n"));
    EXPECT_EQ(run.wait_exit(), 127);
    EXPECT_EQ(run.stderr_text(), "tcpfo-run: can't run /nonexistent/service: No such file or directory\n");
}

TEST_F(TcpfoRun, AMissingLibraryIsOneLineAndNoAnnouncement) {
    FakeDaemon daemon(control_);
    daemon.listen();
    TcpfoRunProcess run({"--control", control_, "--", GATED_SERVICE_PATH}, {"TCPFO_PRELOAD_LIB=/nonexistent/lib.so"});
    EXPECT_EQ(run.wait_exit(), 1);
    EXPECT_EQ(run.stderr_text(), "tcpfo-run: TCPFO_PRELOAD_LIB=/nonexistent/lib.so is not a library file\n");
    EXPECT_FALSE(daemon.connection_pending()) << "tcpfo-run connected without a library to run the service with";
}

TEST_F(TcpfoRun, BadArgumentsAreOneLinePlusUsageAndStatus2) {
    const std::vector<std::vector<std::string>> cases = {
        {},
        {GATED_SERVICE_PATH},
        {"--control", control_, GATED_SERVICE_PATH},
        {"--"},
        {"--control", control_, "--"},
        {"--bogus", "--", GATED_SERVICE_PATH},
        {"--wait-s", "abc", "--", GATED_SERVICE_PATH},
        {"--wait-s", "-1", "--", GATED_SERVICE_PATH},
        {"--wait-s", "5s", "--", GATED_SERVICE_PATH},
        {"--control"},
    };
    for (const auto& args : cases) {
        std::string joined;
        for (const auto& a : args) joined += " " + a;
        SCOPED_TRACE("tcpfo-run" + joined);
        TcpfoRunProcess run(args);
        EXPECT_EQ(run.wait_exit(), 2);
        const std::string err = run.stderr_text();
        EXPECT_TRUE(std::regex_search(err, std::regex("^tcpfo-run: [^\n]+\nusage: tcpfo-run ")));
        EXPECT_EQ(run.stdout_text(), "");
    }
}

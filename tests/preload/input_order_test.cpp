// The input order (docs/protocol.md, "The application log", kinds 7-12): a service
// serving several connections at once, with state shared across them
// (multi_service), is recorded through the preload library into a file; then a
// replica is run in replay mode with this test playing the backup: it writes the log
// into the replica's channel (a socketpair) with feeder names inserted before the
// accepts, opens the feeders in another order than the primary accepted the clients,
// and writes each client's bytes in other portions than the primary read them. The
// replica's output on every feeder must be the primary's to that client, byte for byte.
// Then the divergences the replica must notice (one line, "diverged K" on the channel,
// and it serves on live), and a go-live that hands out the feeders it had parked.
// No root needed; everything is on 127.0.0.1.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
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

constexpr int kWaitMs = 5000;
constexpr int kLogFd = 10;  // the log's descriptor in the service, the same in both runs

extern "C" char** environ;

bool readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
}

std::string read_line(int fd, int timeout_ms = kWaitMs) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string line;
    while (line.empty() || line.back() != '\n') {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0 || !readable(fd, int(left))) break;
        char c;
        if (::read(fd, &c, 1) != 1) break;
        line.push_back(c);
    }
    return line;
}

// Everything until end of file (or the wait ends).
std::string read_to_eof(int fd, int timeout_ms = kWaitMs) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string all;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0 || !readable(fd, int(left))) break;
        char buf[4096];
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        all.append(buf, size_t(n));
    }
    return all;
}

void send_all(int fd, const std::string& bytes) {
    ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), ssize_t(bytes.size())) << strerror(errno);
}

int local_port(int fd) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.sin_port);
}

int connect_to(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::abort();
    return fd;
}

// multi_service MODE under the library in `mode` (record or replay), the log on fd 10
// (`log_fd` in this process); stdout and stderr on pipes.
class Service {
public:
    Service(const std::string& loop, const char* mode, int log_fd, const char* extra = nullptr) {
        int out[2], err[2];
        if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) std::abort();
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(out[1], STDOUT_FILENO);
            ::dup2(err[1], STDERR_FILENO);
            ::dup2(log_fd, kLogFd);  // without O_CLOEXEC
            ::setenv("TCPFO_PRELOAD_MODE", mode, 1);
            ::setenv("TCPFO_PRELOAD_LOG_FD", std::to_string(kLogFd).c_str(), 1);
            ::setenv("LD_PRELOAD", PRELOAD_LIB_PATH, 1);
            ::unsetenv("TCPFO_PRELOAD_OWNER_PID");
            ::execl(MULTI_SERVICE_PATH, MULTI_SERVICE_PATH, loop.c_str(), extra, nullptr);
            ::_exit(126);
        }
        ::close(out[1]);
        ::close(err[1]);
        out_ = out[0];
        err_ = err[0];
    }
    ~Service() {
        if (!exited_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(out_);
        ::close(err_);
    }
    int port() {
        int port = 0;
        return std::sscanf(read_line(out_).c_str(), "port %d", &port) == 1 ? port : 0;
    }
    // The exit status, -1 if it did not end within the wait.
    int wait_exit() {
        const auto deadline = Clock::now() + std::chrono::milliseconds(kWaitMs);
        while (Clock::now() < deadline) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                exited_ = true;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return -1;
    }
    bool running() {
        int status = 0;
        return !exited_ && ::waitpid(pid_, &status, WNOHANG) == 0;
    }
    std::string stderr_text() { return read_to_eof_nonblocking(err_); }

private:
    static std::string read_to_eof_nonblocking(int fd) {
        std::string all;
        while (readable(fd, 50)) {
            char buf[4096];
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n <= 0) break;
            all.append(buf, size_t(n));
        }
        return all;
    }
    pid_t pid_ = -1;
    int out_ = -1, err_ = -1;
    bool exited_ = false;
};

std::vector<AppLogEntry> decode_all(const std::vector<uint8_t>& log) {
    std::vector<AppLogEntry> entries;
    for (size_t off = 0; off < log.size();) {
        auto d = decode_app_log_entry(std::span(log).subspan(off));
        EXPECT_TRUE(d && d->has_value()) << "log byte " << off;
        if (!d || !d->has_value()) break;
        entries.push_back((*d)->entry);
        off += (*d)->size;
    }
    return entries;
}

std::vector<uint8_t> read_file(const std::string& path) {
    std::vector<uint8_t> bytes;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    for (uint8_t buf[65536];;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        bytes.insert(bytes.end(), buf, buf + n);
    }
    ::close(fd);
    return bytes;
}

// One client of the recorded run: what it sent, what it got, and its port (which the
// log names it by).
struct Recorded {
    int port = 0;
    std::string input, output;
};

struct Recording {
    std::vector<Recorded> clients;
    std::vector<uint8_t> log;
    std::vector<AppLogEntry> entries;  // spans into `log`
};

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / fmt::format("input-order-{}-{}", ::getpid(), name)).string();
}

// Records `clients` clients doing `rounds` request rounds, interleaved: every round
// each client sends its request in two pieces, in a rotating order, and only then are
// the replies read. Clients 0..n-2 end with end of file, the last with "quit" (which
// ends the service, so the log is flushed at exit).
void record(const std::string& loop, int clients, int rounds, Recording& rec) {
    const std::string log_path = temp_path(loop + ".log");
    const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT_GE(log_fd, 0);
    {
        Service primary(loop, "record", log_fd);
        ::close(log_fd);
        const int port = primary.port();
        EXPECT_GT(port, 0) << primary.stderr_text();
        std::vector<int> fds;
        for (int i = 0; i < clients; ++i) {
            fds.push_back(connect_to(port));
            rec.clients.push_back({local_port(fds.back()), "", ""});
        }
        for (int r = 0; r < rounds; ++r) {
            for (int k = 0; k < clients; ++k) {
                const int i = (k + r) % clients;
                const std::string request = fmt::format("client {} round {} {}\n", i, r, std::string(size_t(i * 3), 'x'));
                send_all(fds[size_t(i)], request.substr(0, 9));
                send_all(fds[size_t(i)], request.substr(9));
                rec.clients[size_t(i)].input += request;
            }
            for (int i = 0; i < clients; ++i) rec.clients[size_t(i)].output += read_line(fds[size_t(i)]);
        }
        for (int i = 0; i + 1 < clients; ++i) {
            ::shutdown(fds[size_t(i)], SHUT_WR);
            rec.clients[size_t(i)].output += read_to_eof(fds[size_t(i)]);
        }
        send_all(fds.back(), "quit\n");
        rec.clients.back().input += "quit\n";
        rec.clients.back().output += read_to_eof(fds.back());
        EXPECT_EQ(primary.wait_exit(), 0);
        EXPECT_EQ(primary.stderr_text(), "");
        for (int fd : fds) ::close(fd);
    }
    rec.log = read_file(log_path);
    rec.entries = decode_all(rec.log);
    std::filesystem::remove(log_path);
}

std::vector<uint8_t> encode(const AppLogEntry& e) {
    std::vector<uint8_t> out;
    encode_app_log_entry(e, out);
    return out;
}

// The backup's side of a replica: the channel, the feeders by recorded client port.
class Backup {
public:
    explicit Backup(const std::string& loop) {
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) std::abort();
        channel_ = pair[0];
        replica_.emplace(loop, "replay", pair[1]);
        ::close(pair[1]);
        port_ = replica_->port();
    }
    ~Backup() {
        replica_.reset();
        for (auto& [port, fd] : feeders_) ::close(fd);
        if (channel_ >= 0) ::close(channel_);
    }
    Service& replica() { return *replica_; }
    int replica_port() const { return port_; }

    // Opens the feeder of the client the primary knew as 127.0.0.1:client_port.
    int open_feeder(int client_port) {
        const int fd = connect_to(port_);
        feeders_[client_port] = fd;
        return fd;
    }
    int feeder(int client_port) { return feeders_.at(client_port); }
    // Closes a feeder with a reset, as a backup closing it on unread replica output does.
    void reset_feeder(int client_port) {
        const int fd = feeders_.at(client_port);
        const linger now{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
        ::close(fd);
        feeders_.erase(client_port);
    }
    std::vector<uint8_t> name_of(int client_port) {
        return encode(FeederNameEntry{INADDR_LOOPBACK, uint16_t(client_port), uint16_t(local_port(feeder(client_port)))});
    }
    void send(const std::vector<uint8_t>& bytes) {
        ASSERT_EQ(::send(channel_, bytes.data(), bytes.size(), MSG_NOSIGNAL), ssize_t(bytes.size()));
    }
    void close_channel() {
        ::close(channel_);
        channel_ = -1;
    }
    std::string notice() { return read_line(channel_); }

private:
    int channel_ = -1;
    std::optional<Service> replica_;
    int port_ = 0;
    std::map<int, int> feeders_;
};

class InputOrder : public ::testing::TestWithParam<std::string> {};

}  // namespace

// The primary accepted clients 0..5 in that order; the backup opens their feeders in
// reverse, names half of them at the log's start and the others just before their
// accepts, and writes each client's bytes in 5-byte portions.
TEST_P(InputOrder, ReplicaServesConcurrentConnectionsExactlyAsThePrimary) {
    Recording rec;
    record(GetParam(), 6, 4, rec);
    ASSERT_FALSE(HasFailure());
    int accepts = 0, ready = 0, reads = 0, writes = 0, names = 0;
    for (const AppLogEntry& e : rec.entries) {
        if (const auto* a = std::get_if<AcceptEntry>(&e); a != nullptr && a->ret >= 0) ++accepts;
        ready += std::holds_alternative<ReadyEntry>(e);
        reads += std::holds_alternative<SocketReadEntry>(e);
        writes += std::holds_alternative<SocketWriteEntry>(e);
        names += std::holds_alternative<SocketNameEntry>(e);
    }
    EXPECT_EQ(accepts, 6);
    EXPECT_EQ(names, 6);
    EXPECT_GT(ready, 0);
    EXPECT_GT(reads, 6 * 4);
    EXPECT_GE(writes, 6 * 4);

    Backup backup(GetParam());
    for (int i = 5; i >= 0; --i) {
        const Recorded& client = rec.clients[size_t(i)];
        const int fd = backup.open_feeder(client.port);
        for (size_t off = 0; off < client.input.size(); off += 5) send_all(fd, client.input.substr(off, 5));
        if (i != 5) ::shutdown(fd, SHUT_WR);
    }
    std::vector<uint8_t> channel;
    for (int i = 0; i < 6; i += 2) {
        const auto name = backup.name_of(rec.clients[size_t(i)].port);
        channel.insert(channel.end(), name.begin(), name.end());
    }
    for (const AppLogEntry& e : rec.entries) {
        if (const auto* a = std::get_if<AcceptEntry>(&e); a != nullptr && a->ret >= 0 && a->client_port % 2 == 1) {
            for (int i = 1; i < 6; i += 2)
                if (rec.clients[size_t(i)].port == a->client_port) {
                    const auto name = backup.name_of(a->client_port);
                    channel.insert(channel.end(), name.begin(), name.end());
                }
        }
        const auto bytes = encode(e);
        channel.insert(channel.end(), bytes.begin(), bytes.end());
    }
    // The odd clients' names went before their accepts only if their port is odd: name
    // the rest before the log too (a name may come any time before its accept).
    std::vector<uint8_t> early;
    for (int i = 1; i < 6; i += 2)
        if (rec.clients[size_t(i)].port % 2 == 0) {
            const auto name = backup.name_of(rec.clients[size_t(i)].port);
            early.insert(early.end(), name.begin(), name.end());
        }
    early.insert(early.end(), channel.begin(), channel.end());
    backup.send(early);
    for (int i = 0; i < 6; ++i) {
        SCOPED_TRACE(fmt::format("client {}", i));
        EXPECT_EQ(read_to_eof(backup.feeder(rec.clients[size_t(i)].port)), rec.clients[size_t(i)].output);
    }
    EXPECT_EQ(backup.replica().wait_exit(), 0);
    EXPECT_EQ(backup.replica().stderr_text(), "");
}

INSTANTIATE_TEST_SUITE_P(Loops, InputOrder, ::testing::Values("epoll", "poll", "select"));

namespace {

// Two clients one after the other: client 0 connects, asks (`first_client_requests`
// requests at once), gets its replies; then client 1 does; then client 1 says "quit".
// The log has each accept in a turn of its own.
void record_one_after_another(Recording& rec, int first_client_requests = 1) {
    const std::string log_path = temp_path("sequential.log");
    const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(log_fd, 0);
    {
        Service primary("epoll", "record", log_fd);
        ::close(log_fd);
        const int port = primary.port();
        ASSERT_GT(port, 0) << primary.stderr_text();
        std::vector<int> fds;
        for (int i = 0; i < 2; ++i) {
            fds.push_back(connect_to(port));
            std::string request;
            const int requests = i == 0 ? first_client_requests : 1;
            for (int r = 0; r < requests; ++r) request += fmt::format("client {} round {}\n", i, r);
            rec.clients.push_back({local_port(fds.back()), request, ""});
            send_all(fds.back(), request);
            for (int r = 0; r < requests; ++r) rec.clients.back().output += read_line(fds.back());
        }
        send_all(fds.back(), "quit\n");
        EXPECT_EQ(read_line(fds.back()), "bye\n");
        EXPECT_EQ(primary.wait_exit(), 0);
        for (int fd : fds) ::close(fd);
    }
    rec.log = read_file(log_path);
    rec.entries = decode_all(rec.log);
    std::filesystem::remove(log_path);
}

std::vector<uint8_t> encode_all(const std::vector<AppLogEntry>& entries, size_t count) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i < count && i < entries.size(); ++i) encode_app_log_entry(entries[i], out);
    return out;
}

void append(std::vector<uint8_t>& to, const std::vector<uint8_t>& bytes) { to.insert(to.end(), bytes.begin(), bytes.end()); }

}  // namespace

// The primary got descriptor N for a client where the replica has N open already (here
// the log says 1, the replica's stdout): out of step. One line, "diverged K" on the
// channel, and the replica serves the client live.
TEST(InputOrderDivergence, ARecordedDescriptorNumberBusyInTheReplicaGoesLive) {
    Recording rec;
    record_one_after_another(rec);
    ASSERT_FALSE(HasFailure());
    size_t accept_index = 0;
    while (accept_index < rec.entries.size() && !std::holds_alternative<AcceptEntry>(rec.entries[accept_index]))
        ++accept_index;
    ASSERT_LT(accept_index, rec.entries.size());
    std::vector<AppLogEntry> entries(rec.entries.begin(), rec.entries.begin() + std::ptrdiff_t(accept_index + 1));
    std::get<AcceptEntry>(entries.back()).ret = 1;

    Backup backup("epoll");
    const int feeder = backup.open_feeder(rec.clients[0].port);
    send_all(feeder, rec.clients[0].input);
    std::vector<uint8_t> channel = backup.name_of(rec.clients[0].port);
    append(channel, encode_all(entries, entries.size()));
    backup.send(channel);
    EXPECT_EQ(backup.notice(), fmt::format("diverged {}\n", accept_index + 1));
    const std::string reply = read_line(feeder);
    EXPECT_TRUE(reply.starts_with("conn 1 req 1 global 1 ")) << reply;
    EXPECT_TRUE(backup.replica().running());
    const std::string err = backup.replica().stderr_text();
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    // The listener's number depends on what the test runner left open: any.
    EXPECT_TRUE(std::regex_search(
        err, std::regex(fmt::format("replay diverged at entry {}: the replica called accept4 on fd ([0-9]+) with fd 1 "
                                    "already open in the replica where the primary called accept on fd \\1 "
                                    "returning fd 1; the replica goes live\n$",
                                    accept_index + 1))))
        << err;
}

// A recorded ready set naming a descriptor the replica never registered on that epoll
// instance (here stdout): out of step, one line, live.
TEST(InputOrderDivergence, AReadyDescriptorTheReplicaNeverRegisteredGoesLive) {
    Recording rec;
    record_one_after_another(rec);
    ASSERT_FALSE(HasFailure());
    size_t ready_index = 0;
    for (; ready_index < rec.entries.size(); ++ready_index) {
        const auto* r = std::get_if<ReadyEntry>(&rec.entries[ready_index]);
        if (r != nullptr && r->ret == 1) break;
    }
    ASSERT_LT(ready_index, rec.entries.size());
    std::vector<AppLogEntry> entries(rec.entries.begin(), rec.entries.begin() + std::ptrdiff_t(ready_index + 1));
    uint8_t stdout_ready[kReadyFdWireSize];
    put_ready_fd(stdout_ready, {1, 1});
    std::get<ReadyEntry>(entries.back()).fds = std::span<const uint8_t>(stdout_ready, sizeof stdout_ready);

    Backup backup("epoll");
    const int feeder = backup.open_feeder(rec.clients[0].port);
    send_all(feeder, rec.clients[0].input);
    std::vector<uint8_t> channel = backup.name_of(rec.clients[0].port);
    append(channel, encode_all(entries, entries.size()));
    backup.send(channel);
    EXPECT_EQ(backup.notice(), fmt::format("diverged {}\n", ready_index + 1));
    const std::string reply = read_line(feeder);
    EXPECT_TRUE(reply.starts_with("conn 1 req 1 global 1 ")) << reply;
    EXPECT_TRUE(backup.replica().running());
    const std::string err = backup.replica().stderr_text();
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_TRUE(std::regex_search(err, std::regex("the replica called epoll_wait on ([0-9]+) with fd 1 never registered "
                                                  "where the primary called epoll_wait on \\1 reporting fd 1; the "
                                                  "replica goes live\n$")))
        << err;
}

// The backup opened client 1's feeder before client 0's, but the log ends (takeover)
// before the primary accepted client 1: the replica parked client 1's feeder while it
// waited for client 0's, replays client 0's turn exactly, and once live its epoll_wait
// reports the listener readable and accept hands out the parked feeder.
TEST(InputOrderGoLive, ParkedFeedersAreServedAfterTheLogEnds) {
    Recording rec;
    record_one_after_another(rec);
    ASSERT_FALSE(HasFailure());
    // Up to the turn that accepts client 1 (the last ready set before its accept).
    size_t cut = 0, accepts = 0;
    for (size_t i = 0; i < rec.entries.size(); ++i) {
        if (std::holds_alternative<ReadyEntry>(rec.entries[i]) && accepts < 2) cut = i;
        if (const auto* a = std::get_if<AcceptEntry>(&rec.entries[i]); a != nullptr && a->ret >= 0) ++accepts;
    }
    ASSERT_EQ(accepts, 2u);

    Backup backup("epoll");
    const int feeder1 = backup.open_feeder(rec.clients[1].port);
    send_all(feeder1, rec.clients[1].input);
    const int feeder0 = backup.open_feeder(rec.clients[0].port);
    send_all(feeder0, rec.clients[0].input);
    std::vector<uint8_t> channel = backup.name_of(rec.clients[0].port);
    append(channel, backup.name_of(rec.clients[1].port));
    append(channel, encode_all(rec.entries, cut));
    backup.send(channel);
    EXPECT_EQ(read_line(feeder0), rec.clients[0].output);
    EXPECT_TRUE(read_line(feeder1, 300).empty()) << "the parked feeder was served before the log ended";
    backup.close_channel();
    const std::string reply = read_line(feeder1);
    EXPECT_TRUE(reply.starts_with("conn 2 req 1 global 2 ")) << reply;
    EXPECT_NE(reply.find("to 'client 1 round 0'"), std::string::npos) << reply;
    send_all(feeder1, "again\n");
    EXPECT_TRUE(read_line(feeder1).starts_with("conn 2 req 2 global 3 "));
    EXPECT_TRUE(backup.replica().running());
    EXPECT_EQ(backup.replica().stderr_text(), "");
}

// A second thread reading a client connection makes an order no log can give a replica:
// the recording primary says so in one line, stops recording (the service runs on,
// unprotected) and records nothing after.
TEST(InputOrderRefusal, ASecondThreadOnAClientConnectionStopsRecording) {
    const std::string log_path = temp_path("thread.log");
    const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(log_fd, 0);
    Service primary("epoll", "record", log_fd, "thread");
    ::close(log_fd);
    const int port = primary.port();
    ASSERT_GT(port, 0) << primary.stderr_text();
    const int fd = connect_to(port);
    send_all(fd, "one\n");
    EXPECT_TRUE(read_line(fd).starts_with("conn 1 req 1 global 1 "));
    send_all(fd, "quit\n");
    EXPECT_EQ(read_line(fd), "bye\n");
    EXPECT_EQ(primary.wait_exit(), 0);
    ::close(fd);
    const std::string err = primary.stderr_text();
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_TRUE(std::regex_search(err, std::regex("^tcpfo-preload: thread [0-9]+ called recv on fd [0-9]+, which the main "
                                                  "thread records: another thread's calls have no order a replica "
                                                  "can be given; recording and output commit stop, the service runs "
                                                  "on unprotected\n$")))
        << err;
    // Nothing after the refusal: no read of the request, no clock.
    const auto log = read_file(log_path);
    std::filesystem::remove(log_path);
    for (const AppLogEntry& e : decode_all(log)) {
        EXPECT_FALSE(std::holds_alternative<SocketReadEntry>(e));
        EXPECT_FALSE(std::holds_alternative<ClockGettimeEntry>(e));
    }
}

// A forked child writing to a client connection: no log can give a replica that. The
// child exits 87 with one line before it writes; the parent records on.
TEST(InputOrderRefusal, AForkedChildUsingAClientConnectionExits) {
    const std::string log_path = temp_path("child.log");
    const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(log_fd, 0);
    Service primary("epoll", "record", log_fd, "child");
    ::close(log_fd);
    const int port = primary.port();
    ASSERT_GT(port, 0) << primary.stderr_text();
    const int fd = connect_to(port);
    send_all(fd, "one\n");
    EXPECT_TRUE(read_line(fd).starts_with("conn 1 req 1 global 1 ")) << "the child's bytes reached the client";
    send_all(fd, "quit\n");
    EXPECT_EQ(read_line(fd), "bye\n");
    EXPECT_EQ(primary.wait_exit(), 0);
    ::close(fd);
    const std::string err = primary.stderr_text();
    EXPECT_TRUE(std::regex_search(err, std::regex("^tcpfo-preload: forked child [0-9]+ called write on fd [0-9]+, which "
                                                  "its parent records or replays: a replica cannot be given a child's "
                                                  "use of a client connection; the child exits\nmulti_service: child "
                                                  "exit 87\n$")))
        << err;
    // The parent recorded on: its read of the request and its clock are in the log.
    const auto log = read_file(log_path);
    std::filesystem::remove(log_path);
    int reads = 0;
    for (const AppLogEntry& e : decode_all(log)) reads += std::holds_alternative<SocketReadEntry>(e);
    EXPECT_GT(reads, 0);
}

// What the service recorded reaches the log before it sleeps, not when the library's
// buffer fills or output waits at the gate: a client that connects and says nothing
// gets its accept into the log within a turn. (Buffered, an idle redis's start-up
// waited for its first client, and its replica, not yet listening, refused the
// backup's connections.)
TEST(InputOrderRecord, WhatWasRecordedGoesOutBeforeTheServiceSleeps) {
    for (const std::string loop : {"epoll", "poll", "select"}) {
        SCOPED_TRACE(loop);
        const std::string log_path = temp_path(loop + "-idle.log");
        const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(log_fd, 0);
        Service primary(loop, "record", log_fd);
        ::close(log_fd);
        const int port = primary.port();
        ASSERT_GT(port, 0) << primary.stderr_text();
        const int client = connect_to(port);
        ASSERT_GE(client, 0);
        bool accepted = false;
        const auto deadline = Clock::now() + std::chrono::milliseconds(kWaitMs);
        while (!accepted && Clock::now() < deadline) {
            for (const AppLogEntry& e : decode_all(read_file(log_path)))
                if (const auto* a = std::get_if<AcceptEntry>(&e); a != nullptr && a->ret >= 0) accepted = true;
            if (!accepted) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        EXPECT_TRUE(accepted) << "the accept of a silent client stayed in the service's buffer";
        EXPECT_TRUE(primary.running());
        ::close(client);
        std::filesystem::remove(log_path);
    }
}

// A write on a feeder the backup closed (its client's connection ended while the
// replica still replayed its replies) returns what the primary's write returned: the
// replica neither dies of the SIGPIPE (multi_service keeps the default action) nor
// leaves the log, and serves the next client exactly as the primary did.
TEST(InputOrderReplay, AWriteOnAFeederTheBackupClosedIsTheRecordedOne) {
    // Three replies: the first write after the reset fails with ECONNRESET, the next
    // ones with EPIPE and a SIGPIPE.
    Recording rec;
    record_one_after_another(rec, 3);
    ASSERT_FALSE(HasFailure());
    Backup backup("epoll");
    send_all(backup.open_feeder(rec.clients[0].port), rec.clients[0].input);
    std::vector<uint8_t> channel = backup.name_of(rec.clients[0].port);
    backup.reset_feeder(rec.clients[0].port);
    const int second = backup.open_feeder(rec.clients[1].port);
    send_all(second, rec.clients[1].input + "quit\n");
    append(channel, backup.name_of(rec.clients[1].port));
    append(channel, rec.log);
    backup.send(channel);
    EXPECT_EQ(read_line(second), rec.clients[1].output);
    EXPECT_EQ(read_line(second), "bye\n");
    EXPECT_EQ(backup.replica().wait_exit(), 0) << backup.replica().stderr_text();
    EXPECT_EQ(backup.replica().stderr_text(), "");
}

// tcpfo-redis-client: N connections pipelining redis commands that share state, for the
// redis failover scenarios (tests/netns/failover_redis.sh, failover_redis_time_random.sh).
// `--cycle incr` sends only `INCR KEY` on one shared key; `--cycle mix` interleaves each
// INCR with TIME, SADD, SET, RANDOMKEY and SRANDMEMBER (tests/tools/redis_reply_check.h
// says what is sent and what each reply must be). Through a failover it checks:
//   - every reply is well-formed RESP and passes its command's check;
//   - the INCR replies on one connection strictly increase, no value on two connections;
//   - once every command has its reply, `GET KEY` (on connection 0, which lived through
//     the failover, and on a new connection) equals the number of INCRs acknowledged,
//     and the values seen are exactly 1..that number (the key must not exist at start).
// Output: a progress file (pairs "live N slowest R total T resets X", R and T counting
// INCR replies, rewritten as it moves, for the scenario's crash condition) and one
// summary line, "redis-client conns=N ok=N failed=F resets=X corrupt=C acknowledged=A
// replies=R get=G max_stall_ms=S". Exit 0 when every check held, 1 otherwise, 2 for a
// usage error.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis_reply_check.h"
#include "resp_reply.h"
#include "tool_args.h"

using namespace tcpfo::streamtest;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::int64_t unix_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct Conn {
    int fd = -1;
    uint64_t sent = 0;     // commands written (or queued in `out`)
    uint64_t replies = 0;  // replies received and checked
    uint64_t incrs = 0;    // INCR replies among them
    std::string out;       // bytes not yet written
    std::string in;        // bytes not yet parsed
    bool failed = false;
    bool reset = false;
};

int connect_to(const sockaddr_in& to) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

// GET KEY on a blocking connection; the value or an error text.
std::optional<uint64_t> get_value(int fd, const std::string& key, std::string& error) {
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const std::string get = "*2\r\n$3\r\nGET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n";
    if (send(fd, get.data(), get.size(), MSG_NOSIGNAL) != ssize_t(get.size())) {
        error = std::string("GET: send: ") + std::strerror(errno);
        return std::nullopt;
    }
    std::string in;
    char buf[256];
    for (;;) {
        RespParse p = parse_resp(in);
        if (!p.error.empty()) {
            error = "GET: " + p.error;
            return std::nullopt;
        }
        if (p.reply) {
            auto v = p.reply->type == '$' && !p.reply->nil ? resp_integer(p.reply->text) : std::nullopt;
            if (!v || *v < 0) {
                error = "GET: not a number: '" + std::string(1, p.reply->type) + p.reply->text + "'";
                return std::nullopt;
            }
            return uint64_t(*v);
        }
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            error = n == 0 ? "GET: end of stream" : std::string("GET: recv: ") + std::strerror(errno);
            return std::nullopt;
        }
        in.append(buf, size_t(n));
    }
}

void usage() {
    std::fprintf(stderr,
                 "usage: tcpfo-redis-client --connect ADDR:PORT [--cycle incr|mix] [--conns N] [--incrs M]\n"
                 "         [--window W] [--rate R] [--key K] [--progress-file F] [--timeout-s T]\n"
                 "  N connections each send M command cycles (each starts with `INCR K`), at most W\n"
                 "  commands unanswered and R per second, check every reply, then GET K (see the\n"
                 "  source's header)\n");
}

}  // namespace

int main(int argc, char** argv) {
    std::optional<sockaddr_in> to;
    uint64_t conns_n = 4, incrs = 10000, window = 16, timeout_s = 60;
    double rate = 2000;
    RedisCycle cycle = RedisCycle::incr;
    std::string key = "k", progress_file;
    for (int i = 1; i < argc; ++i) {
        const std::string_view opt = argv[i];
        if (opt == "--help") return usage(), 0;
        if (i + 1 >= argc) return usage(), 2;
        const std::string_view v = argv[++i];
        tcpfo::Result<uint64_t> n = uint64_t(0);
        if (opt == "--connect") {
            auto e = parse_endpoint(opt, v);
            if (!e) return std::fprintf(stderr, "%s\n", e.error().message.c_str()), 2;
            to = *e;
            continue;
        }
        if (opt == "--cycle") {
            if (v == "incr") cycle = RedisCycle::incr;
            else if (v == "mix") cycle = RedisCycle::mix;
            else return std::fprintf(stderr, "--cycle: expected incr or mix, got '%.*s'\n", int(v.size()), v.data()), 2;
            continue;
        }
        if (opt == "--key") {
            if (v.empty() || v == "s" || v.starts_with("x:"))
                return std::fprintf(stderr, "--key: '%.*s' is empty or one of the mix's own keys\n", int(v.size()),
                                    v.data()), 2;
            key = v;
            continue;
        }
        if (opt == "--progress-file") { progress_file = v; continue; }
        if (opt == "--rate") {
            auto r = parse_positive_double(opt, v);
            if (!r) return std::fprintf(stderr, "%s\n", r.error().message.c_str()), 2;
            rate = *r;
            continue;
        }
        n = parse_uint(opt, v);
        if (!n) return std::fprintf(stderr, "%s\n", n.error().message.c_str()), 2;
        if (opt == "--conns") conns_n = *n;
        else if (opt == "--incrs") incrs = *n;
        else if (opt == "--window") window = *n;
        else if (opt == "--timeout-s") timeout_s = *n;
        else return usage(), 2;
    }
    if (!to || conns_n == 0 || incrs == 0 || window == 0) return usage(), 2;

    RedisReplyCheck check(cycle, conns_n, key, unix_us());
    const uint64_t commands = incrs * check.cycle_length();
    std::vector<Conn> conns(conns_n);
    for (size_t i = 0; i < conns.size(); ++i) {
        conns[i].fd = connect_to(*to);
        if (conns[i].fd < 0) {
            std::fprintf(stderr, "redis-client: conn %zu: connect: %s\n", i, std::strerror(errno));
            return 1;
        }
    }
    uint64_t corrupt = 0;
    const auto start = Clock::now();
    auto last_progress = start;
    double max_stall_ms = 0;
    std::string last_written;
    auto write_progress = [&](bool force) {
        if (progress_file.empty()) return;
        uint64_t live = 0, slowest = UINT64_MAX, total = 0, resets = 0;
        for (const auto& c : conns) {
            if (!c.failed) ++live;
            slowest = std::min(slowest, c.incrs);
            total += c.incrs;
            resets += c.reset;
        }
        const std::string line = "live " + std::to_string(live) + " slowest " + std::to_string(slowest) + " total " +
                                 std::to_string(total) + " resets " + std::to_string(resets) + "\n";
        if (!force && line == last_written) return;
        last_written = line;
        const std::string tmp = progress_file + ".tmp";
        if (FILE* f = std::fopen(tmp.c_str(), "w")) {
            std::fputs(line.c_str(), f);
            std::fclose(f);
            std::rename(tmp.c_str(), progress_file.c_str());
        }
    };
    auto fail = [&](Conn& c, size_t i, const std::string& why, bool reset = false) {
        if (c.failed) return;
        std::fprintf(stderr, "redis-client: conn %zu: %s (after %llu replies)\n", i, why.c_str(),
                     (unsigned long long)c.replies);
        c.failed = true;
        c.reset = reset;
        if (!reset) ++corrupt;
    };

    std::vector<pollfd> pfds(conns.size());
    for (;;) {
        bool busy = false;
        const double elapsed_s = ms_since(start) / 1000.0;
        const uint64_t allowed = std::min<uint64_t>(commands, uint64_t(elapsed_s * rate) + 1);
        for (size_t i = 0; i < conns.size(); ++i) {
            Conn& c = conns[i];
            pfds[i] = {c.fd, 0, 0};
            if (c.failed || c.replies == commands) continue;
            busy = true;
            while (c.sent < allowed && c.sent - c.replies < window) {
                c.out += check.next_command(i);
                ++c.sent;
            }
            pfds[i].events = POLLIN | (c.out.empty() ? 0 : POLLOUT);
        }
        if (!busy) break;
        if (ms_since(last_progress) > double(timeout_s) * 1000) {
            for (size_t i = 0; i < conns.size(); ++i)
                if (!conns[i].failed && conns[i].replies < commands)
                    fail(conns[i], i, "timed out: no reply for " + std::to_string(timeout_s) + " s");
            continue;
        }
        const int ready = poll(pfds.data(), pfds.size(), 5);
        if (ready < 0 && errno != EINTR) return std::perror("poll"), 1;
        for (size_t i = 0; i < conns.size(); ++i) {
            Conn& c = conns[i];
            if (c.failed || !pfds[i].revents) continue;
            if (!c.out.empty() && (pfds[i].revents & POLLOUT)) {
                const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
                if (n > 0) c.out.erase(0, size_t(n));
                else if (n < 0 && errno != EAGAIN) {
                    fail(c, i, std::string("send: ") + std::strerror(errno), errno == ECONNRESET || errno == EPIPE);
                    continue;
                }
            }
            if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[65536];
            const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
            if (n == 0) {
                fail(c, i, "end of stream before every reply");
                continue;
            }
            if (n < 0) {
                if (errno != EAGAIN) fail(c, i, std::string("recv: ") + std::strerror(errno), errno == ECONNRESET);
                continue;
            }
            c.in.append(buf, size_t(n));
            max_stall_ms = std::max(max_stall_ms, ms_since(last_progress));
            last_progress = Clock::now();
            size_t used = 0;
            const std::int64_t now = unix_us();
            while (!c.failed) {
                RespParse p = parse_resp(std::string_view(c.in).substr(used));
                if (!p.error.empty()) {
                    fail(c, i, p.error);
                    break;
                }
                if (!p.reply) break;
                used += p.size;
                const std::string why = check.check(i, c.replies, *p.reply, now);
                if (!why.empty()) {
                    fail(c, i, why);
                    break;
                }
                if (c.replies % check.cycle_length() == 0) ++c.incrs;
                ++c.replies;
            }
            c.in.erase(0, used);
        }
        write_progress(false);
    }
    write_progress(true);

    uint64_t acknowledged = 0, replies = 0, ok = 0, failed = 0, resets = 0;
    for (const auto& c : conns) {
        acknowledged += c.incrs;
        replies += c.replies;
        if (c.failed) ++failed;
        else ++ok;
        resets += c.reset;
    }
    bool good = failed == 0;
    std::string get_text = "none";
    if (good) {
        // Every command answered: the INCR values are exactly 1..acknowledged, and GET
        // says so on the connection that lived through the failover and on a new one.
        for (uint64_t v = 1; v <= acknowledged; ++v) {
            if (!check.values_seen().count(v)) {
                std::fprintf(stderr, "redis-client: no connection got value %llu of 1..%llu\n", (unsigned long long)v,
                             (unsigned long long)acknowledged);
                good = false;
                break;
            }
        }
        std::string error;
        auto old_get = get_value(conns[0].fd, key, error);
        const int fresh = connect_to(*to);
        std::string error_new = fresh < 0 ? std::string("connect: ") + std::strerror(errno) : "";
        std::optional<uint64_t> new_get;
        if (fresh >= 0) new_get = get_value(fresh, key, error_new);
        get_text = old_get ? std::to_string(*old_get) : "?";
        if (!old_get || *old_get != acknowledged) {
            std::fprintf(stderr, "redis-client: GET on conn 0 says %s, %llu INCRs were acknowledged%s%s\n",
                         get_text.c_str(), (unsigned long long)acknowledged, error.empty() ? "" : ": ", error.c_str());
            good = false;
        }
        if (!new_get || *new_get != acknowledged) {
            std::fprintf(stderr, "redis-client: GET on a new connection says %s, %llu INCRs were acknowledged%s%s\n",
                         new_get ? std::to_string(*new_get).c_str() : "?", (unsigned long long)acknowledged,
                         error_new.empty() ? "" : ": ", error_new.c_str());
            good = false;
        }
        if (fresh >= 0) close(fresh);
    }
    std::printf("redis-client conns=%zu ok=%llu failed=%llu resets=%llu corrupt=%llu acknowledged=%llu replies=%llu "
                "get=%s max_stall_ms=%.1f\n",
                conns.size(), (unsigned long long)ok, (unsigned long long)failed, (unsigned long long)resets,
                (unsigned long long)corrupt, (unsigned long long)acknowledged, (unsigned long long)replies,
                get_text.c_str(), max_stall_ms);
    for (auto& c : conns) close(c.fd);
    return good ? 0 : 1;
}

// tcpfo-stream-client: drives tcpfo-echo-service through the VIP and checks every byte.
// It is the assertion of the namespace tests: it exits non-zero on any lost,
// duplicated, reordered or corrupted byte (in counter mode: on any reply the shared
// counter cannot have given, counter_reply_check.h; in stamp mode: on a reply that is
// not the one owed or not intact, or whose time goes back, stamp_reply_check.h), on a
// reset, an early EOF or a timeout, and it reports the longest receive stall, which in
// a failover run is the stall the client saw (crash to first byte after the takeover).
#include <arpa/inet.h>
#include <csignal>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "client_options.h"
#include "counter_reply_check.h"
#include "stamp_reply_check.h"
#include "stream_protocol.h"
#include "userd/base/open_file_limit.h"

using namespace tcpfo;
using namespace tcpfo::streamtest;

namespace {

constexpr std::size_t io_chunk = 64 * 1024;
constexpr std::uint64_t half_close_trailer = 4096;
constexpr std::size_t max_reported_errors = 10;

std::int64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1'000'000'000ll + ts.tv_nsec;
}

// Per-connection pacing: a token bucket with a small burst, so that a pause (or a
// stall) does not turn into a burst afterwards. It releases bytes a quantum (20 ms
// worth, 1-16 KiB) at a time: releasing whatever had accumulated at each timer tick
// made 25 connections at 1 MB/s send segments of a few hundred bytes, and four such
// clients kept both cores busy with their own packets.
struct Pacer {
    double bytes_per_ns = 0;  // 0: unpaced
    double tokens = 0;
    double quantum = 0;
    std::int64_t last = 0;
    static constexpr double burst = 128 * 1024;

    void set_rate(double rate_bytes_per_ns) {
        bytes_per_ns = rate_bytes_per_ns;
        quantum = std::clamp(rate_bytes_per_ns * 20e6, 1024.0, 16384.0);
    }
    // Bytes that may move now: 0 until a quantum has accumulated.
    std::uint64_t allowance(std::int64_t now) {
        if (bytes_per_ns == 0) return UINT64_MAX;
        if (last != 0) tokens = std::min(burst, tokens + (now - last) * bytes_per_ns);
        last = now;
        return tokens >= quantum ? static_cast<std::uint64_t>(tokens) : 0;
    }
    // Nanoseconds until allowance() is non-zero again.
    std::int64_t wait_ns() const {
        if (bytes_per_ns == 0 || tokens >= quantum) return 0;
        return static_cast<std::int64_t>((quantum - tokens) / bytes_per_ns) + 1;
    }
    void spend(std::uint64_t n) {
        if (bytes_per_ns != 0) tokens -= static_cast<double>(n);
    }
};

// Conditions the loop polls (resume file, a half-closed connection's last ACK).
constexpr std::int64_t poll_interval_ns = 5'000'000;

struct Connection {
    int index = 0;
    int fd = -1;
    std::uint16_t seed = 0;
    std::uint16_t local_port = 0;
    bool connected = false;
    std::uint8_t header[header_size] = {};
    std::size_t header_sent = 0;

    std::uint64_t to_send = 0, sent = 0;        // payload the client sends
    std::uint64_t to_recv = 0, received = 0;    // payload the client must get back
    std::uint64_t recv_stream = 0;              // pattern the received bytes follow
    std::uint32_t sent_crc = 0;                 // upload: crc32 of what was sent
    std::uint8_t reply[sink_reply_size] = {};   // upload: the server's reply
    CounterReplies counter_replies;             // counter: the replies checked so far
    StampReplies stamp_replies;                 // stamp: the replies checked so far
    std::uint64_t trailer_sent = 0;             // half-close: bytes sent after the FIN
    bool shut_wr = false, eof = false, done = false, failed = false;
    bool paused = false;

    Pacer send_pacer, recv_pacer;
    // Stall accounting: since when the connection has been waiting for bytes it is owed
    // (-1: not waiting), and since when a send has been blocked by a full buffer.
    std::int64_t waiting_since = -1, send_blocked_since = -1;
    std::int64_t max_recv_stall = 0, max_recv_stall_at = 0, max_send_stall = 0;
    std::int64_t request_started = -1;  // rr: when the outstanding request was sent
    std::uint32_t events = 0;
    std::int64_t connected_at = 0;              // for --report-gaps-ms
    std::uint64_t acked_seen = 0;               // upload: acknowledged payload, last sample
    std::int64_t ack_waiting_since = -1;        // upload: unacknowledged bytes, no progress since
};

struct Totals {
    std::uint64_t sent = 0, verified = 0;
    std::uint64_t acked = 0;    // payload the server acknowledged (modes where the client sends)
    std::uint64_t slowest = 0;  // the least progress of any one connection (see progress_of)
    int done = 0, failed = 0, resets = 0, early_eofs = 0, timeouts = 0, corruptions = 0;
    int finished = 0;           // connections over, passed or failed
    int live = 0;               // connections connected and not over
    bool all_paused = false;
};

class StreamClient {
public:
    explicit StreamClient(const ClientOptions& options)
        : opt_(options),
          counter_check_(options.mode == ClientMode::counter ? options.conns * options.bytes / counter_request_size
                                                             : 0) {}

    int run() {
        epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_fd_ < 0) {
            fmt::print(stderr, "tcpfo-stream-client: epoll_create1: {}\n", std::strerror(errno));
            return 1;
        }
        start_ = now_ns();
        deadline_ = start_ + static_cast<std::int64_t>(opt_.timeout_s * 1e9);
        conns_.resize(opt_.conns);
        for (std::size_t i = 0; i < conns_.size(); ++i) open_connection(conns_[i], static_cast<int>(i));
        if (opt_.mode == ClientMode::request_response) latencies_.reserve(opt_.rr_count * opt_.conns);

        std::vector<epoll_event> ready(std::min<std::size_t>(conns_.size(), 1024));
        std::int64_t next_progress = 0;
        while (active_ > 0) {
            std::int64_t now = now_ns();
            if (now >= deadline_) {
                fail_unfinished_on_timeout();
                break;
            }
            next_wake_ = now + 50'000'000;  // brought forward by refresh() below
            check_resume(now);
            for (auto& c : conns_) if (!c.done) { progress(c, now); refresh(c, now); track_acks(c, now); }
            if (now >= next_progress) {
                write_progress();
                next_progress = now + 50'000'000;
            }
            if (active_ == 0) break;
            const int wait_ms = static_cast<int>(std::clamp<std::int64_t>((next_wake_ - now + 999'999) / 1'000'000, 1, 50));
            int n = epoll_wait(epoll_fd_, ready.data(), static_cast<int>(ready.size()), wait_ms);
            if (n < 0 && errno != EINTR) {
                fmt::print(stderr, "tcpfo-stream-client: epoll_wait: {}\n", std::strerror(errno));
                return 1;
            }
            now = now_ns();
            for (int i = 0; i < n; ++i) {
                Connection& c = conns_[ready[i].data.u32];
                if (c.done) continue;
                if (!c.connected) finish_connect(c, now);
                if (!c.done && c.connected && (ready[i].events & EPOLLERR)) {
                    int err = 0;
                    socklen_t len = sizeof err;
                    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
                    if (err != 0) {
                        fail_io(c, "socket error", err);
                        continue;
                    }
                }
                if (!c.done && c.connected && (ready[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                    receive(c, now);
                if (!c.done && c.connected && (ready[i].events & EPOLLOUT)) transmit(c, now);
            }
        }
        end_ = now_ns();
        write_progress();
        write_ports();
        return report();
    }

private:
    void open_connection(Connection& c, int index) {
        c.index = index;
        c.seed = static_cast<std::uint16_t>(opt_.seed_base + index);
        StreamHeader header;
        header.seed = c.seed;
        switch (opt_.mode) {
            case ClientMode::echo:
            case ClientMode::request_response:
                header.mode = StreamMode::echo;
                c.to_send = c.to_recv = opt_.bytes;
                c.recv_stream = client_stream(c.seed);
                break;
            case ClientMode::download:
                header.mode = StreamMode::source;
                c.to_recv = opt_.bytes;
                c.recv_stream = server_stream(c.seed);
                break;
            case ClientMode::upload:
                header.mode = StreamMode::sink;
                c.to_send = opt_.bytes;
                c.to_recv = sink_reply_size;
                break;
            case ClientMode::half_close:
                header.mode = StreamMode::half_close;
                c.to_recv = opt_.bytes;
                c.recv_stream = server_stream(c.seed);
                break;
            case ClientMode::counter:
                header.mode = StreamMode::counter;
                c.to_send = c.to_recv = opt_.bytes;  // a 32-byte reply per 32-byte request
                c.counter_replies.conn = static_cast<std::uint32_t>(index);
                c.counter_replies.seed = c.seed;
                break;
            case ClientMode::stamp:
                header.mode = StreamMode::stamp;
                c.to_send = c.to_recv = opt_.bytes;  // a 32-byte reply per 32-byte request
                c.stamp_replies.seed = c.seed;
                break;
        }
        header.count = header.mode == StreamMode::echo ? 0 : opt_.bytes;
        encode_header(header, std::span<std::uint8_t, header_size>(c.header, header_size));
        double rate = opt_.rate_mb_per_s * 1e6 / 1e9;
        if (rate > 0) {
            if (receives_stream()) c.recv_pacer.set_rate(rate);
            else c.send_pacer.set_rate(rate);
        }

        ++active_;
        c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) return fail_conn(c, fmt::format("socket: {}", std::strerror(errno)));
        if (opt_.nodelay) {
            int one = 1;
            setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        if (connect(c.fd, reinterpret_cast<const sockaddr*>(&opt_.target), sizeof opt_.target) != 0 &&
            errno != EINPROGRESS)
            return fail_conn(c, fmt::format("connect: {}", std::strerror(errno)));
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.u32 = static_cast<std::uint32_t>(index);
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev);
        c.events = EPOLLOUT;
    }

    void finish_connect(Connection& c, std::int64_t now) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return fail_conn(c, fmt::format("connect: {}", std::strerror(err)));
        sockaddr_in local{};
        len = sizeof local;
        getsockname(c.fd, reinterpret_cast<sockaddr*>(&local), &len);
        c.local_port = ntohs(local.sin_port);
        c.connected = true;
        c.connected_at = now;
        if (++connected_count_ == conns_.size()) write_ports();
        c.send_pacer.last = c.recv_pacer.last = now;
        refresh(c, now);
    }

    // download and half-close: the client reads a stream (pacing and --pause-at apply to
    // reading); the other modes send one (they apply to sending).
    bool receives_stream() const {
        return opt_.mode == ClientMode::download || opt_.mode == ClientMode::half_close;
    }

    // Bytes --pause-at counts: received for the modes that read a stream, else sent.
    std::uint64_t pause_counter(const Connection& c) const { return receives_stream() ? c.received : c.sent; }

    bool wants_to_send(const Connection& c) const {
        if (c.header_sent < header_size) return true;
        if (opt_.mode == ClientMode::half_close) return c.eof && c.trailer_sent < half_close_trailer;
        if (c.sent >= c.to_send || c.paused) return false;
        // rr: one request in flight at a time.
        if (opt_.mode == ClientMode::request_response && c.received < c.sent) return false;
        return true;
    }

    // Reply bytes owed for what the connection sent (echo, rr, counter, stamp): a
    // counter or stamp request sent in part is owed nothing yet.
    std::uint64_t replies_due(const Connection& c) const {
        if (opt_.mode == ClientMode::counter) return c.sent / counter_request_size * counter_reply_size;
        if (opt_.mode == ClientMode::stamp) return c.sent / stamp_request_size * stamp_reply_size;
        return c.sent;
    }

    // Bytes the connection is owed right now; a gap while owed bytes is a stall.
    bool owed_bytes(const Connection& c) const {
        if (!c.connected || c.eof) return false;
        switch (opt_.mode) {
            case ClientMode::echo:
            case ClientMode::request_response:
            case ClientMode::counter:
            case ClientMode::stamp: return c.received < replies_due(c);
            case ClientMode::upload: return c.sent == c.to_send && c.received < c.to_recv;
            case ClientMode::download:
            case ClientMode::half_close: return c.received < c.to_recv && !c.paused;
        }
        return false;
    }

    // Pause bookkeeping and end-of-stream actions that do not wait for a socket event.
    void progress(Connection& c, std::int64_t now) {
        if (!c.connected || c.done) return;
        if (opt_.pause_at && !resumed_ && pause_counter(c) >= *opt_.pause_at) c.paused = true;
        bool sending_over = c.header_sent == header_size && c.sent == c.to_send;
        switch (opt_.mode) {
            case ClientMode::echo:
            case ClientMode::request_response:
            case ClientMode::counter:
            case ClientMode::stamp:
                if (sending_over && !c.shut_wr) shut(c);
                if (c.shut_wr && c.eof && c.received == c.to_recv) finish(c);
                break;
            case ClientMode::download:
                if (c.received == c.to_recv && !c.shut_wr) shut(c);
                if (c.shut_wr && c.eof) finish(c);
                break;
            case ClientMode::upload:
                if (c.received == c.to_recv && !c.shut_wr) {
                    if (!check_sink_reply(c)) return;
                    shut(c);
                }
                if (c.shut_wr && c.eof) finish(c);
                break;
            case ClientMode::half_close:
                if (c.eof && c.trailer_sent == half_close_trailer && !c.shut_wr) shut(c);
                if (c.shut_wr) {
                    // Done once the server (or whoever took over) acknowledged the trailer
                    // and our FIN: the half-closed direction really worked.
                    int unacked = 0;
                    if (ioctl(c.fd, SIOCOUTQ, &unacked) == 0 && unacked == 0) finish(c);
                }
                break;
        }
        (void)now;
    }

    void shut(Connection& c) {
        if (shutdown(c.fd, SHUT_WR) != 0) return fail_io(c, "shutdown(SHUT_WR)", errno);
        c.shut_wr = true;
    }

    bool check_sink_reply(Connection& c) {
        SinkReply reply = decode_sink_reply(std::span<const std::uint8_t, sink_reply_size>(c.reply, sink_reply_size));
        if (reply.count != c.to_send || reply.crc != c.sent_crc) {
            ++corruptions_;
            fail_conn(c, fmt::format("server counted {} bytes with crc32 {:08x}, client sent {} with crc32 {:08x}",
                                     reply.count, reply.crc, c.to_send, c.sent_crc));
            return false;
        }
        return true;
    }

    // Recomputes the epoll interest and the stall clocks of one connection.
    void refresh(Connection& c, std::int64_t now) {
        if (c.done) return;
        std::uint32_t want = EPOLLOUT;
        if (c.connected) {
            want = 0;
            bool throttled = c.recv_pacer.allowance(now) == 0;
            bool read_paused = c.paused && receives_stream();
            if (!c.eof && !throttled && !read_paused) want |= EPOLLIN;
            if (throttled) wake_by(now + c.recv_pacer.wait_ns());
            if (wants_to_send(c)) {
                if (c.send_pacer.allowance(now) > 0) want |= EPOLLOUT;
                else wake_by(now + c.send_pacer.wait_ns());
            }
            if (c.paused || (c.shut_wr && opt_.mode == ClientMode::half_close)) wake_by(now + poll_interval_ns);
            bool owed = owed_bytes(c) && !throttled;
            if (!owed) c.waiting_since = -1;
            else if (c.waiting_since < 0) c.waiting_since = now;
            if (!wants_to_send(c)) c.send_blocked_since = -1;
        }
        if (want != c.events) {
            epoll_event ev{};
            ev.events = want;
            ev.data.u32 = static_cast<std::uint32_t>(c.index);
            epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
            c.events = want;
        }
    }

    void transmit(Connection& c, std::int64_t now) {
        std::uint8_t buf[io_chunk];
        for (int rounds = 0; rounds < 8 && wants_to_send(c); ++rounds) {
            std::size_t n = 0;
            bool is_header = c.header_sent < header_size;
            std::uint64_t allowed = is_header ? UINT64_MAX : c.send_pacer.allowance(now);
            if (is_header) {
                n = header_size - c.header_sent;
                std::memcpy(buf, c.header + c.header_sent, n);
            } else if (opt_.mode == ClientMode::half_close) {
                n = static_cast<std::size_t>(half_close_trailer - c.trailer_sent);
                fill_pattern(client_stream(c.seed), c.trailer_sent, std::span(buf, n));
            } else {
                std::uint64_t limit = c.to_send;
                if (opt_.pause_at && !resumed_) limit = std::min(limit, *opt_.pause_at);
                if (opt_.mode == ClientMode::request_response)
                    limit = std::min(limit, c.sent + opt_.rr_size);
                n = static_cast<std::size_t>(std::min<std::uint64_t>({limit - c.sent, io_chunk, allowed}));
                if (n == 0) break;
                fill_pattern(client_stream(c.seed), c.sent, std::span(buf, n));
            }
            ssize_t done = send(c.fd, buf, n, MSG_NOSIGNAL);
            if (done < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    if (c.send_blocked_since < 0) c.send_blocked_since = now;
                    break;
                }
                return fail_io(c, "send", errno);
            }
            if (c.send_blocked_since >= 0) {
                c.max_send_stall = std::max(c.max_send_stall, now - c.send_blocked_since);
                c.send_blocked_since = -1;
            }
            auto count = static_cast<std::uint64_t>(done);
            if (is_header) {
                c.header_sent += count;
                continue;
            }
            if (opt_.mode == ClientMode::half_close) {
                c.trailer_sent += count;
                continue;
            }
            if (opt_.mode == ClientMode::upload) c.sent_crc = crc32_update(c.sent_crc, std::span(buf, count));
            if (opt_.mode == ClientMode::request_response && c.received == c.sent) c.request_started = now;
            c.sent += count;
            c.send_pacer.spend(count);
        }
        progress(c, now);
        refresh(c, now);
    }

    void receive(Connection& c, std::int64_t now) {
        std::uint8_t buf[io_chunk];
        for (int rounds = 0; rounds < 8 && !c.done && !c.eof; ++rounds) {
            std::uint64_t allowed = c.recv_pacer.allowance(now);
            if (opt_.pause_at && !resumed_ && receives_stream())
                allowed = std::min(allowed, *opt_.pause_at - std::min(*opt_.pause_at, c.received));
            if (allowed == 0) break;
            std::size_t room = static_cast<std::size_t>(std::min<std::uint64_t>(io_chunk, allowed));
            ssize_t got = recv(c.fd, buf, room, 0);
            if (got < 0) {
                if (errno == EAGAIN || errno == EINTR) break;
                return fail_io(c, "recv", errno);
            }
            if (got == 0) {
                if (c.received < c.to_recv) {
                    ++early_eofs_;
                    return fail_conn(c, fmt::format("early EOF after {} of {} bytes", c.received, c.to_recv));
                }
                c.eof = true;
                break;
            }
            auto count = static_cast<std::uint64_t>(got);
            if (c.waiting_since >= 0) end_gap(c, c.waiting_since, now, "no byte");
            if (c.received + count > c.to_recv) {
                ++corruptions_;
                return fail_conn(c, fmt::format("received {} bytes more than the {} expected",
                                                c.received + count - c.to_recv, c.to_recv));
            }
            if (opt_.mode == ClientMode::upload) {
                std::memcpy(c.reply + c.received, buf, count);
            } else if (opt_.mode == ClientMode::counter) {
                auto ok = counter_check_.take(c.counter_replies, std::span(buf, count), c.sent / counter_request_size);
                if (!ok) {
                    ++corruptions_;
                    return fail_conn(c, ok.error().message);
                }
            } else if (opt_.mode == ClientMode::stamp) {
                auto ok = take_stamp_replies(c.stamp_replies, std::span(buf, count), c.sent / stamp_request_size);
                if (!ok) {
                    ++corruptions_;
                    return fail_conn(c, ok.error().message);
                }
            } else {
                std::size_t bad = find_pattern_mismatch(c.recv_stream, c.received, std::span(buf, count));
                if (bad != no_mismatch) {
                    ++corruptions_;
                    return fail_conn(c, fmt::format(
                        "byte {} differs: expected {:#04x}, got {:#04x} (lost, duplicated, reordered or corrupted data)",
                        c.received + bad, pattern_byte(c.recv_stream, c.received + bad), buf[bad]));
                }
            }
            c.received += count;
            c.recv_pacer.spend(count);
            if (opt_.mode == ClientMode::request_response && c.received == c.sent && c.request_started >= 0) {
                latencies_.push_back(now - c.request_started);
                c.request_started = -1;
            }
            c.waiting_since = owed_bytes(c) ? now : -1;
        }
        progress(c, now);
        refresh(c, now);
        if (!c.done && c.connected && wants_to_send(c)) transmit(c, now);
    }

    void check_resume(std::int64_t now) {
        if (!opt_.pause_at || resumed_) return;
        struct stat st{};
        if (stat(opt_.resume_file.c_str(), &st) == 0) {
            resumed_ = true;
            for (auto& c : conns_) c.paused = false;
        }
        wake_by(now + poll_interval_ns);
    }

    void wake_by(std::int64_t when) { next_wake_ = std::min(next_wake_, when); }

    void finish(Connection& c) {
        c.done = true;
        close(c.fd);
        --active_;
    }

    void fail_io(Connection& c, const char* what, int err) {
        if (err == ECONNRESET || err == EPIPE) ++resets_;
        fail_conn(c, fmt::format("{}: {}", what, std::strerror(err)));
    }

    void fail_conn(Connection& c, std::string why) {
        if (c.done) return;
        c.failed = true;
        if (errors_.size() < max_reported_errors)
            errors_.push_back(fmt::format("conn {} (local port {}): {}", c.index, c.local_port, why));
        finish(c);
    }

    void fail_unfinished_on_timeout() {
        std::int64_t now = now_ns();
        for (auto& c : conns_) {
            if (c.done) continue;
            ++timeouts_;
            // A stall still going on when time runs out is the longest one of all.
            if (c.waiting_since >= 0) end_gap(c, c.waiting_since, now, "no byte");
            if (c.ack_waiting_since >= 0) end_gap(c, c.ack_waiting_since, now, "no acknowledgement");
            fail_conn(c, fmt::format("timeout after {}s: sent {} of {}, received {} of {}{}", opt_.timeout_s,
                                     c.sent, c.to_send, c.received, c.to_recv, c.paused ? " (paused)" : ""));
        }
    }

    // Payload bytes of a connection the server has acknowledged: what it wrote minus
    // what its send queue still holds (SIOCOUTQ counts the header, and a FIN, too).
    std::uint64_t acked_payload(const Connection& c) const {
        if (c.done) return c.failed ? 0 : c.sent;
        if (!c.connected) return 0;
        int unacked = 0;
        if (ioctl(c.fd, SIOCOUTQ, &unacked) != 0 || unacked < 0) return 0;
        const std::uint64_t written = c.header_sent + c.sent + c.trailer_sent + (c.shut_wr ? 1 : 0);
        const std::uint64_t acked = written - std::min<std::uint64_t>(written, static_cast<std::uint64_t>(unacked));
        return std::min(c.sent, acked - std::min<std::uint64_t>(acked, header_size));
    }

    // One connection's progress, for "every connection is under way": the bytes it
    // verified, or for an upload (verified only at the end) the bytes acknowledged.
    std::uint64_t progress_of(const Connection& c) const {
        return opt_.mode == ClientMode::upload ? acked_payload(c) : c.received;
    }

    Totals totals() const {
        Totals t;
        t.all_paused = opt_.pause_at.has_value() && !resumed_;
        t.slowest = conns_.empty() ? 0 : UINT64_MAX;
        for (const auto& c : conns_) {
            t.sent += c.sent;
            t.verified += opt_.mode == ClientMode::upload ? (c.done && !c.failed ? c.sent : 0) : c.received;
            if (opt_.mode != ClientMode::download && opt_.mode != ClientMode::half_close) t.acked += acked_payload(c);
            t.slowest = std::min(t.slowest, progress_of(c));
            if (c.done) ++t.finished;
            else if (c.connected) ++t.live;
            if (c.done && !c.failed) ++t.done;
            if (c.failed) ++t.failed;
            // "paused" means idle: every paused connection has all its echo (or replies) back.
            const bool owed_replies = opt_.mode == ClientMode::echo || opt_.mode == ClientMode::counter ||
                                      opt_.mode == ClientMode::stamp;
            bool idle = c.paused && (!owed_replies || c.received == replies_due(c));
            if (!idle && !c.done) t.all_paused = false;
        }
        return t;
    }

    void write_progress() {
        if (opt_.progress_file.empty()) return;
        Totals t = totals();
        std::string tmp = opt_.progress_file + ".tmp";
        FILE* f = std::fopen(tmp.c_str(), "w");
        if (!f) return;
        fmt::print(f, "verified {} sent {} done {} failed {} paused {} acked {} slowest {} finished {} live {}\n",
                   t.verified, t.sent, t.done, t.failed, t.all_paused ? 1 : 0, t.acked, t.slowest, t.finished, t.live);
        std::fclose(f);
        std::rename(tmp.c_str(), opt_.progress_file.c_str());
    }

    void write_ports() {
        if (opt_.ports_file.empty()) return;
        std::string tmp = opt_.ports_file + ".tmp";
        FILE* f = std::fopen(tmp.c_str(), "w");
        if (!f) {
            fmt::print(stderr, "tcpfo-stream-client: can't write {}: {}\n", opt_.ports_file, std::strerror(errno));
            return;
        }
        for (const auto& c : conns_) if (c.local_port) fmt::print(f, "{}\n", c.local_port);
        std::fclose(f);
        std::rename(tmp.c_str(), opt_.ports_file.c_str());
    }

    // Receive gaps of a millisecond or more, in monotonic ns, so the one spanning a
    // crash can be picked out afterwards (the longest gap of a run may be elsewhere).
    // A connection waited from `from` to `now` for bytes (or an acknowledgement) it was
    // owed: a stall, whatever its length.
    void end_gap(Connection& c, std::int64_t from, std::int64_t now, const char* what) {
        const std::int64_t stall = now - from;
        note_gap(from, now);
        if (opt_.report_gaps_ms > 0 && stall >= opt_.report_gaps_ms * 1e6)
            fmt::print(stderr, "tcpfo-stream-client: {} conn {} (local port {}): {} for {:.1f} ms from {:.3f} s "
                               "(connected at {:.3f} s), after {} received, {} sent\n",
                       opt_.label, c.index, c.local_port, what, stall / 1e6, (from - start_) / 1e9,
                       (c.connected_at - start_) / 1e9, c.received, c.sent);
        if (stall > c.max_recv_stall) {
            c.max_recv_stall = stall;
            c.max_recv_stall_at = from - start_;
        }
    }

    // Upload: a connection is owed the acknowledgement of what it sent (the server's
    // reply comes only at the end). The acknowledged count is sampled on every pass of
    // the loop (at least once per pacing quantum); a stall is the time it did not move
    // while bytes were unacknowledged. Without this an upload's failover stall would
    // not show: the client keeps writing into its send buffer through the crash.
    void track_acks(Connection& c, std::int64_t now) {
        if (opt_.mode != ClientMode::upload || !c.connected || c.done) return;
        const std::uint64_t acked = acked_payload(c);
        const bool outstanding = acked < c.sent;
        if (acked > c.acked_seen) {
            if (c.ack_waiting_since >= 0) end_gap(c, c.ack_waiting_since, now, "no acknowledgement");
            c.acked_seen = acked;
            c.ack_waiting_since = outstanding ? now : -1;
        } else if (!outstanding) {
            c.ack_waiting_since = -1;
        } else if (c.ack_waiting_since < 0) {
            c.ack_waiting_since = now;
        }
    }

    void note_gap(std::int64_t from, std::int64_t to) {
        if (to - from >= 1000000 && gaps_.size() < (1u << 20)) gaps_.emplace_back(from, to);
    }

    // The longest gap overlapping the half-second (--crash-window-ms) after the crash time in --crash-file
    // (bytes already on the wire still arrive for a moment after the link is cut, so
    // the failover stall starts just after it); -1 without a crash file. `from_ms`: where
    // that gap began, in ms after the crash time (negative: before it), which tells the
    // failover's gap from a later one in the same half second.
    double crash_stall_ms(double* from_ms = nullptr) const {
        const std::optional<std::int64_t> crash = crash_time();
        if (!crash) return -1;
        std::int64_t longest = 0, longest_from = *crash;
        for (const auto& [from, to] : gaps_)
            if (to >= *crash && from <= *crash + std::int64_t(opt_.crash_window_ms * 1e6) && to - from > longest) {
                longest = to - from;
                longest_from = from;
            }
        if (from_ms) *from_ms = (longest_from - *crash) / 1e6;
        return longest / 1e6;
    }

    // The longest gap that ended before the crash time: what this machine does to the
    // stream by itself (a busy core, a late wake-up). A stall goal below it cannot be
    // measured in this run (tests/netns/handover.sh). -1 without a crash file.
    double pre_crash_gap_ms() const {
        const std::optional<std::int64_t> crash = crash_time();
        if (!crash) return -1;
        std::int64_t longest = 0;
        for (const auto& [from, to] : gaps_)
            if (to < *crash) longest = std::max(longest, to - from);
        return longest / 1e6;
    }

    // The crash time of --crash-file (wall-clock ns) on this process's monotonic clock.
    std::optional<std::int64_t> crash_time() const {
        if (opt_.crash_file.empty()) return std::nullopt;
        std::FILE* f = std::fopen(opt_.crash_file.c_str(), "r");
        if (!f) return std::nullopt;
        long long crash_real = 0;
        const bool ok = std::fscanf(f, "%lld", &crash_real) == 1;
        std::fclose(f);
        if (!ok) return std::nullopt;
        timespec real{}, mono{};
        clock_gettime(CLOCK_REALTIME, &real);
        clock_gettime(CLOCK_MONOTONIC, &mono);
        const std::int64_t offset = (real.tv_sec - mono.tv_sec) * 1000000000LL + (real.tv_nsec - mono.tv_nsec);
        return crash_real - offset;
    }

    int report() {
        Totals t = totals();
        std::int64_t recv_stall = 0, recv_stall_at = 0, send_stall = 0;
        for (const auto& c : conns_) {
            if (c.max_recv_stall > recv_stall) {
                recv_stall = c.max_recv_stall;
                recv_stall_at = c.max_recv_stall_at;
            }
            send_stall = std::max(send_stall, c.max_send_stall);
        }
        double seconds = std::max(1e-9, (end_ - start_) / 1e9);
        std::uint64_t received = 0;
        for (const auto& c : conns_) received += c.received;
        double up = opt_.mode == ClientMode::download || opt_.mode == ClientMode::half_close ? 0 : t.sent / seconds / 1e6;
        double down = opt_.mode == ClientMode::upload ? 0 : received / seconds / 1e6;
        // --expect-resets N: exactly N connections end in a reset (a takeover that
        // cannot continue them must reset them), every other one is verified whole.
        const int expected_resets = static_cast<int>(opt_.expect_resets);
        bool ok = t.failed == expected_resets && resets_ == expected_resets && corruptions_ == 0 &&
                  timeouts_ == 0 && early_eofs_ == 0 && t.done + t.failed == static_cast<int>(conns_.size());
        for (const auto& e : errors_) fmt::print(stderr, "tcpfo-stream-client: {}\n", e);
        std::string rr;
        if (opt_.mode == ClientMode::request_response && !latencies_.empty()) {
            std::sort(latencies_.begin(), latencies_.end());
            auto pct = [&](double p) {
                return latencies_[std::min(latencies_.size() - 1, static_cast<std::size_t>(p * latencies_.size()))] / 1e3;
            };
            rr = fmt::format(" requests={} rr_p50_us={:.1f} rr_p99_us={:.1f}", latencies_.size(), pct(0.50), pct(0.99));
        }
        double crash_from_ms = 0;
        if (const double crash = crash_stall_ms(&crash_from_ms); crash >= 0)
            rr += fmt::format(" crash_stall_ms={:.1f} crash_gap_from_ms={:.1f} pre_crash_gap_ms={:.1f}", crash,
                              crash_from_ms, pre_crash_gap_ms());
        fmt::print("stream-client {} mode={} conns={} ok={} failed={} sent={} verified={} seconds={:.3f} "
                   "up_MBps={:.1f} down_MBps={:.1f} max_stall_ms={:.1f} stall_at_s={:.3f} send_stall_ms={:.1f} "
                   "resets={} early_eofs={} corrupt={} timeouts={}{} result={}\n",
                   opt_.label, mode_name(), conns_.size(), t.done, t.failed, t.sent, t.verified, seconds, up, down,
                   recv_stall / 1e6, recv_stall_at / 1e9, send_stall / 1e6, resets_, early_eofs_, corruptions_,
                   timeouts_, rr, ok ? "PASS" : "FAIL");
        std::fflush(stdout);
        return ok ? 0 : 1;
    }

    const char* mode_name() const {
        switch (opt_.mode) {
            case ClientMode::echo: return "echo";
            case ClientMode::download: return "download";
            case ClientMode::upload: return "upload";
            case ClientMode::half_close: return "half-close";
            case ClientMode::request_response: return "rr";
            case ClientMode::counter: return "counter";
            case ClientMode::stamp: return "stamp";
        }
        return "?";
    }

    const ClientOptions& opt_;
    int epoll_fd_ = -1;
    std::vector<Connection> conns_;
    std::int64_t start_ = 0, end_ = 0, deadline_ = 0;
    int active_ = 0;
    std::size_t connected_count_ = 0;
    bool resumed_ = false;
    std::int64_t next_wake_ = 0;  // when the loop must look again at the latest (pacing, polling)
    int resets_ = 0, early_eofs_ = 0, corruptions_ = 0, timeouts_ = 0;
    std::vector<std::string> errors_;
    std::vector<std::int64_t> latencies_;
    std::vector<std::pair<std::int64_t, std::int64_t>> gaps_;
    CounterReplyCheck counter_check_;
};

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    bool help = false;
    auto options = parse_client_options(argc, argv, help);
    if (help) {
        std::fputs(client_usage, stdout);
        return 0;
    }
    if (!options) {
        fmt::print(stderr, "tcpfo-stream-client: {}\n(see tcpfo-stream-client --help)\n", options.error().message);
        return 2;
    }
    // One descriptor per connection (--conns up to 60000): take all the limit allows.
    if (auto files = raise_open_file_limit(); !files)
        fmt::print(stderr, "tcpfo-stream-client: {}\n", files.error().message);
    StreamClient client(*options);
    return client.run();
}

// tcpfo-echo-service: the deterministic application used by the namespace tests.
// Its output on a connection depends only on the bytes the client sent on that
// connection, so a replica fed the same input by failoverd produces the same output.
// Except in COUNTER mode, on purpose: there every reply carries the next value of one
// counter shared by all connections, so a replica, which sees the connections'
// requests interleaved otherwise, answers them differently (the divergence test).
// And in STAMP mode: every reply carries the clock (clock_gettime) and random bytes
// (getrandom), the same in a replica only where those results are replayed (run under
// tcpfo-run on both nodes).
//
//   tcpfo-echo-service --listen 0.0.0.0:7000 [--max-conns N]
//
// Each connection starts with a 16-byte header (stream_protocol.h) choosing ECHO,
// SOURCE, SINK, HALF_CLOSE, COUNTER or STAMP. One epoll loop, nonblocking sockets,
// level-triggered. Each connection owns one bounded output buffer; while it is full
// the connection is not read (backpressure reaches the client through TCP's window).
// Each wake-up moves at most `wakeup_budget` bytes per direction on one connection, so
// the loop serves its connections in turn: a connection whose socket buffers take
// megabytes at once (a SOURCE whose client reads slowly) cannot hold the others up for
// a whole pass.
#include <arpa/inet.h>
#include <csignal>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "userd/base/log.h"
#include "userd/base/open_file_limit.h"
#include "stream_protocol.h"
#include "tool_args.h"

using namespace tcpfo;
using namespace tcpfo::streamtest;

namespace {

constexpr std::size_t output_capacity = 256 * 1024;
constexpr std::size_t read_chunk = 64 * 1024;
// Bytes read, and bytes written, per connection per wake-up. With 16 x 256 KiB per
// wake-up, 50 SOURCE connections filling their send buffers (megabytes each, as their
// clients read at 1 MB/s) made one pass of the loop take 0.5-2.5 s on two busy cores,
// and every ECHO connection stalled that long (seen in the 100-connection scenario).
constexpr std::size_t wakeup_budget = 64 * 1024;

// COUNTER and STAMP share the request/reply plumbing: a reply of the request's size.
constexpr std::size_t request_size = counter_request_size;
static_assert(counter_reply_size == request_size && stamp_request_size == request_size &&
              stamp_reply_size == request_size);

// A connection's output buffer: anonymous memory mapped with its pages populated in
// one call. A value-initialised vector of 256 KiB takes 64 page faults on first touch;
// on the (virtualised) test machines a fault costs ~12 us idle and several times that
// on busy cores, so accepting 100 connections at once held the loop for 0.4 s, during
// which no connection was served. Zero-filled by mmap, no memset.
class OutputBuffer {
public:
    OutputBuffer() = default;
    OutputBuffer(const OutputBuffer&) = delete;
    OutputBuffer& operator=(const OutputBuffer&) = delete;
    ~OutputBuffer() {
        if (data_) munmap(data_, output_capacity);
    }
    // false when the memory cannot be had (the connection is then refused).
    // `populate`: fault the pages in now. Worth it for a few hundred busy
    // connections; ten thousand idle ones would hold 2.5 GiB for nothing.
    bool allocate(bool populate) {
        void* p = mmap(nullptr, output_capacity, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0), -1, 0);
        if (p == MAP_FAILED) return false;
        data_ = static_cast<std::uint8_t*>(p);
        return true;
    }
    std::uint8_t* data() { return data_; }

private:
    std::uint8_t* data_ = nullptr;
};

struct Connection {
    int fd = -1;
    std::string peer;
    std::uint8_t header_bytes[header_size] = {};
    std::size_t header_received = 0;
    std::optional<StreamHeader> header;

    // Pending output: out[out_begin, out_end). Bounded by output_capacity.
    OutputBuffer out;
    std::size_t out_begin = 0, out_end = 0;

    std::uint64_t generated = 0;  // SOURCE / HALF_CLOSE pattern bytes put into `out`
    std::uint64_t sunk = 0;       // SINK payload bytes counted
    std::uint32_t sink_crc = 0;
    std::uint8_t request[request_size] = {};  // COUNTER, STAMP: the request being read
    std::size_t request_len = 0;
    std::uint64_t requests_answered = 0;      // COUNTER, STAMP: the next reply's index
    bool reply_queued = false;
    bool peer_eof = false;
    bool write_shut = false;
    std::uint32_t events = 0;  // current epoll interest

    std::size_t pending() const { return out_end - out_begin; }
    std::size_t free_space() const { return output_capacity - out_end; }
    void compact() {
        if (out_begin == out_end) out_begin = out_end = 0;
        else if (out_begin > output_capacity / 2) compact_fully();
    }
    void compact_fully() {
        std::memmove(out.data(), out.data() + out_begin, pending());
        out_end -= out_begin;
        out_begin = 0;
    }
    // COUNTER, STAMP: input bytes `out` can answer now, once compacted. A request
    // completed by them becomes a reply of the same size, and the partial request read
    // already counts too.
    std::size_t request_input_room() const {
        const std::size_t room = output_capacity - pending();
        return room > request_len ? room - request_len : 0;
    }
};

// COUNTER, STAMP: every 32-byte request gets a 32-byte reply.
bool answers_requests(const Connection& c) {
    return c.header && (c.header->mode == StreamMode::counter || c.header->mode == StreamMode::stamp);
}

bool generates_output(const Connection& c) {
    return c.header && (c.header->mode == StreamMode::source ||
                        c.header->mode == StreamMode::half_close);
}

// Fill the output buffer with the next pattern bytes (SOURCE, HALF_CLOSE).
void generate(Connection& c) {
    if (!generates_output(c)) return;
    c.compact();
    std::uint64_t left = c.header->count - c.generated;
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, c.free_space()));
    if (n == 0) return;
    fill_pattern(server_stream(c.header->seed), c.generated,
                 std::span(c.out.data() + c.out_end, n));
    c.out_end += n;
    c.generated += n;
}

bool wants_read(const Connection& c) {
    if (c.peer_eof) return false;
    if (!c.header) return true;
    // ECHO, COUNTER, STAMP: only while there is room for the answer to what we read
    // (the backpressure).
    if (c.header->mode == StreamMode::echo) return c.free_space() > 0 || c.out_begin > 0;
    if (answers_requests(c)) return c.request_input_room() > 0;
    return true;
}

bool wants_write(const Connection& c) {
    if (c.pending() > 0) return true;
    return generates_output(c) && c.generated < c.header->count;
}

// The connection's work is over: the client has closed its side and everything the
// mode owes it has been sent.
bool finished(const Connection& c) {
    if (!c.peer_eof || c.pending() > 0) return false;
    if (!c.header) return true;
    switch (c.header->mode) {
        case StreamMode::echo: return true;
        case StreamMode::source: return c.generated == c.header->count;
        case StreamMode::sink: return true;  // a client that left early gets no reply
        case StreamMode::half_close: return c.write_shut;
        case StreamMode::counter:
        case StreamMode::stamp: return true;  // a partial last request gets no reply
    }
    return true;
}

class EchoService {
public:
    EchoService(int listen_fd, int epoll_fd, std::size_t max_conns)
        : listen_fd_(listen_fd), epoll_fd_(epoll_fd), max_conns_(max_conns) {}

    int run() {
        epoll_event events[256];
        for (;;) {
            int n = epoll_wait(epoll_fd_, events, 256, -1);
            if (n < 0) {
                if (errno == EINTR) continue;
                log_error("epoll_wait: {}", std::strerror(errno));
                return 1;
            }
            for (int i = 0; i < n; ++i) {
                if (events[i].data.ptr == nullptr) accept_all();
                else service(*static_cast<Connection*>(events[i].data.ptr), events[i].events);
            }
        }
    }

private:
    void accept_all() {
        for (;;) {
            sockaddr_in peer{};
            socklen_t len = sizeof peer;
            int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                    log_warn("accept on the listening socket: {}", std::strerror(errno));
                return;
            }
            char text[INET_ADDRSTRLEN] = "?";
            inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
            std::string name = fmt::format("{}:{}", text, ntohs(peer.sin_port));
            if (conns_.size() >= max_conns_) {
                log_warn("refusing {}: {} connections open (--max-conns)", name, conns_.size());
                close(fd);
                continue;
            }
            auto conn = std::make_unique<Connection>();
            if (!conn->out.allocate(conns_.size() < 1024)) {
                log_warn("refusing {}: no memory for its output buffer: {}", name, std::strerror(errno));
                close(fd);
                continue;
            }
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            conn->fd = fd;
            conn->peer = std::move(name);
            Connection* raw = conn.get();
            conns_.emplace(fd, std::move(conn));
            update_interest(*raw, /*add=*/true);
        }
    }

    void service(Connection& c, std::uint32_t ready) {
        if (ready & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            if (!read_some(c)) return drop(c);
        }
        if (ready & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
            if (!write_some(c)) return drop(c);
        }
        if (finished(c)) return drop(c);
        update_interest(c, false);
    }

    // false: the connection is dead (reset or error) and must be dropped.
    bool read_some(Connection& c) {
        std::uint8_t scratch[read_chunk];
        std::size_t budget = wakeup_budget;
        while (budget > 0 && wants_read(c)) {
            std::uint8_t* dest = scratch;
            std::size_t room = std::min(sizeof scratch, budget);
            if (!c.header) {
                dest = c.header_bytes + c.header_received;
                room = header_size - c.header_received;
            } else if (c.header->mode == StreamMode::echo) {
                c.compact();
                dest = c.out.data() + c.out_end;
                room = std::min(c.free_space(), budget);
                if (room == 0) return true;
            } else if (answers_requests(c)) {
                // The replies to what we read, with the partial request read already,
                // must fit behind out_end: move the pending output down when they may not.
                c.compact();
                if (c.free_space() < c.request_len + request_size) c.compact_fully();
                room = std::min(room, c.free_space() - c.request_len);  // > 0: wants_read
            }
            ssize_t got = recv(c.fd, dest, room, 0);
            if (got < 0) {
                if (errno == EAGAIN || errno == EINTR) return true;
                log_info("{}: receive failed: {}", c.peer, std::strerror(errno));
                return false;
            }
            if (got == 0) {
                c.peer_eof = true;
                if (answers_requests(c) && c.request_len > 0)
                    log_warn("{}: EOF after {} bytes of a {}-byte request, which gets no reply", c.peer,
                             c.request_len, request_size);
                return true;
            }
            if (c.header) budget -= static_cast<std::size_t>(got);
            if (!consume(c, dest, static_cast<std::size_t>(got))) return false;
        }
        return true;
    }

    // false: the connection cannot be served any more (STAMP: no random bytes).
    bool consume(Connection& c, const std::uint8_t* data, std::size_t n) {
        if (!c.header) {
            c.header_received += n;
            if (c.header_received < header_size) return true;
            c.header = decode_header(std::span<const std::uint8_t, header_size>(c.header_bytes, header_size));
            if (!c.header) {
                // A client that does not speak the protocol gets its connection closed;
                // treat it like EOF so the loop closes it.
                log_warn("{}: bad request header, closing", c.peer);
                c.header = StreamHeader{StreamMode::echo, 0, 0};
                c.peer_eof = true;
            }
            generate(c);
            return true;
        }
        switch (c.header->mode) {
            case StreamMode::echo: c.out_end += n; break;  // read straight into `out`
            case StreamMode::source:
            case StreamMode::half_close: break;  // the client's bytes are dropped
            case StreamMode::sink: {
                std::uint64_t counted = std::min<std::uint64_t>(n, c.header->count - c.sunk);
                c.sink_crc = crc32_update(c.sink_crc, std::span(data, counted));
                c.sunk += counted;
                if (c.sunk == c.header->count && !c.reply_queued) {
                    c.compact();
                    encode_sink_reply({c.sunk, c.sink_crc},
                                      std::span<std::uint8_t, sink_reply_size>(
                                          c.out.data() + c.out_end, sink_reply_size));
                    c.out_end += sink_reply_size;
                    c.reply_queued = true;
                }
                break;
            }
            case StreamMode::counter:
            case StreamMode::stamp: return answer_requests(c, data, n);
        }
        return true;
    }

    // COUNTER, STAMP: a reply for every request completed by `data`, into `out`
    // (read_some read no more than `out` can take). COUNTER's counter is the service's,
    // not the connection's: the only state shared across connections, and the point of
    // the mode. false: a STAMP reply could not be made (getrandom failed).
    bool answer_requests(Connection& c, const std::uint8_t* data, std::size_t n) {
        while (n > 0) {
            const std::size_t take = std::min(n, request_size - c.request_len);
            std::memcpy(c.request + c.request_len, data, take);
            c.request_len += take;
            data += take;
            n -= take;
            if (c.request_len < request_size) return true;
            const std::uint64_t index = c.requests_answered++;
            const auto request = std::span<const std::uint8_t, request_size>(c.request, request_size);
            const auto out = std::span<std::uint8_t, request_size>(c.out.data() + c.out_end, request_size);
            if (c.header->mode == StreamMode::counter) {
                const std::uint64_t value = next_counter_value_++;
                encode_counter_reply({value, index, counter_reply_crc(request, value, index)}, c.header->seed, out);
            } else if (!stamp(c, request, index, out)) {
                return false;
            }
            c.out_end += request_size;
            c.request_len = 0;
        }
        return true;
    }

    // STAMP: the request's index, the clock and 8 random bytes, each read now (one
    // clock_gettime and, normally, one getrandom per request: what tcpfo-run records on
    // the primary and replays in the replica).
    bool stamp(Connection& c, std::span<const std::uint8_t, request_size> request, std::uint64_t index,
               std::span<std::uint8_t, request_size> out) {
        StampReply reply;
        reply.index = index;
        timespec now{};
        clock_gettime(CLOCK_REALTIME, &now);
        reply.time_ns = static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
        for (std::size_t got = 0; got < stamp_random_size;) {
            const ssize_t n = getrandom(reply.random + got, stamp_random_size - got, 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                log_error("{}: getrandom: {}; closing the connection", c.peer, std::strerror(errno));
                return false;
            }
            got += static_cast<std::size_t>(n);
        }
        reply.crc = stamp_reply_crc(request, reply.index, reply.time_ns, reply.random);
        encode_stamp_reply(reply, out);
        return true;
    }

    bool write_some(Connection& c) {
        std::size_t budget = wakeup_budget;
        while (budget > 0) {
            generate(c);
            if (c.pending() == 0) break;
            const std::size_t n = std::min(c.pending(), budget);
            ssize_t sent = send(c.fd, c.out.data() + c.out_begin, n, MSG_NOSIGNAL);
            if (sent < 0) {
                if (errno == EAGAIN || errno == EINTR) return true;
                log_info("{}: send failed: {}", c.peer, std::strerror(errno));
                return false;
            }
            c.out_begin += static_cast<std::size_t>(sent);
            budget -= static_cast<std::size_t>(sent);
            c.compact();
            if (static_cast<std::size_t>(sent) < n) break;  // the socket buffer is full
        }
        if (c.header && c.header->mode == StreamMode::half_close && !c.write_shut &&
            c.generated == c.header->count && c.pending() == 0) {
            if (shutdown(c.fd, SHUT_WR) != 0) {
                log_info("{}: shutdown(SHUT_WR): {}", c.peer, std::strerror(errno));
                return false;
            }
            c.write_shut = true;
        }
        return true;
    }

    void update_interest(Connection& c, bool add) {
        // No EPOLLRDHUP: EOF shows up as a readable socket, and a level-triggered
        // RDHUP would keep firing while we still owe the client output.
        std::uint32_t want = (wants_read(c) ? std::uint32_t{EPOLLIN} : 0u) |
                             (wants_write(c) ? std::uint32_t{EPOLLOUT} : 0u);
        // A half-closing connection must still get to its shutdown() once drained.
        if (c.header && c.header->mode == StreamMode::half_close && !c.write_shut &&
            c.generated == c.header->count)
            want |= EPOLLOUT;
        if (!add && want == c.events) return;
        epoll_event ev{};
        ev.events = want;
        ev.data.ptr = &c;
        if (epoll_ctl(epoll_fd_, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev) != 0)
            log_error("{}: epoll_ctl: {}", c.peer, std::strerror(errno));
        c.events = want;
    }

    void drop(Connection& c) {
        close(c.fd);  // also removes it from the epoll set
        conns_.erase(c.fd);
    }

    int listen_fd_;
    int epoll_fd_;
    std::size_t max_conns_;
    std::unordered_map<int, std::unique_ptr<Connection>> conns_;
    std::uint64_t next_counter_value_ = 1;  // COUNTER: shared by every connection
};

void usage(FILE* to) {
    std::fputs("usage: tcpfo-echo-service --listen ADDR:PORT [--max-conns N]\n", to);
}

Result<int> open_listener(const sockaddr_in& addr) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return sys_fail(errno, "can't create the listening socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addr.sin_addr, text, sizeof text);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
        return sys_fail(errno, "can't bind {}:{}", text, ntohs(addr.sin_port));
    // As deep as net.core.somaxconn allows: thousands of clients may connect at once.
    if (listen(fd, 65535) != 0) return sys_fail(errno, "can't listen on {}:{}", text, ntohs(addr.sin_port));
    return fd;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    std::optional<sockaddr_in> listen_addr;
    std::uint64_t max_conns = 4096;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fmt::print(stderr, "tcpfo-echo-service: {} needs a value (or is unknown)\n", arg);
            return 2;
        }
        std::string_view value = argv[++i];
        Result<void> ok;
        if (arg == "--listen") {
            auto parsed = parse_endpoint(arg, value);
            if (parsed) listen_addr = *parsed; else ok = std::unexpected(parsed.error());
        } else if (arg == "--max-conns") {
            auto parsed = parse_uint(arg, value);
            if (parsed && *parsed > 0) max_conns = *parsed;
            else ok = fail("--max-conns: expected a positive integer, got '{}'", value);
        } else {
            ok = fail("unknown option {}", arg);
        }
        if (!ok) {
            fmt::print(stderr, "tcpfo-echo-service: {}\n", ok.error().message);
            return 2;
        }
    }
    if (!listen_addr) {
        usage(stderr);
        return 2;
    }
    // One descriptor per connection: take all the open-file limit allows.
    if (auto files = raise_open_file_limit(); !files) log_warn("{}", files.error().message);
    auto listener = open_listener(*listen_addr);
    if (!listener) {
        fmt::print(stderr, "tcpfo-echo-service: {}\n", listener.error().message);
        return 1;
    }
    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // nullptr marks the listening socket
    if (epoll_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, *listener, &ev) != 0) {
        fmt::print(stderr, "tcpfo-echo-service: epoll setup: {}\n", std::strerror(errno));
        return 1;
    }
    log_info("tcpfo-echo-service listening on {}:{}", inet_ntoa(listen_addr->sin_addr),
             ntohs(listen_addr->sin_port));
    EchoService service(*listener, epoll_fd, max_conns);
    return service.run();
}

// A small TCP service with state shared across its connections, for the input-order
// tests (input_order_test.cpp): one thread, one event loop (epoll, poll or select, as
// argv[1] says), a nonblocking listener on an ephemeral port of 127.0.0.1 (it prints
// "port N"), nonblocking connections accepted with accept4 in a loop until EAGAIN.
// Each request line gets
//   conn C req K global G t=SEC.NSEC r=HEX peer=ADDR:PORT name=ADDR:PORT
// C: the connection's accept ordinal; K: its own request count; G: a counter over all
// connections (so the replies depend on the order in which connections were read); the
// clock and 4 random bytes; the peer from accept and from getpeername. It reads in
// small portions (13 bytes, read() and recv() on alternate connections) so a request
// takes several reads. A connection's end of file closes it; "quit" answers "bye" and
// exits 0. Waits time out after 200 ms (the timeouts are replayed too). With a second
// argument "thread", a second thread peeks at the first connection once; with "child",
// a forked child writes "child\n" to it and the parent waits for the child (both of
// which the library must refuse).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "multi_service: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

std::string text(const sockaddr_in& a) {
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(a.sin_port));
}

struct Conn {
    int fd = -1;
    int ordinal = 0;
    int requests = 0;
    std::string peer, name, pending;
};

enum class Loop { epoll, poll, select };

Loop g_loop = Loop::epoll;
int g_listener = -1;
int g_epoll = -1;
int g_accepted = 0;
long g_global = 0;
std::map<int, Conn*> g_conns;
Conn g_listener_tag;  // the listener's epoll data points here
bool g_peek_from_thread = false;
bool g_write_from_child = false;

void write_all(int fd, const std::string& s) {
    size_t done = 0;
    while (done < s.size()) {
        const ssize_t n = write(fd, s.data() + done, s.size() - done);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            pollfd p{fd, POLLOUT, 0};
            poll(&p, 1, 1000);
            continue;
        }
        if (n <= 0) return;
        done += size_t(n);
    }
}

void close_conn(Conn* c) {
    if (g_loop == Loop::epoll) epoll_ctl(g_epoll, EPOLL_CTL_DEL, c->fd, nullptr);
    close(c->fd);
    g_conns.erase(c->fd);
    delete c;
}

void accept_all() {
    for (;;) {
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        const int fd = accept4(g_listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            die("accept4");
        }
        auto* c = new Conn;
        c->fd = fd;
        c->ordinal = ++g_accepted;
        c->peer = text(peer);
        sockaddr_in name{};
        len = sizeof name;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&name), &len) != 0) die("getpeername");
        c->name = text(name);
        g_conns[fd] = c;
        if (g_peek_from_thread && c->ordinal == 1) {
            std::thread([fd] {
                char byte;
                (void)recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
            }).join();
        }
        if (g_write_from_child && c->ordinal == 1) {
            const pid_t child = fork();
            if (child == 0) {
                (void)!write(fd, "child\n", 6);
                _exit(0);
            }
            int status = 0;
            waitpid(child, &status, 0);
            std::fprintf(stderr, "multi_service: child exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
        if (g_loop == Loop::epoll) {
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.ptr = c;
            if (epoll_ctl(g_epoll, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
        }
    }
}

void serve(Conn* c) {
    char buf[13];
    const ssize_t n = c->ordinal % 2 ? read(c->fd, buf, sizeof buf) : recv(c->fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        close_conn(c);
        return;
    }
    c->pending.append(buf, size_t(n));
    for (size_t nl; (nl = c->pending.find('\n')) != std::string::npos;) {
        const std::string request = c->pending.substr(0, nl);
        c->pending.erase(0, nl + 1);
        if (request == "quit") {
            write_all(c->fd, "bye\n");
            std::exit(0);
        }
        timespec ts{};
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned char r[4] = {};
        if (getrandom(r, sizeof r, 0) != ssize_t(sizeof r)) die("getrandom");
        char line[512];
        std::snprintf(line, sizeof line,
                      "conn %d req %d global %ld t=%lld.%09ld r=%02x%02x%02x%02x peer=%s name=%s to '%s'\n",
                      c->ordinal, ++c->requests, ++g_global, static_cast<long long>(ts.tv_sec), ts.tv_nsec, r[0],
                      r[1], r[2], r[3], c->peer.c_str(), c->name.c_str(), request.c_str());
        write_all(c->fd, line);
    }
}

void run_epoll() {
    g_epoll = epoll_create1(EPOLL_CLOEXEC);
    if (g_epoll < 0) die("epoll_create1");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &g_listener_tag;
    if (epoll_ctl(g_epoll, EPOLL_CTL_ADD, g_listener, &ev) != 0) die("epoll_ctl");
    for (;;) {
        epoll_event events[4];  // fewer than the connections: several turns
        const int n = epoll_wait(g_epoll, events, 4, 200);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("epoll_wait");
        for (int i = 0; i < n; ++i) {
            auto* c = static_cast<Conn*>(events[i].data.ptr);
            if (c == &g_listener_tag) accept_all();
            else serve(c);
        }
    }
}

// poll and select: serve what is ready, in descriptor order. A connection closed in
// this turn is skipped by looking it up again.
void run_poll() {
    for (;;) {
        std::vector<pollfd> fds{{g_listener, POLLIN, 0}};
        for (auto& [fd, c] : g_conns) fds.push_back({fd, POLLIN, 0});
        const int n = poll(fds.data(), fds.size(), 200);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("poll");
        for (const pollfd& p : fds) {
            if (p.revents == 0) continue;
            if (p.fd == g_listener) accept_all();
            else if (auto it = g_conns.find(p.fd); it != g_conns.end()) serve(it->second);
        }
    }
}

void run_select() {
    for (;;) {
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(g_listener, &readable);
        int max_fd = g_listener;
        for (auto& [fd, c] : g_conns) {
            FD_SET(fd, &readable);
            if (fd > max_fd) max_fd = fd;
        }
        timeval timeout{0, 200 * 1000};
        const int n = select(max_fd + 1, &readable, nullptr, nullptr, &timeout);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("select");
        std::vector<int> ready;
        for (int fd = 0; fd <= max_fd; ++fd)
            if (FD_ISSET(fd, &readable)) ready.push_back(fd);
        for (int fd : ready) {
            if (fd == g_listener) accept_all();
            else if (auto it = g_conns.find(fd); it != g_conns.end()) serve(it->second);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "epoll";
    if (mode == "poll") g_loop = Loop::poll;
    else if (mode == "select") g_loop = Loop::select;
    else if (mode != "epoll") {
        std::fprintf(stderr, "usage: multi_service [epoll|poll|select] [thread|child]\n");
        return 2;
    }
    g_peek_from_thread = argc > 2 && std::string(argv[2]) == "thread";
    g_write_from_child = argc > 2 && std::string(argv[2]) == "child";
    g_listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (g_listener < 0) die("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(g_listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind");
    if (listen(g_listener, 64) != 0) die("listen");
    if (getsockname(g_listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die("getsockname");
    std::printf("port %d\n", ntohs(addr.sin_port));
    std::fflush(stdout);
    switch (g_loop) {
        case Loop::epoll: run_epoll(); break;
        case Loop::poll: run_poll(); break;
        case Loop::select: run_select(); break;
    }
}

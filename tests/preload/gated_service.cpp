// A tiny TCP service for tcpfo-run's tests (tcpfo_run_test.cpp): listens on an ephemeral
// port of 127.0.0.1 and prints "port N"; serves one connection at a time (accept and
// accept4 in turn); for each request line it reads the clock (clock_gettime,
// CLOCK_REALTIME) and 8 random bytes (getrandom) and replies
//   reply K to 'REQUEST': t=SEC.NSEC r=HEX
// The K-th reply's first 8 bytes are written by write, send, sendto, sendmsg and
// writev in turn (each must wait at the output gate), the rest by write (no entry was
// recorded in between: it must not wait again). A request "quit" ends it with exit 0.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "gated_service: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

bool write_all(int fd, const char* data, size_t size) {
    while (size > 0) {
        const ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        size -= size_t(n);
    }
    return true;
}

// The gated first part, through the K-th of the five calls; small enough to go whole.
bool write_first_part(int fd, int k, const std::string& part) {
    ssize_t n = -1;
    switch (k % 5) {
        case 1: n = write(fd, part.data(), part.size()); break;
        case 2: n = send(fd, part.data(), part.size(), 0); break;
        case 3: n = sendto(fd, part.data(), part.size(), 0, nullptr, 0); break;
        case 4: {
            iovec iov{const_cast<char*>(part.data()), part.size()};
            msghdr msg{};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            n = sendmsg(fd, &msg, 0);
            break;
        }
        case 0: {
            iovec iov[2] = {{const_cast<char*>(part.data()), 4}, {const_cast<char*>(part.data()) + 4, part.size() - 4}};
            n = writev(fd, iov, 2);
            break;
        }
    }
    return n == ssize_t(part.size());
}

std::string reply_to(int k, const std::string& request) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned char bytes[8] = {};
    if (getrandom(bytes, sizeof bytes, 0) != ssize_t(sizeof bytes)) die("getrandom");
    char hex[2 * sizeof bytes + 1];
    for (size_t i = 0; i < sizeof bytes; ++i) std::snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
    char line[512];
    std::snprintf(line, sizeof line, "reply %d to '%s': t=%lld.%09ld r=%s\n", k, request.c_str(),
                  static_cast<long long>(ts.tv_sec), ts.tv_nsec, hex);
    return line;
}

}  // namespace

int main() {
    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) die("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind");
    if (listen(listener, 8) != 0) die("listen");
    if (getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die("getsockname");
    std::printf("port %d\n", ntohs(addr.sin_port));
    std::fflush(stdout);

    int k = 0;
    for (int connection = 0;; ++connection) {
        const int fd = connection % 2 == 0 ? accept(listener, nullptr, nullptr)
                                           : accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) die("accept");
        std::string pending;
        char buf[512];
        for (;;) {
            const ssize_t n = read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            pending.append(buf, size_t(n));
            for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
                const std::string request = pending.substr(0, nl);
                pending.erase(0, nl + 1);
                if (request == "quit") {
                    write_all(fd, "bye\n", 4);
                    std::exit(0);
                }
                const std::string reply = reply_to(++k, request);
                if (!write_first_part(fd, k, reply.substr(0, 8)) ||
                    !write_all(fd, reply.data() + 8, reply.size() - 8))
                    die("write");
            }
        }
        close(fd);
    }
}

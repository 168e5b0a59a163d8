// The unit tests' sockets: a connected pair of nonblocking AF_UNIX stream sockets
// (`ours` for the component under test, `peer` played by the test) and a read of
// everything queued now.
#pragma once

#include <sys/socket.h>

#include <string>

#include <gtest/gtest.h>

#include "userd/base/unique_fd.h"

namespace tcpfo::test {

struct Pair {
    UniqueFd ours, peer;
};

inline Pair stream_pair() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Everything readable on `fd` now; `eof` is set when the other side has shut down.
inline std::string read_all(int fd, bool* eof = nullptr) {
    std::string got;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            got.append(buf, size_t(n));
            continue;
        }
        if (n == 0 && eof) *eof = true;
        return got;
    }
}

}  // namespace tcpfo::test

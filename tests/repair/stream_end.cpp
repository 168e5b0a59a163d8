#include "stream_end.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/core.h>

#include "netns_harness.h"

namespace tcpfo::test {

constexpr size_t chunk = 64 * 1024;

StreamEnd::StreamEnd(int fd, uint8_t send_salt, uint8_t receive_salt, uint64_t send_offset,
                     uint64_t receive_offset)
    : fd_(fd), send_salt_(send_salt), receive_salt_(receive_salt), sent_(send_offset),
      received_(receive_offset) {}

void StreamEnd::start() {
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
    thread_ = std::thread([this] { run(); });
}

void StreamEnd::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

std::string StreamEnd::error() const {
    std::lock_guard lock(error_mutex_);
    return error_;
}

void StreamEnd::set_error(std::string text) {
    std::lock_guard lock(error_mutex_);
    if (error_.empty()) error_ = std::move(text);
}

void StreamEnd::run() {
    std::vector<uint8_t> out(chunk), in(chunk);
    size_t out_len = 0, out_done = 0;  // a partly written chunk is finished before the next
    while (!stop_) {
        pollfd p{fd_, POLLIN | POLLOUT, 0};
        if (poll(&p, 1, 5) <= 0) continue;
        if (p.revents & (POLLERR | POLLHUP)) {
            int err = 0;
            socklen_t len = sizeof(err);
            getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
            set_error(fmt::format("socket error: {}", std::strerror(err)));
            return;
        }
        if (p.revents & POLLIN) {
            const ssize_t n = read(fd_, in.data(), in.size());
            if (n == 0) return set_error(fmt::format("EOF after {} bytes", received_.load()));
            if (n < 0 && errno != EAGAIN) return set_error(fmt::format("read: {}", std::strerror(errno)));
            if (n > 0) {
                const uint64_t at = received_;
                const size_t good = check_pattern(in.data(), static_cast<size_t>(n), at, receive_salt_);
                if (good != static_cast<size_t>(n))
                    return set_error(fmt::format("byte at stream offset {} differs", at + good));
                received_ = at + static_cast<uint64_t>(n);
                if (at <= mark_ && received_ > mark_ && first_read_after_ns_ == 0)
                    first_read_after_ns_ = now_ns();
            }
        }
        if (p.revents & POLLOUT) {
            if (out_done == out_len) {
                fill_pattern(out.data(), out.size(), sent_, send_salt_);
                out_len = out.size();
                out_done = 0;
            }
            const ssize_t n = write(fd_, out.data() + out_done, out_len - out_done);
            if (n < 0 && errno != EAGAIN) return set_error(fmt::format("write: {}", std::strerror(errno)));
            if (n > 0) {
                if (first_write_ns_ == 0) first_write_ns_ = now_ns();
                out_done += static_cast<size_t>(n);
                sent_ += static_cast<uint64_t>(n);
            }
        }
    }
}

}  // namespace tcpfo::test

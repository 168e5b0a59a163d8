#include "progress_file.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <fmt/format.h>

namespace tcpfo::vmtools {

namespace {
uint64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

ProgressFile::ProgressFile(std::string path) : path_(std::move(path)) {
    if (path_.empty()) return;
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ >= 0) update(0, true);
}

ProgressFile::~ProgressFile() {
    if (fd_ >= 0) close(fd_);
}

void ProgressFile::update(uint64_t bytes, bool force) {
    if (fd_ < 0) return;
    uint64_t now = monotonic_ns();
    if (!force && now - last_ns_ < 20000000ULL) return;
    last_ns_ = now;
    // Fixed width, so a shorter number never leaves digits of a longer one behind.
    std::string text = fmt::format("{:20}\n", bytes);
    if (pwrite(fd_, text.data(), text.size(), 0) < 0) {
        close(fd_);
        fd_ = -1;
    }
}

}  // namespace tcpfo::vmtools

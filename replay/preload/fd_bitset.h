// A set of descriptor numbers below 65536, one bit each, lock-free: the interposed
// calls that change it (open, accept, close, dup2) may come from any thread, and a
// lock held across fork would be inherited locked by the child. Larger numbers are
// never members (the caller treats them as untracked).
#pragma once

#include <atomic>
#include <cstdint>

namespace tcpfo::preload {

class FdBitset {
public:
    static constexpr int kLimit = 65536;

    void set(int fd, bool member) {
        if (fd < 0 || fd >= kLimit) return;
        const uint64_t bit = uint64_t(1) << (fd % 64);
        if (member)
            words_[fd / 64].fetch_or(bit, std::memory_order_relaxed);
        else
            words_[fd / 64].fetch_and(~bit, std::memory_order_relaxed);
    }

    bool test(int fd) const {
        if (fd < 0 || fd >= kLimit) return false;
        return words_[fd / 64].load(std::memory_order_relaxed) >> (fd % 64) & 1;
    }

private:
    // Zero-initialized as a static: usable before any constructor has run.
    std::atomic<uint64_t> words_[kLimit / 64];
};

}  // namespace tcpfo::preload

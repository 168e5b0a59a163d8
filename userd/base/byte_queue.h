// A FIFO of bytes: append at the back, consume from the front. Used for socket
// send/receive buffers and logs; the owner enforces its own bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace tcpfo {

class ByteQueue {
public:
    ByteQueue() = default;
    // Moving hands the buffer over without copying a byte (a queue of megabytes changes
    // owner at takeover); the moved-from queue is empty and usable. The defaults would
    // leave it with a stale head_ past the end of its emptied vector.
    ByteQueue(ByteQueue&& other) noexcept : buf_(std::move(other.buf_)), head_(std::exchange(other.head_, 0)) {
        other.buf_.clear();
    }
    ByteQueue& operator=(ByteQueue&& other) noexcept {
        if (this != &other) {
            buf_ = std::move(other.buf_);
            head_ = std::exchange(other.head_, 0);
            other.buf_.clear();
        }
        return *this;
    }
    ByteQueue(const ByteQueue&) = delete;
    ByteQueue& operator=(const ByteQueue&) = delete;

    size_t size() const { return buf_.size() - head_; }
    bool empty() const { return size() == 0; }
    std::span<const uint8_t> front() const { return std::span(buf_).subspan(head_); }
    void append(std::span<const uint8_t> bytes) { buf_.insert(buf_.end(), bytes.begin(), bytes.end()); }
    // For encoders and reads that append in place: only bytes past the current end may
    // be touched. No compaction here (that would move the whole backlog on every
    // append); pop_front compacts when the consumed prefix dominates.
    std::vector<uint8_t>& raw_tail() { return buf_; }
    void pop_front(size_t n) {
        head_ += n;
        if (head_ == buf_.size()) {
            buf_.clear();
            head_ = 0;
        } else if (head_ > 64 * 1024 && head_ * 2 > buf_.size()) {
            compact();  // amortised: only when the dead prefix dominates
        }
    }
    void clear() { buf_.clear(); head_ = 0; }
    // When empty, gives its memory back (emptying keeps the capacity, so that a busy
    // queue does not allocate at every burst; an idle one should hold nothing).
    // Returns the bytes freed.
    size_t release_if_empty() {
        const size_t capacity = buf_.capacity();
        if (!empty() || capacity == 0) return 0;
        std::vector<uint8_t>().swap(buf_);
        head_ = 0;
        return capacity;
    }
    size_t capacity() const { return buf_.capacity(); }

private:
    void compact() {
        if (head_ == 0) return;
        buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
    }
    std::vector<uint8_t> buf_;
    size_t head_ = 0;
};

}  // namespace tcpfo

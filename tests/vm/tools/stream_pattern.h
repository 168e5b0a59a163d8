// The byte stream the guest test tools send, and the checksum both ends compute.
// The sender generates the bytes from a fixed seed, so the receiver's checksum can be
// compared with the sender's: a lost, duplicated, reordered or corrupted byte changes it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tcpfo::vmtools {

// xorshift64: cheap enough that generating the stream never limits a guest's throughput.
class PatternGenerator {
 public:
    void fill(uint8_t* buf, size_t len) {
        for (size_t i = 0; i < len; ++i) {
            if (avail_ == 0) {
                state_ ^= state_ << 13;
                state_ ^= state_ >> 7;
                state_ ^= state_ << 17;
                word_ = state_;
                avail_ = 8;
            }
            buf[i] = static_cast<uint8_t>(word_);
            word_ >>= 8;
            --avail_;
        }
    }

 private:
    uint64_t state_ = 0x7cf0f0a1deadbeefULL;
    uint64_t word_ = 0;
    int avail_ = 0;
};

// FNV-1a, 64 bit: order-sensitive, which a sum would not be.
class StreamChecksum {
 public:
    void update(const uint8_t* buf, size_t len) {
        for (size_t i = 0; i < len; ++i) {
            hash_ ^= buf[i];
            hash_ *= 0x100000001b3ULL;
        }
        bytes_ += len;
    }
    uint64_t hash() const { return hash_; }
    uint64_t bytes() const { return bytes_; }

 private:
    uint64_t hash_ = 0xcbf29ce484222325ULL;
    uint64_t bytes_ = 0;
};

}  // namespace tcpfo::vmtools

// One end of a two-way test stream: writes its own pattern as fast as the socket takes
// it, reads the other end's pattern and checks every byte at its stream offset.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace tcpfo::test {

class StreamEnd {
 public:
    // The offsets say where in each pattern this end starts (a takeover continues the
    // primary's streams from the sequences it rebuilt).
    StreamEnd(int fd, uint8_t send_salt, uint8_t receive_salt, uint64_t send_offset,
              uint64_t receive_offset);
    ~StreamEnd() { stop(); }
    void start();
    // Stops touching the socket, as a killed process would; the socket stays open.
    void stop();

    uint64_t sent() const { return sent_; }
    uint64_t received() const { return received_; }
    std::string error() const;
    // Time of the first write (0 until then).
    uint64_t first_write_ns() const { return first_write_ns_; }
    // Time of the first read that brings received() above `mark` (0 until then).
    void arm_first_read_after(uint64_t mark) { mark_ = mark; }
    uint64_t first_read_after_ns() const { return first_read_after_ns_; }

 private:
    void run();
    void set_error(std::string text);

    int fd_;
    uint8_t send_salt_, receive_salt_;
    std::atomic<uint64_t> sent_, received_;
    std::atomic<uint64_t> mark_{UINT64_MAX};
    std::atomic<uint64_t> first_write_ns_{0}, first_read_after_ns_{0};
    std::atomic<bool> stop_{false};
    mutable std::mutex error_mutex_;
    std::string error_;
    std::thread thread_;
};

}  // namespace tcpfo::test

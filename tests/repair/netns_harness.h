// Test harness for the takeover kernel interfaces: runs code inside the namespaces
// that run_repair_tests.sh created, generates and checks verifiable byte streams, and
// watches a link for TCP resets and FINs.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "userd/base/unique_fd.h"

namespace tcpfo::test {

// Namespace names from the environment the script sets (TCPFO_NS_CLIENT, ...).
// Empty if the test runs outside the script; tests then fail with a clear message.
std::string namespace_name(const char* role);

// Runs fn on a fresh thread that has entered the named network namespace, and waits.
// Sockets created there stay in that namespace, whichever thread uses them later.
void run_in_netns(const std::string& ns, const std::function<void()>& fn);

// ip link set dev up/down, through SIOCSIFFLAGS in the calling thread's namespace.
// Returns an error text, or "" on success.
std::string set_link_up(const std::string& dev, bool up);

in_addr_t ipv4(const char* text);
sockaddr_in socket_address(const char* ip, uint16_t port);
uint64_t now_ns();

// Byte `offset` of the stream `salt`: a hash of the offset, so a shifted, repeated or
// lost block shows up as a mismatch at once.
uint8_t pattern_byte(uint64_t offset, uint8_t salt);
void fill_pattern(uint8_t* buf, size_t len, uint64_t offset, uint8_t salt);
// Returns the index of the first byte that differs, or len if all match.
size_t check_pattern(const uint8_t* buf, size_t len, uint64_t offset, uint8_t salt);

// Counts TCP segments with RST or FIN on one port, seen on one interface (both ways),
// from the thread that created it until stop(). Create it inside the namespace.
class TcpFlagWatch {
 public:
    static std::string start(TcpFlagWatch& watch, const std::string& dev, uint16_t port);
    ~TcpFlagWatch() { stop(); }
    void stop();
    uint64_t resets() const { return resets_; }
    uint64_t fins() const { return fins_; }
    uint64_t segments() const { return segments_; }
    // Frames seen with this UDP destination port (a marker that orders events).
    uint64_t udp_to(uint16_t port) const { return port == marker_port_ ? markers_.load() : 0; }
    void watch_udp_marker(uint16_t port) { marker_port_ = port; }

 private:
    void run();
    UniqueFd fd_;
    uint16_t port_ = 0;
    std::atomic<uint16_t> marker_port_{0};
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> resets_{0}, fins_{0}, segments_{0}, markers_{0};
    std::thread thread_;
};

}  // namespace tcpfo::test

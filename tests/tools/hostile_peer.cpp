// tcpfo-hostile-peer: a host on the segment that is not a peer, or one with the wrong
// key, attacking failoverd's heartbeat and replication ports (tests/netns/hostile_peer.sh).
//
//   tcpfo-hostile-peer heartbeats KIND --to ADDR:PORT [--from ADDR] --key-file PATH [--count N]
//     KIND: wrong-key  heartbeats sealed with PATH, a key the nodes do not hold
//           forged     the id of PATH's key (visible on the wire) with a made-up tag
//           replayed   sealed with PATH (the nodes' key) but counters from long ago: what a
//                      capture of an earlier run's datagrams holds
//           garbage    random bytes
//     --from ADDR: the source address to claim (IP_TRANSPARENT: a spoofed peer address).
//   tcpfo-hostile-peer stream KIND --to ADDR:PORT --key-file PATH
//     KIND: wrong-key  a session opened properly, its hello sealed with PATH (another key)
//           replayed   a recording of an earlier session under PATH (the nodes' key),
//                      written as it was: it cannot verify in a new session
//           garbage    random bytes
//   Prints one line: what it sent, and for a stream whether the node closed it (exit 0)
//   or kept it open for 5 s (exit 1).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "userd/auth/frame_auth.h"
#include "userd/auth/key_file.h"
#include "userd/base/event_loop.h"
#include "userd/base/inet_address.h"
#include "userd/protocol/record_codec.h"

using namespace tcpfo;

namespace {

[[noreturn]] void die(const std::string& why) {
    std::fprintf(stderr, "tcpfo-hostile-peer: %s\n", why.c_str());
    std::exit(2);
}

sockaddr_in endpoint(const std::string& text) {
    auto e = parse_endpoint(text, 7100);
    if (!e) die(e.error().message);
    return *e;
}

std::vector<uint8_t> random_bytes(std::mt19937_64& rng, size_t n) {
    std::vector<uint8_t> out(n);
    for (auto& b : out) b = uint8_t(rng());
    return out;
}

int send_heartbeats(const std::string& kind, const sockaddr_in& to, const std::string& from, const AuthKey& key,
                    int count) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in source{};
    source.sin_family = AF_INET;
    if (!from.empty()) {
        const int on = 1;
        // Binding to an address that is not this host's, and sending from it (root).
        setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &on, sizeof on);
        if (setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &on, sizeof on) != 0)
            die(std::string("can't set IP_TRANSPARENT: ") + std::strerror(errno));
        if (inet_pton(AF_INET, from.c_str(), &source.sin_addr) != 1) die("--from: not an IPv4 address");
        if (bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0)
            die(std::string("can't bind to ") + from + ": " + std::strerror(errno));
    }
    std::mt19937_64 rng(std::random_device{}());
    const KeyBytes made_up{};
    for (int i = 0; i < count; ++i) {
        std::vector<uint8_t> record, dgram;
        // An epoch far above the cluster's: it must change nothing either.
        encode_record(HeartbeatRecord{1000, realtime_us(), NodeRole::primary}, record);
        if (kind == "wrong-key") {
            seal_heartbeat(key, source.sin_addr.s_addr, realtime_us(), record, dgram);
        } else if (kind == "forged") {
            seal_heartbeat(make_auth_key(made_up), source.sin_addr.s_addr, realtime_us(), record, dgram);
            for (int b = 0; b < 4; ++b) dgram[4 + b] = uint8_t(key.id >> (24 - 8 * b));
        } else if (kind == "replayed") {
            seal_heartbeat(key, source.sin_addr.s_addr, uint64_t(1 + i), record, dgram);
        } else if (kind == "garbage") {
            dgram = random_bytes(rng, 1 + rng() % 200);
        } else {
            die("heartbeats: unknown kind '" + kind + "'");
        }
        if (sendto(fd, dgram.data(), dgram.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0)
            die(std::string("can't send to ") + to_string(to) + ": " + std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::printf("sent %d %s heartbeat(s) to %s%s%s\n", count, kind.c_str(), to_string(to).c_str(),
                from.empty() ? "" : " as ", from.c_str());
    return 0;
}

// Waits for the node to close the connection (what it does with anything it refuses).
bool closed_by_peer(int fd, int timeout_ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    uint8_t buf[4096];
    while (std::chrono::steady_clock::now() < until) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
    }
    return false;
}

void write_all(int fd, const std::vector<uint8_t>& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
        if (n <= 0) return;  // closed already: that is the answer
        done += size_t(n);
    }
}

int attack_stream(const std::string& kind, const sockaddr_in& to, const AuthKey& key) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0)
        die("can't connect to " + to_string(to) + ": " + std::strerror(errno));
    auto ring = std::make_shared<KeyRing>(std::vector<AuthKey>{key});
    std::vector<uint8_t> hello;
    encode_record(HelloRecord{kProtocolVersion, NodeRole::primary, 1000}, hello);
    if (kind == "wrong-key") {
        StreamAuth session(ring, StreamSide::connector);
        std::vector<uint8_t> wire;
        session.append_open(wire);
        write_all(fd, wire);
        std::vector<uint8_t> opening(kStreamOpenSize);
        size_t got = 0;
        while (got < opening.size()) {
            const ssize_t n = recv(fd, opening.data() + got, opening.size() - got, 0);
            if (n <= 0) break;
            got += size_t(n);
        }
        if (got == opening.size() && session.take_open(opening)) {
            wire.clear();
            session.seal(hello, wire, 0);
            write_all(fd, wire);
        }
    } else if (kind == "replayed") {
        // The session as it was recorded: its acceptor's opening is long gone.
        StreamAuth recorded(ring, StreamSide::connector), earlier_acceptor(ring, StreamSide::acceptor);
        std::vector<uint8_t> wire, answer;
        recorded.append_open(wire);
        earlier_acceptor.append_open(answer);
        (void)recorded.take_open(answer);
        recorded.seal(hello, wire, 0);
        std::vector<uint8_t> data;
        std::vector<uint8_t> bytes(100, 'x');
        encode_record(DataRecord{1, 0, bytes}, data);
        recorded.seal(data, wire, 0);
        write_all(fd, wire);
    } else if (kind == "garbage") {
        std::mt19937_64 rng(std::random_device{}());
        write_all(fd, random_bytes(rng, 4096));
    } else {
        die("stream: unknown kind '" + kind + "'");
    }
    const bool closed = closed_by_peer(fd, 5000);
    std::printf("%s stream to %s: %s\n", kind.c_str(), to_string(to).c_str(),
                closed ? "closed by the node" : "still open after 5 s");
    close(fd);
    return closed ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) die("usage: tcpfo-hostile-peer heartbeats|stream KIND --to ADDR:PORT [--from ADDR] --key-file PATH [--count N]");
    const std::string what = argv[1], kind = argv[2];
    std::string to, from, key_file;
    int count = 100;
    for (int i = 3; i + 1 < argc; i += 2) {
        const std::string flag = argv[i], value = argv[i + 1];
        if (flag == "--to") to = value;
        else if (flag == "--from") from = value;
        else if (flag == "--key-file") key_file = value;
        else if (flag == "--count") count = std::stoi(value);
        else die("unknown argument '" + flag + "'");
    }
    if (to.empty() || key_file.empty()) die("--to and --key-file are required");
    auto keys = load_key_file(key_file);
    if (!keys) die(keys.error().message);
    if (what == "heartbeats") return send_heartbeats(kind, endpoint(to), from, keys->front(), count);
    if (what == "stream") return attack_stream(kind, endpoint(to), keys->front());
    die("unknown mode '" + what + "'");
}

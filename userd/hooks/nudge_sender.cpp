#include "userd/hooks/nudge_sender.h"

#include "userd/hooks/server_segment.h"

#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>

#include <cstring>

#include "userd/base/inet_address.h"

namespace tcpfo {
namespace {

bool both_have(const tcpfo_conn_state& s, uint8_t option) {
    return (s.client_opts.present & option) && (s.server_opts.present & option);
}

}  // namespace

size_t build_nudge_packet(const tcpfo_conn_key& key, const tcpfo_conn_state& state, uint32_t ack, uint8_t* out) {
    ServerSegment s;
    s.key = key;
    s.seq = state.snd_nxt;
    s.ack = ack;
    s.window = state.last_window;
    if (both_have(state, TCPFO_OPT_TIMESTAMPS)) s.timestamps = TcpTimestamps{state.last_tsval, state.last_tsecr};
    return build_server_segment(s, out);
}

size_t build_reset_packet(const tcpfo_conn_key& key, uint32_t seq, uint8_t* out) {
    // A bare RST (no ACK, no options): Linux takes it only when seq is exactly the
    // client's rcv_nxt (RFC 5961); anything else in the window draws a challenge ACK.
    ServerSegment s;
    s.key = key;
    s.seq = seq;
    s.reset = true;
    return build_server_segment(s, out);
}

Result<NudgeSender> NudgeSender::open() {
    UniqueFd fd(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_RAW));
    if (!fd) return sys_fail(errno, "can't open raw socket for nudge ACKs");
    const int mark = int(TCPFO_NUDGE_MARK);
    if (setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0)
        return sys_fail(errno, "can't set SO_MARK on the nudge socket");
    return NudgeSender(std::move(fd));
}

Result<void> NudgeSender::send_ack(const tcpfo_conn_key& key, const tcpfo_conn_state& state, uint32_t ack) {
    uint8_t packet[kMaxServerSegmentBytes];
    const size_t len = build_nudge_packet(key, state, ack, packet);
    return send_packet(key.client_addr, std::span<const uint8_t>(packet, len));
}

Result<void> NudgeSender::send_reset(const tcpfo_conn_key& key, uint32_t seq) {
    uint8_t packet[kMaxServerSegmentBytes];
    const size_t len = build_reset_packet(key, seq, packet);
    return send_packet(key.client_addr, std::span<const uint8_t>(packet, len));
}

Result<void> NudgeSender::send_packet(in_addr_t client_addr, std::span<const uint8_t> packet) {
    const sockaddr_in to = make_endpoint(client_addr, 0);
    if (sendto(fd_.get(), packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0)
        return sys_fail(errno, "can't send a segment to {}", addr_to_string(client_addr));
    return {};
}

size_t NudgeSender::send_packets(std::span<const Outgoing> packets) {
    constexpr size_t kBatch = 256;
    mmsghdr msgs[kBatch];
    iovec iovs[kBatch];
    sockaddr_in to[kBatch];
    size_t sent = 0;
    for (size_t base = 0; base < packets.size();) {
        const size_t n = std::min(kBatch, packets.size() - base);
        for (size_t i = 0; i < n; ++i) {
            const Outgoing& o = packets[base + i];
            to[i] = make_endpoint(o.client_addr, 0);
            iovs[i] = {const_cast<uint8_t*>(o.packet.data()), o.packet.size()};
            msgs[i] = {};
            msgs[i].msg_hdr.msg_name = &to[i];
            msgs[i].msg_hdr.msg_namelen = sizeof to[i];
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int done = sendmmsg(fd_.get(), msgs, unsigned(n), 0);
        if (done <= 0) {
            // The first of the batch was refused (a full socket buffer, most likely):
            // skip it rather than spin; its connection is rebuilt without a position.
            ++base;
            continue;
        }
        sent += size_t(done);
        base += size_t(done);
    }
    return sent;
}

}  // namespace tcpfo

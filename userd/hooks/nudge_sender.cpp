#include "userd/hooks/nudge_sender.h"

#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>

#include "userd/base/inet_address.h"

namespace tcpfo {
namespace {

uint32_t sum16(const uint8_t* data, size_t len, uint32_t sum = 0) {
    for (size_t i = 0; i + 1 < len; i += 2) sum += uint32_t(data[i]) << 8 | data[i + 1];
    if (len & 1) sum += uint32_t(data[len - 1]) << 8;
    return sum;
}

uint16_t fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

bool both_have(const tcpfo_conn_state& s, uint8_t option) {
    return (s.client_opts.present & option) && (s.server_opts.present & option);
}

}  // namespace

size_t build_nudge_packet(const tcpfo_conn_key& key, const tcpfo_conn_state& state, uint32_t ack, uint8_t* out) {
    const bool timestamps = both_have(state, TCPFO_OPT_TIMESTAMPS);
    const size_t tcp_len = timestamps ? 32 : 20;
    const size_t total = 20 + tcp_len;
    std::memset(out, 0, total);

    auto* ip = reinterpret_cast<iphdr*>(out);
    ip->version = 4;
    ip->ihl = 5;
    ip->tot_len = htons(uint16_t(total));
    ip->frag_off = htons(IP_DF);
    ip->ttl = 64;
    ip->protocol = IPPROTO_TCP;
    ip->saddr = key.vip_addr;
    ip->daddr = key.client_addr;
    ip->check = htons(fold(sum16(out, 20)));

    auto* tcp = reinterpret_cast<tcphdr*>(out + 20);
    tcp->source = key.vip_port;
    tcp->dest = key.client_port;
    tcp->seq = htonl(state.snd_nxt);
    tcp->ack_seq = htonl(ack);
    tcp->doff = uint16_t(tcp_len / 4);
    tcp->ack = 1;
    tcp->window = htons(state.last_window);
    if (timestamps) {
        uint8_t* opt = out + 40;
        opt[0] = 1;  // NOP
        opt[1] = 1;  // NOP
        opt[2] = 8;  // timestamps
        opt[3] = 10;
        const uint32_t tsval = htonl(state.last_tsval), tsecr = htonl(state.last_tsecr);
        std::memcpy(opt + 4, &tsval, 4);
        std::memcpy(opt + 8, &tsecr, 4);
    }
    // Pseudo-header: the VIP, not the node's own address, or the client drops it.
    uint8_t pseudo[12];
    std::memcpy(pseudo, &key.vip_addr, 4);
    std::memcpy(pseudo + 4, &key.client_addr, 4);
    pseudo[8] = 0;
    pseudo[9] = IPPROTO_TCP;
    pseudo[10] = uint8_t(tcp_len >> 8);
    pseudo[11] = uint8_t(tcp_len);
    tcp->check = htons(fold(sum16(out + 20, tcp_len, sum16(pseudo, 12))));
    return total;
}

size_t build_reset_packet(const tcpfo_conn_key& key, uint32_t seq, uint8_t* out) {
    // A bare RST (no ACK, no options): Linux takes it only when seq is exactly the
    // client's rcv_nxt (RFC 5961); anything else in the window draws a challenge ACK.
    constexpr size_t total = 40;
    std::memset(out, 0, total);
    auto* ip = reinterpret_cast<iphdr*>(out);
    ip->version = 4;
    ip->ihl = 5;
    ip->tot_len = htons(uint16_t(total));
    ip->frag_off = htons(IP_DF);
    ip->ttl = 64;
    ip->protocol = IPPROTO_TCP;
    ip->saddr = key.vip_addr;
    ip->daddr = key.client_addr;
    ip->check = htons(fold(sum16(out, 20)));
    auto* tcp = reinterpret_cast<tcphdr*>(out + 20);
    tcp->source = key.vip_port;
    tcp->dest = key.client_port;
    tcp->seq = htonl(seq);
    tcp->doff = 5;
    tcp->rst = 1;
    uint8_t pseudo[12];
    std::memcpy(pseudo, &key.vip_addr, 4);
    std::memcpy(pseudo + 4, &key.client_addr, 4);
    pseudo[8] = 0;
    pseudo[9] = IPPROTO_TCP;
    pseudo[10] = 0;
    pseudo[11] = 20;
    tcp->check = htons(fold(sum16(out + 20, 20, sum16(pseudo, 12))));
    return total;
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
    uint8_t packet[64];
    const size_t len = build_nudge_packet(key, state, ack, packet);
    const sockaddr_in to = make_endpoint(key.client_addr, 0);
    if (sendto(fd_.get(), packet, len, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0)
        return sys_fail(errno, "can't send nudge ACK to {}", addr_to_string(key.client_addr));
    return {};
}

Result<void> NudgeSender::send_reset(const tcpfo_conn_key& key, uint32_t seq) {
    uint8_t packet[40];
    const size_t len = build_reset_packet(key, seq, packet);
    const sockaddr_in to = make_endpoint(key.client_addr, 0);
    if (sendto(fd_.get(), packet, len, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0)
        return sys_fail(errno, "can't send reset to {}", addr_to_string(key.client_addr));
    return {};
}

Result<void> NudgeSender::send_packet(in_addr_t client_addr, std::span<const uint8_t> packet) {
    const sockaddr_in to = make_endpoint(client_addr, 0);
    if (sendto(fd_.get(), packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0)
        return sys_fail(errno, "can't send a segment to {}", addr_to_string(client_addr));
    return {};
}

}  // namespace tcpfo

#include "userd/hooks/server_segment.h"

#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>

#include <cstring>

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

void put32(uint8_t* at, uint32_t host) {
    const uint32_t net = htonl(host);
    std::memcpy(at, &net, 4);
}

}  // namespace

uint16_t internet_checksum(const uint8_t* data, size_t len) {
    return fold(sum16(data, len));
}

void write_ipv4_header(uint8_t* out, uint8_t protocol, in_addr_t saddr, in_addr_t daddr, uint16_t total_len) {
    std::memset(out, 0, 20);
    auto* ip = reinterpret_cast<iphdr*>(out);
    ip->version = 4;
    ip->ihl = 5;
    ip->tot_len = htons(total_len);
    ip->frag_off = htons(IP_DF);
    ip->ttl = 64;
    ip->protocol = protocol;
    ip->saddr = saddr;
    ip->daddr = daddr;
    ip->check = htons(internet_checksum(out, 20));
}

size_t build_server_segment(const ServerSegment& s, uint8_t* out) {
    const size_t ts_len = s.timestamps ? 12 : 0;
    const size_t sack_len = s.sack.empty() ? 0 : 4 + 8 * s.sack.size();
    const size_t opt_len = ts_len + sack_len;
    if (opt_len > 40 || 40 + opt_len + s.payload_len > kMaxServerSegmentBytes) return 0;
    const size_t tcp_len = 20 + opt_len + s.payload_len;
    const size_t total = 20 + tcp_len;
    std::memset(out, 0, total);

    write_ipv4_header(out, IPPROTO_TCP, s.key.vip_addr, s.key.client_addr, uint16_t(total));

    auto* tcp = reinterpret_cast<tcphdr*>(out + 20);
    tcp->source = s.key.vip_port;
    tcp->dest = s.key.client_port;
    tcp->seq = htonl(s.seq);
    tcp->ack_seq = s.reset ? 0 : htonl(s.ack);
    tcp->doff = uint16_t((20 + opt_len) / 4);
    tcp->ack = s.reset ? 0 : 1;
    tcp->rst = s.reset ? 1 : 0;
    tcp->window = htons(s.window);
    uint8_t* opt = out + 40;
    if (s.timestamps) {
        opt[0] = TCPOPT_NOP;
        opt[1] = TCPOPT_NOP;
        opt[2] = TCPOPT_TIMESTAMP;
        opt[3] = TCPOLEN_TIMESTAMP;
        put32(opt + 4, s.timestamps->tsval);
        put32(opt + 8, s.timestamps->tsecr);
        opt += 12;
    }
    if (!s.sack.empty()) {
        opt[0] = TCPOPT_NOP;
        opt[1] = TCPOPT_NOP;
        opt[2] = TCPOPT_SACK;
        opt[3] = uint8_t(2 + 8 * s.sack.size());
        for (size_t i = 0; i < s.sack.size(); i++) {
            put32(opt + 4 + 8 * i, s.sack[i].left);
            put32(opt + 8 + 8 * i, s.sack[i].right);
        }
    }
    // Payload bytes stay zero. Pseudo-header: the VIP, or the client drops the segment.
    uint8_t pseudo[12];
    std::memcpy(pseudo, &s.key.vip_addr, 4);
    std::memcpy(pseudo + 4, &s.key.client_addr, 4);
    pseudo[8] = 0;
    pseudo[9] = IPPROTO_TCP;
    pseudo[10] = uint8_t(tcp_len >> 8);
    pseudo[11] = uint8_t(tcp_len);
    tcp->check = htons(fold(sum16(out + 20, tcp_len, sum16(pseudo, 12))));
    return total;
}

}  // namespace tcpfo

#include "userd/takeover/resend_prompt.h"

#include <arpa/inet.h>
#include <netinet/ip_icmp.h>

#include <cstring>
#include <span>

#include "userd/base/inet_address.h"
#include "userd/base/seq.h"

namespace tcpfo {
namespace {

ServerSegment ack_of(const ResendContext& c) {
    ServerSegment s;
    s.key = c.key;
    s.seq = c.seq;
    s.ack = c.held_end;
    s.window = c.window;
    s.timestamps = c.timestamps;
    return s;
}

}  // namespace

std::optional<SackBlock> resend_prompt_block(uint32_t held_end, uint32_t client_snd_nxt, uint32_t client_mss) {
    // The block must start after L (after the ACK, L is the client's snd_una) and
    // cannot be empty.
    if (!seq_after(client_snd_nxt, held_end + 1)) return std::nullopt;
    const uint32_t from_mss = client_snd_nxt - client_mss;
    const uint32_t left = client_mss == 0 || seq_before(from_mss, held_end + 1) ||
                                  seq_after(from_mss, client_snd_nxt)
                              ? held_end + 1
                              : from_mss;
    return SackBlock{left, client_snd_nxt};
}

size_t build_resend_prompt(const ResendContext& c, uint8_t* out) {
    auto block = resend_prompt_block(c.held_end, c.client_snd_nxt, c.client_mss);
    if (!block) return 0;
    ServerSegment s = ack_of(c);
    s.sack.push_back(*block);
    return build_server_segment(s, out);
}

size_t build_resend_dupack(const ResendContext& c, uint8_t* out) {
    if (!seq_after(c.client_snd_nxt, c.held_end)) return 0;
    return build_server_segment(ack_of(c), out);
}

size_t build_held_ack(const ResendContext& c, uint8_t* out) { return build_server_segment(ack_of(c), out); }

Result<void> acknowledge_held(NudgeSender& sender, const ResendContext& c) {
    uint8_t packet[kMaxServerSegmentBytes];
    const size_t len = build_held_ack(c, packet);
    if (len == 0) return fail("can't build the held ACK for client {}", addr_to_string(c.key.client_addr));
    return sender.send_packet(c.key.client_addr, std::span<const uint8_t>(packet, len));
}

ResendMethod choose_resend_method(const ResendContext& c, bool sack_ok) {
    if (!seq_after(c.client_snd_nxt, c.held_end)) return ResendMethod::none;
    if (!sack_ok) return ResendMethod::dupacks;
    return resend_prompt_block(c.held_end, c.client_snd_nxt, c.client_mss) ? ResendMethod::sack_prompt
                                                                            : ResendMethod::none;
}

Result<ResendMethod> prompt_resend(NudgeSender& sender, const ResendContext& c, bool sack_ok) {
    const ResendMethod method = choose_resend_method(c, sack_ok);
    uint8_t packet[kMaxServerSegmentBytes];
    size_t len = 0;
    int copies = 0;
    switch (method) {
        case ResendMethod::none:
            return method;
        case ResendMethod::sack_prompt:
            len = build_resend_prompt(c, packet);
            copies = 1;
            break;
        case ResendMethod::dupacks:
            len = build_resend_dupack(c, packet);
            copies = kResendDupacks;
            break;
    }
    if (len == 0) return fail("can't build the resend prompt for client {}", addr_to_string(c.key.client_addr));
    for (int i = 0; i < copies; i++)
        if (auto sent = sender.send_packet(c.key.client_addr, std::span<const uint8_t>(packet, len)); !sent)
            return std::unexpected(sent.error());
    return method;
}

size_t build_pmtu_prompt(const tcpfo_conn_key& key, uint32_t client_seq, uint16_t next_hop_mtu, uint8_t* out) {
    std::memset(out, 0, kPmtuPromptBytes);
    write_ipv4_header(out, IPPROTO_ICMP, key.vip_addr, key.client_addr, uint16_t(kPmtuPromptBytes));

    auto* icmp = reinterpret_cast<icmphdr*>(out + 20);
    icmp->type = ICMP_DEST_UNREACH;
    icmp->code = ICMP_FRAG_NEEDED;
    icmp->un.frag.mtu = htons(next_hop_mtu);

    // The quoted datagram: a full-size client segment to the VIP, DF set, and the first
    // 8 bytes of its TCP header (ports, sequence): what tcp_v4_err looks up and checks.
    write_ipv4_header(out + 28, IPPROTO_TCP, key.client_addr, key.vip_addr, uint16_t(next_hop_mtu + 1));
    std::memcpy(out + 48, &key.client_port, 2);
    std::memcpy(out + 50, &key.vip_port, 2);
    const uint32_t seq = htonl(client_seq);
    std::memcpy(out + 52, &seq, 4);

    icmp->checksum = htons(internet_checksum(out + 20, kPmtuPromptBytes - 20));
    return kPmtuPromptBytes;
}

uint16_t pmtu_prompt_mtu(uint32_t client_mss, bool timestamps) {
    return uint16_t(client_mss + 20 + 20 + (timestamps ? 12 : 0) - 1);
}

}  // namespace tcpfo

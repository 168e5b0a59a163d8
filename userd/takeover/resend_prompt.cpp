#include "userd/takeover/resend_prompt.h"

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

}  // namespace tcpfo

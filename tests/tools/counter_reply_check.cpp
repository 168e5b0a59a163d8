#include "counter_reply_check.h"
#include "fixed_replies.h"

#include <algorithm>
#include <cstring>

namespace tcpfo::streamtest {

namespace {

// The dense table's bound: room for our replies and three times as many of other
// clients' (4 bytes each), and never more than 256 MiB.
std::uint64_t dense_limit_for(std::uint64_t replies_expected) {
    return std::min<std::uint64_t>(4 * replies_expected + (1u << 20), 1u << 26);
}

}  // namespace

CounterReplyCheck::CounterReplyCheck(std::uint64_t replies_expected)
    : dense_limit_(dense_limit_for(replies_expected)) {}

std::optional<std::uint32_t> CounterReplyCheck::claim(std::uint64_t value, std::uint32_t conn) {
    if (value >= dense_limit_) {
        const auto [owner, fresh] = sparse_.emplace(value, conn);
        if (fresh) return std::nullopt;
        return owner->second;
    }
    if (value >= dense_.size()) {
        const std::uint64_t grown = std::max<std::uint64_t>(value + 1, 2 * dense_.size());
        dense_.resize(static_cast<std::size_t>(std::min(dense_limit_, grown)));
    }
    std::uint32_t& owner = dense_[static_cast<std::size_t>(value)];
    if (owner != 0) return owner - 1;
    owner = conn + 1;
    return std::nullopt;
}

Result<void> CounterReplyCheck::take(CounterReplies& replies, std::span<const std::uint8_t> bytes,
                                     std::uint64_t requests_sent) {
    return take_fixed_replies<counter_reply_size>(replies, bytes, [&](std::span<const std::uint8_t, counter_reply_size> reply) {
        return check(replies, reply, requests_sent);
    });
}

Result<void> CounterReplyCheck::check(CounterReplies& replies, std::span<const std::uint8_t, counter_reply_size> wire,
                                      std::uint64_t requests_sent) {
    const std::uint64_t expected_index = replies.next_index;
    if (expected_index >= requests_sent)
        return fail("counter reply {}: the client has sent only {} request(s)", expected_index, requests_sent);
    const auto reply = decode_counter_reply(wire, replies.seed);
    if (!reply)
        return fail("counter reply {}: its padding is not the server pattern of its place (misplaced or corrupted)",
                    expected_index);
    if (reply->index != expected_index)
        return fail("counter reply {}: carries index {}", expected_index, reply->index);
    std::uint8_t request[counter_request_size];
    fill_pattern(client_stream(replies.seed), expected_index * counter_request_size, request);
    const std::uint32_t crc = counter_reply_crc(request, reply->value, reply->index);
    if (reply->crc != crc)
        return fail("counter reply {}: crc32 {:08x}, expected {:08x} for the request sent and value {}",
                    expected_index, reply->crc, crc, reply->value);
    if (reply->value <= replies.last_value)
        return fail("counter reply {}: value {} is not above the previous reply's {}", expected_index,
                    reply->value, replies.last_value);
    if (const auto owner = claim(reply->value, replies.conn))
        return fail("counter reply {}: value {} was already the reply to a request of conn {}", expected_index,
                    reply->value, *owner);
    replies.last_value = reply->value;
    ++replies.next_index;
    return {};
}

}  // namespace tcpfo::streamtest

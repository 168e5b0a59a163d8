#include "counter_reply_check.h"

#include <algorithm>
#include <cstring>

namespace tcpfo::streamtest {

CounterReplyCheck::CounterReplyCheck(std::uint64_t replies_expected) {
    // Sized once: growing it would rehash every value at each doubling, in the middle
    // of the run (a pause of the client's loop). Capped: a long run grows past it.
    value_owner_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(replies_expected, 1u << 22)));
}

Result<void> CounterReplyCheck::take(CounterReplies& replies, std::span<const std::uint8_t> bytes,
                                     std::uint64_t requests_sent) {
    while (!bytes.empty()) {
        const std::size_t n = std::min(bytes.size(), counter_reply_size - replies.partial_len);
        std::memcpy(replies.partial + replies.partial_len, bytes.data(), n);
        replies.partial_len += n;
        bytes = bytes.subspan(n);
        if (replies.partial_len < counter_reply_size) break;
        replies.partial_len = 0;
        auto ok = check(replies, std::span<const std::uint8_t, counter_reply_size>(replies.partial, counter_reply_size),
                        requests_sent);
        if (!ok) return ok;
    }
    return {};
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
    const auto [owner, fresh] = value_owner_.emplace(reply->value, replies.conn);
    if (!fresh)
        return fail("counter reply {}: value {} was already the reply to a request of conn {}", expected_index,
                    reply->value, owner->second);
    replies.last_value = reply->value;
    ++replies.next_index;
    return {};
}

}  // namespace tcpfo::streamtest

#include "stamp_reply_check.h"
#include "fixed_replies.h"

#include <algorithm>
#include <cstring>

namespace tcpfo::streamtest {

namespace {

Result<void> check(StampReplies& replies, std::span<const std::uint8_t, stamp_reply_size> wire,
                   std::uint64_t requests_sent) {
    const std::uint64_t expected_index = replies.next_index;
    if (expected_index >= requests_sent)
        return fail("stamp reply {}: the client has sent only {} request(s)", expected_index, requests_sent);
    const auto reply = decode_stamp_reply(wire);
    if (!reply) return fail("stamp reply {}: its last 4 bytes are not zero (misplaced or corrupted)", expected_index);
    if (reply->index != expected_index)
        return fail("stamp reply {}: carries index {}", expected_index, reply->index);
    std::uint8_t request[stamp_request_size];
    fill_pattern(client_stream(replies.seed), expected_index * stamp_request_size, request);
    const std::uint32_t crc = stamp_reply_crc(request, reply->index, reply->time_ns, reply->random);
    if (reply->crc != crc)
        return fail("stamp reply {}: crc32 {:08x}, expected {:08x} for the request sent and time {}", expected_index,
                    reply->crc, crc, reply->time_ns);
    // The difference in unsigned arithmetic: exact for any two times, however far apart.
    const std::uint64_t back = replies.have_time && reply->time_ns < replies.latest_time_ns
                                   ? static_cast<std::uint64_t>(replies.latest_time_ns) -
                                         static_cast<std::uint64_t>(reply->time_ns)
                                   : 0;
    if (back > static_cast<std::uint64_t>(stamp_max_back_ns))
        return fail("stamp reply {}: time {} ns is {:.3f} s before the connection's latest {} ns (at most {} s back)",
                    expected_index, reply->time_ns, back / 1e9, replies.latest_time_ns,
                    stamp_max_back_ns / 1'000'000'000);
    replies.latest_time_ns = replies.have_time ? std::max(replies.latest_time_ns, reply->time_ns) : reply->time_ns;
    replies.have_time = true;
    ++replies.next_index;
    return {};
}

}  // namespace

Result<void> take_stamp_replies(StampReplies& replies, std::span<const std::uint8_t> bytes,
                                std::uint64_t requests_sent) {
    return take_fixed_replies<stamp_reply_size>(replies, bytes, [&](std::span<const std::uint8_t, stamp_reply_size> reply) {
        return check(replies, reply, requests_sent);
    });
}

}  // namespace tcpfo::streamtest

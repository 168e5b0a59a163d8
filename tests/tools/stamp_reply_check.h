// tcpfo-stream-client's check of the STAMP mode's replies (stream_protocol.h). Each
// reply carries its request's index on the connection, the service's CLOCK_REALTIME
// and 8 random bytes, bound to the request sent by a CRC-32. The time and the random
// bytes cannot be predicted; what can be checked is that the reply is the one owed
// (index), intact (CRC, zero bytes), and that the time does not go back on the
// connection by more than `stamp_max_back_ns`: a replica replaying the primary's clock
// gives exactly the primary's times, and a replica that went live at a takeover reads
// the same host's clock in another process, a little later; a time from anywhere else
// (a wrong reply, garbage) is caught by the CRC or this bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "stream_protocol.h"
#include "userd/base/error.h"

namespace tcpfo::streamtest {

inline constexpr std::int64_t stamp_max_back_ns = 1'000'000'000;

// One connection's replies so far.
struct StampReplies {
    std::uint16_t seed = 0;         // the connection's pattern seed: its requests follow from it
    std::uint64_t next_index = 0;   // the reply expected next
    bool have_time = false;
    std::int64_t latest_time_ns = 0;  // the highest time of a reply so far
    std::uint8_t partial[stamp_reply_size] = {};  // a reply received in part
    std::size_t partial_len = 0;
};

// Checks `bytes`, the next bytes received on `replies`' connection, which has sent
// `requests_sent` whole requests so far. The error names the reply and what is wrong
// with it; the connection is then not to be checked any further.
Result<void> take_stamp_replies(StampReplies& replies, std::span<const std::uint8_t> bytes,
                                std::uint64_t requests_sent);

}  // namespace tcpfo::streamtest

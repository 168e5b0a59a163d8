// tcpfo-stream-client's check of the COUNTER mode's replies (stream_protocol.h). The
// service numbers every request of every connection from one counter, so whatever
// order it served them in, each reply carries a value above the previous reply's on
// its connection and a value no reply on any connection carried before. A reply that
// breaks this came from a process that had not numbered the same requests: after a
// failover, a replica whose state diverged from the primary's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>

#include "stream_protocol.h"
#include "userd/base/error.h"

namespace tcpfo::streamtest {

// One connection's replies so far.
struct CounterReplies {
    std::uint32_t conn = 0;         // the connection's number in this client, for messages
    std::uint16_t seed = 0;         // its pattern seed: requests and padding follow from it
    std::uint64_t next_index = 0;   // the reply expected next
    std::uint64_t last_value = 0;   // the previous reply's value; the service counts from 1
    std::uint8_t partial[counter_reply_size] = {};  // a reply received in part
    std::size_t partial_len = 0;
};

class CounterReplyCheck {
public:
    // `replies_expected`: what the whole run should receive, to size the set of values.
    explicit CounterReplyCheck(std::uint64_t replies_expected);

    // Checks `bytes`, the next bytes received on `replies`' connection, which has sent
    // `requests_sent` whole requests so far. The error names the reply and what is
    // wrong with it; the connection is then not to be checked any further.
    Result<void> take(CounterReplies& replies, std::span<const std::uint8_t> bytes, std::uint64_t requests_sent);

private:
    Result<void> check(CounterReplies& replies, std::span<const std::uint8_t, counter_reply_size> wire,
                       std::uint64_t requests_sent);

    // Every value accepted so far, with the connection it came on.
    std::unordered_map<std::uint64_t, std::uint32_t> value_owner_;
};

}  // namespace tcpfo::streamtest

// tcpfo-stream-client's check of the COUNTER mode's replies (stream_protocol.h). The
// service numbers every request of every connection from one counter, so whatever
// order it served them in, each reply carries a value above the previous reply's on
// its connection and a value no reply on any connection carried before. A reply that
// breaks this came from a process that had not numbered the same requests: after a
// failover, a replica whose state diverged from the primary's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

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
    // Records that `value` came on connection `conn`; the connection it came on before
    // if it did.
    std::optional<std::uint32_t> claim(std::uint64_t value, std::uint32_t conn);

    // Every value accepted so far, with the connection it came on. The service counts
    // from 1 and this client is most of its traffic, so the values are dense: a table
    // indexed by value (connection + 1, 0 for none) grown as they come. With a hash map
    // (a node allocated per reply) the client spent 590 ns of CPU per reply, 260 with
    // the table (20 unpaced connections of 8 MiB each).
    // Values past `dense_limit_` (a corrupted reply, or a service with much more
    // traffic than ours) go to `sparse_`.
    std::vector<std::uint32_t> dense_;
    std::uint64_t dense_limit_ = 0;
    std::unordered_map<std::uint64_t, std::uint32_t> sparse_;
};

}  // namespace tcpfo::streamtest

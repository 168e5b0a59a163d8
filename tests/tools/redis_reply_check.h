// What the redis failover scenarios' client sends and what it accepts back
// (tests/tools/redis_incr_client.cpp). Two command cycles per connection:
//   incr: `INCR k` only;
//   mix:  `INCR k`, `TIME`, `SADD s m<conn>-<n>`, `SET x:<conn>:<n> <n>`, `RANDOMKEY`,
//         `SRANDMEMBER s 2` — replies that carry the clock and redis's random choices,
//         interleaved with writes to state that every connection shares.
// Each reply is checked for what a client may rely on, without knowing the server's
// clock or random state: INCR values strictly rise on a connection and are never
// another connection's; TIME is well formed, near the client's own clock and never
// goes back on a connection; SADD adds (":1"), SET says "+OK"; RANDOMKEY and
// SRANDMEMBER name only keys and members some connection has already sent. Whether the
// replica's bytes equal the primary's is the backup's output check, not the client's.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "resp_reply.h"

namespace tcpfo::streamtest {

enum class RedisCycle { incr, mix };

class RedisReplyCheck {
public:
    RedisReplyCheck(RedisCycle cycle, std::size_t conns, std::string key, std::int64_t start_unix_us);

    // Commands per cycle (1 or 6); the cycle always starts with the INCR.
    std::size_t cycle_length() const;
    // The command number n of connection `conn`, as RESP, and counts it as sent.
    std::string next_command(std::size_t conn);
    // Checks reply number `index` of connection `conn` (replies come in command order).
    // Empty when it is acceptable, else why not. `now_unix_us` is the client's clock.
    std::string check(std::size_t conn, std::uint64_t index, const RespReply& reply, std::int64_t now_unix_us);

    // INCR values any connection got.
    const std::unordered_set<std::uint64_t>& values_seen() const { return seen_; }

private:
    std::string check_incr(std::size_t conn, const RespReply& reply);
    std::string check_time(std::size_t conn, const RespReply& reply, std::int64_t now_unix_us);
    // "x:<conn>:<n>" / "m<conn>-<n>" with n a command of kind `kind` already sent.
    bool sent_name(std::string_view name, std::string_view prefix, char separator, std::uint64_t kind) const;

    struct Conn {
        std::uint64_t sent = 0;       // commands sent
        std::uint64_t last_incr = 0;  // the previous INCR reply
        std::int64_t last_time_us = 0;  // the previous TIME reply
    };
    RedisCycle cycle_;
    std::string key_;
    std::int64_t start_us_;
    std::vector<Conn> conns_;
    std::unordered_set<std::uint64_t> seen_;
};

}  // namespace tcpfo::streamtest

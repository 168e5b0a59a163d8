// One redis (RESP2) reply parsed off the front of a client's receive buffer, for the
// redis failover scenarios' client: strict, so that a reply spliced from the wrong
// offset (a reply beginning mid-number) is an error, never a value.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tcpfo::streamtest {

struct RespReply {
    char type = 0;             // '+' status, '-' error, ':' integer, '$' bulk, '*' array
    bool nil = false;          // "$-1" or "*-1"
    std::string text;          // the line (status, error, integer) or the bulk string
    std::vector<RespReply> items;  // an array's elements (bulk strings or integers)
};

struct RespParse {
    std::optional<RespReply> reply;  // set when a whole reply was there
    std::size_t size = 0;            // its size in bytes
    std::string error;               // set when the bytes cannot be a reply
};

// Parses the reply at the start of `in`. Neither reply nor error: it is incomplete.
// Bounds: a line is at most 64 bytes, a bulk string at most 1 MiB, an array at most
// 1,024 elements and not nested.
RespParse parse_resp(std::string_view in);

// A RESP integer's text: digits, an optional leading '-', no leading zero, 18 digits
// at most.
std::optional<long long> resp_integer(std::string_view text);

}  // namespace tcpfo::streamtest

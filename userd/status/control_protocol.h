// failoverd's control socket: a unix stream socket (failoverd --control PATH). A
// client sends one request, a JSON object on one line; failoverd answers with one
// JSON document and a newline, then closes the connection.
//
//   {"command":"status"}            -> the node's status (status_json.h)
//   {"command":"status","conn":7}   -> {"connection":{...}} for connection 7
//   {"command":"service","pid":N}   -> {"mode":"record"} or {"mode":"replay"}: tcpfo-run
//                                      asks how its service runs on this node; the
//                                      connection then stays open as the service's
//                                      application log channel (docs/protocol.md)
//   anything else                   -> {"error":"..."}
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "userd/base/error.h"

namespace tcpfo {

inline constexpr const char* kDefaultControlPath = "/run/tcpfo/failoverd.sock";
// A request is a short line; anything longer is refused without being parsed.
inline constexpr size_t kMaxControlRequest = 4096;

struct ControlRequest {
    enum class Command { status, service };
    Command command = Command::status;
    std::optional<uint64_t> conn;  // status of one connection only
    int pid = 0;                   // service: the process tcpfo-run will become
};

// Parses one request line (without its newline). Never throws.
Result<ControlRequest> parse_control_request(std::string_view line);
// The request line failoverctl sends, newline included.
std::string make_status_request(std::optional<uint64_t> conn = std::nullopt);

}  // namespace tcpfo

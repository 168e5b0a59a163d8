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
//   {"command":"handover"}          -> {"handover":"sent","to":"ADDR:PORT"}: a primary
//   {"command":"handover","node":N}    falls silent and hands every connection over to
//                                      its live backup (N: that backup's address, as
//                                      ADDR or ADDR:PORT, or its node id); anything but
//                                      a primary with a live backup stream answers
//                                      {"error":"no ready backup: ..."} and changes nothing
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
    enum class Command { status, service, handover };
    Command command = Command::status;
    std::optional<uint64_t> conn;  // status of one connection only
    int pid = 0;                   // service: the process tcpfo-run will become
    std::optional<std::string> node;  // handover: the backup to hand over to (any live one if unset)
};

// Parses one request line (without its newline). Never throws.
Result<ControlRequest> parse_control_request(std::string_view line);
// The request line failoverctl sends, newline included.
std::string make_status_request(std::optional<uint64_t> conn = std::nullopt);
std::string make_handover_request(const std::optional<std::string>& node = std::nullopt);
// The longest node name a handover request may carry (an address with its port, or an id).
inline constexpr size_t kMaxHandoverNode = 64;

}  // namespace tcpfo

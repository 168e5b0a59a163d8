// tcpfo-run's side of failoverd's control socket (docs/protocol.md, "The application
// log"): connect, waiting for a failoverd that starts later; announce the service with
// one JSON line; read failoverd's one-line answer, which says whether this node records
// the service (primary) or replays it (backup). The socket then carries the
// application log, and stays open into the service as the library's log descriptor.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "userd/base/error.h"
#include "userd/base/unique_fd.h"

namespace tcpfo {

enum class ServiceMode { record, replay };

const char* service_mode_name(ServiceMode mode);

// How long a failoverd may take to answer the announcement, and how long its answer
// may be (newline included).
inline constexpr int kServiceReplyTimeoutMs = 10 * 1000;
inline constexpr size_t kMaxServiceReply = 4096;

// Connects to the unix stream socket `path`; while nothing listens there (ENOENT,
// ECONNREFUSED, EAGAIN) tries again every 100 ms for up to `wait_s` seconds (0: once).
// The error says "no failoverd answers on PATH after N s (last error: ...)".
Result<UniqueFd> connect_to_failoverd(const std::string& path, int wait_s);

// The line tcpfo-run sends, newline included: {"command":"service","pid":PID}.
std::string make_service_request(pid_t pid);

// One answer line, without its newline: {"mode":"record"} or {"mode":"replay"}, or
// {"error":"text"} (-> "failoverd refused the service: text"); anything else is
// "failoverd sent a malformed answer: ...". Never throws.
Result<ServiceMode> parse_service_reply(std::string_view line);

// Sends the request for `pid` and reads the answer on `fd` within
// kServiceReplyTimeoutMs. The answer is read one byte at a time, so that the bytes
// failoverd sends after its newline (the start of the log, on a backup) stay in the
// socket for the service.
Result<ServiceMode> announce_service(int fd, const std::string& path, pid_t pid);

}  // namespace tcpfo

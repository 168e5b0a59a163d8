// The SCTP transport of a replication stream (lksctp-tools): a StreamLink over a
// one-to-one (SOCK_STREAM) SCTP association, ordered, on one stream, with the same
// record framing and authentication as TCP, so nothing above Link can tell them apart.
//
// What SCTP adds is multihoming: each end binds both of its addresses (sctp_bindx)
// and the primary connects to both of the backup's (sctp_connectx). When one path
// fails, SCTP retransmits on the other and marks the failed one down after a few
// timeouts; the association, and with it the link, ends only when every path is gone.
// The timers are set for a LAN (kSctpTiming below), not for RFC 4960's Internet
// defaults (RTO.min 1 s, heartbeats every 30 s), under which a path failure would
// stall the stream for seconds.
#pragma once

#include <netinet/in.h>

#include <memory>
#include <span>
#include <string>

#include "userd/base/error.h"
#include "userd/base/unique_fd.h"
#include "userd/transport/stream_link.h"

namespace tcpfo {

// What SCTP is told about its paths (SCTP_RTOINFO, SCTP_PEER_ADDR_PARAMS, SCTP_ASSOCINFO).
struct SctpTiming {
    uint32_t rto_initial_ms = 200;
    uint32_t rto_min_ms = 100;
    uint32_t rto_max_ms = 800;
    uint32_t path_heartbeat_ms = 100;  // SCTP's own heartbeats on an idle path
    uint16_t path_max_retrans = 2;     // timeouts in a row before a path is marked down
    uint16_t assoc_max_retrans = 10;   // ... before the whole association is given up
};
inline constexpr SctpTiming kSctpTiming{};

// Whether this kernel has SCTP: ok, or one line saying it does not ("SCTP is not
// available ..."), for the daemon to stop with before it starts anything.
Result<void> check_sctp_available();

// A nonblocking SCTP listener bound to every address of `at` (one or two, same port).
Result<UniqueFd> listen_sctp(std::span<const sockaddr_in> at);
// Starts a nonblocking association to every address of `to` from the addresses of
// `from` (any port): the first address of `to` is tried first and is the primary path.
Result<UniqueFd> connect_sctp(std::span<const sockaddr_in> to, std::span<const sockaddr_in> from);

class SctpLink final : public StreamLink {
public:
    // `fd` is an associated (or associating) one-to-one SCTP socket. `auth`: null for
    // an unauthenticated stream (no key configured).
    static Result<std::unique_ptr<SctpLink>> open(EventLoop& loop, UniqueFd fd, std::string name,
                                                  Callbacks callbacks, std::unique_ptr<StreamAuth> auth = nullptr);

private:
    friend class StreamLink;
    using StreamLink::StreamLink;
};

}  // namespace tcpfo

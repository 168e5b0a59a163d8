// The replication stream's sockets and links, by --transport: TCP on a node's first
// address, or SCTP over both of its addresses (sctp_link.h). The daemon's roles call
// these and hold a Link; nothing above them knows which transport runs.
#pragma once

#include <netinet/in.h>

#include <memory>
#include <optional>
#include <string>

#include "userd/auth/frame_auth.h"
#include "userd/base/error.h"
#include "userd/base/event_loop.h"
#include "userd/base/unique_fd.h"
#include "userd/config/settings.h"
#include "userd/transport/link.h"

namespace tcpfo {

// A node's addresses on the replication port: its first, and its second if it has one.
struct PathAddresses {
    sockaddr_in first{};
    std::optional<sockaddr_in> second;
    // Whether `address` is one of them (the port is not compared).
    bool has(in_addr_t address) const {
        return first.sin_addr.s_addr == address || (second && second->sin_addr.s_addr == address);
    }
};

Result<UniqueFd> listen_replication(Transport transport, const PathAddresses& at);
// Starts a nonblocking connect to `to`, from this node's `from` addresses (SCTP binds
// them, so the association's paths are exactly the two segments; TCP picks its source
// by route, as it always did).
Result<UniqueFd> connect_replication(Transport transport, const PathAddresses& to, const PathAddresses& from);
Result<std::unique_ptr<Link>> open_replication_link(Transport transport, EventLoop& loop, UniqueFd fd,
                                                    std::string name, Link::Callbacks callbacks,
                                                    std::unique_ptr<StreamAuth> auth);

}  // namespace tcpfo

// The TCP transport of a replication stream: a StreamLink (stream_link.h) over a
// nonblocking TCP socket. A corrupt record or a socket error closes the link with one
// log line; nothing of a bad record is applied.
#pragma once

#include <memory>
#include <string>

#include "userd/transport/stream_link.h"

namespace tcpfo {

class TcpLink final : public StreamLink {
public:
    // `fd` is a connected (or connecting) nonblocking TCP socket. `auth`: null for an
    // unauthenticated stream (no key configured).
    static Result<std::unique_ptr<TcpLink>> open(EventLoop& loop, UniqueFd fd, std::string name,
                                                 Callbacks callbacks, std::unique_ptr<StreamAuth> auth = nullptr);

private:
    friend class StreamLink;
    using StreamLink::StreamLink;
};

}  // namespace tcpfo

// NodeStatus as JSON (compact, one document per response, then a newline). A status
// of many connections is rendered in pieces, so the control server can interleave
// it with the event loop's other work and the socket's pace.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "userd/status/node_status.h"

namespace tcpfo {

class StatusRenderer {
public:
    explicit StatusRenderer(NodeStatus status) : status_(std::move(status)) {}

    // Appends the next piece of the document to `out`: first everything but the
    // connections, then at most `max_conns` connections per call, then the closing
    // brackets and a newline. Returns false, appending nothing, once the whole
    // document has been appended. Never throws.
    bool next(std::string& out, size_t max_conns);
    bool done() const { return stage_ == Stage::done; }
    size_t connection_count() const { return status_.conns.size(); }

private:
    enum class Stage { head, conns, tail, done };
    NodeStatus status_;
    Stage stage_ = Stage::head;
    size_t next_conn_ = 0;
};

// The whole document at once (tests, small nodes).
std::string render_status(NodeStatus status);
// One connection as a compact JSON object (no newline).
std::string render_conn(const ConnStatus& conn);
// `{"connection":{...}}\n` for connection `id` of `status` (after status.complete),
// or an error document when there is none.
std::string render_one_conn(NodeStatus& status, uint64_t id);
// `{"error":"..."}\n`
std::string render_error(std::string_view message);
// {"handover":"sent","to":"192.0.2.11:7100"} and a newline.
std::string render_handover_sent(std::string_view to);
// "192.0.2.1:40312" (address in network order, port in host order).
std::string endpoint_text(uint32_t addr, uint16_t port);

}  // namespace tcpfo

// `failoverd --metrics ADDR:PORT`: GET /metrics answers the node's metrics in the
// Prometheus text format (metrics_text.h). HTTP is libmicrohttpd's, run from the
// event loop: its epoll descriptor is one more fd of the loop, and MHD_run() is called
// when it is readable or its timeout is due. No thread of its own, so a scrape reads
// the node's state where it lives, without locks, and nothing runs outside the
// capabilities the daemon keeps (privileges.h).
#pragma once

#include <netinet/in.h>

#include <functional>
#include <memory>
#include <string>

#include "userd/base/error.h"
#include "userd/base/event_loop.h"
#include "userd/base/unique_fd.h"
#include "userd/status/node_status.h"

struct MHD_Daemon;

namespace tcpfo {

class MetricsServer {
public:
    struct Limits {
        unsigned max_clients = 8;          // more wait in the listen backlog (16)
        unsigned client_timeout_s = 10;    // an idle client is closed after this
    };
    // The status a scrape renders (StatusDetail::summary is enough).
    using Source = std::function<NodeStatus()>;

    // Binds and listens on `address` (a port in use fails here, in one line).
    static Result<std::unique_ptr<MetricsServer>> open(EventLoop& loop, const sockaddr_in& address);
    static Result<std::unique_ptr<MetricsServer>> open(EventLoop& loop, const sockaddr_in& address, Limits limits);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    // Until set (and once reset), scrapes are answered 503: the node is starting or
    // going away.
    void set_source(Source source) { source_ = std::move(source); }
    // "192.0.2.10:9100", with the port the kernel chose when asked for port 0.
    const std::string& address() const { return address_; }

    // The answer to one request, for MHD's callback (and the unit tests).
    struct Answer {
        unsigned status = 200;
        std::string content_type;
        std::string body;
    };
    Answer answer(std::string_view method, std::string_view url) const;

private:
    MetricsServer(EventLoop& loop, Limits limits);
    Result<void> start(const sockaddr_in& address);
    // Lets MHD do what is ready, then arms the timer for its next timeout.
    void run_daemon();

    EventLoop& loop_;
    Limits limits_;
    MHD_Daemon* daemon_ = nullptr;
    int epoll_fd_ = -1;  // MHD's own; it closes it
    UniqueFd timer_;     // MHD's next timeout (idle clients)
    std::string address_;
    Source source_;
};

}  // namespace tcpfo

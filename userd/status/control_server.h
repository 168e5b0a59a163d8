// failoverd's control socket server (control_protocol.h). It lives in the event
// loop and never blocks it: sockets are nonblocking, a few clients are served at
// once, requests are bounded, and a status of many connections is rendered and
// written in pieces as the client reads it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "userd/base/event_loop.h"
#include "userd/status/control_protocol.h"
#include "userd/status/node_status.h"

namespace tcpfo {

class StatusRenderer;

class ControlServer {
public:
    struct Limits {
        size_t max_clients = 4;              // more are answered "busy" and closed
        size_t max_request = kMaxControlRequest;
        uint64_t client_timeout_ms = 10000;  // a whole exchange, request to last byte
        // Rendering is a few microseconds per connection (more on a loaded machine):
        // a wake-up renders one piece, well under a millisecond, so heartbeats and
        // replication never wait behind a status of thousands of connections.
        size_t conns_per_piece = 64;
        size_t pieces_per_wakeup = 1;
    };
    using StatusSource = std::function<NodeStatus()>;
    // A service started under tcpfo-run asks how it runs here: the node answers with
    // a mode ("record" or "replay") and a function that takes the connection over as
    // the service's application log channel (with any bytes already read past the
    // request), or with an error (one line, sent to tcpfo-run).
    struct ServiceOffer {
        std::string mode;
        std::function<void(UniqueFd, std::string)> take;
    };
    using ServiceHandler = std::function<Result<ServiceOffer>(int pid)>;
    // `failoverctl handover [NODE]`: the node hands over (or refuses, one line) before
    // it returns, and names the backup it handed over to.
    using HandoverHandler = std::function<Result<std::string>(const std::optional<std::string>& node)>;

    // Creates the socket's directory (mode 0700) if it is missing, refuses when a
    // live server answers on `path` (another failoverd), replaces a stale socket,
    // and listens (mode 0600).
    static Result<std::unique_ptr<ControlServer>> open(EventLoop& loop, std::string path);
    static Result<std::unique_ptr<ControlServer>> open(EventLoop& loop, std::string path, Limits limits);
    // Closes every client and removes the socket if it is still this server's.
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Where status requests get their snapshot. Until set, they are answered with an
    // error; resetting it (an empty function) also drops the clients being answered,
    // whose renderers may refer to the node.
    void set_status_source(StatusSource source);
    // Until set, service requests are answered with an error.
    void set_service_handler(ServiceHandler handler) { service_ = std::move(handler); }
    // Until set, handover requests are answered with an error.
    void set_handover_handler(HandoverHandler handler) { handover_ = std::move(handler); }
    const std::string& path() const { return path_; }
    size_t client_count() const { return clients_.size(); }

private:
    struct Client {
        UniqueFd fd;
        std::string in;
        std::string out;
        size_t out_pos = 0;
        std::unique_ptr<StatusRenderer> renderer;
        bool answering = false;  // request read; only writing from now on
        std::optional<ServiceOffer> handover;  // a service request accepted: hand the socket over
        uint64_t deadline_ms = 0;
        uint32_t interest = 0;
    };

    ControlServer(EventLoop& loop, std::string path, Limits limits);
    Result<void> bind_and_listen();
    void on_accept();
    void on_client_events(int fd, uint32_t events);
    // Reads what has arrived; false when the client must be dropped.
    bool read_request(Client& client);
    void answer(Client& client, std::string_view line);
    // Writes (and renders) what it can; false when the client is finished or failed.
    bool pump(Client& client);
    void set_interest(Client& client, uint32_t events);
    void drop(int fd);
    void hand_over(int fd);
    void on_timer();
    void arm_timer();

    EventLoop& loop_;
    std::string path_;
    Limits limits_;
    UniqueFd listener_;
    UniqueFd timer_;
    dev_t socket_dev_ = 0;
    ino_t socket_ino_ = 0;
    uint64_t listener_paused_until_ms_ = 0;
    StatusSource source_;
    ServiceHandler service_;
    HandoverHandler handover_;
    std::map<int, std::unique_ptr<Client>> clients_;
};

}  // namespace tcpfo

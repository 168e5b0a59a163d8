#include "userd/status/metrics_server.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <exception>

#include "userd/base/inet_address.h"
#include "userd/base/log.h"
#include "userd/status/metrics_text.h"

namespace tcpfo {
namespace {

// MHD's own error messages, as debug lines of ours ("Server reached connection
// limit", a client that timed out): a client's misbehaviour is not the node's problem.
void log_from_mhd(void* /*cls*/, const char* format, va_list args) {
    char text[512];
    std::vsnprintf(text, sizeof text, format, args);
    std::string_view line(text);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    log_debug("metrics: {}", line);
}

MHD_Result handle_request(void* cls, MHD_Connection* connection, const char* url, const char* method,
                          const char* /*version*/, const char* /*upload_data*/, size_t* upload_data_size,
                          void** state) {
    // The first call is for the headers; answering comes with the second (MHD's usual
    // pattern, which also lets it read and discard a request body first).
    static int headers_seen;
    if (*state == nullptr) {
        *state = &headers_seen;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;  // a body nobody asked for: discarded
        return MHD_YES;
    }
    // No exception may cross MHD's C frames: a status that cannot be taken is a 500.
    MetricsServer::Answer answer;
    try {
        answer = static_cast<const MetricsServer*>(cls)->answer(method, url);
    } catch (const std::exception& e) {
        answer = {500, "text/plain; charset=utf-8", fmt::format("can't take a status: {}\n", e.what())};
    }
    MHD_Response* response =
        MHD_create_response_from_buffer(answer.body.size(), answer.body.data(), MHD_RESPMEM_MUST_COPY);
    if (!response) return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, answer.content_type.c_str());
    if (answer.status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    const MHD_Result queued = MHD_queue_response(connection, answer.status, response);
    MHD_destroy_response(response);
    return queued;
}

}  // namespace

MetricsServer::MetricsServer(EventLoop& loop, Limits limits) : loop_(loop), limits_(limits) {}

Result<std::unique_ptr<MetricsServer>> MetricsServer::open(EventLoop& loop, const sockaddr_in& address) {
    return open(loop, address, Limits{});
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::open(EventLoop& loop, const sockaddr_in& address,
                                                           Limits limits) {
    std::unique_ptr<MetricsServer> server(new MetricsServer(loop, limits));
    if (auto r = server->start(address); !r) return std::unexpected(r.error());
    return server;
}

Result<void> MetricsServer::start(const sockaddr_in& address) {
    const std::string where = to_string(address);
    if (!MHD_is_feature_supported(MHD_FEATURE_EPOLL))
        return fail("metrics {}: this libmicrohttpd has no epoll support", where);
    // The socket is ours to bind, so that a port in use is one line with its errno
    // (MHD would only say it failed); MHD takes it over (and closes it when stopped).
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return sys_fail(errno, "metrics {}: can't create socket", where);
    const int one = 1;
    // A restarted failoverd binds again while the last one's scrapes sit in TIME_WAIT.
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
        return sys_fail(errno, "metrics {}: can't bind", where);
    if (::listen(fd.get(), 16) != 0) return sys_fail(errno, "metrics {}: can't listen", where);
    sockaddr_in bound{};
    socklen_t length = sizeof bound;
    address_ = ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &length) == 0 ? to_string(bound) : where;

    // No MHD_USE_INTERNAL_POLLING_THREAD: MHD runs only when run_daemon() calls it.
    daemon_ = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, nullptr, nullptr, &handle_request, this,
                               MHD_OPTION_EXTERNAL_LOGGER, &log_from_mhd, nullptr,
                               MHD_OPTION_LISTEN_SOCKET, fd.get(),
                               MHD_OPTION_CONNECTION_LIMIT, limits_.max_clients,
                               MHD_OPTION_CONNECTION_TIMEOUT, limits_.client_timeout_s,
                               MHD_OPTION_END);
    if (!daemon_) return fail("metrics {}: libmicrohttpd would not start", address_);
    [[maybe_unused]] const int taken = fd.release();
    const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info) return fail("metrics {}: libmicrohttpd has no epoll descriptor", address_);
    epoll_fd_ = info->epoll_fd;
    auto timer = make_oneshot_timer();
    if (!timer) return std::unexpected(timer.error());
    timer_ = std::move(*timer);
    if (auto r = loop_.add(epoll_fd_, EPOLLIN, [this](uint32_t) { run_daemon(); }); !r) return r;
    if (auto r = loop_.add(timer_.get(), EPOLLIN, [this](uint32_t) {
            drain_timer(timer_.get());
            run_daemon();
        });
        !r)
        return r;
    log_info("metrics: serving http://{}/metrics", address_);
    return {};
}

MetricsServer::~MetricsServer() {
    if (timer_) loop_.remove(timer_.get());
    if (epoll_fd_ >= 0) loop_.remove(epoll_fd_);
    if (daemon_) MHD_stop_daemon(daemon_);
}

namespace {
unsigned connection_count(MHD_Daemon* daemon) {
    const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info ? info->num_connections : 0;
}
}  // namespace

void MetricsServer::run_daemon() {
    const unsigned before = connection_count(daemon_);
    (void)MHD_run(daemon_);
    // At its connection limit MHD takes the listening socket out of its epoll set, and
    // puts it back only at the start of its next run: when this run freed a place, a
    // client waiting in the backlog would otherwise wait for some unrelated event.
    if (connection_count(daemon_) < before) (void)MHD_run(daemon_);
    MHD_UNSIGNED_LONG_LONG timeout_ms = 0;
    // No timeout: nothing to wait for but the epoll descriptor (disarmed by 0). A due
    // one (0 ms) is run at the next turn of the loop (1 ms: 0 would disarm).
    const uint64_t delay = MHD_get_timeout(daemon_, &timeout_ms) == MHD_YES ? std::max<uint64_t>(timeout_ms, 1) : 0;
    if (auto r = arm_oneshot_timer(timer_.get(), delay); !r) log_warn("metrics {}: {}", address_, r.error().message);
}

MetricsServer::Answer MetricsServer::answer(std::string_view method, std::string_view url) const {
    const std::string plain = "text/plain; charset=utf-8";
    if (url != "/metrics") return {MHD_HTTP_NOT_FOUND, plain, "not found: the metrics are at /metrics\n"};
    if (method != MHD_HTTP_METHOD_GET && method != MHD_HTTP_METHOD_HEAD)
        return {MHD_HTTP_METHOD_NOT_ALLOWED, plain, "only GET and HEAD\n"};
    if (!source_) return {MHD_HTTP_SERVICE_UNAVAILABLE, plain, "failoverd is starting or stopping\n"};
    return {MHD_HTTP_OK, kMetricsContentType, render_metrics(source_())};
}

}  // namespace tcpfo

#include "replay/preload/service_handshake.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

namespace tcpfo {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kConnectRetry = std::chrono::milliseconds(100);

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() > 0 ? int(left.count()) : 0;
}

// Waits for `events` on `fd` until `deadline`: true when ready, false on timeout.
Result<bool> wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, remaining_ms(deadline));
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno != EINTR) return sys_fail(errno, "can't poll the control socket");
    }
}

}  // namespace

const char* service_mode_name(ServiceMode mode) {
    return mode == ServiceMode::record ? "record" : "replay";
}

Result<UniqueFd> connect_to_failoverd(const std::string& path, int wait_s) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path)
        return fail("control socket '{}': a path of 1 to {} bytes is needed", path, sizeof addr.sun_path - 1);
    path.copy(addr.sun_path, path.size());
    const auto deadline = Clock::now() + std::chrono::seconds(wait_s);
    for (;;) {
        // Close-on-exec until the handshake is done: tcpfo-run clears it just before
        // the exec, on the one descriptor the service is meant to keep.
        UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd) return sys_fail(errno, "can't create a unix socket");
        if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return fd;
        const int err = errno;
        // Not there yet (failoverd starts after the service, or is restarting): wait.
        // Anything else (a permission, a path through a file) will not go away.
        const bool absent = err == ENOENT || err == ECONNREFUSED || err == EAGAIN || err == EINTR;
        if (!absent) return sys_fail(err, "can't connect to failoverd on {}", path);
        // Linux refuses a connect to a file that is not a socket as it refuses one to a
        // socket nobody listens on; only the first can change by waiting.
        struct stat st{};
        if (err == ECONNREFUSED && ::stat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode))
            return fail("can't connect to failoverd on {}: not a socket", path);
        const auto now = Clock::now();
        if (now >= deadline)
            return fail("no failoverd answers on {} after {} s (last error: {})", path, wait_s,
                        std::strerror(err));
        std::this_thread::sleep_for(std::min<Clock::duration>(kConnectRetry, deadline - now));
    }
}

std::string make_service_request(pid_t pid) {
    return nlohmann::json{{"command", "service"}, {"pid", pid}}.dump() + "\n";
}

Result<ServiceMode> parse_service_reply(std::string_view line) {
    const auto doc = nlohmann::json::parse(line, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        return fail("failoverd sent a malformed answer: not a JSON object: '{}'", line);
    if (auto error = doc.find("error"); error != doc.end()) {
        const std::string text =
            error->is_string() ? error->get<std::string>()
                               : error->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return fail("failoverd refused the service: {}", text);
    }
    if (auto mode = doc.find("mode"); mode != doc.end() && mode->is_string()) {
        if (*mode == "record") return ServiceMode::record;
        if (*mode == "replay") return ServiceMode::replay;
    }
    return fail("failoverd sent a malformed answer: neither a mode (record or replay) nor an error: '{}'",
                line);
}

Result<ServiceMode> announce_service(int fd, const std::string& path, pid_t pid) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(kServiceReplyTimeoutMs);
    const std::string request = make_service_request(pid);
    for (size_t sent = 0; sent < request.size();) {
        auto ready = wait_for(fd, POLLOUT, deadline);
        if (!ready) return std::unexpected(ready.error());
        if (!*ready)
            return fail("failoverd on {} did not take the request within {} s", path,
                        kServiceReplyTimeoutMs / 1000);
        const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_fail(errno, "can't send to failoverd on {}", path);
        sent += size_t(n);
    }
    std::string line;
    for (;;) {
        auto ready = wait_for(fd, POLLIN, deadline);
        if (!ready) return std::unexpected(ready.error());
        if (!*ready)
            return fail("failoverd on {} did not answer within {} s", path, kServiceReplyTimeoutMs / 1000);
        char c;
        const ssize_t n = ::recv(fd, &c, 1, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_fail(errno, "can't read the answer of failoverd on {}", path);
        if (n == 0)
            return fail("failoverd on {} closed the connection {}", path,
                        line.empty() ? "without an answer" : "in the middle of its answer");
        if (c == '\n') break;
        if (line.size() + 1 >= kMaxServiceReply)
            return fail("failoverd on {} answered more than {} bytes without a newline", path, kMaxServiceReply);
        line.push_back(c);
    }
    return parse_service_reply(line);
}

}  // namespace tcpfo

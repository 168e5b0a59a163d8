#include "userd/health/http_check.h"

#include <sodium.h>

#include <charconv>

#include "userd/base/inet_address.h"

namespace tcpfo {

std::string sha256_hex(std::string_view bytes) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    return hex;
}

std::string http_request(const CheckSpec& spec) {
    return fmt::format("GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: failoverd-health\r\nConnection: close\r\n\r\n",
                       spec.path, to_string(*spec.target));
}

std::optional<ProbeOutcome> judge_http_response(const CheckSpec& spec, std::string_view received, bool closed) {
    const size_t line_end = received.find("\r\n");
    if (line_end == std::string_view::npos) {
        if (!closed) return std::nullopt;
        return ProbeOutcome{false, received.empty() ? "connection closed without a response"
                                                    : "connection closed before the status line"};
    }
    // "HTTP/1.1 503 Service Unavailable"
    const std::string_view line = received.substr(0, line_end);
    int status = 0;
    if (!line.starts_with("HTTP/") || line.find(' ') == std::string_view::npos) return ProbeOutcome{false, "not an HTTP response"};
    const std::string_view code = line.substr(line.find(' ') + 1, 3);
    if (auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), status);
        ec != std::errc() || end != code.data() + code.size())
        return ProbeOutcome{false, "not an HTTP response"};
    if (status != spec.expect_status) return ProbeOutcome{false, fmt::format("HTTP {}", status)};
    if (spec.body_contains.empty() && spec.body_sha256.empty()) return ProbeOutcome{true, ""};
    // The body needs the whole answer: HTTP/1.0, so it ends where the service closes.
    if (!closed) return std::nullopt;
    const size_t head_end = received.find("\r\n\r\n");
    const std::string_view body =
        head_end == std::string_view::npos ? std::string_view() : received.substr(head_end + 4);
    if (!spec.body_contains.empty() && body.find(spec.body_contains) == std::string_view::npos)
        return ProbeOutcome{false, fmt::format("body lacks '{}'", spec.body_contains)};
    if (!spec.body_sha256.empty() && sha256_hex(body) != spec.body_sha256)
        return ProbeOutcome{false, "body digest mismatch"};
    return ProbeOutcome{true, ""};
}

SocketProbeConfig http_probe_config(const CheckSpec& spec) {
    SocketProbeConfig c;
    c.target = *spec.target;
    c.connect_timeout_ms = spec.connect_timeout_ms;
    c.receive_timeout_ms = spec.receive_timeout_ms;
    c.request = http_request(spec);
    c.judge = [spec](std::string_view received, bool closed) { return judge_http_response(spec, received, closed); };
    return c;
}

}  // namespace tcpfo

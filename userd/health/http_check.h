// type = "http": an HTTP/1.0 GET of `path`; up when the status is `expect_status` and,
// if asked, the body holds `body_contains` and its SHA-256 is `body_sha256`.
#pragma once

#include "userd/health/socket_probe.h"

namespace tcpfo {

SocketProbeConfig http_probe_config(const CheckSpec& spec);
// The request as sent: HTTP/1.0, so the service closes after the answer and the end of
// the body needs no parsing of lengths or chunks.
std::string http_request(const CheckSpec& spec);
// The verdict on what arrived so far (nullopt: read on). Reasons: "HTTP 503", "not an
// HTTP response", "connection closed before the status line", "body lacks 'ok'",
// "body digest mismatch".
std::optional<ProbeOutcome> judge_http_response(const CheckSpec& spec, std::string_view received, bool closed);
// Lowercase hex SHA-256 (libsodium).
std::string sha256_hex(std::string_view bytes);

}  // namespace tcpfo

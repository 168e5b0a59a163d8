#include "userd/health/banner_check.h"

namespace tcpfo {

Result<std::regex> compile_banner(const std::string& expression) {
    // std::regex reports a bad expression by throwing; it stops here and becomes the
    // one-line error of the config file (and of a probe, which never sees one).
    try {
        return std::regex(expression, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
        return fail("'{}' is not a regular expression: {}", expression, e.what());
    }
}

std::optional<ProbeOutcome> judge_banner(const std::regex& banner, std::string_view received, bool closed) {
    if (std::regex_search(received.begin(), received.end(), banner)) return ProbeOutcome{true, ""};
    if (closed || received.find('\n') != std::string_view::npos)
        return ProbeOutcome{false, received.empty() ? "connection closed without a banner" : "banner mismatch"};
    return std::nullopt;
}

SocketProbeConfig banner_probe_config(const CheckSpec& spec) {
    SocketProbeConfig c;
    c.target = *spec.target;
    c.connect_timeout_ms = spec.connect_timeout_ms;
    c.receive_timeout_ms = spec.receive_timeout_ms;
    c.max_response = 4096;  // a greeting is a line
    c.reason_if_partial_at_timeout = "banner mismatch";
    // Compiled per probe: microseconds, at intervals of seconds. The config file
    // validated it, so the error branch is for completeness.
    auto compiled = compile_banner(spec.banner);
    if (!compiled) {
        c.judge = [why = compiled.error().message](std::string_view, bool) { return ProbeOutcome{false, why}; };
        return c;
    }
    c.judge = [banner = std::make_shared<std::regex>(std::move(*compiled))](std::string_view received, bool closed) {
        return judge_banner(*banner, received, closed);
    };
    return c;
}

}  // namespace tcpfo

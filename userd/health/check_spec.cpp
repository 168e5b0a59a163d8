#include "userd/health/check_spec.h"

#include <cctype>

namespace tcpfo {

const char* check_kind_name(CheckKind kind) {
    switch (kind) {
        case CheckKind::tcp: return "tcp";
        case CheckKind::http: return "http";
        case CheckKind::banner: return "banner";
        case CheckKind::script: return "script";
    }
    return "?";
}

std::optional<CheckKind> check_kind_from(std::string_view name) {
    for (CheckKind k : {CheckKind::tcp, CheckKind::http, CheckKind::banner, CheckKind::script})
        if (name == check_kind_name(k)) return k;
    return std::nullopt;
}

std::string check_spec_problem(const CheckSpec& spec, const std::vector<CheckSpec>& taken) {
    if (spec.name.empty()) return "a [[check]] table needs a name";
    for (const CheckSpec& other : taken)
        if (other.name == spec.name) return fmt::format("a second check named '{}'", spec.name);
    if (spec.kind == CheckKind::banner && spec.banner.empty())
        return fmt::format("check {}: a banner check needs banner = \"REGEX\"", spec.name);
    if (spec.kind == CheckKind::script && spec.argv.empty())
        return fmt::format("check {}: a script check needs script = \"/path/to/program [ARGS]\"", spec.name);
    return "";
}

Result<std::string> parse_sha256_hex(std::string_view text) {
    std::string hex;
    for (char c : text) {
        if (!std::isxdigit(static_cast<unsigned char>(c))) return fail("'{}' is not 64 hex digits (a SHA-256)", text);
        hex += char(std::tolower(static_cast<unsigned char>(c)));
    }
    if (hex.size() != 64) return fail("'{}' is not 64 hex digits (a SHA-256)", text);
    return hex;
}

}  // namespace tcpfo

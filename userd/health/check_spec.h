// One health check of the node's own service, as configured ([[check]] tables in the
// config file, docs/operations.md "Health checks"): what to probe, how often, how long
// to wait, and how many results in a row change its state.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "userd/base/error.h"

namespace tcpfo {

enum class CheckKind { tcp, http, banner, script };
const char* check_kind_name(CheckKind kind);
std::optional<CheckKind> check_kind_from(std::string_view name);

struct CheckSpec {
    std::string name;          // in log lines, status and notify calls; unique per node
    CheckKind kind = CheckKind::tcp;
    // tcp, http, banner: the endpoint probed. Unset in the file: 127.0.0.1 at the
    // node's --port (resolve_options fills it).
    std::optional<sockaddr_in> target;
    int interval_ms = 1000;         // from the start of one probe to the start of the next
    int connect_timeout_ms = 1000;  // tcp, http, banner: the connect must finish in this
    int receive_timeout_ms = 1000;  // http, banner: the answer, after the connect; script: the whole run
    int fall = 3;                   // consecutive failures that take an up check down
    int rise = 2;                   // consecutive successes that take a down check up
    // keepalived's init_fail (and a checker's alpha): start down, so the first `rise`
    // successes are needed before the node counts as healthy. Without it a check
    // starts up, as keepalived's do, and `fall` failures take it down.
    bool init_fail = false;
    // http
    std::string path = "/";
    int expect_status = 200;
    std::string body_contains;  // "" : not checked
    std::string body_sha256;    // lowercase hex of the whole body; "" : not checked
    // banner: an ECMAScript regular expression searched in what the service says first.
    std::string banner;
    // script: the program and its arguments (split on spaces), run without a shell.
    std::vector<std::string> argv;
};

// The ranges the config file checks (a key outside them is one error line).
struct CheckRanges {
    static constexpr long long kMinMs = 10, kMaxMs = 3600 * 1000;
    static constexpr long long kMaxCount = 100;
};

// Checks that need the whole table: a kind's required keys, unique names (`taken`:
// the names before it). "" if fine, else the problem (the caller names the table).
std::string check_spec_problem(const CheckSpec& spec, const std::vector<CheckSpec>& taken);

// "64e1...": 64 lowercase hex digits, or the problem.
Result<std::string> parse_sha256_hex(std::string_view text);

}  // namespace tcpfo

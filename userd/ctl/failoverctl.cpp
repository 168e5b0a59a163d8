// failoverctl: asks a running failoverd about itself through its control socket
// (failoverd --control PATH). See docs/operations.md.
#include <charconv>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "userd/base/flag_value.h"
#include "userd/status/control_client.h"
#include "userd/status/control_protocol.h"

using namespace tcpfo;

namespace {

const char* const kUsage =
    "usage: failoverctl [--control PATH] status [--conn ID]\n"
    "       failoverctl --help\n"
    "  --control PATH  the control socket of the failoverd to ask (failoverd --control);\n"
    "                  default /run/tcpfo/failoverd.sock\n"
    "  status          print the node's status as JSON: role (primary, backup, taking-over,\n"
    "                  taken-over-primary, takeover-failed), epoch, peers (address, state,\n"
    "                  bytes queued), the hooks' counters, the takeover (a backup's), and\n"
    "                  every connection: client address, protected or why not, client bytes\n"
    "                  logged and stable, server bytes sent and acknowledged, and after a\n"
    "                  takeover whether it was rebuilt\n"
    "  --conn ID       only connection ID\n"
    "Exit status: 0 on success, 1 when failoverd cannot be reached or reports an error,\n"
    "2 for a bad command line.\n";

int usage_error(const std::string& message) {
    std::fprintf(stderr, "failoverctl: %s (see --help)\n", message.c_str());
    return 2;
}

int fail_line(const std::string& message) {
    std::fprintf(stderr, "failoverctl: %s\n", message.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::string control = kDefaultControlPath;
    std::optional<std::string> command;
    std::optional<uint64_t> conn;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&](std::string_view flag) { return flag_value(flag, i, argc, argv); };
        if (arg == "--help" || arg == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (auto v = value("--control")) {
            if (v->empty()) return usage_error("--control needs a path");
            control = *v;
        } else if (auto v = value("--conn")) {
            uint64_t id = 0;
            auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), id);
            if (v->empty() || ec != std::errc() || end != v->data() + v->size())
                return usage_error(fmt::format("--conn: '{}' is not a connection id", *v));
            conn = id;
        } else if (!arg.empty() && arg[0] != '-' && !command) {
            command = arg;
        } else {
            return usage_error(fmt::format("unknown argument '{}'", arg));
        }
    }
    if (!command) return usage_error("no command given");
    if (*command != "status") return usage_error(fmt::format("unknown command '{}'", *command));

    auto response = control_request(control, make_status_request(conn));
    if (!response) return fail_line(response.error().message);
    try {
        const auto doc = nlohmann::ordered_json::parse(*response, nullptr, false);
        if (doc.is_discarded() || !doc.is_object())
            return fail_line(fmt::format("failoverd on {} sent a malformed answer", control));
        if (auto error = doc.find("error"); error != doc.end())
            return fail_line(fmt::format("failoverd: {}", error->is_string() ? error->get<std::string>() : error->dump()));
        const std::string text = doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
        std::fwrite(text.data(), 1, text.size(), stdout);
    } catch (const std::exception& e) {
        return fail_line(fmt::format("can't print the answer: {}", e.what()));
    }
    return std::fflush(stdout) == 0 ? 0 : 1;
}

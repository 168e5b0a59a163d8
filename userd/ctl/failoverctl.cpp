// failoverctl: asks a running failoverd about itself through its control socket
// (failoverd --control PATH). See docs/operations.md.
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "userd/auth/key_file.h"
#include "userd/ctl/ctl_command_line.h"
#include "userd/status/control_client.h"
#include "userd/status/control_protocol.h"

using namespace tcpfo;

namespace {

const char* const kUsage =
    "usage: failoverctl [--control PATH] status [--conn ID]\n"
    "       failoverctl [--control PATH] handover [NODE]\n"
    "       failoverctl genkey [PATH]\n"
    "       failoverctl --help\n"
    "  --control PATH  the control socket of the failoverd to ask (failoverd --control);\n"
    "                  default /run/tcpfo/failoverd.sock\n"
    "  status          print the node's status as JSON: role (primary, handed-over, backup,\n"
    "                  taking-over, taken-over-primary, takeover-failed), epoch, peers (address, state,\n"
    "                  bytes queued), the hooks' counters, the takeover (a backup's), and\n"
    "                  every connection: client address, protected or why not, client bytes\n"
    "                  logged and stable, server bytes sent and acknowledged, and after a\n"
    "                  takeover whether it was rebuilt\n"
    "  --conn ID       only connection ID\n"
    "  handover        (on a primary) fall silent and hand every connection over to a\n"
    "                  backup at once, without waiting for detection: egress frozen, the\n"
    "                  client bytes sent, the VIP removed, the backup told; the primary\n"
    "                  stays silent (role handed-over) until the operator stops it.\n"
    "                  Prints {\"handover\":\"sent\",\"to\":\"ADDR:PORT\"}; refused\n"
    "                  (\"no ready backup: ...\") on a backup or without a live backup\n"
    "  NODE            the backup to hand over to: ADDR, ADDR:PORT or its node id\n"
    "                  (default: the live backup)\n"
    "  genkey          make a shared key for failoverd --key-file: a new file PATH, mode 0600\n"
    "                  (never over an existing file); without PATH, the key's line on stdout\n"
    "                  (to add to a key file when rotating: docs/operations.md, \"Keys\")\n"
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
    auto cl = parse_ctl_command_line(argc, argv);
    if (!cl) return usage_error(cl.error().message);
    if (cl->help) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (cl->command == CtlCommandLine::Command::genkey) {
        if (!cl->key_path) {
            const std::string line = new_key_line();
            std::fwrite(line.data(), 1, line.size(), stdout);
            return std::fflush(stdout) == 0 ? 0 : 1;
        }
        if (auto r = write_new_key_file(*cl->key_path); !r) return fail_line(r.error().message);
        return 0;
    }
    const std::string& control = cl->control;
    const bool handover = cl->command == CtlCommandLine::Command::handover;
    auto response =
        control_request(control, handover ? make_handover_request(cl->node) : make_status_request(cl->conn));
    if (!response) return fail_line(response.error().message);
    try {
        const auto doc = nlohmann::ordered_json::parse(*response, nullptr, false);
        if (doc.is_discarded() || !doc.is_object())
            return fail_line(fmt::format("failoverd on {} sent a malformed answer", control));
        if (auto error = doc.find("error"); error != doc.end())
            return fail_line(fmt::format("failoverd: {}", error->is_string() ? error->get<std::string>() : error->dump()));
        // A handover's answer is one line, as it came; a status is for reading.
        const std::string text =
            doc.dump(handover ? -1 : 2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
        std::fwrite(text.data(), 1, text.size(), stdout);
    } catch (const std::exception& e) {
        return fail_line(fmt::format("can't print the answer: {}", e.what()));
    }
    return std::fflush(stdout) == 0 ? 0 : 1;
}

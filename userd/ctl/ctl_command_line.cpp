#include "userd/ctl/ctl_command_line.h"

#include <charconv>
#include <string_view>
#include <vector>

#include "userd/base/flag_value.h"

namespace tcpfo {

Result<CtlCommandLine> parse_ctl_command_line(int argc, char** argv) {
    CtlCommandLine cl;
    std::vector<std::string_view> words;  // the command and its operands
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&](std::string_view flag) { return flag_value(flag, i, argc, argv); };
        if (arg == "--help" || arg == "-h") {
            cl.help = true;
            return cl;
        }
        if (auto v = value("--control")) {
            if (v->empty()) return fail("--control needs a path");
            cl.control = *v;
        } else if (auto v = value("--conn")) {
            uint64_t id = 0;
            auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), id);
            if (v->empty() || ec != std::errc() || end != v->data() + v->size())
                return fail("--conn: '{}' is not a connection id", *v);
            cl.conn = id;
        } else if (!arg.empty() && arg[0] != '-') {
            words.push_back(arg);
        } else {
            return fail("unknown argument '{}'", arg);
        }
    }
    if (words.empty()) return fail("no command given");
    if (words[0] == "status") {
        if (words.size() > 1) return fail("unknown argument '{}'", words[1]);
        cl.command = CtlCommandLine::Command::status;
        return cl;
    }
    if (words[0] == "handover") {
        cl.command = CtlCommandLine::Command::handover;
        if (cl.conn) return fail("--conn is for status, not handover");
        if (words.size() > 2) return fail("handover takes one node at most, not '{}'", words[2]);
        if (words.size() == 2) {
            if (words[1].size() > kMaxHandoverNode)
                return fail("handover: '{}' is too long for a node ({} characters at most)", words[1],
                            kMaxHandoverNode);
            cl.node = std::string(words[1]);
        }
        return cl;
    }
    if (words[0] == "genkey") {
        cl.command = CtlCommandLine::Command::genkey;
        if (cl.conn) return fail("--conn is for status, not genkey");
        if (words.size() > 2) return fail("genkey takes one file at most, not '{}'", words[2]);
        if (words.size() == 2) cl.key_path = std::string(words[1]);
        return cl;
    }
    return fail("unknown command '{}'", words[0]);
}

}  // namespace tcpfo

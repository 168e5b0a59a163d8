#include "userd/status/control_protocol.h"

#include <exception>

#include <nlohmann/json.hpp>

namespace tcpfo {

Result<ControlRequest> parse_control_request(std::string_view line) {
    if (line.size() > kMaxControlRequest) return fail("request longer than {} bytes", kMaxControlRequest);
    try {
        // No exceptions from parse: a bad document comes back discarded.
        const auto j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
        if (j.is_discarded()) return fail("request is not JSON");
        if (!j.is_object()) return fail("request is not a JSON object");
        const auto command = j.find("command");
        if (command == j.end() || !command->is_string()) return fail("request has no \"command\"");
        ControlRequest request;
        const std::string& name = command->get_ref<const std::string&>();
        if (name == "service") {
            request.command = ControlRequest::Command::service;
            for (auto it = j.begin(); it != j.end(); ++it) {
                if (it.key() == "command") continue;
                if (it.key() == "pid") {
                    if (!it->is_number_unsigned() || it->get<uint64_t>() == 0 || it->get<uint64_t>() > INT32_MAX)
                        return fail("\"pid\" must be a process id");
                    request.pid = int(it->get<uint64_t>());
                    continue;
                }
                return fail("unknown field \"{}\"", it.key());
            }
            if (request.pid == 0) return fail("a service request needs its \"pid\"");
            return request;
        }
        if (name == "handover") {
            request.command = ControlRequest::Command::handover;
            for (auto it = j.begin(); it != j.end(); ++it) {
                if (it.key() == "command") continue;
                if (it.key() == "node") {
                    if (!it->is_string() || it->get_ref<const std::string&>().empty() ||
                        it->get_ref<const std::string&>().size() > kMaxHandoverNode)
                        return fail("\"node\" must be a backup's address or node id ({} characters at most)",
                                    kMaxHandoverNode);
                    request.node = it->get<std::string>();
                    continue;
                }
                return fail("unknown field \"{}\"", it.key());
            }
            return request;
        }
        if (name != "status") return fail("unknown command \"{}\"", name);
        for (auto it = j.begin(); it != j.end(); ++it) {
            if (it.key() == "command") continue;
            if (it.key() == "conn") {
                if (!it->is_number_unsigned()) return fail("\"conn\" must be a connection id");
                request.conn = it->get<uint64_t>();
                continue;
            }
            return fail("unknown field \"{}\"", it.key());
        }
        return request;
    } catch (const std::exception& e) {
        return fail("bad request: {}", e.what());
    }
}

std::string make_handover_request(const std::optional<std::string>& node) {
    nlohmann::json j{{"command", "handover"}};
    if (node) j["node"] = *node;
    // Replaces what is not UTF-8 rather than throwing: the server then names the node
    // it could not find.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string make_status_request(std::optional<uint64_t> conn) {
    if (conn) return "{\"command\":\"status\",\"conn\":" + std::to_string(*conn) + "}\n";
    return "{\"command\":\"status\"}\n";
}

}  // namespace tcpfo

#include "userd/config/config_file.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

namespace tcpfo {
namespace {

std::string_view type_name(toml::node_type type) {
    switch (type) {
        case toml::node_type::none: return "nothing";
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a float";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
    }
    return "a value";
}

// Reads one document's keys into Settings. Every error names source:line: key.
class SettingsReader {
public:
    explicit SettingsReader(std::string_view source_name) : source_name_(source_name) {}

    Result<Settings> read(const toml::table& root) {
        Settings s;
        std::optional<int> priority_line;
        for (auto&& [key, node] : root) {
            const std::string_view name = key.str();
            Result<void> r;
            if (name == "id") r = integer(node, name, [&](long long v) { return assign(s.id, check_node_id(v)); });
            else if (name == "priority") {
                priority_line = line_of(node);
                r = integer(node, name, [&](long long v) { return assign(s.priority, check_node_priority(v)); });
            } else if (name == "vip") r = string(node, name, [&](std::string_view v) { return assign(s.vip, parse_prefix(v)); });
            else if (name == "dev") r = string(node, name, [&](std::string_view v) { return assign(s.dev, check_dev(v)); });
            else if (name == "port") r = integer(node, name, [&](long long v) { return assign(s.port, check_range(v, kPortRange)); });
            else if (name == "replica") r = string(node, name, [&](std::string_view v) { return assign(s.replica, parse_replica(v)); });
            else if (name == "two_node") r = boolean(node, name, s.two_node);
            else if (name == "witness") r = boolean(node, name, s.witness);
            else if (name == "control") r = string(node, name, [&](std::string_view v) { return assign(s.control_path, check_control_path(v)); });
            else if (name == "ready_file") r = string(node, name, [&](std::string_view v) {
                s.ready_file = std::string(v);
                return Result<void>();
            });
            else if (name == "heartbeat_ms") r = integer(node, name, [&](long long v) { return assign(s.heartbeat_ms, check_range(v, kHeartbeatMsRange)); });
            else if (name == "dead_after") r = integer(node, name, [&](long long v) { return assign(s.dead_after, check_range(v, kDeadAfterRange)); });
            else if (name == "rt_priority") r = integer(node, name, [&](long long v) { return assign(s.realtime_priority, check_range(v, kRealtimePriorityRange)); });
            else if (name == "nice") r = integer(node, name, [&](long long v) { return assign(s.nice, check_range(v, kNiceRange)); });
            else if (name == "verbose") r = boolean(node, name, s.verbose);
            else if (name == "metrics") r = string(node, name, [&](std::string_view v) { return assign(s.metrics, parse_metrics_address(v)); });
            else if (name == "key_file") r = string(node, name, [&](std::string_view v) -> Result<void> {
                if (v.empty()) return fail("a file is needed");
                s.key_file = std::string(v);
                return {};
            });
            else if (name == "node") r = node_tables(node, s.nodes);
            else r = at(key.source().begin.line, name, "unknown key");
            if (!r) return std::unexpected(r.error());
        }
        // Two places in one file for this node's priority: they must agree, or which
        // one counts would be a rule nobody remembers.
        if (s.id && s.priority) {
            for (const NodeEntry& n : s.nodes)
                if (n.id == *s.id && n.priority && *n.priority != *s.priority)
                    return at(*priority_line, "priority",
                              fmt::format("{} differs from node {}'s priority {} in its [[node]] table", *s.priority,
                                          n.id, *n.priority));
        }
        return s;
    }

private:
    static int line_of(const toml::node& node) { return int(node.source().begin.line); }

    std::unexpected<Error> at(int line, std::string_view key, std::string_view what) const {
        return fail("{}:{}: {}: {}", source_name_, line, key, what);
    }

    template <class T, class Checked>
    static Result<void> assign(std::optional<T>& into, Checked checked) {
        if (!checked) return std::unexpected(checked.error());
        into = T(*checked);
        return {};
    }

    template <class Take>
    Result<void> integer(const toml::node& node, std::string_view key, Take take) {
        const auto* v = node.as_integer();
        if (!v) return at(line_of(node), key, fmt::format("{} where an integer belongs", type_name(node.type())));
        if (auto r = take(v->get()); !r) return at(line_of(node), key, r.error().message);
        return {};
    }

    template <class Take>
    Result<void> string(const toml::node& node, std::string_view key, Take take) {
        const auto* v = node.as_string();
        if (!v) return at(line_of(node), key, fmt::format("{} where a string belongs", type_name(node.type())));
        if (auto r = take(std::string_view(v->get())); !r) return at(line_of(node), key, r.error().message);
        return {};
    }

    Result<void> boolean(const toml::node& node, std::string_view key, std::optional<bool>& into) {
        const auto* v = node.as_boolean();
        if (!v) return at(line_of(node), key, fmt::format("{} where true or false belongs", type_name(node.type())));
        into = v->get();
        return {};
    }

    // [[node]] tables: an array of tables, each with id and address, optional priority.
    Result<void> node_tables(const toml::node& node, std::vector<NodeEntry>& nodes) {
        const auto* array = node.as_array();
        if (!array || !array->is_array_of_tables())
            return at(line_of(node), "node", "write each node as a [[node]] table");
        for (const toml::node& element : *array) {
            const toml::table& table = *element.as_table();
            NodeEntry entry;
            bool have_id = false, have_address = false;
            for (auto&& [key, value] : table) {
                const std::string_view name = key.str();
                Result<void> r;
                if (name == "id") {
                    r = integer(value, "node.id", [&](long long v) -> Result<void> {
                        auto id = check_node_id(v);
                        if (!id) return std::unexpected(id.error());
                        entry.id = *id;
                        return {};
                    });
                    have_id = true;
                } else if (name == "address") {
                    r = string(value, "node.address", [&](std::string_view v) -> Result<void> {
                        auto e = parse_endpoint(v, kDefaultReplicationPort);
                        if (!e) return std::unexpected(e.error());
                        entry.address = *e;
                        return {};
                    });
                    have_address = true;
                } else if (name == "priority") {
                    r = integer(value, "node.priority", [&](long long v) { return assign(entry.priority, check_node_priority(v)); });
                } else {
                    r = at(int(key.source().begin.line), fmt::format("node.{}", name), "unknown key");
                }
                if (!r) return r;
            }
            if (!have_id) return at(line_of(element), "node", "a [[node]] table needs an id");
            if (!have_address) return at(line_of(element), "node", fmt::format("node {} needs an address", entry.id));
            nodes.push_back(entry);
        }
        return {};
    }

    std::string source_name_;
};

}  // namespace

Result<Settings> parse_config_text(std::string_view text, std::string_view source_name) {
    // toml++ reports a syntax error by throwing (the project builds with exceptions);
    // it stops here and becomes the one-line error every other failure is.
    toml::table root;
    try {
        root = toml::parse(text, source_name);
    } catch (const toml::parse_error& e) {
        std::string description(e.description());
        // A description is one line in practice; keep the promise when it is not.
        for (char& c : description)
            if (c == '\n' || c == '\r') c = ' ';
        return fail("{}:{}: {}", source_name, e.source().begin.line, description);
    }
    return SettingsReader(source_name).read(root);
}

Result<Settings> load_config_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return sys_fail(errno, "can't read config file {}", path);
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return sys_fail(errno, "can't read config file {}", path);
    return parse_config_text(text.str(), path);
}

}  // namespace tcpfo

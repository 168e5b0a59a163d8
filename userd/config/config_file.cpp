#include "userd/config/config_file.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "userd/health/banner_check.h"
#include "userd/health/script_check.h"

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
            else if (name == "preempt") r = boolean(node, name, s.preempt);
            else if (name == "witness") r = boolean(node, name, s.witness);
            else if (name == "witness_id") r = integer(node, name, [&](long long v) { return assign(s.witness_id, check_node_id(v)); });
            else if (name == "lease_ms") r = integer(node, name, [&](long long v) { return assign(s.lease_ms, check_range(v, kLeaseMsRange)); });
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
            else if (name == "hooks") r = string(node, name, [&](std::string_view v) { return assign(s.hooks, parse_hooks_backend(v)); });
            else if (name == "transport") r = string(node, name, [&](std::string_view v) { return assign(s.transport, parse_transport(v)); });
            else if (name == "metrics") r = string(node, name, [&](std::string_view v) { return assign(s.metrics, parse_metrics_address(v)); });
            else if (name == "key_file") r = string(node, name, [&](std::string_view v) -> Result<void> {
                if (v.empty()) return fail("a file is needed");
                s.key_file = std::string(v);
                return {};
            });
            else if (name == "node") r = node_tables(node, s.nodes);
            else if (name == "check") r = check_tables(node, s.checks);
            else if (name == "notify") r = string(node, name, [&](std::string_view v) -> Result<void> {
                if (v.empty() || v[0] != '/') return fail("'{}' is not an absolute path", v);
                s.notify = std::string(v);
                return {};
            });
            else if (name == "notify_fifo") r = string(node, name, [&](std::string_view v) -> Result<void> {
                if (v.empty() || v[0] != '/') return fail("'{}' is not an absolute path", v);
                s.notify_fifo = std::string(v);
                return {};
            });
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
                        auto e = parse_node_addresses(v, kDefaultReplicationPort);
                        if (!e) return std::unexpected(e.error());
                        entry.address = e->first;
                        entry.second_address = e->second;
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

    // [[check]] tables: one health check each (check_spec.h). A key that does not
    // belong to the table's type is an error, not ignored: a `path` on a tcp check
    // means the author thinks it is checked.
    Result<void> check_tables(const toml::node& node, std::vector<CheckSpec>& checks) {
        const auto* array = node.as_array();
        if (!array || !array->is_array_of_tables())
            return at(line_of(node), "check", "write each check as a [[check]] table");
        for (const toml::node& element : *array) {
            const toml::table& table = *element.as_table();
            CheckSpec spec;
            // The type first: which other keys belong depends on it.
            if (const toml::node* type = table.get("type")) {
                auto r = string(*type, "check.type", [&](std::string_view v) -> Result<void> {
                    auto kind = check_kind_from(v);
                    if (!kind) return fail("'{}' is not one of tcp, http, banner, script", v);
                    spec.kind = *kind;
                    return {};
                });
                if (!r) return r;
            } else {
                return at(line_of(element), "check", "a [[check]] table needs a type (tcp, http, banner, script)");
            }
            auto only_for = [&](int line, std::string_view key, std::initializer_list<CheckKind> kinds) -> Result<void> {
                for (CheckKind k : kinds)
                    if (k == spec.kind) return {};
                std::string names;
                for (CheckKind k : kinds) names += fmt::format("{}\"{}\"", names.empty() ? "" : " or ", check_kind_name(k));
                return at(line, fmt::format("check.{}", key), fmt::format("only for type = {}", names));
            };
            auto ms = [&](const toml::node& value, std::string_view key, int& into) {
                return integer(value, key, [&](long long v) -> Result<void> {
                    auto checked = check_range(v, {CheckRanges::kMinMs, CheckRanges::kMaxMs});
                    if (!checked) return std::unexpected(checked.error());
                    into = *checked;
                    return {};
                });
            };
            auto count = [&](const toml::node& value, std::string_view key, int& into) {
                return integer(value, key, [&](long long v) -> Result<void> {
                    auto checked = check_range(v, {1, CheckRanges::kMaxCount});
                    if (!checked) return std::unexpected(checked.error());
                    into = *checked;
                    return {};
                });
            };
            auto text = [&](const toml::node& value, std::string_view key, std::string& into) {
                return string(value, key, [&](std::string_view v) -> Result<void> {
                    into = std::string(v);
                    return {};
                });
            };
            constexpr auto tcp = CheckKind::tcp, http = CheckKind::http, banner = CheckKind::banner,
                           script = CheckKind::script;
            for (auto&& [key, value] : table) {
                const std::string_view name = key.str();
                const std::string full = fmt::format("check.{}", name);
                const int line = int(key.source().begin.line);
                Result<void> r;
                if (name == "type") continue;
                else if (name == "name") r = string(value, full, [&](std::string_view v) -> Result<void> {
                    if (v.empty() || v.find_first_of(" \t\n\"") != std::string_view::npos)
                        return fail("'{}' is not a name (no spaces or quotes)", v);
                    spec.name = std::string(v);
                    return {};
                });
                else if (name == "target") {
                    r = only_for(line, name, {tcp, http, banner});
                    if (r) r = string(value, full, [&](std::string_view v) { return assign(spec.target, parse_endpoint(v, 0)); });
                }
                else if (name == "interval_ms") r = ms(value, full, spec.interval_ms);
                else if (name == "connect_timeout_ms") {
                    r = only_for(line, name, {tcp, http, banner});
                    if (r) r = ms(value, full, spec.connect_timeout_ms);
                }
                else if (name == "receive_timeout_ms" || name == "timeout_ms") {
                    // A script has one timeout, its whole run: timeout_ms reads better there.
                    r = name == "receive_timeout_ms" ? only_for(line, name, {http, banner, script}) : only_for(line, name, {script});
                    if (r) r = ms(value, full, spec.receive_timeout_ms);
                }
                else if (name == "fall") r = count(value, full, spec.fall);
                else if (name == "rise") r = count(value, full, spec.rise);
                else if (name == "init_fail") {
                    std::optional<bool> b;
                    r = boolean(value, full, b);
                    if (r) spec.init_fail = *b;
                }
                else if (name == "path") {
                    r = only_for(line, name, {http});
                    if (r) r = string(value, full, [&](std::string_view v) -> Result<void> {
                        if (v.empty() || v[0] != '/' || v.find_first_of(" \r\n") != std::string_view::npos)
                            return fail("'{}' is not a path (it starts with / and has no spaces)", v);
                        spec.path = std::string(v);
                        return {};
                    });
                }
                else if (name == "status") {
                    r = only_for(line, name, {http});
                    if (r) r = integer(value, full, [&](long long v) -> Result<void> {
                        auto checked = check_range(v, {100, 599});
                        if (!checked) return std::unexpected(checked.error());
                        spec.expect_status = *checked;
                        return {};
                    });
                }
                else if (name == "body_contains") {
                    r = only_for(line, name, {http});
                    if (r) r = text(value, full, spec.body_contains);
                }
                else if (name == "body_sha256") {
                    r = only_for(line, name, {http});
                    if (r) r = string(value, full, [&](std::string_view v) -> Result<void> {
                        auto hex = parse_sha256_hex(v);
                        if (!hex) return std::unexpected(hex.error());
                        spec.body_sha256 = *hex;
                        return {};
                    });
                }
                else if (name == "banner") {
                    r = only_for(line, name, {banner});
                    if (r) r = string(value, full, [&](std::string_view v) -> Result<void> {
                        if (v.empty()) return fail("an empty expression matches anything");
                        auto compiled = compile_banner(std::string(v));
                        if (!compiled) return std::unexpected(compiled.error());
                        spec.banner = std::string(v);
                        return {};
                    });
                }
                else if (name == "script") {
                    r = only_for(line, name, {script});
                    if (r) r = string(value, full, [&](std::string_view v) -> Result<void> {
                        auto argv = split_command(v);
                        if (argv.empty() || argv[0][0] != '/') return fail("'{}' does not start with an absolute path", v);
                        spec.argv = std::move(argv);
                        return {};
                    });
                }
                else r = at(line, full, "unknown key");
                if (!r) return r;
            }
            if (auto problem = check_spec_problem(spec, checks); !problem.empty())
                return at(line_of(element), "check", problem);
            checks.push_back(std::move(spec));
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

#include "userd/config/config_file.h"

#include <unistd.h>

#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "userd/config/options.h"

using namespace tcpfo;

namespace {

// Line numbers below count from this text's first line.
constexpr std::string_view kTwoNodes = R"(# failoverd on node 2 of two
id = 2
vip = "192.0.2.100/24"
dev = "eth0"
port = 7000
replica = "127.0.0.1:7000"
two_node = true
control = "/run/tcpfo/b.sock"
heartbeat_ms = 20
dead_after = 4
ready_file = "/run/tcpfo/ready"
rt_priority = 0
nice = 5
verbose = true

[[node]]
id = 1
address = "192.0.2.10"
priority = 200

[[node]]
id = 2
address = "192.0.2.11:7200"
)";

std::string write_temp(std::string_view name, std::string_view text) {
    const std::string path = testing::TempDir() + "/tcpfo-" + std::to_string(getpid()) + "-" + std::string(name);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    return path;
}

Result<ParseOutcome> parse(std::vector<std::string> args) {
    args.insert(args.begin(), "failoverd");
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    return parse_options(int(args.size()), argv.data());
}

// The valid file with line `line` (1-based) replaced.
std::string with_line(int line, std::string_view replacement) {
    std::string out;
    int n = 1;
    size_t start = 0;
    while (start < kTwoNodes.size()) {
        const size_t end = kTwoNodes.find('\n', start);
        const std::string_view current = kTwoNodes.substr(start, end - start);
        out += n == line ? replacement : current;
        out += '\n';
        start = end + 1;
        ++n;
    }
    return out;
}

}  // namespace

TEST(ConfigFile, ReadsEveryKey) {
    auto s = parse_config_text(kTwoNodes, "b.toml");
    ASSERT_TRUE(s.has_value()) << s.error().message;
    EXPECT_EQ(s->id, 2);
    EXPECT_EQ(s->vip->length, 24);
    EXPECT_EQ(s->dev, "eth0");
    EXPECT_EQ(s->port, 7000);
    EXPECT_EQ(to_string(*s->replica), "127.0.0.1:7000");
    EXPECT_EQ(s->two_node, true);
    EXPECT_EQ(s->control_path, "/run/tcpfo/b.sock");
    EXPECT_EQ(s->heartbeat_ms, 20);
    EXPECT_EQ(s->dead_after, 4);
    EXPECT_EQ(s->ready_file, "/run/tcpfo/ready");
    EXPECT_EQ(s->realtime_priority, 0);
    EXPECT_EQ(s->nice, 5);
    EXPECT_EQ(s->verbose, true);
    ASSERT_EQ(s->nodes.size(), 2u);
    EXPECT_EQ(s->nodes[0].id, 1);
    EXPECT_EQ(to_string(s->nodes[0].address), "192.0.2.10:7100");
    EXPECT_EQ(s->nodes[0].priority, 200);
    EXPECT_EQ(to_string(s->nodes[1].address), "192.0.2.11:7200");
    EXPECT_FALSE(s->nodes[1].priority.has_value());
}

TEST(ConfigFile, EachErrorIsOneLineWithFileLineAndKey) {
    struct Case { int line; const char* replacement; const char* expected; };
    const Case cases[] = {
        {5, "port = 70000", "f.toml:5: port: 70000 is not a number from 1 to 65535"},
        {5, "port = \"7000\"", "f.toml:5: port: a string where an integer belongs"},
        {5, "port = 7000.0", "f.toml:5: port: a float where an integer belongs"},
        {2, "id = 0", "f.toml:2: id: 0 is not a node id from 1 to 255"},
        {3, "vip = \"192.0.2.300/24\"", "f.toml:3: vip: '192.0.2.300' is not an IPv4 address"},
        {4, "dev = \"an-interface-name-too-long\"", "f.toml:4: dev: 'an-interface-name-too-long' is not an interface name"},
        {6, "replica = \"127.0.0.1\"", "f.toml:6: replica: '127.0.0.1' needs a port"},
        {7, "two_node = 1", "f.toml:7: two_node: an integer where true or false belongs"},
        {9, "heartbeat_ms = 0", "f.toml:9: heartbeat_ms: 0 is not a number from 1 to 10000"},
        {10, "dead_after = 1001", "f.toml:10: dead_after: 1001 is not a number from 1 to 1000"},
        {12, "rt_priority = 100", "f.toml:12: rt_priority: 100 is not a number from 0 to 99"},
        {13, "nice = -21", "f.toml:13: nice: -21 is not a number from -20 to 19"},
        {14, "verbos = true", "f.toml:14: verbos: unknown key"},
        {19, "priority = 256", "f.toml:19: node.priority: 256 is not a priority from 0 to 255"},
        {18, "address = \"192.0.2.10:0\"", "f.toml:18: node.address: '0' is not a valid port (1-65535)"},
        {18, "adress = \"192.0.2.10\"", "f.toml:18: node.adress: unknown key"},
        {17, "# no id", "f.toml:16: node: a [[node]] table needs an id"},
        {18, "# no address", "f.toml:16: node: node 1 needs an address"},
        {5, "port = ", "f.toml:5: "},                 // a TOML syntax error, toml++'s words
        {5, "port = 7000\nport = 7001", "f.toml:6: "},  // a key given twice
    };
    for (const auto& c : cases) {
        auto r = parse_config_text(with_line(c.line, c.replacement), "f.toml");
        ASSERT_FALSE(r.has_value()) << c.replacement;
        EXPECT_TRUE(r.error().message.starts_with(c.expected)) << c.replacement << ": " << r.error().message;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
    }
}

TEST(ConfigFile, NodeMustBeTablesAndOwnPrioritiesMustAgree) {
    auto flat = parse_config_text("id = 1\nnode = [1, 2]\n", "f.toml");
    ASSERT_FALSE(flat.has_value());
    EXPECT_EQ(flat.error().message, "f.toml:2: node: write each node as a [[node]] table");
    auto disagree = parse_config_text("id = 1\npriority = 150\n[[node]]\nid = 1\naddress = \"192.0.2.10\"\npriority = 200\n",
                                      "f.toml");
    ASSERT_FALSE(disagree.has_value());
    EXPECT_EQ(disagree.error().message, "f.toml:2: priority: 150 differs from node 1's priority 200 in its [[node]] table");
}

TEST(ConfigFile, AFileThatCannotBeReadIsAnError) {
    auto r = load_config_file("/nonexistent/tcpfo.toml");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message, "can't read config file /nonexistent/tcpfo.toml: No such file or directory");
}

TEST(ConfigFile, StartsLikeTheFlagsAndFlagsOverrideIt) {
    const std::string path = write_temp("override.toml", kTwoNodes);
    auto from_file = parse({"--config", path});
    ASSERT_TRUE(from_file.has_value()) << from_file.error().message;
    const Options& o = *from_file->options;
    EXPECT_EQ(o.role, NodeRole::backup);  // node 1 has priority 200
    EXPECT_EQ(to_string(o.listen), "192.0.2.11:7200");
    ASSERT_EQ(o.peers.size(), 1u);
    EXPECT_EQ(to_string(o.peers[0]), "192.0.2.10:7100");
    EXPECT_EQ(o.port, 7000);
    EXPECT_EQ(o.heartbeat_ms, 20);
    EXPECT_EQ(o.nice, 5);
    EXPECT_TRUE(o.verbose);
    ASSERT_TRUE(o.cluster.has_value());
    EXPECT_TRUE(o.cluster->two_node);
    EXPECT_EQ(o.cluster->own_priority, 100);

    auto overridden = parse({"--config", path, "--port", "7001", "--heartbeat-ms", "15", "--control", "/tmp/x.sock"});
    ASSERT_TRUE(overridden.has_value()) << overridden.error().message;
    EXPECT_EQ(overridden->options->port, 7001);
    EXPECT_EQ(overridden->options->heartbeat_ms, 15);
    EXPECT_EQ(overridden->options->control_path, "/tmp/x.sock");
    EXPECT_EQ(overridden->options->dead_after, 4);  // from the file
    EXPECT_EQ(overridden->options->role, NodeRole::backup);

    // A --priority above the file's tables would be known to this node only (node 1
    // reads node 2 at 100 and starts as the primary too): refused.
    auto raised = parse({"--config", path, "--priority", "201"});
    ASSERT_FALSE(raised.has_value());
    EXPECT_NE(raised.error().message.find("priority 201 of node 2 is known only to this node"), std::string::npos)
        << raised.error().message;

    // --node on the command line replaces the file's whole list (and its priorities).
    auto nodes = parse({"--config", path, "--node", "1=192.0.2.20", "--node", "2=192.0.2.21"});
    ASSERT_TRUE(nodes.has_value()) << nodes.error().message;
    EXPECT_EQ(to_string(nodes->options->listen), "192.0.2.21:7100");
    EXPECT_EQ(nodes->options->role, NodeRole::backup);  // tie at 100: node 1

    // --id from the command line must be in the file's list; the error names the file.
    auto stranger = parse({"--config", path, "--id", "3"});
    ASSERT_FALSE(stranger.has_value());
    EXPECT_EQ(stranger.error().message, path + ": this node's id 3 is not in the node list");
    unlink(path.c_str());
}

TEST(ConfigFile, ConfigTestGivesTheSameVerdictAsAStart) {
    const std::string good = write_temp("good.toml", kTwoNodes);
    auto ok = config_test_verdict(good);
    ASSERT_TRUE(ok.has_value()) << ok.error().message;
    EXPECT_EQ(*ok, good + ": ok (node 2 of 2, starts as backup)");

    const std::string primary = write_temp("primary.toml", with_line(2, "id = 1"));
    auto p = config_test_verdict(primary);
    ASSERT_TRUE(p.has_value()) << p.error().message;
    EXPECT_EQ(*p, primary + ": ok (node 1 of 2, starts as primary)");

    std::string three(kTwoNodes);
    three += "\n[[node]]\nid = 3\naddress = \"192.0.2.12\"\n";
    const std::string three_path = write_temp("three.toml", three);
    auto refused = config_test_verdict(three_path);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().message, three_path + ": --two-node (two_node): 3 nodes elect by a majority of their "
                                                    "own; two-node mode (no leases) is for two nodes only");
    auto start = parse({"--config", three_path});
    ASSERT_FALSE(start.has_value());
    EXPECT_EQ(start.error().message, refused.error().message);

    const std::string no_replica = write_temp("no-replica.toml", with_line(6, ""));
    auto missing = config_test_verdict(no_replica);
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().message,
              no_replica + ": --replica is required on node 2, which starts as the backup (node 1 starts as the primary)");

    // A witness in the shared file: node 3, named by witness_id, instead of two_node.
    std::string with_witness = with_line(7, "witness_id = 3\nlease_ms = 90");
    with_witness += "\n[[node]]\nid = 3\naddress = \"192.0.2.12\"\n";
    const std::string witness = write_temp("witness.toml", with_witness);
    auto w = config_test_verdict(witness);
    ASSERT_TRUE(w.has_value()) << w.error().message;
    EXPECT_EQ(*w, witness + ": ok (node 2 of 3, starts as backup, witness node 3)");
    auto started = parse({"--config", witness});
    ASSERT_TRUE(started.has_value()) << started.error().message;
    EXPECT_TRUE(started->options->lease_enforced);
    EXPECT_EQ(started->options->lease_ms, 90);
    EXPECT_EQ(started->options->quorum, 2u);
    ASSERT_TRUE(started->options->witness.has_value());
    EXPECT_EQ(to_string(*started->options->witness), "192.0.2.12:7100");
    // The same file on the witness itself (id 3): no replica, VIP or port needed.
    std::string witness_own = with_witness;
    witness_own.replace(witness_own.find("id = 2"), 6, "id = 3");
    const std::string witness_node = write_temp("witness-node.toml", witness_own);
    auto wn = config_test_verdict(witness_node);
    ASSERT_TRUE(wn.has_value()) << wn.error().message;
    EXPECT_EQ(*wn, witness_node + ": ok (node 3 of 3, the witness)");
    // A lease shorter than failure detection (heartbeat_ms 20 x dead_after 4): one line
    // naming the key.
    std::string short_lease = with_witness;
    short_lease.replace(short_lease.find("lease_ms = 90"), 13, "lease_ms = 50");
    const std::string short_path = write_temp("short-lease.toml", short_lease);
    auto sl = config_test_verdict(short_path);
    ASSERT_FALSE(sl.has_value());
    EXPECT_EQ(sl.error().message, short_path + ": --lease-ms (lease_ms): 50 ms is shorter than failure detection "
                                               "(--heartbeat-ms 20 x --dead-after 4 = 80 ms); a primary would fall "
                                               "silent before its backup notices anything");
    // A witness_id that names no node.
    const std::string stray = write_temp("stray-witness.toml", with_line(7, "witness_id = 9"));
    auto sw = config_test_verdict(stray);
    ASSERT_FALSE(sw.has_value());
    EXPECT_EQ(sw.error().message, stray + ": --witness-id (witness_id): node 9 is not in the node list");
    // Two nodes, neither a witness nor two_node: refused, naming both ways out.
    const std::string bare = write_temp("bare.toml", with_line(7, ""));
    auto bn = config_test_verdict(bare);
    ASSERT_FALSE(bn.has_value());
    EXPECT_NE(bn.error().message.find("2 nodes and no witness"), std::string::npos) << bn.error().message;
    for (const auto& p : {witness_node, short_path, stray, bare}) unlink(p.c_str());

    const std::string no_port = write_temp("no-port.toml", with_line(5, ""));
    auto np = config_test_verdict(no_port);
    ASSERT_FALSE(np.has_value());
    EXPECT_EQ(np.error().message, no_port + ": --port is required (or port in " + no_port + ")");

    for (const auto& p : {good, primary, three_path, no_replica, witness, no_port}) unlink(p.c_str());
}

// Fuzz: flip, replace, cut and insert bytes of a valid file; the loader must give
// settings or a one-line error naming the source, and never crash or throw.
TEST(ConfigFile, SurvivesMutationFuzzing) {
    std::mt19937_64 rng(20260921);
    size_t accepted = 0, refused = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        std::string text(kTwoNodes);
        const int mutations = 1 + int(rng() % 4);
        for (int m = 0; m < mutations; ++m) {
            switch (rng() % 5) {
                case 0: text[rng() % text.size()] ^= char(1u << (rng() % 8)); break;
                case 1: text[rng() % text.size()] = char(rng()); break;
                case 2: text.resize(rng() % (text.size() + 1)); if (text.empty()) text.push_back('\n'); break;
                case 3: text.insert(text.begin() + long(rng() % text.size()), char(rng())); break;
                case 4: text.insert(rng() % text.size(), std::string_view("=[]\"\n#.")
                                                             .substr(rng() % 7, 1)); break;
            }
        }
        Result<Settings> r = Settings{};
        ASSERT_NO_THROW(r = parse_config_text(text, "fuzz.toml"));
        if (r) { ++accepted; continue; }
        ++refused;
        ASSERT_TRUE(r.error().message.starts_with("fuzz.toml:")) << r.error().message;
        ASSERT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
    }
    EXPECT_GT(refused, 5000u);
    EXPECT_GT(accepted, 500u);  // many mutations land in comments and values that stay valid
}

TEST(ConfigFile, MetricsKeyAndItsErrors) {
    auto s = parse_config_text("metrics = \"127.0.0.1:9100\"\n", "m.toml");
    ASSERT_TRUE(s.has_value()) << s.error().message;
    ASSERT_TRUE(s->metrics.has_value());
    EXPECT_EQ(to_string(*s->metrics), "127.0.0.1:9100");
    auto no_port = parse_config_text("\nmetrics = \"127.0.0.1\"\n", "m.toml");
    ASSERT_FALSE(no_port.has_value());
    EXPECT_EQ(no_port.error().message, "m.toml:2: metrics: '127.0.0.1' needs a port (ADDR:PORT, e.g. 0.0.0.0:9100)");
    auto not_a_string = parse_config_text("metrics = 9100\n", "m.toml");
    ASSERT_FALSE(not_a_string.has_value());
    EXPECT_EQ(not_a_string.error().message, "m.toml:1: metrics: an integer where a string belongs");
    // The command line wins over the file.
    Settings flags;
    flags.metrics = *parse_metrics_address("0.0.0.0:9200");
    EXPECT_EQ(to_string(*merge_settings(*s, flags).metrics), "0.0.0.0:9200");
    EXPECT_EQ(to_string(*merge_settings(*s, Settings{}).metrics), "127.0.0.1:9100");
}

TEST(ConfigFile, HealthChecksAndNotify) {
    constexpr std::string_view text = R"(notify = "/etc/tcpfo/notify.sh"
notify_fifo = "/run/tcpfo/notify.fifo"
[[check]]
name = "web"
type = "http"
target = "127.0.0.1:8080"
path = "/health"
status = 204
body_contains = "ok"
interval_ms = 500
connect_timeout_ms = 200
receive_timeout_ms = 300
fall = 2
rise = 4
init_fail = true
[[check]]
name = "ssh"
type = "banner"
target = "127.0.0.1:22"
banner = "^SSH-2\\.0-"
[[check]]
name = "own"
type = "tcp"
[[check]]
name = "script"
type = "script"
script = "/usr/local/bin/check-db --quick"
timeout_ms = 2000
)";
    auto s = parse_config_text(text, "h.toml");
    ASSERT_TRUE(s.has_value()) << s.error().message;
    EXPECT_EQ(*s->notify, "/etc/tcpfo/notify.sh");
    EXPECT_EQ(*s->notify_fifo, "/run/tcpfo/notify.fifo");
    ASSERT_EQ(s->checks.size(), 4u);
    const CheckSpec& web = s->checks[0];
    EXPECT_EQ(web.name, "web");
    EXPECT_EQ(web.kind, CheckKind::http);
    EXPECT_EQ(to_string(*web.target), "127.0.0.1:8080");
    EXPECT_EQ(web.path, "/health");
    EXPECT_EQ(web.expect_status, 204);
    EXPECT_EQ(web.body_contains, "ok");
    EXPECT_EQ(web.interval_ms, 500);
    EXPECT_EQ(web.connect_timeout_ms, 200);
    EXPECT_EQ(web.receive_timeout_ms, 300);
    EXPECT_EQ(web.fall, 2);
    EXPECT_EQ(web.rise, 4);
    EXPECT_TRUE(web.init_fail);
    EXPECT_EQ(s->checks[1].banner, "^SSH-2\\.0-");
    EXPECT_FALSE(s->checks[2].target.has_value());  // the node's port, once it is known
    EXPECT_EQ(s->checks[3].argv, (std::vector<std::string>{"/usr/local/bin/check-db", "--quick"}));
    EXPECT_EQ(s->checks[3].receive_timeout_ms, 2000);
}

TEST(ConfigFile, HealthCheckErrorsAreOneLineNamingTheKey) {
    struct Case {
        std::string table;
        std::string expected;
    };
    const Case cases[] = {
        {"name = \"w\"\ntype = \"ftp\"", "c.toml:3: check.type: 'ftp' is not one of tcp, http, banner, script"},
        {"name = \"w\"", "c.toml:1: check: a [[check]] table needs a type (tcp, http, banner, script)"},
        {"type = \"tcp\"", "c.toml:1: check: a [[check]] table needs a name"},
        {"name = \"w\"\ntype = \"tcp\"\ninterval_ms = 5", "c.toml:4: check.interval_ms: 5 is not a number from 10 to 3600000"},
        {"name = \"w\"\ntype = \"tcp\"\nfall = 0", "c.toml:4: check.fall: 0 is not a number from 1 to 100"},
        {"name = \"w\"\ntype = \"tcp\"\nrise = \"2\"", "c.toml:4: check.rise: a string where an integer belongs"},
        {"name = \"w\"\ntype = \"tcp\"\npath = \"/\"", "c.toml:4: check.path: only for type = \"http\""},
        {"name = \"w\"\ntype = \"http\"\nstatus = 999", "c.toml:4: check.status: 999 is not a number from 100 to 599"},
        {"name = \"w\"\ntype = \"http\"\nbody_sha256 = \"abc\"", "c.toml:4: check.body_sha256: 'abc' is not 64 hex digits (a SHA-256)"},
        {"name = \"w\"\ntype = \"http\"\ntarget = \"localhost\"", "c.toml:4: check.target: "},
        {"name = \"w\"\ntype = \"banner\"\nbanner = \"(\"", "c.toml:4: check.banner: '(' is not a regular expression"},
        {"name = \"w\"\ntype = \"banner\"", "c.toml:1: check: check w: a banner check needs banner = \"REGEX\""},
        {"name = \"w\"\ntype = \"script\"\nscript = \"check.sh\"", "c.toml:4: check.script: 'check.sh' does not start with an absolute path"},
        {"name = \"w\"\ntype = \"tcp\"\ncolour = 1", "c.toml:4: check.colour: unknown key"},
        {"name = \"w x\"\ntype = \"tcp\"", "c.toml:2: check.name: 'w x' is not a name (no spaces or quotes)"},
    };
    for (const Case& c : cases) {
        const std::string text = "[[check]]\n" + c.table + "\n";
        auto r = parse_config_text(text, "c.toml");
        ASSERT_FALSE(r.has_value()) << c.table;
        EXPECT_TRUE(r.error().message.starts_with(c.expected)) << c.table << " -> " << r.error().message;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
    }
    auto twice = parse_config_text("[[check]]\nname = \"w\"\ntype = \"tcp\"\n[[check]]\nname = \"w\"\ntype = \"tcp\"\n", "c.toml");
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error().message, "c.toml:4: check: a second check named 'w'");
    auto relative = parse_config_text("notify = \"notify.sh\"\n", "c.toml");
    ASSERT_FALSE(relative);
    EXPECT_EQ(relative.error().message, "c.toml:1: notify: 'notify.sh' is not an absolute path");
}

TEST(ConfigFile, ACheckWithoutATargetProbesTheNodesPort) {
    const std::string path =
        write_temp("checks.toml", std::string(kTwoNodes) + "\n[[check]]\nname = \"own\"\ntype = \"tcp\"\n"
                                                           "[[check]]\nname = \"other\"\ntype = \"http\"\ntarget = \"127.0.0.2\"\n");
    auto parsed = parse({"--config", path});
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    ASSERT_EQ(parsed->options->checks.size(), 2u);
    EXPECT_EQ(to_string(*parsed->options->checks[0].target), "127.0.0.1:7000");
    EXPECT_EQ(to_string(*parsed->options->checks[1].target), "127.0.0.2:7000");
    auto verdict = config_test_verdict(path);
    ASSERT_TRUE(verdict.has_value()) << verdict.error().message;
    EXPECT_EQ(*verdict, path + ": ok (node 2 of 2, starts as backup, 2 health check(s))");
    unlink(path.c_str());
}

TEST(ConfigFile, HooksKeyAndItsErrors) {
    auto s = parse_config_text("hooks = \"kmod\"\n", "h.toml");
    ASSERT_TRUE(s.has_value()) << s.error().message;
    ASSERT_TRUE(s->hooks.has_value());
    EXPECT_EQ(*s->hooks, HooksBackend::kmod);
    auto bad = parse_config_text("\nhooks = \"module\"\n", "h.toml");
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().message, "h.toml:2: hooks: 'module' is not one of bpf, kmod, auto");
}

TEST(ConfigFile, PreemptIsABoolean) {
    auto s = parse_config_text("preempt = true\n", "p.toml");
    ASSERT_TRUE(s.has_value()) << s.error().message;
    EXPECT_EQ(s->preempt, true);
    auto bad = parse_config_text("preempt = 1\n", "p.toml");
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().message, "p.toml:1: preempt: an integer where true or false belongs");
}

TEST(ConfigFile, TransportAndASecondNodeAddress) {
    auto s = parse_config_text("transport = \"sctp\"\n[[node]]\nid = 1\naddress = \"192.0.2.12,192.0.2.212:7200\"\n",
                               "f.toml");
    ASSERT_TRUE(s.has_value()) << s.error().message;
    EXPECT_EQ(s->transport, Transport::sctp);
    ASSERT_EQ(s->nodes.size(), 1u);
    EXPECT_EQ(to_string(s->nodes[0].address), "192.0.2.12:7200");
    ASSERT_TRUE(s->nodes[0].second_address.has_value());
    EXPECT_EQ(to_string(*s->nodes[0].second_address), "192.0.2.212:7200");
    auto bad = parse_config_text("transport = \"quic\"\n", "f.toml");
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error().message.find("f.toml:1: transport: 'quic' is neither tcp nor sctp"), std::string::npos)
        << bad.error().message;
}

#include "userd/config/options.h"

#include <initializer_list>

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {
Result<ParseOutcome> parse(std::initializer_list<const char*> args) {
    std::vector<std::string> storage = {"failoverd"};
    for (auto a : args) storage.emplace_back(a);
    std::vector<char*> argv;
    for (auto& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    return parse_options(int(storage.size()), argv.data());
}
}  // namespace

TEST(Options, ParsesAPrimary) {
    auto r = parse({"--role", "primary", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000",
                    "--listen", "192.0.2.10", "--peer", "192.0.2.11:7200", "--peer", "192.0.2.12"});
    ASSERT_TRUE(r.has_value()) << r.error().message;
    const Options& o = *r->options;
    EXPECT_EQ(o.role, NodeRole::primary);
    EXPECT_EQ(o.vip.length, 24);
    EXPECT_EQ(o.port, 7000);
    EXPECT_EQ(ntohs(o.listen.sin_port), kDefaultReplicationPort);
    ASSERT_EQ(o.peers.size(), 2u);
    EXPECT_EQ(ntohs(o.peers[0].sin_port), 7200);
    EXPECT_EQ(o.heartbeat_ms, 10);
    EXPECT_EQ(o.dead_after, 3);
    EXPECT_EQ(o.realtime_priority, 10);
    EXPECT_EQ(o.nice, -10);
}

TEST(Options, SchedulingOfHeartbeatsAndOfTheReplicationPath) {
    auto r = parse({"--role", "primary", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000",
                    "--listen", "192.0.2.10", "--peer", "192.0.2.11", "--rt-priority", "0", "--nice", "5"});
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->options->realtime_priority, 0);
    EXPECT_EQ(r->options->nice, 5);
}

TEST(Options, RefusesBadInputWithOneLine) {
    const std::initializer_list<const char*> base = {"--role", "backup", "--vip", "192.0.2.100/24", "--dev",
                                                     "eth0", "--port", "7000", "--listen", "192.0.2.11",
                                                     "--peer", "192.0.2.10", "--replica", "127.0.0.1:7000"};
    ASSERT_TRUE(parse(base).has_value());
    struct Case { std::initializer_list<const char*> args; const char* mentions; };
    const Case cases[] = {
        {{"--role", "leader"}, "--role"},
        {{"--bogus"}, "unknown argument"},
        {{"--role", "primary", "--vip", "192.0.2.300/24", "--dev", "e", "--port", "1", "--listen", "1.2.3.4", "--peer", "1.2.3.5"}, "--vip"},
        {{"--role", "primary", "--vip", "192.0.2.1/33", "--dev", "e", "--port", "1", "--listen", "1.2.3.4", "--peer", "1.2.3.5"}, "--vip"},
        {{"--role", "primary", "--vip", "192.0.2.1/24", "--dev", "e", "--port", "70000", "--listen", "1.2.3.4", "--peer", "1.2.3.5"}, "--port"},
        {{"--role", "primary", "--vip", "192.0.2.1/24", "--dev", "e", "--port", "7", "--listen", "1.2.3.4", "--peer", "peer:x"}, "--peer"},
        {{"--role", "primary", "--vip", "192.0.2.1/24", "--dev", "e", "--port", "7", "--listen", "1.2.3.4"}, "--peer"},
        {{"--role", "backup", "--vip", "192.0.2.1/24", "--dev", "e", "--port", "7", "--listen", "1.2.3.4", "--peer", "1.2.3.5"}, "--replica"},
        {{"--role", "primary", "--vip", "192.0.2.1/24", "--dev", "e", "--port", "7", "--listen", "1.2.3.4", "--peer", "1.2.3.5", "--heartbeat-ms", "0"}, "--heartbeat-ms"},
        {{"--role", "primary", "--vip", "192.0.2.1/24", "--dev", "e", "--port", "7", "--listen", "1.2.3.4", "--peer", "1.2.3.5", "--nice", "-21"}, "--nice"},
        {{"--role", "primary", "--vip", "192.0.2.1/24", "--dev", "e", "--port", "7", "--listen", "1.2.3.4", "--peer", "1.2.3.5", "--rt-priority", "100"}, "--rt-priority"},
    };
    for (const auto& c : cases) {
        auto r = parse(c.args);
        ASSERT_FALSE(r.has_value()) << "accepted a case mentioning " << c.mentions;
        EXPECT_NE(r.error().message.find(c.mentions), std::string::npos) << r.error().message;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    }
}

TEST(Options, ControlSocketPath) {
    auto def = parse({"--role", "primary", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000", "--listen",
                      "192.0.2.10", "--peer", "192.0.2.11"});
    ASSERT_TRUE(def.has_value()) << def.error().message;
    EXPECT_EQ(def->options->control_path, "/run/tcpfo/failoverd.sock");
    auto set = parse({"--role", "primary", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000", "--listen",
                      "192.0.2.10", "--peer", "192.0.2.11", "--control", "/tmp/x/primary.sock"});
    ASSERT_TRUE(set.has_value()) << set.error().message;
    EXPECT_EQ(set->options->control_path, "/tmp/x/primary.sock");
    const std::string too_long = "/tmp/" + std::string(103, 'x');  // 108 bytes: no room for the NUL
    for (const char* bad : {"", too_long.c_str()}) {
        auto r = parse({"--role", "primary", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000",
                        "--listen", "192.0.2.10", "--peer", "192.0.2.11", "--control", bad});
        ASSERT_FALSE(r.has_value()) << bad;
        EXPECT_NE(r.error().message.find("--control"), std::string::npos) << r.error().message;
    }
    EXPECT_NE(std::string(usage_text()).find("--control"), std::string::npos);
}

// The symmetric form: every node gets the same --node list and its own --id.
TEST(Options, SymmetricNodesStartByPriorityThenId) {
    // With a witness (node 3): it is not a candidate for primary, and it hears the
    // heartbeats; leases are enforced with a quorum of 2 of the 3 nodes.
    auto one = parse({"--id", "1", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--node", "3=192.0.2.12",
                      "--witness-id", "3", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000"});
    ASSERT_TRUE(one.has_value()) << one.error().message;
    const Options& p = *one->options;
    EXPECT_EQ(p.role, NodeRole::primary);
    EXPECT_EQ(to_string(p.listen), "192.0.2.10:7100");
    ASSERT_EQ(p.peers.size(), 1u);
    EXPECT_EQ(to_string(p.peers[0]), "192.0.2.11:7100");
    ASSERT_TRUE(p.witness.has_value());
    EXPECT_EQ(to_string(*p.witness), "192.0.2.12:7100");
    EXPECT_TRUE(p.lease_enforced);
    EXPECT_EQ(p.quorum, 2u);
    EXPECT_EQ(p.lease_ms, 30);  // heartbeat_ms x dead_after
    EXPECT_FALSE(p.is_witness);
    EXPECT_FALSE(p.replica.has_value());
    ASSERT_TRUE(p.cluster.has_value());
    EXPECT_EQ(p.cluster->own_id, 1);
    EXPECT_EQ(p.cluster->own_priority, 100);
    EXPECT_FALSE(p.cluster->two_node);
    EXPECT_EQ(p.cluster->witness_id, 3);

    auto two = parse({"--id", "2", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11:7200", "--vip", "192.0.2.100/24",
                      "--dev", "eth0", "--port", "7000", "--replica", "127.0.0.1:7000", "--two-node"});
    ASSERT_TRUE(two.has_value()) << two.error().message;
    const Options& b = *two->options;
    EXPECT_EQ(b.role, NodeRole::backup);
    EXPECT_EQ(to_string(b.listen), "192.0.2.11:7200");
    ASSERT_EQ(b.peers.size(), 1u);
    EXPECT_EQ(to_string(b.peers[0]), "192.0.2.10:7100");
    EXPECT_TRUE(b.cluster->two_node);
    EXPECT_FALSE(b.preempt);  // off unless asked
    EXPECT_FALSE(b.lease_enforced);
    EXPECT_FALSE(b.witness.has_value());

    // Node 1 starts as the primary (the tie goes to the lowest id) and needs no
    // --replica; it is accepted there all the same.
    auto first = parse({"--id", "1", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--vip", "192.0.2.100/24",
                        "--dev", "eth0", "--port", "7000", "--replica", "127.0.0.1:7000", "--two-node"});
    ASSERT_TRUE(first.has_value()) << first.error().message;
    EXPECT_EQ(first->options->role, NodeRole::primary);
    ASSERT_TRUE(first->options->replica.has_value());

    // A --priority the other node cannot know (the command line lists no priorities):
    // both would start as the primary. Refused, in one line.
    auto raised = parse({"--id", "2", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--vip", "192.0.2.100/24",
                         "--dev", "eth0", "--port", "7000", "--priority", "101", "--replica", "127.0.0.1:7000",
                         "--two-node"});
    ASSERT_FALSE(raised.has_value());
    EXPECT_NE(raised.error().message.find("priority 101 of node 2 is known only to this node"), std::string::npos)
        << raised.error().message;
}

TEST(Options, PreemptIsAFlagOfTheSymmetricForm) {
    auto r = parse({"--id", "1", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--vip", "192.0.2.100/24",
                    "--dev", "eth0", "--port", "7000", "--replica", "127.0.0.1:7000", "--two-node", "--preempt"});
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_TRUE(r->options->preempt);
}

TEST(Options, SymmetricRefusalsAreOneLine) {
    struct Case { std::vector<const char*> args; const char* expected; };
    const std::vector<const char*> base = {"--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000"};
    const Case cases[] = {
        {{"--node", "1=192.0.2.10", "--node", "2=192.0.2.11"}, "--id is required"},
        {{"--id", "1"}, "--node is required"},
        {{"--id", "0", "--node", "1=192.0.2.10"}, "--id: '0' is not a number from 1 to 255"},
        {{"--id", "3", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11"}, "this node's id 3 is not in the node list"},
        {{"--id", "1", "--node", "1=192.0.2.10", "--node", "1=192.0.2.11"}, "node 1 is listed twice"},
        {{"--id", "1", "--node", "1=192.0.2.10", "--node", "2=192.0.2.10:7200"}, "nodes 1 and 2 have the same address 192.0.2.10"},
        {{"--id", "1", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--node", "3=192.0.2.12", "--two-node"},
         "--two-node (two_node): 3 nodes elect by a majority of their own; two-node mode (no leases) is for two nodes only"},
        {{"--id", "2", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--node", "3=192.0.2.12"},
         "--replica is required on node 2, which starts as the backup (node 1 starts as the primary)"},
        {{"--id", "1", "--node", "1=192.0.2.10"}, "1 node: a cluster needs two nodes"},
        {{"--id", "2", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--two-node"},
         "--replica is required on node 2, which starts as the backup (node 1 starts as the primary)"},
        {{"--id", "1", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--priority", "256"},
         "--priority: '256' is not a number from 0 to 255"},
        {{"--id", "1", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--witness"},
         "--witness: 1 other node(s) in the list; a witness serves two nodes"},
        {{"--id", "1", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11"},
         "2 nodes and no witness: name a witness node with --witness-id (witness_id), running `failoverd --witness`, "
         "or say --two-node (two_node)"},
        {{"--id", "1", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--witness-id", "4"},
         "--witness-id (witness_id): node 4 is not in the node list"},
        {{"--id", "1", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--node", "3=192.0.2.12", "--witness-id", "3",
          "--two-node"},
         "--two-node (two_node) and --witness-id (witness_id): a cluster with a witness is not a two-node cluster"},
        {{"--id", "1", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--node", "3=192.0.2.12", "--witness-id", "3",
          "--witness"},
         "--witness: this node is node 1, but --witness-id (witness_id) names node 3 as the witness"},
        {{"--id", "1", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--node", "3=192.0.2.12", "--witness-id", "3",
          "--lease-ms", "20"},
         "--lease-ms (lease_ms): 20 ms is shorter than failure detection (--heartbeat-ms 10 x --dead-after 3 = 30 ms)"},
        {{"--id", "1", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--node", "3=192.0.2.12", "--witness-id", "3",
          "--dead-after", "1", "--lease-ms", "15"},
         "--lease-ms (lease_ms): 15 ms is shorter than two heartbeats (--heartbeat-ms 10)"},
        {{"--id", "1", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--lease-ms", "0"},
         "--lease-ms: '0' is not a number from 1 to 60000"},
        {{"--id", "1", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--listen", "192.0.2.10"},
         "--role/--listen/--peer (the two-node shorthand) cannot be mixed with --id/--node/--priority/--two-node/--witness/--witness-id/--preempt/--config"},
        {{"--role", "backup", "--listen", "192.0.2.11", "--peer", "192.0.2.10", "--preempt"},
         "--role/--listen/--peer (the two-node shorthand) cannot be mixed with"},
        {{"--role", "primary", "--listen", "192.0.2.10", "--peer", "192.0.2.11", "--priority", "5"},
         "--role/--listen/--peer (the two-node shorthand) cannot be mixed with"},
        {{"--role", "primary", "--listen", "192.0.2.10", "--peer", "192.0.2.11", "--config", "/etc/f.toml"},
         "--role/--listen/--peer (the two-node shorthand) cannot be mixed with"},
        {{"--config-test", "/etc/f.toml", "--id", "1"}, "--config-test takes FILE and nothing else"},
        {{"--node", "1:192.0.2.10"}, "--node: '1:192.0.2.10' is not ID=ADDR[,ADDR2][:PORT]"},
        {{}, "--id and --node are required (or the shorthand --role, --listen, --peer)"},
    };
    for (const auto& c : cases) {
        std::vector<std::string> storage = {"failoverd"};
        for (auto a : c.args) storage.emplace_back(a);
        for (auto a : base) storage.emplace_back(a);
        std::vector<char*> argv;
        for (auto& s : storage) argv.push_back(s.data());
        argv.push_back(nullptr);
        auto r = parse_options(int(storage.size()), argv.data());
        ASSERT_FALSE(r.has_value()) << "accepted: " << c.expected;
        EXPECT_TRUE(r.error().message.starts_with(c.expected)) << r.error().message;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    }
}

// failoverd --witness: no --vip, --dev, --port or --replica; it hears both other nodes.
TEST(Options, AWitnessNeedsOnlyItsIdAndTheNodeList) {
    auto w = parse({"--witness", "--id", "3", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--node",
                    "3=192.0.2.12", "--control", "/tmp/w.sock", "--lease-ms", "50"});
    ASSERT_TRUE(w.has_value()) << w.error().message;
    const Options& o = *w->options;
    EXPECT_TRUE(o.is_witness);
    EXPECT_EQ(to_string(o.listen), "192.0.2.12:7100");
    ASSERT_EQ(o.peers.size(), 2u);
    EXPECT_EQ(to_string(o.peers[0]), "192.0.2.10:7100");
    EXPECT_EQ(to_string(o.peers[1]), "192.0.2.11:7100");
    EXPECT_EQ(o.quorum, 2u);
    EXPECT_EQ(o.lease_ms, 50);
    EXPECT_EQ(o.control_path, "/tmp/w.sock");
    // The witness named by --witness-id is this node: the same.
    auto named = parse({"--id", "3", "--witness-id", "3", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--node",
                        "3=192.0.2.12"});
    ASSERT_TRUE(named.has_value()) << named.error().message;
    EXPECT_TRUE(named->options->is_witness);
    // A witness of a --two-node cluster is a contradiction.
    auto two = parse({"--witness", "--id", "3", "--node", "1=192.0.2.10", "--node", "2=192.0.2.11", "--node",
                      "3=192.0.2.12", "--two-node"});
    ASSERT_FALSE(two.has_value());
    EXPECT_TRUE(two.error().message.starts_with("--witness: a witness serves a cluster that is not --two-node"))
        << two.error().message;
}

// The shorthand is a two-node cluster: no leases, as keepalived's two-node VRRP.
TEST(Options, TheShorthandImpliesTwoNodeMode) {
    auto r = parse({"--role", "primary", "--listen", "192.0.2.10", "--peer", "192.0.2.11", "--vip", "192.0.2.100/24",
                    "--dev", "eth0", "--port", "7000"});
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_FALSE(r->options->lease_enforced);
    EXPECT_FALSE(r->options->witness.has_value());
    EXPECT_NE(std::string(usage_text()).find("implies --two-node"), std::string::npos);
}

TEST(Options, ConfigTestTakesOnlyTheFile) {
    auto r = parse({"--config-test", "/etc/tcpfo/failoverd.toml"});
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_FALSE(r->options.has_value());
    EXPECT_EQ(r->config_test_file, "/etc/tcpfo/failoverd.toml");
    const std::string usage = usage_text();
    for (const char* flag : {"--id", "--node", "--priority", "--two-node", "--witness", "--config", "--config-test", "--role"})
        EXPECT_NE(usage.find(flag), std::string::npos) << flag;
}

TEST(Options, MetricsAddressIsOffByDefaultAndNeedsAPort) {
    auto def = parse({"--role", "primary", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000", "--listen",
                      "192.0.2.10", "--peer", "192.0.2.11"});
    ASSERT_TRUE(def.has_value()) << def.error().message;
    EXPECT_FALSE(def->options->metrics.has_value());
    auto set = parse({"--role", "primary", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000", "--listen",
                      "192.0.2.10", "--peer", "192.0.2.11", "--metrics", "0.0.0.0:9100"});
    ASSERT_TRUE(set.has_value()) << set.error().message;
    ASSERT_TRUE(set->options->metrics.has_value());
    EXPECT_EQ(to_string(*set->options->metrics), "0.0.0.0:9100");
    const struct {
        const char* value;
        const char* expected;
    } bad[] = {
        {"192.0.2.10", "--metrics: '192.0.2.10' needs a port (ADDR:PORT, e.g. 0.0.0.0:9100)"},
        {"192.0.2.10:0", "--metrics: '0' is not a valid port (1-65535)"},
        {"192.0.2.10:70000", "--metrics: "},
        {"localhost:9100", "--metrics: "},
        {"", "--metrics: "},
    };
    for (const auto& b : bad) {
        auto r = parse({"--role", "primary", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000",
                        "--listen", "192.0.2.10", "--peer", "192.0.2.11", "--metrics", b.value});
        ASSERT_FALSE(r.has_value()) << b.value;
        EXPECT_TRUE(r.error().message.starts_with(b.expected)) << r.error().message;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
    }
    EXPECT_NE(std::string(usage_text()).find("--metrics ADDR:PORT"), std::string::npos);
}

TEST(Options, HooksBackendIsBpfByDefaultAndOneOfThree) {
#define TCPFO_BASE "--role", "primary", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000", \
                   "--listen", "192.0.2.10", "--peer", "192.0.2.11"
    auto def = parse({TCPFO_BASE});
    ASSERT_TRUE(def.has_value()) << def.error().message;
    EXPECT_EQ(def->options->hooks, HooksBackend::bpf);
    auto bpf = parse({TCPFO_BASE, "--hooks", "bpf"});
    auto kmod = parse({TCPFO_BASE, "--hooks", "kmod"});
    auto automatic = parse({TCPFO_BASE, "--hooks", "auto"});
    ASSERT_TRUE(bpf && kmod && automatic);
    EXPECT_EQ(bpf->options->hooks, HooksBackend::bpf);
    EXPECT_EQ(kmod->options->hooks, HooksBackend::kmod);
    EXPECT_EQ(automatic->options->hooks, HooksBackend::automatic);
    EXPECT_STREQ(to_string(HooksBackend::automatic), "auto");
    auto bad = parse({TCPFO_BASE, "--hooks", "ebpf"});
#undef TCPFO_BASE
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().message, "--hooks: 'ebpf' is not one of bpf, kmod, auto");
    EXPECT_NE(std::string(usage_text()).find("--hooks bpf|kmod|auto"), std::string::npos);
}

TEST(Options, TransportIsTcpUnlessToldAndASecondAddressNeedsSctp) {
    auto tcp = parse({"--role", "primary", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000",
                      "--listen", "192.0.2.12", "--peer", "192.0.2.13"});
    ASSERT_TRUE(tcp.has_value()) << tcp.error().message;
    EXPECT_EQ(tcp->options->transport, Transport::tcp);
    EXPECT_FALSE(tcp->options->listen_second.has_value());
    ASSERT_EQ(tcp->options->peers_second.size(), 1u);
    EXPECT_FALSE(tcp->options->peers_second[0].has_value());

    auto sctp = parse({"--role", "primary", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000",
                       "--listen", "192.0.2.12,192.0.2.212:7100", "--peer", "192.0.2.13,192.0.2.213",
                       "--transport", "sctp"});
    ASSERT_TRUE(sctp.has_value()) << sctp.error().message;
    const Options& o = *sctp->options;
    EXPECT_EQ(o.transport, Transport::sctp);
    ASSERT_TRUE(o.listen_second.has_value());
    EXPECT_EQ(to_string(*o.listen_second), "192.0.2.212:7100");
    ASSERT_EQ(o.peers_second.size(), 1u);
    EXPECT_EQ(to_string(*o.peers_second[0]), "192.0.2.213:7100");

    auto sym = parse({"--id", "1", "--node", "1=192.0.2.12,192.0.2.212", "--node", "2=192.0.2.13,192.0.2.213",
                      "--two-node", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000",
                      "--transport", "sctp"});
    ASSERT_TRUE(sym.has_value()) << sym.error().message;
    EXPECT_EQ(to_string(*sym->options->listen_second), "192.0.2.212:7100");
    EXPECT_EQ(to_string(*sym->options->peers_second.at(0)), "192.0.2.213:7100");
}

TEST(Options, RefusesABadTransportOrASecondAddressOverTcpWithOneLine) {
    struct Case { std::vector<const char*> args; const char* message; };
    const Case cases[] = {
        {{"--role", "primary", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000", "--listen",
          "192.0.2.12", "--peer", "192.0.2.13", "--transport", "udp"},
         "--transport: 'udp' is neither tcp nor sctp"},
        {{"--role", "primary", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000", "--listen",
          "192.0.2.12,192.0.2.212", "--peer", "192.0.2.13"},
         "a second node address (ADDR,ADDR2) needs --transport sctp (transport = \"sctp\"): a TCP replication "
         "stream rides one path"},
        {{"--id", "1", "--node", "1=192.0.2.12", "--node", "2=192.0.2.13,192.0.2.213", "--two-node", "--vip",
          "192.0.2.100/24", "--dev", "eth0", "--port", "7000", "--transport", "tcp"},
         "a second node address (ADDR,ADDR2) needs --transport sctp"},
        {{"--role", "primary", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000", "--listen",
          "192.0.2.12:7100,192.0.2.212", "--peer", "192.0.2.13", "--transport", "sctp"},
         "--listen: '192.0.2.12:7100,192.0.2.212': the port goes once, after the second address"},
        {{"--role", "primary", "--vip", "192.0.2.100/24", "--dev", "eth0", "--port", "7000", "--listen",
          "192.0.2.12", "--peer", "192.0.2.13,192.0.2.13", "--transport", "sctp"},
         "--peer: '192.0.2.13,192.0.2.13': the second address is the first one again"},
    };
    for (const auto& c : cases) {
        std::vector<std::string> storage = {"failoverd"};
        for (auto a : c.args) storage.emplace_back(a);
        std::vector<char*> argv;
        for (auto& s : storage) argv.push_back(s.data());
        argv.push_back(nullptr);
        auto r = parse_options(int(storage.size()), argv.data());
        ASSERT_FALSE(r.has_value()) << c.message;
        EXPECT_NE(r.error().message.find(c.message), std::string::npos) << r.error().message;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    }
}

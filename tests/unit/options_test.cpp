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

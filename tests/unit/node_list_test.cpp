#include "userd/config/node_list.h"

#include <arpa/inet.h>

#include <gtest/gtest.h>

#include "userd/base/inet_address.h"

using namespace tcpfo;

namespace {
NodeEntry node(int id, const char* address, std::optional<int> priority = std::nullopt) {
    auto n = parse_node_flag(fmt::format("{}={}", id, address));
    EXPECT_TRUE(n.has_value()) << n.error().message;
    n->priority = priority;
    return *n;
}
}  // namespace

TEST(NodeList, ParsesIdAndAddressWithTheReplicationPortByDefault) {
    auto n = parse_node_flag("2=192.0.2.11");
    ASSERT_TRUE(n.has_value()) << n.error().message;
    EXPECT_EQ(n->id, 2);
    EXPECT_EQ(to_string(n->address), "192.0.2.11:7100");
    EXPECT_FALSE(n->priority.has_value());
    auto p = parse_node_flag("255=192.0.2.12:7200");
    ASSERT_TRUE(p.has_value()) << p.error().message;
    EXPECT_EQ(p->id, 255);
    EXPECT_EQ(to_string(p->address), "192.0.2.12:7200");
}

TEST(NodeList, RefusesABadNodeFlagWithOneLine) {
    struct Case { const char* text; const char* mentions; };
    const Case cases[] = {
        {"192.0.2.11", "ID=ADDR"},
        {"0=192.0.2.11", "not a node id from 1 to 255"},
        {"256=192.0.2.11", "not a node id from 1 to 255"},
        {"x=192.0.2.11", "'x' is not a node id"},
        {"=192.0.2.11", "'' is not a node id"},
        {"1=192.0.2.300", "node 1: '192.0.2.300' is not an IPv4 address"},
        {"1=192.0.2.1:0", "node 1:"},
        {"1=", "node 1:"},
    };
    for (const auto& c : cases) {
        auto r = parse_node_flag(c.text);
        ASSERT_FALSE(r.has_value()) << c.text;
        EXPECT_NE(r.error().message.find(c.mentions), std::string::npos) << c.text << ": " << r.error().message;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    }
}

TEST(NodeList, ValidatesIdsAddressesAndTheOwnId) {
    const std::vector<NodeEntry> good = {node(1, "192.0.2.10"), node(2, "192.0.2.11")};
    EXPECT_TRUE(validate_node_list(good, 1).has_value());
    EXPECT_TRUE(validate_node_list(good, 2).has_value());

    auto missing = validate_node_list(good, 3);
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().message, "this node's id 3 is not in the node list");

    auto twice = validate_node_list({node(1, "192.0.2.10"), node(1, "192.0.2.11")}, 1);
    ASSERT_FALSE(twice.has_value());
    EXPECT_EQ(twice.error().message, "node 1 is listed twice");

    // Same IP, different ports: heartbeats are matched by IP alone.
    auto same = validate_node_list({node(1, "192.0.2.10:7100"), node(2, "192.0.2.10:7200")}, 1);
    ASSERT_FALSE(same.has_value());
    EXPECT_EQ(same.error().message, "nodes 1 and 2 have the same address 192.0.2.10");

    std::vector<NodeEntry> many;
    for (int i = 1; i <= int(kMaxNodes) + 1; ++i) many.push_back(node(i, fmt::format("192.0.2.{}", i).c_str()));
    auto too_many = validate_node_list(many, 1);
    ASSERT_FALSE(too_many.has_value());
    EXPECT_EQ(too_many.error().message, "18 nodes: at most 17 are supported");
    many.pop_back();
    EXPECT_TRUE(validate_node_list(many, 1).has_value());
}

TEST(NodeList, HighestPriorityStartsAsPrimaryTiesToTheLowestId) {
    const std::vector<NodeEntry> equal = {node(2, "192.0.2.11"), node(1, "192.0.2.10")};
    // Equal (default) priorities: node 1 leads, wherever it is in the list.
    auto one = start_role(equal, 1, std::nullopt);
    ASSERT_TRUE(one.has_value()) << one.error().message;
    EXPECT_EQ(one->role, NodeRole::primary);
    EXPECT_EQ(one->first_primary_id, 1);
    EXPECT_EQ(to_string(one->listen), "192.0.2.10:7100");
    ASSERT_EQ(one->peers.size(), 1u);
    EXPECT_EQ(to_string(one->peers[0]), "192.0.2.11:7100");

    auto two = start_role(equal, 2, std::nullopt);
    ASSERT_TRUE(two.has_value()) << two.error().message;
    EXPECT_EQ(two->role, NodeRole::backup);
    EXPECT_EQ(to_string(two->listen), "192.0.2.11:7100");
    ASSERT_EQ(two->peers.size(), 1u);
    EXPECT_EQ(to_string(two->peers[0]), "192.0.2.10:7100");

    // Node 2's own --priority, which node 1 cannot know (it takes node 2 to be at 100
    // and would start as the primary too): refused.
    auto raised = start_role(equal, 2, 150);
    ASSERT_FALSE(raised.has_value());
    EXPECT_EQ(raised.error().message,
              "priority 150 of node 2 is known only to this node: the other node takes it to be 100 and both could "
              "start as the primary; give it in node 2's [[node]] table of the config file every node reads (nodes "
              "do not exchange priorities yet)");
    // Saying the default out loud changes nothing anyone decides.
    EXPECT_EQ(start_role(equal, 2, 100)->role, NodeRole::backup);

    // Priorities from the file: both nodes see the same list and agree.
    const std::vector<NodeEntry> listed = {node(1, "192.0.2.10", 50), node(2, "192.0.2.11", 200)};
    EXPECT_EQ(start_role(listed, 1, std::nullopt)->role, NodeRole::backup);
    EXPECT_EQ(start_role(listed, 2, std::nullopt)->role, NodeRole::primary);
    // A node's own --priority must agree with its entry, which the other node reads.
    EXPECT_EQ(start_role(listed, 1, 50)->role, NodeRole::backup);
    EXPECT_FALSE(start_role(listed, 1, 255).has_value());
    // Priority 0 is a priority, lowest of all.
    const std::vector<NodeEntry> zero = {node(1, "192.0.2.10", 0), node(2, "192.0.2.11", 1)};
    EXPECT_EQ(start_role(zero, 2, std::nullopt)->role, NodeRole::primary);
}

TEST(NodeList, ThreeNodesOnePrimaryTwoBackupsEachHearingEveryOther) {
    const std::vector<NodeEntry> three = {node(1, "192.0.2.10", 100), node(2, "192.0.2.11", 200),
                                          node(3, "192.0.2.12", 100)};
    auto two = start_role(three, 2, std::nullopt);
    ASSERT_TRUE(two.has_value()) << two.error().message;
    EXPECT_EQ(two->role, NodeRole::primary);
    ASSERT_EQ(two->peers.size(), 2u);
    EXPECT_EQ(to_string(two->peers[0]), "192.0.2.10:7100");
    EXPECT_EQ(to_string(two->peers[1]), "192.0.2.12:7100");
    // A backup's first peer is the primary, then the other backup.
    auto three_of = start_role(three, 3, std::nullopt);
    ASSERT_TRUE(three_of.has_value()) << three_of.error().message;
    EXPECT_EQ(three_of->role, NodeRole::backup);
    EXPECT_EQ(three_of->first_primary_id, 2);
    ASSERT_EQ(three_of->peers.size(), 2u);
    EXPECT_EQ(to_string(three_of->peers[0]), "192.0.2.11:7100");
    EXPECT_EQ(to_string(three_of->peers[1]), "192.0.2.10:7100");
}

TEST(NodeList, RefusesWhatTheRuntimeCannotRunYet) {
    auto alone = start_role({node(1, "192.0.2.10")}, 1, std::nullopt);
    ASSERT_FALSE(alone.has_value());
    EXPECT_EQ(alone.error().message, "1 node: a cluster needs two nodes");
}

TEST(NodeList, ChecksIdAndPriorityRanges) {
    EXPECT_TRUE(check_node_id(1).has_value());
    EXPECT_TRUE(check_node_id(255).has_value());
    EXPECT_FALSE(check_node_id(0).has_value());
    EXPECT_FALSE(check_node_id(256).has_value());
    EXPECT_TRUE(check_node_priority(0).has_value());
    EXPECT_TRUE(check_node_priority(255).has_value());
    EXPECT_FALSE(check_node_priority(-1).has_value());
    EXPECT_EQ(check_node_priority(256).error().message, "256 is not a priority from 0 to 255");
}

TEST(NodeList, ASecondAddressSharesThePortWrittenOnceAtTheEnd) {
    auto n = parse_node_flag("2=192.0.2.12,192.0.2.212:7200");
    ASSERT_TRUE(n.has_value()) << n.error().message;
    EXPECT_EQ(to_string(n->address), "192.0.2.12:7200");
    ASSERT_TRUE(n->second_address.has_value());
    EXPECT_EQ(to_string(*n->second_address), "192.0.2.212:7200");
    auto d = parse_node_flag("3=192.0.2.13,192.0.2.213");
    ASSERT_TRUE(d.has_value()) << d.error().message;
    EXPECT_EQ(to_string(*d->second_address), "192.0.2.213:7100");
    auto one = parse_node_flag("4=192.0.2.14");
    ASSERT_TRUE(one.has_value());
    EXPECT_FALSE(one->second_address.has_value());
}

TEST(NodeList, RefusesABadSecondAddressWithOneLine) {
    struct Case { const char* text; const char* mentions; };
    const Case cases[] = {
        {"1=192.0.2.11:7100,192.0.2.211", "the port goes once, after the second address"},
        {"1=192.0.2.11,192.0.2.211,192.0.2.311", "at most two addresses"},
        {"1=192.0.2.11,192.0.2.11", "the second address is the first one again"},
        {"1=192.0.2.11,", "node 1: second address:"},
        {"1=192.0.2.11,192.0.2.300", "node 1: second address: '192.0.2.300' is not an IPv4 address"},
        {"1=,192.0.2.211", "node 1:"},
    };
    for (const auto& c : cases) {
        auto r = parse_node_flag(c.text);
        ASSERT_FALSE(r.has_value()) << c.text;
        EXPECT_NE(r.error().message.find(c.mentions), std::string::npos) << c.text << ": " << r.error().message;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    }
}

TEST(NodeList, ASecondAddressMayNotBeAnotherNodesAddress) {
    const std::vector<NodeEntry> nodes = {node(1, "192.0.2.11,192.0.2.211"), node(2, "192.0.2.12,192.0.2.11")};
    auto r = validate_node_list(nodes, 1);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message, "nodes 1 and 2 have the same address 192.0.2.11");
    const std::vector<NodeEntry> fine = {node(1, "192.0.2.11,192.0.2.211"), node(2, "192.0.2.12,192.0.2.212")};
    EXPECT_TRUE(validate_node_list(fine, 1).has_value());
    auto start = start_role(fine, 2, std::nullopt);
    ASSERT_TRUE(start.has_value()) << start.error().message;
    ASSERT_TRUE(start->listen_second.has_value());
    EXPECT_EQ(to_string(*start->listen_second), "192.0.2.212:7100");
    ASSERT_EQ(start->peers_second.size(), 1u);
    EXPECT_EQ(to_string(*start->peers_second[0]), "192.0.2.211:7100");
}

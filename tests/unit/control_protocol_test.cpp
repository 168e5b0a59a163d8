#include "userd/status/control_protocol.h"

#include <gtest/gtest.h>

using namespace tcpfo;

TEST(ControlProtocol, ParsesStatusRequests) {
    auto all = parse_control_request(R"({"command":"status"})");
    ASSERT_TRUE(all) << all.error().message;
    EXPECT_EQ(all->command, ControlRequest::Command::status);
    EXPECT_FALSE(all->conn);
    auto one = parse_control_request(R"( { "conn" : 17, "command" : "status" } )");
    ASSERT_TRUE(one) << one.error().message;
    ASSERT_TRUE(one->conn);
    EXPECT_EQ(*one->conn, 17u);
}

TEST(ControlProtocol, WhatFailoverctlSendsParses) {
    for (auto conn : {std::optional<uint64_t>{}, std::optional<uint64_t>{0}, std::optional<uint64_t>{UINT64_MAX}}) {
        std::string line = make_status_request(conn);
        ASSERT_EQ(line.back(), '\n');
        line.pop_back();
        EXPECT_EQ(line.find('\n'), std::string::npos);
        auto r = parse_control_request(line);
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->conn, conn);
    }
}

TEST(ControlProtocol, RefusesWithOneLineNeverThrows) {
    struct Case {
        std::string line;
        const char* mentions;
    };
    const Case cases[] = {
        {"", "not JSON"},
        {"status", "not JSON"},
        {R"({"command":"status")", "not JSON"},
        {"{\"command\":\"st\xff\"}", "not JSON"},
        {R"(["status"])", "not a JSON object"},
        {R"("status")", "not a JSON object"},
        {R"({})", "no \"command\""},
        {R"({"command":7})", "no \"command\""},
        {R"({"command":"reboot"})", "unknown command \"reboot\""},
        {R"({"command":"status","conn":-1})", "connection id"},
        {R"({"command":"status","conn":1.5})", "connection id"},
        {R"({"command":"status","conn":"7"})", "connection id"},
        {R"({"command":"status","conn":184467440737095516160})", "connection id"},
        {R"({"command":"status","verbose":true})", "unknown field \"verbose\""},
        {std::string(kMaxControlRequest + 1, ' '), "longer than"},
        {std::string(2000, '[') + std::string(2000, ']'), "not a JSON object"},
    };
    for (const auto& c : cases) {
        Result<ControlRequest> r;
        ASSERT_NO_THROW(r = parse_control_request(c.line)) << c.line;
        ASSERT_FALSE(r) << c.line;
        EXPECT_NE(r.error().message.find(c.mentions), std::string::npos) << c.line << " -> " << r.error().message;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    }
}

TEST(ControlProtocol, ParsesServiceRequestsAndRefusesBadOnes) {
    auto ok = parse_control_request(R"({"command":"service","pid":4242})");
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->command, ControlRequest::Command::service);
    EXPECT_EQ(ok->pid, 4242);
    for (const char* bad : {R"({"command":"service"})", R"({"command":"service","pid":0})",
                            R"({"command":"service","pid":-3})", R"({"command":"service","pid":4294967296})",
                            R"({"command":"service","pid":"12"})", R"({"command":"service","pid":1,"x":2})"}) {
        auto r = parse_control_request(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    }
}

TEST(ControlProtocol, ParsesHandoverRequestsAndRefusesBadOnes) {
    auto any = parse_control_request(R"({"command":"handover"})");
    ASSERT_TRUE(any) << any.error().message;
    EXPECT_EQ(any->command, ControlRequest::Command::handover);
    EXPECT_FALSE(any->node);
    auto named = parse_control_request(R"({"node":"192.0.2.11:7100","command":"handover"})");
    ASSERT_TRUE(named) << named.error().message;
    EXPECT_EQ(named->node, "192.0.2.11:7100");
    // What failoverctl sends parses back to the same request.
    for (auto node : {std::optional<std::string>{}, std::optional<std::string>{"2"},
                      std::optional<std::string>{"a\"b\\c"}}) {
        std::string line = make_handover_request(node);
        ASSERT_EQ(line.back(), '\n');
        line.pop_back();
        auto r = parse_control_request(line);
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->command, ControlRequest::Command::handover);
        EXPECT_EQ(r->node, node);
    }
    const std::pair<std::string, std::string> bad[] = {
        {R"({"command":"handover","node":7})", "\"node\" must be a backup's address or node id (64 characters at most)"},
        {R"({"command":"handover","node":""})", "\"node\" must be a backup's address or node id (64 characters at most)"},
        {R"({"command":"handover","node":")" + std::string(65, 'x') + "\"}",
         "\"node\" must be a backup's address or node id (64 characters at most)"},
        {R"({"command":"handover","conn":1})", "unknown field \"conn\""},
        {R"({"command":"handover","pid":1})", "unknown field \"pid\""},
    };
    for (const auto& [line, message] : bad) {
        auto r = parse_control_request(line);
        ASSERT_FALSE(r) << line;
        EXPECT_EQ(r.error().message, message);
    }
}

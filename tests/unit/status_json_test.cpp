// The status document: its shape, its rendering in pieces, and that nothing in our
// own data can make it throw or come out malformed.
#include "userd/status/status_json.h"

#include <arpa/inet.h>

#include <chrono>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace tcpfo;
using Json = nlohmann::json;

namespace {

ConnStatus primary_conn(uint64_t id) {
    ConnStatus c;
    c.id = id;
    c.client_addr = inet_addr("192.0.2.1");
    c.client_port = uint16_t(40000 + id % 20000);
    c.phase = "open";
    c.client_forwarded = 1000 + id;
    c.client_stable = 900 + id;
    c.server_acked = 500 + id;
    return c;
}

NodeStatus primary_status(size_t conns) {
    NodeStatus s;
    s.role = "primary";
    s.epoch = 1;
    s.pid = 42;
    s.started_us = 1700000000000000;
    s.now_us = 1700000001000000;
    s.listen = "192.0.2.10:7100";
    s.vip = "192.0.2.100/24";
    s.dev = "eth0";
    s.port = 7000;
    PeerStatus live;
    live.address = "192.0.2.11:7100";
    live.state = "live";
    live.since_us = 1700000000500000;
    live.connected_us = 1700000000500000;
    live.queued_bytes = 123;
    live.lag_us = 37900;
    s.peers.push_back(live);
    PeerStatus down;
    down.address = "192.0.2.12:7100";
    down.state = "connecting";
    down.failed_attempts = 7;
    down.retry_in_ms = 12;
    down.retry_interval_ms = 40;
    down.last_error = "socket error: Connection refused";
    s.peers.push_back(down);
    s.hooks = {{"events", 10}, {"ring_drops", 0}};
    s.unprotected.push_back({inet_addr("192.0.2.1"), 39999, "opened while no backup was connected", 1700000000100000});
    s.unprotected_total = 3;
    for (size_t i = 1; i <= conns; ++i) s.conns.push_back(primary_conn(i));
    return s;
}

Json parse(const std::string& text) {
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');
    Json j = Json::parse(text, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << text;
    return j;
}

}  // namespace

TEST(StatusJson, PrimaryShape) {
    const std::string text = render_status(primary_status(2));
    const Json j = parse(text);
    EXPECT_EQ(text.find('\n'), text.size() - 1) << "one line, compact";
    EXPECT_EQ(text.rfind("{\"version\":1,\"role\":\"primary\"", 0), 0u) << "version and role first";
    EXPECT_EQ(j["epoch"], 1);
    EXPECT_EQ(j["pid"], 42);
    EXPECT_EQ(j["vip"], "192.0.2.100/24");
    ASSERT_EQ(j["peers"].size(), 2u);
    EXPECT_EQ(j["peers"][0]["state"], "live");
    EXPECT_EQ(j["peers"][0]["since_us"], 1700000000500000u);
    EXPECT_EQ(j["peers"][0]["queued_bytes"], 123);
    EXPECT_EQ(j["peers"][0]["lag_ms"], 37) << "whole milliseconds";
    EXPECT_FALSE(j["peers"][1].contains("lag_ms")) << "only where the node knows it";
    EXPECT_FALSE(j["peers"][0].contains("retry_in_ms"));
    EXPECT_FALSE(j["peers"][0].contains("last_error"));
    EXPECT_EQ(j["peers"][1]["state"], "connecting");
    EXPECT_FALSE(j["peers"][1].contains("since_us")) << "0 means unknown";
    EXPECT_EQ(j["peers"][0]["connected_us"], 1700000000500000u);
    EXPECT_FALSE(j["peers"][1].contains("connected_us"));
    EXPECT_EQ(j["peers"][1]["failed_attempts"], 7);
    EXPECT_EQ(j["peers"][1]["retry_in_ms"], 12);
    EXPECT_EQ(j["peers"][1]["retry_interval_ms"], 40);
    EXPECT_EQ(j["peers"][1]["last_error"], "socket error: Connection refused");
    EXPECT_EQ(j["hooks"]["events"], 10);
    EXPECT_TRUE(j["takeover"].is_null());
    EXPECT_EQ(j["unprotected_total"], 3);
    EXPECT_EQ(j["unprotected_recent"][0]["client"], "192.0.2.1:39999");
    EXPECT_EQ(j["connection_count"], 2);
    ASSERT_EQ(j["connections"].size(), 2u);
    const Json& c = j["connections"][1];
    EXPECT_EQ(c["id"], 2);
    EXPECT_EQ(c["client"], "192.0.2.1:40002");
    EXPECT_EQ(c["phase"], "open");
    EXPECT_EQ(c["protected"], true);
    EXPECT_FALSE(c.contains("why_not"));
    EXPECT_EQ(c["client_bytes"], (Json{{"forwarded", 1002}, {"stable", 902}}));
    EXPECT_EQ(c["server_bytes"], (Json{{"acked", 502}}));
    EXPECT_FALSE(c.contains("rebuilt"));
    EXPECT_TRUE(j["node"].is_null()) << "started with the two-node shorthand";
}

TEST(StatusJson, SymmetricNodeShowsItsIdAndEveryNodesPriority) {
    NodeStatus s = primary_status(0);
    MembershipStatus m;
    m.id = 2;
    m.priority = 100;
    m.two_node = true;
    m.nodes = {{1, "192.0.2.10:7100", 200}, {2, "192.0.2.11:7100", 100}};
    s.membership = m;
    const Json j = parse(render_status(s));
    EXPECT_EQ(j["node"], (Json{{"id", 2},
                               {"priority", 100},
                               {"two_node", true},
                               {"nodes", Json::array({Json{{"id", 1}, {"address", "192.0.2.10:7100"}, {"priority", 200}},
                                                      Json{{"id", 2}, {"address", "192.0.2.11:7100"}, {"priority", 100}}})}}));
}

TEST(StatusJson, BackupAfterTakeover) {
    NodeStatus s;
    s.role = "taken-over-primary";
    s.epoch = 2;
    TakeoverStatus t;
    t.reason = "no heartbeat for 31 ms";
    t.epoch = 2;
    t.started_us = 10;
    t.finished_us = 2010;
    t.succeeded = true;
    t.rebuilt = 1;
    t.reset = 1;
    t.total_ms = 2;
    s.takeover = t;
    ConnStatus ok;
    ok.id = 1;
    ok.phase = "spliced";
    ok.client_fed = 5;
    ok.replica_produced = 6;
    ok.rebuilt = true;
    ConnStatus broken;
    broken.id = 2;
    broken.phase = "not-rebuilt";
    broken.is_protected = false;
    broken.why_not = "the replica connection failed";
    broken.rebuilt = false;
    broken.not_rebuilt_why = "the replica connection failed";
    s.conns = {ok, broken};
    const Json j = parse(render_status(s));
    EXPECT_FALSE(j.contains("unprotected_recent")) << "a primary's list only";
    EXPECT_EQ(j["takeover"]["state"], "complete");
    EXPECT_EQ(j["takeover"]["rebuilt"], 1);
    EXPECT_EQ(j["takeover"]["reset"], 1);
    EXPECT_EQ(j["takeover"]["reason"], "no heartbeat for 31 ms");
    EXPECT_EQ(j["connections"][0]["rebuilt"], true);
    EXPECT_FALSE(j["connections"][0].contains("why_not_rebuilt"));
    EXPECT_EQ(j["connections"][0]["client_bytes"]["fed_to_replica"], 5);
    EXPECT_EQ(j["connections"][0]["server_bytes"]["replica_produced"], 6);
    EXPECT_EQ(j["connections"][1]["protected"], false);
    EXPECT_EQ(j["connections"][1]["why_not"], "the replica connection failed");
    EXPECT_EQ(j["connections"][1]["rebuilt"], false);
    EXPECT_EQ(j["connections"][1]["why_not_rebuilt"], "the replica connection failed");
    EXPECT_FALSE(j["connections"][1].contains("server_bytes"));

    s.takeover->finished_us = 0;
    EXPECT_EQ(parse(render_status(s))["takeover"]["state"], "running");
    s.takeover->finished_us = 99;
    s.takeover->succeeded = false;
    s.takeover->error = "takeover: can't claim VIP: File exists";
    const Json failed = parse(render_status(s));
    EXPECT_EQ(failed["takeover"]["state"], "failed");
    EXPECT_EQ(failed["takeover"]["error"], "takeover: can't claim VIP: File exists");
    EXPECT_FALSE(failed["takeover"].contains("rebuilt"));
}

TEST(StatusJson, NoConnectionsIsStillOneDocument) {
    const Json j = parse(render_status(primary_status(0)));
    EXPECT_TRUE(j["connections"].is_array());
    EXPECT_TRUE(j["connections"].empty());
}

TEST(StatusJson, PiecesAddUpToTheWholeAndRespectTheirBound) {
    const std::string whole = render_status(primary_status(1000));
    StatusRenderer renderer(primary_status(1000));
    std::string joined;
    size_t pieces = 0;
    for (std::string piece; renderer.next(piece, 7); piece.clear()) {
        ++pieces;
        // A piece holds at most 7 connections (each has exactly one "phase").
        size_t conns = 0;
        for (size_t at = piece.find("\"phase\""); at != std::string::npos; at = piece.find("\"phase\"", at + 1)) ++conns;
        EXPECT_LE(conns, 7u);
        joined += piece;
    }
    EXPECT_TRUE(renderer.done());
    EXPECT_EQ(pieces, 1 + (1000 + 6) / 7 + 1);  // head, connections, tail
    EXPECT_EQ(joined, whole);
    std::string after;
    EXPECT_FALSE(renderer.next(after, 7));
    EXPECT_TRUE(after.empty());
}

TEST(StatusJson, CompleteRunsLazilyOncePerConnectionInOrder) {
    NodeStatus s = primary_status(10);
    std::vector<uint64_t> seen;
    s.complete = [&seen](ConnStatus& c) {
        seen.push_back(c.id);
        if (c.id % 2 == 0) c.server_sent = 7000 + c.id;  // odd ones "closed meanwhile"
    };
    StatusRenderer renderer(std::move(s));
    std::string out;
    ASSERT_TRUE(renderer.next(out, 3));  // the head
    EXPECT_TRUE(seen.empty());
    ASSERT_TRUE(renderer.next(out, 3));
    EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3}));
    while (renderer.next(out, 3)) {
    }
    EXPECT_EQ(seen.size(), 10u);
    const Json j = parse(out);
    EXPECT_EQ(j["connections"][1]["server_bytes"]["sent"], 7002);
    EXPECT_FALSE(j["connections"][0]["server_bytes"].contains("sent"));
}

TEST(StatusJson, HostileStringsStayValidJson) {
    NodeStatus s = primary_status(1);
    s.peers[1].last_error = std::string("quote \" backslash \\ newline \n control \x01 bad utf8 \xff\xfe end");
    s.conns[0].is_protected = false;
    s.conns[0].why_not = "\xc3";  // a truncated UTF-8 sequence
    std::string text;
    ASSERT_NO_THROW(text = render_status(s));
    const Json j = parse(text);
    EXPECT_EQ(text.find('\n'), text.size() - 1) << "the newline inside is escaped";
    const std::string error = j["peers"][1]["last_error"];
    EXPECT_EQ(error.rfind("quote \" backslash \\ newline \n control \x01 bad utf8 ", 0), 0u);
    EXPECT_NE(error.find("\xEF\xBF\xBD"), std::string::npos) << "invalid bytes become U+FFFD";
}

TEST(StatusJson, OneConnectionOrAnError) {
    NodeStatus s = primary_status(5);
    int completed = 0;
    s.complete = [&completed](ConnStatus&) { ++completed; };
    const Json j = parse(render_one_conn(s, 4));
    EXPECT_EQ(j["connection"]["id"], 4);
    EXPECT_EQ(completed, 1);
    EXPECT_EQ(parse(render_one_conn(s, 99))["error"], "no connection 99");
    EXPECT_EQ(parse(render_error("say \"no\"\n"))["error"], "say \"no\"\n");
}

TEST(StatusJson, TenThousandConnections) {
    const auto start = std::chrono::steady_clock::now();
    StatusRenderer renderer(primary_status(10000));
    std::string out;
    size_t pieces = 0;
    auto longest = std::chrono::steady_clock::duration::zero();
    for (;;) {
        const auto t0 = std::chrono::steady_clock::now();
        if (!renderer.next(out, 64)) break;
        longest = std::max(longest, std::chrono::steady_clock::now() - t0);
        ++pieces;
    }
    const auto total = std::chrono::steady_clock::now() - start;
    const Json j = parse(out);
    EXPECT_EQ(j["connections"].size(), 10000u);
    EXPECT_EQ(j["connections"][9999]["id"], 10000);
    using ms = std::chrono::duration<double, std::milli>;
    std::printf("10,000 connections: %zu bytes in %zu pieces, %.1f ms in all, longest piece %.2f ms\n", out.size(),
                pieces, ms(total).count(), ms(longest).count());
    // No timing assertion (machines differ, loads differ); the bound that keeps the
    // loop responsive is the number of connections per piece, which the control
    // server sets (ControlServer::Limits).
    EXPECT_EQ(pieces, 1 + (10000 + 63) / 64 + 1);
}

TEST(StatusJson, HealthChecksWithTheirLastResultAndEachBackupsEligibility) {
    NodeStatus s = primary_status(0);
    EXPECT_FALSE(parse(render_status(s)).contains("health")) << "no checks, no health";
    HealthStatus h;
    h.checks.push_back({"web", "http", "127.0.0.1:8080", "down", "failure", "HTTP 503", 0.75, 1700000000600000,
                        1700000000500000, 12, 4, 1});
    h.eligible = false;
    h.reason = "check web: HTTP 503";
    s.health = h;
    s.peers[0].health = PeerHealthStatus{false, "check web: timeout after 200 ms"};
    s.peers[1].health = PeerHealthStatus{true, ""};
    const Json j = parse(render_status(s));
    EXPECT_EQ(j["health"]["eligible"], false);
    EXPECT_EQ(j["health"]["reason"], "check web: HTTP 503");
    ASSERT_EQ(j["health"]["checks"].size(), 1u);
    const Json& c = j["health"]["checks"][0];
    EXPECT_EQ(c["name"], "web");
    EXPECT_EQ(c["type"], "http");
    EXPECT_EQ(c["state"], "down");
    EXPECT_EQ(c["last_result"], "failure");
    EXPECT_EQ(c["reason"], "HTTP 503");
    EXPECT_EQ(c["latency_ms"], 0.75);
    EXPECT_EQ(c["runs"], 12);
    EXPECT_EQ(c["failures"], 4);
    EXPECT_EQ(j["peers"][0]["eligible"], false);
    EXPECT_EQ(j["peers"][0]["ineligible_reason"], "check web: timeout after 200 ms");
    EXPECT_EQ(j["peers"][1]["eligible"], true);
    EXPECT_FALSE(j["peers"][1].contains("ineligible_reason"));
}

// "cluster": each peer as its heartbeats describe it, and what its last NODE_REPORT
// said (null from a node that never sent one: an older failoverd).
TEST(StatusJson, ClusterShowsEachPeersReportOrNullWithoutOne) {
    NodeStatus s = primary_status(0);
    s.peers[0].lag_bytes = 65536;
    ClusterPeerStatus old_style;
    old_style.address = "192.0.2.12";
    old_style.heard = true;
    old_style.role = "backup";
    old_style.epoch = 2;
    old_style.id = 3;
    old_style.log_position = 4096;
    old_style.silence_ms = 4;
    ClusterPeerStatus reporting = old_style;
    reporting.address = "192.0.2.11";
    reporting.role = "primary";
    ClusterReportStatus r;
    r.age_ms = 412;
    r.epoch = 2;
    r.has_checks = true;
    r.eligible = false;
    r.checks.push_back({"echo", "tcp", "down", "failure", "connection refused"});
    r.lease_enforced = true;
    r.lease_held = true;
    r.lease_remaining_ms = 21;
    r.lease_renewed_ms_ago = 4;
    r.voted_epoch = 2;
    r.voted_for = "192.0.2.11";
    r.promise_remaining_ms = 30;
    r.backups.push_back({"192.0.2.10", "live", true, 65536, 37});
    r.backups.push_back({"192.0.2.12", "connecting", std::nullopt, 0, 0});
    reporting.report = r;
    s.cluster = {reporting, old_style};
    const Json j = parse(render_status(s));
    EXPECT_EQ(j["peers"][0]["lag_bytes"], 65536);
    ASSERT_EQ(j["cluster"].size(), 2u);
    const Json& a = j["cluster"][0];
    EXPECT_EQ(a["role"], "primary");
    const Json& rep = a["report"];
    EXPECT_EQ(rep["age_ms"], 412);
    EXPECT_EQ(rep["eligible"], false);
    ASSERT_EQ(rep["checks"].size(), 1u);
    EXPECT_EQ(rep["checks"][0], Json::parse(R"({"name":"echo","type":"tcp","state":"down","last_result":"failure","reason":"connection refused"})"));
    EXPECT_EQ(rep["lease"], Json::parse(R"({"enforced":true,"held":true,"remaining_ms":21,"renewed_ms_ago":4})"));
    EXPECT_EQ(rep["vote"], Json::parse(R"({"epoch":2,"for":"192.0.2.11","promise_remaining_ms":30})"));
    ASSERT_EQ(rep["backups"].size(), 2u);
    EXPECT_EQ(rep["backups"][0], Json::parse(R"({"address":"192.0.2.10","state":"live","eligible":true,"lag_bytes":65536,"lag_ms":37})"));
    EXPECT_TRUE(rep["backups"][1]["eligible"].is_null()) << "a backup that never said its health";
    // An older peer: what its heartbeats tell, and a null report.
    const Json& b = j["cluster"][1];
    EXPECT_EQ(b["role"], "backup");
    EXPECT_EQ(b["log_position"], 4096);
    EXPECT_TRUE(b["report"].is_null());
    // A node without checks reports "checks": null (not an empty list: it has none to run).
    s.cluster[0].report->has_checks = false;
    s.cluster[0].report->checks.clear();
    EXPECT_TRUE(parse(render_status(s))["cluster"][0]["report"]["checks"].is_null());
}

// The application log's way through failoverd: the primary's relay (from the
// service's library to the backups, held offsets back) and the backup's sink (to the
// replica's library, EOF at takeover).
#include <fcntl.h>
#include <sys/socket.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/socket_pair.h"

#include "replay/preload/app_log.h"
#include "userd/backup/app_log_sink.h"
#include "userd/primary/app_log_relay.h"

using namespace tcpfo;
using tcpfo::test::Pair;
using tcpfo::test::read_all;
using tcpfo::test::stream_pair;

namespace {

// The held offsets the library was sent, decoded.
std::vector<uint64_t> held_messages(const std::string& bytes) {
    std::vector<uint64_t> out;
    for (size_t i = 0; i + 8 <= bytes.size(); i += 8) {
        uint64_t v = 0;
        for (size_t k = 0; k < 8; ++k) v = v << 8 | uint8_t(bytes[i + k]);
        out.push_back(v);
    }
    return out;
}

std::string entry_bytes(const AppLogEntry& entry) {
    std::vector<uint8_t> out;
    encode_app_log_entry(entry, out);
    return std::string(out.begin(), out.end());
}

void run(EventLoop& loop, int turns = 5) {
    for (int i = 0; i < turns; ++i) ASSERT_TRUE(loop.run_once(5));
}

struct Sent {
    std::map<uint16_t, std::string> log;  // per peer, the log bytes sent in order
    std::map<uint16_t, uint64_t> next;    // per peer, the next offset expected
    bool out_of_order = false;
};

AppLogRelay::SendTo recorder(Sent& sent) {
    return [&sent](PeerId peer, const Record& r) {
        const auto& a = std::get<AppLogRecord>(r);
        if (a.offset != sent.next[peer.index()]) sent.out_of_order = true;
        sent.log[peer.index()].append(reinterpret_cast<const char*>(a.bytes.data()), a.bytes.size());
        sent.next[peer.index()] = a.offset + a.bytes.size();
    };
}

}  // namespace

TEST(AppLogRelay, ForwardsTheLogAndReleasesItOnlyWhenEveryHolderHoldsIt) {
    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    EventLoop& loop = **created;
    Pair service = stream_pair();
    Sent sent;
    auto relay = AppLogRelay::open(loop, std::move(service.ours), "ab", 42, {true, true}, recorder(sent));
    ASSERT_TRUE(relay) << relay.error().message;
    ASSERT_EQ(::send(service.peer.get(), "cdef", 4, 0), 4);
    run(loop);
    EXPECT_EQ(sent.log[0], "abcdef");
    EXPECT_EQ(sent.log[1], "abcdef");
    EXPECT_FALSE(sent.out_of_order);
    EXPECT_EQ((*relay)->received(), 6u);
    EXPECT_EQ(read_all(service.peer.get()), "") << "released before any backup held it";

    (*relay)->on_stable(PeerId{0}, 6);
    (*relay)->on_stable(PeerId{1}, 4);
    run(loop);
    EXPECT_EQ(held_messages(read_all(service.peer.get())), std::vector<uint64_t>{4});
    (*relay)->on_stable(PeerId{1}, 6);
    run(loop);
    EXPECT_EQ(held_messages(read_all(service.peer.get())), std::vector<uint64_t>{6});
    EXPECT_EQ((*relay)->held(), 6u);
}

TEST(AppLogRelay, ALostOrRefusingBackupIsNotWaitedForAndWithNoneLeftTheLogIsReleasedAtOnce) {
    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    EventLoop& loop = **created;
    Pair service = stream_pair();
    Sent sent;
    auto relay = AppLogRelay::open(loop, std::move(service.ours), "", 7, {true, true}, recorder(sent));
    ASSERT_TRUE(relay);
    ASSERT_EQ(::send(service.peer.get(), "0123456789", 10, 0), 10);
    run(loop);
    (*relay)->on_stable(PeerId{0}, 10);
    run(loop);
    EXPECT_EQ(read_all(service.peer.get()), "");
    (*relay)->drop_peer(PeerId{1});  // lost
    run(loop);
    EXPECT_EQ(held_messages(read_all(service.peer.get())), std::vector<uint64_t>{10});
    (*relay)->drop_peer(PeerId{0});  // refused
    ASSERT_EQ(::send(service.peer.get(), "xy", 2, 0), 2);
    run(loop);
    EXPECT_EQ(held_messages(read_all(service.peer.get())), std::vector<uint64_t>{12});
    EXPECT_EQ((*relay)->holders(), 0u);
}

TEST(AppLogRelay, ABackupThatJoinsLateDoesNotHoldTheLog) {
    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    EventLoop& loop = **created;
    Pair service = stream_pair();
    Sent sent;
    auto relay = AppLogRelay::open(loop, std::move(service.ours), "", 7, {true, false}, recorder(sent));
    ASSERT_TRUE(relay);
    ASSERT_EQ(::send(service.peer.get(), "abc", 3, 0), 3);
    run(loop);
    (*relay)->peer_joined(PeerId{1});
    EXPECT_EQ((*relay)->holders(), 1u);
    (*relay)->on_stable(PeerId{0}, 3);
    run(loop);
    EXPECT_EQ(held_messages(read_all(service.peer.get())), std::vector<uint64_t>{3});
}

TEST(AppLogRelay, TheServiceEndingClosesTheChannel) {
    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    EventLoop& loop = **created;
    Pair service = stream_pair();
    Sent sent;
    auto relay = AppLogRelay::open(loop, std::move(service.ours), "", 7, {true}, recorder(sent));
    ASSERT_TRUE(relay);
    service.peer.reset();
    run(loop);
    EXPECT_TRUE((*relay)->closed());
}

TEST(AppLogSink, HoldsWritesToTheReplicaAndEndsTheLogAtTakeover) {
    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    EventLoop& loop = **created;
    AppLogSink sink(loop, [](AppRefuseReason) {});
    const std::string first = entry_bytes(TimeEntry{1}), second = entry_bytes(GetpidEntry{2});
    EXPECT_FALSE(sink.on_record({0, std::span(reinterpret_cast<const uint8_t*>(first.data()), first.size())}));
    EXPECT_EQ(sink.held(), first.size());
    // The replica's channel attaches after the log began (its tcpfo-run started late).
    Pair replica = stream_pair();
    std::string why;
    ASSERT_TRUE(sink.attach(std::move(replica.ours), 9, why)) << why;
    EXPECT_FALSE(sink.on_record({first.size(), std::span(reinterpret_cast<const uint8_t*>(second.data()), second.size())}));
    run(loop);
    bool eof = false;
    EXPECT_EQ(read_all(replica.peer.get(), &eof), first + second);
    EXPECT_FALSE(eof) << "the log ended before a takeover";
    sink.finish();
    run(loop);
    EXPECT_EQ(read_all(replica.peer.get(), &eof), "");
    EXPECT_TRUE(eof) << "the replica was not told the log ended";
    Pair again = stream_pair();
    EXPECT_FALSE(sink.attach(std::move(again.ours), 10, why));
}

TEST(AppLogSink, RefusesALogThatBeganBeforeItJoined) {
    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    EventLoop& loop = **created;
    AppLogSink sink(loop, [](AppRefuseReason) {});
    Pair replica = stream_pair();
    std::string why;
    ASSERT_TRUE(sink.attach(std::move(replica.ours), 9, why));
    const std::string bytes = "late";
    auto refusal = sink.on_record({100, std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())});
    ASSERT_TRUE(refusal);
    EXPECT_EQ(*refusal, AppRefuseReason::joined_late);
    EXPECT_TRUE(sink.refused());
    EXPECT_EQ(sink.held(), 0u);
    // Said once; the replica's library goes live at once (EOF).
    EXPECT_FALSE(sink.on_record({104, std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())}));
    run(loop);
    bool eof = false;
    read_all(replica.peer.get(), &eof);
    EXPECT_TRUE(eof);
}

TEST(AppLogSink, AReplicaWhoseReplayDivergedIsRefusedThroughTheCallback) {
    auto created = EventLoop::create();
    ASSERT_TRUE(created);
    EventLoop& loop = **created;
    std::optional<AppRefuseReason> told;
    AppLogSink sink(loop, [&](AppRefuseReason r) { told = r; });
    Pair replica = stream_pair();
    std::string why;
    ASSERT_TRUE(sink.attach(std::move(replica.ours), 9, why));
    const std::string bytes = entry_bytes(TimeEntry{7});
    EXPECT_FALSE(sink.on_record({0, std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())}));
    run(loop);
    EXPECT_FALSE(told);
    ASSERT_EQ(::send(replica.peer.get(), "diverged 7\n", 11, 0), 11);
    run(loop);
    ASSERT_TRUE(told);
    EXPECT_EQ(*told, AppRefuseReason::replica_diverged);
    EXPECT_TRUE(sink.refused());
    EXPECT_EQ(sink.held(), 0u);
    bool eof = false;
    read_all(replica.peer.get(), &eof);
    EXPECT_TRUE(eof) << "the channel of a diverged replica stays open";
}

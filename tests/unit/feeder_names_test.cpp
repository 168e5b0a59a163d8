// The backup's AppLogSink inserts feeder names (kind 8) into the replica's channel,
// only between two entries of the primary's log, and holds an accept (kind 7) until
// its client's name went out (docs/protocol.md, "Feeder names").
#include <sys/socket.h>

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/socket_pair.h"

#include "replay/preload/app_log.h"
#include "userd/backup/app_log_sink.h"

using namespace tcpfo;
using tcpfo::test::Pair;
using tcpfo::test::read_all;
using tcpfo::test::stream_pair;

namespace {

void run(EventLoop& loop, int turns = 5) {
    for (int i = 0; i < turns; ++i) ASSERT_TRUE(loop.run_once(5));
}

std::vector<uint8_t> encode(const std::vector<AppLogEntry>& entries) {
    std::vector<uint8_t> out;
    for (const auto& e : entries) encode_app_log_entry(e, out);
    return out;
}

// What the replica's library reads: the entries in order. A name written inside an
// entry makes the stream undecodable (or decode into other entries).
struct Channel {
    std::vector<AppLogEntry> entries;
    std::vector<uint8_t> log;    // the bytes of every entry that is not a feeder name
    size_t names = 0;
    bool whole = true;           // ended exactly after an entry
    std::string error;
    std::vector<uint8_t> storage;
};

Channel decode_channel(const std::string& bytes) {
    Channel c;
    c.storage.assign(bytes.begin(), bytes.end());
    std::span<const uint8_t> rest(c.storage);
    while (!rest.empty()) {
        auto d = decode_app_log_entry(rest);
        if (!d) {
            c.error = d.error().message;
            return c;
        }
        if (!*d) {
            c.whole = false;
            return c;
        }
        const auto& entry = (*d)->entry;
        if (std::holds_alternative<FeederNameEntry>(entry)) ++c.names;
        else c.log.insert(c.log.end(), rest.begin(), rest.begin() + ptrdiff_t((*d)->size));
        c.entries.push_back(entry);
        rest = rest.subspan((*d)->size);
    }
    return c;
}

AppLogRecord record(uint64_t offset, std::span<const uint8_t> bytes) { return AppLogRecord{offset, bytes}; }

constexpr uint32_t kClientA = 0xc0000201;  // 192.0.2.1, host order as in entries
constexpr uint32_t kClientB = 0xc0000202;

struct Fixture {
    std::unique_ptr<EventLoop> owned;
    EventLoop* loop = nullptr;
    std::optional<AppRefuseReason> told;
    std::unique_ptr<AppLogSink> sink;
    Pair replica = stream_pair();

    Fixture() {
        auto created = EventLoop::create();
        EXPECT_TRUE(created);
        owned = std::move(*created);
        loop = owned.get();
        sink = std::make_unique<AppLogSink>(*loop, [this](AppRefuseReason r) { told = r; });
    }
    void attach() {
        std::string why;
        ASSERT_TRUE(sink->attach(std::move(replica.ours), 9, why)) << why;
    }
};

}  // namespace

// The log arrives in records cut anywhere (a header split in two, a payload split in
// three); names arrive in between, also while an entry is only partly received. The
// replica must read whole entries with every name between two of them, and exactly
// the log's bytes once the names are taken out.
TEST(FeederNames, GoOnlyBetweenEntriesOfALogCutAnywhere) {
    Fixture f;
    f.attach();
    std::vector<uint8_t> random(300);
    for (size_t i = 0; i < random.size(); ++i) random[i] = uint8_t(i * 7);
    const std::vector<uint8_t> log = encode({
        TimeEntry{1},
        GetrandomEntry{int64_t(random.size()), 0, random},
        ClockGettimeEntry{1, 0, 0, 5, 6},
        GetpidEntry{42},
        TimeEntry{2},
    });
    const size_t cuts[] = {3, 5, 1, 7, 2, 11, 64, 13, 200, 17, 9, 5};
    size_t offset = 0, name = 0, cut = 0;
    while (offset < log.size()) {
        const size_t n = std::min(cuts[cut++ % std::size(cuts)], log.size() - offset);
        EXPECT_FALSE(f.sink->on_record(record(offset, std::span(log).subspan(offset, n))));
        offset += n;
        f.sink->name_feeder({kClientA, uint16_t(40000 + name), uint16_t(50000 + name)});
        ++name;
        run(*f.loop, 1);
    }
    run(*f.loop);
    const Channel c = decode_channel(read_all(f.replica.peer.get()));
    EXPECT_EQ(c.error, "");
    EXPECT_TRUE(c.whole);
    EXPECT_EQ(c.names, name);
    EXPECT_EQ(c.log, log);
    EXPECT_EQ(f.sink->names_sent(), name);
    // A name never sits inside an entry: each one received before an entry was whole
    // goes out before that entry.
    ASSERT_FALSE(c.entries.empty());
    EXPECT_TRUE(std::holds_alternative<FeederNameEntry>(c.entries.front()));
}

// An entry larger than the socket takes at once is written in parts: a name that
// comes while it is half written waits for its end.
TEST(FeederNames, WaitForAnEntryWrittenInParts) {
    Fixture f;
    f.attach();
    std::vector<uint8_t> random(900 * 1024, 0x5a);
    const std::vector<uint8_t> log = encode({GetrandomEntry{int64_t(random.size()), 0, random}, TimeEntry{3}});
    EXPECT_FALSE(f.sink->on_record(record(0, std::span(log).first(100 * 1024))));
    EXPECT_FALSE(f.sink->on_record(record(100 * 1024, std::span(log).subspan(100 * 1024))));
    run(*f.loop, 1);
    std::string got = read_all(f.replica.peer.get());
    ASSERT_GT(got.size(), 0u);
    ASSERT_LT(got.size(), log.size()) << "the socket took the whole entry at once: no partial write to test";
    f.sink->name_feeder({kClientB, 4000, 5000});
    for (int i = 0; i < 200 && got.size() < log.size() + 16; ++i) {
        run(*f.loop, 1);
        got += read_all(f.replica.peer.get());
    }
    const Channel c = decode_channel(got);
    EXPECT_EQ(c.error, "");
    ASSERT_EQ(c.entries.size(), 3u);
    EXPECT_TRUE(std::holds_alternative<GetrandomEntry>(c.entries[0]));
    EXPECT_EQ(c.entries[1], AppLogEntry(FeederNameEntry{kClientB, 4000, 5000}));
    EXPECT_EQ(c.log, log);
}

// An accept of a client whose feeder is not named yet waits; its name releases it,
// and the replica reads the name first.
TEST(FeederNames, AnAcceptIsHeldUntilItsClientsNameWentOut) {
    Fixture f;
    f.attach();
    const std::vector<uint8_t> log =
        encode({TimeEntry{1}, AcceptEntry{3, 7, 0, kClientA, 41000}, TimeEntry{2}});
    EXPECT_FALSE(f.sink->on_record(record(0, log)));
    run(*f.loop);
    const std::string before = read_all(f.replica.peer.get());
    EXPECT_EQ(decode_channel(before).entries, std::vector<AppLogEntry>{TimeEntry{1}});
    ASSERT_TRUE(f.sink->held_accept());
    EXPECT_EQ(f.sink->held_accept()->first, kClientA);
    EXPECT_EQ(f.sink->held_accept()->second, 41000);
    // Held back from the replica, but held here: the primary may count it.
    EXPECT_EQ(f.sink->held(), log.size());
    EXPECT_LT(f.sink->delivered(), log.size());
    // Another client's name does not release it.
    f.sink->name_feeder({kClientB, 41000, 52000});
    run(*f.loop);
    { const auto names_only = decode_channel(read_all(f.replica.peer.get())).entries; EXPECT_EQ(names_only,
              (std::vector<AppLogEntry>{FeederNameEntry{kClientB, 41000, 52000}})); }
    f.sink->name_feeder({kClientA, 41000, 52001});
    run(*f.loop);
    const Channel c = decode_channel(read_all(f.replica.peer.get()));
    EXPECT_EQ(c.entries, (std::vector<AppLogEntry>{FeederNameEntry{kClientA, 41000, 52001},
                                                   AcceptEntry{3, 7, 0, kClientA, 41000}, TimeEntry{2}}));
    EXPECT_FALSE(f.sink->held_accept());
    EXPECT_EQ(f.sink->delivered(), log.size());
    EXPECT_FALSE(f.told);
    // Failed accepts, and accepts of non-IPv4 sockets, name no client: never held.
    const std::vector<uint8_t> more = encode({AcceptEntry{3, -1, 11, 0, 0}, AcceptEntry{3, 8, 0, 0, 0}});
    EXPECT_FALSE(f.sink->on_record(record(log.size(), more)));
    run(*f.loop);
    EXPECT_EQ(decode_channel(read_all(f.replica.peer.get())).log, more);
}

// Names of connections that open before the replica's channel attaches are kept and
// sent, before the log, when it attaches; an accept's name is used once.
TEST(FeederNames, ANameFromBeforeTheReplicaAttachedIsSentWhenItDoes) {
    Fixture f;
    f.sink->name_feeder({kClientA, 42000, 53000});
    const std::vector<uint8_t> log = encode({AcceptEntry{3, 7, 0, kClientA, 42000}, AcceptEntry{3, 8, 0, kClientA, 42000}});
    EXPECT_FALSE(f.sink->on_record(record(0, log)));
    EXPECT_EQ(f.sink->names_waiting(), 1u);
    EXPECT_EQ(f.sink->names_sent(), 0u);
    f.attach();
    run(*f.loop);
    const Channel c = decode_channel(read_all(f.replica.peer.get()));
    EXPECT_EQ(c.entries, (std::vector<AppLogEntry>{FeederNameEntry{kClientA, 42000, 53000},
                                                   AcceptEntry{3, 7, 0, kClientA, 42000}}));
    EXPECT_EQ(f.sink->names_waiting(), 0u);
    EXPECT_EQ(f.sink->names_sent(), 1u);
    // The second accept of the same client (a new connection from the same port)
    // needs a name of its own.
    ASSERT_TRUE(f.sink->held_accept());
    f.sink->name_feeder({kClientA, 42000, 53001});
    run(*f.loop);
    EXPECT_EQ(decode_channel(read_all(f.replica.peer.get())).entries.size(), 2u);
    EXPECT_FALSE(f.sink->held_accept());
}

// An accept that waits longer than the bound refuses the log (input missing) through
// the node's path; the replica's channel ends there (it goes live).
TEST(FeederNames, AnAcceptThatWaitsTooLongRefusesTheLog) {
    Fixture f;
    f.attach();
    const std::vector<uint8_t> log = encode({TimeEntry{1}, AcceptEntry{3, 7, 0, kClientB, 43000}});
    EXPECT_FALSE(f.sink->on_record(record(0, log)));
    run(*f.loop);
    f.sink->tick(monotonic_ms() + AppLogSink::kAcceptHoldMs / 2);
    EXPECT_FALSE(f.told);
    EXPECT_FALSE(f.sink->refused());
    f.sink->tick(monotonic_ms() + AppLogSink::kAcceptHoldMs + 1);
    ASSERT_TRUE(f.told);
    EXPECT_EQ(*f.told, AppRefuseReason::input_missing);
    EXPECT_TRUE(f.sink->refused());
    EXPECT_EQ(f.sink->held(), 0u);
    run(*f.loop);
    bool eof = false;
    const Channel c = decode_channel(read_all(f.replica.peer.get(), &eof));
    EXPECT_TRUE(eof);
    EXPECT_EQ(c.entries, std::vector<AppLogEntry>{TimeEntry{1}});
}

// A client this backup refused can never be fed: its accept refuses the log at once,
// whether it comes after the refusal or was held already.
TEST(FeederNames, AnAcceptOfARefusedClientRefusesTheLogAtOnce) {
    {
        Fixture f;
        f.attach();
        f.sink->client_refused(kClientA, 44000);
        const std::vector<uint8_t> log = encode({AcceptEntry{3, 7, 0, kClientA, 44000}});
        EXPECT_FALSE(f.sink->on_record(record(0, log)));
        ASSERT_TRUE(f.told);
        EXPECT_EQ(*f.told, AppRefuseReason::input_missing);
    }
    {
        Fixture f;
        f.attach();
        const std::vector<uint8_t> log = encode({AcceptEntry{3, 7, 0, kClientA, 44001}});
        EXPECT_FALSE(f.sink->on_record(record(0, log)));
        run(*f.loop);
        EXPECT_FALSE(f.told);
        f.sink->client_refused(kClientA, 44001);
        ASSERT_TRUE(f.told);
        EXPECT_EQ(*f.told, AppRefuseReason::input_missing);
    }
    {
        // Refused once, then a new connection of the same client is fed: not refused.
        Fixture f;
        f.attach();
        f.sink->client_refused(kClientA, 44002);
        f.sink->name_feeder({kClientA, 44002, 54002});
        EXPECT_FALSE(f.sink->on_record(record(0, encode({AcceptEntry{3, 7, 0, kClientA, 44002}}))));
        run(*f.loop);
        EXPECT_FALSE(f.told);
    }
}

// A feeder whose connect to the replica failed: once its name went out the replica
// would wait in accept for that connection for ever, so the log is refused; a name
// still queued is dropped and its client counts as refused.
TEST(FeederNames, AFeederThatNeverConnectedRefusesTheLogOnlyIfItsNameWentOut) {
    {
        Fixture f;
        f.attach();
        f.sink->name_feeder({kClientA, 44010, 54010});
        run(*f.loop);
        EXPECT_EQ(f.sink->names_sent(), 1u);
        EXPECT_FALSE(f.told);
        f.sink->feeder_failed(kClientA, 44010);
        ASSERT_TRUE(f.told);
        EXPECT_EQ(*f.told, AppRefuseReason::input_missing);
    }
    {
        Fixture f;
        f.sink->name_feeder({kClientA, 44011, 54011});  // queued: no replica yet
        f.sink->feeder_failed(kClientA, 44011);
        EXPECT_FALSE(f.told);
        f.attach();
        run(*f.loop);
        EXPECT_EQ(f.sink->names_sent(), 0u);
        EXPECT_FALSE(f.told);
        EXPECT_FALSE(f.sink->on_record(record(0, encode({AcceptEntry{3, 7, 0, kClientA, 44011}}))));
        ASSERT_TRUE(f.told);
        EXPECT_EQ(*f.told, AppRefuseReason::input_missing);
    }
}

// Names are not log bytes: what the backup acknowledges (APP_STABLE: held()) and
// counts as received or delivered is the primary's log alone.
TEST(FeederNames, DoNotCountInTheLogsOffsets) {
    Fixture f;
    f.attach();
    for (uint16_t i = 0; i < 10; ++i) f.sink->name_feeder({kClientA, uint16_t(45000 + i), uint16_t(55000 + i)});
    const std::vector<uint8_t> log = encode({TimeEntry{1}, GetpidEntry{2}});
    EXPECT_FALSE(f.sink->on_record(record(0, log)));
    run(*f.loop);
    const std::string got = read_all(f.replica.peer.get());
    EXPECT_EQ(got.size(), log.size() + 10 * (kAppLogHeaderSize + 8));
    EXPECT_EQ(f.sink->received(), log.size());
    EXPECT_EQ(f.sink->held(), log.size());
    EXPECT_EQ(f.sink->delivered(), log.size());
    EXPECT_EQ(f.sink->names_sent(), 10u);
    // The next record is taken at the log's own offset.
    const std::vector<uint8_t> next = encode({TimeEntry{3}});
    EXPECT_FALSE(f.sink->on_record(record(log.size(), next)));
    EXPECT_FALSE(f.sink->refused());
    EXPECT_EQ(f.sink->held(), log.size() + next.size());
}

// At takeover the channel ends after the last whole entry: an entry the primary did
// not finish sending, and an accept still held, are not written.
TEST(FeederNames, TheLogEndsAfterTheLastWholeEntryAtTakeover) {
    Fixture f;
    f.attach();
    const std::vector<uint8_t> whole = encode({TimeEntry{1}});
    const std::vector<uint8_t> cut = encode({ClockGettimeEntry{1, 0, 0, 5, 6}});
    std::vector<uint8_t> log = whole;
    log.insert(log.end(), cut.begin(), cut.begin() + 10);
    EXPECT_FALSE(f.sink->on_record(record(0, log)));
    f.sink->finish();
    run(*f.loop);
    bool eof = false;
    const Channel c = decode_channel(read_all(f.replica.peer.get(), &eof));
    EXPECT_TRUE(eof);
    EXPECT_TRUE(c.whole);
    EXPECT_EQ(c.log, whole);

    Fixture g;
    g.attach();
    const std::vector<uint8_t> held = encode({TimeEntry{1}, AcceptEntry{3, 7, 0, kClientB, 46000}, TimeEntry{2}});
    EXPECT_FALSE(g.sink->on_record(record(0, held)));
    g.sink->finish();
    run(*g.loop);
    eof = false;
    const Channel d = decode_channel(read_all(g.replica.peer.get(), &eof));
    EXPECT_TRUE(eof);
    EXPECT_EQ(d.entries, std::vector<AppLogEntry>{TimeEntry{1}});
}

// A replica that went live stops reading its channel, so the sink's writes block; its
// "diverged K" must still be heard (not only while the sink has nothing to write).
TEST(FeederNames, TheReplicasDivergedNoticeIsHeardWhileWritesWait) {
    Fixture f;
    f.attach();
    std::vector<uint8_t> log;
    for (int i = 0; i < 8; ++i) {
        std::vector<uint8_t> random(512 * 1024, uint8_t(i));
        encode_app_log_entry(GetrandomEntry{int64_t(random.size()), 0, random}, log);
    }
    EXPECT_FALSE(f.sink->on_record(record(0, log)));
    run(*f.loop);
    ASSERT_LT(f.sink->delivered(), log.size()) << "the channel took 4 MiB at once: nothing waits";
    ASSERT_EQ(::send(f.replica.peer.get(), "diverged 3\n", 11, 0), 11);
    run(*f.loop);
    ASSERT_TRUE(f.told);
    EXPECT_EQ(*f.told, AppRefuseReason::replica_diverged);
}

// A refusal while an entry (or a name) is half written ends the channel after it, not
// inside it: the replica's library then goes live instead of stopping on a cut entry.
TEST(FeederNames, ARefusalEndsTheChannelAfterAnEntryHalfWritten) {
    Fixture f;
    f.attach();
    std::vector<uint8_t> random(900 * 1024, 0x33);
    const std::vector<uint8_t> log = encode({GetrandomEntry{int64_t(random.size()), 0, random}, TimeEntry{4}});
    EXPECT_FALSE(f.sink->on_record(record(0, log)));
    run(*f.loop, 1);
    std::string got = read_all(f.replica.peer.get());
    ASSERT_LT(got.size(), log.size() - 16) << "the socket took the whole entry at once: nothing half written";
    f.sink->name_feeder({kClientA, 47000, 57000});
    // A record at the wrong offset: refused (joined late) with the entry half written.
    ASSERT_TRUE(f.sink->on_record(record(12345678, std::span(log).first(8))));
    bool eof = false;
    for (int i = 0; i < 200 && !eof; ++i) {
        run(*f.loop, 1);
        got += read_all(f.replica.peer.get(), &eof);
    }
    EXPECT_TRUE(eof);
    const Channel c = decode_channel(got);
    EXPECT_EQ(c.error, "");
    EXPECT_TRUE(c.whole) << "the channel ended inside an entry";
    ASSERT_EQ(c.entries.size(), 1u) << "only the entry being written goes out after a refusal";
    EXPECT_TRUE(std::holds_alternative<GetrandomEntry>(c.entries[0]));
}

// What a node that took over keeps for the backups that follow it
// (userd/primary/resume_tails.h): the tail grows with the client's bytes, contiguous
// only, bounded, offered as RESUME then DATA, and freed after its time.
#include "userd/primary/resume_tails.h"

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {

ConnOpenRecord conn(uint64_t id) {
    ConnOpenRecord c;
    c.conn_id = id;
    c.client_addr = 0x0100020a;
    c.client_port = 40312;
    return c;
}

std::vector<uint8_t> bytes(size_t n, uint8_t first = 0) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = uint8_t(first + i);
    return v;
}

// Every record offer() sends, with DATA's bytes copied out.
struct Offered {
    std::vector<ResumeRecord> resumes;
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> data;  // offset, bytes
};
Offered offered(const ResumeTails& t) {
    Offered o;
    t.offer([&](const Record& r) {
        if (auto* res = std::get_if<ResumeRecord>(&r)) o.resumes.push_back(*res);
        if (auto* d = std::get_if<DataRecord>(&r)) o.data.emplace_back(d->offset, std::vector<uint8_t>(d->bytes.begin(), d->bytes.end()));
    });
    return o;
}

}  // namespace

TEST(ResumeTails, OffersAResumeThenTheTailFromWhereTheReplicaWasFed) {
    ResumeTails t;
    t.add(conn(7), 1000, bytes(100), 0);
    const auto third = bytes(50, 100);
    t.note(DataRecord{7, 1100, third});  // what the client sent since: appended
    const auto o = offered(t);
    ASSERT_EQ(o.resumes.size(), 1u);
    EXPECT_EQ(o.resumes[0], (ResumeRecord{7, 0x0100020a, 40312}));
    ASSERT_EQ(o.data.size(), 1u);
    EXPECT_EQ(o.data[0].first, 1000u);
    EXPECT_EQ(o.data[0].second, bytes(150));
}

TEST(ResumeTails, KeepsOnlyWhatExtendsTheTailContiguously) {
    ResumeTails t;
    t.add(conn(7), 1000, bytes(100), 0);
    const auto overlap = bytes(40, 80);   // 1080..1120: 20 bytes new
    t.note(DataRecord{7, 1080, overlap});
    const auto gap = bytes(10, 200);      // 1200..1210: above a gap, not kept
    t.note(DataRecord{7, 1200, gap});
    const auto old = bytes(10, 0);        // wholly inside: nothing
    t.note(DataRecord{7, 1000, old});
    t.note(DataRecord{8, 0, old});        // a connection it keeps nothing of
    const auto o = offered(t);
    ASSERT_EQ(o.data.size(), 1u);
    EXPECT_EQ(o.data[0].second, bytes(120));
}

TEST(ResumeTails, SplitsLongTailsIntoRecordsAndStopsAtItsBound) {
    ResumeTails t;
    t.add(conn(7), 0, bytes(kMaxDataBytes * 2 + 5), 0);
    auto o = offered(t);
    ASSERT_EQ(o.data.size(), 3u);
    EXPECT_EQ(o.data[1].first, kMaxDataBytes);
    EXPECT_EQ(o.data[2].second.size(), 5u);
    // Past its bound a tail is offered to nobody more (a follower then refuses it).
    const std::vector<uint8_t> big(ResumeTails::kMaxTailBytes, 1);
    t.note(DataRecord{7, kMaxDataBytes * 2 + 5, big});
    o = offered(t);
    EXPECT_TRUE(o.resumes.empty());
    EXPECT_TRUE(t.keeps(7));
}

TEST(ResumeTails, FreesTailsAfterTheirTime) {
    ResumeTails t;
    t.add(conn(7), 0, bytes(10), 100);
    t.add(conn(8), 0, bytes(10), 600);
    EXPECT_TRUE(t.expire(100 + ResumeTails::kKeepMs - 1).empty());
    EXPECT_EQ(t.expire(100 + ResumeTails::kKeepMs), std::vector<uint64_t>{7});
    EXPECT_FALSE(t.keeps(7));
    EXPECT_TRUE(t.keeps(8));
    t.forget(8);
    EXPECT_TRUE(t.empty());
}

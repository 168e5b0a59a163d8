// The redis scenarios' reply parser and checks: if these accepted a spliced or wrong
// reply, failover_redis*.sh could pass on corrupted bytes.
#include "redis_reply_check.h"
#include "resp_reply.h"

#include <gtest/gtest.h>

#include <string>

using namespace tcpfo::streamtest;

namespace {

RespReply parsed(std::string_view bytes) {
    RespParse p = parse_resp(bytes);
    EXPECT_TRUE(p.reply) << bytes << ": " << p.error;
    EXPECT_EQ(p.size, bytes.size()) << bytes;
    return p.reply ? *p.reply : RespReply{};
}

std::string time_reply(std::int64_t us) {
    const std::string s = std::to_string(us / 1'000'000), u = std::to_string(us % 1'000'000);
    return "*2\r\n$" + std::to_string(s.size()) + "\r\n" + s + "\r\n$" + std::to_string(u.size()) + "\r\n" + u + "\r\n";
}

constexpr std::int64_t kNow = 1'796'000'000'000'000;

}  // namespace

TEST(RespReply, ParsesEveryTypeAndNeedsTheWholeReply) {
    EXPECT_EQ(parsed(":42\r\n").text, "42");
    EXPECT_EQ(parsed("+OK\r\n").type, '+');
    EXPECT_EQ(parsed("$5\r\nhello\r\n").text, "hello");
    EXPECT_TRUE(parsed("$-1\r\n").nil);
    auto array = parsed("*2\r\n$1\r\na\r\n:7\r\n");
    ASSERT_EQ(array.items.size(), 2u);
    EXPECT_EQ(array.items[1].text, "7");
    const std::string whole = "*2\r\n$1\r\na\r\n$2\r\nbc\r\n";
    for (std::size_t n = 0; n < whole.size(); ++n) {
        RespParse p = parse_resp(whole.substr(0, n));
        EXPECT_FALSE(p.reply) << n;
        EXPECT_TRUE(p.error.empty()) << n << ": " << p.error;
    }
}

TEST(RespReply, RefusesWhatCannotBeAReply) {
    for (std::string bad : std::initializer_list<std::string>{"623\r\n", ":12a\r\n", ":012\r\n", "$3\r\nabcd\r\n", "$-2\r\n", "*1\r\n*0\r\n",
                            "*2000\r\n", ":" + std::string(70, '1'), "?x\r\n", "\r\n"}) {
        RespParse p = parse_resp(bad);
        EXPECT_FALSE(p.reply) << bad;
        EXPECT_FALSE(p.error.empty()) << bad;
    }
}

TEST(RedisReplyCheck, IncrValuesRiseOnAConnectionAndAreNeverShared) {
    RedisReplyCheck check(RedisCycle::incr, 2, "k", kNow);
    for (int i = 0; i < 3; ++i) check.next_command(0), check.next_command(1);
    EXPECT_EQ(check.check(0, 0, parsed(":1\r\n"), kNow), "");
    EXPECT_EQ(check.check(1, 0, parsed(":2\r\n"), kNow), "");
    EXPECT_NE(check.check(0, 1, parsed(":2\r\n"), kNow), "");  // connection 1's value
    EXPECT_NE(check.check(1, 1, parsed(":1\r\n"), kNow), "");  // goes back
    EXPECT_NE(check.check(0, 2, parsed("$1\r\n3\r\n"), kNow), "");  // not an integer reply
    EXPECT_NE(check.check(0, 3, parsed(":9\r\n"), kNow), "");  // no such request
}

TEST(RedisReplyCheck, MixAcceptsThePlausibleAndRefusesTheRest) {
    RedisReplyCheck check(RedisCycle::mix, 2, "k", kNow);
    ASSERT_EQ(check.cycle_length(), 6u);
    EXPECT_EQ(check.next_command(0), "*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n");
    EXPECT_EQ(check.next_command(0), "*1\r\n$4\r\nTIME\r\n");
    EXPECT_EQ(check.next_command(0), "*3\r\n$4\r\nSADD\r\n$1\r\ns\r\n$4\r\nm0-2\r\n");
    EXPECT_EQ(check.next_command(0), "*3\r\n$3\r\nSET\r\n$5\r\nx:0:3\r\n$1\r\n3\r\n");
    EXPECT_EQ(check.next_command(0), "*1\r\n$9\r\nRANDOMKEY\r\n");
    EXPECT_EQ(check.next_command(0), "*3\r\n$11\r\nSRANDMEMBER\r\n$1\r\ns\r\n$1\r\n2\r\n");
    check.next_command(0);
    check.next_command(0);

    EXPECT_EQ(check.check(0, 0, parsed(":1\r\n"), kNow), "");
    EXPECT_EQ(check.check(0, 1, parsed(time_reply(kNow - 1000)), kNow), "");
    EXPECT_EQ(check.check(0, 2, parsed(":1\r\n"), kNow), "");
    EXPECT_NE(check.check(0, 2, parsed(":0\r\n"), kNow), "");  // the member existed
    EXPECT_EQ(check.check(0, 3, parsed("+OK\r\n"), kNow), "");
    EXPECT_EQ(check.check(0, 4, parsed("$5\r\nx:0:3\r\n"), kNow), "");
    EXPECT_EQ(check.check(0, 4, parsed("$1\r\nk\r\n"), kNow), "");
    EXPECT_NE(check.check(0, 4, parsed("$5\r\nx:1:3\r\n"), kNow), "");  // connection 1 sent nothing
    EXPECT_NE(check.check(0, 4, parsed("$5\r\nx:0:2\r\n"), kNow), "");  // command 2 was no SET
    EXPECT_NE(check.check(0, 4, parsed("$-1\r\n"), kNow), "");
    EXPECT_EQ(check.check(0, 5, parsed("*1\r\n$4\r\nm0-2\r\n"), kNow), "");
    EXPECT_NE(check.check(0, 5, parsed("*2\r\n$4\r\nm0-2\r\n$4\r\nm0-2\r\n"), kNow), "");  // twice
    EXPECT_NE(check.check(0, 5, parsed("*1\r\n$4\r\nm0-8\r\n"), kNow), "");  // not sent yet
    EXPECT_NE(check.check(0, 5, parsed("*0\r\n"), kNow), "");
    EXPECT_EQ(check.check(0, 6, parsed(":2\r\n"), kNow), "");
}

TEST(RedisReplyCheck, TimeIsNearTheClientsClockAndNeverGoesBack) {
    RedisReplyCheck check(RedisCycle::mix, 1, "k", kNow);
    for (int i = 0; i < 14; ++i) check.next_command(0);
    EXPECT_EQ(check.check(0, 1, parsed(time_reply(kNow + 500'000)), kNow), "");
    EXPECT_NE(check.check(0, 7, parsed(time_reply(kNow + 400'000)), kNow), "");  // back
    EXPECT_NE(check.check(0, 7, parsed(time_reply(kNow + 60'000'000)), kNow), "");  // the future
    EXPECT_NE(check.check(0, 7, parsed("*2\r\n$3\r\n123\r\n$7\r\n1000000\r\n"), kNow), "");  // µs ≥ 10^6
    EXPECT_NE(check.check(0, 7, parsed("*1\r\n$3\r\n123\r\n"), kNow), "");
    EXPECT_EQ(check.check(0, 13, parsed(time_reply(kNow + 500'000)), kNow), "");  // equal is fine
}

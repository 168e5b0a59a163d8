#include "redis_reply_check.h"

#include <initializer_list>

namespace tcpfo::streamtest {

namespace {

// The mix cycle's commands, in order.
enum Kind : std::uint64_t { kIncr, kTime, kSadd, kSet, kRandomKey, kSrandMember, kMixLength };

// A redis TIME may differ from the client's clock by scheduling only: both read the
// same host clock (namespaces share it).
constexpr std::int64_t kClockSlackUs = 5'000'000;

std::string command(std::initializer_list<std::string_view> words) {
    std::string c = "*" + std::to_string(words.size()) + "\r\n";
    for (auto w : words) c += "$" + std::to_string(w.size()) + "\r\n" + std::string(w) + "\r\n";
    return c;
}

std::string shown(const RespReply& r) {
    if (r.nil) return std::string(1, r.type) + "nil";
    if (r.type == '*') return "an array of " + std::to_string(r.items.size());
    return "'" + std::string(1, r.type) + r.text.substr(0, 40) + "'";
}

}  // namespace

RedisReplyCheck::RedisReplyCheck(RedisCycle cycle, std::size_t conns, std::string key, std::int64_t start_unix_us)
    : cycle_(cycle), key_(std::move(key)), start_us_(start_unix_us), conns_(conns) {}

std::size_t RedisReplyCheck::cycle_length() const { return cycle_ == RedisCycle::incr ? 1 : std::size_t(kMixLength); }

std::string RedisReplyCheck::next_command(std::size_t conn) {
    const std::uint64_t n = conns_[conn].sent++;
    switch (n % cycle_length()) {
    case kIncr: return command({"INCR", key_});
    case kTime: return command({"TIME"});
    case kSadd: return command({"SADD", "s", "m" + std::to_string(conn) + "-" + std::to_string(n)});
    case kSet: return command({"SET", "x:" + std::to_string(conn) + ":" + std::to_string(n), std::to_string(n)});
    case kRandomKey: return command({"RANDOMKEY"});
    default: return command({"SRANDMEMBER", "s", "2"});
    }
}

std::string RedisReplyCheck::check(std::size_t conn, std::uint64_t index, const RespReply& reply,
                                   std::int64_t now_unix_us) {
    if (index >= conns_[conn].sent) return "a reply to no request";
    switch (index % cycle_length()) {
    case kIncr: return check_incr(conn, reply);
    case kTime: return check_time(conn, reply, now_unix_us);
    case kSadd:
        return reply.type == ':' && reply.text == "1" ? "" : "SADD of a new member: not ':1' but " + shown(reply);
    case kSet: return reply.type == '+' && reply.text == "OK" ? "" : "SET: not '+OK' but " + shown(reply);
    case kRandomKey:
        // INCR k came first on this connection, so some key exists.
        if (reply.type != '$' || reply.nil) return "RANDOMKEY: not a key but " + shown(reply);
        if (reply.text == key_ || reply.text == "s" || sent_name(reply.text, "x:", ':', kSet)) return "";
        return "RANDOMKEY: '" + reply.text.substr(0, 40) + "' is no key any connection wrote";
    default: {
        // SADD came first on this connection, so the set has one member or more.
        if (reply.type != '*' || reply.nil || reply.items.empty() || reply.items.size() > 2)
            return "SRANDMEMBER s 2: not one or two members but " + shown(reply);
        for (const auto& m : reply.items)
            if (m.type != '$' || m.nil || !sent_name(m.text, "m", '-', kSadd))
                return "SRANDMEMBER s 2: " + shown(m) + " is no member any connection added";
        if (reply.items.size() == 2 && reply.items[0].text == reply.items[1].text)
            return "SRANDMEMBER s 2: the same member twice";
        return "";
    }
    }
}

std::string RedisReplyCheck::check_incr(std::size_t conn, const RespReply& reply) {
    auto v = reply.type == ':' ? resp_integer(reply.text) : std::nullopt;
    if (!v || *v <= 0) return "INCR: not a positive integer but " + shown(reply);
    const auto value = std::uint64_t(*v);
    Conn& c = conns_[conn];
    if (value <= c.last_incr) return "INCR: value " + std::to_string(value) + " after " + std::to_string(c.last_incr);
    if (!seen_.insert(value).second) return "INCR: value " + std::to_string(value) + " was another connection's reply";
    c.last_incr = value;
    return "";
}

std::string RedisReplyCheck::check_time(std::size_t conn, const RespReply& reply, std::int64_t now_unix_us) {
    if (reply.type != '*' || reply.items.size() != 2 || reply.items[0].type != '$' || reply.items[1].type != '$')
        return "TIME: not two bulk strings but " + shown(reply);
    auto s = resp_integer(reply.items[0].text);
    auto us = resp_integer(reply.items[1].text);
    if (!s || !us || *s < 0 || *us < 0 || *us > 999'999)
        return "TIME: not seconds and microseconds: '" + reply.items[0].text + "' '" + reply.items[1].text + "'";
    const std::int64_t t = *s * 1'000'000 + *us;
    if (t < start_us_ - kClockSlackUs || t > now_unix_us + kClockSlackUs)
        return "TIME: " + std::to_string(t) + " µs is more than 5 s from the client's clock (" +
               std::to_string(now_unix_us) + ")";
    Conn& c = conns_[conn];
    if (t < c.last_time_us)
        return "TIME: " + std::to_string(t) + " µs went back from " + std::to_string(c.last_time_us);
    c.last_time_us = t;
    return "";
}

bool RedisReplyCheck::sent_name(std::string_view name, std::string_view prefix, char separator,
                                std::uint64_t kind) const {
    if (name.substr(0, prefix.size()) != prefix) return false;
    name.remove_prefix(prefix.size());
    const std::size_t sep = name.find(separator);
    if (sep == std::string_view::npos) return false;
    auto conn = resp_integer(name.substr(0, sep));
    auto n = resp_integer(name.substr(sep + 1));
    if (!conn || !n || *conn < 0 || std::size_t(*conn) >= conns_.size() || *n < 0) return false;
    return std::uint64_t(*n) % cycle_length() == kind && std::uint64_t(*n) < conns_[std::size_t(*conn)].sent;
}

}  // namespace tcpfo::streamtest

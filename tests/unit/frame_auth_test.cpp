// Authenticated frames (userd/auth/frame_auth.h), the key ring and key file, the drop
// log, and an authenticated TcpLink: a good frame passes, and a bit flip anywhere, a
// wrong key, a replayed counter, a stream replayed into a new session, a reflected
// frame or a truncated one never yields a payload.
#include "userd/auth/frame_auth.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "userd/auth/drop_log.h"
#include "userd/auth/key_file.h"
#include "userd/base/event_loop.h"
#include "userd/transport/tcp_link.h"
#include "socket_pair.h"

using namespace tcpfo;

namespace {

AuthKey key_of(uint8_t fill) {
    KeyBytes bytes;
    bytes.fill(fill);
    return make_auth_key(bytes);
}

std::shared_ptr<KeyRing> ring_of(std::vector<AuthKey> keys, uint64_t grace_ms = KeyRing::kDefaultGraceMs) {
    return std::make_shared<KeyRing>(std::move(keys), grace_ms);
}

std::vector<uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

// Both ends of a session, openings exchanged.
struct Session {
    StreamAuth connector, acceptor;
    Session(std::shared_ptr<const KeyRing> connector_keys, std::shared_ptr<const KeyRing> acceptor_keys)
        : connector(std::move(connector_keys), StreamSide::connector),
          acceptor(std::move(acceptor_keys), StreamSide::acceptor) {
        std::vector<uint8_t> a, b;
        connector.append_open(a);
        acceptor.append_open(b);
        EXPECT_EQ(a.size(), kStreamOpenSize);
        auto took_a = acceptor.take_open(a);
        auto took_b = connector.take_open(b);
        EXPECT_TRUE(took_a && took_a->has_value() && **took_a == kStreamOpenSize);
        EXPECT_TRUE(took_b && took_b->has_value() && **took_b == kStreamOpenSize);
    }
};

std::vector<uint8_t> seal(StreamAuth& from, std::string_view payload, uint64_t now = 0) {
    std::vector<uint8_t> out;
    from.seal(bytes_of(payload), out, now);
    return out;
}

}  // namespace

TEST(FrameAuth, GoodFramesPassBothWaysInOrder) {
    auto keys = ring_of({key_of(1)});
    Session s(keys, keys);
    for (int i = 0; i < 3; ++i) {
        const std::string text = "records " + std::to_string(i);
        auto frame = seal(s.connector, text);
        EXPECT_EQ(frame.size(), kAuthHeaderSize + text.size() + kStreamTagSize);
        auto opened = s.acceptor.open(frame, 0);
        ASSERT_TRUE(opened && opened->has_value()) << (opened ? "" : opened.error().message);
        EXPECT_EQ(std::string((**opened).payload.begin(), (**opened).payload.end()), text);
        EXPECT_EQ((**opened).size, frame.size());
        auto back = seal(s.acceptor, "stable " + text);
        auto got = s.connector.open(back, 0);
        ASSERT_TRUE(got && got->has_value());
    }
    EXPECT_EQ(s.acceptor.frames_received(), 3u);
}

TEST(FrameAuth, EveryBitFlipIsRefused) {
    auto keys = ring_of({key_of(1)});
    Session s(keys, keys);
    const auto frame = seal(s.connector, "a batch of records");
    for (size_t byte = 0; byte < frame.size(); ++byte) {
        for (int bit = 0; bit < 8; ++bit) {
            Session fresh(keys, keys);  // counter 0 again, so only the flip can refuse it
            auto good = seal(fresh.connector, "a batch of records");
            good[byte] ^= uint8_t(1u << bit);
            auto opened = fresh.acceptor.open(good, 0);
            // A longer length field waits for bytes that never come; anything else is refused.
            EXPECT_FALSE(opened && opened->has_value()) << "byte " << byte << " bit " << bit;
        }
    }
}

TEST(FrameAuth, WrongKeyIsAnUnknownKey) {
    Session s(ring_of({key_of(1)}), ring_of({key_of(2)}));
    auto opened = s.acceptor.open(seal(s.connector, "x"), 0);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().kind, AuthDrop::unknown_key);
}

TEST(FrameAuth, ReplayedCounterIsRefused) {
    auto keys = ring_of({key_of(1)});
    Session s(keys, keys);
    auto first = seal(s.connector, "one");
    ASSERT_TRUE(s.acceptor.open(first, 0));
    auto again = s.acceptor.open(first, 0);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().kind, AuthDrop::replayed);
}

TEST(FrameAuth, StreamReplayedIntoANewSessionIsRefused) {
    auto keys = ring_of({key_of(1)});
    // A recording of a whole session: the connector's opening, then its frames.
    StreamAuth recorded(keys, StreamSide::connector);
    StreamAuth first_acceptor(keys, StreamSide::acceptor);
    std::vector<uint8_t> wire, answer;
    recorded.append_open(wire);
    first_acceptor.append_open(answer);
    ASSERT_TRUE(recorded.take_open(answer));
    recorded.seal(bytes_of("hello, epoch 7"), wire, 0);
    // Replayed to a new acceptor (its own fresh opening): the opening is taken, the frame fails.
    StreamAuth victim(keys, StreamSide::acceptor);
    auto took = victim.take_open(wire);
    ASSERT_TRUE(took && took->has_value());
    auto opened = victim.open(std::span(wire).subspan(**took), 0);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().kind, AuthDrop::forged);
}

TEST(FrameAuth, ReflectedFrameIsRefused) {
    auto keys = ring_of({key_of(1)});
    Session s(keys, keys);
    auto frame = seal(s.connector, "x");
    auto opened = s.connector.open(frame, 0);  // back to its sender
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().kind, AuthDrop::forged);
    // An opening sent back to its maker is not a peer's either.
    StreamAuth lone(keys, StreamSide::connector);
    std::vector<uint8_t> own;
    lone.append_open(own);
    EXPECT_FALSE(lone.take_open(own));
}

TEST(FrameAuth, TruncatedFrameWaitsAndGarbageIsRefusedAtOnce) {
    auto keys = ring_of({key_of(1)});
    Session s(keys, keys);
    const auto frame = seal(s.connector, "some records");
    for (size_t n = 1; n < frame.size(); ++n) {
        auto opened = s.acceptor.open(std::span(frame).first(n), 0);
        ASSERT_TRUE(opened) << n;
        EXPECT_FALSE(opened->has_value()) << n;
    }
    const std::vector<uint8_t> junk = {'G', 'E', 'T', ' '};
    auto refused = s.acceptor.open(junk, 0);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, AuthDrop::garbage);
    StreamAuth fresh(keys, StreamSide::acceptor);
    auto no_opening = fresh.take_open(std::span(junk).first(1));
    ASSERT_FALSE(no_opening);
    EXPECT_EQ(no_opening.error().kind, AuthDrop::garbage);
    // An oversized length is refused from the header alone.
    auto big = seal(s.connector, "x");
    big[16] = 0x7f;
    auto oversized = s.acceptor.open(std::span(big).first(kAuthHeaderSize), 0);
    ASSERT_FALSE(oversized);
    EXPECT_EQ(oversized.error().kind, AuthDrop::garbage);
}

TEST(FrameAuth, RotationAcceptsTheOldKeyForTheGraceOnly) {
    const AuthKey old_key = key_of(1), new_key = key_of(2);
    auto sender_keys = ring_of({old_key});
    auto receiver_keys = ring_of({old_key}, 1000);
    Session s(sender_keys, receiver_keys);
    // The receiver reloads first (the new key only) at t=5000: the sender, not reloaded
    // yet, is still heard until t=6000.
    receiver_keys->install({new_key}, 5000);
    EXPECT_TRUE(s.acceptor.open(seal(s.connector, "a", 5999), 5999));
    auto late = s.acceptor.open(seal(s.connector, "b", 6000), 6000);
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().kind, AuthDrop::unknown_key);
    // Once the sender reloads it sends with the new key, which the receiver takes.
    Session t(sender_keys, receiver_keys);
    sender_keys->install({new_key}, 7000);
    EXPECT_TRUE(t.acceptor.open(seal(t.connector, "c", 7000), 7000));
    // A key file of two keys: sends with the first, accepts both (the first step of a rotation).
    auto both = ring_of({old_key, new_key});
    EXPECT_EQ(both->view(0)->sending.id, old_key.id);
    EXPECT_NE(both->view(0)->find(new_key.id), nullptr);
}

TEST(HeartbeatAuth, SealedHeartbeatOpensOnlyFromItsSender) {
    const AuthKey key = key_of(1);
    const KeyView view{key, {key}};
    const uint32_t sender = 0x0a00000b, other = 0x0a00000c;
    std::vector<uint8_t> dgram;
    seal_heartbeat(key, sender, 12345, bytes_of("heartbeat record"), dgram);
    auto opened = open_heartbeat(view, sender, dgram);
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_EQ(opened->counter, 12345u);
    EXPECT_EQ(std::string(opened->payload.begin(), opened->payload.end()), "heartbeat record");
    // Reflected, or claimed by another address: refused.
    auto reflected = open_heartbeat(view, other, dgram);
    ASSERT_FALSE(reflected);
    EXPECT_EQ(reflected.error().kind, AuthDrop::forged);
    // Another key.
    const AuthKey wrong = key_of(9);
    auto foreign = open_heartbeat(KeyView{wrong, {wrong}}, sender, dgram);
    ASSERT_FALSE(foreign);
    EXPECT_EQ(foreign.error().kind, AuthDrop::unknown_key);
    // Every bit flip, every truncation, an extension.
    for (size_t byte = 0; byte < dgram.size(); ++byte)
        for (int bit = 0; bit < 8; ++bit) {
            auto flipped = dgram;
            flipped[byte] ^= uint8_t(1u << bit);
            EXPECT_FALSE(open_heartbeat(view, sender, flipped)) << byte << "/" << bit;
        }
    for (size_t n = 0; n < dgram.size(); ++n) EXPECT_FALSE(open_heartbeat(view, sender, std::span(dgram).first(n)));
    auto longer = dgram;
    longer.push_back(0);
    EXPECT_FALSE(open_heartbeat(view, sender, longer));
}

// Fuzz: mutated frames, mutated openings and random bytes; the decoder must refuse or
// wait, never crash, and never hand out a payload that is not exactly what was sealed.
TEST(FrameAuth, SurvivesMutationFuzzing) {
    std::mt19937_64 rng(20261111);
    auto keys = ring_of({key_of(1), key_of(2)});
    const AuthKey hb_key = key_of(1);
    const KeyView view{hb_key, {hb_key}};
    size_t refused = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        Session s(keys, keys);
        std::string payload(rng() % 200, 'r');
        for (auto& c : payload) c = char(rng());
        std::vector<uint8_t> wire = seal(s.connector, payload);
        const bool hb = rng() % 4 == 0;
        if (hb) {
            wire.clear();
            seal_heartbeat(hb_key, 7, iter, bytes_of(payload), wire);
        }
        const std::vector<uint8_t> original = wire;
        const int mutations = 1 + int(rng() % 4);
        for (int m = 0; m < mutations; ++m) {
            switch (rng() % 4) {
                case 0: wire[rng() % wire.size()] ^= uint8_t(1u << (rng() % 8)); break;
                case 1: wire[rng() % wire.size()] = uint8_t(rng()); break;
                case 2: wire.resize(rng() % (wire.size() + 1)); if (wire.empty()) wire.push_back(0); break;
                case 3: wire.push_back(uint8_t(rng())); break;
            }
        }
        if (hb) {
            auto opened = open_heartbeat(view, 7, wire);
            if (!opened) { ++refused; continue; }
            ASSERT_EQ(std::vector<uint8_t>(wire), original);  // only an unchanged datagram opens
            continue;
        }
        auto opened = s.acceptor.open(wire, 0);
        if (!opened) { ++refused; continue; }
        if (!opened->has_value()) continue;
        ASSERT_EQ(std::vector<uint8_t>(wire.begin(), wire.begin() + (**opened).size), original);
        ASSERT_EQ(std::string((**opened).payload.begin(), (**opened).payload.end()), payload);
    }
    EXPECT_GT(refused, 10000u);  // the rest wait for bytes a cut took away
    for (int iter = 0; iter < 20000; ++iter) {
        std::vector<uint8_t> junk(rng() % 128);
        for (auto& b : junk) b = uint8_t(rng());
        if (rng() % 2 && junk.size() >= 4) { junk[0] = 'T'; junk[1] = 'F'; junk[2] = 'A'; junk[3] = rng() % 2 ? '1' : '0'; }
        Session s(keys, keys);
        auto opened = s.acceptor.open(junk, 0);
        ASSERT_FALSE(opened && opened->has_value());
        StreamAuth fresh(keys, StreamSide::acceptor);
        (void)fresh.take_open(junk);
        ASSERT_FALSE(open_heartbeat(view, 7, junk));
    }
}

TEST(KeyFile, ParsesKeysAndRefusesBadOnes) {
    const std::string k1(64, 'a'), k2(64, 'B');
    auto ok = parse_key_text("# comment\n\n" + k1 + "\n  " + k2 + "  \r\n", "key");
    ASSERT_TRUE(ok) << ok.error().message;
    ASSERT_EQ(ok->size(), 2u);
    EXPECT_EQ((*ok)[0].bytes[0], 0xaa);
    EXPECT_EQ((*ok)[1].bytes[31], 0xbb);
    EXPECT_EQ(parse_key_text("# nothing\n", "key").error().message,
              "key: holds no key (make one with `failoverctl genkey PATH`)");
    EXPECT_EQ(parse_key_text(std::string(63, 'a') + "\n", "key").error().message,
              "key:1: a key is 64 hex digits, this line has 63 characters");
    EXPECT_EQ(parse_key_text(std::string(63, 'a') + "g\n", "key").error().message, "key:1: a key is hex digits only");
    EXPECT_EQ(parse_key_text(k1 + "\n" + k1 + "\n", "key").error().message, "key:2: the same key twice");
}

TEST(KeyFile, GenkeyWritesAPrivateFileAndLoadRefusesAReadableOne) {
    char dir[] = "/tmp/tcpfo-key-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string path = std::string(dir) + "/key";
    ASSERT_TRUE(write_new_key_file(path));
    struct stat st{};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto loaded = load_key_file(path);
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->size(), 1u);
    EXPECT_FALSE(write_new_key_file(path));  // never over an existing key
    EXPECT_NE(new_key_line(), new_key_line());
    ASSERT_EQ(chmod(path.c_str(), 0640), 0);
    auto refused = load_key_file(path);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().message,
              "key_file " + path + ": group or others have access (mode 0640); `chmod 600 " + path + "`");
    EXPECT_FALSE(load_key_file(std::string(dir) + "/missing"));
    unlink(path.c_str());
    rmdir(dir);
}

TEST(DropLog, OneLinePerSourceKindAndPeriod) {
    DropLog log("heartbeat", 10'000);
    const AuthError forged{AuthDrop::forged, "x"}, garbage{AuthDrop::garbage, "y"};
    EXPECT_TRUE(log.note("10.0.0.9:7100", 9, forged, 1000));
    for (int i = 0; i < 100; ++i) EXPECT_FALSE(log.note("10.0.0.9:7100", 9, forged, 1000 + i));
    EXPECT_TRUE(log.note("10.0.0.9:7100", 9, garbage, 2000));  // another kind
    EXPECT_TRUE(log.note("10.0.0.8:7100", 8, forged, 2000));   // another source
    EXPECT_TRUE(log.note("10.0.0.9:7100", 9, forged, 11'000));  // the period is over: the summary
    EXPECT_EQ(log.count(AuthDrop::forged), 103u);
    EXPECT_EQ(log.total(), 104u);
}

namespace {

// Two TcpLinks over a socket pair, both authenticated.
struct LinkPair {
    std::unique_ptr<EventLoop> loop = std::move(*EventLoop::create());
    std::unique_ptr<TcpLink> a, b;
    std::vector<Record> got_a, got_b;  // non-DATA records only
    std::vector<AuthError> drops_b;
    std::string closed_b;

    LinkPair(std::shared_ptr<const KeyRing> keys_a, std::shared_ptr<const KeyRing> keys_b, int fd_a, int fd_b) {
        auto make = [&](int fd, std::vector<Record>& got, std::shared_ptr<const KeyRing> keys, StreamSide side,
                        bool is_b) {
            Link::Callbacks cb;
            cb.on_record = [&got](const Record& r) {
                if (!std::holds_alternative<DataRecord>(r)) got.push_back(r);
            };
            cb.on_closed = [this, is_b](const std::string& why) { if (is_b) closed_b = why; };
            if (is_b) cb.on_auth_drop = [this](const AuthError& e) { drops_b.push_back(e); };
            auto link = TcpLink::open(*loop, UniqueFd(fd), is_b ? "b" : "a", std::move(cb),
                                      keys ? std::make_unique<StreamAuth>(keys, side) : nullptr);
            EXPECT_TRUE(link);
            return std::move(*link);
        };
        if (fd_a >= 0) a = make(fd_a, got_a, keys_a, StreamSide::connector, false);
        b = make(fd_b, got_b, keys_b, StreamSide::acceptor, true);
    }
    void run(int turns = 20) {
        for (int i = 0; i < turns; ++i) {
            if (a) a->flush();
            b->flush();
            (void)loop->run_once(5);
        }
    }
};

}  // namespace

TEST(AuthenticatedLink, CarriesRecordsBothWays) {
    auto keys = ring_of({key_of(3)});
    auto pair = test::stream_pair();
    LinkPair links(keys, keys, pair.ours.release(), pair.peer.release());
    links.a->send(HelloRecord{kProtocolVersion, NodeRole::primary, 4});  // queued before b's opening
    links.a->send(StableRecord{1, 2});
    links.run();
    links.b->send(HelloRecord{kProtocolVersion, NodeRole::backup, 4});
    links.run();
    ASSERT_EQ(links.got_b.size(), 2u);
    EXPECT_EQ(links.got_b[0], Record(HelloRecord{kProtocolVersion, NodeRole::primary, 4}));
    EXPECT_EQ(links.got_b[1], Record(StableRecord{1, 2}));
    ASSERT_EQ(links.got_a.size(), 1u);
    EXPECT_TRUE(links.drops_b.empty());
    EXPECT_FALSE(links.b->closed());
}

TEST(AuthenticatedLink, WrongKeyGarbageAndNoKeyCloseWithOneDropAndNoRecord) {
    struct Case {
        const char* name;
        std::shared_ptr<KeyRing> keys_a;
        std::string raw;  // written by hand instead of a link when not empty
        AuthDrop kind;
    };
    std::vector<Case> cases = {
        {"wrong key", ring_of({key_of(4)}), "", AuthDrop::unknown_key},
        {"garbage", nullptr, "GET / HTTP/1.0\r\n\r\n", AuthDrop::garbage},
        {"no key", nullptr, "", AuthDrop::garbage},
    };
    for (auto& c : cases) {
        auto pair = test::stream_pair();
        const int a_fd = pair.ours.release();
        LinkPair links(c.keys_a, ring_of({key_of(3)}), c.raw.empty() ? a_fd : -1, pair.peer.release());
        if (c.raw.empty()) {
            links.a->send(HelloRecord{kProtocolVersion, NodeRole::primary, 4});
        } else {
            ASSERT_EQ(::write(a_fd, c.raw.data(), c.raw.size()), ssize_t(c.raw.size()));
        }
        links.run();
        EXPECT_TRUE(links.got_b.empty()) << c.name;
        ASSERT_EQ(links.drops_b.size(), 1u) << c.name;
        EXPECT_EQ(links.drops_b[0].kind, c.kind) << c.name << ": " << links.drops_b[0].message;
        EXPECT_TRUE(links.b->closed()) << c.name;
        if (!c.raw.empty()) ::close(a_fd);
    }
}

// Authenticated frames (docs/protocol.md, "Authentication"): what peers that share a
// key (key_ring.h) put around their records, so that nothing forged, replayed or
// sent with another key is ever acted on. Pure functions and a per-stream state: no
// I/O, no logging. Decoding never trusts its input; every byte of a frame is
// verified before the caller sees any of its payload.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "userd/auth/key_ring.h"

namespace tcpfo {

inline constexpr uint32_t kStreamOpenMagic = 0x54464130;  // "TFA0"
inline constexpr uint32_t kAuthFrameMagic = 0x54464131;   // "TFA1"
inline constexpr uint16_t kAuthVersion = 1;
inline constexpr size_t kSessionNonceSize = 16;
inline constexpr size_t kStreamOpenSize = 8 + kSessionNonceSize;
// magic u32, key id u32, counter u64, length u32
inline constexpr size_t kAuthHeaderSize = 20;
inline constexpr size_t kStreamTagSize = 16;     // Poly1305
inline constexpr size_t kHeartbeatTagSize = 32;  // HMAC-SHA256
// A sender seals its pending records once they pass 64 KiB, and one record is at most
// 16 + 128 KiB: a frame's payload stays below 256 KiB, anything longer is refused.
inline constexpr size_t kMaxAuthPayload = 256 * 1024;
// A sender seals what it has queued once it reaches this many bytes.
inline constexpr size_t kSealAtBytes = 64 * 1024;

// Why a frame was dropped: each kind has its own log line and counter.
enum class AuthDrop : uint8_t {
    garbage,      // not a frame at all: wrong magic, bad length, malformed opening
    unknown_key,  // a key id this node does not hold: a peer with another key
    forged,       // the tag does not verify: forged, corrupted, or a stream replayed into a new session
    replayed,     // a valid tag with a counter already seen
    stranger,     // from an address that is not a configured peer (checked before any key)
};
inline constexpr size_t kAuthDropKinds = 5;
const char* auth_drop_text(AuthDrop kind);

struct AuthError {
    AuthDrop kind;
    std::string message;
};
template <class T>
using AuthResult = std::expected<T, AuthError>;

// Which end of the stream this is: the nonce of each frame says which way it went, so
// a frame reflected back to its sender does not verify.
enum class StreamSide : uint8_t { connector = 0, acceptor = 1 };

// One replication stream's authentication. Each end opens with 16 random bytes
// (STREAM_OPEN); the frames of the session are authenticated under a key derived from
// the shared key and both ends' bytes, so a stream recorded earlier verifies in no
// other session. Counters start at 0 and grow by one per frame each way.
class StreamAuth {
public:
    StreamAuth(std::shared_ptr<const KeyRing> keys, StreamSide side);
    // The test's hook: a chosen nonce instead of a random one.
    StreamAuth(std::shared_ptr<const KeyRing> keys, StreamSide side, const std::array<uint8_t, kSessionNonceSize>& nonce);

    // Appends this end's STREAM_OPEN (send it first).
    void append_open(std::vector<uint8_t>& out) const;
    // Takes the peer's STREAM_OPEN from the front of `input`: its size, nullopt if
    // more bytes are needed.
    AuthResult<std::optional<size_t>> take_open(std::span<const uint8_t> input);
    // The peer's opening arrived: frames can be sealed and opened.
    bool ready() const { return peer_nonce_.has_value(); }

    // Appends one frame carrying `payload` (ready() must be true).
    void seal(std::span<const uint8_t> payload, std::vector<uint8_t>& out, uint64_t now_ms);

    struct Opened {
        std::span<const uint8_t> payload;  // points into the input
        size_t size = 0;                   // the whole frame's bytes
        uint32_t key_id = 0;
    };
    // Verifies the frame at the front of `input`: nullopt when more bytes are needed.
    AuthResult<std::optional<Opened>> open(std::span<const uint8_t> input, uint64_t now_ms);

    uint64_t frames_sent() const { return send_counter_; }
    uint64_t frames_received() const { return receive_counter_; }

private:
    struct SessionKey {
        uint32_t id;
        KeyBytes bytes;
    };
    const KeyBytes& session_key(const AuthKey& key);

    std::shared_ptr<const KeyRing> keys_;
    StreamSide side_;
    std::array<uint8_t, kSessionNonceSize> own_nonce_{};
    std::optional<std::array<uint8_t, kSessionNonceSize>> peer_nonce_;
    std::vector<SessionKey> session_keys_;  // derived once per key id
    uint64_t send_counter_ = 0;
    uint64_t receive_counter_ = 0;
};

// Heartbeats (UDP): one frame per datagram, HMAC-SHA256 under the shared key over the
// sender's address, the header and the payload. The counter is the receiver's to
// check (it must grow per peer: Heartbeat keeps the highest).
void seal_heartbeat(const AuthKey& key, uint32_t sender_addr, uint64_t counter, std::span<const uint8_t> payload,
                    std::vector<uint8_t>& out);
struct OpenedHeartbeat {
    std::span<const uint8_t> payload;  // points into the datagram
    uint64_t counter = 0;
    uint32_t key_id = 0;
};
// `sender_addr` is the datagram's source address (network order): the one its sender
// sealed it for.
AuthResult<OpenedHeartbeat> open_heartbeat(const KeyView& keys, uint32_t sender_addr,
                                          std::span<const uint8_t> datagram);

}  // namespace tcpfo

// The shared keys that authenticate peers (docs/operations.md, "Keys"): the key this
// node sends with, and every key it accepts. Read by the heartbeat thread and the
// loop at once, replaced by a reload (SIGHUP) without a restart.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tcpfo {

inline constexpr size_t kAuthKeySize = 32;
using KeyBytes = std::array<uint8_t, kAuthKeySize>;

struct AuthKey {
    // Names the key in frames and log lines without revealing it: the first 4 bytes
    // of HMAC-SHA256(key, "tcpfo key id"). A receiver picks the key by it, so a
    // rotation costs no trial verifications, and a peer with another key is told
    // apart from a forger in the log.
    uint32_t id = 0;
    KeyBytes bytes{};
};
AuthKey make_auth_key(const KeyBytes& bytes);
// "3f1c09a2": how log lines and the status name a key.
std::string key_id_text(uint32_t id);

// What a sender and a receiver use at one moment: immutable once made.
struct KeyView {
    AuthKey sending;
    std::vector<AuthKey> accepted;  // `sending` first, then the others
    const AuthKey* find(uint32_t id) const;
};

class KeyRing {
public:
    // A key dropped by a reload is still accepted this long: peers not reloaded yet
    // still send with it.
    static constexpr uint64_t kDefaultGraceMs = 60'000;

    // `keys` is not empty: the first one is the sending key.
    explicit KeyRing(std::vector<AuthKey> keys, uint64_t grace_ms = kDefaultGraceMs);

    // The keys of a reload. Keys of the old set that are not in `keys` stay accepted
    // until now_ms + grace.
    void install(std::vector<AuthKey> keys, uint64_t now_ms);
    // The keys in force at now_ms (monotonic ms): retired keys past their grace are gone.
    std::shared_ptr<const KeyView> view(uint64_t now_ms) const;

private:
    struct Retired {
        AuthKey key;
        uint64_t until_ms;
    };
    void rebuild_view_locked(uint64_t now_ms) const;

    uint64_t grace_ms_;
    mutable std::mutex mutex_;
    std::vector<AuthKey> keys_;
    mutable std::vector<Retired> retired_;
    mutable std::shared_ptr<const KeyView> view_;
};

}  // namespace tcpfo

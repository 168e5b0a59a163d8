#include "userd/auth/key_ring.h"

#include <sodium.h>

#include <algorithm>
#include <string>

#include <fmt/core.h>

namespace tcpfo {

AuthKey make_auth_key(const KeyBytes& bytes) {
    static constexpr char kLabel[] = "tcpfo key id";
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, bytes.data(), bytes.size());
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const uint8_t*>(kLabel), sizeof kLabel - 1);
    crypto_auth_hmacsha256_final(&state, mac);
    AuthKey key;
    key.bytes = bytes;
    key.id = uint32_t(mac[0]) << 24 | uint32_t(mac[1]) << 16 | uint32_t(mac[2]) << 8 | mac[3];
    return key;
}

std::string key_id_text(uint32_t id) { return fmt::format("{:08x}", id); }

const AuthKey* KeyView::find(uint32_t id) const {
    for (const auto& key : accepted)
        if (key.id == id) return &key;
    return nullptr;
}

KeyRing::KeyRing(std::vector<AuthKey> keys, uint64_t grace_ms) : grace_ms_(grace_ms), keys_(std::move(keys)) {
    rebuild_view_locked(0);
}

void KeyRing::install(std::vector<AuthKey> keys, uint64_t now_ms) {
    std::lock_guard lock(mutex_);
    for (const auto& old : keys_) {
        const bool kept = std::any_of(keys.begin(), keys.end(), [&](const AuthKey& k) { return k.id == old.id; });
        if (!kept) retired_.push_back({old, now_ms + grace_ms_});
    }
    // A key that comes back is a key again, not a retired one.
    std::erase_if(retired_, [&](const Retired& r) {
        return std::any_of(keys.begin(), keys.end(), [&](const AuthKey& k) { return k.id == r.key.id; });
    });
    keys_ = std::move(keys);
    rebuild_view_locked(now_ms);
}

std::shared_ptr<const KeyView> KeyRing::view(uint64_t now_ms) const {
    std::lock_guard lock(mutex_);
    if (std::any_of(retired_.begin(), retired_.end(), [&](const Retired& r) { return r.until_ms <= now_ms; }))
        rebuild_view_locked(now_ms);
    return view_;
}

void KeyRing::rebuild_view_locked(uint64_t now_ms) const {
    std::erase_if(retired_, [&](const Retired& r) { return r.until_ms <= now_ms; });
    auto view = std::make_shared<KeyView>();
    view->sending = keys_.front();
    view->accepted = keys_;
    for (const auto& r : retired_) view->accepted.push_back(r.key);
    view_ = std::move(view);
}

}  // namespace tcpfo

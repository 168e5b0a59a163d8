#include "userd/auth/frame_auth.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include <fmt/core.h>

namespace tcpfo {

namespace {

constexpr char kStreamKeyLabel[] = "tcpfo stream 1";
constexpr char kHeartbeatLabel[] = "tcpfo heartbeat 1";

void put_be(uint8_t* p, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = uint8_t(v);
}
uint64_t get_be(const uint8_t* p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = v << 8 | p[i];
    return v;
}

void append_header(std::vector<uint8_t>& out, uint32_t key_id, uint64_t counter, size_t length) {
    const size_t at = out.size();
    out.resize(at + kAuthHeaderSize);
    put_be(&out[at], kAuthFrameMagic, 4);
    put_be(&out[at + 4], key_id, 4);
    put_be(&out[at + 8], counter, 8);
    put_be(&out[at + 16], length, 4);
}

struct Header {
    uint32_t key_id;
    uint64_t counter;
    uint32_t length;
};
// The header at the front of `input`, checked as far as it can be without a key.
AuthResult<std::optional<Header>> read_header(std::span<const uint8_t> input) {
    // The magic is judged on as many bytes as there are: garbage is refused at once.
    uint8_t magic[4];
    put_be(magic, kAuthFrameMagic, 4);
    const size_t have = std::min<size_t>(input.size(), 4);
    if (std::memcmp(input.data(), magic, have) != 0)
        return std::unexpected(AuthError{AuthDrop::garbage, "not an authenticated frame (bad magic)"});
    if (input.size() < kAuthHeaderSize) return std::nullopt;
    Header h{uint32_t(get_be(&input[4], 4)), get_be(&input[8], 8), uint32_t(get_be(&input[16], 4))};
    if (h.length > kMaxAuthPayload)
        return std::unexpected(AuthError{AuthDrop::garbage, fmt::format("frame of {} bytes, above {}", h.length,
                                                                         kMaxAuthPayload)});
    return h;
}

// The AEAD nonce: which way the frame went, and its counter.
std::array<uint8_t, crypto_aead_chacha20poly1305_ietf_NPUBBYTES> frame_nonce(StreamSide sender, uint64_t counter) {
    std::array<uint8_t, crypto_aead_chacha20poly1305_ietf_NPUBBYTES> n{};
    put_be(&n[0], uint8_t(sender), 4);
    put_be(&n[4], counter, 8);
    return n;
}

void heartbeat_mac(const AuthKey& key, uint32_t sender_addr, std::span<const uint8_t> frame, uint8_t* mac) {
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, key.bytes.data(), key.bytes.size());
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const uint8_t*>(kHeartbeatLabel),
                                  sizeof kHeartbeatLabel - 1);
    // The address as it is on the wire (network order), the same on both ends.
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const uint8_t*>(&sender_addr), sizeof sender_addr);
    crypto_auth_hmacsha256_update(&state, frame.data(), frame.size());
    crypto_auth_hmacsha256_final(&state, mac);
}

}  // namespace

const char* auth_drop_text(AuthDrop kind) {
    switch (kind) {
        case AuthDrop::garbage: return "garbage";
        case AuthDrop::unknown_key: return "unknown key";
        case AuthDrop::forged: return "forged";
        case AuthDrop::replayed: return "replayed";
        case AuthDrop::stranger: return "not a peer";
    }
    return "?";
}

StreamAuth::StreamAuth(std::shared_ptr<const KeyRing> keys, StreamSide side) : keys_(std::move(keys)), side_(side) {
    // sodium_init is idempotent and thread-safe; randombytes needs it.
    if (sodium_init() < 0) std::abort();  // no source of randomness: nothing can be sealed safely
    randombytes_buf(own_nonce_.data(), own_nonce_.size());
}

StreamAuth::StreamAuth(std::shared_ptr<const KeyRing> keys, StreamSide side,
                       const std::array<uint8_t, kSessionNonceSize>& nonce)
    : keys_(std::move(keys)), side_(side), own_nonce_(nonce) {}

void StreamAuth::append_open(std::vector<uint8_t>& out) const {
    const size_t at = out.size();
    out.resize(at + kStreamOpenSize);
    put_be(&out[at], kStreamOpenMagic, 4);
    put_be(&out[at + 4], kAuthVersion, 2);
    put_be(&out[at + 6], 0, 2);
    std::memcpy(&out[at + 8], own_nonce_.data(), own_nonce_.size());
}

AuthResult<std::optional<size_t>> StreamAuth::take_open(std::span<const uint8_t> input) {
    uint8_t head[8];
    put_be(head, kStreamOpenMagic, 4);
    put_be(&head[4], kAuthVersion, 2);
    put_be(&head[6], 0, 2);
    const size_t have = std::min<size_t>(input.size(), sizeof head);
    if (std::memcmp(input.data(), head, have) != 0)
        return std::unexpected(AuthError{AuthDrop::garbage, "not an authenticated stream (bad opening: no key, "
                                                            "another version, or garbage)"});
    if (input.size() < kStreamOpenSize) return std::nullopt;
    std::array<uint8_t, kSessionNonceSize> nonce;
    std::memcpy(nonce.data(), &input[8], nonce.size());
    // Our own bytes coming back: a reflection, never a peer (a peer's are random).
    if (nonce == own_nonce_) return std::unexpected(AuthError{AuthDrop::replayed, "this node's own opening came back"});
    peer_nonce_ = nonce;
    return kStreamOpenSize;
}

const KeyBytes& StreamAuth::session_key(const AuthKey& key) {
    for (const auto& s : session_keys_)
        if (s.id == key.id) return s.bytes;
    // HMAC-SHA256(key, label || connector's nonce || acceptor's nonce): fresh for every
    // session as long as either end's nonce is.
    const auto& connector = side_ == StreamSide::connector ? own_nonce_ : *peer_nonce_;
    const auto& acceptor = side_ == StreamSide::acceptor ? own_nonce_ : *peer_nonce_;
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, key.bytes.data(), key.bytes.size());
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const uint8_t*>(kStreamKeyLabel),
                                  sizeof kStreamKeyLabel - 1);
    crypto_auth_hmacsha256_update(&state, connector.data(), connector.size());
    crypto_auth_hmacsha256_update(&state, acceptor.data(), acceptor.size());
    SessionKey s{key.id, {}};
    crypto_auth_hmacsha256_final(&state, s.bytes.data());
    session_keys_.push_back(s);
    return session_keys_.back().bytes;
}

void StreamAuth::seal(std::span<const uint8_t> payload, std::vector<uint8_t>& out, uint64_t now_ms) {
    if (!peer_nonce_) std::abort();  // a caller's bug: nothing may leave before the session exists
    const auto view = keys_->view(now_ms);
    const AuthKey& key = view->sending;
    const size_t at = out.size();
    append_header(out, key.id, send_counter_, payload.size());
    out.insert(out.end(), payload.begin(), payload.end());
    const auto nonce = frame_nonce(side_, send_counter_);
    out.resize(out.size() + kStreamTagSize);
    uint8_t* tag = &out[out.size() - kStreamTagSize];
    // Authentication only (the records travel in the clear): the header and payload are
    // the AEAD's associated data, the message is empty.
    // libsodium wants real pointers even for an empty message.
    uint8_t no_ciphertext[1];
    const uint8_t no_message[1] = {0};
    unsigned long long tag_len = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(no_ciphertext, tag, &tag_len, no_message, 0, &out[at],
                                                       kAuthHeaderSize + payload.size(), nullptr, nonce.data(),
                                                       session_key(key).data());
    ++send_counter_;
}

AuthResult<std::optional<StreamAuth::Opened>> StreamAuth::open(std::span<const uint8_t> input, uint64_t now_ms) {
    if (!peer_nonce_) return std::unexpected(AuthError{AuthDrop::garbage, "a frame before the stream's opening"});
    auto header = read_header(input);
    if (!header) return std::unexpected(header.error());
    if (!header->has_value()) return std::nullopt;
    const Header& h = **header;
    const size_t size = kAuthHeaderSize + h.length + kStreamTagSize;
    if (input.size() < size) return std::nullopt;
    const auto view = keys_->view(now_ms);
    const AuthKey* key = view->find(h.key_id);
    if (key == nullptr)
        return std::unexpected(AuthError{AuthDrop::unknown_key, fmt::format("frame under key {}, which this node "
                                                                            "does not hold", key_id_text(h.key_id))});
    const StreamSide sender = side_ == StreamSide::connector ? StreamSide::acceptor : StreamSide::connector;
    const auto nonce = frame_nonce(sender, h.counter);
    uint8_t no_message[1];
    const uint8_t no_ciphertext[1] = {0};
    const bool valid = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                           no_message, nullptr, no_ciphertext, 0, &input[kAuthHeaderSize + h.length], input.data(),
                           kAuthHeaderSize + h.length, nonce.data(), session_key(*key).data()) == 0;
    if (!valid)
        return std::unexpected(AuthError{AuthDrop::forged, fmt::format("frame {} does not verify under key {} (forged, "
                                                                       "corrupted, or from another session)",
                                                                       h.counter, key_id_text(h.key_id))});
    // Checked after the tag: only an authentic frame can be a replay.
    if (h.counter != receive_counter_)
        return std::unexpected(AuthError{AuthDrop::replayed, fmt::format("frame {} where {} was due (replayed)",
                                                                         h.counter, receive_counter_)});
    ++receive_counter_;
    return Opened{input.subspan(kAuthHeaderSize, h.length), size, h.key_id};
}

void seal_heartbeat(const AuthKey& key, uint32_t sender_addr, uint64_t counter, std::span<const uint8_t> payload,
                    std::vector<uint8_t>& out) {
    const size_t at = out.size();
    append_header(out, key.id, counter, payload.size());
    out.insert(out.end(), payload.begin(), payload.end());
    uint8_t mac[kHeartbeatTagSize];
    heartbeat_mac(key, sender_addr, std::span<const uint8_t>(&out[at], out.size() - at), mac);
    out.insert(out.end(), mac, mac + sizeof mac);
}

AuthResult<OpenedHeartbeat> open_heartbeat(const KeyView& keys, uint32_t sender_addr,
                                          std::span<const uint8_t> datagram) {
    if (datagram.empty()) return std::unexpected(AuthError{AuthDrop::garbage, "an empty datagram"});
    auto header = read_header(datagram);
    if (!header) return std::unexpected(header.error());
    if (!header->has_value() || datagram.size() != kAuthHeaderSize + (**header).length + kHeartbeatTagSize)
        return std::unexpected(AuthError{AuthDrop::garbage, fmt::format("a datagram of {} bytes is not an "
                                                                        "authenticated heartbeat", datagram.size())});
    const Header& h = **header;
    const AuthKey* key = keys.find(h.key_id);
    if (key == nullptr)
        return std::unexpected(AuthError{AuthDrop::unknown_key, fmt::format("heartbeat under key {}, which this node "
                                                                            "does not hold", key_id_text(h.key_id))});
    uint8_t mac[kHeartbeatTagSize];
    const size_t body = kAuthHeaderSize + h.length;
    heartbeat_mac(*key, sender_addr, datagram.first(body), mac);
    if (crypto_verify_32(mac, &datagram[body]) != 0)
        return std::unexpected(AuthError{AuthDrop::forged, fmt::format("heartbeat {} does not verify under key {}",
                                                                       h.counter, key_id_text(h.key_id))});
    return OpenedHeartbeat{datagram.subspan(kAuthHeaderSize, h.length), h.counter, h.key_id};
}

}  // namespace tcpfo

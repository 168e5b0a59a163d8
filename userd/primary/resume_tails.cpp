#include "userd/primary/resume_tails.h"

namespace tcpfo {

void ResumeTails::add(const ConnOpenRecord& conn, uint64_t offset, std::vector<uint8_t> bytes, uint64_t now_ms) {
    Tail& t = tails_[conn.conn_id];
    t.conn = conn;
    t.offset = offset;
    t.bytes = std::move(bytes);
    t.overflowed = t.bytes.size() > kMaxTailBytes;
    t.until_ms = now_ms + kKeepMs;
}

void ResumeTails::note(const DataRecord& data) {
    auto it = tails_.find(data.conn_id);
    if (it == tails_.end()) return;
    Tail& t = it->second;
    if (t.overflowed) return;
    const uint64_t end = t.offset + t.bytes.size();
    const uint64_t data_end = data.offset + data.bytes.size();
    // Above a gap (an event the ring dropped, to be healed by the client's
    // retransmission, which arrives as DATA again) nothing is kept: a tail is contiguous.
    if (data.offset > end || data_end <= end) return;
    const auto fresh = data.bytes.subspan(size_t(end - data.offset));
    if (t.bytes.size() + fresh.size() > kMaxTailBytes) {
        t.overflowed = true;
        t.bytes.clear();
        t.bytes.shrink_to_fit();
        return;
    }
    t.bytes.insert(t.bytes.end(), fresh.begin(), fresh.end());
}

std::vector<uint64_t> ResumeTails::expire(uint64_t now_ms) {
    std::vector<uint64_t> gone;
    for (auto it = tails_.begin(); it != tails_.end();) {
        if (now_ms < it->second.until_ms) {
            ++it;
            continue;
        }
        gone.push_back(it->first);
        it = tails_.erase(it);
    }
    return gone;
}

}  // namespace tcpfo

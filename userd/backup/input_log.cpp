#include "userd/backup/input_log.h"

#include <algorithm>

namespace tcpfo {

void InputLog::append_contiguous(uint64_t offset, std::span<const uint8_t> bytes) {
    // Caller guarantees offset <= end_; skip the part already logged.
    const uint64_t skip = end_ - offset;
    if (skip >= bytes.size()) return;
    auto fresh = bytes.subspan(skip);
    if (fin_ && end_ + fresh.size() > *fin_) fresh = fresh.first(*fin_ - end_);  // nothing after FIN
    const size_t room = pending_limit_ - std::min<size_t>(pending_limit_, pending_.size());
    fresh = fresh.first(std::min(fresh.size(), room));
    pending_.append(fresh);
    end_ += fresh.size();
}

void InputLog::merge_held() {
    while (held_ && !held_->empty() && held_->begin()->first <= end_) {
        auto node = held_->extract(held_->begin());
        held_bytes_ -= node.mapped().size();
        append_contiguous(node.key(), node.mapped());
    }
}

InputLog::Insert InputLog::insert(uint64_t offset, std::span<const uint8_t> bytes) {
    if (bytes.empty() || offset + bytes.size() <= end_) return Insert::duplicate;
    if (offset > end_) {
        if (!held_) held_ = std::make_unique<std::map<uint64_t, std::vector<uint8_t>>>();
        auto it = held_->find(offset);
        if (it != held_->end() && it->second.size() >= bytes.size()) return Insert::duplicate;
        if (held_bytes_ + bytes.size() > reorder_limit_) return Insert::refused_full;
        if (it != held_->end()) {
            held_bytes_ -= it->second.size();
            held_->erase(it);
        }
        held_->emplace(offset, std::vector<uint8_t>(bytes.begin(), bytes.end()));
        held_bytes_ += bytes.size();
        return Insert::held_out_of_order;
    }
    const uint64_t before = end_;
    append_contiguous(offset, bytes);
    merge_held();
    return end_ > before ? Insert::appended : Insert::refused_full;
}

bool InputLog::set_fin(uint64_t offset) {
    if (fin_) return *fin_ == offset;
    if (offset < end_) return false;
    fin_ = offset;
    return true;
}

}  // namespace tcpfo

// Replies of a fixed size out of a byte stream that arrives in pieces of any size:
// what the COUNTER and STAMP checks share. `State` keeps the reply received in part
// (`partial`, `partial_len`); `check` gets each whole reply.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "userd/base/error.h"

namespace tcpfo::streamtest {

template <std::size_t N, class State, class Check>
Result<void> take_fixed_replies(State& state, std::span<const std::uint8_t> bytes, Check&& check) {
    while (!bytes.empty()) {
        const std::size_t n = std::min(bytes.size(), N - state.partial_len);
        std::memcpy(state.partial + state.partial_len, bytes.data(), n);
        state.partial_len += n;
        bytes = bytes.subspan(n);
        if (state.partial_len < N) break;
        state.partial_len = 0;
        if (auto ok = check(std::span<const std::uint8_t, N>(state.partial, N)); !ok) return ok;
    }
    return {};
}

}  // namespace tcpfo::streamtest

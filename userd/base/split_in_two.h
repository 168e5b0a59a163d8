// Runs work(begin, end) over [0, count) on one or both cores: the machines this runs
// on have two, and the takeover's per-connection steps (probes, rebuilds) are
// independent of each other.
#pragma once

#include <cstddef>
#include <optional>
#include <thread>

namespace tcpfo {

// On the calling thread alone, or, for at least `parallel_min` items with
// max_threads > 1, the second half on a helper thread. `work` must not throw (on the
// helper thread std::jthread would call std::terminate). If the thread cannot be
// started the calling thread does it all.
template <class Work>
void split_in_two(size_t count, size_t parallel_min, unsigned max_threads, const Work& work) {
    if (count < parallel_min || max_threads < 2) return work(size_t{0}, count);
    const size_t half = count / 2;
    std::optional<std::jthread> helper;
    try {
        helper.emplace([&work, half, count] { work(half, count); });
    } catch (...) {
        return work(size_t{0}, count);
    }
    work(size_t{0}, half);
}  // the helper joins here

}  // namespace tcpfo

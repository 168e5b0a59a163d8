#include "replay/preload/allocator_calls.h"

#include <elf.h>
#include <link.h>

#include <atomic>
#include <cstdint>
#include <cstring>

namespace tcpfo::preload {
namespace {

// Executable segments of allocator libraries. A few are plenty: one library, usually
// one code segment.
constexpr int kMaxRanges = 8;
struct Range {
    uintptr_t begin = 0, end = 0;
};
Range g_ranges[kMaxRanges];
int g_range_count = 0;

enum class Lookup { not_done, running, done };
std::atomic<Lookup> g_lookup{Lookup::not_done};

bool is_allocator_library(const char* path) {
    if (path == nullptr) return false;
    const char* slash = std::strrchr(path, '/');
    const char* name = slash != nullptr ? slash + 1 : path;
    for (const char* prefix : {"libjemalloc", "libtcmalloc", "libmimalloc"})
        if (std::strncmp(name, prefix, std::strlen(prefix)) == 0) return true;
    return false;
}

// dl_iterate_phdr allocates nothing and takes only the loader's lock, so it is safe
// from inside the allocator (where the first clock read may come from).
int note_object(dl_phdr_info* info, size_t, void*) {
    if (!is_allocator_library(info->dlpi_name)) return 0;
    for (int i = 0; i < info->dlpi_phnum && g_range_count < kMaxRanges; ++i) {
        const auto& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
        const uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
        g_ranges[g_range_count++] = {begin, begin + ph.p_memsz};
    }
    return 0;
}

bool look_up_once() {
    Lookup state = g_lookup.load(std::memory_order_acquire);
    if (state == Lookup::done) return true;
    // Another thread is looking: its answer is not ready, take the call as the
    // program's (only the main thread's calls are recorded anyway).
    if (state == Lookup::running || !g_lookup.compare_exchange_strong(state, Lookup::running)) return false;
    dl_iterate_phdr(note_object, nullptr);
    g_lookup.store(Lookup::done, std::memory_order_release);
    return true;
}

}  // namespace

bool called_by_allocator(const void* caller) {
    if (!look_up_once()) return false;
    const auto at = reinterpret_cast<uintptr_t>(caller);
    for (int i = 0; i < g_range_count; ++i)
        if (at >= g_ranges[i].begin && at < g_ranges[i].end) return true;
    return false;
}

}  // namespace tcpfo::preload

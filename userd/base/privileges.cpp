#include "userd/base/privileges.h"

#include <cap-ng.h>
#include <linux/capability.h>

#include <atomic>
#include <cstdio>
#include <vector>

#include "userd/base/log.h"

namespace tcpfo {
namespace {

// Bumped by each drop; a thread that follows remembers the last one it applied.
std::atomic<int> drop_generation{0};
thread_local int applied_generation = 0;

// The highest capability this kernel knows.
int last_capability() {
    int last = -1;
    if (std::FILE* f = std::fopen("/proc/sys/kernel/cap_last_cap", "r")) {
        if (std::fscanf(f, "%d", &last) != 1) last = -1;
        std::fclose(f);
    }
    return last;
}

std::vector<int> needed_capabilities() {
    // A kernel that does not know CAP_BPF (before 5.8) wants CAP_SYS_ADMIN for bpf().
    const int bpf = last_capability() >= CAP_BPF ? CAP_BPF : CAP_SYS_ADMIN;
    return {CAP_NET_ADMIN, CAP_NET_RAW, bpf, CAP_SYS_NICE};
}

Result<std::string> apply(const std::vector<int>& keep) {
    capng_clear(CAPNG_SELECT_BOTH);
    std::string names;
    for (int cap : keep) {
        if (capng_update(CAPNG_ADD, capng_type_t(CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET), cap) != 0)
            return fail("can't keep capability {}", cap);
        const char* name = capng_capability_to_name(cap);
        if (!names.empty()) names += ", ";
        names += std::string("cap_") + (name ? name : "?");
    }
    if (const int r = capng_apply(CAPNG_SELECT_BOTH); r != 0)
        return fail("can't drop capabilities (capng_apply: {})", r);
    return names;
}

}  // namespace

Result<std::string> keep_only_needed_capabilities() {
    auto kept = apply(needed_capabilities());
    if (!kept) return kept;
    applied_generation = drop_generation.fetch_add(1) + 1;
    return kept;
}

void follow_capability_drop() {
    const int wanted = drop_generation.load(std::memory_order_acquire);
    if (wanted == applied_generation) return;
    if (auto kept = apply(needed_capabilities()); !kept)
        log_warn("failoverd: a thread could not drop its capabilities: {}", kept.error().message);
    applied_generation = wanted;
}

}  // namespace tcpfo

#include "replay/preload/real_functions.h"

#include <dlfcn.h>

namespace tcpfo::preload {
namespace {

// initial-exec: a preloaded library's TLS is in the static block, so reaching it
// never calls into the allocator the way a dynamic TLS access can.
__attribute__((tls_model("initial-exec"))) thread_local bool t_resolving = false;

}  // namespace

void* next_symbol(std::atomic<void*>& slot, const char* name) {
    if (void* fn = slot.load(std::memory_order_acquire)) return fn;
    if (t_resolving) return nullptr;
    t_resolving = true;
    void* fn = dlsym(RTLD_NEXT, name);
    t_resolving = false;
    // Two threads may both resolve: they store the same address.
    slot.store(fn, std::memory_order_release);
    return fn;
}

}  // namespace tcpfo::preload

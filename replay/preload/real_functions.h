// Reaching the definitions this library hides: each interposer calls the next
// definition of its own symbol (libc's), found with dlsym(RTLD_NEXT) on first use.
#pragma once

#include <atomic>

// Only the interposed functions leave the library (it is built with hidden visibility),
// so nothing else in it can capture another library's symbols.
#define TCPFO_EXPORT extern "C" __attribute__((visibility("default")))

namespace tcpfo::preload {

// The next definition of `name` after this library, resolved once into `slot`.
// Returns nullptr while this thread is already inside dlsym: dlsym may allocate, and
// an allocator may read the clock or ask for random bytes, which would come back here.
// Callers then fall back to the raw system call.
void* next_symbol(std::atomic<void*>& slot, const char* name);

}  // namespace tcpfo::preload

// TCPFO_REAL(clock_gettime): libc's clock_gettime, typed, or nullptr (see next_symbol).
// A macro because each function needs a slot of its own; the slot is a constant-
// initialized static, so using it needs no guard even before constructors ran.
#define TCPFO_REAL(name)                                                              \
    ([] {                                                                             \
        static std::atomic<void*> slot{nullptr};                                      \
        return reinterpret_cast<decltype(&::name)>(::tcpfo::preload::next_symbol(slot, #name)); \
    }())

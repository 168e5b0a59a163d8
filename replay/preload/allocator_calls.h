// Calls the memory allocator makes for itself. jemalloc (Debian's redis links it as a
// shared library) reads CLOCK_MONOTONIC_COARSE from inside malloc() when its decay
// ticker says so, and that ticker moves with frees made by other threads (redis's
// lazy-free thread): the main thread's sequence of clock reads then differs between
// primary and replica, and the replay diverged after ~20,000 entries. What the
// allocator reads decides when it returns memory to the kernel, never what the
// application writes, so its calls pass through: neither recorded nor replayed.
//
// Recognised: the code of a loaded shared object whose file name starts with
// libjemalloc, libtcmalloc or libmimalloc. An allocator linked statically into the
// program cannot be told apart from the program (docs/architecture.md, known gaps).
#pragma once

namespace tcpfo::preload {

// Whether `caller` (a return address, __builtin_return_address(0) in an interposer)
// lies in an allocator's code. The objects are looked up once, on the first call.
bool called_by_allocator(const void* caller);

}  // namespace tcpfo::preload

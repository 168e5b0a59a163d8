// called_by_allocator (replay/preload/allocator_calls.h): a clock read from jemalloc's
// code passes through the preload library, one from anywhere else is recorded. If the
// ranges were wrong, redis's replay would diverge again (jemalloc's decay ticker), or
// the program's own clock reads would go unrecorded.
#include "replay/preload/allocator_calls.h"

#include <dlfcn.h>

#include <gtest/gtest.h>

namespace {

int program_function() { return 42; }

}  // namespace

TEST(AllocatorCalls, TellsTheAllocatorsCodeFromTheProgramsAndFromOtherLibraries) {
    // Linked in (tests/preload/CMakeLists.txt), so loaded before the first question:
    // the library looks the objects up once.
    void* jemalloc = dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(jemalloc, nullptr) << "libjemalloc.so.2 is not loaded: " << dlerror();
    void* in_jemalloc = dlsym(jemalloc, "malloc");
    ASSERT_NE(in_jemalloc, nullptr) << dlerror();
    void* in_libc = dlsym(RTLD_DEFAULT, "clock_gettime");
    ASSERT_NE(in_libc, nullptr);
    ASSERT_NE(in_libc, in_jemalloc);

    EXPECT_TRUE(tcpfo::preload::called_by_allocator(in_jemalloc));
    EXPECT_TRUE(tcpfo::preload::called_by_allocator(static_cast<char*>(in_jemalloc) + 16));
    EXPECT_FALSE(tcpfo::preload::called_by_allocator(reinterpret_cast<void*>(&program_function)));
    EXPECT_FALSE(tcpfo::preload::called_by_allocator(in_libc));
    EXPECT_FALSE(tcpfo::preload::called_by_allocator(nullptr));
    (void)program_function();
}

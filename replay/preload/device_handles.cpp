#include "replay/preload/device_handles.h"

#include <atomic>
#include <cstring>

#include "replay/preload/fd_bitset.h"

namespace tcpfo::preload {
namespace {

// Lock-free tables: open() and read() may come from any thread, and a lock held
// across fork would be inherited locked by the child.
constinit FdBitset g_device_fds;

constexpr int kTrackedStreams = 64;
std::atomic<FILE*> g_device_streams[kTrackedStreams];
// So that fread() on an ordinary stream costs one load, not a scan.
std::atomic<int> g_device_stream_count{0};

}  // namespace

bool is_random_device_path(const char* path) {
    return path != nullptr &&
           (strcmp(path, "/dev/urandom") == 0 || strcmp(path, "/dev/random") == 0);
}

void track_device_fd(int fd, bool is_device) { g_device_fds.set(fd, is_device); }

bool is_device_fd(int fd) { return g_device_fds.test(fd); }

void track_device_stream(FILE* stream) {
    for (auto& slot : g_device_streams) {
        FILE* empty = nullptr;
        if (slot.compare_exchange_strong(empty, stream)) {
            g_device_stream_count.fetch_add(1);
            return;
        }
    }
}

void untrack_device_stream(FILE* stream) {
    if (g_device_stream_count.load(std::memory_order_relaxed) == 0) return;
    for (auto& slot : g_device_streams) {
        FILE* expected = stream;
        if (slot.compare_exchange_strong(expected, nullptr)) {
            g_device_stream_count.fetch_sub(1);
            return;
        }
    }
}

bool is_device_stream(FILE* stream) {
    if (g_device_stream_count.load(std::memory_order_relaxed) == 0) return false;
    for (auto& slot : g_device_streams)
        if (slot.load(std::memory_order_relaxed) == stream) return true;
    return false;
}

}  // namespace tcpfo::preload

#include "replay/preload/parked_connections.h"

#include <fcntl.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>

#include "replay/preload/raw_calls.h"

namespace tcpfo::preload {
namespace {

struct Slot {
    int listen_fd = -1;
    Parked parked;
};
// In arrival order: the oldest is handed out first after going live.
Slot g_slots[kMaxParked];
int g_used = 0;
std::atomic<int> g_count{0};

// The lowest number a parked connection may take: kParkBase, or kMaxParked below the
// soft descriptor limit when that is lower (F_DUPFD fails above it).
int park_base() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return kParkBase;
    const long below = long(limit.rlim_cur) - kMaxParked;
    if (below < kParkBase) return below > 3 ? int(below) : 3;
    return kParkBase;
}

}  // namespace

bool park_connection(int listen_fd, int fd, uint16_t peer_port) {
    if (g_used == kMaxParked) return false;
    const int high = raw::fcntl(fd, F_DUPFD_CLOEXEC, park_base());
    if (high < 0) return false;
    raw::close(fd);
    g_slots[g_used++] = {listen_fd, {high, peer_port}};
    g_count.store(g_used, std::memory_order_relaxed);
    return true;
}

Parked take_parked(int listen_fd, uint16_t peer_port, bool any) {
    for (int i = 0; i < g_used; ++i) {
        if (g_slots[i].listen_fd != listen_fd || (!any && g_slots[i].parked.peer_port != peer_port)) continue;
        const Parked found = g_slots[i].parked;
        for (int k = i + 1; k < g_used; ++k) g_slots[k - 1] = g_slots[k];
        --g_used;
        g_count.store(g_used, std::memory_order_relaxed);
        return found;
    }
    return {};
}

int parked_count() { return g_count.load(std::memory_order_relaxed); }

bool has_parked(int listen_fd) {
    if (parked_count() == 0) return false;
    for (int i = 0; i < g_used; ++i)
        if (g_slots[i].listen_fd == listen_fd) return true;
    return false;
}

int parked_listeners(int* out, int max) {
    int n = 0;
    for (int i = 0; i < g_used && n < max; ++i)
        if (std::find(out, out + n, g_slots[i].listen_fd) == out + n) out[n++] = g_slots[i].listen_fd;
    return n;
}

}  // namespace tcpfo::preload

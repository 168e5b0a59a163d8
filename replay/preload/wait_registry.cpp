#include "replay/preload/wait_registry.h"

#include <atomic>

#include "replay/preload/fd_bitset.h"
#include "replay/preload/preload_state.h"

namespace tcpfo::preload {
namespace {

constexpr int kMaxInstances = 8;
constexpr uint32_t kMaxRegistrations = 65536;
constexpr uint32_t kHashSlots = 2 * kMaxRegistrations;  // a power of two, half full at most

// Static (the library does not allocate): 8 x 520 KiB of zero pages until touched, and
// a 2 MiB reverse table.
struct Instance {
    int epfd = -1;
    FdBitset registered;
    uint64_t data[FdBitset::kLimit];
};
Instance g_instances[kMaxInstances];
std::atomic<int> g_instance_count{0};

struct Reverse {
    uint64_t data;
    int32_t fd;
    int16_t instance;  // -1: empty
};
Reverse g_reverse[kHashSlots];
uint32_t g_reverse_used = 0;
bool g_reverse_ready = false;

constinit FdBitset g_listener_known;
constinit FdBitset g_listener_ipv4;

void init_reverse() {
    if (g_reverse_ready) return;
    for (auto& r : g_reverse) r.instance = -1;
    g_reverse_ready = true;
}

uint32_t hash(int instance, uint64_t data) {
    uint64_t h = data * 0x9e3779b97f4a7c15ull ^ uint64_t(instance) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return uint32_t(h) & (kHashSlots - 1);
}

// The slot holding (instance, data), or the empty slot where it would go.
uint32_t find_slot(int instance, uint64_t data) {
    uint32_t i = hash(instance, data);
    while (g_reverse[i].instance != -1 && !(g_reverse[i].instance == instance && g_reverse[i].data == data))
        i = (i + 1) & (kHashSlots - 1);
    return i;
}

// Linear probing's deletion: later entries of the run move back into the hole, so that
// every lookup still finds its entry before an empty slot.
void erase_slot(uint32_t hole) {
    g_reverse[hole].instance = -1;
    --g_reverse_used;
    for (uint32_t i = (hole + 1) & (kHashSlots - 1); g_reverse[i].instance != -1; i = (i + 1) & (kHashSlots - 1)) {
        const uint32_t home = hash(g_reverse[i].instance, g_reverse[i].data);
        // Movable when its home is not in (hole, i], cyclically.
        const bool between = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (between) continue;
        g_reverse[hole] = g_reverse[i];
        g_reverse[i].instance = -1;
        hole = i;
    }
}

int instance_of(int epfd) {
    if (g_instance_count.load(std::memory_order_relaxed) == 0) return -1;
    for (int i = 0; i < kMaxInstances; ++i)
        if (g_instances[i].epfd == epfd) return i;
    return -1;
}

void unregister(int instance, int fd) {
    Instance& in = g_instances[instance];
    if (!in.registered.test(fd)) return;
    in.registered.set(fd, false);
    const uint32_t slot = find_slot(instance, in.data[fd]);
    if (g_reverse[slot].instance == instance && g_reverse[slot].fd == fd) erase_slot(slot);
}

void drop_instance(int instance) {
    Instance& in = g_instances[instance];
    for (int fd = 0; fd < FdBitset::kLimit; ++fd)
        if (in.registered.test(fd)) unregister(instance, fd);
    in.epfd = -1;
    g_instance_count.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace

const char* note_epoll_ctl(int epfd, int op, int fd, const epoll_event* event) {
    init_reverse();
    if (fd < 0 || fd >= FdBitset::kLimit || epfd < 0) return "a descriptor number above 65535";
    int instance = instance_of(epfd);
    if (instance < 0) {
        if (op != EPOLL_CTL_ADD) return nullptr;  // nothing registered there that we know of
        for (int i = 0; i < kMaxInstances && instance < 0; ++i)
            if (g_instances[i].epfd == -1) instance = i;
        if (instance < 0) return "more than 8 epoll instances";
        g_instances[instance].epfd = epfd;
        g_instance_count.fetch_add(1, std::memory_order_relaxed);
    }
    Instance& in = g_instances[instance];
    if (op == EPOLL_CTL_DEL || event == nullptr) {
        unregister(instance, fd);
        return nullptr;
    }
    unregister(instance, fd);  // ADD over a stale registration, or MOD
    const uint64_t data = event->data.u64;
    const uint32_t slot = find_slot(instance, data);
    if (g_reverse[slot].instance != -1) return "two descriptors registered with the same epoll data";
    if (g_reverse_used >= kMaxRegistrations) return "more than 65536 epoll registrations";
    g_reverse[slot] = {data, fd, int16_t(instance)};
    ++g_reverse_used;
    in.data[fd] = data;
    in.registered.set(fd, true);
    return nullptr;
}

bool is_tracked_epoll(int epfd) { return instance_of(epfd) >= 0; }

std::optional<int> registered_fd(int epfd, uint64_t data) {
    const int instance = instance_of(epfd);
    if (instance < 0) return std::nullopt;
    const uint32_t slot = find_slot(instance, data);
    if (g_reverse[slot].instance == -1) return std::nullopt;
    return g_reverse[slot].fd;
}

std::optional<uint64_t> registered_data(int epfd, int fd) {
    const int instance = instance_of(epfd);
    if (instance < 0 || !g_instances[instance].registered.test(fd)) return std::nullopt;
    return g_instances[instance].data[fd];
}

std::optional<bool> listener_is_ipv4(int fd) {
    if (!g_listener_known.test(fd)) return std::nullopt;
    return g_listener_ipv4.test(fd);
}

void note_listener(int fd, bool ipv4) {
    g_listener_known.set(fd, true);
    g_listener_ipv4.set(fd, ipv4);
}

bool is_recorded_listener(int fd) { return g_listener_ipv4.test(fd); }

void forget_wait_fd(int fd) {
    if (g_listener_known.test(fd)) {
        g_listener_known.set(fd, false);
        g_listener_ipv4.set(fd, false);
    }
    if (g_instance_count.load(std::memory_order_relaxed) == 0 || !is_main_thread()) return;
    for (int i = 0; i < kMaxInstances; ++i) {
        if (g_instances[i].epfd == fd) drop_instance(i);
        else if (g_instances[i].epfd != -1) unregister(i, fd);
    }
}

}  // namespace tcpfo::preload

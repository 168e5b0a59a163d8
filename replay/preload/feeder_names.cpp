#include "replay/preload/feeder_names.h"

namespace tcpfo::preload {
namespace {

// Indexed by feeder port, so a name is found or replaced without a search; the lookup
// by client scans only the ports named so far (`g_named`, compacted on removal). Static:
// the library does not allocate (app_log.h). 65536 x 8 bytes + 65536 x 2 bytes.
struct Slot {
    uint32_t client_addr = 0;
    uint16_t client_port = 0;
    bool used = false;
};
Slot g_by_port[65536];
uint16_t g_named[65536];
uint32_t g_named_count = 0;

void remove_port(uint16_t port) {
    if (!g_by_port[port].used) return;
    g_by_port[port].used = false;
    for (uint32_t i = 0; i < g_named_count; ++i) {
        if (g_named[i] != port) continue;
        g_named[i] = g_named[--g_named_count];
        return;
    }
}

}  // namespace

void note_feeder_name(const FeederNameEntry& name) {
    if (auto old = feeder_port_of(name.client_addr, name.client_port)) remove_port(*old);
    remove_port(name.feeder_port);
    g_by_port[name.feeder_port] = {name.client_addr, name.client_port, true};
    g_named[g_named_count++] = name.feeder_port;  // at most 65536 ports: always room
}

std::optional<uint16_t> feeder_port_of(uint32_t client_addr, uint16_t client_port) {
    for (uint32_t i = 0; i < g_named_count; ++i) {
        const Slot& s = g_by_port[g_named[i]];
        if (s.client_addr == client_addr && s.client_port == client_port) return g_named[i];
    }
    return std::nullopt;
}

std::optional<FeederNameEntry> client_of_feeder(uint16_t feeder_port) {
    const Slot& s = g_by_port[feeder_port];
    if (!s.used) return std::nullopt;
    return FeederNameEntry{s.client_addr, s.client_port, feeder_port};
}

void forget_feeder(uint16_t feeder_port) { remove_port(feeder_port); }

}  // namespace tcpfo::preload

// One name for a protected connection on every layer: the hooks' 4-tuple key, its
// hash, and the one label every log line uses on both nodes ("conn 7 192.0.2.1:40312").
#pragma once

#include <linux/types.h>

#include <cstdint>
#include <functional>
#include <string>

#include "bpf/tcpfo_events.h"
#include "userd/protocol/record_codec.h"

// In the global namespace, beside the C struct, so lookup finds it everywhere.
inline bool operator==(const tcpfo_conn_key& a, const tcpfo_conn_key& b) {
    return a.client_addr == b.client_addr && a.vip_addr == b.vip_addr && a.client_port == b.client_port &&
           a.vip_port == b.vip_port;
}

namespace tcpfo {

// Addresses and ports in network order, as the hooks see them on the wire.
using ConnKey = tcpfo_conn_key;

struct ConnKeyHash {
    size_t operator()(const ConnKey& k) const {
        return std::hash<uint64_t>()((uint64_t(k.client_addr) << 32 | k.client_port) ^
                                     (uint64_t(k.vip_addr) << 16) ^ k.vip_port);
    }
};

// The key of the connection a CONN_OPEN record describes (records carry host-order ports).
ConnKey conn_key_of(const ConnOpenRecord& conn);

// "conn 7 192.0.2.1:40312"; "conn - 192.0.2.1:40312" for one that has no id (unprotected).
std::string conn_label(uint64_t conn_id, const ConnKey& key);
std::string conn_label(const ConnOpenRecord& conn);

}  // namespace tcpfo

#include "userd/protocol/conn_key.h"

#include <arpa/inet.h>

#include "userd/base/inet_address.h"

namespace tcpfo {

ConnKey conn_key_of(const ConnOpenRecord& c) {
    return ConnKey{c.client_addr, c.vip_addr, htons(c.client_port), htons(c.vip_port)};
}

std::string conn_label(uint64_t conn_id, const ConnKey& key) {
    const std::string client = fmt::format("{}:{}", addr_to_string(key.client_addr), ntohs(key.client_port));
    return conn_id ? fmt::format("conn {} {}", conn_id, client) : fmt::format("conn - {}", client);
}

std::string conn_label(const ConnOpenRecord& conn) { return conn_label(conn.conn_id, conn_key_of(conn)); }

}  // namespace tcpfo

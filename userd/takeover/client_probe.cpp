#include "userd/takeover/client_probe.h"

#include <netinet/tcp.h>
#include <sys/socket.h>

namespace tcpfo {

size_t build_probe_packet(const tcpfo_conn_key& key, const ProbeSpec& probe, uint8_t* out) {
    ServerSegment s;
    s.key = key;
    s.ack = probe.ack;
    s.window = probe.window;
    s.timestamps = probe.timestamps;
    if (probe.with_byte) {
        s.seq = probe.client_acked - 2;
        s.payload_len = 1;
    } else {
        s.seq = probe.client_acked - 1;
    }
    return build_server_segment(s, out);
}

std::optional<ClientPosition> client_position(const tcpfo_held_client& r) {
    constexpr uint8_t needed = TCPFO_HELD_SEQ | TCPFO_HELD_ACK;
    if (r.pure_acks == 0 || (r.flags & needed) != needed) return std::nullopt;
    ClientPosition p;
    p.snd_nxt = r.snd_nxt;
    p.rcv_nxt = r.ack;
    p.window = r.window;
    if (r.flags & TCPFO_HELD_TS) p.timestamps = TcpTimestamps{r.tsval, r.tsecr};
    p.sack_seen = r.flags & TCPFO_HELD_SACK;
    return p;
}

bool probe_answered(const tcpfo_held_client& before, const tcpfo_held_client& now) {
    return now.pure_acks != before.pure_acks;
}

Result<uint32_t> socket_tsval(int fd) {
    uint32_t tsval = 0;
    socklen_t len = sizeof(tsval);
    if (getsockopt(fd, SOL_TCP, TCP_TIMESTAMP, &tsval, &len) < 0)
        return sys_fail(errno, "can't read TCP_TIMESTAMP of socket {}", fd);
    return tsval;
}

}  // namespace tcpfo

#include "userd/health/tcp_check.h"

namespace tcpfo {

SocketProbeConfig tcp_probe_config(const CheckSpec& spec) {
    SocketProbeConfig c;
    c.target = *spec.target;
    c.connect_timeout_ms = spec.connect_timeout_ms;
    c.receive_timeout_ms = spec.receive_timeout_ms;
    return c;  // no judge: connected is up
}

}  // namespace tcpfo

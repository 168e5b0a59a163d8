// type = "tcp": the service accepts a connection within the connect timeout.
#pragma once

#include "userd/health/socket_probe.h"

namespace tcpfo {

SocketProbeConfig tcp_probe_config(const CheckSpec& spec);

}  // namespace tcpfo

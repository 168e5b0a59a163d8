// Replay: which of the replica's incoming connections carries which client's bytes.
// The backup's failoverd feeds each client to the replica on a connection of its own
// (a "feeder", from 127.0.0.1:<feeder port>) and names it on the channel before the
// client's accept entry (docs/protocol.md, "Feeder names"). Main thread only, like the
// replay reader that fills it.
#pragma once

#include <cstdint>
#include <optional>

#include "replay/preload/app_log.h"

namespace tcpfo::preload {

// Up to 65536 names at once, one per feeder port: a name for a port already named
// replaces the old one (the backup reused the port for another client), and a client
// named again gets the new port.
void note_feeder_name(const FeederNameEntry& name);

// The feeder port of a client, if named. A name stays until forget_feeder() (the
// replica was handed that feeder).
std::optional<uint16_t> feeder_port_of(uint32_t client_addr, uint16_t client_port);
// The client a feeder port carries, if named.
std::optional<FeederNameEntry> client_of_feeder(uint16_t feeder_port);
void forget_feeder(uint16_t feeder_port);

}  // namespace tcpfo::preload

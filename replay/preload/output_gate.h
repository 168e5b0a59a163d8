// Output commit (DESIGN.md invariant 6), in record mode: no byte the application writes
// to a protected connection leaves before every log entry recorded before that write is
// held by the backups that must hold it. failoverd says how much is held on the log's
// own descriptor, a socket (docs/protocol.md, "The application log": 8-byte big-endian
// cumulative offsets); the library reads them only while a write waits.
//
// A protected connection is a socket the main thread got from accept() or accept4():
// the clients' connections. A write waits only when entries that must be held
// (app_log_stream.h: all but a write that took all its bytes) were recorded since the
// daemon last held them, so a service that reads its clients and the clock and then
// writes all its replies at the end of a turn of its event loop (redis) waits once per
// turn.
#pragma once

namespace tcpfo::preload {

// At load, in record mode. The gate runs when the log descriptor is a socket (a daemon
// that can answer; a file or a pipe cannot). `after_exec`: this process exec'd itself
// while recording, so the daemon's offsets count bytes this image did not write; the
// gate is then off, with one line.
void set_up_output_gate(int log_fd, bool after_exec);

// Descriptors below 65536; any thread may call these.
void protect_socket(int fd, bool is_protected);
bool is_protected_socket(int fd);

// Before a write to `fd`: returns once the write may go (at once unless `fd` is
// protected, the caller is the recording main thread, and entries wait to be held).
// If the channel breaks while waiting, one line on stderr, recording and gating stop,
// and the write goes (the service runs on, unprotected).
void gate_output(int fd);

}  // namespace tcpfo::preload

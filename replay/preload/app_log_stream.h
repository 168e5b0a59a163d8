// The application log on its descriptor: a buffered writer in record mode, a reader
// of one entry at a time in replay mode. Used by the main thread only (see
// preload_state.h), so neither locks.
#pragma once

#include <cstddef>
#include <string>

#include "replay/preload/app_log.h"

namespace tcpfo::preload {

// Record: appends an entry; the buffer (64 KiB) is written when full, before fork and
// exec, and at exit. A failed write stops recording with one line on stderr: the
// application keeps running, its replica will go live where the log ends.
// `must_hold`: whether the output gate must wait for this entry before later output.
// An entry whose loss at a crash cannot mislead the replica need not be waited for: a
// write that took all its bytes (the replica, live where the log ends, writes them
// too, and the takeover discards what the client already has). Everything else must.
void record_entry(const AppLogEntry& entry, bool must_hold = true);
void flush_record_buffer();
// At exit: flushes, then writes every later entry at once (destructors that run after
// ours may still read the clock).
void finish_recording();
// In a forked child: the parent's buffered entries are the parent's to write.
void drop_record_buffer();
// Bytes of the log this process has recorded (buffered or written), and written to the
// descriptor, since it loaded the library.
uint64_t recorded_bytes();
uint64_t written_bytes();
// The log's length up to the end of the last entry recorded with must_hold: what a
// write to a client waits for.
uint64_t must_hold_bytes();

// Replay: the next entry, which must be of kind `called` (the call the replica makes
// now). Feeder names (kind 8) may come between entries: they are taken into the
// feeder table (feeder_names.h) on the way, and are not entries of the log. Returns nullptr at the end of the log, or when the entry is of another kind
// (replay_diverged), after which the caller and every later call are live. A corrupt
// or truncated entry is one line on stderr and _exit(86). The entry points into a
// buffer the next call reuses.
const AppLogEntry* replay_entry(AppLogKind called);
// Replay, before an exec: the entries replayed so far are taken off the descriptor
// (a socket is read ahead), so the new image reads exactly the rest of the log.
void settle_replay_before_exec();

// The replica's call does not fit the primary's: it can no longer be in step. One line
// on stderr, a notice to failoverd on the log channel ("diverged K\n": its backup then
// protects none of the service's connections, and resets them at takeover rather than
// continue them from this replica), and the replica goes live: it keeps serving, it is
// not killed (a backup whose replica died would take over with no service at all).
// The caller then makes the real call. `replica_call` and `primary_call` name the
// calls ("getrandom(16)").
void replay_diverged(const std::string& replica_call, const std::string& primary_call);

// The same for a replica that can no longer be kept in step for a reason of its own
// (a second thread on a client connection): `line` is the whole stderr line. Any
// thread may call it.
void replay_refused(const char* line);

}  // namespace tcpfo::preload

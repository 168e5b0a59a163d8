// What the preload library does with this call: nothing, record it, or replay it.
// The mode comes from the environment at load, the library's internal interface, which
// tcpfo-run sets from failoverd's answer (the log descriptor is then its socket to
// failoverd; a file or a pipe works too, without output commit: output_gate.h):
//   (unset)                                             pass-through
//   TCPFO_PRELOAD_MODE=record TCPFO_PRELOAD_LOG_FD=N    append each result to fd N
//   TCPFO_PRELOAD_MODE=replay TCPFO_PRELOAD_LOG_FD=N    return results read from fd N
// A bad value is one line on stderr and _exit(2) at load. The library sets
// TCPFO_PRELOAD_OWNER_PID to the process's pid, so that a forked child that execs
// (and loads the library again) passes through instead of taking over the log.
#pragma once

namespace tcpfo::preload {

enum class CallMode { pass_through, record, replay };

// The mode for a call made now, on this thread. Pass-through unless all hold:
// - the library is configured to record or replay, and its setup has finished (a call
//   made while the setup runs, by a library it calls, passes through);
// - this is the process's main thread (gettid() == getpid()): another thread's calls
//   have no defined order relative to the main thread's, so a replica could not be
//   given them in the order it makes them;
// - this is not a forked child: a child must never write into or read from its
//   parent's log (a fork that serves connections will be refused later). A vfork()
//   child shares its parent's memory and runs no fork handlers, so it counts as the
//   parent until it execs; while the parent waits, that order is still one order;
// - in replay, the log is not exhausted (after its end the replica is live).
CallMode call_mode();

// Who makes a call, for the calls that only the main thread may make on a client
// connection: `in_step` (the main thread of a process that records or replays now),
// `other_thread`, `child` (a forked child of one), or `unrecorded` (pass-through,
// stopped, or live).
enum class Caller { in_step, other_thread, child, unrecorded };
Caller caller();
// The main thread of the process that loaded the library (not a forked child).
bool is_main_thread();
// The mode the process was configured with (pass-through, record or replay), whoever
// calls and whatever happened since.
CallMode mode_configured();

// Whether open() and fopen() must remember /dev/urandom handles: any mode but
// pass-through, on any thread (a handle opened by one thread may be read by another).
bool tracks_devices();

// The log descriptor (record or replay).
int log_fd();

// Replay reached the end of the log: every later call is real.
void go_live();

// The one line says what, on what, and why; then _exit(code) (no atexit handlers,
// no flush of a log that may be what is broken).
[[noreturn]] void die(int code, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Not fatal: one line on stderr.
void warn(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Stops recording or replaying in this process (a broken log).
void stop();

}  // namespace tcpfo::preload

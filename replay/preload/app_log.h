// The application log: what the primary application's nondeterministic calls returned,
// one entry per call, so that the replica can be given the same results
// (docs/protocol.md, "The application log"). An entry is an 8-byte header
// {kind u8, flags u8 = 0, reserved u16 = 0, payload length u32} and a payload, all
// integers big-endian. The log has no checksum of its own: it travels inside the
// replication stream or a local file, which carry their own integrity.
//
// The preload library encodes and decodes on the application's own calls, some of them
// made by allocators that must not be re-entered, so the entry types hold spans, the
// decoder allocates only to report an error, and encode_app_log_entry() can write into
// a caller's fixed buffer.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "userd/base/error.h"

namespace tcpfo {

inline constexpr size_t kAppLogHeaderSize = 8;
// getrandom() and device reads carry their bytes; a larger payload is corruption, and
// the replay side must be able to hold one entry in a static buffer.
inline constexpr size_t kMaxAppLogPayload = 1024 * 1024;

enum class AppLogKind : uint8_t {
    clock_gettime = 1,
    gettimeofday = 2,
    time = 3,
    getrandom = 4,
    getpid = 5,
    device_read = 6,  // bytes read from /dev/urandom or /dev/random (read or fread)
    accept = 7,       // accept() or accept4(): which client's connection, or the errno
    // Never recorded: the backup writes it into the replica's channel (docs/protocol.md,
    // "Feeder names") so that the replica's library knows which of its incoming
    // connections carries which client's bytes.
    feeder_name = 8,
};

// `err` is the errno of a failed call (ret != 0, or ret == -1 for byte counts), else 0.
struct ClockGettimeEntry {
    int32_t clockid = 0;
    int32_t ret = 0;
    int32_t err = 0;
    int64_t sec = 0;
    int64_t nsec = 0;
    bool operator==(const ClockGettimeEntry&) const = default;
};

struct GettimeofdayEntry {
    int32_t ret = 0;
    int32_t err = 0;
    int64_t sec = 0;
    int64_t usec = 0;
    bool operator==(const GettimeofdayEntry&) const = default;
};

struct TimeEntry {
    int64_t t = 0;
    bool operator==(const TimeEntry&) const = default;
};

// ret is the byte count returned or -1; `bytes` holds exactly ret bytes when ret > 0
// and none otherwise. It points into the decoded buffer: copy before the buffer moves.
struct GetrandomEntry {
    int64_t ret = 0;
    int32_t err = 0;
    std::span<const uint8_t> bytes;
    bool operator==(const GetrandomEntry& o) const {
        return ret == o.ret && err == o.err &&
               std::equal(bytes.begin(), bytes.end(), o.bytes.begin(), o.bytes.end());
    }
};

struct GetpidEntry {
    int32_t pid = 0;
    bool operator==(const GetpidEntry&) const = default;
};

// Same layout and rules as GetrandomEntry; ret counts bytes even for fread().
struct DeviceReadEntry {
    int64_t ret = 0;
    int32_t err = 0;
    std::span<const uint8_t> bytes;
    bool operator==(const DeviceReadEntry& o) const {
        return ret == o.ret && err == o.err &&
               std::equal(bytes.begin(), bytes.end(), o.bytes.begin(), o.bytes.end());
    }
};

// The client is an IPv4 address and port, both as host-order values; 0 and 0 when the
// accepted socket is not IPv4 (a unix socket: nobody a backup can feed) or the call
// failed. `ret` is the new descriptor or -1 (then `err` is its errno).
struct AcceptEntry {
    int32_t listen_fd = 0;
    int32_t ret = 0;
    int32_t err = 0;
    uint32_t client_addr = 0;
    uint16_t client_port = 0;
    bool operator==(const AcceptEntry&) const = default;
};

// The replica's connection from the backup that carries this client's bytes: the
// replica sees it come from 127.0.0.1 (or the backup's --replica source) at
// `feeder_port`.
struct FeederNameEntry {
    uint32_t client_addr = 0;
    uint16_t client_port = 0;
    uint16_t feeder_port = 0;
    bool operator==(const FeederNameEntry&) const = default;
};

using AppLogEntry = std::variant<ClockGettimeEntry, GettimeofdayEntry, TimeEntry,
                                 GetrandomEntry, GetpidEntry, DeviceReadEntry, AcceptEntry,
                                 FeederNameEntry>;

AppLogKind app_log_kind(const AppLogEntry& entry);
// The kind in error messages ("clock_gettime", "device-read").
const char* app_log_kind_name(AppLogKind kind);
// The call an entry records, as a replay divergence names it ("clock_gettime",
// "a read of /dev/urandom or /dev/random").
const char* app_log_call_name(AppLogKind kind);

// Header plus payload bytes.
size_t app_log_entry_size(const AppLogEntry& entry);

// Writes the entry at the start of `out`, which must hold app_log_entry_size() bytes;
// returns the bytes written.
size_t encode_app_log_entry(const AppLogEntry& entry, std::span<uint8_t> out);
// Appends the entry to `out`.
void encode_app_log_entry(const AppLogEntry& entry, std::vector<uint8_t>& out);

struct DecodedAppLogEntry {
    AppLogEntry entry;
    size_t size = 0;  // bytes consumed from the input
};

// Decodes the first entry of `input`. Returns std::nullopt when more bytes are needed,
// an error when the input can never become a valid entry.
Result<std::optional<DecodedAppLogEntry>> decode_app_log_entry(std::span<const uint8_t> input);

// The payload length the header at `header` (kAppLogHeaderSize bytes) announces, after
// checking what the header alone can show; lets a reader fetch exactly one entry.
Result<uint32_t> app_log_payload_length(std::span<const uint8_t, kAppLogHeaderSize> header);

}  // namespace tcpfo

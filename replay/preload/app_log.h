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
    // The input order (docs/protocol.md, "The application log"): which descriptors an
    // epoll_wait/poll/select found ready, and what reads, writes and address queries on
    // the clients' connections returned.
    ready = 9,
    socket_read = 10,
    socket_write = 11,
    socket_name = 12,
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

// Which wait call a ReadyEntry records. The variants with a signal mask or a finer
// timeout (epoll_pwait, epoll_pwait2, ppoll, pselect) record as their plain call: the
// replica gets the same ready set whatever it waited with.
enum class ReadyCall : uint16_t { epoll_wait = 1, poll = 2, select = 3 };

// At most this many ready descriptors per entry (the most a select() can name is 1024;
// a larger epoll or poll set is cut to this many by the recorder).
inline constexpr uint32_t kMaxReadyFds = 65536;
inline constexpr size_t kReadyFdWireSize = 8;  // fd i32, events u32

// One ready descriptor: epoll events, poll revents, or for select a mask of
// kSelectRead | kSelectWrite | kSelectExcept.
struct ReadyFd {
    int32_t fd = 0;
    uint32_t events = 0;
    bool operator==(const ReadyFd&) const = default;
};
inline constexpr uint32_t kSelectRead = 1, kSelectWrite = 2, kSelectExcept = 4;

// epoll_wait (handle: the epoll descriptor), poll (handle: nfds) or select (handle:
// nfds). `ret` is the call's result or -1 with `err`; `fds` holds the ready descriptors
// in wire form (kReadyFdWireSize bytes each, big-endian; ready_fd_at() reads one,
// put_ready_fd() writes one), so that decoding points into the buffer and recording
// needs no allocation. For epoll and poll there are exactly ret of them, in the order
// the kernel reported (poll: array order); for select, ret counts set bits and every
// descriptor appears once, ascending.
struct ReadyEntry {
    ReadyCall call = ReadyCall::epoll_wait;
    int32_t handle = 0;
    int32_t ret = 0;
    int32_t err = 0;
    std::span<const uint8_t> fds;
    size_t count() const { return fds.size() / kReadyFdWireSize; }
    bool operator==(const ReadyEntry& o) const {
        return call == o.call && handle == o.handle && ret == o.ret && err == o.err &&
               std::equal(fds.begin(), fds.end(), o.fds.begin(), o.fds.end());
    }
};
ReadyFd ready_fd_at(const ReadyEntry& entry, size_t i);
void put_ready_fd(uint8_t* out, const ReadyFd& fd);  // kReadyFdWireSize bytes

// Which call a SocketIoEntry records; the replica must make the same one.
enum class SocketCall : uint16_t {
    read = 1, recv = 2, recvfrom = 3, recvmsg = 4, readv = 5,       // socket_read
    write = 1, send = 2, sendto = 3, sendmsg = 4, writev = 5,       // socket_write
};
inline constexpr uint16_t kMaxSocketCall = 5;

// A read (kind socket_read) or write (kind socket_write) on a protected connection:
// the byte count or -1 with `err`. The bytes themselves are not in the log: the
// replication stream carries the clients' bytes, and the replica writes its own.
struct SocketIoEntry {
    int32_t fd = 0;
    uint16_t call = 0;  // a SocketCall value
    int64_t ret = 0;
    int32_t err = 0;
    bool operator==(const SocketIoEntry&) const = default;
};
struct SocketReadEntry : SocketIoEntry {
    bool operator==(const SocketReadEntry&) const = default;
};
struct SocketWriteEntry : SocketIoEntry {
    bool operator==(const SocketWriteEntry&) const = default;
};

enum class NameCall : uint16_t { getpeername = 1, getsockname = 2 };
inline constexpr uint32_t kMaxSocketAddressSize = 128;  // sizeof(sockaddr_storage)

// getpeername or getsockname on a protected connection: ret 0 with the address the
// kernel gave (`address`, as many bytes as it reported, at most 128), or -1 with `err`
// and no bytes. The replica's real peer is the backup's feeder: it gets these instead.
struct SocketNameEntry {
    int32_t fd = 0;
    NameCall call = NameCall::getpeername;
    int32_t ret = 0;
    int32_t err = 0;
    std::span<const uint8_t> address;
    bool operator==(const SocketNameEntry& o) const {
        return fd == o.fd && call == o.call && ret == o.ret && err == o.err &&
               std::equal(address.begin(), address.end(), o.address.begin(), o.address.end());
    }
};

using AppLogEntry = std::variant<ClockGettimeEntry, GettimeofdayEntry, TimeEntry,
                                 GetrandomEntry, GetpidEntry, DeviceReadEntry, AcceptEntry,
                                 FeederNameEntry, ReadyEntry, SocketReadEntry, SocketWriteEntry,
                                 SocketNameEntry>;

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

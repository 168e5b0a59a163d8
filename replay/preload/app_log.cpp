#include "replay/preload/app_log.h"

#include <cstring>

namespace tcpfo {
namespace {

// Writes big-endian integers into a buffer the caller sized with app_log_entry_size().
class Writer {
public:
    explicit Writer(uint8_t* out) : out_(out) {}
    void u8(uint8_t v) { out_[pos_++] = v; }
    void u16(uint16_t v) { for (int s = 8; s >= 0; s -= 8) out_[pos_++] = uint8_t(v >> s); }
    void u32(uint32_t v) { for (int s = 24; s >= 0; s -= 8) out_[pos_++] = uint8_t(v >> s); }
    void u64(uint64_t v) { for (int s = 56; s >= 0; s -= 8) out_[pos_++] = uint8_t(v >> s); }
    void i32(int32_t v) { u32(uint32_t(v)); }
    void i64(int64_t v) { u64(uint64_t(v)); }
    void bytes(std::span<const uint8_t> b) {
        if (!b.empty()) std::memcpy(out_ + pos_, b.data(), b.size());
        pos_ += b.size();
    }
    size_t written() const { return pos_; }

private:
    uint8_t* out_;
    size_t pos_ = 0;
};

// Reads a payload whose length the caller has already checked against the kind's
// size, so the getters cannot run past the end.
class Reader {
public:
    explicit Reader(std::span<const uint8_t> in) : in_(in) {}
    uint16_t u16() { uint16_t v = 0; for (int i = 0; i < 2; ++i) v = uint16_t(v << 8 | in_[pos_++]); return v; }
    uint32_t u32() { uint32_t v = 0; for (int i = 0; i < 4; ++i) v = v << 8 | in_[pos_++]; return v; }
    uint64_t u64() { uint64_t v = 0; for (int i = 0; i < 8; ++i) v = v << 8 | in_[pos_++]; return v; }
    int32_t i32() { return int32_t(u32()); }
    int64_t i64() { return int64_t(u64()); }
    std::span<const uint8_t> rest() { auto r = in_.subspan(pos_); pos_ = in_.size(); return r; }

private:
    std::span<const uint8_t> in_;
    size_t pos_ = 0;
};

// Fixed payload size per kind; GETRANDOM and DEVICE_READ add their bytes.
constexpr size_t fixed_payload_size(AppLogKind kind) {
    switch (kind) {
        case AppLogKind::clock_gettime: return 4 + 4 + 4 + 8 + 8;
        case AppLogKind::gettimeofday: return 4 + 4 + 8 + 8;
        case AppLogKind::time: return 8;
        case AppLogKind::getrandom: return 8 + 4;
        case AppLogKind::getpid: return 4;
        case AppLogKind::device_read: return 8 + 4;
        case AppLogKind::accept: return 4 + 4 + 4 + 4 + 2 + 2;
        case AppLogKind::feeder_name: return 4 + 2 + 2;
        case AppLogKind::ready: return 2 + 2 + 4 + 4 + 4 + 4;
        case AppLogKind::socket_read:
        case AppLogKind::socket_write: return 4 + 2 + 2 + 8 + 4;
        case AppLogKind::socket_name: return 4 + 2 + 2 + 4 + 4 + 4;
    }
    return 0;
}

// Kinds whose fixed part is followed by a variable tail, and the longest tail each may
// carry (the payload limit bounds the byte-carrying ones).
constexpr bool has_bytes(AppLogKind kind) {
    return kind == AppLogKind::getrandom || kind == AppLogKind::device_read ||
           kind == AppLogKind::ready || kind == AppLogKind::socket_name;
}

constexpr size_t max_tail(AppLogKind kind) {
    switch (kind) {
        case AppLogKind::ready: return size_t(kMaxReadyFds) * kReadyFdWireSize;
        case AppLogKind::socket_name: return kMaxSocketAddressSize;
        default: return kMaxAppLogPayload;
    }
}

bool known_kind(uint8_t k) { return k >= 1 && k <= 12; }

uint32_t load_be32(const uint8_t* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

size_t payload_size(const AppLogEntry& entry) {
    const AppLogKind kind = app_log_kind(entry);
    size_t size = fixed_payload_size(kind);
    if (const auto* g = std::get_if<GetrandomEntry>(&entry)) size += g->bytes.size();
    if (const auto* d = std::get_if<DeviceReadEntry>(&entry)) size += d->bytes.size();
    if (const auto* r = std::get_if<ReadyEntry>(&entry)) size += r->fds.size();
    if (const auto* n = std::get_if<SocketNameEntry>(&entry)) size += n->address.size();
    return size;
}

void encode_payload(const AppLogEntry& entry, Writer& w) {
    std::visit(
        [&](const auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, ClockGettimeEntry>) {
                w.i32(e.clockid); w.i32(e.ret); w.i32(e.err); w.i64(e.sec); w.i64(e.nsec);
            } else if constexpr (std::is_same_v<T, GettimeofdayEntry>) {
                w.i32(e.ret); w.i32(e.err); w.i64(e.sec); w.i64(e.usec);
            } else if constexpr (std::is_same_v<T, TimeEntry>) {
                w.i64(e.t);
            } else if constexpr (std::is_same_v<T, GetpidEntry>) {
                w.i32(e.pid);
            } else if constexpr (std::is_same_v<T, AcceptEntry>) {
                w.i32(e.listen_fd); w.i32(e.ret); w.i32(e.err); w.u32(e.client_addr);
                w.u16(e.client_port); w.u16(0);
            } else if constexpr (std::is_same_v<T, FeederNameEntry>) {
                w.u32(e.client_addr); w.u16(e.client_port); w.u16(e.feeder_port);
            } else if constexpr (std::is_same_v<T, ReadyEntry>) {
                w.u16(uint16_t(e.call)); w.u16(0); w.i32(e.handle); w.i32(e.ret); w.i32(e.err);
                w.u32(uint32_t(e.count())); w.bytes(e.fds);
            } else if constexpr (std::is_same_v<T, SocketReadEntry> || std::is_same_v<T, SocketWriteEntry>) {
                w.i32(e.fd); w.u16(e.call); w.u16(0); w.i64(e.ret); w.i32(e.err);
            } else if constexpr (std::is_same_v<T, SocketNameEntry>) {
                w.i32(e.fd); w.u16(uint16_t(e.call)); w.u16(0); w.i32(e.ret); w.i32(e.err);
                w.u32(uint32_t(e.address.size())); w.bytes(e.address);
            } else {  // GetrandomEntry, DeviceReadEntry
                w.i64(e.ret); w.i32(e.err); w.bytes(e.bytes);
            }
        },
        entry);
}

// GETRANDOM and DEVICE_READ: ret is -1 or a count, and the bytes are exactly ret of
// them, so an entry can never claim more than it carries.
template <class T>
Result<T> decode_byte_result(AppLogKind kind, Reader& r) {
    T e;
    e.ret = r.i64();
    e.err = r.i32();
    e.bytes = r.rest();
    if (e.ret < -1) return fail("{} entry with invalid result {}", app_log_kind_name(kind), e.ret);
    const uint64_t expected = e.ret > 0 ? uint64_t(e.ret) : 0;
    if (e.bytes.size() != expected)
        return fail("{} entry returning {} carries {} bytes", app_log_kind_name(kind), e.ret,
                    e.bytes.size());
    return e;
}

Result<AppLogEntry> decode_payload(AppLogKind kind, std::span<const uint8_t> payload) {
    Reader r(payload);
    switch (kind) {
        case AppLogKind::clock_gettime: {
            ClockGettimeEntry e;
            e.clockid = r.i32(); e.ret = r.i32(); e.err = r.i32(); e.sec = r.i64(); e.nsec = r.i64();
            return e;
        }
        case AppLogKind::gettimeofday: {
            GettimeofdayEntry e;
            e.ret = r.i32(); e.err = r.i32(); e.sec = r.i64(); e.usec = r.i64();
            return e;
        }
        case AppLogKind::time: return TimeEntry{r.i64()};
        case AppLogKind::getpid: return GetpidEntry{r.i32()};
        case AppLogKind::getrandom: return decode_byte_result<GetrandomEntry>(kind, r);
        case AppLogKind::device_read: return decode_byte_result<DeviceReadEntry>(kind, r);
        case AppLogKind::accept: {
            AcceptEntry e;
            e.listen_fd = r.i32(); e.ret = r.i32(); e.err = r.i32(); e.client_addr = r.u32();
            e.client_port = r.u16();
            if (r.u16() != 0) return fail("accept entry with nonzero reserved bytes");
            if (e.ret < -1) return fail("accept entry with invalid result {}", e.ret);
            return e;
        }
        case AppLogKind::feeder_name: {
            FeederNameEntry e;
            e.client_addr = r.u32(); e.client_port = r.u16(); e.feeder_port = r.u16();
            return e;
        }
        case AppLogKind::ready: {
            ReadyEntry e;
            const uint16_t call = r.u16();
            if (r.u16() != 0) return fail("ready entry with nonzero reserved bytes");
            e.handle = r.i32(); e.ret = r.i32(); e.err = r.i32();
            const uint32_t count = r.u32();
            e.fds = r.rest();
            if (call < 1 || call > 3) return fail("ready entry for unknown call {}", call);
            e.call = ReadyCall(call);
            if (e.ret < -1) return fail("ready entry with invalid result {}", e.ret);
            if (count > kMaxReadyFds) return fail("ready entry with {} descriptors above {}", count, kMaxReadyFds);
            if (e.fds.size() != size_t(count) * kReadyFdWireSize)
                return fail("ready entry naming {} descriptors carries {} bytes", count, e.fds.size());
            // epoll and poll return the number of ready descriptors; select the number
            // of set bits, at least one per descriptor named.
            const bool exact = e.call != ReadyCall::select;
            if (e.ret == -1 ? count != 0 : (exact ? uint32_t(e.ret) != count : uint32_t(e.ret) < count))
                return fail("ready entry returning {} names {} descriptors", e.ret, count);
            return e;
        }
        case AppLogKind::socket_read:
        case AppLogKind::socket_write: {
            SocketIoEntry e;
            e.fd = r.i32(); e.call = r.u16();
            if (r.u16() != 0) return fail("{} entry with nonzero reserved bytes", app_log_kind_name(kind));
            e.ret = r.i64(); e.err = r.i32();
            if (e.call < 1 || e.call > kMaxSocketCall)
                return fail("{} entry for unknown call {}", app_log_kind_name(kind), e.call);
            if (e.ret < -1) return fail("{} entry with invalid result {}", app_log_kind_name(kind), e.ret);
            if (kind == AppLogKind::socket_read) return SocketReadEntry{e};
            return SocketWriteEntry{e};
        }
        case AppLogKind::socket_name: {
            SocketNameEntry e;
            e.fd = r.i32();
            const uint16_t call = r.u16();
            if (r.u16() != 0) return fail("socket-name entry with nonzero reserved bytes");
            e.ret = r.i32(); e.err = r.i32();
            const uint32_t size = r.u32();
            e.address = r.rest();
            if (call < 1 || call > 2) return fail("socket-name entry for unknown call {}", call);
            e.call = NameCall(call);
            if (e.ret != 0 && e.ret != -1) return fail("socket-name entry with invalid result {}", e.ret);
            if (e.address.size() != size)
                return fail("socket-name entry of a {}-byte address carries {} bytes", size, e.address.size());
            if (e.ret == -1 && size != 0) return fail("socket-name entry returning -1 carries an address");
            return e;
        }
    }
    return fail("entry of unknown kind {}", int(kind));
}

}  // namespace

AppLogKind app_log_kind(const AppLogEntry& entry) {
    static constexpr AppLogKind by_index[] = {
        AppLogKind::clock_gettime, AppLogKind::gettimeofday, AppLogKind::time,
        AppLogKind::getrandom,     AppLogKind::getpid,       AppLogKind::device_read,
        AppLogKind::accept,        AppLogKind::feeder_name,  AppLogKind::ready,
        AppLogKind::socket_read,   AppLogKind::socket_write, AppLogKind::socket_name};
    static_assert(std::size(by_index) == std::variant_size_v<AppLogEntry>);
    return by_index[entry.index()];
}

const char* app_log_kind_name(AppLogKind kind) {
    switch (kind) {
        case AppLogKind::clock_gettime: return "clock_gettime";
        case AppLogKind::gettimeofday: return "gettimeofday";
        case AppLogKind::time: return "time";
        case AppLogKind::getrandom: return "getrandom";
        case AppLogKind::getpid: return "getpid";
        case AppLogKind::device_read: return "device-read";
        case AppLogKind::accept: return "accept";
        case AppLogKind::feeder_name: return "feeder-name";
        case AppLogKind::ready: return "ready";
        case AppLogKind::socket_read: return "socket-read";
        case AppLogKind::socket_write: return "socket-write";
        case AppLogKind::socket_name: return "socket-name";
    }
    return "unknown";
}

const char* app_log_call_name(AppLogKind kind) {
    switch (kind) {
        case AppLogKind::device_read: return "a read of /dev/urandom or /dev/random";
        case AppLogKind::ready: return "epoll_wait, poll or select";
        case AppLogKind::socket_read: return "a read of a client connection";
        case AppLogKind::socket_write: return "a write to a client connection";
        case AppLogKind::socket_name: return "getpeername or getsockname";
        default: return app_log_kind_name(kind);
    }
}

ReadyFd ready_fd_at(const ReadyEntry& entry, size_t i) {
    const uint8_t* p = entry.fds.data() + i * kReadyFdWireSize;
    return {int32_t(load_be32(p)), load_be32(p + 4)};
}

void put_ready_fd(uint8_t* out, const ReadyFd& fd) {
    Writer w(out);
    w.i32(fd.fd);
    w.u32(fd.events);
}

size_t app_log_entry_size(const AppLogEntry& entry) { return kAppLogHeaderSize + payload_size(entry); }

size_t encode_app_log_entry(const AppLogEntry& entry, std::span<uint8_t> out) {
    Writer w(out.data());
    w.u8(uint8_t(app_log_kind(entry)));
    w.u8(0);   // flags
    w.u16(0);  // reserved
    w.u32(uint32_t(payload_size(entry)));
    encode_payload(entry, w);
    return w.written();
}

void encode_app_log_entry(const AppLogEntry& entry, std::vector<uint8_t>& out) {
    const size_t start = out.size();
    out.resize(start + app_log_entry_size(entry));
    encode_app_log_entry(entry, std::span(out).subspan(start));
}

Result<uint32_t> app_log_payload_length(std::span<const uint8_t, kAppLogHeaderSize> header) {
    const uint8_t kind = header[0];
    if (!known_kind(kind)) return fail("entry of unknown kind {}", kind);
    const char* name = app_log_kind_name(AppLogKind(kind));
    if (header[1] != 0 || header[2] != 0 || header[3] != 0)
        return fail("{} entry with nonzero flags or reserved bits", name);
    const uint32_t length = load_be32(&header[4]);
    if (length > kMaxAppLogPayload)
        return fail("{} entry with payload length {} above {}", name, length, kMaxAppLogPayload);
    const size_t fixed = fixed_payload_size(AppLogKind(kind));
    const bool tail_fits = length >= fixed && length - fixed <= max_tail(AppLogKind(kind)) &&
                           (AppLogKind(kind) != AppLogKind::ready || (length - fixed) % kReadyFdWireSize == 0);
    if (has_bytes(AppLogKind(kind)) ? !tail_fits : length != fixed)
        return fail("{} entry with invalid payload length {}", name, length);
    return length;
}

Result<std::optional<DecodedAppLogEntry>> decode_app_log_entry(std::span<const uint8_t> input) {
    // Check the header bytes that have arrived, so that garbage is refused as early
    // as possible instead of after waiting for a bogus length's worth.
    if (input.size() < kAppLogHeaderSize) {
        if (!input.empty() && !known_kind(input[0]))
            return fail("entry of unknown kind {}", input[0]);
        for (size_t i = 1; i < input.size() && i < 4; ++i)
            if (input[i] != 0)
                return fail("{} entry with nonzero flags or reserved bits",
                            app_log_kind_name(AppLogKind(input[0])));
        return std::nullopt;
    }
    auto length = app_log_payload_length(input.first<kAppLogHeaderSize>());
    if (!length) return std::unexpected(length.error());
    if (input.size() < kAppLogHeaderSize + *length) return std::nullopt;
    auto entry = decode_payload(AppLogKind(input[0]), input.subspan(kAppLogHeaderSize, *length));
    if (!entry) return std::unexpected(entry.error());
    return DecodedAppLogEntry{std::move(*entry), kAppLogHeaderSize + *length};
}

}  // namespace tcpfo

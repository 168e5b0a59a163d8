// A replication stream over a connected stream socket, whatever its protocol: framed
// records (record_codec.h) both ways. TcpLink (tcp_link.h) and SctpLink (sctp_link.h)
// are this with their socket's few differences (StreamSocketKind); everything above
// Link sees the same bytes on either. A corrupt record or a socket error
// closes the link with one log line; nothing of a bad record is applied.
//
// With a StreamAuth (peers that share a key), the records travel in authenticated
// frames (frame_auth.h): each end first sends its opening, records queued before the
// peer's opening arrives wait for it, and the records of a write batch go out as one
// frame. No record of a frame reaches on_record before the whole frame verified.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "userd/auth/frame_auth.h"
#include "userd/base/byte_queue.h"
#include "userd/base/event_loop.h"
#include "userd/base/tcp_socket.h"
#include "userd/protocol/record_codec.h"
#include "userd/transport/link.h"

namespace tcpfo {

// What differs between the stream protocols a StreamLink runs over.
struct StreamSocketKind {
    // Turns Nagle (or its SCTP equivalent, bundling delay) off: records are small and
    // each one matters now.
    int nodelay_level = 0, nodelay_option = 0;
    const char* nodelay_name = "";
    // The most one send() may carry: SCTP sends each send() as one whole message and
    // refuses one larger than the send buffer, where TCP takes what fits.
    size_t max_write = SIZE_MAX;
    // The transport's connect has not completed yet.
    bool (*connecting)(int fd) = nullptr;
};

class StreamLink : public Link {
public:
    ~StreamLink() override;

    void send(const Record& record) override;
    void flush() override;
    size_t queued_bytes() const override { return out_.size() + plain_.size(); }
    const LinkCounters& counters() const override { return counters_; }
    const std::string& name() const override { return name_; }
    bool closed() const override { return !fd_; }
    bool connecting() const override { return fd_ && kind_.connecting && kind_.connecting(fd_.get()); }
    uint64_t last_arrival_ms() const override { return last_arrival_ms_; }
    void close() override;

protected:
    // `fd` is a connected (or connecting) nonblocking stream socket of `kind`. `auth`:
    // null for an unauthenticated stream (no key configured).
    StreamLink(EventLoop& loop, UniqueFd fd, std::string name, Callbacks callbacks, std::unique_ptr<StreamAuth> auth,
               const StreamSocketKind& kind);
    // Sets the socket up and starts watching it; once, right after construction.
    Result<void> start();
    // A started link of type L (a StreamLink over a socket of `kind`; L names
    // StreamLink its friend): what each transport's open() returns.
    template <class L>
    static Result<std::unique_ptr<L>> open_as(EventLoop& loop, UniqueFd fd, std::string name, Callbacks callbacks,
                                              std::unique_ptr<StreamAuth> auth, const StreamSocketKind& kind) {
        std::unique_ptr<L> link(new L(loop, std::move(fd), std::move(name), std::move(callbacks), std::move(auth), kind));
        if (auto r = link->start(); !r) return std::unexpected(r.error());
        return link;
    }

private:
    void on_events(uint32_t events);
    void fail_link(const std::string& why);
    void update_interest();
    // Writes what the socket takes now; returns 0, or the errno of a failed send (not
    // EAGAIN), which only flush() acts on: no callback may run from send().
    int write_some();
    // Hands every whole record at the front of `bytes` to on_record; returns how many
    // bytes it consumed, or nullopt if the link failed (corrupt record, or closed).
    std::optional<size_t> deliver(std::span<const uint8_t> bytes);
    // The same for an authenticated stream: the peer's opening, then whole frames,
    // each verified before any of its records is handed on.
    std::optional<size_t> deliver_authenticated(std::span<const uint8_t> bytes);
    std::optional<size_t> consume(std::span<const uint8_t> bytes) {
        return auth_ ? deliver_authenticated(bytes) : deliver(bytes);
    }
    // Seals the records queued in plain_ into one frame in out_, once the session exists.
    void seal_pending();
    void fail_auth(const AuthError& error);
    void note_arrival(const msghdr& msg);

    EventLoop& loop_;
    const StreamSocketKind& kind_;
    UniqueFd fd_;
    std::string name_;
    Callbacks callbacks_;
    // Reads land here first: uninitialised, allocated once. Resizing the input queue by
    // a whole read chunk before each recv zero-filled 256 KiB per read, however few
    // bytes came (memset was among the daemons' top user-space symbols under load).
    std::unique_ptr<uint8_t[]> read_buf_;
    ByteQueue in_;  // a record that straddles reads, until its rest arrives
    ByteQueue out_;
    std::unique_ptr<StreamAuth> auth_;
    std::vector<uint8_t> plain_;  // authenticated streams: records not sealed yet
    bool want_write_ = false;
    uint64_t last_arrival_ms_ = 0;  // from the kernel's receive timestamps (SO_TIMESTAMPNS)
    LinkCounters counters_;
};

}  // namespace tcpfo

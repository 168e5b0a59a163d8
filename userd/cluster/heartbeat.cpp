#include "userd/cluster/heartbeat.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include "userd/base/inet_address.h"
#include "userd/base/log.h"

namespace tcpfo {

Result<std::unique_ptr<Heartbeat>> Heartbeat::open(EventLoop& loop, const sockaddr_in& listen,
                                                   std::vector<sockaddr_in> peers, NodeRole role) {
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return sys_fail(errno, "can't create heartbeat socket");
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&listen), sizeof listen) != 0)
        return sys_fail(errno, "can't bind heartbeat socket to {}", to_string(listen));
    std::unique_ptr<Heartbeat> hb(new Heartbeat(loop, std::move(fd), std::move(peers), role));
    Heartbeat* self = hb.get();
    if (auto r = loop.add(self->fd_.get(), EPOLLIN, [self](uint32_t) { self->on_readable(); }); !r)
        return std::unexpected(r.error());
    return hb;
}

Heartbeat::Heartbeat(EventLoop& loop, UniqueFd fd, std::vector<sockaddr_in> peers, NodeRole role)
    : loop_(loop), fd_(std::move(fd)), peers_(std::move(peers)),
      last_heard_ms_(peers_.size(), monotonic_ms()), role_(role) {}

Heartbeat::~Heartbeat() { loop_.remove(fd_.get()); }

void Heartbeat::send_all(uint64_t epoch) {
    out_.clear();
    encode_record(HeartbeatRecord{epoch, ++counter_, role_}, out_);
    for (const auto& peer : peers_) {
        // A lost heartbeat is what this mechanism measures; errors are not fatal.
        sendto(fd_.get(), out_.data(), out_.size(), MSG_DONTWAIT,
               reinterpret_cast<const sockaddr*>(&peer), sizeof peer);
    }
}

uint64_t Heartbeat::silence_ms(PeerId peer) const { return monotonic_ms() - last_heard_ms_[peer.index()]; }

void Heartbeat::heard_from(PeerId peer) {
    last_heard_ms_[peer.index()] = std::max(last_heard_ms_[peer.index()], monotonic_ms());
}

void Heartbeat::on_readable() {
    uint8_t buf[256];
    for (;;) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t n = recvfrom(fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n < 0) return;
        auto decoded = decode_record(std::span<const uint8_t>(buf, size_t(n)));
        const HeartbeatRecord* hb = nullptr;
        if (decoded && decoded->has_value()) hb = std::get_if<HeartbeatRecord>(&(*decoded)->record);
        // Heartbeats are only taken from the configured peers' addresses.
        size_t index = peers_.size();
        for (size_t i = 0; i < peers_.size(); ++i)
            if (peers_[i].sin_addr.s_addr == from.sin_addr.s_addr) index = i;
        if (!hb || index == peers_.size()) {
            if (refused_++ % 1000 == 0)
                log_warn("heartbeat: refused a datagram from {} (not a peer or not a heartbeat)", to_string(from));
            continue;
        }
        last_heard_ms_[index] = monotonic_ms();
        highest_epoch_ = std::max(highest_epoch_, hb->epoch);
    }
}

}  // namespace tcpfo

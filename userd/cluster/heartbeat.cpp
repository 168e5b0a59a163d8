#include "userd/cluster/heartbeat.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "userd/base/inet_address.h"
#include "userd/base/log.h"
#include "userd/base/scheduling.h"
#include "userd/base/privileges.h"

namespace tcpfo {

namespace {

void poke(int eventfd_fd) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(eventfd_fd, &one, sizeof one);
}

}  // namespace

Heartbeat::Config Heartbeat::Config::from(const Options& options, NodeRole role) {
    Config c;
    c.listen = options.listen;
    c.peers = options.peers;
    c.role = role;
    c.interval_ms = uint32_t(options.heartbeat_ms);
    c.realtime_priority = options.realtime_priority;
    c.keys = options.keys;
    return c;
}

Result<std::unique_ptr<Heartbeat>> Heartbeat::open(EventLoop& loop, Config config,
                                                   std::function<void(PeerId, uint64_t)> on_silent) {
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return sys_fail(errno, "can't create heartbeat socket");
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&config.listen), sizeof config.listen) != 0)
        return sys_fail(errno, "can't bind heartbeat socket to {}", to_string(config.listen));
    UniqueFd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    UniqueFd verdict(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!wake || !verdict) return sys_fail(errno, "can't create the heartbeat thread's eventfd");
    std::unique_ptr<Heartbeat> hb(new Heartbeat(std::move(config), std::move(fd), std::move(wake),
                                                std::move(verdict), loop, std::move(on_silent)));
    Heartbeat* self = hb.get();
    if (auto r = loop.add(self->verdict_.get(), EPOLLIN, [self](uint32_t) { self->on_verdict(); }); !r)
        return std::unexpected(r.error());
    self->thread_ = std::thread([self] { self->run(); });
    return hb;
}

Heartbeat::Heartbeat(Config config, UniqueFd fd, UniqueFd wake, UniqueFd verdict, EventLoop& loop,
                     std::function<void(PeerId, uint64_t)> on_silent)
    : config_(std::move(config)), fd_(std::move(fd)), wake_(std::move(wake)), verdict_(std::move(verdict)),
      loop_(loop), on_silent_(std::move(on_silent)), loop_tid_(gettid()),
      last_heard_ms_(new std::atomic<uint64_t>[config_.peers.size()]), role_(config_.role),
      highest_counter_(new uint64_t[config_.peers.size()]()) {
    const uint64_t now = monotonic_ms();
    turns_moved_ms_ = now;
    for (size_t i = 0; i < config_.peers.size(); ++i) last_heard_ms_[i].store(now);
}

Heartbeat::~Heartbeat() {
    stopping_.store(true);
    poke(wake_.get());
    if (thread_.joinable()) thread_.join();
    loop_.remove(verdict_.get());
}

void Heartbeat::judge(PeerId peer, uint64_t dead_ms) {
    dead_ms_.store(dead_ms, std::memory_order_relaxed);
    judged_peer_.store(peer.value, std::memory_order_release);
}

uint64_t Heartbeat::silence_ms(PeerId peer) const {
    const uint64_t now = monotonic_ms();
    const uint64_t heard = last_heard_ms_[peer.index()].load(std::memory_order_relaxed);
    return now > heard ? now - heard : 0;
}

void Heartbeat::heard_from(PeerId peer) { heard_from(peer, monotonic_ms()); }

void Heartbeat::heard_from(PeerId peer, uint64_t at_ms) {
    // Only forward: the thread may store a later time at the same moment.
    auto& slot = last_heard_ms_[peer.index()];
    uint64_t seen = slot.load(std::memory_order_relaxed);
    while (seen < at_ms && !slot.compare_exchange_weak(seen, at_ms, std::memory_order_relaxed)) {
    }
}

void Heartbeat::run() {
    raise_to_realtime(0, config_.realtime_priority, "the heartbeat thread");
    const uint64_t interval = config_.interval_ms;
    uint64_t next_send = monotonic_ms();
    uint64_t last_wakeup = 0;
    while (!stopping_.load()) {
        // Started before the daemon dropped its capabilities: drops them here too.
        follow_capability_drop();
        uint64_t now = monotonic_ms();
        if (now >= next_send) {
            // A wake-up more than two intervals after the previous one: this thread
            // did not run in between (see judge()).
            const bool late = last_wakeup != 0 && now - last_wakeup > 2 * interval;
            last_wakeup = now;
            receive_all();  // what is queued first: a silence is judged on fresh news
            send_all();
            judge_now(now, late);
            // The next tick on the interval's grid; after a pause, from now.
            next_send += interval;
            if (next_send <= now) next_send = now + interval;
        }
        pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
        now = monotonic_ms();
        const int timeout = next_send > now ? int(next_send - now) : 0;
        if (::poll(fds, 2, timeout) > 0 && (fds[0].revents & POLLIN)) receive_all();
    }
}

void Heartbeat::send_all() {
    // A wedged daemon must not look alive: its loop has not turned for a long time.
    // (The loop only counts its turns; the clock is read here, once per interval.)
    const uint64_t now = monotonic_ms();
    const uint64_t turns = main_turns_.load(std::memory_order_relaxed);
    if (turns != turns_seen_) {
        turns_seen_ = turns;
        turns_moved_ms_ = now;
    }
    if (now - turns_moved_ms_ > config_.main_stall_ms) return;
    // Above every counter this node sent before, also before a restart: its receivers
    // keep the highest they took and drop the rest as replays.
    counter_ = std::max(counter_ + 1, realtime_us());
    std::vector<uint8_t> record;
    record.reserve(64);
    encode_record(HeartbeatRecord{epoch_.load(std::memory_order_relaxed), counter_,
                                  role_.load(std::memory_order_relaxed)},
                  record);
    std::vector<uint8_t> sealed;
    if (config_.keys) {
        sealed.reserve(128);
        seal_heartbeat(config_.keys->view(now)->sending, config_.listen.sin_addr.s_addr, counter_, record, sealed);
    }
    const std::vector<uint8_t>& out = config_.keys ? sealed : record;
    for (const auto& peer : config_.peers) {
        // A lost heartbeat is what this mechanism measures; errors are not fatal.
        sendto(fd_.get(), out.data(), out.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&peer),
               sizeof peer);
    }
}

void Heartbeat::receive_all() {
    uint8_t buf[256];
    for (;;) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t n = recvfrom(fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n < 0) return;
        const uint64_t now = monotonic_ms();
        auto drop = [&](AuthDrop kind, std::string why) { drops_.note(to_string(from), from.sin_addr.s_addr,
                                                                      AuthError{kind, std::move(why)}, now); };
        // Heartbeats are only taken from the configured peers' addresses.
        size_t index = config_.peers.size();
        for (size_t i = 0; i < config_.peers.size(); ++i)
            if (config_.peers[i].sin_addr.s_addr == from.sin_addr.s_addr) index = i;
        if (index == config_.peers.size()) {
            drop(AuthDrop::stranger, "not a configured peer's address");
            continue;
        }
        std::span<const uint8_t> payload(buf, size_t(n));
        uint64_t counter = 0;
        if (config_.keys) {
            auto opened = open_heartbeat(*config_.keys->view(now), from.sin_addr.s_addr, payload);
            if (!opened) {
                drops_.note(to_string(from), from.sin_addr.s_addr, opened.error(), now);
                continue;
            }
            if (opened->counter <= highest_counter_[index]) {
                drop(AuthDrop::replayed, fmt::format("heartbeat {} is not above {}, the highest taken (replayed)",
                                                     opened->counter, highest_counter_[index]));
                continue;
            }
            payload = opened->payload;
            counter = opened->counter;
        }
        auto decoded = decode_record(payload);
        const HeartbeatRecord* hb = nullptr;
        if (decoded && decoded->has_value() && (*decoded)->size == payload.size())
            hb = std::get_if<HeartbeatRecord>(&(*decoded)->record);
        if (!hb) {
            drop(AuthDrop::garbage, "not a heartbeat record");
            continue;
        }
        if (config_.keys) highest_counter_[index] = counter;
        heard_from(PeerId{uint16_t(index)});
        uint64_t seen = highest_epoch_.load(std::memory_order_relaxed);
        while (seen < hb->epoch && !highest_epoch_.compare_exchange_weak(seen, hb->epoch)) {
        }
    }
}

void Heartbeat::judge_now(uint64_t now, bool this_wakeup_was_late) {
    const uint32_t peer = judged_peer_.load(std::memory_order_acquire);
    if (peer == kNoPeer) return;
    if (this_wakeup_was_late && judge_after_ms_ <= now) {
        judge_after_ms_ = now + config_.interval_ms;
        log_debug("heartbeat: this node's tick came late; peer {} is judged in {} ms", to_string(config_.peers[peer]),
                  config_.interval_ms);
        return;
    }
    if (now < judge_after_ms_) return;
    const uint64_t silence = silence_ms(PeerId{uint16_t(peer)});
    if (silence <= dead_ms_.load(std::memory_order_relaxed)) return;
    // One verdict per judge(): the owner re-arms if it wants another.
    uint32_t expected = peer;
    if (!judged_peer_.compare_exchange_strong(expected, kNoPeer)) return;
    verdict_silence_ms_.store(silence, std::memory_order_relaxed);
    verdict_peer_.store(peer, std::memory_order_release);
    // What the verdict starts must not wait for the CPU behind the services.
    raise_to_realtime(loop_tid_, config_.realtime_priority, "the daemon's loop");
    poke(verdict_.get());
}

void Heartbeat::on_verdict() {
    uint64_t count = 0;
    [[maybe_unused]] ssize_t n = ::read(verdict_.get(), &count, sizeof count);
    const uint32_t peer = verdict_peer_.exchange(kNoPeer, std::memory_order_acquire);
    if (peer == kNoPeer || !on_silent_) return;
    on_silent_(PeerId{uint16_t(peer)}, verdict_silence_ms_.load(std::memory_order_relaxed));
}

}  // namespace tcpfo

#include "userd/cluster/heartbeat.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
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
#include "userd/cluster/stalled_campaign.h"

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
    c.listen_second = options.listen_second;
    c.peers = options.peers;
    c.peers_second = options.peers_second;
    c.peers_second.resize(c.peers.size());
    c.role = role;
    c.interval_ms = uint32_t(options.heartbeat_ms);
    c.realtime_priority = options.realtime_priority;
    c.keys = options.keys;
    // A witness hears the primary's heartbeats too, and answers them (the last peer).
    if (options.witness) {
        c.peers.push_back(*options.witness);
        c.peers_second.push_back(std::nullopt);
    }
    c.lease_enforced = options.lease_enforced;
    c.lease_ms = uint32_t(options.lease_ms);
    c.quorum = options.quorum;
    if (options.cluster) {
        c.node_id = options.cluster->own_id;
        c.priority = options.cluster->own_priority;
    }
    return c;
}

namespace {

Result<UniqueFd> open_heartbeat_socket(const sockaddr_in& at) {
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return sys_fail(errno, "can't create heartbeat socket");
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0)
        return sys_fail(errno, "can't bind heartbeat socket to {}", to_string(at));
    return fd;
}

}  // namespace

Result<std::unique_ptr<Heartbeat>> Heartbeat::open(EventLoop& loop, Config config, Callbacks callbacks) {
    config.peers_second.resize(config.peers.size());
    auto fd = open_heartbeat_socket(config.listen);
    if (!fd) return std::unexpected(fd.error());
    UniqueFd fd_second;
    if (config.listen_second) {
        auto second = open_heartbeat_socket(*config.listen_second);
        if (!second) return std::unexpected(second.error());
        fd_second = std::move(*second);
    }
    UniqueFd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    UniqueFd verdict(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!wake || !verdict) return sys_fail(errno, "can't create the heartbeat thread's eventfd");
    std::unique_ptr<Heartbeat> hb(new Heartbeat(std::move(config), std::move(*fd), std::move(fd_second),
                                                std::move(wake), std::move(verdict), loop, std::move(callbacks)));
    Heartbeat* self = hb.get();
    if (auto r = loop.add(self->verdict_.get(), EPOLLIN, [self](uint32_t) { self->on_verdict(); }); !r)
        return std::unexpected(r.error());
    self->thread_ = std::thread([self] { self->run(); });
    // Real-time from its first turn, not only once it has run far enough to raise
    // itself: a new thread starts under the daemon's normal scheduling, and on the loaded
    // test machine a new primary's heartbeat thread first ran (and sent) ~50 ms after its
    // creation, while the loop had already greeted the backups over the streams: they
    // judged it dead 30-40 ms after the hello and elected another node before anything
    // had failed (a capture on the primary's link showed no heartbeat from it in that
    // window). A failure here is said by the thread's own attempt (run()).
    if (self->config_.realtime_priority > 0) {
        sched_param param{};
        param.sched_priority = self->config_.realtime_priority;
        pthread_setschedparam(self->thread_.native_handle(), SCHED_FIFO, &param);
    }
    return hb;
}

Heartbeat::Heartbeat(Config config, UniqueFd fd, UniqueFd fd_second, UniqueFd wake, UniqueFd verdict,
                     EventLoop& loop, Callbacks callbacks)
    : config_(std::move(config)), fd_(std::move(fd)), fd_second_(std::move(fd_second)), wake_(std::move(wake)),
      verdict_(std::move(verdict)),
      loop_(loop), callbacks_(std::move(callbacks)), loop_tid_(gettid()),
      last_heard_ms_(new std::atomic<uint64_t>[config_.peers.size()]), role_(config_.role),
      highest_counter_(new uint64_t[2 * config_.peers.size()]()),
      newest_taken_(new uint64_t[config_.peers.size()]()),
      voter_(config_.lease_ms, monotonic_ms()), lease_(config_.peers.size(), config_.quorum, config_.lease_ms),
      votes_(config_.peers.size(), false), peer_views_(config_.peers.size()) {
    const uint64_t now = monotonic_ms();
    for (size_t i = 0; i < config_.peers.size(); ++i) peer_views_[i].address = config_.peers[i];
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

bool Heartbeat::may_follow(PeerId peer, uint64_t dead_ms) const {
    if (silence_ms(peer) > dead_ms) return false;
    std::lock_guard lock(peer_views_mutex_);
    const PeerView& v = peer_views_[peer.index()];
    return v.heard && v.role != NodeRole::primary;
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
            // The loop asked for a campaign (or called it off).
            const uint64_t wanted = campaign_from_.load(std::memory_order_relaxed);
            if (wanted == 0) {
                campaign_running_ = 0;
            } else if (campaign_running_ == 0) {
                start_campaign_at(std::max(wanted, voter_.epoch() + 1), now);
            } else {
                retry_stalled_campaign(now);
            }
            count_votes(now);  // no voter needed (two-node), or this node's own vote came due
            send_all();
            judge_now(now, late);
            // The next tick on the interval's grid; after a pause, from now.
            next_send += interval;
            if (next_send <= now) next_send = now + interval;
        }
        // fd -1 (no second address) is ignored by poll.
        pollfd fds[3] = {{fd_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}, {fd_second_.get(), POLLIN, 0}};
        now = monotonic_ms();
        const int timeout = next_send > now ? int(next_send - now) : 0;
        if (::poll(fds, 3, timeout) > 0) {
            if ((fds[0].revents | fds[2].revents) & POLLIN) receive_all();
            if (fds[1].revents & POLLIN) {
                // Asked to act now (a planned handover's vote or candidacy): this turn
                // is a tick.
                uint64_t ignored;
                [[maybe_unused]] ssize_t n = ::read(wake_.get(), &ignored, sizeof ignored);
                next_send = monotonic_ms();
            }
        }
    }
}

void Heartbeat::next_counter() {
    // Above every counter this node sent before, also before a restart: its receivers
    // keep the highest they took and drop the rest as replays. Both paths' copies
    // carry the same counter: the receiver takes whichever comes first.
    counter_ = std::max(counter_ + 1, realtime_us());
}

void Heartbeat::send_record(Record record, size_t index, uint64_t now) {
    next_counter();
    // A heartbeat carries the frame's counter (docs/protocol.md, "Authentication").
    if (auto* hb = std::get_if<HeartbeatRecord>(&record)) hb->counter = counter_;
    std::vector<uint8_t> encoded;
    encoded.reserve(64);
    encode_record(record, encoded);
    send_encoded(encoded, index, now);
}

void Heartbeat::send_encoded(const std::vector<uint8_t>& encoded, size_t index, uint64_t now) {
    send_on(fd_.get(), config_.listen.sin_addr.s_addr, encoded, config_.peers[index], now);
    if (fd_second_ && config_.peers_second[index])
        send_on(fd_second_.get(), config_.listen_second->sin_addr.s_addr, encoded, *config_.peers_second[index], now);
}

void Heartbeat::send_on(int fd, uint32_t from_address, const std::vector<uint8_t>& encoded, const sockaddr_in& to,
                        uint64_t now) {
    std::vector<uint8_t> sealed;
    if (config_.keys) {
        // Sealed for the address it leaves from: the receiver checks the source.
        sealed.reserve(128);
        seal_heartbeat(config_.keys->view(now)->sending, from_address, counter_, encoded, sealed);
    }
    const std::vector<uint8_t>& out = config_.keys ? sealed : encoded;
    // A lost datagram is what this mechanism measures; errors are not fatal.
    sendto(fd, out.data(), out.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to), sizeof to);
}

void Heartbeat::send_all() {
    const uint64_t now = monotonic_ms();
    const uint32_t self = config_.listen.sin_addr.s_addr;
    const NodeRole role = role_.load(std::memory_order_relaxed);
    // A wedged daemon must not look alive: its loop has not turned for a long time.
    // (The loop only counts its turns; the clock is read here, once per interval.)
    const uint64_t turns = main_turns_.load(std::memory_order_relaxed);
    if (turns != turns_seen_) {
        turns_seen_ = turns;
        turns_moved_ms_ = now;
    }
    wedged_ = now - turns_moved_ms_ > config_.main_stall_ms;
    if (wedged_) return;
    // Once a second or on a change (the loop decides): a bounded copy-free send.
    if (report_fresh_.load(std::memory_order_acquire)) send_report(now);
    // A witness only answers.
    if (role == NodeRole::witness) return;
    uint64_t epoch = epoch_.load(std::memory_order_relaxed);
    HeartbeatRecord hb{epoch, 0, role, config_.lease_ms, now};
    hb.node_id = uint8_t(config_.node_id);
    hb.priority = uint8_t(config_.priority);
    if (role == NodeRole::backup) {
        hb.log_position = log_position_.load(std::memory_order_relaxed);
        hb.log_epoch = log_epoch_.load(std::memory_order_relaxed);
        hb.holds_every_connection = holds_all_.load(std::memory_order_relaxed);
    }
    if (role == NodeRole::primary) {
        if (silent_.load(std::memory_order_relaxed)) return;
        // The lease ran out: the hooks drop the egress already (their deadline); the
        // loop removes the VIP. This node goes on asking: a quorum that grants it this
        // epoch again has elected nobody else since (any two majorities share a voter,
        // and that voter would refuse this epoch, or this node's own voter would have
        // granted a higher one), so it may speak again (lease_acquired).
        if (config_.lease_enforced && lease_.lapsed(now) && lease_announced_) {
            lease_announced_ = false;
            post(ClusterEvent::lease_lapsed, epoch);
        }
        // This node's own vote: it promises itself not to vote for another until its
        // own lease could have run out.
        const bool granted = voter_.on_request(epoch, self, now).granted;
        publish_voter();
        if (!granted && (voter_.epoch() > epoch || (voter_.epoch() == epoch && voter_.granted_to() != 0 && voter_.granted_to() != self))) {
            // This node's voter granted a higher epoch (or this one to another node).
            silent_.store(true, std::memory_order_relaxed);
            post(ClusterEvent::higher_epoch, voter_.epoch());
            return;
        }
        // Not granted yet (a voter that just started does not know what it promised
        // before: Voter): it heartbeats all the same, or its backup would take the
        // silence for a death, but counts no grant toward a lease until its own vote
        // is in (on_lease_reply).
        self_granted_ = granted;
    } else if (campaign_running_ != 0) {
        // A better candidate campaigns: this one stands aside (heartbeats as a plain
        // backup, so that the promises voters made it run out) while that one is heard.
        const uint32_t better = better_candidate(now);
        deferring_to_.store(better, std::memory_order_relaxed);
        if (better == 0) {
            hb.role = NodeRole::candidate;
            hb.epoch = campaign_running_;
        } else {
            deferrals_.fetch_add(1, std::memory_order_relaxed);
        }
    }
    if (campaign_running_ == 0) deferring_to_.store(0, std::memory_order_relaxed);
    for (size_t i = 0; i < config_.peers.size(); ++i) send_record(hb, i, now);
}

ElectionRank Heartbeat::own_rank() const {
    return {log_epoch_.load(std::memory_order_relaxed), holds_all_.load(std::memory_order_relaxed),
            log_position_.load(std::memory_order_relaxed),
            config_.priority, config_.node_id};
}

namespace {
ElectionRank rank_of(const HeartbeatRecord& hb) {
    return {hb.log_epoch, hb.holds_every_connection, hb.log_position, hb.priority, hb.node_id};
}
}  // namespace

uint32_t Heartbeat::better_candidate(uint64_t now) {
    // Heard within the detection time: a candidate that died is deferred to no longer.
    const uint64_t dead = std::max<uint64_t>(dead_ms_.load(std::memory_order_relaxed), 3 * config_.interval_ms);
    const uint64_t known = epoch_.load(std::memory_order_relaxed);
    const ElectionRank own = own_rank();
    std::lock_guard lock(peer_views_mutex_);
    for (size_t i = 0; i < peer_views_.size(); ++i) {
        const PeerView& v = peer_views_[i];
        if (!v.heard || v.role != NodeRole::candidate) continue;
        // A candidate for an epoch no higher than this node knows is behind it (its log
        // is of an older stream): nothing to compare.
        if (v.epoch <= known) continue;
        const uint64_t heard = last_heard_ms_[i].load(std::memory_order_relaxed);
        if (now > heard && now - heard > dead) continue;
        if (outranks(ElectionRank{v.log_epoch, v.holds_every_connection, v.log_position, v.priority, v.node_id}, own))
            return v.address.sin_addr.s_addr;
    }
    return 0;
}

void Heartbeat::post(ClusterEvent event, uint64_t epoch) {
    event_epoch_.store(epoch, std::memory_order_relaxed);
    pending_events_.fetch_or(1u << unsigned(event), std::memory_order_release);
    if (event == ClusterEvent::elected)
        raise_to_realtime(loop_tid_, config_.realtime_priority, "the daemon's loop");
    poke(verdict_.get());
}

void Heartbeat::publish_voter() {
    voter_epoch_.store(voter_.epoch(), std::memory_order_relaxed);
    voter_granted_to_.store(voter_.granted_to(), std::memory_order_relaxed);
    voter_promised_until_.store(voter_.promised_until_ms(), std::memory_order_relaxed);
    voter_grants_.store(voter_.grants(), std::memory_order_relaxed);
    voter_refusals_.store(voter_.refusals(), std::memory_order_relaxed);
}

void Heartbeat::publish_report(const NodeReportRecord& report) {
    std::lock_guard lock(report_mutex_);
    report_encoded_.clear();
    encode_record(report, report_encoded_);
    report_fresh_.store(true, std::memory_order_release);
}

void Heartbeat::send_report(uint64_t now) {
    {
        // Never waits for the loop: it holds the lock only to encode one record.
        std::unique_lock lock(report_mutex_, std::try_to_lock);
        if (!lock) return;
        report_sending_.swap(report_encoded_);
        report_fresh_.store(false, std::memory_order_relaxed);
    }
    next_counter();
    for (size_t i = 0; i < config_.peers.size(); ++i) send_encoded(report_sending_, i, now);
}

void Heartbeat::on_report(size_t index, const NodeReportRecord& report, uint64_t now) {
    // Copied once a second per peer, outside the lock the status takes too (the loop
    // copying the views under it must not keep this real-time thread waiting long).
    std::shared_ptr<const NodeReportRecord> fresh = std::make_shared<NodeReportRecord>(report);
    {
        std::lock_guard lock(peer_views_mutex_);
        peer_views_[index].report.swap(fresh);
        peer_views_[index].report_heard_ms = now;
    }
    // `fresh` now holds the previous one: freed here, after the lock.
}

void Heartbeat::publish_lease() {
    const uint64_t until = lease_.held_until_ms();
    if (until != lease_until_ms_.load(std::memory_order_relaxed))
        lease_renewed_ms_.store(monotonic_ms(), std::memory_order_relaxed);
    lease_until_ms_.store(until, std::memory_order_relaxed);
    if (callbacks_.on_lease_deadline) callbacks_.on_lease_deadline(until);
    if (!lease_announced_ && role_.load(std::memory_order_relaxed) == NodeRole::primary && !lease_.lapsed(monotonic_ms())) {
        lease_announced_ = true;
        post(ClusterEvent::lease_acquired, epoch_.load(std::memory_order_relaxed));
    }
}

void Heartbeat::start_campaign_at(uint64_t epoch, uint64_t now) {
    campaign_running_ = epoch;
    campaign_started_ms_ = now;
    campaign_epoch_.store(campaign_running_, std::memory_order_relaxed);
    std::fill(votes_.begin(), votes_.end(), false);
    lease_.reset();
}

void Heartbeat::retry_stalled_campaign(uint64_t now) {
    // The rule and why: stalled_campaign.h.
    const StalledCampaign campaign{campaign_started_ms_, campaign_running_, voter_.epoch(), voter_.granted_to(),
                                   config_.listen.sin_addr.s_addr};
    const CampaignTiming timing{config_.lease_ms, config_.interval_ms, config_.node_id};
    if (auto epoch = retry_epoch(campaign, timing, now)) start_campaign_at(*epoch, now);
}

void Heartbeat::campaign(uint64_t known_epoch, bool at_once) {
    campaign_from_.store(known_epoch + 1, std::memory_order_relaxed);
    if (at_once) poke(wake_.get());
}

void Heartbeat::hand_over(uint64_t epoch) {
    silent_.store(true, std::memory_order_relaxed);
    release_vote_of(config_.listen.sin_addr.s_addr, epoch);
}

void Heartbeat::release_vote_of(uint32_t address, uint64_t epoch) {
    release_epoch_.store(epoch, std::memory_order_relaxed);
    release_node_.store(address, std::memory_order_release);
    poke(wake_.get());
}

void Heartbeat::apply_release() {
    const uint32_t node = release_node_.exchange(0, std::memory_order_acquire);
    if (node == 0) return;
    if (voter_.release(release_epoch_.load(std::memory_order_relaxed), node)) publish_voter();
}

void Heartbeat::count_votes(uint64_t now) {
    if (campaign_running_ == 0) return;
    const uint32_t self = config_.listen.sin_addr.s_addr;
    // This node's own vote is given last: until a quorum elects it, it goes on
    // answering the primary it knew (and so cannot vote for itself while it hears it).
    if (!voter_.would_grant(campaign_running_, self, now)) return;
    size_t granted = 1;
    for (bool v : votes_) granted += v ? 1 : 0;
    if (config_.lease_enforced && granted < config_.quorum) return;
    voter_.on_request(campaign_running_, self, now);
    publish_voter();
    const uint64_t won = campaign_running_;
    campaign_running_ = 0;
    campaign_from_.store(0, std::memory_order_relaxed);
    epoch_.store(won, std::memory_order_relaxed);
    role_.store(NodeRole::primary, std::memory_order_relaxed);
    silent_.store(false, std::memory_order_relaxed);
    // The grants were answers to this node's candidate heartbeats: its lease as the
    // new primary starts from them.
    lease_announced_ = true;  // elected says it
    if (config_.lease_enforced) publish_lease();
    post(ClusterEvent::elected, won);
}

void Heartbeat::receive_all() {
    // A vote given back counts before any candidacy that came after it is answered.
    apply_release();
    receive_from(fd_.get(), 0);
    if (fd_second_) receive_from(fd_second_.get(), 1);
}

void Heartbeat::receive_from(int fd, size_t path) {
    // A NODE_REPORT is the largest datagram: 16 + 776 bytes, 52 more sealed.
    uint8_t buf[2048];
    for (;;) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n < 0) return;
        const uint64_t now = monotonic_ms();
        auto drop = [&](AuthDrop kind, std::string why) { drops_.note(to_string(from), from.sin_addr.s_addr,
                                                                      AuthError{kind, std::move(why)}, now); };
        // Heartbeats are only taken from the configured peers' addresses.
        size_t index = config_.peers.size();
        for (size_t i = 0; i < config_.peers.size(); ++i)
            if (config_.peers[i].sin_addr.s_addr == from.sin_addr.s_addr ||
                (config_.peers_second[i] && config_.peers_second[i]->sin_addr.s_addr == from.sin_addr.s_addr))
                index = i;
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
            // Replays are judged per path: a datagram is sealed for the address it left
            // from, so one path's cannot be replayed on the other, and the paths may
            // deliver out of order between them.
            const uint64_t highest = highest_counter_[2 * index + path];
            if (opened->counter <= highest) {
                drop(AuthDrop::replayed, fmt::format("heartbeat {} is not above {}, the highest taken (replayed)",
                                                     opened->counter, highest));
                continue;
            }
            payload = opened->payload;
            counter = opened->counter;
        }
        auto decoded = decode_record(payload);
        const HeartbeatRecord* hb = nullptr;
        const LeaseReplyRecord* reply = nullptr;
        const NodeReportRecord* report = nullptr;
        if (decoded && decoded->has_value() && (*decoded)->size == payload.size()) {
            hb = std::get_if<HeartbeatRecord>(&(*decoded)->record);
            reply = std::get_if<LeaseReplyRecord>(&(*decoded)->record);
            report = std::get_if<NodeReportRecord>(&(*decoded)->record);
        }
        if (!hb && !reply && !report) {
            drop(AuthDrop::garbage, decoded ? "not a heartbeat, lease reply or node report record"
                                            : "not a valid record: " + decoded.error().message);
            continue;
        }
        if (config_.keys) highest_counter_[2 * index + path] = counter;
        // A peer with two paths sends each datagram on both with one counter (the
        // frame's; unauthenticated, a heartbeat's own): the copy that comes second,
        // or an older datagram one path delivers after a newer one came on the other,
        // tells nothing new and is ignored, not dropped.
        const uint64_t order = config_.keys ? counter : hb ? hb->counter : 0;
        if (config_.peers_second[index] && order != 0) {
            if (order <= newest_taken_[index]) continue;
            newest_taken_[index] = order;
        }
        heard_from(PeerId{uint16_t(index)});
        if (hb) on_heartbeat(index, *hb, now);
        else if (reply) on_lease_reply(index, *reply, now);
        else on_report(index, *report, now);
    }
}

void Heartbeat::on_heartbeat(size_t index, const HeartbeatRecord& hb, uint64_t now) {
    uint64_t seen = highest_epoch_.load(std::memory_order_relaxed);
    while (seen < hb.epoch && !highest_epoch_.compare_exchange_weak(seen, hb.epoch)) {
    }
    {
        std::lock_guard lock(peer_views_mutex_);
        PeerView& v = peer_views_[index];
        v.heard = true;
        v.role = hb.role;
        v.epoch = hb.epoch;
        v.node_id = hb.node_id;
        v.priority = hb.priority;
        v.log_position = hb.log_position;
        v.log_epoch = hb.log_epoch;
        v.holds_every_connection = hb.holds_every_connection;
    }
    // A wedged daemon answers nothing either (not answering never grants anything).
    if (wedged_ || (hb.role != NodeRole::primary && hb.role != NodeRole::candidate)) return;
    // Every primary's and candidate's heartbeat is answered, granted or not: a refusal
    // tells a stale primary the epoch that replaced it.
    const sockaddr_in& from = config_.peers[index];  // its first address, whichever path brought it
    // A candidate for an epoch below the one this node now campaigns for (it moved on
    // from a stalled one: retry_stalled_campaign) is refused rather than granted again:
    // a grant would renew the promise that keeps this node from voting for itself.
    // Its own vote stands; the refusal names that epoch, and the candidate moves on too.
    const bool stale_candidacy = hb.role == NodeRole::candidate && campaign_running_ > hb.epoch;
    const Voter::Answer answer = stale_candidacy || outranks_candidate(hb)
                                     ? Voter::Answer{false, voter_.epoch()}
                                     : voter_.on_request(hb.epoch, from.sin_addr.s_addr, now, hb.lease_ms);
    publish_voter();
    send_record(LeaseReplyRecord{answer.epoch, hb.sent_ms, std::max(config_.lease_ms, hb.lease_ms), answer.granted},
                index, now);
    // Another primary of a higher epoch: this one is stale.
    if (hb.role == NodeRole::primary && role_.load(std::memory_order_relaxed) == NodeRole::primary &&
        hb.epoch > epoch_.load(std::memory_order_relaxed) && !silent_.exchange(true)) {
        post(ClusterEvent::higher_epoch, hb.epoch);
    }
}

bool Heartbeat::outranks_candidate(const HeartbeatRecord& hb) {
    if (hb.role != NodeRole::candidate || role_.load(std::memory_order_relaxed) != NodeRole::backup) return false;
    if (!fit_to_lead_.load(std::memory_order_relaxed)) return false;
    const ElectionRank own = own_rank();
    if (!outranks(own, rank_of(hb))) return false;
    outranked_refusals_.fetch_add(1, std::memory_order_relaxed);
    return true;
}

void Heartbeat::on_lease_reply(size_t index, const LeaseReplyRecord& reply, uint64_t now) {
    const uint64_t epoch = epoch_.load(std::memory_order_relaxed);
    if (role_.load(std::memory_order_relaxed) == NodeRole::primary) {
        if (silent_.load(std::memory_order_relaxed)) return;
        if (!reply.granted && reply.epoch > epoch) {
            // A voter granted a higher epoch: another node was (or is being) elected.
            silent_.store(true, std::memory_order_relaxed);
            post(ClusterEvent::higher_epoch, reply.epoch);
            return;
        }
        if (reply.granted && reply.epoch == epoch && config_.lease_enforced && self_granted_ &&
            lease_.on_grant(index, reply.echoed_ms) && lease_.held(now))
            publish_lease();
        return;
    }
    if (campaign_running_ == 0) return;
    if (reply.granted && reply.epoch == campaign_running_) {
        votes_[index] = true;
        lease_.on_grant(index, reply.echoed_ms);
        count_votes(now);
    } else if (!reply.granted && reply.epoch >= campaign_running_) {
        // Another candidate got that epoch from this voter: ask for the next one.
        start_campaign_at(reply.epoch + 1, now);
    }
}

std::vector<Heartbeat::PeerView> Heartbeat::peer_views() const {
    std::vector<PeerView> views;
    {
        std::lock_guard lock(peer_views_mutex_);
        views = peer_views_;
    }
    const uint64_t now = monotonic_ms();
    for (size_t i = 0; i < views.size(); ++i) {
        views[i].silence_ms = silence_ms(PeerId{uint16_t(i)});
        if (views[i].report) views[i].report_age_ms = now > views[i].report_heard_ms ? now - views[i].report_heard_ms : 0;
    }
    return views;
}

Heartbeat::LeaseView Heartbeat::lease_view() const {
    LeaseView v;
    v.enforced = config_.lease_enforced;
    v.quorum = config_.quorum;
    v.lease_ms = config_.lease_ms;
    v.until_ms = lease_until_ms_.load(std::memory_order_relaxed);
    v.renewed_ms = lease_renewed_ms_.load(std::memory_order_relaxed);
    v.silent = silent_.load(std::memory_order_relaxed);
    v.campaign_epoch = campaigning() ? campaign_epoch_.load(std::memory_order_relaxed) : 0;
    v.voter_epoch = voter_epoch_.load(std::memory_order_relaxed);
    v.voter_granted_to = voter_granted_to_.load(std::memory_order_relaxed);
    v.promised_until_ms = voter_promised_until_.load(std::memory_order_relaxed);
    v.grants = voter_grants_.load(std::memory_order_relaxed);
    v.refusals = voter_refusals_.load(std::memory_order_relaxed);
    v.outranked_refusals = outranked_refusals_.load(std::memory_order_relaxed);
    v.deferring_to = deferring_to_.load(std::memory_order_relaxed);
    v.deferrals = deferrals_.load(std::memory_order_relaxed);
    return v;
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
    const uint32_t events = pending_events_.exchange(0, std::memory_order_acquire);
    if (events != 0 && callbacks_.on_cluster) {
        const uint64_t epoch = event_epoch_.load(std::memory_order_relaxed);
        for (ClusterEvent e : {ClusterEvent::lease_acquired, ClusterEvent::elected, ClusterEvent::higher_epoch,
                               ClusterEvent::lease_lapsed})
            if (events & (1u << unsigned(e))) callbacks_.on_cluster(e, epoch);
    }
    const uint32_t peer = verdict_peer_.exchange(kNoPeer, std::memory_order_acquire);
    if (peer == kNoPeer || !callbacks_.on_silent) return;
    callbacks_.on_silent(PeerId{uint16_t(peer)}, verdict_silence_ms_.load(std::memory_order_relaxed));
}

}  // namespace tcpfo

#include "userd/takeover/takeover.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/epoll.h>

#include "userd/base/log.h"
#include "userd/protocol/conn_key.h"
#include "userd/takeover/repair_plan.h"

namespace tcpfo {

namespace {

// How long the replica may take to read the log's tail before we rebuild anyway.
// Rebuilding does not need the replica to have caught up (the splice skips output
// the client already has); waiting only makes the first bytes after takeover come
// from a warm replica.
constexpr uint64_t kDrainBudgetMs = 50;
// A failed VIP claim is tried again this often, for as long as it takes: without the
// VIP no connection and no new client can reach this node.
constexpr uint64_t kClaimRetryMs = 10;
// Claim failures logged: the first, then one line per this many attempts.
constexpr size_t kClaimLogEvery = 100;

}  // namespace

const char* step_name(Takeover::Step step) {
    switch (step) {
        case Takeover::Step::draining: return "draining";
        case Takeover::Step::rebuilding: return "rebuilding";
        case Takeover::Step::claiming: return "claiming";
        case Takeover::Step::serving: return "serving";
    }
    return "?";
}

Takeover::Takeover(Context context, FeedTable feeds, std::function<void(uint64_t)> on_splice_done)
    : ctx_(context), on_splice_done_(std::move(on_splice_done)) {
    for (auto& [id, feed] : feeds) conns_[id].feed = std::move(feed);
    report_.connections = conns_.size();
}

Takeover::~Takeover() {
    if (step_timer_) ctx_.loop.remove(step_timer_.get());
}

Result<std::unique_ptr<Takeover>> Takeover::start(Context context, FeedTable feeds,
                                                  std::function<void(uint64_t)> on_splice_done) {
    std::unique_ptr<Takeover> t(new Takeover(context, std::move(feeds), std::move(on_splice_done)));
    Takeover* self = t.get();
    self->started_ms_ = monotonic_ms();
    // Its own fine-grained clock, so a step that waits (drain, claim retry) is retried
    // within a millisecond rather than at the next heartbeat tick. Without it (no
    // descriptor left) the node's tick still drives advance(), only more coarsely.
    if (auto timer = make_periodic_timer(1); timer) {
        self->step_timer_ = std::move(*timer);
        auto added = context.loop.add(self->step_timer_.get(), EPOLLIN, [self](uint32_t) {
            drain_timer(self->step_timer_.get());
            self->advance();
        });
        if (!added) {
            log_warn("takeover: {}; stepping with the heartbeat tick", added.error().message);
            self->step_timer_.reset();
        }
    } else {
        log_warn("takeover: {}; stepping with the heartbeat tick", timer.error().message);
    }
    self->advance();
    return t;
}

uint64_t Takeover::since_start() const { return monotonic_ms() - started_ms_; }

void Takeover::advance() {
    for (uint64_t id : finished_) splices_.erase(id);
    finished_.clear();
    switch (step_) {
        case Step::draining:
            drain();
            if (step_ == Step::draining) return;
            [[fallthrough]];
        case Step::rebuilding:
            rebuild_all();
            step_ = Step::claiming;
            [[fallthrough]];
        case Step::claiming:
            if (!try_claim()) return;
            report_.claimed_ms = since_start();
            serve_all();
            report_.serving_ms = since_start();
            step_ = Step::serving;
            if (step_timer_) {
                ctx_.loop.remove(step_timer_.get());
                step_timer_.reset();
            }
            return;
        case Step::serving:
            return;
    }
}

void Takeover::drain() {
    // Hand the replica every logged byte (and FIN) before it speaks.
    bool drained = true;
    for (auto& [id, conn] : conns_) {
        conn.feed->pump();
        drained &= conn.feed->broken() || conn.feed->input_drained();
    }
    if (!drained && since_start() <= kDrainBudgetMs) return;
    report_.drained_ms = since_start();
    step_ = Step::rebuilding;
}

void Takeover::rebuild_all() {
    const uint64_t now = monotonic_ms();
    for (auto it = conns_.begin(); it != conns_.end();) {
        auto& [id, conn] = *it;
        ReplicaFeed& feed = *conn.feed;
        if (feed.broken()) {
            reset_conn(id, conn, "its replica connection broke");
            it = conns_.erase(it);
            continue;
        }
        if (!feed.input_drained())
            log_warn("{}: replica has not read the whole log yet; rebuilding anyway", feed.name());
        const RepairState state = repair_state_for(feed.conn(), feed.log(), feed.output(), feed.client, now);
        auto socket = rebuild_connection(state, {});
        if (!socket) {
            reset_conn(id, conn, socket.error().message);
            it = conns_.erase(it);
            continue;
        }
        // The splice drives it from the event loop.
        fcntl(socket->get(), F_SETFL, fcntl(socket->get(), F_GETFL) | O_NONBLOCK);
        if (auto r = ctx_.hooks.mark_rebuilt(conn_key_of(feed.conn())); !r)
            log_warn("{}: {}", feed.name(), r.error().message);
        conn.socket = std::move(*socket);
        ++it;
    }
    report_.rebuilt = conns_.size();
    report_.rebuilt_ms = since_start();
}

bool Takeover::try_claim() {
    const uint64_t now = monotonic_ms();
    if (now < next_claim_ms_) return false;
    ++report_.claim_attempts;
    auto vip = VipAddress::claim(ctx_.options.dev, ctx_.options.vip.addr, ctx_.options.vip.length);
    if (!vip) {
        if (report_.claim_attempts % kClaimLogEvery == 1)
            log_error("takeover: can't claim VIP (attempt {}): {}; retrying every {} ms", report_.claim_attempts,
                      vip.error().message, kClaimRetryMs);
        next_claim_ms_ = now + kClaimRetryMs;
        return false;
    }
    vip_.emplace(std::move(*vip));
    if (report_.claim_attempts > 1)
        log_info("takeover: VIP {} claimed at attempt {}", vip_->describe(), report_.claim_attempts);
    if (auto r = ctx_.announcer.announce(ctx_.options.vip.addr); !r) log_warn("takeover: {}", r.error().message);
    return true;
}

void Takeover::serve_all() {
    for (auto& [id, conn] : conns_) {
        ReplicaFeed& feed = *conn.feed;
        // Each client tells us at once how far it really got (and its window).
        if (auto ack = request_ack(conn.socket.get()); !ack) log_warn("{}: {}", feed.name(), ack.error().message);
        ReplicaOutput& out = feed.output();
        ConnectionSplice::Start s;
        s.name = feed.name();
        s.client = std::move(conn.socket);
        s.replica = feed.release_replica_socket();
        s.unacked = out.unacked();
        s.skip_replica_bytes = out.acked() > out.produced() ? out.acked() - out.produced() : 0;
        s.replica_output_ended = out.eof();
        s.client_input_ended = feed.input_shut();
        const uint64_t conn_id = id;
        auto splice = ConnectionSplice::open(ctx_.loop, std::move(s), [this, conn_id] {
            splice_finished(conn_id);
            on_splice_done_(conn_id);
        });
        if (!splice) {
            // The rebuilt socket went with the failed Start: the kernel resets it
            // when it is closed with unread state; say so toward the client anyway.
            reset_conn(id, conn, fmt::format("can't splice: {}", splice.error().message));
            --report_.rebuilt;
            continue;
        }
        splices_.emplace(id, std::move(*splice));
    }
    conns_.clear();
}

void Takeover::reset_conn(uint64_t id, Conn& conn, const std::string& why) {
    (void)id;
    const ConnOpenRecord& c = conn.feed->conn();
    // The client has every server byte the backup saw it acknowledge; its rcv_nxt is
    // at least there. If the dead primary sent more, this RST lands inside the
    // client's window and draws a challenge ACK instead; the connection is then
    // reset by its next segment, which meets no socket here.
    const uint32_t seq = c.server_isn + 1 + uint32_t(conn.feed->output().acked());
    if (auto r = ctx_.raw.send_reset(conn_key_of(c), seq); !r)
        log_error("{}: {}", conn.feed->name(), r.error().message);
    ++report_.reset;
    log_error("{}: reset toward the client: {}", conn.feed->name(), why);
}

Result<void> Takeover::release_vip() {
    if (!vip_) return {};
    return vip_->release();
}

}  // namespace tcpfo

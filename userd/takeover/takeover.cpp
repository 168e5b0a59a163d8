#include "userd/takeover/takeover.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <atomic>

#include "userd/base/inet_address.h"
#include "userd/base/log.h"
#include "userd/base/split_in_two.h"
#include "userd/base/seq.h"
#include "userd/protocol/conn_key.h"
#include "userd/takeover/repair_plan.h"
#include "userd/takeover/resend_prompt.h"

namespace tcpfo {

namespace {

// Why a connection whose replica diverged is reset (log line and status).
std::string diverged_reason(uint64_t at) {
    return fmt::format("its replica's output differs from the primary's from server offset {} on", at);
}

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
// How long after the last probe left we wait for clients' answers before rebuilding
// the silent ones from what the backup knows. A live client answers within a round
// trip; one that does not is rebuilt the old way (ACK ceiling, pure-ACK lift).
constexpr uint64_t kProbeWaitMs = 30;
// A client's bytes that reached the log longer ago than this were acknowledged to it
// by the primary before it died (its clamp delays an ACK only until the backups hold
// the bytes).
constexpr uint64_t kInputAcknowledgedMs = 1000;
// Probes for at least this many connections go out on both cores.
constexpr size_t kParallelProbesMin = 512;

// Whether something accepts connections at the replica's address: one blocking connect
// with a short timeout (the replica runs beside failoverd, normally on loopback).
bool replica_accepts(const sockaddr_in& replica) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return true;  // can't tell: do not condemn the connections for it
    const timeval timeout{0, 20 * 1000};
    setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&replica), sizeof replica) == 0) return true;
    return errno != ECONNREFUSED;
}

}  // namespace

const char* step_name(Takeover::Step step) {
    switch (step) {
        case Takeover::Step::claiming: return "claiming";
        case Takeover::Step::learning: return "learning";
        case Takeover::Step::rebuilding: return "rebuilding";
        case Takeover::Step::serving: return "serving";
    }
    return "?";
}

Takeover::Takeover(Context context, FeedTable feeds) : ctx_(context) {
    by_key_.reserve(feeds.size());
    retired_feeds_.reserve(feeds.size());
    for (auto& [id, feed] : feeds) {
        Conn& conn = conns_[id];
        conn.key = conn_key_of(feed->conn());
        conn.feed = std::move(feed);
        by_key_.emplace(conn.key, id);
        if (ctx_.resume_for_followers) {
            // Before anything feeds the replica further: the tail starts at what it had.
            const auto pending = conn.feed->log().pending();
            Resumable& r = resumable_[id];
            r.tail_offset = conn.feed->log().fed();
            r.tail.assign(pending.begin(), pending.end());
            r.client_acked = conn.feed->output().acked();
        }
    }
    report_.connections = conns_.size();
}

Takeover::~Takeover() {
    if (step_timer_) ctx_.loop.remove(step_timer_.get());
}

Result<std::unique_ptr<Takeover>> Takeover::start(Context context, FeedTable feeds) {
    std::unique_ptr<Takeover> t(new Takeover(context, std::move(feeds)));
    Takeover* self = t.get();
    self->started_ms_ = monotonic_ms();
    // Every connection has been held since it opened (backup_node.cpp), so nothing per
    // connection comes before the claim. Segments of a connection the hooks could not
    // hold, and of no socket, are dropped, not reset, until the takeover serves.
    context.hooks.set_takeover_mode(true);
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
    if (step_ == Step::serving) return expire_overdue_checks();
    const bool drained = drain();
    switch (step_) {
        case Step::claiming:
            if (!try_claim()) return;
            report_.claimed_ms = since_start();
            send_probes();
            step_ = Step::learning;
            [[fallthrough]];
        case Step::learning:
            if (!collect_answers() || !drained) return;
            report_.learned_ms = since_start();
            step_ = Step::rebuilding;
            [[fallthrough]];
        case Step::rebuilding:
            rebuild_all();
            serve_all();
            report_.serving_ms = since_start();
            step_ = Step::serving;
            ctx_.hooks.set_takeover_mode(false);
            if (step_timer_) {
                ctx_.loop.remove(step_timer_.get());
                step_timer_.reset();
            }
            return;
        case Step::serving:
            return;
    }
}

void Takeover::expire_overdue_checks() {
    // Once a second is enough: the bound is counted in seconds.
    const uint64_t now = monotonic_ms();
    if (now < next_check_sweep_ms_) return;
    next_check_sweep_ms_ = now + 1000;
    for (auto& [id, splice] : splices_) splice->expire_check(now, kCheckDeadlineMs);
    for (uint64_t id : finished_) splices_.erase(id);
    finished_.clear();
}

bool Takeover::drain() {
    // Hand the replica every logged byte (and FIN) before it speaks.
    if (report_.drained_ms != 0) return true;
    bool drained = true;
    for (auto& [id, conn] : conns_) {
        conn.feed->pump();
        drained &= conn.feed->broken() || conn.feed->input_drained();
    }
    if (!drained && since_start() <= kDrainBudgetMs) return false;
    report_.drained_ms = std::max<uint64_t>(since_start(), 1);
    return true;
}

void Takeover::send_probes() {
    const uint64_t now = monotonic_ms();
    // The hold records as they stand before the probes leave, all in a few syscalls.
    if (auto r = ctx_.hooks.all_held(held_); !r) {
        log_warn("takeover: {}; clients' positions are not learned", r.error().message);
        return;
    }
    // A connection not held is rebuilt from what the backup knows.
    std::vector<const Conn*> probed;
    probed.reserve(held_.size());
    for (const auto& [key, record] : held_) {
        auto it = by_key_.find(key);
        if (it == by_key_.end()) continue;
        Conn& conn = conns_.at(it->second);
        conn.before_probe = record;
        conn.awaiting_answer = true;
        probed.push_back(&conn);
    }
    awaiting_ = probed.size();
    // Built and sent a batch at a time (sendmmsg), on both cores: a probe costs the
    // sender its trip through the stack, and on a test topology the client's answer
    // too. Only reads here: each thread builds into its own stack buffer.
    std::atomic<size_t> refused{0};
    split_in_two(probed.size(), kParallelProbesMin, 2, [&](size_t begin, size_t end) noexcept {
        constexpr size_t kBatch = 256;
        std::array<std::array<uint8_t, kMaxServerSegmentBytes>, kBatch> packets;
        std::array<NudgeSender::Outgoing, kBatch> outgoing;
        for (size_t base = begin; base < end; base += kBatch) {
            const size_t n = std::min(kBatch, end - base);
            for (size_t i = 0; i < n; ++i) {
                const Conn& conn = *probed[base + i];
                const size_t len = build_client_probe(conn, now, packets[i].data());
                outgoing[i] = {conn.key.client_addr, std::span<const uint8_t>(packets[i].data(), len)};
            }
            // A probe the kernel refused goes unanswered: its connection is rebuilt
            // from what this node knows once the wait for answers ends.
            refused += n - ctx_.raw.send_packets(std::span(outgoing.data(), n));
        }
    });
    if (refused > 0) log_warn("takeover: {} of {} probe(s) could not be sent", refused.load(), probed.size());
    probes_sent_ms_ = monotonic_ms();
    report_.probed_ms = since_start();
}

size_t Takeover::build_client_probe(const Conn& conn, uint64_t now_ms, uint8_t* packet) const {
    const ReplicaFeed& feed = *conn.feed;
    const RepairState planned = repair_state_for(feed.conn(), feed.log(), feed.output(), feed.client, now_ms);
    ProbeSpec probe;
    probe.client_acked = planned.snd_una;
    probe.ack = planned.rcv_nxt;
    probe.window = uint16_t(std::min<uint32_t>(planned.rcv_wnd >> planned.rcv_wscale, 65535));
    if (planned.timestamps_ok) probe.timestamps = TcpTimestamps{planned.tsval, feed.client.tsval};
    // One old byte rather than a pure ACK: Linux answers it every time, while its
    // answers to out-of-window pure ACKs are rate-limited to one per 500 ms.
    probe.with_byte = true;
    return build_probe_packet(conn.key, probe, packet);
}

bool Takeover::collect_answers() {
    if (awaiting_ > 0) {
        if (ctx_.hooks.all_held(held_)) {
            for (const auto& [key, record] : held_) {
                auto it = by_key_.find(key);
                if (it == by_key_.end()) continue;
                Conn& conn = conns_.at(it->second);
                if (!conn.awaiting_answer || !probe_answered(conn.before_probe, record)) continue;
                conn.awaiting_answer = false;
                --awaiting_;
                conn.position = client_position(record);
                if (conn.position) ++report_.positions_learned;
            }
        }
    }
    if (awaiting_ == 0) return true;
    if (monotonic_ms() - probes_sent_ms_ < kProbeWaitMs) return false;
    log_warn("takeover: {} client(s) did not answer the probe within {} ms; rebuilt from what this node knows",
             awaiting_, kProbeWaitMs);
    for (auto& [id, conn] : conns_) conn.awaiting_answer = false;
    awaiting_ = 0;
    return true;
}

void Takeover::rebuild_all() {
    const uint64_t now = monotonic_ms();
    // A replica that died closed its connections like an application that hung up: the
    // feeds cannot tell the two apart, but a dead replica no longer listens either.
    // Its connections cannot go on; splicing them would hand the clients a FIN nobody
    // asked for.
    const bool replica_listening = conns_.empty() || replica_accepts(*ctx_.options.replica);
    std::vector<RebuildJob> jobs;
    std::vector<uint64_t> job_ids;
    jobs.reserve(conns_.size());
    job_ids.reserve(conns_.size());
    for (auto it = conns_.begin(); it != conns_.end();) {
        Conn& conn = it->second;
        ReplicaFeed& feed = *conn.feed;
        if (!replica_listening || feed.broken()) {
            reset_conn(conn, replica_listening ? "its replica connection broke"
                                               : fmt::format("the replica at {} is gone", to_string(*ctx_.options.replica)));
            it = conns_.erase(it);
            continue;
        }
        if (auto at = feed.output().diverged_at()) {
            ++report_.reset_diverged;
            reset_conn(conn, diverged_reason(*at));
            it = conns_.erase(it);
            continue;
        }
        if (!feed.input_drained())
            log_warn("{}: replica has not read the whole log yet; rebuilding anyway (its splice writes the rest "
                     "first)", feed.name());
        if (conn.position && !client_received_offset(feed.conn(), feed.output(), *conn.position)) {
            log_warn("{}: the client's answer (rcv_nxt {}) is not plausible; ignored", feed.name(),
                     conn.position->rcv_nxt);
            conn.position.reset();
        }
        conn.state = repair_state_for(feed.conn(), feed.log(), feed.output(), feed.client, now, conn.position);
        // The socket was prepared (socket, repair mode, bind) when the connection
        // opened; only what depends on the sequences is left for now.
        PreparedSocket prepared = feed.take_prepared_socket();
        if (!prepared.fd) {
            auto fresh = prepare_repair_socket(conn.state.local, conn.state.remote, conn.state.mss);
            if (!fresh) {
                reset_conn(conn, fresh.error().message);
                it = conns_.erase(it);
                continue;
            }
            prepared = std::move(*fresh);
        }
        jobs.push_back(RebuildJob{std::move(prepared), conn.state, {}});
        job_ids.push_back(it->first);
        ++it;
    }
    // Both cores when there are many (tcp_repair.h, rebuild_batch).
    auto results = rebuild_batch(jobs);
    std::vector<ConnKey> exact;  // rebuilt where the client is: their holds end together
    exact.reserve(results.size());
    for (size_t i = 0; i < results.size(); ++i) {
        Conn& conn = conns_.at(job_ids[i]);
        ReplicaFeed& feed = *conn.feed;
        if (!results[i]) {
            reset_conn(conn, results[i].error().message);
            conns_.erase(job_ids[i]);
            continue;
        }
        // Output the client already holds is not sent again: the splice starts at its rcv_nxt.
        if (conn.position) feed.output().acknowledge(*client_received_offset(feed.conn(), feed.output(), *conn.position));
        if (ctx_.resume_for_followers) adopt(conn, job_ids[i]);
        // A socket rebuilt exactly where its client is needs nothing more from the
        // hooks: ending the hold lets the client's segments reach it. One rebuilt from
        // what this node knew gets the ACK ceiling and the pure-ACK lift
        // (architecture.md), and keeps its hold record until it serves.
        if (conn.position) exact.push_back(conn.key);
        else if (auto r = ctx_.hooks.mark_rebuilt(conn.key); !r) log_warn("{}: {}", feed.name(), r.error().message);
        conn.socket = std::move(*results[i]);
    }
    ctx_.hooks.release_all(exact);
    report_.rebuilt = conns_.size();
    report_.rebuilt_ms = since_start();
}

void Takeover::adopt(const Conn& conn, uint64_t conn_id) {
    const ConnOpenRecord& open = conn.feed->conn();
    tcpfo_conn_state st{};
    st.client_isn = open.client_isn;
    st.server_isn = open.server_isn;
    st.client_opts = {open.client_options.mss, open.client_options.wscale, open.client_options.present};
    st.server_opts = {open.server_options.mss, open.server_options.wscale, open.server_options.present};
    st.snd_nxt = conn.state.snd_nxt;
    st.last_tsval = conn.state.tsval;
    st.last_sent_ack = conn.state.rcv_nxt;
    // The widest raw window: until the socket's first segment tells the hooks its real
    // one, a client byte is reported rather than cut (it is the client's own byte at its
    // own offset: a backup holding it early does no harm).
    st.last_window = 0xffff;
    // The clamp starts at what the rebuilt socket acknowledges: the client has been
    // told no more, and is told more only once a follower holds it.
    auto it = resumable_.find(conn_id);
    if (it == resumable_.end()) return;
    if (auto r = ctx_.hooks.adopt(conn.key, st, conn.state.rcv_nxt); !r) {
        log_warn("{}: not resumed toward the other backups: {}", conn.feed->name(), r.error().message);
        resumable_.erase(it);
        return;
    }
    it->second.conn = open;
    it->second.state = conn.state;
    it->second.adopted = true;
}

std::vector<Takeover::Resumable> Takeover::take_resumable() {
    std::vector<Resumable> out;
    for (auto& [id, r] : resumable_) {
        if (!r.adopted) continue;
        if (splices_.count(id)) out.push_back(std::move(r));
        else ctx_.hooks.forget(conn_key_of(r.conn));  // reset at the takeover: nothing to protect
    }
    resumable_.clear();
    return out;
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
        // A client that did not answer the probe tells us how far it really got (and
        // its window) in its answer to the rebuilt socket's window probe.
        if (!conn.position)
            if (auto ack = request_ack(conn.socket.get()); !ack) log_warn("{}: {}", feed.name(), ack.error().message);
        const int fd = conn.socket.get();
        ReplicaOutput& out = feed.output();
        ConnectionSplice::Start s;
        s.conn_id = id;
        s.key = conn.key;
        s.client = std::move(conn.socket);
        s.replica = feed.release_replica_socket();
        // Bytes the rebuilt socket acknowledged (its receive sequence is past the whole
        // log) that the replica has not read: without them its output would differ
        // from the primary's (caught as a divergence: the connection reset).
        s.unfed_input = feed.take_unfed_input();
        s.client_fin_unfed = feed.client_fin_unfed();
        s.unacked = out.take_unacked();
        s.skip_replica_bytes = out.acked() > out.produced() ? out.acked() - out.produced() : 0;
        s.replica_output_ended = out.eof();
        s.client_input_ended = feed.input_shut();
        s.unacked_offset = out.produced() - std::min<uint64_t>(out.produced(), s.unacked.size());
        s.replica_offset = out.produced();
        s.check = out.take_check();
        if (s.check) s.on_diverged = [this, conn_id = id](uint64_t at) {
            ++report_.reset;
            ++report_.reset_diverged;
            --report_.rebuilt;
            resets_.emplace(conn_id, diverged_reason(at));
        };
        if (conn.position) s.on_first_output = [this, key = conn.key, state = conn.state, fd] {
            ask_for_quick_acks(key, state, fd);
        };
        // The prompt before the splice's first flight: it carries the socket's snd_nxt
        // as it was rebuilt, which is where the client is. Once output has left, the
        // client's rcv_nxt is past that sequence number, and it discards a pure ACK
        // lying wholly before its window (tcp_sequence) and only answers with a
        // duplicate ACK: the echo connections of failover_many resent only at their
        // reneging or retransmission timers, 20-27 ms later.
        if (conn.position) prompt_resend_if_needed(conn, fd);
        const uint64_t conn_id = id;
        auto splice = ConnectionSplice::open(ctx_.loop, std::move(s), [this, conn_id] {
            finished_.push_back(conn_id);  // destroyed outside its own callback, in advance()
        });
        if (!splice) {
            // The rebuilt socket went with the failed Start; say so toward the client.
            reset_conn(conn, fmt::format("can't splice: {}", splice.error().message));
            --report_.rebuilt;
            continue;
        }
        splices_.emplace(id, std::move(*splice));
        if (!conn.position) ctx_.hooks.release(conn.key);
    }
    // Their feeds are not destroyed here, in the middle of the takeover: the node
    // reads the connections' status from them, then drops them (take_retired_feeds).
    for (auto& [id, conn] : conns_)
        if (conn.feed) retired_feeds_.push_back(std::move(conn.feed));  // a reset one went already
    conns_.clear();
}

std::vector<std::unique_ptr<ReplicaFeed>> Takeover::take_retired_feeds() { return std::move(retired_feeds_); }

void Takeover::ask_for_quick_acks(const ConnKey& key, const RepairState& s, int socket_fd) {
    // The rebuilt socket starts with the initial congestion window and grows it only
    // as the client acknowledges; a client that sent a lot lately is in its delayed-ACK
    // ("pingpong") mode and acknowledges the first flight only at its 40 ms delayed-ACK
    // timer (seen as a second stall after the takeover). One old byte again makes it
    // answer at once and switch to quick ACKs (tcp_send_dupack / tcp_data_queue:
    // tcp_enter_quickack_mode). Its TSval is the socket's own: an in-window duplicate
    // moves the client's ts_recent, which must never run ahead of the socket.
    ProbeSpec probe;
    probe.client_acked = s.snd_una;
    probe.ack = s.rcv_nxt;
    probe.window = uint16_t(std::min<uint32_t>(s.rcv_wnd >> s.rcv_wscale, 65535));
    if (s.timestamps_ok) {
        auto tsval = socket_tsval(socket_fd);
        if (!tsval) return;
        probe.timestamps = TcpTimestamps{*tsval, 0};
    }
    probe.with_byte = true;
    uint8_t packet[kMaxServerSegmentBytes];
    const size_t len = build_probe_packet(key, probe, packet);
    (void)ctx_.raw.send_packet(key.client_addr, std::span<const uint8_t>(packet, len));
}

void Takeover::prompt_resend_if_needed(Conn& conn, int socket_fd) {
    const ConnOpenRecord& c = conn.feed->conn();
    const RepairState& s = conn.state;
    // A client with nothing to resend whose bytes all reached the log long ago has
    // seen them acknowledged (the dead primary's clamp holds an ACK back only until
    // the backups have the bytes: milliseconds): no packet, no syscall. That is every
    // idle connection.
    const bool nothing_to_resend = !seq_after(conn.position->snd_nxt, s.rcv_nxt);
    if (nothing_to_resend && monotonic_ms() - conn.feed->last_input_ms > kInputAcknowledgedMs) return;
    ResendContext r;
    r.key = conn.key;
    r.seq = s.snd_nxt;
    r.held_end = s.rcv_nxt;
    r.client_snd_nxt = conn.position->snd_nxt;
    // The client's full segments carry the MSS this side announced, less the
    // timestamp option.
    r.client_mss = (c.server_options.present & TCPFO_OPT_MSS ? c.server_options.mss : 536) - (s.timestamps_ok ? 12 : 0);
    r.window = uint16_t(std::min<uint32_t>(s.rcv_wnd >> s.rcv_wscale, 65535));
    if (s.timestamps_ok && conn.position->timestamps) {
        auto tsval = socket_tsval(socket_fd);
        r.timestamps = TcpTimestamps{tsval ? *tsval : s.tsval, conn.position->timestamps->tsval};
    }
    auto method = prompt_resend(ctx_.raw, r, s.sack_ok);
    if (!method) {
        log_warn("{}: {}", conn.feed->name(), method.error().message);
        return;
    }
    if (*method == ResendMethod::none) {
        // Its last bytes may never have been acknowledged to it, and nothing else would
        // tell it before its retransmission timer (resend_prompt.h, build_held_ack).
        if (auto acked = acknowledge_held(ctx_.raw, r); !acked) log_warn("{}: {}", conn.feed->name(), acked.error().message);
        return;
    }
    ++report_.prompted;
    log_debug("{}: client prompted ({}) to resend {} byte(s) the dead primary took", conn.feed->name(),
              *method == ResendMethod::sack_prompt ? "SACK" : "duplicate ACKs", r.client_snd_nxt - r.held_end);
}

void Takeover::reset_conn(Conn& conn, const std::string& why) {
    const ConnOpenRecord& c = conn.feed->conn();
    // Linux takes a RST only at exactly its rcv_nxt: the client's answer to the probe
    // says where that is. Without one, the client has at least every server byte the
    // backup saw it acknowledge; if the dead primary sent more, this RST draws a
    // challenge ACK instead, and the client's next segment meets no socket here and is
    // reset by the stack.
    const uint32_t seq =
        conn.position ? conn.position->rcv_nxt : c.server_isn + 1 + uint32_t(conn.feed->output().acked());
    if (auto r = ctx_.raw.send_reset(conn.key, seq); !r) log_error("{}: {}", conn.feed->name(), r.error().message);
    ctx_.hooks.release(conn.key);
    ++report_.reset;
    resets_.emplace(c.conn_id, why);
    log_error("{}: reset toward the client: {}", conn.feed->name(), why);
    retired_feeds_.push_back(std::move(conn.feed));
}

Result<void> Takeover::release_vip() {
    if (!vip_) return {};
    return vip_->release();
}

}  // namespace tcpfo

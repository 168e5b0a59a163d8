#include "userd/backup/backup_node.h"

#include <malloc.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <fstream>

#include "userd/base/inet_address.h"
#include "userd/base/log.h"
#include "userd/base/scheduling.h"
#include "userd/base/service_manager.h"
#include "userd/protocol/conn_key.h"
#include "userd/config/capacity.h"
#include "userd/takeover/repair_plan.h"
#include "bpf/snoop.h"

namespace tcpfo {

BackupNode::BackupNode(EventLoop& loop, const Options& options) : loop_(loop), options_(options) {}

BackupNode::~BackupNode() {
    if (listener_) loop_.remove(listener_.get());
    if (tick_timer_) loop_.remove(tick_timer_.get());
    if (hooks_) loop_.remove(hooks_->event_fd());
}

Result<std::unique_ptr<BackupNode>> BackupNode::start(EventLoop& loop, const Options& options) {
    return open(loop, options, nullptr, nullptr);
}

Result<std::unique_ptr<BackupNode>> BackupNode::rejoin(EventLoop& loop, const Options& options,
                                                       std::shared_ptr<Hooks> hooks,
                                                       std::shared_ptr<Heartbeat> heartbeat) {
    return open(loop, options, std::move(hooks), std::move(heartbeat));
}

Result<std::unique_ptr<BackupNode>> BackupNode::open(EventLoop& loop, const Options& options,
                                                     std::shared_ptr<Hooks> hooks,
                                                     std::shared_ptr<Heartbeat> heartbeat) {
    std::unique_ptr<BackupNode> node(new BackupNode(loop, options));
    BackupNode* self = node.get();
    self->app_log_ = std::make_unique<AppLogSink>(loop, [self](AppRefuseReason r) { self->refuse_service(r); });

    // Two descriptors per connection (the replica connection, the socket prepared for
    // its rebuild): the open-file limit decides how many connections this node holds.
    auto files = raise_open_file_limit();
    if (!files) return std::unexpected(files.error());
    self->max_connections_ = backup_capacity(files->soft, TCPFO_MAX_CONNS);

    // The hooks are attached now, not at takeover, so taking over does not wait for
    // the verifier. Until the VIP moves here they see no protected traffic.
    if (hooks) {
        self->hooks_ = std::move(hooks);
    } else {
        auto snoop = open_hooks(options, HooksUse::backup);
        if (!snoop) return std::unexpected(snoop.error());
        self->hooks_ = std::move(*snoop);
    }
    if (auto r = loop.add(self->hooks_->event_fd(), EPOLLIN, [self](uint32_t) { self->on_ring_readable(); }); !r)
        return std::unexpected(r.error());

    auto announcer = ArpAnnouncer::open(options.dev);
    if (!announcer) return std::unexpected(announcer.error());
    self->announcer_.emplace(std::move(*announcer));
    auto raw = NudgeSender::open();
    if (!raw) return std::unexpected(raw.error());
    self->raw_.emplace(std::move(*raw));

    auto listener = listen_replication(options.transport, PathAddresses{options.listen, options.listen_second});
    if (!listener) return std::unexpected(listener.error());
    self->listener_ = std::move(*listener);
    if (auto r = loop.add(self->listener_.get(), EPOLLIN, [self](uint32_t) { self->on_accept(); }); !r)
        return std::unexpected(r.error());

    // The heartbeat thread judges the primary (once the stream began: judge() below)
    // and hands the verdict to the loop.
    Heartbeat::Callbacks callbacks;
    callbacks.on_silent = [self](PeerId, uint64_t silence_ms) {
        self->begin_takeover(fmt::format("no heartbeat for {} ms", silence_ms));
    };
    callbacks.on_cluster = [self](Heartbeat::ClusterEvent e, uint64_t epoch) { self->on_cluster_event(e, epoch); };
    if (options.lease_enforced) {
        // Once elected, this node's lease as the new primary, enforced by its hooks.
        Hooks* hooks = self->hooks_.get();
        callbacks.on_lease_deadline = [hooks](uint64_t until_ms) { hooks->set_lease_deadline(until_ms); };
    }
    if (heartbeat) {
        // Rejoined: the thread runs on with its voter's promises; only who hears it
        // changes (its lease deadline goes to the same hooks as before).
        heartbeat->set_on_silent(std::move(callbacks.on_silent));
        heartbeat->set_on_cluster(std::move(callbacks.on_cluster));
        heartbeat->rejoin_as_backup();
        self->heartbeat_ = std::move(heartbeat);
    } else {
        auto hb = Heartbeat::open(loop, Heartbeat::Config::from(options, NodeRole::backup), std::move(callbacks));
        if (!hb) return std::unexpected(hb.error());
        self->heartbeat_ = std::move(*hb);
    }
    auto timer = make_periodic_timer(options.heartbeat_ms);
    if (!timer) return std::unexpected(timer.error());
    self->tick_timer_ = std::move(*timer);
    if (auto r = loop.add(self->tick_timer_.get(), EPOLLIN, [self](uint32_t) { self->on_tick(); }); !r)
        return std::unexpected(r.error());
    if (!options.notify.empty() || !options.notify_fifo.empty()) {
        auto notifier = StateNotifier::open(loop, options.notify, options.notify_fifo,
                                            options.cluster ? options.cluster->own_priority : kDefaultNodePriority);
        if (!notifier) return std::unexpected(notifier.error());
        self->notifier_ = std::move(*notifier);
        // Eligible until a check says otherwise (init_fail: a check that starts down).
    }
    // Checks of the replica: while one is down this node is not eligible to take over.
    if (!options.checks.empty()) {
        auto health = HealthMonitor::start(loop, options.checks,
                                           [self](const HealthMonitor::Change& c) { self->on_health_change(c); });
        if (!health) return std::unexpected(health.error());
        self->health_ = std::move(*health);
    }
    if (self->notifier_) self->notifier_->instance(self->eligible() ? InstanceState::backup : InstanceState::fault);
    log_info("backup: listening on {}, replica at {}, primary {}", to_string(options.listen),
             to_string(*options.replica), to_string(options.peers[0]));
    log_info("backup: can hold {} connections (open-file limit {}{})", self->max_connections_, files->soft,
             files->raised ? ", raised to the hard limit" : "");
    return node;
}

void BackupNode::shut_down() {
    if (notifier_) notifier_->instance(InstanceState::stop);
    if (reclaimed_vip_) {
        if (auto r = reclaimed_vip_->release(); !r) log_error("backup: {}", r.error().message);
    } else if (takeover_) {
        if (auto r = takeover_->release_vip(); !r) log_error("backup: {}", r.error().message);
    }
}

ReplicaFeed* BackupNode::feed(uint64_t conn_id) {
    auto it = feeds_.find(conn_id);
    return it == feeds_.end() ? nullptr : it->second.get();
}

void BackupNode::on_accept() {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    UniqueFd fd(accept4(listener_.get(), reinterpret_cast<sockaddr*>(&from), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;
    // A stream that is open but never said hello does not hold the slot: anything that
    // can connect from the primary's address (a process on the primary's host) could
    // otherwise keep the real primary out by connecting and sending nothing.
    // A campaign means the stream in the slot went silent: a new one from the primary's
    // address (it reconnected after a partition healed) replaces it, or the dead stream
    // would keep the primary out until its FIN, retransmitted with backoff, arrives.
    // A peer that announces a higher epoch than this node's stream was elected since:
    // its stream replaces the one in the slot (which may be a dead primary's, still
    // open on a cut link).
    const bool slot_taken = primary_ && !primary_->closed() && stream_greeted_ && campaign_why_.empty() &&
                            heartbeat_->highest_peer_epoch() <= epoch_;
    // Any data node may serve (after an election): streams come from the node list.
    const std::optional<PeerId> peer = peer_of(from);
    if (takeover_ || slot_taken || !peer) {
        // One line per source and period: anyone on the segment can connect.
        stream_drops_.note(to_string(from), from.sin_addr.s_addr,
                           AuthError{AuthDrop::stranger, "refused: not the primary, or a stream is already open"},
                           monotonic_ms());
        return;
    }
    Link::Callbacks cb;
    cb.on_record = [this](const Record& r) { on_primary_record(r); };
    cb.on_closed = [this](const std::string& why) { on_primary_lost(why); };
    cb.on_auth_drop = [this, from](const AuthError& error) {
        stream_drops_.note(to_string(from), from.sin_addr.s_addr, error, monotonic_ms());
    };
    auto link = open_replication_link(
        options_.transport, loop_, std::move(fd), to_string(from), std::move(cb),
        options_.keys ? std::make_unique<StreamAuth>(options_.keys, StreamSide::acceptor) : nullptr);
    if (!link) {
        log_error("backup: {}", link.error().message);
        return;
    }
    if (primary_) {
        if (!primary_->closed()) {
            log_warn("backup: {}: a new stream from {} replaces this one, which {}", primary_->name(), to_string(from),
                     stream_greeted_ ? "went silent, or whose node another one succeeded" : "never said hello");
            primary_->close();
        }
        replaced_links_ += primary_->counters();
    }
    // What it held of the stream it leaves: an election compared that (election_rank.h).
    previous_stream_bytes_ = primary_ && stream_greeted_ ? primary_->counters().bytes_received : 0;
    retired_link_ = std::move(primary_);
    primary_ = std::move(*link);
    stream_peer_ = *peer;
    stream_greeted_ = false;
    handover_requested_ = false;
}

void BackupNode::on_primary_record(const Record& record) {
    // A busy stream is as good as a heartbeat (heartbeats can be lost in a congested
    // queue that the stream gets through), dated by when the kernel received it: this
    // loop runs at the normal priority and may be reading a backlog that arrived long
    // ago, and dating it by the reading made a primary that had died since look alive.
    if (const uint64_t arrived = primary_->last_arrival_ms(); arrived != 0)
        heartbeat_->heard_from(stream_peer_, arrived);
    if (auto* hello = std::get_if<HelloRecord>(&record)) {
        if (hello->version != kProtocolVersion || hello->role != NodeRole::primary || hello->epoch < epoch_) {
            log_error("backup: refused hello from {} (version {}, epoch {} < {})", primary_->name(),
                      hello->version, hello->epoch, epoch_);
            primary_->close();
            return;
        }
        const bool new_primary = stream_peer_ != primary_peer_ && primary_seen_;
        primary_peer_ = stream_peer_;
        epoch_ = hello->epoch;
        heartbeat_->set_epoch(epoch_);
        campaign_why_.clear();
        if (heartbeat_->campaigning()) {
            heartbeat_->stop_campaign();
            if (new_primary)
                log_info("backup: {} serves at epoch {}; this node follows it as a backup (no election of its own; "
                         "it held {} bytes of the previous stream, {})", primary_->name(), epoch_,
                         previous_stream_bytes_, holdings_text());
            else
                log_info("backup: the primary {} is back (a new stream, epoch {}); no election", primary_->name(), epoch_);
        } else if (new_primary) {
            log_info("backup: {} serves at epoch {}; this node follows it as a backup (it held {} bytes of the previous "
                     "stream, {})", primary_->name(), epoch_, previous_stream_bytes_, holdings_text());
        }
        // The feeds of the stream before this one wait for the new primary's list:
        // a node that took over names the connections it resumes (RESUME), and every
        // primary ends the list (RESUME_END) right after its hello; the rest are
        // dropped then (a primary whose stream broke forgot its connections: a
        // takeover must not rebuild them from stale logs).
        resumed_.clear();
        awaiting_resume_ = !feeds_.empty();
        primary_seen_ = true;
        stream_greeted_ = true;
        heartbeat_->heard_from(primary_peer_);
        // A takeover needs a primary that existed: judged from now on.
        heartbeat_->judge(primary_peer_, uint64_t(options_.heartbeat_ms) * uint64_t(options_.dead_after));
        primary_->send(HelloRecord{kProtocolVersion, NodeRole::backup, epoch_});
        // Always, checks or not: the primary acts on it (a handover it wants waits for a
        // backup that says it is eligible).
        send_health();
        declined_takeover_.clear();  // a primary again: nothing to take over from
        log_info("backup: replication stream from {} accepted (epoch {}{})", primary_->name(), epoch_,
                 eligible() ? "" : fmt::format("; NOT eligible to take over: {}", health_->unhealthy_reason()));
        if (!options_.ready_file.empty()) std::ofstream(options_.ready_file) << "backup\n";
        notify_ready(fmt::format("backup of {}: replicating", to_string(primary_address())));
        return;
    }
    if (!primary_seen_) {
        log_error("backup: {} sent {} before hello; closing", primary_->name(),
                  record_type_name(record_type(record)));
        primary_->close();
        return;
    }
    if (auto* handover = std::get_if<HandoverRecord>(&record)) {
        // Everything the primary had came before this record, and it has fallen silent
        // and given up the VIP: no detection wait. A stale epoch is not this primary's.
        if (handover->epoch != epoch_) {
            log_warn("backup: handover from {} at epoch {} ignored (this node is at epoch {})", primary_->name(),
                     handover->epoch, epoch_);
            return;
        }
        // The primary stopped speaking before it sent this: the promises this node's
        // voter made it protect nothing now (Heartbeat::release_vote_of).
        heartbeat_->release_vote_of(primary_address().sin_addr.s_addr, epoch_);
        // Closes the stream: records after this one are not read.
        begin_takeover(fmt::format("planned handover from the primary {}", primary_->name()), true);
        return;
    }
    std::visit(
        [&](const auto& r) {
            using T = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<T, ConnOpenRecord>) {
                open_feed(r);
            } else if constexpr (std::is_same_v<T, DataRecord>) {
                if (auto* f = feed(r.conn_id)) {
                    f->log().insert(r.offset, r.bytes);
                    f->last_input_ms = primary_->last_arrival_ms();  // dated once per read, not per record
                    dirty_.push_back(r.conn_id);
                }
            } else if constexpr (std::is_same_v<T, ClientAckRecord>) {
                if (auto* f = feed(r.conn_id)) {
                    f->client_acknowledged(r, monotonic_ms());
                    dirty_.push_back(r.conn_id);  // room in the output buffer
                }
            } else if constexpr (std::is_same_v<T, ClientFinRecord>) {
                if (auto* f = feed(r.conn_id)) {
                    if (!f->log().set_fin(r.offset)) log_warn("backup: {}: conflicting client FIN", f->name());
                    dirty_.push_back(r.conn_id);
                }
            } else if constexpr (std::is_same_v<T, ResumeRecord>) {
                on_resume(r);
            } else if constexpr (std::is_same_v<T, ResumeEndRecord>) {
                on_resume_end(r);
            } else if constexpr (std::is_same_v<T, HoldingsRecord>) {
                on_holdings(r);
            } else if constexpr (std::is_same_v<T, CommitRecord>) {
                if (auto* f = feed(r.conn_id)) {
                    f->set_committed(r.offset);
                    dirty_.push_back(r.conn_id);
                }
            } else if constexpr (std::is_same_v<T, ServerFinRecord>) {
                if (auto* f = feed(r.conn_id)) f->primary_output_ended(r.offset);
            } else if constexpr (std::is_same_v<T, OutputDigestRecord>) {
                if (auto* f = feed(r.conn_id)) f->expect_digest(r);
            } else if constexpr (std::is_same_v<T, AppLogRecord>) {
                on_app_log(r);
            } else if constexpr (std::is_same_v<T, CloseRecord>) {
                // Closed on the primary: it must never be resurrected by a takeover.
                if (auto* f = feed(r.conn_id)) {
                    hooks_->release(conn_key_of(f->conn()));
                    app_log_->feeder_closed(ntohl(f->conn().client_addr), f->conn().client_port);
                }
                feeds_.erase(r.conn_id);
            } else {
                log_warn("backup: unexpected {} record from the primary ignored",
                         record_type_name(record_type(record)));
            }
        },
        record);
}

void BackupNode::on_app_log(const AppLogRecord& r) {
    if (auto refusal = app_log_->on_record(r)) return refuse_service(*refusal);
    if (!app_log_->refused()) primary_->send(AppStableRecord{app_log_->held()});
}

void BackupNode::refuse_service(AppRefuseReason reason) {
    if (primary_ && !primary_->closed()) primary_->send(AppRefusedRecord{reason});
    // After a takeover the connections are the splices' (their digests still guard
    // what the replica writes).
    if (takeover_) return;
    // Its replica cannot be in step: none of the service's connections can be
    // continued from it. The primary keeps protecting them with other backups.
    std::vector<uint64_t> ids;
    for (const auto& [id, f] : feeds_) ids.push_back(id);
    for (uint64_t id : ids) {
        auto it = feeds_.find(id);
        refuse(it->second->conn(), RefuseReason::out_of_step, "");
        hooks_->release(conn_key_of(it->second->conn()));
        feeds_.erase(it);
    }
}

Result<ControlServer::ServiceOffer> BackupNode::offer_service(int pid) {
    if (takeover_) return fail("this node has taken over: start services with failoverd, before a takeover");
    ControlServer::ServiceOffer offer;
    offer.mode = "replay";
    offer.take = [this, pid](UniqueFd fd, std::string) {
        std::string why;
        if (!app_log_->attach(std::move(fd), pid, why)) log_error("service pid {}: refused: {}", pid, why);
    };
    return offer;
}

Result<std::string> BackupNode::handover(const std::optional<std::string>&) {
    if (takeover_) return fail("no ready backup: this node took over and has no backup of its own yet");
    return fail("no ready backup: this node is a backup; hand over on the primary");
}

bool BackupNode::caught_up() const {
    if (!greeted() || takeover_ || !eligible() || app_log_->refused()) return false;
    for (const auto& [id, f] : feeds_) {
        if (f->broken() || f->output().diverged_at() || !f->connected()) return false;
        // Every byte it logged is in the replica: nothing a takeover would still wait for.
        if (f->log().fed() < f->log().end()) return false;
    }
    return true;
}

void BackupNode::request_handover() {
    if (!greeted() || handover_requested_) return;
    handover_requested_ = true;
    log_info("backup: caught up with {} ({} connection(s) in step); asking it to hand over (preempt)",
             primary_->name(), feeds_.size());
    primary_->send(HandoverRequestRecord{epoch_});
    primary_->flush();
}

uint64_t BackupNode::next_conn_id() const {
    uint64_t highest = 0;
    for (const auto& [id, f] : feeds_) highest = std::max(highest, id);
    for (const auto& c : takeover_conns_) highest = std::max(highest, c.id);
    return highest + 1;
}

void BackupNode::open_feed(const ConnOpenRecord& r) {
    if (feeds_.count(r.conn_id)) return refuse(r, RefuseReason::duplicate, "");
    if (app_log_->refused()) return refuse(r, RefuseReason::out_of_step, "");
    if (feeds_.size() >= max_connections_)
        return refuse(r, RefuseReason::capacity, fmt::format("{} connections held", feeds_.size()));
    // The rebuild's socket now, so that a takeover only finishes it; and so that running
    // out of descriptors shows here, for one connection, not at takeover for all.
    // An MSS the kernel would refuse is left to the takeover, whose validation reports it.
    const uint16_t mss = rebuilt_mss(r) >= 88 ? rebuilt_mss(r) : 0;
    auto prepared = prepare_repair_socket(make_endpoint(r.vip_addr, r.vip_port),
                                          make_endpoint(r.client_addr, r.client_port), mss);
    if (!prepared) return refuse(r, RefuseReason::resources, prepared.error().message);
    auto f = ReplicaFeed::open(loop_, *options_.replica, r, limits_);
    if (!f) {
        const int err = errno;
        const bool no_resources = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
        return refuse(r, no_resources ? RefuseReason::resources : RefuseReason::replica, f.error().message);
    }
    (*f)->hold_prepared_socket(std::move(*prepared));
    // Held from now on: at takeover its client segments are dropped and recorded, not
    // reset, until its socket is rebuilt (no traffic for the VIP reaches this node
    // before then).
    if (auto held = hooks_->hold(conn_key_of(r)); !held)
        log_warn("backup: {}; its client's position will not be learned at takeover", held.error().message);
    // The replica's library learns which of its incoming connections is this client's
    // (docs/protocol.md, "Feeder names").
    app_log_->name_feeder({ntohl(r.client_addr), r.client_port, (*f)->local_port()});
    feeds_.emplace(r.conn_id, std::move(*f));
}

void BackupNode::on_holdings(const HoldingsRecord& r) {
    // Every record the primary sent this node before it counted came before this one:
    // what this node holds now is what the primary counted, unless a refusal of this
    // node's is still on its way to the primary (then it holds fewer than it is told).
    holdings_ = r;
    set_holds_every_connection(r.missing == 0 && feeds_.size() == r.protected_count);
}

std::string BackupNode::holdings_text() const {
    if (holds_every_connection_) return "every connection";
    if (!holdings_) return "not every connection: no count from the primary yet";
    if (holdings_->missing == 0) return "not every connection: refused one since the primary's last count";
    return fmt::format("not every connection: lacks {} of {}", holdings_->missing, holdings_->protected_count);
}

void BackupNode::set_holds_every_connection(bool all) {
    holds_every_connection_ = all;
    heartbeat_->set_holds_every_connection(all);
}

void BackupNode::refuse(const ConnOpenRecord& conn, RefuseReason reason, const std::string& detail, bool fed) {
    // It lacks one now: it says so at once, not when the primary has heard (an election
    // in between must not take it for one that holds every connection).
    set_holds_every_connection(false);
    log_warn("backup: {}: refused: {}{}{}; the primary leaves it unprotected", conn_label(conn),
             refuse_reason_text(reason), detail.empty() ? "" : ": ", detail);
    if (primary_ && !primary_->closed()) primary_->send(ConnRefusedRecord{conn.conn_id, reason});
    // Its replica will never see this client: an accept of it in the service's log
    // cannot be replayed (a duplicate id is another connection's, which holds it).
    if (!fed && reason != RefuseReason::duplicate) app_log_->client_refused(ntohl(conn.client_addr), conn.client_port);
}

// Once a second: idle connections give back their buffers' memory, and a connection
// whose replica connection broke (it cannot be taken over) is handed back to the
// primary rather than protected in name only.
void BackupNode::sweep_feeds() {
    std::vector<uint64_t> broken;
    size_t released = 0;
    for (auto& [id, f] : feeds_) {
        if (f->broken()) broken.push_back(id);
        else released += f->release_idle_memory();
    }
    // free() keeps small freed blocks in the heap, resident; hand whole free pages
    // back to the kernel when there was something to give.
    if (released >= (256u << 10)) malloc_trim(0);
    for (uint64_t id : broken) {
        // Gone already when the service was refused on the way (refuse_service hands
        // every connection back): nothing is touched through a feed after that.
        auto it = feeds_.find(id);
        if (it == feeds_.end()) continue;
        const ConnOpenRecord conn = it->second->conn();
        const bool connected = it->second->connected();
        hooks_->release(conn_key_of(conn));
        feeds_.erase(it);
        refuse(conn, RefuseReason::replica, "the replica connection broke", true);
        if (connected) app_log_->feeder_closed(ntohl(conn.client_addr), conn.client_port);
        else app_log_->feeder_failed(ntohl(conn.client_addr), conn.client_port);
    }
}

void BackupNode::send_health() {
    if (!primary_ || primary_->closed() || !primary_seen_ || takeover_) return;
    primary_->send(HealthRecord{eligible(), eligible() ? "" : health_->unhealthy_reason()});
}

void BackupNode::on_health_change(const HealthMonitor::Change& change) {
    if (notifier_) notifier_->check(change.spec.name, change.up, change.reason);
    // Taken over: the primary this node became acts on them (a failing check hands over).
    if (takeover_) {
        if (health_after_takeover_) health_after_takeover_(change);
        return;
    }
    if (notifier_) notifier_->instance(eligible() ? InstanceState::backup : InstanceState::fault);
    if (!change.up && !health_->healthy()) {
        log_warn("backup: not eligible to take over: {}", health_->unhealthy_reason());
    } else if (change.up && health_->healthy()) {
        log_info("backup: eligible to take over again (check {} is up)", change.spec.name);
        if (!declined_takeover_.empty()) {
            const std::string why = std::exchange(declined_takeover_, {});
            const uint64_t dead_ms = uint64_t(options_.heartbeat_ms) * uint64_t(options_.dead_after);
            // The primary handed over (it gave up the VIP) or is still silent: someone
            // must serve, and now this node can.
            if (declined_planned_ || heartbeat_->silence_ms(primary_peer_) > dead_ms) {
                begin_takeover(fmt::format("{}; declined then, the replica's checks pass now", why),
                               declined_planned_);
                return;
            }
            // It was heard again meanwhile: judged afresh (a verdict is given once).
            log_info("backup: the primary {} is heard again; no takeover", to_string(primary_address()));
            heartbeat_->judge(primary_peer_, dead_ms);
        }
    }
    send_health();
}

void BackupNode::on_resume(const ResumeRecord& r) {
    ReplicaFeed* f = awaiting_resume_ ? feed(r.conn_id) : nullptr;
    if (!f || f->conn().client_addr != r.client_addr || f->conn().client_port != r.client_port || f->broken()) {
        // Not held here (refused, closed, or this node joined later): the primary
        // stops waiting for this node's acknowledgements of it.
        primary_->send(ConnRefusedRecord{r.conn_id, RefuseReason::out_of_step});
        return;
    }
    resumed_.insert(r.conn_id);
    // Its stable point goes to the new primary, which knows nothing of it yet.
    f->stable_sent = 0;
    dirty_.push_back(r.conn_id);
}

void BackupNode::on_resume_end(const ResumeEndRecord& r) {
    if (!awaiting_resume_) return;
    awaiting_resume_ = false;
    const size_t kept = resumed_.size();
    drop_stale_feeds([this](uint64_t id) { return resumed_.count(id) == 0; });
    if (kept > 0)
        log_info("backup: {} connection(s) resumed by {} (of {} offered)", kept, primary_->name(), r.count);
    resumed_.clear();
}

void BackupNode::drop_stale_feeds(const std::function<bool(uint64_t)>& stale) {
    size_t dropped = 0;
    for (auto it = feeds_.begin(); it != feeds_.end();) {
        if (!stale(it->first)) {
            ++it;
            continue;
        }
        ReplicaFeed& f = *it->second;
        hooks_->release(conn_key_of(f.conn()));
        app_log_->feeder_closed(ntohl(f.conn().client_addr), f.conn().client_port);
        it = feeds_.erase(it);
        ++dropped;
    }
    if (dropped > 0)
        log_warn("backup: {} connection(s) of the previous stream dropped (the primary no longer protects them)",
                 dropped);
    std::erase_if(dirty_, [this](uint64_t id) { return feeds_.count(id) == 0; });
}

void BackupNode::on_cluster_event(Heartbeat::ClusterEvent event, uint64_t epoch) {
    using E = Heartbeat::ClusterEvent;
    switch (event) {
        case E::elected:
            if (takeover_ || campaign_why_.empty()) return;
            log_info("backup: elected at epoch {} by a quorum of {} (holding {} bytes of {}'s stream, {})", epoch,
                     options_.quorum, primary_ ? primary_->counters().bytes_received : 0,
                     to_string(primary_address()), holdings_text());
            take_over(std::exchange(campaign_why_, {}), campaign_planned_, epoch);
            return;
        case E::lease_lapsed:
            // Only a node that took over holds a lease.
            if (!takeover_ || !silent_reason_.empty()) return;
            fence(fmt::format("lease lost at epoch {} (no quorum of {} renewed it within {} ms)", epoch_,
                              options_.quorum, options_.lease_ms));
            return;
        case E::higher_epoch:
            if (!takeover_ || !silent_reason_.empty()) return;
            fall_silent(fmt::format("epoch {} seen, above this node's {}", epoch, epoch_));
            return;
        case E::lease_acquired:
            if (!takeover_ || !silent_reason_.empty() || fenced_.empty()) return;
            unfence();
            return;
    }
}

void BackupNode::fence(const std::string& why) {
    // The hooks drop the egress since the lease's deadline; the VIP goes too.
    fenced_ = why;
    fenced_at_ms_ = monotonic_ms();
    std::string vip = fmt::format("VIP {} removed", addr_to_string(options_.vip.addr));
    auto r = reclaimed_vip_ ? reclaimed_vip_->release() : takeover_->release_vip();
    if (!r) vip = fmt::format("can't remove the VIP: {}", r.error().message);
    reclaimed_vip_.reset();
    if (notifier_) notifier_->instance(InstanceState::fault);
    notify_status(fmt::format("silent: {}", why));
    log_error("backup: silent: {}; egress dropped by the hooks, {}; speaks again only if a quorum grants epoch {} again "
              "(nobody else elected)", why, vip, epoch_);
}

void BackupNode::unfence() {
    auto vip = VipAddress::claim(options_.dev, options_.vip.addr, options_.vip.length);
    if (!vip) return fall_silent(fmt::format("can't claim the VIP again: {}", vip.error().message));
    reclaimed_vip_.emplace(std::move(*vip));
    if (auto r = announcer_->announce(options_.vip.addr); !r) log_warn("backup: {}", r.error().message);
    log_warn("backup: lease granted again by a quorum of {} at epoch {} after {} ms without; VIP {} claimed again, "
             "speaking", options_.quorum, epoch_, monotonic_ms() - fenced_at_ms_, addr_to_string(options_.vip.addr));
    fenced_.clear();
    if (notifier_) notifier_->instance(InstanceState::master);
    notify_status("primary after a takeover: lease granted again");
}

void BackupNode::fall_silent(const std::string& why) {
    hooks_->set_frozen(true);
    heartbeat_->fall_silent();
    silent_reason_ = why;
    silent_since_ms_ = monotonic_ms();
    std::string vip = fmt::format("VIP {} removed", addr_to_string(options_.vip.addr));
    auto r = reclaimed_vip_ ? reclaimed_vip_->release() : takeover_->release_vip();
    if (!r) vip = fmt::format("can't remove the VIP: {}", r.error().message);
    reclaimed_vip_.reset();
    if (notifier_) notifier_->instance(InstanceState::fault);
    notify_status(fmt::format("silent: {}", why));
    log_error("backup: silent: {}; egress frozen, {}", why, vip);
}

void BackupNode::on_primary_lost(const std::string& why) {
    if (!primary_seen_ || takeover_) return;
    begin_takeover(fmt::format("replication stream broke: {}", why));
}

void BackupNode::on_tick() {
    drain_timer(tick_timer_.get());
    // Heartbeats and the judgement of the primary live on the heartbeat thread
    // (heartbeat.h); this tick only moves the takeover on and sweeps.
    if (takeover_) {
        takeover_->advance();
        report_takeover_once();
        if (g_log_level == LogLevel::debug && monotonic_ms() >= next_status_ms_) {
            next_status_ms_ = monotonic_ms() + 1000;
            const auto st = hooks_->stats();
            log_debug("backup: {} splice(s); hooks: {} acks ceiled, {} pure acks lifted", takeover_->live_splices(),
                      st.acks_ceiled, st.seqs_lifted);
        }
        return;
    }
    // What the other nodes show of this one (its checks, lease, vote). Not during a
    // takeover: that has no time to spare, and the primary it becomes reports then.
    const uint64_t now = monotonic_ms();
    if (auto report = report_cadence_.next(
            now, [&] { return node_report_of(status(StatusDetail::summary), heartbeat_->lease_view(), now); }))
        heartbeat_->publish_report(*report);
    // A campaign begun on a silence that ended (the stream still up, heartbeats back):
    // the primary is alive, and this node's own vote is its anyway. Not one begun by a
    // HANDOVER: that primary is silent, whatever its last heartbeats said.
    const uint64_t dead_ms = uint64_t(options_.heartbeat_ms) * uint64_t(options_.dead_after);
    if (!campaign_why_.empty() && !campaign_planned_ && primary_ && !primary_->closed() && stream_greeted_ &&
        heartbeat_->silence_ms(primary_peer_) <= dead_ms) {
        heartbeat_->stop_campaign();
        log_info("backup: the primary {} is heard again; no election", to_string(primary_address()));
        campaign_why_.clear();
        heartbeat_->judge(primary_peer_, dead_ms);
    }
    // An accept in the service's log that waits too long for its client's feeder.
    app_log_->tick(monotonic_ms());
    if (!primary_seen_) return;
    if (monotonic_ms() >= next_sweep_ms_) {
        next_sweep_ms_ = monotonic_ms() + 1000;
        sweep_feeds();
    }
}

bool BackupNode::others_alive() const {
    if (!options_.lease_enforced) return false;  // two data nodes: nobody else to follow
    const uint64_t dead_ms = uint64_t(options_.heartbeat_ms) * uint64_t(options_.dead_after);
    for (size_t i = 0; i < options_.peers.size(); ++i)
        if (PeerId{uint16_t(i)} != primary_peer_ && heartbeat_->may_follow(PeerId{uint16_t(i)}, dead_ms)) return true;
    return false;
}

std::vector<Takeover::Resumable> BackupNode::take_resumable() {
    return takeover_ ? takeover_->take_resumable() : std::vector<Takeover::Resumable>{};
}

std::optional<PeerId> BackupNode::peer_of(const sockaddr_in& from) const {
    // Over SCTP a peer's association may come from either of its addresses.
    for (size_t i = 0; i < options_.peers.size(); ++i) {
        PathAddresses peer{options_.peers[i], std::nullopt};
        if (i < options_.peers_second.size()) peer.second = options_.peers_second[i];
        if (peer.has(from.sin_addr.s_addr)) return PeerId{uint16_t(i)};
    }
    return std::nullopt;
}

void BackupNode::on_ring_readable() {
    // Serving: the primary this node becomes (in this turn of the loop) takes the ring
    // over; the events of the connections the takeover protects again are its.
    if (takeover_ && takeover_->serving() && !ring_kept_) return;
    // Hooks on a node without backups of its own: new connections stay unclamped.
    auto r = hooks_->drain([this](const tcpfo_event& ev, std::span<const uint8_t>) {
        if (ev.type == TCPFO_EV_CONN_OPEN) hooks_->forget(ev.key);
    });
    if (!r) log_error("backup: ring buffer: {}", r.error().message);
}

void BackupNode::begin_takeover(const std::string& why, bool planned) {
    if (takeover_) return;
    if (!eligible()) {
        // A replica that fails its own check would serve the clients worse than nothing
        // does: another backup (or the primary coming back) is the better outcome. Said
        // once per primary lost, whichever of the verdicts comes first.
        if (declined_takeover_.empty())
            log_warn("backup: primary {} is {} ({}) but this node is not eligible to take over ({}); not taking over",
                     to_string(primary_address()), planned ? "handing over" : "dead", why,
                     health_->unhealthy_reason());
        declined_takeover_ = why;
        declined_planned_ = planned;
        return;
    }
    // With leases, only a quorum's votes make this node the primary: it campaigns
    // (heartbeats as a candidate) and takes over once elected (on_cluster_event). The
    // voters grant only after every promise made to the old primary has run out, so
    // the old primary's lease has surely lapsed by then (docs/architecture.md, "Leases
    // and fencing").
    if (options_.lease_enforced) {
        if (!campaign_why_.empty()) return;  // campaigning already
        campaign_why_ = why;
        campaign_planned_ = planned;
        heartbeat_->campaign(epoch_, planned);
        log_warn("backup: primary {} is {} ({}); asking for votes at epoch {} or above (quorum {} of {})",
                 to_string(primary_address()), planned ? "handing over" : "dead", why, epoch_ + 1, options_.quorum,
                 options_.cluster ? options_.cluster->nodes.size() : 0);
        notify_status(fmt::format("candidate: asking for votes at epoch {}", epoch_ + 1));
        return;
    }
    take_over(why, planned, epoch_ + 1);
}

void BackupNode::take_over(const std::string& why, bool planned, uint64_t new_epoch) {
    // Reached once whichever comes first: the heartbeat thread's verdict (handed to
    // this thread through an eventfd), the stream breaking, or a HANDOVER record; the
    // others then find takeover_ set.
    log_warn("backup: primary {} is {} ({}); taking over {} connection(s) at epoch {}", to_string(primary_address()),
             planned ? "handing over" : "dead", why, feeds_.size(), new_epoch);
    // Fence: from now on nothing of the old epoch is accepted.
    epoch_ = new_epoch;
    // The replica reads the rest of the service's log, then goes live.
    app_log_->finish();
    note_takeover_begun(why);
    notify_status(fmt::format("taking over from {} at epoch {}", to_string(primary_address()), epoch_));
    heartbeat_->stop_judging();
    heartbeat_->set_epoch(epoch_);
    heartbeat_->set_role(NodeRole::primary);
    // The takeover must not wait for the CPU behind the services (a verdict of the
    // heartbeat thread has raised this thread already; a broken stream has not). It
    // goes back to the normal scheduler once it serves.
    raise_to_realtime(0, options_.realtime_priority, "the takeover");
    if (primary_) primary_->close();
    dirty_.clear();
    // This node is the one elected: its replica is given everything its log holds,
    // committed or not (the clients' retransmissions would bring the rest anyway).
    for (auto& [id, f] : feeds_) f->commit_everything();
    Takeover::Context context{loop_, options_, *hooks_, *announcer_, *raw_};
    context.resume_for_followers = others_alive();
    auto takeover = Takeover::start(context, std::move(feeds_));
    feeds_.clear();
    if (!takeover) {
        log_error("backup: can't take over: {}", takeover.error().message);
        return;
    }
    takeover_ = std::move(*takeover);
    if (notifier_) notifier_->instance(InstanceState::master);
    report_takeover_once();
}

void BackupNode::report_takeover_once() {
    if (takeover_reported_ || !takeover_->serving()) return;
    takeover_reported_ = true;
    // Serving: from now on this node's loop is a data path like any other.
    back_to_normal_priority();
    note_takeover_result();
    const Takeover::Report& r = takeover_->report();
    notify_status(fmt::format("primary after a takeover at epoch {}: {} connection(s) rebuilt, {} reset", epoch_,
                              r.rebuilt, r.reset));
    log_info("backup: takeover complete: {} connection(s) rebuilt, {} reset, in {} ms "
             "(VIP claimed at {} ms after {} attempt(s), probes sent at {} ms, {} client position(s) learned at {} ms, "
             "replica drained at {} ms, rebuilt at {} ms, {} client(s) prompted to resend)",
             r.rebuilt, r.reset, r.serving_ms, r.claimed_ms, r.claim_attempts, r.probed_ms, r.positions_learned, r.learned_ms,
             r.drained_ms, r.rebuilt_ms, r.prompted);
}

void BackupNode::after_events() {
    heartbeat_->main_loop_alive();
    retired_link_.reset();
    // What an election among several backups compares (election_rank.h).
    if (primary_ && stream_greeted_) heartbeat_->set_log_position(epoch_, primary_->counters().bytes_received);
    else heartbeat_->set_log_position(0, 0);
    heartbeat_->set_fit_to_lead(primary_seen_ && !takeover_ && eligible());
    if (takeover_) {
        takeover_->advance();
        report_takeover_once();
        return;
    }
    std::sort(dirty_.begin(), dirty_.end());
    dirty_.erase(std::unique(dirty_.begin(), dirty_.end()), dirty_.end());
    for (uint64_t id : dirty_) {
        ReplicaFeed* f = feed(id);
        if (!f) continue;
        f->pump();
        const uint64_t stable = f->log().stable();
        auto& sent = f->stable_sent;
        if (stable > sent && primary_ && !primary_->closed()) {
            primary_->send(StableRecord{id, stable});
            sent = stable;
        }
    }
    dirty_.clear();
    if (primary_) primary_->flush();
}

}  // namespace tcpfo

// failoverd: keeps live TCP connections to a VIP alive across the crash of the
// node that holds them. See docs/operations.md.
#include <net/if.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "userd/auth/key_file.h"
#include "userd/base/event_loop.h"
#include "userd/base/log.h"
#include "userd/base/privileges.h"
#include "userd/base/service_manager.h"
#include "userd/cluster/witness_node.h"
#include "userd/config/options.h"
#include "userd/node/node.h"
#include "userd/status/control_server.h"
#include "userd/status/metrics_server.h"
#include "userd/status/node_sources.h"
#include "userd/transport/sctp_link.h"

using namespace tcpfo;

namespace {

int die(const std::string& message, int code = 1) {
    std::fprintf(stderr, "failoverd: %s\n", message.c_str());
    return code;
}

std::string key_ids(const KeyView& view) {
    std::string ids;
    for (const auto& k : view.accepted) ids += (ids.empty() ? "" : ", ") + key_id_text(k.id);
    return ids;
}

// SIGHUP: the key file again, without a restart. A file that does not load changes
// nothing (the keys in force stay); keys it no longer holds stay accepted for the
// grace period (KeyRing), so peers reloaded later are still heard meanwhile.
void reload_keys(const Options& options) {
    if (!options.keys) {
        log_warn("failoverd: SIGHUP: no key_file was configured at start; peers stay unauthenticated (adding a key "
                 "takes a restart)");
        return;
    }
    auto keys = load_key_file(options.key_file);
    if (!keys) {
        log_error("failoverd: SIGHUP: {}; the keys in force stay", keys.error().message);
        return;
    }
    options.keys->install(std::move(*keys), monotonic_ms());
    const auto view = options.keys->view(monotonic_ms());
    log_info("failoverd: keys reloaded from {}: sends with {}, accepts {} (a dropped key for {} s more)",
             options.key_file, key_id_text(view->sending.id), key_ids(*view), KeyRing::kDefaultGraceMs / 1000);
}

template <class Node>
int run(EventLoop& loop, Node& node, int signal_fd, ControlServer& control, MetricsServer* metrics,
        const Options& options) {
    // `failoverctl status` from now on; the source goes before the node does.
    const uint64_t started_us = realtime_us();
    control.set_status_source([&node, &options, started_us] {
        NodeStatus status = node.status();
        fill_common_status(status, options, started_us);
        return status;
    });
    // The metrics are the same status without its connections (metrics_text.h).
    if (metrics)
        metrics->set_source([&node, &options, started_us] {
            NodeStatus status = node.status(StatusDetail::summary);
            fill_common_status(status, options, started_us);
            return status;
        });
    // tcpfo-run's services from now on too.
    control.set_service_handler([&node](int pid) { return node.offer_service(pid); });
    // `failoverctl handover`: a primary hands over; a backup refuses.
    control.set_handover_handler([&node](const std::optional<std::string>& to) { return node.handover(to); });
    struct Unset {
        ControlServer& control;
        MetricsServer* metrics;
        ~Unset() {
            if (metrics) metrics->set_source({});
            control.set_status_source({});
            control.set_service_handler({});
            control.set_handover_handler({});
        }
    } unset{control, metrics};
    bool stop = false;
    // A primary with a ready backup hands over first and stops once the backup has the
    // HANDOVER (Node::stop_ready); a second signal stops it at once.
    bool handing_over = false;
    if (auto r = loop.add(signal_fd, EPOLLIN, [&](uint32_t) {
            signalfd_siginfo info{};
            [[maybe_unused]] ssize_t n = ::read(signal_fd, &info, sizeof info);
            if (info.ssi_signo == SIGHUP) return reload_keys(options);
            if (handing_over) {
                log_info("failoverd: signal {} again, shutting down now", info.ssi_signo);
                stop = true;
                return;
            }
            log_info("failoverd: signal {}, shutting down", info.ssi_signo);
            handing_over = node.stop_by_handing_over();
            stop = !handing_over;
            notify_stopping(handing_over ? "handing over to its backup, then stopping" : "stopping");
        });
        !r)
        return die(r.error().message);
    // Under a systemd unit with WatchdogSec=: pinged from the loop, so a wedged loop
    // (not just a live process) is what systemd sees stop.
    UniqueFd watchdog_timer;
    if (auto every = watchdog_interval()) {
        auto timer = make_periodic_timer(int(every->count()));
        if (!timer) return die(timer.error().message);
        watchdog_timer = std::move(*timer);
        if (auto r = loop.add(watchdog_timer.get(), EPOLLIN, [&](uint32_t) {
                drain_timer(watchdog_timer.get());
                notify_watchdog();
            });
            !r)
            return die(r.error().message);
        notify_watchdog();
    }
    while (!stop) {
        if (auto r = loop.run_once(handing_over ? 10 : 100); !r) return die(r.error().message);
        node.after_events();
        if constexpr (requires { node.fatal_error(); }) {  // a witness has no roles to lose
            if (node.fatal_error()) {
                node.shut_down();
                return die(*node.fatal_error());
            }
        }
        if (handing_over && node.stop_ready()) stop = true;
    }
    node.shut_down();
    return 0;
}

// Start-up is over (BPF loaded, VIP claimed, sockets bound): only what failoverd still
// uses from here on (privileges.h). 0, or the exit code after one line.
int drop_capabilities() {
    auto kept = keep_only_needed_capabilities();
    if (!kept) return die(kept.error().message);
    log_info("failoverd: keeps the capabilities {} and drops the rest", *kept);
    return 0;
}

// Said once the node has started: a start that fails says only its error.
void log_authentication(const Options& options) {
    if (options.keys) {
        const auto view = options.keys->view(monotonic_ms());
        log_info("failoverd: peers authenticated with {} (sends with {}, accepts {})", options.key_file,
                 key_id_text(view->sending.id), key_ids(*view));
    } else {
        log_warn("failoverd: no key_file: peers are NOT authenticated; anyone who reaches {} can forge heartbeats and "
                 "records (docs/operations.md, \"Keys\")", to_string(options.listen));
    }
}

}  // namespace

int main(int argc, char** argv) {
    // A bad command line (an unknown flag, a bad value) exits 2 with a pointer to --help;
    // so does a configuration that is wrong or that this build cannot run yet, without
    // the pointer when a config file is involved (the error names the file and line).
    auto command_line = parse_command_line(argc, argv);
    if (!command_line) {
        std::fprintf(stderr, "failoverd: %s (see --help)\n", command_line.error().message.c_str());
        return 2;
    }
    if (command_line->help_requested) {
        std::fputs(usage_text(), stdout);
        return 0;
    }
    if (command_line->config_test_file) {
        // Needs no root and touches nothing but the file: the verdict, exit 0 or 1.
        auto verdict = config_test_verdict(*command_line->config_test_file);
        if (!verdict) return die(verdict.error().message, 1);
        std::printf("failoverd: %s\n", verdict->c_str());
        return 0;
    }
    auto parsed = resolve_options(command_line->settings);
    if (!parsed) {
        const bool about_a_file = command_line->settings.config_file.has_value();
        std::fprintf(stderr, "failoverd: %s%s\n", parsed.error().message.c_str(), about_a_file ? "" : " (see --help)");
        return 2;
    }
    const Options& options = *parsed;
    if (options.verbose) g_log_level = LogLevel::debug;
    if (geteuid() != 0) return die("must run as root (needs CAP_NET_ADMIN and CAP_BPF)");
    if (!options.is_witness && if_nametoindex(options.dev.c_str()) == 0)
        return die(fmt::format("interface {} does not exist", options.dev));
    // Before anything is started: a kernel without SCTP would otherwise show up as a
    // backup that cannot listen, or a primary retrying its connects forever.
    if (options.transport == Transport::sctp && !options.is_witness)
        if (auto r = check_sctp_available(); !r) return die("--transport sctp: " + r.error().message);
    if (options.cluster && options.is_witness) {
        log_info("failoverd: node {} of {}, the witness (lease {} ms, quorum {})", options.cluster->own_id,
                 options.cluster->nodes.size(), options.lease_ms, options.quorum);
    } else if (options.cluster) {
        const ClusterMembership& c = *options.cluster;
        log_info("failoverd: node {} of {} (priority {}{}), starts as {}{}{}", c.own_id, c.nodes.size(), c.own_priority,
                 c.two_node ? ", two-node" : "", options.role == NodeRole::primary ? "primary" : "backup",
                 options.role == NodeRole::primary ? " unless a peer serves already" : "",
                 c.witness_id ? fmt::format("; witness node {}, lease {} ms, quorum {}", *c.witness_id,
                                            options.lease_ms, options.quorum)
                              : "");
    }

    // Failure detection is measured in tens of milliseconds: heartbeats run on a thread
    // of their own at --rt-priority (userd/cluster/heartbeat.h), and so does a
    // takeover. The replication path runs under the normal scheduler, with a larger
    // share (--nice) but beside the services it protects rather than ahead of them:
    // at SCHED_FIFO it preempted them at every event (docs/performance.md).
    if (setpriority(PRIO_PROCESS, 0, options.nice) != 0)
        log_warn("failoverd: can't set nice {}: {}", options.nice, std::strerror(errno));

    // SIGTERM/SIGINT arrive through the loop, so shutting down happens between events.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);  // rereads the key file
    sigprocmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    UniqueFd signal_fd(signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!signal_fd) return die("can't create signalfd");

    auto loop = EventLoop::create();
    if (!loop) return die(loop.error().message);
    // Before anything is claimed: a second failoverd on the same socket stops here.
    auto control = ControlServer::open(**loop, options.control_path);
    if (!control) return die(control.error().message);
    // --metrics: bound now too, so that a port in use stops the start before anything
    // is claimed.
    std::unique_ptr<MetricsServer> metrics;
    if (options.metrics) {
        auto opened = MetricsServer::open(**loop, *options.metrics);
        if (!opened) return die(opened.error().message);
        metrics = std::move(*opened);
    }

    // systemd's READY=1 once the node has started in its role (hooks attached, VIP or
    // listener up): a primary serves from then on, protected or not, and a unit that
    // waited for its backups would fail to start whenever the backup is down. STATUS=
    // says when they join (notify_ready again from the nodes). The role may change
    // later (userd/node/node.h): one Node drives it. A witness only votes.
    if (options.is_witness) {
        auto node = WitnessNode::start(**loop, options);
        if (!node) return die(node.error().message);
        if (auto r = drop_capabilities(); r != 0) return r;
        log_authentication(options);
        notify_ready("witness: voting");
        return run(**loop, **node, signal_fd.get(), **control, metrics.get(), options);
    }
    auto node = Node::start(**loop, options);
    if (!node) return die(node.error().message);
    if (auto r = drop_capabilities(); r != 0) return r;
    log_authentication(options);
    notify_ready((*node)->start_text());
    return run(**loop, **node, signal_fd.get(), **control, metrics.get(), options);
}

#include "userd/health/health_monitor.h"

#include <sys/epoll.h>

#include <ctime>

#include "userd/base/inet_address.h"
#include "userd/base/log.h"

namespace tcpfo {

std::string check_target_text(const CheckSpec& spec) {
    if (spec.kind == CheckKind::script) {
        std::string text;
        for (const auto& a : spec.argv) text += (text.empty() ? "" : " ") + a;
        return text;
    }
    return spec.target ? to_string(*spec.target) : "?";
}

Result<std::unique_ptr<HealthMonitor>> HealthMonitor::start(EventLoop& loop, std::vector<CheckSpec> checks,
                                                            OnChange on_change) {
    std::unique_ptr<HealthMonitor> monitor(new HealthMonitor(loop, std::move(on_change)));
    monitor->specs_ = checks;
    const uint64_t now_us = realtime_us();
    for (CheckSpec& spec : checks) {
        auto check = std::make_unique<Check>(spec);
        check->since_us = now_us;
        auto timer = make_oneshot_timer();
        if (!timer) return std::unexpected(timer.error());
        check->timer = std::move(*timer);
        Check* c = check.get();
        HealthMonitor* self = monitor.get();
        if (auto r = loop.add(c->timer.get(), EPOLLIN, [self, c](uint32_t) {
                drain_timer(c->timer.get());
                self->run(*c);
            });
            !r)
            return std::unexpected(r.error());
        if (auto r = arm_oneshot_timer(c->timer.get(), 1); !r) return std::unexpected(r.error());
        log_info("health: check {} ({} {}): every {} ms, down after {} failure(s), up after {} success(es); starts {}",
                 spec.name, check_kind_name(spec.kind), check_target_text(spec), spec.interval_ms, spec.fall,
                 spec.rise, spec.init_fail ? "down (init_fail)" : "up");
        monitor->checks_.push_back(std::move(check));
    }
    return monitor;
}

HealthMonitor::~HealthMonitor() {
    for (auto& c : checks_)
        if (c->timer) loop_.remove(c->timer.get());
}

void HealthMonitor::run(Check& check) {
    // The next run is due an interval after this one's start, whatever this one takes.
    if (auto r = arm_oneshot_timer(check.timer.get(), uint64_t(check.spec.interval_ms)); !r)
        log_error("health: check {}: {}", check.spec.name, r.error().message);
    check.retired.reset();
    if (check.probe) {
        // Its timeouts are longer than the interval: this run is skipped, not stacked.
        log_debug("health: check {}: previous run still going; skipped", check.spec.name);
        return;
    }
    check.started_us_mono = monotonic_us();
    check.starting = true;
    check.finished_while_starting = false;
    Check* c = &check;
    auto probe = start_probe(loop_, check.spec, [this, c](ProbeOutcome outcome) { on_result(*c, std::move(outcome)); });
    check.starting = false;
    if (!probe) {
        // Not the service's fault, but the check could not tell: a failure all the same.
        on_result(check, ProbeOutcome{false, probe.error().message});
        return;
    }
    // A probe that finished inside start_probe (a connect refused at once) was counted
    // already: it is kept only until the next run.
    if (check.finished_while_starting) check.retired = std::move(*probe);
    else check.probe = std::move(*probe);
}

void HealthMonitor::on_result(Check& check, ProbeOutcome outcome) {
    outcome.latency_us = monotonic_us() - check.started_us_mono;
    // Retired, not destroyed: this runs inside the probe's own call.
    if (check.probe) check.retired = std::move(check.probe);
    if (check.starting) check.finished_while_starting = true;
    check.ran = true;
    check.last_run_us = realtime_us();
    if (!outcome.ok) ++check.failures;
    const bool was_up = check.state.up();
    const bool edge = check.state.count(outcome);
    if (!outcome.ok && !edge && was_up)
        log_info("health: check {}: failed ({}), {} of {} failure(s) to go down", check.spec.name, outcome.reason,
                 check.state.streak(), check.spec.fall);
    else if (!outcome.ok && !was_up && outcome.reason != check.last.reason)
        log_info("health: check {}: still down: {}", check.spec.name, outcome.reason);
    check.last = outcome;
    if (!edge) return;
    check.since_us = check.last_run_us;
    if (check.state.up()) {
        check.down_reason.clear();
        log_info("health: check {} ({} {}) is up after {} success(es) ({:.1f} ms)", check.spec.name,
                 check_kind_name(check.spec.kind), check_target_text(check.spec), check.spec.rise,
                 double(outcome.latency_us) / 1000);
    } else {
        check.down_reason = outcome.reason;
        log_warn("health: check {} ({} {}) is down after {} failure(s): {}", check.spec.name,
                 check_kind_name(check.spec.kind), check_target_text(check.spec), check.spec.fall, outcome.reason);
    }
    if (on_change_) on_change_(Change{check.spec, check.state.up(), check.down_reason});
}

bool HealthMonitor::healthy() const {
    for (const auto& c : checks_)
        if (!c->state.up()) return false;
    return true;
}

std::string HealthMonitor::unhealthy_reason() const {
    for (const auto& c : checks_)
        if (!c->state.up())
            // The latest failure says most (a 503 that became a refused connect); while
            // rising, the one that took it down; before any, init_fail.
            return fmt::format("check {}: {}", c->spec.name,
                               c->ran && !c->last.ok      ? c->last.reason
                               : !c->down_reason.empty() ? c->down_reason
                                                         : std::string("not passed yet (init_fail)"));
    return "";
}

HealthStatus HealthMonitor::status() const {
    HealthStatus s;
    for (const auto& c : checks_) {
        HealthCheckStatus h;
        h.name = c->spec.name;
        h.type = check_kind_name(c->spec.kind);
        h.target = check_target_text(c->spec);
        h.state = c->state.up() ? "up" : "down";
        h.last_result = !c->ran ? "none" : c->last.ok ? "success" : "failure";
        h.reason = c->ran ? c->last.reason : "";
        h.latency_ms = double(c->last.latency_us) / 1000;
        h.last_run_us = c->last_run_us;
        h.since_us = c->since_us;
        h.runs = c->state.results();
        h.failures = c->failures;
        h.streak = c->state.streak();
        s.checks.push_back(std::move(h));
    }
    s.eligible = healthy();
    s.reason = unhealthy_reason();
    return s;
}

}  // namespace tcpfo

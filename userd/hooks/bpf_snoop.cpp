#include "userd/hooks/bpf_snoop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstring>
#include <utility>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "userd/base/log.h"
#include "userd/protocol/conn_key.h"
#include "bpf/snoop.h"
#include "snoop.skel.h"

namespace tcpfo {
namespace {

// Distinctive handle so our filters are recognisable in `tc filter show`; the same
// handle with BPF_TC_F_REPLACE lets a restarted failoverd take over its old filters.
constexpr uint32_t kTcHandle = 0x7cf0;
constexpr uint32_t kTcPriority = 1;

// libbpf talks through a print callback: its warnings (a failed load includes the
// verifier's log) become our warn lines, its chatter stays out.
int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
    if (level != LIBBPF_WARN) return 0;
    char line[1024];
    vsnprintf(line, sizeof(line), format, args);
    size_t len = strlen(line);
    while (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
    log_warn("libbpf: {}", line);
    return 0;
}

bpf_tc_hook make_hook(int ifindex, bpf_tc_attach_point point) {
    bpf_tc_hook hook{};
    hook.sz = sizeof(hook);
    hook.ifindex = ifindex;
    hook.attach_point = point;
    return hook;
}

bpf_tc_opts make_tc_opts(int prog_fd, uint32_t flags) {
    bpf_tc_opts opts{};
    opts.sz = sizeof(opts);
    opts.handle = kTcHandle;
    opts.priority = kTcPriority;
    opts.prog_fd = prog_fd;
    opts.flags = flags;
    return opts;
}

}  // namespace


Result<std::unique_ptr<BpfSnoop>> BpfSnoop::open_and_load(const SnoopConfig& config) {
    if (config.vip_addr == 0) return fail("can't load BPF snoop: VIP address is 0.0.0.0");
    if (config.vip_port == 0) return fail("can't load BPF snoop: VIP port is 0");
    libbpf_set_print(libbpf_print);

    std::unique_ptr<BpfSnoop> snoop(new BpfSnoop());
    snoop->skel_ = snoop_bpf__open();
    if (!snoop->skel_) return sys_fail(errno, "can't open BPF object snoop");
    snoop->skel_->rodata->vip_addr = config.vip_addr;
    snoop->skel_->rodata->vip_port = htons(config.vip_port);
    // The namespace of the device (the caller's, as attach_to assumes): the service's
    // death is watched at tcp_close(), which runs for every namespace of the host.
    if (struct stat ns{}; stat("/proc/thread-self/ns/net", &ns) == 0)
        snoop->skel_->rodata->netns_ino = uint32_t(ns.st_ino);

    int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return sys_fail(-cpus, "can't count possible CPUs");
    // One 64 KiB payload buffer per CPU (see data_scratch in bpf/tcpfo_maps.h).
    if (int err = bpf_map__set_max_entries(snoop->skel_->maps.data_scratch, cpus); err)
        return sys_fail(-err, "can't size BPF map data_scratch to {} CPUs", cpus);

    if (int err = snoop_bpf__load(snoop->skel_); err)
        return sys_fail(-err, "can't load BPF programs of snoop (see libbpf lines above)");

    snoop->ring_ = ring_buffer__new(bpf_map__fd(snoop->skel_->maps.events), on_ring_record,
                                    snoop.get(), nullptr);
    if (!snoop->ring_) return sys_fail(errno, "can't open BPF ring buffer events");
    return snoop;
}

Result<std::unique_ptr<BpfSnoop>> BpfSnoop::load(const SnoopConfig& config) {
    return open_and_load(config);
}

Result<std::unique_ptr<BpfSnoop>> BpfSnoop::attach(const SnoopConfig& config) {
    // Checked before loading so a typo costs no verifier run.
    if (if_nametoindex(config.dev.c_str()) == 0)
        return sys_fail(errno, "can't resolve ifindex for {}", config.dev);
    auto snoop = open_and_load(config);
    if (!snoop) return snoop;
    if (auto attached = (*snoop)->attach_to(config.dev); !attached)
        return std::unexpected(attached.error());
    return snoop;
}

Result<void> BpfSnoop::attach_to(const std::string& dev) {
    ifindex_ = static_cast<int>(if_nametoindex(dev.c_str()));
    if (ifindex_ == 0) return sys_fail(errno, "can't resolve ifindex for {}", dev);
    // An ifindex means something only in its namespace: detaching must happen there.
    netns_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (netns_fd_ < 0) return sys_fail(errno, "can't open the network namespace of {}", dev);

    bpf_tc_hook hook = make_hook(ifindex_, BPF_TC_INGRESS);
    int err = bpf_tc_hook_create(&hook);
    if (err && err != -EEXIST) return sys_fail(-err, "can't create clsact on {}", dev);
    created_clsact_ = err == 0;

    bpf_tc_opts ingress = make_tc_opts(bpf_program__fd(skel_->progs.tcpfo_ingress), BPF_TC_F_REPLACE);
    if (err = bpf_tc_attach(&hook, &ingress); err)
        return sys_fail(-err, "can't attach tc ingress on {}", dev);
    ingress_attached_ = true;

    hook = make_hook(ifindex_, BPF_TC_EGRESS);
    bpf_tc_opts egress = make_tc_opts(bpf_program__fd(skel_->progs.tcpfo_egress), BPF_TC_F_REPLACE);
    if (err = bpf_tc_attach(&hook, &egress); err)
        return sys_fail(-err, "can't attach tc egress on {}", dev);
    egress_attached_ = true;

    // The service's death (tcpfo_sock_state): without it a crash of the service resets
    // its connections, as without tcpfo; everything else works, so a kernel that
    // cannot attach it gets a warning, not a refusal.
    service_death_link_ = bpf_program__attach(skel_->progs.tcpfo_sock_state);
    if (!service_death_link_)
        log_warn("can't attach raw tracepoint inet_sock_set_state ({}): a crash of the service will reset its connections",
                 strerror(errno));
    return {};
}

namespace {

bool same_netns(int a_fd, int b_fd) {
    struct stat a{}, b{};
    return fstat(a_fd, &a) == 0 && fstat(b_fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

void BpfSnoop::detach() {
    if (service_death_link_) bpf_link__destroy(std::exchange(service_death_link_, nullptr));
    if (netns_fd_ < 0) return;
    int here = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    bool switched = false;
    if (here >= 0 && !same_netns(here, netns_fd_)) {
        if (setns(netns_fd_, CLONE_NEWNET) != 0) {
            log_warn("can't enter the network namespace of ifindex {} to detach: {}", ifindex_, strerror(errno));
            close(here);
            return;
        }
        switched = true;
    }
    if (ingress_attached_) {
        bpf_tc_hook hook = make_hook(ifindex_, BPF_TC_INGRESS);
        bpf_tc_opts opts = make_tc_opts(0, 0);
        if (int err = bpf_tc_detach(&hook, &opts); err)
            log_warn("can't detach tc ingress from ifindex {}: {}", ifindex_, strerror(-err));
    }
    if (egress_attached_) {
        bpf_tc_hook hook = make_hook(ifindex_, BPF_TC_EGRESS);
        bpf_tc_opts opts = make_tc_opts(0, 0);
        if (int err = bpf_tc_detach(&hook, &opts); err)
            log_warn("can't detach tc egress from ifindex {}: {}", ifindex_, strerror(-err));
    }
    if (created_clsact_) {
        bpf_tc_hook hook = make_hook(ifindex_, static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
        bpf_tc_hook_destroy(&hook);
    }
    if (switched && setns(here, CLONE_NEWNET) != 0)
        log_error("can't return to the original network namespace: {}", strerror(errno));
    if (here >= 0) close(here);
    close(netns_fd_);
    netns_fd_ = -1;
}

BpfSnoop::~BpfSnoop() {
    detach();
    ring_buffer__free(ring_);
    snoop_bpf__destroy(skel_);
}

int BpfSnoop::event_fd() const { return ring_buffer__epoll_fd(ring_); }

int BpfSnoop::on_ring_record(void* ctx, void* data, size_t size) {
    auto* self = static_cast<BpfSnoop*>(ctx);
    tcpfo_event ev;
    if (size < sizeof(ev)) {
        self->malformed_records_++;
        return 0;
    }
    std::memcpy(&ev, data, sizeof(ev));
    std::span<const uint8_t> payload;
    if (ev.type == TCPFO_EV_DATA) {
        if (size - sizeof(ev) < ev.len) {
            self->malformed_records_++;
            return 0;
        }
        payload = {static_cast<const uint8_t*>(data) + sizeof(ev), ev.len};
    }
    (*self->handler_)(ev, payload);
    return 0;
}

Result<size_t> BpfSnoop::drain(const EventHandler& on_event) {
    handler_ = &on_event;
    int consumed = ring_buffer__consume(ring_);
    handler_ = nullptr;
    if (consumed < 0) return sys_fail(-consumed, "can't read BPF ring buffer events");
    if (malformed_records_ > 0) {
        log_warn("BPF ring buffer: skipped {} malformed records", malformed_records_);
        malformed_records_ = 0;
    }
    return static_cast<size_t>(consumed);
}

Result<void> BpfSnoop::set_stable(const tcpfo_conn_key& key, uint32_t stable_seq) {
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.stable), &key, &stable_seq, BPF_EXIST))
        return sys_fail(errno, "can't set stable point of {}", conn_label(0, key));
    return {};
}

Result<tcpfo_conn_state> BpfSnoop::conn_state(const tcpfo_conn_key& key) const {
    tcpfo_snoop_conn conn{};
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.conns), &key, &conn))
        return sys_fail(errno, "can't read BPF state of {}", conn_label(0, key));
    return conn.state;
}

Result<uint32_t> BpfSnoop::server_ack(const tcpfo_conn_key& key) const {
    tcpfo_snoop_conn conn{};
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.conns), &key, &conn))
        return sys_fail(errno, "can't read BPF state of {}", conn_label(0, key));
    return conn.server_ack;
}

void BpfSnoop::forget(const tcpfo_conn_key& key) {
    // Absent entries (ENOENT) are expected: each table is cleaned independently.
    bpf_map_delete_elem(bpf_map__fd(skel_->maps.stable), &key);
    bpf_map_delete_elem(bpf_map__fd(skel_->maps.conns), &key);
    bpf_map_delete_elem(bpf_map__fd(skel_->maps.rebuilt), &key);
    bpf_map_delete_elem(bpf_map__fd(skel_->maps.pending_syns), &key);
    bpf_map_delete_elem(bpf_map__fd(skel_->maps.held), &key);
}

Result<void> BpfSnoop::adopt(const tcpfo_conn_key& key, const tcpfo_conn_state& state,
                             uint32_t stable_seq) {
    tcpfo_snoop_conn conn{};
    conn.state = state;
    conn.server_ack = state.last_sent_ack;
    // stable first: a conns entry without it would pass unclamped ACKs.
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.stable), &key, &stable_seq, BPF_ANY))
        return sys_fail(errno, "can't adopt {}: stable table", conn_label(0, key));
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.conns), &key, &conn, BPF_ANY)) {
        int err = errno;
        forget(key);
        return sys_fail(err, "can't adopt {}: connection table", conn_label(0, key));
    }
    // Its ack ceiling and the client's ACK recorded so far stay if it has them.
    const tcpfo_rebuilt fresh{};
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.rebuilt), &key, &fresh, BPF_NOEXIST) && errno != EEXIST) {
        int err = errno;
        forget(key);
        return sys_fail(err, "can't enable the ack ceiling of {}", conn_label(0, key));
    }
    return {};
}

Result<void> BpfSnoop::mark_rebuilt(const tcpfo_conn_key& key) {
    const tcpfo_rebuilt fresh{};
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.rebuilt), &key, &fresh, BPF_ANY))
        return sys_fail(errno, "can't enable the ack ceiling of {}", conn_label(0, key));
    return {};
}

Result<void> BpfSnoop::hold(const tcpfo_conn_key& key) {
    const tcpfo_held_client fresh{};
    // BPF_NOEXIST: holding twice keeps what was recorded since the first hold.
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.held), &key, &fresh, BPF_NOEXIST) && errno != EEXIST)
        return sys_fail(errno, "can't hold {}", conn_label(0, key));
    return {};
}

Result<tcpfo_held_client> BpfSnoop::held(const tcpfo_conn_key& key) const {
    tcpfo_held_client record{};
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.held), &key, &record))
        return sys_fail(errno, "can't read the hold record of {}", conn_label(0, key));
    return record;
}

Result<void> BpfSnoop::all_held(HeldRecords& out) const {
    // BPF_MAP_LOOKUP_BATCH: up to kBatch entries per syscall instead of one each,
    // straight into the caller's buffer.
    constexpr uint32_t kBatch = 1024;
    const int fd = bpf_map__fd(skel_->maps.held);
    std::array<tcpfo_conn_key, kBatch> keys;
    std::array<tcpfo_held_client, kBatch> values;
    out.clear();
    tcpfo_conn_key next{};
    bool first = true;
    for (;;) {
        uint32_t count = kBatch;
        tcpfo_conn_key in = next;
        const int rc = bpf_map_lookup_batch(fd, first ? nullptr : &in, &next, keys.data(), values.data(), &count,
                                            nullptr);
        const int err = rc ? errno : 0;
        for (uint32_t i = 0; i < count; ++i) out.emplace_back(keys[i], values[i]);
        if (rc && err == ENOENT) return {};  // the last batch
        if (rc) return sys_fail(err, "can't read the hold records");
        first = false;
    }
}

void BpfSnoop::release(const tcpfo_conn_key& key) {
    bpf_map_delete_elem(bpf_map__fd(skel_->maps.held), &key);  // ENOENT: not held, fine
}

void BpfSnoop::release_all(std::span<const tcpfo_conn_key> keys) {
    // BPF_MAP_DELETE_BATCH stops at the first key that is not held (ENOENT, fine
    // here) and says how many it deleted: that key is skipped and the rest go on.
    const int fd = bpf_map__fd(skel_->maps.held);
    while (!keys.empty()) {
        uint32_t count = uint32_t(std::min<size_t>(keys.size(), UINT32_MAX));
        const int rc = bpf_map_delete_batch(fd, keys.data(), &count, nullptr);
        if (rc == 0) return;
        if (errno != ENOENT) {
            // Not supported or refused: one at a time, as release() does.
            for (size_t i = count; i < keys.size(); ++i) release(keys[i]);
            return;
        }
        keys = keys.subspan(std::min<size_t>(keys.size(), size_t(count) + 1));
    }
}

void BpfSnoop::set_takeover_mode(bool on) {
    // .bss is memory-mapped by the skeleton: the hooks see the store at once.
    __atomic_store_n(&skel_->bss->takeover_mode, on ? 1u : 0u, __ATOMIC_RELEASE);
}

bool BpfSnoop::takeover_mode() const {
    return __atomic_load_n(&skel_->bss->takeover_mode, __ATOMIC_ACQUIRE) != 0;
}

void BpfSnoop::set_frozen(bool on) {
    __atomic_store_n(&skel_->bss->frozen, on ? 1u : 0u, __ATOMIC_RELEASE);
}

void BpfSnoop::set_lease_deadline(uint64_t until_ms) {
    // .bss is memory-mapped: one store, no system call, from the heartbeat thread.
    __atomic_store_n(&skel_->bss->lease_until_ns, until_ms * 1000000ull, __ATOMIC_RELEASE);
}

bool BpfSnoop::frozen() const { return __atomic_load_n(&skel_->bss->frozen, __ATOMIC_ACQUIRE) != 0; }

HookStats BpfSnoop::stats() const {
    int cpus = libbpf_num_possible_cpus();
    std::vector<uint64_t> per_cpu(cpus > 0 ? cpus : 1);
    uint64_t totals[TCPFO_STAT_COUNT] = {};
    for (uint32_t slot = 0; slot < TCPFO_STAT_COUNT; slot++) {
        if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.stats), &slot, per_cpu.data())) continue;
        for (uint64_t v : per_cpu) totals[slot] += v;
    }
    return hook_stats_from_slots(totals);
}

int BpfSnoop::ingress_prog_fd() const { return bpf_program__fd(skel_->progs.tcpfo_ingress); }
int BpfSnoop::egress_prog_fd() const { return bpf_program__fd(skel_->progs.tcpfo_egress); }

}  // namespace tcpfo

#include "userd/takeover/repair_ring.h"

#include <liburing.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <mutex>

#include "userd/takeover/repair_steps.h"

namespace tcpfo {
namespace {

// Submission queue entries: steps sent to the kernel per io_uring_enter(). Small, so
// the ring's own memory is a few pages.
constexpr unsigned kRingEntries = 256;
// SOCKET_URING_OP_SETSOCKOPT in the kernel's linux/io_uring.h (6.7); liburing 2.3
// (Debian 12) predates it.
constexpr uint32_t kSocketSetsockopt = 3;

class Ring {
public:
    Ring() = default;
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;
    ~Ring() {
        if (open_) io_uring_queue_exit(&ring_);
    }
    bool open() {
        open_ = io_uring_queue_init(kRingEntries, &ring_, 0) == 0;
        return open_;
    }
    io_uring* get() { return &ring_; }

private:
    io_uring ring_{};
    bool open_ = false;
};

void prepare_sqe(io_uring_sqe* sqe, int fd, const RepairStep& step) {
    if (step.kind == RepairStep::Kind::connect) {
        io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(step.value.data()), step.length);
        return;
    }
    io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, nullptr, 0, 0);
    sqe->cmd_op = kSocketSetsockopt;
    // The kernel's layout for this command (linux/io_uring.h, 6.7): level and optname
    // in the place of addr, optlen in that of splice_fd_in, optval in that of addr3.
    sqe->addr = (uint64_t(uint32_t(step.name)) << 32) | uint32_t(step.level);
    sqe->splice_fd_in = int(step.length);
    sqe->addr3 = reinterpret_cast<uint64_t>(step.value.data());
}

// Submits the entries queued (their user data in `order`, oldest first) and waits for
// every completion: on_done(i, res) for each. If the kernel refuses the submission,
// what it did not take (the tail of the FIFO) gets on_unsent(i): not run, safe to run
// another way. If waiting fails (it cannot with entries in flight), every entry
// submitted gets on_lost(i, err): its socket is given up, as what the kernel did is
// not known. False if the ring failed either way.
template <class OnDone, class OnUnsent, class OnLost>
bool submit_and_reap(io_uring* ring, std::vector<uint64_t>& order, const OnDone& on_done, const OnUnsent& on_unsent,
                     const OnLost& on_lost) {
    const size_t queued = order.size();
    size_t submitted = 0;
    bool failed = false;
    while (submitted < queued) {
        const int r = io_uring_submit(ring);
        if (r > 0) {
            submitted += size_t(r);
        } else if (r != -EINTR && r != -EAGAIN && r != -EBUSY) {
            failed = true;
            break;
        }
    }
    for (size_t k = submitted; k < queued; ++k) on_unsent(order[k]);
    size_t reaped = 0;
    while (reaped < submitted) {
        io_uring_cqe* cqe = nullptr;
        const int r = io_uring_wait_cqe(ring, &cqe);
        if (r == -EINTR) continue;
        if (r < 0) {
            for (size_t k = 0; k < submitted; ++k) on_lost(order[k], -r);
            order.clear();
            return false;
        }
        unsigned head = 0, seen = 0;
        io_uring_for_each_cqe(ring, head, cqe) {
            on_done(cqe->user_data, cqe->res);
            ++seen;
        }
        io_uring_cq_advance(ring, seen);
        reaped += seen;
    }
    order.clear();
    return !failed;
}

bool probe_setsockopt_command() {
    Ring ring;
    if (!ring.open()) return false;
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return false;
    RepairStep step;
    step.level = SOL_SOCKET;
    step.name = SO_PRIORITY;
    step.length = sizeof(int);  // priority 0: changes nothing
    io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
    prepare_sqe(sqe, fd.get(), step);
    if (io_uring_submit_and_wait(ring.get(), 1) != 1) return false;
    io_uring_cqe* cqe = nullptr;
    if (io_uring_peek_cqe(ring.get(), &cqe) != 0) return false;
    return cqe->res == 0;
}

}  // namespace

bool uring_rebuild_available() {
    static std::once_flag once;
    static bool available = false;
    std::call_once(once, [] { available = probe_setsockopt_command(); });
    return available;
}

bool rebuild_batch_uring(std::span<RebuildJob> jobs, std::span<Result<UniqueFd>> results) {
    if (!uring_rebuild_available() || results.size() != jobs.size()) return false;
    Ring ring;
    if (!ring.open()) return false;
    // The jobs go in chunks of one ring's worth: the steps of a chunk are planned into
    // the same small buffer each time. On these machines touching a fresh page costs
    // ~30-40 µs (a paravirtualised guest), so planning all 10,000 at once (7 MB)
    // cost more than the syscalls saved.
    std::vector<RepairSteps> plans(std::min<size_t>(jobs.size(), kRingEntries));
    std::vector<uint8_t> alive(plans.size());
    std::vector<uint64_t> order;  // user data of the entries queued, oldest first
    order.reserve(kRingEntries);
    bool use_ring = true;  // false once the ring failed: the rest one syscall at a time
    for (size_t first = 0; first < jobs.size(); first += plans.size()) {
        const size_t count = std::min(plans.size(), jobs.size() - first);
        auto job = [&](size_t k) -> RebuildJob& { return jobs[first + k]; };
        size_t waves = 0;
        for (size_t k = 0; k < count; ++k) {
            alive[k] = 0;
            if (auto ok = check_rebuild_job(job(k).prepared, job(k).state, job(k).sent_unacked); !ok) {
                job(k).prepared.fd.reset();
                results[first + k] = std::unexpected(ok.error());
                continue;
            }
            plans[k] = repair_steps(job(k).prepared, job(k).state, job(k).sent_unacked.size());
            alive[k] = 1;
            waves = std::max(waves, plans[k].count);
        }
        // A failed step ends its job: the socket closes still in repair mode, which
        // puts nothing on the wire.
        size_t wave = 0;
        auto fail_job = [&](size_t k, int err) {
            if (!alive[k]) return;
            alive[k] = 0;
            job(k).prepared.fd.reset();
            results[first + k] = sys_fail(err, "can't rebuild {}: {}",
                                          describe_connection(job(k).state.local, job(k).state.remote),
                                          plans[k].steps[wave].what);
        };
        auto run_directly = [&](size_t k) {
            if (!run_repair_step(job(k).prepared.fd.get(), plans[k].steps[wave], job(k).sent_unacked))
                fail_job(k, errno);
        };
        auto on_done = [&](uint64_t k, int res) {
            if (res < 0) fail_job(size_t(k), -res);
        };
        auto on_unsent = [&](uint64_t k) { run_directly(size_t(k)); };
        auto on_lost = [&](uint64_t k, int err) { fail_job(size_t(k), err); };
        for (wave = 0; wave < waves; ++wave) {
            for (size_t k = 0; k < count; ++k) {
                if (!alive[k] || wave >= plans[k].count) continue;
                const RepairStep& step = plans[k].steps[wave];
                // The chunk never has more entries than the ring: a free one is always there.
                io_uring_sqe* sqe = use_ring && !step.direct() ? io_uring_get_sqe(ring.get()) : nullptr;
                if (!sqe) {
                    run_directly(k);
                    continue;
                }
                prepare_sqe(sqe, job(k).prepared.fd.get(), step);
                io_uring_sqe_set_data64(sqe, k);
                order.push_back(k);
            }
            if (!order.empty() && !submit_and_reap(ring.get(), order, on_done, on_unsent, on_lost)) use_ring = false;
        }
        for (size_t k = 0; k < count; ++k)
            if (alive[k]) results[first + k] = std::move(job(k).prepared.fd);
    }
    return true;
}

}  // namespace tcpfo

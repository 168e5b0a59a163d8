#include "userd/hooks/kmod_hooks.h"

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <array>
#include <cstring>
#include <functional>

#include "bpf/snoop.h"
#include "kmod/tcpfo_genl.h"
#include "userd/base/log.h"

namespace tcpfo {
namespace {

// The largest event: the event, a 64 KiB payload, and their headers.
constexpr size_t kEventBufferBytes = 70 * 1024;
constexpr size_t kEventBatch = 16;
constexpr int kEventSocketBytes = 16 << 20;  // as the BPF ring buffer
constexpr size_t kMaxEventsPerDrain = 4096;  // then the loop serves others

std::string describe_errno(int e) { return std::strerror(e); }

using AttrTable = std::array<const nlattr*, TCPFO_A_MAX + 1>;

int collect_attr(const nlattr* attr, void* data) {
    auto* table = static_cast<AttrTable*>(data);
    const int type = mnl_attr_get_type(attr);
    if (type > 0 && type <= TCPFO_A_MAX) (*table)[type] = attr;
    return MNL_CB_OK;
}

// The text of an extended ACK (the module's GENL_SET_ERR_MSG), if any.
std::string ack_message(const nlmsghdr* nlh) {
    if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return {};
    const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
    size_t offset = sizeof(nlmsgerr);
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
    const auto* start = reinterpret_cast<const uint8_t*>(mnl_nlmsg_get_payload(nlh)) + offset;
    const auto* end = reinterpret_cast<const uint8_t*>(nlh) + nlh->nlmsg_len;
    if (start >= end) return {};
    std::string text;
    auto* attr = reinterpret_cast<const nlattr*>(start);
    int left = int(end - start);
    while (mnl_attr_ok(attr, left)) {
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
            text = mnl_attr_get_str(attr);
        left -= int(MNL_ALIGN(attr->nla_len));
        attr = mnl_attr_next(attr);
    }
    return text;
}

Result<mnl_socket*> open_socket() {
    mnl_socket* s = mnl_socket_open(NETLINK_GENERIC);
    if (!s) return fail("tcpfo module: can't open a generic netlink socket: {}", describe_errno(errno));
    if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
        const int e = errno;
        mnl_socket_close(s);
        return fail("tcpfo module: can't bind a generic netlink socket: {}", describe_errno(e));
    }
    const int on = 1;
    // Error replies: the module's text, without the request echoed back.
    setsockopt(mnl_socket_get_fd(s), SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof(on));
    setsockopt(mnl_socket_get_fd(s), SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof(on));
    return s;
}

// Sends one request and reads until its ACK; `on_reply` sees each reply message.
Result<void> transact(mnl_socket* s, nlmsghdr* request, const std::function<void(const nlmsghdr*)>& on_reply) {
    if (mnl_socket_sendto(s, request, request->nlmsg_len) < 0) return fail("send: {}", describe_errno(errno));
    const uint32_t portid = mnl_socket_get_portid(s);
    std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
    for (;;) {
        const ssize_t n = mnl_socket_recvfrom(s, buf.data(), buf.size());
        if (n < 0) return fail("receive: {}", describe_errno(errno));
        size_t left = size_t(n);
        for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, int(left));
             nlh = mnl_nlmsg_next(nlh, reinterpret_cast<int*>(&left))) {
            if (nlh->nlmsg_seq != request->nlmsg_seq || nlh->nlmsg_pid != portid) continue;
            if (nlh->nlmsg_type == NLMSG_ERROR) {
                const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
                if (err->error == 0) return {};
                const std::string text = ack_message(nlh);
                return fail("{}", text.empty() ? describe_errno(-err->error) : text);
            }
            if (nlh->nlmsg_type == NLMSG_DONE) return {};
            on_reply(nlh);
        }
    }
}

nlmsghdr* put_genl_header(uint8_t* buf, uint16_t family, uint8_t cmd, uint8_t version, uint32_t seq) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = family;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = seq;
    auto* g = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
    g->cmd = cmd;
    g->version = version;
    return nlh;
}

// The module's family id; fails (ENOENT) when it is not loaded.
Result<uint16_t> resolve_family(mnl_socket* s) {
    std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = put_genl_header(buf.data(), GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, 1);
    mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, TCPFO_GENL_NAME);
    uint16_t id = 0;
    auto r = transact(s, nlh, [&](const nlmsghdr* reply) {
        mnl_attr_parse(reply, sizeof(genlmsghdr), [](const nlattr* a, void* data) {
            if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID && mnl_attr_validate(a, MNL_TYPE_U16) == 0)
                *static_cast<uint16_t*>(data) = mnl_attr_get_u16(a);
            return MNL_CB_OK;
        }, &id);
    });
    if (!r) return std::unexpected(r.error());
    if (id == 0) return fail("no family id in the reply");
    return id;
}

void put_key(nlmsghdr* nlh, const tcpfo_conn_key& key) { mnl_attr_put(nlh, TCPFO_A_KEY, sizeof(key), &key); }

}  // namespace

void KmodHooks::SocketCloser::operator()(mnl_socket* s) const { mnl_socket_close(s); }

Result<void> KmodHooks::transact_request(nlmsghdr* request,
                                         const std::function<void(const nlmsghdr*)>& on_reply) const {
    if (module_gone_) return fail("the kernel module tcpfo is gone");
    auto r = transact(requests_.get(), request, on_reply);
    // A failure may be the module's own answer (no such connection) or its absence:
    // an operator who unloads it under a running failoverd hears of it once.
    if (!r && !resolve_family(requests_.get())) {
        module_gone_ = true;
        log_error("kmod hooks: the kernel module tcpfo is gone (rmmod?): nothing is snooped or clamped any more "
                  "and the connections are unprotected; load it and restart failoverd");
    }
    return r;
}

bool KmodHooks::module_loaded() {
    auto s = open_socket();
    if (!s) return false;
    Socket socket(*s);
    return resolve_family(socket.get()).has_value();
}

Result<std::unique_ptr<KmodHooks>> KmodHooks::attach(const SnoopConfig& config) {
    std::unique_ptr<KmodHooks> hooks(new KmodHooks());
    auto requests = open_socket();
    if (!requests) return std::unexpected(requests.error());
    hooks->requests_.reset(*requests);
    auto family = resolve_family(hooks->requests_.get());
    if (!family)
        return fail("the kernel module tcpfo is not loaded (modprobe tcpfo), or its netlink family can't be had: {}",
                    family.error().message);
    hooks->family_ = *family;

    auto lease = open_socket();
    if (!lease) return std::unexpected(lease.error());
    hooks->lease_.reset(*lease);
    {
        const int lease_fd = mnl_socket_get_fd(hooks->lease_.get());
        fcntl(lease_fd, F_SETFL, fcntl(lease_fd, F_GETFL) | O_NONBLOCK);
    }

    auto events = open_socket();
    if (!events) return std::unexpected(events.error());
    hooks->events_.reset(*events);
    const int fd = mnl_socket_get_fd(hooks->events_.get());
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kEventSocketBytes, sizeof(kEventSocketBytes)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kEventSocketBytes, sizeof(kEventSocketBytes));

    // CONFIGURE on the event socket: it becomes the namespace's listener.
    std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = put_genl_header(buf.data(), hooks->family_, TCPFO_CMD_CONFIGURE, TCPFO_GENL_VERSION, ++hooks->seq_);
    mnl_attr_put_u32(nlh, TCPFO_A_VIP_ADDR, config.vip_addr);
    mnl_attr_put_u16(nlh, TCPFO_A_VIP_PORT, htons(config.vip_port));
    if (auto r = transact(hooks->events_.get(), nlh, [](const nlmsghdr*) {}); !r)
        return fail("the kernel module tcpfo refused its configuration: {}", r.error().message);
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        return fail("tcpfo module: can't make the event socket nonblocking: {}", describe_errno(errno));
    hooks->buffer_.resize(kEventBufferBytes * kEventBatch);
    return hooks;
}

KmodHooks::~KmodHooks() = default;

int KmodHooks::event_fd() const { return mnl_socket_get_fd(events_.get()); }

Result<size_t> KmodHooks::drain(const EventHandler& on_event) {
    const int fd = event_fd();
    size_t handled = 0;
    mmsghdr msgs[kEventBatch];
    iovec iovs[kEventBatch];
    while (handled < kMaxEventsPerDrain) {
        for (size_t i = 0; i < kEventBatch; ++i) {
            iovs[i] = {buffer_.data() + i * kEventBufferBytes, kEventBufferBytes};
            msgs[i] = {};
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int got = recvmmsg(fd, msgs, kEventBatch, MSG_DONTWAIT, nullptr);
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
            if (errno == ENOBUFS) {
                // Events were lost (the module counted each); the clamp never
                // acknowledged their bytes, so the clients send them again.
                if (overruns_++ == 0) log_warn("kmod hooks: events lost (socket buffer full); the clients resend");
                continue;
            }
            return fail("kmod hooks: reading events: {}", describe_errno(errno));
        }
        for (int m = 0; m < got; ++m) {
            size_t left = msgs[m].msg_len;
            for (auto* nlh = reinterpret_cast<const nlmsghdr*>(iovs[m].iov_base); mnl_nlmsg_ok(nlh, int(left));
                 nlh = mnl_nlmsg_next(nlh, reinterpret_cast<int*>(&left))) {
                if (nlh->nlmsg_type != family_ || nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(genlmsghdr)) continue;
                const auto* g = static_cast<const genlmsghdr*>(mnl_nlmsg_get_payload(nlh));
                if (g->cmd != TCPFO_CMD_EVENT) continue;
                AttrTable attrs{};
                if (mnl_attr_parse(nlh, sizeof(genlmsghdr), collect_attr, &attrs) < 0) continue;
                const nlattr* ev_attr = attrs[TCPFO_A_EVENT];
                if (!ev_attr || mnl_attr_get_payload_len(ev_attr) != sizeof(tcpfo_event)) continue;
                tcpfo_event ev;
                std::memcpy(&ev, mnl_attr_get_payload(ev_attr), sizeof(ev));
                std::span<const uint8_t> payload;
                if (const nlattr* p = attrs[TCPFO_A_PAYLOAD]) {
                    payload = {static_cast<const uint8_t*>(mnl_attr_get_payload(p)), mnl_attr_get_payload_len(p)};
                }
                if (ev.type == TCPFO_EV_DATA && payload.size() != ev.len) continue;
                on_event(ev, payload);
                ++handled;
            }
        }
        if (size_t(got) < kEventBatch) break;
    }
    return handled;
}

Result<KmodHooks::ConnReply> KmodHooks::conn_request(uint8_t cmd, const tcpfo_conn_key& key,
                                                      std::optional<uint32_t> seq) const {
    std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = put_genl_header(buf.data(), family_, cmd, TCPFO_GENL_VERSION, ++seq_);
    put_key(nlh, key);
    if (seq) mnl_attr_put_u32(nlh, TCPFO_A_SEQ, *seq);
    ConnReply reply;
    bool got_state = false;
    auto r = transact_request(nlh, [&](const nlmsghdr* msg) {
        AttrTable attrs{};
        if (mnl_attr_parse(msg, sizeof(genlmsghdr), collect_attr, &attrs) < 0) return;
        const nlattr* st = attrs[TCPFO_A_CONN_STATE];
        const nlattr* ack = attrs[TCPFO_A_SERVER_ACK];
        if (st && mnl_attr_get_payload_len(st) == sizeof(tcpfo_conn_state) && ack &&
            mnl_attr_validate(ack, MNL_TYPE_U32) == 0) {
            std::memcpy(&reply.state, mnl_attr_get_payload(st), sizeof(reply.state));
            reply.server_ack = mnl_attr_get_u32(ack);
            got_state = true;
        }
    });
    if (!r) return std::unexpected(r.error());
    if (!got_state) return fail("the kernel module's reply carried no connection state");
    last_reply_.emplace(key, reply);
    return reply;
}

Result<void> KmodHooks::set_stable(const tcpfo_conn_key& key, uint32_t stable_seq) {
    // Once the module is gone there is no clamp left to move: said once (above), not
    // once per connection and batch.
    if (module_gone_) return {};
    auto r = conn_request(TCPFO_CMD_SET_STABLE, key, stable_seq);
    if (!r) return fail("can't set the stable point: {}", r.error().message);
    return {};
}

Result<tcpfo_conn_state> KmodHooks::conn_state(const tcpfo_conn_key& key) const {
    if (last_reply_ && std::memcmp(&last_reply_->first, &key, sizeof(key)) == 0) return last_reply_->second.state;
    auto r = conn_request(TCPFO_CMD_GET_CONN, key, std::nullopt);
    if (!r) return std::unexpected(r.error());
    return r->state;
}

Result<uint32_t> KmodHooks::server_ack(const tcpfo_conn_key& key) const {
    if (last_reply_ && std::memcmp(&last_reply_->first, &key, sizeof(key)) == 0) return last_reply_->second.server_ack;
    auto r = conn_request(TCPFO_CMD_GET_CONN, key, std::nullopt);
    if (!r) return std::unexpected(r.error());
    return r->server_ack;
}

void KmodHooks::forget(const tcpfo_conn_key& key) {
    last_reply_.reset();
    if (auto r = command(TCPFO_CMD_FORGET, [&](nlmsghdr* nlh) { put_key(nlh, key); }); !r)
        log_warn("kmod hooks: can't forget a connection: {}", r.error().message);
}

void KmodHooks::set_frozen(bool on) {
    if (auto r = command(TCPFO_CMD_SET_FROZEN, [&](nlmsghdr* nlh) { mnl_attr_put_u8(nlh, TCPFO_A_FLAG, on ? 1 : 0); });
        !r) {
        log_error("kmod hooks: can't {} the egress: {}", on ? "freeze" : "unfreeze", r.error().message);
        return;
    }
    frozen_ = on;
}

bool KmodHooks::frozen() const { return frozen_; }

void KmodHooks::set_lease_deadline(uint64_t until_ms) {
    // The heartbeat thread, at real-time priority, must not wait on the kernel's
    // answer: no ACK asked for, and a failure (the module gone) says nothing here; the
    // request socket's next command notices and says it.
    uint8_t buf[256];
    nlmsghdr* nlh = put_genl_header(buf, family_, TCPFO_CMD_SET_LEASE, TCPFO_GENL_VERSION, 0);
    nlh->nlmsg_flags = NLM_F_REQUEST;
    mnl_attr_put_u64(nlh, TCPFO_A_LEASE_NS, until_ms * 1000000ull);
    (void)mnl_socket_sendto(lease_.get(), nlh, nlh->nlmsg_len);
}

HookStats KmodHooks::stats() const {
    uint64_t totals[TCPFO_STAT_COUNT] = {};
    std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = put_genl_header(buf.data(), family_, TCPFO_CMD_GET_STATS, TCPFO_GENL_VERSION, ++seq_);
    (void)transact_request(nlh, [&](const nlmsghdr* msg) {
        AttrTable attrs{};
        if (mnl_attr_parse(msg, sizeof(genlmsghdr), collect_attr, &attrs) < 0) return;
        const nlattr* st = attrs[TCPFO_A_STATS];
        if (st && mnl_attr_get_payload_len(st) == sizeof(totals))
            std::memcpy(totals, mnl_attr_get_payload(st), sizeof(totals));
    });
    return hook_stats_from_slots(totals);
}

// A command that only needs its ACK, on the request socket.
Result<void> KmodHooks::command(uint8_t cmd, const std::function<void(nlmsghdr*)>& add_attrs) const {
    std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = put_genl_header(buf.data(), family_, cmd, TCPFO_GENL_VERSION, ++seq_);
    add_attrs(nlh);
    return transact_request(nlh, [](const nlmsghdr*) {});
}

Result<void> KmodHooks::adopt(const tcpfo_conn_key& key, const tcpfo_conn_state& state, uint32_t stable_seq) {
    auto r = command(TCPFO_CMD_ADOPT, [&](nlmsghdr* nlh) {
        put_key(nlh, key);
        mnl_attr_put(nlh, TCPFO_A_CONN_STATE, sizeof(state), &state);
        mnl_attr_put_u32(nlh, TCPFO_A_SEQ, stable_seq);
    });
    if (!r) return fail("can't adopt the connection: {}", r.error().message);
    return {};
}

Result<void> KmodHooks::mark_rebuilt(const tcpfo_conn_key& key) {
    auto r = command(TCPFO_CMD_MARK_REBUILT, [&](nlmsghdr* nlh) { put_key(nlh, key); });
    if (!r) return fail("can't enable the ack ceiling: {}", r.error().message);
    return {};
}

Result<void> KmodHooks::hold(const tcpfo_conn_key& key) {
    auto r = command(TCPFO_CMD_HOLD, [&](nlmsghdr* nlh) { put_key(nlh, key); });
    if (!r) return fail("can't hold the connection: {}", r.error().message);
    return {};
}

namespace {
// KEY and HELD of a GET_HELD reply or dump message.
bool parse_held(const nlmsghdr* msg, tcpfo_conn_key& key, tcpfo_held_client& rec) {
    AttrTable attrs{};
    if (mnl_attr_parse(msg, sizeof(genlmsghdr), collect_attr, &attrs) < 0) return false;
    const nlattr* k = attrs[TCPFO_A_KEY];
    const nlattr* h = attrs[TCPFO_A_HELD];
    if (!k || !h || mnl_attr_get_payload_len(k) != sizeof(key) || mnl_attr_get_payload_len(h) != sizeof(rec))
        return false;
    std::memcpy(&key, mnl_attr_get_payload(k), sizeof(key));
    std::memcpy(&rec, mnl_attr_get_payload(h), sizeof(rec));
    return true;
}
}  // namespace

Result<tcpfo_held_client> KmodHooks::held(const tcpfo_conn_key& key) const {
    std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = put_genl_header(buf.data(), family_, TCPFO_CMD_GET_HELD, TCPFO_GENL_VERSION, ++seq_);
    put_key(nlh, key);
    tcpfo_held_client rec{};
    bool got = false;
    auto r = transact_request(nlh, [&](const nlmsghdr* msg) {
        tcpfo_conn_key k{};
        got = parse_held(msg, k, rec) || got;
    });
    if (!r) return fail("can't read the hold record: {}", r.error().message);
    if (!got) return fail("the kernel module's reply carried no hold record");
    return rec;
}

Result<void> KmodHooks::all_held(HeldRecords& out) const {
    out.clear();
    std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = put_genl_header(buf.data(), family_, TCPFO_CMD_GET_HELD, TCPFO_GENL_VERSION, ++seq_);
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    auto r = transact_request(nlh, [&](const nlmsghdr* msg) {
        tcpfo_conn_key key{};
        tcpfo_held_client rec{};
        if (parse_held(msg, key, rec)) out.emplace_back(key, rec);
    });
    if (!r) return fail("can't read the hold records: {}", r.error().message);
    return {};
}

void KmodHooks::release(const tcpfo_conn_key& key) { release_all(std::span(&key, 1)); }

void KmodHooks::release_all(std::span<const tcpfo_conn_key> keys) {
    // A few thousand keys per message (the request buffer is 8 KiB at least).
    const size_t per_message = (MNL_SOCKET_BUFFER_SIZE - 256) / sizeof(tcpfo_conn_key);
    while (!keys.empty()) {
        const auto batch = keys.first(std::min(keys.size(), per_message));
        auto r = command(TCPFO_CMD_RELEASE, [&](nlmsghdr* nlh) {
            mnl_attr_put(nlh, TCPFO_A_KEYS, batch.size_bytes(), batch.data());
        });
        if (!r) log_error("kmod hooks: can't release {} hold(s): {}", batch.size(), r.error().message);
        keys = keys.subspan(batch.size());
    }
}

void KmodHooks::set_takeover_mode(bool on) {
    auto r = command(TCPFO_CMD_SET_TAKEOVER_MODE, [&](nlmsghdr* nlh) { mnl_attr_put_u8(nlh, TCPFO_A_FLAG, on ? 1 : 0); });
    if (!r) {
        log_error("kmod hooks: can't {} takeover mode: {}", on ? "enter" : "leave", r.error().message);
        return;
    }
    takeover_mode_ = on;
}

bool KmodHooks::takeover_mode() const { return takeover_mode_; }

}  // namespace tcpfo

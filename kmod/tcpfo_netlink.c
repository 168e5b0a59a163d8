// SPDX-License-Identifier: GPL-2.0
/*
 * The channel between the module and failoverd: a generic netlink family (why, in
 * docs/architecture.md, "The kernel module"). Commands come in on failoverd's sockets;
 * events go out as unicast messages to the socket that configured the namespace.
 *
 * An event that does not fit into the listener's receive buffer is dropped and
 * counted (TCPFO_STAT_RING_DROPS), like a record that does not fit the BPF ring: the
 * clamp never acknowledges the bytes the backups did not get, so the client sends
 * them again. The kernel also tells the listener (its next read fails with ENOBUFS).
 */
#include <linux/netlink.h>
#include <linux/notifier.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/inet_hashtables.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "tcpfo_genl.h"
#include "tcpfo_kmod.h"

static struct genl_family tcpfo_family;

static const struct nla_policy tcpfo_policy[TCPFO_A_MAX + 1] = {
	[TCPFO_A_VIP_ADDR] = { .type = NLA_U32 },
	[TCPFO_A_VIP_PORT] = { .type = NLA_U16 },
	[TCPFO_A_KEY] = NLA_POLICY_EXACT_LEN(sizeof(struct tcpfo_conn_key)),
	[TCPFO_A_SEQ] = { .type = NLA_U32 },
	[TCPFO_A_FLAG] = { .type = NLA_U8 },
	[TCPFO_A_CONN_STATE] = NLA_POLICY_EXACT_LEN(sizeof(struct tcpfo_conn_state)),
	[TCPFO_A_KEYS] = { .type = NLA_BINARY },
	[TCPFO_A_LEASE_NS] = { .type = NLA_U64 },
};

int tcpfo_emit(struct tcpfo_net *tn, const struct tcpfo_event *ev, const struct sk_buff *skb,
	       unsigned int off)
{
	u32 portid = READ_ONCE(tn->listener_portid);
	size_t payload = ev->type == TCPFO_EV_DATA ? ev->len : 0;
	struct sk_buff *msg;
	struct nlattr *attr;
	void *hdr;

	if (!portid)
		return -ENOTCONN;
	msg = genlmsg_new(nla_total_size(sizeof(*ev)) + nla_total_size(payload), GFP_ATOMIC);
	if (!msg)
		goto dropped;
	hdr = genlmsg_put(msg, 0, 0, &tcpfo_family, 0, TCPFO_CMD_EVENT);
	if (!hdr || nla_put(msg, TCPFO_A_EVENT, sizeof(*ev), ev))
		goto free;
	if (payload) {
		attr = nla_reserve(msg, TCPFO_A_PAYLOAD, payload);
		if (!attr || skb_copy_bits(skb, off, nla_data(attr), payload))
			goto free;
	}
	genlmsg_end(msg, hdr);
	/* Consumes msg; -EAGAIN when the listener's receive buffer is full. */
	if (genlmsg_unicast(tn->net, msg, portid))
		goto dropped;
	tcpfo_stat_inc(tn, TCPFO_STAT_EVENTS);
	return 0;
free:
	nlmsg_free(msg);
dropped:
	tcpfo_stat_inc(tn, TCPFO_STAT_RING_DROPS);
	return -ENOBUFS;
}

void tcpfo_deconfigure(struct tcpfo_net *tn)
{
	spin_lock_bh(&tn->tables.lock);
	WRITE_ONCE(tn->configured, false);
	WRITE_ONCE(tn->listener_portid, 0);
	WRITE_ONCE(tn->frozen, false);
	WRITE_ONCE(tn->lease_until_ns, 0);
	tcpfo_tables_clear(&tn->tables);
	spin_unlock_bh(&tn->tables.lock);
}

static struct tcpfo_net *request_net(struct genl_info *info)
{
	return tcpfo_pernet(genl_info_net(info));
}

/*
 * Commands about connections need a configured namespace. They may come from any
 * socket with CAP_NET_ADMIN there (failoverd sends them on a socket of their own,
 * so that replies never mix with events).
 */
static int configured(struct tcpfo_net *tn, struct genl_info *info)
{
	if (!READ_ONCE(tn->configured)) {
		GENL_SET_ERR_MSG(info, "tcpfo: this network namespace is not configured (no failoverd)");
		return -ENOTCONN;
	}
	return 0;
}

static int cmd_configure(struct sk_buff *skb, struct genl_info *info)
{
	struct tcpfo_net *tn = request_net(info);
	u32 listener;

	if (!info->attrs[TCPFO_A_VIP_ADDR] || !info->attrs[TCPFO_A_VIP_PORT]) {
		GENL_SET_ERR_MSG(info, "tcpfo: CONFIGURE needs the VIP address and port");
		return -EINVAL;
	}
	listener = READ_ONCE(tn->listener_portid);
	if (listener && listener != info->snd_portid) {
		GENL_SET_ERR_MSG(info, "tcpfo: another failoverd holds this namespace's hooks");
		return -EBUSY;
	}
	spin_lock_bh(&tn->tables.lock);
	tcpfo_tables_clear(&tn->tables);
	WRITE_ONCE(tn->vip_addr, nla_get_be32(info->attrs[TCPFO_A_VIP_ADDR]));
	WRITE_ONCE(tn->vip_port, nla_get_be16(info->attrs[TCPFO_A_VIP_PORT]));
	WRITE_ONCE(tn->frozen, false);
	WRITE_ONCE(tn->lease_until_ns, 0);
	WRITE_ONCE(tn->listener_portid, info->snd_portid);
	WRITE_ONCE(tn->configured, true);
	spin_unlock_bh(&tn->tables.lock);
	return 0;
}

static int key_of(struct genl_info *info, struct tcpfo_conn_key *key)
{
	if (!info->attrs[TCPFO_A_KEY]) {
		GENL_SET_ERR_MSG(info, "tcpfo: no connection key");
		return -EINVAL;
	}
	nla_memcpy(key, info->attrs[TCPFO_A_KEY], sizeof(*key));
	return 0;
}

/* Replies with the connection's state: failoverd builds its nudge from it. */
static int reply_conn(struct genl_info *info, u8 cmd, const struct tcpfo_conn_state *state, u32 server_ack)
{
	struct sk_buff *msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	void *hdr;

	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &tcpfo_family, 0, cmd);
	if (!hdr || nla_put(msg, TCPFO_A_CONN_STATE, sizeof(*state), state) ||
	    nla_put_u32(msg, TCPFO_A_SERVER_ACK, server_ack)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/*
 * What BPF cannot do: when the stable point moves past what the client was last told,
 * the server's own socket sends the ACK, at once, with the stable point as its ACK
 * field (a real segment of the connection: its window, timestamps and sequence
 * number are the socket's). The egress hook sees it pass and notes it as the last
 * ACK sent, so failoverd, reading that in the reply, sends no nudge of its own. It
 * still does where the socket is gone (a server that closed while the clamp held the
 * ACK of the client's FIN).
 */
static void ack_from_socket(struct tcpfo_net *tn, const struct tcpfo_conn_key *key, u32 ack)
{
	struct net *net = tn->net;
	struct sock *sk;

	rcu_read_lock();
	sk = __inet_lookup_established(net, net->ipv4.tcp_death_row.hashinfo, key->client_addr,
				       key->client_port, key->vip_addr, ntohs(key->vip_port), 0, 0);
	rcu_read_unlock();
	if (!sk)
		return;
	if (sk_fullsock(sk)) {
		lock_sock(sk);
		if ((1 << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2 |
					   TCPF_CLOSING | TCPF_LAST_ACK)) {
#ifdef TCPFO_SEND_ACK_FLAGS
			__tcp_send_ack(sk, ack, 0);
#else
			__tcp_send_ack(sk, ack);
#endif
			tcpfo_stat_inc(tn, TCPFO_STAT_SOCKET_ACKS);
		}
		release_sock(sk);
	}
	sock_gen_put(sk);
}

/* Sets the stable point when `seq` is given; replies with the state either way. */
static int set_stable_or_get(struct genl_info *info, u8 cmd)
{
	struct tcpfo_net *tn = request_net(info);
	struct tcpfo_conn_state state;
	struct tcpfo_conn_key key;
	struct tcpfo_conn *conn;
	u32 server_ack = 0, ack = 0;
	bool send_ack = false;
	int err = configured(tn, info) ?: key_of(info, &key);

	if (err)
		return err;
	if (cmd == TCPFO_CMD_SET_STABLE && !info->attrs[TCPFO_A_SEQ]) {
		GENL_SET_ERR_MSG(info, "tcpfo: SET_STABLE needs a sequence number");
		return -EINVAL;
	}
	spin_lock_bh(&tn->tables.lock);
	conn = tcpfo_conn_find(&tn->tables, &key);
	if (conn) {
		if (cmd == TCPFO_CMD_SET_STABLE) {
			conn->stable_seq = nla_get_u32(info->attrs[TCPFO_A_SEQ]);
			/* Never past the server's own ACK (see failoverd's nudge). */
			ack = tcpfo_seq_after(conn->stable_seq, conn->snoop.server_ack) ? conn->snoop.server_ack
											  : conn->stable_seq;
			send_ack = tcpfo_seq_after(ack, conn->snoop.state.last_sent_ack) && !READ_ONCE(tn->frozen);
		}
		state = conn->snoop.state;
		server_ack = conn->snoop.server_ack;
	}
	spin_unlock_bh(&tn->tables.lock);
	if (!conn) {
		GENL_SET_ERR_MSG(info, "tcpfo: no such protected connection");
		return -ENOENT;
	}
	if (send_ack) {
		ack_from_socket(tn, &key, ack);
		/* The reply carries what the ACK changed: failoverd then sends no nudge. */
		spin_lock_bh(&tn->tables.lock);
		conn = tcpfo_conn_find(&tn->tables, &key);
		if (conn)
			state = conn->snoop.state;
		spin_unlock_bh(&tn->tables.lock);
	}
	return reply_conn(info, cmd, &state, server_ack);
}

static int cmd_set_stable(struct sk_buff *skb, struct genl_info *info)
{
	return set_stable_or_get(info, TCPFO_CMD_SET_STABLE);
}

static int cmd_forget(struct sk_buff *skb, struct genl_info *info)
{
	struct tcpfo_net *tn = request_net(info);
	struct tcpfo_conn_key key;
	int err = configured(tn, info) ?: key_of(info, &key);

	if (err)
		return err;
	spin_lock_bh(&tn->tables.lock);
	tcpfo_forget_key(&tn->tables, &key);
	spin_unlock_bh(&tn->tables.lock);
	return 0;
}

static int cmd_set_frozen(struct sk_buff *skb, struct genl_info *info)
{
	struct tcpfo_net *tn = request_net(info);
	int err = configured(tn, info);

	if (err)
		return err;
	if (!info->attrs[TCPFO_A_FLAG]) {
		GENL_SET_ERR_MSG(info, "tcpfo: SET_FROZEN needs a flag");
		return -EINVAL;
	}
	WRITE_ONCE(tn->frozen, nla_get_u8(info->attrs[TCPFO_A_FLAG]) != 0);
	return 0;
}

static int cmd_get_conn(struct sk_buff *skb, struct genl_info *info)
{
	return set_stable_or_get(info, TCPFO_CMD_GET_CONN);
}

static int cmd_get_stats(struct sk_buff *skb, struct genl_info *info)
{
	struct tcpfo_net *tn = request_net(info);
	u64 sums[TCPFO_STAT_COUNT] = {};
	struct sk_buff *msg;
	unsigned int slot;
	void *hdr;
	int cpu;

	for_each_possible_cpu(cpu)
		for (slot = 0; slot < TCPFO_STAT_COUNT; slot++)
			sums[slot] += per_cpu_ptr(tn->stats, cpu)[slot];
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &tcpfo_family, 0, TCPFO_CMD_GET_STATS);
	if (!hdr || nla_put(msg, TCPFO_A_STATS, sizeof(sums), sums)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/* A backup's takeover. */

static int cmd_adopt(struct sk_buff *skb, struct genl_info *info)
{
	struct tcpfo_net *tn = request_net(info);
	struct tcpfo_rebuilt_conn *rb = NULL;
	struct tcpfo_conn_key key;
	struct tcpfo_conn *conn;
	int err = configured(tn, info) ?: key_of(info, &key);

	if (err)
		return err;
	if (!info->attrs[TCPFO_A_CONN_STATE] || !info->attrs[TCPFO_A_SEQ]) {
		GENL_SET_ERR_MSG(info, "tcpfo: ADOPT needs the connection's state and stable point");
		return -EINVAL;
	}
	spin_lock_bh(&tn->tables.lock);
	conn = tcpfo_conn_insert(&tn->tables, &key);
	if (conn) {
		memset(&conn->snoop, 0, sizeof(conn->snoop));
		nla_memcpy(&conn->snoop.state, info->attrs[TCPFO_A_CONN_STATE], sizeof(conn->snoop.state));
		conn->snoop.server_ack = conn->snoop.state.last_sent_ack;
		conn->stable_seq = nla_get_u32(info->attrs[TCPFO_A_SEQ]);
		rb = tcpfo_rebuilt_insert(&tn->tables, &key);
		if (rb)
			memset(&rb->rec, 0, sizeof(rb->rec));
		else
			tcpfo_conn_remove(&tn->tables, conn);
	}
	spin_unlock_bh(&tn->tables.lock);
	if (!conn || !rb) {
		GENL_SET_ERR_MSG(info, "tcpfo: the connection table is full");
		return -ENOSPC;
	}
	return 0;
}

static int cmd_mark_rebuilt(struct sk_buff *skb, struct genl_info *info)
{
	struct tcpfo_net *tn = request_net(info);
	struct tcpfo_rebuilt_conn *rb;
	struct tcpfo_conn_key key;
	int err = configured(tn, info) ?: key_of(info, &key);

	if (err)
		return err;
	spin_lock_bh(&tn->tables.lock);
	rb = tcpfo_rebuilt_insert(&tn->tables, &key);
	if (rb)
		memset(&rb->rec, 0, sizeof(rb->rec));
	spin_unlock_bh(&tn->tables.lock);
	if (!rb) {
		GENL_SET_ERR_MSG(info, "tcpfo: the rebuilt table is full");
		return -ENOSPC;
	}
	return 0;
}

static int cmd_hold(struct sk_buff *skb, struct genl_info *info)
{
	struct tcpfo_net *tn = request_net(info);
	struct tcpfo_conn_key key;
	struct tcpfo_hold *hold;
	int err = configured(tn, info) ?: key_of(info, &key);

	if (err)
		return err;
	/* Holding twice keeps what was recorded since the first hold. */
	spin_lock_bh(&tn->tables.lock);
	hold = tcpfo_hold_insert(&tn->tables, &key);
	spin_unlock_bh(&tn->tables.lock);
	if (!hold) {
		GENL_SET_ERR_MSG(info, "tcpfo: the hold table is full");
		return -ENOSPC;
	}
	return 0;
}

static int put_held(struct sk_buff *msg, const struct tcpfo_conn_key *key, const struct tcpfo_held_client *rec)
{
	return nla_put(msg, TCPFO_A_KEY, sizeof(*key), key) ?: nla_put(msg, TCPFO_A_HELD, sizeof(*rec), rec);
}

static int cmd_get_held(struct sk_buff *skb, struct genl_info *info)
{
	struct tcpfo_net *tn = request_net(info);
	struct tcpfo_held_client rec;
	struct tcpfo_conn_key key;
	struct tcpfo_hold *hold;
	struct sk_buff *msg;
	void *hdr;
	int err = configured(tn, info) ?: key_of(info, &key);

	if (err)
		return err;
	spin_lock_bh(&tn->tables.lock);
	hold = tcpfo_hold_find(&tn->tables, &key);
	if (hold)
		rec = hold->rec;
	spin_unlock_bh(&tn->tables.lock);
	if (!hold) {
		GENL_SET_ERR_MSG(info, "tcpfo: the connection is not held");
		return -ENOENT;
	}
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &tcpfo_family, 0, TCPFO_CMD_GET_HELD);
	if (!hdr || put_held(msg, &key, &rec)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/*
 * Every hold record, a message each, bucket by bucket: cb->args[0] is the bucket to
 * go on from, cb->args[1] how many of its entries were sent already.
 */
static int dump_held(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct tcpfo_net *tn = tcpfo_pernet(sock_net(skb->sk));
	unsigned long bucket = cb->args[0], skip = cb->args[1], n;
	struct tcpfo_hold *hold;
	void *hdr;

	for (; bucket < (1u << TCPFO_HASH_BITS); bucket++, skip = 0) {
		n = 0;
		spin_lock_bh(&tn->tables.lock);
		hlist_for_each_entry(hold, &tn->tables.holds[bucket], node) {
			if (n++ < skip)
				continue;
			hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq, &tcpfo_family,
					  NLM_F_MULTI, TCPFO_CMD_GET_HELD);
			if (!hdr || put_held(skb, &hold->key, &hold->rec)) {
				if (hdr)
					genlmsg_cancel(skb, hdr);
				spin_unlock_bh(&tn->tables.lock);
				cb->args[0] = bucket;
				cb->args[1] = n - 1;
				return skb->len;
			}
			genlmsg_end(skb, hdr);
		}
		spin_unlock_bh(&tn->tables.lock);
	}
	cb->args[0] = bucket;
	cb->args[1] = 0;
	return skb->len;
}

static int cmd_release(struct sk_buff *skb, struct genl_info *info)
{
	struct tcpfo_net *tn = request_net(info);
	const struct tcpfo_conn_key *keys;
	struct tcpfo_hold *hold;
	int i, n, err = configured(tn, info);

	if (err)
		return err;
	if (!info->attrs[TCPFO_A_KEYS] || nla_len(info->attrs[TCPFO_A_KEYS]) % sizeof(*keys)) {
		GENL_SET_ERR_MSG(info, "tcpfo: RELEASE needs an array of connection keys");
		return -EINVAL;
	}
	keys = nla_data(info->attrs[TCPFO_A_KEYS]);
	n = nla_len(info->attrs[TCPFO_A_KEYS]) / sizeof(*keys);
	spin_lock_bh(&tn->tables.lock);
	for (i = 0; i < n; i++) {
		struct tcpfo_conn_key key;

		memcpy(&key, &keys[i], sizeof(key)); /* the attribute may be unaligned */
		hold = tcpfo_hold_find(&tn->tables, &key);
		if (hold)
			tcpfo_hold_remove(&tn->tables, hold);
	}
	spin_unlock_bh(&tn->tables.lock);
	return 0;
}

static int cmd_set_takeover_mode(struct sk_buff *skb, struct genl_info *info)
{
	struct tcpfo_net *tn = request_net(info);
	int err = configured(tn, info);

	if (err)
		return err;
	if (!info->attrs[TCPFO_A_FLAG]) {
		GENL_SET_ERR_MSG(info, "tcpfo: SET_TAKEOVER_MODE needs a flag");
		return -EINVAL;
	}
	WRITE_ONCE(tn->takeover_mode, nla_get_u8(info->attrs[TCPFO_A_FLAG]) != 0);
	return 0;
}

static int cmd_set_lease(struct sk_buff *skb, struct genl_info *info)
{
	struct tcpfo_net *tn = request_net(info);
	int err = configured(tn, info);

	if (err)
		return err;
	if (!info->attrs[TCPFO_A_LEASE_NS]) {
		GENL_SET_ERR_MSG(info, "tcpfo: SET_LEASE needs a deadline");
		return -EINVAL;
	}
	WRITE_ONCE(tn->lease_until_ns, nla_get_u64(info->attrs[TCPFO_A_LEASE_NS]));
	return 0;
}

static const struct genl_small_ops tcpfo_ops[] = {
	{ .cmd = TCPFO_CMD_CONFIGURE, .doit = cmd_configure, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = TCPFO_CMD_SET_STABLE, .doit = cmd_set_stable, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = TCPFO_CMD_FORGET, .doit = cmd_forget, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = TCPFO_CMD_GET_CONN, .doit = cmd_get_conn, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = TCPFO_CMD_GET_STATS, .doit = cmd_get_stats, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = TCPFO_CMD_SET_FROZEN, .doit = cmd_set_frozen, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = TCPFO_CMD_ADOPT, .doit = cmd_adopt, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = TCPFO_CMD_MARK_REBUILT, .doit = cmd_mark_rebuilt, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = TCPFO_CMD_HOLD, .doit = cmd_hold, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = TCPFO_CMD_GET_HELD, .doit = cmd_get_held, .dumpit = dump_held, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = TCPFO_CMD_RELEASE, .doit = cmd_release, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = TCPFO_CMD_SET_TAKEOVER_MODE, .doit = cmd_set_takeover_mode, .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = TCPFO_CMD_SET_LEASE, .doit = cmd_set_lease, .flags = GENL_UNS_ADMIN_PERM },
};

static struct genl_family tcpfo_family = {
	.name = TCPFO_GENL_NAME,
	.version = TCPFO_GENL_VERSION,
	.maxattr = TCPFO_A_MAX,
	.policy = tcpfo_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.small_ops = tcpfo_ops,
	.n_small_ops = ARRAY_SIZE(tcpfo_ops),
	.resv_start_op = TCPFO_CMD_MAX + 1,
};

/* failoverd's socket closed (it exited or died): the hooks go inert, as BPF's detach. */
static int tcpfo_netlink_release(struct notifier_block *nb, unsigned long event, void *ptr)
{
	struct netlink_notify *n = ptr;
	struct tcpfo_net *tn;

	if (event != NETLINK_URELEASE || n->protocol != NETLINK_GENERIC || !n->portid)
		return NOTIFY_DONE;
	tn = tcpfo_pernet(n->net);
	if (tn && READ_ONCE(tn->listener_portid) == n->portid)
		tcpfo_deconfigure(tn);
	return NOTIFY_DONE;
}

static struct notifier_block tcpfo_release_notifier = {
	.notifier_call = tcpfo_netlink_release,
};

int tcpfo_netlink_init(void)
{
	int err = genl_register_family(&tcpfo_family);

	if (err)
		return err;
	err = netlink_register_notifier(&tcpfo_release_notifier);
	if (err)
		genl_unregister_family(&tcpfo_family);
	return err;
}

void tcpfo_netlink_exit(void)
{
	netlink_unregister_notifier(&tcpfo_release_notifier);
	genl_unregister_family(&tcpfo_family);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The netfilter hooks, the same job as bpf/snoop.bpf.c's tc programs on a primary:
 *
 * ingress (PRE_ROUTING, client -> VIP:PORT): remembers each SYN's options; reports the
 * client's bytes, ACK progress, FIN and RST of protected connections to failoverd.
 *
 * egress (POST_ROUTING, VIP:PORT -> client): opens a protected connection when the
 * SYN-ACK leaves, tracks the server's sequence state for failoverd's nudges, digests
 * the server's payload, and clamps the ACK field (and SACK blocks) to the stable point
 * so the client never sees a byte acknowledged that the backups do not hold
 * (DESIGN.md invariant 1). It drops a clamped pure ACK that would be a duplicate, a
 * socketless RST of a protected connection, and, while frozen, everything.
 *
 * On a backup taking over, ingress also holds connections whose socket is not rebuilt
 * yet (drops their client segments, records where the client is), keeps a rebuilt
 * connection's client ACKs at or below its socket's snd_nxt (the ack ceiling), and in
 * takeover mode drops client segments no socket would take; egress lifts a rebuilt
 * socket's pure ACKs into the client's window. bpf/snoop.bpf.c says why for each.
 *
 * A hook decides under the namespace's table lock and emits its events after
 * releasing it (an event allocates and copies the payload).
 */
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/timekeeping.h>
#include <net/inet_hashtables.h>
#include <net/tcp.h>

#include "tcpfo_kmod.h"

static void fill_event(struct tcpfo_event *ev, u8 type, u8 flags, const struct tcpfo_seg *seg, u32 seq)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->flags = flags;
	ev->window = seg->window;
	ev->key = seg->key;
	ev->seq = seq;
	ev->ack = seg->ack;
	ev->tsval = seg->tsval;
	ev->tsecr = seg->tsecr;
	ev->ktime_ns = ktime_get_ns(); /* CLOCK_MONOTONIC, as bpf_ktime_get_ns() */
}

/* What one client segment gives: DATA (its `data_len` bytes), then a FIN or an ACK event; or one RST. */
struct pending_events {
	struct tcpfo_event ev[2];
	unsigned int n;
	bool data;
	unsigned int data_len; /* of the payload: what the server's TCP may take */
	bool refused;          /* TCP drops the whole segment: nothing is reported */
};

/*
 * The hooks see a client segment before the server's TCP does, and the backups log
 * what they report: bytes TCP then refuses must never be logged, or they would stand
 * in the log for the real bytes at those offsets (which arrive later and look like
 * duplicates), and the replica would be fed what the server never read. TCP refuses
 * a segment with a bad checksum, and the part of one beyond the window it advertised
 * (the highest ACK it sent plus the last window, scaled). Returns how many payload
 * bytes TCP may take, from the first.
 */
static u32 window_right_edge(const struct tcpfo_snoop_conn *conn)
{
	const struct tcpfo_conn_state *st = &conn->state;
	u8 shift = 0;

	if ((st->client_opts.present & TCPFO_OPT_WSCALE) && (st->server_opts.present & TCPFO_OPT_WSCALE))
		shift = min_t(u8, st->server_opts.wscale, 14);
	return conn->server_ack + ((u32)st->last_window << shift);
}

static unsigned int payload_tcp_takes(const struct tcpfo_snoop_conn *conn, const struct tcpfo_seg *seg)
{
	u32 right_edge = window_right_edge(conn);

	if (!tcpfo_seq_after(right_edge, seg->seq))
		return 0;
	return min_t(u32, seg->payload_len, right_edge - seg->seq);
}

/* `rst_taken`: whether the server's TCP will take this segment's RST (rst_taken()). */
static void client_segment_events(struct tcpfo_snoop_conn *conn, const struct tcpfo_seg *seg, bool rst_taken,
				  struct pending_events *out)
{
	struct tcpfo_client_view *seen = &conn->client;

	if (seg->flags & TCPFO_TH_RST) {
		if (rst_taken)
			fill_event(&out->ev[out->n++], TCPFO_EV_RST, 0, seg, seg->seq);
		return;
	}
	/*
	 * A segment that acknowledges what the server never sent is dropped whole by its
	 * TCP, payload and all. Reported, its ACK field would tell the backups the client
	 * holds server output it never got (a takeover would then wait for the replica to
	 * write it, and reset the connection).
	 */
	if ((seg->flags & TCPFO_TH_ACK) && tcpfo_seq_after(seg->ack, conn->state.snd_nxt)) {
		out->refused = true;
		return;
	}
	if (seg->payload_len > 0) {
		out->data_len = payload_tcp_takes(conn, seg);
		out->data = true;
	}
	/* A FIN TCP takes: its whole segment inside the window (a FIN may sit at its edge). */
	if (seg->flags & TCPFO_TH_FIN) {
		if (out->data_len == seg->payload_len &&
		    !tcpfo_seq_after(seg->seq + seg->payload_len, window_right_edge(conn)))
			fill_event(&out->ev[out->n++], TCPFO_EV_CLIENT_FIN, 0, seg, seg->seq + seg->payload_len);
	} else if (seg->payload_len == 0 && (seg->flags & TCPFO_TH_ACK) &&
		 (seg->ack != seen->ack || seg->window != seen->window || seg->tsval != seen->tsval ||
		  seg->tsecr != seen->tsecr))
		fill_event(&out->ev[out->n++], TCPFO_EV_ACK, 0, seg, seg->seq);
	if (seg->flags & TCPFO_TH_ACK)
		seen->ack = seg->ack;
	seen->window = seg->window;
	seen->tsval = seg->tsval;
	seen->tsecr = seg->tsecr;
}

static struct inet_hashinfo *tcp_hashinfo_of(struct net *net)
{
	return net->ipv4.tcp_death_row.hashinfo;
}

/* The rebuilt socket's snd_nxt; false if there is no full socket. */
static bool local_snd_nxt(struct net *net, const struct sk_buff *skb, const struct tcpfo_seg *seg, u32 *snd_nxt)
{
	struct sock *sk = __inet_lookup_established(net, tcp_hashinfo_of(net), seg->key.client_addr,
						    seg->key.client_port, seg->key.vip_addr,
						    ntohs(seg->key.vip_port), skb->skb_iif, inet_sdif(skb));
	bool found = false;

	if (!sk)
		return false;
	if (sk_fullsock(sk) && sk->sk_state != TCP_LISTEN) {
		*snd_nxt = READ_ONCE(tcp_sk(sk)->snd_nxt);
		found = true;
	}
	sock_gen_put(sk);
	return found;
}

/*
 * After a takeover the rebuilt socket regenerates the dead primary's output through
 * replay; until it has, the client may acknowledge bytes the socket has not sent yet,
 * and Linux discards such a segment, payload included. Lower those ACKs to snd_nxt.
 */
static void apply_ack_ceiling(struct tcpfo_net *tn, struct sk_buff *skb, struct tcpfo_seg *seg)
{
	u32 snd_nxt;

	if (!(seg->flags & TCPFO_TH_ACK) || !local_snd_nxt(tn->net, skb, seg, &snd_nxt))
		return;
	if (tcpfo_seq_after(seg->ack, snd_nxt) && tcpfo_rewrite_ack(skb, seg, snd_nxt) == 0)
		tcpfo_stat_inc(tn, TCPFO_STAT_ACKS_CEILED);
	tcpfo_strip_sack_above(skb, seg, snd_nxt);
}

/*
 * A client's RST ends the connection only if the server's TCP takes it: RFC 5961 (and
 * Linux) accept a RST whose sequence is exactly rcv_nxt (rcv_nxt - 1 once the client's
 * FIN was taken), and answer any other with a challenge ACK. A forged or stale RST
 * reported here would make failoverd drop the connection's protection while the
 * server goes on with it: the next failover would reset it. Without a socket (gone
 * already) it is reported. A RST at the highest SACKed sequence, which Linux also
 * takes, is missed: the connection then stays in the tables until failoverd forgets it.
 */
static bool rst_taken(struct net *net, const struct sk_buff *skb, const struct tcpfo_seg *seg)
{
	struct sock *sk = __inet_lookup_established(net, tcp_hashinfo_of(net), seg->key.client_addr,
						    seg->key.client_port, seg->key.vip_addr,
						    ntohs(seg->key.vip_port), skb->skb_iif, inet_sdif(skb));
	bool taken = true;

	if (!sk)
		return true;
	if (sk_fullsock(sk)) {
		u32 rcv_nxt = READ_ONCE(tcp_sk(sk)->rcv_nxt);

		taken = seg->seq == rcv_nxt ||
			(((1 << sk->sk_state) & (TCPF_CLOSE_WAIT | TCPF_LAST_ACK | TCPF_CLOSING)) &&
			 seg->seq == rcv_nxt - 1);
	}
	sock_gen_put(sk);
	return taken;
}

/*
 * Takeover mode: a client segment no socket would take (no established, request or
 * time-wait socket; a listener does not count, it answers a non-SYN with a RST) is
 * dropped, so the client never meets a reset. A SYN passes.
 */
static bool takeover_drops(struct net *net, struct sk_buff *skb, const struct tcpfo_seg *seg)
{
	struct sock *sk;
	bool known = false;

	if ((seg->flags & (TCPFO_TH_SYN | TCPFO_TH_ACK)) == TCPFO_TH_SYN)
		return false;
	sk = __inet_lookup_established(net, tcp_hashinfo_of(net), seg->key.client_addr, seg->key.client_port,
				       seg->key.vip_addr, ntohs(seg->key.vip_port), skb->skb_iif, inet_sdif(skb));
	if (sk) {
		known = true;
		sock_gen_put(sk);
	}
	return !known;
}

/* A held connection: records where the client is (bpf/snoop.h, tcpfo_held_client). */
static void record_held(struct tcpfo_held_client *h, const struct tcpfo_seg *seg)
{
	u32 end = seg->seq + seg->payload_len + ((seg->flags & (TCPFO_TH_SYN | TCPFO_TH_FIN)) ? 1 : 0);
	u8 flags = h->flags | TCPFO_HELD_SEQ;

	if (!(h->flags & TCPFO_HELD_SEQ) || tcpfo_seq_after(end, h->snd_nxt)) {
		h->snd_nxt = end;
		h->data_len = 0;
	}
	if (seg->payload_len > 0 && end == h->snd_nxt) {
		h->data_seq = seg->seq;
		h->data_len = seg->payload_len;
	}
	if ((seg->flags & TCPFO_TH_ACK) && (!(h->flags & TCPFO_HELD_ACK) || tcpfo_seq_after(seg->ack, h->ack))) {
		h->ack = seg->ack;
		flags |= TCPFO_HELD_ACK;
	}
	if (seg->has_ts) {
		h->tsval = seg->tsval;
		h->tsecr = seg->tsecr;
		flags |= TCPFO_HELD_TS;
	}
	if (seg->sack_off >= 0)
		flags |= TCPFO_HELD_SACK;
	if (seg->flags & TCPFO_TH_FIN)
		flags |= TCPFO_HELD_FIN;
	if (seg->flags & TCPFO_TH_RST)
		flags |= TCPFO_HELD_RST;
	h->flags = flags;
	h->window = seg->window;
	h->last_ns = ktime_get_ns();
	h->segments++;
	if (seg->payload_len == 0 && (seg->flags & TCPFO_TH_ACK) &&
	    !(seg->flags & (TCPFO_TH_SYN | TCPFO_TH_FIN | TCPFO_TH_RST)))
		h->pure_acks++;
}

static unsigned int tcpfo_ingress(void *priv, struct sk_buff *skb, const struct nf_hook_state *state)
{
	struct tcpfo_net *tn = tcpfo_pernet(state->net);
	struct pending_events out = {};
	struct tcpfo_rebuilt_conn *rb;
	struct tcpfo_event data;
	struct tcpfo_conn *conn;
	struct tcpfo_hold *hold;
	struct tcpfo_seg seg;
	bool rst_ok = true;
	unsigned int i;

	if (!tn || !READ_ONCE(tn->configured))
		return NF_ACCEPT;
	if (tcpfo_parse(skb, &seg, TCPFO_TO_VIP, READ_ONCE(tn->vip_addr), READ_ONCE(tn->vip_port)))
		return NF_ACCEPT;
	/* A bad checksum: TCP drops it; nothing of it is reported or recorded. */
	if (nf_ip_checksum(skb, state->hook, seg.tcp_off, IPPROTO_TCP)) {
		if (seg.payload_len > 0)
			tcpfo_stat_inc(tn, TCPFO_STAT_DATA_REFUSED);
		return NF_ACCEPT;
	}

	/* Looked up before the table lock: a socket lookup needs no lock of ours. */
	if (seg.flags & TCPFO_TH_RST)
		rst_ok = rst_taken(tn->net, skb, &seg);

	spin_lock_bh(&tn->tables.lock);
	rb = tcpfo_rebuilt_find(&tn->tables, &seg.key);
	hold = tcpfo_hold_find(&tn->tables, &seg.key);
	if (hold) {
		record_held(&hold->rec, &seg);
		if (!rb) {
			spin_unlock_bh(&tn->tables.lock);
			tcpfo_stat_inc(tn, TCPFO_STAT_HELD_DROPPED);
			return NF_DROP;
		}
	}
	if ((seg.flags & (TCPFO_TH_SYN | TCPFO_TH_ACK)) == TCPFO_TH_SYN) {
		tcpfo_syn_remember(&tn->tables, &seg.key, seg.seq, &seg.opts);
		spin_unlock_bh(&tn->tables.lock);
		return NF_ACCEPT;
	}
	conn = tcpfo_conn_find(&tn->tables, &seg.key);
	if (conn)
		client_segment_events(&conn->snoop, &seg, rst_ok, &out);
	/* The events above carry the client's own ACK: what it really acknowledged. */
	if (rb && (seg.flags & TCPFO_TH_ACK) &&
	    (!rb->rec.have_client_ack || tcpfo_seq_after(seg.ack, rb->rec.client_ack))) {
		rb->rec.client_ack = seg.ack;
		rb->rec.have_client_ack = 1;
	}
	spin_unlock_bh(&tn->tables.lock);

	if (rb) {
		apply_ack_ceiling(tn, skb, &seg);
	} else if (!conn && READ_ONCE(tn->takeover_mode) && takeover_drops(tn->net, skb, &seg)) {
		tcpfo_stat_inc(tn, TCPFO_STAT_TAKEOVER_DROPPED);
		return NF_DROP;
	}

	if (out.refused && seg.payload_len > 0)
		tcpfo_stat_inc(tn, TCPFO_STAT_DATA_REFUSED);
	/* The client's bytes first, then what follows them (its FIN). */
	if (out.data) {
		if (out.data_len < seg.payload_len)
			tcpfo_stat_inc(tn, TCPFO_STAT_DATA_REFUSED);
		if (out.data_len > TCPFO_MAX_PAYLOAD) {
			tcpfo_stat_inc(tn, TCPFO_STAT_RING_DROPS);
		} else if (out.data_len > 0) {
			fill_event(&data, TCPFO_EV_DATA, 0, &seg, seg.seq);
			data.len = out.data_len;
			tcpfo_emit(tn, &data, skb, seg.payload_off);
		}
	}
	for (i = 0; i < out.n; i++)
		tcpfo_emit(tn, &out.ev[i], NULL, 0);
	return NF_ACCEPT;
}

/*
 * The SYN-ACK leaves: the handshake's state is complete, the connection is protected.
 * Under the lock; fills `open` and returns true when a CONN_OPEN must be sent.
 */
static bool open_connection(struct tcpfo_net *tn, const struct tcpfo_seg *seg, struct tcpfo_event *open)
{
	struct tcpfo_syn *syn = tcpfo_syn_find(&tn->tables, &seg->key);
	struct tcpfo_conn *conn;

	if (!syn || seg->ack != syn->client_isn + 1)
		return false; /* SYN seen before the hooks were configured: not protected */
	conn = tcpfo_conn_find(&tn->tables, &seg->key);
	if (conn && conn->snoop.state.server_isn == seg->seq)
		return false; /* a retransmitted SYN-ACK: already open */
	conn = tcpfo_conn_insert(&tn->tables, &seg->key);
	if (!conn) {
		tcpfo_stat_inc(tn, TCPFO_STAT_TABLE_FULL);
		return false;
	}
	memset(&conn->snoop, 0, sizeof(conn->snoop));
	conn->snoop.state.client_isn = syn->client_isn;
	conn->snoop.state.server_isn = seg->seq;
	conn->snoop.state.client_opts = syn->client_opts;
	conn->snoop.state.server_opts = seg->opts;
	conn->snoop.state.snd_nxt = seg->seq + 1;
	conn->snoop.state.last_tsval = seg->tsval;
	conn->snoop.state.last_tsecr = seg->tsecr;
	conn->snoop.state.last_window = seg->window;
	conn->snoop.state.last_sent_ack = seg->ack;
	conn->snoop.server_ack = seg->ack;
	conn->stable_seq = syn->client_isn + 1;
	tcpfo_syn_remove(&tn->tables, syn);

	fill_event(open, TCPFO_EV_CONN_OPEN, TCPFO_EVF_FROM_SERVER, seg, seg->seq);
	open->client_isn = conn->snoop.state.client_isn;
	open->server_isn = conn->snoop.state.server_isn;
	open->client_opts = conn->snoop.state.client_opts;
	open->server_opts = conn->snoop.state.server_opts;
	return true;
}

/*
 * Lowers the ACK field to the stable point and, when it did, strips the SACK blocks
 * above it. Returns
 * NF_DROP for a clamped pure ACK the client would count as a duplicate ACK (same ack
 * number and window as the last segment it received): three of those make it
 * fast-retransmit. failoverd's nudge announces the stable point when it moves.
 *
 * The SACK blocks of an ACK that goes out unlowered stay: they name bytes the socket
 * holds above a hole, and without them a client that negotiated SACK resends nothing
 * until its retransmission timer (every lost client segment cost an RTO). They
 * acknowledge nothing: the client keeps SACKed bytes until they are acknowledged
 * cumulatively (RFC 2018) and resends them if a node that took over lacks them. Under
 * a lowered ACK they would make the client resend the bytes between the stable point
 * and the socket's ACK, which the server holds: stripped, and the nudge follows.
 */
static unsigned int apply_ack_clamp(struct tcpfo_net *tn, struct sk_buff *skb, struct tcpfo_seg *seg,
				    struct tcpfo_conn *conn)
{
	struct tcpfo_conn_state *state = &conn->snoop.state;
	bool lowered = false, pure_ack;

	if (tcpfo_seq_after(seg->ack, conn->stable_seq)) {
		if (tcpfo_rewrite_ack(skb, seg, conn->stable_seq))
			return NF_DROP; /* never let an unclamped ACK out */
		lowered = true;
		tcpfo_stat_inc(tn, TCPFO_STAT_ACKS_CLAMPED);
	}
	if (lowered && tcpfo_strip_sack_above(skb, seg, conn->stable_seq) < 0)
		return NF_DROP;
	pure_ack = seg->payload_len == 0 && !(seg->flags & (TCPFO_TH_SYN | TCPFO_TH_FIN | TCPFO_TH_RST));
	if (lowered && pure_ack && seg->ack == state->last_sent_ack && seg->window == state->last_window) {
		tcpfo_stat_inc(tn, TCPFO_STAT_DUP_ACKS_DROPPED);
		return NF_DROP;
	}
	state->last_sent_ack = seg->ack;
	state->last_window = seg->window;
	return NF_ACCEPT;
}

static void record_server_segment(const struct tcpfo_seg *seg, struct tcpfo_conn_state *state)
{
	u32 end = seg->seq + seg->payload_len + ((seg->flags & TCPFO_TH_FIN) ? 1 : 0);

	if (tcpfo_seq_after(end, state->snd_nxt))
		state->snd_nxt = end;
	state->last_tsval = seg->tsval;
	state->last_tsecr = seg->tsecr;
}

/*
 * The mirror of the ack ceiling: a rebuilt socket's snd_nxt can sit below what the
 * client already holds (the backup learns it from replicated ACKs, which lag), and the
 * client drops a segment wholly before its window, ACK and all. A pure ACK carries no
 * data: give it the sequence number the client expects next. Under the table lock.
 */
static void lift_rebuilt_pure_ack(struct tcpfo_net *tn, struct sk_buff *skb, struct tcpfo_seg *seg)
{
	struct tcpfo_rebuilt_conn *rb = tcpfo_rebuilt_find(&tn->tables, &seg->key);

	if (!rb || !rb->rec.have_client_ack || seg->payload_len != 0 ||
	    (seg->flags & (TCPFO_TH_SYN | TCPFO_TH_FIN | TCPFO_TH_RST)))
		return;
	if (tcpfo_seq_after(rb->rec.client_ack, seg->seq) && tcpfo_rewrite_seq(skb, seg, rb->rec.client_ack) == 0)
		tcpfo_stat_inc(tn, TCPFO_STAT_SEQS_LIFTED);
}

static unsigned int tcpfo_egress(void *priv, struct sk_buff *skb, const struct nf_hook_state *state)
{
	struct tcpfo_net *tn = tcpfo_pernet(state->net);
	unsigned int verdict = NF_ACCEPT;
	struct tcpfo_event ev, digest_ev;
	struct tcpfo_conn *conn;
	struct tcpfo_seg seg;
	bool emit = false, open = false;
	u64 digest, lease_until;

	if (!tn || !READ_ONCE(tn->configured))
		return NF_ACCEPT;
	if (tcpfo_parse(skb, &seg, TCPFO_FROM_VIP, READ_ONCE(tn->vip_addr), READ_ONCE(tn->vip_port)))
		return NF_ACCEPT;
	if (READ_ONCE(tn->frozen)) {
		tcpfo_stat_inc(tn, TCPFO_STAT_FROZEN_DROPPED);
		return NF_DROP;
	}
	/* The lease ran out: silent at once, whether failoverd runs or not (invariant 3). */
	lease_until = READ_ONCE(tn->lease_until_ns);
	if (lease_until && ktime_get_ns() >= lease_until) {
		tcpfo_stat_inc(tn, TCPFO_STAT_LEASE_DROPPED);
		return NF_DROP;
	}

	spin_lock_bh(&tn->tables.lock);
	if (skb->mark == TCPFO_NUDGE_MARK) {
		/* failoverd's nudge already carries the stable point: pass it untouched. */
		conn = tcpfo_conn_find(&tn->tables, &seg.key);
		if (conn && (seg.flags & TCPFO_TH_ACK)) {
			conn->snoop.state.last_sent_ack = seg.ack;
			conn->snoop.state.last_window = seg.window;
		}
		spin_unlock_bh(&tn->tables.lock);
		return NF_ACCEPT;
	}
	/* Never clamp the SYN-ACK: the client would answer a lowered ACK with RST. */
	if ((seg.flags & (TCPFO_TH_SYN | TCPFO_TH_ACK)) == (TCPFO_TH_SYN | TCPFO_TH_ACK)) {
		open = open_connection(tn, &seg, &ev);
		spin_unlock_bh(&tn->tables.lock);
		if (open && tcpfo_emit(tn, &ev, NULL, 0)) {
			/*
			 * failoverd would never learn the connection and never move its stable
			 * point: the client would stall. Unprotected is better than stalled.
			 */
			spin_lock_bh(&tn->tables.lock);
			conn = tcpfo_conn_find(&tn->tables, &seg.key);
			if (conn)
				tcpfo_conn_remove(&tn->tables, conn);
			spin_unlock_bh(&tn->tables.lock);
		}
		return NF_ACCEPT;
	}
	conn = tcpfo_conn_find(&tn->tables, &seg.key);
	if (!conn) {
		lift_rebuilt_pure_ack(tn, skb, &seg);
		spin_unlock_bh(&tn->tables.lock);
		return NF_ACCEPT;
	}
	if ((seg.flags & (TCPFO_TH_RST | TCPFO_TH_ACK)) == TCPFO_TH_RST) {
		/*
		 * A RST without ACK is the kernel answering a segment for which it has no
		 * socket: the server finished its close while the clamp still held back the
		 * ACK of the client's FIN, and the client's probe arrived. Hold it; the nudge
		 * completes the close.
		 */
		spin_unlock_bh(&tn->tables.lock);
		tcpfo_stat_inc(tn, TCPFO_STAT_RSTS_HELD);
		return NF_DROP;
	}
	if (seg.flags & TCPFO_TH_RST) {
		fill_event(&ev, TCPFO_EV_RST, TCPFO_EVF_FROM_SERVER, &seg, seg.seq);
		emit = true;
	} else if (seg.flags & TCPFO_TH_FIN) {
		fill_event(&ev, TCPFO_EV_SERVER_FIN, TCPFO_EVF_FROM_SERVER, &seg, seg.seq + seg.payload_len);
		emit = true;
	}
	/* Before the clamp: a dropped duplicate still tells how far the server got. */
	if ((seg.flags & TCPFO_TH_ACK) && tcpfo_seq_after(seg.ack, conn->snoop.server_ack))
		conn->snoop.server_ack = seg.ack;
	if (seg.flags & TCPFO_TH_ACK)
		verdict = apply_ack_clamp(tn, skb, &seg, conn);
	if (verdict == NF_ACCEPT)
		record_server_segment(&seg, &conn->snoop.state);
	spin_unlock_bh(&tn->tables.lock);

	if (emit)
		tcpfo_emit(tn, &ev, NULL, 0);
	if (verdict == NF_ACCEPT && seg.payload_len > 0) {
		if (seg.payload_len <= TCPFO_MAX_PAYLOAD && tcpfo_digest(skb, seg.payload_off, seg.payload_len, &digest)) {
			fill_event(&digest_ev, TCPFO_EV_OUT_DIGEST, TCPFO_EVF_FROM_SERVER, &seg, seg.seq);
			digest_ev.len = seg.payload_len;
			digest_ev.digest = digest;
			tcpfo_emit(tn, &digest_ev, NULL, 0);
		} else {
			tcpfo_stat_inc(tn, TCPFO_STAT_DIGEST_FAILURES);
		}
	}
	return verdict;
}

static const struct nf_hook_ops tcpfo_nf_ops[] = {
	{
		.hook = tcpfo_ingress,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP_PRI_FIRST + 1,
	},
	{
		/* Last: after anything that might still change the segment. */
		.hook = tcpfo_egress,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_POST_ROUTING,
		.priority = NF_IP_PRI_LAST - 1,
	},
};

int tcpfo_hooks_register(struct net *net)
{
	return nf_register_net_hooks(net, tcpfo_nf_ops, ARRAY_SIZE(tcpfo_nf_ops));
}

void tcpfo_hooks_unregister(struct net *net)
{
	nf_unregister_net_hooks(net, tcpfo_nf_ops, ARRAY_SIZE(tcpfo_nf_ops));
}

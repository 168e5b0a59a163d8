// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The primary's tc hooks for one service (VIP:PORT, IPv4).
 *
 * tcpfo_ingress (client -> VIP): remembers each SYN's options, reports the client's
 * bytes, ACK progress, FIN and RST of protected connections to failoverd through the
 * ring buffer, and after a takeover keeps the client's ACK at or below what the
 * rebuilt socket has sent (the "ack ceiling").
 *
 * tcpfo_egress (VIP -> client): opens a protected connection when the SYN-ACK leaves,
 * tracks the server's sequence state for failoverd's nudges, and clamps the ACK field
 * to the stable point so the client never sees a byte acknowledged that the backups
 * do not hold (DESIGN.md invariant 1).
 *
 * Both always pass the segment, except a clamped pure ACK that would be a duplicate.
 *
 * On a backup taking over, tcpfo_ingress also holds connections whose socket is not
 * rebuilt yet (drops their client segments, records where the client is) and, in
 * takeover mode, drops client segments that no socket would take: see record_held and
 * takeover_drops.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "tcpfo_events.h"
#include "snoop.h"
#include "tcpfo_consts.h"
#include "tcpfo_maps.h"
#include "tcpfo_seq.h"
#include "tcpfo_parsing.h"
#include "tcpfo_csum.h"
#include "tcpfo_payload_sum.h"
#include "tcpfo_rx_csum.h"

/* Set by the loader before load. */
const volatile __u32 vip_addr = 0; /* network order */
const volatile __u16 vip_port = 0; /* network order */
/* Set by failoverd at run time (BpfSnoop::set_takeover_mode): see takeover_drops. */
volatile __u32 takeover_mode = 0;
/*
 * Set by failoverd (BpfSnoop::set_frozen) when this node falls silent for a planned
 * handover: every segment from VIP:PORT is dropped at egress, whatever the service
 * still writes (DESIGN.md invariants 2 and 3). Not only the connections in `conns`:
 * one forgotten after the handover (its backup closed the stream) must stay silent
 * too, and a SYN-ACK would open a connection no backup will ever hear of.
 */
volatile __u32 frozen = 0;
/*
 * The primary's lease (docs/architecture.md, "Leases and fencing"): from this
 * bpf_ktime_get_ns() (CLOCK_MONOTONIC, the daemon's clock) on, every segment from
 * VIP:PORT is dropped at egress, as when frozen. 0: no lease is enforced. Written by
 * the daemon's heartbeat thread each time a quorum renews the lease; the kernel
 * enforces it, so a daemon that stops running (SIGSTOP, a stall) falls silent all
 * the same while the kernel still retransmits and acknowledges.
 */
volatile __u64 lease_until_ns = 0;
/*
 * The inode of the network namespace the hooks watch (set by the loader): tcp_close
 * runs for every socket of the host, and another namespace may use the same VIP.
 */
const volatile __u32 netns_ino = 0;

static __always_inline void fill_event(struct tcpfo_event *ev, __u8 type, __u8 flags,
				       const struct tcpfo_segment *seg)
{
	ev->type = type;
	ev->flags = flags;
	ev->window = seg->window;
	ev->len = 0;
	ev->key = seg->key;
	ev->seq = seg->seq;
	ev->ack = seg->ack;
	ev->tsval = seg->tsval;
	ev->tsecr = seg->tsecr;
	ev->ktime_ns = bpf_ktime_get_ns();
}

static __always_inline int output_event_flags(void *record, __u64 size, __u64 flags)
{
	if (bpf_ringbuf_output(&events, record, size, flags)) {
		stat_inc(TCPFO_STAT_RING_DROPS);
		return -1;
	}
	stat_inc(TCPFO_STAT_EVENTS);
	return 0;
}

/*
 * An event failoverd must see now. The ring's default (adaptive) wake-up notifies the
 * reader only when the ring was empty before the record; a digest left there without a
 * wake-up (below) then silences the client's next request until failoverd's next tick:
 * with a client that waits for its ACK before it sends more (Nagle), every request
 * took 10 ms. So: forced when anything is already in the ring.
 */
static __always_inline int output_event(void *record, __u64 size)
{
	__u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) ? BPF_RB_FORCE_WAKEUP : 0;

	return output_event_flags(record, size, flags);
}

static __always_inline int emit_segment_event(__u8 type, __u8 flags, const struct tcpfo_segment *seg,
					      __u32 seq)
{
	struct tcpfo_data_record *rec = record_buffer();

	if (!rec) {
		stat_inc(TCPFO_STAT_RING_DROPS);
		return -1;
	}
	__builtin_memset(&rec->ev, 0, sizeof(rec->ev));
	fill_event(&rec->ev, type, flags, seg);
	rec->ev.seq = seq;
	return output_event(&rec->ev, sizeof(rec->ev));
}

/* DATA event plus `len` bytes of payload, up to a 64 KiB GRO super-packet, in one record. */
static __always_inline void emit_data(struct __sk_buff *skb, const struct tcpfo_segment *seg, __u32 len)
{
	struct tcpfo_data_record *rec = record_buffer();

	if (!rec || len == 0 || len > TCPFO_MAX_PAYLOAD) {
		stat_inc(TCPFO_STAT_RING_DROPS);
		return;
	}
	/* Identity for 1..65536; tells the verifier the same. */
	len = ((len - 1) & (TCPFO_MAX_PAYLOAD - 1)) + 1;
	fill_event(&rec->ev, TCPFO_EV_DATA, 0, seg);
	rec->ev.len = len;
	if (bpf_skb_load_bytes(skb, seg->payload_off, rec->payload, len)) {
		stat_inc(TCPFO_STAT_RING_DROPS);
		return;
	}
	output_event(rec, sizeof(rec->ev) + len);
}

/* OUT_DIGEST: the digest of the server's payload (tcpfo_events.h, tcpfo_payload_sum.h). */
static __always_inline void emit_out_digest(struct __sk_buff *skb, const struct tcpfo_segment *seg)
{
	struct tcpfo_data_record *rec = record_buffer();
	struct payload_sums sums;

	if (!rec || sum_payload(skb, seg->payload_off, seg->payload_len, &sums)) {
		stat_inc(TCPFO_STAT_DIGEST_FAILURES);
		return;
	}
	/* The payload is no longer needed: the event is built at the buffer's head. */
	__builtin_memset(&rec->ev, 0, sizeof(rec->ev));
	fill_event(&rec->ev, TCPFO_EV_OUT_DIGEST, TCPFO_EVF_FROM_SERVER, seg);
	rec->ev.len = sums.len;
	rec->ev.digest = ((__u64)sums.b << 32) | sums.a;
	/*
	 * No wake-up of failoverd for a digest alone: it rides with the next event that
	 * wakes it (the client's ACK of these bytes, its next request) or failoverd's
	 * next tick. Waking both daemons once more per reply doubled a request/response
	 * round trip through the VIP.
	 */
	output_event_flags(&rec->ev, sizeof(rec->ev), BPF_RB_NO_WAKEUP);
}

static __always_inline void remember_syn(const struct tcpfo_segment *seg)
{
	struct tcpfo_pending_syn syn = {
		.client_isn = seg->seq,
		.client_opts = seg->opts,
	};

	/* LRU: never fails for lack of room, evicts the oldest half-open entry. */
	bpf_map_update_elem(&pending_syns, &seg->key, &syn, BPF_ANY);
}

/*
 * The hooks see a client segment before the server's TCP does, and the backups log
 * what they report: what TCP then refuses must never be reported (kmod/tcpfo_hooks.c
 * does the same). Bytes it would not take would stand in the log for the real bytes
 * at those offsets; an ACK of unsent output would make the backups believe the client
 * holds output it never got; a RST TCP answers with a challenge ACK would make them
 * drop a connection that goes on. A segment with a bad checksum never gets this far
 * (tcpfo_ingress, tcpfo_rx_csum.h).
 */
static __always_inline __u32 window_right_edge(const struct tcpfo_snoop_conn *conn)
{
	__u32 shift = 0;

	if ((conn->state.client_opts.present & TCPFO_OPT_WSCALE) && (conn->state.server_opts.present & TCPFO_OPT_WSCALE))
		shift = conn->state.server_opts.wscale > 14 ? 14 : conn->state.server_opts.wscale;
	return conn->server_ack + ((__u32)conn->state.last_window << shift);
}

/* The connection's socket on this host, if any (bpf_sk_release it). */
static __always_inline struct bpf_sock *conn_socket(struct __sk_buff *skb, const struct tcpfo_segment *seg)
{
	struct bpf_sock_tuple tuple = {};

	tuple.ipv4.saddr = seg->key.client_addr;
	tuple.ipv4.daddr = seg->key.vip_addr;
	tuple.ipv4.sport = seg->key.client_port;
	tuple.ipv4.dport = seg->key.vip_port;
	return bpf_sk_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
}

/* RFC 5961: TCP takes a RST at exactly rcv_nxt (rcv_nxt - 1 once it took the FIN). */
static __always_inline int rst_taken(struct __sk_buff *skb, const struct tcpfo_segment *seg)
{
	int taken = 1;
	struct bpf_sock *sk = conn_socket(skb, seg);
	if (!sk)
		return 1; /* gone already */
	if (sk->state != BPF_TCP_LISTEN) {
		struct bpf_tcp_sock *tp = bpf_tcp_sock(sk);
		if (tp) {
			__u32 closing = sk->state == BPF_TCP_CLOSE_WAIT || sk->state == BPF_TCP_LAST_ACK ||
					sk->state == BPF_TCP_CLOSING;
			taken = seg->seq == tp->rcv_nxt || (closing && seg->seq == tp->rcv_nxt - 1);
		}
	}
	bpf_sk_release(sk);
	return taken;
}

/*
 * `ceiled`: a connection rebuilt at a takeover and protected again (adopted): the ack
 * ceiling lowers an ACK of unsent data to the socket's snd_nxt before TCP sees the
 * segment, so TCP takes it and it is reported like any other.
 */
static __always_inline void snoop_client_segment(struct __sk_buff *skb, const struct tcpfo_segment *seg,
						 struct tcpfo_snoop_conn *conn, int ceiled)
{
	struct tcpfo_client_view *seen = &conn->client;

	if (seg->flags & TCPFO_TH_RST) {
		if (rst_taken(skb, seg))
			emit_segment_event(TCPFO_EV_RST, 0, seg, seg->seq);
		return;
	}
	if (!ceiled && (seg->flags & TCPFO_TH_ACK) && seq_after(seg->ack, conn->state.snd_nxt)) {
		if (seg->payload_len > 0)
			stat_inc(TCPFO_STAT_DATA_REFUSED);
		return; /* TCP drops a segment that acknowledges unsent data, payload and all */
	}
	__u32 right_edge = window_right_edge(conn);
	__u32 takes = 0;
	if (seg->payload_len > 0) {
		if (seq_after(right_edge, seg->seq))
			takes = right_edge - seg->seq < seg->payload_len ? right_edge - seg->seq : seg->payload_len;
		if (takes < seg->payload_len)
			stat_inc(TCPFO_STAT_DATA_REFUSED);
		if (takes > 0)
			emit_data(skb, seg, takes);
	}
	if (seg->flags & TCPFO_TH_FIN) {
		if (takes == seg->payload_len && !seq_after(seg->seq + seg->payload_len, right_edge))
			emit_segment_event(TCPFO_EV_CLIENT_FIN, 0, seg, seg->seq + seg->payload_len);
	} else if (seg->payload_len == 0 && (seg->flags & TCPFO_TH_ACK) &&
		 (seg->ack != seen->ack || seg->window != seen->window || seg->tsval != seen->tsval ||
		  seg->tsecr != seen->tsecr))
		emit_segment_event(TCPFO_EV_ACK, 0, seg, seg->seq);

	if (seg->flags & TCPFO_TH_ACK)
		seen->ack = seg->ack;
	seen->window = seg->window;
	seen->tsval = seg->tsval;
	seen->tsecr = seg->tsecr;
}

/*
 * After a takeover the rebuilt socket regenerates the dead primary's output through
 * replay; until it has, the client may acknowledge bytes the socket has not sent yet.
 * Linux discards a segment that acknowledges unsent data, payload included, and the
 * client's retransmissions would never get through. Lower such ACKs to snd_nxt.
 */
static __always_inline void apply_ack_ceiling(struct __sk_buff *skb, const struct tcpfo_segment *seg)
{
	__u32 snd_nxt = 0;
	int have_snd_nxt = 0;

	if (!(seg->flags & TCPFO_TH_ACK))
		return;
	struct bpf_sock *sk = conn_socket(skb, seg);
	if (!sk)
		return;
	if (sk->state != BPF_TCP_LISTEN) {
		struct bpf_tcp_sock *tp = bpf_tcp_sock(sk);
		if (tp) {
			snd_nxt = tp->snd_nxt;
			have_snd_nxt = 1;
		}
	}
	bpf_sk_release(sk);
	if (!have_snd_nxt)
		return;

	if (seq_after(seg->ack, snd_nxt) && rewrite_ack_field(skb, seg, snd_nxt) == 0)
		stat_inc(TCPFO_STAT_ACKS_CEILED);
	tcpfo_strip_sack_above(skb, seg, snd_nxt);
}

/*
 * A held connection: records where the client is. Its answer to an out-of-window probe
 * is a pure ACK carrying its snd_nxt (sequence) and rcv_nxt (ACK field); its own
 * retransmissions tell the same. Two CPUs may update one record at once (the fields
 * only move forward, a race loses at most one update of the latest-segment fields).
 */
static __always_inline void record_held(struct tcpfo_held_client *h, const struct tcpfo_segment *seg)
{
	__u32 end = seg->seq + seg->payload_len + ((seg->flags & (TCPFO_TH_SYN | TCPFO_TH_FIN)) ? 1 : 0);

	if (!(h->flags & TCPFO_HELD_SEQ) || seq_after(end, h->snd_nxt)) {
		h->snd_nxt = end;
		h->data_len = 0;
	}
	if (seg->payload_len > 0 && end == h->snd_nxt) {
		h->data_seq = seg->seq;
		h->data_len = seg->payload_len;
	}
	__u8 flags = h->flags | TCPFO_HELD_SEQ;
	if ((seg->flags & TCPFO_TH_ACK) && (!(h->flags & TCPFO_HELD_ACK) || seq_after(seg->ack, h->ack))) {
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
	h->last_ns = bpf_ktime_get_ns();
	__sync_fetch_and_add(&h->segments, 1);
	if (seg->payload_len == 0 && (seg->flags & TCPFO_TH_ACK) &&
	    !(seg->flags & (TCPFO_TH_SYN | TCPFO_TH_FIN | TCPFO_TH_RST)))
		__sync_fetch_and_add(&h->pure_acks, 1);
}

/*
 * Takeover mode: the VIP may be local while connections are still being rebuilt. A
 * client segment that no socket would take (no established, request or time-wait
 * socket; a listener does not count: it answers a non-SYN with a RST) is dropped, so
 * the client never meets a reset; its retransmission finds the rebuilt socket. A SYN
 * passes: the service's listener answers it with a SYN-ACK, never a reset.
 */
static __always_inline int takeover_drops(struct __sk_buff *skb, const struct tcpfo_segment *seg)
{
	struct bpf_sock_tuple tuple = {};
	int known = 0;

	if ((seg->flags & (TCPFO_TH_SYN | TCPFO_TH_ACK)) == TCPFO_TH_SYN)
		return 0;
	tuple.ipv4.saddr = seg->key.client_addr;
	tuple.ipv4.daddr = seg->key.vip_addr;
	tuple.ipv4.sport = seg->key.client_port;
	tuple.ipv4.dport = seg->key.vip_port;
	struct bpf_sock *sk = bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (sk) {
		known = sk->state != BPF_TCP_LISTEN;
		bpf_sk_release(sk);
	}
	return !known;
}

SEC("tc")
int tcpfo_ingress(struct __sk_buff *skb)
{
	struct tcpfo_segment seg;

	if (parse_segment(skb, &seg, TCPFO_TO_VIP, vip_addr, vip_port))
		return TC_ACT_OK;
	/*
	 * TCP drops a segment with a bad checksum before anything else: nothing of it is
	 * reported or recorded (a held client's position, a SYN's ISN, the client's ACK
	 * for the ack ceiling). Passed on: TCP drops and counts it (InCsumErrors).
	 */
	if (!tcp_takes_checksum(skb, &seg)) {
		if (seg.payload_len > 0)
			stat_inc(TCPFO_STAT_DATA_REFUSED);
		return TC_ACT_OK;
	}

	struct tcpfo_rebuilt *rb = bpf_map_lookup_elem(&rebuilt, &seg.key);
	struct tcpfo_held_client *hold = bpf_map_lookup_elem(&held, &seg.key);
	if (hold) {
		record_held(hold, &seg);
		if (!rb) {
			stat_inc(TCPFO_STAT_HELD_DROPPED);
			return TC_ACT_SHOT;
		}
	}

	if ((seg.flags & (TCPFO_TH_SYN | TCPFO_TH_ACK)) == TCPFO_TH_SYN) {
		remember_syn(&seg);
		return TC_ACT_OK;
	}

	struct tcpfo_snoop_conn *conn = bpf_map_lookup_elem(&conns, &seg.key);
	if (conn)
		snoop_client_segment(skb, &seg, conn, rb != NULL);

	/* Events above carry the client's own ACK: what it really acknowledged. */
	if (rb) {
		if ((seg.flags & TCPFO_TH_ACK) && (!rb->have_client_ack || seq_after(seg.ack, rb->client_ack))) {
			rb->client_ack = seg.ack;
			rb->have_client_ack = 1;
		}
		apply_ack_ceiling(skb, &seg);
	} else if (!conn && takeover_mode && takeover_drops(skb, &seg)) {
		stat_inc(TCPFO_STAT_TAKEOVER_DROPPED);
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

/*
 * The mirror of the ack ceiling. The backup learns how far the client has received
 * the server's stream only from replicated ACKs, which lag; the rebuilt socket's
 * snd_nxt can therefore sit below what the client already holds. The client drops
 * any segment that lies wholly before its window, ACK field and all, so the rebuilt
 * socket's pure ACKs would never be heard and the client would retransmit its first
 * unacknowledged segment forever. A pure ACK carries no data: give it the sequence
 * number the client expects next.
 */
static __always_inline void lift_rebuilt_pure_ack(struct __sk_buff *skb, const struct tcpfo_segment *seg)
{
	struct tcpfo_rebuilt *rb = bpf_map_lookup_elem(&rebuilt, &seg->key);

	if (!rb || !rb->have_client_ack || seg->payload_len != 0 ||
	    (seg->flags & (TCPFO_TH_SYN | TCPFO_TH_FIN | TCPFO_TH_RST)))
		return;
	if (seq_before(seg->seq, rb->client_ack) && rewrite_seq_field(skb, seg, rb->client_ack) == 0)
		stat_inc(TCPFO_STAT_SEQS_LIFTED);
}

/* The SYN-ACK leaves: the handshake's state is complete, the connection is protected. */
static __always_inline void open_connection(const struct tcpfo_segment *seg)
{
	struct tcpfo_pending_syn *syn = bpf_map_lookup_elem(&pending_syns, &seg->key);
	if (!syn)
		return; /* SYN seen before the hooks were attached: not protected */
	if (seg->ack != syn->client_isn + 1)
		return;

	struct tcpfo_snoop_conn *known = bpf_map_lookup_elem(&conns, &seg->key);
	if (known && known->state.server_isn == seg->seq)
		return; /* a retransmitted SYN-ACK: already open */

	struct tcpfo_snoop_conn conn = {};
	conn.state.client_isn = syn->client_isn;
	conn.state.server_isn = seg->seq;
	conn.state.client_opts = syn->client_opts;
	conn.state.server_opts = seg->opts;
	conn.state.snd_nxt = seg->seq + 1;
	conn.state.last_tsval = seg->tsval;
	conn.state.last_tsecr = seg->tsecr;
	conn.state.last_window = seg->window;
	conn.state.last_sent_ack = seg->ack;
	conn.server_ack = seg->ack;
	__u32 stable_seq = syn->client_isn + 1;

	if (bpf_map_update_elem(&conns, &seg->key, &conn, BPF_ANY)) {
		stat_inc(TCPFO_STAT_TABLE_FULL);
		return;
	}
	if (bpf_map_update_elem(&stable, &seg->key, &stable_seq, BPF_ANY)) {
		bpf_map_delete_elem(&conns, &seg->key);
		stat_inc(TCPFO_STAT_TABLE_FULL);
		return;
	}

	struct tcpfo_data_record *rec = record_buffer();
	int emitted = -1;
	if (rec) {
		__builtin_memset(&rec->ev, 0, sizeof(rec->ev));
		fill_event(&rec->ev, TCPFO_EV_CONN_OPEN, TCPFO_EVF_FROM_SERVER, seg);
		rec->ev.client_isn = conn.state.client_isn;
		rec->ev.server_isn = conn.state.server_isn;
		rec->ev.client_opts = conn.state.client_opts;
		rec->ev.server_opts = conn.state.server_opts;
		emitted = output_event(&rec->ev, sizeof(rec->ev));
	} else {
		stat_inc(TCPFO_STAT_RING_DROPS);
	}
	if (emitted) {
		/*
		 * failoverd would never learn the connection and never move its stable
		 * point: the client would stall. Unprotected is better than stalled.
		 */
		bpf_map_delete_elem(&stable, &seg->key);
		bpf_map_delete_elem(&conns, &seg->key);
		return;
	}
	bpf_map_delete_elem(&pending_syns, &seg->key);
}

static __always_inline void record_server_segment(const struct tcpfo_segment *seg,
						  struct tcpfo_conn_state *state)
{
	__u32 end = seg->seq + seg->payload_len + ((seg->flags & TCPFO_TH_FIN) ? 1 : 0);

	if (seq_after(end, state->snd_nxt))
		state->snd_nxt = end;
	state->last_tsval = seg->tsval;
	state->last_tsecr = seg->tsecr;
}

/*
 * Lowers the ACK field to the stable point and, when it did, strips the SACK blocks
 * above it. Returns
 * TC_ACT_SHOT for a clamped pure ACK the client would count as a duplicate ACK (same
 * ack number and window as the last segment it received): three of those make it
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
static __always_inline int apply_ack_clamp(struct __sk_buff *skb, const struct tcpfo_segment *seg,
					   struct tcpfo_conn_state *state, __u32 stable_seq)
{
	__u32 ack = seg->ack;
	int lowered = 0;

	if (seq_after(ack, stable_seq)) {
		if (rewrite_ack_field(skb, seg, stable_seq))
			return TC_ACT_SHOT; /* never let an unclamped ACK out */
		ack = stable_seq;
		lowered = 1;
		stat_inc(TCPFO_STAT_ACKS_CLAMPED);
	}
	if (lowered && tcpfo_strip_sack_above(skb, seg, stable_seq) < 0)
		return TC_ACT_SHOT;

	int pure_ack = seg->payload_len == 0 &&
		       !(seg->flags & (TCPFO_TH_SYN | TCPFO_TH_FIN | TCPFO_TH_RST));
	if (lowered && pure_ack && ack == state->last_sent_ack && seg->window == state->last_window) {
		stat_inc(TCPFO_STAT_DUP_ACKS_DROPPED);
		return TC_ACT_SHOT;
	}
	state->last_sent_ack = ack;
	state->last_window = seg->window;
	return TC_ACT_OK;
}

SEC("tc")
int tcpfo_egress(struct __sk_buff *skb)
{
	struct tcpfo_segment seg;

	if (parse_segment(skb, &seg, TCPFO_FROM_VIP, vip_addr, vip_port))
		return TC_ACT_OK;

	if (frozen) {
		stat_inc(TCPFO_STAT_FROZEN_DROPPED);
		return TC_ACT_SHOT;
	}
	__u64 lease_until = lease_until_ns;
	if (lease_until && bpf_ktime_get_ns() >= lease_until) {
		stat_inc(TCPFO_STAT_LEASE_DROPPED);
		return TC_ACT_SHOT;
	}

	struct tcpfo_snoop_conn *conn;
	if (skb->mark == TCPFO_NUDGE_MARK) {
		/* failoverd's nudge already carries the stable point: pass it untouched. */
		conn = bpf_map_lookup_elem(&conns, &seg.key);
		if (conn && (seg.flags & TCPFO_TH_ACK)) {
			conn->state.last_sent_ack = seg.ack;
			conn->state.last_window = seg.window;
		}
		return TC_ACT_OK;
	}

	/* Never clamp the SYN-ACK: the client would answer a lowered ACK with RST. */
	if ((seg.flags & (TCPFO_TH_SYN | TCPFO_TH_ACK)) == (TCPFO_TH_SYN | TCPFO_TH_ACK)) {
		open_connection(&seg);
		return TC_ACT_OK;
	}

	conn = bpf_map_lookup_elem(&conns, &seg.key);
	if (!conn) {
		lift_rebuilt_pure_ack(skb, &seg);
		return TC_ACT_OK;
	}

	if ((seg.flags & (TCPFO_TH_RST | TCPFO_TH_ACK)) == TCPFO_TH_RST) {
		/*
		 * A RST without ACK is the kernel answering a segment for which it has no
		 * socket (an application's abort always carries ACK). Here that means the
		 * server finished its close while the clamp still held back the ACK of the
		 * client's FIN, and the client's tail-loss probe arrived: the client would
		 * see a reset it never asked for. Hold it; the nudge completes the close.
		 */
		stat_inc(TCPFO_STAT_RSTS_HELD);
		return TC_ACT_SHOT;
	}
	if (seg.flags & TCPFO_TH_RST)
		emit_segment_event(TCPFO_EV_RST, TCPFO_EVF_FROM_SERVER, &seg, seg.seq);
	else if (seg.flags & TCPFO_TH_FIN)
		emit_segment_event(TCPFO_EV_SERVER_FIN, TCPFO_EVF_FROM_SERVER, &seg,
				   seg.seq + seg.payload_len);

	/* Before the clamp: a dropped duplicate still tells how far the server got. */
	if ((seg.flags & TCPFO_TH_ACK) && seq_after(seg.ack, conn->server_ack))
		conn->server_ack = seg.ack;

	int verdict = TC_ACT_OK;
	if (seg.flags & TCPFO_TH_ACK) {
		__u32 *stable_seq = bpf_map_lookup_elem(&stable, &seg.key);
		if (stable_seq)
			verdict = apply_ack_clamp(skb, &seg, &conn->state, *stable_seq);
	}
	if (verdict == TC_ACT_OK) {
		record_server_segment(&seg, &conn->state);
		/* A connection rebuilt at a takeover and protected again: its pure ACKs are
		 * lifted as any rebuilt connection's (after the state is recorded from the
		 * segment as the socket sent it; a pure ACK has no digest). */
		if (seg.payload_len == 0)
			lift_rebuilt_pure_ack(skb, &seg);
		if (seg.payload_len > 0)
			emit_out_digest(skb, &seg);
	}
	return verdict;
}

/* include/linux/sched.h and include/net/tcp_states.h: not in BTF. */
#define TCPFO_PF_EXITING 0x00000004
#define TCPFO_TCP_ESTABLISHED 1
#define TCPFO_TCP_FIN_WAIT1 4
#define TCPFO_TCP_CLOSE 7
#define TCPFO_TCP_CLOSE_WAIT 8
#define TCPFO_TCP_LAST_ACK 9

/*
 * The service died (DESIGN.md invariant 2: an application's crash must not close its
 * connections toward the clients). When a process exits, killed or crashed, the kernel
 * closes its sockets from do_exit(), and tcp_close() sends a FIN, or a RST if unread
 * input remains, at once or later from a timer. tcp_close() first moves the socket to
 * FIN_WAIT1, LAST_ACK or CLOSE, which fires this tracepoint in the exiting task, before
 * any of that goes out: the first protected socket closed that way freezes the egress
 * (every later segment from VIP:PORT is dropped, whatever context sends it) and tells
 * failoverd, which hands the connections over. A close() by a live process is not an
 * exit: PF_EXITING is set by do_exit() alone. A raw tracepoint: attached by name, it
 * needs no tracefs (`ip netns exec` hides it), and the development host refuses to
 * load fentry programs.
 */
SEC("raw_tracepoint/inet_sock_set_state")
int tcpfo_sock_state(struct bpf_raw_tracepoint_args *ctx)
{
	/* TP_PROTO(const struct sock *sk, const int oldstate, const int newstate) */
	const struct sock *sk = (const struct sock *)ctx->args[0];
	int oldstate = (int)ctx->args[1];
	int newstate = (int)ctx->args[2];

	if (oldstate != TCPFO_TCP_ESTABLISHED && oldstate != TCPFO_TCP_CLOSE_WAIT)
		return 0;
	if (newstate != TCPFO_TCP_FIN_WAIT1 && newstate != TCPFO_TCP_LAST_ACK && newstate != TCPFO_TCP_CLOSE)
		return 0;
	/* This runs at every TCP state change of the host: one read of the task's flags
	 * turns away all but a dying process's closes before the socket is read. */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (!(BPF_CORE_READ(task, flags) & TCPFO_PF_EXITING))
		return 0;
	/* The source port from inet_sport, not skc_num: a move to CLOSE (a close with
	 * unread input, answered with a RST) releases the port first, zeroing skc_num. */
	if (BPF_CORE_READ(sk, __sk_common.skc_family) != AF_INET ||
	    BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP ||
	    BPF_CORE_READ((const struct inet_sock *)sk, inet_sport) != vip_port ||
	    BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr) != vip_addr)
		return 0;

	struct tcpfo_conn_key key = {
		.client_addr = BPF_CORE_READ(sk, __sk_common.skc_daddr),
		.vip_addr = vip_addr,
		.client_port = BPF_CORE_READ(sk, __sk_common.skc_dport),
		.vip_port = vip_port,
	};
	if (netns_ino && BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) != netns_ino)
		return 0;
	if (!bpf_map_lookup_elem(&conns, &key))
		return 0;
	stat_inc(TCPFO_STAT_SERVICE_DIED);
	if (frozen)
		return 0;
	frozen = 1;

	/* On the stack, not in the CPU's record buffer: a tc hook in a softirq may
	 * interrupt this program on its CPU and use that buffer. */
	struct tcpfo_event ev;
	__builtin_memset(&ev, 0, sizeof(ev));
	ev.type = TCPFO_EV_SERVICE_DIED;
	ev.key = key;
	ev.ktime_ns = bpf_ktime_get_ns();
	output_event_flags(&ev, sizeof(ev), BPF_RB_FORCE_WAKEUP);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

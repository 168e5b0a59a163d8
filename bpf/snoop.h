/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What snoop.bpf.c and its loader (userd/bpf_snoop.cpp) share beyond the event
 * structs of tcpfo_events.h: table bounds, statistics slots and the value layout of
 * the `conns` map. Include <linux/types.h> (or vmlinux.h) and tcpfo_events.h first.
 */
#ifndef TCPFO_SNOOP_H
#define TCPFO_SNOOP_H

/*
 * Bounds. A connection that finds `conns` or `stable` full is not protected (no
 * event, no clamp) and counted in TCPFO_STAT_TABLE_FULL. Pending SYNs live in an LRU
 * table instead: a SYN flood must evict old half-open entries rather than lock new
 * clients out of protection, and a SYN whose entry was evicted is simply retransmitted
 * by its client or goes unprotected. The ring buffer never blocks: a record that does
 * not fit is counted in TCPFO_STAT_RING_DROPS (the client retransmits what the backups
 * did not get, because the clamp never acknowledges it).
 */
#define TCPFO_MAX_CONNS 65536
#define TCPFO_MAX_PENDING_SYNS 65536
#define TCPFO_RINGBUF_BYTES (16u << 20)

/* Slots of the per-CPU `stats` array; userspace sums them over CPUs. */
enum tcpfo_snoop_stat {
	TCPFO_STAT_EVENTS = 0,        /* records written to the ring buffer */
	TCPFO_STAT_RING_DROPS,        /* records that did not fit (or payload unreadable) */
	TCPFO_STAT_ACKS_CLAMPED,      /* egress ACK fields lowered to the stable point */
	TCPFO_STAT_DUP_ACKS_DROPPED,  /* clamped pure ACKs dropped as duplicates */
	TCPFO_STAT_TABLE_FULL,        /* connections left unprotected: a table was full */
	TCPFO_STAT_ACKS_CEILED,       /* ingress ACK fields lowered to a rebuilt socket's snd_nxt */
	TCPFO_STAT_SEQS_LIFTED,       /* egress pure ACKs of a rebuilt socket lifted into the client's window */
	TCPFO_STAT_RSTS_HELD,         /* kernel RSTs (no socket) of protected connections dropped */
	TCPFO_STAT_HELD_DROPPED,      /* client segments of held connections dropped (takeover) */
	TCPFO_STAT_TAKEOVER_DROPPED,  /* takeover mode: client segments of no known connection dropped */
	TCPFO_STAT_DIGEST_FAILURES,   /* server segments left without an OUT_DIGEST (unreadable payload) */
	TCPFO_STAT_FROZEN_DROPPED,    /* egress segments from VIP:PORT dropped while frozen (handover) */
	TCPFO_STAT_SERVICE_DIED,      /* protected sockets closed by an exiting task (the first one freezes) */
	TCPFO_STAT_SOCKET_ACKS,       /* kernel module only: ACKs sent from the server's socket as the stable point moved */
	TCPFO_STAT_DATA_REFUSED,      /* client segments with payload the server's TCP refuses, wholly or
					 in part (a bad checksum, beyond its window, acking unsent
					 data): what it refuses is not reported */
	TCPFO_STAT_LEASE_DROPPED,     /* egress segments from VIP:PORT dropped: the lease had run out */
	TCPFO_STAT_COUNT,
};

/* What the ingress hook last reported of the client's own segments. */
struct tcpfo_client_view {
	__u32 ack;
	__u32 tsval;
	__u32 tsecr;
	__u16 window;
	__u16 pad;
};

/*
 * Value of the `conns` map: the public state (read by failoverd for its nudges)
 * followed by the hooks' private memory, so one lookup serves both hooks.
 */
struct tcpfo_snoop_conn {
	struct tcpfo_conn_state state;
	struct tcpfo_client_view client;
	/*
	 * The highest ACK field the server's own stack has sent, before clamping. A nudge
	 * must not acknowledge above it: the ingress hook sees (and logs) segments the
	 * server's TCP may still drop (receive window full), and a nudge acknowledging
	 * those would make the client forget bytes the server never took.
	 */
	__u32 server_ack;
	__u32 pad;
};

/*
 * Value of the `rebuilt` map: a connection a backup rebuilt with TCP_REPAIR. The
 * ingress hook records the highest ACK the client sent (how far it has received
 * the server's stream); the egress hook keeps the rebuilt socket's pure ACKs at or
 * above it, see snoop.bpf.c.
 */
struct tcpfo_rebuilt {
	__u32 client_ack;
	__u32 have_client_ack;
};

/*
 * Value of the `held` map: a connection a backup is taking over whose socket is not
 * rebuilt yet. The ingress hook drops every client segment of it (the VIP may already
 * be local, and the stack would answer a segment without a socket with a RST) and
 * records here where the client is. A client's answer to an out-of-window probe is a
 * pure ACK whose sequence is its snd_nxt and whose ACK field is its rcv_nxt.
 * Releasing the entry, or marking the connection rebuilt, lets segments through again;
 * the record keeps being updated until the entry is deleted.
 */
#define TCPFO_HELD_SEQ 0x01  /* snd_nxt, data_seq/data_len are valid */
#define TCPFO_HELD_ACK 0x02  /* ack is valid */
#define TCPFO_HELD_TS 0x04   /* tsval/tsecr are valid */
#define TCPFO_HELD_SACK 0x08 /* a segment carried SACK blocks (D-SACK included) */
#define TCPFO_HELD_FIN 0x10  /* a segment carried FIN */
#define TCPFO_HELD_RST 0x20  /* a segment carried RST */

struct tcpfo_held_client {
	__u32 snd_nxt;  /* highest seq + payload (+1 for SYN/FIN) of the client's segments */
	__u32 ack;      /* highest ACK field */
	__u32 tsval;    /* timestamps of the latest segment that had them */
	__u32 tsecr;
	__u32 data_seq; /* first byte of the latest data segment ending at snd_nxt */
	__u32 data_len; /* its payload bytes; 0 if no data segment ends at snd_nxt */
	__u32 segments; /* client segments seen since the hold began */
	/*
	 * Pure ACKs among them (no payload, SYN, FIN or RST). A client's pure ACK carries
	 * its snd_nxt, so once one arrived (its answer to a probe), snd_nxt is exact;
	 * before, only retransmissions were seen, and they may end below it.
	 */
	__u32 pure_acks;
	__u16 window;   /* raw window field of the latest segment */
	__u8 flags;     /* TCPFO_HELD_* */
	__u8 pad;
	__u32 pad2;
	__u64 last_ns;  /* bpf_ktime_get_ns() of the latest segment */
};

#endif /* TCPFO_SNOOP_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The structs shared by the kernel hooks (bpf/, kmod/) and failoverd (userd/).
 * Written once here so an event's layout cannot drift between the two sides.
 *
 * Only fixed-width __uN types: BPF code gets them from vmlinux.h, the module and
 * userspace from <linux/types.h>. Include <linux/types.h> (or vmlinux.h) first.
 *
 * Byte order: addresses and ports are stored as on the wire (network order) so the
 * hooks can copy them without conversion; sequence numbers, windows and timestamps
 * are in host order.
 */
#ifndef TCPFO_EVENTS_H
#define TCPFO_EVENTS_H

/* Largest client payload one DATA event carries: a GRO/GSO super-packet on a veth. */
#define TCPFO_MAX_PAYLOAD 65536

/*
 * OUT_DIGEST: the server's payload is digested in chunks of this many bytes, counted
 * from the segment's first payload byte (userd's replay/output_digest.h computes the
 * same digest over the replica's output).
 */
#define TCPFO_DIGEST_CHUNK 512

/* skb->mark of failoverd's own nudge ACKs: the egress clamp lets them through. */
#define TCPFO_NUDGE_MARK 0x7cf0f0a1

/* One protected connection, as the primary sees it. */
struct tcpfo_conn_key {
	__u32 client_addr; /* IPv4, network order */
	__u32 vip_addr;    /* IPv4, network order */
	__u16 client_port; /* network order */
	__u16 vip_port;    /* network order */
};

/* TCP options one side announced in its SYN (client) or SYN-ACK (server). */
#define TCPFO_OPT_MSS 0x1
#define TCPFO_OPT_WSCALE 0x2
#define TCPFO_OPT_SACK_PERM 0x4
#define TCPFO_OPT_TIMESTAMPS 0x8

struct tcpfo_tcp_opts {
	__u16 mss;    /* valid when TCPFO_OPT_MSS */
	__u8 wscale;  /* valid when TCPFO_OPT_WSCALE */
	__u8 present; /* TCPFO_OPT_* bits */
};

enum tcpfo_event_type {
	/* The SYN-ACK left the primary: ISNs and both sides' options are known. */
	TCPFO_EV_CONN_OPEN = 1,
	/* Client payload entered the primary; `len` payload bytes follow the event. */
	TCPFO_EV_DATA = 2,
	/* A client segment without payload moved its ACK, window or timestamp. */
	TCPFO_EV_ACK = 3,
	/* The client sent FIN; `seq` is the FIN's own sequence number. */
	TCPFO_EV_CLIENT_FIN = 4,
	/* The server (application) sent FIN; `seq` is the FIN's own sequence number. */
	TCPFO_EV_SERVER_FIN = 5,
	/* A RST in either direction: the connection is gone. `flags` says who sent it. */
	TCPFO_EV_RST = 6,
	/*
	 * Server payload left the primary: `seq` is its first byte, `len` its length (no
	 * bytes follow the event) and `digest` a checksum of it, so that the backups can
	 * tell whether their replica wrote the same bytes.
	 */
	TCPFO_EV_OUT_DIGEST = 7,
	/*
	 * A task that was exiting (killed or crashed, not a close() of a live process)
	 * closed the socket of this protected connection: the service died. The egress is
	 * frozen from then on (nothing of the dying sockets, no FIN, no RST, reaches a
	 * client) and failoverd hands the connections over. Sent once.
	 */
	TCPFO_EV_SERVICE_DIED = 8,
};

#define TCPFO_EVF_FROM_SERVER 0x1 /* the segment went client <- server */

/*
 * One record in the ring buffer. Every client segment event (DATA, ACK,
 * CLIENT_FIN) also carries the segment's ACK field, window and timestamps, so the
 * backups learn how far the client has acknowledged the server's output.
 */
struct tcpfo_event {
	__u8 type;    /* enum tcpfo_event_type */
	__u8 flags;   /* TCPFO_EVF_* */
	__u16 window; /* raw (unscaled) window field of the segment */
	__u32 len;    /* DATA: payload bytes following this struct; OUT_DIGEST: bytes digested */
	struct tcpfo_conn_key key;
	__u32 seq;   /* DATA, OUT_DIGEST: first payload byte; FIN: the FIN */
	__u32 ack;   /* ACK field of the segment (0 if no ACK flag) */
	__u32 tsval; /* timestamp option of the segment, 0 if absent */
	__u32 tsecr;
	__u64 ktime_ns; /* bpf_ktime_get_ns() when the hook saw it */
	/* CONN_OPEN only. */
	__u32 client_isn;
	__u32 server_isn;
	struct tcpfo_tcp_opts client_opts;
	struct tcpfo_tcp_opts server_opts;
	/*
	 * OUT_DIGEST only: over chunks c_i of TCPFO_DIGEST_CHUNK bytes (the last one
	 * zero-padded to a multiple of 4), s_i = the Internet checksum sum of c_i taken
	 * modulo 0xffff (the sum of its little-endian 16-bit words, end-around carry;
	 * 0xffff counts as 0); a = sum of the s_i, b = sum of the running a after each
	 * chunk (32-bit, wrapping); digest = b << 32 | a. b makes the order of the
	 * chunks count.
	 */
	__u64 digest;
};

/*
 * Per-connection state the hooks keep (map `conns`). failoverd reads it to build
 * a nudge ACK that looks like the server's last segment.
 */
struct tcpfo_conn_state {
	__u32 client_isn;
	__u32 server_isn;
	struct tcpfo_tcp_opts client_opts;
	struct tcpfo_tcp_opts server_opts;
	/* The server's most recent outgoing segment. */
	__u32 snd_nxt;    /* seq + payload (+1 for SYN/FIN) of the highest segment */
	__u32 last_tsval; /* its timestamp option, 0 if none */
	__u32 last_tsecr;
	__u16 last_window;   /* raw window field */
	__u16 pad;
	__u32 last_sent_ack; /* the ACK field the client last received (after clamping) */
};

#endif /* TCPFO_EVENTS_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The generic netlink interface of tcpfo.ko, shared by the module and failoverd
 * (userd/hooks/kmod_hooks.cpp). Family "tcpfo", version 1, per network namespace.
 *
 * failoverd sends CONFIGURE (the VIP and port) on the socket it reads events from:
 * that socket becomes the namespace's listener, and every event is unicast to it as
 * an EVENT message. Its other commands go on a second socket, so that their replies
 * never mix with events. When the listener's socket closes (failoverd exits or dies), the
 * module forgets the configuration and every connection, as the BPF programs detach
 * when their owner goes: the hooks are inert until the next CONFIGURE.
 *
 * Every command needs CAP_NET_ADMIN in the namespace's user namespace.
 */
#ifndef TCPFO_GENL_H
#define TCPFO_GENL_H

#define TCPFO_GENL_NAME "tcpfo"
#define TCPFO_GENL_VERSION 1

enum tcpfo_genl_cmd {
	TCPFO_CMD_UNSPEC,
	/* VIP_ADDR, VIP_PORT: protect VIP:PORT; the sender becomes the listener. */
	TCPFO_CMD_CONFIGURE,
	/* KEY, SEQ: the stable point of a connection (the egress ACK clamp) -> reply as GET_CONN. */
	TCPFO_CMD_SET_STABLE,
	/* KEY: stop protecting a connection. */
	TCPFO_CMD_FORGET,
	/* KEY -> reply CONN_STATE, SERVER_ACK. */
	TCPFO_CMD_GET_CONN,
	/* -> reply STATS (u64 per enum tcpfo_snoop_stat slot). */
	TCPFO_CMD_GET_STATS,
	/* FLAG: frozen (1) or not (0): every segment from VIP:PORT dropped at egress. */
	TCPFO_CMD_SET_FROZEN,
	/* Module -> listener: EVENT, and PAYLOAD for DATA. */
	TCPFO_CMD_EVENT,
	/*
	 * A backup's takeover (Hooks in userd/hooks/hooks.h says what each does):
	 * ADOPT: KEY, CONN_STATE, SEQ (the stable point): protect a rebuilt connection.
	 * MARK_REBUILT: KEY: the ack ceiling and the lift for a rebuilt connection.
	 * HOLD: KEY: drop and record the client's segments until the socket is rebuilt.
	 * GET_HELD: KEY -> reply KEY, HELD; as a dump (NLM_F_DUMP), every hold record.
	 * RELEASE: KEYS (an array of struct tcpfo_conn_key): end those holds.
	 * SET_TAKEOVER_MODE: FLAG: drop client segments no socket would take.
	 */
	TCPFO_CMD_ADOPT,
	TCPFO_CMD_MARK_REBUILT,
	TCPFO_CMD_HOLD,
	TCPFO_CMD_GET_HELD,
	TCPFO_CMD_RELEASE,
	TCPFO_CMD_SET_TAKEOVER_MODE,
	/*
	 * LEASE_NS: the primary's lease (docs/architecture.md, "Leases and fencing"): from
	 * that CLOCK_MONOTONIC time on, every segment from VIP:PORT is dropped at egress,
	 * whether failoverd still runs or not; 0: no lease enforced. Sent by failoverd's
	 * heartbeat thread on a socket of its own, without waiting for an answer.
	 */
	TCPFO_CMD_SET_LEASE,
	__TCPFO_CMD_MAX,
};
#define TCPFO_CMD_MAX (__TCPFO_CMD_MAX - 1)

enum tcpfo_genl_attr {
	TCPFO_A_UNSPEC,
	TCPFO_A_VIP_ADDR,   /* u32, network order */
	TCPFO_A_VIP_PORT,   /* u16, network order */
	TCPFO_A_KEY,        /* struct tcpfo_conn_key */
	TCPFO_A_SEQ,        /* u32, host order */
	TCPFO_A_CONN_STATE, /* struct tcpfo_conn_state */
	TCPFO_A_SERVER_ACK, /* u32, host order */
	TCPFO_A_STATS,      /* u64[TCPFO_STAT_COUNT] */
	TCPFO_A_FLAG,       /* u8 */
	TCPFO_A_EVENT,      /* struct tcpfo_event */
	TCPFO_A_PAYLOAD,    /* DATA: the client's payload bytes */
	TCPFO_A_HELD,       /* struct tcpfo_held_client */
	TCPFO_A_KEYS,       /* struct tcpfo_conn_key[] */
	TCPFO_A_LEASE_NS,   /* u64, CLOCK_MONOTONIC nanoseconds */
	__TCPFO_A_MAX,
};
#define TCPFO_A_MAX (__TCPFO_A_MAX - 1)

#endif /* TCPFO_GENL_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcpfo.ko's parts, and what they share. The module does on the primary what the BPF
 * programs of bpf/snoop.bpf.c do, through netfilter hooks:
 *
 *   tcpfo_segment.c  parses an IPv4/TCP segment to or from VIP:PORT; rewrites ACK
 *                    fields and SACK blocks with their checksum
 *   tcpfo_table.c    the protected connections and the pending SYNs, bounded
 *   tcpfo_digest.c   the digest of the server's payload (OUT_DIGEST)
 *   tcpfo_netlink.c  the generic netlink family: commands in, events out
 *   tcpfo_hooks.c    the netfilter hooks: snoop (ingress), clamp (egress)
 *   tcpfo_main.c     module and per-namespace set-up and tear-down
 *
 * Everything is per network namespace (struct tcpfo_net); the hooks are registered
 * in every namespace but stay inert until failoverd configures one.
 */
#ifndef TCPFO_KMOD_H
#define TCPFO_KMOD_H

#include <linux/list.h>
#include <linux/percpu.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/version.h>
#include <net/net_namespace.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

#include "tcpfo_events.h"
#include "snoop.h"

#define TCPFO_TH_FIN 0x01
#define TCPFO_TH_SYN 0x02
#define TCPFO_TH_RST 0x04
#define TCPFO_TH_ACK 0x10

#define TCPFO_TCP_OPT_MAX 40
#define TCPFO_SACK_MAX_BLOCKS 4

/* One segment to or from VIP:PORT, oriented client -> VIP in its key. */
struct tcpfo_seg {
	struct tcpfo_conn_key key;
	u32 seq;
	u32 ack; /* 0 unless TCPFO_TH_ACK */
	u32 tsval;
	u32 tsecr;
	u16 window; /* raw, host order */
	u8 flags;   /* TCPFO_TH_* */
	u8 has_ts;
	unsigned int tcp_off;  /* offset of the TCP header from skb->data */
	unsigned int opt_len;  /* option bytes, <= 40 */
	unsigned int payload_off;
	unsigned int payload_len;
	int sack_off;          /* offset of the SACK option in opt_bytes, -1 if none */
	struct tcpfo_tcp_opts opts; /* what a SYN or SYN-ACK announces */
	u8 opt_bytes[TCPFO_TCP_OPT_MAX];
};

enum tcpfo_dir { TCPFO_TO_VIP, TCPFO_FROM_VIP };

/* tcpfo_segment.c */
int tcpfo_parse(struct sk_buff *skb, struct tcpfo_seg *seg, enum tcpfo_dir dir, __be32 vip, __be16 port);
int tcpfo_rewrite_ack(struct sk_buff *skb, struct tcpfo_seg *seg, u32 new_ack);
int tcpfo_rewrite_seq(struct sk_buff *skb, struct tcpfo_seg *seg, u32 new_seq);
int tcpfo_strip_sack_above(struct sk_buff *skb, struct tcpfo_seg *seg, u32 limit);

static inline bool tcpfo_seq_after(u32 a, u32 b)
{
	return (s32)(a - b) > 0;
}

/* A protected connection: bpf/snoop.h's tcpfo_snoop_conn plus its stable point. */
struct tcpfo_conn {
	struct hlist_node node;
	struct tcpfo_conn_key key;
	struct tcpfo_snoop_conn snoop;
	u32 stable_seq;
};

/* A client's SYN, kept until the SYN-ACK leaves. */
struct tcpfo_syn {
	struct hlist_node node;
	struct list_head age; /* oldest first: evicted when the table is full */
	struct tcpfo_conn_key key;
	u32 client_isn;
	struct tcpfo_tcp_opts client_opts;
};

/* A connection a backup is taking over, its socket not rebuilt yet (bpf/snoop.h). */
struct tcpfo_hold {
	struct hlist_node node;
	struct tcpfo_conn_key key;
	struct tcpfo_held_client rec;
};

/* A connection a backup rebuilt with TCP_REPAIR: the ack ceiling and the lift. */
struct tcpfo_rebuilt_conn {
	struct hlist_node node;
	struct tcpfo_conn_key key;
	struct tcpfo_rebuilt rec;
};

#define TCPFO_HASH_BITS 12

/* tcpfo_table.c: both tables under the namespace's lock. */
struct tcpfo_tables {
	spinlock_t lock;
	struct hlist_head conns[1 << TCPFO_HASH_BITS];
	struct hlist_head syns[1 << TCPFO_HASH_BITS];
	struct hlist_head holds[1 << TCPFO_HASH_BITS];
	struct hlist_head rebuilt[1 << TCPFO_HASH_BITS];
	struct list_head syn_age;
	unsigned int n_conns;
	unsigned int n_syns;
	unsigned int n_holds;
	unsigned int n_rebuilt;
};

void tcpfo_tables_init(struct tcpfo_tables *t);
void tcpfo_tables_clear(struct tcpfo_tables *t); /* lock held or no hook running */
struct tcpfo_conn *tcpfo_conn_find(struct tcpfo_tables *t, const struct tcpfo_conn_key *key);
/* NULL when the table is full. */
struct tcpfo_conn *tcpfo_conn_insert(struct tcpfo_tables *t, const struct tcpfo_conn_key *key);
void tcpfo_conn_remove(struct tcpfo_tables *t, struct tcpfo_conn *conn);
struct tcpfo_syn *tcpfo_syn_find(struct tcpfo_tables *t, const struct tcpfo_conn_key *key);
/* Replaces an entry of the same key; evicts the oldest when the table is full. */
void tcpfo_syn_remember(struct tcpfo_tables *t, const struct tcpfo_conn_key *key, u32 isn,
			const struct tcpfo_tcp_opts *opts);
void tcpfo_syn_remove(struct tcpfo_tables *t, struct tcpfo_syn *syn);
/* The takeover's tables, bounded by max_conns each; inserting an existing key returns it. */
struct tcpfo_hold *tcpfo_hold_find(struct tcpfo_tables *t, const struct tcpfo_conn_key *key);
struct tcpfo_hold *tcpfo_hold_insert(struct tcpfo_tables *t, const struct tcpfo_conn_key *key);
void tcpfo_hold_remove(struct tcpfo_tables *t, struct tcpfo_hold *hold);
struct tcpfo_rebuilt_conn *tcpfo_rebuilt_find(struct tcpfo_tables *t, const struct tcpfo_conn_key *key);
struct tcpfo_rebuilt_conn *tcpfo_rebuilt_insert(struct tcpfo_tables *t, const struct tcpfo_conn_key *key);
void tcpfo_rebuilt_remove(struct tcpfo_tables *t, struct tcpfo_rebuilt_conn *rb);
/* Removes the key from every table (failoverd's forget). */
void tcpfo_forget_key(struct tcpfo_tables *t, const struct tcpfo_conn_key *key);
u32 tcpfo_key_bucket(const struct tcpfo_conn_key *key);

extern unsigned int tcpfo_max_conns;
extern unsigned int tcpfo_max_syns;

/* tcpfo_digest.c: the OUT_DIGEST of `len` payload bytes at `off`; false if unreadable. */
bool tcpfo_digest(const struct sk_buff *skb, unsigned int off, unsigned int len, u64 *digest);

/* Per network namespace. */
struct tcpfo_net {
	struct net *net;
	/* Written by commands (process context), read by the hooks: READ_ONCE. */
	__be32 vip_addr;
	__be16 vip_port;
	bool configured;
	bool frozen;
	bool takeover_mode;
	u64 lease_until_ns;  /* 0: no lease enforced */
	u32 listener_portid; /* 0: none */
	struct tcpfo_tables tables;
	u64 __percpu *stats; /* TCPFO_STAT_COUNT per CPU */
};

struct tcpfo_net *tcpfo_pernet(const struct net *net);

static inline void tcpfo_stat_inc(struct tcpfo_net *tn, enum tcpfo_snoop_stat slot)
{
	this_cpu_inc(tn->stats[slot]);
}

/* tcpfo_netlink.c */
int tcpfo_netlink_init(void);
void tcpfo_netlink_exit(void);
/* Sends an event (and for DATA the payload read from skb at `off`) to the listener. */
int tcpfo_emit(struct tcpfo_net *tn, const struct tcpfo_event *ev, const struct sk_buff *skb,
	       unsigned int off);
/* Forgets the configuration and every connection (the listener went away). */
void tcpfo_deconfigure(struct tcpfo_net *tn);

/* tcpfo_hooks.c */
int tcpfo_hooks_register(struct net *net);
void tcpfo_hooks_unregister(struct net *net);

#endif /* TCPFO_KMOD_H */

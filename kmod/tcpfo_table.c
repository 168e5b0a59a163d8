// SPDX-License-Identifier: GPL-2.0
/*
 * The namespace's tables, both bounded (module parameters, fixed at load):
 *   conns  protected connections; a connection that finds it full is not protected
 *          (counted in TCPFO_STAT_TABLE_FULL), as with the BPF `conns` map;
 *   syns   clients' SYNs until their SYN-ACK leaves; full, it evicts its oldest entry
 *          (a SYN flood must not lock new clients out), like the BPF LRU map.
 *   holds, rebuilt  a backup's takeover: connections held until their socket is
 *          rebuilt, and rebuilt ones (ack ceiling, lift); max_conns each.
 * The caller holds tables->lock (a spinlock taken with bottom halves off: the hooks
 * run in softirq context).
 */
#include <linux/hash.h>
#include <linux/jhash.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "tcpfo_kmod.h"

unsigned int tcpfo_max_conns = TCPFO_MAX_CONNS;
module_param_named(max_conns, tcpfo_max_conns, uint, 0444);
MODULE_PARM_DESC(max_conns, "protected connections per network namespace (default 65536)");

unsigned int tcpfo_max_syns = TCPFO_MAX_PENDING_SYNS;
module_param_named(max_syns, tcpfo_max_syns, uint, 0444);
MODULE_PARM_DESC(max_syns, "pending SYNs per network namespace, oldest evicted (default 65536)");

static u32 key_hash(const struct tcpfo_conn_key *key)
{
	return jhash(key, sizeof(*key), 0) & ((1u << TCPFO_HASH_BITS) - 1);
}

u32 tcpfo_key_bucket(const struct tcpfo_conn_key *key)
{
	return key_hash(key);
}

static bool same_key(const struct tcpfo_conn_key *a, const struct tcpfo_conn_key *b)
{
	return a->client_addr == b->client_addr && a->vip_addr == b->vip_addr &&
	       a->client_port == b->client_port && a->vip_port == b->vip_port;
}

void tcpfo_tables_init(struct tcpfo_tables *t)
{
	unsigned int i;

	spin_lock_init(&t->lock);
	for (i = 0; i < ARRAY_SIZE(t->conns); i++) {
		INIT_HLIST_HEAD(&t->conns[i]);
		INIT_HLIST_HEAD(&t->syns[i]);
		INIT_HLIST_HEAD(&t->holds[i]);
		INIT_HLIST_HEAD(&t->rebuilt[i]);
	}
	INIT_LIST_HEAD(&t->syn_age);
	t->n_conns = 0;
	t->n_syns = 0;
	t->n_holds = 0;
	t->n_rebuilt = 0;
}

void tcpfo_tables_clear(struct tcpfo_tables *t)
{
	struct tcpfo_rebuilt_conn *rb;
	struct tcpfo_conn *conn;
	struct tcpfo_hold *hold;
	struct tcpfo_syn *syn, *next;
	struct hlist_node *tmp;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(t->conns); i++) {
		hlist_for_each_entry_safe(conn, tmp, &t->conns[i], node)
			tcpfo_conn_remove(t, conn);
		hlist_for_each_entry_safe(hold, tmp, &t->holds[i], node)
			tcpfo_hold_remove(t, hold);
		hlist_for_each_entry_safe(rb, tmp, &t->rebuilt[i], node)
			tcpfo_rebuilt_remove(t, rb);
	}
	list_for_each_entry_safe(syn, next, &t->syn_age, age)
		tcpfo_syn_remove(t, syn);
}

struct tcpfo_conn *tcpfo_conn_find(struct tcpfo_tables *t, const struct tcpfo_conn_key *key)
{
	struct tcpfo_conn *conn;

	hlist_for_each_entry(conn, &t->conns[key_hash(key)], node)
		if (same_key(&conn->key, key))
			return conn;
	return NULL;
}

struct tcpfo_conn *tcpfo_conn_insert(struct tcpfo_tables *t, const struct tcpfo_conn_key *key)
{
	struct tcpfo_conn *conn = tcpfo_conn_find(t, key);

	if (conn)
		return conn;
	if (t->n_conns >= tcpfo_max_conns)
		return NULL;
	conn = kzalloc(sizeof(*conn), GFP_ATOMIC);
	if (!conn)
		return NULL;
	conn->key = *key;
	hlist_add_head(&conn->node, &t->conns[key_hash(key)]);
	t->n_conns++;
	return conn;
}

void tcpfo_conn_remove(struct tcpfo_tables *t, struct tcpfo_conn *conn)
{
	hlist_del(&conn->node);
	t->n_conns--;
	kfree(conn);
}

struct tcpfo_syn *tcpfo_syn_find(struct tcpfo_tables *t, const struct tcpfo_conn_key *key)
{
	struct tcpfo_syn *syn;

	hlist_for_each_entry(syn, &t->syns[key_hash(key)], node)
		if (same_key(&syn->key, key))
			return syn;
	return NULL;
}

void tcpfo_syn_remember(struct tcpfo_tables *t, const struct tcpfo_conn_key *key, u32 isn,
			const struct tcpfo_tcp_opts *opts)
{
	struct tcpfo_syn *syn = tcpfo_syn_find(t, key);

	if (syn) {
		list_move_tail(&syn->age, &t->syn_age);
	} else {
		if (t->n_syns >= tcpfo_max_syns && !list_empty(&t->syn_age))
			tcpfo_syn_remove(t, list_first_entry(&t->syn_age, struct tcpfo_syn, age));
		if (t->n_syns >= tcpfo_max_syns)
			return; /* max_syns 0: nothing is ever protected */
		syn = kzalloc(sizeof(*syn), GFP_ATOMIC);
		if (!syn)
			return; /* the client retransmits its SYN, or goes unprotected */
		syn->key = *key;
		hlist_add_head(&syn->node, &t->syns[key_hash(key)]);
		list_add_tail(&syn->age, &t->syn_age);
		t->n_syns++;
	}
	syn->client_isn = isn;
	syn->client_opts = *opts;
}

void tcpfo_syn_remove(struct tcpfo_tables *t, struct tcpfo_syn *syn)
{
	hlist_del(&syn->node);
	list_del(&syn->age);
	t->n_syns--;
	kfree(syn);
}

struct tcpfo_hold *tcpfo_hold_find(struct tcpfo_tables *t, const struct tcpfo_conn_key *key)
{
	struct tcpfo_hold *hold;

	hlist_for_each_entry(hold, &t->holds[key_hash(key)], node)
		if (same_key(&hold->key, key))
			return hold;
	return NULL;
}

struct tcpfo_hold *tcpfo_hold_insert(struct tcpfo_tables *t, const struct tcpfo_conn_key *key)
{
	struct tcpfo_hold *hold = tcpfo_hold_find(t, key);

	if (hold)
		return hold;
	if (t->n_holds >= tcpfo_max_conns)
		return NULL;
	hold = kzalloc(sizeof(*hold), GFP_ATOMIC);
	if (!hold)
		return NULL;
	hold->key = *key;
	hlist_add_head(&hold->node, &t->holds[key_hash(key)]);
	t->n_holds++;
	return hold;
}

void tcpfo_hold_remove(struct tcpfo_tables *t, struct tcpfo_hold *hold)
{
	hlist_del(&hold->node);
	t->n_holds--;
	kfree(hold);
}

struct tcpfo_rebuilt_conn *tcpfo_rebuilt_find(struct tcpfo_tables *t, const struct tcpfo_conn_key *key)
{
	struct tcpfo_rebuilt_conn *rb;

	hlist_for_each_entry(rb, &t->rebuilt[key_hash(key)], node)
		if (same_key(&rb->key, key))
			return rb;
	return NULL;
}

struct tcpfo_rebuilt_conn *tcpfo_rebuilt_insert(struct tcpfo_tables *t, const struct tcpfo_conn_key *key)
{
	struct tcpfo_rebuilt_conn *rb = tcpfo_rebuilt_find(t, key);

	if (rb)
		return rb;
	if (t->n_rebuilt >= tcpfo_max_conns)
		return NULL;
	rb = kzalloc(sizeof(*rb), GFP_ATOMIC);
	if (!rb)
		return NULL;
	rb->key = *key;
	hlist_add_head(&rb->node, &t->rebuilt[key_hash(key)]);
	t->n_rebuilt++;
	return rb;
}

void tcpfo_rebuilt_remove(struct tcpfo_tables *t, struct tcpfo_rebuilt_conn *rb)
{
	hlist_del(&rb->node);
	t->n_rebuilt--;
	kfree(rb);
}

void tcpfo_forget_key(struct tcpfo_tables *t, const struct tcpfo_conn_key *key)
{
	struct tcpfo_conn *conn = tcpfo_conn_find(t, key);
	struct tcpfo_hold *hold = tcpfo_hold_find(t, key);
	struct tcpfo_rebuilt_conn *rb = tcpfo_rebuilt_find(t, key);
	struct tcpfo_syn *syn = tcpfo_syn_find(t, key);

	if (conn)
		tcpfo_conn_remove(t, conn);
	if (syn)
		tcpfo_syn_remove(t, syn);
	if (hold)
		tcpfo_hold_remove(t, hold);
	if (rb)
		tcpfo_rebuilt_remove(t, rb);
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Maps of snoop.bpf.c. Bounds are in snoop.h (shared with the loader); every table has
 * one, and a full table is counted, never waited on.
 */
#ifndef TCPFO_MAPS_H
#define TCPFO_MAPS_H

/* Client half of a handshake, kept from the SYN until the SYN-ACK leaves. */
struct tcpfo_pending_syn {
	__u32 client_isn;
	struct tcpfo_tcp_opts client_opts;
};

/* A DATA record as it goes into the ring buffer: the event, then its payload. */
struct tcpfo_data_record {
	struct tcpfo_event ev;
	__u8 payload[TCPFO_MAX_PAYLOAD];
};

/* Protected connections: created by the egress hook when the SYN-ACK leaves. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPFO_MAX_CONNS);
	__type(key, struct tcpfo_conn_key);
	__type(value, struct tcpfo_snoop_conn);
} conns SEC(".maps");

/*
 * Stable point per connection, absolute in the client's sequence space: the egress
 * clamp never lets an ACK above it out. Written by failoverd as backups confirm.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPFO_MAX_CONNS);
	__type(key, struct tcpfo_conn_key);
	__type(value, __u32);
} stable SEC(".maps");

/* Connections a backup rebuilt with TCP_REPAIR: the ingress hook applies the ack ceiling. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPFO_MAX_CONNS);
	__type(key, struct tcpfo_conn_key);
	__type(value, struct tcpfo_rebuilt);
} rebuilt SEC(".maps");

/* Connections a backup is taking over whose socket is not rebuilt yet (see snoop.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPFO_MAX_CONNS);
	__type(key, struct tcpfo_conn_key);
	__type(value, struct tcpfo_held_client);
} held SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TCPFO_MAX_PENDING_SYNS);
	__type(key, struct tcpfo_conn_key);
	__type(value, struct tcpfo_pending_syn);
} pending_syns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TCPFO_RINGBUF_BYTES);
} events SEC(".maps");

/*
 * One 64 KiB DATA record buffer per CPU, indexed by CPU number. Not a PERCPU_ARRAY:
 * per-CPU values are limited to 32 KiB. The loader sets max_entries to the number of
 * possible CPUs. tc programs do not migrate or nest on one CPU, so a slot has one user.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpfo_data_record);
} data_scratch SEC(".maps");

/* The rewritten TCP options of tcpfo_strip_sack_above, off the stack (see there). */
struct tcpfo_opt_buffer {
	__u8 bytes[TCPFO_TCP_OPT_BUF];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpfo_opt_buffer);
} opt_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCPFO_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_inc(enum tcpfo_snoop_stat slot)
{
	__u32 key = slot;
	__u64 *count = bpf_map_lookup_elem(&stats, &key);

	if (count)
		*count += 1;
}

#endif /* TCPFO_MAPS_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Parsing Ethernet/IPv4/TCP frames into a tcpfo_segment. Headers are copied out with
 * bpf_skb_load_bytes rather than read in place: that works whatever part of a GSO/GRO
 * skb is linear, and keeps the verifier's job to bounded stack buffers.
 */
#ifndef TCPFO_PARSING_H
#define TCPFO_PARSING_H

struct tcpfo_segment {
	struct tcpfo_conn_key key; /* oriented client -> VIP whatever the direction */
	__u32 seq;
	__u32 ack;          /* 0 unless TCPFO_TH_ACK */
	__u32 tcp_off;      /* offset of the TCP header in the frame */
	__u32 opt_len;      /* bytes of TCP options, a multiple of 4, <= 40 */
	__u32 payload_off;
	__u32 payload_len;  /* may reach 64 KiB for GSO/GRO super-packets */
	__u32 tsval;
	__u32 tsecr;
	__u16 window;       /* raw window field, host order */
	__u8 flags;         /* TCPFO_TH_* */
	__u8 has_ts;
	__s32 sack_off;     /* offset of the SACK option in opts, -1 if none */
	__u32 opt_cursor;   /* parse_one_tcp_option's position */
	struct tcpfo_tcp_opts opts; /* options a SYN or SYN-ACK announces */
	__u8 opt_bytes[TCPFO_TCP_OPT_BUF];
};

enum tcpfo_direction {
	TCPFO_TO_VIP,   /* ingress: client -> VIP:PORT */
	TCPFO_FROM_VIP, /* egress: VIP:PORT -> client */
};

/*
 * Index into a TCPFO_TCP_OPT_BUF-byte option buffer. The empty asm hides the index's
 * known range from clang, which would otherwise drop the mask after a bounds check the
 * verifier cannot follow through its register copies.
 */
static __always_inline __u32 opt_index(__u32 at)
{
	asm volatile("" : "+r"(at));
	return at & (TCPFO_TCP_OPT_BUF - 1);
}

static __always_inline __u32 opt_be32(const __u8 *opts, __u32 at)
{
	return ((__u32)opts[opt_index(at)] << 24) | ((__u32)opts[opt_index(at + 1)] << 16) |
	       ((__u32)opts[opt_index(at + 2)] << 8) | (__u32)opts[opt_index(at + 3)];
}

/*
 * One bpf_loop step: parses the option at seg->opt_cursor and moves past it. Returns
 * 1 to stop the walk. A bpf_loop callback is verified once, whereas an open-coded
 * loop over 40 option bytes is verified path by path, close to the verifier's limit.
 */
static long parse_one_tcp_option(__u32 step, struct tcpfo_segment *seg)
{
	const __u8 *opts = seg->opt_bytes;
	__u32 at = seg->opt_cursor;

	if (at >= seg->opt_len || at >= TCPFO_TCP_OPT_MAX)
		return 1;
	__u8 kind = opts[opt_index(at)];
	if (kind == TCPOPT_EOL)
		return 1;
	if (kind == TCPOPT_NOP) {
		seg->opt_cursor = at + 1;
		return 0;
	}
	__u8 len = opts[opt_index(at + 1)];
	if (len < 2 || at + len > seg->opt_len)
		return 1; /* malformed: keep what was parsed so far */
	if (kind == TCPOPT_MSS && len == 4) {
		seg->opts.mss = ((__u16)opts[opt_index(at + 2)] << 8) | opts[opt_index(at + 3)];
		seg->opts.present |= TCPFO_OPT_MSS;
	} else if (kind == TCPOPT_WINDOW && len == 3) {
		seg->opts.wscale = opts[opt_index(at + 2)];
		seg->opts.present |= TCPFO_OPT_WSCALE;
	} else if (kind == TCPOPT_SACK_PERM && len == 2) {
		seg->opts.present |= TCPFO_OPT_SACK_PERM;
	} else if (kind == TCPOPT_TIMESTAMP && len == 10) {
		seg->tsval = opt_be32(opts, at + 2);
		seg->tsecr = opt_be32(opts, at + 6);
		seg->has_ts = 1;
		seg->opts.present |= TCPFO_OPT_TIMESTAMPS;
	} else if (kind == TCPOPT_SACK && len >= 10 && ((__u32)len - 2) % 8 == 0) {
		seg->sack_off = at;
	}
	seg->opt_cursor = at + len;
	return 0;
}

/*
 * Fills seg for a TCP/IPv4 segment of the protected service in the given direction.
 * Returns 0, or -1 for anything else (other traffic, fragments, VLAN, IPv6).
 */
static __always_inline int parse_segment(struct __sk_buff *skb, struct tcpfo_segment *seg,
					 enum tcpfo_direction dir, __u32 vip, __u16 vip_port)
{
	struct iphdr ip;
	struct tcphdr th;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return -1;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
		return -1;
	if (ip.version != 4 || ip.ihl < 5 || ip.protocol != IPPROTO_TCP)
		return -1;
	if (ip.frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return -1;
	if (dir == TCPFO_TO_VIP ? ip.daddr != vip : ip.saddr != vip)
		return -1;

	__u32 tcp_off = ETH_HLEN + ip.ihl * 4;
	if (bpf_skb_load_bytes(skb, tcp_off, &th, sizeof(th)))
		return -1;
	if (dir == TCPFO_TO_VIP ? th.dest != vip_port : th.source != vip_port)
		return -1;
	__u32 tcp_len = th.doff * 4;
	if (tcp_len < TCPFO_TCP_HDR_LEN)
		return -1;

	/*
	 * The IP total length, not skb->len: a short frame may carry Ethernet padding.
	 * GSO/GRO skbs above 64 KiB (BIG TCP) have tot_len 0; fall back to skb->len then.
	 */
	__u32 ip_len = bpf_ntohs(ip.tot_len);
	if (ip_len == 0)
		ip_len = skb->len - ETH_HLEN;
	if (ip_len < ip.ihl * 4 + tcp_len)
		return -1;

	__builtin_memset(seg, 0, sizeof(*seg));
	if (dir == TCPFO_TO_VIP) {
		seg->key.client_addr = ip.saddr;
		seg->key.client_port = th.source;
	} else {
		seg->key.client_addr = ip.daddr;
		seg->key.client_port = th.dest;
	}
	seg->key.vip_addr = vip;
	seg->key.vip_port = vip_port;
	seg->seq = bpf_ntohl(th.seq);
	seg->flags = ((__u8 *)&th)[13];
	seg->ack = (seg->flags & TCPFO_TH_ACK) ? bpf_ntohl(th.ack_seq) : 0;
	seg->window = bpf_ntohs(th.window);
	seg->tcp_off = tcp_off;
	seg->opt_len = tcp_len - TCPFO_TCP_HDR_LEN;
	seg->payload_off = tcp_off + tcp_len;
	seg->payload_len = ip_len - ip.ihl * 4 - tcp_len;

	if (seg->opt_len > 0) {
		/* ((n - 1) & 63) + 1 is n for 1..40 and tells the verifier 1 <= n <= 64. */
		__u32 n = ((seg->opt_len - 1) & (TCPFO_TCP_OPT_BUF - 1)) + 1;
		if (bpf_skb_load_bytes(skb, tcp_off + TCPFO_TCP_HDR_LEN, seg->opt_bytes, n))
			return -1;
		seg->sack_off = -1;
		seg->opt_cursor = 0;
		/* Every option takes at least one byte: 40 steps cover any option list. */
		bpf_loop(TCPFO_TCP_OPT_MAX, parse_one_tcp_option, seg, 0);
	} else {
		seg->sack_off = -1;
	}
	return 0;
}

#endif /* TCPFO_PARSING_H */

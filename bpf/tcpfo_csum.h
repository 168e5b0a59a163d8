/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Rewriting TCP header fields with an incremental checksum fix.
 *
 * bpf_l4_csum_replace does what each checksum state needs: with CHECKSUM_PARTIAL
 * (locally generated segments, GSO super-segments) the field holds only the
 * pseudo-header sum and the payload sum is computed later over the bytes we wrote, so
 * it leaves the field alone; otherwise it adjusts the field. The stored bytes and the
 * checksum change cancel out in a CHECKSUM_COMPLETE skb->csum, so no
 * BPF_F_RECOMPUTE_CSUM.
 */
#ifndef TCPFO_CSUM_H
#define TCPFO_CSUM_H

/* Replaces the 32-bit header field at `field_off` (old value `from`, host order). */
static __always_inline int rewrite_tcp_u32(struct __sk_buff *skb, const struct tcpfo_segment *seg,
					   __u32 field_off, __u32 from_host, __u32 to_host)
{
	__be32 from = bpf_htonl(from_host);
	__be32 to = bpf_htonl(to_host);

	if (bpf_skb_store_bytes(skb, seg->tcp_off + field_off, &to, sizeof(to), 0))
		return -1;
	if (bpf_l4_csum_replace(skb, seg->tcp_off + TCPFO_TCP_CSUM_OFF, from, to, sizeof(to)))
		return -1;
	return 0;
}

static __always_inline int rewrite_ack_field(struct __sk_buff *skb, const struct tcpfo_segment *seg,
					     __u32 new_ack)
{
	return rewrite_tcp_u32(skb, seg, TCPFO_TCP_ACK_OFF, seg->ack, new_ack);
}

static __always_inline int rewrite_seq_field(struct __sk_buff *skb, const struct tcpfo_segment *seg,
					     __u32 new_seq)
{
	return rewrite_tcp_u32(skb, seg, TCPFO_TCP_SEQ_OFF, seg->seq, new_seq);
}

static __always_inline void opt_put_be32(__u8 *opts, __u32 at, __u32 v)
{
	opts[opt_index(at)] = v >> 24;
	opts[opt_index(at + 1)] = v >> 16;
	opts[opt_index(at + 2)] = v >> 8;
	opts[opt_index(at + 3)] = v;
}

/*
 * Removes the SACK blocks whose right edge is after `limit`: the kept blocks move to
 * the front of the option, whose length shrinks, and the freed bytes become NOPs (the
 * whole option becomes NOPs when no block is kept). Returns 1 if the segment changed,
 * 0 if not, -1 on failure. Global (not inlined) so the verifier checks it only once.
 */
__attribute__((noinline)) int tcpfo_strip_sack_above(struct __sk_buff *skb,
						     const struct tcpfo_segment *seg, __u32 limit)
{
	if (!skb || !seg || seg->sack_off < 0 || seg->sack_off >= TCPFO_TCP_OPT_MAX)
		return 0;
	/*
	 * In a map value, not on the stack: a program's stack and that of the global
	 * functions it calls must fit 512 bytes together.
	 */
	__u32 zero = 0;
	struct tcpfo_opt_buffer *buf = bpf_map_lookup_elem(&opt_scratch, &zero);
	if (!buf)
		return -1;
	__u8 *rewritten = buf->bytes;
	__u32 at = seg->sack_off;
	__builtin_memcpy(rewritten, seg->opt_bytes, TCPFO_TCP_OPT_BUF);

	__u32 blocks = ((__u32)seg->opt_bytes[opt_index(at + 1)] - 2) / 8;
	__u32 kept = 0;
	for (__u32 b = 0; b < TCPFO_SACK_MAX_BLOCKS; b++) {
		if (b >= blocks)
			break;
		__u32 left = opt_be32(seg->opt_bytes, at + 2 + 8 * b);
		__u32 right = opt_be32(seg->opt_bytes, at + 6 + 8 * b);
		if (seq_after(right, limit))
			continue;
		opt_put_be32(rewritten, at + 2 + 8 * kept, left);
		opt_put_be32(rewritten, at + 6 + 8 * kept, right);
		kept++;
	}
	if (kept == blocks)
		return 0;

	for (__u32 b = 0; b < TCPFO_SACK_MAX_BLOCKS; b++) {
		if (b >= kept && b < blocks) {
			opt_put_be32(rewritten, at + 2 + 8 * b, 0x01010101);
			opt_put_be32(rewritten, at + 6 + 8 * b, 0x01010101);
		}
	}
	if (kept == 0) {
		rewritten[opt_index(at)] = TCPOPT_NOP;
		rewritten[opt_index(at + 1)] = TCPOPT_NOP;
	} else {
		rewritten[opt_index(at + 1)] = 2 + 8 * kept;
	}

	if (seg->opt_len == 0 || seg->opt_len > TCPFO_TCP_OPT_MAX)
		return -1;
	/* opt_len is a multiple of 4 in 4..40, as bpf_csum_diff wants. */
	__u32 n = ((seg->opt_len - 1) & (TCPFO_TCP_OPT_BUF - 1)) + 1;
	__s64 diff = bpf_csum_diff((__be32 *)seg->opt_bytes, n, (__be32 *)rewritten, n, 0);
	if (diff < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, seg->tcp_off + TCPFO_TCP_HDR_LEN, rewritten, n, 0))
		return -1;
	if (bpf_l4_csum_replace(skb, seg->tcp_off + TCPFO_TCP_CSUM_OFF, 0, diff, 0))
		return -1;
	return 1;
}

#endif /* TCPFO_CSUM_H */

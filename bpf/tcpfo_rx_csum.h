/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Does the server's TCP take a client segment's checksum? tcp_v4_rcv drops a segment
 * whose checksum is wrong before anything else looks at it, so the ingress hook must
 * not report it either (docs/architecture.md, "Only what the server's TCP takes"); the
 * kernel module asks nf_ip_checksum the same question.
 *
 * The answer depends on what the kernel already knows, skb->ip_summed, exactly as
 * TCP's own check does (skb_checksum_init, skb_csum_unnecessary):
 *   CHECKSUM_UNNECESSARY  a NIC, virtio's DATA_VALID or GRO has verified it: taken;
 *   CHECKSUM_PARTIAL      a local or offloading sender left it to be filled in (veth
 *                         from another namespace, virtio's NEEDS_CSUM, GRO's merged
 *                         super-packets): the field holds only the pseudo-header's
 *                         sum, TCP trusts the packet: taken;
 *   CHECKSUM_NONE and CHECKSUM_COMPLETE  the field is a full checksum and TCP checks
 *                         it: so do we, from scratch over the pseudo-header, the TCP
 *                         header and the payload.
 *
 * Reading ip_summed: `struct __sk_buff` does not expose it, and
 *   - bpf_csum_level(BPF_CSUM_LEVEL_QUERY) tells only UNNECESSARY from the rest, not
 *     PARTIAL (a valid packet with no full checksum) from NONE;
 *   - the kfunc bpf_cast_to_kern_ctx (a direct, verified read) came with 6.2: the
 *     guests' 6.1 lacks it, so it would take a second path chosen at load time (a
 *     weak extern behind a flag the loader sets), to be kept and tested on both
 *     kernels, to save one helper call;
 *   - bpf_probe_read_kernel of the bitfield, through CO-RE, works on both 6.1 and
 *     6.18: tc programs get it when loaded with CAP_PERFMON (bpf_base_func_proto),
 *     which failoverd already needs for the CO-RE reads of tcpfo_sock_state, and the
 *     context pointer of a tc program is the kernel's sk_buff. One helper call per
 *     segment, a byte copied.
 * So the probe, on every kernel: one mechanism, one program.
 *
 * Include tcpfo_consts.h, tcpfo_parsing.h and tcpfo_payload_sum.h first.
 */
#ifndef TCPFO_RX_CSUM_H
#define TCPFO_RX_CSUM_H

static __always_inline __u8 skb_checksum_state(struct __sk_buff *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx;

	/* A failed read leaves 0, CHECKSUM_NONE: the segment is then checked in full. */
	return (__u8)BPF_CORE_READ_BITFIELD_PROBED(skb, ip_summed);
}

/*
 * The full checksum, as the receiver computes it: the ones' complement sum of the
 * pseudo-header, the TCP header with its checksum field, and the payload (zero-padded
 * to an even length) is 0xffff, i.e. 0 modulo 0xffff (it cannot be +0: the protocol
 * word is never zero). Each part is summed modulo 0xffff and the parts are added, so
 * it does not matter how a kernel's bpf_csum_diff folds its result.
 * Returns 1 for a valid checksum, 0 for a wrong one, -1 if the bytes cannot be read.
 */
static __always_inline int tcp_checksum_valid(struct __sk_buff *skb, const struct tcpfo_segment *seg)
{
	__u32 tcp_len = seg->payload_off - seg->tcp_off + seg->payload_len;
	/* The pseudo-header (source, destination, zero, protocol, TCP length), then the
	 * TCP header without its options: 8 words, one bpf_csum_diff. */
	__be32 words[8];

	if (tcp_len > 0xffff)
		return -1; /* only a GSO packet is that long, and GSO implies CHECKSUM_PARTIAL */
	words[0] = seg->key.client_addr;
	words[1] = seg->key.vip_addr;
	words[2] = bpf_htonl((IPPROTO_TCP << 16) | tcp_len);
	if (bpf_skb_load_bytes(skb, seg->tcp_off, &words[3], TCPFO_TCP_HDR_LEN))
		return -1;
	__s64 sum = bpf_csum_diff(NULL, 0, words, sizeof(words), 0);
	if (sum < 0)
		return -1;
	__u32 total = ones_sum_mod_ffff(sum);

	if (seg->opt_len > 0) {
		/* Already copied by parse_segment; a multiple of 4 in 4..40. */
		__u32 n = ((seg->opt_len - 1) & (TCPFO_TCP_OPT_BUF - 1)) + 1;
		sum = bpf_csum_diff(NULL, 0, (__be32 *)seg->opt_bytes, n, 0);
		if (sum < 0)
			return -1;
		total += ones_sum_mod_ffff(sum);
	}
	if (seg->payload_len > 0) {
		struct payload_sums sums;

		if (sum_payload(skb, seg->payload_off, seg->payload_len, &sums))
			return -1;
		total += sums.a;
	}
	return total % 0xffff == 0;
}

/*
 * 1 if the server's TCP takes the segment's checksum, 0 if it drops the segment for
 * it. A segment whose bytes cannot be read counts as taken: the hooks then go on as
 * they did before this check (and cannot report bytes they cannot read anyway).
 */
static __always_inline int tcp_takes_checksum(struct __sk_buff *skb, const struct tcpfo_segment *seg)
{
	__u8 state = skb_checksum_state(skb);

	if (state == CHECKSUM_UNNECESSARY || state == CHECKSUM_PARTIAL)
		return 1;
	return tcp_checksum_valid(skb, seg) != 0;
}

#endif /* TCPFO_RX_CSUM_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Summing a segment's payload with the Internet checksum, a chunk at a time: the
 * egress hook's OUT_DIGEST (the chunk sums and their running total) and the ingress
 * hook's check of a client segment's TCP checksum (their total) share it.
 *
 * The payload is copied into this CPU's record buffer first (it may lie in a GSO
 * packet's fragments) and summed there a chunk per bpf_loop step: bpf_csum_diff takes
 * at most 512 bytes, a multiple of 4, per call. Include tcpfo_maps.h first.
 */
#ifndef TCPFO_PAYLOAD_SUM_H
#define TCPFO_PAYLOAD_SUM_H

/*
 * Events are built in this CPU's record buffer rather than on the stack: the stack
 * of a program and the global functions it calls must fit 512 bytes together.
 */
static __always_inline struct tcpfo_data_record *record_buffer(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&data_scratch, &cpu);
}

static __always_inline __u32 ones_sum_mod_ffff(__s64 csum)
{
	/* Whether the helper returns a 32-bit partial sum or a folded one (it changed
	 * across kernels), folding gives the sum modulo 0xffff, with 0xffff for 0. */
	__u32 x = (__u32)csum;

	x = (x & 0xffff) + (x >> 16);
	x = (x & 0xffff) + (x >> 16);
	return x == 0xffff ? 0 : x;
}

/*
 * a: the sum of the chunks' sums (each modulo 0xffff), so a % 0xffff is the whole
 * payload's sum modulo 0xffff; b: the sum of the running a after each chunk (the
 * digest's order term, tcpfo_events.h). len is 0 after a failure.
 */
struct payload_sums {
	__u32 len;
	__u32 a;
	__u32 b;
};

static long sum_one_chunk(__u32 index, struct payload_sums *sums)
{
	struct tcpfo_data_record *rec = record_buffer();
	__u64 at = (__u64)(index & (TCPFO_MAX_PAYLOAD / TCPFO_DIGEST_CHUNK - 1)) * TCPFO_DIGEST_CHUNK;

	if (!rec || at >= sums->len)
		return 1;
	/* 64-bit and unsigned all through: the verifier must see 4 <= size <= 512. */
	__u64 size = sums->len - at;
	if (size > TCPFO_DIGEST_CHUNK)
		size = TCPFO_DIGEST_CHUNK;
	size = (size + 3) & ~3ull; /* the zero padding was written before the copy */
	if (size < 4 || size > TCPFO_DIGEST_CHUNK)
		return 1;
	__s64 sum = bpf_csum_diff(NULL, 0, (__be32 *)(rec->payload + at), (__u32)size, 0);
	if (sum < 0) {
		sums->len = 0;
		return 1;
	}
	sums->a += ones_sum_mod_ffff(sum);
	sums->b += sums->a;
	return 0;
}

/*
 * Copies `len` (1..TCPFO_MAX_PAYLOAD) payload bytes from `off` into this CPU's record
 * buffer, zero-padded to a multiple of 4 (the padding adds nothing to a sum), and
 * sums them. Returns 0, or -1 if the bytes could not be read or summed.
 */
static __always_inline int sum_payload(struct __sk_buff *skb, __u32 off, __u32 len, struct payload_sums *sums)
{
	struct tcpfo_data_record *rec = record_buffer();

	if (!rec || len == 0 || len > TCPFO_MAX_PAYLOAD)
		return -1;
	len = ((len - 1) & (TCPFO_MAX_PAYLOAD - 1)) + 1; /* identity for 1..65536; tells the verifier */
	if (len & 3) {
		/* Zero the last partial word first: the copy overwrites only its head. */
		__u32 word = len & (TCPFO_MAX_PAYLOAD - 4);
		*(__u32 *)(rec->payload + word) = 0;
	}
	if (bpf_skb_load_bytes(skb, off, rec->payload, len))
		return -1;
	sums->len = len;
	sums->a = 0;
	sums->b = 0;
	bpf_loop((len + TCPFO_DIGEST_CHUNK - 1) / TCPFO_DIGEST_CHUNK, sum_one_chunk, sums, 0);
	return sums->len == len ? 0 : -1;
}

#endif /* TCPFO_PAYLOAD_SUM_H */

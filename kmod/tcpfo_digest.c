// SPDX-License-Identifier: GPL-2.0
/*
 * The digest of the server's payload that OUT_DIGEST carries (bpf/tcpfo_events.h):
 * over chunks of TCPFO_DIGEST_CHUNK bytes, s_i = the Internet checksum sum of the
 * chunk modulo 0xffff, a = sum of the s_i, b = sum of the running a; b << 32 | a.
 * The backups compute the same over their replica's output (replay/output_digest.cpp).
 * skb_checksum sums a byte range of linear data and fragments alike, as one buffer,
 * without a copy; a last odd byte counts as the low byte of a word, as the zero
 * padding of the definition makes it.
 */
#include <linux/skbuff.h>

#include "tcpfo_kmod.h"

static u32 sum_mod_ffff(__wsum csum)
{
	u32 x = (__force u32)csum;

	x = (x & 0xffff) + (x >> 16);
	x = (x & 0xffff) + (x >> 16);
	return x == 0xffff ? 0 : x;
}

bool tcpfo_digest(const struct sk_buff *skb, unsigned int off, unsigned int len, u64 *digest)
{
	unsigned int done, n;
	u32 a = 0, b = 0;

	if (len == 0 || off > skb->len || len > skb->len - off)
		return false;
	for (done = 0; done < len; done += n) {
		n = min_t(unsigned int, len - done, TCPFO_DIGEST_CHUNK);
		a += sum_mod_ffff(skb_checksum(skb, off + done, n, 0));
		b += a;
	}
	*digest = (u64)b << 32 | a;
	return true;
}

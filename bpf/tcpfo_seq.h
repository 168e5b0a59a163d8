/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* TCP sequence arithmetic: comparisons that stay right across the 2^32 wrap. */
#ifndef TCPFO_SEQ_H
#define TCPFO_SEQ_H

/* a comes after b when the signed distance from b to a is positive (RFC 1982 style). */
static __always_inline int seq_after(__u32 a, __u32 b)
{
	return (__s32)(a - b) > 0;
}

static __always_inline int seq_before(__u32 a, __u32 b)
{
	return seq_after(b, a);
}

#endif /* TCPFO_SEQ_H */

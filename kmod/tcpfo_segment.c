// SPDX-License-Identifier: GPL-2.0
/*
 * Parsing an IPv4/TCP segment to or from VIP:PORT, and rewriting its ACK field and
 * SACK blocks. Netfilter's IPv4 hooks see skb->data at the IP header. Headers are
 * copied out with skb_header_pointer, which works whatever part of a GSO/GRO skb is
 * linear; a rewrite first makes the headers writable. A segment too short for what
 * its headers claim is not ours to judge: the parse fails and the hook lets it pass.
 */
#include <linux/ip.h>
#include <linux/tcp.h>
#include <net/checksum.h>
#include <net/ip.h>
#include <net/tcp.h>

#include "tcpfo_kmod.h"

static void parse_options(struct tcpfo_seg *seg)
{
	const u8 *o = seg->opt_bytes;
	unsigned int at = 0, n = seg->opt_len;

	seg->sack_off = -1;
	while (at < n) {
		u8 kind = o[at], len;

		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			at++;
			continue;
		}
		if (at + 1 >= n)
			break;
		len = o[at + 1];
		if (len < 2 || at + len > n)
			break; /* malformed: stop, keep what was read */
		switch (kind) {
		case TCPOPT_MSS:
			if (len == TCPOLEN_MSS) {
				seg->opts.mss = (o[at + 2] << 8) | o[at + 3];
				seg->opts.present |= TCPFO_OPT_MSS;
			}
			break;
		case TCPOPT_WINDOW:
			if (len == TCPOLEN_WINDOW) {
				seg->opts.wscale = o[at + 2];
				seg->opts.present |= TCPFO_OPT_WSCALE;
			}
			break;
		case TCPOPT_SACK_PERM:
			if (len == TCPOLEN_SACK_PERM)
				seg->opts.present |= TCPFO_OPT_SACK_PERM;
			break;
		case TCPOPT_TIMESTAMP:
			if (len == TCPOLEN_TIMESTAMP) {
				seg->tsval = get_unaligned_be32(o + at + 2);
				seg->tsecr = get_unaligned_be32(o + at + 6);
				seg->has_ts = 1;
				seg->opts.present |= TCPFO_OPT_TIMESTAMPS;
			}
			break;
		case TCPOPT_SACK:
			if (len >= 2 + 8 && (len - 2) % 8 == 0)
				seg->sack_off = at;
			break;
		}
		at += len;
	}
}

int tcpfo_parse(struct sk_buff *skb, struct tcpfo_seg *seg, enum tcpfo_dir dir, __be32 vip, __be16 port)
{
	struct iphdr _iph, *iph;
	struct tcphdr _th, *th;
	unsigned int ihl, tcp_len, ip_len;

	iph = skb_header_pointer(skb, 0, sizeof(_iph), &_iph);
	if (!iph || iph->version != 4 || iph->ihl < 5 || iph->protocol != IPPROTO_TCP)
		return -EINVAL;
	if (iph->frag_off & htons(IP_MF | IP_OFFSET))
		return -EINVAL;
	if (dir == TCPFO_TO_VIP ? iph->daddr != vip : iph->saddr != vip)
		return -EINVAL;
	ihl = iph->ihl * 4;
	th = skb_header_pointer(skb, ihl, sizeof(_th), &_th);
	if (!th || (dir == TCPFO_TO_VIP ? th->dest != port : th->source != port))
		return -EINVAL;
	tcp_len = th->doff * 4;
	if (tcp_len < sizeof(struct tcphdr))
		return -EINVAL;
	/* The IP total length, not skb->len (padding); 0 for a BIG TCP super-packet. */
	ip_len = ntohs(iph->tot_len);
	if (ip_len == 0 || ip_len > skb->len)
		ip_len = skb->len;
	if (ip_len < ihl + tcp_len)
		return -EINVAL;

	memset(seg, 0, sizeof(*seg));
	if (dir == TCPFO_TO_VIP) {
		seg->key.client_addr = iph->saddr;
		seg->key.client_port = th->source;
	} else {
		seg->key.client_addr = iph->daddr;
		seg->key.client_port = th->dest;
	}
	seg->key.vip_addr = vip;
	seg->key.vip_port = port;
	seg->seq = ntohl(th->seq);
	seg->flags = ((const u8 *)th)[13];
	seg->ack = (seg->flags & TCPFO_TH_ACK) ? ntohl(th->ack_seq) : 0;
	seg->window = ntohs(th->window);
	seg->tcp_off = ihl;
	seg->opt_len = tcp_len - sizeof(struct tcphdr);
	seg->payload_off = ihl + tcp_len;
	seg->payload_len = ip_len - ihl - tcp_len;
	seg->sack_off = -1;
	if (seg->opt_len > 0) {
		if (skb_copy_bits(skb, ihl + sizeof(struct tcphdr), seg->opt_bytes, seg->opt_len))
			return -EINVAL;
		parse_options(seg);
	}
	return 0;
}

/* The TCP header, writable and linear, or NULL. */
static struct tcphdr *writable_tcp_header(struct sk_buff *skb, const struct tcpfo_seg *seg)
{
	if (skb_ensure_writable(skb, seg->tcp_off + sizeof(struct tcphdr) + seg->opt_len))
		return NULL;
	return (struct tcphdr *)(skb->data + seg->tcp_off);
}

/*
 * inet_proto_csum_replace4 does what each checksum state needs: with CHECKSUM_PARTIAL
 * (locally generated segments, GSO) the field holds only the pseudo-header sum and
 * the rest is summed later over the bytes written here, so it leaves it alone;
 * otherwise it adjusts it.
 */
static int rewrite_u32(struct sk_buff *skb, struct tcpfo_seg *seg, __be32 *(*field)(struct tcphdr *), u32 value)
{
	struct tcphdr *th = writable_tcp_header(skb, seg);
	__be32 from, to = htonl(value);

	if (!th)
		return -ENOMEM;
	from = *field(th);
	*field(th) = to;
	inet_proto_csum_replace4(&th->check, skb, from, to, false);
	return 0;
}

static __be32 *ack_field(struct tcphdr *th)
{
	return &th->ack_seq;
}

static __be32 *seq_field(struct tcphdr *th)
{
	return &th->seq;
}

int tcpfo_rewrite_ack(struct sk_buff *skb, struct tcpfo_seg *seg, u32 new_ack)
{
	int err = rewrite_u32(skb, seg, ack_field, new_ack);

	if (!err)
		seg->ack = new_ack;
	return err;
}

int tcpfo_rewrite_seq(struct sk_buff *skb, struct tcpfo_seg *seg, u32 new_seq)
{
	int err = rewrite_u32(skb, seg, seq_field, new_seq);

	if (!err)
		seg->seq = new_seq;
	return err;
}

/*
 * Removes the SACK blocks whose right edge is after `limit`: the kept blocks move to
 * the front of the option, whose length shrinks, and the freed bytes become NOPs (the
 * whole option becomes NOPs when no block is kept). Returns 1 if the segment changed,
 * 0 if not, a negative error if it could not be written.
 */
int tcpfo_strip_sack_above(struct sk_buff *skb, struct tcpfo_seg *seg, u32 limit)
{
	u8 rewritten[TCPFO_TCP_OPT_MAX];
	unsigned int at, blocks, kept = 0, b, w;
	struct tcphdr *th;
	u8 *opts;

	if (seg->sack_off < 0)
		return 0;
	at = seg->sack_off;
	blocks = (seg->opt_bytes[at + 1] - 2) / 8;
	if (blocks > TCPFO_SACK_MAX_BLOCKS)
		blocks = TCPFO_SACK_MAX_BLOCKS;
	memcpy(rewritten, seg->opt_bytes, seg->opt_len);
	for (b = 0; b < blocks; b++) {
		u32 left = get_unaligned_be32(seg->opt_bytes + at + 2 + 8 * b);
		u32 right = get_unaligned_be32(seg->opt_bytes + at + 6 + 8 * b);

		if (tcpfo_seq_after(right, limit))
			continue;
		put_unaligned_be32(left, rewritten + at + 2 + 8 * kept);
		put_unaligned_be32(right, rewritten + at + 6 + 8 * kept);
		kept++;
	}
	if (kept == blocks)
		return 0;
	memset(rewritten + at + 2 + 8 * kept, TCPOPT_NOP, 8 * (blocks - kept));
	if (kept == 0) {
		rewritten[at] = TCPOPT_NOP;
		rewritten[at + 1] = TCPOPT_NOP;
	} else {
		rewritten[at + 1] = 2 + 8 * kept;
	}

	th = writable_tcp_header(skb, seg);
	if (!th)
		return -ENOMEM;
	opts = (u8 *)(th + 1);
	/* Options start 20 bytes into the header: 32-bit words of the checksum. */
	for (w = 0; w + 4 <= seg->opt_len; w += 4) {
		__be32 from, to;

		if (!memcmp(opts + w, rewritten + w, 4))
			continue;
		memcpy(&from, opts + w, 4);
		memcpy(&to, rewritten + w, 4);
		memcpy(opts + w, rewritten + w, 4);
		inet_proto_csum_replace4(&th->check, skb, from, to, false);
	}
	memcpy(seg->opt_bytes, rewritten, seg->opt_len);
	seg->sack_off = kept ? seg->sack_off : -1;
	return 1;
}

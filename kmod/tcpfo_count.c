// SPDX-License-Identifier: GPL-2.0
/*
 * tcpfo_count: the project's first kernel module. Netfilter hooks on IPv4
 * PRE_ROUTING (segments entering this host) and POST_ROUTING (segments leaving it)
 * count the TCP segments and payload bytes of one port, given as the module
 * parameter `port`, per direction. /proc/net/tcpfo_count shows the counts.
 *
 * It is the skeleton the snoop and ACK clamp of DESIGN.md will grow from: the same
 * hook points, the same view of GRO/GSO super-packets. Only the initial network
 * namespace is hooked: the test guests run everything there.
 */
#include <linux/atomic.h>
#include <linux/ip.h>
#include <linux/module.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <net/ip.h>
#include <net/net_namespace.h>

static ushort port;
module_param(port, ushort, 0444);
MODULE_PARM_DESC(port, "TCP port whose segments are counted (source or destination), 1-65535");

struct tcpfo_direction_count {
	atomic64_t segments;
	atomic64_t payload_bytes;
};

static struct tcpfo_direction_count count_in, count_out;

/*
 * A GRO/GSO super-packet stands for several wire segments: count those, so the
 * number compares with what crossed the wire. gso_segs can't be trusted here: a
 * packet handed over whole by virtio-net (the peer's TSO packet) arrives with
 * gso_segs 0, so the count comes from the payload and gso_size.
 */
static void count_segment(struct tcpfo_direction_count *count, const struct sk_buff *skb)
{
	struct iphdr _iph, *iph;
	struct tcphdr _th, *th;
	unsigned int ihl, hdrs, payload, segs;

	iph = skb_header_pointer(skb, skb_network_offset(skb), sizeof(_iph), &_iph);
	if (!iph || iph->protocol != IPPROTO_TCP || iph->ihl < 5)
		return;
	if (ntohs(iph->frag_off) & IP_OFFSET)
		return;
	ihl = iph->ihl * 4;
	th = skb_header_pointer(skb, skb_network_offset(skb) + ihl, sizeof(_th), &_th);
	if (!th || (ntohs(th->source) != port && ntohs(th->dest) != port))
		return;
	hdrs = skb_network_offset(skb) + ihl + th->doff * 4;
	/* skb->len, not tot_len: a super-packet's payload is the whole skb's. */
	payload = skb->len > hdrs ? skb->len - hdrs : 0;
	segs = 1;
	if (skb_is_gso(skb) && skb_shinfo(skb)->gso_size && payload)
		segs = DIV_ROUND_UP(payload, skb_shinfo(skb)->gso_size);
	atomic64_add(segs, &count->segments);
	atomic64_add(payload, &count->payload_bytes);
}

static unsigned int hook_in(void *priv, struct sk_buff *skb, const struct nf_hook_state *state)
{
	count_segment(&count_in, skb);
	return NF_ACCEPT;
}

static unsigned int hook_out(void *priv, struct sk_buff *skb, const struct nf_hook_state *state)
{
	count_segment(&count_out, skb);
	return NF_ACCEPT;
}

static const struct nf_hook_ops tcpfo_count_hooks[] = {
	{
		.hook = hook_in,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP_PRI_FIRST,
	},
	{
		.hook = hook_out,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_POST_ROUTING,
		.priority = NF_IP_PRI_LAST,
	},
};

static int tcpfo_count_show(struct seq_file *m, void *v)
{
	seq_printf(m, "port %u\n", port);
	seq_printf(m, "in_segments %lld\n", atomic64_read(&count_in.segments));
	seq_printf(m, "in_payload_bytes %lld\n", atomic64_read(&count_in.payload_bytes));
	seq_printf(m, "out_segments %lld\n", atomic64_read(&count_out.segments));
	seq_printf(m, "out_payload_bytes %lld\n", atomic64_read(&count_out.payload_bytes));
	return 0;
}

static int __init tcpfo_count_init(void)
{
	int err;

	if (port == 0) {
		pr_err("tcpfo_count: port=0 is not a TCP port (load with port=1-65535)\n");
		return -EINVAL;
	}
	if (!proc_create_single("tcpfo_count", 0444, init_net.proc_net, tcpfo_count_show))
		return -ENOMEM;
	err = nf_register_net_hooks(&init_net, tcpfo_count_hooks, ARRAY_SIZE(tcpfo_count_hooks));
	if (err) {
		pr_err("tcpfo_count: can't register netfilter hooks: %d\n", err);
		remove_proc_entry("tcpfo_count", init_net.proc_net);
		return err;
	}
	pr_info("tcpfo_count: counting TCP port %u\n", port);
	return 0;
}

static void __exit tcpfo_count_exit(void)
{
	/* Hooks first: after this returns no hook runs any more (synchronize_net). */
	nf_unregister_net_hooks(&init_net, tcpfo_count_hooks, ARRAY_SIZE(tcpfo_count_hooks));
	remove_proc_entry("tcpfo_count", init_net.proc_net);
	pr_info("tcpfo_count: unloaded (in %lld segments %lld bytes, out %lld segments %lld bytes)\n",
		atomic64_read(&count_in.segments), atomic64_read(&count_in.payload_bytes),
		atomic64_read(&count_out.segments), atomic64_read(&count_out.payload_bytes));
}

module_init(tcpfo_count_init);
module_exit(tcpfo_count_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tcpfo: count the TCP segments of one port per direction");

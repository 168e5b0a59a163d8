// SPDX-License-Identifier: GPL-2.0
/*
 * A lossy link for tests/netns/client_loss.sh: attached by `tc` to the ingress of the
 * client's port on the test switch, it drops every 200th TCP segment to or from port
 * 7000 that carries payload (retransmissions included), the client's loss on the way
 * to the server. Other ports (the replication stream's) pass.
 * A fixed pattern, not a random one: every run loses the same share, and what the
 * client's TCP does about each loss is what the scenario checks.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define LOSSY_LINK_EVERY 200
#define LOSSY_LINK_PORT 7000
#define ETH_P_IP 0x0800
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

__u64 data_segments = 0;
__u64 dropped = 0;

SEC("tc")
int lossy_link(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_TCP)
		return TC_ACT_OK;
	struct tcphdr *tcp = (void *)ip + ip->ihl * 4;
	if ((void *)(tcp + 1) > data_end)
		return TC_ACT_OK;
	if (tcp->source != bpf_htons(LOSSY_LINK_PORT) && tcp->dest != bpf_htons(LOSSY_LINK_PORT))
		return TC_ACT_OK;
	__u32 headers = ip->ihl * 4 + tcp->doff * 4;
	if (bpf_ntohs(ip->tot_len) <= headers)
		return TC_ACT_OK; /* no payload: ACKs, SYNs, FINs pass */
	if (__sync_fetch_and_add(&data_segments, 1) % LOSSY_LINK_EVERY != LOSSY_LINK_EVERY - 1)
		return TC_ACT_OK;
	__sync_fetch_and_add(&dropped, 1);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";

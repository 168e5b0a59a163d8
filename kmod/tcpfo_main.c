// SPDX-License-Identifier: GPL-2.0
/*
 * tcpfo.ko: the kernel-module backend of tcpfo's hooks (failoverd --hooks kmod). See
 * tcpfo_kmod.h for its parts and docs/architecture.md, "The kernel module", for what
 * it does and does not do yet.
 *
 * Per network namespace: the tables, the counters and the netfilter hooks, inert
 * until failoverd configures them. Unloading with live connections is clean: the
 * hooks go first (netfilter waits for running hooks to finish), then the tables.
 * The module can't be unloaded while failoverd holds it: its netlink socket does
 * not pin the module, but the hooks then stop, exactly as when failoverd exits.
 */
#include <linux/module.h>
#include <net/netns/generic.h>

#include "tcpfo_kmod.h"

static unsigned int tcpfo_net_id __read_mostly;

struct tcpfo_net *tcpfo_pernet(const struct net *net)
{
	return net_generic(net, tcpfo_net_id);
}

static int __net_init tcpfo_net_init(struct net *net)
{
	struct tcpfo_net *tn = tcpfo_pernet(net);
	int err;

	tn->net = net;
	tcpfo_tables_init(&tn->tables);
	tn->stats = __alloc_percpu(sizeof(u64) * TCPFO_STAT_COUNT, sizeof(u64));
	if (!tn->stats)
		return -ENOMEM;
	err = tcpfo_hooks_register(net);
	if (err) {
		free_percpu(tn->stats);
		tn->stats = NULL;
	}
	return err;
}

static void __net_exit tcpfo_net_exit(struct net *net)
{
	struct tcpfo_net *tn = tcpfo_pernet(net);

	tcpfo_hooks_unregister(net);
	tcpfo_deconfigure(tn);
	free_percpu(tn->stats);
	tn->stats = NULL;
}

static struct pernet_operations tcpfo_net_ops = {
	.init = tcpfo_net_init,
	.exit = tcpfo_net_exit,
	.id = &tcpfo_net_id,
	.size = sizeof(struct tcpfo_net),
};

static int __init tcpfo_init(void)
{
	int err = register_pernet_subsys(&tcpfo_net_ops);

	if (err)
		return err;
	err = tcpfo_netlink_init();
	if (err)
		unregister_pernet_subsys(&tcpfo_net_ops);
	else
		pr_info("tcpfo: loaded (max_conns %u, max_syns %u per network namespace)\n", tcpfo_max_conns,
			tcpfo_max_syns);
	return err;
}

static void __exit tcpfo_exit(void)
{
	tcpfo_netlink_exit();
	unregister_pernet_subsys(&tcpfo_net_ops);
	pr_info("tcpfo: unloaded\n");
}

module_init(tcpfo_init);
module_exit(tcpfo_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tcpfo: snoop and ACK clamp of protected TCP connections (failoverd --hooks kmod)");

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Constants the BPF side needs that vmlinux.h (types only, no macros) lacks. */
#ifndef TCPFO_CONSTS_H
#define TCPFO_CONSTS_H

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define IPPROTO_TCP 6
#define AF_INET 2
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

/* Byte 13 of the TCP header. */
#define TCPFO_TH_FIN 0x01
#define TCPFO_TH_SYN 0x02
#define TCPFO_TH_RST 0x04
#define TCPFO_TH_PSH 0x08
#define TCPFO_TH_ACK 0x10

/* skb->ip_summed (include/linux/skbuff.h): what the kernel knows of a checksum. */
#define CHECKSUM_NONE 0
#define CHECKSUM_UNNECESSARY 1
#define CHECKSUM_COMPLETE 2
#define CHECKSUM_PARTIAL 3

#define TCPFO_TCP_HDR_LEN 20
#define TCPFO_TCP_SEQ_OFF 4    /* offset of the sequence field in the TCP header */
#define TCPFO_TCP_ACK_OFF 8    /* offset of the ACK field in the TCP header */
#define TCPFO_TCP_CSUM_OFF 16  /* offset of the checksum in the TCP header */
/* Option space is at most 40 bytes; the buffer is 64 so indexes can be masked with 63. */
#define TCPFO_TCP_OPT_MAX 40
#define TCPFO_TCP_OPT_BUF 64

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WINDOW 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK 5
#define TCPOPT_TIMESTAMP 8
#define TCPFO_SACK_MAX_BLOCKS 4

#endif /* TCPFO_CONSTS_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tcp_loss.bpf.c - random loss of TCP segments for the benchmark's
 * head-of-line run, at TC egress of the router namespace.
 *
 * The kernel has no netem (docs/facts.md). FlatRPC's loss comes from the
 * selftests' impair.bpf.c at the router's ingress, but that program only
 * knows FlatRPC frames; gRPC's segments (HTTP/2 over TCP) need their own
 * drop, on the same link and at the same rate. Segments of every kind (data,
 * pure ACKs, handshake) are equally likely to go, as on a lossy link.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct loss_cfg {
	__u32	threshold;	/* drop when a random u32 is below it; 0: never */
	__u16	port;		/* the stack's server port, either direction */
	__u16	pad;
};

/* [0] segments of the port seen, [1] of those dropped */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} loss_count SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct loss_cfg);
} loss_cfg SEC(".maps");

static __always_inline void bump(__u32 idx)
{
	__u64 *n = bpf_map_lookup_elem(&loss_count, &idx);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("tc")
int tcp_loss(struct __sk_buff *skb)
{
	struct loss_cfg *cfg;
	struct tcphdr th;
	struct iphdr ip;
	__u32 zero = 0;

	if (skb->protocol != bpf_htons(ETH_P_IP) ||
	    bpf_skb_load_bytes(skb, sizeof(struct ethhdr), &ip, sizeof(ip)) ||
	    ip.protocol != IPPROTO_TCP || ip.ihl < 5 ||
	    bpf_skb_load_bytes(skb, sizeof(struct ethhdr) + ip.ihl * 4, &th, sizeof(th)))
		return TC_ACT_OK;
	cfg = bpf_map_lookup_elem(&loss_cfg, &zero);
	if (!cfg || (th.source != bpf_htons(cfg->port) && th.dest != bpf_htons(cfg->port)))
		return TC_ACT_OK;
	bump(0);
	if (bpf_get_prandom_u32() >= cfg->threshold)
		return TC_ACT_OK;
	bump(1);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

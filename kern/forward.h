/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * forward.h - what happens to a request whose ANF chain ended in the spec's
 * forward(rpc, ip) (FLATRPC_ANF_FORWARD): it leaves this host for `ip`
 * instead of reaching the local AF_XDP socket.
 *
 * The destination address is rewritten in place, with the IPv4 header
 * checksum updated for the two changed words (RFC 1624) rather than summed
 * again. The UDP checksum covers that address too, through the pseudo
 * header; it is set to 0, "no checksum" over IPv4, as any other rewrite
 * of a FlatRPC frame does. The MACs come from the kernel's FIB and
 * neighbour tables (bpf_fib_lookup): on success the frame goes out at once,
 * with XDP_TX on the interface it came in on or bpf_redirect to another.
 * Without a resolved neighbour (or with a frame too big for the way out) the
 * rewritten frame goes up the stack (XDP_PASS), which resolves the
 * neighbour (or answers ICMP) and forwards it. When the kernel could never
 * forward it - no route, a blackhole, unreachable or prohibit route, the
 * backend's address is this host's own, or forwarding is off on the
 * interface (bpf_fib_lookup answers only for one that forwards) - the
 * caller drops it as forward_failed, so the operator sees a wrong backend
 * list in FlatRPC's own counters rather than only in the stack's.
 */
#ifndef FLATRPC_KERN_FORWARD_H
#define FLATRPC_KERN_FORWARD_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include "flatrpc_csum.h"

#ifndef AF_INET
#define AF_INET 2
#endif

/* fr_forward()'s answer when the frame cannot be forwarded at all */
#define FR_FORWARD_FAILED	(-1)

static __always_inline int fr_forward(struct xdp_md *ctx, struct ethhdr *eth,
				      struct iphdr *ip, struct udphdr *udp, __u32 to)
{
	struct bpf_fib_lookup fib = {};
	__be32 daddr = bpf_htonl(to);
	long rc;

	ip->check = fr_csum_replace4(ip->check, ip->daddr, daddr);
	ip->daddr = daddr;
	udp->check = 0;

	fib.family = AF_INET;
	fib.l4_protocol = IPPROTO_UDP;
	fib.tos = ip->tos;
	fib.tot_len = bpf_ntohs(ip->tot_len);
	fib.ipv4_src = ip->saddr;
	fib.ipv4_dst = daddr;
	fib.ifindex = ctx->ingress_ifindex;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH || rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return XDP_PASS;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return FR_FORWARD_FAILED;
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	if (fib.ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(fib.ifindex, 0);
}

#endif

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * local.h - is a FlatRPC frame addressed to this host? (docs/security.md,
 * "The destination check")
 *
 * The tag leaves the destination address out so that forward() can re-aim a
 * request without re-signing it; so a frame meant for another host of the
 * service, delivered to our MAC by someone on the link, would carry a good
 * tag here. The answer is the kernel's own routing decision, asked at the
 * moment the frame arrives, because addresses come and go after a load.
 *
 * bpf_fib_lookup() only answers "is this forwarded, and where", and it
 * conflates a few outcomes, which decide the shape of the code below:
 * - It checks that the interface forwards before it looks at the address
 *   (6.1 up to at least 6.18, every flag): on an interface that does not,
 *   it returns FWD_DISABLED and says nothing about locality. Then it is
 *   asked again as if the frame had come in on lo, which a host that is no
 *   router can let forward at next to no cost (lo only carries what the
 *   host sends itself). When neither forwards, the frame is let through
 *   unchecked: refusing it would stop every FlatRPC service on a host that
 *   is not a router. That is the check's main limit.
 * - NOT_FWDED is a local route, but also broadcast, multicast, no route at
 *   all and, for IPv6, any link-local, loopback or multicast address, source
 *   or destination, before any table is read. Group addresses are refused
 *   here first, the lookup is asked without the IPv6 source, and a
 *   link-local destination is refused: the lookup cannot place it. "No
 *   route at all" stays indistinguishable from local (a host without a
 *   default route): a limit, documented.
 * - A loopback destination resolves as local, but the stack treats one that
 *   arrives on any other interface as martian.
 */
#ifndef FLATRPC_KERN_LOCAL_H
#define FLATRPC_KERN_LOCAL_H

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif
/* the loopback device has this index in every namespace */
#define FR_LOOPBACK_IFINDEX	1

static __always_inline int fr_dst_local4(struct xdp_md *ctx, const struct iphdr *ip,
					 struct bpf_fib_lookup *fib)
{
	__u32 d = bpf_ntohl(ip->daddr);

	if ((d >> 28) == 0xe || d == 0xffffffff)
		return 0;
	if ((d >> 24) == 127 && ctx->ingress_ifindex != FR_LOOPBACK_IFINDEX)
		return 0;
	fib->family = AF_INET;
	fib->tos = ip->tos;
	fib->ipv4_src = ip->saddr;
	fib->ipv4_dst = ip->daddr;
	return 1;
}

static __always_inline int fr_dst_local6(struct xdp_md *ctx, const struct ipv6hdr *ip6,
					 struct bpf_fib_lookup *fib)
{
	const __u8 *d = ip6->daddr.s6_addr;
	const __u32 *d32 = ip6->daddr.s6_addr32;

	if (d[0] == 0xff || (d[0] == 0xfe && (d[1] & 0xc0) == 0x80))
		return 0;
	if (!d32[0] && !d32[1] && !d32[2] && d32[3] == bpf_htonl(1) &&
	    ctx->ingress_ifindex != FR_LOOPBACK_IFINDEX)
		return 0;
	fib->family = AF_INET6;
	/* the source stays zero: a link-local one would end the lookup early */
	__builtin_memcpy(fib->ipv6_dst, d32, 16);
	return 1;
}

/* 0: the frame is addressed to another host; 1: to this one, or the kernel
 * could not tell (neither the interface nor lo forwards). */
static __always_inline int fr_dst_local(struct xdp_md *ctx, const struct fr_pkt *p)
{
	struct bpf_fib_lookup fib = {};
	long rc;

	if (p->eth->h_dest[0] & 1)
		return 0;
	if (p->ip) {
		if (!fr_dst_local4(ctx, p->ip, &fib))
			return 0;
	} else if (p->ip6) {
		if (!fr_dst_local6(ctx, p->ip6, &fib))
			return 0;
	} else {
		return 0;	/* fr_parse() set ip or ip6; the verifier cannot know */
	}
	fib.l4_protocol = IPPROTO_UDP;
	fib.sport = p->udp->source;
	fib.dport = p->udp->dest;
	/* tot_len stays 0: an MTU verdict would hide the route's answer */
	fib.ifindex = ctx->ingress_ifindex;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	/* FWD_DISABLED returns before the helper writes anything to fib */
	if (rc == BPF_FIB_LKUP_RET_FWD_DISABLED && fib.ifindex != FR_LOOPBACK_IFINDEX) {
		fib.ifindex = FR_LOOPBACK_IFINDEX;
		rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	}
	return rc == BPF_FIB_LKUP_RET_NOT_FWDED || rc == BPF_FIB_LKUP_RET_FWD_DISABLED;
}

#endif

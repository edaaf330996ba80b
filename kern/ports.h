/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ports.h - getting from an Ethernet frame to its UDP header: what both the
 * per-service parser (parse.h) and the interface's entry point
 * (dispatch.bpf.c), which knows no service, need. __always_inline, like
 * parse.h, so that each program's verifier sees its own packet pointers.
 */
#ifndef FLATRPC_KERN_PORTS_H
#define FLATRPC_KERN_PORTS_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/udp.h>

#define FR_IP_MF	0x2000
#define FR_IP_OFFSET	0x1fff

/* IPv6 extension headers that can stand between the fixed header and UDP
 * (RFC 8200 4.1, RFC 4302, RFC 7401, RFC 5533, RFC 3692). */
#define FR_IP6_HOPOPTS	0
#define FR_IP6_ROUTING	43
#define FR_IP6_FRAGMENT	44
#define FR_IP6_AH	51
#define FR_IP6_DSTOPTS	60
#define FR_IP6_MH	135
#define FR_IP6_HIP	139
#define FR_IP6_SHIM6	140
#define FR_IP6_EXP1	253
#define FR_IP6_EXP2	254
/* How many extension headers are stepped over to find the UDP port. */
#define FR_IP6_EXT_MAX	4

/* A bounds-checked cursor: every pull is checked against the end first. */
struct fr_cursor {
	void	*pos;
	void	*end;
};

static __always_inline void *fr_pull(struct fr_cursor *c, __u32 n)
{
	void *p = c->pos;

	if (p + n > c->end)
		return NULL;
	c->pos = p + n;
	return p;
}

/*
 * Steps c over the IPv6 extension headers after the fixed header, to UDP.
 * Returns 1 with c at the UDP header (*ext set when any was stepped over),
 * 0 for anything else: ESP, another L4, a later fragment, too many.
 */
static __always_inline int fr_ip6_to_udp(struct fr_cursor *c, __u8 next, int *ext)
{
	int i;

#pragma unroll
	for (i = 0; i < FR_IP6_EXT_MAX; i++) {
		__u8 *e;
		__u32 len;

		if (next == IPPROTO_UDP)
			break;
		e = fr_pull(c, 8);
		if (!e)
			return 0;
		switch (next) {
		case FR_IP6_FRAGMENT:
			/* a later fragment has no UDP header to match */
			if ((e[2] << 8 | e[3]) & ~7)
				return 0;
			len = 8;
			break;
		case FR_IP6_AH:
			len = (e[1] + 2) * 4;
			break;
		case FR_IP6_HOPOPTS: case FR_IP6_ROUTING: case FR_IP6_DSTOPTS:
		case FR_IP6_MH: case FR_IP6_HIP: case FR_IP6_SHIM6:
		case FR_IP6_EXP1: case FR_IP6_EXP2:
			len = (e[1] + 1) * 8;
			break;
		default:
			return 0;	/* ESP, no next header, other L4 */
		}
		next = e[0];
		c->pos = e + len;
		*ext = 1;
	}
	return next == IPPROTO_UDP;
}

/*
 * The UDP port of the service a frame is for, for the interface's
 * dispatcher (kern/dispatch.bpf.c), which runs before any service's
 * program and knows no port: a request's destination, an answer's (any
 * other kind) source, by the FlatRPC header's kind. *other is the other
 * port, for a frame too short or too odd to say, so that the service on
 * either end still sees it and counts its drop. 0: not UDP.
 */
static __always_inline __u16 fr_service_port(void *data, void *data_end, __u16 *other)
{
	struct fr_cursor c = { .pos = data, .end = data_end };
	struct flatrpc_hdr *h;
	struct udphdr *udp;
	struct ethhdr *eth;
	int ext = 0;

	eth = fr_pull(&c, sizeof(*eth));
	if (!eth)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = fr_pull(&c, sizeof(*ip6));

		if (!ip6 || ip6->version != 6 || !fr_ip6_to_udp(&c, ip6->nexthdr, &ext))
			return 0;
	} else if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = fr_pull(&c, sizeof(*ip));

		if (!ip || ip->version != 4 || ip->protocol != IPPROTO_UDP || ip->ihl < 5 ||
		    (ip->frag_off & bpf_htons(FR_IP_OFFSET)))
			return 0;
		c.pos = (void *)ip + ip->ihl * 4;
	} else {
		return 0;
	}
	udp = fr_pull(&c, sizeof(*udp));
	if (!udp)
		return 0;
	h = fr_pull(&c, sizeof(*h));
	if (h && h->magic == FLATRPC_MAGIC && (h->flags & FLATRPC_KIND_MASK) != FLATRPC_REQ) {
		*other = bpf_ntohs(udp->dest);
		return bpf_ntohs(udp->source);
	}
	*other = bpf_ntohs(udp->source);
	return bpf_ntohs(udp->dest);
}

#endif

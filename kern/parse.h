/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * parse.h - FlatRPC frame parsing and validation, shared by XDP and TC.
 *
 * Both hooks hand over plain data/data_end pointers plus the frame length
 * the hook believes in (XDP: the buffer; TC: skb->len, since the linear part
 * may be shorter than the packet). Everything here is __always_inline, so
 * each program gets its own copy and the verifier sees the packet pointers
 * of the hook it is checking.
 */
#ifndef FLATRPC_KERN_PARSE_H
#define FLATRPC_KERN_PARSE_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/udp.h>
#include "ports.h"

/* Returned by fr_parse() for frames that are not FlatRPC: leave them alone. */
#define FR_PASS		(-1)

/* The longest header prefix fr_parse() reads: IPv4 options included (an
 * IPv6 frame with extension headers beyond it is left alone). */
#define FR_HDRS_MAX	(sizeof(struct ethhdr) + 60 + sizeof(struct udphdr) + \
			 sizeof(struct flatrpc_hdr))
/* The size of a FlatRPC frame with an empty body. */
#define FR_HDRS_LEN	(sizeof(struct ethhdr) + sizeof(struct iphdr) + \
			 sizeof(struct udphdr) + sizeof(struct flatrpc_hdr))
#define FR_HDRS6_LEN	(sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + \
			 sizeof(struct udphdr) + sizeof(struct flatrpc_hdr))

struct fr_pkt {
	struct ethhdr		*eth;
	struct iphdr		*ip;	/* NULL for IPv6 */
	struct ipv6hdr		*ip6;	/* NULL for IPv4 */
	struct udphdr		*udp;
	struct flatrpc_hdr	*hdr;
	void			*body;
	__u32			method;
	__u32			kind;
	__u32			body_len;	/* after the fragment extension, if any */
	__u32			frag_index;	/* F_FRAG only */
	__u32			frag_count;	/* 0: not a fragment */
};

/*
 * The FlatRPC part of fr_parse(), for both IP versions: c points just past
 * the UDP header (p->udp), udp_len is the UDP length the IP header vouched
 * for (0 when they disagree).
 */
static __always_inline int fr_parse_tail(struct fr_cursor *c, struct ethhdr *eth,
					 __u32 udp_len, __be16 nport, __u32 tag_len,
					 struct fr_pkt *p)
{
	struct udphdr *udp = p->udp;
	struct flatrpc_hdr *h;
	__u32 body_len;
	int fixed;

	h = fr_pull(c, sizeof(*h));
	if (!h)
		return FLATRPC_DROP_TRUNCATED;
	if (h->magic != FLATRPC_MAGIC)
		return FLATRPC_DROP_BAD_MAGIC;

	/* udp_len 0: the IP and UDP lengths already disagreed. */
	body_len = bpf_ntohs(h->len);
	if (body_len + sizeof(*h) + sizeof(*udp) + tag_len != udp_len)
		return FLATRPC_DROP_BAD_LEN;

	p->kind = h->flags & FLATRPC_KIND_MASK;
	/* An ACK is a bare header with a known status; only ACK EPOCH has a
	 * body, the epoch. */
	if (p->kind == FLATRPC_ACK &&
	    (h->status == FLATRPC_ACK_EPOCH ? body_len != sizeof(struct flatrpc_epoch_body) :
	     body_len || (h->status != FLATRPC_ACK_PENDING && h->status != FLATRPC_ACK_BUSY)))
		return FLATRPC_DROP_BAD_KIND;
	/* A request travels to the service port, a response from it; a frame
	 * that merely shares the port the other way round is someone else's. */
	if (p->kind == FLATRPC_REQ ? udp->dest != nport : udp->source != nport)
		return FR_PASS;

	/* The extension counts in `len`; the body the ANFs see starts after it. */
	if (h->flags & FLATRPC_F_FRAG) {
		struct flatrpc_frag *fx = fr_pull(c, sizeof(*fx));

		if (!fx || body_len < sizeof(*fx))
			return FLATRPC_DROP_TRUNCATED;
		p->frag_index = bpf_ntohs(fx->index);
		p->frag_count = bpf_ntohs(fx->count);
		if (p->frag_count < 2 || p->frag_count > FLATRPC_FRAG_MAX ||
		    p->frag_index >= p->frag_count)
			return FLATRPC_DROP_FRAG_BAD;
		body_len -= sizeof(*fx);
	}

	p->method = h->method;
	if (p->method >= FR_N_METHODS)
		return FLATRPC_DROP_UNKNOWN_METHOD;
	fixed = p->kind == FLATRPC_REQ ? fr_req_fixed(p->method)
				       : fr_resp_fixed(p->method);
	if (fixed < 0)
		return FLATRPC_DROP_UNKNOWN_METHOD;
	/* An ERR or ACK carries a status, not the method's response layout; a
	 * later fragment carries the body's tail, the fixed part was in the first. */
	if ((p->kind == FLATRPC_REQ || p->kind == FLATRPC_RESP) && p->frag_index == 0 &&
	    body_len < (__u32)fixed)
		return FLATRPC_DROP_SHORT_BODY;

	p->eth = eth;
	p->hdr = h;
	p->body = c->pos;
	p->body_len = body_len;
	return 0;
}

/*
 * IPv6: the fixed header, then UDP. Extension headers are stepped over only
 * to learn the port, so that a FlatRPC frame carrying one is dropped under
 * its own name; no FlatRPC sender adds any.
 */
static __always_inline int fr_parse6(struct fr_cursor *c, struct ethhdr *eth, __u32 frame_len,
				     __be16 nport, __u32 tag_len, struct fr_pkt *p)
{
	struct ipv6hdr *ip6 = fr_pull(c, sizeof(*ip6));
	struct udphdr *udp;
	__u32 pl_len, udp_len;
	int ext = 0;

	if (!ip6 || ip6->version != 6)
		return FR_PASS;
	if (!fr_ip6_to_udp(c, ip6->nexthdr, &ext))
		return FR_PASS;
	udp = fr_pull(c, sizeof(*udp));
	if (!udp)
		return FR_PASS;
	if (udp->dest != nport && udp->source != nport)
		return FR_PASS;
	if (ext)
		return FLATRPC_DROP_IP6_EXT;

	/* As for IPv4: the payload fits the frame, UDP matches it exactly. */
	pl_len = bpf_ntohs(ip6->payload_len);
	udp_len = bpf_ntohs(udp->len);
	p->ip6 = ip6;
	p->udp = udp;
	if (pl_len + sizeof(*ip6) + sizeof(*eth) > frame_len || udp_len != pl_len)
		udp_len = 0;
	return fr_parse_tail(c, eth, udp_len, nport, tag_len, p);
}

/*
 * Returns FR_PASS for anything that is not FlatRPC on `port` (host order),
 * 0 for a valid frame (p filled in), or an enum flatrpc_drop reason.
 * Requests are recognised by destination port, responses by source port, so
 * the same rule holds at ingress and egress. tag_len: the bytes of message
 * tag expected after the body (0, or FLATRPC_TAG_LEN); it is not checked here.
 */
static __always_inline int fr_parse(void *data, void *data_end, __u32 frame_len,
				    __u16 port, __u32 tag_len, struct fr_pkt *p)
{
	struct fr_cursor c = { .pos = data, .end = data_end };
	__be16 nport = bpf_htons(port);
	__u32 ihl, ip_len, udp_len;
	struct udphdr *udp;
	struct ethhdr *eth;
	struct iphdr *ip;

	eth = fr_pull(&c, sizeof(*eth));
	if (!eth)
		return FR_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return fr_parse6(&c, eth, frame_len, nport, tag_len, p);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return FR_PASS;
	ip = fr_pull(&c, sizeof(*ip));
	if (!ip || ip->version != 4 || ip->protocol != IPPROTO_UDP)
		return FR_PASS;
	ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip))
		return FR_PASS;
	/* A later fragment carries no UDP header, so it cannot be matched to
	 * the port; the stack's reassembly deals with it. */
	if (ip->frag_off & bpf_htons(FR_IP_OFFSET))
		return FR_PASS;
	/* Step over options anyway so an optioned FlatRPC frame is still
	 * recognised and its drop gets a name. */
	c.pos = (void *)ip + ihl;
	udp = fr_pull(&c, sizeof(*udp));
	if (!udp)
		return FR_PASS;
	if (udp->dest != nport && udp->source != nport)
		return FR_PASS;
	if (ihl != sizeof(*ip) || (ip->frag_off & bpf_htons(FR_IP_MF)))
		return FLATRPC_DROP_IP_FRAG;

	/* IP total length must fit the frame (Ethernet may pad beyond it);
	 * UDP length must match it exactly. The u32 arithmetic makes an IP
	 * length below 20 wrap and fail the UDP comparison. */
	ip_len = bpf_ntohs(ip->tot_len);
	udp_len = bpf_ntohs(udp->len);
	p->ip = ip;
	p->udp = udp;
	if (ip_len + sizeof(*eth) > frame_len || udp_len != ip_len - sizeof(*ip))
		return fr_parse_tail(&c, eth, 0, nport, tag_len, p);
	return fr_parse_tail(&c, eth, udp_len, nport, tag_len, p);
}

#endif

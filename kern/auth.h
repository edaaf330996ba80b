/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * auth.h - the message tag in XDP: checked on every frame that arrives,
 * written on every reply XDP makes itself (an ANF error, ACK BUSY). What it
 * covers and why: flatrpc_abi.h (FLATRPC_TAG_LEN) and docs/security.md.
 *
 * The loop over the message is a global function: the verifier checks it
 * once, on its own, with the offset and length unknown, instead of once
 * per trip count at every path of the caller that reaches it (more than
 * the verifier's budget of a million instructions). A global function may
 * not take packet pointers, so it takes the context and offsets.
 */
#ifndef FLATRPC_KERN_AUTH_H
#define FLATRPC_KERN_AUTH_H

#include "flatrpc_siphash.h"

/* The longest message a tag covers: the header, a fragment extension and
 * a full fragment's body. */
#define FR_TAG_MAX_MSG		(sizeof(struct flatrpc_hdr) + sizeof(struct flatrpc_frag) + \
				 FLATRPC_FRAG_CHUNK)
#define FR_TAG_MAX_WORDS	(FR_TAG_MAX_MSG / 8)

struct fr_tag_in {
	__u64	k0, k1;
	__u64	pw[sizeof(struct flatrpc_tag_pseudo) / 8];
};

/*
 * The tag of the len bytes at offset off of the packet, behind in's pseudo
 * header, into *out. The 8 bytes after the message must be in the packet
 * too (a tag always follows it; a reply's tag goes there): the tail word is
 * read whole and masked. Returns 0, or -1 when the message runs past the
 * packet (never for a frame that fr_parse() accepted; the verifier cannot
 * know that).
 */
__noinline int fr_tag_calc(struct xdp_md *ctx, const struct fr_tag_in *in, __u64 off,
			   __u64 len, __u64 *out)
{
	const void *data = (const void *)(long)ctx->data;
	const void *data_end = (const void *)(long)ctx->data_end;
	const __u8 *msg, *e;
	struct fr_sip s;
	__u64 tail, nw, rem, i;

	if (!in || !out || off > FR_HDRS_MAX || len > FR_TAG_MAX_MSG)
		return -1;
	/* Opaque to clang from here, so that it keeps the masks: they are
	 * what bounds the offsets below for the verifier, which does not
	 * follow clang's folded range checks into other registers. */
	asm volatile("" : "+r"(off), "+r"(len));
	off &= 0xff;
	len &= 0x7ff;
	msg = data + off;
	fr_sip_init(&s, in->k0, in->k1);
	fr_sip_word(&s, in->pw[0]);
	fr_sip_word(&s, in->pw[1]);
	fr_sip_word(&s, in->pw[2]);
	nw = len / 8;
	for (i = 0; i < FR_TAG_MAX_WORDS; i++) {
		const __u8 *w = msg + i * 8;

		if (i >= nw)
			break;
		if ((const void *)(w + 8) > data_end)
			return -1;
		fr_sip_word(&s, *(const __u64 *)w);
	}
	rem = len & 7;
	e = msg + nw * 8;
	if ((const void *)(e + 8) > data_end)
		return -1;
	tail = rem ? *(const __u64 *)e & ((1ULL << (rem * 8)) - 1) : 0;
	*out = fr_sip_final(&s, tail, len + sizeof(struct flatrpc_tag_pseudo));
	return 0;
}

/* The pseudo header of a frame as it stands: its sender and ports, and
 * the epoch it is signed for. */
static __always_inline void fr_tag_pseudo(struct fr_tag_in *in, const struct fr_pkt *p,
					  __u32 epoch)
{
	struct flatrpc_tag_pseudo ph = {
		.sport = p->udp->source,
		.dport = p->udp->dest,
		.epoch = epoch,
	};

	if (p->ip)
		FLATRPC_ADDR_V4MAPPED(ph.saddr, p->ip->saddr);
	else if (p->ip6)
		__builtin_memcpy(ph.saddr, &p->ip6->saddr, 16);
	__builtin_memcpy(in->pw, &ph, sizeof(ph));
}

/* 1 when the frame's tag, signed for `epoch`, is that of one of k's keys. */
static __always_inline int fr_tag_ok(struct xdp_md *ctx, const struct fr_pkt *p,
				     const void *data_end, const struct flatrpc_keys *k,
				     __u32 epoch)
{
	struct fr_tag_in in;
	const __u8 *tag;
	__u64 want, got;
	__u32 len;
	int i;

	len = sizeof(struct flatrpc_hdr) + bpf_ntohs(p->hdr->len);
	/* also what lets the verifier range-check the variable offset below */
	if (len > FR_TAG_MAX_MSG)
		return 0;
	tag = (const __u8 *)p->hdr + len;
	if ((const void *)(tag + FLATRPC_TAG_LEN) > data_end)
		return 0;
	got = *(const __u64 *)tag;
	fr_tag_pseudo(&in, p, epoch);
#pragma unroll
	for (i = 0; i < FLATRPC_KEYS_MAX; i++) {
		if ((__u32)i >= k->count)
			break;
		in.k0 = k->key[i][0];
		in.k1 = k->key[i][1];
		if (!fr_tag_calc(ctx, &in, (__u32)((const void *)p->hdr - (const void *)(long)ctx->data),
				 len, &want) && want == got)
			return 1;
	}
	return 0;
}

/*
 * Tags the frame's message as it now stands - its header and h->len body
 * bytes - writing the tag right after it: a bodiless reply XDP made, or a
 * request an ANF rewrote before forward() sends it on (this host holds the
 * service's key, so it vouches for what it changed). Returns 0, or -1
 * without a key (the caller drops the frame: an untagged one would only
 * be dropped at its receiver).
 */
static __always_inline int fr_tag_sign(struct xdp_md *ctx, const struct fr_pkt *p,
				       const void *data_end)
{
	const struct flatrpc_keys *k;
	struct fr_tag_in in;
	__u32 zero = 0, len;
	__u8 *tag;
	__u64 t;

	k = bpf_map_lookup_elem(&auth_keys, &zero);
	if (!k || !k->count)
		return -1;
	len = sizeof(struct flatrpc_hdr) + bpf_ntohs(p->hdr->len);
	if (len > FR_TAG_MAX_MSG)
		return -1;
	tag = (__u8 *)p->hdr + len;
	if ((void *)(tag + FLATRPC_TAG_LEN) > data_end)
		return -1;
	/* answers, and a forward()ed request (its method has no epoch) */
	fr_tag_pseudo(&in, p, 0);
	in.k0 = k->key[0][0];
	in.k1 = k->key[0][1];
	if (fr_tag_calc(ctx, &in, (__u32)((const void *)p->hdr - (const void *)(long)ctx->data),
			len, &t))
		return -1;
	*(__u64 *)tag = t;
	return 0;
}

/* What a request's epoch hint says (docs/security.md, Replay). */
#define FR_EPOCH_LIVE	0	/* signed for *epoch, a live one: check the tag */
#define FR_EPOCH_HELLO	1	/* asks for the epoch: check the tag (*epoch 0), answer */
#define FR_EPOCH_STALE	2	/* for an epoch this host no longer holds: answer unchecked */

/*
 * The epoch a frame is signed for. Answers have none: they are held to an
 * outstanding call instead. A FLATRPC_M_FORWARD method has none either:
 * its request goes on to a backend, whose epoch its sender cannot know.
 * One tag computation per key whatever the hint, so that a flood of
 * forged frames costs no more than before epochs.
 */
static __always_inline int fr_epoch_of(const struct flatrpc_keys *k, const struct fr_pkt *p,
				       __u32 *epoch)
{
	__u64 e = k->epochs;
	__u32 cur = FLATRPC_EPOCH_CUR(e), prev = FLATRPC_EPOCH_PREV(e);
	__u8 hint = p->hdr->status;

	*epoch = 0;
	if (p->kind != FLATRPC_REQ || (fr_method_flags(p->method) & FLATRPC_M_FORWARD))
		return FR_EPOCH_LIVE;
	if (!hint)
		return FR_EPOCH_HELLO;
	if (hint == FLATRPC_EPOCH_HINT(cur)) {
		*epoch = cur;
		return FR_EPOCH_LIVE;
	}
	if (prev && hint == FLATRPC_EPOCH_HINT(prev)) {
		*epoch = prev;
		return FR_EPOCH_LIVE;
	}
	return FR_EPOCH_STALE;
}

#endif

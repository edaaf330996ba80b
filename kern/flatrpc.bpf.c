// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * flatrpc.bpf.c - the kernel half of FlatRPC, built once per spec.
 *
 * flatrpc_xdp: ingress. Validates FlatRPC frames, enforces in-order delivery,
 * runs the spec's ANF chain (anf.bpf.h, generated), answers ANF errors with
 * XDP_TX and hands everything else to the AF_XDP socket of the RX queue.
 *
 * flatrpc_client: never attached; the sending library runs it on each
 * request of a method with client: elements (FLATRPC_M_CLIENT_ANF).
 *
 * flatrpc_tc_egress: frames the kernel stack sends. AF_XDP transmit bypasses
 * TC, so this only sees raw/UDP-socket traffic; it validates and counts.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "flatrpc_abi.h"
#include "flatrpc_csum.h"
#include "maps.h"		/* before anf.bpf.h, which counts into state_limits */
#include "anf.bpf.h"
#include "parse.h"
#include "forward.h"
#include "seq.h"
#include "auth.h"
#include "local.h"
#include "desc.h"		/* the object's own description, for flatrpc-load */

/* Host order; the spec's, unless flatrpc-load --port sets it before load. */
const volatile __u16 flatrpc_port = FR_SPEC_PORT;
/* 1: every frame carries a tag (the spec's auth; anf.bpf.h). flatrpc-load
 * reads it to know whether a key is needed; table tests may clear it. With
 * it 0 the verifier drops every tag branch. */
const volatile __u8 flatrpc_auth = FR_SPEC_AUTH;

static __always_inline __u32 fr_tag_len(void)
{
	return flatrpc_auth ? FLATRPC_TAG_LEN : 0;
}

static __always_inline void fr_count_drop(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&drops, &reason);

	if (c)
		*c += 1;
}

static __always_inline struct flatrpc_method_stats *fr_stats(__u32 method)
{
	return bpf_map_lookup_elem(&stats, &method);
}

/* RFC 1624 incremental update; UDP checksum 0 means "none" and stays so. */
static __always_inline void fr_udp_csum_update(struct udphdr *udp, __u16 old, __u16 new)
{
	if (udp->check)
		udp->check = fr_csum_udp_value(fr_csum_update16(udp->check, old, new));
}

/* The sender's address in the 16-byte key form (FLATRPC_ADDR_V4MAPPED). */
static __always_inline void fr_peer_addr(const struct fr_pkt *p, __be32 addr[4])
{
	/* Exactly one of ip and ip6 is set, but the verifier cannot know. */
	if (p->ip)
		FLATRPC_ADDR_V4MAPPED(addr, p->ip->saddr);
	else if (p->ip6)
		__builtin_memcpy(addr, &p->ip6->saddr, 16);
}

/*
 * Makes room in the client host's share of `seqs` for the new stream `key`
 * (seq.h, fr_seq_slot): a free slot, or the host's own least recently used
 * stream, which is deleted and counted as seq_pushed. Slots are claimed with
 * plain stores: two streams of one host starting at once on two CPUs may
 * take the same slot, and the host then holds one stream more than its
 * share until one of them goes. Returns 0, or a drop reason.
 */
static __always_inline int fr_seq_claim(const struct flatrpc_seq_key *key)
{
	struct flatrpc_seq_host_key hk = { .method = key->method };
	struct flatrpc_seq_key old = *key;
	struct flatrpc_seq_host *h, none = {};
	struct flatrpc_method_stats *st;
	struct flatrpc_seq_state *o;
	__u32 used[FLATRPC_SEQ_PER_HOST];
	int i;

	__builtin_memcpy(hk.addr, key->addr, sizeof(hk.addr));
	h = bpf_map_lookup_elem(&seq_hosts, &hk);
	if (!h) {
		bpf_map_update_elem(&seq_hosts, &hk, &none, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&seq_hosts, &hk);
		if (!h)
			return FLATRPC_DROP_SEQ_NOSTATE;
	}
	i = fr_seq_slot(h->slot, key->port);
	if (i >= 0 && i < FLATRPC_SEQ_PER_HOST) {
		h->slot[i] = FLATRPC_SEQ_SLOT(key->port);
		return 0;
	}
	for (i = 0; i < FLATRPC_SEQ_PER_HOST; i++) {
		old.port = FLATRPC_SEQ_SLOT_PORT(h->slot[i]);
		o = bpf_map_lookup_elem(&seqs, &old);
		used[i] = o ? o->used : 0;
	}
	i = fr_seq_victim(used) & (FLATRPC_SEQ_PER_HOST - 1);
	old.port = FLATRPC_SEQ_SLOT_PORT(h->slot[i]);
	bpf_map_delete_elem(&seqs, &old);
	h->slot[i] = FLATRPC_SEQ_SLOT(key->port);
	st = fr_stats(key->method);
	if (st)
		st->seq_pushed++;
	return 0;
}

/*
 * In-order admission of a request: fr_seq_decide() (seq.h) decides, this
 * applies it to `seqs`. Returns an FR_SEQ_* verdict or a drop reason.
 */
static __always_inline int fr_seq_check(struct fr_pkt *p)
{
	struct flatrpc_seq_key key = {
		.port = p->udp->source,
		.method = p->method,
	};
	struct flatrpc_seq_state *st, fresh = {};
	int ret, store;
	__u16 next;

	fr_peer_addr(p, key.addr);
	st = bpf_map_lookup_elem(&seqs, &key);
	ret = fr_seq_decide(st != NULL, st ? st->expected : 0, bpf_ntohs(p->hdr->seq),
			    p->hdr->flags, fr_method_flags(p->method), &next, &store);
	if (store) {
		/* jiffies: coarse, but only the order of a host's streams counts */
		__u32 now = fr_seq_stamp(bpf_jiffies64());

		if (st) {
			st->expected = next;
			st->used = now;
		} else {
			int why = fr_seq_claim(&key);

			if (why)
				return why;
			fresh.expected = next;
			fresh.used = now;
			bpf_map_update_elem(&seqs, &key, &fresh, BPF_ANY);
		}
	}
	return ret;
}

/* Sets a flag for the library (DUP, AHEAD), keeping a UDP checksum valid. */
static __always_inline void fr_mark(struct fr_pkt *p, __u8 flag)
{
	__u16 *word = (__u16 *)p->hdr;	/* magic + flags */
	__u16 old = *word;

	p->hdr->flags |= flag;
	fr_udp_csum_update(p->udp, old, *word);
}

static __always_inline void fr_set_status(struct fr_pkt *p, __u8 status)
{
	__u16 *word = (__u16 *)p->hdr + 1;	/* method + status */
	__u16 old = *word;

	p->hdr->status = status;
	fr_udp_csum_update(p->udp, old, *word);
}

/* The library acts on DUP, AHEAD and a request's status without asking:
 * only this program may set them, so whatever the sender put there goes. */
static __always_inline void fr_scrub_req(struct fr_pkt *p)
{
	__u16 *word = (__u16 *)p->hdr;	/* magic + flags */
	__u16 old = *word;

	if (p->hdr->flags & (FLATRPC_F_DUP | FLATRPC_F_AHEAD)) {
		p->hdr->flags &= ~(FLATRPC_F_DUP | FLATRPC_F_AHEAD);
		fr_udp_csum_update(p->udp, old, *word);
	}
	if (p->hdr->status)
		fr_set_status(p, 0);
}

/* The largest body a reply XDP makes carries: ACK EPOCH's. */
#define FR_REPLY_BODY_MAX	sizeof(struct flatrpc_epoch_body)

/*
 * The IPv6 half of fr_reply(): addresses, UDP and FlatRPC headers, body and
 * tag are already the reply's. Over IPv6 a UDP checksum is mandatory (RFC
 * 8200 8.1), so it is summed in full: pseudo header plus the 20 bytes of
 * headers, the blen (0 or 4) body bytes and the tag, a fixed cost.
 * Returns the reply's length.
 */
static __always_inline int fr_reply6(struct fr_pkt *p, void *data_end, __u32 blen, __u32 tag_len)
{
	struct ipv6hdr *ip6 = p->ip6;
	struct udphdr *udp = p->udp;
	__u16 *w;
	__u32 sum;

	if (!ip6)
		return 0;	/* fr_parse() set ip or ip6; the verifier cannot know */
	ip6->payload_len = udp->len;
	udp->check = 0;

	/* the pseudo header: addresses, length, next header */
	sum = fr_csum_add(udp->len + bpf_htons(IPPROTO_UDP), &ip6->saddr, 16);
	w = (__u16 *)udp;
	/* blen and tag_len are constants where this is inlined */
	if ((void *)w + sizeof(*udp) + sizeof(struct flatrpc_hdr) + blen + tag_len > data_end)
		return 0;
	sum = fr_csum_add(sum, w, (sizeof(*udp) + sizeof(struct flatrpc_hdr)) / 2);
	w += (sizeof(*udp) + sizeof(struct flatrpc_hdr)) / 2;
	if (blen) {
		sum = fr_csum_add(sum, w, FR_REPLY_BODY_MAX / 2);
		w += FR_REPLY_BODY_MAX / 2;
	}
	if (tag_len)
		sum = fr_csum_add(sum, w, FLATRPC_TAG_LEN / 2);
	udp->check = fr_csum_udp_value(fr_csum_fold(sum));
	return FR_HDRS6_LEN + blen + tag_len;
}

/*
 * Turns the request into a reply of `kind` (FLATRPC_ERR with an ANF's error
 * code, FLATRPC_ACK BUSY, or ACK EPOCH with `word` as its 4-byte body) in
 * place and bounces it. All rewriting happens before the tail adjustment,
 * which invalidates the packet pointers; if the shrink fails the reply is
 * still valid, since receivers accept bytes beyond the IP total length as
 * Ethernet padding. The frame must hold the whole reply (fr_epoch_ack()
 * makes room for a body).
 */
static __always_inline int fr_reply(struct xdp_md *ctx, struct fr_pkt *p, __u8 kind, __u8 code,
				    __u32 tag_len, __u32 blen, __be32 word)
{
	struct ethhdr *eth = p->eth;
	struct iphdr *ip = p->ip;
	struct udphdr *udp = p->udp;
	struct flatrpc_hdr *h = p->hdr;
	unsigned char mac[ETH_ALEN];
	struct in6_addr a;
	__be32 addr;
	__be16 port;
	int excess, len;

	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	if (ip) {
		addr = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = addr;
	} else if (p->ip6) {
		a = p->ip6->saddr;
		p->ip6->saddr = p->ip6->daddr;
		p->ip6->daddr = a;
	}

	h->flags = kind;
	h->status = code;
	blen = blen ? FR_REPLY_BODY_MAX : 0;
	h->len = bpf_htons(blen);
	if (blen) {
		if ((void *)(h + 1) + FR_REPLY_BODY_MAX > (void *)(long)ctx->data_end)
			return XDP_DROP;
		*(__be32 *)(h + 1) = word;
	}
	/* The request had a tag, so the reply's fits where its body was. */
	if (tag_len && fr_tag_sign(ctx, p, (void *)(long)ctx->data_end))
		return XDP_DROP;
	udp->len = bpf_htons(sizeof(*udp) + sizeof(*h) + blen + tag_len);
	if (ip) {
		/* Zero is legal for UDP over IPv4 and spares summing the payload. */
		udp->check = 0;
		ip->tot_len = bpf_htons(sizeof(*ip) + sizeof(*udp) + sizeof(*h) + blen + tag_len);
		ip->check = 0;
		ip->check = fr_csum_ip(ip);
		len = FR_HDRS_LEN + blen + tag_len;
	} else {
		len = fr_reply6(p, (void *)(long)ctx->data_end, blen, tag_len);
		if (!len)
			return XDP_DROP;
	}

	excess = (int)((long)ctx->data_end - (long)ctx->data);
	/* keeps clang from folding len into the pkt_end pointer */
	asm volatile("" : "+r"(excess));
	if (excess > len)
		bpf_xdp_adjust_tail(ctx, len - excess);
	return XDP_TX;
}

/*
 * True when the library on this queue has more requests waiting than its
 * threshold: a new one is refused with ACK BUSY rather than queued, so a
 * slow server slows its senders instead of overflowing its rings. Checked
 * before the sequence decision and the ANFs, so a refused request leaves no
 * trace and is simply sent again.
 */
static __always_inline int fr_busy(__u32 queue)
{
	struct flatrpc_load *l = bpf_map_lookup_elem(&load, &queue);
	__u32 at;

	if (!l)
		return 0;
	at = l->busy_at;
	return at && l->backlog >= at;
}

static __always_inline int fr_xdp_drop(__u32 reason)
{
	fr_count_drop(reason);
	return XDP_DROP;
}

static __always_inline void fr_frag_key(const struct fr_pkt *p, struct flatrpc_frag_key *k)
{
	fr_peer_addr(p, k->addr);
	k->port = p->udp->source;
	k->kind = p->kind == FLATRPC_REQ ? FLATRPC_REQ : FLATRPC_RESP;
	k->pad = 0;
	k->rpc_id = p->hdr->rpc_id;
}

/* What a frag_verdicts entry says about its first fragment, for bpftool
 * readers: an ANF error code (1..127) as is, or one of these plus a drop
 * reason or an ACK status. */
#define FR_FRAG_WHY_DROP	0x100
#define FR_FRAG_WHY_ACK		0x200

/* A first fragment's verdict, for its message's later fragments: `why` is
 * an FR_FRAG_WHY_* value or an ANF error code, 0 when it was let through. */
static __always_inline void fr_frag_verdict(const struct fr_pkt *p, __u32 why)
{
	struct flatrpc_frag_key k;

	if (!p->frag_count)
		return;
	fr_frag_key(p, &k);
	if (why)
		bpf_map_update_elem(&frag_verdicts, &k, &why, BPF_ANY);
	else
		bpf_map_delete_elem(&frag_verdicts, &k);
}

static __always_inline int fr_frag_denied(const struct fr_pkt *p)
{
	struct flatrpc_frag_key k;

	fr_frag_key(p, &k);
	return bpf_map_lookup_elem(&frag_verdicts, &k) != NULL;
}

/* Drops a first fragment, and with it the rest of its message. */
static __always_inline int fr_xdp_drop_msg(const struct fr_pkt *p, __u32 reason)
{
	fr_frag_verdict(p, FR_FRAG_WHY_DROP + reason);
	return fr_xdp_drop(reason);
}

/*
 * Answers a request signed for no live epoch (a HELLO, or a stale one) with
 * ACK EPOCH and the current epoch, counting it under `reason`; it is never
 * delivered. The reply is 4 bytes longer than a bodiless request, so such a
 * frame grows first, and is parsed again: growing moves data_end. A later
 * fragment is only dropped: the first one answers for its message.
 */
static __always_inline int fr_epoch_ack(struct xdp_md *ctx, struct fr_pkt *p, __u32 cur,
					__u32 reason)
{
	__u32 need, have;
	struct fr_pkt q = {};
	void *data, *data_end;

	fr_count_drop(reason);
	if (p->frag_index)
		return XDP_DROP;
	need = (p->ip ? FR_HDRS_LEN : FR_HDRS6_LEN) + FR_REPLY_BODY_MAX + FLATRPC_TAG_LEN;
	have = (__u32)(ctx->data_end - ctx->data);
	if (have < need) {
		if (bpf_xdp_adjust_tail(ctx, (int)(need - have)))
			return XDP_DROP;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		if (fr_parse(data, data_end, (__u32)(data_end - data), flatrpc_port, fr_tag_len(),
			     &q))
			return XDP_DROP;
		p = &q;
	}
	return fr_reply(ctx, p, FLATRPC_ACK, FLATRPC_ACK_EPOCH, fr_tag_len(), FR_REPLY_BODY_MAX,
			bpf_htonl(cur));
}

static __always_inline int fr_xdp_run(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	const struct flatrpc_keys *keys = NULL;
	struct flatrpc_method_stats *st;
	struct fr_pkt p = {};
	__u32 queue, zero = 0, epoch = 0;
	int dup = 0, ahead = 0, rewrote, how = FR_EPOCH_LIVE;
	int ret;

	ret = fr_parse(data, data_end, (__u32)(data_end - data), flatrpc_port, fr_tag_len(), &p);
	if (ret == FR_PASS)
		return XDP_PASS;
	if (ret)
		return fr_xdp_drop(ret);
	/* Before anything acts on what the frame says: a forged request,
	 * response, ACK or stream reset changes no state and runs no ANF. */
	if (fr_tag_len()) {
		keys = bpf_map_lookup_elem(&auth_keys, &zero);
		if (!keys)
			return fr_xdp_drop(FLATRPC_DROP_BAD_TAG);
		/* A stale one cannot be checked (its epoch is gone) and is
		 * never run; its answer carries only the public epoch. */
		how = fr_epoch_of(keys, &p, &epoch);
		if (how != FR_EPOCH_STALE && !fr_tag_ok(ctx, &p, data_end, keys, epoch))
			return fr_xdp_drop(FLATRPC_DROP_BAD_TAG);
	}
	/* The tag leaves the destination out (forward() re-aims requests), so
	 * a good tag does not say the frame was meant for this host. */
	if (!fr_dst_local(ctx, &p))
		return fr_xdp_drop(FLATRPC_DROP_NOT_LOCAL);
	if (keys && how != FR_EPOCH_LIVE)
		return fr_epoch_ack(ctx, &p, FLATRPC_EPOCH_CUR(keys->epochs),
				    how == FR_EPOCH_HELLO ? FLATRPC_DROP_EPOCH_HELLO :
							    FLATRPC_DROP_STALE_EPOCH);

	/* Later fragments follow their first one's verdict: its ANFs saw the
	 * fixed part, and the sequence decision was made for the message. */
	if (p.frag_index) {
		if (fr_frag_denied(&p))
			return fr_xdp_drop(FLATRPC_DROP_FRAG_DENIED);
		queue = ctx->rx_queue_index;
		if (!bpf_map_lookup_elem(&xsks, &queue))
			return fr_xdp_drop(FLATRPC_DROP_NO_SOCKET);
		return bpf_redirect_map(&xsks, queue, XDP_DROP);
	}

	queue = ctx->rx_queue_index;
	if (p.kind == FLATRPC_REQ) {
		if (fr_busy(queue)) {
			st = fr_stats(p.method);
			if (st)
				st->busy++;
			/* the sender resends the whole message later */
			fr_frag_verdict(&p, FR_FRAG_WHY_ACK + FLATRPC_ACK_BUSY);
			return fr_reply(ctx, &p, FLATRPC_ACK, FLATRPC_ACK_BUSY, fr_tag_len(), 0, 0);
		}
		fr_scrub_req(&p);
		if (fr_method_flags(p.method) & FLATRPC_M_INORDER) {
			ret = fr_seq_check(&p);
			if (ret == FR_SEQ_DUP) {
				/* The ANFs saw it the first time; the library
				 * answers from its cache without re-running it. */
				fr_mark(&p, FLATRPC_F_DUP);
				dup = 1;
			} else if (ret == FR_SEQ_AHEAD) {
				/* A fresh request: its ANFs run now, only its
				 * execution waits in the library's hold. */
				fr_mark(&p, FLATRPC_F_AHEAD);
				ahead = 1;
			} else if (ret) {
				return fr_xdp_drop_msg(&p, ret);
			}
		}
		if (!dup) {
			ret = fr_anf_req(p.method, p.body, data_end);
			/* A rewrite left the UDP checksum stale: 0 is "none" over
			 * IPv4. Over IPv6 0 is never a sum, so it marks the frame
			 * as rewritten here; it only goes on to the AF_XDP socket,
			 * and no stack checks it on the way. */
			rewrote = fr_anf_rewrote();
			if (rewrote)
				p.udp->check = 0;
			/* a fragment's tail would not follow it: served here */
			if (ret == FLATRPC_ANF_FORWARD && !p.frag_count) {
				if (!p.ip)
					return fr_xdp_drop(FLATRPC_DROP_FWD_IP6);
				/* the backend checks the tag of what it gets */
				if (rewrote && fr_tag_len() &&
				    fr_tag_sign(ctx, &p, (void *)(long)ctx->data_end))
					return fr_xdp_drop(FLATRPC_DROP_FWD_FAILED);
				ret = fr_forward(ctx, p.eth, p.ip, p.udp, fr_anf_forward_to());
				return ret == FR_FORWARD_FAILED ?
					fr_xdp_drop(FLATRPC_DROP_FWD_FAILED) : ret;
			}
			if (FLATRPC_ANF_IS_ERR(ret)) {
				st = fr_stats(p.method);
				if (st)
					st->anf_err++;
				if (!ahead) {
					fr_frag_verdict(&p, ret);
					return fr_reply(ctx, &p, FLATRPC_ERR, ret, fr_tag_len(), 0, 0);
				}
				/* Answering now would leave a hole that no
				 * retransmission fills (the client got its
				 * answer), stalling the stream: the library
				 * answers it with this status in its turn. */
				fr_set_status(&p, ret);
			}
		}
		fr_frag_verdict(&p, 0);
	} else if (p.kind == FLATRPC_RESP) {
		ret = fr_anf_resp(p.method, p.body, data_end);
		if (fr_anf_rewrote())
			p.udp->check = 0;
		if (FLATRPC_ANF_IS_ERR(ret)) {
			__u16 *word = (__u16 *)p.hdr;	/* magic + flags */
			__u16 *word2 = word + 1;	/* method + status */
			__u16 old = *word, old2 = *word2;

			/* The client learns of the denial as an ANF error;
			 * the body is left for debugging. */
			p.hdr->flags = (p.hdr->flags & ~FLATRPC_KIND_MASK) | FLATRPC_ERR;
			p.hdr->status = ret;
			fr_udp_csum_update(p.udp, old, *word);
			fr_udp_csum_update(p.udp, old2, *word2);
			st = fr_stats(p.method);
			if (st)
				st->anf_err++;
			/* The client gets the error from this fragment alone. */
			fr_frag_verdict(&p, ret);
		} else {
			fr_frag_verdict(&p, 0);
		}
	}

	if (!bpf_map_lookup_elem(&xsks, &queue))
		return fr_xdp_drop(FLATRPC_DROP_NO_SOCKET);
	st = fr_stats(p.method);
	if (st) {
		if (p.kind == FLATRPC_ACK)
			st->rx_ack++;
		else if (p.kind != FLATRPC_REQ)
			st->rx_resp++;
		else if (dup)
			st->dup++;
		else
			st->rx_req++;
	}
	return bpf_redirect_map(&xsks, queue, XDP_DROP);
}

/* The time XDP spends on a FlatRPC frame, into this CPU's histogram; what
 * is not FlatRPC (XDP_PASS) is not counted. Two clock reads, about 1% of a
 * call (docs/observability.md). */
SEC("xdp")
int flatrpc_xdp(struct xdp_md *ctx)
{
	__u64 t0 = bpf_ktime_get_ns(), ns;
	struct flatrpc_hist *h;
	__u32 zero = 0;
	int ret = fr_xdp_run(ctx);

	if (ret == XDP_PASS || !flatrpc_figures)
		return ret;
	h = bpf_map_lookup_elem(&xdp_time, &zero);
	if (h) {
		__u64 b;

		ns = bpf_ktime_get_ns() - t0;
		h->count++;
		h->sum_ns += ns;
		b = flatrpc_hist_bucket(ns);
		/* flatrpc_hist_bucket() bounds the index, but 6.1's verifier
		 * loses that bound on the register the access uses: bound it
		 * again right here, on the one register */
		asm volatile("" : "+r"(b));
		if (b < FLATRPC_HIST_BUCKETS)
			h->bucket[b]++;
	}
	return ret;
}

/*
 * AF_XDP transmit passes no hook on the sending host, so the library runs
 * this program itself, with BPF_PROG_TEST_RUN, on a frame that holds a
 * request's headers and fixed part as the client built it (the whole body
 * would not fit a test run, and no element reads past the fixed part). It
 * runs the client: elements, then cuts the metadata only they read: the
 * last fr_req_strip() bytes of the fixed part. The library puts the fixed
 * part it gets back in front of the rest of the body. A denial comes back
 * as XDP_TX with the error reply fr_reply() made of the frame.
 */
SEC("xdp")
int flatrpc_client(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct flatrpc_method_stats *st;
	struct fr_pkt p = {};
	__u32 strip;
	int ret;

	/* the library tags the request after this program has run */
	ret = fr_parse(data, data_end, (__u32)(data_end - data), flatrpc_port, 0, &p);
	if (ret == FR_PASS)
		ret = FLATRPC_DROP_NOT_CLIENT_REQ;
	if (ret)
		return fr_xdp_drop(ret);
	strip = fr_req_strip(p.method);
	if (p.kind != FLATRPC_REQ || p.frag_count ||
	    p.body_len != (__u32)fr_req_fixed(p.method) + strip)
		return fr_xdp_drop(FLATRPC_DROP_NOT_CLIENT_REQ);

	ret = fr_anf_client_req(p.method, p.body, data_end);
	/* the library sums the checksum of the frames it sends */
	fr_anf_rewrote();
	st = fr_stats(p.method);
	if (FLATRPC_ANF_IS_ERR(ret)) {
		if (st)
			st->anf_err++;
		/* read by the library that ran it, never sent */
		return fr_reply(ctx, &p, FLATRPC_ERR, ret, 0, 0, 0);
	}
	if (ret)	/* forward(): the checker keeps it out of client: chains */
		return fr_xdp_drop(FLATRPC_DROP_NOT_CLIENT_REQ);
	if (st)
		st->client_pass++;
	if (!strip)
		return XDP_PASS;

	/* Lengths first: the tail adjustment invalidates the pointers. */
	p.hdr->len = bpf_htons(p.body_len - strip);
	p.udp->len = bpf_htons(bpf_ntohs(p.udp->len) - strip);
	p.udp->check = 0;
	if (p.ip) {
		p.ip->tot_len = bpf_htons(bpf_ntohs(p.ip->tot_len) - strip);
		p.ip->check = 0;
		p.ip->check = fr_csum_ip(p.ip);
	} else if (p.ip6) {
		p.ip6->payload_len = bpf_htons(bpf_ntohs(p.ip6->payload_len) - strip);
	}
	if (bpf_xdp_adjust_tail(ctx, -(int)strip))
		return fr_xdp_drop(FLATRPC_DROP_NOT_CLIENT_REQ);
	return XDP_PASS;
}

SEC("tc")
int flatrpc_tc_egress(struct __sk_buff *skb)
{
	struct flatrpc_method_stats *st;
	void *data, *data_end;
	struct fr_pkt p = {};
	int ret;

	/* The stack may keep headers outside the linear part; make just the
	 * header prefix readable, never the whole (possibly GSO) packet. */
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (data + FR_HDRS_MAX > data_end && skb->len > (__u32)(data_end - data))
		bpf_skb_pull_data(skb, skb->len < FR_HDRS_MAX ? skb->len : FR_HDRS_MAX);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;

	ret = fr_parse(data, data_end, skb->len, flatrpc_port, fr_tag_len(), &p);
	/* not this service's: the next filter (another service's) decides */
	if (ret == FR_PASS)
		return TC_ACT_UNSPEC;
	if (ret) {
		fr_count_drop(ret);
		return TC_ACT_SHOT;
	}
	st = fr_stats(p.method);
	if (st)
		st->tx_stack++;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

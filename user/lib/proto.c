/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * proto.c - the FlatRPC protocol core. See proto.h for the contract.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "proto.h"
#include "auth.h"

#define DEF_CALLS	256
#define DEF_FRAME	2048
#define DEF_CACHE	1024

static bool is_pow2(unsigned int v)
{
	return v && !(v & (v - 1));
}

/* ---------------------------------------------------------------- client */

/* One balanced Feistel network on 2h bits, round function SipHash-2-4 of
 * (round, half): a pseudorandom permutation (Luby-Rackoff) for the key. */
static uint64_t feistel(const uint64_t key[2], unsigned int h, uint64_t x)
{
	uint64_t mh = (1ull << h) - 1, l = x >> h, r = x & mh;

	for (uint64_t round = 0; round < PROTO_ID_ROUNDS; round++) {
		uint64_t in = round << 32 | r, t;

		t = l ^ (fr_siphash2((const __u64 *)key, NULL, 0, &in, sizeof(in)) & mh);
		l = r;
		r = t;
	}
	return l << h | r;
}

uint32_t proto_id_perm(const uint64_t key[2], unsigned int bits, uint32_t n)
{
	unsigned int h = (bits + 1) / 2;
	uint64_t x = n & ((1ull << bits) - 1);

	/* An odd width walks the cycle of the next even one until it lands
	 * back inside: still a permutation, under two steps on average. */
	do
		x = feistel(key, h, x);
	while (x >> bits);
	return (uint32_t)x;
}

/* A fresh ID for slot `slot`: the permuted count above the slot's bits. */
static uint32_t next_id(struct proto_cli *c, uint32_t slot)
{
	unsigned int w = 32 - c->slot_bits;

	return (uint32_t)((uint64_t)proto_id_perm(c->id_key, w, c->id_count++) << c->slot_bits) |
	       slot;
}

uint32_t proto_cli_take_id(struct proto_cli *c)
{
	return next_id(c, 0);
}

int proto_cli_init(struct proto_cli *c, const struct proto_cli_cfg *cfg)
{
	unsigned int cap = cfg->capacity ? cfg->capacity : DEF_CALLS;
	unsigned int fs = cfg->frame_size ? cfg->frame_size : DEF_FRAME;

	memset(c, 0, sizeof(*c));
	if (!cfg->svc || !is_pow2(cap) || fs < cfg->hdr_off + sizeof(struct flatrpc_hdr) ||
	    fs < cfg->hdr_off6 + sizeof(struct flatrpc_hdr) ||
	    fs > UINT16_MAX)
		return -EINVAL;
	c->calls = calloc(cap, sizeof(*c->calls));
	c->slab = malloc((size_t)cap * fs);
	if (!c->calls || !c->slab) {
		proto_cli_fini(c);
		return -ENOMEM;
	}
	c->svc = cfg->svc;
	c->mask = cap - 1;
	c->frame_size = fs;
	c->hdr_off = cfg->hdr_off;
	c->hdr_off6 = cfg->hdr_off6 ? cfg->hdr_off6 : cfg->hdr_off;
	c->rto_min = cfg->rto_min_ns ? cfg->rto_min_ns : PROTO_RTO_MIN_NS;
	c->id_key[0] = cfg->id_key[0];
	c->id_key[1] = cfg->id_key[1];
	c->id_count = cfg->first_count;
	while ((1u << c->slot_bits) < cap)
		c->slot_bits++;
	c->cwnd_max = cap * PROTO_CWND_ONE;
	c->cwnd_init = (cfg->cwnd_init ? cfg->cwnd_init : PROTO_CWND_INIT) * PROTO_CWND_ONE;
	if (c->cwnd_init > c->cwnd_max)
		c->cwnd_init = c->cwnd_max;
	c->cwnd_floor = (cfg->cwnd_floor ? cfg->cwnd_floor : PROTO_CWND_FLOOR) * PROTO_CWND_ONE;
	if (c->cwnd_floor > c->cwnd_max)
		c->cwnd_floor = c->cwnd_max;
	for (unsigned int m = 0; m < FLATRPC_MAX_METHODS; m++)
		c->seq_next[m] = cfg->first_seq;
	return 0;
}

void proto_cli_fini(struct proto_cli *c)
{
	free(c->calls);
	free(c->slab);
	c->calls = NULL;
	c->slab = NULL;
}

static const struct flatrpc_method_desc *method_of(const struct proto_cli *c, uint8_t m)
{
	if (m >= c->svc->n_methods || m >= FLATRPC_MAX_METHODS)
		return NULL;
	return &c->svc->methods[m];
}

/* The RTO from the method's estimate, whether or not it is reliable. */
static uint64_t rto_est(const struct proto_cli *c, const struct flatrpc_method_desc *md)
{
	const struct proto_rtt *r = &c->rtt[md->id < FLATRPC_MAX_METHODS ? md->id : 0];
	uint64_t max = (uint64_t)md->timeout_us * 1000, rto;

	if (!r->valid)
		return max;
	rto = r->srtt + 4 * r->rttvar;
	if (rto < c->rto_min)
		rto = c->rto_min;
	/* A spec timeout below the floor still wins: it is the upper bound. */
	return rto < max ? rto : max;
}

uint64_t proto_cli_rto(const struct proto_cli *c, uint8_t method)
{
	const struct flatrpc_method_desc *md = method_of(c, method);

	if (!md)
		return 0;
	if (!(md->flags & FLATRPC_M_RELIABLE))
		return (uint64_t)md->timeout_us * 1000;
	return rto_est(c, md);
}

/* RFC 6298, 2.2 and 2.3, with alpha = 1/8 and beta = 1/4. */
static void rtt_sample(struct proto_rtt *r, uint64_t sample)
{
	uint64_t err;

	if (!r->valid) {
		r->srtt = sample;
		r->rttvar = sample / 2;
		r->valid = 1;
		return;
	}
	err = r->srtt > sample ? r->srtt - sample : sample - r->srtt;
	r->rttvar = (3 * r->rttvar + err) / 4;
	r->srtt = (7 * r->srtt + sample) / 8;
}

static uint8_t *slot_frame(const struct proto_cli *c, const struct proto_call *k)
{
	return c->slab + (size_t)(k - c->calls) * c->frame_size;
}

/* ------------------------------------------------ client: congestion window */

/* The peer's entry, created on first use; PROTO_NO_PEER when all entries
 * have calls out (such a call goes without a window rather than failing). */
static uint8_t peer_get(struct proto_cli *c, fr_addr_t addr, uint16_t port, uint64_t now)
{
	struct proto_peer *best = NULL, *idle = NULL;

	for (unsigned int i = 0; i < PROTO_PEERS; i++) {
		struct proto_peer *p = &c->peers[i];

		if (p->in_use && p->addr == addr && p->port == port) {
			p->last_used = now;
			return (uint8_t)i;
		}
		if (!p->in_use) {
			if (!best)
				best = p;
		} else if (!p->inflight && !p->queued &&
			   (!idle || p->last_used < idle->last_used)) {
			idle = p;
		}
	}
	if (!best)
		best = idle;
	if (!best)
		return PROTO_NO_PEER;
	memset(best, 0, sizeof(*best));
	best->addr = addr;
	best->port = port;
	best->in_use = 1;
	best->last_used = now;
	best->cwnd = c->cwnd_init;
	best->ssthresh = c->cwnd_max;
	return (uint8_t)(best - c->peers);
}

static struct proto_peer *peer_of(struct proto_cli *c, const struct proto_call *k)
{
	return k->peer == PROTO_NO_PEER ? NULL : &c->peers[k->peer];
}

static bool peer_has_room(const struct proto_peer *p)
{
	uint32_t w = p->cwnd / PROTO_CWND_ONE;

	return p->inflight < (w ? w : 1);
}

/* An answer: slow start below ssthresh, then one call per window of answers. */
static void cwnd_grow(struct proto_cli *c, struct proto_peer *p)
{
	if (p->cwnd < p->ssthresh)
		p->cwnd += PROTO_CWND_ONE;
	else
		p->cwnd += PROTO_CWND_ONE * PROTO_CWND_ONE / p->cwnd;
	if (p->cwnd > c->cwnd_max)
		p->cwnd = c->cwnd_max;
}

/* Loss or BUSY of an attempt sent at `sent`. The attempts of one window all
 * fail together; halving once per window (only for attempts sent after the
 * last cut) keeps one burst from collapsing it to 1. A loss stops at the
 * floor (or where a BUSY left the window, if lower); a BUSY goes to 1. */
static void cwnd_cut(struct proto_cli *c, struct proto_peer *p, uint64_t sent, uint64_t now,
		     bool busy)
{
	uint32_t low = busy ? PROTO_CWND_ONE : c->cwnd_floor;

	if (!p || (p->last_cut && sent < p->last_cut))
		return;
	if (low > p->cwnd)
		low = p->cwnd;
	if (low < PROTO_CWND_ONE)
		low = PROTO_CWND_ONE;
	p->ssthresh = p->cwnd / 2;
	if (p->ssthresh < low)
		p->ssthresh = low;
	/* at the floor the window stays, but growth is slow from now on */
	if (p->ssthresh < p->cwnd)
		c->cwnd_cuts++;
	p->cwnd = p->ssthresh;
	p->last_cut = now ? now : 1;
}

uint32_t proto_cli_cwnd(const struct proto_cli *c, fr_addr_t addr, uint16_t port)
{
	for (unsigned int i = 0; i < PROTO_PEERS; i++) {
		const struct proto_peer *p = &c->peers[i];

		if (p->in_use && p->addr == addr && p->port == port)
			return p->cwnd / PROTO_CWND_ONE ? p->cwnd / PROTO_CWND_ONE : 1;
	}
	return 0;
}

int proto_cli_send(struct proto_cli *c, uint8_t method, void *frame, size_t len,
		   uint64_t now, uint32_t *rpc_id)
{
	return proto_cli_send_to(c, 0, 0, method, frame, len, now, rpc_id);
}

int proto_cli_send_to(struct proto_cli *c, fr_addr_t addr, uint16_t port, uint8_t method,
		      void *frame, size_t len, uint64_t now, uint32_t *rpc_id)
{
	const struct flatrpc_method_desc *md = method_of(c, method);
	struct flatrpc_hdr *h;
	struct proto_call *k = NULL;
	struct proto_peer *p;
	uint8_t pi;
	uint32_t id;
	size_t off;
	bool reliable, wait;

	if (!md)
		return -EINVAL;
	off = fr_addr_is_v4(addr) ? c->hdr_off : c->hdr_off6;
	if (len < off + sizeof(*h))
		return FLATRPC_E_PROTO;
	reliable = md->flags & FLATRPC_M_RELIABLE;
	if (reliable && len > c->frame_size)
		return FLATRPC_E_TOOBIG;
	if (c->outstanding > c->mask)
		return FLATRPC_E_BUSY;
	pi = peer_get(c, addr, port, now);
	p = pi == PROTO_NO_PEER ? NULL : &c->peers[pi];
	/* Behind calls already waiting, even when there is room: the peer's
	 * calls leave in order (in-order methods rely on it). */
	wait = p && (p->queued || !peer_has_room(p));
	if (wait && len > c->frame_size)
		return FLATRPC_E_TOOBIG;

	/* Slots are taken in turn, skipping those still held by slow calls, so
	 * one stuck call does not block the whole table. */
	for (uint32_t i = 0; i <= c->mask; i++) {
		uint32_t slot = (c->next_slot + i) & c->mask;

		if (!c->calls[slot].in_use) {
			k = &c->calls[slot];
			c->next_slot = slot + 1;
			id = next_id(c, slot);
			break;
		}
	}
	if (!k)
		return FLATRPC_E_BUSY;

	h = (struct flatrpc_hdr *)((uint8_t *)frame + off);
	h->magic = FLATRPC_MAGIC;
	h->flags = FLATRPC_REQ;
	h->method = method;
	h->status = 0;
	h->rpc_id = htonl(id);
	h->seq = 0;
	if (md->flags & FLATRPC_M_INORDER) {
		h->seq = htons(c->seq_next[method]++);
		/* Only the opening message may create the receiver's stream
		 * state; its retransmissions reuse the stored copy and so keep
		 * the flag, later messages never carry it. */
		if (!c->seq_started[method]) {
			h->flags |= FLATRPC_F_FIRST;
			c->seq_started[method] = 1;
		}
	}

	k->rpc_id = id;
	k->dst = addr;
	k->dst_port = port;
	k->method = method;
	k->rto = proto_cli_rto(c, method);
	k->sent_at = now;
	k->started = now;
	k->attempt_at = now;
	k->deadline = now + k->rto;
	k->order = c->next_order++;
	k->retransmitted = 0;
	k->retries_left = reliable ? md->retries : 0;
	k->frame_len = 0;
	k->hdr_off = (uint8_t)off;
	k->peer = pi;
	k->queued = wait;
	k->busy_count = 0;
	k->left_window = 0;
	k->lost_at = reliable ? PROTO_NO_EXPIRY : now + rto_est(c, md);
	/* A method that can forward() is signed for no epoch: its backend's
	 * is not the one its sender learns (docs/security.md, Replay). */
	k->epoch = p && !(md->flags & FLATRPC_M_FORWARD) ? p->epoch : 0;
	k->epoch_resends = 0;
	/* Lossy calls too: an ACK EPOCH sends any call again. */
	if (len <= c->frame_size) {
		memcpy(slot_frame(c, k), frame, len);
		k->frame_len = (uint16_t)len;
	}
	k->in_use = 1;
	c->outstanding++;
	*rpc_id = id;
	if (wait) {
		k->deadline = 0;	/* may leave as soon as the window opens */
		p->queued++;
		c->n_queued++;
		c->waited++;
		return PROTO_QUEUED;
	}
	if (p)
		p->inflight++;
	return 0;
}

static void release(struct proto_cli *c, struct proto_call *k)
{
	struct proto_peer *p = peer_of(c, k);

	if (p && k->queued) {
		p->queued--;
		c->n_queued--;
	} else if (p && !k->left_window) {
		p->inflight--;
	}
	k->in_use = 0;
	c->outstanding--;
}

void proto_cli_cancel(struct proto_cli *c, uint32_t rpc_id)
{
	struct proto_call *k = &c->calls[rpc_id & c->mask];

	if (k->in_use && k->rpc_id == rpc_id)
		release(c, k);
}

/* Only the called peer answers a call; a forwarding method's backend answers
 * from its own address, so there only the port is held to. */
static bool from_callee(struct proto_cli *c, const struct proto_call *k, fr_addr_t from,
			uint16_t from_port)
{
	const struct flatrpc_method_desc *md = method_of(c, k->method);

	if (from_port == k->dst_port &&
	    (from == k->dst || (md && (md->flags & FLATRPC_M_FORWARD))))
		return true;
	c->foreign++;
	return false;
}

int proto_cli_on_response(struct proto_cli *c, const struct flatrpc_hdr *hdr, fr_addr_t from,
			  uint16_t from_port, uint64_t now, struct proto_done *done)
{
	uint8_t kind = hdr->flags & FLATRPC_KIND_MASK;
	uint32_t id = ntohl(hdr->rpc_id);
	struct proto_call *k = &c->calls[id & c->mask];

	if (hdr->magic != FLATRPC_MAGIC || (kind != FLATRPC_RESP && kind != FLATRPC_ERR))
		return FLATRPC_E_PROTO;
	/* A late answer to a call that already timed out, or to an attempt
	 * whose twin answer already arrived, lands here. A call waiting after
	 * a BUSY has no attempt at the server. */
	if (!k->in_use || k->rpc_id != id || k->method != hdr->method || k->queued) {
		c->stale++;
		return 0;
	}
	if (!from_callee(c, k, from, from_port))
		return 0;
	/* Karn: an answer to a retransmitted call may be to any attempt. */
	if (!k->retransmitted && now >= k->sent_at)
		rtt_sample(&c->rtt[k->method], now - k->sent_at);
	/* Any answer, an ANF's ERR included, is progress: policy is not
	 * congestion. */
	if (peer_of(c, k))
		cwnd_grow(c, peer_of(c, k));
	done->rpc_id = id;
	done->method = k->method;
	done->status = 0;
	done->err = 0;
	done->started = k->started;
	if (kind == FLATRPC_ERR) {
		done->status = hdr->status;
		/* 1..127 and state_full come from the spec's ANFs; the rest of
		 * 128+ from the server itself. An ERR without a status is still
		 * a failure, not a success. */
		done->err = FLATRPC_ANF_IS_ERR(hdr->status) ? FLATRPC_E_ANF : FLATRPC_E_REMOTE;
	}
	release(c, k);
	return 1;
}

/*
 * A call of an in-order stream was given up: its sequence number will never
 * arrive, and the receiver would hold everything after it forever. FIRST
 * tells the receiver to skip the gap; it never rewinds, so stale copies stay
 * dups. Only the oldest call still outstanding carries it (from its next
 * transmission on), or, with none, the next new one: had every call in
 * flight carried it, a later one overtaking an earlier one on the wire would
 * restart the stream past the earlier one, which then never runs. If the
 * oldest is lost in turn, giving it up moves FIRST to the next.
 */
static void abandon_seq(struct proto_cli *c, uint8_t method, const struct proto_call *gone)
{
	const struct flatrpc_method_desc *md = method_of(c, method);
	bool reliable = md && (md->flags & FLATRPC_M_RELIABLE);
	struct proto_call *oldest = NULL;

	for (uint32_t i = 0; i <= c->mask; i++) {
		struct proto_call *k = &c->calls[i];

		/* a lossy call's copy leaves again only if it still waits */
		if (k != gone && k->in_use && k->method == method && k->frame_len &&
		    (reliable || k->queued) &&
		    (!oldest || k->order < oldest->order))
			oldest = k;
	}
	if (!oldest) {
		c->seq_started[method] = 0;
		return;
	}
	((struct flatrpc_hdr *)(slot_frame(c, oldest) + oldest->hdr_off))->flags |= FLATRPC_F_FIRST;
}

/* Ends a call that got no answer: its slot is freed, and an in-order
 * stream moves FIRST on, past the gap it leaves. */
static void give_up(struct proto_cli *c, struct proto_call *k)
{
	const struct flatrpc_method_desc *md = method_of(c, k->method);

	if (md && (md->flags & FLATRPC_M_INORDER))
		abandon_seq(c, k->method, k);
	release(c, k);
}

/*
 * The receiver did not take the call's request: it was signed for no epoch
 * the receiver holds. Nothing was delivered, so no retry is spent and the
 * window is unchanged; the attempt starts again now. A copy of an ACK the
 * call was already sent again for names the epoch in use and changes
 * nothing.
 */
static int on_ack_epoch(struct proto_cli *c, struct proto_call *k, const struct flatrpc_hdr *hdr,
			uint64_t now, struct proto_done *done)
{
	const struct flatrpc_epoch_body *b = (const void *)(hdr + 1);
	struct proto_peer *p = peer_of(c, k);
	uint32_t epoch;

	if (ntohs(hdr->len) != sizeof(*b))
		return FLATRPC_E_PROTO;
	epoch = ntohl(b->epoch);
	if (!epoch || !FLATRPC_EPOCH_HINT(epoch))
		return FLATRPC_E_PROTO;
	if (epoch == k->epoch)
		return 0;
	c->epoch_acks++;
	if (p)
		p->epoch = epoch;
	done->rpc_id = k->rpc_id;
	done->method = k->method;
	done->status = hdr->status;
	if (!k->frame_len || ++k->epoch_resends > PROTO_EPOCH_RESENDS_MAX) {
		done->err = FLATRPC_E_TIMEOUT;
		give_up(c, k);
		c->timeouts++;
		return 1;
	}
	k->epoch = epoch;
	/* The refused copy went no further than the receiver's XDP: the
	 * round trip starts again with this one. */
	k->sent_at = now;
	k->attempt_at = now;
	k->deadline = now + k->rto;
	if (k->lost_at != PROTO_NO_EXPIRY)
		k->lost_at = now + rto_est(c, method_of(c, k->method));
	done->err = 0;
	return PROTO_ACK_RESEND;
}

const void *proto_cli_frame(const struct proto_cli *c, uint32_t rpc_id, uint16_t *len)
{
	const struct proto_call *k = &c->calls[rpc_id & c->mask];

	if (!k->in_use || k->rpc_id != rpc_id || !k->frame_len)
		return NULL;
	*len = k->frame_len;
	return c->slab + (size_t)(k - c->calls) * c->frame_size;
}

uint32_t proto_cli_call_epoch(const struct proto_cli *c, uint32_t rpc_id)
{
	const struct proto_call *k = &c->calls[rpc_id & c->mask];

	return k->in_use && k->rpc_id == rpc_id ? k->epoch : 0;
}

int proto_cli_on_ack(struct proto_cli *c, const struct flatrpc_hdr *hdr, fr_addr_t from,
		     uint16_t from_port, uint64_t now, struct proto_done *done)
{
	uint32_t id = ntohl(hdr->rpc_id);
	struct proto_call *k = &c->calls[id & c->mask];
	const struct flatrpc_method_desc *md;
	struct proto_peer *p;

	if (hdr->magic != FLATRPC_MAGIC || (hdr->flags & FLATRPC_KIND_MASK) != FLATRPC_ACK ||
	    (hdr->status != FLATRPC_ACK_PENDING && hdr->status != FLATRPC_ACK_BUSY &&
	     hdr->status != FLATRPC_ACK_EPOCH))
		return FLATRPC_E_PROTO;
	if (!k->in_use || k->rpc_id != id || k->method != hdr->method || k->queued) {
		c->stale++;
		return 0;
	}
	if (!from_callee(c, k, from, from_port))
		return 0;
	if (hdr->status == FLATRPC_ACK_EPOCH)
		return on_ack_epoch(c, k, hdr, now, done);
	if (hdr->status == FLATRPC_ACK_PENDING) {
		/* Received and waiting its turn: retransmitting now would only
		 * add load; the answer comes, or this attempt times out. It is
		 * out of the network, so out of the window. */
		c->acks++;
		/* It waits for a gap or a queue, which an RTO need not cover:
		 * backing off spares the copies sent while it waits. */
		md = method_of(c, k->method);
		k->rto *= 2;
		if (k->rto > (uint64_t)md->timeout_us * 1000)
			k->rto = (uint64_t)md->timeout_us * 1000;
		k->deadline = now + k->rto;
		p = peer_of(c, k);
		if (!k->left_window && p)
			p->inflight--;
		k->left_window = 1;
		return 0;
	}
	c->busy++;
	md = method_of(c, k->method);
	p = peer_of(c, k);
	cwnd_cut(c, p, k->attempt_at, now, true);
	if (!(md->flags & FLATRPC_M_RELIABLE) || !k->frame_len ||
	    ++k->busy_count > PROTO_BUSY_MAX) {
		/* A lossy call is never sent twice; it fails fast instead. */
		done->rpc_id = id;
		done->method = k->method;
		done->status = hdr->status;
		done->err = (md->flags & FLATRPC_M_RELIABLE) ? FLATRPC_E_TIMEOUT
							      : FLATRPC_E_OVERLOADED;
		give_up(c, k);
		if (done->err == FLATRPC_E_TIMEOUT)
			c->timeouts++;
		return 1;
	}
	/* Not delivered, so not lost: back to the head of the peer's queue,
	 * out again after one RTO, with its retries intact. */
	if (p) {
		if (!k->left_window)
			p->inflight--;
		p->queued++;
		c->n_queued++;
	}
	k->left_window = 0;
	k->queued = 1;
	k->deadline = now + k->rto;
	return 0;
}

/* Leaves the window queue first: the higher priority, then the older.
 * One method has one level, so a method's calls keep their order. */
static bool goes_before(const struct proto_cli *c, const struct proto_call *a,
			const struct proto_call *b)
{
	uint8_t pa = c->svc->methods[a->method].priority;
	uint8_t pb = c->svc->methods[b->method].priority;

	return pa != pb ? pa > pb : a->order < b->order;
}

/* The head of each peer's window queue, if the window lets it go and its
 * BUSY wait is over; of those, the one registered first. NULL: none. */
static struct proto_call *next_to_send(struct proto_cli *c, uint64_t now)
{
	struct proto_call *head[PROTO_PEERS] = { 0 }, *best = NULL;

	for (uint32_t i = 0; i <= c->mask; i++) {
		struct proto_call *k = &c->calls[i];

		if (!k->in_use || !k->queued || k->peer == PROTO_NO_PEER)
			continue;
		if (!head[k->peer] || goes_before(c, k, head[k->peer]))
			head[k->peer] = k;
	}
	for (unsigned int p = 0; p < PROTO_PEERS; p++) {
		struct proto_call *k = head[p];

		if (k && k->deadline <= now && peer_has_room(&c->peers[p]) &&
		    (!best || k->order < best->order))
			best = k;
	}
	return best;
}

int proto_cli_expire(struct proto_cli *c, uint64_t now, struct proto_event *ev, int max)
{
	struct proto_call *q;
	int n = 0;

	if (!c->outstanding)
		return 0;
	for (uint32_t i = 0; i <= c->mask && n < max; i++) {
		struct proto_call *k = &c->calls[i];
		const struct flatrpc_method_desc *md;

		if (!k->in_use || k->queued)
			continue;
		if (!k->left_window && k->lost_at <= now) {
			/* A lossy call past its RTO gives its slot back and
			 * still waits for a late answer. It does not cut the
			 * window: a lost lossy message must delay no other
			 * RPC, and the method said loss is acceptable.
			 * Reliable timeouts and BUSY still cut it. */
			struct proto_peer *p = peer_of(c, k);

			if (p)
				p->inflight--;
			k->left_window = 1;
		}
		if (k->deadline > now)
			continue;
		md = method_of(c, k->method);
		/* A reliable attempt is lost: the peer's network or receiver
		 * is overloaded (or the frame was corrupted; we cannot tell).
		 * One the receiver said it holds was not lost. */
		if ((md->flags & FLATRPC_M_RELIABLE) && !k->left_window)
			cwnd_cut(c, peer_of(c, k), k->attempt_at, now, false);
		ev[n].rpc_id = k->rpc_id;
		ev[n].method = k->method;
		if (k->retries_left && k->frame_len) {
			uint8_t *f = slot_frame(c, k);
			struct flatrpc_hdr *h = (struct flatrpc_hdr *)(f + k->hdr_off);

			h->flags |= FLATRPC_F_RETX;
			k->retries_left--;
			k->retransmitted = 1;
			/* Exponential backoff, capped at the spec's timeout. */
			k->rto *= 2;
			if (k->rto > (uint64_t)md->timeout_us * 1000)
				k->rto = (uint64_t)md->timeout_us * 1000;
			/* Measured from now, not the old deadline: a caller
			 * that polls late must not fire a burst of attempts. */
			k->deadline = now + k->rto;
			k->attempt_at = now;
			ev[n].kind = PROTO_EV_RETX;
			ev[n].frame = f;
			ev[n].len = k->frame_len;
			c->retransmits++;
		} else {
			ev[n].kind = PROTO_EV_TIMEOUT;
			ev[n].frame = NULL;
			ev[n].len = 0;
			give_up(c, k);
			c->timeouts++;
		}
		n++;
	}
	while (c->n_queued && n < max && (q = next_to_send(c, now))) {
		struct proto_peer *p = &c->peers[q->peer];

		p->queued--;
		p->inflight++;
		c->n_queued--;
		q->queued = 0;
		/* Its wait was not a round trip: the RTT runs from now. */
		if (!q->retransmitted)
			q->sent_at = now;
		q->attempt_at = now;
		if (!q->busy_count)
			q->rto = proto_cli_rto(c, q->method);
		q->deadline = now + q->rto;
		if (q->lost_at != PROTO_NO_EXPIRY)
			q->lost_at = now + rto_est(c, method_of(c, q->method));
		ev[n].kind = PROTO_EV_SEND;
		ev[n].rpc_id = q->rpc_id;
		ev[n].method = q->method;
		ev[n].frame = slot_frame(c, q);
		ev[n].len = q->frame_len;
		n++;
	}
	return n;
}

uint64_t proto_cli_next_expiry(const struct proto_cli *c, uint64_t now)
{
	uint64_t best = PROTO_NO_EXPIRY;

	if (!c->outstanding)
		return best;
	for (uint32_t i = 0; i <= c->mask; i++) {
		const struct proto_call *k = &c->calls[i];

		/* A waiting call only wakes the caller for the end of a BUSY
		 * wait; the window opens on an answer or a timeout. */
		if (!k->in_use || (k->queued && !k->deadline))
			continue;
		if (k->deadline < best)
			best = k->deadline;
		if (!k->queued && !k->left_window && k->lost_at < best)
			best = k->lost_at;
	}
	return best;
}

/* ---------------------------------------------------------------- server */

int proto_srv_init(struct proto_srv *s, const struct proto_srv_cfg *cfg)
{
	unsigned int cap = cfg && cfg->capacity ? cfg->capacity : DEF_CACHE;
	unsigned int fs = cfg && cfg->frame_size ? cfg->frame_size : DEF_FRAME;
	uint32_t nb = 1;

	memset(s, 0, sizeof(*s));
	if (fs > UINT16_MAX || cap > (1u << 24))
		return -EINVAL;
	/* Two buckets per entry keeps chains short without resizing. */
	while (nb < 2 * cap)
		nb <<= 1;
	s->ent = calloc(cap, sizeof(*s->ent));
	s->bucket = malloc(nb * sizeof(*s->bucket));
	s->slab = malloc((size_t)cap * fs);
	if (!s->ent || !s->bucket || !s->slab) {
		proto_srv_fini(s);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < nb; i++)
		s->bucket[i] = -1;
	s->capacity = cap;
	s->bucket_mask = nb - 1;
	s->frame_size = fs;
	s->ttl_ns = cfg ? cfg->ttl_ns : 0;
	/* A quarter, not a half: a replay that XDP admitted just before the
	 * second rotation may still wait in the receive queues; it would
	 * have to wait behind half the cache's worth of new requests. */
	s->rotate_every = cap / 4 ? cap / 4 : 1;
	return 0;
}

void proto_srv_fini(struct proto_srv *s)
{
	free(s->ent);
	free(s->bucket);
	free(s->slab);
	s->ent = NULL;
	s->bucket = NULL;
	s->slab = NULL;
}

static uint32_t srv_hash(const struct proto_srv *s, fr_addr_t addr, uint16_t port, uint32_t id)
{
	uint64_t x = ((uint64_t)fr_addr_fold(addr) << 32 | id) ^ ((uint64_t)port << 17);

	/* A 64-bit multiplicative mix: rpc_ids are sequential per client, so
	 * low bits alone would pile one client into neighbouring buckets. */
	x *= 0x9E3779B97F4A7C15ull;
	return (uint32_t)(x >> 32) & s->bucket_mask;
}

static int32_t srv_find(const struct proto_srv *s, fr_addr_t addr, uint16_t port, uint32_t id)
{
	for (int32_t i = s->bucket[srv_hash(s, addr, port, id)]; i >= 0; i = s->ent[i].next) {
		const struct proto_srv_entry *e = &s->ent[i];

		if (e->rpc_id == id && e->addr == addr && e->port == port)
			return i;
	}
	return -1;
}

static void srv_unlink(struct proto_srv *s, int32_t idx)
{
	struct proto_srv_entry *e = &s->ent[idx];
	int32_t *pp = &s->bucket[srv_hash(s, e->addr, e->port, e->rpc_id)];

	while (*pp >= 0 && *pp != idx)
		pp = &s->ent[*pp].next;
	if (*pp == idx)
		*pp = e->next;
	e->in_use = 0;
}

const void *proto_srv_lookup(struct proto_srv *s, fr_addr_t addr, uint16_t port,
			     uint32_t rpc_id, uint64_t now, uint16_t *len)
{
	int32_t i = srv_find(s, addr, port, rpc_id);

	if (i < 0 || (s->ttl_ns && now - s->ent[i].stored_at > s->ttl_ns)) {
		s->misses++;
		return NULL;
	}
	s->hits++;
	*len = s->ent[i].len;
	return s->slab + (size_t)i * s->frame_size;
}

int proto_srv_store(struct proto_srv *s, fr_addr_t addr, uint16_t port, uint32_t rpc_id,
		    const void *frame, size_t len, uint64_t now)
{
	int32_t i;
	struct proto_srv_entry *e;
	uint32_t h;

	if (len > s->frame_size)
		return FLATRPC_E_TOOBIG;
	i = srv_find(s, addr, port, rpc_id);
	if (i < 0) {
		if (++s->since_rotation >= s->rotate_every) {
			s->since_rotation = 0;
			s->rotate_due = true;
		}
		i = (int32_t)s->head;
		s->head = (s->head + 1) % s->capacity;
		if (s->ent[i].in_use) {
			srv_unlink(s, i);
			s->evictions++;
		}
		e = &s->ent[i];
		e->addr = addr;
		e->port = port;
		e->rpc_id = rpc_id;
		h = srv_hash(s, addr, port, rpc_id);
		e->next = s->bucket[h];
		s->bucket[h] = i;
		e->in_use = 1;
	}
	e = &s->ent[i];
	e->stored_at = now;
	e->len = (uint16_t)len;
	memcpy(s->slab + (size_t)i * s->frame_size, frame, len);
	return 0;
}

bool proto_srv_rotate_due(struct proto_srv *s, uint64_t now)
{
	if (!s->rotated_at)
		s->rotated_at = now;
	if (s->ttl_ns && now - s->rotated_at >= s->ttl_ns / 2)
		s->rotate_due = true;
	if (!s->rotate_due)
		return false;
	s->rotate_due = false;
	s->rotated_at = now;
	s->rotations++;
	return true;
}

enum proto_srv_verdict proto_srv_on_request(struct proto_srv *s, const struct flatrpc_hdr *hdr,
					    bool reliable, fr_addr_t addr, uint16_t port,
					    uint64_t now, const void **frame, uint16_t *len)
{
	bool dup = hdr->flags & FLATRPC_F_DUP;
	const void *f = NULL;

	if (dup || reliable)
		f = proto_srv_lookup(s, addr, port, ntohl(hdr->rpc_id), now, len);
	if (f) {
		*frame = f;
		s->dup_answered++;
		return PROTO_SRV_CACHED;
	}
	if (dup) {
		s->dup_dropped++;
		return PROTO_SRV_DROP;
	}
	return PROTO_SRV_EXECUTE;
}

/* ------------------------------------------------------- server: hold-forever */

#define HOLD_MASK	(PROTO_HOLD_SLOTS - 1)
_Static_assert((PROTO_HOLD_SLOTS & HOLD_MASK) == 0, "slots are indexed by seq % SLOTS");
_Static_assert(PROTO_HOLD_SLOTS <= 64, "held_mask has one bit per slot");

int proto_hold_init(struct proto_hold *h, unsigned int frame_size)
{
	memset(h, 0, sizeof(*h));
	if (!frame_size || frame_size > UINT16_MAX)
		return -EINVAL;
	h->slab = malloc((size_t)PROTO_HOLD_STREAMS * PROTO_HOLD_SLOTS * frame_size);
	if (!h->slab)
		return -ENOMEM;
	h->frame_size = frame_size;
	return 0;
}

void proto_hold_fini(struct proto_hold *h)
{
	free(h->slab);
	h->slab = NULL;
}

static uint8_t *hold_slot(const struct proto_hold *h, const struct proto_hold_stream *st,
			  unsigned int slot)
{
	size_t i = (size_t)(st - h->st) * PROTO_HOLD_SLOTS + slot;

	return h->slab + i * h->frame_size;
}

static struct proto_hold_stream *hold_find(struct proto_hold *h, fr_addr_t addr, uint16_t port,
					   uint8_t method)
{
	for (unsigned int i = 0; i < PROTO_HOLD_STREAMS; i++) {
		struct proto_hold_stream *st = &h->st[i];

		if (st->in_use && st->addr == addr && st->port == port && st->method == method)
			return st;
	}
	return NULL;
}

static struct proto_hold_stream *hold_new(struct proto_hold *h, fr_addr_t addr, uint16_t port,
					  uint8_t method, uint16_t expected)
{
	struct proto_hold_stream *st = NULL, *own = NULL, *free_st = NULL;
	unsigned int mine = 0;

	for (unsigned int i = 0; i < PROTO_HOLD_STREAMS; i++) {
		struct proto_hold_stream *x = &h->st[i];

		if (!x->in_use) {
			if (!free_st)
				free_st = x;
			continue;
		}
		if (!st || x->last_used < st->last_used)
			st = x;
		if (x->addr == addr) {
			mine++;
			if (!own || x->last_used < own->last_used)
				own = x;
		}
	}
	/* A host at its share makes room among its own streams: opening
	 * streams from many ports pushes out no other host's. */
	if (mine >= PROTO_HOLD_PER_PEER) {
		st = own;
		h->peer_full++;
	} else if (free_st) {
		st = free_st;
	}
	if (st->in_use)
		h->evicted += (uint64_t)__builtin_popcountll(st->held_mask);
	memset(st, 0, sizeof(*st));
	st->addr = addr;
	st->port = port;
	st->method = method;
	st->expected = expected;
	st->in_use = 1;
	return st;
}

enum proto_hold_verdict proto_hold_on_request(struct proto_hold *h, fr_addr_t addr,
					      uint16_t port, uint8_t method, uint16_t seq,
					      bool ahead, int32_t kern_expected,
					      const void *frame, size_t len, uint64_t now,
					      struct proto_hold_stream **stream)
{
	struct proto_hold_stream *st = hold_find(h, addr, port, method);
	unsigned int slot = seq & HOLD_MASK;
	uint64_t bit = 1ull << slot;
	int16_t delta;

	if (!st) {
		/* An unmarked request starts the library's view of the stream;
		 * an ahead one can only be placed against the kernel's. */
		if (ahead && kern_expected < 0) {
			h->late++;
			return PROTO_HOLD_DROP;
		}
		st = hold_new(h, addr, port, method, ahead ? (uint16_t)kern_expected : seq);
	}
	st->last_used = now;
	delta = (int16_t)(uint16_t)(seq - st->expected);

	if (delta < 0) {
		/* Ran already (the cache had no answer, so it was evicted or
		 * never reliable): never run twice. */
		h->late++;
		return PROTO_HOLD_DROP;
	}
	if (ahead && delta > 0) {
		if (delta >= PROTO_HOLD_SLOTS || len > h->frame_size) {
			h->overflow++;
			return PROTO_HOLD_DROP;
		}
		if (st->held_mask & bit) {
			h->held_dup++;
			return PROTO_HOLD_PENDING;
		}
		memcpy(hold_slot(h, st, slot), frame, len);
		st->held_seq[slot] = seq;
		st->held_len[slot] = (uint16_t)len;
		st->held_mask |= bit;
		h->held++;
		return PROTO_HOLD_HELD;
	}
	if (!ahead && delta > 0) {
		/* The kernel let it through out of our order: FIRST (the
		 * sender gave up on the gap) or a stream the kernel restarted.
		 * What we hold before it was admitted and runs first. */
		st->restart = seq;
		st->flushing = st->held_mask != 0;
		h->restarts++;
	}
	/* This copy runs; a held copy of the same request must not. */
	if ((st->held_mask & bit) && st->held_seq[slot] == seq)
		st->held_mask &= ~bit;
	st->expected = seq + 1;
	/* The kernel advanced itself for an unmarked request. */
	if (ahead)
		st->kern_behind = 1;
	*stream = st;
	return PROTO_HOLD_EXEC;
}

const void *proto_hold_skipped(struct proto_hold *h, struct proto_hold_stream *st,
			       uint16_t *len)
{
	int best = -1;
	int16_t best_d = 0;

	if (!st->flushing)
		return NULL;
	for (unsigned int i = 0; i < PROTO_HOLD_SLOTS; i++) {
		int16_t d;

		if (!(st->held_mask & (1ull << i)))
			continue;
		d = (int16_t)(uint16_t)(st->held_seq[i] - st->restart);
		if (d < 0 && (best < 0 || d < best_d)) {
			best = i;
			best_d = d;
		}
	}
	if (best < 0) {
		st->flushing = 0;
		return NULL;
	}
	st->held_mask &= ~(1ull << best);
	*len = st->held_len[best];
	return hold_slot(h, st, (unsigned int)best);
}

const void *proto_hold_next(struct proto_hold *h, struct proto_hold_stream *st,
			    uint16_t *len)
{
	unsigned int slot = st->expected & HOLD_MASK;

	if (st->flushing || !(st->held_mask & (1ull << slot)) ||
	    st->held_seq[slot] != st->expected)
		return NULL;
	st->held_mask &= ~(1ull << slot);
	st->expected++;
	st->kern_behind = 1;
	*len = st->held_len[slot];
	return hold_slot(h, st, slot);
}

bool proto_hold_sync(struct proto_hold_stream *st, uint16_t *expected)
{
	if (!st->kern_behind)
		return false;
	st->kern_behind = 0;
	*expected = st->expected;
	return true;
}

/* ------------------------------------------------------- server: priority */

int proto_prio_init(struct proto_prio *p, unsigned int cap)
{
	memset(p, 0, sizeof(*p));
	if (!cap)
		return -EINVAL;
	for (unsigned int l = 0; l < FLATRPC_PRIO_LEVELS; l++) {
		p->q[l] = calloc(cap, sizeof(*p->q[l]));
		if (!p->q[l]) {
			proto_prio_fini(p);
			return -ENOMEM;
		}
	}
	p->cap = cap;
	return 0;
}

void proto_prio_fini(struct proto_prio *p)
{
	for (unsigned int l = 0; l < FLATRPC_PRIO_LEVELS; l++) {
		free(p->q[l]);
		p->q[l] = NULL;
	}
}

static uint64_t ran_below(const struct proto_prio *p, unsigned int level)
{
	uint64_t n = 0;

	for (unsigned int l = 0; l < level; l++)
		n += p->ran[l];
	return n;
}

int proto_prio_push(struct proto_prio *p, unsigned int level, const struct proto_prio_item *it)
{
	struct proto_prio_item *slot;

	if (level > FLATRPC_PRIO_MAX)
		level = FLATRPC_PRIO_MAX;
	if (p->count[level] == p->cap)
		return -ENOSPC;
	slot = &p->q[level][(p->head[level] + p->count[level]) % p->cap];
	*slot = *it;
	slot->lower_mark = ran_below(p, level);
	for (unsigned int l = 0; l < level; l++)
		p->bypassed[level] += p->count[l];
	p->count[level]++;
	p->total++;
	return 0;
}

bool proto_prio_pop(struct proto_prio *p, struct proto_prio_item *it, unsigned int *level)
{
	for (int l = FLATRPC_PRIO_MAX; l >= 0; l--) {
		uint64_t overtaken;

		if (!p->count[l])
			continue;
		*it = p->q[l][p->head[l]];
		p->head[l] = (p->head[l] + 1) % p->cap;
		p->count[l]--;
		p->total--;
		overtaken = ran_below(p, (unsigned int)l) - it->lower_mark;
		if (overtaken > p->overtaken_max[l])
			p->overtaken_max[l] = overtaken;
		p->ran[l]++;
		*level = (unsigned int)l;
		return true;
	}
	return false;
}

bool proto_prio_has(const struct proto_prio *p, fr_addr_t peer, uint16_t port, uint32_t rpc_id)
{
	for (unsigned int l = 0; l < FLATRPC_PRIO_LEVELS; l++)
		for (uint32_t i = 0; i < p->count[l]; i++) {
			const struct proto_prio_item *it = &p->q[l][(p->head[l] + i) % p->cap];

			if (it->rpc_id == rpc_id && it->peer == peer && it->port == port)
				return true;
		}
	return false;
}

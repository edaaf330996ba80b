/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_faults.c - the whole transport path under simulated faults, in
 * simulated time: the client call state machine (proto_cli_*), the kernel's
 * in-order decision (fr_seq_decide, the code XDP runs), the server response
 * cache (proto_srv_*) and the hold buffer (proto_hold_*), wired together the
 * way sock.c and kern/flatrpc.bpf.c wire them, over a simulated network that
 * loses (random or in bursts), duplicates, delays and reorders frames.
 *
 * test_proto.c and test_seq.c check each piece against hand-written cases.
 * Here thousands of calls run through all of them at once, and the test
 * checks the transport's promises on what it saw happen, not on the core's
 * counters: every call ends exactly once, ok or timed out; a reliable
 * request runs at most once (exactly once when it succeeded); in-order
 * requests run in the order sent; a lossy call is sent once; a lossy call
 * whose messages all arrived succeeds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "proto.h"
#include "../../kern/seq.h"

#define US		1000ull
#define HDR_OFF		42
#define BODY_LEN	8
#define FRAME_LEN	(HDR_OFF + sizeof(struct flatrpc_hdr) + BODY_LEN)
#define CLI_ADDR	0x0a4d0102u
#define CLI_PORT	0x3412
#define MAX_CALLS	8192
#define MAX_PKTS	4096
#define WINDOW		32

enum { M_REL, M_LOSSY, M_ORD, M_DROP, N_METHODS };

static const struct flatrpc_method_desc methods[N_METHODS] = {
	[M_REL]   = { .name = "rel", .id = M_REL, .flags = FLATRPC_M_RELIABLE,
		      .timeout_us = 1000, .retries = 4 },
	[M_LOSSY] = { .name = "lossy", .id = M_LOSSY, .timeout_us = 500 },
	/* hold-forever */
	[M_ORD]   = { .name = "ord", .id = M_ORD,
		      .flags = FLATRPC_M_RELIABLE | FLATRPC_M_INORDER,
		      .timeout_us = 2000, .retries = 4 },
	/* inorder(strategy="drop"), lossy */
	[M_DROP]  = { .name = "drop", .id = M_DROP,
		      .flags = FLATRPC_M_INORDER | FLATRPC_M_INORDER_DROP,
		      .timeout_us = 500 },
};

static const struct flatrpc_service_desc svc = {
	.name = "faults", .spec_hash = 7, .port = 7447,
	.n_methods = N_METHODS, .methods = methods,
};

static bool reliable(uint8_t m) { return methods[m].flags & FLATRPC_M_RELIABLE; }

/* ------------------------------------------------------------- network */

enum loss_model { LOSS_RANDOM, LOSS_BURST };

struct net_cfg {
	enum loss_model	model;
	uint32_t	req_loss_ppm;	/* RANDOM: per frame; BURST: chance to enter a burst */
	uint32_t	resp_loss_ppm;
	uint32_t	dup_ppm;	/* of frames not lost, both directions */
	unsigned int	burst_len;	/* BURST: frames lost in a row once in a burst */
	uint64_t	delay;		/* one way, ns */
	uint64_t	jitter;		/* uniform extra delay in [0, jitter): reorders */
};

struct pkt {
	uint64_t	at;		/* delivery time */
	uint64_t	order;		/* send order, to count reorderings */
	bool		to_srv;
	uint16_t	len;
	uint8_t		b[FRAME_LEN];
};

struct sim {
	struct net_cfg	net;
	uint64_t	rng;
	uint64_t	now;
	struct pkt	q[MAX_PKTS];
	int		nq;
	uint64_t	sent_order;
	uint64_t	last_delivered[2];	/* per direction, send order */
	unsigned int	burst_left[2];

	/* client */
	struct proto_cli cli;
	struct { uint32_t id; int idx; } live[WINDOW];
	int		n_calls;
	uint8_t		method_of[MAX_CALLS];
	uint32_t	sends[MAX_CALLS];	/* transmissions, retransmissions included */
	uint32_t	ends[MAX_CALLS];	/* completions reported to the caller */
	int		result[MAX_CALLS];	/* 0 or FLATRPC_E_TIMEOUT */
	uint64_t	sent_at[MAX_CALLS];
	uint32_t	resp_in[MAX_CALLS];	/* answers that reached the client in time */

	/* server: the kernel's seqs entry (one client) and the library */
	int		k_have[N_METHODS];
	uint16_t	k_expected[N_METHODS];
	struct proto_srv srv;
	struct proto_hold hold;
	uint32_t	req_in[MAX_CALLS];	/* copies that reached the server's XDP */
	uint32_t	execs[MAX_CALLS];
	int		last_exec[N_METHODS];	/* call index, -1 before the first */
	uint16_t	last_seq[N_METHODS];
	int		seq_wrapped[N_METHODS];
	int		order_bad;

	/* what the faults did, so a scenario can show it was not too mild */
	unsigned long	lost, duplicated, reordered, kdrops, acks_sent, queued;
};

static struct sim S;

static uint32_t rnd(struct sim *s)
{
	/* xorshift64*: fixed seeds make every run the same run */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return (uint32_t)((s->rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static bool chance(struct sim *s, uint32_t ppm)
{
	return ppm && rnd(s) % 1000000u < ppm;
}

static bool lose(struct sim *s, bool to_srv)
{
	uint32_t ppm = to_srv ? s->net.req_loss_ppm : s->net.resp_loss_ppm;
	unsigned int *left = &s->burst_left[to_srv];

	if (s->net.model == LOSS_RANDOM)
		return chance(s, ppm);
	if (*left) {
		(*left)--;
		return true;
	}
	if (chance(s, ppm)) {
		*left = s->net.burst_len - 1;
		return true;
	}
	return false;
}

static void enqueue(struct sim *s, bool to_srv, const void *frame, size_t len, uint64_t order)
{
	struct pkt *p;

	assert_true(s->nq < MAX_PKTS);
	assert_true(len <= FRAME_LEN);
	p = &s->q[s->nq++];
	p->at = s->now + s->net.delay + (s->net.jitter ? rnd(s) % s->net.jitter : 0);
	p->order = order;
	p->to_srv = to_srv;
	p->len = (uint16_t)len;
	memcpy(p->b, frame, len);
}

static void transmit(struct sim *s, bool to_srv, const void *frame, size_t len)
{
	uint64_t order = s->sent_order++;

	if (lose(s, to_srv)) {
		s->lost++;
		return;
	}
	enqueue(s, to_srv, frame, len, order);
	if (chance(s, s->net.dup_ppm)) {
		s->duplicated++;
		enqueue(s, to_srv, frame, len, order);
	}
}

static struct flatrpc_hdr *hdr(void *frame)
{
	return (struct flatrpc_hdr *)((uint8_t *)frame + HDR_OFF);
}

static uint32_t body_idx(const void *frame)
{
	uint32_t v;

	memcpy(&v, (const uint8_t *)frame + HDR_OFF + sizeof(struct flatrpc_hdr), sizeof(v));
	return v;
}

/* -------------------------------------------------------------- server */

static void srv_execute(struct sim *s, const void *req, uint16_t len)
{
	const struct flatrpc_hdr *qh = (const struct flatrpc_hdr *)((const uint8_t *)req + HDR_OFF);
	uint8_t resp[FRAME_LEN];
	uint32_t idx = body_idx(req);
	uint8_t m = qh->method;

	assert_true(idx < (uint32_t)s->n_calls);
	s->execs[idx]++;
	if (methods[m].flags & FLATRPC_M_INORDER) {
		/* the client numbers calls of a method in index order */
		if (s->last_exec[m] >= 0 && (int)idx <= s->last_exec[m])
			s->order_bad++;
		if (s->last_exec[m] >= 0 && ntohs(qh->seq) < s->last_seq[m])
			s->seq_wrapped[m]++;
		s->last_exec[m] = (int)idx;
		s->last_seq[m] = ntohs(qh->seq);
	}
	/* the answer echoes the request's body, so it names its call */
	memcpy(resp, req, len);
	hdr(resp)->flags = FLATRPC_RESP;
	hdr(resp)->status = 0;
	if (reliable(m))
		assert_int_equal(proto_srv_store(&s->srv, CLI_ADDR, CLI_PORT, ntohl(qh->rpc_id),
						 resp, len, s->now), 0);
	transmit(s, false, resp, len);
}

/* What XDP does before the library sees a request: kern/flatrpc.bpf.c. */
static bool srv_xdp(struct sim *s, struct flatrpc_hdr *qh)
{
	uint8_t m = qh->method;
	uint32_t mf = methods[m].flags;
	uint16_t next;
	int store, v;

	qh->flags &= (uint8_t)~(FLATRPC_F_DUP | FLATRPC_F_AHEAD);
	qh->status = 0;
	if (!(mf & FLATRPC_M_INORDER))
		return true;
	v = fr_seq_decide(s->k_have[m], s->k_expected[m], ntohs(qh->seq), qh->flags, mf,
			  &next, &store);
	if (store) {
		s->k_have[m] = 1;
		s->k_expected[m] = next;
	}
	if (v > 0) {
		s->kdrops++;
		return false;
	}
	if (v == FR_SEQ_DUP)
		qh->flags |= FLATRPC_F_DUP;
	else if (v == FR_SEQ_AHEAD)
		qh->flags |= FLATRPC_F_AHEAD;
	return true;
}

/* What sock.c's serve_one() does with a delivered request. */
static void srv_receive(struct sim *s, struct pkt *p)
{
	struct flatrpc_hdr *qh = hdr(p->b);
	struct proto_hold_stream *st = NULL;
	const void *cached, *f;
	enum proto_hold_verdict v;
	uint16_t clen, flen, exp;
	uint8_t m = qh->method;
	bool ahead;

	s->req_in[body_idx(p->b)]++;
	if (!srv_xdp(s, qh))
		return;
	switch (proto_srv_on_request(&s->srv, qh, reliable(m), CLI_ADDR, CLI_PORT, s->now,
				     &cached, &clen)) {
	case PROTO_SRV_DROP:
		return;
	case PROTO_SRV_CACHED:
		transmit(s, false, cached, clen);
		return;
	case PROTO_SRV_EXECUTE:
		break;
	}
	if ((methods[m].flags & (FLATRPC_M_INORDER | FLATRPC_M_INORDER_DROP)) != FLATRPC_M_INORDER) {
		srv_execute(s, p->b, p->len);
		return;
	}
	ahead = qh->flags & FLATRPC_F_AHEAD;
	v = proto_hold_on_request(&s->hold, CLI_ADDR, CLI_PORT, m, ntohs(qh->seq), ahead,
				  ahead && s->k_have[m] ? s->k_expected[m] : -1,
				  p->b, p->len, s->now, &st);
	if (v == PROTO_HOLD_HELD || v == PROTO_HOLD_DROP)
		return;
	if (v != PROTO_HOLD_EXEC) {
#ifdef PROTO_QUEUED
		/* a copy of a request the hold already has: ACK PENDING */
		hdr(p->b)->flags = FLATRPC_ACK;
		hdr(p->b)->status = FLATRPC_ACK_PENDING;
		s->acks_sent++;
		transmit(s, false, p->b, p->len);
#endif
		return;
	}
	while ((f = proto_hold_skipped(&s->hold, st, &flen)))
		srv_execute(s, f, flen);
	srv_execute(s, p->b, p->len);
	while ((f = proto_hold_next(&s->hold, st, &flen)))
		srv_execute(s, f, flen);
	/* kern_advance(): never backwards */
	if (proto_hold_sync(st, &exp) &&
	    (!s->k_have[m] || proto_seq_before(s->k_expected[m], exp))) {
		s->k_have[m] = 1;
		s->k_expected[m] = exp;
	}
}

/* -------------------------------------------------------------- client */

static void cli_end(struct sim *s, uint32_t rpc_id, int result)
{
	for (int i = 0; i < WINDOW; i++) {
		if (s->live[i].idx >= 0 && s->live[i].id == rpc_id) {
			s->ends[s->live[i].idx]++;
			s->result[s->live[i].idx] = result;
			s->live[i].idx = -1;
			return;
		}
	}
	fail_msg("completion for rpc_id %u, which is not in flight", rpc_id);
}

static void cli_receive(struct sim *s, struct pkt *p)
{
	struct proto_done d;
	int r;

	uint32_t idx = body_idx(p->b);

#ifdef PROTO_QUEUED
	if ((hdr(p->b)->flags & FLATRPC_KIND_MASK) == FLATRPC_ACK) {
		/* PENDING restarts the attempt's timer and never ends a call */
		assert_int_equal(proto_cli_on_ack(&s->cli, hdr(p->b), 0, 0, s->now, &d), 0);
		return;
	}
#endif
	if (s->now < s->sent_at[idx] + methods[s->method_of[idx]].timeout_us * US)
		s->resp_in[idx]++;
	r = proto_cli_on_response(&s->cli, hdr(p->b), 0, 0, s->now, &d);
	assert_true(r == 0 || r == 1);
	if (r == 1) {
		assert_int_equal(d.err, 0);
		cli_end(s, d.rpc_id, 0);
	}
}

/* Issues calls up to the window; the mix cycles through every method. */
static void cli_issue(struct sim *s, int total)
{
	uint8_t frame[FRAME_LEN];
	uint32_t id, idx;
	int slot, r;

	while (s->n_calls < total) {
		for (slot = 0; slot < WINDOW && s->live[slot].idx >= 0; slot++)
			;
		if (slot == WINDOW)
			return;
		idx = (uint32_t)s->n_calls;
		s->method_of[idx] = (uint8_t)(rnd(s) % N_METHODS);
		memset(frame, 0, sizeof(frame));
		hdr(frame)->len = htons(BODY_LEN);
		memcpy(frame + HDR_OFF + sizeof(struct flatrpc_hdr), &idx, sizeof(idx));
		r = proto_cli_send(&s->cli, s->method_of[idx], frame, sizeof(frame), s->now, &id);
		if (r == FLATRPC_E_BUSY)
			return;	/* the call table is full */
		s->live[slot].id = id;
		s->live[slot].idx = (int)idx;
		s->n_calls++;
#ifdef PROTO_QUEUED
		if (r == PROTO_QUEUED) {
			/* the peer's window is full: the core sends it later */
			s->queued++;
			continue;
		}
#endif
		assert_int_equal(r, 0);
		s->sends[idx]++;
		s->sent_at[idx] = s->now;
		transmit(s, true, frame, sizeof(frame));
	}
}

static void cli_expire(struct sim *s)
{
	struct proto_event ev[16];
	int n;

	while ((n = proto_cli_expire(&s->cli, s->now, ev, 16)) > 0) {
		for (int i = 0; i < n; i++) {
#ifdef PROTO_QUEUED
			if (ev[i].kind == PROTO_EV_SEND) {
				uint32_t idx = body_idx(ev[i].frame);

				if (!s->sends[idx]++)
					s->sent_at[idx] = s->now;
				transmit(s, true, ev[i].frame, ev[i].len);
				continue;
			}
#endif
			if (ev[i].kind == PROTO_EV_RETX) {
				assert_true(reliable(ev[i].method));
				s->sends[body_idx(ev[i].frame)]++;
				transmit(s, true, ev[i].frame, ev[i].len);
			} else {
				assert_int_equal(ev[i].kind, PROTO_EV_TIMEOUT);
				cli_end(s, ev[i].rpc_id, FLATRPC_E_TIMEOUT);
			}
		}
	}
}

/* ---------------------------------------------------------------- run */

struct scenario {
	struct net_cfg	net;
	int		calls;
	uint64_t	seed;
	uint32_t	first_count;	/* of the RPC ID permutation */
	uint16_t	first_seq;
};

static int live_count(const struct sim *s)
{
	int n = 0;

	for (int i = 0; i < WINDOW; i++)
		n += s->live[i].idx >= 0;
	return n;
}

static void run(struct sim *s, const struct scenario *sc)
{
	struct proto_cli_cfg cc = {
		.svc = &svc, .id_key = { sc->seed, ~(uint64_t)sc->seed },
		.first_count = sc->first_count, .first_seq = sc->first_seq,
		.frame_size = 256, .hdr_off = HDR_OFF, .rto_min_ns = 200 * US,
	};
	struct proto_srv_cfg sc_srv = { .frame_size = 256 };
	uint64_t steps = 0;

	assert_true(sc->calls <= MAX_CALLS);
	memset(s, 0, sizeof(*s));
	s->net = sc->net;
	s->rng = sc->seed * 0x9E3779B97F4A7C15ull + 1;
	s->now = 1000 * US;
	for (int i = 0; i < WINDOW; i++)
		s->live[i].idx = -1;
	for (int m = 0; m < N_METHODS; m++)
		s->last_exec[m] = -1;
	assert_int_equal(proto_cli_init(&s->cli, &cc), 0);
	assert_int_equal(proto_srv_init(&s->srv, &sc_srv), 0);
	assert_int_equal(proto_hold_init(&s->hold, 256), 0);

	for (;;) {
		uint64_t next = proto_cli_next_expiry(&s->cli, s->now);
		int k = -1;

		cli_issue(s, sc->calls);
		if (s->n_calls == sc->calls && live_count(s) == 0)
			break;
		assert_true(++steps < 50ull * 1000 * 1000);
		/* the earliest of: a frame's arrival, a timer */
		for (int i = 0; i < s->nq; i++)
			if (k < 0 || s->q[i].at < s->q[k].at)
				k = i;
		if (k >= 0 && s->q[k].at <= next) {
			struct pkt p = s->q[k];

			s->q[k] = s->q[--s->nq];
			if (p.at > s->now)
				s->now = p.at;
			if (p.order < s->last_delivered[p.to_srv])
				s->reordered++;
			s->last_delivered[p.to_srv] = p.order;
			if (p.to_srv) {
				srv_receive(s, &p);
			} else {
				cli_receive(s, &p);
				/* as flatrpc_poll() does after RX: an answer may
				 * have opened the window for waiting calls */
				cli_expire(s);
			}
			continue;
		}
		assert_true(next != PROTO_NO_EXPIRY);
		if (next > s->now)
			s->now = next;
		cli_expire(s);
	}
	/* frames still in the network may reach the server; none may run a
	 * reliable request again */
	while (s->nq) {
		struct pkt p = s->q[--s->nq];

		if (p.to_srv)
			srv_receive(s, &p);
	}
}

static void check_invariants(struct sim *s, const struct scenario *sc)
{
	unsigned long ok = 0, timeouts = 0;

	assert_int_equal(s->n_calls, sc->calls);
	assert_int_equal(s->cli.outstanding, 0);
	for (int i = 0; i < sc->calls; i++) {
		uint8_t m = s->method_of[i];

		/* every call ends exactly once, ok or timed out */
		if (s->ends[i] != 1)
			fail_msg("call %d (%s) ended %u times", i, methods[m].name, s->ends[i]);
		assert_true(s->result[i] == 0 || s->result[i] == FLATRPC_E_TIMEOUT);
		s->result[i] ? timeouts++ : ok++;
		if (reliable(m)) {
			/* at most once; exactly once when it succeeded */
			if (s->execs[i] > 1 || (s->result[i] == 0 && s->execs[i] != 1))
				fail_msg("reliable call %d (%s) ran %u times, result %d",
					 i, methods[m].name, s->execs[i], s->result[i]);
			assert_true(s->sends[i] >= 1 && s->sends[i] <= 1u + methods[m].retries);
		} else {
			/* sent once, never retried; it runs at most as often as
			 * the network delivered it (nothing remembers a lossy call) */
			if (s->sends[i] != 1)
				fail_msg("lossy call %d (%s) sent %u times", i, methods[m].name, s->sends[i]);
			assert_true(s->execs[i] <= s->req_in[i]);
			/* a lost lossy message costs only its own call: every
			 * lossy call whose answer arrived within its timeout
			 * succeeded, whatever else was lost around it */
			if (s->resp_in[i] && s->result[i] != 0)
				fail_msg("lossy call %d got an answer but ended %d", i, s->result[i]);
		}
	}
	assert_int_equal(s->order_bad, 0);
	print_message("  %d calls: ok %lu timeouts %lu; lost %lu duplicated %lu reordered %lu "
		      "kernel drops %lu; queued %lu acks %lu; retransmits %lu; cache hits %lu "
		      "dup_answered %lu; held %lu restarts %lu\n",
		      sc->calls, ok, timeouts, s->lost, s->duplicated, s->reordered, s->kdrops,
		      s->queued, s->acks_sent,
		      (unsigned long)s->cli.retransmits, (unsigned long)s->srv.hits,
		      (unsigned long)s->srv.dup_answered, (unsigned long)s->hold.held,
		      (unsigned long)s->hold.restarts);
}

static void finish(struct sim *s)
{
	proto_hold_fini(&s->hold);
	proto_srv_fini(&s->srv);
	proto_cli_fini(&s->cli);
}

/* ----------------------------------------------------------- scenarios */

/* The selftests' mix: 5% loss each way, 3% duplication, jitter well above
 * the gap between sends, so frames overtake each other. */
static void test_random_loss_dup_reorder(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct scenario sc = {
			.net = { LOSS_RANDOM, 50000, 50000, 30000, 0, 50 * US, 80 * US },
			.calls = 5000, .seed = seed, .first_count = 1,
		};

		run(&S, &sc);
		check_invariants(&S, &sc);
		assert_true(S.lost > 0 && S.duplicated > 0 && S.reordered > 0);
		assert_true(S.cli.retransmits > 0 && S.hold.held > 0);
		/* a duplicated reliable request was answered from the cache or
		 * dropped as a DUP, never run */
		assert_true(S.srv.hits + S.srv.dup_dropped > 0);
		finish(&S);
	}
}

/* 30% loss: retries run out, in-order calls time out and the client's
 * FIRST restarts skip their gaps; nothing runs twice or out of order. */
static void test_heavy_loss_timeouts_and_restarts(void **state)
{
	struct scenario sc = {
		.net = { LOSS_RANDOM, 300000, 300000, 50000, 0, 50 * US, 80 * US },
		.calls = 3000, .seed = 11, .first_count = 1,
	};

	(void)state;
	run(&S, &sc);
	check_invariants(&S, &sc);
	assert_true(S.cli.timeouts > 0);
	assert_true(S.hold.restarts > 0 || S.kdrops > 0);
	finish(&S);
}

/* Bursts of 8 frames lost in a row: several calls in flight lose their
 * messages together, and held in-order calls wait behind the gaps. */
static void test_burst_loss(void **state)
{
	struct scenario sc = {
		.net = { LOSS_BURST, 10000, 10000, 20000, 8, 50 * US, 80 * US },
		.calls = 4000, .seed = 21, .first_count = 1,
	};

	(void)state;
	run(&S, &sc);
	check_invariants(&S, &sc);
	assert_true(S.lost >= 8 && S.cli.retransmits > 0 && S.hold.held > 0);
	finish(&S);
}

/* Losses on the response path only: every request runs, and retransmitted
 * reliable requests must be answered from the cache (unordered) or marked
 * DUP by the kernel (in-order), never run again. */
static void test_response_loss_answered_from_cache(void **state)
{
	struct scenario sc = {
		.net = { LOSS_RANDOM, 0, 200000, 0, 0, 50 * US, 80 * US },
		.calls = 3000, .seed = 31, .first_count = 1,
	};

	(void)state;
	run(&S, &sc);
	check_invariants(&S, &sc);
	assert_true(S.srv.dup_answered > 0);
	/* No request is lost, so every unordered reliable request ran, once.
	 * Not so for in-order ones: once a call gives up, the stream's calls
	 * in flight all carry FIRST, and when a later one overtakes an earlier
	 * one the kernel restarts past it, so the earlier one is a DUP with no
	 * answer and times out unexecuted (allowed: a timeout, never twice). */
	for (int i = 0; i < sc.calls; i++)
		if (S.method_of[i] == M_REL)
			assert_int_equal(S.execs[i], 1);
	finish(&S);
}

/* Sequence numbers cross 0xFFFF -> 0 and RPC IDs cross 2^32 under loss,
 * duplication and reordering: serial-number arithmetic everywhere (client,
 * kernel decision, hold) keeps order and at-most-once across the wrap. */
static void test_wraparound_under_faults(void **state)
{
	struct scenario sc = {
		.net = { LOSS_RANDOM, 50000, 50000, 30000, 0, 50 * US, 80 * US },
		.calls = 3000, .seed = 41, .first_count = 0xFFFFFF00u, .first_seq = 0xFF80,
	};

	(void)state;
	run(&S, &sc);
	check_invariants(&S, &sc);
	/* ~750 calls per method from 0xFF80: both in-order streams wrapped */
	assert_int_equal(S.seq_wrapped[M_ORD], 1);
	assert_int_equal(S.seq_wrapped[M_DROP], 1);
	assert_true(S.hold.held > 0);
	finish(&S);
}

/* Jitter far beyond the RTO floor: answers arrive after the client has
 * retransmitted (spurious retransmissions), duplicates arrive late. */
static void test_extreme_reordering(void **state)
{
	struct scenario sc = {
		.net = { LOSS_RANDOM, 20000, 20000, 50000, 0, 20 * US, 900 * US },
		.calls = 3000, .seed = 51, .first_count = 1,
	};

	(void)state;
	run(&S, &sc);
	check_invariants(&S, &sc);
	assert_true(S.reordered > (unsigned long)sc.calls / 4);
	assert_true(S.cli.stale > 0);
	finish(&S);
}

/* ------------------------------------------------- targeted client cases */

static const struct scenario quiet = {
	.net = { LOSS_RANDOM, 0, 0, 0, 0, 50 * US, 0 }, .calls = 0, .first_count = 100,
};

static uint32_t send_one(struct sim *s, uint8_t m, uint8_t *frame)
{
	uint32_t id;

	memset(frame, 0, FRAME_LEN);
	hdr(frame)->len = htons(BODY_LEN);
	assert_int_equal(proto_cli_send(&s->cli, m, frame, FRAME_LEN, s->now, &id), 0);
	return id;
}

static int answer(struct sim *s, uint32_t id, uint8_t m)
{
	struct flatrpc_hdr h = { .magic = FLATRPC_MAGIC, .flags = FLATRPC_RESP, .method = m,
				 .rpc_id = htonl(id) };
	struct proto_done d;

	return proto_cli_on_response(&s->cli, &h, 0, 0, s->now, &d);
}

/* Exactly `retries` losses in a row still succeed; one more times out, once. */
static void test_loss_pattern_retries_boundary(void **state)
{
	struct proto_event ev[4];
	uint8_t frame[FRAME_LEN];
	int retx = 0, n;
	uint32_t id;

	(void)state;
	run(&S, &quiet);
	id = send_one(&S, M_REL, frame);
	while (retx < methods[M_REL].retries) {
		S.now = proto_cli_next_expiry(&S.cli, S.now);
		n = proto_cli_expire(&S.cli, S.now, ev, 4);
		assert_int_equal(n, 1);
		assert_int_equal(ev[0].kind, PROTO_EV_RETX);
		assert_true(hdr((void *)ev[0].frame)->flags & FLATRPC_F_RETX);
		retx++;
	}
	/* the last attempt's answer still completes it */
	assert_int_equal(answer(&S, id, M_REL), 1);
	assert_false(proto_cli_pending(&S.cli, id));

	id = send_one(&S, M_REL, frame);
	for (retx = 0; retx <= methods[M_REL].retries; retx++) {
		S.now = proto_cli_next_expiry(&S.cli, S.now);
		n = proto_cli_expire(&S.cli, S.now, ev, 4);
		assert_int_equal(n, 1);
		assert_int_equal(ev[0].kind,
				 retx < methods[M_REL].retries ? PROTO_EV_RETX : PROTO_EV_TIMEOUT);
	}
	assert_int_equal(S.cli.timeouts, 1);
	assert_int_equal(proto_cli_next_expiry(&S.cli, S.now), PROTO_NO_EXPIRY);
	/* an answer after the timeout, and its duplicate, complete nothing */
	assert_int_equal(answer(&S, id, M_REL), 0);
	assert_int_equal(answer(&S, id, M_REL), 0);
	assert_int_equal(S.cli.stale, 2);
	finish(&S);
}

/* A duplicated answer completes its call once; the copy is stale even when
 * a new call has reused the table slot (a different RPC ID). */
static void test_duplicate_answer_after_slot_reuse(void **state)
{
	uint8_t frame[FRAME_LEN];
	uint32_t a, b;

	(void)state;
	run(&S, &quiet);
	a = send_one(&S, M_LOSSY, frame);
	assert_int_equal(answer(&S, a, M_LOSSY), 1);
	for (unsigned int i = 0; i < 255; i++) {
		b = send_one(&S, M_LOSSY, frame);
		assert_int_equal(answer(&S, b, M_LOSSY), 1);
	}
	/* 256 calls later the slot of `a` is in use again, by b + 1 */
	b = send_one(&S, M_LOSSY, frame);
	assert_int_equal(b & 255u, a & 255u);
	assert_int_equal(answer(&S, a, M_LOSSY), 0);
	assert_true(proto_cli_pending(&S.cli, b));
	assert_int_equal(answer(&S, b, M_LOSSY), 1);
	assert_int_equal(S.cli.stale, 1);
	finish(&S);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_loss_dup_reorder),
		cmocka_unit_test(test_heavy_loss_timeouts_and_restarts),
		cmocka_unit_test(test_burst_loss),
		cmocka_unit_test(test_response_loss_answered_from_cache),
		cmocka_unit_test(test_wraparound_under_faults),
		cmocka_unit_test(test_extreme_reordering),
		cmocka_unit_test(test_loss_pattern_retries_boundary),
		cmocka_unit_test(test_duplicate_answer_after_slot_reuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

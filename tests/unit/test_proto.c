/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_proto.c - the protocol core with simulated time: no root, no sleeps.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "proto.h"

#define US		1000ull
#define HDR_OFF		42	/* Ethernet + IPv4 + UDP, as the socket layer uses */
#define FRAME_LEN	(HDR_OFF + sizeof(struct flatrpc_hdr) + 8)

#define RTO_MIN 200000ull

enum { M_REL, M_LOSSY, M_ORD, M_ORD_LOSSY, M_HIGH, M_FWD, N_METHODS };

static const struct flatrpc_method_desc methods[N_METHODS] = {
	[M_REL]       = { .name = "rel", .id = M_REL, .flags = FLATRPC_M_RELIABLE,
			  .timeout_us = 1000, .retries = 3 },
	[M_LOSSY]     = { .name = "lossy", .id = M_LOSSY, .flags = 0,
			  .timeout_us = 500, .retries = 3 },
	[M_ORD]       = { .name = "ord", .id = M_ORD,
			  .flags = FLATRPC_M_RELIABLE | FLATRPC_M_INORDER,
			  .timeout_us = 2000, .retries = 2 },
	[M_ORD_LOSSY] = { .name = "ordl", .id = M_ORD_LOSSY, .flags = FLATRPC_M_INORDER,
			  .timeout_us = 1000 },
	[M_HIGH]      = { .name = "high", .id = M_HIGH, .flags = FLATRPC_M_RELIABLE,
			  .timeout_us = 1000, .retries = 3, .priority = 6 },
	/* its chain can forward(): a backend answers */
	[M_FWD]       = { .name = "fwd", .id = M_FWD,
			  .flags = FLATRPC_M_RELIABLE | FLATRPC_M_FORWARD,
			  .timeout_us = 1000, .retries = 3 },
};

static const struct flatrpc_service_desc svc = {
	.name = "test", .spec_hash = 42, .port = 7447,
	.n_methods = N_METHODS, .methods = methods,
};

struct fixture {
	struct proto_cli	cli;
	uint8_t			frame[FRAME_LEN];
};

static int setup_floor(void **state, uint32_t first_id, uint16_t first_seq, unsigned int cap,
		       unsigned int cwnd, unsigned int floor)
{
	static struct fixture fx;
	struct proto_cli_cfg cfg = {
		.svc = &svc, .id_key = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull },
		.first_count = first_id, .first_seq = first_seq,
		.capacity = cap, .frame_size = 256, .hdr_off = HDR_OFF,
		.rto_min_ns = RTO_MIN,	/* below the test methods' timeouts */
		.cwnd_init = cwnd,
		.cwnd_floor = floor,
	};

	memset(&fx, 0, sizeof(fx));
	if (proto_cli_init(&fx.cli, &cfg))
		return -1;
	*state = &fx;
	return 0;
}

/* These follow AIMD down to one call; the loss floor has its own tests. */
static int setup_cwnd(void **state, uint32_t first_id, uint16_t first_seq, unsigned int cap,
		      unsigned int cwnd)
{
	return setup_floor(state, first_id, first_seq, cap, cwnd, 1);
}

static int setup_with(void **state, uint32_t first_id, uint16_t first_seq, unsigned int cap)
{
	return setup_cwnd(state, first_id, first_seq, cap, 0);
}

static int setup(void **state) { return setup_with(state, 1000, 0, 0); }
static int setup_w1(void **state) { return setup_cwnd(state, 100, 0, 0, 1); }
static int setup_w2(void **state) { return setup_cwnd(state, 100, 0, 0, 2); }
static int setup_w4(void **state) { return setup_cwnd(state, 100, 0, 0, 4); }
static int setup_w8(void **state) { return setup_cwnd(state, 100, 0, 0, 8); }
static int setup_w16_floor4(void **state) { return setup_floor(state, 100, 0, 0, 16, 4); }
static int setup_defaults(void **state) { return setup_floor(state, 100, 0, 0, 0, 0); }
static int setup_wrap(void **state) { return setup_with(state, 0xFFFFFFFEu, 0xFFFE, 0); }
static int setup_small(void **state) { return setup_with(state, 7, 0, 4); }

static int teardown(void **state)
{
	struct fixture *fx = *state;

	proto_cli_fini(&fx->cli);
	return 0;
}

static const struct flatrpc_hdr *hdr_of(const void *frame)
{
	return (const struct flatrpc_hdr *)((const uint8_t *)frame + HDR_OFF);
}

static uint32_t send_at(struct fixture *fx, uint8_t method, uint64_t now)
{
	uint32_t id = 0;

	memset(fx->frame, 0xAB, sizeof(fx->frame));
	assert_int_equal(proto_cli_send(&fx->cli, method, fx->frame, sizeof(fx->frame), now, &id), 0);
	return id;
}

static struct flatrpc_hdr resp_hdr(uint32_t id, uint8_t method, uint8_t kind, uint8_t status)
{
	struct flatrpc_hdr h = {
		.magic = FLATRPC_MAGIC, .flags = kind, .method = method,
		.status = status, .rpc_id = htonl(id),
	};
	return h;
}

static void test_reliable_retransmits_then_times_out(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[4];
	uint64_t t0 = 5000 * US;
	uint32_t id = send_at(fx, M_REL, t0);

	assert_true(proto_cli_pending(&fx->cli, id));
	assert_int_equal(hdr_of(fx->frame)->flags & FLATRPC_F_RETX, 0);
	assert_int_equal(proto_cli_next_expiry(&fx->cli, t0), t0 + 1000 * US);
	assert_int_equal(proto_cli_expire(&fx->cli, t0 + 999 * US, ev, 4), 0);

	for (int attempt = 1; attempt <= 3; attempt++) {
		uint64_t t = t0 + attempt * 1000 * US;

		assert_int_equal(proto_cli_expire(&fx->cli, t, ev, 4), 1);
		assert_int_equal(ev[0].kind, PROTO_EV_RETX);
		assert_int_equal(ev[0].rpc_id, id);
		assert_int_equal(ev[0].len, sizeof(fx->frame));
		assert_true(hdr_of(ev[0].frame)->flags & FLATRPC_F_RETX);
		assert_int_equal(ntohl(hdr_of(ev[0].frame)->rpc_id), id);
		/* The body is carried over byte for byte. */
		assert_int_equal(((const uint8_t *)ev[0].frame)[FRAME_LEN - 1], 0xAB);
		assert_int_equal(proto_cli_next_expiry(&fx->cli, t), t + 1000 * US);
		assert_int_equal(proto_cli_expire(&fx->cli, t + 999 * US, ev, 4), 0);
	}
	assert_int_equal(fx->cli.retransmits, 3);
	assert_int_equal(proto_cli_expire(&fx->cli, t0 + 4000 * US, ev, 4), 1);
	assert_int_equal(ev[0].kind, PROTO_EV_TIMEOUT);
	assert_int_equal(ev[0].rpc_id, id);
	assert_false(proto_cli_pending(&fx->cli, id));
	assert_int_equal(fx->cli.timeouts, 1);
	assert_int_equal(fx->cli.retransmits, 3);
	assert_int_equal(proto_cli_next_expiry(&fx->cli, t0 + 4000 * US), PROTO_NO_EXPIRY);
}

static void test_lossy_never_retransmitted(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[4];
	uint32_t id = send_at(fx, M_LOSSY, 0);

	assert_int_equal(proto_cli_expire(&fx->cli, 499 * US, ev, 4), 0);
	assert_int_equal(proto_cli_expire(&fx->cli, 500 * US, ev, 4), 1);
	assert_int_equal(ev[0].kind, PROTO_EV_TIMEOUT);
	assert_int_equal(ev[0].rpc_id, id);
	assert_int_equal(ev[0].method, M_LOSSY);
	assert_int_equal(fx->cli.retransmits, 0);
	assert_int_equal(proto_cli_expire(&fx->cli, 100000 * US, ev, 4), 0);
}

static void test_response_completes_and_frees(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[4];
	struct proto_done d;
	uint32_t id = send_at(fx, M_REL, 0);
	struct flatrpc_hdr h = resp_hdr(id, M_REL, FLATRPC_RESP, 0);

	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, 10 * US, &d), 1);
	assert_int_equal(d.rpc_id, id);
	assert_int_equal(d.method, M_REL);
	assert_int_equal(d.err, 0);
	assert_false(proto_cli_pending(&fx->cli, id));
	assert_int_equal(fx->cli.outstanding, 0);
	assert_int_equal(proto_cli_next_expiry(&fx->cli, 10 * US), PROTO_NO_EXPIRY);
	assert_int_equal(proto_cli_expire(&fx->cli, 100000 * US, ev, 4), 0);
}

static void test_error_status_mapping(void **state)
{
	struct fixture *fx = *state;
	struct proto_done d;
	struct flatrpc_hdr h;
	uint32_t id;

	id = send_at(fx, M_REL, 0);
	h = resp_hdr(id, M_REL, FLATRPC_ERR, 5);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, 0, &d), 1);
	assert_int_equal(d.err, FLATRPC_E_ANF);
	assert_int_equal(d.status, 5);

	id = send_at(fx, M_REL, 0);
	h = resp_hdr(id, M_REL, FLATRPC_ERR, FLATRPC_MAX_ERRORS);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, 0, &d), 1);
	assert_int_equal(d.err, FLATRPC_E_ANF);

	id = send_at(fx, M_LOSSY, 0);
	h = resp_hdr(id, M_LOSSY, FLATRPC_ERR, FLATRPC_ST_APP);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, 0, &d), 1);
	assert_int_equal(d.err, FLATRPC_E_REMOTE);
	assert_int_equal(d.status, FLATRPC_ST_APP);

	id = send_at(fx, M_LOSSY, 0);
	h = resp_hdr(id, M_LOSSY, FLATRPC_ERR, FLATRPC_ST_NO_METHOD);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, 0, &d), 1);
	assert_int_equal(d.err, FLATRPC_E_REMOTE);

	/* A request or ACK is not a response at all. */
	id = send_at(fx, M_LOSSY, 0);
	h = resp_hdr(id, M_LOSSY, FLATRPC_REQ, 0);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, 0, &d), FLATRPC_E_PROTO);
	assert_true(proto_cli_pending(&fx->cli, id));
}

static void test_stale_responses_counted(void **state)
{
	struct fixture *fx = *state;
	struct proto_done d;
	struct proto_event ev[4];
	uint32_t id = send_at(fx, M_LOSSY, 0);
	struct flatrpc_hdr h;

	h = resp_hdr(id + 1, M_LOSSY, FLATRPC_RESP, 0);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, 0, &d), 0);
	assert_int_equal(fx->cli.stale, 1);
	/* Same slot, different method: not ours either. */
	h = resp_hdr(id, M_REL, FLATRPC_RESP, 0);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, 0, &d), 0);
	assert_int_equal(fx->cli.stale, 2);
	assert_true(proto_cli_pending(&fx->cli, id));

	/* Late answer after the deadline. */
	assert_int_equal(proto_cli_expire(&fx->cli, 500 * US, ev, 4), 1);
	h = resp_hdr(id, M_LOSSY, FLATRPC_RESP, 0);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, 600 * US, &d), 0);
	assert_int_equal(fx->cli.stale, 3);

	/* Duplicate answer after completion. */
	id = send_at(fx, M_REL, 0);
	h = resp_hdr(id, M_REL, FLATRPC_RESP, 0);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, 0, &d), 1);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, 0, &d), 0);
	assert_int_equal(fx->cli.stale, 4);
}

static void test_first_flag(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[4];
	uint32_t id1, id2;

	id1 = send_at(fx, M_ORD, 0);
	assert_true(hdr_of(fx->frame)->flags & FLATRPC_F_FIRST);
	assert_int_equal(ntohs(hdr_of(fx->frame)->seq), 0);

	id2 = send_at(fx, M_ORD, 100 * US);
	assert_false(hdr_of(fx->frame)->flags & FLATRPC_F_FIRST);
	assert_int_equal(ntohs(hdr_of(fx->frame)->seq), 1);

	/* The opening message's retransmissions keep FIRST; the second's never get it. */
	for (int r = 1; r <= 2; r++) {
		assert_int_equal(proto_cli_expire(&fx->cli, r * 2000 * US + 100 * US, ev, 4), 2);
		for (int i = 0; i < 2; i++) {
			const struct flatrpc_hdr *h = hdr_of(ev[i].frame);

			assert_int_equal(ev[i].kind, PROTO_EV_RETX);
			assert_true(h->flags & FLATRPC_F_RETX);
			if (ev[i].rpc_id == id1) {
				assert_true(h->flags & FLATRPC_F_FIRST);
				assert_int_equal(ntohs(h->seq), 0);
			} else {
				assert_int_equal(ev[i].rpc_id, id2);
				assert_false(h->flags & FLATRPC_F_FIRST);
				assert_int_equal(ntohs(h->seq), 1);
			}
		}
	}

	/* Streams are per method; unordered methods carry neither. */
	send_at(fx, M_ORD_LOSSY, 0);
	assert_true(hdr_of(fx->frame)->flags & FLATRPC_F_FIRST);
	send_at(fx, M_ORD_LOSSY, 0);
	assert_false(hdr_of(fx->frame)->flags & FLATRPC_F_FIRST);
	send_at(fx, M_REL, 0);
	assert_false(hdr_of(fx->frame)->flags & FLATRPC_F_FIRST);
	assert_int_equal(hdr_of(fx->frame)->seq, 0);
}

/* Giving up on an in-order call must not wedge the stream: the messages
 * still in flight and the next new one carry FIRST so the receiver skips
 * the gap instead of holding them forever. */
static uint32_t send_peer(struct fixture *fx, uint32_t peer, uint8_t method, uint64_t now,
			  int *queued);

static void test_abandoned_seq_restarts_stream(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[4];
	uint32_t id1, id2;
	int n, q, timeouts = 0;

	id1 = send_at(fx, M_ORD, 0);			/* seq 0, FIRST */
	id2 = send_at(fx, M_ORD, 3000 * US);		/* seq 1 */
	assert_false(hdr_of(fx->frame)->flags & FLATRPC_F_FIRST);

	/* timeout 2000 us, 2 retries: id1 is sent at 0, 2000, 4000 and given
	 * up at 6000; id2 is sent at 3000, 5000, 7000 */
	assert_int_equal(proto_cli_expire(&fx->cli, 2000 * US, ev, 4), 1);
	assert_int_equal(proto_cli_expire(&fx->cli, 4000 * US, ev, 4), 1);
	assert_int_equal(proto_cli_expire(&fx->cli, 5000 * US, ev, 4), 1);
	assert_int_equal(ev[0].rpc_id, id2);
	assert_false(hdr_of(ev[0].frame)->flags & FLATRPC_F_FIRST);
	n = proto_cli_expire(&fx->cli, 6000 * US, ev, 4);
	for (int i = 0; i < n; i++)
		if (ev[i].kind == PROTO_EV_TIMEOUT) {
			assert_int_equal(ev[i].rpc_id, id1);
			timeouts++;
		}
	assert_int_equal(timeouts, 1);
	assert_true(proto_cli_pending(&fx->cli, id2));

	/* id2's next retransmission now restarts the stream at seq 1 */
	n = proto_cli_expire(&fx->cli, 7000 * US, ev, 4);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].rpc_id, id2);
	assert_int_equal(ev[0].kind, PROTO_EV_RETX);
	assert_true(hdr_of(ev[0].frame)->flags & FLATRPC_F_FIRST);
	assert_int_equal(ntohs(hdr_of(ev[0].frame)->seq), 1);

	/* id2 restarts it, so new messages are ordinary: one carrying FIRST
	 * could overtake id2 on the wire and make the receiver skip it */
	send_at(fx, M_ORD, 7600 * US);
	assert_false(hdr_of(fx->frame)->flags & FLATRPC_F_FIRST);
	assert_int_equal(ntohs(hdr_of(fx->frame)->seq), 2);
	/* with nothing outstanding after a give-up, the next new one opens */
	{
		struct flatrpc_hdr h;
		struct proto_done d;

		h = resp_hdr(id2, M_ORD, FLATRPC_RESP, 0);
		assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, 7650 * US, &d), 1);
	}

	/* a lossy in-order stream restarts the same way after a timeout */
	send_at(fx, M_ORD_LOSSY, 8000 * US);
	send_at(fx, M_ORD_LOSSY, 8000 * US);
	assert_false(hdr_of(fx->frame)->flags & FLATRPC_F_FIRST);
	proto_cli_expire(&fx->cli, 9000 * US, ev, 4);
	send_at(fx, M_ORD_LOSSY, 9100 * US);
	assert_true(hdr_of(fx->frame)->flags & FLATRPC_F_FIRST);

	/* only the oldest outstanding call carries FIRST after a give-up */
	{
		/* separate peers: this test's losses have shrunk peer 0's
		 * window, and the sequence space is the method's anyway */
		uint32_t a = send_peer(fx, 1, M_ORD, 20000 * US, &q);
		uint32_t b = send_peer(fx, 2, M_ORD, 23000 * US, &q);
		uint32_t cc = send_peer(fx, 3, M_ORD, 23100 * US, &q);
		uint8_t fb = 0, fc = 0;

		(void)a;
		/* step through the attempts; look at what b and c carry once
		 * a was given up */
		for (uint64_t t = 20300; t <= 32000; t += 100) {
			bool gone = !proto_cli_pending(&fx->cli, a);

			n = proto_cli_expire(&fx->cli, t * US, ev, 4);
			for (int i = 0; gone && i < n; i++) {
				if (ev[i].rpc_id == b && ev[i].kind == PROTO_EV_RETX)
					fb |= hdr_of(ev[i].frame)->flags;
				if (ev[i].rpc_id == cc && ev[i].kind == PROTO_EV_RETX)
					fc |= hdr_of(ev[i].frame)->flags;
			}
		}
		assert_false(proto_cli_pending(&fx->cli, a));
		assert_true(fb & FLATRPC_F_RETX);
		assert_true(fc & FLATRPC_F_RETX);
		assert_true(fb & FLATRPC_F_FIRST);
		assert_false(fc & FLATRPC_F_FIRST);
	}
}

static void test_seq_and_id_wraparound(void **state)
{
	struct fixture *fx = *state;
	const uint16_t want_seq[] = { 0xFFFE, 0xFFFF, 0x0000, 0x0001 };
	uint32_t ids[4];
	struct proto_done d;

	/* the count behind the IDs wraps too (setup_wrap starts it at
	 * 0xFFFFFFFE): the IDs stay distinct, each in its own slot */
	for (int i = 0; i < 4; i++) {
		ids[i] = send_at(fx, M_ORD, 0);
		for (int j = 0; j < i; j++) {
			assert_int_not_equal(ids[i], ids[j]);
			assert_int_not_equal(ids[i] & fx->cli.mask, ids[j] & fx->cli.mask);
		}
		assert_int_equal(ntohs(hdr_of(fx->frame)->seq), want_seq[i]);
		assert_int_equal(!!(hdr_of(fx->frame)->flags & FLATRPC_F_FIRST), i == 0);
	}
	assert_true(proto_seq_before(0xFFFF, 0x0000));
	assert_true(proto_seq_before(0xFFFE, 0x0001));
	assert_false(proto_seq_before(0x0001, 0xFFFE));
	assert_false(proto_seq_before(5, 5));
	/* Responses match across the u32 wrap. */
	for (int i = 3; i >= 0; i--) {
		struct flatrpc_hdr h = resp_hdr(ids[i], M_ORD, FLATRPC_RESP, 0);

		assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, 0, &d), 1);
		assert_int_equal(d.rpc_id, ids[i]);
	}
	assert_int_equal(fx->cli.outstanding, 0);
}

static void test_table_full_busy(void **state)
{
	struct fixture *fx = *state;
	struct proto_done d;
	struct flatrpc_hdr h;
	uint32_t ids[4], id;

	for (int i = 0; i < 4; i++)
		ids[i] = send_at(fx, M_LOSSY, 0);
	assert_int_equal(proto_cli_send(&fx->cli, M_LOSSY, fx->frame, sizeof(fx->frame), 0, &id),
			 FLATRPC_E_BUSY);
	/* Free a slot in the middle: the next ID skips the slots still held. */
	h = resp_hdr(ids[1], M_LOSSY, FLATRPC_RESP, 0);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, 0, &d), 1);
	id = send_at(fx, M_LOSSY, 0);
	assert_int_equal(id & 3, ids[1] & 3);
	assert_int_not_equal(id, ids[1]);
	assert_int_equal(proto_cli_send(&fx->cli, M_LOSSY, fx->frame, sizeof(fx->frame), 0, &id),
			 FLATRPC_E_BUSY);
}

static void test_expire_respects_max(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[2];

	for (int i = 0; i < 3; i++)
		send_at(fx, M_LOSSY, 0);
	assert_int_equal(proto_cli_expire(&fx->cli, 500 * US, ev, 2), 2);
	assert_int_equal(proto_cli_expire(&fx->cli, 500 * US, ev, 2), 1);
	assert_int_equal(proto_cli_expire(&fx->cli, 500 * US, ev, 2), 0);
	assert_int_equal(fx->cli.timeouts, 3);
}

static void test_bad_args(void **state)
{
	struct fixture *fx = *state;
	uint8_t big[300] = { 0 };
	uint32_t id;

	assert_int_equal(proto_cli_send(&fx->cli, N_METHODS, fx->frame, sizeof(fx->frame), 0, &id),
			 -EINVAL);
	/* A reliable frame larger than its retransmission slot cannot be kept. */
	assert_int_equal(proto_cli_send(&fx->cli, M_REL, big, sizeof(big), 0, &id),
			 FLATRPC_E_TOOBIG);
	/* A lossy one is never copied, so it may be larger. */
	assert_int_equal(proto_cli_send(&fx->cli, M_LOSSY, big, sizeof(big), 0, &id), 0);
	assert_int_equal(fx->cli.outstanding, 1);
}

/* ---------------------------------------------------------------- server */

static void test_srv_cache_hit_miss_evict(void **state)
{
	struct proto_srv_cfg cfg = { .capacity = 4, .frame_size = 64 };
	struct proto_srv s;
	uint8_t frame[64];
	const uint8_t *got;
	uint16_t len;

	(void)state;
	assert_int_equal(proto_srv_init(&s, &cfg), 0);
	assert_null(proto_srv_lookup(&s, 0x0a000001, 1234, 1, 0, &len));
	assert_int_equal(s.misses, 1);

	for (uint32_t id = 1; id <= 4; id++) {
		memset(frame, (int)id, sizeof(frame));
		assert_int_equal(proto_srv_store(&s, 0x0a000001, 1234, id, frame, 10 + id, 0), 0);
	}
	got = proto_srv_lookup(&s, 0x0a000001, 1234, 3, 0, &len);
	assert_non_null(got);
	assert_int_equal(len, 13);
	assert_int_equal(got[0], 3);
	/* Same id from another peer (address or port) is another entry. */
	assert_null(proto_srv_lookup(&s, 0x0a000002, 1234, 3, 0, &len));
	assert_null(proto_srv_lookup(&s, 0x0a000001, 1235, 3, 0, &len));

	/* A fifth entry evicts the oldest (FIFO), not the most recently used. */
	memset(frame, 5, sizeof(frame));
	assert_int_equal(proto_srv_store(&s, 0x0a000002, 99, 5, frame, 15, 0), 0);
	assert_int_equal(s.evictions, 1);
	assert_null(proto_srv_lookup(&s, 0x0a000001, 1234, 1, 0, &len));
	for (uint32_t id = 2; id <= 4; id++)
		assert_non_null(proto_srv_lookup(&s, 0x0a000001, 1234, id, 0, &len));
	got = proto_srv_lookup(&s, 0x0a000002, 99, 5, 0, &len);
	assert_non_null(got);
	assert_int_equal(got[0], 5);

	/* Storing an existing key replaces in place without evicting. */
	memset(frame, 9, sizeof(frame));
	assert_int_equal(proto_srv_store(&s, 0x0a000002, 99, 5, frame, 20, 0), 0);
	assert_int_equal(s.evictions, 1);
	got = proto_srv_lookup(&s, 0x0a000002, 99, 5, 0, &len);
	assert_int_equal(len, 20);
	assert_int_equal(got[0], 9);

	assert_int_equal(proto_srv_store(&s, 1, 1, 1, frame, 65, 0), FLATRPC_E_TOOBIG);

	/* Churn through many entries: chains stay consistent. */
	for (uint32_t id = 100; id < 1100; id++)
		assert_int_equal(proto_srv_store(&s, 0x0a000003, 7, id, frame, 8, 0), 0);
	for (uint32_t id = 100; id < 1096; id++)
		assert_null(proto_srv_lookup(&s, 0x0a000003, 7, id, 0, &len));
	for (uint32_t id = 1096; id < 1100; id++)
		assert_non_null(proto_srv_lookup(&s, 0x0a000003, 7, id, 0, &len));
	proto_srv_fini(&s);
}

/* IPv6 peers are keyed by all 16 bytes, and never meet an IPv4 peer whose
 * address is the same last four bytes. */
static void test_srv_cache_ipv6_peers(void **state)
{
	static const uint8_t a6[16] = { 0xfd, 0x77, 1, [12] = 10, 0, 0, 1 };
	static const uint8_t b6[16] = { 0xfd, 0x78, 1, [12] = 10, 0, 0, 1 };
	struct proto_srv_cfg cfg = { .capacity = 8, .frame_size = 64 };
	fr_addr_t a = fr_addr_v6(a6), b = fr_addr_v6(b6), v4 = fr_addr_v4(htonl(0x0a000001));
	uint8_t fa[16] = { 0xa }, fb[16] = { 0xb }, f4[16] = { 0x4 };
	const uint8_t *got;
	struct proto_srv s;
	uint16_t len;

	(void)state;
	assert_true(fr_addr_is_v4(v4));
	assert_false(fr_addr_is_v4(a));
	assert_int_equal(fr_addr_v4_of(v4), htonl(0x0a000001));
	assert_int_equal(proto_srv_init(&s, &cfg), 0);
	assert_int_equal(proto_srv_store(&s, a, 7, 42, fa, sizeof(fa), 0), 0);
	assert_null(proto_srv_lookup(&s, b, 7, 42, 0, &len));
	assert_null(proto_srv_lookup(&s, v4, 7, 42, 0, &len));
	assert_int_equal(proto_srv_store(&s, b, 7, 42, fb, sizeof(fb), 0), 0);
	assert_int_equal(proto_srv_store(&s, v4, 7, 42, f4, sizeof(f4), 0), 0);
	got = proto_srv_lookup(&s, a, 7, 42, 0, &len);
	assert_non_null(got);
	assert_int_equal(got[0], 0xa);
	got = proto_srv_lookup(&s, b, 7, 42, 0, &len);
	assert_non_null(got);
	assert_int_equal(got[0], 0xb);
	got = proto_srv_lookup(&s, v4, 7, 42, 0, &len);
	assert_non_null(got);
	assert_int_equal(got[0], 0x4);
	proto_srv_fini(&s);
}

/* A call to an IPv6 peer has its header 20 bytes further in (a longer IP
 * header): the core writes and retransmits it there, and an IPv4 peer's
 * call keeps the IPv4 offset. */
static void test_cli_ipv6_header_offset(void **state)
{
	static const uint8_t a6[16] = { 0xfd, 0x77, [15] = 2 };
	struct proto_cli_cfg cfg = {
		.svc = &svc, .capacity = 8, .frame_size = 256,
		.hdr_off = HDR_OFF, .hdr_off6 = HDR_OFF + 20, .rto_min_ns = RTO_MIN,
	};
	uint8_t f4[FRAME_LEN + 20], f6[FRAME_LEN + 20];
	struct proto_event ev[4];
	struct proto_cli c;
	uint32_t id4, id6;
	int n, seen = 0;

	(void)state;
	assert_int_equal(proto_cli_init(&c, &cfg), 0);
	memset(f4, 0xAB, sizeof(f4));
	memset(f6, 0xAB, sizeof(f6));
	assert_int_equal(proto_cli_send_to(&c, fr_addr_v4(htonl(0x0a000002)), 1, M_REL, f4,
					   sizeof(f4), 0, &id4), 0);
	assert_int_equal(proto_cli_send_to(&c, fr_addr_v6(a6), 1, M_REL, f6, sizeof(f6), 0,
					   &id6), 0);
	assert_int_equal(ntohl(((struct flatrpc_hdr *)(f4 + HDR_OFF))->rpc_id), id4);
	assert_int_equal(ntohl(((struct flatrpc_hdr *)(f6 + HDR_OFF + 20))->rpc_id), id6);
	/* the 20 bytes that hold the IPv6 header's tail are left alone */
	assert_int_equal(f6[HDR_OFF], 0xAB);

	n = proto_cli_expire(&c, 1000 * US, ev, 4);
	assert_int_equal(n, 2);
	for (int i = 0; i < n; i++) {
		size_t off = ev[i].rpc_id == id6 ? HDR_OFF + 20 : HDR_OFF;
		const struct flatrpc_hdr *h = (const void *)((const uint8_t *)ev[i].frame + off);

		assert_int_equal(ev[i].kind, PROTO_EV_RETX);
		assert_true(h->flags & FLATRPC_F_RETX);
		assert_int_equal(ntohl(h->rpc_id), ev[i].rpc_id);
		seen |= ev[i].rpc_id == id6 ? 2 : 1;
	}
	assert_int_equal(seen, 3);
	proto_cli_fini(&c);
}

static void test_srv_ttl(void **state)
{
	struct proto_srv_cfg cfg = { .capacity = 8, .ttl_ns = 1000 * US };
	struct proto_srv s;
	uint8_t frame[16] = { 0 };
	uint16_t len;

	(void)state;
	assert_int_equal(proto_srv_init(&s, &cfg), 0);
	proto_srv_store(&s, 1, 2, 3, frame, sizeof(frame), 0);
	assert_non_null(proto_srv_lookup(&s, 1, 2, 3, 1000 * US, &len));
	assert_null(proto_srv_lookup(&s, 1, 2, 3, 1001 * US, &len));
	proto_srv_fini(&s);
}

static void test_srv_dup_handling(void **state)
{
	struct proto_srv s;
	struct flatrpc_hdr h = { .magic = FLATRPC_MAGIC, .flags = FLATRPC_REQ, .rpc_id = htonl(77) };
	uint8_t frame[32];
	const void *f = NULL;
	uint16_t len = 0;

	(void)state;
	assert_int_equal(proto_srv_init(&s, NULL), 0);

	/* First time: execute. */
	assert_int_equal(proto_srv_on_request(&s, &h, true, 1, 2, 0, &f, &len), PROTO_SRV_EXECUTE);

	/* DUP with nothing cached is dropped, whatever the method. */
	h.flags = FLATRPC_REQ | FLATRPC_F_DUP;
	assert_int_equal(proto_srv_on_request(&s, &h, true, 1, 2, 0, &f, &len), PROTO_SRV_DROP);
	assert_int_equal(proto_srv_on_request(&s, &h, false, 1, 2, 0, &f, &len), PROTO_SRV_DROP);
	assert_int_equal(s.dup_dropped, 2);

	memset(frame, 0x5A, sizeof(frame));
	assert_int_equal(proto_srv_store(&s, 1, 2, 77, frame, sizeof(frame), 0), 0);

	/* DUP with a cached answer is answered, never executed. */
	assert_int_equal(proto_srv_on_request(&s, &h, true, 1, 2, 0, &f, &len), PROTO_SRV_CACHED);
	assert_int_equal(len, sizeof(frame));
	assert_memory_equal(f, frame, sizeof(frame));
	assert_int_equal(s.dup_answered, 1);

	/* An unmarked retransmission of a reliable method also hits the cache. */
	h.flags = FLATRPC_REQ | FLATRPC_F_RETX;
	assert_int_equal(proto_srv_on_request(&s, &h, true, 1, 2, 0, &f, &len), PROTO_SRV_CACHED);
	assert_int_equal(s.dup_answered, 2);

	/* Lossy methods without DUP always execute. */
	h.flags = FLATRPC_REQ;
	assert_int_equal(proto_srv_on_request(&s, &h, false, 1, 2, 0, &f, &len), PROTO_SRV_EXECUTE);
	/* Another client with the same rpc_id is a different call. */
	assert_int_equal(proto_srv_on_request(&s, &h, true, 1, 3, 0, &f, &len), PROTO_SRV_EXECUTE);
	proto_srv_fini(&s);
}

/* ---------------------------------------------------------------- hold */

#define H_ADDR	0x0a4d0102u
#define H_PORT	0x3412
#define H_LEN	(HDR_OFF + sizeof(struct flatrpc_hdr) + 4)

struct hold_fx {
	struct proto_hold	h;
	uint16_t		ran[512];
	int			n_ran;
	int			syncs;
	uint16_t		kexp;	/* last value proto_hold_sync() asked for */
	bool			host_per_port;	/* port p comes from host H_ADDR + p */
};

static struct hold_fx hfx;

static int hold_setup(void **state)
{
	memset(&hfx, 0, sizeof(hfx));
	if (proto_hold_init(&hfx.h, 256))
		return -1;
	*state = &hfx;
	return 0;
}

static int hold_teardown(void **state)
{
	proto_hold_fini(&((struct hold_fx *)*state)->h);
	return 0;
}

static void hold_ran(struct hold_fx *x, const void *f, uint16_t len)
{
	const struct flatrpc_hdr *h = hdr_of(f);

	/* What comes back is the frame that went in, byte for byte. */
	assert_int_equal(len, H_LEN);
	assert_int_equal(((const uint8_t *)f)[H_LEN - 1], (uint8_t)ntohs(h->seq));
	x->ran[x->n_ran++] = ntohs(h->seq);
}

/* One request of stream (H_ADDR, port, M_ORD): does what the socket
 * layer does with the verdict, recording the order things ran in. */
static enum proto_hold_verdict hold_req_on(struct hold_fx *x, uint16_t port, uint16_t seq,
					   bool ahead, int32_t kexp, uint64_t now)
{
	uint8_t frame[H_LEN];
	struct flatrpc_hdr *h = (struct flatrpc_hdr *)(frame + HDR_OFF);
	struct proto_hold_stream *st = NULL;
	enum proto_hold_verdict v;
	const void *f;
	uint16_t len, e;

	memset(frame, 0, sizeof(frame));
	h->magic = FLATRPC_MAGIC;
	h->flags = FLATRPC_REQ | (ahead ? FLATRPC_F_AHEAD : 0);
	h->method = M_ORD;
	h->seq = htons(seq);
	frame[H_LEN - 1] = (uint8_t)seq;
	v = proto_hold_on_request(&x->h, H_ADDR + (x->host_per_port ? port : 0), port, M_ORD,
				  seq, ahead, kexp,
				  frame, sizeof(frame), now, &st);
	/* The caller's RX frame is recycled at once: scribbling on it must
	 * not reach what the hold kept. */
	memset(frame, 0xEE, sizeof(frame));
	if (v != PROTO_HOLD_EXEC)
		return v;
	assert_non_null(st);
	while ((f = proto_hold_skipped(&x->h, st, &len)))
		hold_ran(x, f, len);
	x->ran[x->n_ran++] = seq;
	while ((f = proto_hold_next(&x->h, st, &len)))
		hold_ran(x, f, len);
	if (proto_hold_sync(st, &e)) {
		x->syncs++;
		x->kexp = e;
	}
	return v;
}

static enum proto_hold_verdict hold_req(struct hold_fx *x, uint16_t seq, bool ahead)
{
	return hold_req_on(x, H_PORT, seq, ahead, -1, 0);
}

static void assert_ran(const struct hold_fx *x, const uint16_t *want, int n)
{
	assert_int_equal(x->n_ran, n);
	for (int i = 0; i < n; i++)
		assert_int_equal(x->ran[i], want[i]);
}

static void test_hold_in_order(void **state)
{
	struct hold_fx *x = *state;
	static const uint16_t want[] = { 10, 11, 12 };

	for (uint16_t q = 10; q <= 12; q++)
		assert_int_equal(hold_req(x, q, false), PROTO_HOLD_EXEC);
	assert_ran(x, want, 3);
	/* The kernel advanced itself for each: nothing to write back. */
	assert_int_equal(x->syncs, 0);
	assert_int_equal(x->h.held, 0);
}

static void test_hold_gap_filled_later(void **state)
{
	struct hold_fx *x = *state;
	static const uint16_t want[] = { 10, 11, 12, 13, 15 };

	assert_int_equal(hold_req(x, 10, false), PROTO_HOLD_EXEC);
	assert_int_equal(hold_req(x, 13, true), PROTO_HOLD_HELD);
	assert_int_equal(hold_req(x, 12, true), PROTO_HOLD_HELD);
	assert_int_equal(hold_req(x, 15, true), PROTO_HOLD_HELD);
	assert_int_equal(x->n_ran, 1);
	assert_int_equal(x->h.held, 3);
	/* 11 fills the first gap: 12 and 13 drain, 15 still waits for 14. */
	assert_int_equal(hold_req(x, 11, false), PROTO_HOLD_EXEC);
	assert_ran(x, want, 4);
	assert_int_equal(x->syncs, 1);
	assert_int_equal(x->kexp, 14);
	/* The kernel is now at 14, so 14 comes unmarked; 15 drains after it. */
	assert_int_equal(hold_req(x, 14, false), PROTO_HOLD_EXEC);
	assert_int_equal(x->ran[4], 14);
	assert_int_equal(x->ran[5], 15);
	assert_int_equal(x->kexp, 16);
	assert_int_equal(x->syncs, 2);
}

static void test_hold_duplicates(void **state)
{
	struct hold_fx *x = *state;
	static const uint16_t want[] = { 10, 11, 12 };

	hold_req(x, 10, false);
	assert_int_equal(hold_req(x, 12, true), PROTO_HOLD_HELD);
	/* A retransmission of a held request is not held twice: the caller
	 * answers it with ACK PENDING instead. */
	assert_int_equal(hold_req(x, 12, true), PROTO_HOLD_PENDING);
	assert_int_equal(x->h.held_dup, 1);
	assert_int_equal(hold_req(x, 11, false), PROTO_HOLD_EXEC);
	assert_ran(x, want, 3);
	/* A copy of a drained one that slipped past the kernel before the
	 * write (and missed the cache) never runs again, marked or not. */
	assert_int_equal(hold_req(x, 12, false), PROTO_HOLD_DROP);
	assert_int_equal(hold_req(x, 12, true), PROTO_HOLD_DROP);
	assert_int_equal(hold_req(x, 10, false), PROTO_HOLD_DROP);
	assert_int_equal(x->h.late, 3);
	assert_int_equal(x->n_ran, 3);
	/* An unmarked copy of a request that is still held (the kernel got
	 * there first) runs once, and its held twin is discarded. */
	assert_int_equal(hold_req(x, 14, true), PROTO_HOLD_HELD);
	assert_int_equal(hold_req(x, 13, false), PROTO_HOLD_EXEC);
	assert_int_equal(hold_req(x, 14, false), PROTO_HOLD_DROP);
	assert_int_equal(x->n_ran, 5);
	assert_int_equal(x->ran[3], 13);
	assert_int_equal(x->ran[4], 14);
}

static void test_hold_window(void **state)
{
	struct hold_fx *x = *state;

	hold_req(x, 100, false);
	/* expected is 101: 101 + 64 is one past the last slot. */
	assert_int_equal(hold_req(x, 101 + PROTO_HOLD_SLOTS, true), PROTO_HOLD_DROP);
	assert_int_equal(x->h.overflow, 1);
	for (uint16_t q = 102; q < 101 + PROTO_HOLD_SLOTS; q++)
		assert_int_equal(hold_req(x, q, true), PROTO_HOLD_HELD);
	assert_int_equal(x->h.held, PROTO_HOLD_SLOTS - 1);
	assert_int_equal(hold_req(x, 101, false), PROTO_HOLD_EXEC);
	assert_int_equal(x->n_ran, 1 + PROTO_HOLD_SLOTS);
	for (int i = 0; i < x->n_ran; i++)
		assert_int_equal(x->ran[i], 100 + i);
	assert_int_equal(x->kexp, 101 + PROTO_HOLD_SLOTS);
	/* The window moved with expected: what overflowed before fits now. */
	assert_int_equal(hold_req(x, 102 + PROTO_HOLD_SLOTS, true), PROTO_HOLD_HELD);
}

static void test_hold_wraparound(void **state)
{
	struct hold_fx *x = *state;
	static const uint16_t want[] = { 0xFFFE, 0xFFFF, 0x0000, 0x0001 };

	hold_req(x, 0xFFFE, false);
	assert_int_equal(hold_req(x, 0x0001, true), PROTO_HOLD_HELD);
	assert_int_equal(hold_req(x, 0x0000, true), PROTO_HOLD_HELD);
	assert_int_equal(hold_req(x, 0xFFFF, false), PROTO_HOLD_EXEC);
	assert_ran(x, want, 4);
	assert_int_equal(x->kexp, 2);
	/* 0xFFFF is before 2 across the wrap: late, not 65533 ahead. */
	assert_int_equal(hold_req(x, 0xFFFF, true), PROTO_HOLD_DROP);
	assert_int_equal(x->h.late, 1);
	assert_int_equal(x->h.overflow, 0);
}

static void test_hold_first_restarts(void **state)
{
	struct hold_fx *x = *state;
	static const uint16_t want[] = { 10, 12, 14, 15, 16, 18 };

	hold_req(x, 10, false);
	assert_int_equal(hold_req(x, 14, true), PROTO_HOLD_HELD);
	assert_int_equal(hold_req(x, 12, true), PROTO_HOLD_HELD);
	assert_int_equal(hold_req(x, 16, true), PROTO_HOLD_HELD);
	assert_int_equal(hold_req(x, 18, true), PROTO_HOLD_HELD);
	/* The sender gave up on 11 and 13: 15 comes with FIRST, which the
	 * kernel admits unmarked. What was held before it runs first, in
	 * order, then 15, then what is in order after it. */
	assert_int_equal(hold_req(x, 15, false), PROTO_HOLD_EXEC);
	assert_ran(x, want, 5);
	assert_int_equal(x->h.restarts, 1);
	assert_int_equal(x->kexp, 17);
	/* 18 still waits for 17. */
	assert_int_equal(hold_req(x, 17, false), PROTO_HOLD_EXEC);
	assert_ran(x, (const uint16_t[]){ 10, 12, 14, 15, 16, 17, 18 }, 7);
	assert_int_equal(x->kexp, 19);
	/* A restart far beyond the window flushes everything held. */
	assert_int_equal(hold_req(x, 21, true), PROTO_HOLD_HELD);
	assert_int_equal(hold_req(x, 1000, false), PROTO_HOLD_EXEC);
	assert_int_equal(x->n_ran, 9);
	assert_int_equal(x->ran[7], 21);
	assert_int_equal(x->ran[8], 1000);
	(void)want;
}

static void test_hold_unknown_stream(void **state)
{
	struct hold_fx *x = *state;

	/* An ahead request of a stream the library has not seen (restart,
	 * eviction) needs the kernel's expected value to be placed. */
	assert_int_equal(hold_req_on(x, 7, 50, true, -1, 0), PROTO_HOLD_DROP);
	assert_int_equal(hold_req_on(x, 7, 52, true, 50, 0), PROTO_HOLD_HELD);
	/* The kernel lags the library here: an ahead request that is next
	 * for us runs at once, and the kernel must be told. */
	assert_int_equal(hold_req_on(x, 7, 50, true, 50, 0), PROTO_HOLD_EXEC);
	assert_int_equal(x->syncs, 1);
	assert_int_equal(x->kexp, 51);
	assert_int_equal(hold_req_on(x, 7, 51, false, -1, 0), PROTO_HOLD_EXEC);
	assert_ran(x, (const uint16_t[]){ 50, 51, 52 }, 3);
	assert_int_equal(x->kexp, 53);
}

/* One host opening streams from many ports takes at most its share of the
 * table: its own oldest stream goes, the other hosts' streams stay. */
static void test_hold_peer_share(void **state)
{
	struct hold_fx *x = *state;
	uint16_t p;

	x->host_per_port = true;
	/* hosts +100..+103 each hold a request of theirs */
	for (p = 100; p < 104; p++) {
		hold_req_on(x, p, 10, false, -1, 1);
		assert_int_equal(hold_req_on(x, p, 12, true, -1, 1), PROTO_HOLD_HELD);
	}
	/* one host (H_ADDR) opens 14 streams from 14 ports: more than the 12
	 * free slots, so without its share it would push out the others */
	x->host_per_port = false;
	for (p = 1; p <= 14; p++)
		hold_req_on(x, p, 10, false, -1, 2 + p);
	assert_int_equal(x->h.peer_full, 14 - PROTO_HOLD_PER_PEER);
	assert_int_equal(x->h.evicted, 0);
	/* the other hosts' held requests are still there */
	x->host_per_port = true;
	for (p = 100; p < 104; p++) {
		x->n_ran = 0;
		assert_int_equal(hold_req_on(x, p, 11, false, -1, 20), PROTO_HOLD_EXEC);
		assert_ran(x, (const uint16_t[]){ 11, 12 }, 2);
	}
}

static void test_hold_eviction(void **state)
{
	struct hold_fx *x = *state;

	/* one stream per host: no host is at its share */
	x->host_per_port = true;
	/* Stream on port 0 holds two requests and is used least recently. */
	hold_req_on(x, 0, 10, false, -1, 1);
	hold_req_on(x, 0, 12, true, -1, 1);
	hold_req_on(x, 0, 13, true, -1, 1);
	for (uint16_t p = 1; p < PROTO_HOLD_STREAMS; p++)
		hold_req_on(x, p, 10, false, -1, 2);
	assert_int_equal(x->h.evicted, 0);
	hold_req_on(x, PROTO_HOLD_STREAMS, 10, false, -1, 3);
	assert_int_equal(x->h.evicted, 2);
	/* Port 0 starts afresh: its held requests are gone, and an ahead one
	 * is placed against the kernel again. */
	assert_int_equal(hold_req_on(x, 0, 12, true, 11, 4), PROTO_HOLD_HELD);
	x->n_ran = 0;
	assert_int_equal(hold_req_on(x, 0, 11, false, -1, 4), PROTO_HOLD_EXEC);
	assert_ran(x, (const uint16_t[]){ 11, 12 }, 2);
}

/* ---------------------------------------------------------------- RTO */

/* Completes `id` at `now` with a plain response. */
static void answer(struct fixture *fx, uint32_t id, uint8_t method, uint64_t now)
{
	struct flatrpc_hdr h = resp_hdr(id, method, FLATRPC_RESP, 0);
	struct proto_done d;

	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, now, &d), 1);
}

static void test_rto_initial_is_spec_timeout(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(proto_cli_rto(&fx->cli, M_REL), 1000 * US);
	assert_int_equal(proto_cli_rto(&fx->cli, M_ORD), 2000 * US);
	send_at(fx, M_REL, 50 * US);
	assert_int_equal(proto_cli_next_expiry(&fx->cli, 50 * US), 1050 * US);
}

static void test_rto_from_samples(void **state)
{
	struct fixture *fx = *state;
	uint32_t id;

	/* First sample R: srtt = R, rttvar = R/2, RTO = 3R. */
	id = send_at(fx, M_REL, 0);
	answer(fx, id, M_REL, 100 * US);
	assert_int_equal(proto_cli_rto(&fx->cli, M_REL), 300 * US);
	/* Other methods keep their own estimate. */
	assert_int_equal(proto_cli_rto(&fx->cli, M_ORD), 2000 * US);

	/* Second sample 180 us: rttvar = (3*50 + 80)/4 = 57.5, srtt =
	 * (7*100 + 180)/8 = 110, RTO = 110 + 230 = 340 us. */
	id = send_at(fx, M_REL, 1000 * US);
	answer(fx, id, M_REL, 1180 * US);
	assert_int_equal(proto_cli_rto(&fx->cli, M_REL), 340 * US);

	/* The next call's first attempt uses it. */
	send_at(fx, M_REL, 2000 * US);
	assert_int_equal(proto_cli_next_expiry(&fx->cli, 2000 * US), 2340 * US);
}

static void test_rto_clamped(void **state)
{
	struct fixture *fx = *state;
	uint32_t id;

	id = send_at(fx, M_REL, 0);
	answer(fx, id, M_REL, 10 * US);
	assert_int_equal(proto_cli_rto(&fx->cli, M_REL), RTO_MIN);

	id = send_at(fx, M_ORD, 0);
	answer(fx, id, M_ORD, 1500 * US);	/* 3 * 1500 > 2000 */
	assert_int_equal(proto_cli_rto(&fx->cli, M_ORD), 2000 * US);
}

static void test_rto_karn_and_backoff(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[4];
	uint64_t t = 10000 * US;
	uint32_t id;

	id = send_at(fx, M_REL, 0);
	answer(fx, id, M_REL, 100 * US);	/* RTO 300 us */

	id = send_at(fx, M_REL, t);
	assert_int_equal(proto_cli_next_expiry(&fx->cli, t), t + 300 * US);
	/* Each retransmission doubles the wait, up to the spec's 1000 us. */
	assert_int_equal(proto_cli_expire(&fx->cli, t + 300 * US, ev, 4), 1);
	assert_int_equal(ev[0].kind, PROTO_EV_RETX);
	t += 300 * US;
	assert_int_equal(proto_cli_next_expiry(&fx->cli, t), t + 600 * US);
	assert_int_equal(proto_cli_expire(&fx->cli, t + 600 * US, ev, 4), 1);
	t += 600 * US;
	assert_int_equal(proto_cli_next_expiry(&fx->cli, t), t + 1000 * US);
	assert_int_equal(proto_cli_expire(&fx->cli, t + 1000 * US, ev, 4), 1);
	t += 1000 * US;
	assert_int_equal(proto_cli_next_expiry(&fx->cli, t), t + 1000 * US);

	/* Karn: an answer after retransmissions is no sample, however slow. */
	answer(fx, id, M_REL, t + 900 * US);
	assert_int_equal(proto_cli_rto(&fx->cli, M_REL), 300 * US);
	/* And the backoff was the call's own: the next one starts afresh. */
	send_at(fx, M_REL, t + 1000 * US);
	assert_int_equal(proto_cli_next_expiry(&fx->cli, t + 1000 * US), t + 1300 * US);
}

static void test_rto_lossy_waits_spec_timeout(void **state)
{
	struct fixture *fx = *state;
	uint32_t id;

	id = send_at(fx, M_LOSSY, 0);
	answer(fx, id, M_LOSSY, 20 * US);
	/* No retransmission to time, so the call waits its whole timeout;
	 * at the RTO of the estimate (the 200 us floor) the window counts it
	 * lost, which only wakes the caller. */
	send_at(fx, M_LOSSY, 1000 * US);
	assert_int_equal(proto_cli_next_expiry(&fx->cli, 1000 * US), 1200 * US);
	{
		struct proto_event ev[1];

		assert_int_equal(proto_cli_expire(&fx->cli, 1200 * US, ev, 1), 0);
	}
	assert_int_equal(proto_cli_next_expiry(&fx->cli, 1200 * US), 1500 * US);
	assert_int_equal(proto_cli_rto(&fx->cli, M_LOSSY), 500 * US);
}

/* ---------------------------------------------------- congestion window */

#define PEER_A	0x0a000001u
#define PEER_B	0x0a000002u
#define PORT	0x1d1d

/* Sends to a peer; returns the rpc id, *queued says whether it waits. */
static uint32_t send_peer(struct fixture *fx, uint32_t peer, uint8_t method, uint64_t now,
			  int *queued)
{
	uint32_t id = 0;
	int rc;

	memset(fx->frame, 0xAB, sizeof(fx->frame));
	rc = proto_cli_send_to(&fx->cli, peer, PORT, method, fx->frame, sizeof(fx->frame),
			       now, &id);
	assert_true(rc == 0 || rc == PROTO_QUEUED);
	*queued = rc == PROTO_QUEUED;
	return id;
}

static void answer_kind(struct fixture *fx, uint32_t id, uint8_t method, uint8_t kind,
			uint8_t status, uint64_t now)
{
	struct flatrpc_hdr h = resp_hdr(id, method, kind, status);
	const struct proto_call *k = &fx->cli.calls[id & fx->cli.mask];
	struct proto_done d;

	/* from the host and port it was sent to */
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, k->dst, k->dst_port, now, &d), 1);
	assert_int_equal(d.rpc_id, id);
}

static int ack(struct fixture *fx, uint32_t id, uint8_t method, uint8_t status, uint64_t now,
	       struct proto_done *d)
{
	struct flatrpc_hdr h = resp_hdr(id, method, FLATRPC_ACK, status);
	const struct proto_call *k = &fx->cli.calls[id & fx->cli.mask];

	return proto_cli_on_ack(&fx->cli, &h, k->dst, k->dst_port, now, d);
}

/* Every n of a width maps to a distinct ID, odd widths (cycle walk) too. */
static void test_id_perm_is_a_permutation(void **state)
{
	static const uint64_t key[2] = { 1, 2 }, other[2] = { 1, 3 };
	static const unsigned int widths[] = { 1, 2, 7, 12, 13 };
	static uint8_t seen[1u << 13];
	unsigned int same = 0;

	(void)state;
	for (unsigned int w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
		uint32_t n = 1u << widths[w];

		memset(seen, 0, sizeof(seen));
		for (uint32_t i = 0; i < n; i++) {
			uint32_t v = proto_id_perm(key, widths[w], i);

			assert_true(v < n);
			assert_int_equal(seen[v], 0);
			seen[v] = 1;
		}
	}
	/* another key, another order */
	for (uint32_t i = 0; i < 4096; i++)
		same += proto_id_perm(key, 24, i) == proto_id_perm(other, 24, i);
	assert_true(same < 4);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* IDs over many calls: never repeated, each in its call's slot, and with no
 * stride an observer could extrapolate from one ID to the next. */
static void test_ids_distinct_and_unpredictable(void **state)
{
	struct fixture *fx = *state;
	enum { N = 6000 };
	static uint32_t ids[N];
	unsigned int stride = 0;

	for (int i = 0; i < N; i++) {
		ids[i] = send_at(fx, M_LOSSY, 0);
		assert_true(proto_cli_pending(&fx->cli, ids[i]));
		answer_kind(fx, ids[i], M_LOSSY, FLATRPC_RESP, 0, 0);
		if (i >= 2)
			stride += ids[i] - ids[i - 1] == ids[i - 1] - ids[i - 2];
	}
	assert_true(stride < 4);
	qsort(ids, N, sizeof(ids[0]), cmp_u32);
	for (int i = 1; i < N; i++)
		assert_int_not_equal(ids[i], ids[i - 1]);
}

/* A key holder that was not called cannot answer, ACK or refuse a call:
 * only the called host and port can, and the call stays open for them. */
static void test_answer_only_from_the_callee(void **state)
{
	struct fixture *fx = *state;
	const fr_addr_t a = 0x0a000002, b = 0x0a000003;	/* as send_peer() has them */
	struct proto_done d;
	struct flatrpc_hdr h;
	uint32_t id;
	int queued;

	id = send_peer(fx, 0x0a000002, M_REL, 0, &queued);
	h = resp_hdr(id, M_REL, FLATRPC_RESP, 0);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, b, PORT, 10 * US, &d), 0);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, a, PORT + 1, 10 * US, &d), 0);
	h = resp_hdr(id, M_REL, FLATRPC_ACK, FLATRPC_ACK_PENDING);
	assert_int_equal(proto_cli_on_ack(&fx->cli, &h, b, PORT, 10 * US, &d), 0);
	h = resp_hdr(id, M_REL, FLATRPC_ACK, FLATRPC_ACK_BUSY);
	assert_int_equal(proto_cli_on_ack(&fx->cli, &h, b, PORT, 10 * US, &d), 0);
	assert_int_equal(fx->cli.foreign, 4);
	assert_int_equal(fx->cli.acks + fx->cli.busy, 0);
	assert_true(proto_cli_pending(&fx->cli, id));
	h = resp_hdr(id, M_REL, FLATRPC_RESP, 0);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, a, PORT, 20 * US, &d), 1);
	assert_int_equal(d.rpc_id, id);
	assert_int_equal(fx->cli.foreign, 4);
}

/* A forwarding method is answered by the backend it reached: any host, but
 * still only from the port that was called. */
static void test_forwarded_answer_from_the_backend(void **state)
{
	struct fixture *fx = *state;
	const fr_addr_t backend = 0x0a000009;
	struct proto_done d;
	struct flatrpc_hdr h;
	uint32_t id;
	int queued;

	id = send_peer(fx, 0x0a000002, M_FWD, 0, &queued);
	h = resp_hdr(id, M_FWD, FLATRPC_RESP, 0);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, backend, PORT + 1, 10 * US, &d), 0);
	assert_int_equal(fx->cli.foreign, 1);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, backend, PORT, 10 * US, &d), 1);
	assert_int_equal(d.rpc_id, id);
}

/* An ACK EPOCH as the receiver's XDP makes it: the header, then the epoch. */
struct epoch_ack {
	struct flatrpc_hdr		h;
	struct flatrpc_epoch_body	b;
} __attribute__((packed));

static int ack_epoch_from(struct fixture *fx, uint32_t id, uint8_t method, uint32_t epoch,
			  fr_addr_t from, uint64_t now, struct proto_done *d)
{
	struct epoch_ack a = {
		.h = resp_hdr(id, method, FLATRPC_ACK, FLATRPC_ACK_EPOCH),
		.b = { .epoch = htonl(epoch) },
	};

	a.h.len = htons(sizeof(a.b));
	return proto_cli_on_ack(&fx->cli, &a.h, from, PORT, now, d);
}

/* The first call to a peer is a HELLO; its ACK EPOCH sends it again at
 * once for that epoch, spending no retry, and later calls use it. */
static void test_epoch_hello_then_resend(void **state)
{
	struct fixture *fx = *state;
	const uint32_t e = 0x1234ab07;
	struct proto_done d;
	const void *copy;
	uint16_t len;
	uint32_t id, id2;
	int queued;

	id = send_peer(fx, PEER_A, M_REL, 0, &queued);
	assert_int_equal(proto_cli_call_epoch(&fx->cli, id), 0);
	assert_int_equal(ack_epoch_from(fx, id, M_REL, e, PEER_A, 10 * US, &d), PROTO_ACK_RESEND);
	assert_int_equal(d.rpc_id, id);
	assert_int_equal(proto_cli_call_epoch(&fx->cli, id), e);
	copy = proto_cli_frame(&fx->cli, id, &len);
	assert_non_null(copy);
	assert_int_equal(len, FRAME_LEN);
	assert_int_equal(ntohl(hdr_of(copy)->rpc_id), id);
	assert_int_equal(fx->cli.calls[id & fx->cli.mask].retries_left, 3);
	assert_int_equal(fx->cli.epoch_acks, 1);
	/* a second copy of that ACK: the call already uses its epoch */
	assert_int_equal(ack_epoch_from(fx, id, M_REL, e, PEER_A, 11 * US, &d), 0);
	id2 = send_peer(fx, PEER_A, M_REL, 20 * US, &queued);
	assert_int_equal(proto_cli_call_epoch(&fx->cli, id2), e);
	/* another peer has its own */
	id2 = send_peer(fx, PEER_B, M_REL, 20 * US, &queued);
	assert_int_equal(proto_cli_call_epoch(&fx->cli, id2), 0);
	answer_kind(fx, id, M_REL, FLATRPC_RESP, 0, 30 * US);
	assert_int_equal(proto_cli_call_epoch(&fx->cli, id), 0);
}

/* A lossy call is sent again too (it keeps a copy); a method that can
 * forward() is signed for no epoch, whatever its peer's is. */
static void test_epoch_lossy_and_forwarded(void **state)
{
	struct fixture *fx = *state;
	struct proto_done d;
	uint32_t id;
	int queued;

	id = send_peer(fx, PEER_A, M_LOSSY, 0, &queued);
	assert_int_equal(ack_epoch_from(fx, id, M_LOSSY, 0x77000001, PEER_A, 5 * US, &d),
			 PROTO_ACK_RESEND);
	assert_int_equal(proto_cli_call_epoch(&fx->cli, id), 0x77000001);
	id = send_peer(fx, PEER_A, M_FWD, 10 * US, &queued);
	assert_int_equal(proto_cli_call_epoch(&fx->cli, id), 0);
}

/* Only the callee can move a call's epoch; a malformed ACK EPOCH is a
 * protocol error; a receiver that keeps changing its mind ends the call. */
static void test_epoch_ack_checked(void **state)
{
	struct fixture *fx = *state;
	struct epoch_ack bad;
	struct proto_done d;
	uint32_t id, e = 0x10000001;
	int queued, i;

	id = send_peer(fx, PEER_A, M_REL, 0, &queued);
	assert_int_equal(ack_epoch_from(fx, id, M_REL, e, PEER_B, 5 * US, &d), 0);
	assert_int_equal(fx->cli.foreign, 1);
	assert_int_equal(proto_cli_call_epoch(&fx->cli, id), 0);
	assert_int_equal(ack_epoch_from(fx, id, M_REL, 0, PEER_A, 5 * US, &d), FLATRPC_E_PROTO);
	assert_int_equal(ack_epoch_from(fx, id, M_REL, 0x10000100, PEER_A, 5 * US, &d),
			 FLATRPC_E_PROTO);	/* hint 0 is a HELLO's, never an epoch's */
	bad = (struct epoch_ack){ .h = resp_hdr(id, M_REL, FLATRPC_ACK, FLATRPC_ACK_EPOCH) };
	assert_int_equal(proto_cli_on_ack(&fx->cli, &bad.h, PEER_A, PORT, 5 * US, &d),
			 FLATRPC_E_PROTO);	/* no body */
	for (i = 0; i < PROTO_EPOCH_RESENDS_MAX; i++)
		assert_int_equal(ack_epoch_from(fx, id, M_REL, e + (uint32_t)i, PEER_A, 10 * US, &d),
				 PROTO_ACK_RESEND);
	assert_int_equal(ack_epoch_from(fx, id, M_REL, e + 9, PEER_A, 10 * US, &d), 1);
	assert_int_equal(d.err, FLATRPC_E_TIMEOUT);
	assert_false(proto_cli_pending(&fx->cli, id));
}

/* The response cache asks for a rotation every quarter of its capacity of
 * new entries, so that an entry leaves only after two rotations. */
static void test_srv_rotation_due(void **state)
{
	struct proto_srv s;
	struct proto_srv_cfg cfg = { .capacity = 16, .frame_size = 64 };
	uint8_t f[8] = { 0 };
	int due = 0, evicted_at_due = 0;

	(void)state;
	assert_int_equal(proto_srv_init(&s, &cfg), 0);
	for (uint32_t i = 0; i < 64; i++) {
		assert_int_equal(proto_srv_store(&s, 1, 2, i, f, sizeof(f), i), 0);
		/* a present entry is no new one */
		assert_int_equal(proto_srv_store(&s, 1, 2, i, f, sizeof(f), i), 0);
		if (proto_srv_rotate_due(&s, i)) {
			due++;
			evicted_at_due += s.evictions > 0;
		}
		assert_false(proto_srv_rotate_due(&s, i));
	}
	assert_int_equal(due, 64 / 4);
	assert_int_equal(s.rotations, 16);
	assert_true(evicted_at_due > 0);
	proto_srv_fini(&s);
}

static void test_cwnd_queues_beyond_window(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[8];
	uint32_t id[6];
	int q;

	for (int i = 0; i < 6; i++) {
		id[i] = send_peer(fx, PEER_A, M_REL, 0, &q);
		assert_int_equal(q, i >= 4);
	}
	assert_int_equal(fx->cli.waited, 2);
	/* Another peer has its own window. */
	send_peer(fx, PEER_B, M_REL, 0, &q);
	assert_false(q);
	/* Waiting calls have no timer: nothing to do while the window is full. */
	assert_int_equal(proto_cli_expire(&fx->cli, 10 * US, ev, 8), 0);
	assert_int_equal(proto_cli_next_expiry(&fx->cli, 10 * US), 1000 * US);

	/* One answer: slow start opens the window by one, plus the freed slot. */
	answer_kind(fx, id[0], M_REL, FLATRPC_RESP, 0, 100 * US);
	assert_int_equal(proto_cli_cwnd(&fx->cli, PEER_A, PORT), 5);
	assert_int_equal(proto_cli_expire(&fx->cli, 100 * US, ev, 8), 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ev[i].kind, PROTO_EV_SEND);
		assert_int_equal(ev[i].rpc_id, id[4 + i]);
		assert_int_equal(ntohl(hdr_of(ev[i].frame)->rpc_id), id[4 + i]);
		assert_int_equal(hdr_of(ev[i].frame)->flags & FLATRPC_F_RETX, 0);
		assert_int_equal(((const uint8_t *)ev[i].frame)[FRAME_LEN - 1], 0xAB);
	}
	/* Their timers start when they leave, with the RTO known then
	 * (a 100 us sample: 300 us), not when they were registered. */
	assert_int_equal(proto_cli_next_expiry(&fx->cli, 100 * US), 400 * US);
	assert_int_equal(proto_cli_expire(&fx->cli, 400 * US, ev, 8), 2);
	assert_int_equal(ev[0].kind, PROTO_EV_RETX);
	assert_int_equal(ev[1].kind, PROTO_EV_RETX);
	assert_int_equal(fx->cli.retransmits, 2);
}

static void test_cwnd_priority_leaves_first(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[4];
	uint32_t low, lossy, high, first;
	int q;

	first = send_peer(fx, PEER_A, M_REL, 0, &q);
	send_peer(fx, PEER_A, M_REL, 0, &q);
	low = send_peer(fx, PEER_A, M_REL, 0, &q);
	assert_true(q);
	lossy = send_peer(fx, PEER_A, M_LOSSY, 0, &q);
	assert_true(q);
	high = send_peer(fx, PEER_A, M_HIGH, 0, &q);
	assert_true(q);
	answer_kind(fx, first, M_REL, FLATRPC_RESP, 0, 10 * US);
	/* cwnd 3 now, one in flight: two leave, the high-priority one first,
	 * then the oldest. */
	assert_int_equal(proto_cli_expire(&fx->cli, 10 * US, ev, 4), 2);
	assert_int_equal(ev[0].rpc_id, high);
	assert_int_equal(ev[1].rpc_id, low);
	answer_kind(fx, high, M_HIGH, FLATRPC_RESP, 0, 20 * US);
	assert_int_equal(proto_cli_expire(&fx->cli, 20 * US, ev, 4), 1);
	assert_int_equal(ev[0].rpc_id, lossy);
	/* A lossy call that waited went out from its copy. */
	assert_int_equal(ntohl(hdr_of(ev[0].frame)->rpc_id), lossy);
	assert_int_equal(hdr_of(ev[0].frame)->method, M_LOSSY);
}

static void test_cwnd_halves_once_per_window(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[16];
	uint32_t id[8];
	int q;

	for (int i = 0; i < 8; i++)
		id[i] = send_peer(fx, PEER_A, M_REL, 0, &q);
	/* The whole window is lost: one cut, not eight. */
	assert_int_equal(proto_cli_expire(&fx->cli, 1000 * US, ev, 16), 8);
	assert_int_equal(fx->cli.cwnd_cuts, 1);
	assert_int_equal(proto_cli_cwnd(&fx->cli, PEER_A, PORT), 4);
	/* Congestion avoidance from ssthresh 4: +1/cwnd per answer. */
	for (int i = 0; i < 8; i++)
		answer_kind(fx, id[i], M_REL, FLATRPC_RESP, 0, 1100 * US);
	assert_int_equal(proto_cli_cwnd(&fx->cli, PEER_A, PORT), 5);
	/* A loss of an attempt sent after the cut cuts again. */
	for (int i = 0; i < 5; i++)
		send_peer(fx, PEER_A, M_REL, 2000 * US, &q);
	assert_int_equal(proto_cli_expire(&fx->cli, 3000 * US, ev, 16), 5);
	assert_int_equal(fx->cli.cwnd_cuts, 2);
	assert_int_equal(proto_cli_cwnd(&fx->cli, PEER_A, PORT), 2);
}

/* Losses halve the window down to the floor and no further: below it a
 * lossy call would only wait behind a reliable one's loss. A BUSY, the
 * receiver's own word, still goes below. */
static void test_cwnd_loss_stops_at_floor(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[32];
	struct proto_done d;
	uint64_t t = 0;
	uint32_t id;
	int q;

	for (unsigned int want = 8; want >= 2; want /= 2) {
		for (int i = 0; i < 2; i++)
			send_peer(fx, PEER_A, M_REL, t, &q);
		t += 1000 * US;
		/* each round's attempts left after the last cut: it cuts */
		assert_int_equal(proto_cli_expire(&fx->cli, t, ev, 32), 2);
		assert_int_equal(proto_cli_cwnd(&fx->cli, PEER_A, PORT), want < 4 ? 4 : want);
		t += 1000 * US;
		/* the retransmissions are lost too, which ends them */
		while (proto_cli_expire(&fx->cli, t, ev, 32) > 0 || proto_cli_next_expiry(&fx->cli, t) !=
		       PROTO_NO_EXPIRY)
			t += 1000 * US;
	}
	/* 16 -> 8 -> 4, then the third loss leaves it at the floor */
	assert_int_equal(fx->cli.cwnd_cuts, 2);
	id = send_peer(fx, PEER_A, M_REL, t, &q);
	assert_int_equal(ack(fx, id, M_REL, FLATRPC_ACK_BUSY, t + 10 * US, &d), 0);
	assert_int_equal(proto_cli_cwnd(&fx->cli, PEER_A, PORT), 2);
	assert_int_equal(fx->cli.cwnd_cuts, 3);
}

/* ACK PENDING: the receiver holds the request (queued, or held behind a
 * gap), so it is out of the network and out of the window; a call waiting
 * for room leaves, and the held call's later timeout is no loss. */
static void test_cwnd_pending_leaves_window(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[4];
	struct proto_done d;
	uint32_t a, b, c;
	int q;

	a = send_peer(fx, PEER_A, M_REL, 0, &q);
	b = send_peer(fx, PEER_A, M_REL, 0, &q);
	c = send_peer(fx, PEER_A, M_REL, 0, &q);
	assert_true(q);
	assert_int_equal(proto_cli_expire(&fx->cli, 10 * US, ev, 4), 0);
	assert_int_equal(ack(fx, a, M_REL, FLATRPC_ACK_PENDING, 20 * US, &d), 0);
	assert_int_equal(proto_cli_expire(&fx->cli, 20 * US, ev, 4), 1);
	assert_int_equal(ev[0].kind, PROTO_EV_SEND);
	assert_int_equal(ev[0].rpc_id, c);
	/* a's timer ran on from the ACK: it is resent, but the window stays */
	assert_int_equal(proto_cli_expire(&fx->cli, 1020 * US, ev, 4), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ev[i].kind, PROTO_EV_RETX);
	assert_int_equal(fx->cli.cwnd_cuts, 1);	/* b's and c's loss, once */
	/* a second ACK for a does not free a second slot */
	assert_int_equal(ack(fx, a, M_REL, FLATRPC_ACK_PENDING, 1030 * US, &d), 0);
	answer_kind(fx, a, M_REL, FLATRPC_RESP, 0, 1040 * US);
	answer_kind(fx, c, M_REL, FLATRPC_RESP, 0, 1050 * US);
	assert_true(proto_cli_pending(&fx->cli, b));
	assert_int_equal(fx->cli.peers[0].inflight, 1);
}

static void test_cwnd_floor_default(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(fx->cli.cwnd_floor, PROTO_CWND_FLOOR * PROTO_CWND_ONE);
	assert_int_equal(fx->cli.cwnd_init, PROTO_CWND_INIT * PROTO_CWND_ONE);
}

static void test_cwnd_anf_error_is_not_congestion(void **state)
{
	struct fixture *fx = *state;
	uint32_t id[4];
	int q;

	for (int i = 0; i < 4; i++)
		id[i] = send_peer(fx, PEER_A, M_REL, 0, &q);
	/* Denied by an ANF (1..127) or failed in the server (128+): answers. */
	answer_kind(fx, id[0], M_REL, FLATRPC_ERR, 5, 10 * US);
	answer_kind(fx, id[1], M_REL, FLATRPC_ERR, 5, 10 * US);
	answer_kind(fx, id[2], M_REL, FLATRPC_ERR, FLATRPC_ST_APP, 10 * US);
	answer_kind(fx, id[3], M_REL, FLATRPC_RESP, 0, 10 * US);
	assert_int_equal(fx->cli.cwnd_cuts, 0);
	assert_int_equal(proto_cli_cwnd(&fx->cli, PEER_A, PORT), 8);
}

static void test_cwnd_lost_lossy_frees_its_slot(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[4];
	struct proto_done d;
	uint32_t lost, next, late;
	int q;

	lost = send_peer(fx, PEER_A, M_LOSSY, 0, &q);
	next = send_peer(fx, PEER_A, M_LOSSY, 0, &q);
	assert_true(q);
	/* Before its RTO (the spec timeout, no sample yet) nothing moves. */
	assert_int_equal(proto_cli_expire(&fx->cli, 499 * US, ev, 4), 0);
	/* Loss of a lossy call: it leaves the window without cutting it
	 * (a lost lossy message delays no other RPC), and the next one
	 * goes... */
	assert_int_equal(proto_cli_expire(&fx->cli, 500 * US, ev, 4), 2);
	assert_int_equal(ev[0].kind, PROTO_EV_TIMEOUT);
	assert_int_equal(ev[1].kind, PROTO_EV_SEND);
	assert_int_equal(ev[1].rpc_id, next);
	assert_int_equal(fx->cli.cwnd_cuts, 0);
	answer_kind(fx, next, M_LOSSY, FLATRPC_RESP, 0, 520 * US);
	(void)lost;
	/* ...and with an estimate (20 us: RTO 200 us), a lost lossy call
	 * gives its slot back at the RTO, long before its 500 us timeout. */
	lost = send_peer(fx, PEER_B, M_LOSSY, 1000 * US, &q);
	assert_false(q);
	late = send_peer(fx, PEER_B, M_LOSSY, 1000 * US, &q);
	assert_true(q);
	assert_int_equal(proto_cli_expire(&fx->cli, 1199 * US, ev, 4), 0);
	assert_int_equal(proto_cli_expire(&fx->cli, 1200 * US, ev, 4), 1);
	assert_int_equal(ev[0].kind, PROTO_EV_SEND);
	assert_int_equal(ev[0].rpc_id, late);
	assert_true(proto_cli_pending(&fx->cli, lost));
	/* A late answer still completes it, without taking a slot twice. */
	answer_kind(fx, lost, M_LOSSY, FLATRPC_RESP, 0, 1300 * US);
	assert_int_equal(fx->cli.peers[1].inflight, 1);
	assert_int_equal(proto_cli_cwnd(&fx->cli, PEER_B, PORT), 2);
	(void)d;
}

static void test_busy_resends_without_a_retry(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[4];
	struct proto_done d;
	uint32_t id;
	int q;

	id = send_peer(fx, PEER_A, M_REL, 0, &q);
	assert_int_equal(ack(fx, id, M_REL, FLATRPC_ACK_BUSY, 50 * US, &d), 0);
	assert_int_equal(fx->cli.busy, 1);
	assert_int_equal(proto_cli_cwnd(&fx->cli, PEER_A, PORT), 4);
	assert_true(proto_cli_pending(&fx->cli, id));
	/* It waits one RTO from the refusal, then goes again as a send. */
	assert_int_equal(proto_cli_next_expiry(&fx->cli, 50 * US), 1050 * US);
	assert_int_equal(proto_cli_expire(&fx->cli, 1049 * US, ev, 4), 0);
	assert_int_equal(proto_cli_expire(&fx->cli, 1050 * US, ev, 4), 1);
	assert_int_equal(ev[0].kind, PROTO_EV_SEND);
	assert_int_equal(ev[0].rpc_id, id);
	assert_int_equal(fx->cli.retransmits, 0);
	/* Its retries are intact: three retransmissions, then the timeout. */
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(proto_cli_expire(&fx->cli, 1050 * US + i * 1000 * US, ev, 4), 1);
		assert_int_equal(ev[0].kind, PROTO_EV_RETX);
	}
	assert_int_equal(proto_cli_expire(&fx->cli, 5050 * US, ev, 4), 1);
	assert_int_equal(ev[0].kind, PROTO_EV_TIMEOUT);
	/* An answer during the wait would be stale: nothing is at the server. */
	id = send_peer(fx, PEER_A, M_REL, 6000 * US, &q);
	assert_int_equal(ack(fx, id, M_REL, FLATRPC_ACK_BUSY, 6000 * US, &d), 0);
	{
		struct flatrpc_hdr h = resp_hdr(id, M_REL, FLATRPC_RESP, 0);

		assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, 0, 6001 * US, &d), 0);
	}
}

static void test_busy_lossy_fails_fast(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[4];
	struct proto_done d;
	uint32_t id;
	int q;

	id = send_peer(fx, PEER_A, M_LOSSY, 0, &q);
	assert_int_equal(ack(fx, id, M_LOSSY, FLATRPC_ACK_BUSY, 10 * US, &d), 1);
	assert_int_equal(d.rpc_id, id);
	assert_int_equal(d.err, FLATRPC_E_OVERLOADED);
	assert_false(proto_cli_pending(&fx->cli, id));
	/* Never sent again. */
	assert_int_equal(proto_cli_expire(&fx->cli, 10000 * US, ev, 4), 0);
	assert_int_equal(fx->cli.retransmits, 0);
	/* A malformed ACK is an error, an unknown one stale. */
	assert_int_equal(ack(fx, id, M_LOSSY, 9, 10 * US, &d), FLATRPC_E_PROTO);
	assert_int_equal(ack(fx, id, M_LOSSY, FLATRPC_ACK_BUSY, 10 * US, &d), 0);
	assert_int_equal(fx->cli.stale, 1);
}

static void test_busy_keeps_peer_order(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[4];
	struct proto_done d;
	uint32_t a, b, c;
	int q;

	a = send_peer(fx, PEER_A, M_REL, 0, &q);
	b = send_peer(fx, PEER_A, M_REL, 0, &q);
	c = send_peer(fx, PEER_A, M_REL, 0, &q);
	assert_true(q);
	assert_int_equal(ack(fx, a, M_REL, FLATRPC_ACK_BUSY, 10 * US, &d), 0);
	assert_int_equal(proto_cli_cwnd(&fx->cli, PEER_A, PORT), 1);
	answer_kind(fx, b, M_REL, FLATRPC_RESP, 0, 20 * US);
	/* The refused call is still first in line: c waits behind it. */
	assert_int_equal(proto_cli_expire(&fx->cli, 20 * US, ev, 4), 0);
	assert_int_equal(proto_cli_next_expiry(&fx->cli, 20 * US), 1010 * US);
	/* The answer grew the window to 2: both go, in their order. */
	assert_int_equal(proto_cli_expire(&fx->cli, 1010 * US, ev, 4), 2);
	assert_int_equal(ev[0].rpc_id, a);
	assert_int_equal(ev[1].rpc_id, c);
}

static void test_ack_pending_restarts_timer(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[4];
	struct proto_done d;
	uint32_t id = send_at(fx, M_REL, 0);

	assert_int_equal(proto_cli_expire(&fx->cli, 1000 * US, ev, 4), 1);
	assert_int_equal(ev[0].kind, PROTO_EV_RETX);
	assert_int_equal(ack(fx, id, M_REL, FLATRPC_ACK_PENDING, 1500 * US, &d), 0);
	assert_int_equal(fx->cli.acks, 1);
	assert_true(proto_cli_pending(&fx->cli, id));
	assert_int_equal(proto_cli_next_expiry(&fx->cli, 1500 * US), 2500 * US);
	assert_int_equal(proto_cli_expire(&fx->cli, 2000 * US, ev, 4), 0);
	/* The retransmission was the loss; the ACK is none. */
	assert_int_equal(fx->cli.cwnd_cuts, 1);
	answer_kind(fx, id, M_REL, FLATRPC_RESP, 0, 2100 * US);
	assert_int_equal(fx->cli.retransmits, 1);
}

/* A held call waits for a gap that an RTO need not cover: each ACK PENDING
 * doubles its timer, up to the method's timeout. */
static void test_ack_pending_backs_off(void **state)
{
	struct fixture *fx = *state;
	struct proto_done d;
	uint64_t rto;
	uint32_t id;

	/* one round trip of 50 us: the RTO falls to its floor */
	id = send_at(fx, M_ORD, 0);
	answer_kind(fx, id, M_ORD, FLATRPC_RESP, 0, 50 * US);
	rto = proto_cli_rto(&fx->cli, M_ORD);
	assert_true(4 * rto < 2000 * US);
	id = send_at(fx, M_ORD, 100 * US);
	assert_int_equal(ack(fx, id, M_ORD, FLATRPC_ACK_PENDING, 110 * US, &d), 0);
	assert_int_equal(proto_cli_next_expiry(&fx->cli, 110 * US), 110 * US + 2 * rto);
	assert_int_equal(ack(fx, id, M_ORD, FLATRPC_ACK_PENDING, 120 * US, &d), 0);
	assert_int_equal(proto_cli_next_expiry(&fx->cli, 120 * US), 120 * US + 4 * rto);
}

/* ---------------------------------------------------- server: priority */

static void test_prio_order(void **state)
{
	static const unsigned int lv[] = { 0, 0, 0, 7, 0, 3 };
	static const uint32_t want[] = { 3, 5, 0, 1, 2, 4 };
	struct proto_prio p;
	struct proto_prio_item it;
	unsigned int level;

	(void)state;
	assert_int_equal(proto_prio_init(&p, 4), 0);
	for (uint32_t i = 0; i < 6; i++) {
		it = (struct proto_prio_item){ .addr = i * 2048, .rpc_id = i, .peer = 1, .port = 2 };
		assert_int_equal(proto_prio_push(&p, lv[i], &it), 0);
	}
	/* Four level-0 requests fill their queue; level 7 still has room. */
	it = (struct proto_prio_item){ .rpc_id = 99 };
	assert_int_equal(proto_prio_push(&p, 0, &it), -ENOSPC);
	assert_true(proto_prio_has(&p, 1, 2, 4));
	assert_false(proto_prio_has(&p, 1, 3, 4));
	assert_int_equal(p.bypassed[7], 3);
	assert_int_equal(p.bypassed[3], 4);
	for (int i = 0; i < 6; i++) {
		assert_true(proto_prio_pop(&p, &it, &level));
		assert_int_equal(it.rpc_id, want[i]);
		assert_int_equal(it.addr, want[i] * 2048);
		assert_int_equal(level, lv[want[i]]);
		if (i == 2) {
			/* Arriving while low ones wait, it runs next. */
			it = (struct proto_prio_item){ .rpc_id = 42 };
			assert_int_equal(proto_prio_push(&p, 5, &it), 0);
			assert_true(proto_prio_pop(&p, &it, &level));
			assert_int_equal(it.rpc_id, 42);
		}
	}
	assert_false(proto_prio_pop(&p, &it, &level));
	assert_false(proto_prio_has(&p, 1, 2, 4));
	assert_int_equal(p.total, 0);
	for (unsigned int l = 0; l < FLATRPC_PRIO_LEVELS; l++)
		assert_int_equal(p.overtaken_max[l], 0);
	proto_prio_fini(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reliable_retransmits_then_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lossy_never_retransmitted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abandoned_seq_restarts_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_response_completes_and_frees, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_status_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_responses_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_and_id_wraparound, setup_wrap, teardown),
		cmocka_unit_test_setup_teardown(test_table_full_busy, setup_small, teardown),
		cmocka_unit_test(test_id_perm_is_a_permutation),
		cmocka_unit_test_setup_teardown(test_ids_distinct_and_unpredictable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_only_from_the_callee, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forwarded_answer_from_the_backend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire_respects_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rto_initial_is_spec_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rto_from_samples, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rto_clamped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rto_karn_and_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rto_lossy_waits_spec_timeout, setup, teardown),
		cmocka_unit_test(test_srv_cache_hit_miss_evict),
		cmocka_unit_test(test_srv_ttl),
		cmocka_unit_test(test_srv_cache_ipv6_peers),
		cmocka_unit_test(test_cli_ipv6_header_offset),
		cmocka_unit_test(test_srv_dup_handling),
		cmocka_unit_test_setup_teardown(test_hold_in_order, hold_setup, hold_teardown),
		cmocka_unit_test_setup_teardown(test_hold_gap_filled_later, hold_setup, hold_teardown),
		cmocka_unit_test_setup_teardown(test_hold_duplicates, hold_setup, hold_teardown),
		cmocka_unit_test_setup_teardown(test_hold_window, hold_setup, hold_teardown),
		cmocka_unit_test_setup_teardown(test_hold_wraparound, hold_setup, hold_teardown),
		cmocka_unit_test_setup_teardown(test_hold_first_restarts, hold_setup, hold_teardown),
		cmocka_unit_test_setup_teardown(test_hold_unknown_stream, hold_setup, hold_teardown),
		cmocka_unit_test_setup_teardown(test_hold_eviction, hold_setup, hold_teardown),
		cmocka_unit_test_setup_teardown(test_hold_peer_share, hold_setup, hold_teardown),
		cmocka_unit_test_setup_teardown(test_cwnd_queues_beyond_window, setup_w4, teardown),
		cmocka_unit_test_setup_teardown(test_cwnd_loss_stops_at_floor, setup_w16_floor4,
						teardown),
		cmocka_unit_test_setup_teardown(test_cwnd_floor_default, setup_defaults, teardown),
		cmocka_unit_test_setup_teardown(test_cwnd_pending_leaves_window, setup_w2, teardown),
		cmocka_unit_test_setup_teardown(test_cwnd_priority_leaves_first, setup_w2, teardown),
		cmocka_unit_test_setup_teardown(test_cwnd_halves_once_per_window, setup_w8, teardown),
		cmocka_unit_test_setup_teardown(test_cwnd_anf_error_is_not_congestion, setup_w4, teardown),
		cmocka_unit_test_setup_teardown(test_cwnd_lost_lossy_frees_its_slot, setup_w1, teardown),
		cmocka_unit_test_setup_teardown(test_busy_resends_without_a_retry, setup_w8, teardown),
		cmocka_unit_test_setup_teardown(test_busy_lossy_fails_fast, setup_w8, teardown),
		cmocka_unit_test_setup_teardown(test_busy_keeps_peer_order, setup_w2, teardown),
		cmocka_unit_test_setup_teardown(test_ack_pending_restarts_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_pending_backs_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch_hello_then_resend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch_lossy_and_forwarded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch_ack_checked, setup, teardown),
		cmocka_unit_test(test_srv_rotation_due),
		cmocka_unit_test(test_prio_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

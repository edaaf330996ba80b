/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_proto.c - the protocol core with simulated time: no root, no sleeps.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "proto.h"

#define US		1000ull
#define HDR_OFF		42	/* Ethernet + IPv4 + UDP, as the socket layer uses */
#define FRAME_LEN	(HDR_OFF + sizeof(struct flatrpc_hdr) + 8)

enum { M_REL, M_LOSSY, M_ORD, M_ORD_LOSSY, N_METHODS };

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
};

static const struct flatrpc_service_desc svc = {
	.name = "test", .spec_hash = 42, .port = 7447,
	.n_methods = N_METHODS, .methods = methods,
};

struct fixture {
	struct proto_cli	cli;
	uint8_t			frame[FRAME_LEN];
};

static int setup_with(void **state, uint32_t first_id, uint16_t first_seq, unsigned int cap)
{
	static struct fixture fx;
	struct proto_cli_cfg cfg = {
		.svc = &svc, .first_rpc_id = first_id, .first_seq = first_seq,
		.capacity = cap, .frame_size = 256, .hdr_off = HDR_OFF,
	};

	memset(&fx, 0, sizeof(fx));
	if (proto_cli_init(&fx.cli, &cfg))
		return -1;
	*state = &fx;
	return 0;
}

static int setup(void **state) { return setup_with(state, 1000, 0, 0); }
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

	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 10 * US, &d), 1);
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
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, &d), 1);
	assert_int_equal(d.err, FLATRPC_E_ANF);
	assert_int_equal(d.status, 5);

	id = send_at(fx, M_REL, 0);
	h = resp_hdr(id, M_REL, FLATRPC_ERR, FLATRPC_MAX_ERRORS);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, &d), 1);
	assert_int_equal(d.err, FLATRPC_E_ANF);

	id = send_at(fx, M_LOSSY, 0);
	h = resp_hdr(id, M_LOSSY, FLATRPC_ERR, FLATRPC_ST_APP);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, &d), 1);
	assert_int_equal(d.err, FLATRPC_E_REMOTE);
	assert_int_equal(d.status, FLATRPC_ST_APP);

	id = send_at(fx, M_LOSSY, 0);
	h = resp_hdr(id, M_LOSSY, FLATRPC_ERR, FLATRPC_ST_NO_METHOD);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, &d), 1);
	assert_int_equal(d.err, FLATRPC_E_REMOTE);

	/* A request or ACK is not a response at all. */
	id = send_at(fx, M_LOSSY, 0);
	h = resp_hdr(id, M_LOSSY, FLATRPC_REQ, 0);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, &d), FLATRPC_E_PROTO);
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
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, &d), 0);
	assert_int_equal(fx->cli.stale, 1);
	/* Same slot, different method: not ours either. */
	h = resp_hdr(id, M_REL, FLATRPC_RESP, 0);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, &d), 0);
	assert_int_equal(fx->cli.stale, 2);
	assert_true(proto_cli_pending(&fx->cli, id));

	/* Late answer after the deadline. */
	assert_int_equal(proto_cli_expire(&fx->cli, 500 * US, ev, 4), 1);
	h = resp_hdr(id, M_LOSSY, FLATRPC_RESP, 0);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 600 * US, &d), 0);
	assert_int_equal(fx->cli.stale, 3);

	/* Duplicate answer after completion. */
	id = send_at(fx, M_REL, 0);
	h = resp_hdr(id, M_REL, FLATRPC_RESP, 0);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, &d), 1);
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, &d), 0);
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
static void test_abandoned_seq_restarts_stream(void **state)
{
	struct fixture *fx = *state;
	struct proto_event ev[4];
	uint32_t id1, id2;
	int n, timeouts = 0;

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

	/* and so does the next new message; the one after is ordinary */
	send_at(fx, M_ORD, 7600 * US);
	assert_true(hdr_of(fx->frame)->flags & FLATRPC_F_FIRST);
	assert_int_equal(ntohs(hdr_of(fx->frame)->seq), 2);
	send_at(fx, M_ORD, 7700 * US);
	assert_false(hdr_of(fx->frame)->flags & FLATRPC_F_FIRST);

	/* a lossy in-order stream restarts the same way after a timeout */
	send_at(fx, M_ORD_LOSSY, 8000 * US);
	send_at(fx, M_ORD_LOSSY, 8000 * US);
	assert_false(hdr_of(fx->frame)->flags & FLATRPC_F_FIRST);
	proto_cli_expire(&fx->cli, 9000 * US, ev, 4);
	send_at(fx, M_ORD_LOSSY, 9100 * US);
	assert_true(hdr_of(fx->frame)->flags & FLATRPC_F_FIRST);
}

static void test_seq_and_id_wraparound(void **state)
{
	struct fixture *fx = *state;
	const uint16_t want_seq[] = { 0xFFFE, 0xFFFF, 0x0000, 0x0001 };
	const uint32_t want_id[] = { 0xFFFFFFFEu, 0xFFFFFFFFu, 0, 1 };
	uint32_t ids[4];
	struct proto_done d;

	for (int i = 0; i < 4; i++) {
		ids[i] = send_at(fx, M_ORD, 0);
		assert_int_equal(ids[i], want_id[i]);
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

		assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, &d), 1);
		assert_int_equal(d.rpc_id, want_id[i]);
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
	assert_int_equal(proto_cli_on_response(&fx->cli, &h, 0, &d), 1);
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
		cmocka_unit_test_setup_teardown(test_expire_respects_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
		cmocka_unit_test(test_srv_cache_hit_miss_evict),
		cmocka_unit_test(test_srv_ttl),
		cmocka_unit_test(test_srv_dup_handling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_frag.c - reassembly of multi-packet messages with simulated time:
 * out of order, duplicates, a missing fragment freed on timeout, the bounds
 * of the table, and the whole-message store.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flatrpc.h"
#include "frag.h"

#define MS		1000000ull
#define TIMEOUT		(100 * MS)
#define PREFIX_LEN	54
#define BIG		65600	/* a 64 KiB value plus its key: 47 fragments */

static uint8_t msg[FLATRPC_MSG_MAX];
static uint8_t prefix[PREFIX_LEN];

static int setup(void **state)
{
	struct frag_rx *r = calloc(1, sizeof(*r));

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + (i >> 8));
	for (size_t i = 0; i < sizeof(prefix); i++)
		prefix[i] = (uint8_t)(0xA0 + i);
	if (!r || frag_rx_init(r, 4, TIMEOUT))
		return -1;
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	frag_rx_fini(*state);
	free(*state);
	return 0;
}

/* Fragment `index` of a `len`-byte message `rpc_id` from port `port`. */
static enum frag_verdict add(struct frag_rx *r, uint32_t rpc_id, uint16_t port, size_t len,
			     unsigned int index, uint64_t now, struct frag_slot **done)
{
	size_t off;
	uint32_t n = frag_piece(len, index, &off);
	struct frag_in in = {
		.addr = 0x0100000a, .port = port, .kind = FLATRPC_REQ, .rpc_id = rpc_id,
		.index = index, .count = frag_count(len), .payload = msg + off, .plen = n,
		.prefix = prefix, .prefix_len = sizeof(prefix),
	};

	return frag_rx_add(r, &in, now, done);
}

static void assert_whole(const struct frag_slot *s, size_t len)
{
	assert_non_null(s);
	assert_int_equal(s->len, len);
	assert_memory_equal(s->buf, msg, len);
	assert_int_equal(s->prefix_len, sizeof(prefix));
	assert_memory_equal(s->prefix, prefix, sizeof(prefix));
}

static void test_split(void **state)
{
	size_t off;

	(void)state;
	assert_int_equal(frag_count(1), 1);
	assert_int_equal(frag_count(FLATRPC_FRAG_CHUNK), 1);
	assert_int_equal(frag_count(FLATRPC_FRAG_CHUNK + 1), 2);
	assert_int_equal(frag_count(FLATRPC_MSG_MAX), FLATRPC_FRAG_MAX);
	assert_int_equal(frag_count(65536), 47);
	assert_int_equal(frag_piece(FLATRPC_FRAG_CHUNK + 1, 1, &off), 1);
	assert_int_equal(off, FLATRPC_FRAG_CHUNK);
	assert_true(frag_valid(0, 2, FLATRPC_FRAG_CHUNK));
	assert_true(frag_valid(1, 2, 1));
	assert_false(frag_valid(0, 2, FLATRPC_FRAG_CHUNK - 1));	/* short middle piece */
	assert_false(frag_valid(1, 2, 0));
	assert_false(frag_valid(1, 2, FLATRPC_FRAG_CHUNK + 1));
	assert_false(frag_valid(2, 2, 10));			/* index past count */
	assert_false(frag_valid(0, 1, 10));			/* one fragment is no fragment */
	assert_false(frag_valid(0, FLATRPC_FRAG_MAX + 1, FLATRPC_FRAG_CHUNK));
}

static void test_in_order(void **state)
{
	struct frag_rx *r = *state;
	struct frag_slot *done = NULL;
	unsigned int count = frag_count(BIG);

	for (unsigned int i = 0; i + 1 < count; i++) {
		assert_int_equal(add(r, 1, 7, BIG, i, i, &done), FRAG_PARTIAL);
		assert_null(done);
	}
	assert_int_equal(add(r, 1, 7, BIG, count - 1, count, &done), FRAG_DONE);
	assert_whole(done, BIG);
	assert_int_equal(r->completed, 1);
	frag_rx_release(r, done);
	assert_int_equal(frag_rx_in_use(r), 0);
}

/* Reverse and interleaved order: the last fragment (which fixes the length)
 * and the first (which carries the prefix) arrive at odd times. */
static void test_out_of_order(void **state)
{
	struct frag_rx *r = *state;
	struct frag_slot *done = NULL, *a = NULL, *b = NULL;
	unsigned int count = frag_count(BIG);

	for (unsigned int i = count; i-- > 1;)
		assert_int_equal(add(r, 2, 7, BIG, i, 0, &done), FRAG_PARTIAL);
	assert_int_equal(add(r, 2, 7, BIG, 0, 0, &done), FRAG_DONE);
	assert_whole(done, BIG);
	frag_rx_release(r, done);

	/* two messages at once, same sender, fragments interleaved */
	for (unsigned int i = 0; i < 2; i++) {
		assert_int_equal(add(r, 3, 7, 2000, 1 - i, 0, &a), i ? FRAG_DONE : FRAG_PARTIAL);
		assert_int_equal(add(r, 4, 7, 3000, 2 - i, 0, &b), FRAG_PARTIAL);
	}
	assert_int_equal(add(r, 4, 7, 3000, 0, 0, &b), FRAG_DONE);
	assert_whole(a, 2000);
	assert_whole(b, 3000);
	assert_int_equal(r->completed, 3);
	frag_rx_release(r, a);
	frag_rx_release(r, b);
}

static void test_duplicates(void **state)
{
	struct frag_rx *r = *state;
	struct frag_slot *done = NULL;

	assert_int_equal(add(r, 5, 7, 4000, 1, 0, &done), FRAG_PARTIAL);
	assert_int_equal(add(r, 5, 7, 4000, 1, 0, &done), FRAG_DUP);
	assert_int_equal(add(r, 5, 7, 4000, 0, 0, &done), FRAG_PARTIAL);
	assert_int_equal(add(r, 5, 7, 4000, 0, 0, &done), FRAG_DUP);
	assert_int_equal(r->dup, 2);
	assert_int_equal(add(r, 5, 7, 4000, 2, 0, &done), FRAG_DONE);
	assert_whole(done, 4000);
	frag_rx_release(r, done);
	/* A copy arriving after completion starts a new partial message,
	 * which the timeout frees: it is never handed out twice. */
	assert_int_equal(add(r, 5, 7, 4000, 2, 1, &done), FRAG_PARTIAL);
	assert_null(done);
	assert_int_equal(frag_rx_expire(r, 1 + TIMEOUT), 1);
	assert_int_equal(frag_rx_in_use(r), 0);
}

static void test_missing_times_out(void **state)
{
	struct frag_rx *r = *state;
	struct frag_slot *done = NULL;
	unsigned int count = frag_count(BIG);

	for (unsigned int i = 0; i < count; i++)
		if (i != 20)
			assert_int_equal(add(r, 6, 7, BIG, i, 10 * MS, &done), FRAG_PARTIAL);
	assert_int_equal(frag_rx_in_use(r), 1);
	assert_int_equal(frag_rx_expire(r, 10 * MS + TIMEOUT - 1), 0);
	assert_int_equal(frag_rx_expire(r, 10 * MS + TIMEOUT), 1);
	assert_int_equal(r->expired, 1);
	assert_int_equal(frag_rx_in_use(r), 0);
	/* the missing one on its own now is a new, partial message */
	assert_int_equal(add(r, 6, 7, BIG, 20, 200 * MS, &done), FRAG_PARTIAL);
	assert_null(done);
}

/* A fragment refreshes its message: the timeout counts from the last one. */
static void test_timeout_from_last_fragment(void **state)
{
	struct frag_rx *r = *state;
	struct frag_slot *done = NULL;

	assert_int_equal(add(r, 7, 7, 3000, 0, 0, &done), FRAG_PARTIAL);
	assert_int_equal(add(r, 7, 7, 3000, 1, TIMEOUT - 1, &done), FRAG_PARTIAL);
	assert_int_equal(frag_rx_expire(r, TIMEOUT + 1), 0);
	assert_int_equal(add(r, 7, 7, 3000, 2, TIMEOUT + 2, &done), FRAG_DONE);
	assert_whole(done, 3000);
	frag_rx_release(r, done);
}

/* Four slots: a fifth message evicts the least recently touched partial
 * one; lent (complete) slots are never taken. */
static void test_bounds(void **state)
{
	struct frag_rx *r = *state;
	struct frag_slot *done = NULL, *lent[4];

	for (uint32_t id = 10; id < 14; id++)
		assert_int_equal(add(r, id, 7, 3000, 0, id, &done), FRAG_PARTIAL);
	assert_int_equal(add(r, 14, 7, 3000, 0, 20, &done), FRAG_PARTIAL);
	assert_int_equal(r->evicted, 1);
	assert_int_equal(frag_rx_in_use(r), 4);
	/* id 10 was evicted: its later fragments start over */
	assert_int_equal(add(r, 10, 7, 3000, 1, 21, &done), FRAG_PARTIAL);
	assert_int_equal(r->evicted, 2);	/* id 11, the oldest now */

	frag_rx_expire(r, UINT64_MAX / 2);
	assert_int_equal(frag_rx_in_use(r), 0);
	for (unsigned int i = 0; i < 4; i++) {
		uint32_t id = 20 + i;

		add(r, id, 7, 3000, 0, 0, &done);
		add(r, id, 7, 3000, 1, 0, &done);
		assert_int_equal(add(r, id, 7, 3000, 2, 0, &lent[i]), FRAG_DONE);
	}
	assert_int_equal(add(r, 30, 7, 3000, 0, 0, &done), FRAG_NO_ROOM);
	assert_int_equal(r->no_room, 1);
	assert_int_equal(frag_rx_expire(r, UINT64_MAX / 2), 0);	/* lent: kept */
	for (unsigned int i = 0; i < 4; i++)
		assert_whole(lent[i], 3000);
	for (unsigned int i = 0; i < 4; i++)
		frag_rx_release(r, lent[i]);
	assert_int_equal(frag_rx_in_use(r), 0);
}

static void test_bad_fragments(void **state)
{
	struct frag_rx *r = *state;
	struct frag_slot *done = NULL;
	struct frag_in in = {
		.addr = 1, .port = 7, .kind = FLATRPC_REQ, .rpc_id = 40, .index = 0, .count = 3,
		.payload = msg, .plen = FLATRPC_FRAG_CHUNK, .prefix = prefix,
		.prefix_len = FRAG_PREFIX_MAX + 1,
	};

	assert_int_equal(frag_rx_add(r, &in, 0, &done), FRAG_BAD);	/* prefix too long */
	in.prefix_len = sizeof(prefix);
	in.plen = 10;
	assert_int_equal(frag_rx_add(r, &in, 0, &done), FRAG_BAD);	/* short middle */
	in.plen = FLATRPC_FRAG_CHUNK;
	assert_int_equal(frag_rx_add(r, &in, 0, &done), FRAG_PARTIAL);
	/* the same key with another count cannot be the same message */
	in.index = 1;
	in.count = 4;
	assert_int_equal(frag_rx_add(r, &in, 0, &done), FRAG_BAD);
	assert_int_equal(frag_rx_in_use(r), 0);
	assert_int_equal(r->bad, 3);
	/* another kind or sender is another message */
	in.count = 3;
	in.index = 2;
	in.plen = 5;
	assert_int_equal(frag_rx_add(r, &in, 0, &done), FRAG_PARTIAL);
	in.kind = FLATRPC_RESP;
	assert_int_equal(frag_rx_add(r, &in, 0, &done), FRAG_PARTIAL);
	assert_int_equal(frag_rx_in_use(r), 2);
	frag_rx_forget(r, 1, 7, FLATRPC_RESP, 40);
	assert_int_equal(frag_rx_in_use(r), 1);
	assert_int_equal(r->forgotten, 2);
}

/* 64 fragments use every bit of the bitmap. */
static void test_largest(void **state)
{
	struct frag_rx *r = *state;
	struct frag_slot *done = NULL;

	for (unsigned int i = FLATRPC_FRAG_MAX; i-- > 0;)
		assert_int_equal(add(r, 50, 7, FLATRPC_MSG_MAX, i, 0, &done),
				 i ? FRAG_PARTIAL : FRAG_DONE);
	assert_whole(done, FLATRPC_MSG_MAX);
	frag_rx_release(r, done);
}

static void test_store(void **state)
{
	struct frag_store st;
	const struct frag_store_ent *e;

	(void)state;
	assert_int_equal(frag_store_init(&st, 2, false), 0);
	assert_int_equal(frag_store_put(&st, 0, 0, 1, prefix, 10, msg, BIG, 1), 0);
	assert_int_equal(frag_store_put(&st, 0, 0, 2, prefix, 10, msg + 1, 3000, 2), 0);
	assert_int_equal(frag_store_put(&st, 0, 0, 3, prefix, 10, msg, 3000, 3), FLATRPC_E_BUSY);
	assert_int_equal(frag_store_put(&st, 0, 0, 3, prefix, 10, msg, FLATRPC_MSG_MAX + 1, 3),
			 FLATRPC_E_TOOBIG);
	e = frag_store_get(&st, 0, 0, 1);
	assert_non_null(e);
	assert_int_equal(e->len, BIG);
	assert_memory_equal(e->buf, msg, BIG);
	assert_memory_equal(e->prefix, prefix, 10);
	frag_store_drop(&st, 0, 0, 1);
	assert_null(frag_store_get(&st, 0, 0, 1));
	assert_int_equal(frag_store_put(&st, 0, 0, 3, prefix, 10, msg, 3000, 3), 0);
	frag_store_fini(&st);

	/* the evicting kind replaces the oldest */
	assert_int_equal(frag_store_init(&st, 2, true), 0);
	frag_store_put(&st, 9, 1, 1, prefix, 10, msg, 3000, 1);
	frag_store_put(&st, 9, 1, 2, prefix, 10, msg, 3000, 2);
	assert_int_equal(frag_store_put(&st, 9, 1, 3, prefix, 10, msg, 3000, 3), 0);
	assert_null(frag_store_get(&st, 9, 1, 1));
	assert_non_null(frag_store_get(&st, 9, 1, 2));
	assert_non_null(frag_store_get(&st, 9, 1, 3));
	assert_null(frag_store_get(&st, 8, 1, 3));	/* another peer */
	assert_int_equal(st.evictions, 1);
	frag_store_fini(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test_setup_teardown(test_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_from_last_fragment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_fragments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_largest, setup, teardown),
		cmocka_unit_test(test_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

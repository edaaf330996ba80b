/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_seq.c - the kernel's in-order decision (kern/seq.h), the same
 * function the XDP program runs, for both strategies, and the choice of
 * which stream gives way in a host's full share, without root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../kern/seq.h"

#define HOLD	(FLATRPC_M_RELIABLE | FLATRPC_M_INORDER)
#define DROP	(FLATRPC_M_INORDER | FLATRPC_M_INORDER_DROP)
#define DROP_R	(FLATRPC_M_RELIABLE | FLATRPC_M_INORDER | FLATRPC_M_INORDER_DROP)
#define F_FIRST	FLATRPC_F_FIRST
#define F_RETX	FLATRPC_F_RETX
#define NONE	(-1)	/* `next` must stay untouched (no store) */

struct row {
	const char	*name;
	int		have_state;
	uint16_t	expected;
	uint16_t	seq;
	uint8_t		flags;
	uint32_t	mflags;
	int		verdict;
	int32_t		next;	/* stored expected, or NONE */
};

static const struct row rows[] = {
	/* both strategies */
	{ "no stream, not FIRST", 0, 0, 7, 0, HOLD, FLATRPC_DROP_SEQ_NOSTATE, NONE },
	{ "no stream, FIRST opens it", 0, 0, 7, F_FIRST, HOLD, FR_SEQ_DELIVER, 8 },
	{ "drop: no stream, not FIRST", 0, 0, 7, 0, DROP, FLATRPC_DROP_SEQ_NOSTATE, NONE },
	{ "in sequence", 1, 10, 10, 0, HOLD, FR_SEQ_DELIVER, 11 },
	{ "drop: in sequence", 1, 10, 10, 0, DROP, FR_SEQ_DELIVER, 11 },
	{ "in sequence across the wrap", 1, 0xFFFF, 0xFFFF, 0, HOLD, FR_SEQ_DELIVER, 0 },
	{ "FIRST ahead restarts past the gap", 1, 10, 30, F_FIRST, HOLD, FR_SEQ_DELIVER, 31 },
	{ "FIRST far ahead restarts too", 1, 10, 10 + 1000, F_FIRST, HOLD, FR_SEQ_DELIVER, 1011 },

	/* hold-forever */
	{ "old is a DUP", 1, 10, 9, 0, HOLD, FR_SEQ_DUP, NONE },
	{ "old FIRST never rewinds", 1, 10, 3, F_FIRST, HOLD, FR_SEQ_DUP, NONE },
	{ "old across the wrap", 1, 2, 0xFFFE, 0, HOLD, FR_SEQ_DUP, NONE },
	{ "one ahead is held", 1, 10, 11, 0, HOLD, FR_SEQ_AHEAD, NONE },
	{ "window's last slot is held", 1, 10, 10 + FLATRPC_HOLD_WINDOW - 1, 0, HOLD,
	  FR_SEQ_AHEAD, NONE },
	{ "beyond the window is dropped", 1, 10, 10 + FLATRPC_HOLD_WINDOW, 0, HOLD,
	  FLATRPC_DROP_SEQ_AHEAD, NONE },
	{ "ahead across the wrap is held", 1, 0xFFF0, 0x0005, 0, HOLD, FR_SEQ_AHEAD, NONE },
	{ "half the space ahead is behind", 1, 10, 10 + 0x8000, 0, HOLD, FR_SEQ_DUP, NONE },

	/* drop */
	{ "drop: late is discarded", 1, 10, 9, 0, DROP, FLATRPC_DROP_SEQ_LATE, NONE },
	{ "drop: late FIRST is discarded", 1, 10, 9, F_FIRST, DROP, FLATRPC_DROP_SEQ_LATE, NONE },
	{ "drop: late retransmission of a lossy method", 1, 10, 9, F_RETX, DROP,
	  FLATRPC_DROP_SEQ_LATE, NONE },
	{ "drop: late original of a reliable method", 1, 10, 9, 0, DROP_R,
	  FLATRPC_DROP_SEQ_LATE, NONE },
	{ "drop: reliable retransmission may be a copy: DUP", 1, 10, 9, F_RETX, DROP_R,
	  FR_SEQ_DUP, NONE },
	{ "drop: ahead skips the gap", 1, 10, 13, 0, DROP, FR_SEQ_DELIVER, 14 },
	{ "drop: far ahead skips too", 1, 10, 10 + FLATRPC_HOLD_WINDOW + 5, 0, DROP,
	  FR_SEQ_DELIVER, 10 + FLATRPC_HOLD_WINDOW + 6 },
	{ "drop: ahead across the wrap", 1, 0xFFFE, 0x0001, 0, DROP, FR_SEQ_DELIVER, 2 },
};

static void run_row(void **state)
{
	const struct row *r = *state;
	__u16 next = 0xAAAA;
	int store = -1;
	int v = fr_seq_decide(r->have_state, r->expected, r->seq, r->flags, r->mflags,
			      &next, &store);

	if (v != r->verdict)
		fail_msg("%s: verdict %d, want %d", r->name, v, r->verdict);
	if (r->next == NONE) {
		assert_int_equal(store, 0);
		/* `next` reports the unchanged state when nothing is stored */
		assert_int_equal(next, r->expected);
	} else {
		assert_int_equal(store, 1);
		assert_int_equal(next, (uint16_t)r->next);
	}
}

/* ---- a host's share of the streams ----------------------------------- */

#define N	FLATRPC_SEQ_PER_HOST

/* A stream whose port a slot names reuses it; else the first free slot. */
static void share_slot_reuse_and_free(void **state)
{
	__u32 slot[N] = { 0 };

	(void)state;
	assert_int_equal(fr_seq_slot(slot, 7), 0);
	slot[0] = FLATRPC_SEQ_SLOT(7);
	slot[2] = FLATRPC_SEQ_SLOT(9);
	assert_int_equal(fr_seq_slot(slot, 7), 0);
	assert_int_equal(fr_seq_slot(slot, 9), 2);
	assert_int_equal(fr_seq_slot(slot, 8), 1);
	/* port 0 is a port like any other: a free slot is not "port 0" */
	assert_int_equal(fr_seq_slot(slot, 0), 1);
	slot[1] = FLATRPC_SEQ_SLOT(0);
	assert_int_equal(fr_seq_slot(slot, 0), 1);
}

/* A full share: no slot for a port it does not name. */
static void share_slot_full(void **state)
{
	__u32 slot[N];
	int i;

	(void)state;
	for (i = 0; i < N; i++)
		slot[i] = FLATRPC_SEQ_SLOT(1000 + i);
	assert_int_equal(fr_seq_slot(slot, 999), -1);
	assert_int_equal(fr_seq_slot(slot, 1000 + N - 1), N - 1);
}

/* The victim is the least recently used, a gone stream first, across the
 * clock's wrap. */
static void share_victim(void **state)
{
	__u32 used[N];
	int i;

	(void)state;
	for (i = 0; i < N; i++)
		used[i] = 100 + i;
	used[5] = 50;
	assert_int_equal(fr_seq_victim(used), 5);
	used[9] = 0;
	assert_int_equal(fr_seq_victim(used), 9);
	/* stamps just before the wrap are older than those just after it */
	for (i = 0; i < N; i++)
		used[i] = (__u32)(i + 1);
	used[12] = 0xfffffff0u;
	assert_int_equal(fr_seq_victim(used), 12);
	/* equal stamps (one jiffy): the first */
	for (i = 0; i < N; i++)
		used[i] = 77;
	assert_int_equal(fr_seq_victim(used), 0);
}

static void share_stamp_never_zero(void **state)
{
	(void)state;
	assert_int_equal(fr_seq_stamp(0), 1);
	assert_int_equal(fr_seq_stamp(1ull << 32), 1);
	assert_int_equal(fr_seq_stamp(5), 5);
}

int main(void)
{
	static const struct CMUnitTest share[] = {
		cmocka_unit_test(share_slot_reuse_and_free),
		cmocka_unit_test(share_slot_full),
		cmocka_unit_test(share_victim),
		cmocka_unit_test(share_stamp_never_zero),
	};
	struct CMUnitTest tests[sizeof(rows) / sizeof(rows[0])];
	int rc;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tests[i] = (struct CMUnitTest)cmocka_unit_test_prestate(run_row, (void *)&rows[i]);
		tests[i].name = rows[i].name;
	}
	rc = cmocka_run_group_tests_name("seq", tests, NULL, NULL);
	return rc | cmocka_run_group_tests_name("seq_share", share, NULL, NULL);
}

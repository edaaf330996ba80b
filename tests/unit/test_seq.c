/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_seq.c - the kernel's in-order decision (kern/seq.h), the same
 * function the XDP program runs, for both strategies, without root.
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

int main(void)
{
	struct CMUnitTest tests[sizeof(rows) / sizeof(rows[0])];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tests[i] = (struct CMUnitTest)cmocka_unit_test_prestate(run_row, (void *)&rows[i]);
		tests[i].name = rows[i].name;
	}
	return cmocka_run_group_tests_name("seq", tests, NULL, NULL);
}

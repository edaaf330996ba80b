/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * seq.h - the in-order admission decision, shared by the XDP program and
 * the unit tests. Pure: it sees the stream's state and the request's header
 * values and says what to do; the caller touches maps and packets. Keeping
 * it free of helpers is what lets a cmocka test run the very code that the
 * verifier loads (on 6.1 too: no kfuncs, and loops only with a constant
 * bound).
 */
#ifndef FLATRPC_KERN_SEQ_H
#define FLATRPC_KERN_SEQ_H

#ifndef __bpf__
#include <linux/types.h>
#endif
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#include "flatrpc_abi.h"

/* Verdicts that are not drop reasons (those are enum flatrpc_drop, > 0). */
#define FR_SEQ_DELIVER	0	/* in sequence (or a restart): deliver */
#define FR_SEQ_DUP	(-1)	/* already delivered: mark FLATRPC_F_DUP */
#define FR_SEQ_AHEAD	(-2)	/* hold-forever, within the window: mark FLATRPC_F_AHEAD */

/*
 * have_state/expected: the stream's entry in `seqs`. Returns a verdict or a
 * drop reason and sets *next to the expected value the stream must hold
 * afterwards; *store says whether to write it (a new or moved stream).
 */
static __always_inline int fr_seq_decide(int have_state, __u16 expected, __u16 seq,
					 __u8 hdr_flags, __u32 mflags,
					 __u16 *next, int *store)
{
	__s16 delta;

	*next = expected;
	*store = 0;
	if (!have_state) {
		/* Only FIRST may start a stream: a stale retransmission arriving
		 * after eviction must not rewind it. */
		if (!(hdr_flags & FLATRPC_F_FIRST))
			return FLATRPC_DROP_SEQ_NOSTATE;
		*next = seq + 1;
		*store = 1;
		return FR_SEQ_DELIVER;
	}
	/* Serial-number arithmetic, so the 16-bit sequence may wrap. */
	delta = (__s16)(__u16)(seq - expected);
	if (delta == 0) {
		*next = seq + 1;
		*store = 1;
		return FR_SEQ_DELIVER;
	}
	if (delta < 0) {
		if (!(mflags & FLATRPC_M_INORDER_DROP))
			return FR_SEQ_DUP;
		/* "drop" cannot tell a late original from a copy of one it
		 * delivered. A retransmission of a reliable method may be the
		 * latter, so the library answers it from its cache, or drops it
		 * unexecuted when the original was skipped. */
		if ((mflags & FLATRPC_M_RELIABLE) && (hdr_flags & FLATRPC_F_RETX))
			return FR_SEQ_DUP;
		return FLATRPC_DROP_SEQ_LATE;
	}
	/* FIRST ahead: the sender gave up on the gap and restarts the stream
	 * here; "drop" skips gaps by definition. Never backwards, so old
	 * copies still count as dups. */
	if ((hdr_flags & FLATRPC_F_FIRST) || (mflags & FLATRPC_M_INORDER_DROP)) {
		*next = seq + 1;
		*store = 1;
		return FR_SEQ_DELIVER;
	}
	if (delta < FLATRPC_HOLD_WINDOW)
		return FR_SEQ_AHEAD;
	return FLATRPC_DROP_SEQ_AHEAD;
}

/*
 * A host's share of `seqs`: the slot of its seq_hosts entry that a new
 * stream from `port` takes. The slot already naming the port (the map's LRU
 * forgot its stream), else the first free one, else -1: the share is full
 * and fr_seq_victim() picks which of the host's streams gives way.
 */
static __always_inline int fr_seq_slot(const __u32 *slot, __be16 port)
{
	int i, free = -1;

	for (i = 0; i < FLATRPC_SEQ_PER_HOST; i++) {
		if (slot[i] == FLATRPC_SEQ_SLOT(port))
			return i;
		if (!slot[i] && free < 0)
			free = i;
	}
	return free;
}

/*
 * The least recently used stream of a full share, by each slot's `used`
 * stamp (0: its stream is gone already, so it costs nothing to take).
 * Stamps compare as serial numbers, so the clock may wrap.
 */
static __always_inline int fr_seq_victim(const __u32 *used)
{
	int i, v = 0;

	for (i = 0; i < FLATRPC_SEQ_PER_HOST; i++) {
		if (!used[i])
			return i;
		if ((__s32)(used[i] - used[v]) < 0)
			v = i;
	}
	return v;
}

/* A nonzero stamp for `used`: 0 means "no stream". */
static __always_inline __u32 fr_seq_stamp(__u64 now)
{
	return (__u32)now ? (__u32)now : 1;
}

#endif

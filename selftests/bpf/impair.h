/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * impair.h - the maps' layout of selftests/bpf/impair.bpf.c, shared with
 * the generated Python module that the tests read them with
 * (selftests/abi_py.c).
 */
#ifndef FLATRPC_IMPAIR_H
#define FLATRPC_IMPAIR_H

#include <linux/types.h>

/* Rates are in parts per million so a test can ask for exact percentages
 * without float. Requests and responses have separate rates so a test can
 * impair one direction only. */
struct impair_cfg {
	__u32	req_ppm;	/* drop rate for kind REQ */
	__u32	resp_ppm;	/* drop rate for RESP, ERR and ACK */
	__u32	dup_req_ppm;	/* duplication rate of the REQ frames not dropped */
	__u32	dup_resp_ppm;	/* the same for RESP, ERR and ACK */
	__u16	port;		/* service port; 0 means FLATRPC_DEFAULT_PORT */
	__u16	flags;		/* IMPAIR_F_* */
	__u32	pad;
};

#define IMPAIR_F_RECORD		0x1	/* keep impair_ids records */

/* kind IMPAIR_KIND_MALFORMED: a datagram on the service port that is not a
 * readable FlatRPC header (too short or bad magic); method is 0 then. */
#define IMPAIR_KIND_MALFORMED	0xff
/* In the per-RPC records only: an ACK EPOCH, the answer that makes a
 * sender send its request again (docs/security.md, Replay). */
#define IMPAIR_REC_ACK_EPOCH	4

struct impair_key {
	__u8	kind;
	__u8	method;
	__u8	pad[2];
};

struct impair_count {
	__u64	seen;		/* frames that reached this hook */
	__u64	dropped;	/* of those, dropped here */
	__u64	retx_seen;	/* of those seen, marked FLATRPC_F_RETX */
	__u64	duplicated;	/* of those seen, sent twice (the copy is not "seen") */
};

/* One frame's fate, per (kind, method, rpc_id). */
struct impair_id_key {
	__u32	rpc_id;		/* host order */
	__u8	kind;
	__u8	method;
	__u8	pad[2];
};

struct impair_id_count {
	__u32	seen;
	__u32	dropped;
	__u32	duplicated;
	__u32	retx_seen;
	__u64	first_ns;	/* CLOCK_MONOTONIC when first seen, as user space reads it */
};

#endif

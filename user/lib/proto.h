/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * proto.h - the FlatRPC protocol core (internal to libflatrpc-user).
 *
 * Pure state machines: no syscalls, no clock, no allocation after
 * proto_cli_init()/proto_srv_init(). Every entry point takes `now` in
 * nanoseconds of any monotonic clock, so the unit tests drive time by hand.
 *
 * The client side owns the outstanding-call table, RPC ID and sequence
 * allocation and the retransmission copies of reliable requests. The server
 * side owns the response cache that makes reliable methods at-most-once.
 * Frames are opaque to the core except for the flatrpc_hdr at a fixed offset.
 */
#ifndef FLATRPC_PROTO_H
#define FLATRPC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "flatrpc.h"

#define PROTO_NO_EXPIRY		UINT64_MAX

/* ---------------------------------------------------------------- client */

struct proto_call {
	uint64_t	deadline;	/* end of the current attempt */
	uint64_t	sent_at;	/* first transmission, for the RTT sample */
	uint64_t	rto;		/* this attempt's timeout, ns */
	uint32_t	rpc_id;
	uint16_t	frame_len;	/* bytes kept in the slab (reliable only) */
	uint8_t		method;
	uint8_t		in_use;
	uint8_t		retries_left;
	uint8_t		retransmitted;	/* Karn: no RTT sample from this call */
};

/*
 * Retransmission timeout of reliable methods (RFC 6298 style): per method,
 * a smoothed RTT and its variation from calls answered on their first
 * attempt; RTO = srtt + 4 * rttvar, clamped to [the floor, the spec's
 * timeout]. Before the first sample the RTO is the spec's timeout, and each
 * retransmission doubles the call's RTO up to it: the spec's `timeout` is the
 * initial and the largest per-attempt timeout. Lossy calls wait the spec's
 * timeout and only contribute samples.
 */
/*
 * Default floor. With 200 us and 1 ms floors, one-core blocking benchmark
 * runs showed a p99 of ~24 us against ~12 us with 5 ms or more; we did not
 * find why, so the default stays where the tail was absent (bench/run.sh).
 */
#define PROTO_RTO_MIN_NS	5000000ull

struct proto_rtt {
	uint64_t	srtt;		/* ns */
	uint64_t	rttvar;		/* ns */
	uint8_t		valid;
};

struct proto_cli_cfg {
	const struct flatrpc_service_desc *svc;
	uint32_t	first_rpc_id;
	uint16_t	first_seq;	/* initial sequence of every in-order stream */
	unsigned int	capacity;	/* power of two; 0 = 256 */
	unsigned int	frame_size;	/* largest frame kept for retransmission; 0 = 2048 */
	size_t		hdr_off;	/* offset of flatrpc_hdr inside a frame */
	uint64_t	rto_min_ns;	/* RTO floor; 0 = PROTO_RTO_MIN_NS */
};

struct proto_cli {
	const struct flatrpc_service_desc *svc;
	struct proto_call *calls;	/* indexed by rpc_id & mask */
	uint8_t		*slab;		/* capacity * frame_size retransmission copies */
	uint32_t	mask;
	uint32_t	frame_size;
	size_t		hdr_off;
	uint64_t	rto_min;	/* ns */
	uint32_t	next_id;
	uint32_t	outstanding;
	uint16_t	seq_next[FLATRPC_MAX_METHODS];
	uint8_t		seq_started[FLATRPC_MAX_METHODS];
	struct proto_rtt rtt[FLATRPC_MAX_METHODS];
	/* counters */
	uint64_t	retransmits;
	uint64_t	timeouts;
	uint64_t	stale;
};

/* What proto_cli_expire() asks the caller to do. */
enum proto_ev_kind {
	PROTO_EV_RETX = 1,	/* send frame/len again (F_RETX already set) */
	PROTO_EV_TIMEOUT,	/* the call is over: FLATRPC_E_TIMEOUT */
};

struct proto_event {
	enum proto_ev_kind kind;
	uint32_t	rpc_id;
	uint8_t		method;
	uint16_t	len;
	const void	*frame;		/* RETX: the stored copy, valid until the next call into the core */
};

struct proto_done {
	uint32_t	rpc_id;
	uint8_t		method;
	uint8_t		status;
	int		err;		/* 0, FLATRPC_E_ANF, FLATRPC_E_REMOTE */
};

/* Allocates the table and slab. Returns 0 or -errno. */
int proto_cli_init(struct proto_cli *c, const struct proto_cli_cfg *cfg);
void proto_cli_fini(struct proto_cli *c);

/*
 * Registers a new request. `frame` holds the complete message with room for
 * the flatrpc_hdr at cfg->hdr_off; the core writes magic, flags, method,
 * rpc_id and seq there (the caller has written len and everything else), and
 * keeps a copy when the method is reliable. The attempt's deadline starts at
 * `now`. Returns 0 with *rpc_id set, FLATRPC_E_BUSY when the table is full,
 * FLATRPC_E_TOOBIG when a reliable frame exceeds the slab slot, -EINVAL for an
 * unknown method.
 */
int proto_cli_send(struct proto_cli *c, uint8_t method, void *frame, size_t len,
		   uint64_t now, uint32_t *rpc_id);

/*
 * Matches a response (or ERR) header. Returns 1 and fills *done when it
 * completes a call, 0 when it is stale (counted), FLATRPC_E_PROTO when the
 * header is not a response.
 */
int proto_cli_on_response(struct proto_cli *c, const struct flatrpc_hdr *hdr,
			  uint64_t now, struct proto_done *done);

/*
 * Runs the timers: fills up to `max` events for calls whose attempt ended at
 * or before `now`. A reliable call with retries left becomes a RETX (its
 * deadline moves on by its RTO, doubled); anything else becomes a TIMEOUT and its
 * slot is freed. Events that did not fit are returned by the next call.
 */
int proto_cli_expire(struct proto_cli *c, uint64_t now, struct proto_event *ev, int max);

/* The first-attempt timeout a new call of `method` gets now, in ns. */
uint64_t proto_cli_rto(const struct proto_cli *c, uint8_t method);

/* Earliest deadline of any outstanding call, or PROTO_NO_EXPIRY. */
uint64_t proto_cli_next_expiry(const struct proto_cli *c, uint64_t now);

/* Forgets a call without completing it (e.g. the caller could not send it). */
void proto_cli_cancel(struct proto_cli *c, uint32_t rpc_id);

static inline bool proto_cli_pending(const struct proto_cli *c, uint32_t rpc_id)
{
	const struct proto_call *k = &c->calls[rpc_id & c->mask];

	return k->in_use && k->rpc_id == rpc_id;
}

/* Serial-number comparison (RFC 1982) of 16-bit sequences: a is before b. */
static inline bool proto_seq_before(uint16_t a, uint16_t b)
{
	return (int16_t)(uint16_t)(a - b) < 0;
}

/* ---------------------------------------------------------------- server */

struct proto_srv_entry {
	uint64_t	stored_at;
	uint32_t	addr;		/* peer IPv4, network order */
	uint32_t	rpc_id;
	uint16_t	port;		/* peer UDP port, network order */
	uint16_t	len;
	int32_t		next;		/* hash chain, -1 ends it */
	uint8_t		in_use;
};

struct proto_srv_cfg {
	unsigned int	capacity;	/* entries; 0 = 1024 */
	unsigned int	frame_size;	/* largest cached frame; 0 = 2048 */
	uint64_t	ttl_ns;		/* 0 = entries live until evicted */
};

struct proto_srv {
	struct proto_srv_entry *ent;
	int32_t		*bucket;
	uint8_t		*slab;
	uint32_t	capacity;
	uint32_t	bucket_mask;
	uint32_t	frame_size;
	uint32_t	head;		/* next ring slot to (re)use: FIFO eviction */
	uint64_t	ttl_ns;
	/* counters */
	uint64_t	hits;
	uint64_t	misses;
	uint64_t	evictions;
	uint64_t	dup_answered;
	uint64_t	dup_dropped;
};

int proto_srv_init(struct proto_srv *s, const struct proto_srv_cfg *cfg);
void proto_srv_fini(struct proto_srv *s);

/* The cached response frame for (addr, port, rpc_id) or NULL. */
const void *proto_srv_lookup(struct proto_srv *s, uint32_t addr, uint16_t port,
			     uint32_t rpc_id, uint64_t now, uint16_t *len);

/* Copies a response frame into the cache, evicting the oldest entry when
 * full. Returns 0 or FLATRPC_E_TOOBIG. */
int proto_srv_store(struct proto_srv *s, uint32_t addr, uint16_t port, uint32_t rpc_id,
		    const void *frame, size_t len, uint64_t now);

enum proto_srv_verdict {
	PROTO_SRV_EXECUTE = 0,	/* run the handler (then store if reliable) */
	PROTO_SRV_CACHED,	/* send the cached frame */
	PROTO_SRV_DROP,		/* a DUP with nothing cached: never execute */
};

/*
 * Decides what to do with one request. DUP requests are never executed;
 * requests of reliable methods are answered from the cache when present
 * (a retransmission the kernel did not mark, e.g. of an unordered method).
 */
enum proto_srv_verdict proto_srv_on_request(struct proto_srv *s, const struct flatrpc_hdr *hdr,
					    bool reliable, uint32_t addr, uint16_t port,
					    uint64_t now, const void **frame, uint16_t *len);

/* ------------------------------------------------------- server: hold-forever */

/*
 * The receive-side reorder buffer of hold-forever streams. XDP delivers a
 * request that is ahead of its stream by less than FLATRPC_HOLD_WINDOW marked
 * FLATRPC_F_AHEAD, without advancing `seqs`; the core copies it into a slot
 * (seq % FLATRPC_HOLD_WINDOW, so the RX frame goes straight back to the fill
 * ring) and hands it out once everything before it has run. The caller then
 * moves `seqs` past what ran (proto_hold_sync), so the kernel marks later
 * copies DUP. A small fixed table of streams: the least recently used one is
 * evicted, with whatever it held (the senders retransmit it).
 *
 * The library's `expected` decides execution order; the kernel's verdicts
 * are inputs: an unmarked request was in sequence for the kernel (or a FIRST
 * restart), so it runs unless the library is already past it.
 */
#define PROTO_HOLD_STREAMS	16
#define PROTO_HOLD_SLOTS	FLATRPC_HOLD_WINDOW

struct proto_hold_stream {
	uint64_t	last_used;
	uint64_t	held_mask;	/* bit i: slot i holds held_seq[i] */
	uint32_t	addr;		/* peer IPv4, network order */
	uint16_t	port;		/* peer UDP port, network order */
	uint8_t		method;
	uint8_t		in_use;
	uint16_t	expected;	/* next sequence to execute */
	uint16_t	restart;	/* held seqs before this are flushed first */
	uint8_t		flushing;	/* proto_hold_skipped() has work */
	uint8_t		kern_behind;	/* `seqs` needs expected written */
	uint16_t	held_seq[PROTO_HOLD_SLOTS];
	uint16_t	held_len[PROTO_HOLD_SLOTS];
};

struct proto_hold {
	struct proto_hold_stream st[PROTO_HOLD_STREAMS];
	uint8_t		*slab;		/* PROTO_HOLD_STREAMS * SLOTS * frame_size */
	uint32_t	frame_size;
	/* counters */
	uint64_t	held;		/* requests copied into the hold */
	uint64_t	held_dup;	/* copies of a request already held, dropped */
	uint64_t	overflow;	/* beyond the library's window, dropped */
	uint64_t	late;		/* already executed and not cached, dropped */
	uint64_t	evicted;	/* held requests lost with an evicted stream */
	uint64_t	restarts;	/* FIRST (or kernel) jumps over a gap */
};

enum proto_hold_verdict {
	PROTO_HOLD_EXEC = 0,	/* see proto_hold_on_request() */
	PROTO_HOLD_HELD,	/* copied; release the RX frame */
	PROTO_HOLD_DROP,	/* counted; release the RX frame */
};

int proto_hold_init(struct proto_hold *h, unsigned int frame_size);
void proto_hold_fini(struct proto_hold *h);

/*
 * One request of a hold-forever method, after the response cache had no
 * answer for it (DUPs never come here). `ahead` is the FLATRPC_F_AHEAD mark;
 * for a stream the core does not know yet, kern_expected (>= 0) is the
 * kernel's `seqs` value, needed to place an ahead request (-1: unknown, and
 * the ahead request is dropped). On PROTO_HOLD_EXEC, *stream is set and the
 * caller must, in this order: run every frame proto_hold_skipped() returns,
 * run this request, run every frame proto_hold_next() returns, then write
 * proto_hold_sync()'s value into `seqs` if it returns true.
 */
enum proto_hold_verdict proto_hold_on_request(struct proto_hold *h, uint32_t addr,
					      uint16_t port, uint8_t method, uint16_t seq,
					      bool ahead, int32_t kern_expected,
					      const void *frame, size_t len, uint64_t now,
					      struct proto_hold_stream **stream);

/* Held frames a restart jumps over, in sequence order; NULL when done. The
 * frame stays valid until the next call into the hold. */
const void *proto_hold_skipped(struct proto_hold *h, struct proto_hold_stream *st,
			       uint16_t *len);
/* Held frames that are now in sequence; NULL when the next one is missing. */
const void *proto_hold_next(struct proto_hold *h, struct proto_hold_stream *st,
			    uint16_t *len);
/* True when `seqs` lags behind what ran: *expected is the value to write. */
bool proto_hold_sync(struct proto_hold_stream *st, uint16_t *expected);

#endif /* FLATRPC_PROTO_H */

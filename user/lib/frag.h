/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * frag.h - multi-packet messages (internal to libflatrpc-user).
 *
 * Pure like proto.h: no syscalls, no clock, no allocation after init; every
 * entry point that needs time takes `now` in nanoseconds.
 *
 * A body of more than FLATRPC_FRAG_CHUNK bytes is sent as fragments that
 * repeat the message's header with FLATRPC_F_FRAG set and a struct
 * flatrpc_frag (index, count) after it. Every fragment but the last carries
 * exactly FLATRPC_FRAG_CHUNK bytes, so the receiver places each one at
 * index * CHUNK in whatever order they come.
 *
 * frag_rx reassembles: a fixed table of partial messages, each with a slab
 * buffer of FLATRPC_MSG_MAX bytes, so memory is bounded at init. A partial
 * message that gets no fragment for `timeout_ns` is freed by
 * frag_rx_expire() (counted); when the table is full the least recently
 * touched one is evicted (counted). The first fragment's frame prefix
 * (Ethernet to flatrpc_hdr) is kept: its header flags (DUP, AHEAD, status,
 * seq) are the ones the kernel decided on for the whole message.
 *
 * frag_store keeps whole message bodies by (addr, port, rpc_id): the
 * client's copies of reliable requests for retransmission (whole messages
 * are resent), and the server's cache of large responses to reliable
 * requests, so that a retransmitted request is answered, not executed again.
 */
#ifndef FLATRPC_FRAG_H
#define FLATRPC_FRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "flatrpc_abi.h"
#include "addr.h"

/* Eth + IPv4 + UDP + flatrpc_hdr is 54 bytes; room for IPv6 later. */
#define FRAG_PREFIX_MAX		96

/* Fragments of a body of `len` bytes: 1 means it is sent unfragmented. */
static inline unsigned frag_count(size_t len)
{
	return len <= FLATRPC_FRAG_CHUNK ? 1u
					 : (unsigned)((len + FLATRPC_FRAG_CHUNK - 1) / FLATRPC_FRAG_CHUNK);
}

/* Bytes of fragment `index` of a `len`-byte body; *off is where they start. */
static inline uint32_t frag_piece(size_t len, unsigned index, size_t *off)
{
	size_t o = (size_t)index * FLATRPC_FRAG_CHUNK;

	*off = o;
	return (uint32_t)(len - o < FLATRPC_FRAG_CHUNK ? len - o : FLATRPC_FRAG_CHUNK);
}

/* Whether (index, count, payload bytes) can belong to a valid message. */
bool frag_valid(unsigned index, unsigned count, size_t plen);

/* ---------------------------------------------------------------- receive */

#define FRAG_RX_SLOTS_DEFAULT	16

struct frag_slot {
	uint64_t	touched;	/* last fragment, for the timeout */
	uint64_t	got;		/* bit i: fragment i is in buf */
	fr_addr_t	addr;		/* sender, see addr.h */
	uint32_t	rpc_id;
	uint32_t	len;		/* body bytes; known once the last fragment came */
	uint16_t	port;		/* sender, network order */
	uint16_t	count;
	uint16_t	prefix_len;	/* 0 until fragment 0 came */
	uint8_t		kind;		/* FLATRPC_REQ or FLATRPC_RESP */
	uint8_t		in_use;
	uint8_t		lent;		/* handed out complete, until frag_rx_release() */
	uint8_t		prefix[FRAG_PREFIX_MAX];
	uint8_t		*buf;		/* FLATRPC_MSG_MAX bytes in the slab */
};

struct frag_rx {
	struct frag_slot *slot;
	uint8_t		*slab;
	unsigned	n_slots;
	uint64_t	timeout_ns;
	/* counters */
	uint64_t	completed;	/* messages handed out whole */
	uint64_t	dup;		/* fragments already held, dropped */
	uint64_t	bad;		/* fragments that contradict their message or the limits */
	uint64_t	no_room;	/* every slot lent out: fragment dropped */
	uint64_t	expired;	/* partial messages freed on timeout */
	uint64_t	evicted;	/* partial messages freed to make room */
	uint64_t	forgotten;	/* partial messages freed on the caller's word */
};

/* n_slots 0 = FRAG_RX_SLOTS_DEFAULT. Returns 0 or -errno. */
int frag_rx_init(struct frag_rx *r, unsigned n_slots, uint64_t timeout_ns);
void frag_rx_fini(struct frag_rx *r);

struct frag_in {
	fr_addr_t	addr;		/* sender, see addr.h */
	uint16_t	port;
	uint8_t		kind;
	uint32_t	rpc_id;
	unsigned	index;
	unsigned	count;
	const void	*payload;	/* the body bytes after struct flatrpc_frag */
	size_t		plen;
	const void	*prefix;	/* the frame up to the body, kept from index 0 */
	size_t		prefix_len;	/* <= FRAG_PREFIX_MAX */
};

enum frag_verdict {
	FRAG_PARTIAL = 0,	/* kept; the message is not whole yet */
	FRAG_DONE,		/* *done is whole: lent until frag_rx_release() */
	FRAG_DUP,		/* already had it (counted) */
	FRAG_BAD,		/* counted, dropped */
	FRAG_NO_ROOM,		/* counted, dropped */
};

/* Copies one fragment in. The payload and prefix need not outlive the call. */
enum frag_verdict frag_rx_add(struct frag_rx *r, const struct frag_in *in, uint64_t now,
			      struct frag_slot **done);

/* Frees partial messages idle for the timeout; returns how many. */
unsigned frag_rx_expire(struct frag_rx *r, uint64_t now);

/* Frees the partial message of (addr, port, kind, rpc_id), if any: e.g. its
 * call got an error answer and its later fragments are of no use. */
void frag_rx_forget(struct frag_rx *r, fr_addr_t addr, uint16_t port, uint8_t kind,
		    uint32_t rpc_id);

/* Gives back a slot that FRAG_DONE lent. */
void frag_rx_release(struct frag_rx *r, struct frag_slot *slot);

/* Slots in use (partial or lent), for tests and bounds checks. */
unsigned frag_rx_in_use(const struct frag_rx *r);

/* ---------------------------------------------------------------- store */

#define FRAG_STORE_SLOTS_DEFAULT	8

struct frag_store_ent {
	uint64_t	stored_at;
	fr_addr_t	addr;
	uint32_t	rpc_id;
	uint32_t	len;
	uint16_t	port;
	uint16_t	prefix_len;
	uint8_t		in_use;
	uint8_t		prefix[FRAG_PREFIX_MAX];
	uint8_t		*buf;
};

struct frag_store {
	struct frag_store_ent *ent;
	uint8_t		*slab;
	unsigned	n;
	bool		evict;		/* full: replace the oldest (else refuse) */
	/* counters */
	uint64_t	stored;
	uint64_t	evictions;
	uint64_t	refused;
};

int frag_store_init(struct frag_store *st, unsigned n, bool evict);
void frag_store_fini(struct frag_store *st);

/* Keeps a copy of prefix and body. Returns 0, FLATRPC_E_BUSY (full, no
 * eviction) or FLATRPC_E_TOOBIG. An existing entry of the key is replaced. */
int frag_store_put(struct frag_store *st, fr_addr_t addr, uint16_t port, uint32_t rpc_id,
		   const void *prefix, size_t prefix_len, const void *body, size_t len,
		   uint64_t now);
const struct frag_store_ent *frag_store_get(const struct frag_store *st, fr_addr_t addr,
					    uint16_t port, uint32_t rpc_id);
void frag_store_drop(struct frag_store *st, fr_addr_t addr, uint16_t port, uint32_t rpc_id);

#endif /* FLATRPC_FRAG_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * frag.c - reassembly and whole-message copies for multi-packet messages.
 * See frag.h; pure: no syscalls, `now` passed in.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flatrpc.h"
#include "frag.h"

bool frag_valid(unsigned index, unsigned count, size_t plen)
{
	if (count < 2 || count > FLATRPC_FRAG_MAX || index >= count)
		return false;
	/* Fixed-size pieces are what lets a fragment's offset be index * CHUNK. */
	if (index < count - 1)
		return plen == FLATRPC_FRAG_CHUNK;
	return plen >= 1 && plen <= FLATRPC_FRAG_CHUNK;
}

/* A table of n entries and a slab of n whole messages; 0 or -ENOMEM (the
 * caller's fini frees what was allocated). */
static int tables_alloc(unsigned int n, size_t ent_size, void **ent, uint8_t **slab)
{
	*ent = calloc(n, ent_size);
	*slab = malloc((size_t)n * FLATRPC_MSG_MAX);
	return *ent && *slab ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- receive */

int frag_rx_init(struct frag_rx *r, unsigned n_slots, uint64_t timeout_ns)
{
	memset(r, 0, sizeof(*r));
	r->n_slots = n_slots ? n_slots : FRAG_RX_SLOTS_DEFAULT;
	r->timeout_ns = timeout_ns;
	if (tables_alloc(r->n_slots, sizeof(*r->slot), (void **)&r->slot, &r->slab)) {
		frag_rx_fini(r);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < r->n_slots; i++)
		r->slot[i].buf = r->slab + (size_t)i * FLATRPC_MSG_MAX;
	return 0;
}

void frag_rx_fini(struct frag_rx *r)
{
	free(r->slot);
	free(r->slab);
	r->slot = NULL;
	r->slab = NULL;
}

static void slot_free(struct frag_slot *s)
{
	s->in_use = 0;
	s->lent = 0;
	s->got = 0;
	s->len = 0;
	s->prefix_len = 0;
}

static struct frag_slot *slot_find(struct frag_rx *r, fr_addr_t addr, uint16_t port,
				   uint8_t kind, uint32_t rpc_id)
{
	for (unsigned i = 0; i < r->n_slots; i++) {
		struct frag_slot *s = &r->slot[i];

		if (s->in_use && !s->lent && s->rpc_id == rpc_id && s->addr == addr &&
		    s->port == port && s->kind == kind)
			return s;
	}
	return NULL;
}

/* A free slot, else the least recently touched partial one (evicted). */
static struct frag_slot *slot_take(struct frag_rx *r)
{
	struct frag_slot *old = NULL;

	for (unsigned i = 0; i < r->n_slots; i++) {
		struct frag_slot *s = &r->slot[i];

		if (!s->in_use)
			return s;
		if (!s->lent && (!old || s->touched < old->touched))
			old = s;
	}
	if (old) {
		r->evicted++;
		slot_free(old);
	}
	return old;
}

static bool slot_whole(const struct frag_slot *s)
{
	uint64_t all = s->count == 64 ? ~0ull : (1ull << s->count) - 1;

	return s->got == all;
}

enum frag_verdict frag_rx_add(struct frag_rx *r, const struct frag_in *in, uint64_t now,
			      struct frag_slot **done)
{
	struct frag_slot *s;
	size_t off;

	*done = NULL;
	if (!frag_valid(in->index, in->count, in->plen) ||
	    (in->index == 0 && (!in->prefix || in->prefix_len > FRAG_PREFIX_MAX))) {
		r->bad++;
		return FRAG_BAD;
	}
	s = slot_find(r, in->addr, in->port, in->kind, in->rpc_id);
	if (s && s->count != in->count) {
		/* Both cannot be the same message; trust neither. */
		r->bad++;
		r->forgotten++;
		slot_free(s);
		return FRAG_BAD;
	}
	if (!s) {
		s = slot_take(r);
		if (!s) {
			r->no_room++;
			return FRAG_NO_ROOM;
		}
		s->in_use = 1;
		s->addr = in->addr;
		s->port = in->port;
		s->kind = in->kind;
		s->rpc_id = in->rpc_id;
		s->count = (uint16_t)in->count;
	}
	s->touched = now;
	if (s->got & (1ull << in->index)) {
		r->dup++;
		return FRAG_DUP;
	}
	off = (size_t)in->index * FLATRPC_FRAG_CHUNK;
	memcpy(s->buf + off, in->payload, in->plen);
	s->got |= 1ull << in->index;
	if (in->index == in->count - 1)
		s->len = (uint32_t)(off + in->plen);
	if (in->index == 0) {
		memcpy(s->prefix, in->prefix, in->prefix_len);
		s->prefix_len = (uint16_t)in->prefix_len;
	}
	if (!slot_whole(s))
		return FRAG_PARTIAL;
	s->lent = 1;
	r->completed++;
	*done = s;
	return FRAG_DONE;
}

unsigned frag_rx_expire(struct frag_rx *r, uint64_t now)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->n_slots; i++) {
		struct frag_slot *s = &r->slot[i];

		if (s->in_use && !s->lent && now - s->touched >= r->timeout_ns) {
			slot_free(s);
			n++;
		}
	}
	r->expired += n;
	return n;
}

void frag_rx_forget(struct frag_rx *r, fr_addr_t addr, uint16_t port, uint8_t kind,
		    uint32_t rpc_id)
{
	struct frag_slot *s = slot_find(r, addr, port, kind, rpc_id);

	if (s) {
		r->forgotten++;
		slot_free(s);
	}
}

void frag_rx_release(struct frag_rx *r, struct frag_slot *slot)
{
	if (slot)
		slot_free(slot);
}

unsigned frag_rx_in_use(const struct frag_rx *r)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->n_slots; i++)
		n += r->slot[i].in_use;
	return n;
}

/* ---------------------------------------------------------------- store */

int frag_store_init(struct frag_store *st, unsigned n, bool evict)
{
	memset(st, 0, sizeof(*st));
	st->n = n ? n : FRAG_STORE_SLOTS_DEFAULT;
	st->evict = evict;
	if (tables_alloc(st->n, sizeof(*st->ent), (void **)&st->ent, &st->slab)) {
		frag_store_fini(st);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < st->n; i++)
		st->ent[i].buf = st->slab + (size_t)i * FLATRPC_MSG_MAX;
	return 0;
}

void frag_store_fini(struct frag_store *st)
{
	free(st->ent);
	free(st->slab);
	st->ent = NULL;
	st->slab = NULL;
}

static struct frag_store_ent *store_find(const struct frag_store *st, fr_addr_t addr,
					 uint16_t port, uint32_t rpc_id)
{
	for (unsigned i = 0; i < st->n; i++) {
		struct frag_store_ent *e = &st->ent[i];

		if (e->in_use && e->rpc_id == rpc_id && e->addr == addr && e->port == port)
			return e;
	}
	return NULL;
}

int frag_store_put(struct frag_store *st, fr_addr_t addr, uint16_t port, uint32_t rpc_id,
		   const void *prefix, size_t prefix_len, const void *body, size_t len,
		   uint64_t now)
{
	struct frag_store_ent *e = store_find(st, addr, port, rpc_id), *old = NULL;

	if (len > FLATRPC_MSG_MAX || prefix_len > FRAG_PREFIX_MAX)
		return FLATRPC_E_TOOBIG;
	for (unsigned i = 0; !e && i < st->n; i++) {
		if (!st->ent[i].in_use)
			e = &st->ent[i];
		else if (!old || st->ent[i].stored_at < old->stored_at)
			old = &st->ent[i];
	}
	if (!e) {
		if (!st->evict) {
			st->refused++;
			return FLATRPC_E_BUSY;
		}
		st->evictions++;
		e = old;
	}
	e->in_use = 1;
	e->addr = addr;
	e->port = port;
	e->rpc_id = rpc_id;
	e->stored_at = now;
	e->len = (uint32_t)len;
	e->prefix_len = (uint16_t)prefix_len;
	memcpy(e->prefix, prefix, prefix_len);
	memcpy(e->buf, body, len);
	st->stored++;
	return 0;
}

const struct frag_store_ent *frag_store_get(const struct frag_store *st, fr_addr_t addr,
					    uint16_t port, uint32_t rpc_id)
{
	return st->ent ? store_find(st, addr, port, rpc_id) : NULL;
}

void frag_store_drop(struct frag_store *st, fr_addr_t addr, uint16_t port, uint32_t rpc_id)
{
	struct frag_store_ent *e = st->ent ? store_find(st, addr, port, rpc_id) : NULL;

	if (e)
		e->in_use = 0;
}

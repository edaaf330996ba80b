/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * kv_store.h - the in-memory table behind the KV example and the UDP
 * baseline in bench/, shared so that both do the same work per request.
 * Open addressing with linear probing; no deletes, so no tombstones.
 */
#ifndef KV_STORE_H
#define KV_STORE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KV_STORE_KEY_MAX	64
#define KV_STORE_VAL_MAX	256

struct kv_slot {
	char		key[KV_STORE_KEY_MAX + 1];
	uint16_t	len;
	uint32_t	sets;		/* how many times this key was written */
	uint8_t		val[KV_STORE_VAL_MAX];
};

struct kv_store {
	struct kv_slot	*slots;
	size_t		cap;		/* power of two */
	size_t		used;
};

static inline uint64_t kv_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 0x100000001b3ULL;
	return h;
}

static inline int kv_store_init(struct kv_store *st, size_t cap)
{
	size_t c = 1;

	while (c < cap)
		c <<= 1;
	st->slots = calloc(c, sizeof(*st->slots));
	st->cap = c;
	st->used = 0;
	return st->slots ? 0 : -1;
}

static inline void kv_store_free(struct kv_store *st)
{
	free(st->slots);
	st->slots = NULL;
}

/* Returns the slot holding key, or the empty slot where it would go,
 * or NULL when the table is full (the caller reports it). */
static inline struct kv_slot *kv_store_find(struct kv_store *st, const char *key)
{
	size_t mask = st->cap - 1, i = kv_hash(key) & mask;

	for (size_t n = 0; n < st->cap; n++, i = (i + 1) & mask) {
		struct kv_slot *s = &st->slots[i];

		if (!s->key[0] || strcmp(s->key, key) == 0)
			return s;
	}
	return NULL;
}

static inline const struct kv_slot *kv_store_get(struct kv_store *st, const char *key)
{
	struct kv_slot *s = kv_store_find(st, key);

	return s && s->key[0] ? s : NULL;
}

/* Returns the slot written, NULL when full. */
static inline struct kv_slot *kv_store_set(struct kv_store *st, const char *key,
					   const void *val, uint16_t len)
{
	struct kv_slot *s = kv_store_find(st, key);

	if (!s || len > KV_STORE_VAL_MAX)
		return NULL;
	if (!s->key[0]) {
		/* keep one slot free so a miss always terminates early */
		if (st->used + 1 >= st->cap)
			return NULL;
		size_t klen = strnlen(key, KV_STORE_KEY_MAX);

		memcpy(s->key, key, klen);
		s->key[klen] = '\0';
		st->used++;
	}
	memcpy(s->val, val, len);
	s->len = len;
	s->sets++;
	return s;
}

#endif

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * flatrpc_anf_user.h - the run-time helpers of the generated ANF code when
 * it runs in the sending library instead of in BPF.
 *
 * flatrpc-gen prints the client: elements' req() into <svc>_stubs.c with
 * the very text it prints into anf.bpf.h, and this header gives that text
 * what kern/anf_rt.h and the BPF helpers give it in the kernel: the map
 * calls (on struct fr_umap, a table in the process), fr_state_insert(),
 * the clock and the random numbers. Running them here costs a function
 * call instead of a BPF_PROG_TEST_RUN system call; docs/placement.md says
 * what it changes (the state is the process's, not the host's).
 *
 * Not thread-safe by itself: the generated runner holds one lock per
 * service around a chain, so a pointer from a lookup stays valid while
 * the element uses it.
 */
#ifndef FLATRPC_ANF_USER_H
#define FLATRPC_ANF_USER_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/types.h>
#include <linux/bpf.h>	/* BPF_ANY, BPF_NOEXIST */

#include "flatrpc_abi.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#include "flatrpc_anf_bytes.h"

enum fr_umap_kind {
	FR_UMAP_HASH,	/* Map<K, V>: the BPF side's HASH or LRU_HASH */
	FR_UMAP_ARRAY,	/* a Vec or a scalar: the BPF side's ARRAY */
};

/*
 * A state map in the process. A hash is open-addressed with linear
 * probing, at most half full (capacity a power of two >= 2 * max_entries),
 * deleted with a backward shift so that no tombstones build up. Slots
 * (and arrays) are allocated on first use: a table the process never
 * touches costs nothing.
 */
struct fr_umap {
	const char	*name;		/* the BPF map's: init.h's entries name it */
	enum fr_umap_kind kind;
	__u32		key_size, value_size, max_entries;
	int		refuse;		/* full: refuse an insert (@full(refuse)), or evict */
	__u32		cap;		/* hash slots */
	__u32		live;		/* hash entries */
	unsigned char	*mem;
	/* what the BPF side counts in state_limits, kept here */
	__u64		inserted, evicted, refused;
};

#define FR_UMAP_HASH_INIT(nm, k, v, max, ref) \
	{ .name = (nm), .kind = FR_UMAP_HASH, .key_size = (k), .value_size = (v), \
	  .max_entries = (max), .refuse = (ref) }
#define FR_UMAP_ARRAY_INIT(nm, v, max) \
	{ .name = (nm), .kind = FR_UMAP_ARRAY, .key_size = 4, .value_size = (v), \
	  .max_entries = (max) }

/* A hash slot: an 8-byte used word, the key, the value, each 8-aligned,
 * so that a u64 value takes atomic adds as in BPF. */
static inline size_t fr_umap_round8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static inline size_t fr_umap_stride(const struct fr_umap *m)
{
	return 8 + fr_umap_round8(m->key_size) + fr_umap_round8(m->value_size);
}

static inline unsigned char *fr_umap_slot(const struct fr_umap *m, __u32 i)
{
	return m->mem + (size_t)i * fr_umap_stride(m);
}

static inline void *fr_umap_key(const struct fr_umap *m, unsigned char *slot)
{
	(void)m;
	return slot + 8;
}

static inline void *fr_umap_val(const struct fr_umap *m, unsigned char *slot)
{
	return slot + 8 + fr_umap_round8(m->key_size);
}

/* FNV-1a over the key, then a final mix: keys are short (an int or a
 * string<N>), and the low bits pick the slot. */
static inline __u32 fr_umap_hash(const void *k, __u32 n)
{
	const unsigned char *p = k;
	__u64 h = 0xcbf29ce484222325ULL;

	for (__u32 i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (__u32)h;
}

/* 0, or -ENOMEM: the table is allocated on first use. */
static inline int fr_umap_ready(struct fr_umap *m)
{
	if (m->mem)
		return 0;
	if (m->kind == FR_UMAP_ARRAY) {
		m->mem = calloc(m->max_entries ? m->max_entries : 1, fr_umap_round8(m->value_size));
	} else {
		__u32 cap = 2;

		while (cap < 2 * (m->max_entries ? m->max_entries : 1) && cap < (1u << 30))
			cap <<= 1;
		m->mem = calloc(cap, fr_umap_stride(m));
		m->cap = m->mem ? cap : 0;
	}
	return m->mem ? 0 : -ENOMEM;
}

/* The slot index holding k, or the empty one where it would go (*found 0). */
static inline __u32 fr_umap_find(const struct fr_umap *m, const void *k, int *found)
{
	__u32 mask = m->cap - 1, i = fr_umap_hash(k, m->key_size) & mask;

	for (;; i = (i + 1) & mask) {
		unsigned char *s = fr_umap_slot(m, i);

		if (!s[0] || !memcmp(fr_umap_key(m, s), k, m->key_size)) {
			*found = s[0];
			return i;
		}
	}
}

static inline void *fr_umap_lookup(struct fr_umap *m, const void *k)
{
	int found;
	__u32 i;

	if (m->kind == FR_UMAP_ARRAY) {
		__u32 idx;

		memcpy(&idx, k, sizeof(idx));
		if (idx >= m->max_entries || fr_umap_ready(m))
			return NULL;
		return m->mem + (size_t)idx * fr_umap_round8(m->value_size);
	}
	if (!m->mem || !m->live)
		return NULL;
	i = fr_umap_find(m, k, &found);
	return found ? fr_umap_val(m, fr_umap_slot(m, i)) : NULL;
}

/* Empties slot i, moving later entries of its probe run back into the
 * gap (linear probing's deletion without tombstones). */
static inline void fr_umap_remove_at(struct fr_umap *m, __u32 i)
{
	__u32 mask = m->cap - 1, j = i;
	size_t stride = fr_umap_stride(m);

	for (;;) {
		unsigned char *s;
		__u32 home;

		j = (j + 1) & mask;
		s = fr_umap_slot(m, j);
		if (!s[0])
			break;
		home = fr_umap_hash(fr_umap_key(m, s), m->key_size) & mask;
		/* the entry at j may fill the gap at i only if its home is not
		 * cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		memcpy(fr_umap_slot(m, i), s, stride);
		i = j;
	}
	memset(fr_umap_slot(m, i), 0, stride);
	m->live--;
}

static inline long fr_umap_delete(struct fr_umap *m, const void *k)
{
	int found;
	__u32 i;

	if (m->kind == FR_UMAP_ARRAY)
		return -EINVAL;	/* as the kernel answers for an array */
	if (!m->mem || !m->live)
		return -ENOENT;
	i = fr_umap_find(m, k, &found);
	if (!found)
		return -ENOENT;
	fr_umap_remove_at(m, i);
	return 0;
}

/*
 * bpf_map_update_elem()'s answers: -EEXIST for BPF_NOEXIST on a key it
 * holds, -E2BIG when a refusing map is full. A full evicting map pushes
 * out the entry nearest after the new key's home slot: not the kernel's
 * LRU order, but like it, a full table keeps taking new keys.
 */
static inline long fr_umap_update(struct fr_umap *m, const void *k, const void *v, __u64 flags)
{
	unsigned char *s;
	int found, err = fr_umap_ready(m);
	__u32 i;

	if (err)
		return err;
	if (m->kind == FR_UMAP_ARRAY) {
		__u32 idx;

		memcpy(&idx, k, sizeof(idx));
		if (idx >= m->max_entries)
			return -E2BIG;
		if (flags == BPF_NOEXIST)
			return -EEXIST;
		memcpy(m->mem + (size_t)idx * fr_umap_round8(m->value_size), v, m->value_size);
		return 0;
	}
	i = fr_umap_find(m, k, &found);
	if (found) {
		if (flags == BPF_NOEXIST)
			return -EEXIST;
	} else if (m->live >= m->max_entries) {
		if (m->refuse)
			return -E2BIG;
		for (i = fr_umap_hash(k, m->key_size) & (m->cap - 1); !fr_umap_slot(m, i)[0];
		     i = (i + 1) & (m->cap - 1))
			;
		fr_umap_remove_at(m, i);
		m->evicted++;
		i = fr_umap_find(m, k, &found);
	}
	s = fr_umap_slot(m, i);
	if (!found) {
		s[0] = 1;
		memcpy(fr_umap_key(m, s), k, m->key_size);
		m->live++;
	}
	memcpy(fr_umap_val(m, s), v, m->value_size);
	return 0;
}

/* What the generated code calls, by its BPF names. */
#define bpf_map_lookup_elem(map, k)		fr_umap_lookup((map), (k))
#define bpf_map_update_elem(map, k, v, fl)	fr_umap_update((map), (k), (v), (fl))
#define bpf_map_delete_elem(map, k)		fr_umap_delete((map), (k))

/* kern/anf_rt.h's, on the process's table: nonzero when a full refusing
 * map did not take the key. The counts stay in the table (state_limits
 * is the kernel's). */
static inline int fr_state_insert(struct fr_umap *map, __u32 idx, int refuse,
				  const void *k, const void *v)
{
	long err = fr_umap_update(map, k, v, BPF_NOEXIST);

	(void)idx;
	if (err == -EEXIST)
		return fr_umap_update(map, k, v, BPF_ANY), 0;
	if (err) {
		map->refused += !!refuse;
		return refuse;
	}
	map->inserted++;
	return 0;
}

static inline void fr_state_delete(struct fr_umap *map, __u32 idx, const void *k)
{
	(void)idx;
	fr_umap_delete(map, k);
}

/* The library computes the checksum of every frame it sends, and the
 * checker keeps forward() out of client: chains. */
static inline void fr_note_rewrite(void)
{
}

/* current_time(): the clock bpf_ktime_get_ns() reads */
static inline __u64 bpf_ktime_get_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* randomu(): xorshift per thread; like the kernel's, not for secrets */
static inline __u32 bpf_get_prandom_u32(void)
{
	static __thread __u64 x;

	if (!x)
		x = bpf_ktime_get_ns() ^ (__u64)(uintptr_t)&x ^ 0x9e3779b97f4a7c15ULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return (__u32)(x >> 32);
}

/* Seeds the tables from init.h's entries that name one of them (the
 * others are state of elements that run elsewhere). */
static inline void fr_umap_seed(struct fr_umap *const *maps, const struct flatrpc_init_entry *e,
				unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		for (struct fr_umap *const *m = maps; *m; m++)
			if (!strcmp((*m)->name, e[i].map) && (*m)->key_size == e[i].key_size &&
			    (*m)->value_size == e[i].value_size)
				fr_umap_update(*m, e[i].key, e[i].value, BPF_ANY);
}

/* One lock per service around a chain run: taken uncontended it is one
 * atomic exchange, against a system call before. */
static inline void fr_ulock(int *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(l, __ATOMIC_RELAXED))
			;
}

static inline void fr_uunlock(int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

#endif /* FLATRPC_ANF_USER_H */

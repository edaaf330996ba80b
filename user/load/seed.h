/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * seed.h - what a loaded object's state starts from: the spec's init()
 * entries, and each Map state's count in state_limits. flatrpc-load and the
 * BPF table tests (tests/bpf/fixture.h) both seed through this, so a table
 * test runs the object as the loader leaves it.
 */
#ifndef FLATRPC_LOAD_SEED_H
#define FLATRPC_LOAD_SEED_H

#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "flatrpc_abi.h"
#include "desc.h"

/* Keys in the map, at most max + 1: a map that changes under us cannot loop. */
static inline long flatrpc_count_entries(int fd, __u32 key_size, __u32 max)
{
	char key[512], next[512];
	void *prev = NULL;
	long n = 0;

	if (key_size > sizeof(key))
		return -1;
	while (n <= max && !bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}

/*
 * Writes the init entries, then sets each Map state's `live` and `max` in
 * state_limits from the map itself: the BPF side counts entries as it
 * inserts, to tell an insert into a full LRU map (an eviction), but it
 * cannot see what init() or an earlier load left, nor the size the map was
 * given. The counters themselves are kept. Returns 0 or a negative errno,
 * with *what naming the map that failed.
 */
static inline int flatrpc_seed(struct bpf_object *obj, const struct flatrpc_init_entry *init,
			       unsigned int n_init, const char *const *states, const char **what)
{
	struct bpf_map *lim = bpf_object__find_map_by_name(obj, FLATRPC_PIN_STATE_LIMITS);
	unsigned int i;
	int err;

	for (i = 0; i < n_init; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(obj, init[i].map);

		*what = init[i].map;
		if (!map)
			return -ENOENT;
		err = bpf_map__update_elem(map, init[i].key, init[i].key_size, init[i].value,
					   init[i].value_size, BPF_ANY);
		if (err)
			return err;
	}
	*what = FLATRPC_PIN_STATE_LIMITS;
	if (!lim)
		return -ENOENT;
	for (__u32 s = 0; states[s]; s++) {
		struct bpf_map *map = bpf_object__find_map_by_name(obj, states[s]);
		struct flatrpc_state_limits v = {};
		long n;

		*what = states[s];
		if (!map)
			return -ENOENT;
		n = flatrpc_count_entries(bpf_map__fd(map), bpf_map__key_size(map),
					  bpf_map__max_entries(map));
		if (n < 0)
			return -EINVAL;
		/* a fresh map reads as zeros, a kept one keeps its counts */
		bpf_map__lookup_elem(lim, &s, sizeof(s), &v, sizeof(v), 0);
		v.live = n;
		v.max = bpf_map__max_entries(map);
		err = bpf_map__update_elem(lim, &s, sizeof(s), &v, sizeof(v), BPF_ANY);
		if (err)
			return err;
	}
	return 0;
}

#endif

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * anf_rt.h - the run-time helpers of the generated ANF code.
 *
 * Every anf.bpf.h that flatrpc-gen writes includes this after its
 * per-method switches and before its state maps; the instance functions
 * call these by name. They were once printed into each anf.bpf.h as
 * string literals; here the compiler and the reader see them as C.
 * Include after <linux/bpf.h> and <bpf/bpf_helpers.h>. The same generated
 * code, for client: elements, also runs in the sending library on
 * include/flatrpc_anf_user.h: what is defined here must exist there too.
 */
#ifndef FLATRPC_KERN_ANF_RT_H
#define FLATRPC_KERN_ANF_RT_H

#include "flatrpc_abi.h"
#include "maps.h"	/* state_limits, which fr_state_insert() counts into */
#include "flatrpc_anf_bytes.h"

/* The UDP header is not at a fixed distance from the body (a fragment
 * carries an extension in between), so the checksum a rewrite breaks is
 * zeroed by the kernel program, which has the header. */
/* What a chain leaves for the kernel program besides its return code;
 * per CPU, as one run of the program is on one CPU. */
struct fr_anf_out {
	__u32 forward_to;	/* forward(rpc, ip): ip, host order */
	__u32 rewrote;		/* set(rpc, ...) ran: the UDP checksum is stale */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fr_anf_out);
} fr_anf_out_map SEC(".maps");

static __always_inline struct fr_anf_out *fr_anf_out(void)
{
	__u32 z = 0;

	return bpf_map_lookup_elem(&fr_anf_out_map, &z);
}

static __always_inline __u32 fr_anf_forward_to(void)
{
	struct fr_anf_out *o = fr_anf_out();

	return o ? o->forward_to : 0;
}

static __always_inline void fr_note_rewrite(void)
{
	struct fr_anf_out *o = fr_anf_out();

	if (o)
		o->rewrote = 1;
}

/* Whether the chain that just ran rewrote the message, cleared for the
 * next: a rewritten frame's UDP checksum must become 0 ("none"). */
static __always_inline int fr_anf_rewrote(void)
{
	struct fr_anf_out *o = fr_anf_out();
	int r;

	if (!o)
		return 0;
	r = o->rewrote;
	o->rewrote = 0;
	return r;
}

/* A set() of a key its Map state does not hold: stores it and counts
 * it in state_limits[idx] (flatrpc_abi.h). Nonzero: a full @full(refuse)
 * map did not take it. Counted without fetching atomics, which 6.1's
 * default BPF ISA lacks, so two CPUs may race on `live`. */
static __always_inline int fr_state_insert(void *map, __u32 idx, int refuse,
					   const void *k, const void *v)
{
	struct flatrpc_state_limits *l = bpf_map_lookup_elem(&state_limits, &idx);
	long err = bpf_map_update_elem(map, k, v, BPF_NOEXIST);

	if (err == -17)	/* EEXIST: another CPU stored it just now */
		return bpf_map_update_elem(map, k, v, BPF_ANY), 0;
	if (!l)
		return 0;
	if (err)	/* E2BIG: full, which only a plain hash reports */
		return refuse ? (__sync_fetch_and_add(&l->refused, 1), 1) : 0;
	__sync_fetch_and_add(&l->inserted, 1);
	if (!refuse && l->max && l->live >= l->max)	/* the LRU pushed a key out */
		__sync_fetch_and_add(&l->evicted, 1);
	else
		__sync_fetch_and_add(&l->live, 1);
	return 0;
}

static __always_inline void fr_state_delete(void *map, __u32 idx, const void *k)
{
	struct flatrpc_state_limits *l = bpf_map_lookup_elem(&state_limits, &idx);

	if (!bpf_map_delete_elem(map, k) && l)
		__sync_fetch_and_add(&l->live, -1);
}

#endif /* FLATRPC_KERN_ANF_RT_H */

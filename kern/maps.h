/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * maps.h - every core map of the FlatRPC object, in one place.
 *
 * All maps are pinned by name under <bpffs>/flatrpc/<ifname>/ (the loader
 * sets the pin root), so that a reload keeps in-order state and counters,
 * and so that libflatrpc-user can find `xsks` and `meta` by interface name.
 * The ANF state maps live in the generated anf.bpf.h and follow the same rule.
 */
#ifndef FLATRPC_KERN_MAPS_H
#define FLATRPC_KERN_MAPS_H

/* AF_XDP sockets by RX queue; filled by the library, one socket per queue. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, FLATRPC_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xsks SEC(".maps");

/* Per-method counters. Per-CPU so the fast path never contends; tools sum. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLATRPC_MAX_METHODS);
	__type(key, __u32);
	__type(value, struct flatrpc_method_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stats SEC(".maps");

/* Drop counters keyed by enum flatrpc_drop, so every drop has a name. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLATRPC_DROP__MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} drops SEC(".maps");

/*
 * In-order receive state per (client addr, client port, method). LRU so that
 * clients that vanish without a goodbye cannot exhaust it; an evicted stream
 * resumes only with FLATRPC_F_FIRST (the sender retransmits until then).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flatrpc_seq_key);
	__type(value, struct flatrpc_seq_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} seqs SEC(".maps");

/*
 * Which streams of `seqs` each (client host, method) owns, so that one host
 * pushes out only its own (flatrpc_abi.h, FLATRPC_SEQ_PER_HOST). Touched
 * only when a stream starts. LRU: a host forgotten here keeps its streams in
 * `seqs` and starts a new list, so a host's share is exact only while
 * fewer (host, method) pairs than this start streams.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, struct flatrpc_seq_host_key);
	__type(value, struct flatrpc_seq_host);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} seq_hosts SEC(".maps");

/*
 * Fate of first fragments that were denied or dropped, so that the later
 * fragments of those messages are dropped too (frag_denied). LRU: an entry
 * is only useful while its message's fragments are in flight.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct flatrpc_frag_key);
	__type(value, __u32);		/* why: see FR_FRAG_WHY_* in flatrpc.bpf.c */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} frag_verdicts SEC(".maps");

/* The receiving library's backlog per RX queue (struct flatrpc_load). The
 * library mmaps it and stores with plain writes: no syscall per request. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FLATRPC_MAX_QUEUES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct flatrpc_load);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} load SEC(".maps");

/* The service's live keys (struct flatrpc_keys), written by flatrpc-load
 * from the key file; the library mmaps it to sign what it sends. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct flatrpc_keys);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} auth_keys SEC(".maps");

/* Inserts, evictions and refusals per ANF Map state (struct
 * flatrpc_state_limits); the generated set() code updates it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FLATRPC_MAX_STATES);
	__type(key, __u32);
	__type(value, struct flatrpc_state_limits);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} state_limits SEC(".maps");

/* What flatrpc-load attached; the BPF side never reads it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flatrpc_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} meta SEC(".maps");

/* What the library counts per method (struct flatrpc_method_obs): every
 * process maps it and adds with atomics, no syscall per call; the kernel
 * never touches it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FLATRPC_MAX_METHODS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct flatrpc_method_obs);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} obs SEC(".maps");

/* 0: the kernel programs record no XDP time and no element verdicts
 * (flatrpc-load --figures off, for measuring what they cost); the verifier
 * then drops that code. Set through the skeleton before load. */
const volatile __u8 flatrpc_figures = 1;

/* XDP run time per FlatRPC frame; per-CPU, the reader adds the CPUs up. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flatrpc_hist);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdp_time SEC(".maps");

#endif

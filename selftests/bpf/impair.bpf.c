/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * impair.bpf.c - loss and duplication injection, and counting, for the
 * netns selftests.
 *
 * The host kernel has no netem (docs/facts.md), so the router namespace runs this
 * program at TC ingress of both its interfaces. It drops and duplicates
 * FlatRPC frames at configurable rates and counts, per (kind, method), what
 * it saw, dropped and duplicated. Because it sits on the router, the counts
 * are what the client and server really put on the wire, independent of the
 * library's own accounting. With IMPAIR_F_RECORD it also keeps one record per
 * (kind, method, rpc_id), so a test can check per call that a lossy request
 * crossed the router once, and know which calls lost a message.
 *
 * Delay and reordering are not done here: the host kernel has neither netem
 * nor fq (whose earliest-departure-time mode would honour an skb->tstamp set
 * by BPF), and a TC program cannot hold a packet. Under virtme-ng the router
 * gets netem for those (scripts/vm-test.sh, SELFTEST_NETEM).
 *
 * One loaded instance is attached to both interfaces (by a pinned program),
 * so both directions share the same config and counters.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "flatrpc_abi.h"

#include "impair.h"

/* The copy made by a duplication re-enters the same ingress hook. This mark
 * tells the hook it is a copy, so it is passed unharmed and never copied
 * again; without it, duplication would be a geometric series, not a rate. */
#define IMPAIR_MARK_COPY	0x1f0dd0b1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct impair_cfg);
} impair_cfg SEC(".maps");

/* A shared (not per-CPU) hash so `bpftool map dump` prints final totals;
 * the updates are atomic adds, so two CPUs cannot lose a count. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct impair_key);
	__type(value, struct impair_count);
} impair_stats SEC(".maps");

/* Sized for the invariant test's 10,000 calls (requests and responses,
 * retransmissions and all) with room to spare; a full map is counted in
 * impair_ids_full so the test can tell a lost record from a missing frame. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 131072);
	__type(key, struct impair_id_key);
	__type(value, struct impair_id_count);
} impair_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} impair_ids_full SEC(".maps");

static __always_inline int roll(__u32 ppm)
{
	if (ppm == 0)
		return 0;
	if (ppm >= 1000000)
		return 1;
	return (bpf_get_prandom_u32() % 1000000) < ppm;
}

static __always_inline struct impair_count *counter(struct impair_key *k)
{
	static const struct impair_count zero;
	struct impair_count *c;

	c = bpf_map_lookup_elem(&impair_stats, k);
	if (c)
		return c;
	/* BPF_NOEXIST: a CPU racing us may have created it first; either
	 * way the lookup below finds the one entry. */
	bpf_map_update_elem(&impair_stats, k, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&impair_stats, k);
}

static __always_inline void record(const struct flatrpc_hdr *fh, __u8 kind, int drop, int dup)
{
	struct impair_id_key k = { .rpc_id = bpf_ntohl(fh->rpc_id), .kind = kind,
				   .method = fh->method };
	struct impair_id_count zero = {}, *c;
	__u32 z = 0;
	__u64 *full;

	c = bpf_map_lookup_elem(&impair_ids, &k);
	if (!c) {
		zero.first_ns = bpf_ktime_get_ns();
		if (bpf_map_update_elem(&impair_ids, &k, &zero, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&impair_ids, &k)) {
			full = bpf_map_lookup_elem(&impair_ids_full, &z);
			if (full)
				__sync_fetch_and_add(full, 1);
			return;
		}
		c = bpf_map_lookup_elem(&impair_ids, &k);
		if (!c)
			return;
	}
	__sync_fetch_and_add(&c->seen, 1);
	if (drop)
		__sync_fetch_and_add(&c->dropped, 1);
	if (dup)
		__sync_fetch_and_add(&c->duplicated, 1);
	if (fh->flags & FLATRPC_F_RETX)
		__sync_fetch_and_add(&c->retx_seen, 1);
}

SEC("tc")
int impair(struct __sk_buff *skb)
{
	struct impair_key key = {};
	struct flatrpc_hdr fh;
	struct impair_count *c;
	struct impair_cfg *cfg;
	struct udphdr uh;
	struct iphdr ip;
	__u32 zero = 0, l4, ppm, dup_ppm;
	__u16 port;
	int drop, dup;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, sizeof(struct ethhdr), &ip, sizeof(ip)))
		return TC_ACT_OK;
	if (ip.protocol != IPPROTO_UDP || ip.ihl < 5)
		return TC_ACT_OK;
	/* Only first fragments carry the UDP header. */
	if (ip.frag_off & bpf_htons(0x1fff))
		return TC_ACT_OK;
	l4 = sizeof(struct ethhdr) + ip.ihl * 4;
	if (bpf_skb_load_bytes(skb, l4, &uh, sizeof(uh)))
		return TC_ACT_OK;

	cfg = bpf_map_lookup_elem(&impair_cfg, &zero);
	if (!cfg)
		return TC_ACT_OK;
	port = cfg->port ? cfg->port : FLATRPC_DEFAULT_PORT;
	if (uh.dest != bpf_htons(port) && uh.source != bpf_htons(port))
		return TC_ACT_OK;
	/* a copy we made: it was counted and its original already rolled */
	if (skb->mark == IMPAIR_MARK_COPY) {
		skb->mark = 0;
		return TC_ACT_OK;
	}

	if (bpf_skb_load_bytes(skb, l4 + sizeof(uh), &fh, sizeof(fh)) ||
	    fh.magic != FLATRPC_MAGIC) {
		key.kind = IMPAIR_KIND_MALFORMED;
		/* malformed frames are tests' probes: never lose or copy them */
		ppm = 0;
		dup_ppm = 0;
	} else {
		key.kind = fh.flags & FLATRPC_KIND_MASK;
		key.method = fh.method;
		ppm = key.kind == FLATRPC_REQ ? cfg->req_ppm : cfg->resp_ppm;
		dup_ppm = key.kind == FLATRPC_REQ ? cfg->dup_req_ppm : cfg->dup_resp_ppm;
	}

	drop = roll(ppm);
	dup = !drop && roll(dup_ppm);
	if (dup) {
		/* The copy goes back through this ingress (and the backlog
		 * queue), so it is routed like the original and may arrive
		 * after frames that followed it. */
		skb->mark = IMPAIR_MARK_COPY;
		if (bpf_clone_redirect(skb, skb->ifindex, BPF_F_INGRESS))
			dup = 0;
		skb->mark = 0;
	}
	c = counter(&key);
	if (c) {
		__sync_fetch_and_add(&c->seen, 1);
		if (drop)
			__sync_fetch_and_add(&c->dropped, 1);
		if (dup)
			__sync_fetch_and_add(&c->duplicated, 1);
		if (key.kind != IMPAIR_KIND_MALFORMED && (fh.flags & FLATRPC_F_RETX))
			__sync_fetch_and_add(&c->retx_seen, 1);
	}
	if (key.kind != IMPAIR_KIND_MALFORMED && (cfg->flags & IMPAIR_F_RECORD))
		record(&fh, key.kind == FLATRPC_ACK && fh.status == FLATRPC_ACK_EPOCH ?
			    IMPAIR_REC_ACK_EPOCH : key.kind, drop, dup);
	return drop ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

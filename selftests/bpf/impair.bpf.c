/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * impair.bpf.c - loss injection and counting for the netns selftests.
 *
 * The host kernel has no netem (FACTS.md), so the router namespace runs this
 * program at TC ingress of both its interfaces. It drops FlatRPC frames at a
 * configurable rate and counts, per (kind, method), what it saw and what it
 * dropped. Because it sits on the router, the counts are what the client and
 * server really put on the wire, independent of the library's own accounting.
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

/* Rates are in parts per million so a test can ask for exact percentages
 * without float. Requests and responses have separate rates so a test can
 * impair one direction only. */
struct impair_cfg {
	__u32	req_ppm;	/* drop rate for kind REQ */
	__u32	resp_ppm;	/* drop rate for RESP, ERR and ACK */
	__u16	port;		/* service port; 0 means FLATRPC_DEFAULT_PORT */
	__u16	pad;
	__u32	pad2;
};

/* kind IMPAIR_KIND_MALFORMED: a datagram on the service port that is not a
 * readable FlatRPC header (too short or bad magic); method is 0 then. */
#define IMPAIR_KIND_MALFORMED	0xff

struct impair_key {
	__u8	kind;
	__u8	method;
	__u8	pad[2];
};

struct impair_count {
	__u64	seen;		/* frames that reached this hook */
	__u64	dropped;	/* of those, dropped here */
	__u64	retx_seen;	/* of those seen, marked FLATRPC_F_RETX */
};

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

SEC("tc")
int impair(struct __sk_buff *skb)
{
	struct impair_key key = {};
	struct flatrpc_hdr fh;
	struct impair_count *c;
	struct impair_cfg *cfg;
	struct udphdr uh;
	struct iphdr ip;
	__u32 zero = 0, l4, ppm;
	__u16 port;
	int drop;

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

	if (bpf_skb_load_bytes(skb, l4 + sizeof(uh), &fh, sizeof(fh)) ||
	    fh.magic != FLATRPC_MAGIC) {
		key.kind = IMPAIR_KIND_MALFORMED;
		ppm = 0;	/* malformed frames are tests' probes: never lose them */
	} else {
		key.kind = fh.flags & FLATRPC_KIND_MASK;
		key.method = fh.method;
		ppm = key.kind == FLATRPC_REQ ? cfg->req_ppm : cfg->resp_ppm;
	}

	drop = roll(ppm);
	c = counter(&key);
	if (c) {
		__sync_fetch_and_add(&c->seen, 1);
		if (drop)
			__sync_fetch_and_add(&c->dropped, 1);
		if (key.kind != IMPAIR_KIND_MALFORMED && (fh.flags & FLATRPC_F_RETX))
			__sync_fetch_and_add(&c->retx_seen, 1);
	}
	return drop ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

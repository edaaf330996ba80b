/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fixture.h - what every BPF table test does before its rows: load its
 * service's object without pins and seed the state from init(), as
 * flatrpc-load would. Include after that service's flatrpc.skel.h and init.h
 * (the Makefile points each test at one service's generated directory).
 */
#ifndef FLATRPC_BPF_FIXTURE_H
#define FLATRPC_BPF_FIXTURE_H

#include <sched.h>
#include <arpa/inet.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

#include "flatrpc_csum.h"
#include "seed.h"

/* A test that fills a Map state names it here, with the size to load it at,
 * before fixture_load(): a few entries fill it instead of 65,536. */
static const char *fixture_small_map;
static __u32 fixture_small_size;

/* The IPv4 header checksum of ip as it stands, options included: the value
 * to store when ip->check is 0, and 0 when ip->check is already right. */
static inline __u16 fixture_ip_csum(const struct iphdr *ip)
{
	return fr_csum_fold(fr_csum_add_bytes(0, ip, ip->ihl * 4u));
}

/* The same for the UDP checksum of a datagram over IPv4 or IPv6. */
static inline __u16 fixture_udp_csum(const struct iphdr *ip, const struct udphdr *udp)
{
	return fr_csum_udp_sum(&ip->saddr, &ip->daddr, 4, udp, ntohs(udp->len));
}

static inline __u16 fixture_udp6_csum(const struct ipv6hdr *ip6, const struct udphdr *udp)
{
	return fr_csum_udp_sum(&ip6->saddr, &ip6->daddr, 16, udp, ntohs(udp->len));
}

/* The IPv4 header of a UDP datagram of udp_len bytes, no options, its
 * checksum summed; addresses in host order. */
static inline void fixture_ipv4(struct iphdr *ip, __u32 saddr, __u32 daddr, __u16 id,
				__u16 udp_len)
{
	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->id = htons(id);
	ip->tot_len = htons(sizeof(*ip) + udp_len);
	ip->saddr = htonl(saddr);
	ip->daddr = htonl(daddr);
	ip->check = fixture_ip_csum(ip);
}

/* The drops map's count of reason over every CPU; all ones when the map
 * cannot be read, which no row expects. */
static inline __u64 fixture_drops(struct flatrpc_bpf *s, __u32 reason)
{
	int ncpus = libbpf_num_possible_cpus();
	__u64 v[ncpus > 0 ? ncpus : 1], sum = 0;

	if (ncpus <= 0 || bpf_map__lookup_elem(s->maps.drops, &reason, sizeof(reason),
					       v, sizeof(v), 0))
		return ~0ULL;
	for (int i = 0; i < ncpus; i++)
		sum += v[i];
	return sum;
}

/* A counter an element keeps in a hash map: 0 until its first count. */
static inline __u64 fixture_count(struct bpf_map *map, const void *key, size_t key_size)
{
	__u64 v = 0;

	if (bpf_map__lookup_elem(map, key, key_size, &v, sizeof(v), 0))
		return 0;
	return v;
}

/* auth: the object's flatrpc_auth. The tables are about the frames' other
 * checks and load it 0, untagged, as a spec with auth: none sends them;
 * test_bpf_auth loads it 1. */
static struct flatrpc_bpf *fixture_load_auth(__u16 port, __u8 auth)
{
	struct flatrpc_bpf *s = flatrpc_bpf__open();
	static const char *const state_names[] = FLATRPC_SPEC_STATES;
	const char *what;
	struct bpf_map *map;

	if (!s)
		return NULL;
	/* tests must never touch the pins of a running system */
	bpf_object__for_each_map(map, s->obj)
		bpf_map__set_pin_path(map, NULL);
	s->rodata->flatrpc_port = port;
	s->rodata->flatrpc_auth = auth;
	if (fixture_small_map &&
	    bpf_map__set_max_entries(bpf_object__find_map_by_name(s->obj, fixture_small_map),
				     fixture_small_size))
		goto fail;
	if (flatrpc_bpf__load(s))
		goto fail;
	if (flatrpc_seed(s->obj, flatrpc_init_table, FLATRPC_INIT_COUNT, state_names, &what))
		goto fail;
	return s;
fail:
	flatrpc_bpf__destroy(s);
	return NULL;
}

/* state_limits of the Map state pinned as NAME, found by its slot in the
 * generated FLATRPC_SPEC_STATES; zeros (max 0, which no test expects) if
 * the spec has no such state. */
static inline struct flatrpc_state_limits fixture_state_limits(struct flatrpc_bpf *s,
							       const char *name)
{
	static const char *const names[] = FLATRPC_SPEC_STATES;
	struct flatrpc_state_limits v = {};
	__u32 i = 0;

	while (names[i] && strcmp(names[i], name))
		i++;
	if (names[i])
		bpf_map__lookup_elem(s->maps.state_limits, &i, sizeof(i), &v, sizeof(v), 0);
	return v;
}

static inline struct flatrpc_bpf *fixture_load(__u16 port)
{
	return fixture_load_auth(port, 0);
}

/*
 * XDP drops a frame whose destination is not this host's (not_local, by the
 * kernel's routing decision, kern/local.h), and a test run receives on lo.
 * So a table enters a network namespace of its own where the addresses its
 * frames go to are local (on lo, /32 and /128) and every other one has a
 * route out of a veth (as a host's default route would), and where lo
 * forwards: bpf_fib_lookup() answers only for an interface that does, so
 * the check is exercised rather than skipped. addrs ends with NULL.
 */
static inline int fixture_netns(const char *const *addrs)
{
	static const char *const setup[] = {
		"ip link set lo up",
		"ip link add fr-out type veth peer name fr-peer",
		"ip link set fr-peer up",
		"ip link set fr-out up",
		"ip route add default dev fr-out",
		"ip -6 route add default dev fr-out",
		"sysctl -qw net.ipv4.conf.lo.forwarding=1",
		"sysctl -qw net.ipv6.conf.lo.forwarding=1",
	};
	char cmd[160];

	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
		if (system(setup[i])) {
			fprintf(stderr, "failed: %s\n", setup[i]);
			return -1;
		}
	for (; addrs && *addrs; addrs++) {
		snprintf(cmd, sizeof(cmd), "ip addr add %s dev lo", *addrs);
		if (system(cmd)) {
			fprintf(stderr, "failed: %s\n", cmd);
			return -1;
		}
	}
	return 0;
}

/* Whether lo forwards, for the rows about a host that is no router. */
static inline int fixture_lo_forwarding(int on)
{
	return system(on ? "sysctl -qw net.ipv4.conf.lo.forwarding=1 net.ipv6.conf.lo.forwarding=1"
			 : "sysctl -qw net.ipv4.conf.lo.forwarding=0 net.ipv6.conf.lo.forwarding=0");
}

#endif

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_bpf_lb.c - load-balancer and header-rewrite (specs/elements/) in the
 * kernel, through the balanced object: get runs header-rewrite ->
 * load-balancer, put runs header-rewrite alone.
 *
 * Each row is one request, the interface it arrives on, and what must come
 * out: the verdict and the bytes that matter (the rewritten tier, the IPv4
 * destination and checksum, the UDP checksum, the MACs). The test runs in
 * its own network namespace, set up once: a veth pair v0 (10.0.1.1/24) and
 * v1 (10.0.2.1/24) with permanent neighbours for the three backends
 * 10.0.1.11-13 on v0, so that bpf_fib_lookup's answers are the test's own,
 * whatever the host's routes; forwarding is on there, as on any host
 * that forwards. Needs root and the ip command.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <unistd.h>
#include <net/if.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flatrpc_abi.h"
#include "balanced.abi.h"
#include "flatrpc.skel.h"
#include "desc.h"
#include "init.h"
#include "fixture.h"

#define CLIENT_PORT	40001
#define IP_CLIENT	0x0a000201	/* 10.0.2.1: behind v1 */
#define IP_FRONT	0x0a000202
#define N_BACKENDS	3
#define BACKEND(i)	(0x0a00010b + (i))	/* init() of load-balancer */

static struct flatrpc_bpf *skel;
static int ifindex_v0, ifindex_v1;

static const uint8_t mac_client[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x11 };
static const uint8_t mac_front[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x22 };
static const uint8_t mac_v0[ETH_ALEN] = { 0x02, 0, 0, 0, 0x10, 0x01 };
/* the neighbour entry of backend i */
static void mac_backend(int i, uint8_t *mac)
{
	static const uint8_t base[ETH_ALEN] = { 0x02, 0, 0, 0, 0x01, 0 };

	memcpy(mac, base, ETH_ALEN);
	mac[5] = 0x0b + i;
}

/* ---- frames ------------------------------------------------------------- */

/* The spec's hash() of a string<64>: FNV-1a over the zero-padded slot. */
static uint64_t fnv_slot(const char *key)
{
	uint8_t slot[64] = { 0 };
	uint64_t h = 0xcbf29ce484222325ULL;

	memcpy(slot, key, strlen(key));
	for (int i = 0; i < 64; i++)
		h = (h ^ slot[i]) * 0x100000001b3ULL;
	return h;
}

enum method { GET, PUT };

struct frame {
	uint8_t buf[512];
	size_t len;
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *udp;
	uint8_t *body;
};

/* frag: the first of two fragments, whose extension sits between the
 * header and the body */
static void build(struct frame *f, enum method m, const char *user, uint8_t tier,
		  const char *key, bool frag)
{
	struct flatrpc_hdr *h;
	size_t n;

	memset(f, 0, sizeof(*f));
	f->eth = (struct ethhdr *)f->buf;
	f->ip = (struct iphdr *)(f->eth + 1);
	f->udp = (struct udphdr *)(f->ip + 1);
	h = (struct flatrpc_hdr *)(f->udp + 1);
	f->body = (uint8_t *)(h + 1) + (frag ? sizeof(struct flatrpc_frag) : 0);
	if (m == GET) {
		struct balanced_get_req_fixed g = { .tier = tier };

		memcpy(g.username, user, strlen(user));
		memcpy(g.key, key, strlen(key));
		memcpy(f->body, &g, sizeof(g));
		n = sizeof(g);
	} else {
		struct balanced_put_req_fixed p = { .tier = tier };
		uint16_t kl = strlen(key), vl = 4;

		memcpy(p.username, user, strlen(user));
		memcpy(f->body, &p, sizeof(p));
		n = sizeof(p);
		memcpy(f->body + n, &kl, 2);
		memcpy(f->body + n + 2, key, kl);
		n += 2 + kl;
		memcpy(f->body + n, &vl, 2);
		memcpy(f->body + n + 2, "blue", vl);
		n += 2 + vl;
	}
	memcpy(f->eth->h_dest, mac_front, ETH_ALEN);
	memcpy(f->eth->h_source, mac_client, ETH_ALEN);
	f->eth->h_proto = htons(ETH_P_IP);
	if (frag) {
		struct flatrpc_frag x = { .index = htons(0), .count = htons(2) };

		memcpy(h + 1, &x, sizeof(x));
		n += sizeof(x);
	}
	h->magic = FLATRPC_MAGIC;
	h->flags = FLATRPC_REQ | (frag ? FLATRPC_F_FRAG : 0);
	h->method = m == GET ? BALANCED_GET : BALANCED_PUT;
	h->rpc_id = htonl(0x1b000000 + m);
	h->len = htons(n);
	f->udp->source = htons(CLIENT_PORT);
	f->udp->dest = htons(BALANCED_PORT);
	f->udp->len = htons(sizeof(*f->udp) + sizeof(*h) + n);
	f->udp->check = htons(0x1234);	/* as if the sender had summed it */
	fixture_ipv4(f->ip, IP_CLIENT, IP_FRONT, 0, ntohs(f->udp->len));
	f->len = sizeof(*f->eth) + ntohs(f->ip->tot_len);
}

/* ---- state between rows ------------------------------------------------- */

static void set_backends(uint32_t n)
{
	uint32_t slot = 16;

	assert_int_equal(bpf_map__update_elem(skel->maps.fr_load_balancer_backends, &slot,
					      sizeof(slot), &n, sizeof(n), 0), 0);
}

static void set_slot(uint32_t slot, uint32_t ip)
{
	assert_int_equal(bpf_map__update_elem(skel->maps.fr_load_balancer_backends, &slot,
					      sizeof(slot), &ip, sizeof(ip), 0), 0);
}

#define IP_UNKNOWN	0x0a000163	/* 10.0.1.99: routed via v0, no neighbour */

static void three_backends(void) { set_backends(N_BACKENDS); }
static void no_backends(void) { set_backends(0); }
static void one_unknown_backend(void)
{
	set_slot(0, IP_UNKNOWN);
	set_backends(1);
}

#define IP_NOROUTE	0xc0000201	/* 192.0.2.1: no route in the test's netns */

static void one_unroutable_backend(void)
{
	set_slot(0, IP_NOROUTE);
	set_backends(1);
}

/* ---- rows ------------------------------------------------------------------- */

enum mac_out { MACS_AS_SENT, MACS_FROM_FIB };

struct row {
	const char *name;
	void (*before)(void);
	enum method m;
	const char *user;
	const char *key;
	int *ifindex;		/* arrives on; NULL: the test run's default (lo) */
	int verdict;
	uint8_t tier;		/* what header-rewrite must leave in the frame */
	bool forwarded;		/* daddr is the key's backend; else unchanged */
	enum mac_out macs;
	uint32_t to;		/* forwarded to this, not to one of the three */
	bool frag;		/* the first fragment of a two-fragment message */
	uint32_t drop;		/* counted once under this drop reason */
};

static const struct row rows[] = {
	/* header-rewrite: the tier comes from the operator's table, never
	 * from the caller; the frame then reaches the (missing) socket */
	{ "put: Kevin is tier 2", NULL, PUT, "Kevin", "colour", NULL, XDP_DROP, 2, false,
	  MACS_AS_SENT, 0, false, 0 },
	{ "put: Peter is tier 0", NULL, PUT, "Peter", "colour", NULL, XDP_DROP, 0, false,
	  MACS_AS_SENT, 0, false, 0 },
	{ "put: anyone else gets the default tier 1", NULL, PUT, "Mallory", "colour", NULL,
	  XDP_DROP, 1, false, MACS_AS_SENT, 0, false, 0 },
	/* the first fragment carries an extension before the body: the
	 * rewrite must not reach into the FlatRPC header */
	{ "put, first fragment: Kevin is tier 2, header intact", NULL, PUT, "Kevin", "colour",
	  NULL, XDP_DROP, 2, false, MACS_AS_SENT, 0, true, 0 },
	/* load-balancer, with the neighbours in the table: out at once */
	{ "get on v0: to the key's backend, back out of v0", three_backends, GET, "Kevin",
	  "colour", &ifindex_v0, XDP_TX, 2, true, MACS_FROM_FIB, 0, false, 0 },
	{ "get on v0, another key", NULL, GET, "Peter", "shape", &ifindex_v0, XDP_TX, 0, true,
	  MACS_FROM_FIB, 0, false, 0 },
	{ "get on v0, a third key", NULL, GET, "Mallory", "size-of-the-thing", &ifindex_v0,
	  XDP_TX, 1, true, MACS_FROM_FIB, 0, false, 0 },
	{ "get on v1: redirected to v0", NULL, GET, "Kevin", "colour", &ifindex_v1,
	  XDP_REDIRECT, 2, true, MACS_FROM_FIB, 0, false, 0 },
	{ "get on lo: redirected to v0", NULL, GET, "Peter", "shape", NULL, XDP_REDIRECT, 0,
	  true, MACS_FROM_FIB, 0, false, 0 },
	/* a backend with no neighbour entry: rewritten, and up the stack,
	 * which resolves it and forwards */
	{ "get, unresolved backend: up the stack", one_unknown_backend, GET, "Kevin", "colour",
	  &ifindex_v0, XDP_PASS, 2, true, MACS_AS_SENT, IP_UNKNOWN, false, 0 },
	/* a backend the kernel could never forward to: dropped, and counted
	 * as forward_failed so the operator sees the bad backend list */
	{ "get, unroutable backend: dropped as forward_failed", one_unroutable_backend, GET,
	  "Kevin", "colour", &ifindex_v0, XDP_DROP, 2, true, MACS_AS_SENT, IP_NOROUTE, false,
	  FLATRPC_DROP_FWD_FAILED },
	/* no backend configured: served here */
	{ "get, no backends: served locally", no_backends, GET, "Kevin", "colour", &ifindex_v0,
	  XDP_DROP, 2, false, MACS_AS_SENT, 0, false, 0 },
};

static void run_row(const struct row *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	struct xdp_md ctx = { 0 };
	struct frame in, out;
	uint32_t want_daddr = IP_FRONT;
	uint64_t drops;

	build(&in, r->m, r->user, 9, r->key, r->frag);
	memcpy(&out, &in, sizeof(out));
	memset(out.buf, 0, sizeof(out.buf));
	ctx.data_end = in.len;
	ctx.ingress_ifindex = r->ifindex ? *r->ifindex : 0;
	opts.data_in = in.buf;
	opts.data_size_in = in.len;
	opts.data_out = out.buf;
	opts.data_size_out = sizeof(out.buf);
	if (r->ifindex) {
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	opts.repeat = 1;
	drops = r->drop ? fixture_drops(skel, r->drop) : 0;
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.flatrpc_xdp),
						&opts), 0);
	if ((int)opts.retval != r->verdict)
		fail_msg("%s: verdict %u, want %d", r->name, opts.retval, r->verdict);
	if (r->drop && fixture_drops(skel, r->drop) != drops + 1)
		fail_msg("%s: drop reason %u not counted once", r->name, r->drop);
	assert_int_equal(opts.data_size_out, in.len);

	/* out's pointers are in's, moved to its buffer */
	struct ethhdr *eth = (struct ethhdr *)out.buf;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	uint8_t *body = out.buf + (in.body - in.buf);

	if (body[16] != r->tier)
		fail_msg("%s: tier %u, want %u", r->name, body[16], r->tier);
	/* every rewrite zeroes the UDP checksum ("none" over IPv4) */
	assert_int_equal(udp->check, 0);
	if (r->forwarded)
		want_daddr = r->to ? r->to : BACKEND(fnv_slot(r->key) % N_BACKENDS);
	if (ntohl(ip->daddr) != want_daddr)
		fail_msg("%s: daddr %08x, want %08x", r->name, ntohl(ip->daddr), want_daddr);
	if (fixture_ip_csum(ip))
		fail_msg("%s: IPv4 header checksum is wrong", r->name);
	/* nothing else in the IP header moved */
	assert_int_equal(ip->saddr, in.ip->saddr);
	assert_int_equal(ip->tot_len, in.ip->tot_len);
	if (r->macs == MACS_FROM_FIB) {
		uint8_t mac[ETH_ALEN];

		mac_backend(want_daddr - BACKEND(0), mac);
		assert_memory_equal(eth->h_dest, mac, ETH_ALEN);
		assert_memory_equal(eth->h_source, mac_v0, ETH_ALEN);
	} else {
		assert_memory_equal(eth->h_dest, in.eth->h_dest, ETH_ALEN);
		assert_memory_equal(eth->h_source, in.eth->h_source, ETH_ALEN);
	}
	/* the FlatRPC header (and a fragment's extension) is as sent */
	assert_memory_equal(udp + 1, in.udp + 1, in.body - (uint8_t *)(in.udp + 1));
	/* the rest of the body (the key) is as sent */
	assert_memory_equal(body + 17, in.body + 17, in.len - (in.body - in.buf) - 17);
}

static void test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (rows[i].before)
			rows[i].before();
		run_row(&rows[i]);
	}
}

/* The three keys above must not all pick one backend, or the rows would
 * not show that the choice follows the key. */
static void test_keys_spread(void **state)
{
	uint64_t a = fnv_slot("colour") % N_BACKENDS, b = fnv_slot("shape") % N_BACKENDS;
	uint64_t c = fnv_slot("size-of-the-thing") % N_BACKENDS;
	(void)state;

	assert_false(a == b && b == c);
}

/* ---- setup --------------------------------------------------------------- */

static int sh(const char *cmd)
{
	int rc = system(cmd);

	if (rc)
		fprintf(stderr, "failed (%d): %s\n", rc, cmd);
	return rc;
}

static int setup(void **state)
{
	char cmd[256];
	(void)state;

	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	/* bpf_fib_lookup answers only for interfaces that forward */
	if (sh("echo 1 > /proc/sys/net/ipv4/ip_forward") ||
	    sh("ip link add v0 address 02:00:00:00:10:01 type veth peer name v1") ||
	    sh("ip addr add 10.0.1.1/24 dev v0") || sh("ip addr add 10.0.2.2/24 dev v1") ||
	    sh("ip link set v0 up") || sh("ip link set v1 up"))
		return -1;
	for (int i = 0; i < N_BACKENDS; i++) {
		snprintf(cmd, sizeof(cmd), "ip neigh add 10.0.1.%d lladdr 02:00:00:00:01:%02x "
			 "dev v0 nud permanent", 11 + i, 0x0b + i);
		if (sh(cmd))
			return -1;
	}
	ifindex_v0 = if_nametoindex("v0");
	ifindex_v1 = if_nametoindex("v1");
	skel = fixture_load(BALANCED_PORT);
	return skel && ifindex_v0 && ifindex_v1 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	flatrpc_bpf__destroy(skel);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_spread),
		cmocka_unit_test(test_rows),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

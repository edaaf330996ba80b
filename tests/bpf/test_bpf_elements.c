// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_bpf_elements.c - the element library (specs/elements/) in the kernel,
 * through the ratelimited object: get runs acl -> rate-limiter -> metrics,
 * put runs admission-control -> fault-injection -> metrics.
 *
 * Each row is one request or response, an optional state change before it
 * (standing in for time passing or an operator writing a pinned scalar), and
 * what must come out: the chain passes it on (it then reaches the missing
 * AF_XDP socket and is counted as no_socket) or answers with one ANF error.
 * Every row also checks both methods' metrics counters, so a count landing
 * on the wrong method fails. Rows build on each other, in table order.
 * BPF_PROG_TEST_RUN reads the real clock, so "later" is made by moving the
 * elements' time stamps back, never by sleeping. Needs root.
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
#include <unistd.h>
#include <endian.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flatrpc_abi.h"
#include "ratelimited.abi.h"
#include "flatrpc.skel.h"
#include "desc.h"
#include "init.h"
#include "fixture.h"

#define PORT		7448
#define CLIENT_PORT	40001
#define IP_CLIENT	0x0a000001
#define IP_SERVER	0x0a000002
#define SEC_NS		1000000000ULL

static struct flatrpc_bpf *skel;

static const uint8_t mac_client[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x11 };
static const uint8_t mac_server[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x22 };

/* ---- frames ------------------------------------------------------------- */

static size_t put_var(uint8_t *p, const char *s)
{
	uint16_t n = strlen(s);

	p[0] = n & 0xff;
	p[1] = n >> 8;
	memcpy(p + 2, s, n);
	return 2 + n;
}

/* get: username in the fixed part (acl reads it), then the key */
static size_t body_get(uint8_t *p, const char *user)
{
	struct ratelimited_get_req_fixed f;

	memset(&f, 0, sizeof(f));
	memcpy(f.username, user, strnlen(user, sizeof(f.username)));
	memcpy(p, &f, sizeof(f));
	return sizeof(f) + put_var(p + sizeof(f), "colour");
}

/* put: no element reads a field, so all three are variable */
static size_t body_put(uint8_t *p)
{
	size_t n = put_var(p, "Kevin");

	n += put_var(p + n, "colour");
	return n + put_var(p + n, "blue");
}

enum msg { GET_KEVIN, GET_PETER, GET_MALLORY, GET_ALICE, PUT, GET_RESP };

static size_t build(enum msg m, uint8_t *buf)
{
	struct ethhdr *eth = (struct ethhdr *)buf;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	struct flatrpc_hdr *h = (struct flatrpc_hdr *)(udp + 1);
	uint8_t *body = (uint8_t *)(h + 1);
	bool resp = m == GET_RESP;
	size_t n = 0;

	memset(buf, 0, 1024);
	switch (m) {
	case GET_KEVIN: n = body_get(body, "Kevin"); break;
	case GET_PETER: n = body_get(body, "Peter"); break;
	case GET_MALLORY: n = body_get(body, "Mallory"); break;
	case GET_ALICE: n = body_get(body, "Alice"); break;
	case PUT: n = body_put(body); break;
	case GET_RESP: n = put_var(body, "blue"); break;
	}
	memcpy(eth->h_dest, resp ? mac_client : mac_server, ETH_ALEN);
	memcpy(eth->h_source, resp ? mac_server : mac_client, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	h->magic = FLATRPC_MAGIC;
	h->flags = resp ? FLATRPC_RESP : FLATRPC_REQ;
	h->method = m == PUT ? RATELIMITED_PUT : RATELIMITED_GET;
	h->rpc_id = htonl(0x5eed0000 + m);
	h->len = htons(n);
	udp->source = htons(resp ? PORT : CLIENT_PORT);
	udp->dest = htons(resp ? CLIENT_PORT : PORT);
	udp->len = htons(sizeof(*udp) + sizeof(*h) + n);
	fixture_ipv4(ip, resp ? IP_SERVER : IP_CLIENT, resp ? IP_CLIENT : IP_SERVER, 0x1234,
		     ntohs(udp->len));
	return sizeof(*eth) + ntohs(ip->tot_len);
}

/* ---- state ------------------------------------------------------------- */

static uint64_t scalar(struct bpf_map *map)
{
	uint32_t zero = 0;
	uint64_t v = 0;

	assert_int_equal(bpf_map__lookup_elem(map, &zero, sizeof(zero), &v, sizeof(v), 0), 0);
	return v;
}

static void set_scalar(struct bpf_map *map, uint64_t v)
{
	uint32_t zero = 0;

	assert_int_equal(bpf_map__update_elem(map, &zero, sizeof(zero), &v, sizeof(v), 0), 0);
}

static void set_default_allow(uint8_t v)
{
	uint32_t zero = 0;

	assert_int_equal(bpf_map__update_elem(skel->maps.fr_acl_default_allow, &zero,
					      sizeof(zero), &v, sizeof(v), 0), 0);
}

/* metrics' entry for a method */
static uint64_t metric(struct bpf_map *map, uint32_t method)
{
	return fixture_count(map, &method, sizeof(method));
}

static uint64_t no_socket_drops(void)
{
	return fixture_drops(skel, FLATRPC_DROP_NO_SOCKET);
}

/* ---- what happens between rows ----------------------------------------- */

static void allow_unlisted(void) { set_default_allow(1); }
static void deny_unlisted(void) { set_default_allow(0); }

/* 1 request/s in bursts of 3: no credit can accrue between rows, which are
 * microseconds apart. last = 0 makes the bucket start full. */
static void bucket_full(void)
{
	set_scalar(skel->maps.fr_rate_limiter_cost, SEC_NS);
	set_scalar(skel->maps.fr_rate_limiter_burst, 3 * SEC_NS);
	set_scalar(skel->maps.fr_rate_limiter_tokens, 0);
	set_scalar(skel->maps.fr_rate_limiter_last, 0);
}

/* one refill interval passes */
static void bucket_one_second_later(void)
{
	set_scalar(skel->maps.fr_rate_limiter_last,
		   scalar(skel->maps.fr_rate_limiter_last) - SEC_NS);
}

/* 2 requests per 2 s window; start = 0 opens a window on the next request
 * (the host has been up for more than 2 s) */
static void window_fresh(void)
{
	set_scalar(skel->maps.fr_admission_control_window, 2 * SEC_NS);
	set_scalar(skel->maps.fr_admission_control_limit, 2);
	set_scalar(skel->maps.fr_admission_control_start, 0);
	set_scalar(skel->maps.fr_admission_control_admitted, 0);
}

static void window_ran_out(void)
{
	set_scalar(skel->maps.fr_admission_control_start,
		   scalar(skel->maps.fr_admission_control_start) - 2 * SEC_NS);
}

/* The quota's table of users holds USERS_MAX (fixture_small_map): the rows
 * fill it with Kevin and Mallory, and Alice finds it full. The rate limiter
 * is opened wide so that only the quota decides. */
#define USERS_MAX	2

static void quota_fresh(void)
{
	char user[16] = { 0 };

	set_scalar(skel->maps.fr_user_quota_quota, 2);
	strcpy(user, "Kevin");
	bpf_map__delete_elem(skel->maps.fr_user_quota_used, user, sizeof(user), 0);
	strcpy(user, "Mallory");
	bpf_map__delete_elem(skel->maps.fr_user_quota_used, user, sizeof(user), 0);
	set_scalar(skel->maps.fr_rate_limiter_cost, 1);
	set_scalar(skel->maps.fr_rate_limiter_burst, 1000);
	set_scalar(skel->maps.fr_rate_limiter_last, 0);
	set_default_allow(1);
}

/* what state_limits says of the quota's table (its slot, from init.h) */
static struct flatrpc_state_limits quota_limits(void)
{
	return fixture_state_limits(skel, "fr_user_quota_used");
}

static void faults_always(void) { set_scalar(skel->maps.fr_fault_injection_rate, 1ULL << 32); }
static void faults_never(void) { set_scalar(skel->maps.fr_fault_injection_rate, 0); }

/* ---- rows -------------------------------------------------------------- */

struct row;
typedef void (*check_fn)(const struct row *r, const uint8_t *in, size_t in_len,
			 const uint8_t *out, size_t out_len);

struct row {
	const char	*name;
	void		(*prep)(void);
	enum msg	msg;
	uint8_t		err;		/* 0: the chain passes it on */
	uint64_t	get_req, put_req, get_resp;	/* metrics increments */
	check_fn	check;
};

/* The reply, written out from what docs/architecture.md promises rather
 * than from the kernel code: the request's own frame with the addresses
 * and ports swapped, kind ERR with the code as status, no body, lengths
 * and IP checksum for 40 bytes, UDP checksum 0. */
static void check_exact_reply(const struct row *r, const uint8_t *in, size_t in_len,
			      const uint8_t *out, size_t out_len)
{
	uint8_t want[14 + 20 + 8 + 12];
	struct ethhdr *eth = (struct ethhdr *)want;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	struct flatrpc_hdr *h = (struct flatrpc_hdr *)(udp + 1);

	memcpy(eth->h_dest, mac_client, ETH_ALEN);
	memcpy(eth->h_source, mac_server, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	fixture_ipv4(ip, IP_SERVER, IP_CLIENT, 0x1234, 20);
	udp->source = htons(PORT);
	udp->dest = htons(CLIENT_PORT);
	udp->len = htons(20);
	udp->check = 0;
	h->magic = FLATRPC_MAGIC;
	h->flags = FLATRPC_ERR;
	h->method = RATELIMITED_GET;
	h->status = RATELIMITED_ERR_ACL;
	h->rpc_id = htonl(0x5eed0000 + GET_PETER);
	h->seq = 0;
	h->len = 0;

	assert_int_equal(out_len, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

static const struct row rows[] = {
	/* acl, with init()'s list: Kevin yes, Peter no, others per default_allow */
	{ "acl: listed and allowed", NULL, GET_KEVIN, .err = 0, .get_req = 1 },
	{ "acl: listed and denied, exact reply", NULL, GET_PETER, .err = RATELIMITED_ERR_ACL,
	  .check = check_exact_reply },
	{ "acl: unlisted, denied by default", NULL, GET_MALLORY, .err = RATELIMITED_ERR_ACL },
	{ "acl: unlisted, default_allow set", allow_unlisted, GET_MALLORY, .err = 0, .get_req = 1 },
	{ "acl: unlisted, default_allow cleared", deny_unlisted, GET_MALLORY,
	  .err = RATELIMITED_ERR_ACL },
	{ "acl: listed deny wins over default_allow", allow_unlisted, GET_PETER,
	  .err = RATELIMITED_ERR_ACL },

	/* rate-limiter: the burst of 3, then nothing until time passes */
	{ "rate-limiter: burst 1/3", bucket_full, GET_KEVIN, .err = 0, .get_req = 1 },
	{ "rate-limiter: burst 2/3", NULL, GET_KEVIN, .err = 0, .get_req = 1 },
	{ "rate-limiter: burst 3/3", NULL, GET_KEVIN, .err = 0, .get_req = 1 },
	{ "rate-limiter: bucket empty", NULL, GET_KEVIN, .err = RATELIMITED_ERR_RATE_LIMITED },
	{ "rate-limiter: still empty", NULL, GET_KEVIN, .err = RATELIMITED_ERR_RATE_LIMITED },
	{ "rate-limiter: one token after 1 s", bucket_one_second_later, GET_KEVIN, .err = 0,
	  .get_req = 1 },
	{ "rate-limiter: and only one", NULL, GET_KEVIN, .err = RATELIMITED_ERR_RATE_LIMITED },
	{ "acl denies before the limiter", NULL, GET_PETER, .err = RATELIMITED_ERR_ACL },

	/* user-quota: 2 requests per user; a table of USERS_MAX users, which
	 * refuses a new one when full */
	{ "user-quota: Kevin 1/2", quota_fresh, GET_KEVIN, .err = 0, .get_req = 1 },
	{ "user-quota: Kevin 2/2", NULL, GET_KEVIN, .err = 0, .get_req = 1 },
	{ "user-quota: Kevin over quota", NULL, GET_KEVIN, .err = RATELIMITED_ERR_OVER_QUOTA },
	{ "user-quota: Mallory 1/2 fills the table", NULL, GET_MALLORY, .err = 0, .get_req = 1 },
	{ "user-quota: Alice refused, table full", NULL, GET_ALICE,
	  .err = FLATRPC_ST_STATE_FULL },
	{ "user-quota: Mallory 2/2, still tracked", NULL, GET_MALLORY, .err = 0, .get_req = 1 },

	/* put: admission-control (2 per window) then fault-injection */
	{ "admission: 1/2, faults at rate 0", window_fresh, PUT, .err = 0, .put_req = 1 },
	{ "fault-injection: rate 100%", faults_always, PUT, .err = RATELIMITED_ERR_FAULT },
	{ "admission: window full", faults_never, PUT, .err = RATELIMITED_ERR_OVERLOADED },
	{ "admission: full window also stops faults", faults_always, PUT,
	  .err = RATELIMITED_ERR_OVERLOADED },
	{ "admission: next window admits", window_ran_out, PUT, .err = RATELIMITED_ERR_FAULT },
	{ "fault-injection: back to rate 0", faults_never, PUT, .err = 0, .put_req = 1 },
	{ "admission: second window full", NULL, PUT, .err = RATELIMITED_ERR_OVERLOADED },

	/* metrics.resp() at the client */
	{ "metrics: get response counted", NULL, GET_RESP, .err = 0, .get_resp = 1 },
};

static void run_row(void **state)
{
	const struct row *r = *state;
	uint8_t in[1024], out[1024];
	uint64_t get_req, put_req, get_resp, put_resp, drops;
	size_t in_len;
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	if (r->prep)
		r->prep();
	in_len = build(r->msg, in);
	get_req = metric(skel->maps.fr_metrics_requests, RATELIMITED_GET);
	put_req = metric(skel->maps.fr_metrics_requests, RATELIMITED_PUT);
	get_resp = metric(skel->maps.fr_metrics_responses, RATELIMITED_GET);
	put_resp = metric(skel->maps.fr_metrics_responses, RATELIMITED_PUT);
	drops = no_socket_drops();

	memset(out, 0, sizeof(out));
	opts.data_in = in;
	opts.data_size_in = in_len;
	opts.data_out = out;
	opts.data_size_out = sizeof(out);
	opts.repeat = 1;
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.flatrpc_xdp),
						&opts), 0);

	if (r->err) {
		const struct flatrpc_hdr *h = (const void *)(out + 14 + 20 + 8);

		assert_int_equal(opts.retval, XDP_TX);
		assert_true(opts.data_size_out >= 14 + 20 + 8 + sizeof(*h));
		assert_int_equal(h->flags, FLATRPC_ERR);
		assert_int_equal(h->status, r->err);
		assert_int_equal(no_socket_drops(), drops);
	} else {
		/* passed by every element: untouched, on to the (absent) socket */
		assert_int_equal(opts.retval, XDP_DROP);
		assert_int_equal(no_socket_drops(), drops + 1);
		assert_int_equal(opts.data_size_out, in_len);
		assert_memory_equal(out, in, in_len);
	}
	assert_int_equal(metric(skel->maps.fr_metrics_requests, RATELIMITED_GET),
			 get_req + r->get_req);
	assert_int_equal(metric(skel->maps.fr_metrics_requests, RATELIMITED_PUT),
			 put_req + r->put_req);
	assert_int_equal(metric(skel->maps.fr_metrics_responses, RATELIMITED_GET),
			 get_resp + r->get_resp);
	assert_int_equal(metric(skel->maps.fr_metrics_responses, RATELIMITED_PUT), put_resp);
	if (r->check)
		r->check(r, in, in_len, out, opts.data_size_out);
}

/* What the elements' init() says, as the loader would seed it. Runs first,
 * before any row rewrites the state. */
static void init_seeded(void **state)
{
	char user[16] = "Kevin";
	uint8_t allowed = 0;

	assert_int_equal(scalar(skel->maps.fr_rate_limiter_cost), 1000000);
	assert_int_equal(scalar(skel->maps.fr_rate_limiter_burst), 5000000);
	assert_int_equal(scalar(skel->maps.fr_admission_control_window), 1000000);
	assert_int_equal(scalar(skel->maps.fr_admission_control_limit), 100);
	assert_int_equal(scalar(skel->maps.fr_fault_injection_rate), 0);
	assert_int_equal(bpf_map__lookup_elem(skel->maps.fr_acl_acl, user, sizeof(user),
					      &allowed, sizeof(allowed), 0), 0);
	assert_int_equal(allowed, 1);
}

/* After the rows: the table took Kevin and Mallory (twice each, as rows
 * delete them first), refused Alice once, and never evicted (refuse). */
static void quota_counted(void **state)
{
	struct flatrpc_state_limits v = quota_limits();
	(void)state;

	assert_int_equal(v.max, USERS_MAX);
	assert_int_equal(v.refused, 1);
	assert_int_equal(v.evicted, 0);
	assert_true(v.inserted >= 2);
}

static int setup(void **state)
{
	fixture_small_map = "fr_user_quota_used";
	fixture_small_size = USERS_MAX;
	if (fixture_netns((const char *const[]){ "10.0.0.1/32", "10.0.0.2/32", NULL }))
		return -1;
	skel = fixture_load(PORT);
	return skel ? 0 : -1;
}

static int teardown(void **state)
{
	flatrpc_bpf__destroy(skel);
	return 0;
}

int main(void)
{
	struct CMUnitTest tests[2 + sizeof(rows) / sizeof(rows[0])];
	size_t i;

	if (geteuid() != 0) {
		fprintf(stderr, "test_bpf_elements: needs root, skipping\n");
		return 77;
	}
	tests[0] = (struct CMUnitTest)cmocka_unit_test(init_seeded);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tests[i + 1] = (struct CMUnitTest)cmocka_unit_test_prestate(run_row,
									   (void *)&rows[i]);
		tests[i + 1].name = rows[i].name;
	}
	tests[i + 1] = (struct CMUnitTest)cmocka_unit_test(quota_counted);
	return cmocka_run_group_tests_name("bpf_elements", tests, setup, teardown);
}

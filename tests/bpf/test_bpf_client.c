// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_bpf_client.c - flatrpc_client, the program that runs client: elements
 * on the sending host, and flatrpc_xdp of the same object, through
 * specs/tracked.anf: get (client: session-tracker, server: firewall),
 * get_remote (server: firewall -> session-tracker), put (client: firewall ->
 * session-tracker).
 *
 * Each call row is one request on its way from client to server: encoded by
 * the generated stub in the client layout, run through flatrpc_client on
 * the frame the library builds for it (headers and the client fixed part,
 * nothing more), its fixed part put back in front of the rest of the body,
 * and the wire message that makes run through flatrpc_xdp, as the server's
 * XDP would. A row checks the exact bytes out of both programs, every
 * method's counters and the session-tracker's map. A second table feeds
 * flatrpc_client frames the library never builds. Rows build on each
 * other, in table order. Needs root.
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
#include <time.h>
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
#include "tracked.abi.h"
#include "tracked_stubs.h"
#include "flatrpc.skel.h"
#include "desc.h"
#include "init.h"
#include "fixture.h"
#include "auth.h"
#include "client_anfs.h"

#define CLIENT_PORT	40001
#define IP_CLIENT	0x0a000001
#define IP_SERVER	0x0a000002
#define HDRS		(sizeof(struct ethhdr) + sizeof(struct iphdr) + \
			 sizeof(struct udphdr) + sizeof(struct flatrpc_hdr))
#define FRAME_MAX	1024
#define KEY		"colour"
#define VALUE		"blue"

static struct flatrpc_bpf *skel;
static int ncpus;

static const uint8_t mac_client[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x11 };
static const uint8_t mac_server[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x22 };

/* ---- frames ------------------------------------------------------------- */

enum shape { REQUEST, RESPONSE, FRAGMENT, OTHER_PORT };

/* A frame of `shape` around n body bytes; a fragment is the first of two,
 * its extension between the header and the body. Returns its length. */
static size_t frame(uint8_t *buf, enum shape shape, uint8_t method, const void *body,
		    size_t n)
{
	struct ethhdr *eth = (struct ethhdr *)buf;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	struct flatrpc_hdr *h = (struct flatrpc_hdr *)(udp + 1);
	uint16_t port = shape == OTHER_PORT ? TRACKED_PORT + 1 : TRACKED_PORT;
	bool resp = shape == RESPONSE;

	memset(buf, 0, FRAME_MAX);
	if (shape == FRAGMENT) {
		struct flatrpc_frag x = { .index = htons(0), .count = htons(2) };

		memcpy(h + 1, &x, sizeof(x));
		memcpy((uint8_t *)(h + 1) + sizeof(x), body, n);
		n += sizeof(x);
	} else {
		memcpy(h + 1, body, n);
	}
	memcpy(eth->h_dest, resp ? mac_client : mac_server, ETH_ALEN);
	memcpy(eth->h_source, resp ? mac_server : mac_client, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	h->magic = FLATRPC_MAGIC;
	h->flags = (resp ? FLATRPC_RESP : FLATRPC_REQ) | (shape == FRAGMENT ? FLATRPC_F_FRAG : 0);
	h->method = method;
	h->rpc_id = htonl(0xc1000000 + method);
	h->len = htons(n);
	udp->source = htons(resp ? port : CLIENT_PORT);
	udp->dest = htons(resp ? CLIENT_PORT : port);
	udp->len = htons(sizeof(*udp) + sizeof(*h) + n);
	/* as if summed: the programs must zero it when they change the body */
	udp->check = htons(0x1234);
	fixture_ipv4(ip, resp ? IP_SERVER : IP_CLIENT, resp ? IP_CLIENT : IP_SERVER, 0x4321,
		     ntohs(udp->len));
	return sizeof(*eth) + ntohs(ip->tot_len);
}

/* The request as the generated stub encodes it: the client layout. */
static size_t encode(uint8_t method, const char *user, uint64_t session, uint8_t *buf)
{
	int n = -1;

	switch (method) {
	case TRACKED_GET: {
		struct tracked_get_req q = { .session_id = session };

		strcpy(q.username, user);
		strcpy(q.key, KEY);
		n = tracked_get_req_encode(&q, buf, FRAME_MAX);
		break;
	}
	case TRACKED_GET_REMOTE: {
		struct tracked_get_remote_req q = { .session_id = session };

		strcpy(q.username, user);
		strcpy(q.key, KEY);
		n = tracked_get_remote_req_encode(&q, buf, FRAME_MAX);
		break;
	}
	case TRACKED_PUT: {
		struct tracked_put_req q = { .session_id = session, .value.len = strlen(VALUE) };

		strcpy(q.username, user);
		strcpy(q.key, KEY);
		memcpy(q.value.data, VALUE, strlen(VALUE));
		n = tracked_put_req_encode(&q, buf, FRAME_MAX);
		break;
	}
	}
	assert_true(n > 0);
	return n;
}

static size_t client_fixed(uint8_t method)
{
	const struct flatrpc_method_desc *md = &tracked_service.methods[method];

	return md->req_fixed + md->req_strip;
}

/* A request the client program let through: its frame cut by `strip`
 * bytes at the end of the body, every length shorter by as much, the IPv4
 * checksum re-summed, the UDP checksum left for the library (0). With
 * nothing cut, the frame as it came. */
static void want_cut(const uint8_t *in, size_t in_len, size_t strip, uint8_t *want)
{
	struct iphdr *ip = (struct iphdr *)(want + sizeof(struct ethhdr));
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	struct flatrpc_hdr *h = (struct flatrpc_hdr *)(udp + 1);

	memcpy(want, in, in_len - strip);
	if (!strip)
		return;
	ip->tot_len = htons(ntohs(ip->tot_len) - strip);
	ip->check = 0;
	ip->check = fixture_ip_csum(ip);
	udp->len = htons(ntohs(udp->len) - strip);
	udp->check = 0;
	h->len = htons(ntohs(h->len) - strip);
}

/* A denial, from docs/architecture.md: the request's headers with the
 * addresses and ports swapped, kind ERR with the element's code, no body,
 * lengths and IPv4 checksum for 40 bytes, UDP checksum 0. */
static void want_err(const uint8_t *in, uint8_t status, uint8_t *want)
{
	struct ethhdr *eth = (struct ethhdr *)want;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	struct flatrpc_hdr *h = (struct flatrpc_hdr *)(udp + 1);
	uint32_t addr;
	uint16_t port;
	uint8_t mac[ETH_ALEN];

	memcpy(want, in, HDRS);
	memcpy(mac, eth->h_dest, ETH_ALEN);
	memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	memcpy(eth->h_source, mac, ETH_ALEN);
	addr = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = addr;
	ip->tot_len = htons(40);
	ip->check = 0;
	ip->check = fixture_ip_csum(ip);
	port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	udp->len = htons(20);
	udp->check = 0;
	h->flags = FLATRPC_ERR;
	h->status = status;
	h->len = 0;
}

static void expect_err(const char *name, const char *side, int verdict, const uint8_t *in,
		       const uint8_t *out, size_t out_len)
{
	uint8_t want[HDRS];

	if (verdict != XDP_TX)
		fail_msg("%s: %s verdict %d, want XDP_TX", name, side, verdict);
	want_err(in, TRACKED_ERR_FIREWALL, want);
	assert_int_equal(out_len, HDRS);
	assert_memory_equal(out, want, HDRS);
}

/* ---- state ------------------------------------------------------------- */

static struct flatrpc_method_stats stats_of(uint32_t method)
{
	struct flatrpc_method_stats v[ncpus], sum = { 0 };

	assert_int_equal(bpf_map__lookup_elem(skel->maps.stats, &method, sizeof(method),
					      v, sizeof(v), 0), 0);
	for (int i = 0; i < ncpus; i++) {
		sum.client_pass += v[i].client_pass;
		sum.anf_err += v[i].anf_err;
	}
	return sum;
}

static uint64_t sessions_of(uint64_t id)
{
	return fixture_count(skel->maps.fr_session_tracker_sessions, &id, sizeof(id));
}

static int run(const struct bpf_program *prog, const uint8_t *in, size_t in_len,
	       uint8_t *out, size_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	memset(out, 0, FRAME_MAX);
	opts.data_in = in;
	opts.data_size_in = in_len;
	opts.data_out = out;
	opts.data_size_out = FRAME_MAX;
	opts.repeat = 1;
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(prog), &opts), 0);
	*out_len = opts.data_size_out;
	return opts.retval;
}

/* ---- the stubs' layout is the ABI's ------------------------------------- */

static void stub_layout(void **state)
{
	uint8_t enc[FRAME_MAX];
	uint64_t session;

	(void)state;
	encode(TRACKED_GET, "Kevin", 42, enc);
	assert_string_equal((char *)enc + TRACKED_GET_REQ_OFF_USERNAME, "Kevin");
	memcpy(&session, enc + TRACKED_GET_REQ_OFF_SESSION_ID, sizeof(session));
	assert_int_equal(le64toh(session), 42);
	/* stripped fields come last in the client's fixed part */
	assert_int_equal(TRACKED_GET_REQ_OFF_SESSION_ID, TRACKED_GET_REQ_FIXED);
	assert_int_equal(enc[TRACKED_GET_REQ_CLIENT_FIXED], strlen(KEY));

	encode(TRACKED_PUT, "Kevin", 42, enc);
	assert_string_equal((char *)enc + TRACKED_PUT_REQ_OFF_USERNAME, "Kevin");
	memcpy(&session, enc + TRACKED_PUT_REQ_OFF_SESSION_ID, sizeof(session));
	assert_int_equal(le64toh(session), 42);
	assert_int_equal(enc[TRACKED_PUT_REQ_CLIENT_FIXED], strlen(KEY));

	assert_int_equal(client_fixed(TRACKED_GET), TRACKED_GET_REQ_CLIENT_FIXED);
	assert_int_equal(tracked_service.methods[TRACKED_GET].req_strip, 8);
	assert_int_equal(client_fixed(TRACKED_PUT), TRACKED_PUT_REQ_CLIENT_FIXED);
	assert_int_equal(tracked_service.methods[TRACKED_PUT].req_strip, 24);
}

/* The library runs the client program for exactly the methods whose
 * descriptor says FLATRPC_M_CLIENT_ANF (user/lib/sock.c flatrpc_send). */
static void desc_flags(void **state)
{
	const struct flatrpc_method_desc *m = tracked_service.methods;

	(void)state;
	assert_true(m[TRACKED_GET].flags & FLATRPC_M_CLIENT_ANF);
	assert_true(m[TRACKED_PUT].flags & FLATRPC_M_CLIENT_ANF);
	assert_false(m[TRACKED_GET_REMOTE].flags & FLATRPC_M_CLIENT_ANF);
	assert_int_equal(m[TRACKED_GET_REMOTE].req_strip, 0);
	assert_int_equal(m[TRACKED_GET_REMOTE].req_fixed, TRACKED_GET_REMOTE_REQ_FIXED);
}

/* ---- calls, client to server ------------------------------------------- */

enum outcome {
	NOT_RUN,	/* client: no client: chain; server: never sent */
	PASSED,		/* client: XDP_PASS; server: on to the (absent) socket */
	DENIED,		/* XDP_TX with the firewall's error */
};

struct row {
	const char	*name;
	uint8_t		method;
	const char	*user;
	uint64_t	session;
	enum outcome	client, server;
	uint64_t	counted;	/* sessions[session] increments, both hosts */
};

static const struct row rows[] = {
	{ "get, Kevin, session 42: session_id stays home", TRACKED_GET, "Kevin", 42,
	  PASSED, PASSED, 1 },
	{ "put, Kevin, session 42: username and session_id stay home", TRACKED_PUT, "Kevin", 42,
	  PASSED, PASSED, 1 },
	{ "put, Peter, session 42: denied on the client, never sent", TRACKED_PUT, "Peter", 42,
	  DENIED, NOT_RUN, 0 },
	/* the tracker runs on the client before the server's firewall denies */
	{ "get, Peter, session 7: tracked, then denied by the server", TRACKED_GET, "Peter", 7,
	  PASSED, DENIED, 1 },
	{ "get_remote, Peter, session 43: the firewall first, at the server",
	  TRACKED_GET_REMOTE, "Peter", 43, NOT_RUN, DENIED, 0 },
	{ "get_remote, Kevin, session 43: tracked at the server", TRACKED_GET_REMOTE, "Kevin", 43,
	  NOT_RUN, PASSED, 1 },
};

/* What the server decodes is the request less the stripped fields. */
static void check_wire(const struct row *r, const uint8_t *wire, size_t len)
{
	switch (r->method) {
	case TRACKED_GET: {
		struct tracked_get_req q;

		assert_int_equal(len, TRACKED_GET_REQ_FIXED + 2 + strlen(KEY));
		assert_int_equal(tracked_get_req_decode(&q, wire, len), 0);
		assert_string_equal(q.username, r->user);
		assert_int_equal(q.session_id, 0);
		/* the key follows the username directly */
		assert_int_equal(wire[16], strlen(KEY));
		assert_memory_equal(wire + 18, KEY, strlen(KEY));
		break;
	}
	case TRACKED_GET_REMOTE: {
		struct tracked_get_remote_req q;

		assert_int_equal(tracked_get_remote_req_decode(&q, wire, len), 0);
		assert_string_equal(q.username, r->user);
		assert_int_equal(q.session_id, r->session);
		break;
	}
	case TRACKED_PUT: {
		struct tracked_put_req q;

		/* exactly key and value */
		assert_int_equal(len, 2 + strlen(KEY) + 2 + strlen(VALUE));
		assert_int_equal(tracked_put_req_decode(&q, wire, len), 0);
		assert_string_equal(q.username, "");
		assert_int_equal(q.session_id, 0);
		assert_string_equal(q.key, KEY);
		assert_memory_equal(q.value.data, VALUE, q.value.len);
		break;
	}
	}
}

/* flatrpc_client on the frame the library builds: the client fixed part.
 * Returns the wire body: what it left of the fixed part, then the rest. */
static size_t run_client(const struct row *r, const uint8_t *enc, size_t enc_len,
			 uint8_t *wire)
{
	const struct flatrpc_method_desc *md = &tracked_service.methods[r->method];
	uint8_t in[FRAME_MAX], out[FRAME_MAX], want[FRAME_MAX];
	size_t cfixed = client_fixed(r->method), in_len, out_len;
	const struct iphdr *ip = (const struct iphdr *)(out + sizeof(struct ethhdr));
	int verdict;

	in_len = frame(in, REQUEST, r->method, enc, cfixed);
	verdict = run(skel->progs.flatrpc_client, in, in_len, out, &out_len);
	if (r->client == DENIED) {
		expect_err(r->name, "client", verdict, in, out, out_len);
		return 0;
	}
	if (verdict != XDP_PASS)
		fail_msg("%s: client verdict %d, want XDP_PASS", r->name, verdict);
	assert_int_equal(out_len, in_len - md->req_strip);
	want_cut(in, in_len, md->req_strip, want);
	assert_memory_equal(out, want, out_len);
	/* spelled out, not only as want_cut() computes them */
	assert_int_equal(ntohs(ip->tot_len), 20 + 8 + 12 + md->req_fixed);
	assert_int_equal(fixture_ip_csum(ip), 0);
	assert_int_equal(ntohs(((const struct udphdr *)(ip + 1))->len), 8 + 12 + md->req_fixed);

	memcpy(wire, out + HDRS, md->req_fixed);
	memcpy(wire + md->req_fixed, enc + cfixed, enc_len - cfixed);
	return enc_len - md->req_strip;
}

static void run_server(const struct row *r, const uint8_t *wire, size_t len)
{
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	uint64_t no_socket = fixture_drops(skel, FLATRPC_DROP_NO_SOCKET);
	size_t in_len, out_len;
	int verdict;

	in_len = frame(in, REQUEST, r->method, wire, len);
	verdict = run(skel->progs.flatrpc_xdp, in, in_len, out, &out_len);
	if (r->server == DENIED) {
		expect_err(r->name, "server", verdict, in, out, out_len);
		assert_int_equal(fixture_drops(skel, FLATRPC_DROP_NO_SOCKET), no_socket);
		return;
	}
	/* passed by every element: untouched, on to the (absent) socket */
	if (verdict != XDP_DROP)
		fail_msg("%s: server verdict %d, want XDP_DROP (no socket)", r->name, verdict);
	assert_int_equal(fixture_drops(skel, FLATRPC_DROP_NO_SOCKET), no_socket + 1);
	assert_int_equal(out_len, in_len);
	assert_memory_equal(out, in, in_len);
}

/* ---- the library's run of the same chain ------------------------------- */

static const struct flatrpc_elem_slot spec_elems[] = FLATRPC_SPEC_ELEMENTS;

static uint64_t elem_verdict(unsigned int slot, unsigned int v)
{
	uint64_t vals[ncpus], sum = 0;
	uint32_t k = slot * FLATRPC_ELEM_VERDICTS + v;

	assert_int_equal(bpf_map__lookup_elem(skel->maps.elem_verdicts, &k, sizeof(k), vals,
					      sizeof(vals), 0), 0);
	for (int i = 0; i < ncpus; i++)
		sum += vals[i];
	return sum;
}

/* verdicts[e * 2]: the client program's count of element e's pass, [e * 2 + 1]
 * of its firewall error, for the client_req slots */
static void client_verdicts_of(uint64_t *verdicts)
{
	for (unsigned int e = 0; spec_elems[e].element; e++) {
		verdicts[e * 2] = elem_verdict(spec_elems[e].slot, 0);
		verdicts[e * 2 + 1] = elem_verdict(spec_elems[e].slot, TRACKED_ERR_FIREWALL);
	}
}

/*
 * The row again through the chain the stubs registered with the library
 * (flatrpc-gen's same instance code, compiled for user space): the same
 * verdict, the same fixed part left for the wire, and each element's
 * verdict counted in the same slot as the client program counted it
 * (bpf_delta, per client_verdicts_of()).
 */
static void run_library(const struct row *r, const uint8_t *enc, const uint8_t *wire,
			const uint64_t *bpf_delta)
{
	const struct flatrpc_client_anfs *c = flatrpc_client_anfs_find(&tracked_service);
	const struct flatrpc_method_desc *md = &tracked_service.methods[r->method];
	static uint64_t cv[FLATRPC_CV_ENTRIES(FLATRPC_SPEC_ELEM_SLOTS)];
	uint8_t fixed[FRAME_MAX];
	int rc;

	assert_non_null(c);
	assert_int_equal(c->n_slots, FLATRPC_SPEC_ELEM_SLOTS);
	memset(cv, 0, sizeof(cv));
	memcpy(fixed, enc, client_fixed(r->method));
	rc = c->run(cv, r->method, fixed, client_fixed(r->method));
	if (r->client == DENIED) {
		assert_int_equal(rc, TRACKED_ERR_FIREWALL);
	} else {
		assert_int_equal(rc, 0);
		assert_memory_equal(fixed, wire, md->req_fixed);
	}
	for (unsigned int e = 0; spec_elems[e].element; e++) {
		unsigned int slot = spec_elems[e].slot;

		if (strcmp(spec_elems[e].hook, "client_req"))
			continue;
		if (cv[FLATRPC_CV_ELEM(slot, 0)] != bpf_delta[e * 2] ||
		    cv[FLATRPC_CV_ELEM(slot, TRACKED_ERR_FIREWALL)] != bpf_delta[e * 2 + 1])
			fail_msg("%s: library verdicts of slot %u: %lu pass %lu denied, "
				 "client program %lu %lu", r->name, slot,
				 (unsigned long)cv[FLATRPC_CV_ELEM(slot, 0)],
				 (unsigned long)cv[FLATRPC_CV_ELEM(slot, TRACKED_ERR_FIREWALL)],
				 (unsigned long)bpf_delta[e * 2], (unsigned long)bpf_delta[e * 2 + 1]);
	}
}

static void run_row(void **state)
{
	const struct row *r = *state;
	struct flatrpc_method_stats before[TRACKED__NMETHODS], after;
	uint64_t not_client = fixture_drops(skel, FLATRPC_DROP_NOT_CLIENT_REQ);
	uint64_t counted = sessions_of(r->session);
	uint8_t enc[FRAME_MAX], wire[FRAME_MAX];
	size_t enc_len, len;

	for (uint32_t m = 0; m < TRACKED__NMETHODS; m++)
		before[m] = stats_of(m);
	enc_len = encode(r->method, r->user, r->session, enc);
	assert_int_equal(!!(tracked_service.methods[r->method].flags & FLATRPC_M_CLIENT_ANF),
			 r->client != NOT_RUN);
	if (r->client != NOT_RUN) {
		uint64_t v0[2 * FLATRPC_SPEC_ELEM_SLOTS], v1[2 * FLATRPC_SPEC_ELEM_SLOTS];

		client_verdicts_of(v0);
		len = run_client(r, enc, enc_len, wire);
		client_verdicts_of(v1);
		for (unsigned int i = 0; i < 2 * FLATRPC_SPEC_ELEM_SLOTS; i++)
			v1[i] -= v0[i];
		run_library(r, enc, wire, v1);
	} else {
		memcpy(wire, enc, enc_len);
		len = enc_len;
	}
	if (r->server != NOT_RUN) {
		check_wire(r, wire, len);
		run_server(r, wire, len);
	}

	for (uint32_t m = 0; m < TRACKED__NMETHODS; m++) {
		bool mine = m == r->method;

		after = stats_of(m);
		if (after.client_pass != before[m].client_pass + (mine && r->client == PASSED))
			fail_msg("%s: client_pass of method %u", r->name, m);
		if (after.anf_err != before[m].anf_err + (mine && r->client == DENIED) +
					 (mine && r->server == DENIED))
			fail_msg("%s: anf_err of method %u", r->name, m);
	}
	assert_int_equal(fixture_drops(skel, FLATRPC_DROP_NOT_CLIENT_REQ), not_client);
	if (sessions_of(r->session) != counted + r->counted)
		fail_msg("%s: session %lu counted %lu times, want %lu", r->name,
			 (unsigned long)r->session, (unsigned long)(sessions_of(r->session) - counted),
			 (unsigned long)r->counted);
}

/*
 * What one request's client: chain costs each way, printed for
 * docs/placement.md (no bound is checked: the machine is shared): the
 * client program through BPF_PROG_TEST_RUN on the frame the library
 * builds, against the library's run on a copy of the fixed part. get runs
 * one element (the tracker), put two (firewall, tracker).
 */
static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void client_cost(void **state)
{
	const struct flatrpc_client_anfs *c = flatrpc_client_anfs_find(&tracked_service);
	static const uint8_t methods[] = { TRACKED_GET, TRACKED_PUT };
	uint8_t enc[FRAME_MAX], in[FRAME_MAX], out[FRAME_MAX], fixed[FRAME_MAX];
	static uint64_t cv[FLATRPC_CV_ENTRIES(FLATRPC_SPEC_ELEM_SLOTS)];
	enum { N_PROG = 20000, N_LIB = 200000 };

	(void)state;
	assert_non_null(c);
	for (size_t i = 0; i < sizeof(methods); i++) {
		size_t cf = client_fixed(methods[i]), in_len, out_len;
		double t0, prog_ns, lib_ns;

		encode(methods[i], "Kevin", 1000 + i, enc);
		in_len = frame(in, REQUEST, methods[i], enc, cf);
		t0 = now_ns();
		for (int n = 0; n < N_PROG; n++)
			assert_int_equal(run(skel->progs.flatrpc_client, in, in_len, out, &out_len),
					 XDP_PASS);
		prog_ns = (now_ns() - t0) / N_PROG;
		t0 = now_ns();
		for (int n = 0; n < N_LIB; n++) {
			memcpy(fixed, enc, cf);
			assert_int_equal(c->run(cv, methods[i], fixed, cf), 0);
		}
		lib_ns = (now_ns() - t0) / N_LIB;
		print_message("client: chain of %s: BPF_PROG_TEST_RUN %.0f ns, library %.1f ns per request\n",
			      tracked_service.methods[methods[i]].name, prog_ns, lib_ns);
	}
}

/* ---- frames the library never gives the client program ----------------- */

struct bad {
	const char	*name;
	enum shape	shape;
	int		extra;	/* bytes beyond (or short of) the client fixed part */
};

static const struct bad bads[] = {
	{ "not for the client program: a response", RESPONSE, 0 },
	{ "not for the client program: one byte more than the client fixed part", REQUEST, 1 },
	{ "not for the client program: one byte short of it", REQUEST, -1 },
	{ "not for the client program: a fragment", FRAGMENT, 0 },
	{ "not for the client program: another port", OTHER_PORT, 0 },
};

static void run_bad(void **state)
{
	const struct bad *b = *state;
	uint8_t enc[FRAME_MAX], in[FRAME_MAX], out[FRAME_MAX];
	uint64_t drops = fixture_drops(skel, FLATRPC_DROP_NOT_CLIENT_REQ), counted = sessions_of(42);
	struct flatrpc_method_stats before = stats_of(TRACKED_GET), after;
	size_t in_len, out_len;

	encode(TRACKED_GET, "Kevin", 42, enc);
	in_len = frame(in, b->shape, TRACKED_GET, enc, client_fixed(TRACKED_GET) + b->extra);
	assert_int_equal(run(skel->progs.flatrpc_client, in, in_len, out, &out_len), XDP_DROP);
	assert_int_equal(fixture_drops(skel, FLATRPC_DROP_NOT_CLIENT_REQ), drops + 1);
	/* no element ran and nothing counts as let through */
	assert_int_equal(sessions_of(42), counted);
	after = stats_of(TRACKED_GET);
	assert_int_equal(after.client_pass, before.client_pass);
	assert_int_equal(after.anf_err, before.anf_err);
}

/* get_remote has no client: chain, so the library never runs the program
 * for it. Run anyway, the program passes the frame untouched (UDP checksum
 * included), counts client_pass, and runs none of the method's server:
 * elements: the session is not counted. */
static void get_remote_on_client(void **state)
{
	uint8_t enc[FRAME_MAX], in[FRAME_MAX], out[FRAME_MAX];
	struct flatrpc_method_stats before = stats_of(TRACKED_GET_REMOTE), after;
	uint64_t counted = sessions_of(42);
	size_t in_len, out_len;

	(void)state;
	encode(TRACKED_GET_REMOTE, "Peter", 42, enc);
	in_len = frame(in, REQUEST, TRACKED_GET_REMOTE, enc, client_fixed(TRACKED_GET_REMOTE));
	assert_int_equal(run(skel->progs.flatrpc_client, in, in_len, out, &out_len), XDP_PASS);
	assert_int_equal(out_len, in_len);
	assert_memory_equal(out, in, in_len);
	after = stats_of(TRACKED_GET_REMOTE);
	assert_int_equal(after.client_pass, before.client_pass + 1);
	assert_int_equal(after.anf_err, before.anf_err);
	assert_int_equal(sessions_of(42), counted);
}

/* After every row: Kevin's get and put counted session 42 on the client,
 * Peter's denied put did not, and no other frame did. */
static void sessions_counted(void **state)
{
	(void)state;
	assert_int_equal(sessions_of(42), 2);
	assert_int_equal(sessions_of(7), 1);
	assert_int_equal(sessions_of(43), 1);
}

/*
 * A HELLO of put, whose wire request has no fixed part, with a body shorter
 * than ACK EPOCH's 4 bytes: XDP grows the frame to answer it (the other
 * tables' methods all carry more). An object of its own, authenticating.
 */
static void hello_short_body_grows(void **state)
{
	static const __u64 key[2] = { 0x0123456789abcdefULL, 0xfedcba9876543210ULL };
	const __u32 epoch = 0x5eed0b07u;
	struct flatrpc_bpf *a = fixture_load_auth(TRACKED_PORT, 1);
	struct flatrpc_keys k = { .on = 1, .count = 1, .epochs = FLATRPC_EPOCHS(epoch, 0) };
	const size_t hdrs = sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr);
	static const uint8_t empty_key[2] = { 0, 0 };
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	__u32 zero = 0, n;
	(void)state;

	assert_non_null(a);
	memcpy(k.key[0], key, sizeof(key));
	assert_int_equal(bpf_map__update_elem(a->maps.auth_keys, &zero, sizeof(zero), &k,
					      sizeof(k), BPF_ANY), 0);
	for (n = 0; n <= sizeof(empty_key); n += sizeof(empty_key)) {
		size_t len = frame(in, REQUEST, TRACKED_PUT, empty_key, n);
		struct iphdr *ip = (struct iphdr *)(in + sizeof(struct ethhdr));
		struct udphdr *udp = (struct udphdr *)(ip + 1);
		struct flatrpc_hdr *h = (struct flatrpc_hdr *)(udp + 1);
		__be32 saddr[4];
		__u64 tag, want;
		struct flatrpc_epoch_body b;
		uint64_t hello = fixture_drops(a, FLATRPC_DROP_EPOCH_HELLO);
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = 0,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

		/* the tag follows the body; hint 0 and epoch 0: a HELLO */
		h->status = 0;
		udp->len = htons(ntohs(udp->len) + FLATRPC_TAG_LEN);
		udp->check = 0;
		fixture_ipv4(ip, IP_CLIENT, IP_SERVER, 0x4321, ntohs(udp->len));
		FLATRPC_ADDR_V4MAPPED(saddr, ip->saddr);
		tag = fr_tag_of(key, saddr, udp->source, udp->dest, 0, h, sizeof(*h) + n);
		memcpy((uint8_t *)(h + 1) + n, &tag, sizeof(tag));
		len += FLATRPC_TAG_LEN;

		opts.data_size_in = len;
		assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(a->progs.flatrpc_xdp),
							&opts), 0);
		assert_int_equal(opts.retval, XDP_TX);
		assert_int_equal(fixture_drops(a, FLATRPC_DROP_EPOCH_HELLO), hello + 1);

		/* the reply: ACK EPOCH, its 4-byte body the epoch, tagged, summed */
		ip = (struct iphdr *)(out + sizeof(struct ethhdr));
		udp = (struct udphdr *)(ip + 1);
		h = (struct flatrpc_hdr *)(udp + 1);
		assert_int_equal(opts.data_size_out, hdrs + sizeof(*h) + sizeof(b) + FLATRPC_TAG_LEN);
		assert_int_equal(ntohs(ip->tot_len), opts.data_size_out - sizeof(struct ethhdr));
		assert_int_equal(fixture_ip_csum(ip), 0);
		assert_int_equal(ntohs(udp->len), sizeof(*udp) + sizeof(*h) + sizeof(b) +
						  FLATRPC_TAG_LEN);
		assert_int_equal(h->flags & FLATRPC_KIND_MASK, FLATRPC_ACK);
		assert_int_equal(h->status, FLATRPC_ACK_EPOCH);
		assert_int_equal(ntohs(h->len), sizeof(b));
		assert_int_equal(ntohl(h->rpc_id), 0xc1000000 + TRACKED_PUT);
		memcpy(&b, h + 1, sizeof(b));
		assert_int_equal(ntohl(b.epoch), epoch);
		FLATRPC_ADDR_V4MAPPED(saddr, ip->saddr);
		want = fr_tag_of(key, saddr, udp->source, udp->dest, 0, h, sizeof(*h) + sizeof(b));
		memcpy(&tag, (uint8_t *)(h + 1) + sizeof(b), sizeof(tag));
		assert_true(tag == want);
	}
	flatrpc_bpf__destroy(a);
}

static int setup(void **state)
{
	(void)state;
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		return -1;
	skel = fixture_load(TRACKED_PORT);
	return skel ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	flatrpc_bpf__destroy(skel);
	return 0;
}

#define N_ROWS	(sizeof(rows) / sizeof(rows[0]))
#define N_BADS	(sizeof(bads) / sizeof(bads[0]))

int main(void)
{
	struct CMUnitTest tests[2 + N_ROWS + N_BADS + 4];
	size_t i, n = 0;

	if (geteuid() != 0) {
		fprintf(stderr, "test_bpf_client: needs root\n");
		return 1;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(stub_layout);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(desc_flags);
	for (i = 0; i < N_ROWS; i++, n++) {
		tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(run_row, (void *)&rows[i]);
		tests[n].name = rows[i].name;
	}
	for (i = 0; i < N_BADS; i++, n++) {
		tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(run_bad, (void *)&bads[i]);
		tests[n].name = bads[i].name;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(get_remote_on_client);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(sessions_counted);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(client_cost);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(hello_short_body_grows);
	return cmocka_run_group_tests_name("bpf_client", tests, setup, teardown);
}

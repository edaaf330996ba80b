/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* test_layout.c - wire layouts of kv, of tracked (client: chains and what
 * they strip) and of specs made to test ordering and the stripping rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "spec.h"
#include "spec_path.h"

static struct fr_spec *load_spec(const char *name)
{
	struct fr_diag d = { .out = stderr };
	int err;
	struct fr_spec *spec = fr_spec_load_file(spec_path(name), &d, &err);

	assert_int_equal(err, 0);
	assert_int_equal(d.n_errors, 0);
	return spec;
}

static struct fr_spec *load_kv(void)
{
	return load_spec("kv.anf");
}

static void expect_slot(const struct fr_layout *l, const char *name, int fixed,
			unsigned off, unsigned size, int read)
{
	const struct fr_slot *s = fr_layout_find(l, name);

	if (!s)
		fail_msg("no slot '%s'", name);
	assert_int_equal(s->fixed, fixed);
	assert_int_equal(s->off, off);
	assert_int_equal(s->size, size);
	assert_int_equal(s->anf_read, read);
}

static void test_kv_get(void **state)
{
	struct fr_spec *spec = load_kv();
	const struct fr_method *m = &spec->svc->methods[0];
	(void)state;

	/* session_id (u64, read by session-tracker) first: 8-aligned at 0;
	 * username (string<16>, read by the firewall) in a fixed slot */
	expect_slot(&m->lreq, "session_id", 1, 0, 8, 1);
	expect_slot(&m->lreq, "username", 1, 8, 16, 1);
	expect_slot(&m->lreq, "key", 0, 24, 64, 0);
	assert_string_equal(m->lreq.v[0].f->name, "session_id");
	assert_string_equal(m->lreq.v[0].readers, "session-tracker");
	assert_string_equal(m->lreq.v[1].readers, "firewall");
	assert_int_equal(m->lreq.fixed, 24);
	assert_int_equal(m->lreq.max, 24 + 2 + 64);

	expect_slot(&m->lresp, "value", 0, 0, 256, 0);
	assert_int_equal(m->lresp.fixed, 0);
	assert_int_equal(m->lresp.max, 2 + 256);
	fr_spec_free(spec);
}

/* kv get by hand: username string<16> and session_id u64 are metadata
 * (HTTP/2 headers), key string<64> is protobuf field 1. */
static void test_kv_get_cost(void **state)
{
	struct fr_spec *spec = load_kv();
	struct fr_cost c;
	(void)state;

	fr_request_cost(&spec->svc->methods[0], &c);
	/* tag 1 + length 1 + 64 bytes; typical: 32 bytes */
	assert_int_equal(c.pb[0], 66);
	assert_int_equal(c.pb[1], 34);
	/* frame header 9 + 6 indexed + username (1 + 1 + 8 + 1 + 16, typical
	 * 8 bytes: 19) + session_id (1 + 1 + 10 + 1 + 20 digits) */
	assert_int_equal(c.headers[0], 9 + 6 + 27 + 33);
	assert_int_equal(c.headers[1], 9 + 6 + 19 + 33);
	/* Eth+IP 34 + TCP 20 + HEADERS + DATA 9 + gRPC 5 + message */
	assert_int_equal(c.grpc[0], 209);
	assert_int_equal(c.grpc[1], 169);
	/* 54 + fixed 24 + key 2 + 64 (typical 32) */
	assert_int_equal(c.flatrpc[0], 144);
	assert_int_equal(c.flatrpc[1], 112);
	fr_spec_free(spec);
}

/* A tag past field 15 takes two bytes, a length past 127 two, an HPACK
 * length past 126 a continuation byte. */
static void test_cost_boundaries(void **state)
{
	struct fr_diag d = { .out = stderr };
	struct fr_spec *spec = fr_spec_load_string("t.anf",
		"service t:\n"
		"  metadata:\n"
		"    m: string<200>\n"
		"  method x:\n"
		"    request:\n"
		"      f1: u8\n      f2: u8\n      f3: u8\n      f4: u8\n      f5: u8\n"
		"      f6: u8\n      f7: u8\n      f8: u8\n      f9: u8\n      f10: u8\n"
		"      f11: u8\n      f12: u8\n      f13: u8\n      f14: u8\n      f15: bool\n"
		"      f16: u32\n"
		"      b: bytes<300>\n"
		"    response:\n"
		"      ok: bool\n", &d);
	struct fr_cost c;
	(void)state;

	assert_int_equal(d.n_errors, 0);
	fr_request_cost(&spec->svc->methods[0], &c);
	/* 14 u8 (1 + 2), bool (1 + 1), u32 tag 2 + 5, bytes: tag 2 + len 2 + 300
	 * (typical 150: length 2 + 150) */
	assert_int_equal(c.pb[0], 14 * 3 + 2 + 7 + 2 + 2 + 300);
	assert_int_equal(c.pb[1], 14 * 3 + 2 + 7 + 2 + 2 + 150);
	/* m: 0x00, name 1 + 1, value length 200 -> 127 + 73: 2 bytes; typical
	 * 100 fits the prefix */
	assert_int_equal(c.headers[0], 9 + 6 + 1 + 1 + 1 + 2 + 200);
	assert_int_equal(c.headers[1], 9 + 6 + 1 + 1 + 1 + 1 + 100);
	/* body: 200-byte string (unread: variable) + 15 u8/bool + u32 + bytes */
	assert_int_equal(c.flatrpc[0], 54 + 15 + 4 + 2 + 200 + 2 + 300);
	assert_int_equal(c.flatrpc[1], 54 + 15 + 4 + 2 + 100 + 2 + 150);
	fr_spec_free(spec);
}

static void test_kv_set(void **state)
{
	struct fr_spec *spec = load_kv();
	const struct fr_method *m = &spec->svc->methods[1];
	(void)state;

	expect_slot(&m->lreq, "session_id", 1, 0, 8, 1);
	expect_slot(&m->lreq, "username", 1, 8, 16, 1);
	/* variable fields in declaration order after the fixed part */
	expect_slot(&m->lreq, "key", 0, 24, 64, 0);
	expect_slot(&m->lreq, "value", 0, 26, 256, 0);
	assert_string_equal(m->lreq.v[2].f->name, "key");
	assert_string_equal(m->lreq.v[3].f->name, "value");
	assert_int_equal(m->lreq.fixed, 24);
	assert_int_equal(m->lreq.max, 24 + 2 + 64 + 2 + 256);

	/* an unread bool is still fixed-width */
	expect_slot(&m->lresp, "ok", 1, 0, 1, 0);
	assert_int_equal(m->lresp.fixed, 1);
	assert_int_equal(m->lresp.max, 1);
	fr_spec_free(spec);
}

static void expect_stripped(const struct fr_layout *l, const char *name, int stripped,
			    const char *readers)
{
	const struct fr_slot *s = fr_layout_find(l, name);

	if (!s)
		fail_msg("no slot '%s'", name);
	if (s->stripped != stripped)
		fail_msg("'%s' is %s, expected %s", name, s->stripped ? "stripped" : "on the wire",
			 stripped ? "stripped" : "on the wire");
	if (readers)
		assert_string_equal(s->readers, readers);
}

/* The stripped slots are the last of the fixed part, back to back, and
 * l->strip is their total: what the client program cuts. */
static void expect_strip_tail(const struct fr_layout *l)
{
	unsigned sum = 0, first = l->fixed;

	for (unsigned i = 0; i < l->n; i++) {
		const struct fr_slot *s = &l->v[i];
		if (!s->stripped)
			continue;
		assert_true(s->fixed);
		sum += s->size;
		if (s->off < first)
			first = s->off;
	}
	for (unsigned i = 0; i < l->n; i++)
		if (l->v[i].fixed && !l->v[i].stripped)
			assert_true(l->v[i].off + l->v[i].size <= first);
	assert_int_equal(l->strip, sum);
	assert_int_equal(first, l->fixed - l->strip);
}

/* specs/tracked.anf: the same request three ways. */
static void test_tracked_get_strips_session_id(void **state)
{
	struct fr_spec *spec = load_spec("tracked.anf");
	const struct fr_method *m = &spec->svc->methods[0];
	(void)state;

	assert_string_equal(m->name, "get");
	/* username is read at the server: first, on the wire; session_id is
	 * read only by the client's tracker: after it, cut before the wire */
	static const char *const order[] = { "username", "session_id", "key" };
	assert_int_equal(m->lreq.n, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_string_equal(m->lreq.v[i].f->name, order[i]);
	expect_slot(&m->lreq, "username", 1, 0, 16, 1);
	expect_stripped(&m->lreq, "username", 0, "firewall");
	expect_slot(&m->lreq, "session_id", 1, 16, 8, 1);
	expect_stripped(&m->lreq, "session_id", 1, "session-tracker (client)");
	/* in the client's copy the variable part follows the stripped field */
	expect_slot(&m->lreq, "key", 0, 24, 64, 0);
	expect_stripped(&m->lreq, "key", 0, "-");
	assert_int_equal(m->lreq.fixed, 24);
	assert_int_equal(m->lreq.strip, 8);
	assert_int_equal(m->lreq.max, 24 + 2 + 64);
	expect_strip_tail(&m->lreq);

	/* a response is never stripped */
	assert_int_equal(m->lresp.strip, 0);
	expect_stripped(&m->lresp, "value", 0, "-");

	/* the wire carries 8 bytes less than get_remote's request */
	struct fr_cost c;
	fr_request_cost(m, &c);
	assert_int_equal(c.flatrpc[0], 54 + 16 + 2 + 64);
	assert_int_equal(c.flatrpc[1], 54 + 16 + 2 + 32);
	fr_spec_free(spec);
}

static void test_tracked_get_remote_strips_nothing(void **state)
{
	struct fr_spec *spec = load_spec("tracked.anf");
	const struct fr_method *m = &spec->svc->methods[1];
	struct fr_cost c;
	(void)state;

	assert_string_equal(m->name, "get_remote");
	/* both readers at the server: kv's layout */
	expect_slot(&m->lreq, "session_id", 1, 0, 8, 1);
	expect_stripped(&m->lreq, "session_id", 0, "session-tracker");
	expect_slot(&m->lreq, "username", 1, 8, 16, 1);
	expect_stripped(&m->lreq, "username", 0, "firewall");
	expect_slot(&m->lreq, "key", 0, 24, 64, 0);
	assert_int_equal(m->lreq.fixed, 24);
	assert_int_equal(m->lreq.strip, 0);
	fr_request_cost(m, &c);
	assert_int_equal(c.flatrpc[0], 54 + 24 + 2 + 64);
	fr_spec_free(spec);
}

static void test_tracked_put_strips_all_metadata(void **state)
{
	struct fr_spec *spec = load_spec("tracked.anf");
	const struct fr_method *m = &spec->svc->methods[2];
	(void)state;

	assert_string_equal(m->name, "put");
	/* both metadata fields read only at the client: the whole fixed part
	 * goes, u64 first by alignment */
	expect_slot(&m->lreq, "session_id", 1, 0, 8, 1);
	expect_stripped(&m->lreq, "session_id", 1, "session-tracker (client)");
	expect_slot(&m->lreq, "username", 1, 8, 16, 1);
	expect_stripped(&m->lreq, "username", 1, "firewall (client)");
	expect_slot(&m->lreq, "key", 0, 24, 64, 0);
	expect_slot(&m->lreq, "value", 0, 26, 256, 0);
	assert_int_equal(m->lreq.fixed, 24);
	assert_int_equal(m->lreq.strip, 24);
	assert_int_equal(m->lreq.max, 24 + 2 + 64 + 2 + 256);
	expect_strip_tail(&m->lreq);

	expect_slot(&m->lresp, "ok", 1, 0, 1, 0);
	assert_int_equal(m->lresp.fixed, 1);
	assert_int_equal(m->lresp.strip, 0);
	fr_spec_free(spec);
}

/*
 * The rules one at a time. c runs at the client, s at the server.
 * Metadata: sid, w, tag read by c only (stripped); shared by both (sent);
 * unread (sent, unread part). own is the method's own field, read by c
 * only: the server application's input, so it is sent. out is a response
 * field c's resp() reads: responses are never stripped. Method n has no
 * client: chain, so the same metadata all goes on the wire there.
 */
static const char STRIP_SPEC[] =
	"element c:\n"
	"  req(rpc):\n"
	"    match get(rpc, 'sid') == 0 or get(rpc, 'tag') == 1 or get(rpc, 'w') == 2:\n"
	"      true => send(err('client-no'), Up)\n"
	"      false =>\n"
	"        match get(rpc, 'shared') + get(rpc, 'own'):\n"
	"          0 => send(err('zero'), Up)\n"
	"          _ => pass\n"
	"  resp(rpc):\n"
	"    match get(rpc, 'out'):\n"
	"      0 => send(err('no-out'), Up)\n"
	"      _ => pass\n"
	"element s:\n"
	"  req(rpc):\n"
	"    match get(rpc, 'shared'):\n"
	"      5 => send(err('five'), Up)\n"
	"      _ => pass\n"
	"service x:\n"
	"  metadata:\n"
	"    tag: u8\n"
	"    sid: u64\n"
	"    shared: u32\n"
	"    w: u16\n"
	"    unread: u16\n"
	"  method m:\n"
	"    request:\n"
	"      own: u32\n"
	"      plain: u8\n"
	"      name: string<4>\n"
	"    response:\n"
	"      out: u32\n"
	"    server: s()\n"
	"    client: c()\n"
	"  method n:\n"
	"    request:\n"
	"      own: u32\n"
	"    server: s()\n";

static void test_strip_rules(void **state)
{
	struct fr_diag d = { .out = stderr };
	struct fr_spec *spec = fr_spec_load_string("strip.anf", STRIP_SPEC, &d);
	(void)state;

	assert_int_equal(d.n_errors, 0);
	const struct fr_method *m = &spec->svc->methods[0];
	const struct fr_layout *l = &m->lreq;
	/* read and sent by alignment, unread fixed fields, then the stripped
	 * ones by alignment (not declaration: tag comes first there), then the
	 * variable part */
	static const char *const order[] = { "shared", "own", "unread", "plain",
					     "sid", "w", "tag", "name" };
	assert_int_equal(l->n, 8);
	for (unsigned i = 0; i < 8; i++)
		assert_string_equal(l->v[i].f->name, order[i]);
	expect_slot(l, "shared", 1, 0, 4, 1);
	expect_stripped(l, "shared", 0, "c (client), s");
	expect_slot(l, "own", 1, 4, 4, 1);
	expect_stripped(l, "own", 0, "c (client)");
	expect_slot(l, "unread", 1, 8, 2, 0);
	expect_stripped(l, "unread", 0, "-");
	expect_slot(l, "plain", 1, 10, 1, 0);
	expect_slot(l, "sid", 1, 11, 8, 1);
	expect_stripped(l, "sid", 1, "c (client)");
	expect_slot(l, "w", 1, 19, 2, 1);
	expect_stripped(l, "w", 1, "c (client)");
	expect_slot(l, "tag", 1, 21, 1, 1);
	expect_stripped(l, "tag", 1, "c (client)");
	expect_slot(l, "name", 0, 22, 4, 0);
	expect_stripped(l, "name", 0, "-");
	assert_int_equal(l->fixed, 22);
	assert_int_equal(l->strip, 8 + 2 + 1);
	assert_int_equal(l->max, 22 + 2 + 4);
	expect_strip_tail(l);

	expect_slot(&m->lresp, "out", 1, 0, 4, 1);
	expect_stripped(&m->lresp, "out", 0, "c (client)");
	assert_int_equal(m->lresp.strip, 0);

	/* stripping is per method: without the client: chain nothing goes */
	const struct fr_method *n = &spec->svc->methods[1];
	assert_int_equal(n->lreq.strip, 0);
	assert_int_equal(n->lreq.fixed, 4 + 1 + 8 + 2 + 2 + 4);
	for (unsigned i = 0; i < n->lreq.n; i++)
		assert_false(n->lreq.v[i].stripped);
	expect_slot(&n->lreq, "sid", 1, 5, 8, 0);
	fr_spec_free(spec);
}

/* A field a client: element writes is its output for the server (what
 * header-rewrite does for tier): stripping it would throw the write away
 * and leave the server 0. Only what client: elements merely read stays
 * home; here the write sits inside match arms. */
static void test_client_write_is_sent(void **state)
{
	struct fr_diag d = { .out = stderr };
	struct fr_spec *spec = fr_spec_load_string("write.anf",
		"element tagger:\n"
		"  req(rpc):\n"
		"    match get(rpc, 'sid'):\n"
		"      0 => set(rpc, 'tier', 1)\n"
		"      _ => set(rpc, 'tier', 2)\n"
		"    send(rpc, Down)\n"
		"service w:\n"
		"  metadata:\n"
		"    sid: u64\n"
		"    tier: u8\n"
		"  method m:\n"
		"    request:\n"
		"      key: string<8>\n"
		"    client: tagger()\n", &d);
	(void)state;

	assert_int_equal(d.n_errors, 0);
	const struct fr_layout *l = &spec->svc->methods[0].lreq;
	expect_slot(l, "tier", 1, 0, 1, 1);
	expect_stripped(l, "tier", 0, "tagger (client)");
	expect_slot(l, "sid", 1, 1, 8, 1);
	expect_stripped(l, "sid", 1, "tagger (client)");
	expect_slot(l, "key", 0, 9, 8, 0);
	assert_int_equal(l->fixed, 9);
	assert_int_equal(l->strip, 8);
	expect_strip_tail(l);
	fr_spec_free(spec);
}

static const char ORDER_SPEC[] =
	"element r:\n"
	"  state:\n"
	"    m: Map<u64, u64>\n"
	"  req(rpc):\n"
	"    match get(m, get(rpc, 'c')):\n"
	"      Some(x) =>\n"
	"        match get(rpc, 'flag'):\n"
	"          1 =>\n"
	"            send(rpc, Down)\n"
	"      None =>\n"
	"        match get(rpc, 'tag'):\n"
	"          'x' =>\n"
	"            send(err('tagged'), Up)\n"
	"    match get(rpc, 'b'):\n"
	"      7 =>\n"
	"        send(err('seven'), Up)\n"
	"    match get(rpc, 'a'):\n"
	"      7 =>\n"
	"        send(err('tagged'), Up)\n"
	"\n"
	"service order:\n"
	"  metadata:\n"
	"    flag: u8\n"
	"  method m:\n"
	"    request:\n"
	"      blob: bytes<10>\n"
	"      tag: string<3>\n"
	"      a: u16\n"
	"      plain: u32\n"
	"      b: u32\n"
	"      note: string<5>\n"
	"      c: u64\n"
	"    server: r()\n";

static void test_alignment_order(void **state)
{
	struct fr_diag d = { .out = stderr };
	struct fr_spec *spec = fr_spec_load_string("order.anf", ORDER_SPEC, &d);
	(void)state;

	assert_int_equal(d.n_errors, 0);
	const struct fr_layout *l = &spec->svc->methods[0].lreq;
	/* read: c(8) b(4) a(2) then flag(1), tag(3) by declaration order
	 * (metadata first); unread fixed: plain; variable: blob, note */
	static const char *const order[] = { "c", "b", "a", "flag", "tag", "plain",
					     "blob", "note" };
	assert_int_equal(l->n, 8);
	for (unsigned i = 0; i < 8; i++)
		assert_string_equal(l->v[i].f->name, order[i]);
	expect_slot(l, "c", 1, 0, 8, 1);
	expect_slot(l, "b", 1, 8, 4, 1);
	expect_slot(l, "a", 1, 12, 2, 1);
	expect_slot(l, "flag", 1, 14, 1, 1);
	expect_slot(l, "tag", 1, 15, 3, 1);
	expect_slot(l, "plain", 1, 18, 4, 0);
	expect_slot(l, "blob", 0, 22, 10, 0);
	expect_slot(l, "note", 0, 24, 5, 0);
	assert_int_equal(l->fixed, 22);
	assert_int_equal(l->max, 22 + 2 + 10 + 2 + 5);

	/* error codes: first appearance, deduplicated */
	assert_int_equal(spec->nerrs, 2);
	assert_int_equal(fr_spec_error_code(spec, "tagged"), 1);
	assert_int_equal(fr_spec_error_code(spec, "seven"), 2);
	fr_spec_free(spec);
}

/* Bodies over one fragment: bytes<N> up to 65535, but the whole body must
 * fit in FLATRPC_FRAG_MAX fragments and the ANF-read part in the first. */
static int errors_of(const char *text)
{
	struct fr_diag d = { .out = NULL };
	struct fr_spec *spec = fr_spec_load_string("big.anf", text, &d);

	fr_spec_free(spec);
	return d.n_errors;
}

static void test_fragment_limits(void **state)
{
	(void)state;
	/* one 64 KiB field: fragmented, allowed */
	assert_int_equal(errors_of("service b:\n  method m:\n    request:\n"
				   "      v: bytes<65535>\n"), 0);
	assert_int_equal(errors_of("service b:\n  method m:\n    request:\n"
				   "      v: bytes<65536>\n"), 1);
	/* 2 * (2 + 65535) > 64 * 1400 */
	assert_int_equal(errors_of("service b:\n  method m:\n    request:\n"
				   "      v: bytes<65535>\n      w: bytes<65535>\n"), 1);
	/* strings stay within what BPF may compare */
	assert_int_equal(errors_of("service b:\n  method m:\n    request:\n"
				   "      v: string<4097>\n"), 1);
	/* an ANF-read string of 2000 bytes cannot sit in the first fragment */
	assert_int_equal(errors_of("element r:\n  req(rpc):\n"
				   "    match get(rpc, 'name'):\n      'x' =>\n"
				   "        send(err('no'), Up)\n"
				   "service b:\n  metadata:\n    name: string<2000>\n"
				   "  method m:\n    request:\n      x: u32\n"
				   "    client: r()\n"), 1);
	assert_int_equal(errors_of("element r:\n  req(rpc):\n"
				   "    match get(rpc, 'name'):\n      'x' =>\n"
				   "        send(err('no'), Up)\n"
				   "service b:\n  metadata:\n    name: string<1400>\n"
				   "  method m:\n    request:\n      x: u32\n"
				   "    client: r()\n"), 1);
	assert_int_equal(errors_of("element r:\n  req(rpc):\n"
				   "    match get(rpc, 'name'):\n      'x' =>\n"
				   "        send(err('no'), Up)\n"
				   "service b:\n  metadata:\n    name: string<1396>\n"
				   "  method m:\n    request:\n      x: u32\n"
				   "    client: r()\n"), 0);
}

static uint64_t hash_of(const char *name, const char *text)
{
	struct fr_diag d = { .out = stderr };
	struct fr_spec *spec = fr_spec_load_string(name, text, &d);
	uint64_t h = spec->hash;

	assert_int_equal(d.n_errors, 0);
	fr_spec_free(spec);
	return h;
}

static void test_hash_ignores_comments_and_paths(void **state)
{
	static const char a[] =
		"service h:\n  method m:\n    request:\n      x: u32\n";
	static const char b[] =
		"# a comment\n\nservice h:   # trailing\n\n  method m:\n"
		"    request:\n\n      x:   u32\n";
	static const char c[] =
		"service h:\n  method m:\n    request:\n      x: u64\n";
	(void)state;

	assert_true(hash_of("h.anf", a) != 0);
	assert_true(hash_of("h.anf", a) == hash_of("h.anf", b));
	assert_true(hash_of("h.anf", a) == hash_of("/some/where/else/h.anf", a));
	assert_true(hash_of("h.anf", a) != hash_of("h.anf", c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv_get),
		cmocka_unit_test(test_kv_get_cost),
		cmocka_unit_test(test_cost_boundaries),
		cmocka_unit_test(test_kv_set),
		cmocka_unit_test(test_alignment_order),
		cmocka_unit_test(test_hash_ignores_comments_and_paths),
		cmocka_unit_test(test_fragment_limits),
		cmocka_unit_test(test_tracked_get_strips_session_id),
		cmocka_unit_test(test_tracked_get_remote_strips_nothing),
		cmocka_unit_test(test_tracked_put_strips_all_metadata),
		cmocka_unit_test(test_strip_rules),
		cmocka_unit_test(test_client_write_is_sent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

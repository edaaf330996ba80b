/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_desc.c - an object's description from the compiler's printer
 * (codegen/emit_init.c) through the loader's parser (user/load/desc.c):
 * what the compiler writes reads back as the same tables, and a text that
 * was tampered with in the pin is refused, not half-read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "spec.h"
#include "desc.h"

static const char spec_text[] =
	"element gate:\n"
	"  state:\n"
	"    users: Map<string<16>, string<4>>\n"
	"  init():\n"
	"    set(users, 'Kevin', 'Yes')\n"
	"    set(users, 'a b%c', 'No')\n"
	"  req(rpc):\n"
	"    match get(users, get(rpc, 'username')):\n"
	"      Some(p) =>\n"
	"        send(rpc, Down)\n"
	"      None =>\n"
	"        send(err('not allowed here'), Up)\n"
	"  resp(rpc):\n"
	"    send(rpc, Up)\n"
	"\n"
	"service shop:\n"
	"  port: 7500\n"
	"  metadata:\n"
	"    username: string<16>\n"
	"  method buy:\n"
	"    request:\n"
	"      item: u32\n"
	"    response:\n"
	"      ok: bool\n"
	"    server: gate()\n"
	"    transport: reliable(timeout=20000, retries=3)\n"
	"  method look:\n"
	"    request:\n"
	"      item: u32\n"
	"    response:\n"
	"      n: u32\n"
	"    transport: lossy(timeout=20000)\n";

static struct flatrpc_desc *desc_of(const char *text, struct fr_buf *b, uint64_t *hash)
{
	struct fr_diag d = { .out = stderr };
	struct fr_spec *spec = fr_spec_load_string("shop.anf", text, &d);
	char why[200] = "";
	struct flatrpc_desc *desc;

	assert_int_equal(d.n_errors, 0);
	fr_desc_text(spec, spec->hash, b);
	*hash = spec->hash;
	fr_spec_free(spec);
	desc = flatrpc_desc_parse(b->p, b->len, why, sizeof(why));
	if (!desc)
		fail_msg("%s", why);
	return desc;
}

static void round_trip(void **state)
{
	struct fr_buf b = { 0 };
	uint64_t hash;
	struct flatrpc_desc *d = desc_of(spec_text, &b, &hash);

	assert_string_equal(d->service, "shop");
	assert_true(d->spec_hash == hash);
	assert_string_equal(d->spec_path, "shop.anf");
	assert_int_equal(d->port, 7500);
	assert_int_equal(d->n_methods, 2);
	assert_string_equal(d->methods[0], "buy");
	assert_string_equal(d->methods[1], "look");
	assert_int_equal(d->n_errors, 1);
	assert_null(d->errors[1]);
	assert_string_equal(d->states[0], "fr_gate_users");
	assert_null(d->states[1]);
	assert_string_equal(d->elems[0].element, "gate");
	assert_string_equal(d->elems[0].hook, "req");
	assert_int_equal(d->elems[0].method, 0);
	assert_string_equal(d->elems[1].hook, "resp");
	assert_null(d->elems[2].element);
	/* init() entries in the map's byte layout; a key with a space and a
	 * '%' survives the escapes */
	assert_int_equal(d->n_init, 2);
	assert_string_equal(d->init[1].map, "fr_gate_users");
	assert_int_equal(d->init[1].key_size, 16);
	assert_int_equal(d->init[1].value_size, 4);
	assert_memory_equal(d->init[1].key, "a b%c\0\0\0\0\0\0\0\0\0\0\0", 16);
	assert_memory_equal(d->init[0].value, "Yes", 4);
	flatrpc_desc_free(d);
	fr_buf_free(&b);
}

/* A description as a pin holds it: padded with NULs to the map's size. */
static void nul_padding(void **state)
{
	struct fr_buf b = { 0 };
	uint64_t hash;
	struct flatrpc_desc *d = desc_of(spec_text, &b, &hash), *p;
	char why[200];
	char *pad = calloc(1, b.len + 64);

	memcpy(pad, b.p, b.len);
	p = flatrpc_desc_parse(pad, b.len + 64, why, sizeof(why));
	assert_non_null(p);
	assert_true(p->spec_hash == d->spec_hash);
	flatrpc_desc_free(p);
	flatrpc_desc_free(d);
	free(pad);
	fr_buf_free(&b);
}

static void refuses(const char *text, const char *why_part)
{
	char why[200] = "";
	struct flatrpc_desc *d = flatrpc_desc_parse(text, strlen(text), why, sizeof(why));

	if (d)
		fail_msg("accepted: %s", text);
	if (!strstr(why, why_part))
		fail_msg("'%s' does not say '%s'", why, why_part);
}

#define HEAD "flatrpc-desc 1\nservice s\nhash 00000000000000ff\nfile s.anf\nport 7447\n"

static void tampered(void **state)
{
	/* the smallest whole one is accepted */
	char why[200];
	struct flatrpc_desc *d = flatrpc_desc_parse(HEAD "method m\n", strlen(HEAD) + 9, why,
						    sizeof(why));
	assert_non_null(d);
	flatrpc_desc_free(d);

	refuses("flatrpc-desc 2\n", "version 1");
	refuses("something else\n", "version 1");
	refuses(HEAD, "lacks");				/* no method */
	refuses(HEAD "method m", "whole lines");		/* cut short */
	refuses(HEAD "method m\nmystery x\n", "unknown");
	refuses(HEAD "method m\nport 0\n", "unknown or malformed 'port'");
	refuses(HEAD "method m\nport 70000\n", "malformed 'port'");
	refuses(HEAD "method m\nelem 0 99 0 req e\n", "malformed 'elem'");	/* no method 99 */
	refuses(HEAD "method m\nelem 0 0 0 sideways e\n", "malformed 'elem'");
	refuses(HEAD "method m\ninit map 0g 00\n", "bad init");
	refuses(HEAD "method m\ninit map 000 00\n", "bad init");
	refuses(HEAD "method m\nerror a%zz\n", "escape");
	refuses(HEAD "method m\nerror a%00\n", "escape");
	refuses(HEAD "method m\nmethod a b\n", "malformed 'method'");
	refuses(HEAD "method m\nhash -1\n", "malformed 'hash'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(nul_padding),
		cmocka_unit_test(tampered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* test_parser.c - the kv spec's AST, and exact positions of spec errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "builtins.h"
#include "flatrpc_abi.h"
#include "flatrpc_gen.h"
#include "spec.h"
#include "spec_path.h"

static const char *kv_path(void)
{
	return spec_path("kv.anf");
}

static void test_kv_parses(void **state)
{
	struct fr_diag d = { .out = stderr };
	int err;
	struct fr_spec *spec = fr_spec_load_file(kv_path(), &d, &err);
	(void)state;

	assert_int_equal(err, 0);
	assert_int_equal(d.n_errors, 0);
	struct fr_service *svc = spec->svc;
	assert_non_null(svc);
	assert_string_equal(svc->name, "kv");
	assert_int_equal(svc->port, 7447);
	assert_int_equal(svc->meta.n, 2);
	assert_int_equal(svc->nmethods, 2);

	struct fr_method *get = &svc->methods[0], *set = &svc->methods[1];
	assert_string_equal(get->name, "get");
	assert_int_equal(get->id, 0);
	assert_string_equal(set->name, "set");
	assert_int_equal(set->id, 1);

	/* metadata first in every request, then the method's own fields */
	assert_int_equal(get->req.n, 3);
	assert_string_equal(get->req.v[0].name, "username");
	assert_string_equal(get->req.v[1].name, "session_id");
	assert_string_equal(get->req.v[2].name, "key");
	assert_int_equal(get->req.v[2].type.kind, TY_STRING);
	assert_int_equal(get->req.v[2].type.n, 64);
	assert_int_equal(set->resp.n, 1);
	assert_int_equal(set->resp.v[0].type.kind, TY_BOOL);

	/* chain order */
	assert_int_equal(set->nchain, 2);
	assert_string_equal(set->chain[0].name, "firewall");
	assert_string_equal(set->chain[1].name, "session-tracker");
	assert_ptr_equal(set->chain[1].elem, fr_spec_element(spec, "session-tracker"));
	assert_int_equal(set->chain[0].side, FR_SERVER);
	assert_int_equal(set->chain[1].side, FR_SERVER);

	/* transport */
	assert_int_equal(get->flags, 0);
	assert_int_equal(get->timeout_us, 20000);
	assert_int_equal(get->retries, 0);
	assert_int_equal(set->nprops, 3);
	assert_string_equal(set->props[0].name, "inorder");
	assert_string_equal(set->props[1].name, "reliable");
	assert_string_equal(set->props[2].name, "priority");
	assert_int_equal(set->priority, 4);
	assert_int_equal(get->priority, 0);
	assert_int_equal(set->flags, FLATRPC_M_RELIABLE | FLATRPC_M_INORDER);
	assert_int_equal(set->timeout_us, 20000);
	assert_int_equal(set->retries, 16);

	/* elements, their state and what they read */
	struct fr_element *fw = fr_spec_element(spec, "firewall");
	assert_non_null(fw);
	assert_int_equal(fw->nstates, 1);
	assert_int_equal(fw->states[0].type.kind, TY_MAP);
	assert_int_equal(fw->states[0].type.key->n, 16);
	assert_int_equal(fw->states[0].type.val->n, 4);
	assert_int_equal(fw->init.body.n, 2);
	assert_int_equal(fw->req.body.n, 1);
	assert_int_equal(fw->req.body.v[0]->kind, S_MATCH);
	assert_int_equal(fw->req.body.v[0]->narms, 2);
	assert_int_equal(fw->req.body.v[0]->arms[0].kind, A_SOME);
	assert_string_equal(fw->req.body.v[0]->arms[0].bind, "permission");
	assert_int_equal(fw->req_reads.n, 1);
	assert_string_equal(fw->req_reads.v[0], "username");

	/* errors numbered in order of first appearance */
	assert_int_equal(spec->nerrs, 1);
	assert_string_equal(spec->errs[0].msg, "firewall");
	assert_int_equal(fr_spec_error_code(spec, "firewall"), 1);
	fr_spec_free(spec);
}

static void test_spec_info(void **state)
{
	struct fr_spec_info info;
	(void)state;

	assert_int_equal(fr_spec_info_from_file(kv_path(), stderr, &info), 0);
	assert_string_equal(info.service, "kv");
	assert_int_equal(info.n_methods, 2);
	assert_true(info.spec_hash != 0);
	assert_true(fr_spec_info_from_file("/nonexistent/x.anf", NULL, &info) < 0);
}

/* Runs the whole front end on text; returns the diagnostics. */
static char *diagnose(const char *text, int *nerr)
{
	char *out = NULL;
	size_t len = 0;
	struct fr_diag d = { .out = open_memstream(&out, &len) };
	struct fr_spec *spec = fr_spec_load_string("bad.anf", text, &d);

	fclose(d.out);
	fr_spec_free(spec);
	*nerr = d.n_errors;
	return out;
}

static void expect_error(const char *text, const char *want)
{
	int n;
	char *out = diagnose(text, &n);

	if (!strstr(out, want))
		fail_msg("expected \"%s\" in:\n%s", want, out);
	assert_true(n >= 1);
	free(out);
}

#define ELEMENT								\
	"element fw:\n"							\
	"  state:\n"							\
	"    users: Map<string<16>, u32>\n"				\
	"  req(rpc):\n"							\
	"    match get(users, get(rpc, 'name')):\n"			\
	"      Some(n) =>\n"						\
	"        send(rpc, Down)\n"					\
	"      None =>\n"						\
	"        send(err('denied'), Up)\n"				\
	"  resp(rpc):\n"						\
	"    send(rpc, Up)\n"

static void test_good_inline_spec(void **state)
{
	int n;
	char *out = diagnose(ELEMENT
			     "service s:\n"
			     "  method m:\n"
			     "    request:\n"
			     "      name: string<16>\n"
			     "    response:\n"
			     "      ok: bool\n"
			     "    client: fw()\n", &n);
	(void)state;
	assert_int_equal(n, 0);
	assert_string_equal(out, "");
	free(out);
}

static void test_unknown_rpc_field(void **state)
{
	(void)state;
	/* the field is missing from the method: reported where it is read */
	expect_error(ELEMENT
		     "service s:\n"
		     "  method m:\n"
		     "    request:\n"
		     "      nam: string<16>\n"
		     "    client: fw()\n",
		     "bad.anf:5:31: error: unknown field 'name' in the request of method 'm' "
		     "(element 'fw')\n"
		     "    match get(users, get(rpc, 'name')):\n"
		     "                              ^\n");
}

static void test_unknown_element(void **state)
{
	(void)state;
	expect_error(ELEMENT
		     "service s:\n"
		     "  method m:\n"
		     "    request:\n"
		     "      name: string<16>\n"
		     "    client: fw() -> fire-wall()\n",
		     "bad.anf:16:21: error: unknown element 'fire-wall' in the chain of method 'm'");
}

static void test_unknown_state(void **state)
{
	(void)state;
	expect_error("element e:\n"
		     "  req(rpc):\n"
		     "    set(counts, 1, 2)\n"
		     "service s:\n"
		     "  method m:\n"
		     "    client: e()\n",
		     "bad.anf:3:9: error: unknown state 'counts' in element 'e'");
}

/* set(rpc, 'field', value): every mistake, each reported once */
static void test_set_field_errors(void **state)
{
	static const char spec[] =
		"element e:\n"
		"  req(rpc):\n"
		"    set(rpc, 'data', 1)\n"
		"    set(rpc, 'name', get(rpc, 'name'))\n"
		"    set(rpc, 'name', 'far-too-long')\n"
		"    set(rpc, 'small', 256)\n"
		"    set(rpc, 'small', get(rpc, 'big'))\n"
		"    set(rpc, 'nope', 1)\n"
		"    set(rpc, name, 1)\n"
		"    set(rpc, 'small')\n"
		"    set(rpc, 'small', 255)\n"
		"    set(rpc, 'name', 'ok')\n"
		"    send(rpc, Down)\n"
		"service s:\n"
		"  method m:\n"
		"    request:\n"
		"      name: string<8>\n"
		"      small: u8\n"
		"      big: u32\n"
		"      data: bytes<8>\n"
		"    client: e()\n";
	static const char *const want[] = {
		"bad.anf:3:14: error: element 'e' rewrites bytes field 'data' of method 'm'; "
		"ANFs can rewrite integers, bool and string<N> only",
		"bad.anf:4:22: error: string field 'name' can only be set from a string constant",
		"bad.anf:5:22: error: 'far-too-long' is 12 bytes, longer than field 'name' "
		"(string<8>)",
		"bad.anf:6:23: error: value of type integer constant does not match the type u8 of "
		"field 'small'",
		"bad.anf:7:23: error: value of type u32 does not match the type u8 of field 'small'",
		"bad.anf:8:14: error: unknown field 'nope' in the request of method 'm' "
		"(element 'e')",
		"bad.anf:9:14: error: the field in set(rpc, 'field', value) must be a quoted name",
		"bad.anf:10:5: error: set(rpc, 'field', value) takes 3 arguments",
	};
	int n;
	char *out = diagnose(spec, &n);
	(void)state;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(out, want[i]))
			fail_msg("expected \"%s\" in:\n%s", want[i], out);
	assert_int_equal(n, (int)(sizeof(want) / sizeof(want[0])));
	free(out);
}

static void test_key_of_wrong_type(void **state)
{
	(void)state;
	expect_error("element e:\n"
		     "  state:\n"
		     "    seen: Map<u64, u64>\n"
		     "  req(rpc):\n"
		     "    set(seen, get(rpc, 'user'), 1)\n"
		     "service s:\n"
		     "  method m:\n"
		     "    request:\n"
		     "      user: string<8>\n"
		     "    client: e()\n",
		     "bad.anf:5:15: error: key of type string<8> does not match the key type "
		     "u64 of map 'seen'");
	expect_error("element e:\n"
		     "  state:\n"
		     "    seen: Map<u64, u64>\n"
		     "  init():\n"
		     "    set(seen, 'x', 1)\n"
		     "  req(rpc):\n"
		     "    send(rpc, Down)\n"
		     "service s:\n"
		     "  method m:\n"
		     "    client: e()\n",
		     "bad.anf:5:15: error: key of type string constant of length 1 does not "
		     "match the key type u64");
}

static void test_transport_errors(void **state)
{
	(void)state;
	expect_error("service s:\n"
		     "  method m:\n"
		     "    transport: lossy(timeout=5) -> priority(level=8)\n",
		     "bad.anf:3:51: error: priority level must be 0..7");
	expect_error("service s:\n"
		     "  method m:\n"
		     "    transport: lossy(timeout=5) -> fifo()\n",
		     "bad.anf:3:36: error: unknown transport property 'fifo'");
	expect_error("service s:\n"
		     "  method m:\n"
		     "    transport: reliable(timeout=5, tries=3)\n",
		     "bad.anf:3:36: error: unknown parameter 'tries' of reliable "
		     "(expected timeout or retries)");
	expect_error("service s:\n"
		     "  method m:\n"
		     "    transport: inorder(strategy=\"hold-forever\") -> lossy()\n",
		     "bad.anf:3:16: error: inorder(strategy=\"hold-forever\") needs reliable");
	expect_error("service s:\n"
		     "  method m:\n"
		     "    transport: inorder(strategy=\"sometimes\") -> reliable()\n",
		     "bad.anf:3:33: error: unknown inorder strategy 'sometimes'");
}

static void test_duplicates_and_types(void **state)
{
	(void)state;
	expect_error("service s:\n"
		     "  method m:\n"
		     "    request:\n"
		     "      a: u8\n"
		     "  method m:\n"
		     "    request:\n"
		     "      a: u8\n",
		     "bad.anf:5:10: error: duplicate method 'm'");
	expect_error("service s:\n"
		     "  metadata:\n"
		     "    id: u64\n"
		     "  method m:\n"
		     "    request:\n"
		     "      id: u32\n",
		     "bad.anf:6:7: error: duplicate field 'id' in the request of method 'm' "
		     "(already in metadata)");
	expect_error("service s:\n"
		     "  method m:\n"
		     "    request:\n"
		     "      a: int32\n",
		     "bad.anf:4:10: error: unknown type 'int32'");
	expect_error("service s:\n"
		     "  method m:\n"
		     "    request:\n"
		     "      a: string<0>\n",
		     "bad.anf:4:17: error: length of string must be 1..4096, not 0");
}

static void test_syntax_errors_recover(void **state)
{
	int n;
	/* two independent mistakes: both are reported */
	char *out = diagnose("service s\n"
			     "element e:\n"
			     "  req(rpc):\n"
			     "    send(rpc Down)\n"
			     "    send(rpc, Sideways)\n", &n);
	(void)state;

	assert_non_null(strstr(out, "bad.anf:1:10: error: expected ':', found end of line"));
	assert_non_null(strstr(out, "bad.anf:4:14: error: expected ',' or ')', found 'Down'"));
	assert_non_null(strstr(out, "bad.anf:5:15: error: the direction of send() must be "
			       "Down or Up"));
	assert_true(n >= 3);
	free(out);
}

static void test_imports_relative_to_importer(void **state)
{
	int n;
	char *out = diagnose("import \"no/such.anf\"\n", &n);
	(void)state;

	assert_non_null(strstr(out, "bad.anf:1:8: error: cannot find import 'no/such.anf' "
			       "(looked for no/such.anf, "));
	assert_non_null(strstr(out, "add a directory with -I or FLATRPC_IMPORT_PATH"));
	free(out);
}

/* An import not beside its importer is found along the import path: a -I
 * directory, then FLATRPC_IMPORT_PATH's, in order; the first place that
 * has the file wins. */
static void test_import_path(void **state)
{
	char root[] = "/tmp/fr-import-XXXXXX", path[256], env[600];
	struct fr_diag d = { .out = NULL };
	struct fr_spec *spec;
	FILE *f;
	(void)state;

	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/a", root);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/a/lib", root);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/b", root);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/b/lib", root);
	assert_int_equal(mkdir(path, 0700), 0);
	/* only b/lib has the element */
	snprintf(path, sizeof(path), "%s/b/lib/pass.anf", root);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("element pass:\n  req(rpc):\n    send(rpc, Down)\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/main.anf", root);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("import \"lib/pass.anf\"\nservice s:\n  method m:\n    request:\n      k: u32\n"
	      "    response:\n      v: u32\n    server: pass()\n", f);
	fclose(f);

	int read_err;
	spec = fr_spec_load_file(path, &d, &read_err);	/* d.out NULL: count only */
	assert_int_equal(read_err, 0);
	assert_true(d.n_errors > 0);		/* not beside main.anf, no path yet */
	fr_spec_free(spec);

	/* FLATRPC_IMPORT_PATH: a directory without it, then one with it */
	snprintf(env, sizeof(env), "%s/a:%s/b", root, root);
	setenv("FLATRPC_IMPORT_PATH", env, 1);
	d = (struct fr_diag){ .out = stderr };
	spec = fr_spec_load_file(path, &d, &read_err);
	assert_int_equal(d.n_errors, 0);
	fr_spec_free(spec);
	unsetenv("FLATRPC_IMPORT_PATH");

	/* -I */
	snprintf(env, sizeof(env), "%s/b", root);
	assert_int_equal(fr_import_path_add(env), 0);
	d = (struct fr_diag){ .out = stderr };
	spec = fr_spec_load_file(path, &d, &read_err);
	assert_int_equal(d.n_errors, 0);
	fr_spec_free(spec);

	snprintf(path, sizeof(path), "rm -rf %s", root);
	assert_int_equal(system(path), 0);
}


/* ---- paths, reachability and what BPF cannot run ---------------------------- */

/* Like diagnose(), also counting warnings. */
static char *diagnose_w(const char *text, int *nerr, int *nwarn)
{
	char *out = NULL;
	size_t len = 0;
	struct fr_diag d = { .out = open_memstream(&out, &len) };
	struct fr_spec *spec = fr_spec_load_string("bad.anf", text, &d);

	fclose(d.out);
	fr_spec_free(spec);
	*nerr = d.n_errors;
	*nwarn = d.n_warnings;
	return out;
}

#define SVC_ID_CODE							\
	"service s:\n"							\
	"  method m:\n"							\
	"    request:\n"						\
	"      id: u64\n"						\
	"    response:\n"						\
	"      code: u8\n"						\
	"    client: e()\n"

static void test_missing_send_is_an_error(void **state)
{
	int n, w;
	/* the Some path updates the map and then falls off the end of req() */
	char *out = diagnose_w("element e:\n"
			       "  state:\n"
			       "    users: Map<u64, u64>\n"
			       "  req(rpc):\n"
			       "    match get(users, get(rpc, 'id')):\n"
			       "      Some(n) =>\n"
			       "        set(users, get(rpc, 'id'), n + 1)\n"
			       "      None =>\n"
			       "        send(rpc, Down)\n"
			       "  resp(rpc):\n"
			       "    set(users, 1, 2)\n"
			       SVC_ID_CODE, &n, &w);
	(void)state;

	assert_string_equal(out,
		"bad.anf:7:9: error: req() of element 'e' can end here without send(); "
		"end every path with send(...) or pass\n"
		"        set(users, get(rpc, 'id'), n + 1)\n"
		"        ^\n"
		"bad.anf:11:5: error: resp() of element 'e' can end here without send(); "
		"end every path with send(...) or pass\n"
		"    set(users, 1, 2)\n"
		"    ^\n");
	assert_int_equal(n, 2);
	free(out);
}

static void test_send_after_match_is_fine(void **state)
{
	int n, w;
	/* session-tracker's shape: arms fall through to a send after the match */
	char *out = diagnose_w("element e:\n"
			       "  state:\n"
			       "    users: Map<u64, u64>\n"
			       "  req(rpc):\n"
			       "    match get(users, get(rpc, 'id')):\n"
			       "      Some(n) =>\n"
			       "        set(users, get(rpc, 'id'), n + 1)\n"
			       "      None =>\n"
			       "        set(users, get(rpc, 'id'), 1)\n"
			       "    send(rpc, Down)\n"
			       "  resp(rpc):\n"
			       "    match get(rpc, 'code'):\n"
			       "      0 => pass\n"
			       "    send(err('bad-code'), Up)\n"
			       SVC_ID_CODE, &n, &w);
	(void)state;

	assert_string_equal(out, "");
	assert_int_equal(n, 0);
	assert_int_equal(w, 0);
	free(out);
}

static void test_match_without_default_warns(void **state)
{
	int n, w;
	/* the paper's firewall: 'Yes' and 'No' only; anything else is passed on */
	char *out = diagnose_w("element e:\n"
			       "  state:\n"
			       "    perms: Map<u64, string<4>>\n"
			       "  req(rpc):\n"
			       "    match get(perms, get(rpc, 'id')):\n"
			       "      Some(permission) =>\n"
			       "        match permission:\n"
			       "          'Yes' =>\n"
			       "            send(rpc, Down)\n"
			       "          'No' =>\n"
			       "            send(err('denied'), Up)\n"
			       "      None =>\n"
			       "        send(rpc, Down)\n"
			       SVC_ID_CODE, &n, &w);
	(void)state;

	assert_string_equal(out,
		"bad.anf:7:9: warning: match on permission has no default arm; messages "
		"matching no arm are passed on\n"
		"        match permission:\n"
		"        ^\n");
	assert_int_equal(n, 0);
	assert_int_equal(w, 1);
	free(out);
}

static void test_unreachable_arms_and_statements(void **state)
{
	int n, w;
	char *out = diagnose_w("element e:\n"
			       "  req(rpc):\n"
			       "    match get(rpc, 'id'):\n"
			       "      1 => send(rpc, Down)\n"
			       "      1 => send(err('one'), Up)\n"
			       "      _ => send(rpc, Down)\n"
			       "      2 => send(rpc, Down)\n"
			       "    pass\n"
			       SVC_ID_CODE, &n, &w);
	(void)state;

	assert_string_equal(out,
		"bad.anf:5:7: error: unreachable arm: this constant is already matched on line 4\n"
		"      1 => send(err('one'), Up)\n"
		"      ^\n"
		"bad.anf:7:7: error: unreachable arm: the catch-all '_' on line 6 matches "
		"everything first\n"
		"      2 => send(rpc, Down)\n"
		"      ^\n"
		"bad.anf:8:5: error: unreachable statement: the path already ended on line 3\n"
		"    pass\n"
		"    ^\n");
	assert_int_equal(n, 3);
	free(out);
}

static void test_what_bpf_cannot_run(void **state)
{
	int n, w;
	/* both reported in one run, each at its place */
	char *out = diagnose_w("element e:\n"
			       "  req(rpc):\n"
			       "    while get(rpc, 'id') > 0:\n"
			       "      pass\n"
			       "    pass\n"
			       "service s:\n"
			       "  method m:\n"
			       "    request:\n"
			       "      id: u64\n"
			       "      name: string\n"
			       "    client: e()\n", &n, &w);
	(void)state;

	assert_string_equal(out,
		"bad.anf:3:5: error: 'while': BPF cannot execute iteration without a constant "
		"bound; iterate over a Vec<T, N> state with foreach x in v:\n"
		"    while get(rpc, 'id') > 0:\n"
		"    ^\n"
		"bad.anf:10:13: error: string without a length bound: BPF cannot execute code "
		"over data of unbounded size; write string<N> with N in 1..4096\n"
		"      name: string\n"
		"            ^\n");
	assert_int_equal(n, 2);
	free(out);
}

/* ---- grammar growth ---------------------------------------------------------------- */

static const struct fr_stmt *first_req_stmt(struct fr_spec *spec)
{
	return spec->elems[0]->req.body.v[0];
}

static void test_operator_precedence(void **state)
{
	struct fr_diag d = { .out = stderr };
	struct fr_spec *spec = fr_spec_load_string("ops.anf",
		"element e:\n"
		"  req(rpc):\n"
		"    match get(rpc, 'id') + 1 < 5 and true or get(rpc, 'id') != 2:\n"
		"      true => pass\n"
		"      false => send(err('no'), Up)\n"
		SVC_ID_CODE, &d);
	(void)state;

	assert_int_equal(d.n_errors, 0);
	/* or(and(<(+(get, 1), 5), true), !=(get, 2)) */
	const struct fr_expr *e = first_req_stmt(spec)->e;
	assert_int_equal(e->kind, E_OR);
	assert_int_equal(e->args[0]->kind, E_AND);
	assert_int_equal(e->args[0]->args[0]->kind, E_CMP);
	assert_int_equal(e->args[0]->args[0]->op, T_LT);
	assert_int_equal(e->args[0]->args[0]->args[0]->kind, E_ADD);
	assert_int_equal(e->args[0]->args[1]->kind, E_BOOL);
	assert_int_equal(e->args[0]->args[1]->ival, 1);
	assert_int_equal(e->args[1]->kind, E_CMP);
	assert_int_equal(e->args[1]->op, T_NE);
	const struct fr_stmt *m = first_req_stmt(spec);
	assert_int_equal(m->narms, 2);
	assert_int_equal(m->arms[0].value->kind, E_BOOL);
	assert_int_equal(m->arms[0].body.v[0]->kind, S_PASS);
	fr_spec_free(spec);
}

static void test_builtin_and_operand_errors(void **state)
{
	int n, w;
	char *out = diagnose_w("element e:\n"
			       "  state:\n"
			       "    count: u64\n"
			       "    name: string<4>\n"
			       "  req(rpc):\n"
			       "    set(count, min(count))\n"
			       "    set(count, count + current_time(1))\n"
			       "    match get(rpc, 'id') < 'abc' and 3:\n"
			       "      _ => pass\n"
			       "  resp(rpc):\n"
			       "    randomu()\n"
			       "    pass\n"
			       SVC_ID_CODE, &n, &w);
	(void)state;

	assert_non_null(strstr(out, "bad.anf:4:11: error: state 'name' must be an integer, bool "
			       "or Map<K, V>, not string<4>\n"));
	assert_non_null(strstr(out, "bad.anf:6:16: error: min() takes 2 arguments, not 1\n"));
	assert_non_null(strstr(out, "bad.anf:7:24: error: current_time() takes 0 arguments, "
			       "not 1\n"));
	assert_non_null(strstr(out, "bad.anf:8:28: error: '<' needs integers, not string "
			       "constant of length 3\n"));
	assert_non_null(strstr(out, "bad.anf:8:38: error: 'and' needs bool operands, not "
			       "integer constant\n"));
	assert_non_null(strstr(out, "bad.anf:11:5: error: the result of randomu() is unused\n"));
	assert_int_equal(n, 6);
	free(out);
}

/* The registry types the arguments of every plain built-in. */
static void test_builtin_argument_types(void **state)
{
	int n, w;
	char *out = diagnose_w("element e:\n"
			       "  req(rpc):\n"
			       "    match hash(true) == time_diff(1, get(rpc, 'id') > 2):\n"
			       "      _ => pass\n"
			       SVC_ID_CODE, &n, &w);
	(void)state;

	assert_non_null(strstr(out, "bad.anf:3:16: error: hash() takes an integer or a string, "
			       "not bool constant\n"));
	assert_non_null(strstr(out, "bad.anf:3:53: error: time_diff() needs integers, not "
			       "bool\n"));
	assert_int_equal(n, 2);
	free(out);
}

static char *slurp(const char *path)
{
	struct fr_buf b = { 0 };

	assert_int_equal(fr_read_file(path, &b), 0);
	return b.p;
}

/* The table in docs/spec-language.md and the fuzz dictionary's built-ins
 * are the registry's (flatrpc-gen --list-builtins prints both): a new
 * built-in that is not documented fails here, with the text to paste. */
static void test_builtins_doc_and_dict(void **state)
{
	char *doc = slurp(spec_path("../docs/spec-language.md"));
	char *dict = slurp(spec_path("../codegen/fuzz/anf.dict"));
	struct fr_buf want = { 0 };
	const char *mark = "# built-ins, from flatrpc-gen --list-builtins=dict";
	(void)state;

	for (unsigned i = 0; i < fr_n_builtins; i++) {
		const struct fr_builtin *bi = &fr_builtins[i];
		assert_true(bi->nargs <= FR_BI_MAX_ARGS);
		if (bi->form == FR_BI_PLAIN) {
			assert_non_null(bi->emit);
			assert_non_null(bi->doc[0].sig);
		}
	}
	fr_builtins_doc(&want);
	if (!strstr(doc, want.p))
		fail_msg("docs/spec-language.md lacks the built-in table:\n%s", want.p);
	want.len = 0;
	fr_builtins_dict(&want);
	const char *block = strstr(dict, mark);
	assert_non_null(block);
	block = strchr(block, '\n') + 1;
	if (strcmp(block, want.p))
		fail_msg("codegen/fuzz/anf.dict should end in:\n%s", want.p);
	fr_buf_free(&want);
	free(doc);
	free(dict);
}

static void test_comparisons_do_not_chain(void **state)
{
	(void)state;
	expect_error("element e:\n"
		     "  req(rpc):\n"
		     "    match 1 < 2 < 3:\n"
		     "      true => pass\n",
		     "bad.anf:3:17: error: expected ':', found '<'");
}

static void test_expression_depth_is_bounded(void **state)
{
	char text[512];
	(void)state;
	/* 40 nested parentheses: past the bound, one error, no deep recursion */
	snprintf(text, sizeof(text), "element e:\n  req(rpc):\n    match %.40s1%.40s:\n"
		 "      _ => pass\n",
		 "((((((((((((((((((((((((((((((((((((((((",
		 "))))))))))))))))))))))))))))))))))))))))");
	expect_error(text, "bad.anf:3:43: error: expression nested more than 32 deep");
}

/* Regression: names that differ only in '-' vs '_' (or, for methods, in
 * case) became one C identifier, and the generated headers redeclared it. */

/* ---- locals, operators, Vec, annotations, arguments --------------------------------- */

/* Every wanted line appears (with its file:line:col), and there are exactly
 * nerr errors: one run reports all of them. */
static void expect_all(const char *text, int nerr, const char *const *want)
{
	int n;
	char *out = diagnose(text, &n);

	for (int i = 0; want[i]; i++)
		if (!strstr(out, want[i]))
			fail_msg("expected \"%s\" in:\n%s", want[i], out);
	if (n != nerr)
		fail_msg("expected %d errors, got %d:\n%s", nerr, n, out);
	free(out);
}

#define SVC_ID_NAME							\
	"service t:\n"							\
	"  method m:\n"							\
	"    request:\n"						\
	"      id: u64\n"						\
	"      name: string<8>\n"					\
	"    client: e()\n"

static void test_local_errors(void **state)
{
	static const char *const want[] = {
		"bad.anf:6:5: error: init() runs at load time and can only set(...) state; "
		"assignments belong in req() or resp()",
		"bad.anf:13:9: error: 'inner' was assigned on line 11 inside a block that has "
		"ended; assign it before that block to use it here",
		"bad.anf:14:5: error: 's' is a state of element 'e'; change it with set(s, ...)",
		"bad.anf:15:5: error: 'rpc' is the message and cannot be assigned; rewrite a "
		"field with set(rpc, 'field', value)",
		"bad.anf:16:14: error: 2 names on the left need a tuple of 2 values on the "
		"right, as in (a, b) = (x, y)",
		"bad.anf:17:9: error: 'p' appears twice on the left",
		"bad.anf:18:9: error: a tuple of 2 values cannot go into one name; write "
		"(a, b) = ... to take it apart",
		"bad.anf:19:9: error: get(map, key) gives Some(x) or None; match it instead of "
		"assigning it",
		"bad.anf:22:9: error: 'v' is bound by Some(v) on line 21 and cannot be assigned; "
		"copy it into a new name",
		"bad.anf:24:9: error: 'a' is u64 (from line 8); a value of type bool constant "
		"does not fit",
		"bad.anf:25:9: error: a local holds an integer or bool, not string<8>",
		"bad.anf:26:9: error: a tuple can only be destructured, as in (a, b) = (x, y)",
		"bad.anf:27:5: error: a local name cannot contain '-' ('my-x'); use '_'",
		NULL,
	};
	(void)state;
	expect_all("element e:\n"
		   "  state:\n"
		   "    s: u64\n"
		   "    mp: Map<u64, u64>\n"
		   "  init():\n"
		   "    x = 1\n"
		   "  req(rpc):\n"
		   "    a = get(rpc, 'id')\n"
		   "    match a:\n"
		   "      1 =>\n"
		   "        inner = 5\n"
		   "      _ => pass\n"
		   "    b = inner\n"
		   "    s = 4\n"
		   "    rpc = 3\n"
		   "    (p, q) = (1, 2, 3)\n"
		   "    (p, p) = (1, 2)\n"
		   "    r = (1, 2)\n"
		   "    o = get(mp, 1)\n"
		   "    match get(mp, 2):\n"
		   "      Some(v) =>\n"
		   "        v = 3\n"
		   "      None => pass\n"
		   "    a = true\n"
		   "    w = get(rpc, 'name')\n"
		   "    z = (1, 2) == 3\n"
		   "    my-x = 1\n"
		   "    send(rpc, Down)\n"
		   SVC_ID_NAME, 13, want);
}

/* a local typed from a message field is checked per method, where the
 * field's type is known */
static void test_local_typed_by_field(void **state)
{
	static const char *const want[] = {
		"bad.anf:6:12: error: key of type u64 does not match the key type u32 of map 'm'",
		NULL,
	};
	(void)state;
	expect_all("element e:\n"
		   "  state:\n"
		   "    m: Map<u32, u8>\n"
		   "  req(rpc):\n"
		   "    k = get(rpc, 'id')\n"
		   "    set(m, k, 1)\n"
		   "    pass\n"
		   SVC_ID_NAME, 1, want);
}

static void test_arith_delete_byte_size_errors(void **state)
{
	static const char *const want[] = {
		"bad.anf:6:5: error: init() can only set(...) state; delete() belongs in req() "
		"or resp()",
		"bad.anf:8:26: error: '/' by the constant 0",
		"bad.anf:9:26: error: '%' by the constant 0",
		"bad.anf:10:9: error: '/' takes unsigned integers: kernel 6.1's BPF has no "
		"signed division, and this operand is i64",
		"bad.anf:11:9: error: byte_size() takes the message and optionally a quoted "
		"field: byte_size(rpc) or byte_size(rpc, 'field')",
		"bad.anf:12:24: error: unknown field 'nope' in the request of method 'm' "
		"(element 'e')",
		"bad.anf:13:24: error: the field in byte_size(rpc, 'field') must be a quoted name",
		"bad.anf:14:12: error: delete() removes a map entry; state 's' is a u64",
		"bad.anf:15:5: error: delete() takes 2 arguments: a map and a key",
		"bad.anf:16:12: error: unknown state 'nosuch' in element 'e'",
		"bad.anf:17:16: error: key of type string constant of length 1 does not match "
		"the key type u64 of map 'mp'",
		"bad.anf:18:5: error: the result of byte_size() is unused",
		"bad.anf:19:9: error: '*' needs integers, not string<8>",
		NULL,
	};
	(void)state;
	expect_all(
		   "element e:\n"
		   "  state:\n"
		   "    mp: Map<u64, u64>\n"
		   "    s: u64\n"
		   "  init():\n"
		   "    delete(mp, 1)\n"
		   "  req(rpc):\n"
		   "    a = get(rpc, 'id') / 0\n"
		   "    b = get(rpc, 'id') % 0\n"
		   "    c = get(rpc, 'sid') / 2\n"
		   "    d = byte_size(7)\n"
		   "    f = byte_size(rpc, 'nope')\n"
		   "    g = byte_size(rpc, name)\n"
		   "    delete(s, 1)\n"
		   "    delete(mp)\n"
		   "    delete(nosuch, 1)\n"
		   "    delete(mp, 'x')\n"
		   "    byte_size(rpc)\n"
		   "    h = get(rpc, 'name') * 2\n"
		   "    send(rpc, Down)\n"
		   "service t:\n"
		   "  method m:\n"
		   "    request:\n"
		   "      id: u64\n"
		   "      sid: i64\n"
		   "      name: string<8>\n"
		   "    client: e()\n", 13, want);
}

static void test_randomf_errors(void **state)
{
	static const char *const want[] = {
		"bad.anf:3:9: error: randomf() gives a float, and BPF has no floating point: "
		"use it only compared with a constant, as in randomf() < 0.05",
		"bad.anf:4:19: error: randomf() == p is a question of exact equality with a "
		"random number; compare with <, <=, > or >=",
		"bad.anf:5:21: error: randomf() is in [0, 1); compare it with a constant in "
		"[0, 1], not 1.5",
		"bad.anf:6:21: error: randomf() can only be compared with a constant in [0, 1]: "
		"BPF has no floating point, so the probability is scaled to an integer when "
		"the spec is compiled",
		"bad.anf:7:26: error: BPF has no floating point: a fraction like 0.5 is only "
		"allowed compared with randomf(), as in randomf() < 0.05",
		"bad.anf:8:9: error: randomf() takes no arguments, not 1",
		"bad.anf:9:21: error: randomf() is in [0, 1); compare it with a constant in "
		"[0, 1], not 2",
		"bad.anf:10:5: error: randomf() gives a float",
		NULL,
	};
	(void)state;
	expect_all("element e:\n"
		   "  req(rpc):\n"
		   "    a = randomf()\n"
		   "    b = randomf() == 0.5\n"
		   "    c = randomf() < 1.5\n"
		   "    d = randomf() < get(rpc, 'id')\n"
		   "    f = get(rpc, 'id') < 0.5\n"
		   "    g = randomf(1) < 0.5\n"
		   "    h = randomf() > 2\n"
		   "    randomf()\n"
		   "    pass\n"
		   SVC_ID_NAME, 8, want);
}

static void test_vec_errors(void **state)
{
	static const char *const want[] = {
		"bad.anf:6:14: error: Vec without a bound: BPF cannot execute iteration"
		" without a constant bound; write Vec<T, N> with N in 1..64",
		"bad.anf:7:18: error: the bound of a Vec must be 1..64 (foreach copies "
		"its body N times), not 65",
		"bad.anf:5:12: error: Vec elements must be integers or bool, not string"
		"<4>",
		"bad.anf:9:12: error: index 4 is past the end of Vec 'v' (Vec<u32, 4>)",
		"bad.anf:10:5: error: init() fills a Vec with set(v, i, value); push() "
		"belongs in req() or resp()",
		"bad.anf:12:9: error: 'v' is a Vec; read it with get(v, i), size(v) or "
		"foreach x in v:",
		"bad.anf:13:5: error: set() on Vec 'v' takes an index: set(v, i, value)"
		"; push(v, value) appends",
		"bad.anf:14:12: error: the index into Vec 'v' must be an integer, not s"
		"tring constant of length 1",
		"bad.anf:15:10: error: push() takes a Vec; 'mp' is a map, and BPF hash "
		"maps do not count their entries (keep a count in a scalar state)",
		"bad.anf:16:14: error: size() takes a Vec; 'mp' is a map, and BPF hash "
		"maps do not count their entries (keep a count in a scalar state)",
		"bad.anf:17:14: error: size() takes a Vec; for the message use byte_siz"
		"e(rpc)",
		"bad.anf:19:7: error: 'x' is bound by foreach on line 18 and cannot be "
		"assigned; change the Vec with set(v, i, value)",
		"bad.anf:20:7: error: foreach inside foreach would copy the inner body "
		"N x M times; iterate over one Vec at a time",
		"bad.anf:22:18: error: foreach takes a Vec; 'mp' is a map, and BPF hash"
		" maps do not count their entries (keep a count in a scalar state)",
		"bad.anf:24:13: error: value of type string<8> does not match the eleme"
		"nt type u32 of Vec 'v'",
		NULL,
	};
	(void)state;
	expect_all(
		   "element e:\n"
		   "  state:\n"
		   "    v: Vec<u32, 4>\n"
		   "    mp: Map<u32, u32>\n"
		   "    w: Vec<string<4>, 2>\n"
		   "    u: Vec<u8>\n"
		   "    big: Vec<u8, 65>\n"
		   "  init():\n"
		   "    set(v, 4, 1)\n"
		   "    push(v, 1)\n"
		   "  req(rpc):\n"
		   "    a = v\n"
		   "    set(v, 1)\n"
		   "    set(v, 'x', 1)\n"
		   "    push(mp, 1)\n"
		   "    b = size(mp)\n"
		   "    c = size(rpc)\n"
		   "    foreach x in v:\n"
		   "      x = 2\n"
		   "      foreach y in v:\n"
		   "        pass\n"
		   "    foreach z in mp:\n"
		   "      pass\n"
		   "    push(v, get(rpc, 'name'))\n"
		   "    pass\n"
		   SVC_ID_NAME, 15, want);
}

/* @size is honoured on maps; what cannot be honoured is a warning where
 * it is written, and a malformed @size an error */
static void test_state_annotations(void **state)
{
	static const char *const want[] = {
		"bad.anf:5:5: warning: @consistency(strong) is ignored: state 'big' is one BPF "
		"map on this host, shared by all its CPUs, and not replicated to other hosts",
		"bad.anf:5:26: warning: @combiner(LWW) is ignored: state 'big' is not "
		"replicated, so there are no copies to combine",
		"bad.anf:6:5: warning: @persistence is ignored: state 'big' is a map pinned by "
		"name, which outlives reloads of the program but not a reboot",
		"bad.anf:8:5: warning: @size is ignored on Vec 'v': the N of Vec<T, N> is its size",
		"bad.anf:10:5: warning: @size is ignored on scalar state 's': it is one slot",
		"bad.anf:12:5: error: @size takes one integer, the most entries the map holds: "
		"1..16777216",
		"bad.anf:14:14: error: duplicate @size (first on line 14)",
		"bad.anf:16:5: warning: unknown annotation @weird is ignored (known: @size, "
		"@full, @consistency, @combiner, @persistence)",
		"bad.anf:18:5: error: @full takes evict (drop the least recently used key) "
		"or refuse (answer the request state_full)",
		"bad.anf:20:19: error: duplicate @full (first on line 20)",
		"bad.anf:22:5: warning: @full is ignored on scalar state 'c': it cannot fill",
		NULL,
	};
	int n, w;
	char *out = diagnose_w(
				   "element e:\n"
				   "  state:\n"
				   "    @size(4096)\n"
				   "    small: Map<u32, u64>\n"
				   "    @consistency(strong) @combiner(LWW)\n"
				   "    @persistence(true)\n"
				   "    big: Map<u32, u64>\n"
				   "    @size(8)\n"
				   "    v: Vec<u8, 4>\n"
				   "    @size(2)\n"
				   "    s: u64\n"
				   "    @size(0)\n"
				   "    m2: Map<u32, u8>\n"
				   "    @size(4) @size(5)\n"
				   "    m3: Map<u32, u8>\n"
				   "    @weird\n"
				   "    m4: Map<u32, u8>\n"
				   "    @full(sometimes)\n"
				   "    m5: Map<u32, u8>\n"
				   "    @full(refuse) @full(evict)\n"
				   "    m6: Map<u32, u8>\n"
				   "    @full(refuse)\n"
				   "    c: u64\n"
				   "  req(rpc):\n"
				   "    pass\n"
				   "service t:\n  method m:\n    client: e()\n", &n, &w);
	(void)state;

	for (int i = 0; want[i]; i++)
		if (!strstr(out, want[i]))
			fail_msg("expected \"%s\" in:\n%s", want[i], out);
	assert_int_equal(n, 4);
	assert_int_equal(w, 7);
	free(out);
}

static void test_element_argument_errors(void **state)
{
	static const char *const want[] = {
		"bad.anf:1:40: error: 2 does not fit argument 'strict' of element 'limi"
		"t', a bool",
		"bad.anf:1:49: error: element parameters are integers or bool, not stri"
		"ng<4>",
		"bad.anf:1:60: error: parameter 'count' has the name of a state of elem"
		"ent 'limit'",
		"bad.anf:1:71: error: duplicate parameter 'max'",
		"bad.anf:5:16: error: init() runs once per element, not per chain, so i"
		"t cannot read argument 'max'",
		"bad.anf:7:5: error: 'max' is an argument of element 'limit', a constan"
		"t; copy it into a new name to change it",
		"bad.anf:14:23: error: 100000000000 does not fit argument 'max' of elem"
		"ent 'limit', a u32",
		"bad.anf:14:50: error: arguments are given by name, as in limit(max=..."
		")",
		"bad.anf:14:53: error: element 'limit' has no parameter 'bogus' (it has"
		" max, strict, name, count, max)",
		"bad.anf:14:62: error: argument 'strict' is given twice",
		"bad.anf:14:13: error: element 'limit' needs argument 'name' (string<4>"
		", no default)",
		"bad.anf:14:13: error: element 'limit' needs argument 'count' (u8, no d"
		"efault)",
		"bad.anf:14:85: error: element 'plain' takes no arguments",
		"bad.anf:16:23: error: argument 'max' of element 'limit' must be an int"
		"eger or bool constant: it is compiled into the element",
		"bad.anf:16:13: error: element 'limit' needs argument 'name' (string<4>"
		", no default)",
		"bad.anf:16:13: error: element 'limit' needs argument 'count' (u8, no d"
		"efault)",
		NULL,
	};
	(void)state;
	expect_all(
		   "element limit(max: u32, strict: bool = 2, name: string<4>, count: u8, max: u8):\n"
		   "  state:\n"
		   "    count: u64\n"
		   "  init():\n"
		   "    set(count, max)\n"
		   "  req(rpc):\n"
		   "    max = 3\n"
		   "    pass\n"
		   "element plain:\n"
		   "  req(rpc):\n"
		   "    pass\n"
		   "service t:\n"
		   "  method a:\n"
		   "    server: limit(max=100000000000, strict=true, 5, bogus=1, strict=false) -> plain(x=1)\n"
		   "  method b:\n"
		   "    server: limit(max=get(rpc, 'id'))\n"
		   , 16, want);
}

/* found by the fuzzer: a syntax error in a parameter list left a nameless
 * parameter behind, which the checker then compared by name. A mistake
 * skips only its own parameter: the others and the body are still checked. */
static void test_parameter_syntax_error(void **state)
{
	static const char *const want[] = {
		"bad.anf:1:11: error: expected a parameter name, found '-'",
		"bad.anf:1:37: error: expected ',' or ')', found 'b'",
		"bad.anf:1:47: error: a tuple type has at least 2 elements",
		"bad.anf:4:9: error: unknown name 'x'",
		"bad.anf:8:15: error: element 'e' has no parameter 'x' (it has y, a, d)",
		NULL,
	};
	(void)state;
	expect_all("element e(-x: u64, y: u8 = 1, a: u8 b: u8, c: (u8), d: u8 = 1):\n"
		   "  req(rpc):\n"
		   "    z = y + a + d\n"
		   "    w = x\n"
		   "    pass\n"
		   "service s:\n"
		   "  method m:\n"
		   "    server: e(x=1, a=2)\n", 5, want);
}

static void test_forward_errors(void **state)
{
	static const char *const want[] = {
		"bad.anf:3:5: error: forward() takes the message and an IPv4 address: "
		"forward(rpc, ip)",
		"bad.anf:5:5: error: forward() sends a request on to another host: it belongs "
		"in req()",
		"bad.anf:9:5: error: unreachable statement: the path already ended on line 8",
		"bad.anf:8:18: error: the address in forward() is an IPv4 address, a u32 "
		"(0x0a000002 is 10.0.0.2), not string<8>",
		"bad.anf:12:5: error: forward() cannot run in a client: chain of method 'm': "
		"client: elements run on the sending host before the request is sent, where it "
		"has no route to change; put 'g' in the server: chain",
		NULL,
	};
	(void)state;
	expect_all("element e:\n"
		   "  req(rpc):\n"
		   "    forward(rpc)\n"
		   "  resp(rpc):\n"
		   "    forward(rpc, 1)\n"
		   "element f:\n"
		   "  req(rpc):\n"
		   "    forward(rpc, get(rpc, 'name'))\n"
		   "    pass\n"
		   "element g:\n"
		   "  req(rpc):\n"
		   "    forward(rpc, 0x0a000001)\n"
		   "service t:\n"
		   "  method m:\n"
		   "    request:\n"
		   "      id: u64\n"
		   "      name: string<8>\n"
		   "    server: e() -> f()\n"
		   "    client: g()\n", 5, want);
}

/* ---- client: and server: chains ------------------------------------------------ */

#define THREE_ELEMENTS							\
	"element c:\n  req(rpc):\n    pass\n"				\
	"element d:\n  req(rpc):\n    pass\n"				\
	"element s:\n  req(rpc):\n    pass\n"

static struct fr_spec *load_ok(const char *text)
{
	struct fr_diag d = { .out = stderr };
	struct fr_spec *spec = fr_spec_load_string("ok.anf", text, &d);

	assert_int_equal(d.n_errors, 0);
	return spec;
}

/* The checker leaves every name resolved for the emitters: built-ins,
 * states, element parameters, and bindings numbered in their handler. */
static void test_checker_resolves_names(void **state)
{
	struct fr_spec *spec = load_ok("element e(lim: u32 = 5):\n"
				       "  state:\n"
				       "    seen: Map<u32, u64>\n"
				       "    n: u64\n"
				       "  req(rpc):\n"
				       "    k = get(rpc, 'id')\n"
				       "    match get(seen, k):\n"
				       "      Some(t) =>\n"
				       "        set(seen, k, t + 1)\n"
				       "        pass\n"
				       "      None =>\n"
				       "        k = k + lim\n"
				       "        set(n, n + hash(k))\n"
				       "        pass\n"
				       "service s:\n"
				       "  method m:\n"
				       "    request:\n"
				       "      id: u32\n"
				       "    server: e()\n");
	const struct fr_element *el = spec->elems[0];
	const struct fr_stmt *assign = el->req.body.v[0], *match = el->req.body.v[1];
	(void)state;

	assert_int_equal(assign->bind_ids[0], 1);
	assert_int_equal(assign->e->bi->form, FR_BI_GET);
	assert_null(assign->e->args[0]->st);	/* the message */

	assert_ptr_equal(match->e->bi, fr_builtin_find("get"));
	assert_ptr_equal(match->e->args[0]->st, &el->states[0]);
	assert_int_equal(match->e->args[1]->bind, 1);

	const struct fr_arm *some = &match->arms[0], *none = &match->arms[1];
	const struct fr_expr *set = some->body.v[0]->e;
	assert_int_equal(some->bind_id, 2);
	assert_ptr_equal(set->args[0]->st, &el->states[0]);
	assert_int_equal(set->args[1]->bind, 1);
	assert_int_equal(set->args[2]->args[0]->bind, 2);

	/* k is assigned again, not declared: the same binding */
	const struct fr_stmt *again = none->body.v[0];
	assert_int_equal(again->bind_ids[0], 1);
	assert_int_equal(again->e->args[0]->bind, 1);
	assert_ptr_equal(again->e->args[1]->prm, &el->params[0]);
	const struct fr_expr *sum = none->body.v[1]->e->args[1];
	assert_ptr_equal(none->body.v[1]->e->args[0]->st, &el->states[1]);
	assert_ptr_equal(sum->args[0]->st, &el->states[1]);
	assert_int_equal(sum->args[0]->bind, 0);
	assert_ptr_equal(sum->args[1]->bi, fr_builtin_find("hash"));
	/* e() gives no lim: its chain entry holds the default */
	assert_ptr_equal(spec->svc->methods[0].chain[0].pvals[0], el->params[0].deflt);
	fr_spec_free(spec);
}

static void expect_chain(const struct fr_method *m, const char *const *names,
			 const enum fr_side *sides, const unsigned *lines, unsigned n)
{
	assert_int_equal(m->nchain, n);
	for (unsigned i = 0; i < n; i++) {
		assert_string_equal(m->chain[i].name, names[i]);
		assert_int_equal(m->chain[i].side, sides[i]);
		assert_int_equal(m->chain[i].loc.line, lines[i]);
		assert_non_null(m->chain[i].elem);
	}
}

/* client: entries come first in m->chain whichever line is written first,
 * each side in its `->` order: the emitters and the layout rely on it. */
static void test_client_entries_first(void **state)
{
	static const char *const names[] = { "c", "d", "s" };
	static const enum fr_side sides[] = { FR_CLIENT, FR_CLIENT, FR_SERVER };
	static const unsigned server_first[] = { 13, 13, 12 };
	static const unsigned client_first[] = { 12, 12, 13 };
	(void)state;

	struct fr_spec *spec = load_ok(THREE_ELEMENTS
				       "service t:\n"
				       "  method m:\n"
				       "    server: s()\n"
				       "    client: c() -> d()\n");
	expect_chain(&spec->svc->methods[0], names, sides, server_first, 3);
	assert_int_equal(spec->svc->methods[0].side_loc[FR_CLIENT].line, 13);
	assert_int_equal(spec->svc->methods[0].side_loc[FR_SERVER].line, 12);
	fr_spec_free(spec);

	spec = load_ok(THREE_ELEMENTS
		       "service t:\n"
		       "  method m:\n"
		       "    client: c() -> d()\n"
		       "    server: s()\n");
	expect_chain(&spec->svc->methods[0], names, sides, client_first, 3);
	fr_spec_free(spec);

	/* one side alone keeps its order and its side */
	spec = load_ok(THREE_ELEMENTS
		       "service t:\n"
		       "  method m:\n"
		       "    server: d() -> c()\n");
	assert_int_equal(spec->svc->methods[0].nchain, 2);
	assert_string_equal(spec->svc->methods[0].chain[0].name, "d");
	assert_int_equal(spec->svc->methods[0].chain[0].side, FR_SERVER);
	assert_int_equal(spec->svc->methods[0].chain[1].side, FR_SERVER);
	assert_int_equal(spec->svc->methods[0].side_loc[FR_CLIENT].line, 0);
	fr_spec_free(spec);
}

static void test_chain_side_errors(void **state)
{
	(void)state;
	expect_error(THREE_ELEMENTS
		     "service t:\n"
		     "  method m:\n"
		     "    client: c()\n"
		     "    client: d()\n",
		     "bad.anf:13:5: error: method 'm' has more than one client: chain");
	expect_error(THREE_ELEMENTS
		     "service t:\n"
		     "  method m:\n"
		     "    server: c()\n"
		     "    client: d()\n"
		     "    server: s()\n",
		     "bad.anf:14:5: error: method 'm' has more than one server: chain");
	/* one element cannot run on both hosts of one method */
	expect_error(THREE_ELEMENTS
		     "service t:\n"
		     "  method m:\n"
		     "    client: c()\n"
		     "    server: s() -> c()\n",
		     "bad.anf:13:20: error: element 'c' appears twice in the chains of method 'm'");
	/* the later line is the one in error, though client: entries go first */
	expect_error(THREE_ELEMENTS
		     "service t:\n"
		     "  method m:\n"
		     "    server: s() -> c()\n"
		     "    client: c()\n",
		     "bad.anf:13:13: error: element 'c' appears twice in the chains of method 'm'");
	expect_error(THREE_ELEMENTS
		     "service t:\n"
		     "  method m:\n"
		     "    client: c() -> d() -> c()\n",
		     "bad.anf:12:27: error: element 'c' appears twice in the chains of method 'm'");
	/* but another method may put it on the other side */
	struct fr_spec *spec = load_ok(THREE_ELEMENTS
				       "service t:\n"
				       "  method m:\n"
				       "    client: c()\n"
				       "  method n:\n"
				       "    server: c()\n");
	assert_int_equal(spec->svc->methods[0].chain[0].side, FR_CLIENT);
	assert_int_equal(spec->svc->methods[1].chain[0].side, FR_SERVER);
	assert_ptr_equal(spec->svc->methods[0].chain[0].elem, spec->svc->methods[1].chain[0].elem);
	fr_spec_free(spec);
}

static void test_names_that_collide_in_c(void **state)
{
	(void)state;
	expect_error("element e:\n  req(rpc):\n    pass\n"
		     "service s:\n"
		     "  method a-b:\n"
		     "    request:\n"
		     "      x-y: u8\n"
		     "      x_y: u8\n"
		     "    client: e()\n"
		     "  method A_b:\n"
		     "    client: e()\n",
		     "bad.anf:8:7: error: field 'x_y' and field 'x-y' on line 7 are the same "
		     "name in C\n");
	expect_error("element e:\n  req(rpc):\n    pass\n"
		     "service s:\n"
		     "  method a-b:\n"
		     "    client: e()\n"
		     "  method A_b:\n"
		     "    client: e()\n",
		     "bad.anf:7:10: error: method 'A_b' and method 'a-b' on line 5 are the "
		     "same name in C\n");
	expect_error("element a-b:\n  state:\n    c: u8\n  req(rpc):\n    pass\n"
		     "element a:\n  state:\n    b_c: u8\n  req(rpc):\n    pass\n"
		     "service s:\n  method m:\n    client: a-b() -> a()\n",
		     "bad.anf:8:5: error: state 'b_c' of element 'a' and state 'c' of element "
		     "'a-b' would share the map fr_a_b_c\n");
	expect_error("element y-z:\n  req(rpc):\n    pass\n"
		     "element z:\n  req(rpc):\n    pass\n"
		     "service s:\n  method x:\n    client: y-z()\n"
		     "  method x-y:\n    client: z()\n",
		     "bad.anf:11:13: error: element 'z' in method 'x-y' and element 'y-z' in "
		     "method 'x' would share the function fr_anf_x_y_z_req\n");
	expect_error("element e:\n  req(rpc):\n    pass\n"
		     "service s:\n  method m:\n    request:\n"
		     "      abcdefghijabcdefghijabcdefghijab: u8\n    client: e()\n",
		     "bad.anf:7:7: error: field name 'abcdefghijabcdefghijabcdefghija...' is "
		     "longer than 31 characters\n");
}

/* Regression: err('a\0b') and err('a\0c') both became error "a": the
 * message is a C string everywhere after the lexer. */
static void test_err_message_with_nul(void **state)
{
	(void)state;
	expect_error("element e:\n  req(rpc):\n    send(err('a\\0b'), Up)\n",
		     "bad.anf:3:14: error: an err() message cannot contain \\0\n");
}

static void test_tuple_value_errors(void **state)
{
	static const char *const want[] = {
		"bad.anf:6:19: error: a tuple type has at least 2 elements",
		"bad.anf:5:25: error: tuple elements must be integers or bool, not stri"
		"ng<4>",
		"bad.anf:9:7: error: the value is a tuple (u64, u32): take it apart wit"
		"h Some((a, b))",
		"bad.anf:13:7: error: Some((...)) names 3 values, but the tuple (u64, u"
		"32) has 2",
		"bad.anf:16:11: error: Some((...)) takes a tuple apart; the value here "
		"is u64: write Some(x)",
		"bad.anf:18:23: error: map 'm' holds tuples (u64, u32): store one, as i"
		"n set(m, key, (x, y))",
		"bad.anf:20:23: error: map 'm' holds tuples (u64, u32): store one, as i"
		"n set(m, key, (x, y))",
		"bad.anf:19:27: error: element 2 of the tuple is u32, not string<8>",
		NULL,
	};
	(void)state;
	expect_all(
		   "element e:\n"
		   "  state:\n"
		   "    m: Map<u64, (u64, u32)>\n"
		   "    s: Map<u64, u64>\n"
		   "    bad: Map<u64, (u64, string<4>)>\n"
		   "    one: Map<u64, (u64)>\n"
		   "  req(rpc):\n"
		   "    match get(m, 1):\n"
		   "      Some(x) => pass\n"
		   "      None => pass\n"
		   "  resp(rpc):\n"
		   "    match get(m, 1):\n"
		   "      Some((a, b, c)) => pass\n"
		   "      None =>\n"
		   "        match get(s, 1):\n"
		   "          Some((p, q)) => pass\n"
		   "          None =>\n"
		   "            set(m, 1, 5)\n"
		   "            set(m, 2, (1, get(rpc, 'name')))\n"
		   "            set(m, 3, (1, 2, 3))\n"
		   "            pass\n"
		   "service t:\n"
		   "  method m:\n"
		   "    request:\n"
		   "      id: u64\n"
		   "    response:\n"
		   "      name: string<8>\n"
		   "    client: e()\n"
		   , 8, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv_parses),
		cmocka_unit_test(test_spec_info),
		cmocka_unit_test(test_good_inline_spec),
		cmocka_unit_test(test_unknown_rpc_field),
		cmocka_unit_test(test_unknown_element),
		cmocka_unit_test(test_unknown_state),
		cmocka_unit_test(test_key_of_wrong_type),
		cmocka_unit_test(test_transport_errors),
		cmocka_unit_test(test_duplicates_and_types),
		cmocka_unit_test(test_syntax_errors_recover),
		cmocka_unit_test(test_imports_relative_to_importer),
		cmocka_unit_test(test_import_path),
		cmocka_unit_test(test_missing_send_is_an_error),
		cmocka_unit_test(test_send_after_match_is_fine),
		cmocka_unit_test(test_match_without_default_warns),
		cmocka_unit_test(test_unreachable_arms_and_statements),
		cmocka_unit_test(test_what_bpf_cannot_run),
		cmocka_unit_test(test_operator_precedence),
		cmocka_unit_test(test_builtin_and_operand_errors),
		cmocka_unit_test(test_builtin_argument_types),
		cmocka_unit_test(test_builtins_doc_and_dict),
		cmocka_unit_test(test_comparisons_do_not_chain),
		cmocka_unit_test(test_checker_resolves_names),
		cmocka_unit_test(test_expression_depth_is_bounded),
		cmocka_unit_test(test_names_that_collide_in_c),
		cmocka_unit_test(test_err_message_with_nul),
		cmocka_unit_test(test_set_field_errors),
		cmocka_unit_test(test_tuple_value_errors),
		cmocka_unit_test(test_local_errors),
		cmocka_unit_test(test_local_typed_by_field),
		cmocka_unit_test(test_arith_delete_byte_size_errors),
		cmocka_unit_test(test_randomf_errors),
		cmocka_unit_test(test_vec_errors),
		cmocka_unit_test(test_state_annotations),
		cmocka_unit_test(test_element_argument_errors),
		cmocka_unit_test(test_forward_errors),
		cmocka_unit_test(test_client_entries_first),
		cmocka_unit_test(test_chain_side_errors),
		cmocka_unit_test(test_parameter_syntax_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

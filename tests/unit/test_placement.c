/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_placement.c - where the compiler places the elements of a chain:
 * line (codegen/place.c): each rule, each annotation, the order rule, an
 * explicit side winning, the errors, and that a placed spec compiles to
 * exactly what the same spec with client: and server: lines gives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "spec.h"
#include "spec_path.h"

/* Runs the front end on text named specs/t.anf, so that imports of the
 * element library resolve; out gets the diagnostics. */
static struct fr_spec *load(const char *text, char **out, int *nerr)
{
	size_t len = 0;
	struct fr_diag d = { .out = open_memstream(out, &len) };
	struct fr_spec *spec = fr_spec_load_string(spec_path("t.anf"), text, &d);

	fclose(d.out);
	*nerr = d.n_errors;
	return spec;
}

/* flatrpc-gen --placement of text, which must have no errors */
static char *placement(const char *text)
{
	char *diag, *out = NULL;
	size_t len = 0;
	int n;
	struct fr_spec *spec = load(text, &diag, &n);

	if (n)
		fail_msg("unexpected errors:\n%s", diag);
	free(diag);
	FILE *f = open_memstream(&out, &len);
	fr_print_placement(spec, f);
	fclose(f);
	fr_spec_free(spec);
	return out;
}

static void expect_placement(const char *text, const char *want)
{
	char *got = placement(text);

	if (!strstr(got, want))
		fail_msg("expected \"%s\" in:\n%s", want, got);
	free(got);
}

static void expect_error(const char *text, const char *want)
{
	char *out;
	int n;

	fr_spec_free(load(text, &out, &n));
	if (!strstr(out, want))
		fail_msg("expected \"%s\" in:\n%s", want, out);
	assert_true(n >= 1);
	free(out);
}

/* Stateless, cannot refuse, writes nothing: only the bytes decide. */
#define PEEK(name, field)						\
	"element " name ":\n"						\
	"  req(rpc):\n"							\
	"    match get(rpc, '" field "') == 0:\n"			\
	"      true => send(rpc, Down)\n"				\
	"      false => send(rpc, Down)\n"				\
	"  resp(rpc):\n"						\
	"    send(rpc, Up)\n"

#define REFUSER								\
	"element guard:\n"						\
	"  req(rpc):\n"							\
	"    match get(rpc, 'sid') == 0:\n"				\
	"      true => send(err('no-session'), Up)\n"			\
	"      false => send(rpc, Down)\n"				\
	"  resp(rpc):\n"						\
	"    send(rpc, Up)\n"

#define COUNTER								\
	"element counter:\n"						\
	"  state:\n"							\
	"    seen: Map<u64, u64>\n"					\
	"    total: u64\n"						\
	"  req(rpc):\n"							\
	"    set(total, total + 1)\n"					\
	"    send(rpc, Down)\n"						\
	"  resp(rpc):\n"						\
	"    send(rpc, Up)\n"

/* a service whose one method has the given chain line(s) */
#define SVC(chain)							\
	"service s:\n"							\
	"  metadata:\n"							\
	"    sid: u64\n"						\
	"  method m:\n"							\
	"    request:\n"						\
	"      key: u32\n"						\
	"    response:\n"						\
	"      ok: bool\n"						\
	chain

/* the guard, placed by chain: */
#define GUARDED REFUSER SVC("    chain: guard()\n")

static void test_state_rule(void **state)
{
	(void)state;
	expect_placement(COUNTER SVC("    chain: counter()\n"),
			 "m: counter -> server (state shared across clients: seen, total)\n");
}

static void test_policy_rules(void **state)
{
	(void)state;
	expect_placement(REFUSER SVC("    chain: guard()\n"),
			 "m: guard -> server (can refuse the caller with err('no-session'): "
			 "policy against the caller)\n");
	expect_placement("element stamp:\n"
			 "  req(rpc):\n"
			 "    set(rpc, 'key', 7)\n"
			 "    send(rpc, Down)\n"
			 "  resp(rpc):\n"
			 "    send(rpc, Up)\n"
			 SVC("    chain: stamp()\n"),
			 "m: stamp -> server (rewrites request field 'key': the server must not "
			 "take the caller's word for it)\n");
	/* forward() decides before the load balancer's state does */
	expect_placement("import \"elements/load-balancer.anf\"\n"
			 "service s:\n"
			 "  method m:\n"
			 "    request:\n"
			 "      key: string<8>\n"
			 "    response:\n"
			 "      ok: bool\n"
			 "    chain: load-balancer()\n",
			 "m: load-balancer -> server (forward() changes the route");
}

static void test_bytes_rule(void **state)
{
	(void)state;
	/* reads metadata nothing on the server reads: it stays home */
	expect_placement(PEEK("peek", "sid") SVC("    chain: peek()\n"),
			 "m: peek -> client (no state, no policy, and 8 bytes less on the "
			 "wire: strips sid)\n");
	/* a request field goes to the server anyway: nothing to save */
	expect_placement(PEEK("peek", "key") SVC("    chain: peek()\n"),
			 "m: peek -> server (saves no bytes on the client");
	/* the guard reads sid at the server, so peek would strip nothing */
	expect_placement(PEEK("peek", "sid") REFUSER SVC("    chain: peek() -> guard()\n"),
			 "m: peek -> server (saves no bytes on the client");
}

static void test_annotations(void **state)
{
	(void)state;
	expect_placement("@place(server)\n" PEEK("peek", "sid") SVC("    chain: peek()\n"),
			 "m: peek -> server (@place(server))\n");
	expect_placement("@enforce\n" PEEK("peek", "sid") SVC("    chain: peek()\n"),
			 "m: peek -> server (@enforce: policy against the caller)\n");
	/* the author says the state is per caller: it may stay on the client */
	expect_placement("@place(client)\n" COUNTER SVC("    chain: counter()\n"),
			 "m: counter -> client (@place(client))\n");
	/* on one line with the element, as a state's may be */
	expect_placement("@place(client) " GUARDED,
			 "m: guard -> client (@place(client))\n");
}

static void test_order_rule(void **state)
{
	(void)state;
	/* peek alone would go to the client, but it runs after the guard */
	expect_placement(PEEK("peek", "sid") REFUSER SVC("    chain: guard() -> peek()\n"),
			 "m: guard -> server (can refuse the caller with err('no-session'): "
			 "policy against the caller)\n"
			 "m: peek -> server (after guard, which runs on the server: the client "
			 "part runs first)\n");
	expect_error("@place(client)\n" PEEK("peek", "sid") REFUSER
		     SVC("    chain: guard() -> peek()\n"),
		     "t.anf:24:23: error: element 'peek' is @place(client) but comes after "
		     "'guard', which runs on the server");
}

/* text loads with a warning that contains want, and no error */
static void expect_warning(const char *text, const char *want)
{
	char *out;
	int n;

	fr_spec_free(load(text, &out, &n));
	if (n || !strstr(out, want))
		fail_msg("expected only the warning \"%s\" in:\n%s", want, out);
	free(out);
}

static void test_explicit_side_wins(void **state)
{
	(void)state;
	expect_placement("@enforce\n" REFUSER SVC("    client: guard()\n"),
			 "m: guard -> client (explicit client:)\n");
	expect_placement(PEEK("peek", "sid") SVC("    server: peek()\n"),
			 "m: peek -> server (explicit server:)\n");
	/* against the author's word: said, not refused */
	expect_warning("@enforce\n" REFUSER SVC("    client: guard()\n"),
		       "t.anf:17:13: warning: element 'guard' is @enforce, but method 'm' puts "
		       "it in client:; the explicit side wins");
	expect_warning("@place(server)\n" PEEK("peek", "sid") SVC("    client: peek()\n"),
		       "element 'peek' is @place(server), but method 'm' puts it in client:");
	expect_warning("@place(client)\n" PEEK("peek", "sid") SVC("    server: peek()\n"),
		       "element 'peek' is @place(client), but method 'm' puts it in server:");
}

static void test_errors(void **state)
{
	static const struct { const char *text, *want; } cases[] = {
		{ REFUSER SVC("    chain: guard()\n    server: guard()\n"),
		  "t.anf:16:5: error: method 'm' has both chain: and server: (line 17); "
		  "write either chain:" },
		{ REFUSER SVC("    chain: guard()\n    chain: guard()\n"),
		  "t.anf:17:5: error: method 'm' has more than one chain: chain" },
		{ "@place(network)\n" GUARDED,
		  "t.anf:1:1: error: @place(network) is not built yet" },
		{ "@place(home)\n" GUARDED,
		  "t.anf:1:1: error: @place takes client or server" },
		{ "@enforce(strict)\n" GUARDED,
		  "t.anf:1:1: error: @enforce takes no arguments" },
		{ "@enforced\n" GUARDED,
		  "t.anf:1:1: error: unknown element annotation @enforced" },
		{ "@place(server)\n@place(server)\n" GUARDED,
		  "t.anf:2:1: error: duplicate @place (first on line 1)" },
		{ "@enforce\n@place(client)\n" GUARDED,
		  "t.anf:2:1: error: element 'guard' cannot be @place(client) and @enforce" },
		{ "@enforce\n" SVC("    chain: guard()\n"),
		  "t.anf:2:1: error: an annotation here belongs to an element" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(cases[i].text, cases[i].want);
}

/* Everything the emitters write for spec (--proto too), and its layout text. */
static char *output_of(const char *name, const char *text)
{
	struct fr_diag d = { .out = stderr };
	struct fr_spec *spec = fr_spec_load_string(name, text, &d);
	struct fr_buf b = { 0 };
	char *lay = NULL;
	size_t len = 0;

	assert_int_equal(d.n_errors, 0);
	fr_emit_abi(spec, spec->hash, &b);
	fr_emit_bpf(spec, &b);
	fr_emit_init(spec, &b);
	fr_emit_stubs_h(spec, &b);
	fr_emit_stubs_c(spec, &b);
	assert_int_equal(fr_emit_proto(spec, &b, &d), 0);
	FILE *f = open_memstream(&lay, &len);
	fr_print_layout(spec, f);
	fclose(f);
	fr_buf_put(&b, lay, len);
	free(lay);
	fr_spec_free(spec);
	return b.p;
}

/* s with the first `from` replaced by `to`; the caller frees it */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
	char *r = malloc(n);

	assert_non_null(at);
	snprintf(r, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return r;
}

static void expect_same_output(const char *name, const char *placed, const char *explicit_)
{
	char *a = output_of(name, placed), *b = output_of(name, explicit_);

	assert_string_equal(a, b);
	free(a);
	free(b);
}

static void test_same_output_as_explicit(void **state)
{
	struct fr_buf text = { 0 };
	(void)state;

	/* the example spec: one element on each side, and both on the server */
	assert_int_equal(fr_read_file(spec_path("placed.anf"), &text), 0);
	char *step = replace(text.p, "chain: local-sessions() -> firewall()",
			     "client: local-sessions()\n    server: firewall()");
	char *explicit_ = replace(step, "chain: firewall() -> session-tracker()",
				  "server: firewall() -> session-tracker()");
	assert_null(strstr(explicit_, "    chain:"));
	expect_same_output(spec_path("placed.anf"), text.p, explicit_);
	/* and the check can tell: with local-sessions on the server too,
	 * session_id crosses the wire */
	char *all_server = replace(explicit_, "client: local-sessions()\n    server: firewall()",
				   "server: local-sessions() -> firewall()");
	char *a = output_of(spec_path("placed.anf"), text.p);
	char *b = output_of(spec_path("placed.anf"), all_server);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
	free(all_server);
	free(explicit_);
	free(step);
	fr_buf_free(&text);
	/* a client placement by the bytes rule, which strips sid */
	expect_same_output("t.anf", PEEK("peek", "sid") REFUSER COUNTER
			   SVC("    chain: peek() -> counter()\n"),
			   PEEK("peek", "sid") REFUSER COUNTER
			   SVC("    client: peek()\n    server: counter()\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_rule),
		cmocka_unit_test(test_policy_rules),
		cmocka_unit_test(test_bytes_rule),
		cmocka_unit_test(test_annotations),
		cmocka_unit_test(test_order_rule),
		cmocka_unit_test(test_explicit_side_wins),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_same_output_as_explicit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_emit.c - what the BPF and init emitters must write for each
 * construct, and regressions the fuzzer (or review) found in the emitters.
 * Whether the verifier accepts the code is shown by loading it, not here;
 * these tests pin the parts of the text that make it verifiable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flatrpc_abi.h"
#include "spec.h"
#include "spec_path.h"

static struct fr_spec *load(const char *text, int follow_imports)
{
	struct fr_diag d = { .out = stderr };
	struct fr_spec *spec = fr_spec_load_buf("t.anf", text, strlen(text), follow_imports, &d);

	assert_int_equal(d.n_errors, 0);
	return spec;
}

static char *bpf_of(const struct fr_spec *spec)
{
	struct fr_buf b = { 0 };

	fr_emit_bpf(spec, &b);
	return b.p;
}

static char *init_of(const struct fr_spec *spec)
{
	struct fr_buf b = { 0 };

	fr_emit_init(spec, &b);
	return b.p;
}

static void expect_in(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("expected \"%s\" in:\n%s", want, text);
}

/* kern/anf_rt.h, the helpers every anf.bpf.h includes; the caller frees it */
static char *anf_rt(void)
{
	struct fr_buf b = { 0 };

	assert_int_equal(fr_read_file(spec_path("../kern/anf_rt.h"), &b), 0);
	return b.p;
}

static const char FEATURES[] =
	"element limiter:\n"
	"  state:\n"
	"    count: u64\n"
	"    small: u8\n"
	"    seen: Map<u64, u32>\n"
	"  init():\n"
	"    set(count, 5)\n"
	"  req(rpc):\n"
	"    set(count, count + 1)\n"
	"    set(small, 7)\n"
	"    match get(seen, hash(get(rpc, 'id'))):\n"
	"      Some(t) =>\n"
	"        match time_diff(current_time(), t) < 1000 and count > 3:\n"
	"          true => send(err('too-fast'), Up)\n"
	"          false => pass\n"
	"      None =>\n"
	"        set(seen, hash(get(rpc, 'id')), min(max(get(rpc, 'n'), 10), 100))\n"
	"    match randomu() >= 5 or get(rpc, 'n') != 2:\n"
	"      true => pass\n"
	"      _ => send(err('odd'), Up)\n"
	"  resp(rpc):\n"
	"    match hash(get(rpc, 'tag')) == 0:\n"
	"      false => pass\n"
	"    pass\n"
	"service f:\n"
	"  method m:\n"
	"    request:\n"
	"      id: u64\n"
	"      n: u32\n"
	"    response:\n"
	"      tag: string<2>\n"
	"    client: limiter()\n";

static void test_scalar_state(void **state)
{
	struct fr_spec *spec = load(FEATURES, 0);
	char *c = bpf_of(spec);
	struct fr_buf init = { 0 };
	(void)state;

	/* one-slot arrays, pinned like the maps */
	expect_in(c, "/* limiter.count: u64 */\nstruct {\n\t__uint(type, BPF_MAP_TYPE_ARRAY);\n"
		  "\t__uint(max_entries, 1);\n\t__type(key, __u32);\n\t__type(value, __u64);\n"
		  "\t__uint(pinning, LIBBPF_PIN_BY_NAME);\n} fr_limiter_count SEC(\".maps\");\n");
	expect_in(c, "\t__type(value, __u8);\n\t__uint(pinning, LIBBPF_PIN_BY_NAME);\n"
		  "} fr_limiter_small SEC(\".maps\");\n");
	/* count + 1 from many CPUs: atomic, and only through a checked pointer */
	expect_in(c, "__u64 *p0 = bpf_map_lookup_elem(&fr_limiter_count, &z0);\n\n"
		  "\t\tif (p0)\n\t\t\t__sync_fetch_and_add(p0, 1ULL);\n");
	/* a u8 cannot take an atomic add: a plain store */
	expect_in(c, "__u8 *p1 = bpf_map_lookup_elem(&fr_limiter_small, &z1);\n\n"
		  "\t\tif (p1)\n\t\t\t*p1 = 7ULL;\n");
	/* a read defaults to 0 when the lookup fails */
	expect_in(c, "= p");
	expect_in(c, " ? *p");

	fr_emit_init(spec, &init);
	expect_in(init.p, "/* limiter.init(): count[0] = 5 */\n"
		  "static const __u8 flatrpc_init_0_key[4] __attribute__((unused)) = {\n"
		  "\t0x00, 0x00, 0x00, 0x00\n};\n"
		  "static const __u8 flatrpc_init_0_value[8] __attribute__((unused)) = {\n"
		  "\t0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00\n};\n");
	expect_in(init.p, "{ \"fr_limiter_count\", flatrpc_init_0_key, 4, "
		  "flatrpc_init_0_value, 8 },");
	fr_buf_free(&init);
	free(c);
	fr_spec_free(spec);
}

static void test_builtins_and_operators(void **state)
{
	struct fr_spec *spec = load(FEATURES, 0);
	char *c = bpf_of(spec);
	(void)state;

	expect_in(c, " = bpf_ktime_get_ns();\n");
	expect_in(c, "__u32 t");
	expect_in(c, " = bpf_get_prandom_u32();\n");
	/* time_diff saturates at 0 instead of wrapping */
	expect_in(c, " > (*v");
	expect_in(c, ") ? t");
	expect_in(c, " - (*v");
	expect_in(c, ") : 0;\n");
	/* hash of an integer: multiply-xorshift; of a string<2>: FNV-1a unrolled */
	expect_in(c, "(__u64)fr_le64(body + 0) * 0x9e3779b97f4a7c15ULL;\n");
	expect_in(c, "(const unsigned char *)((const char *)body + 0))[1]) * 0x100000001b3ULL;\n");
	assert_null(strstr(c, "((const char *)body + 0))[2]"));
	/* min/max on a u32 field keep its width */
	expect_in(c, "__u32 t");
	expect_in(c, "(__u64)fr_le32(body + 8) > (__u64)10ULL ? fr_le32(body + 8) : 10ULL;\n");
	expect_in(c, " < (__u64)100ULL ? t");
	/* comparisons and connectives produce 0/1 */
	expect_in(c, "__u8 t");
	expect_in(c, " < (__u64)1000ULL;\n");
	expect_in(c, " >= (__u64)5ULL;\n");
	expect_in(c, "(__u64)fr_le32(body + 8) != (__u64)2ULL;\n");
	expect_in(c, " && t");
	expect_in(c, " || t");
	/* match on a bool: one branch per constant, pass continues the chain */
	expect_in(c, " == 1ULL) {\n");
	expect_in(c, " == 0ULL) {\n");
	expect_in(c, "return 0;\t/* pass */\n");
	/* no loops anywhere: the verifier on 6.1 has no bpf_for */
	assert_null(strstr(c, "for ("));
	assert_null(strstr(c, "while"));
	free(c);
	fr_spec_free(spec);
}

/* Regression: fr_error_ident() decided each code by recursing on every
 * earlier one, time 2^n in the number of distinct err() messages (26
 * took ten seconds; the ABI allows 127). With 100 codes that would never
 * end, which the runner's timeout reports; no clock here, as a loaded
 * machine must not fail a test. It must still number the colliding
 * identifiers. */
static void test_many_error_codes(void **state)
{
	struct fr_buf t = { 0 };
	char id[160];
	(void)state;

	fr_buf_printf(&t, "element e:\n  req(rpc):\n    match get(rpc, 'x'):\n"
		      "      0 => send(err('a b'), Up)\n      1 => send(err('a-b'), Up)\n"
		      "      2 => send(err('a b 2'), Up)\n");
	for (int i = 3; i < 100; i++)
		fr_buf_printf(&t, "      %d => send(err('e%d'), Up)\n", i, i);
	fr_buf_printf(&t, "      _ => pass\nservice s:\n  method m:\n    request:\n"
		      "      x: u32\n    client: e()\n");

	struct fr_spec *spec = load(t.p, 0);
	char *c = bpf_of(spec);

	assert_int_equal(spec->nerrs, 100);
	assert_string_equal(fr_error_ident(spec, 1, id, sizeof(id)), "S_ERR_A_B");
	assert_string_equal(fr_error_ident(spec, 2, id, sizeof(id)), "S_ERR_A_B_2");
	/* its base equals code 2's final identifier: numbered as well */
	assert_string_equal(fr_error_ident(spec, 3, id, sizeof(id)), "S_ERR_A_B_2_3");
	assert_string_equal(fr_error_ident(spec, 100, id, sizeof(id)), "S_ERR_E99");
	expect_in(c, "return S_ERR_E99;\n");
	free(c);
	fr_spec_free(spec);
	fr_buf_free(&t);
}

/* method_id() is what lets one element keep per-method state: each
 * instance must get its own method's id, and the counter must stay an
 * atomic in-place add although the key is a call, not a field. */
static void test_method_id(void **state)
{
	static const char text[] =
		"element counter:\n"
		"  state:\n"
		"    hits: Map<u32, u64>\n"
		"  req(rpc):\n"
		"    match get(hits, method_id()):\n"
		"      Some(n) => set(hits, method_id(), n + 1)\n"
		"      None => set(hits, method_id(), 1)\n"
		"    pass\n"
		"service s:\n"
		"  method first:\n"
		"    client: counter()\n"
		"  method second:\n"
		"    client: counter()\n";
	struct fr_spec *spec = load(text, 0);
	char *c = bpf_of(spec);
	(void)state;

	char *first = strstr(c, "fr_anf_first_counter_req(");
	char *second = strstr(c, "fr_anf_second_counter_req(");
	assert_non_null(first);
	assert_non_null(second);
	assert_true(first < second);
	char *id_first = strstr(first, " = S_FIRST;\n");
	char *id_second = strstr(first, " = S_SECOND;\n");
	assert_non_null(id_first);
	assert_non_null(id_second);
	/* each id lands inside its own instance */
	assert_true(id_first < second && id_second > second);
	expect_in(first, " = S_FIRST;\n\t\t__u32 k0 = t");
	expect_in(first, "__sync_fetch_and_add(v0, 1ULL);\n");
	free(c);
	fr_spec_free(spec);
}

/* The fuzzer does not follow imports; the whole kv spec in one buffer must
 * compile there exactly as from files, or the seed would be useless. */
/* set(rpc, ...): a little-endian store at the field's fixed offset, then
 * the UDP checksum zeroed at its constant distance before the body. */
static void test_set_field(void **state)
{
	static const char text[] =
		"element rw:\n"
		"  state:\n"
		"    tiers: Map<u32, u16>\n"
		"  req(rpc):\n"
		"    match get(tiers, get(rpc, 'id')):\n"
		"      Some(t) =>\n"
		"        set(rpc, 'prio', t)\n"
		"      None =>\n"
		"        set(rpc, 'plan', 'gold')\n"
		"    set(rpc, 'b', true)\n"
		"    set(rpc, 'big', get(rpc, 'big') + 1)\n"
		"    set(rpc, 's', 0xfffffffffffffffe)\n"
		"    send(rpc, Down)\n"
		"  resp(rpc):\n"
		"    set(rpc, 'n', 7)\n"
		"    send(rpc, Up)\n"
		"service f:\n"
		"  method m:\n"
		"    request:\n"
		"      plan: string<6>\n"
		"      data: bytes<4>\n"
		"      b: bool\n"
		"      prio: u16\n"
		"      id: u32\n"
		"      big: u64\n"
		"      s: i64\n"
		"    response:\n"
		"      n: u8\n"
		"    client: rw()\n";
	struct fr_spec *spec = load(text, 0);
	const struct fr_layout *l = &spec->svc->methods[0].lreq;
	char *c = bpf_of(spec);
	(void)state;

	/* written fields take fixed slots like read ones: 8, 4, 2, then bytes */
	assert_int_equal(fr_layout_find(l, "big")->off, 0);
	assert_int_equal(fr_layout_find(l, "s")->off, 8);
	assert_int_equal(fr_layout_find(l, "id")->off, 16);
	assert_int_equal(fr_layout_find(l, "prio")->off, 20);
	assert_int_equal(fr_layout_find(l, "plan")->off, 22);
	assert_int_equal(fr_layout_find(l, "plan")->fixed, 1);
	assert_int_equal(fr_layout_find(l, "b")->off, 28);
	assert_int_equal(l->fixed, 29);

	/* the kernel program zeroes the UDP checksum: it has the header */
	char *rt = anf_rt();
	expect_in(c, "\n#include \"anf_rt.h\"\n");
	expect_in(rt, "static __always_inline void fr_note_rewrite(void)\n{\n"
		  "\tstruct fr_anf_out *o = fr_anf_out();\n\n\tif (o)\n\t\to->rewrote = 1;\n}\n");
	expect_in(rt, "\tr = o->rewrote;\n\to->rewrote = 0;\n\treturn r;\n");
	free(rt);
	expect_in(c, "\t\t\t\tfr_st16(body + 20, (*v0));\n\t\t\t\tfr_note_rewrite();\n");
	/* zero-padded to the whole slot, so no old byte survives */
	expect_in(c, "\t\t\t\t__builtin_memcpy(body + 22, \"\\x67\\x6f\\x6c\\x64\\x00\\x00\", 6);\n"
		  "\t\t\t\tfr_note_rewrite();\n");
	expect_in(c, "*(__u8 *)(body + 28) = (1) != 0;\n\t\tfr_note_rewrite();\n");
	expect_in(c, " = fr_le64(body + 0) + 1ULL;\n\t\tfr_st64(body + 0, t");
	expect_in(c, "fr_st64(body + 8, 18446744073709551614ULL);\n");
	/* in resp() too, at the response's own offsets */
	expect_in(c, "fr_anf_m_rw_resp(void *body, void *data_end)\n{\n"
		  "\tif (body + F_M_RESP_FIXED > data_end)\n\t\treturn 0;\n"
		  "\t{\n\t\t*(__u8 *)(body + 0) = (__u8)(7ULL);\n\t\tfr_note_rewrite();\n");
	free(c);
	fr_spec_free(spec);
}


/* Locals are C variables declared at their first assignment; a tuple is
 * read in full before any name is written, so (a, b) = (b, a) swaps. */
static void test_locals(void **state)
{
	struct fr_spec *spec = load("element e:\n"
				    "  req(rpc):\n"
				    "    a = get(rpc, 'id')\n"
				    "    (lo, hi) = (a, a + 1)\n"
				    "    (lo, hi) = (hi, lo)\n"
				    "    match lo > hi:\n"
				    "      true =>\n"
				    "        a = 7\n"
				    "        send(err('swapped'), Up)\n"
				    "      false => pass\n"
				    "service t:\n"
				    "  method m:\n"
				    "    request:\n"
				    "      id: u32\n"
				    "    client: e()\n", 0);
	char *c = bpf_of(spec);
	(void)state;

	expect_in(c, "__u32 l_a = fr_le32(body + 0);\n");
	expect_in(c, "__u32 t0 = l_a;\n\t__u32 t1 = l_a + 1ULL;\n\t__u32 t2 = t1;\n"
		  "\t__u32 l_lo = t0;\n\t__u32 l_hi = t2;\n");
	expect_in(c, "__u32 t3 = l_hi;\n\t__u32 t4 = l_lo;\n\tl_lo = t3;\n\tl_hi = t4;\n");
	expect_in(c, "\t\t\tl_a = 7ULL;\n");
	free(c);
	fr_spec_free(spec);
}

/* x / y with y known only at run time is guarded (C leaves x / 0
 * undefined); a variable field's size walks the variable fields before it. */
static void test_arith_delete_byte_size(void **state)
{
	struct fr_spec *spec = load("element e:\n"
				    "  state:\n"
				    "    seen: Map<u32, u8>\n"
				    "  req(rpc):\n"
				    "    a = get(rpc, 'n') * 3 / 4 % get(rpc, 'n')\n"
				    "    b = byte_size(rpc) + byte_size(rpc, 'n') + byte_size(rpc, 'tail')\n"
				    "    delete(seen, a + b)\n"
				    "    pass\n"
				    "service t:\n"
				    "  method m:\n"
				    "    request:\n"
				    "      n: u32\n"
				    "      blob: bytes<100>\n"
				    "      tail: bytes<64>\n"
				    "    client: e()\n", 0);
	char *c = bpf_of(spec);
	(void)state;

	expect_in(c, "__u32 t0 = fr_le32(body + 0) * 3ULL;\n\t__u32 t1 = t0 / 4ULL;\n"
		  "\t__u32 t2 = fr_le32(body + 0) ? t1 % fr_le32(body + 0) : 0;\n");
	expect_in(c, "__u32 t3 = (__u32)(data_end - body);\n\t__u32 t4 = 4;\n");
	expect_in(c, "\t\t__u64 o6 = 4;\n\t\tint ok6 = 1;\n\n"
		  "\t\tif (ok6 && body + o6 + 2 <= data_end) {\n"
		  "\t\t\t__u16 n6 = fr_le16(body + o6);\n\n"
		  "\t\t\tif (n6 > 100)\n\t\t\t\tok6 = 0;\n"
		  "\t\t\to6 += 2 + (__u64)n6;\n");
	expect_in(c, "\t\t\tt7 = n6 <= 64 ? n6 : 0;\n");
	expect_in(c, "fr_state_delete(&fr_e_seen, 0, &k");
	free(c);
	fr_spec_free(spec);
}

/* randomf() OP p is an integer compare with p * 2^32, fixed at compile
 * time; p OP randomf() turns around */
static void test_randomf(void **state)
{
	struct fr_spec *spec = load("element e:\n"
				    "  req(rpc):\n"
				    "    match randomf() < 0.05 or 0.5 >= randomf() or randomf() > 0.25:\n"
				    "      true => send(err('chaos'), Up)\n"
				    "      false => pass\n"
				    "service t:\n"
				    "  method m:\n"
				    "    client: e()\n", 0);
	char *c = bpf_of(spec);
	(void)state;

	expect_in(c, "__u8 t1 = (__u64)bpf_get_prandom_u32() < 214748364ULL;\n"
		  "\t\t__u8 t2 = (__u64)bpf_get_prandom_u32() < 2147483648ULL;\n");
	expect_in(c, "__u8 t4 = (__u64)bpf_get_prandom_u32() >= 1073741824ULL;\n");
	free(c);
	fr_spec_free(spec);
}

/* A Vec is an array map of N + 1 slots, the last the length; foreach is
 * unrolled with each copy guarded by the length; init() sets the length
 * after the highest slot it fills. */
static void test_vec(void **state)
{
	struct fr_spec *spec = load("element e:\n"
				    "  state:\n"
				    "    v: Vec<u32, 2>\n"
				    "  init():\n"
				    "    set(v, 1, 7)\n"
				    "  req(rpc):\n"
				    "    t = 0\n"
				    "    foreach x in v:\n"
				    "      t = t + x\n"
				    "    push(v, size(v))\n"
				    "    set(v, 0, 5)\n"
				    "    match t > 9:\n"
				    "      true => send(err('big'), Up)\n"
				    "      false => pass\n"
				    "service t:\n"
				    "  method m:\n"
				    "    client: e()\n", 0);
	char *c = bpf_of(spec);
	struct fr_buf ib = { 0 };
	(void)state;

	expect_in(c, "__uint(type, BPF_MAP_TYPE_ARRAY);\n\t__uint(max_entries, 3);\n"
		  "\t__type(key, __u32);\n\t__type(value, __u32);\n");
	expect_in(c, "\t\t__u32 z0 = 2;\n"
		  "\t\t__u32 *np0 = bpf_map_lookup_elem(&fr_e_v, &z0);\n"
		  "\t\t__u32 n0 = np0 ? (*np0 < 2 ? *np0 : 2) : 0;\n"
		  "\t\tif (n0 > 0) {\n\t\t\t__u32 i1 = 0;\n"
		  "\t\t\t__u32 *e1 = bpf_map_lookup_elem(&fr_e_v, &i1);\n\n"
		  "\t\t\tif (e1) {\n\t\t\t\t__u64 t2 = l_t + (*e1);\n");
	expect_in(c, "\t\tif (n0 > 1) {\n");
	expect_in(c, "if (np7 && n7 < 2 &&\n\t\t    !bpf_map_update_elem(&fr_e_v, &n7, &v5, "
		  "BPF_ANY))\n\t\t\t*np7 = n7 + 1;\n");
	/* the index is bounded at its full width before it becomes a key */
	expect_in(c, "__u64 wk8 = 0ULL;\n\t\t__u32 k8 = (__u32)wk8;\n");
	expect_in(c, "if (wk8 < 2 && !bpf_map_update_elem(&fr_e_v, &k8, &v8, BPF_ANY) &&\n"
		  "\t\t    np9 && n9 <= k8)\n\t\t\t*np9 = k8 + 1;\n");
	fr_emit_init(spec, &ib);
	expect_in(ib.p, "/* e.init(): the length of v */\n"
		  "static const __u8 flatrpc_init_1_key[4] __attribute__((unused)) = {\n"
		  "\t0x02, 0x00, 0x00, 0x00\n};\n"
		  "static const __u8 flatrpc_init_1_value[4] __attribute__((unused)) = {\n"
		  "\t0x02, 0x00, 0x00, 0x00\n};\n");
	fr_buf_free(&ib);
	free(c);
	fr_spec_free(spec);
}

static void test_size_annotation(void **state)
{
	struct fr_diag d = { .out = NULL };
	const char *text = "element e:\n"
			   "  state:\n"
			   "    @size(4096) @consistency(weak)\n"
			   "    seen: Map<u32, u8>\n"
			   "    other: Map<u32, u8>\n"
			   "  req(rpc):\n"
			   "    pass\n"
			   "service t:\n"
			   "  method m:\n"
			   "    client: e()\n";
	struct fr_spec *spec = fr_spec_load_buf("t.anf", text, strlen(text), 0, &d);
	char *c = bpf_of(spec);
	(void)state;

	assert_int_equal(d.n_errors, 0);
	assert_int_equal(d.n_warnings, 1);
	expect_in(c, "\t__uint(max_entries, 4096);\n\t__type(key, __u32);\n"
		  "\t__type(value, __u8);\n\t__uint(pinning, LIBBPF_PIN_BY_NAME);\n"
		  "} fr_e_seen SEC");
	expect_in(c, "\t__uint(max_entries, 65536);\n\t__type(key, __u32);\n"
		  "\t__type(value, __u8);\n\t__uint(pinning, LIBBPF_PIN_BY_NAME);\n"
		  "} fr_e_other SEC");
	free(c);
	fr_spec_free(spec);
}

/* @full: evict is the kernel's LRU, refuse a plain hash whose failed insert
 * answers state_full; each Map state has its state_limits slot, and a
 * present key is written in place. */
static void test_full_annotation(void **state)
{
	struct fr_spec *spec = load("element e:\n"
				    "  state:\n"
				    "    n: u64\n"
				    "    seen: Map<u32, u8>\n"
				    "    @full(refuse)\n"
				    "    cfg: Map<u32, u8>\n"
				    "  req(rpc):\n"
				    "    set(seen, 1, 2)\n"
				    "    set(cfg, 3, 4)\n"
				    "    pass\n"
				    "service t:\n"
				    "  method m:\n"
				    "    server: e()\n", 0);
	char *c = bpf_of(spec), *init = init_of(spec);
	(void)state;

	expect_in(c, "/* state_limits[0]; when full: evict */\nstruct {\n"
		  "\t__uint(type, BPF_MAP_TYPE_LRU_HASH);");
	expect_in(c, "/* state_limits[1]; when full: refuse */\nstruct {\n"
		  "\t__uint(type, BPF_MAP_TYPE_HASH);");
	expect_in(c, "if (p0)\n\t\t\t__builtin_memcpy(p0, &v0, sizeof(v0));\n"
		  "\t\telse if (fr_state_insert(&fr_e_seen, 0, 0, &k0, &v0))\n"
		  "\t\t\treturn FLATRPC_ST_STATE_FULL;");
	expect_in(c, "fr_state_insert(&fr_e_cfg, 1, 1, &k1, &v1)");
	expect_in(init, "#define FLATRPC_SPEC_STATES { \"fr_e_seen\", \"fr_e_cfg\", NULL }");
	free(init);
	free(c);
	fr_spec_free(spec);
}

/* Arguments are constants of each chain entry; defaults fill the rest. */
static void test_element_arguments(void **state)
{
	struct fr_spec *spec = load("element limit(max: u32, strict: bool = true, scale: u64 = 2):\n"
				    "  state:\n"
				    "    count: u64\n"
				    "  req(rpc):\n"
				    "    match count * scale > max and strict:\n"
				    "      true => send(err('over'), Up)\n"
				    "      false => pass\n"
				    "service t:\n"
				    "  method a:\n"
				    "    server: limit(max=1000)\n"
				    "  method b:\n"
				    "    server: limit(max=10, strict=false, scale=3)\n", 0);
	char *c = bpf_of(spec);
	(void)state;

	expect_in(c, "/* limit.req() on a requests */");
	expect_in(c, "__u64 t3 = t2 * ((__u64)2ULL);\n"
		  "\t\t__u8 t4 = (__u64)t3 > (__u64)((__u32)1000ULL);\n"
		  "\t\t__u8 t5 = t4 && ((__u8)1ULL);\n");
	expect_in(c, "__u64 t3 = t2 * ((__u64)3ULL);\n"
		  "\t\t__u8 t4 = (__u64)t3 > (__u64)((__u32)10ULL);\n"
		  "\t\t__u8 t5 = t4 && ((__u8)0ULL);\n");
	free(c);
	fr_spec_free(spec);
}

/* forward() leaves the address for the kernel and ends the chain with
 * FLATRPC_ANF_FORWARD; the slot it uses is per CPU and never pinned */
static void test_forward(void **state)
{
	struct fr_spec *spec = load("element lb:\n"
				    "  req(rpc):\n"
				    "    forward(rpc, get(rpc, 'to') + 1)\n"
				    "service t:\n"
				    "  method m:\n"
				    "    request:\n"
				    "      to: u32\n"
				    "    server: lb()\n", 0);
	char *c = bpf_of(spec);
	(void)state;

	char *rt = anf_rt();
	expect_in(rt, "__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);\n\t__uint(max_entries, 1);\n"
		  "\t__type(key, __u32);\n\t__type(value, struct fr_anf_out);\n"
		  "} fr_anf_out_map SEC");
	free(rt);
	expect_in(c, "\t\t__u32 t1 = fr_le32(body + 0) + 1ULL;\n"
		  "\t\tstruct fr_anf_out *o0 = fr_anf_out();\n\n"
		  "\t\tif (o0) {\n\t\t\to0->forward_to = (__u32)(t1);\n"
		  "\t\t\treturn FLATRPC_ANF_FORWARD;\n\t\t}\n");
	free(c);
	fr_spec_free(spec);
}

/* A tuple value is a packed struct named by its element types; Some((a, b))
 * reads the fields in place; init.h lays the elements out in turn. */
static void test_tuple_values(void **state)
{
	struct fr_spec *spec = load("element e:\n"
				    "  state:\n"
				    "    seen: Map<u64, (u64, u32, u8)>\n"
				    "  init():\n"
				    "    set(seen, 7, (100, 2, 1))\n"
				    "  req(rpc):\n"
				    "    match get(seen, get(rpc, 'id')):\n"
				    "      Some((first, count, flag)) =>\n"
				    "        set(seen, get(rpc, 'id'), (first, count + 1, flag))\n"
				    "      None =>\n"
				    "        set(seen, get(rpc, 'id'), (1, 1, 0))\n"
				    "    pass\n"
				    "service t:\n"
				    "  method m:\n"
				    "    request:\n"
				    "      id: u64\n"
				    "    server: e()\n", 0);
	char *c = bpf_of(spec);
	struct fr_buf ib = { 0 };
	(void)state;

	expect_in(c, "struct fr_tup_u64_u32_u8 { __u64 f0; __u32 f1; __u8 f2; } "
		  "__attribute__((packed));\n");
	expect_in(c, "\t__type(value, struct fr_tup_u64_u32_u8);\n");
	expect_in(c, "struct fr_tup_u64_u32_u8 *v0 = bpf_map_lookup_elem(&fr_e_seen, &k0);\n");
	expect_in(c, "__u32 t2 = v0->f1 + 1ULL;\n"
		  "\t\t\t\tstruct fr_tup_u64_u32_u8 v1 = {};\n"
		  "\t\t\t\tv1.f0 = v0->f0;\n\t\t\t\tv1.f1 = t2;\n\t\t\t\tv1.f2 = v0->f2;\n");
	fr_emit_init(spec, &ib);
	expect_in(ib.p, "/* e.init(): seen[7] = (100, 2, 1) */\n");
	expect_in(ib.p, "flatrpc_init_0_value[13] __attribute__((unused)) = {\n"
		  "\t0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,\n"
		  "\t0x01\n};\n");
	fr_buf_free(&ib);
	free(c);
	fr_spec_free(spec);
}

/* ---- client: chains (specs/tracked.anf) --------------------------------------- */

static struct fr_spec *load_tracked(void)
{
	struct fr_diag d = { .out = stderr };
	int err;
	struct fr_spec *spec = fr_spec_load_file(spec_path("tracked.anf"), &d, &err);

	assert_int_equal(err, 0);
	assert_int_equal(d.n_errors, 0);
	return spec;
}

/* The text of the function whose definition starts with head, to its
 * closing brace. */
static char *function_of(const char *text, const char *head)
{
	const char *a = strstr(text, head), *b;

	if (!a)
		fail_msg("expected \"%s\" in:\n%s", head, text);
	b = strstr(a, "\n}\n");
	assert_non_null(b);
	return strndup(a, (size_t)(b - a) + 3);
}

/* FIXED is what the server parses off the wire, CLIENT_FIXED what the
 * client encodes, STRIP what its client: program cuts between them. */
static void test_tracked_abi(void **state)
{
	struct fr_spec *spec = load_tracked();
	struct fr_buf b = { 0 };
	(void)state;

	fr_emit_abi(spec, spec->hash, &b);
	expect_in(b.p, "#define TRACKED_GET_REQ_FIXED 16\n#define TRACKED_GET_REQ_CLIENT_FIXED 24\n"
		  "#define TRACKED_GET_REQ_STRIP 8\n#define TRACKED_GET_REQ_MAX 90\n"
		  "#define TRACKED_GET_REQ_OFF_USERNAME 0\n"
		  "#define TRACKED_GET_REQ_OFF_SESSION_ID 16\n");
	expect_in(b.p, "#define TRACKED_GET_REMOTE_REQ_FIXED 24\n"
		  "#define TRACKED_GET_REMOTE_REQ_CLIENT_FIXED 24\n"
		  "#define TRACKED_GET_REMOTE_REQ_STRIP 0\n");
	expect_in(b.p, "#define TRACKED_PUT_REQ_FIXED 0\n#define TRACKED_PUT_REQ_CLIENT_FIXED 24\n"
		  "#define TRACKED_PUT_REQ_STRIP 24\n");
	/* responses are never stripped: one size */
	expect_in(b.p, "#define TRACKED_PUT_RESP_FIXED 1\n#define TRACKED_PUT_RESP_MAX 1\n");
	assert_null(strstr(b.p, "RESP_CLIENT_FIXED"));
	assert_null(strstr(b.p, "RESP_STRIP"));
	/* the struct is the client's copy, which still holds the field */
	expect_in(b.p, "\t__u64 session_id;\t/* offset 16, read by session-tracker (client); "
		  "stripped before the wire */\n} __attribute__((packed));\n"
		  "_Static_assert(sizeof(struct tracked_get_req_fixed) == 24, ");
	expect_in(b.p, "\tchar username[16];\t/* offset 0, read by firewall */\n");
	/* the library runs the client program only for these */
	expect_in(b.p, "#define TRACKED_GET_FLAGS FLATRPC_M_CLIENT_ANF\n");
	expect_in(b.p, "#define TRACKED_GET_REMOTE_FLAGS 0\n");
	expect_in(b.p, "#define TRACKED_PUT_FLAGS (FLATRPC_M_RELIABLE | FLATRPC_M_CLIENT_ANF)\n");
	fr_buf_free(&b);
	fr_spec_free(spec);
}

static void test_client_anf_flag(void **state)
{
	struct fr_spec *spec = load("element e:\n  req(rpc):\n    pass\n"
				    "service t:\n"
				    "  method none:\n"
				    "    request:\n      x: u32\n"
				    "  method srv:\n"
				    "    server: e()\n"
				    "  method cli:\n"
				    "    client: e()\n"
				    "    transport: reliable(timeout=1000)\n", 0);
	struct fr_buf b = { 0 };
	(void)state;

	assert_int_equal(spec->svc->methods[0].flags, 0);
	assert_int_equal(spec->svc->methods[1].flags, 0);
	assert_int_equal(spec->svc->methods[2].flags, FLATRPC_M_CLIENT_ANF | FLATRPC_M_RELIABLE);
	fr_emit_abi(spec, spec->hash, &b);
	expect_in(b.p, "#define T_NONE_FLAGS 0\n");
	expect_in(b.p, "#define T_SRV_FLAGS 0\n");
	expect_in(b.p, "#define T_CLI_FLAGS (FLATRPC_M_RELIABLE | FLATRPC_M_CLIENT_ANF)\n");
	/* nothing is read, so nothing is stripped */
	expect_in(b.p, "#define T_CLI_REQ_CLIENT_FIXED 0\n#define T_CLI_REQ_STRIP 0\n");
	fr_buf_free(&b);
	fr_spec_free(spec);
}

/* server: req() in XDP at the server, client: req() in the client program,
 * every resp() in XDP at the client, the server: elements' first. */
static void test_tracked_bpf_chains(void **state)
{
	struct fr_spec *spec = load_tracked();
	char *c = bpf_of(spec), *f;
	(void)state;

	expect_in(c, "static __always_inline __u32 fr_req_strip(__u32 m)\n{\n\tswitch (m) {\n"
		  "\tcase TRACKED_GET: return TRACKED_GET_REQ_STRIP;\n");

	f = function_of(c, "static __always_inline int fr_anf_req(__u32 method, void *body, "
			"void *data_end)\n");
	/* each run counted in its (method, chain entry, hook) slot */
	expect_in(f, "\tcase TRACKED_GET:\n\t\trc = fr_anf_get_firewall_req(body, data_end);\n"
		  "\t\tfr_elem_count(2, rc);\n\t\tif (rc)\n\t\t\treturn rc;\n\t\tbreak;\n");
	expect_in(f, "\tcase TRACKED_PUT:\n\t\tbreak;\n");
	/* the client: instances are not in the server's chain */
	assert_null(strstr(f, "fr_anf_get_session_tracker_req"));
	assert_null(strstr(f, "fr_anf_put_"));
	expect_in(f, "\t\trc = fr_anf_get_remote_session_tracker_req(body, data_end);\n");
	free(f);

	f = function_of(c, "static __always_inline int fr_anf_client_req(__u32 method, void *body, "
			"void *data_end)\n");
	expect_in(f, "\tcase TRACKED_GET:\n\t\trc = fr_anf_get_session_tracker_req(body, data_end);\n"
		  "\t\tfr_elem_count(0, rc);\n\t\tif (rc)\n\t\t\treturn rc;\n\t\tbreak;\n");
	expect_in(f, "\tcase TRACKED_GET_REMOTE:\n\t\tbreak;\n");
	expect_in(f, "\tcase TRACKED_PUT:\n\t\trc = fr_anf_put_firewall_req(body, data_end);\n"
		  "\t\tfr_elem_count(8, rc);\n\t\tif (rc)\n\t\t\treturn rc;\n"
		  "\t\trc = fr_anf_put_session_tracker_req(body, data_end);\n");
	free(f);

	/* get's chain is written tracker (client) then firewall (server); the
	 * response meets the firewall first */
	f = function_of(c, "static __always_inline int fr_anf_resp(__u32 method, void *body, "
			"void *data_end)\n");
	expect_in(f, "\tcase TRACKED_GET:\n\t\trc = fr_anf_get_firewall_resp(body, data_end);\n"
		  "\t\tfr_elem_count(3, rc);\n\t\tif (rc)\n\t\t\treturn rc;\n"
		  "\t\trc = fr_anf_get_session_tracker_resp(body, data_end);\n");
	free(f);

	/* a client: element's bounds check covers the fields it reads, which
	 * are past the wire's fixed part */
	expect_in(c, "fr_anf_get_session_tracker_req(void *body, void *data_end)\n{\n"
		  "\tif (body + TRACKED_GET_REQ_CLIENT_FIXED > data_end)\n");
	expect_in(c, "fr_anf_get_firewall_req(void *body, void *data_end)\n{\n"
		  "\tif (body + TRACKED_GET_REQ_FIXED > data_end)\n");
	expect_in(c, "fr_anf_get_remote_session_tracker_req(void *body, void *data_end)\n{\n"
		  "\tif (body + TRACKED_GET_REMOTE_REQ_FIXED > data_end)\n");
	free(c);
	fr_spec_free(spec);
}

static void test_tracked_layout_text(void **state)
{
	struct fr_spec *spec = load_tracked();
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	(void)state;

	fr_print_layout(spec, f);
	fclose(f);
	expect_in(out, "method get (id 0)\n  request:\n"
		  "    field                type            offset      size  wire      read by\n"
		  "    username             string<16>           0        16  yes       firewall\n"
		  "    session_id           u64               (16)         8  stripped  "
		  "session-tracker (client)\n"
		  "    key                  string<64>          16      2+64  yes       -\n"
		  "    header: 16 fixed bytes on the wire (the client strips 8 more after its "
		  "client: elements), 82 bytes at most\n");
	expect_in(out, "method get_remote (id 1)\n  request:\n"
		  "    field                type            offset      size  wire      read by\n"
		  "    session_id           u64                  0         8  yes       "
		  "session-tracker\n");
	expect_in(out, "    key                  string<64>          24      2+64  yes       -\n"
		  "    header: 24 fixed bytes, 90 bytes at most\n");
	/* put keeps no fixed field on the wire: its variable part starts at 0 */
	expect_in(out, "    username             string<16>         (8)        16  stripped  "
		  "firewall (client)\n"
		  "    key                  string<64>           0      2+64  yes       -\n"
		  "    value                bytes<256>         >=2     2+256  yes       -\n"
		  "    header: 0 fixed bytes on the wire (the client strips 24 more after its "
		  "client: elements), 324 bytes at most\n");
	expect_in(out, "    FlatRPC                          136 / 104 ");
	expect_in(out, "  FlatRPC: Eth 14 + IP 20 + UDP 8 + FlatRPC header 12 + the layout above,\n"
		  "    without its stripped fields.\n");
	free(out);
	fr_spec_free(spec);
}

/* The client encodes the whole fixed part; the server decodes the wire's
 * and leaves the stripped field 0, as the request struct says. */
static void test_tracked_stubs(void **state)
{
	struct fr_spec *spec = load_tracked();
	struct fr_buf h = { 0 }, c = { 0 };
	char *f;
	(void)state;

	fr_emit_stubs_h(spec, &h);
	expect_in(h.p, "\tuint64_t session_id;\n\t/* ^ read only by client: elements, which "
		  "strip it: a server sees 0 */\n\tchar key[65];\t");
	fr_emit_stubs_c(spec, &c);
	f = function_of(c.p, "int tracked_get_req_encode(");
	expect_in(f, "\tsize_t off = TRACKED_GET_REQ_CLIENT_FIXED, n = 0;\n");
	expect_in(f, "\tfr_put64(p + 16, (uint64_t)r->session_id);\n");
	free(f);
	f = function_of(c.p, "int tracked_get_req_decode(");
	expect_in(f, "\tsize_t off = TRACKED_GET_REQ_FIXED, n = 0;\n");
	expect_in(f, "\tmemcpy(r->username, p + 0, 16);\n");
	assert_null(strstr(f, "session_id"));
	free(f);
	f = function_of(c.p, "int tracked_get_remote_req_decode(");
	expect_in(f, "r->session_id = ");
	free(f);
	expect_in(c.p, "\t\t.req_strip = TRACKED_PUT_REQ_STRIP,\n");
	fr_buf_free(&h);
	fr_buf_free(&c);
	fr_spec_free(spec);
}

/* After a strip the wire's variable part starts earlier: a server: element
 * walks it from the wire's fixed size, a client: one from the client's. */
static void test_byte_size_after_strip(void **state)
{
	struct fr_spec *spec = load("element c:\n"
				    "  req(rpc):\n"
				    "    match get(rpc, 'sid'):\n"
				    "      7 => send(err('seven'), Up)\n"
				    "      _ => pass\n"
				    "element s:\n"
				    "  req(rpc):\n"
				    "    match byte_size(rpc, 'key') > get(rpc, 'n'):\n"
				    "      true => send(err('long'), Up)\n"
				    "      _ => pass\n"
				    "element sc:\n"
				    "  req(rpc):\n"
				    "    match byte_size(rpc, 'key') > 60:\n"
				    "      true => send(err('long'), Up)\n"
				    "      _ => pass\n"
				    "service t:\n"
				    "  metadata:\n"
				    "    sid: u64\n"
				    "  method m:\n"
				    "    request:\n"
				    "      n: u32\n"
				    "      key: string<64>\n"
				    "    client: c() -> sc()\n"
				    "    server: s()\n", 0);
	char *c = bpf_of(spec), *srv, *cli;
	(void)state;

	/* client layout: n at 0, sid (stripped) at 4, key from 12; wire: key from 4 */
	assert_int_equal(spec->svc->methods[0].lreq.strip, 8);
	srv = function_of(c, "static __always_inline int fr_anf_m_s_req(");
	cli = function_of(c, "static __always_inline int fr_anf_m_sc_req(");
	expect_in(srv, "__u64 o1 = 4;\n");
	expect_in(cli, "__u64 o1 = 12;\n");
	free(srv);
	free(cli);
	free(c);
	fr_spec_free(spec);
}

/* The client: elements for the library: the very instance text that
 * anf.bpf.h carries, only the client-side ones, their state as process
 * tables, and the registration. */
static void test_client_user(void **state)
{
	struct fr_spec *spec = load_tracked();
	struct fr_buf u = { 0 };
	char *b = bpf_of(spec);
	static const char *const inst[] = {
		"static __always_inline int fr_anf_get_session_tracker_req(",
		"static __always_inline int fr_anf_put_firewall_req(",
		"static __always_inline int fr_anf_put_session_tracker_req(",
		"static __always_inline int fr_anf_client_req(",
	};
	(void)state;

	fr_emit_client_user(spec, &u);
	for (size_t i = 0; i < sizeof(inst) / sizeof(inst[0]); i++) {
		char *k = function_of(b, inst[i]), *l = function_of(u.p, inst[i]);

		assert_string_equal(l, k);
		free(k);
		free(l);
	}
	/* server-side instances and every resp() stay in XDP */
	assert_null(strstr(u.p, "fr_anf_get_firewall_req("));
	assert_null(strstr(u.p, "_resp("));
	expect_in(u.p, "#include \"flatrpc_anf_user.h\"\n#include \"init.h\"\n");
	expect_in(u.p, "static struct fr_umap fr_firewall_firewall = FR_UMAP_HASH_INIT("
		  "\"fr_firewall_firewall\", sizeof(struct fr_str16), sizeof(struct fr_str4), "
		  "65536, 1);\n");
	expect_in(u.p, "FR_UMAP_HASH_INIT(\"fr_session_tracker_sessions\", sizeof(__u64), "
		  "sizeof(__u64), 65536, 0);\n");
	expect_in(u.p, "\tfr_umap_seed(fr_umaps, flatrpc_init_table, FLATRPC_INIT_COUNT);\n"
		  "\tflatrpc_client_anfs_register(&tracked_client_anfs);\n");
	expect_in(u.p, "\t.n_slots = 12,\n");
	fr_buf_free(&u);
	free(b);
	fr_spec_free(spec);
}

/* Nothing for a spec without client: elements, nor for one whose client:
 * element's resp() uses its state: req() and resp() must share the host's
 * maps, so the library runs the client program. */
static void test_client_user_none(void **state)
{
	static const char *const specs[] = {
		"element s:\n  req(rpc):\n    pass\n"
		"service t:\n  metadata:\n    sid: u64\n  method m:\n"
		"    request:\n      n: u32\n    server: s()\n",
		"element c:\n  state:\n    seen: Map<u64, u64>\n"
		"  req(rpc):\n    set(seen, get(rpc, 'sid'), 1)\n    send(rpc, Down)\n"
		"  resp(rpc):\n    match get(seen, 1):\n      Some(x) => send(rpc, Up)\n"
		"      None => send(rpc, Up)\n"
		"service t:\n  metadata:\n    sid: u64\n  method m:\n"
		"    request:\n      n: u32\n    client: c()\n",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct fr_spec *spec = load(specs[i], 0);
		struct fr_buf u = { 0 };

		fr_emit_client_user(spec, &u);
		assert_int_equal(u.len, 0);
		fr_buf_free(&u);
		fr_spec_free(spec);
	}
}

static void test_import_free_load(void **state)
{
	struct fr_diag d = { .out = NULL };
	struct fr_spec *spec = fr_spec_load_buf("x.anf", "import \"nowhere.anf\"\n",
						 strlen("import \"nowhere.anf\"\n"), 0, &d);
	(void)state;

	/* the import is not read (no "cannot read" error); only the service is missing */
	assert_int_equal(d.n_errors, 1);
	fr_spec_free(spec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalar_state),
		cmocka_unit_test(test_builtins_and_operators),
		cmocka_unit_test(test_many_error_codes),
		cmocka_unit_test(test_import_free_load),
		cmocka_unit_test(test_method_id),
		cmocka_unit_test(test_set_field),
		cmocka_unit_test(test_locals),
		cmocka_unit_test(test_arith_delete_byte_size),
		cmocka_unit_test(test_randomf),
		cmocka_unit_test(test_vec),
		cmocka_unit_test(test_size_annotation),
		cmocka_unit_test(test_full_annotation),
		cmocka_unit_test(test_element_arguments),
		cmocka_unit_test(test_forward),
		cmocka_unit_test(test_tuple_values),
		cmocka_unit_test(test_tracked_abi),
		cmocka_unit_test(test_client_anf_flag),
		cmocka_unit_test(test_tracked_bpf_chains),
		cmocka_unit_test(test_tracked_layout_text),
		cmocka_unit_test(test_tracked_stubs),
		cmocka_unit_test(test_byte_size_after_strip),
		cmocka_unit_test(test_client_user),
		cmocka_unit_test(test_client_user_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

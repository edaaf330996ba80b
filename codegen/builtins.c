/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* builtins.c - the built-in functions: types, BPF emission and documentation. */
#include <string.h>

#include "builtins.h"
#include "emit_bpf.h"

static void emit_current_time(struct fr_bpf_gen *g, int d, const struct fr_cval *a,
			      struct fr_cval *v)
{
	(void)a;
	fr_bpf_tmp_int(g, d, v, TY_U64, "bpf_ktime_get_ns()");
}

static void emit_randomu(struct fr_bpf_gen *g, int d, const struct fr_cval *a, struct fr_cval *v)
{
	(void)a;
	fr_bpf_tmp_int(g, d, v, TY_U32, "bpf_get_prandom_u32()");
}

static void emit_method_id(struct fr_bpf_gen *g, int d, const struct fr_cval *a,
			   struct fr_cval *v)
{
	/* every (method, element) pair is its own function, so the id is
	 * known here and costs the program nothing at run time */
	char SV[64], MN[64];

	(void)a;
	fr_bpf_tmp_int(g, d, v, TY_U32, "%s_%s",
		       fr_cname_upper(SV, sizeof(SV), fr_bpf_spec(g)->svc->name),
		       fr_cname_upper(MN, sizeof(MN), fr_bpf_method(g)->name));
}

static void emit_time_diff(struct fr_bpf_gen *g, int d, const struct fr_cval *a,
			   struct fr_cval *v)
{
	/* a clock read before the other gives 0, never a huge wrap */
	fr_bpf_tmp_int(g, d, v, TY_U64, "%s > %s ? %s - %s : 0", a[0].c, a[1].c, a[0].c, a[1].c);
}

/* the typed side decides the width, as in the checker */
static void emit_min_max(struct fr_bpf_gen *g, int d, const struct fr_cval *a, struct fr_cval *v,
			 char op)
{
	const char *cs = fr_bpf_cast_of(&a[0], &a[1]);

	fr_bpf_tmp_int(g, d, v, a[0].is_const ? a[1].kind : a[0].kind, "%s%s %c %s%s ? %s : %s",
		       cs, a[0].c, op, cs, a[1].c, a[0].c, a[1].c);
}

static void emit_min(struct fr_bpf_gen *g, int d, const struct fr_cval *a, struct fr_cval *v)
{
	emit_min_max(g, d, a, v, '<');
}

static void emit_max(struct fr_bpf_gen *g, int d, const struct fr_cval *a, struct fr_cval *v)
{
	emit_min_max(g, d, a, v, '>');
}

static void emit_hash(struct fr_bpf_gen *g, int d, const struct fr_cval *a, struct fr_cval *v)
{
	int t = fr_bpf_new_tmp(g);

	if (!a[0].is_bytes) {
		/* multiply-xorshift: cheap, and spreads nearby keys apart */
		fr_bpf_line(g, d, "__u64 t%d = (__u64)%s * 0x9e3779b97f4a7c15ULL;\n", t, a[0].c);
		fr_bpf_line(g, d, "t%d ^= t%d >> 29;\n", t, t);
	} else {
		/* FNV-1a over the zero-padded slot, unrolled: no loop to verify */
		fr_bpf_line(g, d, "__u64 t%d = 0xcbf29ce484222325ULL;\n", t);
		for (unsigned i = 0; i < a[0].n; i++) {
			if (a[0].lit)
				fr_bpf_line(g, d, "t%d = (t%d ^ 0x%02x) * 0x100000001b3ULL;\n",
					    t, t, i < a[0].litlen ? (unsigned char)a[0].lit[i] : 0);
			else
				fr_bpf_line(g, d, "t%d = (t%d ^ ((const unsigned char *)%s)[%u])"
					    " * 0x100000001b3ULL;\n", t, t, a[0].c, i);
		}
	}
	memset(v, 0, sizeof(*v));
	v->kind = TY_U64;
	snprintf(v->c, sizeof(v->c), "t%d", t);
}

/* In the order of the documentation table. */
const struct fr_builtin fr_builtins[] = {
	{ "get", FR_BI_GET, 2, .doc = {
		{ "`get(rpc, 'f')`", "the field's type", "a load at a constant offset after "
		  "one bounds check (`fr_le16/32/64` for wider integers; a pointer to the slot "
		  "for `string<N>`)" },
		{ "`get(map, key)`", "option of the value type", "`bpf_map_lookup_elem`" } } },
	{ "byte_size", FR_BI_BYTE_SIZE, 1, .doc = {
		{ "`byte_size(rpc)`", "`u32`", "the bytes of the message body as received "
		  "(`data_end - body`): what a byte-rate limiter counts" },
		{ "`byte_size(rpc, 'f')`", "`u32`", "the bytes field `f` takes in this message. "
		  "A field in the fixed part (see *Layout*): its slot size, a constant. A "
		  "variable field: its length prefix, found by walking the variable fields "
		  "before it in layout order, each step bounds-checked and each length capped "
		  "at its field's maximum (so the verifier sees a bounded offset); a frame too "
		  "short or with a length over its maximum gives 0" } } },
	{ .name = "size", .form = FR_BI_SIZE, .nargs = 1 },
	{ "current_time", FR_BI_PLAIN, 0, { 0 }, TY_U64, emit_current_time,
	  { { "`current_time()`", "`u64`, nanoseconds", "`bpf_ktime_get_ns()`" } } },
	{ "time_diff", FR_BI_PLAIN, 2, { FR_BI_INT, FR_BI_INT }, TY_U64, emit_time_diff,
	  { { "`time_diff(a, b)`", "`u64`", "`a > b ? a - b : 0` (never wraps)" } } },
	{ "min", FR_BI_PLAIN, 2, { FR_BI_INT, FR_BI_INT }, TY_NONE, emit_min,
	  { { "`min(a, b)`", "type of the typed operand",
	      "`a < b ? a : b` (signed if one side is `i64`)" } } },
	{ "max", FR_BI_PLAIN, 2, { FR_BI_INT, FR_BI_INT }, TY_NONE, emit_max,
	  { { "`max(a, b)`", "type of the typed operand",
	      "`a > b ? a : b` (signed if one side is `i64`)" } } },
	{ "randomu", FR_BI_PLAIN, 0, { 0 }, TY_U32, emit_randomu,
	  { { "`randomu()`", "`u32`", "`bpf_get_prandom_u32()`" } } },
	{ "randomf", FR_BI_RANDOMF, .doc = {
		{ "`randomf() < p` (also `<=`, `>`, `>=`, either side)", "`bool`", "BPF has no "
		  "floating point, so `randomf()` may only be compared with a constant `p` in "
		  "[0, 1], and the comparison is compiled whole: `bpf_get_prandom_u32() < K` "
		  "with `K = floor(p * 2^32)` computed by the compiler (`>=` for `>`); true "
		  "with probability within 2^-32 of p. `<` and `<=` are the same test. "
		  "`randomf()` anywhere else, `==`/`!=`, or a `p` that is not a constant in "
		  "[0, 1] is an error that says so" } } },
	{ "method_id", FR_BI_PLAIN, 0, { 0 }, TY_U32, emit_method_id,
	  { { "`method_id()`", "`u32`", "the id of the method whose chain runs the element: "
	      "a constant, since each (method, element) pair is its own generated "
	      "function" } } },
	{ "hash", FR_BI_PLAIN, 1, { FR_BI_INT_OR_STR }, TY_U64, emit_hash,
	  { { "`hash(x)`", "`u64`", "integer: `x * 0x9e3779b97f4a7c15`, then `^= >> 29`; "
	      "`string<N>`: FNV-1a over the N-byte zero-padded slot, unrolled" } } },
};
const unsigned fr_n_builtins = sizeof(fr_builtins) / sizeof(fr_builtins[0]);

const struct fr_builtin *fr_builtin_find(const char *name)
{
	for (unsigned i = 0; i < fr_n_builtins; i++)
		if (!strcmp(fr_builtins[i].name, name))
			return &fr_builtins[i];
	return NULL;
}

void fr_builtins_doc(struct fr_buf *b)
{
	fr_buf_printf(b, "| built-in | type | BPF C |\n|---|---|---|\n");
	for (unsigned i = 0; i < fr_n_builtins; i++)
		for (unsigned k = 0; k < 2 && fr_builtins[i].doc[k].sig; k++) {
			const struct fr_bi_doc *r = &fr_builtins[i].doc[k];
			fr_buf_printf(b, "| %s | %s | %s |\n", r->sig, r->type, r->bpf);
		}
}

void fr_builtins_dict(struct fr_buf *b)
{
	for (unsigned i = 0; i < fr_n_builtins; i++) {
		const struct fr_builtin *bi = &fr_builtins[i];
		fr_buf_printf(b, "\"%s(%s\"\n", bi->name, bi->nargs ? "" : ")");
	}
}

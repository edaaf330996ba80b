/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * emit_bpf.c - anf.bpf.h: element state maps and the ANF chains in BPF C.
 *
 * Each (method, element, direction) becomes one always-inline function
 * with the method's offsets baked in: after a single bounds check against
 * the fixed part every field read is at a constant offset, which is what
 * the verifier can follow. The generated code has no loops at all: string
 * compares are unrolled over the (small, constant) slot size.
 *
 * Return convention of the instance functions: 0 = continue down the chain
 * (send(rpc, Down) or falling off the end), 1..127 = answer with that error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "builtins.h"
#include "emit_bpf.h"
#include "spec.h"

/* A binding in scope: the checker numbered it (fr_expr bind), this says
 * which C the number stands for here. */
struct bind {
	unsigned id;
	char var[48];			/* C pointer to the map value, or the local */
	const struct fr_state *st;	/* map it was looked up in; NULL: a local */
	const struct fr_expr *key;	/* ... with this key */
	enum fr_type_kind kind;		/* a local: its C type */
};

struct fr_bpf_gen {
	const struct fr_spec *spec;
	const struct fr_method *m;
	const struct fr_chain_ref *r;	/* the chain entry this function runs */
	const struct fr_element *el;
	const struct fr_layout *l;
	unsigned var_off;		/* where the variable part starts in the message
					 * this chain sees: after a strip, earlier */
	struct fr_buf *b;
	int tmp;
	struct bind binds[32];
	int nbinds;
};

static void ind(struct fr_bpf_gen *g, int depth)
{
	for (int i = 0; i < depth; i++)
		fr_buf_put(g->b, "\t", 1);
}

void fr_bpf_line(struct fr_bpf_gen *g, int d, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ind(g, d);
	fr_buf_put(g->b, line, strlen(line));
}

static const char *map_name(const struct fr_state *st, char *buf, size_t n)
{
	return fr_state_map_name(buf, n, st);
}

/* C type of a map key/value: strings are wrapped so they copy by value */
static const char *ctype(const struct fr_type *t, char *buf, size_t n)
{
	if (t->kind == TY_STRING) {
		snprintf(buf, n, "struct fr_str%u", t->n);
	} else if (t->kind == TY_TUPLE) {
		/* named by its element types, so equal tuples share one struct */
		size_t o = snprintf(buf, n, "struct fr_tup");
		for (unsigned i = 0; i < t->n && o < n; i++)
			o += snprintf(buf + o, n - o, "_%s", fr_bpf_int_type(t->elems[i].kind) + 2);
	} else
		snprintf(buf, n, "%s", fr_bpf_int_type(t->kind));
	return buf;
}

static const struct bind *find_bind(const struct fr_bpf_gen *g, unsigned id)
{
	for (int i = g->nbinds - 1; i >= 0; i--)
		if (g->binds[i].id == id)
			return &g->binds[i];
	return NULL;
}

static struct bind *push_bind(struct fr_bpf_gen *g, unsigned id)
{
	struct bind *bd = &g->binds[g->nbinds++];

	memset(bd, 0, sizeof(*bd));
	bd->id = id;
	return bd;
}

static int is_rpc_get(const struct fr_expr *e)
{
	return e->kind == E_CALL && e->bi && e->bi->form == FR_BI_GET && !e->args[0]->st;
}

static int expr_equal(const struct fr_expr *a, const struct fr_expr *b)
{
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case E_INT: return a->ival == b->ival;
	case E_STR: return a->slen == b->slen && !memcmp(a->s, b->s, a->slen);
	case E_NAME: return !strcmp(a->s, b->s);
	default:
		if ((a->kind == E_CALL && strcmp(a->s, b->s)) || a->nargs != b->nargs)
			return 0;
		for (unsigned i = 0; i < a->nargs; i++)
			if (!expr_equal(a->args[i], b->args[i]))
				return 0;
		return 1;
	}
}

/*
 * A Vec<T, N> is an array map of N + 1 slots of T: slots 0..N-1 hold the
 * elements, slot N the length (N <= 64 fits any integer T). Declares
 * np<t> (the length slot, may be NULL) and n<t> (the length, at most N).
 */
static int vec_len(struct fr_bpf_gen *g, int d, const struct fr_state *st)
{
	char mn[96], ty[64];
	int t = g->tmp++;

	fr_bpf_line(g, d, "__u32 z%d = %u;\n", t, st->type.n);
	fr_bpf_line(g, d, "%s *np%d = bpf_map_lookup_elem(&%s, &z%d);\n",
		      ctype(st->type.val, ty, sizeof(ty)), t, map_name(st, mn, sizeof(mn)), t);
	fr_bpf_line(g, d, "__u32 n%d = np%d ? (*np%d < %u ? *np%d : %u) : 0;\n", t, t, t,
		      st->type.n, t, st->type.n);
	return t;
}

static void fill(struct fr_bpf_gen *g, int d, const struct fr_type *t, const char *var,
		 const struct fr_expr *e);

/* A Vec index: compared at its full width (an index of 2^32 + 1 is past the
 * end, not slot 1), then narrowed to the array map's __u32 key `kv`.
 * Returns the wide variable's name (static: used before the next call). */
static const char *vec_index(struct fr_bpf_gen *g, int d, const struct fr_expr *e, const char *kv)
{
	static const struct fr_type wide = { .kind = TY_U64 };
	static char name[24];

	snprintf(name, sizeof(name), "w%s", kv);
	fill(g, d, &wide, name, e);
	fr_bpf_line(g, d, "__u32 %s = (__u32)%s;\n", kv, name);
	return name;
}

static const struct fr_slot *rpc_slot(struct fr_bpf_gen *g, const struct fr_expr *e)
{
	return fr_layout_find(g->l, e->args[1]->s);
}

static void cval_of(struct fr_bpf_gen *g, const struct fr_expr *e, struct fr_cval *v, int d);

/* (the parser bounds the nesting, so the lines of fr_bpf_tmp_int are too) */
void fr_bpf_tmp_int(struct fr_bpf_gen *g, int d, struct fr_cval *v, enum fr_type_kind k,
		    const char *fmt, ...)
{
	char rhs[1024];
	va_list ap;
	int t = g->tmp++;

	va_start(ap, fmt);
	vsnprintf(rhs, sizeof(rhs), fmt, ap);
	va_end(ap);
	ind(g, d);
	fr_buf_printf(g->b, "%s t%d = %s;\n", fr_bpf_int_type(k), t, rhs);
	memset(v, 0, sizeof(*v));
	v->kind = k;
	snprintf(v->c, sizeof(v->c), "t%d", t);
}

const char *fr_bpf_cast_of(const struct fr_cval *a, const struct fr_cval *b)
{
	return a->kind == TY_I64 || b->kind == TY_I64 ? "(__s64)" : "(__u64)";
}

int fr_bpf_new_tmp(struct fr_bpf_gen *g)
{
	return g->tmp++;
}

const struct fr_spec *fr_bpf_spec(const struct fr_bpf_gen *g)
{
	return g->spec;
}

const struct fr_method *fr_bpf_method(const struct fr_bpf_gen *g)
{
	return g->m;
}

/*
 * byte_size(rpc): the body's length. byte_size(rpc, 'f'): a field in the
 * fixed part takes its slot, a constant; a variable field takes its length
 * prefix, found by walking the variable fields before it (each le16 length
 * + bytes). Every step is bounds-checked and each length capped at its
 * field's maximum, which keeps the offset bounded for the verifier; a
 * frame too short or malformed gives 0.
 */
static void byte_size(struct fr_bpf_gen *g, const struct fr_expr *e, struct fr_cval *v, int d)
{
	if (e->nargs == 1) {
		fr_bpf_tmp_int(g, d, v, TY_U32, "(__u32)(data_end - body)");
		return;
	}
	const struct fr_slot *s = fr_layout_find(g->l, e->args[1]->s);
	if (!s || s->fixed) {
		fr_bpf_tmp_int(g, d, v, TY_U32, "%u", s ? s->size : 0);
		return;
	}
	int t = g->tmp++;
	fr_bpf_tmp_int(g, d, v, TY_U32, "0");
	fr_bpf_line(g, d, "{\n");
	fr_bpf_line(g, d + 1, "__u64 o%d = %u;\n", t, g->var_off);
	fr_bpf_line(g, d + 1, "int ok%d = 1;\n\n", t);
	for (unsigned i = 0; i < g->l->n; i++) {
		const struct fr_slot *p = &g->l->v[i];
		if (p->fixed)
			continue;
		fr_bpf_line(g, d + 1, "if (ok%d && body + o%d + 2 <= data_end) {\n", t, t);
		fr_bpf_line(g, d + 2, "__u16 n%d = fr_le16(body + o%d);\n\n", t, t);
		ind(g, d + 2);
		if (p == s) {
			fr_buf_printf(g->b, "%s = n%d <= %u ? n%d : 0;\n", v->c, t, p->size, t);
			fr_bpf_line(g, d + 1, "}\n");
			break;
		}
		fr_buf_printf(g->b, "if (n%d > %u)\n", t, p->size);
		fr_bpf_line(g, d + 3, "ok%d = 0;\n", t);
		fr_bpf_line(g, d + 2, "o%d += 2 + (__u64)n%d;\n", t, t);
		fr_bpf_line(g, d + 1, "} else {\n");
		fr_bpf_line(g, d + 2, "ok%d = 0;\n", t);
		fr_bpf_line(g, d + 1, "}\n");
	}
	fr_bpf_line(g, d, "}\n");
}

/*
 * randomf() < p as u32 arithmetic: with K = floor(p * 2^32), a uniform u32
 * r is below K with probability K / 2^32, within 2^-32 of p. `<=` and `<`
 * coincide (as do `>` and `>=`); p = 1 gives K = 2^32, which every r is
 * below, so the 64-bit compare is always true, as it should be.
 */
static void randomf_cmp(struct fr_bpf_gen *g, const struct fr_expr *e, struct fr_cval *v, int d)
{
	int right = fr_is_randomf(e->args[1]);
	const struct fr_expr *p = e->args[!right];
	double pv = p->kind == E_FLOAT ? p->fval : (double)p->ival;
	unsigned long long k = pv >= 1 ? 1ULL << 32 : (unsigned long long)(pv * 4294967296.0);
	/* p OP randomf() is randomf() OP' p */
	int below = right ? (e->op == T_GT || e->op == T_GE) : (e->op == T_LT || e->op == T_LE);

	fr_bpf_tmp_int(g, d, v, TY_BOOL, "(__u64)bpf_get_prandom_u32() %s %lluULL",
		       below ? "<" : ">=", k);
}

static void cval_call(struct fr_bpf_gen *g, const struct fr_expr *e, struct fr_cval *v, int d)
{
	const struct fr_builtin *bi = e->bi;
	struct fr_cval a[FR_BI_MAX_ARGS];

	if (bi && bi->form == FR_BI_BYTE_SIZE) {
		byte_size(g, e, v, d);
		return;
	}
	if (bi && bi->form == FR_BI_SIZE) {
		int t = vec_len(g, d, e->args[0]->st);
		memset(v, 0, sizeof(*v));
		v->kind = TY_U32;
		snprintf(v->c, sizeof(v->c), "n%d", t);
		return;
	}
	if (!bi || bi->form != FR_BI_PLAIN || e->nargs != bi->nargs) {
		snprintf(v->c, sizeof(v->c), "0");	/* the checker rejected it */
		return;
	}
	for (unsigned i = 0; i < e->nargs; i++)
		cval_of(g, e->args[i], &a[i], d);
	bi->emit(g, d, a, v);
}

/* + - * / %, at the width of the typed side */
static void cval_arith(struct fr_bpf_gen *g, const struct fr_expr *e, struct fr_cval *v, int d)
{
	const char op = (char)fr_arith_op(e->kind);
	struct fr_cval l, r;

	cval_of(g, e->args[0], &l, d);
	cval_of(g, e->args[1], &r, d);
	enum fr_type_kind k = e->args[0]->kind == E_INT ? r.kind : l.kind;
	/* a divisor only known at run time may be 0: C leaves x / 0
	 * undefined, so the spec defines it as 0 */
	if ((e->kind == E_DIV || e->kind == E_MOD) && e->args[1]->kind != E_INT)
		fr_bpf_tmp_int(g, d, v, k, "%s ? %s %c %s : 0", r.c, l.c, op, r.c);
	else
		fr_bpf_tmp_int(g, d, v, k, "%s %c %s", l.c, op, r.c);
}

static void cval_of(struct fr_bpf_gen *g, const struct fr_expr *e, struct fr_cval *v, int d)
{
	memset(v, 0, sizeof(*v));
	if (fr_arith_op(e->kind)) {
		cval_arith(g, e, v, d);
		return;
	}
	switch (e->kind) {
	case E_INT:
		v->kind = TY_U64;
		v->is_const = 1;
		snprintf(v->c, sizeof(v->c), "%lluULL", (unsigned long long)e->ival);
		return;
	case E_BOOL:
		v->kind = TY_BOOL;
		snprintf(v->c, sizeof(v->c), "%d", (int)e->ival);
		return;
	case E_STR:
		v->is_bytes = 1;
		v->lit = e->s;
		v->litlen = e->slen;
		v->n = (unsigned)e->slen;
		return;
	case E_NAME: {
		const struct bind *bd = e->bind ? find_bind(g, e->bind) : NULL;
		const struct fr_eparam *prm = bd ? NULL : e->prm;
		if (prm) {
			/* each (method, element) pair is its own function, so an
			 * argument is a constant of the chain entry */
			const struct fr_expr *a = g->r->pvals[prm - g->el->params];
			v->kind = prm->type.kind;
			snprintf(v->c, sizeof(v->c), "((%s)%lluULL)", fr_bpf_int_type(prm->type.kind),
				 a ? (unsigned long long)a->ival : 0ULL);
			return;
		}
		const struct fr_state *sc = bd ? NULL : e->st;
		if (sc && sc->type.kind != TY_MAP) {
			char mn[96], ty[64];
			int t = g->tmp++;
			ind(g, d);
			fr_buf_printf(g->b, "__u32 z%d = 0;\n", t);
			ind(g, d);
			fr_buf_printf(g->b, "%s *p%d = bpf_map_lookup_elem(&%s, &z%d);\n",
				      ctype(&sc->type, ty, sizeof(ty)), t,
				      map_name(sc, mn, sizeof(mn)), t);
			fr_bpf_tmp_int(g, d, v, sc->type.kind, "p%d ? *p%d : 0", t, t);
			return;
		}
		if (bd && !bd->st) {
			v->kind = bd->kind;
			snprintf(v->c, sizeof(v->c), "%s", bd->var);
			return;
		}
		const struct fr_type *t = bd ? bd->st->type.val : NULL;
		if (t && t->kind == TY_STRING) {
			v->is_bytes = 1;
			v->n = t->n;
			snprintf(v->c, sizeof(v->c), "%s->b", bd->var);
		} else {
			v->kind = t ? t->kind : TY_U64;
			snprintf(v->c, sizeof(v->c), "(*%s)", bd ? bd->var : "0");
		}
		return;
	}
	case E_CMP: {
		struct fr_cval l, r;
		static const char *const ops[] = { [T_EQEQ] = "==", [T_NE] = "!=", [T_LT] = "<",
						   [T_LE] = "<=", [T_GT] = ">", [T_GE] = ">=" };
		if (fr_is_randomf(e->args[0]) || fr_is_randomf(e->args[1])) {
			randomf_cmp(g, e, v, d);
			return;
		}
		cval_of(g, e->args[0], &l, d);
		cval_of(g, e->args[1], &r, d);
		const char *cs = fr_bpf_cast_of(&l, &r);
		fr_bpf_tmp_int(g, d, v, TY_BOOL, "%s%s %s %s%s", cs, l.c, ops[e->op], cs, r.c);
		return;
	}
	case E_AND:
	case E_OR: {
		/* both sides are evaluated: they have no effects besides reads */
		struct fr_cval l, r;
		cval_of(g, e->args[0], &l, d);
		cval_of(g, e->args[1], &r, d);
		fr_bpf_tmp_int(g, d, v, TY_BOOL, "%s %s %s", l.c, e->kind == E_AND ? "&&" : "||",
			       r.c);
		return;
	}
	default:	/* the operators, above */
		return;
	case E_TUPLE:
	case E_FLOAT:
		snprintf(v->c, sizeof(v->c), "0");	/* rejected outside their places */
		return;
	case E_CALL: {
		if (!is_rpc_get(e)) {
			cval_call(g, e, v, d);
			return;
		}
		const struct fr_slot *s = rpc_slot(g, e);
		if (!s) {
			snprintf(v->c, sizeof(v->c), "0");
			return;
		}
		if (s->f->type.kind == TY_STRING) {
			v->is_bytes = 1;
			v->n = s->size;
			snprintf(v->c, sizeof(v->c), "((const char *)body + %u)", s->off);
			return;
		}
		v->kind = s->f->type.kind;
		switch (s->f->type.kind) {
		case TY_U8: snprintf(v->c, sizeof(v->c), "(*(const __u8 *)(body + %u))", s->off); break;
		case TY_BOOL: snprintf(v->c, sizeof(v->c), "(*(const __u8 *)(body + %u) != 0)", s->off); break;
		case TY_U16: snprintf(v->c, sizeof(v->c), "fr_le16(body + %u)", s->off); break;
		case TY_U32: snprintf(v->c, sizeof(v->c), "fr_le32(body + %u)", s->off); break;
		case TY_I64: snprintf(v->c, sizeof(v->c), "((__s64)fr_le64(body + %u))", s->off); break;
		default: snprintf(v->c, sizeof(v->c), "fr_le64(body + %u)", s->off); break;
		}
		return;
	}
	}
}

/* Declares `var` of type t, zeroed, and stores e into it. */
static void fill(struct fr_bpf_gen *g, int d, const struct fr_type *t, const char *var,
		 const struct fr_expr *e)
{
	struct fr_cval v;
	char ty[64];

	if (t->kind == TY_TUPLE) {
		/* the checker let only (x, y, ...) of the right arity through */
		struct fr_cval ev[8];
		unsigned n = e->nargs < 8 ? e->nargs : 8;
		for (unsigned i = 0; i < n; i++)
			cval_of(g, e->args[i], &ev[i], d);
		fr_bpf_line(g, d, "%s %s = {};\n", ctype(t, ty, sizeof(ty)), var);
		for (unsigned i = 0; i < n; i++)
			fr_bpf_line(g, d, "%s.f%u = %s;\n", var, i, ev[i].c);
		return;
	}
	cval_of(g, e, &v, d);
	ind(g, d);
	if (t->kind != TY_STRING) {
		fr_buf_printf(g->b, "%s %s = %s;\n", ctype(t, ty, sizeof(ty)), var, v.c);
		return;
	}
	fr_buf_printf(g->b, "%s %s = {};\n", ctype(t, ty, sizeof(ty)), var);
	unsigned n = v.n < t->n ? v.n : t->n;
	if (!n)
		return;
	ind(g, d);
	if (v.lit) {
		fr_buf_printf(g->b, "__builtin_memcpy(%s.b, \"", var);
		for (unsigned i = 0; i < n; i++)
			fr_buf_printf(g->b, "\\x%02x", (unsigned char)v.lit[i]);
		fr_buf_printf(g->b, "\", %u);\n", n);
	} else {
		fr_buf_printf(g->b, "__builtin_memcpy(%s.b, %s, %u);\n", var, v.c, n);
	}
}

static void gen_block(struct fr_bpf_gen *g, const struct fr_block *b, int d);

static void gen_send(struct fr_bpf_gen *g, const struct fr_stmt *s, int d)
{
	const struct fr_expr *what = s->e->args[0];
	char id[160];

	ind(g, d);
	if (what->kind == E_CALL && !strcmp(what->s, "err")) {
		fr_buf_printf(g->b, "return %s;\n",
			      fr_error_ident(g->spec, s->err_code, id, sizeof(id)));
	} else {
		fr_buf_printf(g->b, "return 0;\n");
	}
}

/* set(state, value) on a scalar: slot 0 of a one-entry array */
static void gen_set_scalar(struct fr_bpf_gen *g, const struct fr_state *sc, const struct fr_expr *v,
			   int d)
{
	char mn[96], ty[64];
	int t = g->tmp++;
	int atomic_ok = sc->type.kind == TY_U32 || sc->type.kind == TY_U64 ||
			sc->type.kind == TY_I64;

	ind(g, d);
	fr_buf_printf(g->b, "{\n");
	ind(g, d + 1);
	fr_buf_printf(g->b, "__u32 z%d = 0;\n", t);
	ind(g, d + 1);
	fr_buf_printf(g->b, "%s *p%d = bpf_map_lookup_elem(&%s, &z%d);\n\n",
		      ctype(&sc->type, ty, sizeof(ty)), t, map_name(sc, mn, sizeof(mn)), t);
	/* x = x +- K from many CPUs at once must not lose updates */
	if (atomic_ok && (v->kind == E_ADD || v->kind == E_SUB) && v->args[0]->st == sc &&
	    v->args[1]->kind == E_INT) {
		ind(g, d + 1);
		fr_buf_printf(g->b, "if (p%d)\n", t);
		ind(g, d + 2);
		fr_buf_printf(g->b, "__sync_fetch_and_add(p%d, %s%lluULL);\n", t,
			      v->kind == E_SUB ? "-" : "", (unsigned long long)v->args[1]->ival);
	} else {
		struct fr_cval cv;
		cval_of(g, v, &cv, d + 1);
		ind(g, d + 1);
		fr_buf_printf(g->b, "if (p%d)\n", t);
		ind(g, d + 2);
		fr_buf_printf(g->b, "*p%d = %s;\n", t, cv.c);
	}
	ind(g, d);
	fr_buf_printf(g->b, "}\n");
}

/* set(rpc, 'field', v): a store into the field's fixed slot */
static void gen_set_field(struct fr_bpf_gen *g, const struct fr_stmt *s, int d)
{
	const struct fr_slot *sl = fr_layout_find(g->l, s->e->args[1]->s);
	const struct fr_expr *v = s->e->args[2];
	static const char *const st[] = { [TY_U16] = "fr_st16", [TY_U32] = "fr_st32",
					   [TY_U64] = "fr_st64", [TY_I64] = "fr_st64" };

	if (!sl || !sl->fixed)
		return;		/* the checker rejected it */
	ind(g, d);
	fr_buf_printf(g->b, "{\n");
	if (sl->f->type.kind == TY_STRING) {
		ind(g, d + 1);
		fr_buf_printf(g->b, "__builtin_memcpy(body + %u, \"", sl->off);
		for (unsigned i = 0; i < sl->size; i++)
			fr_buf_printf(g->b, "\\x%02x", i < v->slen ? (unsigned char)v->s[i] : 0);
		fr_buf_printf(g->b, "\", %u);\n", sl->size);
	} else {
		struct fr_cval cv;
		cval_of(g, v, &cv, d + 1);
		ind(g, d + 1);
		switch (sl->f->type.kind) {
		case TY_U8:
			fr_buf_printf(g->b, "*(__u8 *)(body + %u) = (__u8)(%s);\n", sl->off, cv.c);
			break;
		case TY_BOOL:
			fr_buf_printf(g->b, "*(__u8 *)(body + %u) = (%s) != 0;\n", sl->off, cv.c);
			break;
		default:
			fr_buf_printf(g->b, "%s(body + %u, %s);\n", st[sl->f->type.kind], sl->off, cv.c);
			break;
		}
	}
	ind(g, d + 1);
	fr_buf_printf(g->b, "fr_note_rewrite();\n");
	ind(g, d);
	fr_buf_printf(g->b, "}\n");
}

static void gen_set(struct fr_bpf_gen *g, const struct fr_stmt *s, int d)
{
	const struct fr_expr *me = s->e->args[0];
	const struct fr_state *st = NULL;
	char mn[96], kv[16], vv[16];

	/* the checker resolved every first argument but the message to a state */
	if (!me->st) {
		gen_set_field(g, s, d);
		return;
	}

	if (s->e->nargs == 2) {
		gen_set_scalar(g, me->st, s->e->args[1], d);
		return;
	}
	const struct fr_expr *k = s->e->args[1], *v = s->e->args[2];

	/* a binder of the same map and key: update in place through its
	 * pointer (atomically for counters, as other CPUs share the entry) */
	for (int i = g->nbinds - 1; i >= 0; i--) {
		const struct bind *bd = &g->binds[i];
		if (!bd->st || bd->st != me->st || !expr_equal(bd->key, k))
			continue;
		st = bd->st;
		const struct fr_type *vt = st->type.val;
		if (vt->kind == TY_STRING)
			break;
		int atomic_ok = vt->kind == TY_U32 || vt->kind == TY_U64 || vt->kind == TY_I64;
		if ((v->kind == E_ADD || v->kind == E_SUB) && v->args[0]->bind == bd->id &&
		    v->args[1]->kind == E_INT) {
			ind(g, d);
			if (atomic_ok)
				fr_buf_printf(g->b, "__sync_fetch_and_add(%s, %s%lluULL);\n", bd->var,
					      v->kind == E_SUB ? "-" : "",
					      (unsigned long long)v->args[1]->ival);
			else
				fr_buf_printf(g->b, "*%s %c= %llu;\n", bd->var,
					      v->kind == E_ADD ? '+' : '-',
					      (unsigned long long)v->args[1]->ival);
			return;
		}
		struct fr_cval cv;
		cval_of(g, v, &cv, d);
		ind(g, d);
		fr_buf_printf(g->b, "*%s = %s;\n", bd->var, cv.c);
		return;
	}

	ind(g, d);
	fr_buf_printf(g->b, "{\n");
	int t = g->tmp++;
	snprintf(kv, sizeof(kv), "k%d", t);
	snprintf(vv, sizeof(vv), "v%d", t);
	const struct fr_state *ms = me->st;
	if (ms->type.kind == TY_VEC) {
		/* a store past the length grows the Vec to include it */
		const char *wide = vec_index(g, d + 1, k, kv);
		fill(g, d + 1, ms->type.val, vv, v);
		int n = vec_len(g, d + 1, ms);
		ind(g, d + 1);
		fr_buf_printf(g->b, "if (%s < %u && !bpf_map_update_elem(&%s, &%s, &%s, BPF_ANY) "
			      "&&\n", wide, ms->type.n, map_name(ms, mn, sizeof(mn)), kv, vv);
		ind(g, d + 1);
		fr_buf_printf(g->b, "    np%d && n%d <= %s)\n", n, n, kv);
		ind(g, d + 2);
		fr_buf_printf(g->b, "*np%d = %s + 1;\n", n, kv);
		ind(g, d);
		fr_buf_printf(g->b, "}\n");
		return;
	}
	/* A present key is written in place: an update would take a fresh LRU
	 * node first, which in a full map pushes out another key. */
	char ty[64];
	fill(g, d + 1, ms->type.key, kv, k);
	fill(g, d + 1, ms->type.val, vv, v);
	map_name(ms, mn, sizeof(mn));
	fr_bpf_line(g, d + 1, "%s *p%d = bpf_map_lookup_elem(&%s, &%s);\n\n",
	            ctype(ms->type.val, ty, sizeof(ty)), t, mn, kv);
	fr_bpf_line(g, d + 1, "if (p%d)\n", t);
	fr_bpf_line(g, d + 2, "__builtin_memcpy(p%d, &%s, sizeof(%s));\n", t, vv, vv);
	fr_bpf_line(g, d + 1, "else if (fr_state_insert(&%s, %d, %d, &%s, &%s))\n", mn,
	            ms->map_index, ms->full_refuse, kv, vv);
	fr_bpf_line(g, d + 2, "return FLATRPC_ST_STATE_FULL;\n");
	ind(g, d);
	fr_buf_printf(g->b, "}\n");
}

/* forward(rpc, ip): the kernel reads the address back with
 * fr_anf_forward_to() when the chain returns FLATRPC_ANF_FORWARD */
static void gen_forward(struct fr_bpf_gen *g, const struct fr_stmt *s, int d)
{
	struct fr_cval v;
	int t = g->tmp++;

	fr_bpf_line(g, d, "{\n");
	cval_of(g, s->e->args[1], &v, d + 1);
	fr_bpf_line(g, d + 1, "struct fr_anf_out *o%d = fr_anf_out();\n\n", t);
	fr_bpf_line(g, d + 1, "if (o%d) {\n", t);
	fr_bpf_line(g, d + 2, "o%d->forward_to = (__u32)(%s);\n", t, v.c);
	fr_bpf_line(g, d + 2, "return FLATRPC_ANF_FORWARD;\n");
	fr_bpf_line(g, d + 1, "}\n");
	fr_bpf_line(g, d, "}\n");
	fr_bpf_line(g, d, "return 0;\t/* never: the slot always exists */\n");
}

/* push(v, x): a full Vec stays as it is */
static void gen_push(struct fr_bpf_gen *g, const struct fr_stmt *s, int d)
{
	const struct fr_state *ms = s->e->args[0]->st;
	char mn[96], vv[16];

	snprintf(vv, sizeof(vv), "v%d", g->tmp++);
	fr_bpf_line(g, d, "{\n");
	fill(g, d + 1, ms->type.val, vv, s->e->args[1]);
	int n = vec_len(g, d + 1, ms);
	fr_bpf_line(g, d + 1, "if (np%d && n%d < %u &&\n", n, n, ms->type.n);
	fr_bpf_line(g, d + 1, "    !bpf_map_update_elem(&%s, &n%d, &%s, BPF_ANY))\n",
		      map_name(ms, mn, sizeof(mn)), n, vv);
	fr_bpf_line(g, d + 2, "*np%d = n%d + 1;\n", n, n);
	fr_bpf_line(g, d, "}\n");
}

static void gen_block(struct fr_bpf_gen *g, const struct fr_block *b, int d);

/* foreach x in v: the body once per slot, each guarded by the length;
 * unrolled, since kernel 6.1 has no bpf_for and N is small */
static void gen_foreach(struct fr_bpf_gen *g, const struct fr_stmt *s, int d)
{
	const struct fr_state *ms = s->e->st;
	char mn[96], ty[64];

	fr_bpf_line(g, d, "{\n");
	int n = vec_len(g, d + 1, ms);
	for (unsigned i = 0; i < ms->type.n; i++) {
		int t = g->tmp++;
		fr_bpf_line(g, d + 1, "if (n%d > %u) {\n", n, i);
		fr_bpf_line(g, d + 2, "__u32 i%d = %u;\n", t, i);
		fr_bpf_line(g, d + 2, "%s *e%d = bpf_map_lookup_elem(&%s, &i%d);\n\n",
			      ctype(ms->type.val, ty, sizeof(ty)), t,
			      map_name(ms, mn, sizeof(mn)), t);
		fr_bpf_line(g, d + 2, "if (e%d) {\n", t);
		struct bind *bd = push_bind(g, s->bind_ids[0]);
		bd->kind = ms->type.val->kind;
		snprintf(bd->var, sizeof(bd->var), "(*e%d)", t);
		gen_block(g, &s->body, d + 3);
		g->nbinds--;
		fr_bpf_line(g, d + 2, "}\n");
		fr_bpf_line(g, d + 1, "}\n");
	}
	fr_bpf_line(g, d, "}\n");
}

static void gen_delete(struct fr_bpf_gen *g, const struct fr_stmt *s, int d)
{
	const struct fr_state *ms = s->e->args[0]->st;
	char mn[96], kv[16];

	snprintf(kv, sizeof(kv), "k%d", g->tmp++);
	fr_bpf_line(g, d, "{\n");
	fill(g, d + 1, ms->type.key, kv, s->e->args[1]);
	fr_bpf_line(g, d + 1, "fr_state_delete(&%s, %d, &%s);\n", map_name(ms, mn, sizeof(mn)),
	            ms->map_index, kv);
	fr_bpf_line(g, d, "}\n");
}

/* Byte-wise compare of an N-byte slot with a zero-padded constant. */
static void str_eq(struct fr_bpf_gen *g, const struct fr_cval *v, const struct fr_expr *c, int d)
{
	fr_buf_printf(g->b, "(");
	for (unsigned i = 0; i < v->n; i++) {
		unsigned ch = i < c->slen ? (unsigned char)c->s[i] : 0;
		if (i) {
			fr_buf_printf(g->b, " &&\n");
			ind(g, d);
			fr_buf_printf(g->b, "    ");
		}
		fr_buf_printf(g->b, "((const unsigned char *)%s)[%u] == 0x%02x", v->c, i, ch);
	}
	fr_buf_printf(g->b, ")");
}

static void gen_match(struct fr_bpf_gen *g, const struct fr_stmt *s, int d)
{
	const struct fr_expr *e = s->e;
	char ty[64], mn[96];
	int t = g->tmp++;

	ind(g, d);
	fr_buf_printf(g->b, "{\n");
	if (e->kind == E_CALL && e->bi && e->bi->form == FR_BI_GET && e->args[0]->st) {
		/* option: look the key up; Some binds the value pointer */
		const struct fr_state *st = e->args[0]->st;
		char kv[16], vv[16];
		snprintf(kv, sizeof(kv), "k%d", t);
		snprintf(vv, sizeof(vv), "v%d", t);
		if (st->type.kind == TY_VEC) {
			/* only slots below the length hold elements */
			int n = vec_len(g, d + 1, st);
			const char *wide = vec_index(g, d + 1, e->args[1], kv);
			ind(g, d + 1);
			fr_buf_printf(g->b, "%s *%s = %s < n%d ? bpf_map_lookup_elem(&%s, &%s) : "
				      "NULL;\n\n", ctype(st->type.val, ty, sizeof(ty)), vv, wide, n,
				      map_name(st, mn, sizeof(mn)), kv);
		} else {
			fill(g, d + 1, st->type.key, kv, e->args[1]);
			ind(g, d + 1);
			fr_buf_printf(g->b, "%s *%s = bpf_map_lookup_elem(&%s, &%s);\n\n",
				      ctype(st->type.val, ty, sizeof(ty)), vv,
				      map_name(st, mn, sizeof(mn)), kv);
		}
		const struct fr_arm *some = NULL, *none = NULL;
		for (unsigned i = 0; i < s->narms; i++) {
			const struct fr_arm *a = &s->arms[i];
			if (a->kind == A_SOME && !some)
				some = a;
			else if ((a->kind == A_NONE || a->kind == A_WILD) && !none)
				none = a;
		}
		if (some) {
			ind(g, d + 1);
			fr_buf_printf(g->b, "if (%s) {\n", vv);
			int scope = g->nbinds;
			if (some->nbinds) {
				/* Some((a, b)): each name reads its field in place */
				for (unsigned i = 0; i < some->nbinds && i < st->type.val->n; i++) {
					struct bind *bd = push_bind(g, some->bind_ids[i]);
					bd->kind = st->type.val->elems[i].kind;
					snprintf(bd->var, sizeof(bd->var), "%s->f%u", vv, i);
				}
			} else {
				struct bind *bd = push_bind(g, some->bind_id);
				snprintf(bd->var, sizeof(bd->var), "%s", vv);
				bd->st = st;
				bd->key = e->args[1];
			}
			gen_block(g, &some->body, d + 2);
			g->nbinds = scope;
			ind(g, d + 1);
			fr_buf_printf(g->b, "}%s", none ? " else " : "\n");
		} else if (none) {
			ind(g, d + 1);
			fr_buf_printf(g->b, "if (!%s) ", vv);
		}
		if (none) {
			fr_buf_printf(g->b, "{\n");
			gen_block(g, &none->body, d + 2);
			ind(g, d + 1);
			fr_buf_printf(g->b, "}\n");
		}
	} else {
		/* a plain value against constants */
		struct fr_cval v;
		cval_of(g, e, &v, d + 1);
		if (!v.is_bytes) {
			ind(g, d + 1);
			fr_buf_printf(g->b, "__u64 m%d = %s;\n\n", t, v.c);
			snprintf(v.c, sizeof(v.c), "m%d", t);
		} else if (v.lit) {
			/* matching a constant: compare against a stack copy */
			ind(g, d + 1);
			fr_buf_printf(g->b, "const char m%d[%u] = {", t, v.n ? v.n : 1);
			for (unsigned i = 0; i < v.n; i++)
				fr_buf_printf(g->b, "%s0x%02x", i ? ", " : "", (unsigned char)v.lit[i]);
			fr_buf_printf(g->b, "};\n\n");
			snprintf(v.c, sizeof(v.c), "m%d", t);
			v.lit = NULL;
		}
		int first = 1;
		const struct fr_arm *wild = NULL;
		for (unsigned i = 0; i < s->narms; i++) {
			const struct fr_arm *a = &s->arms[i];
			if (a->kind != A_CONST) {
				if (!wild)
					wild = a;
				continue;
			}
			ind(g, d + 1);
			fr_buf_printf(g->b, "%sif (", first ? "" : "} else ");
			if (v.is_bytes)
				str_eq(g, &v, a->value, d + 1);
			else
				fr_buf_printf(g->b, "%s == %lluULL", v.c,
					      (unsigned long long)a->value->ival);
			fr_buf_printf(g->b, ") {\n");
			gen_block(g, &a->body, d + 2);
			first = 0;
		}
		if (wild) {
			ind(g, d + 1);
			fr_buf_printf(g->b, "%s{\n", first ? "" : "} else ");
			gen_block(g, &wild->body, d + 2);
			first = 0;
		}
		if (!first) {
			ind(g, d + 1);
			fr_buf_printf(g->b, "}\n");
		}
	}
	ind(g, d);
	fr_buf_printf(g->b, "}\n");
}

/* Locals are C variables l_<name>, declared at their first assignment in
 * a block; C's block scope is the spec's, as each arm is a C block. */
static void gen_assign(struct fr_bpf_gen *g, const struct fr_stmt *s, int d)
{
	struct fr_cval v[32];
	unsigned n = s->nnames < 32 ? s->nnames : 32;

	for (unsigned i = 0; i < n; i++) {
		const struct fr_expr *e = s->nnames > 1 ? s->e->args[i] : s->e;
		cval_of(g, e, &v[i], d);
		/* read every value before writing any name: (a, b) = (b, a) */
		if (n > 1)
			fr_bpf_tmp_int(g, d, &v[i], v[i].kind, "%s", v[i].c);
	}
	for (unsigned i = 0; i < n; i++) {
		const struct bind *bd = find_bind(g, s->bind_ids[i]);
		ind(g, d);
		if (bd && !bd->st) {
			fr_buf_printf(g->b, "%s = %s;\n", bd->var, v[i].c);
			continue;
		}
		struct bind *nb = push_bind(g, s->bind_ids[i]);
		nb->kind = v[i].kind;
		snprintf(nb->var, sizeof(nb->var), "l_%s", s->names[i]);
		fr_buf_printf(g->b, "%s %s = %s;\n", fr_bpf_int_type(nb->kind), nb->var, v[i].c);
	}
}

static void gen_block(struct fr_bpf_gen *g, const struct fr_block *b, int d)
{
	int scope = g->nbinds;

	for (unsigned i = 0; i < b->n; i++) {
		const struct fr_stmt *s = b->v[i];
		switch (s->kind) {
		case S_ASSIGN: gen_assign(g, s, d); break;
		case S_FOREACH: gen_foreach(g, s, d); break;
		case S_FORWARD: gen_forward(g, s, d); break;
		case S_MATCH: gen_match(g, s, d); break;
		case S_SEND: gen_send(g, s, d); break;
		case S_SET: gen_set(g, s, d); break;
		case S_PASS: ind(g, d); fr_buf_printf(g->b, "return 0;\t/* pass */\n"); break;
		case S_CALL:
			if (!strcmp(s->e->s, "delete"))
				gen_delete(g, s, d);
			else if (!strcmp(s->e->s, "push"))
				gen_push(g, s, d);
			break;	/* anything else was rejected by the checker */
		}
	}
	g->nbinds = scope;
}

static void inst_name(const struct fr_method *m, const struct fr_element *el, int resp,
		      char *buf, size_t n)
{
	char mn[64], en[64];

	snprintf(buf, n, "fr_anf_%s_%s_%s", fr_cname(mn, sizeof(mn), m->name),
		 fr_cname(en, sizeof(en), el->name), resp ? "resp" : "req");
}

static void gen_instance(const struct fr_spec *spec, const struct fr_method *m,
			 const struct fr_chain_ref *r, int resp, struct fr_buf *b)
{
	const struct fr_element *el = r->elem;
	struct fr_bpf_gen g = { .spec = spec, .m = m, .r = r, .el = el,
				.l = resp ? &m->lresp : &m->lreq, .b = b };

	/* a server: element sees the request as the wire carries it */
	g.var_off = g.l->fixed - (!resp && r->side == FR_SERVER ? g.l->strip : 0);
	char fn[200], SV[64], MN[64];

	inst_name(m, el, resp, fn, sizeof(fn));
	fr_cname_upper(SV, sizeof(SV), spec->svc->name);
	fr_cname_upper(MN, sizeof(MN), m->name);
	fr_buf_printf(b, "\n/* %s.%s() on %s %ss */\n", el->name, resp ? "resp" : "req",
		      m->name, resp ? "response" : "request");
	fr_buf_printf(b, "static __always_inline int %s(void *body, void *data_end)\n{\n", fn);
	/* a client: element sees the request before its strip */
	fr_buf_printf(b, "\tif (body + %s_%s_%s > data_end)\n\t\treturn 0;\n",
		      SV, MN, resp ? "RESP_FIXED" : r->side == FR_CLIENT ? "REQ_CLIENT_FIXED" :
		      "REQ_FIXED");
	const struct fr_block *body = resp ? &el->resp.body : &el->req.body;
	gen_block(&g, body, 1);
	if (!body->n || (body->v[body->n - 1]->kind != S_SEND &&
			 body->v[body->n - 1]->kind != S_PASS &&
			 body->v[body->n - 1]->kind != S_FORWARD))
		fr_buf_printf(b, "\treturn 0;\t/* end of %s(): continue */\n",
			      resp ? "resp" : "req");
	fr_buf_printf(b, "}\n");
}

/*
 * One chain runner per hook, each a switch on the method: "req" runs the
 * server: elements' req() in XDP at the server, "client_req" the client:
 * ones' in the client program, and "resp" every resp(), server: elements'
 * first as the response travels, in XDP at the client.
 */
static void gen_dispatch(const struct fr_spec *spec, const char *name, struct fr_buf *b)
{
	const struct fr_service *svc = spec->svc;
	int resp = !strcmp(name, "resp");
	char fn[200], SV[64], MN[64];

	fr_cname_upper(SV, sizeof(SV), svc->name);
	fr_buf_printf(b, "\n/* Runs the %s chain of a method: 0 passes the message on, "
		      "1..127 is an error code. */\n", name);
	fr_buf_printf(b, "static __always_inline int fr_anf_%s(__u32 method, void *body, "
		      "void *data_end)\n{\n\tint rc = 0;\n\n\tswitch (method) {\n", name);
	for (unsigned i = 0; i < svc->nmethods; i++) {
		const struct fr_method *m = &svc->methods[i];
		fr_buf_printf(b, "\tcase %s_%s:\n", SV, fr_cname_upper(MN, sizeof(MN), m->name));
		for (int pass = 0; pass < 2; pass++) {
			/* resp: server: entries, then client: ones */
			enum fr_side want = resp ? (pass ? FR_CLIENT : FR_SERVER) :
					    !strcmp(name, "req") ? FR_SERVER : FR_CLIENT;
			if (!resp && pass)
				break;
			for (unsigned j = 0; j < m->nchain; j++) {
				const struct fr_element *el = m->chain[j].elem;
				if (m->chain[j].side != want ||
				    !(resp ? el->resp.present : el->req.present))
					continue;
				inst_name(m, el, resp, fn, sizeof(fn));
				fr_buf_printf(b, "\t\trc = %s(body, data_end);\n"
					      "\t\tfr_elem_count(%u, rc);\n\t\tif (rc)\n"
					      "\t\t\treturn rc;\n", fn, fr_elem_slot(spec, i, j, resp));
			}
		}
		fr_buf_printf(b, "\t\tbreak;\n");
	}
	fr_buf_printf(b, "\t}\n\treturn rc;\n}\n");
}

static void size_fn(const struct fr_spec *spec, const char *name, const char *what,
		    const char *deflt, struct fr_buf *b)
{
	const struct fr_service *svc = spec->svc;
	char SV[64], MN[64];

	fr_cname_upper(SV, sizeof(SV), svc->name);
	fr_buf_printf(b, "\nstatic __always_inline %s %s(__u32 m)\n{\n\tswitch (m) {\n",
		      strcmp(deflt, "0") ? "int" : "__u32", name);
	for (unsigned i = 0; i < svc->nmethods; i++) {
		fr_cname_upper(MN, sizeof(MN), svc->methods[i].name);
		fr_buf_printf(b, "\tcase %s_%s: return %s_%s_%s;\n", SV, MN, SV, MN, what);
	}
	fr_buf_printf(b, "\t}\n\treturn %s;\n}\n", deflt);
}

/* string<N> wrappers used by the maps, each declared once */
static void str_types(const struct fr_spec *spec, struct fr_buf *b)
{
	unsigned seen[256], n = 0;
	char tn[256][64], ty[64];
	unsigned ntn = 0;

	/* tuples: packed, so a value is its elements' bytes in turn, as init.h
	 * lays it out */
	for (unsigned i = 0; i < spec->nelems; i++)
		for (unsigned j = 0; j < spec->elems[i]->nstates; j++) {
			const struct fr_type *t = spec->elems[i]->states[j].type.val;
			unsigned q;
			if (spec->elems[i]->states[j].type.kind != TY_MAP || t->kind != TY_TUPLE)
				continue;
			ctype(t, ty, sizeof(ty));
			for (q = 0; q < ntn && strcmp(tn[q], ty); q++)
				;
			if (q < ntn || ntn == 256)
				continue;
			snprintf(tn[ntn++], sizeof(tn[0]), "%s", ty);
			fr_buf_printf(b, "%s {", ty);
			for (unsigned k = 0; k < t->n; k++)
				fr_buf_printf(b, " %s f%u;", fr_bpf_int_type(t->elems[k].kind), k);
			fr_buf_printf(b, " } __attribute__((packed));\n");
		}

	for (unsigned i = 0; i < spec->nelems; i++) {
		const struct fr_element *el = spec->elems[i];
		for (unsigned j = 0; j < el->nstates; j++) {
			const struct fr_type *ts[2] = { el->states[j].type.key, el->states[j].type.val };
			for (int k = 0; k < 2; k++) {
				if (!ts[k] || ts[k]->kind != TY_STRING)
					continue;
				unsigned q;
				for (q = 0; q < n && seen[q] != ts[k]->n; q++)
					;
				if (q < n || n == 256)
					continue;
				seen[n++] = ts[k]->n;
				fr_buf_printf(b, "struct fr_str%u { char b[%u]; };\n",
					      ts[k]->n, ts[k]->n);
			}
		}
	}
}


void fr_emit_bpf(const struct fr_spec *spec, struct fr_buf *b)
{
	const struct fr_service *svc = spec->svc;
	char sv[64], SV[64], ty[64], ty2[64], mn[96];

	fr_cname(sv, sizeof(sv), svc->name);
	fr_cname_upper(SV, sizeof(SV), svc->name);
	fr_emit_banner(spec, b);
	fr_buf_printf(b, "/*\n * The ANFs of service %s in BPF C. Include after <linux/bpf.h> and\n"
		      " * <bpf/bpf_helpers.h>. Loop-free: every offset and size is constant.\n"
		      " */\n", svc->name);
	fr_buf_printf(b, "#ifndef FR_%s_ANF_BPF_H\n#define FR_%s_ANF_BPF_H\n\n", SV, SV);
	fr_buf_printf(b, "#include \"%s.abi.h\"\n\n#define FR_N_METHODS %u\n", sv, svc->nmethods);
	fr_buf_printf(b, "/* 1: frames carry a message tag (auth: siphash, the default) */\n"
		      "#define FR_SPEC_AUTH %d\n", !svc->auth_none);
	fr_buf_printf(b, "/* the port XDP matches unless flatrpc-load --port says otherwise */\n"
		      "#define FR_SPEC_PORT %u\n", svc->port);

	size_fn(spec, "fr_req_fixed", "REQ_FIXED", "-1", b);
	size_fn(spec, "fr_resp_fixed", "RESP_FIXED", "-1", b);
	size_fn(spec, "fr_req_strip", "REQ_STRIP", "0", b);
	size_fn(spec, "fr_method_flags", "FLAGS", "0", b);

	/* the helpers the instance functions call: kern/anf_rt.h */
	fr_buf_printf(b, "\n#include \"anf_rt.h\"\n\n");
	fr_buf_printf(b, "/* ---- element state, pinned by name so it outlives reloads ---- */\n");
	str_types(spec, b);
	for (unsigned i = 0; i < spec->nelems; i++) {
		const struct fr_element *el = spec->elems[i];
		if (!el->used)
			continue;
		for (unsigned j = 0; j < el->nstates; j++) {
			const struct fr_state *st = &el->states[j];
			fr_buf_printf(b, "\n/* %s.%s: %s */\n", el->name, st->name,
				      fr_type_str(&st->type, ty, sizeof(ty)));
			if (st->type.kind == TY_VEC) {
				/* slots 0..N-1 the elements, slot N the length */
				fr_buf_printf(b, "struct {\n\t__uint(type, BPF_MAP_TYPE_ARRAY);\n"
					      "\t__uint(max_entries, %u);\n\t__type(key, __u32);\n"
					      "\t__type(value, %s);\n"
					      "\t__uint(pinning, LIBBPF_PIN_BY_NAME);\n"
					      "} %s SEC(\".maps\");\n", st->type.n + 1,
					      ctype(st->type.val, ty2, sizeof(ty2)),
					      map_name(st, mn, sizeof(mn)));
				continue;
			}
			if (st->type.kind != TY_MAP) {
				/* one shared slot; an array so it pins like the maps */
				fr_buf_printf(b, "struct {\n\t__uint(type, BPF_MAP_TYPE_ARRAY);\n"
					      "\t__uint(max_entries, 1);\n\t__type(key, __u32);\n"
					      "\t__type(value, %s);\n"
					      "\t__uint(pinning, LIBBPF_PIN_BY_NAME);\n"
					      "} %s SEC(\".maps\");\n",
					      ctype(&st->type, ty2, sizeof(ty2)),
					      map_name(st, mn, sizeof(mn)));
				continue;
			}
			/* @full(evict) is the kernel's LRU; @full(refuse) a plain hash,
			 * whose insert fails when full */
			fr_buf_printf(b, "/* state_limits[%d]; when full: %s */\n",
				      st->map_index,
				      st->full_refuse ? "refuse" : "evict");
			fr_buf_printf(b, "struct {\n\t__uint(type, BPF_MAP_TYPE_%s);\n"
				      "\t__uint(max_entries, %u);\n\t__type(key, %s);\n"
				      "\t__type(value, %s);\n\t__uint(pinning, LIBBPF_PIN_BY_NAME);\n"
				      "} %s SEC(\".maps\");\n",
				      st->full_refuse ? "HASH" : "LRU_HASH",
				      st->max_entries ? st->max_entries : 65536,
				      ctype(st->type.key, ty, sizeof(ty)),
				      ctype(st->type.val, ty2, sizeof(ty2)),
				      map_name(st, mn, sizeof(mn)));
		}
	}

	fr_buf_printf(b, "\n/* ---- what each element decided (docs/observability.md) ---- */\n"
		      "\n/* Per CPU, key slot * FLATRPC_ELEM_VERDICTS + verdict; the slots are\n"
		      " * FLATRPC_SPEC_ELEMENTS in init.h. */\n"
		      "struct {\n\t__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);\n"
		      "\t__uint(max_entries, %u * FLATRPC_ELEM_VERDICTS);\n\t__type(key, __u32);\n"
		      "\t__type(value, __u64);\n\t__uint(pinning, LIBBPF_PIN_BY_NAME);\n"
		      "} elem_verdicts SEC(\".maps\");\n\n"
		      "static __always_inline void fr_elem_count(__u32 slot, int rc)\n{\n"
		      "\t__u32 k = slot * FLATRPC_ELEM_VERDICTS + FLATRPC_ELEM_VERDICT(rc);\n"
		      "\t__u64 *c;\n\n"
		      "\tif (!flatrpc_figures)\n\t\treturn;\n"
		      "\tc = bpf_map_lookup_elem(&elem_verdicts, &k);\n"
		      "\tif (c)\n\t\t(*c)++;\n}\n", fr_elem_slots(spec));
	/* the BPF side never touches it; it is here to be pinned with the
	 * rest, sized for the spec */
	fr_buf_printf(b, "\n/* What the library's client: elements decided (FLATRPC_CV_* in\n"
		      " * flatrpc_abi.h): every process adds to it through mmap. */\n"
		      "struct {\n\t__uint(type, BPF_MAP_TYPE_ARRAY);\n"
		      "\t__uint(max_entries, FLATRPC_CV_ENTRIES(%u));\n"
		      "\t__uint(map_flags, BPF_F_MMAPABLE);\n\t__type(key, __u32);\n"
		      "\t__type(value, __u64);\n\t__uint(pinning, LIBBPF_PIN_BY_NAME);\n"
		      "} client_verdicts SEC(\".maps\");\n", fr_elem_slots(spec));
	fr_buf_printf(b, "\n/* ---- chains, one function per method, element and direction ---- */\n");
	for (unsigned i = 0; i < svc->nmethods; i++) {
		const struct fr_method *m = &svc->methods[i];
		for (int resp = 0; resp < 2; resp++)
			for (unsigned j = 0; j < m->nchain; j++) {
				const struct fr_element *el = m->chain[j].elem;
				if (resp ? el->resp.present : el->req.present)
					gen_instance(spec, m, &m->chain[j], resp, b);
			}
	}
	gen_dispatch(spec, "req", b);
	gen_dispatch(spec, "client_req", b);
	gen_dispatch(spec, "resp", b);
	fr_buf_printf(b, "\n#endif /* FR_%s_ANF_BPF_H */\n", SV);
}

static int expr_uses_state(const struct fr_expr *e)
{
	if (!e)
		return 0;
	if (e->st)
		return 1;
	for (unsigned i = 0; i < e->nargs; i++)
		if (expr_uses_state(e->args[i]))
			return 1;
	return 0;
}

static int block_uses_state(const struct fr_block *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		const struct fr_stmt *s = b->v[i];
		if (expr_uses_state(s->e) || block_uses_state(&s->body))
			return 1;
		for (unsigned a = 0; a < s->narms; a++)
			if (expr_uses_state(s->arms[a].value) || block_uses_state(&s->arms[a].body))
				return 1;
	}
	return 0;
}

/* Does element el run a req() on the client side of some method? */
static int runs_on_client(const struct fr_spec *spec, const struct fr_element *el)
{
	for (unsigned i = 0; i < spec->svc->nmethods; i++) {
		const struct fr_method *m = &spec->svc->methods[i];
		for (unsigned j = 0; j < m->nchain; j++)
			if (m->chain[j].elem == el && m->chain[j].side == FR_CLIENT &&
			    el->req.present)
				return 1;
	}
	return 0;
}

/*
 * The client: elements' req() for the sending library, appended to
 * <svc>_stubs.c: the instance functions and the client_req runner are
 * printed by gen_instance() and gen_dispatch(), the same code as in
 * anf.bpf.h, on include/flatrpc_anf_user.h instead of kern/anf_rt.h; the
 * state maps become tables in the process, seeded from init.h. Nothing
 * for a spec without client: elements, or with one whose resp() uses
 * state: the library then runs the client program.
 */
void fr_emit_client_user(const struct fr_spec *spec, struct fr_buf *b)
{
	const struct fr_service *svc = spec->svc;
	char sv[64], ty[64], ty2[64], mn[96];
	int any = 0;

	for (unsigned i = 0; i < spec->nelems; i++) {
		const struct fr_element *el = spec->elems[i];
		if (!el->used || !runs_on_client(spec, el))
			continue;
		/* its resp() runs in the client host's XDP, on the host's maps:
		 * a req() on the process's tables would not see what it wrote,
		 * nor it what req() wrote, so the client program keeps both on
		 * the same maps */
		if (el->resp.present && block_uses_state(&el->resp.body))
			return;
		any = 1;
	}
	if (!any)
		return;
	fr_cname(sv, sizeof(sv), svc->name);
	fr_buf_printf(b, "\n/* ---- client: elements, run by the sending library ---- */\n"
		      "/* The same instance code as anf.bpf.h's, on the user-space helpers of\n"
		      " * flatrpc_anf_user.h; registered before main() (docs/placement.md). */\n\n"
		      "#include \"flatrpc_anf_user.h\"\n#include \"init.h\"\n\n");
	str_types(spec, b);
	fr_buf_printf(b, "\n");
	for (unsigned i = 0; i < spec->nelems; i++) {
		const struct fr_element *el = spec->elems[i];
		if (!el->used || !runs_on_client(spec, el))
			continue;
		for (unsigned j = 0; j < el->nstates; j++) {
			const struct fr_state *st = &el->states[j];
			map_name(st, mn, sizeof(mn));
			fr_buf_printf(b, "/* %s.%s: %s */\n", el->name, st->name,
				      fr_type_str(&st->type, ty, sizeof(ty)));
			if (st->type.kind == TY_MAP)
				fr_buf_printf(b, "static struct fr_umap %s = FR_UMAP_HASH_INIT(\"%s\", "
					      "sizeof(%s), sizeof(%s), %u, %d);\n", mn, mn,
					      ctype(st->type.key, ty, sizeof(ty)),
					      ctype(st->type.val, ty2, sizeof(ty2)),
					      st->max_entries ? st->max_entries : 65536,
					      !!st->full_refuse);
			else	/* a Vec: slots 0..N-1 and its length; a scalar: one slot */
				fr_buf_printf(b, "static struct fr_umap %s = FR_UMAP_ARRAY_INIT(\"%s\", "
					      "sizeof(%s), %u);\n", mn, mn,
					      ctype(st->type.kind == TY_VEC ? st->type.val : &st->type,
						    ty2, sizeof(ty2)),
					      st->type.kind == TY_VEC ? st->type.n + 1 : 1);
		}
	}
	fr_buf_printf(b, "\nstatic struct fr_umap *const fr_umaps[] = {");
	for (unsigned i = 0; i < spec->nelems; i++) {
		const struct fr_element *el = spec->elems[i];
		if (!el->used || !runs_on_client(spec, el))
			continue;
		for (unsigned j = 0; j < el->nstates; j++)
			fr_buf_printf(b, " &%s,", map_name(&el->states[j], mn, sizeof(mn)));
	}
	fr_buf_printf(b, " NULL };\n\n"
		      "/* the client_verdicts mapping of the run in progress, or NULL */\n"
		      "static __thread __u64 *fr_ucv;\n\n"
		      "static __always_inline void fr_elem_count(__u32 slot, int rc)\n{\n"
		      "\tif (fr_ucv)\n\t\t__atomic_fetch_add(&fr_ucv[FLATRPC_CV_ELEM(slot, "
		      "FLATRPC_ELEM_VERDICT(rc))], 1,\n\t\t\t\t   __ATOMIC_RELAXED);\n}\n");
	for (unsigned i = 0; i < svc->nmethods; i++) {
		const struct fr_method *m = &svc->methods[i];
		for (unsigned j = 0; j < m->nchain; j++)
			if (m->chain[j].side == FR_CLIENT && m->chain[j].elem->req.present)
				gen_instance(spec, m, &m->chain[j], 0, b);
	}
	gen_dispatch(spec, "client_req", b);
	fr_buf_printf(b, "\nstatic int %s_client_lock;\n\n"
		      "static int %s_client_run(uint64_t *verdicts, unsigned int method, void *fixed, "
		      "size_t len)\n{\n\tint rc;\n\n"
		      "\tfr_ulock(&%s_client_lock);\n\tfr_ucv = (__u64 *)verdicts;\n"
		      "\trc = fr_anf_client_req(method, fixed, (unsigned char *)fixed + len);\n"
		      "\tfr_ucv = NULL;\n\tfr_uunlock(&%s_client_lock);\n\treturn rc;\n}\n\n"
		      "static const struct flatrpc_client_anfs %s_client_anfs = {\n"
		      "\t.svc = &%s_service,\n\t.n_slots = %u,\n\t.run = %s_client_run,\n};\n\n"
		      "__attribute__((constructor))\nstatic void %s_client_anfs_init(void)\n{\n"
		      "\tfr_umap_seed(fr_umaps, flatrpc_init_table, FLATRPC_INIT_COUNT);\n"
		      "\tflatrpc_client_anfs_register(&%s_client_anfs);\n}\n",
		      sv, sv, sv, sv, sv, sv, fr_elem_slots(spec), sv, sv, sv);
}

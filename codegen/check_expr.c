/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* check_expr.c - the type of every expression, and the built-ins'
 * arguments (builtins.c has their table). */
#include <string.h>

#include "builtins.h"
#include "check.h"

int ck_is_param(struct ck *c, const struct fr_expr *e)
{
	return e->kind == E_NAME && c->h->param && !strcmp(e->s, c->h->param);
}

void ck_note_read(struct ck *c, const struct fr_expr *name)
{
	struct fr_reads *r = c->hk == H_REQ ? &c->el->req_reads : &c->el->resp_reads;

	for (unsigned i = 0; i < r->n; i++)
		if (!strcmp(r->v[i], name->s))
			return;
	if (r->n == r->cap) {
		unsigned cap = r->cap ? r->cap * 2 : 8;
		const char **v = fr_arena_alloc(&c->spec->arena, cap * sizeof(*v));
		struct fr_loc *l = fr_arena_alloc(&c->spec->arena, cap * sizeof(*l));
		if (r->n) {
			memcpy(v, r->v, r->n * sizeof(*v));
			memcpy(l, r->loc, r->n * sizeof(*l));
		}
		r->v = v;
		r->loc = l;
		r->cap = cap;
	}
	r->v[r->n] = name->s;
	r->loc[r->n] = name->loc;
	r->n++;
}

/* Does the type of e depend on the method (a message field inside)? Its
 * errors are then reported in the per-method pass, else in the first. */
int ck_depends(struct ck *c, const struct fr_expr *e)
{
	if (e->kind == E_CALL && !strcmp(e->s, "get") && e->nargs == 2 &&
	    ck_is_param(c, e->args[0]))
		return 1;
	if (e->kind == E_NAME)
		for (int i = c->nbinds - 1; i >= 0; i--)
			if (!strcmp(c->binds[i].name, e->s))
				return c->binds[i].dep;
	for (unsigned i = 0; i < e->nargs; i++)
		if (ck_depends(c, e->args[i]))
			return 1;
	return 0;
}

int ck_is_int(const struct vty *v)
{
	return !v->option && fr_type_is_fixed_int(v->t.kind) && v->t.kind != TY_BOOL;
}

/* An operand that must be an integer: reports and returns 0 if it is not. */
int ck_need_int(struct ck *c, const struct fr_expr *e, const struct vty *v,
		    const char *what)
{
	char b[64];

	if (v->t.kind == TY_NONE && !v->option)
		return 1;
	if (ck_is_int(v))
		return 1;
	ck_err(c, ck_depends(c, e), e->loc, "%s needs integers, not %s", what,
	       ck_vty_str(v, b, sizeof(b)));
	return 0;
}

/* Whether v can be an argument of kind k; TY_NONE is an error already said. */
static int arg_ok(enum fr_bi_arg k, const struct vty *v)
{
	if (k == FR_BI_INT)
		return (v->t.kind == TY_NONE && !v->option) || ck_is_int(v);
	return !v->option && (v->t.kind == TY_STRING || v->t.kind == TY_NONE || ck_is_int(v));
}

/* A built-in of form FR_BI_PLAIN, typed from its registry entry. */
static struct vty check_builtin(struct ck *c, const struct fr_expr *e, const struct fr_builtin *bi)
{
	struct vty r = { 0 }, a[FR_BI_MAX_ARGS];
	char what[64], b[64];
	int ok = 1;

	if (e->nargs != bi->nargs) {
		ck_err(c, 0, e->loc, "%s() takes %u argument%s, not %u", e->s, bi->nargs,
		       bi->nargs == 1 ? "" : "s", e->nargs);
		return r;
	}
	for (unsigned k = 0; k < e->nargs; k++)
		a[k] = ck_expr(c, e->args[k]);
	r.t.kind = bi->ret;
	snprintf(what, sizeof(what), "%s()", e->s);
	for (unsigned k = 0; k < e->nargs; k++) {
		if (arg_ok(bi->args[k], &a[k]))
			continue;
		ok = 0;
		if (bi->args[k] == FR_BI_INT)
			ck_need_int(c, e->args[k], &a[k], what);
		else
			/* a string is hashed over its whole zero-padded slot */
			ck_err(c, ck_depends(c, e->args[k]), e->args[k]->loc, "%s takes an integer "
			       "or a string, not %s", what, ck_vty_str(&a[k], b, sizeof(b)));
	}
	if (!ok || r.t.kind != TY_NONE)
		return r;
	/* the typed operand decides the type, as it does for operators */
	for (unsigned k = 0; k + 1 < e->nargs; k++)
		if (!a[k].lit)
			return a[k];
	return a[e->nargs - 1];
}

static const char *op_str(enum fr_tok_kind k)
{
	switch (k) {
	case T_EQEQ: return "==";
	case T_NE: return "!=";
	case T_LT: return "<";
	case T_LE: return "<=";
	case T_GT: return ">";
	default: return ">=";
	}
}

int fr_arith_op(enum fr_expr_kind k)
{
	switch (k) {
	case E_ADD: return '+';
	case E_SUB: return '-';
	case E_MUL: return '*';
	case E_DIV: return '/';
	case E_MOD: return '%';
	default: return 0;
	}
}

int fr_is_randomf(const struct fr_expr *e)
{
	return e->kind == E_CALL && !strcmp(e->s, "randomf");
}

/* randomf() OP p: the only place a float may appear, since it compiles
 * to an integer compare with p scaled to 2^32 at compile time. */
static struct vty check_randomf_cmp(struct ck *c, const struct fr_expr *e)
{
	struct vty r = { .t.kind = TY_BOOL };
	int right = fr_is_randomf(e->args[1]);
	const struct fr_expr *rf = e->args[right], *p = e->args[!right];

	if (rf->nargs)
		ck_err(c, 0, rf->loc, "randomf() takes no arguments, not %u", rf->nargs);
	if (e->op == T_EQEQ || e->op == T_NE) {
		ck_err(c, 0, e->loc, "randomf() %s p is a question of exact equality with a "
		       "random number; compare with <, <=, > or >=", op_str(e->op));
		return r;
	}
	if (p->kind == E_INT)
		return p->ival <= 1 ? r : (ck_err(c, 0, p->loc, "randomf() is in [0, 1); compare "
					   "it with a constant in [0, 1], not %llu",
					   (unsigned long long)p->ival), r);
	if (p->kind != E_FLOAT) {
		ck_err(c, 0, p->loc, "randomf() can only be compared with a constant in [0, 1]: "
		       "BPF has no floating point, so the probability is scaled to an integer "
		       "when the spec is compiled");
		return r;
	}
	if (!(p->fval >= 0 && p->fval <= 1))
		ck_err(c, 0, p->loc, "randomf() is in [0, 1); compare it with a constant in "
		       "[0, 1], not %s", p->s);
	return r;
}

static struct vty check_logic(struct ck *c, const struct fr_expr *e)
{
	struct vty r = { .t.kind = TY_BOOL };

	if (e->kind == E_CMP && (fr_is_randomf(e->args[0]) || fr_is_randomf(e->args[1])))
		return check_randomf_cmp(c, e);
	struct vty v[2] = { ck_expr(c, e->args[0]), ck_expr(c, e->args[1]) };
	char b[64], what[32];

	for (int i = 0; i < 2; i++) {
		const struct fr_expr *a = e->args[i];
		if (v[i].t.kind == TY_NONE && !v[i].option)
			continue;
		if (e->kind == E_CMP) {
			int eq = e->op == T_EQEQ || e->op == T_NE;
			snprintf(what, sizeof(what), "'%s'", op_str(e->op));
			if (!v[i].option && v[i].t.kind == TY_BOOL && eq)
				continue;
			ck_need_int(c, a, &v[i], what);
		} else if (v[i].option || v[i].t.kind != TY_BOOL) {
			ck_err(c, ck_depends(c, a), a->loc, "'%s' needs bool operands, not %s",
			       e->kind == E_AND ? "and" : "or", ck_vty_str(&v[i], b, sizeof(b)));
		}
	}
	return r;
}

static struct vty check_get(struct ck *c, const struct fr_expr *e)
{
	struct vty r = { 0 };
	char a[64];

	if (e->nargs != 2) {
		ck_err(c, 0, e->loc, "get() takes 2 arguments, not %u", e->nargs);
		return r;
	}
	const struct fr_expr *m = e->args[0], *k = e->args[1];
	if (ck_is_param(c, m)) {
		if (k->kind != E_STR) {
			ck_err(c, 0, k->loc, "the field in get(%s, 'field') must be a quoted name",
			       m->s);
			return r;
		}
		if (!c->m) {
			ck_note_read(c, k);
			return r;
		}
		const struct fr_field *f = ck_field(c->fields, k->s);
		if (!f) {
			ck_err(c, 1, k->loc, "unknown field '%s' in the %s of method '%s' "
			       "(element '%s')", k->s, c->hk == H_REQ ? "request" : "response",
			       c->m->name, c->el->name);
			return r;
		}
		if (f->type.kind == TY_BYTES)
			ck_err(c, 1, k->loc, "element '%s' reads bytes field '%s' of method "
			       "'%s'; ANFs can read integers, bool and string<N> only",
			       c->el->name, f->name, c->m->name);
		r.t = f->type;
		return r;
	}
	if (m->kind != E_NAME) {
		ck_err(c, 0, m->loc, "the first argument of get() must be a state map or %s",
		       c->h->param ? c->h->param : "the message");
		return r;
	}
	struct fr_state *st = ck_state_of(c, m);
	struct vty kt = ck_expr(c, k);
	if (!st) {
		ck_err(c, 0, m->loc, "unknown state '%s' in element '%s'", m->s, c->el->name);
		return r;
	}
	if (st->type.kind == TY_VEC) {
		if (!kt.option && kt.t.kind != TY_NONE && !ck_is_int(&kt))
			ck_err(c, ck_depends(c, k), k->loc, "the index into Vec '%s' must be an "
			       "integer, not %s", st->name, ck_vty_str(&kt, a, sizeof(a)));
		r.t = *st->type.val;
		r.option = 1;
		return r;
	}
	if (st->type.kind != TY_MAP) {
		ck_err(c, 0, m->loc, "state '%s' is a %s, not a map; read it by its name",
		       st->name, fr_type_str(&st->type, a, sizeof(a)));
		return r;
	}
	ck_key(c, st, k, &kt);
	r.t = *st->type.val;
	r.option = 1;
	return r;
}

void ck_key(struct ck *c, const struct fr_state *st, const struct fr_expr *k,
	    const struct vty *kt)
{
	char a[64], b[64];

	if (ck_compatible(st->type.key, kt))
		return;
	/* a field's type is known only per method */
	ck_err(c, (!kt->lit && k->kind == E_CALL) || ck_depends(c, k), k->loc,
	       "key of type %s does not match the key type %s of map '%s'",
	       ck_vty_str(kt, a, sizeof(a)), fr_type_str(st->type.key, b, sizeof(b)), st->name);
}

struct fr_state *ck_vec_arg(struct ck *c, const struct fr_expr *e, const char *fn)
{
	struct fr_state *st = ck_state_of(c, e);
	char a[64];

	if (st && st->type.kind == TY_VEC)
		return st;
	if (st && st->type.kind == TY_MAP)
		ck_err(c, 0, e->loc, "%s takes a Vec; '%s' is a map, and BPF hash maps do "
		       "not count their entries (keep a count in a scalar state)", fn, e->s);
	else if (st)
		ck_err(c, 0, e->loc, "%s takes a Vec; state '%s' is a %s", fn, e->s,
		       fr_type_str(&st->type, a, sizeof(a)));
	else if (c->h->param && e->kind == E_NAME && !strcmp(e->s, c->h->param))
		ck_err(c, 0, e->loc, "%s takes a Vec; for the message use byte_size(%s)", fn,
		       e->s);
	else
		ck_err(c, 0, e->loc, "%s takes a Vec state of element '%s'", fn, c->el->name);
	return NULL;
}

/* size(v): how many elements Vec v holds */
static struct vty check_size(struct ck *c, const struct fr_expr *e)
{
	struct vty r = { .t.kind = TY_U32 };

	if (e->nargs != 1) {
		ck_err(c, 0, e->loc, "size() takes 1 argument, a Vec");
		return r;
	}
	ck_vec_arg(c, e->args[0], "size()");
	return r;
}

/* byte_size(rpc): the body's bytes; byte_size(rpc, 'f'): what field f
 * takes in this message (see emit_bpf.c). */
static struct vty check_byte_size(struct ck *c, const struct fr_expr *e)
{
	struct vty r = { .t.kind = TY_U32 };

	if (e->nargs < 1 || e->nargs > 2 || !ck_is_param(c, e->args[0])) {
		ck_err(c, 0, e->loc, "byte_size() takes the message and optionally a quoted "
		       "field: byte_size(%s) or byte_size(%s, 'field')",
		       c->h->param ? c->h->param : "rpc", c->h->param ? c->h->param : "rpc");
		return r;
	}
	if (e->nargs == 1)
		return r;
	const struct fr_expr *k = e->args[1];
	if (k->kind != E_STR) {
		ck_err(c, 0, k->loc, "the field in byte_size(%s, 'field') must be a quoted name",
		       e->args[0]->s);
		return r;
	}
	if (c->m && !ck_field(c->fields, k->s))
		ck_err(c, 1, k->loc, "unknown field '%s' in the %s of method '%s' (element '%s')",
		       k->s, c->hk == H_REQ ? "request" : "response", c->m->name, c->el->name);
	return r;
}

/* + - * / %: integers; the typed side decides the width */
static struct vty check_arith(struct ck *c, const struct fr_expr *e)
{
	struct vty r = { 0 };
	const char op = (char)fr_arith_op(e->kind);
	struct vty l = ck_expr(c, e->args[0]), rr = ck_expr(c, e->args[1]);

	if ((e->kind == E_DIV || e->kind == E_MOD) && e->args[1]->kind == E_INT &&
	    !e->args[1]->ival) {
		ck_err(c, 0, e->args[1]->loc, "'%c' by the constant 0", op);
		return r;
	}
	/* cpu v4 (kernel 6.6) brought signed division; 6.1 has none */
	for (int i = 0; i < 2 && (e->kind == E_DIV || e->kind == E_MOD); i++)
		if (!(i ? rr : l).option && (i ? rr : l).t.kind == TY_I64) {
			ck_err(c, ck_depends(c, e->args[i]), e->args[i]->loc, "'%c' takes unsigned "
			       "integers: kernel 6.1's BPF has no signed division, and this "
			       "operand is i64", op);
			return r;
		}
	for (int i = 0; i < 2; i++) {
		struct vty *v = i ? &rr : &l;
		if (v->option || (v->t.kind != TY_NONE && !(fr_type_is_fixed_int(v->t.kind) &&
							   v->t.kind != TY_BOOL))) {
			char b[64];
			ck_err(c, (v->t.kind != TY_NONE && e->args[i]->kind == E_CALL && !v->option) ||
			       ck_depends(c, e->args[i]),
			       e->args[i]->loc, "'%c' needs integers, not %s",
			       op, ck_vty_str(v, b, sizeof(b)));
			return r;
		}
	}
	return l.lit ? rr : l;
}

struct vty ck_expr(struct ck *c, const struct fr_expr *e)
{
	struct vty r = { 0 };

	if (fr_arith_op(e->kind))
		return check_arith(c, e);
	switch (e->kind) {
	case E_INT:
		r.t.kind = TY_U64;
		r.lit = 1;
		r.ival = e->ival;
		return r;
	case E_STR:
		r.t.kind = TY_STRING;
		r.t.n = (unsigned)e->slen;
		r.lit = 1;
		r.slen = e->slen;
		return r;
	case E_BOOL:
		r.t.kind = TY_BOOL;
		r.lit = 1;
		r.ival = e->ival;
		return r;
	case E_NAME: {
		for (int i = c->nbinds - 1; i >= 0; i--)
			if (!strcmp(c->binds[i].name, e->s)) {
				ck_ir(e)->bind = c->binds[i].id;
				return c->binds[i].t;
			}
		const struct fr_eparam *prm = ck_ir(e)->prm = fr_elem_param(c->el, e->s);
		if (prm && c->hk == H_INIT) {
			ck_err(c, 0, e->loc, "init() runs once per element, not per chain, so it "
			       "cannot read argument '%s'", e->s);
			r.lit = 1;	/* said once: not also "values must be constants" */
			return r;
		}
		if (prm) {
			r.t = prm->type;
			return r;
		}
		struct fr_state *st = ck_state_of(c, e);
		if (st && st->type.kind == TY_VEC) {
			ck_err(c, 0, e->loc, "'%s' is a Vec; read it with get(%s, i), size(%s) or "
			       "foreach x in %s:", e->s, e->s, e->s, e->s);
			return r;
		}
		if (st && st->type.kind != TY_MAP) {
			r.t = st->type;
			return r;
		}
		if (st) {
			ck_err(c, 0, e->loc, "'%s' is a map; read it with get(%s, key)", e->s,
			       e->s);
			return r;
		}
		if (ck_is_param(c, e)) {
			ck_err(c, 0, e->loc, "'%s' is the message; read a field with get(%s, 'field')",
			       e->s, e->s);
			return r;
		}
		for (int i = c->ngone - 1; i >= 0; i--)
			if (!strcmp(c->gone[i].name, e->s)) {
				ck_err(c, 0, e->loc, "'%s' was assigned on line %d inside a block that "
				       "has ended; assign it before that block to use it here", e->s,
				       c->gone[i].loc.line);
				return r;
			}
		ck_err(c, 0, e->loc, "unknown name '%s'", e->s);
		return r;
	}
	case E_CMP:
	case E_AND:
	case E_OR:
		return check_logic(c, e);
	default:	/* the operators, above */
		break;
	case E_TUPLE:
		ck_err(c, 0, e->loc, "a tuple can only be destructured, as in (a, b) = (x, y)");
		return r;
	case E_FLOAT:
		ck_err(c, 0, e->loc, "BPF has no floating point: a fraction like %s is only "
		       "allowed compared with randomf(), as in randomf() < 0.05", e->s);
		return r;
	case E_CALL: {
		const struct fr_builtin *bi = ck_ir(e)->bi = fr_builtin_find(e->s);
		switch (bi ? bi->form : FR_BI_RANDOMF) {
		case FR_BI_GET:
			return check_get(c, e);
		case FR_BI_BYTE_SIZE:
			return check_byte_size(c, e);
		case FR_BI_SIZE:
			return check_size(c, e);
		case FR_BI_PLAIN:
			return check_builtin(c, e, bi);
		case FR_BI_RANDOMF:
			break;
		}
		if (bi)
			ck_err(c, 0, e->loc, "randomf() gives a float, and BPF has no floating point: "
			       "use it only compared with a constant, as in randomf() < 0.05");
		else if (!strcmp(e->s, "err"))
			ck_err(c, 0, e->loc, "err() is only valid as send(err('message'), Up)");
		else
			ck_err(c, 0, e->loc, "unknown function '%s'", e->s);
		return r;
	}
	}
	return r;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * check.c - names, types and transport properties of a parsed spec.
 *
 * Element bodies are checked twice. The first pass has no method: it finds
 * everything that is wrong whatever the element is attached to (unknown
 * states, bad statements) and records which message fields it reads. The
 * second pass runs once per (method, element) of every chain, where the
 * message fields are known, and reports only what depends on them (unknown
 * fields, key types that do not match a field's type). Each mistake is so
 * reported once, at the place in the element that causes it.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "flatrpc_abi.h"
#include "spec.h"

#define FR_DEFAULT_TIMEOUT_US	10000
#define FR_DEFAULT_RETRIES	3
#define MAX_BINDS		32

enum hkind { H_INIT, H_REQ, H_RESP };

_Static_assert(FR_M_RELIABLE == FLATRPC_M_RELIABLE && FR_M_INORDER == FLATRPC_M_INORDER,
	       "codegen mirrors the ABI's method flags");

/* Names that become C identifiers in the generated code must compile. */
static int c_reserved(const char *name)
{
	static const char *const words[] = {
		"auto", "bool", "break", "case", "char", "const", "continue", "default",
		"do", "double", "else", "enum", "extern", "float", "for", "goto", "if",
		"inline", "int", "long", "register", "restrict", "return", "short",
		"signed", "sizeof", "static", "struct", "switch", "typedef", "union",
		"unsigned", "void", "volatile", "while", "true", "false", NULL,
	};

	for (int i = 0; words[i]; i++)
		if (!strcmp(words[i], name))
			return 1;
	return 0;
}


/* Names become parts of C identifiers ('-' as '_'; method names also
 * upper-cased in constants). Two spec names that map to one identifier
 * would make the generated code redeclare it, and a long name would be cut
 * by the emitters' fixed buffers, so both are refused here. */
#define FR_MAX_NAME 31

static int same_cname(const char *a, const char *b, int fold)
{
	for (;; a++, b++) {
		int x = *a == '-' ? '_' : (unsigned char)*a, y = *b == '-' ? '_' : (unsigned char)*b;
		if (fold) {
			x = toupper(x);
			y = toupper(y);
		}
		if (x != y)
			return 0;
		if (!x)
			return 1;
	}
}

static void check_name(struct fr_diag *d, struct fr_loc loc, const char *what, const char *name)
{
	if (strlen(name) > FR_MAX_NAME)
		fr_error(d, loc, "%s name '%.*s...' is longer than %d characters", what,
			 FR_MAX_NAME, name, FR_MAX_NAME);
}

struct vty {
	struct fr_type t;	/* TY_NONE: unknown, compatible with anything */
	int option;		/* result of get(map, key): needs Some/None */
	int lit;		/* a constant: ints fit any width, strings by length */
	size_t slen;
	uint64_t ival;
};

struct ck {
	struct fr_spec *spec;
	struct fr_diag *d;
	struct fr_element *el;
	struct fr_handler *h;
	enum hkind hk;
	struct fr_method *m;		/* NULL in the method-independent pass */
	enum fr_side side;		/* of the chain entry, with m */
	const struct fr_fields *fields;
	struct {
		const char *name;
		struct vty t;
		int local;		/* assigned with `=`, not bound by Some(x) */
		int dep;		/* its type comes from a message field */
		int each;		/* bound by foreach */
		struct fr_loc loc;
	} binds[MAX_BINDS];
	int in_foreach;
	int nbinds;
	/* locals whose block has ended, to say why a later use is unknown */
	struct { const char *name; struct fr_loc loc; } gone[MAX_BINDS];
	int ngone;
};

/* Reports only in the pass the error belongs to (see the file comment). */
static void cerr(struct ck *c, int needs_method, struct fr_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void cerr(struct ck *c, int needs_method, struct fr_loc loc, const char *fmt, ...)
{
	va_list ap;

	if ((c->m != NULL) != (needs_method != 0))
		return;
	va_start(ap, fmt);
	fr_verror(c->d, loc, fmt, ap);
	va_end(ap);
}

int fr_type_is_fixed_int(enum fr_type_kind k)
{
	return k >= TY_U8 && k <= TY_BOOL;
}

unsigned fr_type_size(const struct fr_type *t)
{
	switch (t->kind) {
	case TY_U8: case TY_BOOL: return 1;
	case TY_U16: return 2;
	case TY_U32: return 4;
	case TY_U64: case TY_I64: return 8;
	case TY_STRING: case TY_BYTES: return t->n;
	case TY_TUPLE: {
		unsigned n = 0;	/* packed: the bytes of each element in turn */
		for (unsigned i = 0; i < t->n; i++)
			n += fr_type_size(&t->elems[i]);
		return n;
	}
	default: return 0;
	}
}

const char *fr_type_str(const struct fr_type *t, char *buf, size_t n)
{
	static const char *const names[] = {
		[TY_NONE] = "?", [TY_U8] = "u8", [TY_U16] = "u16", [TY_U32] = "u32",
		[TY_U64] = "u64", [TY_I64] = "i64", [TY_BOOL] = "bool",
	};
	char k[64], v[64];

	switch (t->kind) {
	case TY_STRING: snprintf(buf, n, "string<%u>", t->n); break;
	case TY_BYTES: snprintf(buf, n, "bytes<%u>", t->n); break;
	case TY_MAP:
		snprintf(buf, n, "Map<%s, %s>", fr_type_str(t->key, k, sizeof(k)),
			 fr_type_str(t->val, v, sizeof(v)));
		break;
	case TY_VEC:
		snprintf(buf, n, "Vec<%s, %u>", fr_type_str(t->val, v, sizeof(v)), t->n);
		break;
	case TY_TUPLE: {
		size_t o = snprintf(buf, n, "(");
		for (unsigned i = 0; i < t->n && o < n; i++)
			o += snprintf(buf + o, n - o, "%s%s", i ? ", " : "",
				      fr_type_str(&t->elems[i], k, sizeof(k)));
		if (o < n)
			snprintf(buf + o, n - o, ")");
		break;
	}
	default: snprintf(buf, n, "%s", names[t->kind]); break;
	}
	return buf;
}

static const char *vty_str(const struct vty *v, char *buf, size_t n)
{
	if (v->lit && v->t.kind == TY_STRING)
		snprintf(buf, n, "string constant of length %zu", v->slen);
	else if (v->lit && v->t.kind == TY_BOOL)
		snprintf(buf, n, "bool constant");
	else if (v->lit)
		snprintf(buf, n, "integer constant");
	else
		fr_type_str(&v->t, buf, n);
	return buf;
}

struct fr_element *fr_spec_element(const struct fr_spec *spec, const char *name)
{
	for (unsigned i = 0; i < spec->nelems; i++)
		if (!strcmp(spec->elems[i]->name, name))
			return spec->elems[i];
	return NULL;
}

unsigned fr_spec_error_code(const struct fr_spec *spec, const char *msg)
{
	for (unsigned i = 0; i < spec->nerrs; i++)
		if (!strcmp(spec->errs[i].msg, msg))
			return spec->errs[i].code;
	return 0;
}

static void add_error_code(struct fr_spec *spec, struct fr_diag *d, const char *msg,
			   struct fr_loc loc)
{
	if (fr_spec_error_code(spec, msg))
		return;
	if (spec->nerrs == FLATRPC_MAX_ERRORS) {
		fr_error(d, loc, "more than %d distinct errors", FLATRPC_MAX_ERRORS);
		return;
	}
	if (spec->nerrs == spec->errcap) {
		unsigned cap = spec->errcap ? spec->errcap * 2 : 8;
		struct fr_error_code *v = fr_arena_alloc(&spec->arena, cap * sizeof(*v));
		if (spec->nerrs)
			memcpy(v, spec->errs, spec->nerrs * sizeof(*v));
		spec->errs = v;
		spec->errcap = cap;
	}
	spec->errs[spec->nerrs].msg = msg;
	spec->errs[spec->nerrs].code = spec->nerrs + 1;
	spec->nerrs++;
}

/* Is a value of type `v` acceptable where `want` is expected? */
static int compatible(const struct fr_type *want, const struct vty *v)
{
	if (want->kind == TY_NONE || v->t.kind == TY_NONE)
		return 1;
	if (v->option)
		return 0;
	if (fr_type_is_fixed_int(want->kind) && v->lit && v->t.kind == TY_U64) {
		unsigned sz = fr_type_size(want);
		if (want->kind == TY_BOOL)
			return v->ival <= 1;
		return sz == 8 || v->ival < (1ULL << (8 * sz));
	}
	if (want->kind == TY_STRING && v->t.kind == TY_STRING)
		return v->lit ? v->slen <= want->n : v->t.n <= want->n;
	return want->kind == v->t.kind && (want->kind != TY_BYTES || v->t.n <= want->n);
}

static const struct fr_field *find_field(const struct fr_fields *fs, const char *name)
{
	for (unsigned i = 0; fs && i < fs->n; i++)
		if (!strcmp(fs->v[i].name, name))
			return &fs->v[i];
	return NULL;
}

static struct fr_state *find_state(struct fr_element *el, const char *name)
{
	for (unsigned i = 0; i < el->nstates; i++)
		if (!strcmp(el->states[i].name, name))
			return &el->states[i];
	return NULL;
}

static int is_param(struct ck *c, const struct fr_expr *e)
{
	return e->kind == E_NAME && c->h->param && !strcmp(e->s, c->h->param);
}

static void note_read(struct ck *c, const struct fr_expr *name)
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

static struct vty check_expr(struct ck *c, const struct fr_expr *e);

/* Does the type of e depend on the method (a message field inside)? Its
 * errors are then reported in the per-method pass, else in the first. */
static int depends(struct ck *c, const struct fr_expr *e)
{
	if (e->kind == E_CALL && !strcmp(e->s, "get") && e->nargs == 2 && is_param(c, e->args[0]))
		return 1;
	if (e->kind == E_NAME)
		for (int i = c->nbinds - 1; i >= 0; i--)
			if (!strcmp(c->binds[i].name, e->s))
				return c->binds[i].dep;
	for (unsigned i = 0; i < e->nargs; i++)
		if (depends(c, e->args[i]))
			return 1;
	return 0;
}

static int is_int(const struct vty *v)
{
	return !v->option && fr_type_is_fixed_int(v->t.kind) && v->t.kind != TY_BOOL;
}

/* An operand that must be an integer: reports and returns 0 if it is not. */
static int need_int(struct ck *c, const struct fr_expr *e, const struct vty *v,
		    const char *what)
{
	char b[64];

	if (v->t.kind == TY_NONE && !v->option)
		return 1;
	if (is_int(v))
		return 1;
	cerr(c, depends(c, e), e->loc, "%s needs integers, not %s", what,
	     vty_str(v, b, sizeof(b)));
	return 0;
}

/* Whether v can be an argument of kind k; TY_NONE is an error already said. */
static int arg_ok(enum fr_bi_arg k, const struct vty *v)
{
	if (k == FR_BI_INT)
		return (v->t.kind == TY_NONE && !v->option) || is_int(v);
	return !v->option && (v->t.kind == TY_STRING || v->t.kind == TY_NONE || is_int(v));
}

/* A built-in of form FR_BI_PLAIN, typed from its registry entry. */
static struct vty check_builtin(struct ck *c, const struct fr_expr *e, const struct fr_builtin *bi)
{
	struct vty r = { 0 }, a[FR_BI_MAX_ARGS];
	char what[64], b[64];
	int ok = 1;

	if (e->nargs != bi->nargs) {
		cerr(c, 0, e->loc, "%s() takes %u argument%s, not %u", e->s, bi->nargs,
		     bi->nargs == 1 ? "" : "s", e->nargs);
		return r;
	}
	for (unsigned k = 0; k < e->nargs; k++)
		a[k] = check_expr(c, e->args[k]);
	r.t.kind = bi->ret;
	snprintf(what, sizeof(what), "%s()", e->s);
	for (unsigned k = 0; k < e->nargs; k++) {
		if (arg_ok(bi->args[k], &a[k]))
			continue;
		ok = 0;
		if (bi->args[k] == FR_BI_INT)
			need_int(c, e->args[k], &a[k], what);
		else
			/* a string is hashed over its whole zero-padded slot */
			cerr(c, depends(c, e->args[k]), e->args[k]->loc, "%s takes an integer "
			     "or a string, not %s", what, vty_str(&a[k], b, sizeof(b)));
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

/* The operator of E_ADD..E_MOD, indexed by the expression kind. */
const char fr_arith_ops[] = { [E_ADD] = '+', [E_SUB] = '-', [E_MUL] = '*', [E_DIV] = '/',
			      [E_MOD] = '%' };

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
		cerr(c, 0, rf->loc, "randomf() takes no arguments, not %u", rf->nargs);
	if (e->op == T_EQEQ || e->op == T_NE) {
		cerr(c, 0, e->loc, "randomf() %s p is a question of exact equality with a "
		     "random number; compare with <, <=, > or >=", op_str(e->op));
		return r;
	}
	if (p->kind == E_INT)
		return p->ival <= 1 ? r : (cerr(c, 0, p->loc, "randomf() is in [0, 1); compare "
					   "it with a constant in [0, 1], not %llu",
					   (unsigned long long)p->ival), r);
	if (p->kind != E_FLOAT) {
		cerr(c, 0, p->loc, "randomf() can only be compared with a constant in [0, 1]: "
		     "BPF has no floating point, so the probability is scaled to an integer "
		     "when the spec is compiled");
		return r;
	}
	if (!(p->fval >= 0 && p->fval <= 1))
		cerr(c, 0, p->loc, "randomf() is in [0, 1); compare it with a constant in "
		     "[0, 1], not %s", p->s);
	return r;
}

static struct vty check_logic(struct ck *c, const struct fr_expr *e)
{
	struct vty r = { .t.kind = TY_BOOL };

	if (e->kind == E_CMP && (fr_is_randomf(e->args[0]) || fr_is_randomf(e->args[1])))
		return check_randomf_cmp(c, e);
	struct vty v[2] = { check_expr(c, e->args[0]), check_expr(c, e->args[1]) };
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
			need_int(c, a, &v[i], what);
		} else if (v[i].option || v[i].t.kind != TY_BOOL) {
			cerr(c, depends(c, a), a->loc, "'%s' needs bool operands, not %s",
			     e->kind == E_AND ? "and" : "or", vty_str(&v[i], b, sizeof(b)));
		}
	}
	return r;
}

static struct vty check_get(struct ck *c, const struct fr_expr *e)
{
	struct vty r = { 0 };
	char a[64], b[64];

	if (e->nargs != 2) {
		cerr(c, 0, e->loc, "get() takes 2 arguments, not %u", e->nargs);
		return r;
	}
	const struct fr_expr *m = e->args[0], *k = e->args[1];
	if (is_param(c, m)) {
		if (k->kind != E_STR) {
			cerr(c, 0, k->loc, "the field in get(%s, 'field') must be a quoted name",
			     m->s);
			return r;
		}
		if (!c->m) {
			note_read(c, k);
			return r;
		}
		const struct fr_field *f = find_field(c->fields, k->s);
		if (!f) {
			cerr(c, 1, k->loc, "unknown field '%s' in the %s of method '%s' "
			     "(element '%s')", k->s, c->hk == H_REQ ? "request" : "response",
			     c->m->name, c->el->name);
			return r;
		}
		if (f->type.kind == TY_BYTES)
			cerr(c, 1, k->loc, "element '%s' reads bytes field '%s' of method "
			     "'%s'; ANFs can read integers, bool and string<N> only",
			     c->el->name, f->name, c->m->name);
		r.t = f->type;
		return r;
	}
	if (m->kind != E_NAME) {
		cerr(c, 0, m->loc, "the first argument of get() must be a state map or %s",
		     c->h->param ? c->h->param : "the message");
		return r;
	}
	struct fr_state *st = find_state(c->el, m->s);
	struct vty kt = check_expr(c, k);
	if (!st) {
		cerr(c, 0, m->loc, "unknown state '%s' in element '%s'", m->s, c->el->name);
		return r;
	}
	if (st->type.kind == TY_VEC) {
		if (!kt.option && kt.t.kind != TY_NONE && !is_int(&kt))
			cerr(c, depends(c, k), k->loc, "the index into Vec '%s' must be an "
			     "integer, not %s", st->name, vty_str(&kt, a, sizeof(a)));
		r.t = *st->type.val;
		r.option = 1;
		return r;
	}
	if (st->type.kind != TY_MAP) {
		cerr(c, 0, m->loc, "state '%s' is a %s, not a map; read it by its name",
		     st->name, fr_type_str(&st->type, a, sizeof(a)));
		return r;
	}
	if (!compatible(st->type.key, &kt)) {
		/* a field's type is known only per method */
		int dep = (!kt.lit && k->kind == E_CALL) || depends(c, k);
		cerr(c, dep, k->loc, "key of type %s does not match the key type %s of map '%s'",
		     vty_str(&kt, a, sizeof(a)), fr_type_str(st->type.key, b, sizeof(b)), st->name);
	}
	r.t = *st->type.val;
	r.option = 1;
	return r;
}

static struct fr_state *vec_arg(struct ck *c, const struct fr_expr *e, const char *fn)
{
	struct fr_state *st = e->kind == E_NAME ? find_state(c->el, e->s) : NULL;
	char a[64];

	if (st && st->type.kind == TY_VEC)
		return st;
	if (st && st->type.kind == TY_MAP)
		cerr(c, 0, e->loc, "%s takes a Vec; '%s' is a map, and BPF hash maps do "
		     "not count their entries (keep a count in a scalar state)", fn, e->s);
	else if (st)
		cerr(c, 0, e->loc, "%s takes a Vec; state '%s' is a %s", fn, e->s,
		     fr_type_str(&st->type, a, sizeof(a)));
	else if (c->h->param && e->kind == E_NAME && !strcmp(e->s, c->h->param))
		cerr(c, 0, e->loc, "%s takes a Vec; for the message use byte_size(%s)", fn,
		     e->s);
	else
		cerr(c, 0, e->loc, "%s takes a Vec state of element '%s'", fn, c->el->name);
	return NULL;
}

/* size(v): how many elements Vec v holds */
static struct vty check_size(struct ck *c, const struct fr_expr *e)
{
	struct vty r = { .t.kind = TY_U32 };

	if (e->nargs != 1) {
		cerr(c, 0, e->loc, "size() takes 1 argument, a Vec");
		return r;
	}
	vec_arg(c, e->args[0], "size()");
	return r;
}

/* byte_size(rpc): the body's bytes; byte_size(rpc, 'f'): what field f
 * takes in this message (see emit_bpf.c). */
static struct vty check_byte_size(struct ck *c, const struct fr_expr *e)
{
	struct vty r = { .t.kind = TY_U32 };

	if (e->nargs < 1 || e->nargs > 2 || !is_param(c, e->args[0])) {
		cerr(c, 0, e->loc, "byte_size() takes the message and optionally a quoted "
		     "field: byte_size(%s) or byte_size(%s, 'field')",
		     c->h->param ? c->h->param : "rpc", c->h->param ? c->h->param : "rpc");
		return r;
	}
	if (e->nargs == 1)
		return r;
	const struct fr_expr *k = e->args[1];
	if (k->kind != E_STR) {
		cerr(c, 0, k->loc, "the field in byte_size(%s, 'field') must be a quoted name",
		     e->args[0]->s);
		return r;
	}
	if (c->m && !find_field(c->fields, k->s))
		cerr(c, 1, k->loc, "unknown field '%s' in the %s of method '%s' (element '%s')",
		     k->s, c->hk == H_REQ ? "request" : "response", c->m->name, c->el->name);
	return r;
}

static struct vty check_expr(struct ck *c, const struct fr_expr *e)
{
	struct vty r = { 0 };

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
			if (!strcmp(c->binds[i].name, e->s))
				return c->binds[i].t;
		const struct fr_eparam *prm = fr_elem_param(c->el, e->s);
		if (prm && c->hk == H_INIT) {
			cerr(c, 0, e->loc, "init() runs once per element, not per chain, so it "
			     "cannot read argument '%s'", e->s);
			r.lit = 1;	/* said once: not also "values must be constants" */
			return r;
		}
		if (prm) {
			r.t = prm->type;
			return r;
		}
		struct fr_state *st = find_state(c->el, e->s);
		if (st && st->type.kind == TY_VEC) {
			cerr(c, 0, e->loc, "'%s' is a Vec; read it with get(%s, i), size(%s) or "
			     "foreach x in %s:", e->s, e->s, e->s, e->s);
			return r;
		}
		if (st && st->type.kind != TY_MAP) {
			r.t = st->type;
			return r;
		}
		if (st) {
			cerr(c, 0, e->loc, "'%s' is a map; read it with get(%s, key)", e->s, e->s);
			return r;
		}
		if (is_param(c, e)) {
			cerr(c, 0, e->loc, "'%s' is the message; read a field with get(%s, 'field')",
			     e->s, e->s);
			return r;
		}
		for (int i = c->ngone - 1; i >= 0; i--)
			if (!strcmp(c->gone[i].name, e->s)) {
				cerr(c, 0, e->loc, "'%s' was assigned on line %d inside a block that "
				     "has ended; assign it before that block to use it here", e->s,
				     c->gone[i].loc.line);
				return r;
			}
		cerr(c, 0, e->loc, "unknown name '%s'", e->s);
		return r;
	}
	case E_CMP:
	case E_AND:
	case E_OR:
		return check_logic(c, e);
	case E_ADD:
	case E_SUB:
	case E_MUL:
	case E_DIV:
	case E_MOD: {
		const char *ops = fr_arith_ops;
		struct vty l = check_expr(c, e->args[0]), rr = check_expr(c, e->args[1]);
		if ((e->kind == E_DIV || e->kind == E_MOD) && e->args[1]->kind == E_INT &&
		    !e->args[1]->ival) {
			cerr(c, 0, e->args[1]->loc, "'%c' by the constant 0", ops[e->kind]);
			return r;
		}
		/* cpu v4 (kernel 6.6) brought signed division; 6.1 has none */
		for (int i = 0; i < 2 && (e->kind == E_DIV || e->kind == E_MOD); i++)
			if (!(i ? rr : l).option && (i ? rr : l).t.kind == TY_I64) {
				cerr(c, depends(c, e->args[i]), e->args[i]->loc, "'%c' takes unsigned "
				     "integers: kernel 6.1's BPF has no signed division, and this "
				     "operand is i64", ops[e->kind]);
				return r;
			}
		for (int i = 0; i < 2; i++) {
			struct vty *v = i ? &rr : &l;
			if (v->option || (v->t.kind != TY_NONE && !(fr_type_is_fixed_int(v->t.kind) &&
								   v->t.kind != TY_BOOL))) {
				char b[64];
				cerr(c, (v->t.kind != TY_NONE && e->args[i]->kind == E_CALL && !v->option) ||
				     depends(c, e->args[i]),
				     e->args[i]->loc, "'%c' needs integers, not %s",
				     ops[e->kind], vty_str(v, b, sizeof(b)));
				return r;
			}
		}
		/* the typed side decides the width */
		return l.lit ? rr : l;
	}
	case E_TUPLE:
		cerr(c, 0, e->loc, "a tuple can only be destructured, as in (a, b) = (x, y)");
		return r;
	case E_FLOAT:
		cerr(c, 0, e->loc, "BPF has no floating point: a fraction like %s is only "
		     "allowed compared with randomf(), as in randomf() < 0.05", e->s);
		return r;
	case E_CALL: {
		const struct fr_builtin *bi = fr_builtin_find(e->s);
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
			cerr(c, 0, e->loc, "randomf() gives a float, and BPF has no floating point: "
			     "use it only compared with a constant, as in randomf() < 0.05");
		else if (!strcmp(e->s, "err"))
			cerr(c, 0, e->loc, "err() is only valid as send(err('message'), Up)");
		else
			cerr(c, 0, e->loc, "unknown function '%s'", e->s);
		return r;
	}
	}
	return r;
}

static void check_block(struct ck *c, const struct fr_block *b);

static void check_send(struct ck *c, const struct fr_stmt *s)
{
	const struct fr_expr *e = s->e;

	if (c->hk == H_INIT) {
		cerr(c, 0, s->loc, "send() is not allowed in init()");
		return;
	}
	if (e->nargs != 2) {
		cerr(c, 0, e->loc, "send() takes 2 arguments: the message and Down or Up");
		return;
	}
	const struct fr_expr *what = e->args[0], *dir = e->args[1];
	int up;
	if (dir->kind == E_NAME && !strcmp(dir->s, "Up")) {
		up = 1;
	} else if (dir->kind == E_NAME && !strcmp(dir->s, "Down")) {
		up = 0;
	} else {
		cerr(c, 0, dir->loc, "the direction of send() must be Down or Up");
		return;
	}
	if (is_param(c, what)) {
		if (c->hk == H_REQ && up)
			cerr(c, 0, s->loc, "send(%s, Up) in req() would answer from the "
			     "network; only send(err('...'), Up) can", what->s);
		if (c->hk == H_RESP && !up)
			cerr(c, 0, s->loc, "send(%s, Down) in resp() sends a response back "
			     "to the server; use send(%s, Up)", what->s, what->s);
		return;
	}
	if (what->kind == E_CALL && !strcmp(what->s, "err")) {
		if (what->nargs != 1 || what->args[0]->kind != E_STR || !what->args[0]->slen) {
			cerr(c, 0, what->loc, "err() takes one non-empty quoted message");
			return;
		}
		/* messages are C strings from here on: a NUL would cut one short and
		 * merge it with another */
		if (memchr(what->args[0]->s, 0, what->args[0]->slen)) {
			cerr(c, 0, what->args[0]->loc, "an err() message cannot contain \\0");
			return;
		}
		if (!up)
			cerr(c, 0, dir->loc, "an error goes back to the caller: use Up");
		if (c->m)
			add_error_code(c->spec, c->d, what->args[0]->s, what->loc);
		return;
	}
	cerr(c, 0, what->loc, "send() sends the message (%s) or err('...')",
	     c->h->param ? c->h->param : "rpc");
}

/* set(rpc, 'field', value): a rewrite in place, so only fields with a
 * fixed slot; a string only from a constant, which zero-pads exactly. */
static void check_set_field(struct ck *c, const struct fr_stmt *s)
{
	const struct fr_expr *e = s->e;
	char a[64], b[64];

	if (e->nargs != 3) {
		cerr(c, 0, e->loc, "set(%s, 'field', value) takes 3 arguments", e->args[0]->s);
		return;
	}
	const struct fr_expr *k = e->args[1], *v = e->args[2];
	if (k->kind != E_STR) {
		cerr(c, 0, k->loc, "the field in set(%s, 'field', value) must be a quoted name",
		     e->args[0]->s);
		return;
	}
	struct vty vt = check_expr(c, v);
	if (!c->m) {
		/* a written field needs a fixed slot just like a read one */
		note_read(c, k);
		return;
	}
	const struct fr_field *f = find_field(c->fields, k->s);
	if (!f) {
		cerr(c, 1, k->loc, "unknown field '%s' in the %s of method '%s' (element '%s')",
		     k->s, c->hk == H_REQ ? "request" : "response", c->m->name, c->el->name);
		return;
	}
	if (f->type.kind == TY_BYTES) {
		cerr(c, 1, k->loc, "element '%s' rewrites bytes field '%s' of method '%s'; "
		     "ANFs can rewrite integers, bool and string<N> only", c->el->name,
		     f->name, c->m->name);
		return;
	}
	if (f->type.kind == TY_STRING) {
		if (v->kind != E_STR)
			cerr(c, 1, v->loc, "string field '%s' can only be set from a string "
			     "constant", f->name);
		else if (v->slen > f->type.n)
			cerr(c, 1, v->loc, "'%.*s' is %zu bytes, longer than field '%s' (%s)",
			     (int)v->slen, v->s, v->slen, f->name,
			     fr_type_str(&f->type, b, sizeof(b)));
		return;
	}
	if (!compatible(&f->type, &vt))
		cerr(c, 1, v->loc, "value of type %s does not match the type %s of field '%s'",
		     vty_str(&vt, a, sizeof(a)), fr_type_str(&f->type, b, sizeof(b)), f->name);
}

/* set(m, key, (x, y)) on a map whose values are tuples */
static void check_set_tuple(struct ck *c, const struct fr_state *st, const struct fr_expr *k,
			    const struct fr_expr *v)
{
	const struct fr_type *tt = st->type.val;
	struct vty kt = check_expr(c, k);
	char a[64], b[64];

	if (!compatible(st->type.key, &kt))
		cerr(c, (!kt.lit && k->kind == E_CALL) || depends(c, k), k->loc,
		     "key of type %s does not match the key type %s of map '%s'",
		     vty_str(&kt, a, sizeof(a)), fr_type_str(st->type.key, b, sizeof(b)), st->name);
	if (v->kind != E_TUPLE || v->nargs != tt->n) {
		cerr(c, 0, v->loc, "map '%s' holds tuples %s: store one, as in set(%s, key, "
		     "(x, y))", st->name, fr_type_str(tt, b, sizeof(b)), st->name);
		return;
	}
	for (unsigned i = 0; i < v->nargs; i++) {
		struct vty et = check_expr(c, v->args[i]);
		if (c->hk == H_INIT && !et.lit)
			cerr(c, 0, v->args[i]->loc, "init() runs at load time: keys and values "
			     "must be constants");
		else if (!compatible(&tt->elems[i], &et))
			cerr(c, (!et.lit && v->args[i]->kind != E_NAME) || depends(c, v->args[i]),
			     v->args[i]->loc, "element %u of the tuple is %s, not %s", i + 1,
			     fr_type_str(&tt->elems[i], b, sizeof(b)), vty_str(&et, a, sizeof(a)));
	}
	if (c->hk == H_INIT && !kt.lit)
		cerr(c, 0, k->loc, "init() runs at load time: keys and values must be constants");
}

static void check_set(struct ck *c, const struct fr_stmt *s)
{
	const struct fr_expr *e = s->e;
	char a[64], b[64];

	if (e->nargs >= 1 && is_param(c, e->args[0])) {
		check_set_field(c, s);
		return;
	}

	if (e->nargs == 2 && e->args[0]->kind == E_NAME) {
		struct fr_state *sc = find_state(c->el, e->args[0]->s);
		if (sc && sc->type.kind == TY_VEC) {
			cerr(c, 0, e->loc, "set() on Vec '%s' takes an index: set(%s, i, value); "
			     "push(%s, value) appends", sc->name, sc->name, sc->name);
			return;
		}
		if (sc && sc->type.kind != TY_MAP) {
			const struct fr_expr *v = e->args[1];
			struct vty vt = check_expr(c, v);
			if (c->hk == H_INIT && !vt.lit)
				cerr(c, 0, v->loc, "init() runs at load time: values must be "
				     "constants");
			else if (!compatible(&sc->type, &vt))
				cerr(c, depends(c, v), v->loc, "value of type %s does not match "
				     "the type %s of state '%s'", vty_str(&vt, a, sizeof(a)),
				     fr_type_str(&sc->type, b, sizeof(b)), sc->name);
			return;
		}
	}
	if (e->nargs != 3) {
		cerr(c, 0, e->loc, "set() takes 3 arguments: map, key, value (or 2: "
		     "scalar state, value)");
		return;
	}
	const struct fr_expr *m = e->args[0], *k = e->args[1], *v = e->args[2];
	struct fr_state *st = m->kind == E_NAME ? find_state(c->el, m->s) : NULL;
	if (st && st->type.kind == TY_MAP && st->type.val->kind == TY_TUPLE) {
		check_set_tuple(c, st, k, v);
		return;
	}
	struct vty kt = check_expr(c, k), vt = check_expr(c, v);
	if (!st) {
		if (m->kind == E_NAME)
			cerr(c, 0, m->loc, "unknown state '%s' in element '%s'", m->s, c->el->name);
		else
			cerr(c, 0, m->loc, "the first argument of set() must be a state map");
		return;
	}
	if (c->hk == H_INIT && (!kt.lit || !vt.lit)) {
		cerr(c, 0, !kt.lit ? k->loc : v->loc,
		     "init() runs at load time: keys and values must be constants");
		return;
	}
	if (st->type.kind == TY_VEC) {
		if (!kt.option && kt.t.kind != TY_NONE && !is_int(&kt))
			cerr(c, depends(c, k), k->loc, "the index into Vec '%s' must be an "
			     "integer, not %s", st->name, vty_str(&kt, a, sizeof(a)));
		else if (kt.lit && kt.ival >= st->type.n)
			cerr(c, 0, k->loc, "index %llu is past the end of Vec '%s' (%s)",
			     (unsigned long long)kt.ival, st->name,
			     fr_type_str(&st->type, a, sizeof(a)));
		if (!compatible(st->type.val, &vt))
			cerr(c, (!vt.lit && v->kind != E_NAME) || depends(c, v), v->loc,
			     "value of type %s does not match the element type %s of Vec '%s'",
			     vty_str(&vt, a, sizeof(a)), fr_type_str(st->type.val, b, sizeof(b)),
			     st->name);
		return;
	}
	if (st->type.kind != TY_MAP) {
		cerr(c, 0, m->loc, "state '%s' is a %s, not a map: write set(%s, value)",
		     st->name, fr_type_str(&st->type, a, sizeof(a)), st->name);
		return;
	}
	if (!compatible(st->type.key, &kt))
		cerr(c, (!kt.lit && k->kind == E_CALL) || depends(c, k), k->loc,
		     "key of type %s does not match the key type %s of map '%s'",
		     vty_str(&kt, a, sizeof(a)), fr_type_str(st->type.key, b, sizeof(b)), st->name);
	if (!compatible(st->type.val, &vt))
		cerr(c, (!vt.lit && v->kind != E_NAME) || depends(c, v), v->loc,
		     "value of type %s does not match the value type %s of map '%s'",
		     vty_str(&vt, a, sizeof(a)), fr_type_str(st->type.val, b, sizeof(b)), st->name);
}

static int const_equal(const struct fr_expr *a, const struct fr_expr *b)
{
	if (a->kind == E_STR || b->kind == E_STR)
		return a->kind == b->kind && a->slen == b->slen && !memcmp(a->s, b->s, a->slen);
	return a->ival == b->ival;
}

/* An arm after a catch-all, or with a constant already matched, can never
 * run; that is almost always a mistake in the order of the arms. */
static void check_arms_reachable(struct ck *c, const struct fr_stmt *s)
{
	const struct fr_arm *wild = NULL, *some = NULL, *none = NULL;

	for (unsigned i = 0; i < s->narms; i++) {
		const struct fr_arm *arm = &s->arms[i];
		if (wild) {
			cerr(c, 0, arm->loc, "unreachable arm: the catch-all '_' on line %d "
			     "matches everything first", wild->loc.line);
			continue;
		}
		if (some && none) {
			cerr(c, 0, arm->loc, "unreachable arm: Some and None on lines %d and %d "
			     "match everything first", some->loc.line, none->loc.line);
			continue;
		}
		switch (arm->kind) {
		case A_WILD:
			wild = arm;
			break;
		case A_SOME:
			some = some ? some : arm;
			break;
		case A_NONE:
			none = none ? none : arm;
			break;
		case A_CONST:
			for (unsigned j = 0; j < i; j++) {
				const struct fr_arm *o = &s->arms[j];
				if (o->kind == A_CONST && const_equal(o->value, arm->value)) {
					cerr(c, 0, arm->loc, "unreachable arm: this constant is "
					     "already matched on line %d", o->loc.line);
					break;
				}
			}
			break;
		}
	}
}

/* Some((a, b)) of a tuple-valued map: one read-only name per element */
static int bind_tuple(struct ck *c, const struct fr_arm *arm, const struct vty *t)
{
	char b[64];
	int n = 0;

	if (t->t.kind == TY_NONE)
		;	/* unknown: bind the names untyped below */
	else if (t->t.kind != TY_TUPLE) {
		cerr(c, 0, arm->loc, "Some((...)) takes a tuple apart; the value here is %s: "
		     "write Some(x)", fr_type_str(&t->t, b, sizeof(b)));
		return 0;
	} else if (!arm->nbinds) {
		cerr(c, 0, arm->loc, "the value is a tuple %s: take it apart with Some((%s))",
		     fr_type_str(&t->t, b, sizeof(b)), t->t.n == 2 ? "a, b" : "a, b, ...");
		return 0;
	} else if (arm->nbinds != t->t.n) {
		cerr(c, 0, arm->loc, "Some((...)) names %u values, but the tuple %s has %u",
		     arm->nbinds, fr_type_str(&t->t, b, sizeof(b)), t->t.n);
		return 0;
	}
	for (unsigned i = 0; i < arm->nbinds; i++) {
		if (c->nbinds == MAX_BINDS) {
			cerr(c, 0, arm->loc, "too many nested bindings");
			break;
		}
		memset(&c->binds[c->nbinds], 0, sizeof(c->binds[0]));
		c->binds[c->nbinds].name = arm->binds[i];
		if (t->t.kind == TY_TUPLE)
			c->binds[c->nbinds].t.t = t->t.elems[i];
		c->binds[c->nbinds].loc = arm->loc;
		c->nbinds++;
		n++;
	}
	return n;
}

static void check_match(struct ck *c, const struct fr_stmt *s)
{
	struct vty t = check_expr(c, s->e);
	int seen_some = 0, seen_none = 0;
	char b[64];

	if (c->hk == H_INIT)
		cerr(c, 0, s->loc, "init() can only set(map, constant, constant)");
	check_arms_reachable(c, s);
	for (unsigned i = 0; i < s->narms; i++) {
		const struct fr_arm *arm = &s->arms[i];
		int pushed = 0;
		switch (arm->kind) {
		case A_SOME:
		case A_NONE:
			if (t.t.kind != TY_NONE && !t.option)
				cerr(c, 0, arm->loc, "%s matches the result of get(map, key), "
				     "not a %s", arm->kind == A_SOME ? "Some(...)" : "None",
				     vty_str(&t, b, sizeof(b)));
			if ((*(arm->kind == A_SOME ? &seen_some : &seen_none))++)
				cerr(c, 0, arm->loc, "duplicate %s arm",
				     arm->kind == A_SOME ? "Some" : "None");
			if (arm->kind == A_SOME && (arm->nbinds || t.t.kind == TY_TUPLE)) {
				pushed = bind_tuple(c, arm, &t);
				break;
			}
			if (arm->kind == A_SOME) {
				if (c->nbinds == MAX_BINDS) {
					cerr(c, 0, arm->loc, "too many nested bindings");
					break;
				}
				memset(&c->binds[c->nbinds], 0, sizeof(c->binds[0]));
				c->binds[c->nbinds].name = arm->bind;
				c->binds[c->nbinds].t = t;
				c->binds[c->nbinds].t.option = 0;
				c->binds[c->nbinds].loc = arm->loc;
				c->nbinds++;
				pushed = 1;
			}
			break;
		case A_CONST: {
			struct vty at = check_expr(c, arm->value);
			if (t.option)
				cerr(c, 0, arm->loc, "get() gives Some(x) or None; match x "
				     "against constants inside Some(x)");
			else if (!compatible(&t.t, &at))
				cerr(c, (!t.lit && s->e->kind == E_CALL) || depends(c, s->e), arm->loc,
				     "constant does not fit the matched value of type %s",
				     vty_str(&t, b, sizeof(b)));
			break;
		}
		case A_WILD:
			break;
		}
		check_block(c, &arm->body);
		c->nbinds -= pushed;
	}
}

/* forward(rpc, ip): the request goes on to another host; the path ends */
static void check_forward(struct ck *c, const struct fr_stmt *s)
{
	const struct fr_expr *e = s->e;
	char a[64];

	if (c->hk != H_REQ) {
		cerr(c, 0, s->loc, "forward() sends a request on to another host: it belongs "
		     "in req()");
		return;
	}
	c->el->forwards = 1;
	if (c->m && c->side == FR_CLIENT)
		cerr(c, 1, s->loc, "forward() cannot run in a client: chain of method '%s': "
		     "client: elements run on the sending host before the request is sent, "
		     "where it has no route to change; put '%s' in the server: chain",
		     c->m->name, c->el->name);
	if (e->nargs != 2 || !is_param(c, e->args[0])) {
		cerr(c, 0, e->loc, "forward() takes the message and an IPv4 address: "
		     "forward(%s, ip)", c->h->param ? c->h->param : "rpc");
		return;
	}
	struct vty vt = check_expr(c, e->args[1]);
	static const struct fr_type u32 = { .kind = TY_U32 };
	if (!compatible(&u32, &vt))
		cerr(c, depends(c, e->args[1]) || e->args[1]->kind == E_CALL, e->args[1]->loc,
		     "the address in forward() is an IPv4 address, a u32 (0x0a000002 is "
		     "10.0.0.2), not %s", vty_str(&vt, a, sizeof(a)));
}

/* push(v, value): appends; a full Vec stays as it is */
static void check_push(struct ck *c, const struct fr_stmt *s)
{
	const struct fr_expr *e = s->e;
	char a[64], b[64];

	if (c->hk == H_INIT) {
		cerr(c, 0, s->loc, "init() fills a Vec with set(v, i, value); push() belongs "
		     "in req() or resp()");
		return;
	}
	if (e->nargs != 2) {
		cerr(c, 0, e->loc, "push() takes 2 arguments: a Vec and a value");
		return;
	}
	struct fr_state *st = vec_arg(c, e->args[0], "push()");
	struct vty vt = check_expr(c, e->args[1]);
	if (st && !compatible(st->type.val, &vt))
		cerr(c, (!vt.lit && e->args[1]->kind != E_NAME) || depends(c, e->args[1]),
		     e->args[1]->loc, "value of type %s does not match the element type %s of "
		     "Vec '%s'", vty_str(&vt, a, sizeof(a)),
		     fr_type_str(st->type.val, b, sizeof(b)), st->name);
}

static void check_block(struct ck *c, const struct fr_block *b);

/* foreach x in v: the body is copied once per slot of v */
static void check_foreach(struct ck *c, const struct fr_stmt *s)
{
	if (c->hk == H_INIT) {
		cerr(c, 0, s->loc, "init() can only set(...) state; foreach belongs in req() "
		     "or resp()");
		return;
	}
	if (c->in_foreach) {
		cerr(c, 0, s->loc, "foreach inside foreach would copy the inner body N x M "
		     "times; iterate over one Vec at a time");
		return;
	}
	struct fr_state *st = vec_arg(c, s->e, "foreach");
	if (c->nbinds == MAX_BINDS) {
		cerr(c, 0, s->loc, "more than %d names in scope", MAX_BINDS);
		return;
	}
	memset(&c->binds[c->nbinds], 0, sizeof(c->binds[0]));
	c->binds[c->nbinds].name = s->names[0];
	if (st)
		c->binds[c->nbinds].t.t = *st->type.val;
	c->binds[c->nbinds].each = 1;
	c->binds[c->nbinds].loc = s->loc;
	c->nbinds++;
	c->in_foreach = 1;
	check_block(c, &s->body);
	c->in_foreach = 0;
	c->nbinds--;
}

/* delete(map, key) */
static void check_delete(struct ck *c, const struct fr_stmt *s)
{
	const struct fr_expr *e = s->e;
	char a[64], b[64];

	if (c->hk == H_INIT) {
		cerr(c, 0, s->loc, "init() can only set(...) state; delete() belongs in "
		     "req() or resp()");
		return;
	}
	if (e->nargs != 2) {
		cerr(c, 0, e->loc, "delete() takes 2 arguments: a map and a key");
		return;
	}
	const struct fr_expr *m = e->args[0], *k = e->args[1];
	struct fr_state *st = m->kind == E_NAME ? find_state(c->el, m->s) : NULL;
	struct vty kt = check_expr(c, k);
	if (!st) {
		if (m->kind == E_NAME)
			cerr(c, 0, m->loc, "unknown state '%s' in element '%s'", m->s, c->el->name);
		else
			cerr(c, 0, m->loc, "the first argument of delete() must be a state map");
		return;
	}
	if (st->type.kind != TY_MAP) {
		cerr(c, 0, m->loc, "delete() removes a map entry; state '%s' is a %s",
		     st->name, fr_type_str(&st->type, a, sizeof(a)));
		return;
	}
	if (!compatible(st->type.key, &kt))
		cerr(c, (!kt.lit && k->kind == E_CALL) || depends(c, k), k->loc,
		     "key of type %s does not match the key type %s of map '%s'",
		     vty_str(&kt, a, sizeof(a)), fr_type_str(st->type.key, b, sizeof(b)), st->name);
}

static int find_bind(struct ck *c, const char *name)
{
	for (int i = c->nbinds - 1; i >= 0; i--)
		if (!strcmp(c->binds[i].name, name))
			return i;
	return -1;
}

/* x = e and (a, b) = (e1, e2): a local is declared by its first
 * assignment, typed by that value, and lives to the end of its block. */
static void check_assign(struct ck *c, const struct fr_stmt *s)
{
	struct vty v[MAX_BINDS];
	int dep[MAX_BINDS];
	unsigned n = s->nnames;
	char a[64], b[64];

	if (c->hk == H_INIT) {
		cerr(c, 0, s->loc, "init() runs at load time and can only set(...) state; "
		     "assignments belong in req() or resp()");
		return;
	}
	if (n > MAX_BINDS) {
		cerr(c, 0, s->loc, "more than %d names on the left", MAX_BINDS);
		return;
	}
	if (n > 1 && (s->e->kind != E_TUPLE || s->e->nargs != n)) {
		cerr(c, 0, s->e->loc, "%u names on the left need a tuple of %u values on the "
		     "right, as in (a, b) = (x, y)", n, n);
		return;
	}
	if (n == 1 && s->e->kind == E_TUPLE) {
		cerr(c, 0, s->e->loc, "a tuple of %u values cannot go into one name; write "
		     "(a, b) = ... to take it apart", s->e->nargs);
		return;
	}
	/* every value is read before any name is written: (a, b) = (b, a) swaps */
	for (unsigned i = 0; i < n; i++) {
		const struct fr_expr *e = n > 1 ? s->e->args[i] : s->e;
		v[i] = check_expr(c, e);
		dep[i] = depends(c, e);
		if (v[i].option) {
			cerr(c, 0, e->loc, "get(map, key) gives Some(x) or None; match it "
			     "instead of assigning it");
			v[i].t.kind = TY_NONE;
			v[i].option = 0;
		} else if (v[i].t.kind != TY_NONE && !fr_type_is_fixed_int(v[i].t.kind)) {
			cerr(c, dep[i], e->loc, "a local holds an integer or bool, not %s",
			     vty_str(&v[i], a, sizeof(a)));
			v[i].t.kind = TY_NONE;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		const char *name = s->names[i];
		struct fr_loc loc = s->nlocs[i];
		const struct fr_expr *e = n > 1 ? s->e->args[i] : s->e;
		int dup = 0;
		for (unsigned j = 0; j < i; j++)
			dup |= !strcmp(s->names[j], name);
		if (dup) {
			cerr(c, 0, loc, "'%s' appears twice on the left", name);
			continue;
		}
		if (c->h->param && !strcmp(name, c->h->param)) {
			cerr(c, 0, loc, "'%s' is the message and cannot be assigned; rewrite a "
			     "field with set(%s, 'field', value)", name, name);
			continue;
		}
		struct fr_state *st = find_state(c->el, name);
		if (st) {
			cerr(c, 0, loc, "'%s' is a state of element '%s'; change it with "
			     "set(%s, ...)", name, c->el->name, name);
			continue;
		}
		if (fr_elem_param(c->el, name)) {
			cerr(c, 0, loc, "'%s' is an argument of element '%s', a constant; copy "
			     "it into a new name to change it", name, c->el->name);
			continue;
		}
		if (strchr(name, '-')) {
			cerr(c, 0, loc, "a local name cannot contain '-' ('%s'); use '_'", name);
			continue;
		}
		if (c_reserved(name) || !strcmp(name, "Up") || !strcmp(name, "Down")) {
			cerr(c, 0, loc, "'%s' is a reserved word and cannot be a local", name);
			continue;
		}
		int k = find_bind(c, name);
		if (k >= 0 && c->binds[k].each) {
			cerr(c, 0, loc, "'%s' is bound by foreach on line %d and cannot be "
			     "assigned; change the Vec with set(v, i, value)", name,
			     c->binds[k].loc.line);
			continue;
		}
		if (k >= 0 && !c->binds[k].local) {
			cerr(c, 0, loc, "'%s' is bound by Some(%s) on line %d and cannot be "
			     "assigned; copy it into a new name", name, name,
			     c->binds[k].loc.line);
			continue;
		}
		if (k >= 0) {
			struct vty want = c->binds[k].t;
			if (v[i].t.kind != TY_NONE && want.t.kind != TY_NONE &&
			    !compatible(&want.t, &v[i]))
				cerr(c, dep[i] || c->binds[k].dep, e->loc, "'%s' is %s (from line "
				     "%d); a value of type %s does not fit", name,
				     fr_type_str(&want.t, a, sizeof(a)), c->binds[k].loc.line,
				     vty_str(&v[i], b, sizeof(b)));
			continue;
		}
		if (c->nbinds == MAX_BINDS) {
			cerr(c, 0, loc, "more than %d names in scope", MAX_BINDS);
			continue;
		}
		struct vty t = v[i];
		t.lit = 0;	/* a constant gives the local its widest type */
		memset(&c->binds[c->nbinds], 0, sizeof(c->binds[0]));
		c->binds[c->nbinds].name = name;
		c->binds[c->nbinds].t = t;
		c->binds[c->nbinds].local = 1;
		c->binds[c->nbinds].dep = dep[i];
		c->binds[c->nbinds].loc = loc;
		c->nbinds++;
	}
}

static void check_block(struct ck *c, const struct fr_block *b)
{
	int scope = c->nbinds;

	for (unsigned i = 0; i < b->n; i++) {
		const struct fr_stmt *s = b->v[i];
		switch (s->kind) {
		case S_ASSIGN:
			check_assign(c, s);
			break;
		case S_MATCH:
			check_match(c, s);
			break;
		case S_SEND:
			check_send(c, s);
			break;
		case S_SET:
			check_set(c, s);
			break;
		case S_PASS:
			if (c->hk == H_INIT)
				cerr(c, 0, s->loc, "pass is not allowed in init()");
			break;
		case S_FOREACH:
			check_foreach(c, s);
			break;
		case S_FORWARD:
			check_forward(c, s);
			break;
		case S_CALL:
			if (!strcmp(s->e->s, "delete")) {
				check_delete(c, s);
				break;
			}
			if (!strcmp(s->e->s, "push")) {
				check_push(c, s);
				break;
			}
			check_expr(c, s->e);
			/* randomf() alone was refused above; size() alone passes, as before */
			const struct fr_builtin *bi = fr_builtin_find(s->e->s);
			if (bi && bi->form != FR_BI_SIZE && bi->form != FR_BI_RANDOMF)
				cerr(c, 0, s->loc, "the result of %s() is unused", s->e->s);
			break;
		}
	}
	for (int i = scope; i < c->nbinds; i++)
		if (c->binds[i].local && c->ngone < MAX_BINDS) {
			c->gone[c->ngone].name = c->binds[i].name;
			c->gone[c->ngone].loc = c->binds[i].loc;
			c->ngone++;
		}
	c->nbinds = scope;
}


/* ---- paths: every path of req()/resp() must end in send() or pass ---------
 *
 * A path that reaches the end of a handler would pass the message on
 * silently; that is an error, except for one case the paper's firewall
 * relies on: a match on constants with no catch-all arm. A message that
 * matches none of its arms is passed on, and the checker says so with a
 * warning at the match, unless a later statement sends anyway. */

#define MAX_FALLS 16

struct fall {
	struct fr_loc loc;		/* where the path leaves */
	const struct fr_stmt *soft;	/* the arm-less match, or NULL: an error */
};

struct falls {
	struct fall v[MAX_FALLS];
	int n;
};

static void add_fall(struct falls *f, struct fr_loc loc, const struct fr_stmt *soft)
{
	if (f->n < MAX_FALLS)
		f->v[f->n++] = (struct fall){ loc, soft };
}

static int flow_block(struct ck *c, const struct fr_block *b, struct falls *out);

/* Returns 1 if control can leave the match; its exits are added to out. */
static int flow_match(struct ck *c, const struct fr_stmt *s, struct falls *out)
{
	int some = 0, none = 0, wild = 0, consts = 0, reach = 0;

	for (unsigned i = 0; i < s->narms; i++) {
		const struct fr_arm *arm = &s->arms[i];
		struct falls af = { .n = 0 };
		some |= arm->kind == A_SOME;
		none |= arm->kind == A_NONE;
		wild |= arm->kind == A_WILD;
		consts |= arm->kind == A_CONST;
		if (!arm->body.n) {
			add_fall(out, arm->loc, NULL);
			reach = 1;
		} else if (flow_block(c, &arm->body, &af)) {
			for (int k = 0; k < af.n; k++)
				add_fall(out, af.v[k].loc, af.v[k].soft);
			reach = 1;
		}
	}
	int bools = 0;
	for (unsigned i = 0; i < s->narms; i++)
		if (s->arms[i].kind == A_CONST && s->arms[i].value->kind == E_BOOL)
			bools |= 1 << s->arms[i].value->ival;
	if (wild || (some && none) || bools == 3)
		return reach;
	/* no arm takes some values: they leave the match here */
	add_fall(out, s->loc, consts && !some && !none ? s : NULL);
	return 1;
}

static int flow_block(struct ck *c, const struct fr_block *b, struct falls *out)
{
	int reach = 1;
	const struct fr_stmt *ender = NULL;

	out->n = 0;
	for (unsigned i = 0; i < b->n; i++) {
		const struct fr_stmt *s = b->v[i];
		if (!reach) {
			cerr(c, 0, s->loc, "unreachable statement: the path already ended "
			     "on line %d", ender->loc.line);
			break;
		}
		switch (s->kind) {
		case S_SEND:
		case S_PASS:
		case S_FORWARD:
			reach = 0;
			ender = s;
			out->n = 0;
			break;
		case S_FOREACH: {
			/* the body may run zero times: the path goes on after it */
			struct falls bf = { .n = 0 };
			flow_block(c, &s->body, &bf);
			out->n = 0;
			add_fall(out, s->loc, NULL);
			break;
		}
		case S_MATCH: {
			struct falls mf = { .n = 0 };
			reach = flow_match(c, s, &mf);
			*out = mf;
			if (!reach)
				ender = s;
			break;
		}
		default:
			out->n = 0;
			add_fall(out, s->loc, NULL);
			break;
		}
	}
	return reach;
}

static void describe_scrutinee(const struct fr_expr *e, char *buf, size_t n)
{
	if (e->kind == E_NAME)
		snprintf(buf, n, "%s", e->s);
	else if (e->kind == E_CALL && !strcmp(e->s, "get") && e->nargs == 2 &&
		 e->args[1]->kind == E_STR)
		snprintf(buf, n, "field '%s'", e->args[1]->s);
	else
		snprintf(buf, n, "this value");
}

static void check_paths(struct ck *c, struct fr_element *el, const char *hname,
			const struct fr_handler *h)
{
	struct falls f = { .n = 0 };
	char what[96];

	if (!h->present || !flow_block(c, &h->body, &f))
		return;
	for (int i = 0; i < f.n; i++) {
		if (f.v[i].soft) {
			describe_scrutinee(f.v[i].soft->e, what, sizeof(what));
			fr_warn(c->d, f.v[i].loc, "match on %s has no default arm; messages "
				"matching no arm are passed on", what);
		} else {
			fr_error(c->d, f.v[i].loc, "%s() of element '%s' can end here without "
				 "send(); end every path with send(...) or pass", hname, el->name);
		}
	}
}

static void check_handler(struct ck *c, struct fr_element *el, enum hkind hk,
			  struct fr_method *m, enum fr_side side)
{
	struct fr_handler *h = hk == H_INIT ? &el->init : hk == H_REQ ? &el->req : &el->resp;

	if (!h->present)
		return;
	c->el = el;
	c->h = h;
	c->hk = hk;
	c->m = m;
	c->side = side;
	c->fields = m ? (hk == H_REQ ? &m->req : &m->resp) : NULL;
	c->nbinds = 0;
	c->in_foreach = 0;
	c->ngone = 0;
	check_block(c, &h->body);
}

static int state_type_ok(const struct fr_type *t)
{
	return fr_type_is_fixed_int(t->kind) || t->kind == TY_STRING;
}

#define FR_MAX_MAP_ENTRIES (1u << 24)

/* Annotations are hints: @size is honoured on maps, everything else is
 * said to be ignored, where it is written. */
static void check_annots(struct ck *c, struct fr_state *st)
{
	const struct fr_annot *size = NULL, *full = NULL;

	for (unsigned i = 0; i < st->nannots; i++) {
		const struct fr_annot *a = &st->annots[i];
		const char *arg = a->nargs == 1 && a->args[0]->kind == E_NAME ? a->args[0]->s : "";
		if (!strcmp(a->name, "size")) {
			if (size) {
				fr_error(c->d, a->loc, "duplicate @size (first on line %d)",
					 size->loc.line);
				continue;
			}
			size = a;
			if (a->nargs != 1 || a->args[0]->kind != E_INT || !a->args[0]->ival ||
			    a->args[0]->ival > FR_MAX_MAP_ENTRIES) {
				fr_error(c->d, a->loc, "@size takes one integer, the most entries "
					 "the map holds: 1..%u", FR_MAX_MAP_ENTRIES);
				continue;
			}
			if (st->type.kind == TY_MAP)
				st->max_entries = (unsigned)a->args[0]->ival;
			else if (st->type.kind == TY_VEC)
				fr_warn(c->d, a->loc, "@size is ignored on Vec '%s': the N of "
					"Vec<T, N> is its size", st->name);
			else
				fr_warn(c->d, a->loc, "@size is ignored on scalar state '%s': it "
					"is one slot", st->name);
		} else if (!strcmp(a->name, "full")) {
			/* what a set() of a new key does once the map is full */
			if (full) {
				fr_error(c->d, a->loc, "duplicate @full (first on line %d)",
					 full->loc.line);
				continue;
			}
			full = a;
			if (strcmp(arg, "evict") && strcmp(arg, "refuse")) {
				fr_error(c->d, a->loc, "@full takes evict (drop the least recently "
					 "used key) or refuse (answer the request state_full)");
				continue;
			}
			if (st->type.kind == TY_MAP)
				st->full_refuse = !strcmp(arg, "refuse");
			else
				fr_warn(c->d, a->loc, "@full is ignored on %s '%s': it cannot fill",
					st->type.kind == TY_VEC ? "Vec" : "scalar state", st->name);
		} else if (!strcmp(a->name, "consistency")) {
			fr_warn(c->d, a->loc, "@consistency(%s) is ignored: state '%s' is one "
				"BPF map on this host, shared by all its CPUs, and not replicated "
				"to other hosts", arg, st->name);
		} else if (!strcmp(a->name, "combiner")) {
			fr_warn(c->d, a->loc, "@combiner(%s) is ignored: state '%s' is not "
				"replicated, so there are no copies to combine", arg, st->name);
		} else if (!strcmp(a->name, "persistence")) {
			fr_warn(c->d, a->loc, "@persistence is ignored: state '%s' is a map "
				"pinned by name, which outlives reloads of the program but not a "
				"reboot", st->name);
		} else {
			fr_warn(c->d, a->loc, "unknown annotation @%s is ignored (known: @size, @full, "
				"@consistency, @combiner, @persistence)", a->name);
		}
	}
}

static int check_arg_value(struct ck *c, const struct fr_eparam *prm, const struct fr_expr *v,
			   const char *elname);

static void check_element(struct ck *c, struct fr_element *el)
{
	char b[64];

	for (unsigned i = 0; i < el->nparams; i++) {
		struct fr_eparam *prm = &el->params[i];
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(el->params[j].name, prm->name))
				fr_error(c->d, prm->loc, "duplicate parameter '%s'", prm->name);
		if (find_state(el, prm->name))
			fr_error(c->d, prm->loc, "parameter '%s' has the name of a state of "
				 "element '%s'", prm->name, el->name);
		if (!fr_type_is_fixed_int(prm->type.kind))
			fr_error(c->d, prm->type.loc, "element parameters are integers or bool, "
				 "not %s", fr_type_str(&prm->type, b, sizeof(b)));
		else if (prm->deflt)
			check_arg_value(c, prm, prm->deflt, el->name);
	}

	for (unsigned i = 0; i < el->nstates; i++) {
		struct fr_state *st = &el->states[i];
		for (unsigned j = 0; j < i; j++) {
			if (!strcmp(el->states[j].name, st->name))
				fr_error(c->d, st->loc, "duplicate state '%s' in element '%s'",
					 st->name, el->name);
			else if (same_cname(el->states[j].name, st->name, 0))
				fr_error(c->d, st->loc, "state '%s' and state '%s' on line %d are "
					 "the same name in C", st->name, el->states[j].name,
					 el->states[j].loc.line);
		}
		check_name(c->d, st->loc, "state", st->name);
		check_annots(c, st);
		if (st->type.kind == TY_VEC) {
			/* slot N holds the length, in a slot of type T: N <= 64 fits */
			if (!fr_type_is_fixed_int(st->type.val->kind))
				fr_error(c->d, st->type.val->loc, "Vec elements must be integers "
					 "or bool, not %s", fr_type_str(st->type.val, b, sizeof(b)));
			continue;
		}
		if (st->type.kind != TY_MAP) {
			/* a scalar: one array slot; strings would need a copy per read */
			if (!fr_type_is_fixed_int(st->type.kind))
				fr_error(c->d, st->type.loc, "state '%s' must be an integer, bool "
					 "or Map<K, V>, not %s", st->name,
					 fr_type_str(&st->type, b, sizeof(b)));
			continue;
		}
		if (!state_type_ok(st->type.key))
			fr_error(c->d, st->type.key->loc, "map keys must be integers, bool or "
				 "string<N>, not %s", fr_type_str(st->type.key, b, sizeof(b)));
		if (st->type.val->kind == TY_TUPLE) {
			for (unsigned k = 0; k < st->type.val->n; k++)
				if (!fr_type_is_fixed_int(st->type.val->elems[k].kind))
					fr_error(c->d, st->type.val->elems[k].loc, "tuple elements "
						 "must be integers or bool, not %s",
						 fr_type_str(&st->type.val->elems[k], b, sizeof(b)));
		} else if (!state_type_ok(st->type.val)) {
			fr_error(c->d, st->type.val->loc, "map values must be integers, bool, "
				 "string<N> or a tuple of integers, not %s",
				 fr_type_str(st->type.val, b, sizeof(b)));
		}
	}
	if (!el->req.present)
		fr_error(c->d, el->loc, "element '%s' has no req(rpc)", el->name);
	check_handler(c, el, H_INIT, NULL, FR_SERVER);
	check_handler(c, el, H_REQ, NULL, FR_SERVER);
	check_handler(c, el, H_RESP, NULL, FR_SERVER);
	c->el = el;
	c->m = NULL;
	check_paths(c, el, "req", &el->req);
	check_paths(c, el, "resp", &el->resp);
}

static void check_fields(struct fr_diag *d, const struct fr_fields *fs,
			 const struct fr_fields *before, const char *what)
{
	char b[64];

	for (unsigned i = 0; i < fs->n; i++) {
		const struct fr_field *f = &fs->v[i];
		const struct fr_field *dup = find_field(before, f->name);
		for (unsigned j = 0; !dup && j < i; j++)
			if (!strcmp(fs->v[j].name, f->name))
				dup = &fs->v[j];
		if (dup)
			fr_error(d, f->loc, "duplicate field '%s' in %s%s", f->name, what,
				 dup->is_meta && !f->is_meta ? " (already in metadata)" : "");
		const struct fr_field *alias = NULL;
		for (unsigned j = 0; !dup && before && !alias && j < before->n; j++)
			if (same_cname(before->v[j].name, f->name, 0))
				alias = &before->v[j];
		for (unsigned j = 0; !dup && !alias && j < i; j++)
			if (same_cname(fs->v[j].name, f->name, 0))
				alias = &fs->v[j];
		if (alias)
			fr_error(d, f->loc, "field '%s' and field '%s' on line %d are the same "
				 "name in C", f->name, alias->name, alias->loc.line);
		check_name(d, f->loc, "field", f->name);
		if (c_reserved(f->name))
			fr_error(d, f->loc, "field name '%s' is reserved in C", f->name);
		if (f->type.kind == TY_MAP || f->type.kind == TY_VEC || f->type.kind == TY_TUPLE ||
		    f->type.kind == TY_NONE)
			fr_error(d, f->type.loc, "field '%s' cannot have type %s", f->name,
				 fr_type_str(&f->type, b, sizeof(b)));
	}
}

static const struct fr_param *param(const struct fr_prop *p, const char *key)
{
	for (unsigned i = 0; i < p->nparams; i++)
		if (!strcmp(p->params[i].key, key))
			return &p->params[i];
	return NULL;
}

static void check_transport(struct fr_diag *d, struct fr_method *m)
{
	static const struct { const char *name; const char *params[3]; } known[] = {
		{ "lossy", { "timeout" } },
		{ "reliable", { "timeout", "retries" } },
		{ "inorder", { "strategy" } },
		{ "priority", { "level" } },
	};
	const struct fr_prop *lossy = NULL, *reliable = NULL, *inorder = NULL, *prio = NULL;

	m->timeout_us = FR_DEFAULT_TIMEOUT_US;
	m->retries = 0;
	m->flags = 0;
	m->priority = 0;
	for (unsigned i = 0; i < m->nprops; i++) {
		const struct fr_prop *p = &m->props[i];
		size_t k;
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (!strcmp(known[k].name, p->name))
				break;
		if (k == sizeof(known) / sizeof(known[0])) {
			fr_error(d, p->loc, "unknown transport property '%s' (expected lossy, "
				 "reliable, inorder or priority)", p->name);
			continue;
		}
		const struct fr_prop **slot = k == 0 ? &lossy : k == 1 ? &reliable :
					      k == 2 ? &inorder : &prio;
		if (*slot) {
			fr_error(d, p->loc, "duplicate transport property '%s'", p->name);
			continue;
		}
		*slot = p;
		for (unsigned j = 0; j < p->nparams; j++) {
			const struct fr_param *pa = &p->params[j];
			int ok = 0;
			for (int q = 0; q < 3 && known[k].params[q]; q++)
				ok |= !strcmp(known[k].params[q], pa->key);
			if (!ok) {
				fr_error(d, pa->loc, "unknown parameter '%s' of %s (expected %s%s%s)",
					 pa->key, p->name, known[k].params[0],
					 known[k].params[1] ? " or " : "",
					 known[k].params[1] ? known[k].params[1] : "");
				continue;
			}
			if (param(p, pa->key) != pa)
				fr_error(d, pa->loc, "duplicate parameter '%s'", pa->key);
			int want_str = !strcmp(pa->key, "strategy");
			if (want_str != pa->is_str)
				fr_error(d, pa->vloc, "parameter '%s' takes %s", pa->key,
					 want_str ? "a quoted string" : "an integer");
		}
	}
	if (lossy && reliable)
		fr_error(d, reliable->loc, "a method is either lossy or reliable, not both");

	const struct fr_prop *tp = reliable ? reliable : lossy;
	const struct fr_param *pa;
	if (tp && (pa = param(tp, "timeout")) && !pa->is_str) {
		if (pa->ival == 0 || pa->ival > 60000000)
			fr_error(d, pa->vloc, "timeout is in microseconds: 1..60000000");
		else
			m->timeout_us = (uint32_t)pa->ival;
	}
	if (reliable) {
		m->flags |= FLATRPC_M_RELIABLE;
		m->retries = FR_DEFAULT_RETRIES;
		if ((pa = param(reliable, "retries")) && !pa->is_str) {
			if (pa->ival > 255)
				fr_error(d, pa->vloc, "retries must be 0..255");
			else
				m->retries = (unsigned)pa->ival;
		}
	}
	if (inorder) {
		const char *strategy = "hold-forever";
		if ((pa = param(inorder, "strategy")) && pa->is_str) {
			strategy = pa->s;
			if (strcmp(strategy, "hold-forever") && strcmp(strategy, "drop") &&
			    strcmp(strategy, "none")) {
				fr_error(d, pa->vloc, "unknown inorder strategy '%s' (expected "
					 "\"hold-forever\", \"drop\" or \"none\")", strategy);
				strategy = "none";
			}
		}
		if (strcmp(strategy, "none"))
			m->flags |= FLATRPC_M_INORDER;
		/* The kernel tells "drop" from "hold-forever" by this bit alone. */
		if (!strcmp(strategy, "drop"))
			m->flags |= FLATRPC_M_INORDER_DROP;
		if (!strcmp(strategy, "hold-forever") && !reliable)
			fr_error(d, inorder->loc, "inorder(strategy=\"hold-forever\") needs "
				 "reliable: without retransmission one lost message stalls "
				 "the stream forever");
	}
	if (prio && (pa = param(prio, "level")) && !pa->is_str) {
		if (pa->ival > FLATRPC_PRIO_MAX)
			fr_error(d, pa->vloc, "priority level must be 0..%d", FLATRPC_PRIO_MAX);
		else
			m->priority = (unsigned)pa->ival;
	}
}

const struct fr_eparam *fr_elem_param(const struct fr_element *el, const char *name)
{
	for (unsigned i = 0; i < el->nparams; i++)
		if (!strcmp(el->params[i].name, name))
			return &el->params[i];
	return NULL;
}

const struct fr_expr *fr_elem_arg(const struct fr_method *m, const struct fr_element *el,
				  const struct fr_eparam *prm)
{
	for (unsigned j = 0; j < m->nchain; j++) {
		if (m->chain[j].elem != el)
			continue;
		for (unsigned k = 0; k < m->chain[j].nargs; k++)
			if (m->chain[j].args[k].key && !strcmp(m->chain[j].args[k].key, prm->name))
				return m->chain[j].args[k].value;
	}
	return prm->deflt;
}

static const char *param_list(const struct fr_element *el, char *buf, size_t n)
{
	size_t o = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < el->nparams && o < n; i++)
		o += snprintf(buf + o, n - o, "%s%s", i ? ", " : "", el->params[i].name);
	return buf;
}

/* An argument is a constant that fits its parameter's type. */
static int check_arg_value(struct ck *c, const struct fr_eparam *prm, const struct fr_expr *v,
			   const char *elname)
{
	char a[64];
	struct vty vt = { .lit = 1 };

	if (v->kind != E_INT && v->kind != E_BOOL) {
		fr_error(c->d, v->loc, "argument '%s' of element '%s' must be an integer or "
			 "bool constant: it is compiled into the element", prm->name, elname);
		return 0;
	}
	vt.t.kind = v->kind == E_INT ? TY_U64 : TY_BOOL;
	vt.ival = v->ival;
	if (!compatible(&prm->type, &vt)) {
		fr_error(c->d, v->loc, "%llu does not fit argument '%s' of element '%s', "
			 "a %s", (unsigned long long)v->ival, prm->name, elname,
			 fr_type_str(&prm->type, a, sizeof(a)));
		return 0;
	}
	return 1;
}

static void check_chain_args(struct ck *c, const struct fr_chain_ref *r)
{
	const struct fr_element *el = r->elem;
	char list[256];

	for (unsigned k = 0; k < r->nargs; k++) {
		const struct fr_carg *a = &r->args[k];
		if (!a->key) {
			fr_error(c->d, a->loc, "arguments are given by name, as in %s(%s=...)",
				 r->name, el->nparams ? el->params[0].name : "name");
			continue;
		}
		const struct fr_eparam *prm = fr_elem_param(el, a->key);
		if (!prm) {
			if (el->nparams)
				fr_error(c->d, a->loc, "element '%s' has no parameter '%s' (it has "
					 "%s)", r->name, a->key, param_list(el, list, sizeof(list)));
			else
				fr_error(c->d, a->loc, "element '%s' takes no arguments", r->name);
			continue;
		}
		int dup = 0;
		for (unsigned q = 0; q < k; q++)
			dup |= r->args[q].key && !strcmp(r->args[q].key, a->key);
		if (dup) {
			fr_error(c->d, a->loc, "argument '%s' is given twice", a->key);
			continue;
		}
		check_arg_value(c, prm, a->value, r->name);
	}
	for (unsigned i = 0; i < el->nparams; i++) {
		const struct fr_eparam *prm = &el->params[i];
		int given = 0;
		for (unsigned k = 0; k < r->nargs; k++)
			given |= r->args[k].key && !strcmp(r->args[k].key, prm->name);
		if (!given && !prm->deflt)
			fr_error(c->d, r->loc, "element '%s' needs argument '%s' (%s, no default)",
				 r->name, prm->name, fr_type_str(&prm->type, list, sizeof(list)));
	}
}

static void check_service(struct ck *c, struct fr_service *svc)
{
	struct fr_spec *spec = c->spec;
	struct fr_diag *d = c->d;

	if (!svc->has_port)
		svc->port = FLATRPC_DEFAULT_PORT;
	check_fields(d, &svc->meta, NULL, "metadata");
	if (svc->nmethods == 0)
		fr_error(d, svc->loc, "service '%s' has no methods", svc->name);
	if (svc->nmethods > FLATRPC_MAX_METHODS)
		fr_error(d, svc->methods[FLATRPC_MAX_METHODS].loc,
			 "more than %d methods", FLATRPC_MAX_METHODS);

	for (unsigned i = 0; i < svc->nmethods; i++) {
		struct fr_method *m = &svc->methods[i];
		m->id = i;
		for (unsigned j = 0; j < i; j++) {
			const struct fr_method *o = &svc->methods[j];
			if (!strcmp(o->name, m->name)) {
				fr_error(d, m->loc, "duplicate method '%s'", m->name);
				break;
			}
			if (same_cname(o->name, m->name, 1)) {
				fr_error(d, m->loc, "method '%s' and method '%s' on line %d are the "
					 "same name in C", m->name, o->name, o->loc.line);
				break;
			}
		}
		check_name(d, m->loc, "method", m->name);

		/* the metadata goes first in every request */
		struct fr_fields own = m->req;
		char what[128];
		snprintf(what, sizeof(what), "the request of method '%s'", m->name);
		check_fields(d, &own, &svc->meta, what);
		snprintf(what, sizeof(what), "the response of method '%s'", m->name);
		check_fields(d, &m->resp, NULL, what);
		m->req.n = svc->meta.n + own.n;
		m->req.cap = m->req.n;
		m->req.v = fr_arena_alloc(&spec->arena, (m->req.n + 1) * sizeof(*m->req.v));
		if (svc->meta.n)
			memcpy(m->req.v, svc->meta.v, svc->meta.n * sizeof(*m->req.v));
		if (own.n)
			memcpy(m->req.v + svc->meta.n, own.v, own.n * sizeof(*m->req.v));

		for (unsigned j = 0; j < m->nchain; j++) {
			struct fr_chain_ref *r = &m->chain[j];
			r->elem = fr_spec_element(spec, r->name);
			if (!r->elem)
				fr_error(d, r->loc, "unknown element '%s' in the chain of method '%s'",
					 r->name, m->name);
			else
				check_chain_args(c, r);
			for (unsigned k = 0; k < j; k++)
				if (!strcmp(m->chain[k].name, r->name)) {
					/* client: entries come first whatever the
					 * order of the lines: point at the later one */
					const struct fr_chain_ref *o = &m->chain[k];
					int later = o->loc.line > r->loc.line ||
						    (o->loc.line == r->loc.line && o->loc.col > r->loc.col);
					fr_error(d, later ? o->loc : r->loc, "element '%s' appears "
						 "twice in the chains of method '%s'", r->name, m->name);
					break;
				}
		}
		check_transport(d, m);
		for (unsigned j = 0; j < m->nchain; j++)
			if (m->chain[j].side == FR_CLIENT && m->chain[j].elem &&
			    m->chain[j].elem->req.present)
				m->flags |= FLATRPC_M_CLIENT_ANF;
		for (unsigned j = 0; j < m->nchain; j++)
			if (m->chain[j].side == FR_SERVER && m->chain[j].elem &&
			    m->chain[j].elem->forwards)
				m->flags |= FLATRPC_M_FORWARD;
	}

	/* each Map state of a used element has its slot of state_limits */
	for (unsigned i = 0; i < svc->nmethods; i++)
		for (unsigned j = 0; j < svc->methods[i].nchain; j++)
			if (svc->methods[i].chain[j].elem)
				svc->methods[i].chain[j].elem->used = 1;
	int nmaps = 0;
	for (unsigned i = 0; i < spec->nelems; i++)
		for (unsigned j = 0; j < spec->elems[i]->nstates; j++) {
			struct fr_state *st = &spec->elems[i]->states[j];
			st->map_index = spec->elems[i]->used && st->type.kind == TY_MAP ? nmaps++ : -1;
			if (st->map_index == FLATRPC_MAX_STATES)
				fr_error(d, st->loc, "more than %d Map states in the elements "
					 "of service '%s'", FLATRPC_MAX_STATES, svc->name);
		}

	/* fr_anf_<method>_<element>_req is one function per pair */
	for (unsigned i = 0; i < svc->nmethods; i++)
		for (unsigned j = 0; j < svc->methods[i].nchain; j++) {
			char x[80], y[80];
			const struct fr_chain_ref *r = &svc->methods[i].chain[j];
			snprintf(x, sizeof(x), "%s_%s", svc->methods[i].name, r->name);
			for (unsigned k = 0; k < i; k++)
				for (unsigned q = 0; q < svc->methods[k].nchain; q++) {
					snprintf(y, sizeof(y), "%s_%s", svc->methods[k].name,
						 svc->methods[k].chain[q].name);
					if (same_cname(x, y, 0))
						fr_error(d, r->loc, "element '%s' in method '%s' and "
							 "element '%s' in method '%s' would share the "
							 "function fr_anf_%s_req", r->name,
							 svc->methods[i].name,
							 svc->methods[k].chain[q].name,
							 svc->methods[k].name,
							 fr_cname(y, sizeof(y), x));
				}
		}

	/* per-method pass: field-dependent checks and error numbering, in
	 * method, chain and body order */
	for (unsigned i = 0; i < svc->nmethods; i++) {
		struct fr_method *m = &svc->methods[i];
		for (unsigned j = 0; j < m->nchain; j++) {
			if (!m->chain[j].elem)
				continue;
			check_handler(c, m->chain[j].elem, H_REQ, m, m->chain[j].side);
			check_handler(c, m->chain[j].elem, H_RESP, m, m->chain[j].side);
		}
	}
}

/* fr_<element>_<state> must be unique across elements: element 'a-b' with
 * state 'c' and element 'a' with state 'b_c' would share one pinned map. */
static void check_map_names(struct fr_spec *spec, struct fr_diag *d)
{
	char x[80], y[80];

	for (unsigned i = 0; i < spec->nelems; i++)
		for (unsigned si = 0; si < spec->elems[i]->nstates; si++) {
			const struct fr_state *a = &spec->elems[i]->states[si];
			snprintf(x, sizeof(x), "%s_%s", spec->elems[i]->name, a->name);
			for (unsigned j = 0; j < i; j++)
				for (unsigned sj = 0; sj < spec->elems[j]->nstates; sj++) {
					const struct fr_state *b = &spec->elems[j]->states[sj];
					snprintf(y, sizeof(y), "%s_%s", spec->elems[j]->name, b->name);
					if (same_cname(x, y, 0) && !same_cname(spec->elems[i]->name,
									       spec->elems[j]->name, 0))
						fr_error(d, a->loc, "state '%s' of element '%s' and state "
							 "'%s' of element '%s' would share the map "
							 "fr_%s", a->name, spec->elems[i]->name, b->name,
							 spec->elems[j]->name,
							 fr_cname(y, sizeof(y), x));
				}
		}
}

void fr_check(struct fr_spec *spec, struct fr_diag *d)
{
	struct ck c = { .spec = spec, .d = d };

	for (unsigned i = 0; i < spec->nelems; i++) {
		struct fr_element *el = spec->elems[i];
		for (unsigned j = 0; j < i; j++) {
			const struct fr_element *o = spec->elems[j];
			if (!strcmp(o->name, el->name)) {
				fr_error(d, el->loc, "duplicate element '%s'", el->name);
				break;
			}
			if (same_cname(o->name, el->name, 0)) {
				fr_error(d, el->loc, "element '%s' and element '%s' on line %d are "
					 "the same name in C", el->name, o->name, o->loc.line);
				break;
			}
		}
		check_name(d, el->loc, "element", el->name);
		check_element(&c, el);
	}
	if (!spec->svc) {
		struct fr_loc loc = { spec->srcs, 1, 1 };
		fr_error(d, loc, "no service defined (expected `service NAME:`)");
		return;
	}
	check_name(d, spec->svc->loc, "service", spec->svc->name);
	check_map_names(spec, d);
	check_service(&c, spec->svc);
}

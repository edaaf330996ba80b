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
#include <stdlib.h>
#include <string.h>

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
	const struct fr_fields *fields;
	struct { const char *name; struct vty t; } binds[MAX_BINDS];
	int nbinds;
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
	default: snprintf(buf, n, "%s", names[t->kind]); break;
	}
	return buf;
}

static const char *vty_str(const struct vty *v, char *buf, size_t n)
{
	if (v->lit && v->t.kind == TY_STRING)
		snprintf(buf, n, "string constant of length %zu", v->slen);
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
	if (st->type.kind != TY_MAP)
		return r;
	if (!compatible(st->type.key, &kt)) {
		/* a field's type is known only per method */
		int dep = !kt.lit && k->kind == E_CALL;
		cerr(c, dep, k->loc, "key of type %s does not match the key type %s of map '%s'",
		     vty_str(&kt, a, sizeof(a)), fr_type_str(st->type.key, b, sizeof(b)), st->name);
	}
	r.t = *st->type.val;
	r.option = 1;
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
	case E_NAME:
		for (int i = c->nbinds - 1; i >= 0; i--)
			if (!strcmp(c->binds[i].name, e->s))
				return c->binds[i].t;
		if (find_state(c->el, e->s))
			cerr(c, 0, e->loc, "'%s' is a map; read it with get(%s, key)", e->s, e->s);
		else if (is_param(c, e))
			cerr(c, 0, e->loc, "'%s' is the message; read a field with get(%s, 'field')",
			     e->s, e->s);
		else
			cerr(c, 0, e->loc, "unknown name '%s'", e->s);
		return r;
	case E_ADD:
	case E_SUB: {
		struct vty l = check_expr(c, e->args[0]), rr = check_expr(c, e->args[1]);
		for (int i = 0; i < 2; i++) {
			struct vty *v = i ? &rr : &l;
			if (v->option || (v->t.kind != TY_NONE && !(fr_type_is_fixed_int(v->t.kind) &&
								   v->t.kind != TY_BOOL))) {
				char b[64];
				cerr(c, v->t.kind != TY_NONE && e->args[i]->kind == E_CALL && !v->option,
				     e->args[i]->loc, "'%c' needs integers, not %s",
				     e->kind == E_ADD ? '+' : '-', vty_str(v, b, sizeof(b)));
				return r;
			}
		}
		/* the typed side decides the width */
		return l.lit ? rr : l;
	}
	case E_CALL:
		if (!strcmp(e->s, "get"))
			return check_get(c, e);
		if (!strcmp(e->s, "err"))
			cerr(c, 0, e->loc, "err() is only valid as send(err('message'), Up)");
		else
			cerr(c, 0, e->loc, "unknown function '%s'", e->s);
		return r;
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
		if (!up)
			cerr(c, 0, dir->loc, "an error goes back to the caller: use Up");
		if (c->m)
			add_error_code(c->spec, c->d, what->args[0]->s, what->loc);
		return;
	}
	cerr(c, 0, what->loc, "send() sends the message (%s) or err('...')",
	     c->h->param ? c->h->param : "rpc");
}

static void check_set(struct ck *c, const struct fr_stmt *s)
{
	const struct fr_expr *e = s->e;
	char a[64], b[64];

	if (e->nargs != 3) {
		cerr(c, 0, e->loc, "set() takes 3 arguments: map, key, value");
		return;
	}
	const struct fr_expr *m = e->args[0], *k = e->args[1], *v = e->args[2];
	struct fr_state *st = m->kind == E_NAME ? find_state(c->el, m->s) : NULL;
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
	if (st->type.kind != TY_MAP)
		return;
	if (!compatible(st->type.key, &kt))
		cerr(c, !kt.lit && k->kind == E_CALL, k->loc,
		     "key of type %s does not match the key type %s of map '%s'",
		     vty_str(&kt, a, sizeof(a)), fr_type_str(st->type.key, b, sizeof(b)), st->name);
	if (!compatible(st->type.val, &vt))
		cerr(c, !vt.lit && v->kind != E_NAME, v->loc,
		     "value of type %s does not match the value type %s of map '%s'",
		     vty_str(&vt, a, sizeof(a)), fr_type_str(st->type.val, b, sizeof(b)), st->name);
}

static void check_match(struct ck *c, const struct fr_stmt *s)
{
	struct vty t = check_expr(c, s->e);
	int seen_some = 0, seen_none = 0;
	char b[64];

	if (c->hk == H_INIT)
		cerr(c, 0, s->loc, "init() can only set(map, constant, constant)");
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
			if (arm->kind == A_SOME) {
				if (c->nbinds == MAX_BINDS) {
					cerr(c, 0, arm->loc, "too many nested bindings");
					break;
				}
				c->binds[c->nbinds].name = arm->bind;
				c->binds[c->nbinds].t = t;
				c->binds[c->nbinds].t.option = 0;
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
				cerr(c, !t.lit && s->e->kind == E_CALL, arm->loc,
				     "constant does not fit the matched value of type %s",
				     vty_str(&t, b, sizeof(b)));
			break;
		}
		case A_WILD:
			break;
		}
		check_block(c, &arm->body);
		if (pushed)
			c->nbinds--;
	}
}

static void check_block(struct ck *c, const struct fr_block *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		const struct fr_stmt *s = b->v[i];
		switch (s->kind) {
		case S_MATCH:
			check_match(c, s);
			break;
		case S_SEND:
			check_send(c, s);
			break;
		case S_SET:
			check_set(c, s);
			break;
		case S_CALL:
			check_expr(c, s->e);
			if (!strcmp(s->e->s, "get"))
				cerr(c, 0, s->loc, "the result of get() is unused");
			break;
		}
	}
}

static void check_handler(struct ck *c, struct fr_element *el, enum hkind hk,
			  struct fr_method *m)
{
	struct fr_handler *h = hk == H_INIT ? &el->init : hk == H_REQ ? &el->req : &el->resp;

	if (!h->present)
		return;
	c->el = el;
	c->h = h;
	c->hk = hk;
	c->m = m;
	c->fields = m ? (hk == H_REQ ? &m->req : &m->resp) : NULL;
	c->nbinds = 0;
	check_block(c, &h->body);
}

static int state_type_ok(const struct fr_type *t)
{
	return fr_type_is_fixed_int(t->kind) || t->kind == TY_STRING;
}

static void check_element(struct ck *c, struct fr_element *el)
{
	char b[64];

	for (unsigned i = 0; i < el->nstates; i++) {
		struct fr_state *st = &el->states[i];
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(el->states[j].name, st->name))
				fr_error(c->d, st->loc, "duplicate state '%s' in element '%s'",
					 st->name, el->name);
		if (st->type.kind != TY_MAP) {
			fr_error(c->d, st->type.loc, "state '%s' must be a Map<K, V>, not %s",
				 st->name, fr_type_str(&st->type, b, sizeof(b)));
			continue;
		}
		if (!state_type_ok(st->type.key))
			fr_error(c->d, st->type.key->loc, "map keys must be integers, bool or "
				 "string<N>, not %s", fr_type_str(st->type.key, b, sizeof(b)));
		if (!state_type_ok(st->type.val))
			fr_error(c->d, st->type.val->loc, "map values must be integers, bool or "
				 "string<N>, not %s", fr_type_str(st->type.val, b, sizeof(b)));
	}
	if (!el->req.present)
		fr_error(c->d, el->loc, "element '%s' has no req(rpc)", el->name);
	check_handler(c, el, H_INIT, NULL);
	check_handler(c, el, H_REQ, NULL);
	check_handler(c, el, H_RESP, NULL);
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
		if (c_reserved(f->name))
			fr_error(d, f->loc, "field name '%s' is reserved in C", f->name);
		if (f->type.kind == TY_MAP || f->type.kind == TY_NONE)
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
	};
	const struct fr_prop *lossy = NULL, *reliable = NULL, *inorder = NULL;

	m->timeout_us = FR_DEFAULT_TIMEOUT_US;
	m->retries = 0;
	m->flags = 0;
	for (unsigned i = 0; i < m->nprops; i++) {
		const struct fr_prop *p = &m->props[i];
		size_t k;
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (!strcmp(known[k].name, p->name))
				break;
		if (k == sizeof(known) / sizeof(known[0])) {
			fr_error(d, p->loc, "unknown transport property '%s' (expected lossy, "
				 "reliable or inorder)", p->name);
			continue;
		}
		const struct fr_prop **slot = k == 0 ? &lossy : k == 1 ? &reliable : &inorder;
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
		if (!strcmp(strategy, "hold-forever") && !reliable)
			fr_error(d, inorder->loc, "inorder(strategy=\"hold-forever\") needs "
				 "reliable: without retransmission one lost message stalls "
				 "the stream forever");
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
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(svc->methods[j].name, m->name)) {
				fr_error(d, m->loc, "duplicate method '%s'", m->name);
				break;
			}

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
			else if (r->nargs)
				fr_error(d, r->loc, "element '%s' takes no arguments", r->name);
			for (unsigned k = 0; k < j; k++)
				if (!strcmp(m->chain[k].name, r->name)) {
					fr_error(d, r->loc, "element '%s' appears twice in the chain",
						 r->name);
					break;
				}
		}
		check_transport(d, m);
	}

	/* per-method pass: field-dependent checks and error numbering, in
	 * method, chain and body order */
	for (unsigned i = 0; i < svc->nmethods; i++) {
		struct fr_method *m = &svc->methods[i];
		for (unsigned j = 0; j < m->nchain; j++) {
			if (!m->chain[j].elem)
				continue;
			check_handler(c, m->chain[j].elem, H_REQ, m);
			check_handler(c, m->chain[j].elem, H_RESP, m);
		}
	}
}

void fr_check(struct fr_spec *spec, struct fr_diag *d)
{
	struct ck c = { .spec = spec, .d = d };

	for (unsigned i = 0; i < spec->nelems; i++) {
		struct fr_element *el = spec->elems[i];
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(spec->elems[j]->name, el->name)) {
				fr_error(d, el->loc, "duplicate element '%s'", el->name);
				break;
			}
		check_element(&c, el);
	}
	if (!spec->svc) {
		struct fr_loc loc = { spec->srcs, 1, 1 };
		fr_error(d, loc, "no service defined (expected `service NAME:`)");
		return;
	}
	check_service(&c, spec->svc);
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* check_stmt.c - statements, the names they bind and their scopes, and
 * the paths through a handler, which must end in send() or pass. */
#include <string.h>

#include "builtins.h"
#include "check.h"

static void check_block(struct ck *c, const struct fr_block *b);

static void check_send(struct ck *c, const struct fr_stmt *s)
{
	const struct fr_expr *e = s->e;

	if (c->hk == H_INIT) {
		ck_err(c, 0, s->loc, "send() is not allowed in init()");
		return;
	}
	if (e->nargs != 2) {
		ck_err(c, 0, e->loc, "send() takes 2 arguments: the message and Down or Up");
		return;
	}
	const struct fr_expr *what = e->args[0], *dir = e->args[1];
	int up;
	if (dir->kind == E_NAME && !strcmp(dir->s, "Up")) {
		up = 1;
	} else if (dir->kind == E_NAME && !strcmp(dir->s, "Down")) {
		up = 0;
	} else {
		ck_err(c, 0, dir->loc, "the direction of send() must be Down or Up");
		return;
	}
	if (ck_is_param(c, what)) {
		if (c->hk == H_REQ && up)
			ck_err(c, 0, s->loc, "send(%s, Up) in req() would answer from the "
			       "network; only send(err('...'), Up) can", what->s);
		if (c->hk == H_RESP && !up)
			ck_err(c, 0, s->loc, "send(%s, Down) in resp() sends a response back "
			       "to the server; use send(%s, Up)", what->s, what->s);
		return;
	}
	if (what->kind == E_CALL && !strcmp(what->s, "err")) {
		if (what->nargs != 1 || what->args[0]->kind != E_STR || !what->args[0]->slen) {
			ck_err(c, 0, what->loc, "err() takes one non-empty quoted message");
			return;
		}
		/* messages are C strings from here on: a NUL would cut one short and
		 * merge it with another */
		if (memchr(what->args[0]->s, 0, what->args[0]->slen)) {
			ck_err(c, 0, what->args[0]->loc, "an err() message cannot contain \\0");
			return;
		}
		if (!up)
			ck_err(c, 0, dir->loc, "an error goes back to the caller: use Up");
		if (c->m) {
			ck_add_error_code(c->spec, c->d, what->args[0]->s, what->loc);
			((struct fr_stmt *)s)->err_code = fr_spec_error_code(c->spec,
									     what->args[0]->s);
		}
		return;
	}
	ck_err(c, 0, what->loc, "send() sends the message (%s) or err('...')",
	       c->h->param ? c->h->param : "rpc");
}

/* set(rpc, 'field', value): a rewrite in place, so only fields with a
 * fixed slot; a string only from a constant, which zero-pads exactly. */
static void check_set_field(struct ck *c, const struct fr_stmt *s)
{
	const struct fr_expr *e = s->e;
	char a[64], b[64];

	if (e->nargs != 3) {
		ck_err(c, 0, e->loc, "set(%s, 'field', value) takes 3 arguments", e->args[0]->s);
		return;
	}
	const struct fr_expr *k = e->args[1], *v = e->args[2];
	if (k->kind != E_STR) {
		ck_err(c, 0, k->loc, "the field in set(%s, 'field', value) must be a quoted name",
		       e->args[0]->s);
		return;
	}
	struct vty vt = ck_expr(c, v);
	if (!c->m) {
		/* a written field needs a fixed slot just like a read one */
		ck_note_read(c, k);
		return;
	}
	const struct fr_field *f = ck_field(c->fields, k->s);
	if (!f) {
		ck_err(c, 1, k->loc, "unknown field '%s' in the %s of method '%s' (element '%s')",
		       k->s, c->hk == H_REQ ? "request" : "response", c->m->name, c->el->name);
		return;
	}
	if (f->type.kind == TY_BYTES) {
		ck_err(c, 1, k->loc, "element '%s' rewrites bytes field '%s' of method '%s'; "
		       "ANFs can rewrite integers, bool and string<N> only", c->el->name,
		       f->name, c->m->name);
		return;
	}
	if (f->type.kind == TY_STRING) {
		if (v->kind != E_STR)
			ck_err(c, 1, v->loc, "string field '%s' can only be set from a string "
			       "constant", f->name);
		else if (v->slen > f->type.n)
			ck_err(c, 1, v->loc, "'%.*s' is %zu bytes, longer than field '%s' (%s)",
			       (int)v->slen, v->s, v->slen, f->name,
			       fr_type_str(&f->type, b, sizeof(b)));
		return;
	}
	if (!ck_compatible(&f->type, &vt))
		ck_err(c, 1, v->loc, "value of type %s does not match the type %s of field '%s'",
		       ck_vty_str(&vt, a, sizeof(a)), fr_type_str(&f->type, b, sizeof(b)), f->name);
}

/* set(m, key, (x, y)) on a map whose values are tuples */
static void check_set_tuple(struct ck *c, const struct fr_state *st, const struct fr_expr *k,
			    const struct fr_expr *v)
{
	const struct fr_type *tt = st->type.val;
	struct vty kt = ck_expr(c, k);
	char a[64], b[64];

	ck_key(c, st, k, &kt);
	if (v->kind != E_TUPLE || v->nargs != tt->n) {
		ck_err(c, 0, v->loc, "map '%s' holds tuples %s: store one, as in set(%s, key, "
		       "(x, y))", st->name, fr_type_str(tt, b, sizeof(b)), st->name);
		return;
	}
	for (unsigned i = 0; i < v->nargs; i++) {
		struct vty et = ck_expr(c, v->args[i]);
		if (c->hk == H_INIT && !et.lit)
			ck_err(c, 0, v->args[i]->loc, "init() runs at load time: keys and values "
			       "must be constants");
		else if (!ck_compatible(&tt->elems[i], &et))
			ck_err(c, (!et.lit && v->args[i]->kind != E_NAME) ||
			       ck_depends(c, v->args[i]), v->args[i]->loc,
			       "element %u of the tuple is %s, not %s", i + 1,
			       fr_type_str(&tt->elems[i], b, sizeof(b)),
			       ck_vty_str(&et, a, sizeof(a)));
	}
	if (c->hk == H_INIT && !kt.lit)
		ck_err(c, 0, k->loc, "init() runs at load time: keys and values must be constants");
}

static void check_set(struct ck *c, const struct fr_stmt *s)
{
	const struct fr_expr *e = s->e;
	char a[64], b[64];

	if (e->nargs >= 1 && ck_is_param(c, e->args[0])) {
		check_set_field(c, s);
		return;
	}

	if (e->nargs == 2 && e->args[0]->kind == E_NAME) {
		struct fr_state *sc = ck_state_of(c, e->args[0]);
		if (sc && sc->type.kind == TY_VEC) {
			ck_err(c, 0, e->loc, "set() on Vec '%s' takes an index: set(%s, i, value); "
			       "push(%s, value) appends", sc->name, sc->name, sc->name);
			return;
		}
		if (sc && sc->type.kind != TY_MAP) {
			const struct fr_expr *v = e->args[1];
			struct vty vt = ck_expr(c, v);
			if (c->hk == H_INIT && !vt.lit)
				ck_err(c, 0, v->loc, "init() runs at load time: values must be "
				       "constants");
			else if (!ck_compatible(&sc->type, &vt))
				ck_err(c, ck_depends(c, v), v->loc, "value of type %s does not match "
				       "the type %s of state '%s'", ck_vty_str(&vt, a, sizeof(a)),
				       fr_type_str(&sc->type, b, sizeof(b)), sc->name);
			return;
		}
	}
	if (e->nargs != 3) {
		ck_err(c, 0, e->loc, "set() takes 3 arguments: map, key, value (or 2: "
		       "scalar state, value)");
		return;
	}
	const struct fr_expr *m = e->args[0], *k = e->args[1], *v = e->args[2];
	struct fr_state *st = ck_state_of(c, m);
	if (st && st->type.kind == TY_MAP && st->type.val->kind == TY_TUPLE) {
		check_set_tuple(c, st, k, v);
		return;
	}
	struct vty kt = ck_expr(c, k), vt = ck_expr(c, v);
	if (!st) {
		if (m->kind == E_NAME)
			ck_err(c, 0, m->loc, "unknown state '%s' in element '%s'", m->s,
			       c->el->name);
		else
			ck_err(c, 0, m->loc, "the first argument of set() must be a state map");
		return;
	}
	if (c->hk == H_INIT && (!kt.lit || !vt.lit)) {
		ck_err(c, 0, !kt.lit ? k->loc : v->loc,
		       "init() runs at load time: keys and values must be constants");
		return;
	}
	if (st->type.kind == TY_VEC) {
		if (!kt.option && kt.t.kind != TY_NONE && !ck_is_int(&kt))
			ck_err(c, ck_depends(c, k), k->loc, "the index into Vec '%s' must be an "
			       "integer, not %s", st->name, ck_vty_str(&kt, a, sizeof(a)));
		else if (kt.lit && kt.ival >= st->type.n)
			ck_err(c, 0, k->loc, "index %llu is past the end of Vec '%s' (%s)",
			       (unsigned long long)kt.ival, st->name,
			       fr_type_str(&st->type, a, sizeof(a)));
		if (!ck_compatible(st->type.val, &vt))
			ck_err(c, (!vt.lit && v->kind != E_NAME) || ck_depends(c, v), v->loc,
			       "value of type %s does not match the element type %s of Vec '%s'",
			       ck_vty_str(&vt, a, sizeof(a)), fr_type_str(st->type.val, b, sizeof(b)),
			       st->name);
		return;
	}
	if (st->type.kind != TY_MAP) {
		ck_err(c, 0, m->loc, "state '%s' is a %s, not a map: write set(%s, value)",
		       st->name, fr_type_str(&st->type, a, sizeof(a)), st->name);
		return;
	}
	ck_key(c, st, k, &kt);
	if (!ck_compatible(st->type.val, &vt))
		ck_err(c, (!vt.lit && v->kind != E_NAME) || ck_depends(c, v), v->loc,
		       "value of type %s does not match the value type %s of map '%s'",
		       ck_vty_str(&vt, a, sizeof(a)), fr_type_str(st->type.val, b, sizeof(b)),
		       st->name);
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
			ck_err(c, 0, arm->loc, "unreachable arm: the catch-all '_' on line %d "
			       "matches everything first", wild->loc.line);
			continue;
		}
		if (some && none) {
			ck_err(c, 0, arm->loc, "unreachable arm: Some and None on lines %d and %d "
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
					ck_err(c, 0, arm->loc, "unreachable arm: this constant is "
					       "already matched on line %d", o->loc.line);
					break;
				}
			}
			break;
		}
	}
}

/* A new name in scope, numbered; the caller has checked there is room. */
static struct ck_bind *new_bind(struct ck *c, const char *name, struct fr_loc loc)
{
	struct ck_bind *bd = &c->binds[c->nbinds++];

	memset(bd, 0, sizeof(*bd));
	bd->name = name;
	bd->id = ++c->nids;
	bd->loc = loc;
	return bd;
}

/* Some((a, b)) of a tuple-valued map: one read-only name per element */
static int bind_tuple(struct ck *c, const struct fr_arm *arm, const struct vty *t)
{
	char b[64];
	int n = 0;

	if (t->t.kind == TY_NONE)
		;	/* unknown: bind the names untyped below */
	else if (t->t.kind != TY_TUPLE) {
		ck_err(c, 0, arm->loc, "Some((...)) takes a tuple apart; the value here is %s: "
		       "write Some(x)", fr_type_str(&t->t, b, sizeof(b)));
		return 0;
	} else if (!arm->nbinds) {
		ck_err(c, 0, arm->loc, "the value is a tuple %s: take it apart with Some((%s))",
		       fr_type_str(&t->t, b, sizeof(b)), t->t.n == 2 ? "a, b" : "a, b, ...");
		return 0;
	} else if (arm->nbinds != t->t.n) {
		ck_err(c, 0, arm->loc, "Some((...)) names %u values, but the tuple %s has %u",
		       arm->nbinds, fr_type_str(&t->t, b, sizeof(b)), t->t.n);
		return 0;
	}
	for (unsigned i = 0; i < arm->nbinds; i++) {
		if (c->nbinds == MAX_BINDS) {
			ck_err(c, 0, arm->loc, "too many nested bindings");
			break;
		}
		struct ck_bind *bd = new_bind(c, arm->binds[i], arm->loc);
		if (t->t.kind == TY_TUPLE)
			bd->t.t = t->t.elems[i];
		ck_ids(c, &arm->bind_ids, arm->nbinds)[i] = bd->id;
		n++;
	}
	return n;
}

static void check_match(struct ck *c, const struct fr_stmt *s)
{
	struct vty t = ck_expr(c, s->e);
	int seen_some = 0, seen_none = 0;
	char b[64];

	if (c->hk == H_INIT)
		ck_err(c, 0, s->loc, "init() can only set(map, constant, constant)");
	check_arms_reachable(c, s);
	for (unsigned i = 0; i < s->narms; i++) {
		const struct fr_arm *arm = &s->arms[i];
		int pushed = 0;
		switch (arm->kind) {
		case A_SOME:
		case A_NONE:
			if (t.t.kind != TY_NONE && !t.option)
				ck_err(c, 0, arm->loc, "%s matches the result of get(map, key), "
				       "not a %s", arm->kind == A_SOME ? "Some(...)" : "None",
				       ck_vty_str(&t, b, sizeof(b)));
			if ((*(arm->kind == A_SOME ? &seen_some : &seen_none))++)
				ck_err(c, 0, arm->loc, "duplicate %s arm",
				       arm->kind == A_SOME ? "Some" : "None");
			if (arm->kind == A_SOME && (arm->nbinds || t.t.kind == TY_TUPLE)) {
				pushed = bind_tuple(c, arm, &t);
				break;
			}
			if (arm->kind == A_SOME) {
				if (c->nbinds == MAX_BINDS) {
					ck_err(c, 0, arm->loc, "too many nested bindings");
					break;
				}
				struct ck_bind *bd = new_bind(c, arm->bind, arm->loc);
				bd->t = t;
				bd->t.option = 0;
				((struct fr_arm *)arm)->bind_id = bd->id;
				pushed = 1;
			}
			break;
		case A_CONST: {
			struct vty at = ck_expr(c, arm->value);
			if (t.option)
				ck_err(c, 0, arm->loc, "get() gives Some(x) or None; match x "
				       "against constants inside Some(x)");
			else if (!ck_compatible(&t.t, &at))
				ck_err(c, (!t.lit && s->e->kind == E_CALL) || ck_depends(c, s->e), arm->loc,
				       "constant does not fit the matched value of type %s",
				       ck_vty_str(&t, b, sizeof(b)));
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
		ck_err(c, 0, s->loc, "forward() sends a request on to another host: it belongs "
		       "in req()");
		return;
	}
	c->el->forwards = 1;
	if (c->m && c->side == FR_CLIENT)
		ck_err(c, 1, s->loc, "forward() cannot run in a client: chain of method '%s': "
		       "client: elements run on the sending host before the request is sent, "
		       "where it has no route to change; put '%s' in the server: chain",
		       c->m->name, c->el->name);
	if (e->nargs != 2 || !ck_is_param(c, e->args[0])) {
		ck_err(c, 0, e->loc, "forward() takes the message and an IPv4 address: "
		       "forward(%s, ip)", c->h->param ? c->h->param : "rpc");
		return;
	}
	struct vty vt = ck_expr(c, e->args[1]);
	static const struct fr_type u32 = { .kind = TY_U32 };
	if (!ck_compatible(&u32, &vt))
		ck_err(c, ck_depends(c, e->args[1]) || e->args[1]->kind == E_CALL, e->args[1]->loc,
		       "the address in forward() is an IPv4 address, a u32 (0x0a000002 is "
		       "10.0.0.2), not %s", ck_vty_str(&vt, a, sizeof(a)));
}

/* push(v, value): appends; a full Vec stays as it is */
static void check_push(struct ck *c, const struct fr_stmt *s)
{
	const struct fr_expr *e = s->e;
	char a[64], b[64];

	if (c->hk == H_INIT) {
		ck_err(c, 0, s->loc, "init() fills a Vec with set(v, i, value); push() belongs "
		       "in req() or resp()");
		return;
	}
	if (e->nargs != 2) {
		ck_err(c, 0, e->loc, "push() takes 2 arguments: a Vec and a value");
		return;
	}
	struct fr_state *st = ck_vec_arg(c, e->args[0], "push()");
	struct vty vt = ck_expr(c, e->args[1]);
	if (st && !ck_compatible(st->type.val, &vt))
		ck_err(c, (!vt.lit && e->args[1]->kind != E_NAME) || ck_depends(c, e->args[1]),
		       e->args[1]->loc, "value of type %s does not match the element type %s of "
		       "Vec '%s'", ck_vty_str(&vt, a, sizeof(a)),
		       fr_type_str(st->type.val, b, sizeof(b)), st->name);
}

static void check_block(struct ck *c, const struct fr_block *b);

/* foreach x in v: the body is copied once per slot of v */
static void check_foreach(struct ck *c, const struct fr_stmt *s)
{
	if (c->hk == H_INIT) {
		ck_err(c, 0, s->loc, "init() can only set(...) state; foreach belongs in req() "
		       "or resp()");
		return;
	}
	if (c->in_foreach) {
		ck_err(c, 0, s->loc, "foreach inside foreach would copy the inner body N x M "
		       "times; iterate over one Vec at a time");
		return;
	}
	struct fr_state *st = ck_vec_arg(c, s->e, "foreach");
	if (c->nbinds == MAX_BINDS) {
		ck_err(c, 0, s->loc, "more than %d names in scope", MAX_BINDS);
		return;
	}
	struct ck_bind *bd = new_bind(c, s->names[0], s->loc);
	if (st)
		bd->t.t = *st->type.val;
	bd->each = 1;
	ck_ids(c, &s->bind_ids, 1)[0] = bd->id;
	c->in_foreach = 1;
	check_block(c, &s->body);
	c->in_foreach = 0;
	c->nbinds--;
}

/* delete(map, key) */
static void check_delete(struct ck *c, const struct fr_stmt *s)
{
	const struct fr_expr *e = s->e;
	char a[64];

	if (c->hk == H_INIT) {
		ck_err(c, 0, s->loc, "init() can only set(...) state; delete() belongs in "
		       "req() or resp()");
		return;
	}
	if (e->nargs != 2) {
		ck_err(c, 0, e->loc, "delete() takes 2 arguments: a map and a key");
		return;
	}
	const struct fr_expr *m = e->args[0], *k = e->args[1];
	struct fr_state *st = ck_state_of(c, m);
	struct vty kt = ck_expr(c, k);
	if (!st) {
		if (m->kind == E_NAME)
			ck_err(c, 0, m->loc, "unknown state '%s' in element '%s'", m->s,
			       c->el->name);
		else
			ck_err(c, 0, m->loc, "the first argument of delete() must be a state map");
		return;
	}
	if (st->type.kind != TY_MAP) {
		ck_err(c, 0, m->loc, "delete() removes a map entry; state '%s' is a %s",
		       st->name, fr_type_str(&st->type, a, sizeof(a)));
		return;
	}
	ck_key(c, st, k, &kt);
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
		ck_err(c, 0, s->loc, "init() runs at load time and can only set(...) state; "
		       "assignments belong in req() or resp()");
		return;
	}
	if (n > MAX_BINDS) {
		ck_err(c, 0, s->loc, "more than %d names on the left", MAX_BINDS);
		return;
	}
	if (n > 1 && (s->e->kind != E_TUPLE || s->e->nargs != n)) {
		ck_err(c, 0, s->e->loc, "%u names on the left need a tuple of %u values on the "
		       "right, as in (a, b) = (x, y)", n, n);
		return;
	}
	if (n == 1 && s->e->kind == E_TUPLE) {
		ck_err(c, 0, s->e->loc, "a tuple of %u values cannot go into one name; write "
		       "(a, b) = ... to take it apart", s->e->nargs);
		return;
	}
	/* every value is read before any name is written: (a, b) = (b, a) swaps */
	for (unsigned i = 0; i < n; i++) {
		const struct fr_expr *e = n > 1 ? s->e->args[i] : s->e;
		v[i] = ck_expr(c, e);
		dep[i] = ck_depends(c, e);
		if (v[i].option) {
			ck_err(c, 0, e->loc, "get(map, key) gives Some(x) or None; match it "
			       "instead of assigning it");
			v[i].t.kind = TY_NONE;
			v[i].option = 0;
		} else if (v[i].t.kind != TY_NONE && !fr_type_is_fixed_int(v[i].t.kind)) {
			ck_err(c, dep[i], e->loc, "a local holds an integer or bool, not %s",
			       ck_vty_str(&v[i], a, sizeof(a)));
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
			ck_err(c, 0, loc, "'%s' appears twice on the left", name);
			continue;
		}
		if (c->h->param && !strcmp(name, c->h->param)) {
			ck_err(c, 0, loc, "'%s' is the message and cannot be assigned; rewrite a "
			       "field with set(%s, 'field', value)", name, name);
			continue;
		}
		struct fr_state *st = ck_state(c->el, name);
		if (st) {
			ck_err(c, 0, loc, "'%s' is a state of element '%s'; change it with "
			       "set(%s, ...)", name, c->el->name, name);
			continue;
		}
		if (fr_elem_param(c->el, name)) {
			ck_err(c, 0, loc, "'%s' is an argument of element '%s', a constant; copy "
			       "it into a new name to change it", name, c->el->name);
			continue;
		}
		if (strchr(name, '-')) {
			ck_err(c, 0, loc, "a local name cannot contain '-' ('%s'); use '_'", name);
			continue;
		}
		if (ck_c_reserved(name) || !strcmp(name, "Up") || !strcmp(name, "Down")) {
			ck_err(c, 0, loc, "'%s' is a reserved word and cannot be a local", name);
			continue;
		}
		int k = find_bind(c, name);
		if (k >= 0 && c->binds[k].each) {
			ck_err(c, 0, loc, "'%s' is bound by foreach on line %d and cannot be "
			       "assigned; change the Vec with set(v, i, value)", name,
			       c->binds[k].loc.line);
			continue;
		}
		if (k >= 0 && !c->binds[k].local) {
			ck_err(c, 0, loc, "'%s' is bound by Some(%s) on line %d and cannot be "
			       "assigned; copy it into a new name", name, name,
			       c->binds[k].loc.line);
			continue;
		}
		if (k >= 0) {
			struct vty want = c->binds[k].t;
			ck_ids(c, &s->bind_ids, n)[i] = c->binds[k].id;
			if (v[i].t.kind != TY_NONE && want.t.kind != TY_NONE &&
			    !ck_compatible(&want.t, &v[i]))
				ck_err(c, dep[i] || c->binds[k].dep, e->loc, "'%s' is %s (from line "
				       "%d); a value of type %s does not fit", name,
				       fr_type_str(&want.t, a, sizeof(a)), c->binds[k].loc.line,
				       ck_vty_str(&v[i], b, sizeof(b)));
			continue;
		}
		if (c->nbinds == MAX_BINDS) {
			ck_err(c, 0, loc, "more than %d names in scope", MAX_BINDS);
			continue;
		}
		struct vty t = v[i];
		t.lit = 0;	/* a constant gives the local its widest type */
		struct ck_bind *bd = new_bind(c, name, loc);
		bd->t = t;
		bd->local = 1;
		bd->dep = dep[i];
		ck_ids(c, &s->bind_ids, n)[i] = bd->id;
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
				ck_err(c, 0, s->loc, "pass is not allowed in init()");
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
			ck_expr(c, s->e);
			/* randomf() alone was refused above; size() alone passes, as before */
			const struct fr_builtin *bi = fr_builtin_find(s->e->s);
			if (bi && bi->form != FR_BI_SIZE && bi->form != FR_BI_RANDOMF)
				ck_err(c, 0, s->loc, "the result of %s() is unused", s->e->s);
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
			ck_err(c, 0, s->loc, "unreachable statement: the path already ended "
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

void ck_paths(struct ck *c, struct fr_element *el, const char *hname,
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

void ck_handler(struct ck *c, struct fr_element *el, enum hkind hk,
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
	c->nids = 0;
	c->in_foreach = 0;
	c->ngone = 0;
	check_block(c, &h->body);
}

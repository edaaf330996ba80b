/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* check_types.c - the checker's types and values, C names, lookups, and
 * the rule for which pass reports an error (check.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flatrpc_abi.h"

/* Names that become C identifiers in the generated code must compile. */
int ck_c_reserved(const char *name)
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

int ck_same_cname(const char *a, const char *b, int fold)
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

void ck_name(struct fr_diag *d, struct fr_loc loc, const char *what, const char *name)
{
	if (strlen(name) > FR_MAX_NAME)
		fr_error(d, loc, "%s name '%.*s...' is longer than %d characters", what,
			 FR_MAX_NAME, name, FR_MAX_NAME);
}

void ck_err(struct ck *c, int needs_method, struct fr_loc loc, const char *fmt, ...)
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

const char *ck_vty_str(const struct vty *v, char *buf, size_t n)
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

void ck_add_error_code(struct fr_spec *spec, struct fr_diag *d, const char *msg,
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
int ck_compatible(const struct fr_type *want, const struct vty *v)
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

const struct fr_field *ck_field(const struct fr_fields *fs, const char *name)
{
	for (unsigned i = 0; fs && i < fs->n; i++)
		if (!strcmp(fs->v[i].name, name))
			return &fs->v[i];
	return NULL;
}

/* The checker writes what it resolves into the nodes it reads: they are
 * the spec's, in its arena, const only to the walk. */
struct fr_expr *ck_ir(const struct fr_expr *e)
{
	return (struct fr_expr *)e;
}

unsigned *ck_ids(struct ck *c, unsigned *const *ids, unsigned n)
{
	unsigned **p = (unsigned **)ids;

	if (!*p)
		*p = fr_arena_alloc(&c->spec->arena, (n ? n : 1) * sizeof(**p));
	return *p;
}

struct fr_state *ck_state_of(struct ck *c, const struct fr_expr *e)
{
	return ck_ir(e)->st = e->kind == E_NAME ? ck_state(c->el, e->s) : NULL;
}

struct fr_state *ck_state(struct fr_element *el, const char *name)
{
	for (unsigned i = 0; i < el->nstates; i++)
		if (!strcmp(el->states[i].name, name))
			return &el->states[i];
	return NULL;
}

const struct fr_eparam *fr_elem_param(const struct fr_element *el, const char *name)
{
	for (unsigned i = 0; i < el->nparams; i++)
		if (!strcmp(el->params[i].name, name))
			return &el->params[i];
	return NULL;
}

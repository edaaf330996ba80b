/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * parser.c - recursive descent from tokens to the AST.
 *
 * Recovery is per line: a syntax error unwinds (longjmp) to the innermost
 * loop over lines, which skips the rest of the offending line and any block
 * hanging off it, then goes on. So one bad line yields one message, and the
 * lines after it are still checked.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

struct parser {
	struct fr_spec *spec;
	struct fr_diag *d;
	const struct fr_src *src;
	struct fr_toks toks;
	size_t i;
	jmp_buf *recover;
	int follow_imports;
	int depth;			/* expression nesting, bounded */
};

/* Every later stage recurses over expressions; a bound here keeps a
 * pathological input from exhausting the stack anywhere. */
#define MAX_EXPR_DEPTH 32

#define GROW(p, arr, n, cap)							\
	do {									\
		if ((n) == (cap)) {						\
			unsigned nc_ = (cap) ? (cap) * 2 : 4;			\
			void *nv_ = fr_arena_alloc(&(p)->spec->arena,		\
						   nc_ * sizeof(*(arr)));	\
			if (n)							\
				memcpy(nv_, (arr), (n) * sizeof(*(arr)));	\
			(arr) = nv_;						\
			(cap) = nc_;						\
		}								\
	} while (0)

static const struct fr_tok *cur(struct parser *p)
{
	return &p->toks.v[p->i];
}

static const struct fr_tok *next(struct parser *p)
{
	const struct fr_tok *t = &p->toks.v[p->i];
	if (t->kind != T_EOF)
		p->i++;
	return t;
}

static int at(struct parser *p, enum fr_tok_kind k)
{
	return cur(p)->kind == k;
}

static int at_word(struct parser *p, const char *w)
{
	return at(p, T_IDENT) && !strcmp(cur(p)->text, w);
}

static void describe(const struct fr_tok *t, char *buf, size_t n)
{
	if (t->kind == T_IDENT)
		snprintf(buf, n, "'%s'", t->text);
	else if (t->kind == T_INT || t->kind == T_FLOAT)
		snprintf(buf, n, "'%.*s'", (int)t->len, t->text);
	else if (t->kind == T_STRING)
		snprintf(buf, n, "string '%s'", t->text);
	else
		snprintf(buf, n, "%s", fr_tok_name(t->kind));
}

static _Noreturn void fail(struct parser *p, struct fr_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static _Noreturn void fail(struct parser *p, struct fr_loc loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fr_verror(p->d, loc, fmt, ap);
	va_end(ap);
	longjmp(*p->recover, 1);
}

static _Noreturn void fail_expected(struct parser *p, const char *what)
{
	char got[128];

	/* an error token was reported by the lexer already: do not pile on */
	if (at(p, T_ERROR)) {
		longjmp(*p->recover, 1);
	}
	describe(cur(p), got, sizeof(got));
	fail(p, cur(p)->loc, "expected %s, found %s", what, got);
}

static const struct fr_tok *expect(struct parser *p, enum fr_tok_kind k, const char *what)
{
	if (!at(p, k))
		fail_expected(p, what ? what : fr_tok_name(k));
	return next(p);
}

static void skip_block(struct parser *p)
{
	int depth = 0;

	do {
		if (at(p, T_INDENT))
			depth++;
		else if (at(p, T_DEDENT))
			depth--;
		else if (at(p, T_EOF))
			return;
		next(p);
	} while (depth > 0);
}

/* After an error: drop the rest of the line and the block it opens, but
 * never a DEDENT, which belongs to the enclosing construct. */
static void sync(struct parser *p)
{
	if (at(p, T_INDENT)) {
		skip_block(p);
		return;
	}
	while (!at(p, T_NEWLINE) && !at(p, T_EOF) && !at(p, T_DEDENT))
		next(p);
	if (at(p, T_NEWLINE)) {
		next(p);
		if (at(p, T_INDENT))
			skip_block(p);
	}
}

/* Runs the body of a loop over lines with recovery. */
#define RECOVER_LOOP(p, cond, body)						\
	do {									\
		jmp_buf jb_, *saved_ = (p)->recover;				\
		while (cond) {							\
			(p)->recover = &jb_;					\
			if (setjmp(jb_)) {					\
				(p)->recover = saved_;				\
				(p)->depth = 0;					\
				sync(p);					\
				continue;					\
			}							\
			body;							\
		}								\
		(p)->recover = saved_;						\
	} while (0)

/* ':' NEWLINE INDENT, for a header that opens a block. Returns 0 when the
 * block is empty (no INDENT follows), which some headers allow. */
static int open_block(struct parser *p, int may_be_empty)
{
	expect(p, T_COLON, "':'");
	expect(p, T_NEWLINE, "end of line after ':'");
	if (!at(p, T_INDENT)) {
		if (may_be_empty)
			return 0;
		fail(p, cur(p)->loc, "expected an indented block");
	}
	next(p);
	return 1;
}

static void close_block(struct parser *p)
{
	if (at(p, T_DEDENT))
		next(p);
}

/* ---- types ------------------------------------------------------------------ */

static const struct { const char *name; enum fr_type_kind k; } scalar_types[] = {
	{ "u8", TY_U8 }, { "u16", TY_U16 }, { "u32", TY_U32 }, { "u64", TY_U64 },
	{ "i64", TY_I64 }, { "bool", TY_BOOL },
};

#define FR_MAX_FIELD_BYTES 4096
/* bytes<N> is never read by an ANF, so BPF never touches it; its bound is
 * the le16 length prefix, and big bodies travel in fragments. */
#define FR_MAX_BYTES_FIELD 65535

#define FR_MAX_TUPLE 8

static void parse_type(struct parser *p, struct fr_type *t);

/* (T, T, ...): a map value of several integers, stored as one */
static void parse_tuple_type(struct parser *p, struct fr_type *t)
{
	struct fr_type el[FR_MAX_TUPLE];

	t->kind = TY_TUPLE;
	t->loc = next(p)->loc;
	for (;;) {
		if (t->n == FR_MAX_TUPLE)
			fail(p, cur(p)->loc, "a tuple has at most %d elements", FR_MAX_TUPLE);
		parse_type(p, &el[t->n++]);
		if (!at(p, T_COMMA))
			break;
		next(p);
	}
	expect(p, T_RPAREN, "',' or ')'");
	if (t->n < 2)
		fail(p, t->loc, "a tuple type has at least 2 elements");
	t->elems = fr_arena_alloc(&p->spec->arena, t->n * sizeof(*t->elems));
	memcpy(t->elems, el, t->n * sizeof(*t->elems));
}

static void parse_type(struct parser *p, struct fr_type *t)
{
	if (at(p, T_LPAREN)) {
		memset(t, 0, sizeof(*t));
		parse_tuple_type(p, t);
		return;
	}
	const struct fr_tok *id = expect(p, T_IDENT, "a type");

	memset(t, 0, sizeof(*t));
	t->loc = id->loc;
	for (size_t i = 0; i < sizeof(scalar_types) / sizeof(scalar_types[0]); i++) {
		if (!strcmp(id->text, scalar_types[i].name)) {
			t->kind = scalar_types[i].k;
			return;
		}
	}
	if (!strcmp(id->text, "string") || !strcmp(id->text, "bytes")) {
		t->kind = id->text[0] == 's' ? TY_STRING : TY_BYTES;
		if (!at(p, T_LT))
			fail(p, id->loc, "%s without a length bound: BPF cannot execute code "
			     "over data of unbounded size; write %s<N> with N in 1..%d",
			     id->text, id->text, FR_MAX_FIELD_BYTES);
		next(p);
		const struct fr_tok *n = expect(p, T_INT, "a length");
		int lim = t->kind == TY_BYTES ? FR_MAX_BYTES_FIELD : FR_MAX_FIELD_BYTES;
		if (n->ival == 0 || n->ival > (unsigned long long)lim) {
			fr_error(p->d, n->loc, "length of %s must be 1..%d, not %llu",
				 id->text, lim, (unsigned long long)n->ival);
			t->n = 1;
		} else {
			t->n = (unsigned)n->ival;
		}
		expect(p, T_GT, "'>'");
		return;
	}
	if (!strcmp(id->text, "Vec")) {
		t->kind = TY_VEC;
		t->val = fr_arena_alloc(&p->spec->arena, sizeof(*t->val));
		expect(p, T_LT, "'<' after Vec");
		parse_type(p, t->val);
		if (!at(p, T_COMMA))
			fail(p, cur(p)->loc, "Vec without a bound: BPF cannot execute iteration "
			     "without a constant bound; write Vec<T, N> with N in 1..%d",
			     FR_MAX_VEC);
		next(p);
		const struct fr_tok *n = expect(p, T_INT, "the bound N of Vec<T, N>");
		if (n->ival == 0 || n->ival > FR_MAX_VEC) {
			fr_error(p->d, n->loc, "the bound of a Vec must be 1..%d (foreach copies "
				 "its body N times), not %llu", FR_MAX_VEC,
				 (unsigned long long)n->ival);
			t->n = 1;
		} else {
			t->n = (unsigned)n->ival;
		}
		expect(p, T_GT, "'>'");
		return;
	}
	if (!strcmp(id->text, "Map")) {
		t->kind = TY_MAP;
		t->key = fr_arena_alloc(&p->spec->arena, sizeof(*t->key));
		t->val = fr_arena_alloc(&p->spec->arena, sizeof(*t->val));
		expect(p, T_LT, "'<' after Map");
		parse_type(p, t->key);
		expect(p, T_COMMA, "',' between the key and value types");
		parse_type(p, t->val);
		expect(p, T_GT, "'>'");
		return;
	}
	fail(p, id->loc, "unknown type '%s' (expected u8, u16, u32, u64, i64, bool, "
	     "string<N>, bytes<N>, Map<K, V> or Vec<T, N>)", id->text);
}

static void parse_fields(struct parser *p, struct fr_fields *fs, int is_meta)
{
	if (!open_block(p, 1))
		return;
	RECOVER_LOOP(p, !at(p, T_DEDENT) && !at(p, T_EOF), {
		const struct fr_tok *name = expect(p, T_IDENT, "a field name");
		expect(p, T_COLON, "':' after the field name");
		struct fr_type ty;
		parse_type(p, &ty);
		expect(p, T_NEWLINE, "end of line after the field type");
		GROW(p, fs->v, fs->n, fs->cap);
		struct fr_field *f = &fs->v[fs->n++];
		f->name = name->text;
		f->loc = name->loc;
		f->type = ty;
		f->is_meta = is_meta;
	});
	close_block(p);
}

/* ---- expressions and statements ---------------------------------------------- */

static struct fr_expr *new_expr(struct parser *p, enum fr_expr_kind k, struct fr_loc loc)
{
	struct fr_expr *e = fr_arena_alloc(&p->spec->arena, sizeof(*e));
	e->kind = k;
	e->loc = loc;
	return e;
}

static struct fr_expr *parse_expr(struct parser *p);

static void parse_args(struct parser *p, struct fr_expr ***args, unsigned *nargs)
{
	unsigned cap = 0;

	expect(p, T_LPAREN, "'('");
	*args = NULL;
	*nargs = 0;
	if (!at(p, T_RPAREN)) {
		for (;;) {
			struct fr_expr *a = parse_expr(p);
			GROW(p, *args, *nargs, cap);
			(*args)[(*nargs)++] = a;
			if (!at(p, T_COMMA))
				break;
			next(p);
		}
	}
	expect(p, T_RPAREN, "',' or ')'");
}

static struct fr_expr *parse_primary(struct parser *p)
{
	const struct fr_tok *t = cur(p);
	struct fr_expr *e;

	switch (t->kind) {
	case T_INT:
		next(p);
		e = new_expr(p, E_INT, t->loc);
		e->ival = t->ival;
		return e;
	case T_FLOAT:
		next(p);
		e = new_expr(p, E_FLOAT, t->loc);
		e->s = t->text;
		e->fval = strtod(t->text, NULL);
		return e;
	case T_STRING:
		next(p);
		e = new_expr(p, E_STR, t->loc);
		e->s = t->text;
		e->slen = t->len;
		return e;
	case T_IDENT:
		next(p);
		if (!strcmp(t->text, "true") || !strcmp(t->text, "false")) {
			e = new_expr(p, E_BOOL, t->loc);
			e->ival = t->text[0] == 't';
			return e;
		}
		if (at(p, T_LPAREN)) {
			e = new_expr(p, E_CALL, t->loc);
			e->s = t->text;
			parse_args(p, &e->args, &e->nargs);
			return e;
		}
		e = new_expr(p, E_NAME, t->loc);
		e->s = t->text;
		return e;
	case T_LPAREN: {
		next(p);
		e = parse_expr(p);
		if (at(p, T_COMMA)) {
			/* a tuple; the checker allows it only where it is destructured */
			struct fr_expr *tu = new_expr(p, E_TUPLE, t->loc);
			unsigned cap = 0;
			GROW(p, tu->args, tu->nargs, cap);
			tu->args[tu->nargs++] = e;
			while (at(p, T_COMMA)) {
				next(p);
				struct fr_expr *a = parse_expr(p);
				GROW(p, tu->args, tu->nargs, cap);
				tu->args[tu->nargs++] = a;
			}
			e = tu;
		}
		expect(p, T_RPAREN, "')'");
		return e;
	}
	default:
		fail_expected(p, "an expression");
	}
}

static struct fr_expr *binary(struct parser *p, enum fr_expr_kind k, const struct fr_tok *op,
			      struct fr_expr *l, struct fr_expr *r)
{
	struct fr_expr *e = new_expr(p, k, op->loc);

	e->args = fr_arena_alloc(&p->spec->arena, 2 * sizeof(*e->args));
	e->args[0] = l;
	e->args[1] = r;
	e->nargs = 2;
	e->op = op->kind;
	return e;
}

static struct fr_expr *parse_term(struct parser *p)
{
	struct fr_expr *l = parse_primary(p);

	while (at(p, T_STAR) || at(p, T_SLASH) || at(p, T_PERCENT)) {
		const struct fr_tok *op = next(p);
		l = binary(p, op->kind == T_STAR ? E_MUL : op->kind == T_SLASH ? E_DIV : E_MOD,
			   op, l, parse_primary(p));
	}
	return l;
}

static struct fr_expr *parse_sum(struct parser *p)
{
	struct fr_expr *l = parse_term(p);

	while (at(p, T_PLUS) || at(p, T_MINUS)) {
		const struct fr_tok *op = next(p);
		l = binary(p, op->kind == T_PLUS ? E_ADD : E_SUB, op, l, parse_term(p));
	}
	return l;
}

/* comparisons do not chain: `a < b < c` is a syntax error, not a surprise */
static struct fr_expr *parse_cmp(struct parser *p)
{
	struct fr_expr *l = parse_sum(p);

	if (at(p, T_EQEQ) || at(p, T_NE) || at(p, T_LT) || at(p, T_LE) ||
	    at(p, T_GT) || at(p, T_GE)) {
		const struct fr_tok *op = next(p);
		l = binary(p, E_CMP, op, l, parse_sum(p));
	}
	return l;
}

static struct fr_expr *parse_and(struct parser *p)
{
	struct fr_expr *l = parse_cmp(p);

	while (at_word(p, "and")) {
		const struct fr_tok *op = next(p);
		l = binary(p, E_AND, op, l, parse_cmp(p));
	}
	return l;
}

static struct fr_expr *parse_expr(struct parser *p)
{
	if (p->depth >= MAX_EXPR_DEPTH)
		fail(p, cur(p)->loc, "expression nested more than %d deep", MAX_EXPR_DEPTH);
	p->depth++;
	struct fr_expr *l = parse_and(p);

	while (at_word(p, "or")) {
		const struct fr_tok *op = next(p);
		l = binary(p, E_OR, op, l, parse_and(p));
	}
	p->depth--;
	return l;
}

static void parse_block(struct parser *p, struct fr_block *b);

/* `x = e` or `(a, b) = e`: decided by looking ahead, since both starts
 * are also the starts of expressions. */
static int at_assign(struct parser *p)
{
	const struct fr_tok *t = cur(p);

	if (t->kind == T_IDENT)
		return t[1].kind == T_EQ;
	return t->kind == T_LPAREN && t[1].kind == T_IDENT && t[2].kind == T_COMMA;
}

static struct fr_stmt *parse_assign(struct parser *p)
{
	struct fr_stmt *s = fr_arena_alloc(&p->spec->arena, sizeof(*s));
	unsigned cap = 0, lcap = 0;
	int tuple = at(p, T_LPAREN);

	s->kind = S_ASSIGN;
	s->loc = cur(p)->loc;
	if (tuple)
		next(p);
	for (;;) {
		const struct fr_tok *n = expect(p, T_IDENT, "a name");
		GROW(p, s->names, s->nnames, cap);
		GROW(p, s->nlocs, s->nnames, lcap);
		s->nlocs[s->nnames] = n->loc;
		s->names[s->nnames++] = n->text;
		if (!tuple || !at(p, T_COMMA))
			break;
		next(p);
	}
	if (tuple)
		expect(p, T_RPAREN, "',' or ')'");
	expect(p, T_EQ, "'='");
	s->e = parse_expr(p);
	expect(p, T_NEWLINE, "end of line after the assignment");
	return s;
}

static struct fr_stmt *parse_simple_stmt(struct parser *p)
{
	if (at_word(p, "pass")) {
		struct fr_stmt *s = fr_arena_alloc(&p->spec->arena, sizeof(*s));
		s->kind = S_PASS;
		s->loc = next(p)->loc;
		expect(p, T_NEWLINE, "end of line after pass");
		return s;
	}
	if (at_word(p, "for") || at_word(p, "while") || at_word(p, "loop"))
		fail(p, cur(p)->loc, "'%s': BPF cannot execute iteration without a constant "
		     "bound; iterate over a Vec<T, N> state with foreach x in v:",
		     cur(p)->text);

	if (at_assign(p))
		return parse_assign(p);

	struct fr_expr *e = parse_expr(p);
	struct fr_stmt *s = fr_arena_alloc(&p->spec->arena, sizeof(*s));

	s->loc = e->loc;
	s->e = e;
	if (e->kind != E_CALL)
		fail(p, e->loc, "expected a statement (match, send(...), set(...), "
		     "name = value, pass)");
	if (!strcmp(e->s, "send"))
		s->kind = S_SEND;
	else if (!strcmp(e->s, "set"))
		s->kind = S_SET;
	else if (!strcmp(e->s, "forward"))
		s->kind = S_FORWARD;
	else
		s->kind = S_CALL;
	expect(p, T_NEWLINE, "end of line after the statement");
	return s;
}

static void parse_arm(struct parser *p, struct fr_stmt *m)
{
	const struct fr_tok *t = cur(p);
	struct fr_arm arm = { .loc = t->loc };

	if (at_word(p, "Some")) {
		next(p);
		arm.kind = A_SOME;
		expect(p, T_LPAREN, "'(' after Some");
		if (at(p, T_LPAREN)) {
			/* Some((a, b)) takes a tuple value apart */
			unsigned cap = 0;
			next(p);
			for (;;) {
				const char *n = expect(p, T_IDENT, "a name to bind")->text;
				GROW(p, arm.binds, arm.nbinds, cap);
				arm.binds[arm.nbinds++] = n;
				if (!at(p, T_COMMA))
					break;
				next(p);
			}
			expect(p, T_RPAREN, "',' or ')'");
		} else {
			arm.bind = expect(p, T_IDENT, "a name to bind")->text;
		}
		expect(p, T_RPAREN, "')'");
	} else if (at_word(p, "None")) {
		next(p);
		arm.kind = A_NONE;
	} else if (at_word(p, "_")) {
		next(p);
		arm.kind = A_WILD;
	} else if (at(p, T_STRING) || at(p, T_INT) || at_word(p, "true") ||
		   at_word(p, "false")) {
		arm.kind = A_CONST;
		arm.value = parse_primary(p);
	} else {
		fail_expected(p, "a pattern (Some(x), None, a constant or _)");
	}
	expect(p, T_FATARROW, "'=>' after the pattern");
	if (at(p, T_NEWLINE)) {
		next(p);
		if (!at(p, T_INDENT))
			fail(p, cur(p)->loc, "expected an indented block after '=>'");
		parse_block(p, &arm.body);
	} else {
		/* `pat => stmt` on one line */
		struct fr_stmt *s = parse_simple_stmt(p);
		GROW(p, arm.body.v, arm.body.n, arm.body.cap);
		arm.body.v[arm.body.n++] = s;
	}
	GROW(p, m->arms, m->narms, m->armcap);
	m->arms[m->narms++] = arm;
}

/* foreach x in v: block */
static struct fr_stmt *parse_foreach(struct parser *p)
{
	/* volatile: parse_block's recovery longjmps within this frame */
	struct fr_stmt *volatile s = fr_arena_alloc(&p->spec->arena, sizeof(*s));

	s->kind = S_FOREACH;
	s->loc = next(p)->loc;
	const struct fr_tok *n = expect(p, T_IDENT, "the name of each element");
	s->names = fr_arena_alloc(&p->spec->arena, sizeof(*s->names));
	s->nlocs = fr_arena_alloc(&p->spec->arena, sizeof(*s->nlocs));
	s->names[0] = n->text;
	s->nlocs[0] = n->loc;
	s->nnames = 1;
	if (!at_word(p, "in"))
		fail_expected(p, "'in', as in foreach x in v:");
	next(p);
	s->e = parse_expr(p);
	open_block(p, 0);
	p->i--;		/* parse_block wants the INDENT */
	parse_block(p, &s->body);
	return s;
}

static struct fr_stmt *parse_stmt(struct parser *p)
{
	if (at_word(p, "foreach"))
		return parse_foreach(p);
	if (!at_word(p, "match"))
		return parse_simple_stmt(p);

	const struct fr_tok *kw = next(p);
	struct fr_stmt *s = fr_arena_alloc(&p->spec->arena, sizeof(*s));
	s->kind = S_MATCH;
	s->loc = kw->loc;
	s->e = parse_expr(p);
	open_block(p, 0);
	RECOVER_LOOP(p, !at(p, T_DEDENT) && !at(p, T_EOF), parse_arm(p, s));
	close_block(p);
	return s;
}

/* INDENT stmt+ DEDENT (the NEWLINE before it is already consumed) */
static void parse_block(struct parser *p, struct fr_block *b)
{
	expect(p, T_INDENT, "an indented block");
	RECOVER_LOOP(p, !at(p, T_DEDENT) && !at(p, T_EOF), {
		struct fr_stmt *s = parse_stmt(p);
		GROW(p, b->v, b->n, b->cap);
		b->v[b->n++] = s;
	});
	close_block(p);
}

/* ---- elements ------------------------------------------------------------------- */

static void parse_handler(struct parser *p, struct fr_element *el, const struct fr_tok *kw)
{
	struct fr_handler *h = !strcmp(kw->text, "init") ? &el->init
			     : !strcmp(kw->text, "req") ? &el->req : &el->resp;

	if (h->present)
		fr_error(p->d, kw->loc, "duplicate %s() in element '%s'", kw->text, el->name);
	h->present = 1;
	h->loc = kw->loc;
	h->body.n = 0;
	expect(p, T_LPAREN, "'('");
	if (at(p, T_IDENT))
		h->param = next(p)->text;
	expect(p, T_RPAREN, "')'");
	if (h == &el->init && h->param)
		fr_error(p->d, kw->loc, "init() takes no parameter");
	if (h != &el->init && !h->param)
		fr_error(p->d, kw->loc, "%s() needs the message parameter, as in %s(rpc)",
			 kw->text, kw->text);
	expect(p, T_COLON, "':'");
	expect(p, T_NEWLINE, "end of line after ':'");
	parse_block(p, &h->body);
}

/* @name or @name(arg, ...) */
static void parse_annot(struct parser *p, struct fr_annot *a)
{
	a->loc = next(p)->loc;
	a->name = expect(p, T_IDENT, "an annotation name after '@'")->text;
	if (at(p, T_LPAREN))
		parse_args(p, &a->args, &a->nargs);
}

/* (name: type [= default], ...). A mistake is reported and its parameter
 * skipped up to the next ',' or ')', so the others and the element's body
 * are still checked. */
static void parse_params(struct parser *p, struct fr_element *el)
{
	jmp_buf jb, *saved = p->recover;
	volatile unsigned cap = 0;

	next(p);
	p->recover = &jb;
	while (!at(p, T_RPAREN) && !at(p, T_NEWLINE) && !at(p, T_EOF)) {
		if (setjmp(jb)) {
			p->depth = 0;
			while (!at(p, T_COMMA) && !at(p, T_RPAREN) && !at(p, T_NEWLINE) &&
			       !at(p, T_EOF))
				next(p);
			if (!at(p, T_COMMA))
				break;
			next(p);
			continue;
		}
		/* appended whole: a syntax error leaves no half parameter */
		struct fr_eparam pr = { 0 };
		const struct fr_tok *pn = expect(p, T_IDENT, "a parameter name");
		pr.name = pn->text;
		pr.loc = pn->loc;
		expect(p, T_COLON, "':' after the parameter name");
		parse_type(p, &pr.type);
		if (at(p, T_EQ)) {
			next(p);
			pr.deflt = parse_expr(p);
		}
		GROW(p, el->params, el->nparams, cap);
		el->params[el->nparams++] = pr;
		if (at(p, T_RPAREN))
			break;
		expect(p, T_COMMA, "',' or ')'");
	}
	p->recover = saved;
	expect(p, T_RPAREN, "',' or ')'");
}

/* @a @b(x) ...: what stands before a state or an element, each on its
 * line or all on one (AppNet puts them on their own line) */
static struct fr_annot *parse_annots(struct parser *p, unsigned *n)
{
	struct fr_annot *an = NULL;
	unsigned acap = 0;

	*n = 0;
	while (at(p, T_AT)) {
		GROW(p, an, *n, acap);
		parse_annot(p, &an[(*n)++]);
		if (at(p, T_NEWLINE))
			next(p);
	}
	return an;
}

static void parse_element(struct parser *p, struct fr_annot *annots, unsigned nannots)
{
	next(p);
	const struct fr_tok *name = expect(p, T_IDENT, "the element name");
	struct fr_element *el = fr_arena_alloc(&p->spec->arena, sizeof(*el));

	el->name = name->text;
	el->loc = name->loc;
	el->annots = annots;
	el->nannots = nannots;
	el->place = -1;
	GROW(p, p->spec->elems, p->spec->nelems, p->spec->ecap);
	p->spec->elems[p->spec->nelems++] = el;
	if (at(p, T_LPAREN))
		parse_params(p, el);

	open_block(p, 0);
	RECOVER_LOOP(p, !at(p, T_DEDENT) && !at(p, T_EOF), {
		const struct fr_tok *kw = expect(p, T_IDENT, "state:, init(), req() or resp()");
		if (!strcmp(kw->text, "state")) {
			if (open_block(p, 1)) {
				RECOVER_LOOP(p, !at(p, T_DEDENT) && !at(p, T_EOF), {
					unsigned nan;
					struct fr_annot *an = parse_annots(p, &nan);
					const struct fr_tok *sn = expect(p, T_IDENT, "a state name");
					expect(p, T_COLON, "':' after the state name");
					struct fr_type ty;
					parse_type(p, &ty);
					expect(p, T_NEWLINE, "end of line");
					GROW(p, el->states, el->nstates, el->scap);
					struct fr_state *st = &el->states[el->nstates++];
					st->name = sn->text;
					st->loc = sn->loc;
					st->type = ty;
					st->elem = el;
					st->annots = an;
					st->nannots = nan;
				});
				close_block(p);
			}
		} else if (!strcmp(kw->text, "init") || !strcmp(kw->text, "req") ||
			   !strcmp(kw->text, "resp")) {
			parse_handler(p, el, kw);
		} else {
			fail(p, kw->loc, "unknown element section '%s' (expected state:, "
			     "init(), req(rpc) or resp(rpc))", kw->text);
		}
	});
	close_block(p);
}

/* ---- services --------------------------------------------------------------------- */

/* client: and server: name the side; chain: leaves it to the placement
 * pass, which sees its entries in run order (a spec with chain: and a
 * side as well is refused in parse_method) */
static void parse_chain(struct parser *p, struct fr_method *m, const struct fr_tok *kw)
{
	int placed = !strcmp(kw->text, "chain");
	enum fr_side side = placed || !strcmp(kw->text, "server") ? FR_SERVER : FR_CLIENT;
	unsigned at_ = side == FR_SERVER ? m->nchain : 0;	/* client: entries go first */
	struct fr_loc *kw_loc = placed ? &m->chain_loc : &m->side_loc[side];

	if (kw_loc->line)
		fr_error(p->d, kw->loc, "method '%s' has more than one %s: chain", m->name,
			 kw->text);
	*kw_loc = kw->loc;
	expect(p, T_COLON, "':'");
	for (;;) {
		const struct fr_tok *n = expect(p, T_IDENT, "an element name");
		struct fr_carg *args = NULL;
		unsigned nargs = 0, acap = 0;
		expect(p, T_LPAREN, "'('");
		while (!at(p, T_RPAREN)) {
			struct fr_carg a = { .loc = cur(p)->loc };
			if (at(p, T_IDENT) && cur(p)[1].kind == T_EQ) {
				a.key = next(p)->text;
				next(p);
			}
			a.value = parse_expr(p);
			GROW(p, args, nargs, acap);
			args[nargs++] = a;
			if (!at(p, T_COMMA))
				break;
			next(p);
		}
		expect(p, T_RPAREN, "',' or ')'");
		GROW(p, m->chain, m->nchain, m->ccap);
		memmove(&m->chain[at_ + 1], &m->chain[at_], (m->nchain - at_) * sizeof(*m->chain));
		m->chain[at_++] = (struct fr_chain_ref){ .name = n->text, .loc = n->loc, .side = side,
							 .placed = placed, .nargs = nargs,
							 .args = args };
		m->nchain++;
		if (!at(p, T_ARROW))
			break;
		next(p);
	}
	expect(p, T_NEWLINE, "'->' or end of line");
}

static void parse_transport(struct parser *p, struct fr_method *m, const struct fr_tok *kw)
{
	if (m->nprops)
		fr_error(p->d, kw->loc, "method '%s' has more than one transport", m->name);
	m->nprops = 0;
	expect(p, T_COLON, "':'");
	for (;;) {
		const struct fr_tok *n = expect(p, T_IDENT, "a transport property");
		struct fr_prop pr = { .name = n->text, .loc = n->loc };
		if (at(p, T_LPAREN)) {
			next(p);
			while (!at(p, T_RPAREN)) {
				const struct fr_tok *k = expect(p, T_IDENT, "a parameter name");
				expect(p, T_EQ, "'=' after the parameter name");
				struct fr_param par = { .key = k->text, .loc = k->loc, .vloc = cur(p)->loc };
				if (at(p, T_STRING)) {
					par.is_str = 1;
					par.s = next(p)->text;
				} else if (at(p, T_INT)) {
					par.ival = next(p)->ival;
				} else {
					fail_expected(p, "an integer or a string");
				}
				GROW(p, pr.params, pr.nparams, pr.pcap);
				pr.params[pr.nparams++] = par;
				if (!at(p, T_COMMA))
					break;
				next(p);
			}
			expect(p, T_RPAREN, "',' or ')'");
		}
		GROW(p, m->props, m->nprops, m->prcap);
		m->props[m->nprops++] = pr;
		if (!at(p, T_ARROW))
			break;
		next(p);
	}
	expect(p, T_NEWLINE, "'->' or end of line");
}

static void parse_method(struct parser *p, struct fr_service *svc)
{
	const struct fr_tok *name = expect(p, T_IDENT, "the method name");

	GROW(p, svc->methods, svc->nmethods, svc->mcap);
	struct fr_method *m = &svc->methods[svc->nmethods++];
	memset(m, 0, sizeof(*m));
	m->name = name->text;
	m->loc = name->loc;
	open_block(p, 0);
	RECOVER_LOOP(p, !at(p, T_DEDENT) && !at(p, T_EOF), {
		const struct fr_tok *kw = expect(p, T_IDENT, "request:, response:, chain:, "
						 "client:, server: or transport:");
		if (!strcmp(kw->text, "request")) {
			parse_fields(p, &m->req, 0);
		} else if (!strcmp(kw->text, "response")) {
			parse_fields(p, &m->resp, 0);
		} else if (!strcmp(kw->text, "client") || !strcmp(kw->text, "server") ||
			   !strcmp(kw->text, "chain")) {
			parse_chain(p, m, kw);
		} else if (!strcmp(kw->text, "transport")) {
			parse_transport(p, m, kw);
		} else {
			fail(p, kw->loc, "unknown method section '%s' (expected request:, "
			     "response:, chain:, client:, server: or transport:)", kw->text);
		}
	});
	close_block(p);
	/* one chain: is one run order; a side written beside it would say
	 * two things about where the elements run */
	if (m->chain_loc.line && (m->side_loc[FR_CLIENT].line || m->side_loc[FR_SERVER].line))
		fr_error(p->d, m->chain_loc, "method '%s' has both chain: and %s: (line %d); "
			 "write either chain: (the compiler places each element) or "
			 "client:/server: (you place them)", m->name,
			 m->side_loc[FR_CLIENT].line ? "client" : "server",
			 m->side_loc[FR_CLIENT].line ? m->side_loc[FR_CLIENT].line :
			 m->side_loc[FR_SERVER].line);
}

static void parse_service(struct parser *p)
{
	const struct fr_tok *kw = next(p);
	const struct fr_tok *name = expect(p, T_IDENT, "the service name");
	struct fr_service *svc = fr_arena_alloc(&p->spec->arena, sizeof(*svc));

	svc->name = name->text;
	svc->loc = name->loc;
	if (p->spec->svc)
		fr_error(p->d, kw->loc, "a spec has one service; '%s' is already defined",
			 p->spec->svc->name);
	else
		p->spec->svc = svc;

	open_block(p, 0);
	RECOVER_LOOP(p, !at(p, T_DEDENT) && !at(p, T_EOF), {
		const struct fr_tok *k = expect(p, T_IDENT, "port:, auth:, metadata: or method");
		if (!strcmp(k->text, "auth")) {
			expect(p, T_COLON, "':'");
			const struct fr_tok *v = expect(p, T_IDENT, "siphash or none");
			if (svc->has_auth)
				fr_error(p->d, k->loc, "auth: is given twice");
			if (!strcmp(v->text, "none"))
				svc->auth_none = 1;
			else if (strcmp(v->text, "siphash"))
				fr_error(p->d, v->loc, "unknown auth '%s' (expected siphash, the default, "
					 "or none for a network that is trusted)", v->text);
			svc->has_auth = 1;
			expect(p, T_NEWLINE, "end of line");
		} else if (!strcmp(k->text, "port")) {
			expect(p, T_COLON, "':'");
			const struct fr_tok *n = expect(p, T_INT, "a port number");
			if (n->ival == 0 || n->ival > 65535)
				fr_error(p->d, n->loc, "port must be 1..65535");
			svc->port = (uint16_t)n->ival;
			svc->has_port = 1;
			expect(p, T_NEWLINE, "end of line");
		} else if (!strcmp(k->text, "metadata")) {
			parse_fields(p, &svc->meta, 1);
		} else if (!strcmp(k->text, "method")) {
			parse_method(p, svc);
		} else {
			fail(p, k->loc, "unknown service section '%s' (expected port:, auth:, "
			     "metadata: or method NAME:)", k->text);
		}
	});
	close_block(p);
}

/* ---- files and imports ------------------------------------------------------------ */

struct fr_src *fr_spec_add_src(struct fr_spec *spec, const char *name,
			       const char *text, size_t len)
{
	struct fr_src *s = fr_arena_alloc(&spec->arena, sizeof(*s));
	struct fr_src **tail = &spec->srcs;

	s->name = fr_arena_strndup(&spec->arena, name, strlen(name));
	s->text = fr_arena_strndup(&spec->arena, text, len);
	s->len = len;
	while (*tail)
		tail = &(*tail)->next;
	*tail = s;
	return s;
}

/*
 * Where an import that is not beside the importing file is looked for, in
 * order: the -I directories (fr_import_path_add), then FLATRPC_IMPORT_PATH
 * (colon-separated), then the installed element library's parent,
 * FLATRPC_SHARE_DIR (make install puts elements/ there), so that
 * `import "elements/firewall.anf"` works from any directory.
 */
#ifndef FLATRPC_SHARE_DIR
#define FLATRPC_SHARE_DIR "/usr/local/share/flatrpc"
#endif
#define FR_IMPORT_DIRS_MAX 16
static const char *import_dirs[FR_IMPORT_DIRS_MAX];
static unsigned n_import_dirs;

int fr_import_path_add(const char *dir)
{
	if (n_import_dirs == FR_IMPORT_DIRS_MAX)
		return -ENOSPC;
	import_dirs[n_import_dirs++] = dir;
	return 0;
}

/* Tries dir/rel; on success *text holds the file and name its path. */
static int try_dir(struct fr_buf *name, const char *dir, size_t dlen, const struct fr_tok *rel,
		   struct fr_buf *text)
{
	name->len = 0;
	fr_buf_put(name, dir, dlen);
	if (dlen && dir[dlen - 1] != '/')
		fr_buf_put(name, "/", 1);
	fr_buf_put(name, rel->text, rel->len);
	return fr_read_file(name->p, text);
}

/* The import's file, beside the importer or along the import path: 0, or
 * the error of the first place that had it but could not be read, or
 * -ENOENT with every place tried listed in *tried. */
static int find_import(const struct parser *p, const struct fr_tok *path, struct fr_buf *name,
		       struct fr_buf *text, struct fr_buf *tried)
{
	const char *slash = strrchr(p->src->name, '/');
	const char *env = getenv("FLATRPC_IMPORT_PATH");
	int err;

	err = try_dir(name, p->src->name, path->text[0] == '/' ? 0 :
		      slash ? (size_t)(slash - p->src->name + 1) : 0, path, text);
	if (err != -ENOENT || path->text[0] == '/')
		return err;
	fr_buf_put(tried, name->p, name->len);
	for (unsigned i = 0; i < n_import_dirs + 2; i++) {
		const char *dirs = i < n_import_dirs ? import_dirs[i] :
				   i == n_import_dirs ? env : FLATRPC_SHARE_DIR;

		while (dirs && *dirs) {
			size_t n = strcspn(dirs, i == n_import_dirs ? ":" : "");

			if (n) {
				err = try_dir(name, dirs, n, path, text);
				if (err != -ENOENT)
					return err;
				fr_buf_put(tried, ", ", 2);
				fr_buf_put(tried, name->p, name->len);
			}
			dirs += n;
			dirs += *dirs == ':';
		}
	}
	return -ENOENT;
}

static int same_file(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	if (realpath(a, ra) && realpath(b, rb))
		return !strcmp(ra, rb);
	return !strcmp(a, b);
}

static void do_import(struct parser *p, const struct fr_tok *path)
{
	struct fr_buf name = { 0 }, text = { 0 }, tried = { 0 };
	int err = find_import(p, path, &name, &text, &tried);

	if (err) {
		fr_buf_put(&tried, "", 1);
		if (err == -ENOENT)
			fr_error(p->d, path->loc, "cannot find import '%s' (looked for %s; "
				 "add a directory with -I or FLATRPC_IMPORT_PATH)",
				 path->text, tried.p);
		else
			fr_error(p->d, path->loc, "cannot read import '%s' (%s): %s",
				 path->text, name.p, strerror(-err));
		goto out;
	}
	for (struct fr_src *s = p->spec->srcs; s; s = s->next) {
		if (same_file(s->name, name.p))
			goto out;	/* already part of the spec (or a cycle) */
	}
	struct fr_src *src = fr_spec_add_src(p->spec, name.p, text.p ? text.p : "", text.len);
	fr_parse_src(p->spec, src, p->d, 1);
out:
	fr_buf_free(&name);
	fr_buf_free(&text);
	fr_buf_free(&tried);
}

int fr_parse_src(struct fr_spec *spec, const struct fr_src *src,
		 struct fr_diag *d, int follow_imports)
{
	struct parser p = { .spec = spec, .d = d, .src = src,
			    .follow_imports = follow_imports };
	int errs = d->n_errors;

	fr_lex(src, &spec->arena, d, &p.toks);
	RECOVER_LOOP(&p, !at(&p, T_EOF), {
		if (at(&p, T_NEWLINE)) {
			next(&p);
		} else if (at_word(&p, "import")) {
			next(&p);
			const struct fr_tok *path = expect(&p, T_STRING, "a quoted path");
			expect(&p, T_NEWLINE, "end of line after the import");
			if (p.follow_imports)
				do_import(&p, path);
		} else if (at_word(&p, "service")) {
			parse_service(&p);
		} else if (at_word(&p, "element")) {
			parse_element(&p, NULL, 0);
		} else if (at(&p, T_AT)) {
			unsigned nan;
			struct fr_annot *an = parse_annots(&p, &nan);
			if (!at_word(&p, "element"))
				fail(&p, cur(&p)->loc, "an annotation here belongs to an element: "
				     "expected `element NAME` after it");
			parse_element(&p, an, nan);
		} else if (at(&p, T_INDENT)) {
			fr_error(d, cur(&p)->loc, "unexpected indentation");
			skip_block(&p);
		} else if (at(&p, T_DEDENT)) {
			next(&p);	/* only after an inconsistent dedent, reported */
		} else {
			fail_expected(&p, "import, service or element");
		}
	});
	return d->n_errors - errs;
}

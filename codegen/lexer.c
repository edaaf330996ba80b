/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * lexer.c - indentation-aware tokens for .anf specs.
 *
 * Blocks are made of indentation as in Python: a deeper line opens a block
 * (INDENT), a shallower one closes as many as it leaves (DEDENT). Inside
 * parentheses line breaks are insignificant, so long argument lists may
 * wrap. Tabs are rejected outright: mixing them with spaces makes the
 * block structure depend on the reader's tab width.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

#define MAX_INDENT 64

struct lexer {
	const struct fr_src *src;
	struct fr_arena *a;
	struct fr_diag *d;
	const char *p, *end, *bol;	/* bol: start of the current line */
	int line;
	struct fr_toks *out;
	size_t cap;
	int indents[MAX_INDENT];
	int depth;			/* entries in indents[] */
	int parens;
};

static const char *const tok_names[] = {
	[T_EOF] = "end of file", [T_NEWLINE] = "end of line",
	[T_INDENT] = "indent", [T_DEDENT] = "dedent",
	[T_IDENT] = "identifier", [T_INT] = "integer", [T_STRING] = "string",
	[T_FLOAT] = "number",
	[T_LPAREN] = "'('", [T_RPAREN] = "')'", [T_COMMA] = "','",
	[T_COLON] = "':'", [T_DOT] = "'.'", [T_LT] = "'<'", [T_GT] = "'>'",
	[T_LE] = "'<='", [T_GE] = "'>='", [T_EQ] = "'='", [T_EQEQ] = "'=='",
	[T_NE] = "'!='", [T_PLUS] = "'+'", [T_MINUS] = "'-'", [T_STAR] = "'*'",
	[T_SLASH] = "'/'", [T_PERCENT] = "'%'", [T_AT] = "'@'", [T_ARROW] = "'->'", [T_FATARROW] = "'=>'",
	[T_ERROR] = "invalid character",
};

const char *fr_tok_name(enum fr_tok_kind k)
{
	return (unsigned)k < sizeof(tok_names) / sizeof(tok_names[0]) && tok_names[k]
		? tok_names[k] : "token";
}

static struct fr_loc loc_at(const struct lexer *lx, const char *p)
{
	return (struct fr_loc){ lx->src, lx->line, (int)(p - lx->bol) + 1 };
}

static struct fr_tok *push(struct lexer *lx, enum fr_tok_kind k, const char *at)
{
	struct fr_toks *o = lx->out;

	if (o->n == lx->cap) {
		size_t cap = lx->cap ? lx->cap * 2 : 256;
		struct fr_tok *v = fr_arena_alloc(lx->a, cap * sizeof(*v));
		if (o->n)
			memcpy(v, o->v, o->n * sizeof(*v));
		o->v = v;
		lx->cap = cap;
	}
	struct fr_tok *t = &o->v[o->n++];
	memset(t, 0, sizeof(*t));
	t->kind = k;
	t->loc = loc_at(lx, at);
	return t;
}

static int is_id_start(int c)
{
	return isalpha(c) || c == '_';
}

static int is_id_char(int c)
{
	return isalnum(c) || c == '_';
}

/* Handles the indentation of a new line. Returns 0 if the line is blank or
 * a comment (no tokens), 1 otherwise, with p at the first token. */
static int begin_line(struct lexer *lx)
{
	const char *p = lx->p;
	int col = 0;

	for (;; p++) {
		if (*p == ' ') {
			col++;
		} else if (*p == '\t') {
			fr_error(lx->d, loc_at(lx, p),
				 "tab character in indentation; indent with spaces");
			col++;
		} else {
			break;
		}
	}
	lx->p = p;
	if (p >= lx->end || *p == '\n' || *p == '\r' || *p == '#')
		return 0;

	int cur = lx->indents[lx->depth - 1];
	if (col > cur) {
		if (lx->depth == MAX_INDENT) {
			fr_error(lx->d, loc_at(lx, p), "blocks nested too deeply");
		} else {
			lx->indents[lx->depth++] = col;
			push(lx, T_INDENT, p);
		}
	} else if (col < cur) {
		while (lx->depth > 1 && lx->indents[lx->depth - 1] > col) {
			lx->depth--;
			push(lx, T_DEDENT, p);
		}
		if (lx->indents[lx->depth - 1] != col) {
			fr_error(lx->d, loc_at(lx, p),
				 "unindent does not match any outer indentation level");
			/* adopt it, so the following lines do not all fail */
			lx->indents[lx->depth++] = col;
		}
	}
	return 1;
}

static void lex_string(struct lexer *lx)
{
	const char *start = lx->p;
	char q = *lx->p++;
	struct fr_buf b = { 0 };

	while (lx->p < lx->end && *lx->p != q && *lx->p != '\n') {
		char c = *lx->p++;
		if (c == '\\' && lx->p < lx->end && *lx->p != '\n') {
			char e = *lx->p++;
			switch (e) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case '0': c = 0; break;
			case '\\': case '\'': case '"': c = e; break;
			default:
				fr_error(lx->d, loc_at(lx, lx->p - 2),
					 "unknown escape '\\%c' in string", e);
				c = e;
			}
		} else if (c == '\t') {
			fr_error(lx->d, loc_at(lx, lx->p - 1),
				 "tab character in string; write \\t");
		}
		fr_buf_put(&b, &c, 1);
	}
	struct fr_tok *t = push(lx, T_STRING, start);
	if (lx->p >= lx->end || *lx->p != q)
		fr_error(lx->d, t->loc, "unterminated string");
	else
		lx->p++;
	t->text = fr_arena_strndup(lx->a, b.p ? b.p : "", b.len);
	t->len = b.len;
	fr_buf_free(&b);
}

static void lex_number(struct lexer *lx)
{
	const char *start = lx->p;
	uint64_t v = 0;
	int base = 10, overflow = 0;

	if (lx->p[0] == '0' && (lx->p[1] == 'x' || lx->p[1] == 'X')) {
		base = 16;
		lx->p += 2;
	}
	while (lx->p < lx->end && isxdigit((unsigned char)*lx->p)) {
		int c = (unsigned char)*lx->p, dv;
		if (isdigit(c))
			dv = c - '0';
		else if (base == 16)
			dv = tolower(c) - 'a' + 10;
		else
			break;
		if (v > (UINT64_MAX - dv) / base)
			overflow = 1;
		v = v * base + dv;
		lx->p++;
	}
	if (base == 10 && lx->p + 1 < lx->end && lx->p[0] == '.' &&
	    isdigit((unsigned char)lx->p[1])) {
		/* a fraction: the parser converts the text */
		lx->p++;
		while (lx->p < lx->end && isdigit((unsigned char)*lx->p))
			lx->p++;
		struct fr_tok *f = push(lx, T_FLOAT, start);
		f->text = fr_arena_strndup(lx->a, start, lx->p - start);
		f->len = lx->p - start;
		if (lx->p < lx->end && is_id_char((unsigned char)*lx->p))
			fr_error(lx->d, loc_at(lx, lx->p), "invalid digit '%c' in number", *lx->p);
		while (lx->p < lx->end && is_id_char((unsigned char)*lx->p))
			lx->p++;
		return;
	}
	struct fr_tok *t = push(lx, T_INT, start);
	t->ival = v;
	t->text = start;
	t->len = lx->p - start;
	if (overflow)
		fr_error(lx->d, t->loc, "integer constant does not fit in 64 bits");
	if (lx->p < lx->end && is_id_char((unsigned char)*lx->p))
		fr_error(lx->d, loc_at(lx, lx->p), "invalid digit '%c' in number", *lx->p);
	while (lx->p < lx->end && is_id_char((unsigned char)*lx->p))
		lx->p++;
}

static void lex_ident(struct lexer *lx)
{
	const char *start = lx->p;

	/* '-' joins words (session-tracker) only between identifier
	 * characters, so `n-1` and `a - b` still lex as subtraction */
	while (lx->p < lx->end) {
		if (is_id_char((unsigned char)*lx->p))
			lx->p++;
		else if (*lx->p == '-' && lx->p + 1 < lx->end &&
			 is_id_start((unsigned char)lx->p[1]))
			lx->p++;
		else
			break;
	}
	struct fr_tok *t = push(lx, T_IDENT, start);
	t->text = fr_arena_strndup(lx->a, start, lx->p - start);
	t->len = lx->p - start;
}

int fr_lex(const struct fr_src *src, struct fr_arena *a, struct fr_diag *d,
	   struct fr_toks *out)
{
	struct lexer lx = {
		.src = src, .a = a, .d = d, .p = src->text, .end = src->text + src->len,
		.bol = src->text, .line = 1, .out = out, .depth = 1,
	};
	int errs = d->n_errors;
	int line_has_tokens = 0;

	out->v = NULL;
	out->n = 0;
	lx.indents[0] = 0;

	while (lx.p < lx.end) {
		if (lx.p == lx.bol && lx.parens == 0) {
			line_has_tokens = begin_line(&lx);
			if (!line_has_tokens) {
				/* skip the rest of a blank or comment line */
				while (lx.p < lx.end && *lx.p != '\n')
					lx.p++;
			}
		}
		if (lx.p >= lx.end)
			break;

		const char *p = lx.p;
		char c = *p;
		if (c == '\n') {
			if (lx.parens == 0 && line_has_tokens)
				push(&lx, T_NEWLINE, p);
			lx.p++;
			lx.line++;
			lx.bol = lx.p;
			line_has_tokens = 0;
			continue;
		}
		if (c == ' ' || c == '\r') {
			lx.p++;
			continue;
		}
		if (c == '\t') {
			fr_error(d, loc_at(&lx, p), "tab character; use spaces");
			lx.p++;
			continue;
		}
		if (c == '#') {
			while (lx.p < lx.end && *lx.p != '\n')
				lx.p++;
			continue;
		}
		line_has_tokens = 1;
		if (c == '\'' || c == '"') {
			lex_string(&lx);
			continue;
		}
		if (isdigit((unsigned char)c)) {
			lex_number(&lx);
			continue;
		}
		if (is_id_start((unsigned char)c)) {
			lex_ident(&lx);
			continue;
		}

		enum fr_tok_kind k;
		int n = 1;
		char c1 = p + 1 < lx.end ? p[1] : 0;
		switch (c) {
		case '(': k = T_LPAREN; lx.parens++; break;
		case ')': k = T_RPAREN; if (lx.parens) lx.parens--; break;
		case ',': k = T_COMMA; break;
		case ':': k = T_COLON; break;
		case '.': k = T_DOT; break;
		case '+': k = T_PLUS; break;
		case '*': k = T_STAR; break;
		case '/': k = T_SLASH; break;
		case '%': k = T_PERCENT; break;
		case '@': k = T_AT; break;
		case '-': k = c1 == '>' ? (n = 2, T_ARROW) : T_MINUS; break;
		case '=':
			k = c1 == '>' ? (n = 2, T_FATARROW) : c1 == '=' ? (n = 2, T_EQEQ) : T_EQ;
			break;
		case '<': k = c1 == '=' ? (n = 2, T_LE) : T_LT; break;
		/* '>' never joins '>' so Map<K, string<4>> closes twice */
		case '>': k = c1 == '=' ? (n = 2, T_GE) : T_GT; break;
		case '!':
			if (c1 == '=') {
				k = T_NE;
				n = 2;
				break;
			}
			/* fall through */
		default:
			fr_error(d, loc_at(&lx, p), "unexpected character '%c'", c);
			k = T_ERROR;
		}
		push(&lx, k, p);
		lx.p += n;
	}
	if (line_has_tokens && lx.out->n && lx.out->v[lx.out->n - 1].kind != T_NEWLINE)
		push(&lx, T_NEWLINE, lx.p);
	while (lx.depth > 1) {
		lx.depth--;
		push(&lx, T_DEDENT, lx.p);
	}
	push(&lx, T_EOF, lx.p);
	return d->n_errors - errs;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* test_lexer.c - tokens, indentation blocks and lexical errors of .anf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "spec.h"

struct lexed {
	struct fr_arena a;
	struct fr_src src;
	struct fr_toks t;
	struct fr_diag d;
	char *diag_text;
	size_t diag_len;
};

static void lex(struct lexed *l, const char *text)
{
	memset(l, 0, sizeof(*l));
	l->src.name = "t.anf";
	l->src.text = text;
	l->src.len = strlen(text);
	l->d.out = open_memstream(&l->diag_text, &l->diag_len);
	fr_lex(&l->src, &l->a, &l->d, &l->t);
	fclose(l->d.out);
	l->d.out = NULL;
}

static void done(struct lexed *l)
{
	fr_arena_free(&l->a);
	free(l->diag_text);
}

static void expect_kinds(const struct lexed *l, const enum fr_tok_kind *k, size_t n)
{
	for (size_t i = 0; i < n && i < l->t.n; i++) {
		if (l->t.v[i].kind != k[i])
			fail_msg("token %zu: %s, expected %s", i, fr_tok_name(l->t.v[i].kind),
				 fr_tok_name(k[i]));
	}
	assert_int_equal(l->t.n, n);
}

static void test_punctuation_and_literals(void **state)
{
	struct lexed l;
	(void)state;

	lex(&l, "a => b -> c == 'x' \"y\" 42 0x1F < > , : + - ( ) = !=\n");
	static const enum fr_tok_kind k[] = {
		T_IDENT, T_FATARROW, T_IDENT, T_ARROW, T_IDENT, T_EQEQ, T_STRING, T_STRING,
		T_INT, T_INT, T_LT, T_GT, T_COMMA, T_COLON, T_PLUS, T_MINUS, T_LPAREN,
		T_RPAREN, T_EQ, T_NE, T_NEWLINE, T_EOF,
	};
	expect_kinds(&l, k, sizeof(k) / sizeof(k[0]));
	assert_string_equal(l.t.v[6].text, "x");
	assert_string_equal(l.t.v[7].text, "y");
	assert_int_equal(l.t.v[8].ival, 42);
	assert_int_equal(l.t.v[9].ival, 31);
	assert_int_equal(l.d.n_errors, 0);
	/* columns are 1-based */
	assert_int_equal(l.t.v[1].loc.line, 1);
	assert_int_equal(l.t.v[1].loc.col, 3);
	done(&l);
}

static void test_dashed_identifiers(void **state)
{
	struct lexed l;
	(void)state;

	/* '-' joins words, but not before a digit or around spaces */
	lex(&l, "session-tracker n-1 a - b x->y\n");
	static const enum fr_tok_kind k[] = {
		T_IDENT, T_IDENT, T_MINUS, T_INT, T_IDENT, T_MINUS, T_IDENT,
		T_IDENT, T_ARROW, T_IDENT, T_NEWLINE, T_EOF,
	};
	expect_kinds(&l, k, sizeof(k) / sizeof(k[0]));
	assert_string_equal(l.t.v[0].text, "session-tracker");
	assert_string_equal(l.t.v[1].text, "n");
	done(&l);
}

static void test_nested_generics_close_twice(void **state)
{
	struct lexed l;
	(void)state;

	lex(&l, "Map<string<16>, string<4>>\n");
	static const enum fr_tok_kind k[] = {
		T_IDENT, T_LT, T_IDENT, T_LT, T_INT, T_GT, T_COMMA, T_IDENT, T_LT, T_INT,
		T_GT, T_GT, T_NEWLINE, T_EOF,
	};
	expect_kinds(&l, k, sizeof(k) / sizeof(k[0]));
	done(&l);
}

static void test_indent_dedent(void **state)
{
	struct lexed l;
	(void)state;

	lex(&l,
	    "a:\n"
	    "  b:\n"
	    "    c\n"
	    "\n"
	    "  # a comment at another depth\n"
	    "      # and another\n"
	    "  d\n"
	    "e\n");
	static const enum fr_tok_kind k[] = {
		T_IDENT, T_COLON, T_NEWLINE,
		T_INDENT, T_IDENT, T_COLON, T_NEWLINE,
		T_INDENT, T_IDENT, T_NEWLINE,
		T_DEDENT, T_IDENT, T_NEWLINE,
		T_DEDENT, T_IDENT, T_NEWLINE,
		T_EOF,
	};
	expect_kinds(&l, k, sizeof(k) / sizeof(k[0]));
	assert_int_equal(l.d.n_errors, 0);
	done(&l);
}

static void test_dedents_at_eof_without_newline(void **state)
{
	struct lexed l;
	(void)state;

	lex(&l, "a:\n  b:\n    c");
	static const enum fr_tok_kind k[] = {
		T_IDENT, T_COLON, T_NEWLINE, T_INDENT, T_IDENT, T_COLON, T_NEWLINE,
		T_INDENT, T_IDENT, T_NEWLINE, T_DEDENT, T_DEDENT, T_EOF,
	};
	expect_kinds(&l, k, sizeof(k) / sizeof(k[0]));
	done(&l);
}

static void test_parens_join_lines(void **state)
{
	struct lexed l;
	(void)state;

	lex(&l, "f(a,\n      b)\n");
	static const enum fr_tok_kind k[] = {
		T_IDENT, T_LPAREN, T_IDENT, T_COMMA, T_IDENT, T_RPAREN, T_NEWLINE, T_EOF,
	};
	expect_kinds(&l, k, sizeof(k) / sizeof(k[0]));
	assert_int_equal(l.t.v[4].loc.line, 2);
	done(&l);
}

static void test_tab_is_an_error_with_position(void **state)
{
	struct lexed l;
	(void)state;

	lex(&l, "a:\n  \tb\n");
	assert_int_equal(l.d.n_errors, 1);
	assert_non_null(strstr(l.diag_text, "t.anf:2:3: error: tab character"));
	/* the source line and a caret under the tab follow */
	assert_non_null(strstr(l.diag_text, "\n  \tb\n  ^\n"));
	done(&l);
}

static void test_bad_dedent_and_strings(void **state)
{
	struct lexed l;
	(void)state;

	lex(&l, "a:\n    b\n  c\nd 'open\n");
	assert_int_equal(l.d.n_errors, 2);
	assert_non_null(strstr(l.diag_text, "t.anf:3:3: error: unindent does not match"));
	assert_non_null(strstr(l.diag_text, "t.anf:4:3: error: unterminated string"));
	done(&l);
}

static void test_escapes_and_bad_chars(void **state)
{
	struct lexed l;
	(void)state;

	lex(&l, "'a\\'b' $\n");
	assert_int_equal(l.t.v[0].kind, T_STRING);
	assert_string_equal(l.t.v[0].text, "a'b");
	assert_int_equal(l.t.v[1].kind, T_ERROR);
	assert_int_equal(l.d.n_errors, 1);
	assert_non_null(strstr(l.diag_text, "t.anf:1:8: error: unexpected character '$'"));
	done(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_punctuation_and_literals),
		cmocka_unit_test(test_dashed_identifiers),
		cmocka_unit_test(test_nested_generics_close_twice),
		cmocka_unit_test(test_indent_dedent),
		cmocka_unit_test(test_dedents_at_eof_without_newline),
		cmocka_unit_test(test_parens_join_lines),
		cmocka_unit_test(test_tab_is_an_error_with_position),
		cmocka_unit_test(test_bad_dedent_and_strings),
		cmocka_unit_test(test_escapes_and_bad_chars),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

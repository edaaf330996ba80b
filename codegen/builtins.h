/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * builtins.h - the one registry of the spec language's built-in functions.
 *
 * The checker takes arity, argument and result types from it, the BPF
 * emitter its emission, and docs/spec-language.md's table and the fuzz
 * dictionary are compared with it by test_parser. A new plain built-in is
 * one entry in builtins.c plus its test; the forms (get, byte_size, size,
 * randomf) read the message or state, or only exist inside a comparison,
 * so they keep their own code in the checker and emitter and are here for
 * their names, documentation and dispatch.
 */
#ifndef FLATRPC_GEN_BUILTINS_H
#define FLATRPC_GEN_BUILTINS_H

#include "spec.h"

#define FR_BI_MAX_ARGS 4

enum fr_bi_form {
	FR_BI_PLAIN,		/* typed from args[] and ret, emitted by emit() */
	FR_BI_GET,		/* get(rpc, 'f') and get(state, key) */
	FR_BI_BYTE_SIZE,	/* byte_size(rpc) and byte_size(rpc, 'f') */
	FR_BI_SIZE,		/* size(vec) */
	FR_BI_RANDOMF,		/* only as randomf() OP constant */
};

enum fr_bi_arg {
	FR_BI_INT,		/* an integer, not bool */
	FR_BI_INT_OR_STR,	/* an integer or a string<N> (its whole slot) */
};

struct fr_cval;
struct fr_bpf_gen;

/* One row of the table in docs/spec-language.md, "Built-in functions". */
struct fr_bi_doc {
	const char *sig, *type, *bpf;
};

struct fr_builtin {
	const char	*name;
	enum fr_bi_form	form;
	unsigned	nargs;		/* the forms: at least this many */
	/* FR_BI_PLAIN only: */
	enum fr_bi_arg	args[FR_BI_MAX_ARGS];
	enum fr_type_kind ret;		/* TY_NONE: the type of the first typed operand */
	/* Prints code that leaves the value in *out (a[0..nargs-1] are the
	 * arguments, already evaluated) at depth d. */
	void (*emit)(struct fr_bpf_gen *g, int d, const struct fr_cval *a, struct fr_cval *out);
	/* Its rows of the table; none for size(), which the Vec table covers. */
	struct fr_bi_doc doc[2];
};

extern const struct fr_builtin fr_builtins[];
extern const unsigned fr_n_builtins;

/* NULL: not a built-in. */
const struct fr_builtin *fr_builtin_find(const char *name);
/* The documentation table, header included, as docs/spec-language.md has it. */
void fr_builtins_doc(struct fr_buf *b);
/* One fuzz dictionary token per built-in: "name()" without arguments, else "name(". */
void fr_builtins_dict(struct fr_buf *b);

#endif

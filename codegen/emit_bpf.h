/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * emit_bpf.h - what the BPF emitter offers the built-ins' emissions
 * (builtins.c): values as generated C sees them, and fresh locals.
 */
#ifndef FLATRPC_GEN_EMIT_BPF_H
#define FLATRPC_GEN_EMIT_BPF_H

#include "spec.h"

/* A value as C sees it: an integer expression, or N bytes at a pointer. */
struct fr_cval {
	int is_bytes;
	char c[160];		/* int expression, or pointer to the bytes */
	unsigned n;		/* bytes: how many */
	const char *lit;	/* bytes: string constant (c unused) */
	size_t litlen;
	enum fr_type_kind kind;	/* int: source type, for the read width */
	int is_const;		/* an integer constant of the spec */
};

/* The state of one generated (method, element, direction) function. */
struct fr_bpf_gen;

/* One line of generated C at depth d. */
void fr_bpf_line(struct fr_bpf_gen *g, int d, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A fresh local holding an integer expression, of type k; *v names it.
 * Operators and built-ins go through these rather than into one nested C
 * expression, so generated lines stay short whatever the nesting. */
void fr_bpf_tmp_int(struct fr_bpf_gen *g, int d, struct fr_cval *v, enum fr_type_kind k,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A number for fresh names (t<N>, ...), unique in the function. */
int fr_bpf_new_tmp(struct fr_bpf_gen *g);
const struct fr_spec *fr_bpf_spec(const struct fr_bpf_gen *g);
const struct fr_method *fr_bpf_method(const struct fr_bpf_gen *g);
/* comparisons (and min/max) are signed if either side is i64 */
const char *fr_bpf_cast_of(const struct fr_cval *a, const struct fr_cval *b);

#endif

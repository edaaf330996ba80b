/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_spec.c - libFuzzer entry for the whole compiler front to back:
 * lex, parse, check, layout and every emitter, all in memory.
 *
 * Imports are not followed: the fuzzer must not read whatever paths an
 * input names, and a self-contained input (elements and service in one
 * buffer) reaches the same code. Diagnostics go to /dev/null rather than
 * nowhere so that the caret printer runs on every error too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

static FILE *sink;

/* Generated text is C source: a NUL inside would silently end it early. */
static void check_text(const struct fr_buf *b)
{
	if (b->p && strlen(b->p) != b->len)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sink = fopen("/dev/null", "w");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fr_diag d = { .out = sink };
	struct fr_buf b = { 0 };
	/* the library takes NUL-terminated text, as a file read gives it */
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;

	struct fr_spec *spec = fr_spec_load_buf("fuzz.anf", text, size, 0, &d);
	if (!d.n_errors && spec->svc) {
		/* the loader matches objects by hash: it must be a pure function */
		if (fr_spec_compute_hash(spec) != spec->hash)
			abort();
		fr_emit_abi(spec, spec->hash, &b);
		check_text(&b);
		b.len = 0;
		fr_emit_bpf(spec, &b);
		check_text(&b);
		b.len = 0;
		fr_emit_init(spec, &b);
		check_text(&b);
		b.len = 0;
		fr_emit_stubs_h(spec, &b);
		check_text(&b);
		b.len = 0;
		fr_emit_stubs_c(spec, &b);
		check_text(&b);
		b.len = 0;
		fr_emit_proto(spec, &b, &d);
		check_text(&b);
		b.len = 0;
		fr_emit_gateway(spec, &b, &d);
		check_text(&b);
		if (sink) {
			fr_print_layout(spec, sink);
			fr_print_placement(spec, sink);
		}
	}
	fr_buf_free(&b);
	fr_spec_free(spec);
	free(text);
	return 0;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * flatrpc_gen.h - the part of libflatrpc-spec that other tools use.
 *
 * flatrpc-load links libflatrpc-spec.a to check a spec, compute its hash and
 * build its BPF object at load time, without running flatrpc-gen.
 */
#ifndef FLATRPC_GEN_H
#define FLATRPC_GEN_H

#include <stdint.h>
#include <stdio.h>

struct fr_spec_info {
	char		service[32];
	uint64_t	spec_hash;	/* == <SVC>_SPEC_HASH of the generated code */
	unsigned	n_methods;
};

/* Parses and checks the spec at path (imports relative to it). Errors are
 * printed to diag (may be NULL) as file:line:col: error: ... Returns the
 * number of errors (0: *out is filled), or -errno if path cannot be read. */
int fr_spec_info_from_file(const char *path, FILE *diag, struct fr_spec_info *out);

/* Parses and checks the spec at path, then builds its BPF object into out
 * (codegen/object.h). Returns 0, the number of errors in the spec, -errno
 * if path cannot be read, or -EAGAIN when the object could not be built
 * (said on diag). */
int fr_spec_build_object(const char *path, const char *out, FILE *diag);

#endif

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * object.h - a spec's BPF object, built by clang from the generated headers
 * and the kernel side the tools carry (kern/ and include/, embedded at
 * build time by scripts/embed-sources.sh). flatrpc-gen --object and
 * flatrpc-load's load-time compile both go through fr_build_object(), so
 * the object a host builds ahead of time is the one the loader would.
 */
#ifndef FR_OBJECT_H
#define FR_OBJECT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct fr_embedded {
	const char		*path;	/* relative: kern/..., include/... */
	const unsigned char	*data;
	size_t			len;
};
extern const struct fr_embedded fr_bpf_sources[];	/* { 0 }-terminated */

/* FNV-1a 64 over the embedded sources' paths and bytes: with the spec's
 * hash, it names an object in a cache. */
uint64_t fr_bpf_sources_hash(void);

struct fr_spec;
/*
 * Writes spec's BPF object to out (through out.tmp.PID and a rename, so a
 * reader never sees half an object). clang is $FLATRPC_CLANG or the first
 * "clang" on PATH. Returns 0; FR_OBJ_NO_CLANG when clang cannot be run;
 * FR_OBJ_CLANG_FAILED when it failed (its messages went to stderr); or
 * -errno. Every failure is reported to diag in plain words.
 */
#define FR_OBJ_NO_CLANG		1
#define FR_OBJ_CLANG_FAILED	2
int fr_build_object(const struct fr_spec *spec, const char *out, FILE *diag);

#endif

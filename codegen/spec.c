/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* spec.c - the pipeline driver and the public library entry points. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "flatrpc_gen.h"
#include "object.h"
#include "spec.h"

static struct fr_spec *spec_new(const char *name)
{
	struct fr_spec *spec = calloc(1, sizeof(*spec));
	const char *base = strrchr(name, '/');

	if (!spec)
		abort();
	base = base ? base + 1 : name;
	spec->main_name = fr_arena_strndup(&spec->arena, base, strlen(base));
	return spec;
}

static void finish(struct fr_spec *spec, struct fr_diag *d)
{
	fr_check(spec, d);
	if (d->n_errors)
		return;
	fr_layout(spec);
	fr_layout_check(spec, d);
	spec->hash = fr_spec_compute_hash(spec);
}

struct fr_spec *fr_spec_load_buf(const char *name, const char *text, size_t len,
				 int follow_imports, struct fr_diag *d)
{
	struct fr_spec *spec = spec_new(name);
	struct fr_src *src = fr_spec_add_src(spec, name, text, len);

	fr_parse_src(spec, src, d, follow_imports);
	finish(spec, d);
	return spec;
}

struct fr_spec *fr_spec_load_string(const char *name, const char *text, struct fr_diag *d)
{
	return fr_spec_load_buf(name, text, strlen(text), 1, d);
}

struct fr_spec *fr_spec_load_file(const char *path, struct fr_diag *d, int *read_err)
{
	struct fr_spec *spec = spec_new(path);
	struct fr_buf b = { 0 };

	*read_err = fr_read_file(path, &b);
	if (*read_err)
		return spec;
	struct fr_src *src = fr_spec_add_src(spec, path, b.p ? b.p : "", b.len);
	fr_buf_free(&b);
	fr_parse_src(spec, src, d, 1);
	finish(spec, d);
	return spec;
}

void fr_spec_free(struct fr_spec *spec)
{
	if (!spec)
		return;
	fr_arena_free(&spec->arena);
	free(spec);
}

uint64_t fr_spec_compute_hash(const struct fr_spec *spec)
{
	struct fr_buf b = { 0 };
	uint64_t h = FR_FNV_OFFSET;

	/* the ABI header carries the hash itself, so hash it with 0 there */
	fr_emit_abi(spec, 0, &b);
	h = fr_fnv1a64(h, b.p, b.len);
	b.len = 0;
	fr_emit_bpf(spec, &b);
	h = fr_fnv1a64(h, b.p, b.len);
	b.len = 0;
	fr_emit_init(spec, &b);
	h = fr_fnv1a64(h, b.p, b.len);
	fr_buf_free(&b);
	return h;
}

int fr_spec_info_from_file(const char *path, FILE *diag, struct fr_spec_info *out)
{
	struct fr_diag d = { .out = diag };
	int err;
	struct fr_spec *spec = fr_spec_load_file(path, &d, &err);

	memset(out, 0, sizeof(*out));
	if (err) {
		fr_spec_free(spec);
		return err;
	}
	if (!d.n_errors && spec->svc) {
		snprintf(out->service, sizeof(out->service), "%s", spec->svc->name);
		out->spec_hash = spec->hash;
		out->n_methods = spec->svc->nmethods;
	}
	fr_spec_free(spec);
	return d.n_errors;
}

int fr_spec_build_object(const char *path, const char *out, FILE *diag)
{
	struct fr_diag d = { .out = diag };
	int err, rc;
	struct fr_spec *spec = fr_spec_load_file(path, &d, &err);

	if (err)
		rc = err;
	else if (d.n_errors)
		rc = d.n_errors;
	else
		rc = fr_build_object(spec, out, diag) ? -EAGAIN : 0;
	fr_spec_free(spec);
	return rc;
}

/* Leaves files whose text is unchanged alone, so make does not rebuild
 * what depends on them. */
static int write_file(const char *dir, const char *name, const struct fr_buf *b, FILE *diag)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (f) {
		char *old = malloc(b->len + 1);
		size_t n = old ? fread(old, 1, b->len + 1, f) : 0;
		int same = old && n == b->len && !memcmp(old, b->p, b->len);
		free(old);
		fclose(f);
		if (same)
			return 0;
	}
	f = fopen(path, "wb");
	if (!f || fwrite(b->p, 1, b->len, f) != b->len || fclose(f)) {
		int err = -errno;
		if (diag)
			fprintf(diag, "flatrpc-gen: error: cannot write %s: %s\n", path,
				strerror(errno));
		return err ? err : -EIO;
	}
	return 0;
}

int fr_emit_dir(const struct fr_spec *spec, const char *dir, FILE *diag)
{
	char name[300], cn[128];
	struct fr_buf b = { 0 };
	int err = 0;

	if (mkdir(dir, 0755) && errno != EEXIST) {
		err = -errno;
		if (diag)
			fprintf(diag, "flatrpc-gen: error: cannot create %s: %s\n", dir,
				strerror(errno));
		return err;
	}
	fr_cname(cn, sizeof(cn), spec->svc->name);

	fr_emit_abi(spec, spec->hash, &b);
	snprintf(name, sizeof(name), "%s.abi.h", cn);
	err = err ? err : write_file(dir, name, &b, diag);
	b.len = 0;
	fr_emit_bpf(spec, &b);
	err = err ? err : write_file(dir, "anf.bpf.h", &b, diag);
	b.len = 0;
	fr_emit_init(spec, &b);
	err = err ? err : write_file(dir, "init.h", &b, diag);
	b.len = 0;
	fr_emit_desc(spec, &b);
	err = err ? err : write_file(dir, "desc.h", &b, diag);
	b.len = 0;
	fr_emit_stubs_h(spec, &b);
	snprintf(name, sizeof(name), "%s_stubs.h", cn);
	err = err ? err : write_file(dir, name, &b, diag);
	b.len = 0;
	fr_emit_stubs_c(spec, &b);
	fr_emit_client_user(spec, &b);
	snprintf(name, sizeof(name), "%s_stubs.c", cn);
	err = err ? err : write_file(dir, name, &b, diag);
	fr_buf_free(&b);
	return err;
}

static unsigned chain_max(const struct fr_spec *spec)
{
	unsigned n = 1;

	for (unsigned i = 0; i < spec->svc->nmethods; i++)
		if (spec->svc->methods[i].nchain > n)
			n = spec->svc->methods[i].nchain;
	return n;
}

unsigned fr_elem_slot(const struct fr_spec *spec, unsigned method, unsigned pos, int resp)
{
	return (method * chain_max(spec) + pos) * 2 + !!resp;
}

unsigned fr_elem_slots(const struct fr_spec *spec)
{
	return (spec->svc->nmethods ? spec->svc->nmethods : 1) * chain_max(spec) * 2;
}

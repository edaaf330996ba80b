/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* util.c - text buffers, the AST arena, diagnostics, hashing, C names. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

static void die_oom(void)
{
	/* a compiler for small specs: running out of memory is not worth
	 * threading through every stage */
	fputs("flatrpc-gen: out of memory\n", stderr);
	abort();
}

void fr_buf_put(struct fr_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			die_oom();
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void fr_buf_printf(struct fr_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		fr_buf_put(b, tmp, n);
		return;
	}
	char *big = malloc(n + 1);
	if (!big)
		die_oom();
	va_start(ap, fmt);
	vsnprintf(big, n + 1, fmt, ap);
	va_end(ap);
	fr_buf_put(b, big, n);
	free(big);
}

void fr_buf_cstring(struct fr_buf *b, const char *s)
{
	fr_buf_put(b, "\"", 1);
	for (const char *c = s; *c; c++) {
		if (*c == '"' || *c == '\\')
			fr_buf_printf(b, "\\%c", *c);
		else if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			fr_buf_printf(b, "\\%03o", (unsigned char)*c);
		else
			fr_buf_put(b, c, 1);
	}
	fr_buf_put(b, "\"", 1);
}

void fr_buf_free(struct fr_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

struct fr_arena_blk {
	struct fr_arena_blk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

void *fr_arena_alloc(struct fr_arena *a, size_t n)
{
	struct fr_arena_blk *b = a->head;

	n = (n + 15) & ~(size_t)15;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 16384 ? n : 16384;
		b = calloc(1, sizeof(*b) + cap);
		if (!b)
			die_oom();
		b->cap = cap;
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

char *fr_arena_strndup(struct fr_arena *a, const char *s, size_t n)
{
	char *p = fr_arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

void fr_arena_free(struct fr_arena *a)
{
	struct fr_arena_blk *b = a->head, *nx;

	for (; b; b = nx) {
		nx = b->next;
		free(b);
	}
	a->head = NULL;
}

static void report(struct fr_diag *d, struct fr_loc loc, const char *kind,
		   const char *fmt, va_list ap)
{
	if (!d->out)
		return;
	if (loc.src)
		fprintf(d->out, "%s:%d:%d: %s: ", loc.src->name, loc.line, loc.col, kind);
	else
		fprintf(d->out, "flatrpc-gen: %s: ", kind);
	vfprintf(d->out, fmt, ap);
	fputc('\n', d->out);
	if (!loc.src || loc.line < 1)
		return;

	const char *p = loc.src->text, *end = p + loc.src->len;
	for (int l = 1; l < loc.line && p < end; p++)
		if (*p == '\n')
			l++;
	const char *e = p;
	while (e < end && *e != '\n')
		e++;
	fprintf(d->out, "%.*s\n", (int)(e - p), p);
	/* keep tabs in the caret line so it lines up under a tab-indented source */
	for (int c = 1; c < loc.col && p + c - 1 < e; c++)
		fputc(p[c - 1] == '\t' ? '\t' : ' ', d->out);
	fputs("^\n", d->out);
}

void fr_verror(struct fr_diag *d, struct fr_loc loc, const char *fmt, va_list ap)
{
	d->n_errors++;
	report(d, loc, "error", fmt, ap);
}

void fr_warn(struct fr_diag *d, struct fr_loc loc, const char *fmt, ...)
{
	va_list ap;

	d->n_warnings++;
	va_start(ap, fmt);
	report(d, loc, "warning", fmt, ap);
	va_end(ap);
}

void fr_error(struct fr_diag *d, struct fr_loc loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fr_verror(d, loc, fmt, ap);
	va_end(ap);
}

uint64_t fr_fnv1a64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

const char *fr_cname(char *buf, size_t n, const char *name)
{
	size_t i = 0;

	for (; name[i] && i + 1 < n; i++)
		buf[i] = name[i] == '-' ? '_' : name[i];
	buf[i] = 0;
	return buf;
}

const char *fr_cname_upper(char *buf, size_t n, const char *name)
{
	size_t i = 0;

	for (; name[i] && i + 1 < n; i++)
		buf[i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
	buf[i] = 0;
	return buf;
}

const char *fr_state_map_name(char *buf, size_t n, const struct fr_state *st)
{
	char e[64], s[64];

	snprintf(buf, n, "fr_%s_%s", fr_cname(e, sizeof(e), st->elem->name),
		 fr_cname(s, sizeof(s), st->name));
	return buf;
}

int fr_read_file(const char *path, struct fr_buf *b)
{
	FILE *f = fopen(path, "rb");
	char tmp[4096];
	size_t n;
	int err = 0;

	if (!f)
		return -errno;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		fr_buf_put(b, tmp, n);
	if (ferror(f))
		err = -EIO;
	fclose(f);
	if (err)
		fr_buf_free(b);
	return err;
}

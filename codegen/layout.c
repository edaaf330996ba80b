/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * layout.c - the wire layout of each method's request and response body.
 *
 * Fields an ANF reads come first, largest alignment first, so that BPF finds
 * each at a constant, naturally aligned offset right after one bounds check.
 * Other fixed-width fields follow, then variable fields (le16 length +
 * bytes), which ANFs never touch.
 */
#include <stdlib.h>
#include <string.h>

#include "spec.h"

static unsigned align_of(const struct fr_type *t)
{
	/* strings are byte arrays: any offset is aligned */
	return fr_type_is_fixed_int(t->kind) ? fr_type_size(t) : 1;
}

static int chain_reads(const struct fr_method *m, int resp, const char *field,
		       struct fr_buf *who)
{
	int n = 0;

	for (unsigned i = 0; i < m->nchain; i++) {
		const struct fr_element *el = m->chain[i].elem;
		if (!el)
			continue;
		const struct fr_reads *r = resp ? &el->resp_reads : &el->req_reads;
		for (unsigned j = 0; j < r->n; j++) {
			if (strcmp(r->v[j], field))
				continue;
			if (who) {
				if (n)
					fr_buf_put(who, ", ", 2);
				fr_buf_put(who, el->name, strlen(el->name));
			}
			n++;
			break;
		}
	}
	return n;
}

static void layout_one(struct fr_spec *spec, const struct fr_method *m, int resp,
		       const struct fr_fields *fs, struct fr_layout *l)
{
	struct fr_slot *v = fr_arena_alloc(&spec->arena, (fs->n + 1) * sizeof(*v));
	unsigned n = 0, off = 0, max;

	memset(l, 0, sizeof(*l));
	/* 1. ANF-read, by alignment (8, 4, 2, 1), stable in declaration order */
	for (unsigned al = 8; al >= 1; al /= 2) {
		for (unsigned i = 0; i < fs->n; i++) {
			struct fr_field *f = &fs->v[i];
			if (f->type.kind == TY_BYTES || f->type.kind == TY_MAP ||
			    f->type.kind == TY_NONE || align_of(&f->type) != al)
				continue;
			struct fr_buf who = { 0 };
			if (!chain_reads(m, resp, f->name, &who))
				continue;
			v[n] = (struct fr_slot){ .f = f, .fixed = 1, .anf_read = 1, .off = off,
						 .size = fr_type_size(&f->type) };
			v[n].readers = fr_arena_strndup(&spec->arena, who.p, who.len);
			fr_buf_free(&who);
			off += v[n].size;
			n++;
		}
	}
	/* 2. other fixed-width fields, declaration order */
	for (unsigned i = 0; i < fs->n; i++) {
		struct fr_field *f = &fs->v[i];
		if (!fr_type_is_fixed_int(f->type.kind) || chain_reads(m, resp, f->name, NULL))
			continue;
		v[n] = (struct fr_slot){ .f = f, .fixed = 1, .off = off,
					 .size = fr_type_size(&f->type), .readers = "-" };
		off += v[n].size;
		n++;
	}
	l->fixed = off;
	max = off;
	/* 3. variable fields, declaration order; .off is the smallest offset
	 * (every earlier variable field empty) */
	unsigned minoff = off;
	for (unsigned i = 0; i < fs->n; i++) {
		struct fr_field *f = &fs->v[i];
		if (f->type.kind != TY_STRING && f->type.kind != TY_BYTES)
			continue;
		if (f->type.kind == TY_STRING && chain_reads(m, resp, f->name, NULL))
			continue;
		v[n] = (struct fr_slot){ .f = f, .fixed = 0, .off = minoff,
					 .size = f->type.n, .readers = "-" };
		max += 2 + f->type.n;
		minoff += 2;
		n++;
	}
	l->v = v;
	l->n = n;
	l->max = max;
}

void fr_layout(struct fr_spec *spec)
{
	struct fr_service *svc = spec->svc;

	if (!svc)
		return;
	for (unsigned i = 0; i < svc->nmethods; i++) {
		struct fr_method *m = &svc->methods[i];
		layout_one(spec, m, 0, &m->req, &m->lreq);
		layout_one(spec, m, 1, &m->resp, &m->lresp);
	}
}

const struct fr_slot *fr_layout_find(const struct fr_layout *l, const char *field)
{
	for (unsigned i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].f->name, field))
			return &l->v[i];
	return NULL;
}

static void print_one(const char *dir, const struct fr_layout *l, FILE *out)
{
	char ty[64], off[32], size[32];

	fprintf(out, "  %s:\n", dir);
	fprintf(out, "    %-20s %-14s %7s %9s  %s\n", "field", "type", "offset", "size", "read by");
	for (unsigned i = 0; i < l->n; i++) {
		const struct fr_slot *s = &l->v[i];
		if (s->fixed) {
			snprintf(off, sizeof(off), "%u", s->off);
			snprintf(size, sizeof(size), "%u", s->size);
		} else {
			/* after earlier variable fields: only a lower bound is static */
			snprintf(off, sizeof(off), "%s%u", i && !l->v[i - 1].fixed ? ">=" : "",
				 s->off);
			snprintf(size, sizeof(size), "2+%u", s->size);
		}
		fprintf(out, "    %-20s %-14s %7s %9s  %s\n", s->f->name,
			fr_type_str(&s->f->type, ty, sizeof(ty)), off, size, s->readers);
	}
	fprintf(out, "    header: %u fixed bytes, %u bytes at most\n", l->fixed, l->max);
}

void fr_print_layout(const struct fr_spec *spec, FILE *out)
{
	const struct fr_service *svc = spec->svc;

	if (!svc)
		return;
	fprintf(out, "service %s (port %u, spec hash 0x%016llx)\n", svc->name, svc->port,
		(unsigned long long)spec->hash);
	for (unsigned i = 0; i < svc->nmethods; i++) {
		const struct fr_method *m = &svc->methods[i];
		fprintf(out, "\nmethod %s (id %u)\n", m->name, m->id);
		print_one("request", &m->lreq, out);
		print_one("response", &m->lresp, out);
	}
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * emit_init.c - the tables a loader needs besides the programs: method and
 * error names, the slots of elem_verdicts, the Map states, and the map
 * updates of every element's init(), evaluated here, at compile time, into
 * the exact byte layout of the maps (little-endian integers, zero-padded
 * strings), so the loader just copies. fr_spec_tables() walks them once;
 * init.h (for the BPF table tests) and desc.h (the object's own copy, which
 * flatrpc-load and the status tools read) are two printers of that walk.
 */
#include <string.h>

#include "spec.h"

static unsigned put_bytes(unsigned char *v, const struct fr_type *t, const struct fr_expr *e)
{
	unsigned n = fr_type_size(t);

	memset(v, 0, FR_MAX_INIT_BYTES);
	if (n > FR_MAX_INIT_BYTES)
		n = FR_MAX_INIT_BYTES;
	if (t->kind == TY_TUPLE) {
		/* packed, as the BPF side declares it: each element in turn */
		for (unsigned k = 0, o = 0; k < t->n && k < e->nargs; k++) {
			unsigned w = fr_type_size(&t->elems[k]);
			for (unsigned i = 0; i < w && i < 8 && o + i < n; i++)
				v[o + i] = (unsigned char)(e->args[k]->ival >> (8 * i));
			o += w;
		}
	} else if (t->kind == TY_STRING)
		memcpy(v, e->s, e->slen < n ? e->slen : n);
	else
		for (unsigned i = 0; i < n && i < 8; i++)
			v[i] = (unsigned char)(e->ival >> (8 * i));
	return n;
}

static int is_set_of(const struct fr_stmt *s, const struct fr_state *st)
{
	return s->kind == S_SET && s->e->args[0]->st == st;
}

/* Is statement j of init() the last one that sets state st? */
static int last_set(const struct fr_element *el, unsigned j, const struct fr_state *st)
{
	for (unsigned q = j + 1; q < el->init.body.n; q++)
		if (is_set_of(el->init.body.v[q], st))
			return 0;
	return 1;
}

/* "el.init(): st[key] = value", printable, with nothing that ends a C comment */
static void describe(struct fr_buf *c, const struct fr_element *el, const struct fr_state *st,
		     const struct fr_expr *const kv[2])
{
	fr_buf_printf(c, "%s.init(): %s[", el->name, st->name);
	for (int q = 0; q < 2; q++) {
		if (kv[q]->kind == E_STR) {
			fr_buf_put(c, "'", 1);
			for (size_t i = 0; i < kv[q]->slen; i++) {
				unsigned char ch = (unsigned char)kv[q]->s[i];
				if (ch < 0x20 || ch > 0x7e || ch == '*' || ch == '/')
					fr_buf_printf(c, "\\x%02x", ch);
				else
					fr_buf_put(c, (char *)&ch, 1);
			}
			fr_buf_put(c, "'", 1);
		} else if (kv[q]->kind == E_TUPLE) {
			for (unsigned a = 0; a < kv[q]->nargs; a++)
				fr_buf_printf(c, "%s%llu", a ? ", " : "(",
					      (unsigned long long)kv[q]->args[a]->ival);
			fr_buf_printf(c, ")");
		} else {
			fr_buf_printf(c, "%llu", (unsigned long long)kv[q]->ival);
		}
		if (!q)
			fr_buf_printf(c, "] = ");
	}
}

static void init_entry(const struct fr_tables *t, void *ctx, const struct fr_state *st,
		       const char *comment, const struct fr_type *kt, const struct fr_expr *k,
		       const struct fr_type *vt, const struct fr_expr *v)
{
	static unsigned char kb[FR_MAX_INIT_BYTES], vb[FR_MAX_INIT_BYTES];
	char mn[160];
	unsigned ks = put_bytes(kb, kt, k), vs = put_bytes(vb, vt, v);

	t->init(ctx, fr_state_map_name(mn, sizeof(mn), st), comment, kb, ks, vb, vs);
}

void fr_spec_tables(const struct fr_spec *spec, const struct fr_tables *t, void *ctx)
{
	const struct fr_service *svc = spec->svc;
	struct fr_buf c = { 0 };

	for (unsigned i = 0; i < svc->nmethods; i++)
		t->method(ctx, svc->methods[i].name);
	for (unsigned i = 0; i < spec->nerrs; i++)
		t->error(ctx, spec->errs[i].msg);
	/* by method, then req hooks before resp ones, in chain order */
	for (unsigned i = 0; i < svc->nmethods; i++) {
		const struct fr_method *m = &svc->methods[i];
		for (int resp = 0; resp < 2; resp++)
			for (unsigned j = 0; j < m->nchain; j++) {
				const struct fr_element *el = m->chain[j].elem;
				if (!(resp ? el->resp.present : el->req.present))
					continue;
				t->elem(ctx, fr_elem_slot(spec, i, j, resp), i, j, el->name,
					resp ? "resp" : m->chain[j].side == FR_CLIENT ?
					"client_req" : "req");
			}
	}
	/* by their state_limits slot */
	for (unsigned i = 0; i < spec->nelems; i++)
		for (unsigned j = 0; j < spec->elems[i]->nstates; j++) {
			const struct fr_state *st = &spec->elems[i]->states[j];
			char mn[160];
			if (st->map_index >= 0)
				t->state(ctx, fr_state_map_name(mn, sizeof(mn), st));
		}

	for (unsigned i = 0; i < spec->nelems; i++) {
		const struct fr_element *el = spec->elems[i];
		if (!el->init.present || !el->used)
			continue;
		for (unsigned j = 0; j < el->init.body.n; j++) {
			const struct fr_stmt *s = el->init.body.v[j];
			if (s->kind != S_SET)
				continue;	/* the checker allows nothing else */
			const struct fr_state *st = s->e->args[0]->st;	/* the checker's */
			if (!st)
				continue;
			/* a scalar is slot 0 of a one-entry array */
			static const struct fr_type slot_type = { .kind = TY_U32 };
			static const struct fr_expr slot0 = { .kind = E_INT };
			int vec = st->type.kind == TY_VEC;
			int scalar = !vec && st->type.kind != TY_MAP;
			const struct fr_type *kt = scalar || vec ? &slot_type : st->type.key;
			const struct fr_type *vt = scalar ? &st->type : st->type.val;
			/* a Vec's length (its slot N) covers the highest slot set */
			struct fr_expr lenv[2] = { { .kind = E_INT }, { .kind = E_INT } };
			const struct fr_expr *len = vec && last_set(el, j, st) ? lenv : NULL;
			for (unsigned r = 0; len && r <= j; r++) {
				const struct fr_stmt *w = el->init.body.v[r];
				if (is_set_of(w, st) && w->e->args[1]->ival + 1 > lenv[1].ival)
					lenv[1].ival = w->e->args[1]->ival + 1;
			}
			lenv[0].ival = st->type.n;
			const struct fr_expr *kv[2] = { scalar ? &slot0 : s->e->args[1],
							s->e->args[scalar ? 1 : 2] };
			c.len = 0;
			describe(&c, el, st, kv);
			init_entry(t, ctx, st, c.p, kt, kv[0], vt, kv[1]);
			if (!len)
				continue;
			c.len = 0;
			fr_buf_printf(&c, "%s.init(): the length of %s", el->name, st->name);
			init_entry(t, ctx, st, c.p, kt, &len[0], vt, &len[1]);
		}
	}
	fr_buf_free(&c);
}

/* ---- init.h ------------------------------------------------------------------ */

struct init_h {
	struct fr_buf *b, methods, errors, elems, states, table;
	unsigned n;
};

static void ih_method(void *ctx, const char *name)
{
	struct init_h *h = ctx;

	fr_buf_printf(&h->methods, "%s \"%s\"", h->methods.len ? "," : "", name);
}

static void ih_error(void *ctx, const char *msg)
{
	struct init_h *h = ctx;

	fr_buf_printf(&h->errors, " ");
	fr_buf_cstring(&h->errors, msg);
	fr_buf_printf(&h->errors, ",");
}

static void ih_elem(void *ctx, unsigned slot, unsigned method, unsigned pos, const char *el,
		    const char *hook)
{
	struct init_h *h = ctx;

	fr_buf_printf(&h->elems, " { %u, %u, %u, \"%s\", \"%s\" },", slot, method, pos, el, hook);
}

static void ih_state(void *ctx, const char *pin)
{
	struct init_h *h = ctx;

	fr_buf_printf(&h->states, " \"%s\",", pin);
}

static void put_array(struct fr_buf *b, const char *name, const unsigned char *v, unsigned n)
{
	fr_buf_printf(b, "static const __u8 %s[%u] __attribute__((unused)) = {", name, n);
	for (unsigned i = 0; i < n; i++)
		fr_buf_printf(b, "%s0x%02x", i % 12 ? ", " : (i ? ",\n\t" : "\n\t"), v[i]);
	fr_buf_printf(b, "\n};\n");
}

static void ih_init(void *ctx, const char *map, const char *comment, const unsigned char *k,
		    unsigned ks, const unsigned char *v, unsigned vs)
{
	struct init_h *h = ctx;
	char kname[64], vname[64];

	snprintf(kname, sizeof(kname), "flatrpc_init_%u_key", h->n);
	snprintf(vname, sizeof(vname), "flatrpc_init_%u_value", h->n);
	h->n++;
	fr_buf_printf(h->b, "\n/* %s */\n", comment);
	put_array(h->b, kname, k, ks);
	put_array(h->b, vname, v, vs);
	fr_buf_printf(&h->table, "\t{ \"%s\", %s, %u, %s, %u },\n", map, kname, ks, vname, vs);
}

static const struct fr_tables init_h_printer = {
	.method = ih_method, .error = ih_error, .elem = ih_elem, .state = ih_state,
	.init = ih_init,
};

void fr_emit_init(const struct fr_spec *spec, struct fr_buf *b)
{
	const struct fr_service *svc = spec->svc;
	struct init_h h = { .b = b };
	char sv[64], SV[64];

	fr_cname(sv, sizeof(sv), svc->name);
	fr_cname_upper(SV, sizeof(SV), svc->name);
	fr_emit_banner(spec, b);
	fr_buf_printf(b, "/* State seeded by the elements' init(); include after \"loader.h\". */\n");
	fr_buf_printf(b, "#ifndef FR_%s_INIT_H\n#define FR_%s_INIT_H\n\n", SV, SV);
	fr_buf_printf(b, "#include \"%s.abi.h\"\n\n", sv);
	fr_buf_printf(b, "#define FLATRPC_SPEC_SERVICE \"%s\"\n", svc->name);
	fr_buf_printf(b, "#define FLATRPC_SPEC_HASH %s_SPEC_HASH\n", SV);
	fr_buf_printf(b, "#define FLATRPC_SPEC_FILE \"%s\"\n", spec->main_name);
	fr_buf_printf(b, "#define FLATRPC_SPEC_PORT %s_PORT\n", SV);
	/* the init entries print into b as they come; the lists are kept
	 * apart and go first */
	struct fr_buf entries = { 0 };
	h.b = &entries;
	fr_spec_tables(spec, &init_h_printer, &h);
	/* method names by id, for flatrpc-load --status */
	fr_buf_printf(b, "#define FLATRPC_SPEC_METHODS {%s }\n", h.methods.len ? h.methods.p : "");
	/* ERR status names by code - 1, for the figures' status labels;
	 * NULL-terminated, so that a spec without errors has a list too */
	fr_buf_printf(b, "#define FLATRPC_SPEC_ERRORS {%s NULL }\n", h.errors.len ? h.errors.p : "");
	/* the slots of elem_verdicts (anf.bpf.h): method, chain position,
	 * element, hook; NULL-terminated */
	fr_buf_printf(b, "#define FLATRPC_SPEC_ELEMENTS {%s { 0, 0, 0, NULL, NULL } }\n",
		      h.elems.len ? h.elems.p : "");
	fr_buf_printf(b, "#define FLATRPC_SPEC_ELEM_SLOTS %u\n", fr_elem_slots(spec));
	/* Map states' pins by their state_limits slot, for --status and the
	 * loader's entry count; NULL-terminated, so that none is a list too */
	fr_buf_printf(b, "#define FLATRPC_SPEC_STATES {%s NULL }\n", h.states.len ? h.states.p : "");
	if (entries.len)
		fr_buf_put(b, entries.p, entries.len);
	fr_buf_printf(b, "\n__attribute__((unused))\n"
		      "static const struct flatrpc_init_entry flatrpc_init_table[] = {\n");
	if (h.n)
		fr_buf_put(b, h.table.p, h.table.len);
	else
		fr_buf_printf(b, "\t{ 0 },\t/* C has no empty arrays; FLATRPC_INIT_COUNT is 0 */\n");
	fr_buf_printf(b, "};\n#define FLATRPC_INIT_COUNT %u\n\n#endif /* FR_%s_INIT_H */\n", h.n, SV);
	fr_buf_free(&entries);
	fr_buf_free(&h.methods);
	fr_buf_free(&h.errors);
	fr_buf_free(&h.elems);
	fr_buf_free(&h.states);
	fr_buf_free(&h.table);
}

/* ---- desc.h ------------------------------------------------------------------ */

/*
 * The object's description, in the section .rodata.desc, as lines of
 * "key value...": flatrpc-load parses it (user/load/desc.c) and pins the
 * map libbpf makes of the section, so that --status and flatrpc-stat know
 * any loaded spec's names without its source. A word is escaped as %XX for
 * bytes outside '!'..'~' and for '%' itself, so no word holds a space.
 */
static void desc_word(struct fr_buf *b, const char *s, size_t n)
{
	fr_buf_put(b, " ", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= ' ' || ch > '~' || ch == '%')
			fr_buf_printf(b, "%%%02x", ch);
		else
			fr_buf_put(b, (const char *)&ch, 1);
	}
}

static void desc_hex(struct fr_buf *b, const unsigned char *v, unsigned n)
{
	fr_buf_put(b, " ", 1);
	for (unsigned i = 0; i < n; i++)
		fr_buf_printf(b, "%02x", v[i]);
}

static void d_method(void *ctx, const char *name)
{
	fr_buf_printf(ctx, "method");
	desc_word(ctx, name, strlen(name));
	fr_buf_printf(ctx, "\n");
}

static void d_error(void *ctx, const char *msg)
{
	fr_buf_printf(ctx, "error");
	desc_word(ctx, msg, strlen(msg));
	fr_buf_printf(ctx, "\n");
}

static void d_elem(void *ctx, unsigned slot, unsigned method, unsigned pos, const char *el,
		   const char *hook)
{
	fr_buf_printf(ctx, "elem %u %u %u %s", slot, method, pos, hook);
	desc_word(ctx, el, strlen(el));
	fr_buf_printf(ctx, "\n");
}

static void d_state(void *ctx, const char *pin)
{
	fr_buf_printf(ctx, "state");
	desc_word(ctx, pin, strlen(pin));
	fr_buf_printf(ctx, "\n");
}

static void d_init(void *ctx, const char *map, const char *comment, const unsigned char *k,
		   unsigned ks, const unsigned char *v, unsigned vs)
{
	fr_buf_printf(ctx, "init");
	desc_word(ctx, map, strlen(map));
	desc_hex(ctx, k, ks);
	desc_hex(ctx, v, vs);
	fr_buf_printf(ctx, "\n");
}

static const struct fr_tables desc_printer = {
	.method = d_method, .error = d_error, .elem = d_elem, .state = d_state, .init = d_init,
};

void fr_desc_text(const struct fr_spec *spec, uint64_t hash, struct fr_buf *b)
{
	fr_buf_printf(b, "flatrpc-desc %u\nservice", FR_DESC_VERSION);
	desc_word(b, spec->svc->name, strlen(spec->svc->name));
	fr_buf_printf(b, "\nhash %016llx\nfile", (unsigned long long)hash);
	desc_word(b, spec->main_name, strlen(spec->main_name));
	fr_buf_printf(b, "\nport %u\n", spec->svc->port);
	fr_spec_tables(spec, &desc_printer, b);
}

void fr_emit_desc(const struct fr_spec *spec, struct fr_buf *b)
{
	struct fr_buf t = { 0 };

	fr_desc_text(spec, spec->hash, &t);
	fr_emit_banner(spec, b);
	fr_buf_printf(b, "/* What flatrpc-load reads of this object (codegen/emit_init.c);\n"
		      " * included by kern/flatrpc.bpf.c. */\n"
		      "__attribute__((used))\n"
		      "const char flatrpc_desc[] SEC(\".rodata.desc\") =\n");
	for (size_t i = 0; i < t.len;) {
		size_t e = i;
		while (e < t.len && t.p[e] != '\n')
			e++;
		fr_buf_printf(b, "\t\"");
		for (size_t q = i; q < e; q++) {
			if (t.p[q] == '"' || t.p[q] == '\\')
				fr_buf_put(b, "\\", 1);
			fr_buf_put(b, &t.p[q], 1);
		}
		fr_buf_printf(b, "\\n\"\n");
		i = e + 1;
	}
	fr_buf_printf(b, "\t;\n");
	fr_buf_free(&t);
}

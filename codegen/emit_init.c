/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * emit_init.c - init.h: the map updates of every element's init(),
 * evaluated here, at compile time, into the exact byte layout of the maps
 * (little-endian integers, zero-padded strings), so the loader just copies.
 */
#include <string.h>

#include "spec.h"

static void put_bytes(struct fr_buf *b, const char *name, const struct fr_type *t,
		      const struct fr_expr *e)
{
	unsigned n = fr_type_size(t);
	unsigned char v[FR_MAX_INIT_BYTES] = { 0 };

	if (n > sizeof(v))
		n = sizeof(v);
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
	fr_buf_printf(b, "static const __u8 %s[%u] __attribute__((unused)) = {", name, n);
	for (unsigned i = 0; i < n; i++)
		fr_buf_printf(b, "%s0x%02x", i % 12 ? ", " : (i ? ",\n\t" : "\n\t"), v[i]);
	fr_buf_printf(b, "\n};\n");
}


/* Entry n: its key and value arrays in b, its row in table. */
static void put_entry(struct fr_buf *b, struct fr_buf *table, unsigned n,
		      const struct fr_state *st, const struct fr_type *kt,
		      const struct fr_expr *k, const struct fr_type *vt, const struct fr_expr *v)
{
	char mn[160], kname[64], vname[64];

	snprintf(kname, sizeof(kname), "flatrpc_init_%u_key", n);
	snprintf(vname, sizeof(vname), "flatrpc_init_%u_value", n);
	put_bytes(b, kname, kt, k);
	put_bytes(b, vname, vt, v);
	fr_buf_printf(table, "\t{ \"%s\", %s, %u, %s, %u },\n",
		      fr_state_map_name(mn, sizeof(mn), st),
		      kname, fr_type_size(kt), vname, fr_type_size(vt));
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

void fr_emit_init(const struct fr_spec *spec, struct fr_buf *b)
{
	const struct fr_service *svc = spec->svc;
	struct fr_buf table = { 0 };
	char sv[64], SV[64];
	unsigned n = 0;

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
	/* method names by id, for flatrpc-load --status */
	fr_buf_printf(b, "#define FLATRPC_SPEC_METHODS {");
	for (unsigned i = 0; i < svc->nmethods; i++)
		fr_buf_printf(b, "%s \"%s\"", i ? "," : "", svc->methods[i].name);
	fr_buf_printf(b, " }\n");
	/* ERR status names by code - 1, for the figures' status labels;
	 * NULL-terminated, so that a spec without errors has a list too */
	fr_buf_printf(b, "#define FLATRPC_SPEC_ERRORS {");
	for (unsigned i = 0; i < spec->nerrs; i++) {
		fr_buf_printf(b, " ");
		fr_buf_cstring(b, spec->errs[i].msg);
		fr_buf_printf(b, ",");
	}
	fr_buf_printf(b, " NULL }\n");
	/* the slots of elem_verdicts (anf.bpf.h): method, chain position,
	 * element, hook; NULL-terminated */
	fr_buf_printf(b, "#define FLATRPC_SPEC_ELEMENTS {");
	for (unsigned i = 0; i < svc->nmethods; i++) {
		const struct fr_method *m = &svc->methods[i];
		for (int resp = 0; resp < 2; resp++)
			for (unsigned j = 0; j < m->nchain; j++) {
				const struct fr_element *el = m->chain[j].elem;
				if (!(resp ? el->resp.present : el->req.present))
					continue;
				fr_buf_printf(b, " { %u, %u, %u, \"%s\", \"%s\" },",
					      fr_elem_slot(spec, i, j, resp), i, j, el->name,
					      resp ? "resp" : m->chain[j].side == FR_CLIENT ?
					      "client_req" : "req");
			}
	}
	fr_buf_printf(b, " { 0, 0, 0, NULL, NULL } }\n");
	fr_buf_printf(b, "#define FLATRPC_SPEC_ELEM_SLOTS %u\n", fr_elem_slots(spec));
	/* Map states' pins by their state_limits slot, for --status and the
	 * loader's entry count; NULL-terminated, so that none is a list too */
	fr_buf_printf(b, "#define FLATRPC_SPEC_STATES {");
	for (unsigned i = 0; i < spec->nelems; i++)
		for (unsigned j = 0; j < spec->elems[i]->nstates; j++) {
			const struct fr_state *st = &spec->elems[i]->states[j];
			char mn[160];
			if (st->map_index >= 0)
				fr_buf_printf(b, " \"%s\",", fr_state_map_name(mn, sizeof(mn), st));
		}
	fr_buf_printf(b, " NULL }\n");

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
			fr_buf_printf(b, "\n/* %s.init(): %s[", el->name, st->name);
			const struct fr_expr *kv[2] = { scalar ? &slot0 : s->e->args[1],
							s->e->args[scalar ? 1 : 2] };
			for (int q = 0; q < 2; q++) {
				if (kv[q]->kind == E_STR) {
					fr_buf_put(b, "'", 1);
					for (size_t c = 0; c < kv[q]->slen; c++) {
						unsigned char ch = (unsigned char)kv[q]->s[c];
						/* keep the comment a comment */
						if (ch < 0x20 || ch > 0x7e || ch == '*' || ch == '/')
							fr_buf_printf(b, "\\x%02x", ch);
						else
							fr_buf_put(b, (char *)&ch, 1);
					}
					fr_buf_put(b, "'", 1);
				} else if (kv[q]->kind == E_TUPLE) {
					for (unsigned a = 0; a < kv[q]->nargs; a++)
						fr_buf_printf(b, "%s%llu", a ? ", " : "(",
							      (unsigned long long)kv[q]->args[a]->ival);
					fr_buf_printf(b, ")");
				} else {
					fr_buf_printf(b, "%llu", (unsigned long long)kv[q]->ival);
				}
				fr_buf_printf(b, "%s", q ? " */\n" : "] = ");
			}
			put_entry(b, &table, n++, st, kt, kv[0], vt, kv[1]);
			if (!len)
				continue;
			fr_buf_printf(b, "\n/* %s.init(): the length of %s */\n", el->name, st->name);
			put_entry(b, &table, n++, st, kt, &len[0], vt, &len[1]);
		}
	}
	fr_buf_printf(b, "\n__attribute__((unused))\n"
		      "static const struct flatrpc_init_entry flatrpc_init_table[] = {\n");
	if (n)
		fr_buf_put(b, table.p, table.len);
	else
		fr_buf_printf(b, "\t{ 0 },\t/* C has no empty arrays; FLATRPC_INIT_COUNT is 0 */\n");
	fr_buf_printf(b, "};\n#define FLATRPC_INIT_COUNT %u\n\n#endif /* FR_%s_INIT_H */\n", n, SV);
	fr_buf_free(&table);
}

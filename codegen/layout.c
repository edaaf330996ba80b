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

#include "flatrpc_abi.h"
#include "spec.h"

static unsigned align_of(const struct fr_type *t)
{
	/* strings are byte arrays: any offset is aligned */
	return fr_type_is_fixed_int(t->kind) ? fr_type_size(t) : 1;
}

/* How many elements of m's chains on `side` (or both, side < 0) read the
 * field; their names go to who, a client: one marked as such. */
static int chain_reads(const struct fr_method *m, int resp, const char *field, int side,
		       struct fr_buf *who)
{
	int n = 0;

	for (unsigned i = 0; i < m->nchain; i++) {
		const struct fr_element *el = m->chain[i].elem;
		if (!el || (side >= 0 && (int)m->chain[i].side != side))
			continue;
		const struct fr_reads *r = resp ? &el->resp_reads : &el->req_reads;
		for (unsigned j = 0; j < r->n; j++) {
			if (strcmp(r->v[j], field))
				continue;
			if (who) {
				if (n)
					fr_buf_put(who, ", ", 2);
				fr_buf_put(who, el->name, strlen(el->name));
				if (m->chain[i].side == FR_CLIENT)
					fr_buf_printf(who, " (client)");
			}
			n++;
			break;
		}
	}
	return n;
}

/* Whether a handler body has set(param, 'field', ...), in any arm or loop. */
static int block_sets(const struct fr_block *b, const char *param, const char *field)
{
	size_t flen = strlen(field);

	for (unsigned i = 0; i < b->n; i++) {
		const struct fr_stmt *s = b->v[i];
		const struct fr_expr *e = s->e;
		if (s->kind == S_SET && e && e->nargs == 3 && e->args[0]->kind == E_NAME &&
		    !strcmp(e->args[0]->s, param) && e->args[1]->kind == E_STR &&
		    e->args[1]->slen == flen && !memcmp(e->args[1]->s, field, flen))
			return 1;
		for (unsigned j = 0; j < s->narms; j++)
			if (block_sets(&s->arms[j].body, param, field))
				return 1;
		if (s->kind == S_FOREACH && block_sets(&s->body, param, field))
			return 1;
	}
	return 0;
}

static int client_sets(const struct fr_method *m, const char *field)
{
	for (unsigned i = 0; i < m->nchain; i++) {
		const struct fr_element *el = m->chain[i].elem;
		if (m->chain[i].side == FR_CLIENT && el && el->req.present && el->req.param &&
		    block_sets(&el->req.body, el->req.param, field))
			return 1;
	}
	return 0;
}

/*
 * Metadata that only client: elements read never needs to leave the client
 * host: they run before the wire. The method's own request fields are the
 * server application's input, so they always go, and so does a field a
 * client: element writes: the write is meant for the server.
 */
int fr_field_stripped(const struct fr_method *m, const struct fr_field *f)
{
	return f->is_meta && chain_reads(m, 0, f->name, FR_CLIENT, NULL) &&
	       !chain_reads(m, 0, f->name, FR_SERVER, NULL) && !client_sets(m, f->name);
}

static int stripped(const struct fr_method *m, int resp, const struct fr_field *f)
{
	return !resp && fr_field_stripped(m, f);
}

/* Adds the fixed slots of fields with strip == want that an ANF reads, by
 * alignment (8, 4, 2, 1), stable in declaration order. */
static unsigned anf_slots(struct fr_spec *spec, const struct fr_method *m, int resp,
			  const struct fr_fields *fs, int want, struct fr_slot *v, unsigned *n,
			  unsigned off)
{
	for (unsigned al = 8; al >= 1; al /= 2) {
		for (unsigned i = 0; i < fs->n; i++) {
			struct fr_field *f = &fs->v[i];
			if (f->type.kind == TY_BYTES || f->type.kind == TY_MAP ||
			    f->type.kind == TY_NONE || align_of(&f->type) != al ||
			    stripped(m, resp, f) != want)
				continue;
			struct fr_buf who = { 0 };
			if (!chain_reads(m, resp, f->name, -1, &who))
				continue;
			v[*n] = (struct fr_slot){ .f = f, .fixed = 1, .anf_read = 1, .off = off,
						  .size = fr_type_size(&f->type), .stripped = want };
			v[*n].readers = fr_arena_strndup(&spec->arena, who.p, who.len);
			fr_buf_free(&who);
			off += v[*n].size;
			(*n)++;
		}
	}
	return off;
}

static void layout_one(struct fr_spec *spec, const struct fr_method *m, int resp,
		       const struct fr_fields *fs, struct fr_layout *l)
{
	struct fr_slot *v = fr_arena_alloc(&spec->arena, (fs->n + 1) * sizeof(*v));
	unsigned n = 0, off, wire, max;

	memset(l, 0, sizeof(*l));
	/* 1. what the server's ANFs read (or a client: one, when it is not
	 * metadata) */
	off = anf_slots(spec, m, resp, fs, 0, v, &n, 0);
	/* 2. other fixed-width fields, declaration order */
	for (unsigned i = 0; i < fs->n; i++) {
		struct fr_field *f = &fs->v[i];
		if (!fr_type_is_fixed_int(f->type.kind) || chain_reads(m, resp, f->name, -1, NULL))
			continue;
		v[n] = (struct fr_slot){ .f = f, .fixed = 1, .off = off,
					 .size = fr_type_size(&f->type), .readers = "-" };
		off += v[n].size;
		n++;
	}
	/* 3. the stripped fields, last of the fixed part, so that cutting them
	 * moves no field that stays */
	wire = off;
	off = anf_slots(spec, m, resp, fs, 1, v, &n, off);
	l->fixed = off;
	l->strip = off - wire;
	max = off;
	/* 4. variable fields, declaration order; .off is the smallest offset
	 * (every earlier variable field empty), as the client builds it */
	unsigned minoff = off;
	for (unsigned i = 0; i < fs->n; i++) {
		struct fr_field *f = &fs->v[i];
		if (f->type.kind != TY_STRING && f->type.kind != TY_BYTES)
			continue;
		if (f->type.kind == TY_STRING && chain_reads(m, resp, f->name, -1, NULL))
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

/*
 * A body larger than FLATRPC_FRAG_CHUNK travels in fragments, and only the
 * first one is seen by the ANFs: the fixed part (every ANF-read field) must
 * fit in it, and the whole body in FLATRPC_FRAG_MAX fragments.
 */
static void check_one(const struct fr_method *m, const char *dir, const struct fr_layout *l,
		      struct fr_diag *d)
{
	if (l->fixed > FLATRPC_FRAG_CHUNK)
		fr_error(d, m->loc, "the %s of %s has %u bytes of fixed fields (metadata and "
			 "fields an ANF reads); at most %u fit in the first fragment, where "
			 "the ANFs see them", dir, m->name, l->fixed, FLATRPC_FRAG_CHUNK);
	if (l->max > FLATRPC_MSG_MAX)
		fr_error(d, m->loc, "the %s of %s can be %u bytes; a message is at most %u "
			 "bytes (%u fragments of %u)", dir, m->name, l->max, FLATRPC_MSG_MAX,
			 FLATRPC_FRAG_MAX, FLATRPC_FRAG_CHUNK);
}

void fr_layout_check(const struct fr_spec *spec, struct fr_diag *d)
{
	const struct fr_service *svc = spec->svc;

	if (!svc)
		return;
	for (unsigned i = 0; i < svc->nmethods; i++) {
		check_one(&svc->methods[i], "request", &svc->methods[i].lreq, d);
		check_one(&svc->methods[i], "response", &svc->methods[i].lresp, d);
	}
}

const struct fr_slot *fr_layout_find(const struct fr_layout *l, const char *field)
{
	for (unsigned i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].f->name, field))
			return &l->v[i];
	return NULL;
}

/* ---- what the same request costs as protobuf over gRPC ----------------------
 *
 * An estimate from declared types only, for comparison; every assumption is
 * printed by fr_print_layout() and listed in docs/spec-language.md. */

unsigned fr_varint_len(uint64_t v)
{
	unsigned n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* HPACK integer with a 7-bit prefix (RFC 7541 5.1): string lengths */
static unsigned hpack_len(unsigned v)
{
	unsigned n = 1;

	if (v < 127)
		return 1;
	for (v -= 127; v >= 0x80; v >>= 7)
		n++;
	return n + 1;
}

/* string<N>/bytes<N> are counted full (max) and half full (typical) */
static unsigned var_len(unsigned n, int typical)
{
	return typical ? (n + 1) / 2 : n;
}

/* an integer's largest varint: the worst case counts for both columns */
static unsigned int_varint(enum fr_type_kind k)
{
	switch (k) {
	case TY_BOOL: return 1;
	case TY_U8: return fr_varint_len(0xff);
	case TY_U16: return fr_varint_len(0xffff);
	case TY_U32: return fr_varint_len(0xffffffffu);
	default: return fr_varint_len(UINT64_MAX);	/* u64, and i64 < 0 sign-extends */
	}
}

/* an integer as decimal text, at its widest */
static unsigned int_digits(enum fr_type_kind k)
{
	switch (k) {
	case TY_BOOL: return 1;
	case TY_U8: return 3;
	case TY_U16: return 5;
	case TY_U32: return 10;
	default: return 20;	/* 18446744073709551615, -9223372036854775808 */
	}
}

void fr_request_cost(const struct fr_method *m, struct fr_cost *c)
{
	unsigned fieldno = 0;

	memset(c, 0, sizeof(*c));
	for (int t = 0; t < 2; t++) {
		c->headers[t] = FR_H2_FRAME_HDR + FR_GRPC_INDEXED_HDRS;
		c->flatrpc[t] = FR_ETH_IP + FR_UDP + FR_FLATRPC_HDR + m->lreq.fixed - m->lreq.strip;
	}
	for (unsigned i = 0; i < m->req.n; i++) {
		const struct fr_field *f = &m->req.v[i];
		int var = f->type.kind == TY_STRING || f->type.kind == TY_BYTES;
		if (f->is_meta) {
			unsigned nl = (unsigned)strlen(f->name);
			for (int t = 0; t < 2; t++) {
				unsigned vl = var ? var_len(f->type.n, t) : int_digits(f->type.kind);
				c->headers[t] += 1 + hpack_len(nl) + nl + hpack_len(vl) + vl;
			}
			continue;
		}
		unsigned tag = fr_varint_len((uint64_t)++fieldno << 3);
		for (int t = 0; t < 2; t++) {
			if (var) {
				unsigned l = var_len(f->type.n, t);
				c->pb[t] += tag + fr_varint_len(l) + l;
			} else {
				c->pb[t] += tag + int_varint(f->type.kind);
			}
		}
	}
	for (unsigned i = 0; i < m->lreq.n; i++) {
		const struct fr_slot *s = &m->lreq.v[i];
		if (!s->fixed)
			for (int t = 0; t < 2; t++)
				c->flatrpc[t] += 2 + var_len(s->size, t);
	}
	for (int t = 0; t < 2; t++)
		c->grpc[t] = FR_ETH_IP + FR_TCP + c->headers[t] + FR_H2_FRAME_HDR +
			     FR_GRPC_PREFIX + c->pb[t];
}

static void print_cost(const struct fr_method *m, FILE *out)
{
	struct fr_cost c;

	fr_request_cost(m, &c);
	fprintf(out, "  request on the wire, bytes (max / typical):\n");
	fprintf(out, "    %-30s %5u / %u\n", "protobuf message", c.pb[0], c.pb[1]);
	fprintf(out, "    %-30s %5u / %-5u (Eth+IP %u, TCP %u, HEADERS %u/%u, DATA %u, gRPC %u)\n",
		"protobuf, gRPC/HTTP/2/TCP", c.grpc[0], c.grpc[1], FR_ETH_IP, FR_TCP,
		c.headers[0], c.headers[1], FR_H2_FRAME_HDR, FR_GRPC_PREFIX);
	fprintf(out, "    %-30s %5u / %-5u (Eth+IP %u, UDP %u, header %u, body)\n",
		"FlatRPC", c.flatrpc[0], c.flatrpc[1], FR_ETH_IP, FR_UDP, FR_FLATRPC_HDR);
}

static void print_cost_notes(FILE *out)
{
	fputs("\nrequest cost assumptions (an estimate from declared types, not a measurement):\n"
	      "  max: string<N>/bytes<N> full (N bytes); typical: half full ((N+1)/2),\n"
	      "    for protobuf and FlatRPC alike. Integers count at their widest in both\n"
	      "    (varint u8 2, u16 3, u32 5, u64/i64 10, bool 1; decimal text u8 3, u16 5,\n"
	      "    u32 10, u64/i64 20, bool 1). Protobuf sends zero values too (no proto3\n"
	      "    elision).\n"
	      "  protobuf: the request fields (not metadata), numbered 1.. in declaration\n"
	      "    order: varint tag, then varint value or varint length + bytes.\n"
	      "  gRPC/HTTP/2: one TCP segment (Eth 14 + IP 20 + TCP 20, no TCP options, even\n"
	      "    beyond one MSS) with\n"
	      "    a HEADERS frame (9 + block) and a DATA frame (9 + gRPC prefix 5 + message).\n"
	      "    Block: :method, :scheme, :path, :authority, content-type and te as 1-byte\n"
	      "    indexed entries (assumes an earlier call on the connection indexed them);\n"
	      "    each metadata field a custom header, HPACK literal without indexing, new\n"
	      "    name, no Huffman (an upper bound): 1 + len(name) + name + len(value) + value,\n"
	      "    integers as decimal text. TCP ACKs, WINDOW_UPDATE and TLS not counted.\n"
	      "  FlatRPC: Eth 14 + IP 20 + UDP 8 + FlatRPC header 12 + the layout above,\n"
	      "    without its stripped fields.\n", out);
}

static void print_one(const char *dir, const struct fr_layout *l, FILE *out)
{
	char ty[64], off[32], size[32];

	fprintf(out, "  %s:\n", dir);
	fprintf(out, "    %-20s %-14s %7s %9s  %-8s  %s\n", "field", "type", "offset", "size",
		"wire", "read by");
	for (unsigned i = 0; i < l->n; i++) {
		const struct fr_slot *s = &l->v[i];
		if (s->fixed) {
			/* a stripped field's offset is in the client's copy only */
			snprintf(off, sizeof(off), s->stripped ? "(%u)" : "%u", s->off);
			snprintf(size, sizeof(size), "%u", s->size);
		} else {
			/* after earlier variable fields: only a lower bound is static;
			 * on the wire, a stripped part is gone before them */
			snprintf(off, sizeof(off), "%s%u", i && !l->v[i - 1].fixed ? ">=" : "",
				 s->off - l->strip);
			snprintf(size, sizeof(size), "2+%u", s->size);
		}
		fprintf(out, "    %-20s %-14s %7s %9s  %-8s  %s\n", s->f->name,
			fr_type_str(&s->f->type, ty, sizeof(ty)), off, size,
			s->stripped ? "stripped" : "yes", s->readers);
	}
	if (l->strip)
		fprintf(out, "    header: %u fixed bytes on the wire (the client strips %u more "
			"after its client: elements), %u bytes at most\n", l->fixed - l->strip,
			l->strip, l->max - l->strip);
	else
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
		print_cost(m, out);
		print_one("response", &m->lresp, out);
	}
	print_cost_notes(out);
}

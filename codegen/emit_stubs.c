/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * emit_stubs.c - <svc>_stubs.{h,c}: typed structs, encoders and decoders
 * for the layouts, client calls and the server dispatcher.
 *
 * Decoders trust nothing: every length is checked against the buffer and
 * against the declared maximum, and a body must be consumed exactly.
 */
#include <string.h>

#include "spec.h"

struct names {
	char sv[64], SV[64], mn[64], MN[64];
};

static void names_of(const struct fr_spec *spec, const struct fr_method *m, struct names *n)
{
	fr_cname(n->sv, sizeof(n->sv), spec->svc->name);
	fr_cname_upper(n->SV, sizeof(n->SV), spec->svc->name);
	if (m) {
		fr_cname(n->mn, sizeof(n->mn), m->name);
		fr_cname_upper(n->MN, sizeof(n->MN), m->name);
	}
}

static const char *user_int(enum fr_type_kind k)
{
	switch (k) {
	case TY_U8: return "uint8_t";
	case TY_U16: return "uint16_t";
	case TY_U32: return "uint32_t";
	case TY_I64: return "int64_t";
	case TY_BOOL: return "bool";
	default: return "uint64_t";
	}
}

static void emit_struct(const struct names *n, const char *dir,
			const struct fr_fields *fs, const struct fr_layout *l, struct fr_buf *b)
{
	char fn[64];

	fr_buf_printf(b, "struct %s_%s_%s {\n", n->sv, n->mn, dir);
	for (unsigned i = 0; i < fs->n; i++) {
		const struct fr_field *f = &fs->v[i];
		fr_cname(fn, sizeof(fn), f->name);
		switch (f->type.kind) {
		case TY_STRING:
			fr_buf_printf(b, "\tchar %s[%u];\t/* NUL-terminated, at most %u bytes */\n",
				      fn, f->type.n + 1, f->type.n);
			break;
		case TY_BYTES:
			fr_buf_printf(b, "\tstruct {\n\t\tuint16_t len;\n\t\tuint8_t data[%u];\n"
				      "\t} %s;\n", f->type.n, fn);
			break;
		default:
			fr_buf_printf(b, "\t%s %s;\n", user_int(f->type.kind), fn);
		}
		const struct fr_slot *sl = fr_layout_find(l, f->name);
		if (sl && sl->stripped)
			fr_buf_printf(b, "\t/* ^ read only by client: elements, which strip it: "
				      "a server sees 0 */\n");
	}
	if (!fs->n)
		fr_buf_printf(b, "\tchar unused_;\t/* no fields; C has no empty structs */\n");
	fr_buf_printf(b, "};\n\n");
}

static void protos(const struct names *n, const char *dir, struct fr_buf *b)
{
	fr_buf_printf(b, "int %s_%s_%s_encode(const struct %s_%s_%s *r, void *buf, size_t cap);\n",
		      n->sv, n->mn, dir, n->sv, n->mn, dir);
	fr_buf_printf(b, "int %s_%s_%s_decode(struct %s_%s_%s *r, const void *buf, size_t len);\n",
		      n->sv, n->mn, dir, n->sv, n->mn, dir);
}

void fr_emit_stubs_h(const struct fr_spec *spec, struct fr_buf *b)
{
	const struct fr_service *svc = spec->svc;
	struct names n;

	names_of(spec, NULL, &n);
	fr_emit_banner(spec, b);
	fr_buf_printf(b, "/*\n * Typed client and server stubs of service %s.\n *\n"
		      " * X_encode() returns the body length or FLATRPC_E_TOOBIG (also for a\n"
		      " * string or bytes field longer than declared); X_decode() returns 0 or\n"
		      " * FLATRPC_E_PROTO. Client calls return 0 or the error of flatrpc_call(),\n"
		      " * with *status set for FLATRPC_E_ANF and FLATRPC_E_REMOTE.\n */\n",
		      svc->name);
	fr_buf_printf(b, "#ifndef %s_STUBS_H\n#define %s_STUBS_H\n\n", n.SV, n.SV);
	fr_buf_printf(b, "#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n"
		      "#include <flatrpc.h>\n#include \"%s.abi.h\"\n\n", n.sv);
	fr_buf_printf(b, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
	fr_buf_printf(b, "extern const struct flatrpc_service_desc %s_service;\n\n", n.sv);

	for (unsigned i = 0; i < svc->nmethods; i++) {
		const struct fr_method *m = &svc->methods[i];
		names_of(spec, m, &n);
		fr_buf_printf(b, "/* ---- %s ---- */\n", m->name);
		emit_struct(&n, "req", &m->req, &m->lreq, b);
		emit_struct(&n, "resp", &m->resp, &m->lresp, b);
		protos(&n, "req", b);
		protos(&n, "resp", b);
		fr_buf_printf(b, "int %s_%s(struct flatrpc_sock *s, const struct flatrpc_peer *peer,\n"
			      "\tconst struct %s_%s_req *req, struct %s_%s_resp *resp, "
			      "uint8_t *status);\n\n", n.sv, n.mn, n.sv, n.mn, n.sv, n.mn);
	}

	names_of(spec, NULL, &n);
	fr_buf_printf(b, "/* Server: a handler fills resp and returns 0, or nonzero to answer\n"
		      " * FLATRPC_ST_APP. A NULL handler answers FLATRPC_ST_NO_METHOD. */\n");
	fr_buf_printf(b, "struct %s_handlers {\n", n.sv);
	for (unsigned i = 0; i < svc->nmethods; i++) {
		names_of(spec, &svc->methods[i], &n);
		fr_buf_printf(b, "\tint (*%s)(void *ctx, const struct %s_%s_req *req, "
			      "struct %s_%s_resp *resp);\n", n.mn, n.sv, n.mn, n.sv, n.mn);
	}
	fr_buf_printf(b, "};\n\n");
	fr_buf_printf(b, "int %s_serve(struct flatrpc_sock *s, const struct %s_handlers *h, "
		      "void *ctx,\n\tvolatile int *stop);\n", n.sv, n.sv);
	fr_buf_printf(b, "/* s's service is served by the serve loop of the socket it shares\n"
		      " * (flatrpc_sock_opts.share) too: flatrpc_serve_also(). h and ctx must\n"
		      " * outlive s. */\n");
	fr_buf_printf(b, "int %s_serve_also(struct flatrpc_sock *s, const struct %s_handlers *h, "
		      "void *ctx);\n\n", n.sv, n.sv);
	fr_buf_printf(b, "#ifdef __cplusplus\n}\n#endif\n#endif /* %s_STUBS_H */\n", n.SV);
}

static void emit_encode(const struct names *n, const char *dir, const char *DIR,
			const struct fr_layout *l, struct fr_buf *b)
{
	char fn[64];

	fr_buf_printf(b, "int %s_%s_%s_encode(const struct %s_%s_%s *r, void *buf, size_t cap)\n{\n",
		      n->sv, n->mn, dir, n->sv, n->mn, dir);
	/* a request is built whole; its client: program strips it */
	fr_buf_printf(b, "\tuint8_t *p = buf;\n\tsize_t off = %s_%s_%s_%sFIXED, n = 0;\n\n",
		      n->SV, n->MN, DIR, strcmp(DIR, "REQ") ? "" : "CLIENT_");
	fr_buf_printf(b, "\t(void)r;\n\t(void)n;\n\tif (cap < off)\n\t\treturn FLATRPC_E_TOOBIG;\n"
		      "\tmemset(p, 0, off);\n");
	for (unsigned i = 0; i < l->n; i++) {
		const struct fr_slot *s = &l->v[i];
		fr_cname(fn, sizeof(fn), s->f->name);
		switch (s->f->type.kind) {
		case TY_U8: case TY_BOOL:
			fr_buf_printf(b, "\tp[%u] = (uint8_t)r->%s;\n", s->off, fn);
			break;
		case TY_U16:
			fr_buf_printf(b, "\tfr_put16(p + %u, r->%s);\n", s->off, fn);
			break;
		case TY_U32:
			fr_buf_printf(b, "\tfr_put32(p + %u, r->%s);\n", s->off, fn);
			break;
		case TY_U64: case TY_I64:
			fr_buf_printf(b, "\tfr_put64(p + %u, (uint64_t)r->%s);\n", s->off, fn);
			break;
		case TY_STRING:
			fr_buf_printf(b, "\tn = strnlen(r->%s, sizeof(r->%s));\n"
				      "\tif (n > %u)\n\t\treturn FLATRPC_E_TOOBIG;\n", fn, fn, s->size);
			if (s->fixed) {
				fr_buf_printf(b, "\tmemcpy(p + %u, r->%s, n);\n", s->off, fn);
				break;
			}
			fr_buf_printf(b, "\tif (cap - off < 2 + n)\n\t\treturn FLATRPC_E_TOOBIG;\n"
				      "\tfr_put16(p + off, (uint16_t)n);\n"
				      "\tmemcpy(p + off + 2, r->%s, n);\n\toff += 2 + n;\n", fn);
			break;
		case TY_BYTES:
			fr_buf_printf(b, "\tn = r->%s.len;\n\tif (n > %u || cap - off < 2 + n)\n"
				      "\t\treturn FLATRPC_E_TOOBIG;\n"
				      "\tfr_put16(p + off, (uint16_t)n);\n"
				      "\tmemcpy(p + off + 2, r->%s.data, n);\n\toff += 2 + n;\n",
				      fn, s->size, fn);
			break;
		default:
			break;
		}
	}
	fr_buf_printf(b, "\treturn (int)off;\n}\n\n");
}

static void emit_decode(const struct names *n, const char *dir, const char *DIR,
			const struct fr_layout *l, struct fr_buf *b)
{
	char fn[64];

	fr_buf_printf(b, "int %s_%s_%s_decode(struct %s_%s_%s *r, const void *buf, size_t len)\n{\n",
		      n->sv, n->mn, dir, n->sv, n->mn, dir);
	fr_buf_printf(b, "\tconst uint8_t *p = buf;\n\tsize_t off = %s_%s_%s_FIXED, n = 0;\n\n",
		      n->SV, n->MN, DIR);
	fr_buf_printf(b, "\t(void)p;\n\t(void)n;\n\tmemset(r, 0, sizeof(*r));\n"
		      "\tif (len < off)\n\t\treturn FLATRPC_E_PROTO;\n");
	for (unsigned i = 0; i < l->n; i++) {
		const struct fr_slot *s = &l->v[i];
		if (s->stripped)
			continue;	/* never reaches the server: left 0 */
		fr_cname(fn, sizeof(fn), s->f->name);
		switch (s->f->type.kind) {
		case TY_U8:
			fr_buf_printf(b, "\tr->%s = p[%u];\n", fn, s->off);
			break;
		case TY_BOOL:
			fr_buf_printf(b, "\tif (p[%u] > 1)\n\t\treturn FLATRPC_E_PROTO;\n"
				      "\tr->%s = p[%u];\n", s->off, fn, s->off);
			break;
		case TY_U16:
			fr_buf_printf(b, "\tr->%s = fr_get16(p + %u);\n", fn, s->off);
			break;
		case TY_U32:
			fr_buf_printf(b, "\tr->%s = fr_get32(p + %u);\n", fn, s->off);
			break;
		case TY_U64:
			fr_buf_printf(b, "\tr->%s = fr_get64(p + %u);\n", fn, s->off);
			break;
		case TY_I64:
			fr_buf_printf(b, "\tr->%s = (int64_t)fr_get64(p + %u);\n", fn, s->off);
			break;
		case TY_STRING:
			if (s->fixed) {
				/* zero-padded slot; r is zeroed, so always terminated */
				fr_buf_printf(b, "\tmemcpy(r->%s, p + %u, %u);\n", fn, s->off, s->size);
				break;
			}
			/* fall through */
		case TY_BYTES:
			fr_buf_printf(b, "\tif (len - off < 2)\n\t\treturn FLATRPC_E_PROTO;\n"
				      "\tn = fr_get16(p + off);\n\toff += 2;\n"
				      "\tif (n > %u || len - off < n)\n\t\treturn FLATRPC_E_PROTO;\n",
				      s->size);
			if (s->f->type.kind == TY_STRING)
				fr_buf_printf(b, "\tif (memchr(p + off, 0, n))\n"
					      "\t\treturn FLATRPC_E_PROTO;\t/* would truncate */\n"
					      "\tmemcpy(r->%s, p + off, n);\n", fn);
			else
				fr_buf_printf(b, "\tr->%s.len = (uint16_t)n;\n"
					      "\tmemcpy(r->%s.data, p + off, n);\n", fn, fn);
			fr_buf_printf(b, "\toff += n;\n");
			break;
		default:
			break;
		}
	}
	fr_buf_printf(b, "\treturn off == len ? 0 : FLATRPC_E_PROTO;\n}\n\n");
}

void fr_emit_stubs_c(const struct fr_spec *spec, struct fr_buf *b)
{
	const struct fr_service *svc = spec->svc;
	struct names n;

	names_of(spec, NULL, &n);
	fr_emit_banner(spec, b);
	fr_buf_printf(b, "#include <errno.h>\n#include <stdlib.h>\n#include <string.h>\n\n#include \"%s_stubs.h\"\n\n", n.sv);
	fr_buf_printf(b, "/* body integers are little-endian whatever the host */\n"
		      "static inline void fr_put16(uint8_t *p, uint16_t v)\n{\n"
		      "\tp[0] = (uint8_t)v;\n\tp[1] = (uint8_t)(v >> 8);\n}\n\n"
		      "static inline void fr_put32(uint8_t *p, uint32_t v)\n{\n"
		      "\tfor (int i = 0; i < 4; i++)\n\t\tp[i] = (uint8_t)(v >> (8 * i));\n}\n\n"
		      "static inline void fr_put64(uint8_t *p, uint64_t v)\n{\n"
		      "\tfor (int i = 0; i < 8; i++)\n\t\tp[i] = (uint8_t)(v >> (8 * i));\n}\n\n"
		      "static inline uint16_t fr_get16(const uint8_t *p)\n{\n"
		      "\treturn (uint16_t)(p[0] | p[1] << 8);\n}\n\n"
		      "static inline uint32_t fr_get32(const uint8_t *p)\n{\n"
		      "\tuint32_t v = 0;\n\n\tfor (int i = 3; i >= 0; i--)\n"
		      "\t\tv = v << 8 | p[i];\n\treturn v;\n}\n\n"
		      "static inline uint64_t fr_get64(const uint8_t *p)\n{\n"
		      "\tuint64_t v = 0;\n\n\tfor (int i = 7; i >= 0; i--)\n"
		      "\t\tv = v << 8 | p[i];\n\treturn v;\n}\n\n");
	fr_buf_printf(b, "#define FR_UNUSED_ __attribute__((unused))\n"
		      "static FR_UNUSED_ void fr_stubs_unused_(void)\n{\n"
		      "\t(void)fr_put16; (void)fr_put32; (void)fr_put64;\n"
		      "\t(void)fr_get16; (void)fr_get32; (void)fr_get64;\n}\n\n");

	/* the service descriptor */
	fr_buf_printf(b, "static const struct flatrpc_method_desc %s_methods[] = {\n", n.sv);
	for (unsigned i = 0; i < svc->nmethods; i++) {
		const struct fr_method *m = &svc->methods[i];
		names_of(spec, m, &n);
		fr_buf_printf(b, "\t[%s_%s] = {\n\t\t.name = \"%s\",\n\t\t.id = %s_%s,\n"
			      "\t\t.flags = %s_%s_FLAGS,\n"
			      "\t\t.req_fixed = %s_%s_REQ_FIXED,\n\t\t.resp_fixed = %s_%s_RESP_FIXED,\n"
			      "\t\t.req_max = %s_%s_REQ_MAX,\n\t\t.resp_max = %s_%s_RESP_MAX,\n"
			      "\t\t.timeout_us = %s_%s_TIMEOUT_US,\n\t\t.retries = %s_%s_RETRIES,\n"
			      "\t\t.priority = %s_%s_PRIORITY,\n\t\t.req_strip = %s_%s_REQ_STRIP,\n\t},\n",
			      n.SV, n.MN, m->name, n.SV, n.MN, n.SV, n.MN, n.SV, n.MN, n.SV, n.MN,
			      n.SV, n.MN, n.SV, n.MN, n.SV, n.MN, n.SV, n.MN, n.SV, n.MN, n.SV, n.MN);
	}
	fr_buf_printf(b, "};\n\n");
	names_of(spec, NULL, &n);
	if (spec->nerrs) {
		fr_buf_printf(b, "static const char *const %s_errors[] = {\n", n.sv);
		for (unsigned i = 0; i < spec->nerrs; i++) {
			fr_buf_printf(b, "\t");
			fr_buf_cstring(b, spec->errs[i].msg);
			fr_buf_printf(b, ",\n");
		}
		fr_buf_printf(b, "};\n\n");
	}
	fr_buf_printf(b, "const struct flatrpc_service_desc %s_service = {\n"
		      "\t.name = \"%s\",\n\t.spec_hash = %s_SPEC_HASH,\n\t.port = %s_PORT,\n"
		      "\t.n_methods = %s__NMETHODS,\n\t.methods = %s_methods,\n"
		      "\t.n_errors = %u,\n\t.errors = %s%s,\n};\n\n",
		      n.sv, svc->name, n.SV, n.SV, n.SV, n.sv, spec->nerrs,
		      spec->nerrs ? n.sv : "NULL", spec->nerrs ? "_errors" : "");

	for (unsigned i = 0; i < svc->nmethods; i++) {
		const struct fr_method *m = &svc->methods[i];
		names_of(spec, m, &n);
		fr_buf_printf(b, "/* ---- %s ---- */\n\n", m->name);
		emit_encode(&n, "req", "REQ", &m->lreq, b);
		emit_decode(&n, "req", "REQ", &m->lreq, b);
		emit_encode(&n, "resp", "RESP", &m->lresp, b);
		emit_decode(&n, "resp", "RESP", &m->lresp, b);
		fr_buf_printf(b,
			"int %s_%s(struct flatrpc_sock *s, const struct flatrpc_peer *peer,\n"
			"\tconst struct %s_%s_req *req, struct %s_%s_resp *resp, uint8_t *status)\n{\n"
			"\tuint8_t q[%s_%s_REQ_MAX + 1], a[%s_%s_RESP_MAX + 1];\n"
			"\tsize_t alen = sizeof(a);\n\tuint8_t st = 0;\n"
			"\tint n, err;\n\n"
			"\tn = %s_%s_req_encode(req, q, sizeof(q));\n\tif (n < 0)\n\t\treturn n;\n"
			"\terr = flatrpc_call(s, peer, %s_%s, q, (size_t)n, a, &alen, &st);\n"
			"\tif (status)\n\t\t*status = st;\n\tif (err)\n\t\treturn err;\n"
			"\treturn %s_%s_resp_decode(resp, a, alen);\n}\n\n",
			n.sv, n.mn, n.sv, n.mn, n.sv, n.mn, n.SV, n.MN, n.SV, n.MN,
			n.sv, n.mn, n.SV, n.MN, n.sv, n.mn);
	}

	names_of(spec, NULL, &n);
	fr_buf_printf(b, "/* ---- server ---- */\n\nstruct %s_serve_ctx {\n"
		      "\tconst struct %s_handlers *h;\n\tvoid *ctx;\n};\n\n", n.sv, n.sv);
	fr_buf_printf(b, "static int %s_dispatch(void *ctx, uint8_t method, const void *req, "
		      "size_t req_len,\n\tvoid *resp, size_t *resp_len)\n{\n"
		      "\tconst struct %s_serve_ctx *c = ctx;\n\tint n;\n\n\tswitch (method) {\n",
		      n.sv, n.sv);
	for (unsigned i = 0; i < svc->nmethods; i++) {
		const struct fr_method *m = &svc->methods[i];
		names_of(spec, m, &n);
		fr_buf_printf(b,
			"\tcase %s_%s: {\n"
			"\t\tstruct %s_%s_req q;\n\t\tstruct %s_%s_resp a;\n\n"
			"\t\tif (!c->h->%s)\n\t\t\treturn FLATRPC_ST_NO_METHOD;\n"
			"\t\tif (%s_%s_req_decode(&q, req, req_len))\n"
			"\t\t\treturn FLATRPC_ST_BAD_REQUEST;\n"
			"\t\tmemset(&a, 0, sizeof(a));\n"
			"\t\tif (c->h->%s(c->ctx, &q, &a))\n\t\t\treturn FLATRPC_ST_APP;\n"
			"\t\tn = %s_%s_resp_encode(&a, resp, *resp_len);\n"
			"\t\tif (n < 0)\n\t\t\treturn FLATRPC_ST_APP;\n"
			"\t\t*resp_len = (size_t)n;\n\t\treturn 0;\n\t}\n",
			n.SV, n.MN, n.sv, n.mn, n.sv, n.mn, n.mn, n.sv, n.mn, n.mn, n.sv, n.mn);
	}
	names_of(spec, NULL, &n);
	fr_buf_printf(b, "\t}\n\t(void)n;\n\treturn FLATRPC_ST_NO_METHOD;\n}\n\n");
	fr_buf_printf(b, "int %s_serve(struct flatrpc_sock *s, const struct %s_handlers *h, "
		      "void *ctx,\n\tvolatile int *stop)\n{\n"
		      "\tstruct %s_serve_ctx c = { h, ctx };\n\n"
		      "\treturn flatrpc_serve(s, %s_dispatch, &c, stop);\n}\n\n",
		      n.sv, n.sv, n.sv, n.sv);
	fr_buf_printf(b, "int %s_serve_also(struct flatrpc_sock *s, const struct %s_handlers *h, "
		      "void *ctx)\n{\n"
		      "\tstruct %s_serve_ctx *c = malloc(sizeof(*c));\n\tint err;\n\n"
		      "\tif (!c)\n\t\treturn -ENOMEM;\n"
		      "\tc->h = h;\n\tc->ctx = ctx;\n"
		      "\terr = flatrpc_serve_also(s, %s_dispatch, c, free);\n"
		      "\tif (err)\n\t\tfree(c);\n\treturn err;\n}\n",
		      n.sv, n.sv, n.sv, n.sv);
}

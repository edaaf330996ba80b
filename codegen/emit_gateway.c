/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * emit_gateway.c - the per-spec half of the gRPC gateway
 * (flatrpc-gen --gateway): C that turns each method's protobuf-c request
 * (from protoc-c on the --proto output) into the typed stub's struct and
 * body, and the body of its response back into protobuf. The HTTP/2 and
 * gRPC half is generic and lives in gateway/ (docs/grpc.md).
 *
 * Every name it prints on the gRPC side comes from fr_proto_*() in
 * emit_proto.c, so the gateway maps exactly the .proto a client has; the
 * protobuf-c side follows protoc-c's own mangling (pbc_*() below), and a
 * mismatch fails the gateway's build rather than a call.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "flatrpc_abi.h"
#include "spec.h"

/* protoc-c's CamelToLower: GetUserRequest -> get_user_request (an '_'
 * before each upper-case letter that follows a lower-case one) */
static const char *pbc_lower(char *buf, size_t n, const char *s, int upper)
{
	size_t k = 0;
	int was_upper = 1;

	for (; *s && k + 2 < n; s++) {
		if (isupper((unsigned char)*s)) {
			if (!was_upper)
				buf[k++] = '_';
			buf[k++] = (char)(upper ? *s : tolower((unsigned char)*s));
			was_upper = 1;
		} else {
			buf[k++] = (char)(upper ? toupper((unsigned char)*s) : *s);
			was_upper = 0;
		}
	}
	buf[k] = 0;
	return buf;
}

/* The protobuf-c names of one message: its type, its functions' prefix
 * and its INIT macro. */
struct pbc_names {
	char type[200], fn[200], init[200];
};

static void pbc_names(struct pbc_names *o, const char *pkg, const char *msg)
{
	char a[96], b[96];

	/* protoc-c's ToCamel on the package, which has no '-': fr_proto_pascal() */
	snprintf(o->type, sizeof(o->type), "%s__%s", fr_proto_pascal(a, sizeof(a), pkg), msg);
	snprintf(o->fn, sizeof(o->fn), "%s__%s", pbc_lower(a, sizeof(a), pkg, 0),
		 pbc_lower(b, sizeof(b), msg, 0));
	snprintf(o->init, sizeof(o->init), "%s__%s__INIT", pbc_lower(a, sizeof(a), pkg, 1),
		 pbc_lower(b, sizeof(b), msg, 1));
}

/* The largest protobuf encoding of a message whose fields keep their
 * bounds: above it a request cannot be one the spec allows, so the runtime
 * need not buffer it. */
static unsigned pb_max(const struct fr_fields *fs)
{
	unsigned n = 0;

	for (unsigned i = 0; i < fs->n; i++) {
		const struct fr_type *t = &fs->v[i].type;
		n += fr_varint_len((uint64_t)(i + 1) << 3);
		switch (t->kind) {
		case TY_BOOL: n += 1; break;
		case TY_U8: case TY_U16: case TY_U32: n += 5; break;
		case TY_STRING: case TY_BYTES: n += fr_varint_len(t->n) + t->n; break;
		default: n += 10; break;
		}
	}
	return n;
}

/* A request field from the protobuf message m into the stub's struct r,
 * refused (INVALID_ARGUMENT, naming it) over its bound. */
static void emit_req_field(const struct fr_field *f, struct fr_buf *b)
{
	char id[80], cn[80];

	fr_proto_ident(id, sizeof(id), f->name);
	fr_cname(cn, sizeof(cn), f->name);
	switch (f->type.kind) {
	case TY_STRING:
		fr_buf_printf(b, "\tif (fr_gw_take_str(c, \"%s\", m->%s, r.%s, %u))\n\t\tgoto out;\n",
			      id, id, cn, f->type.n);
		break;
	case TY_BYTES:
		fr_buf_printf(b, "\tif (fr_gw_take_bytes(c, \"%s\", m->%s.data, m->%s.len, r.%s.data, "
			      "&r.%s.len, %u))\n\t\tgoto out;\n", id, id, id, cn, cn, f->type.n);
		break;
	case TY_U8: case TY_U16:
		fr_buf_printf(b, "\tif (fr_gw_take_uint(c, \"%s\", m->%s, %u))\n\t\tgoto out;\n"
			      "\tr.%s = (%s)m->%s;\n", id, id,
			      f->type.kind == TY_U8 ? 255u : 65535u, cn,
			      f->type.kind == TY_U8 ? "uint8_t" : "uint16_t", id);
		break;
	case TY_BOOL:
		fr_buf_printf(b, "\tr.%s = m->%s != 0;\n", cn, id);
		break;
	default:
		fr_buf_printf(b, "\tr.%s = m->%s;\n", cn, id);
		break;
	}
}

/* A metadata field from its gRPC header, when the call has one: the
 * header wins over the message's field, since it is where gRPC clients
 * put metadata (docs/grpc.md, Metadata). */
static void emit_meta_field(const struct fr_field *f, struct fr_buf *b)
{
	char hdr[80], cn[80];
	const char *max;

	fr_proto_header(hdr, sizeof(hdr), f);
	fr_cname(cn, sizeof(cn), f->name);
	switch (f->type.kind) {
	case TY_STRING:
		fr_buf_printf(b, "\tif (fr_gw_meta_str(c, \"%s\", r.%s, %u))\n\t\tgoto out;\n",
			      hdr, cn, f->type.n);
		return;
	case TY_BYTES:
		fr_buf_printf(b, "\tif (fr_gw_meta_bytes(c, \"%s\", r.%s.data, &r.%s.len, %u))\n"
			      "\t\tgoto out;\n", hdr, cn, cn, f->type.n);
		return;
	case TY_BOOL:
		fr_buf_printf(b, "\tif (fr_gw_meta_bool(c, \"%s\", &r.%s))\n\t\tgoto out;\n", hdr, cn);
		return;
	case TY_I64:
		fr_buf_printf(b, "\tif (fr_gw_meta_int(c, \"%s\", &r.%s))\n\t\tgoto out;\n", hdr, cn);
		return;
	case TY_U8: max = "UINT8_MAX"; break;
	case TY_U16: max = "UINT16_MAX"; break;
	case TY_U32: max = "UINT32_MAX"; break;
	default: max = "UINT64_MAX"; break;
	}
	fr_buf_printf(b, "\t{\n\t\tuint64_t v = r.%s;\n\n"
		      "\t\tif (fr_gw_meta_uint(c, \"%s\", &v, %s))\n\t\t\tgoto out;\n"
		      "\t\tr.%s = v;\n\t}\n", cn, hdr, max, cn);
}

static void emit_resp_field(const struct fr_field *f, struct fr_buf *b)
{
	char id[80], cn[80];

	fr_proto_ident(id, sizeof(id), f->name);
	fr_cname(cn, sizeof(cn), f->name);
	switch (f->type.kind) {
	case TY_STRING:
		fr_buf_printf(b, "\tm.%s = r.%s;\n", id, cn);
		break;
	case TY_BYTES:
		fr_buf_printf(b, "\tm.%s.data = r.%s.data;\n\tm.%s.len = r.%s.len;\n", id, cn, id, cn);
		break;
	default:
		fr_buf_printf(b, "\tm.%s = r.%s;\n", id, cn);
		break;
	}
}

static void emit_method(const char *pkg, const char *sv, const struct fr_method *m,
			struct fr_buf *b)
{
	char rpc[80], msg[96], mn[80];
	struct pbc_names q, a;

	fr_proto_pascal(rpc, sizeof(rpc), m->name);
	fr_cname(mn, sizeof(mn), m->name);
	snprintf(msg, sizeof(msg), "%sRequest", rpc);
	pbc_names(&q, pkg, msg);
	snprintf(msg, sizeof(msg), "%sResponse", rpc);
	pbc_names(&a, pkg, msg);

	fr_buf_printf(b, "\n/* ---- %s ---- */\n\n", m->name);
	fr_buf_printf(b, "static int gw_%s_req(struct fr_gw_call *c, const uint8_t *pb, size_t len,\n"
		      "\t\t\tvoid *body, size_t cap)\n{\n", mn);
	/* static: bytes<65535> fields make it large, and calls never nest */
	fr_buf_printf(b, "\tstatic struct %s_%s_req r;\n\t%s *m;\n\tint n = -1;\n\n", sv, mn, q.type);
	fr_buf_printf(b, "\tm = %s__unpack(NULL, len, pb);\n\tif (!m)\n"
		      "\t\treturn fr_gw_fail(c, FR_GW_INVALID_ARGUMENT, \"%sRequest does not decode\");\n"
		      "\tmemset(&r, 0, sizeof(r));\n", q.fn, rpc);
	for (unsigned i = 0; i < m->req.n; i++)
		emit_req_field(&m->req.v[i], b);
	for (unsigned i = 0; i < m->req.n; i++)
		if (m->req.v[i].is_meta)
			emit_meta_field(&m->req.v[i], b);
	fr_buf_printf(b, "\tn = %s_%s_req_encode(&r, body, cap);\n"
		      "\tif (n < 0)\n\t\tn = fr_gw_fail(c, FR_GW_INVALID_ARGUMENT, "
		      "\"%sRequest is larger than the spec allows\");\nout:\n"
		      "\t%s__free_unpacked(m, NULL);\n\treturn n;\n}\n\n", sv, mn, rpc, q.fn);

	fr_buf_printf(b, "static int gw_%s_resp(struct fr_gw_call *c, const void *body, size_t len)\n"
		      "{\n\tstatic struct %s_%s_resp r;\n\t%s m = %s;\n\tuint8_t *out;\n\n",
		      mn, sv, mn, a.type, a.init);
	fr_buf_printf(b, "\tif (%s_%s_resp_decode(&r, body, len))\n"
		      "\t\treturn fr_gw_fail(c, FR_GW_INTERNAL, \"the service's %s response does not "
		      "decode\");\n", sv, mn, m->name);
	for (unsigned i = 0; i < m->resp.n; i++)
		emit_resp_field(&m->resp.v[i], b);
	fr_buf_printf(b, "\tout = fr_gw_reply_buf(c, %s__get_packed_size(&m));\n"
		      "\tif (!out)\n\t\treturn -1;\n\t%s__pack(&m, out);\n\treturn 0;\n}\n",
		      a.fn, a.fn);
}

int fr_emit_gateway(const struct fr_spec *spec, struct fr_buf *b, struct fr_diag *d)
{
	const struct fr_service *svc = spec->svc;
	char pkg[80], sv[80], svu[80], svp[80], rpc[80], mn[80], up[80];
	struct fr_buf proto = { 0 };
	int errs;

	if (!svc)
		return 0;
	/* the .proto's own checks: the gateway serves exactly that file */
	errs = fr_emit_proto(spec, &proto, d);
	fr_buf_free(&proto);
	if (errs)
		return errs;
	fr_proto_ident(pkg, sizeof(pkg), svc->name);
	fr_proto_pascal(svp, sizeof(svp), svc->name);
	fr_cname(sv, sizeof(sv), svc->name);
	fr_cname_upper(svu, sizeof(svu), svc->name);

	fr_buf_printf(b, "/* generated by flatrpc-gen --gateway from ");
	fr_buf_printf(b, "%s", spec->main_name);
	fr_buf_printf(b, "; do not edit */\n"
		      "/*\n * The gRPC gateway's glue for service %s: each method's protobuf\n"
		      " * request (protoc-c on flatrpc-gen --proto) to the typed stub's body,\n"
		      " * and its response body back. gateway/ is the rest (docs/grpc.md).\n */\n",
		      svc->name);
	fr_buf_printf(b, "#include <stdint.h>\n#include <string.h>\n\n"
		      "#include \"%s_stubs.h\"\n#include \"%s.pb-c.h\"\n#include \"gateway.h\"\n",
		      sv, pkg);
	for (unsigned i = 0; i < svc->nmethods; i++)
		emit_method(pkg, sv, &svc->methods[i], b);

	fr_buf_printf(b, "\nstatic const struct fr_gw_method gw_methods[] = {\n");
	for (unsigned i = 0; i < svc->nmethods; i++) {
		const struct fr_method *m = &svc->methods[i];
		fr_proto_pascal(rpc, sizeof(rpc), m->name);
		fr_cname(mn, sizeof(mn), m->name);
		fr_cname_upper(up, sizeof(up), m->name);
		fr_buf_printf(b, "\t{\n\t\t.path = \"/%s.%s/%s\",\n\t\t.id = %s_%s,\n"
			      "\t\t.pb_max = %u,\n\t\t.req = gw_%s_req,\n\t\t.resp = gw_%s_resp,\n\t},\n",
			      pkg, svp, rpc, svu, up, pb_max(&m->req), mn, mn);
	}
	fr_buf_printf(b, "};\n\nconst struct fr_gw_service fr_gw_spec = {\n"
		      "\t.svc = &%s_service,\n\t.grpc_name = \"%s.%s\",\n"
		      "\t.n_methods = sizeof(gw_methods) / sizeof(gw_methods[0]),\n"
		      "\t.methods = gw_methods,\n};\n", sv, pkg, svp);
	return 0;
}

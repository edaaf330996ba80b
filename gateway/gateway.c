/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * gateway.c - the generic half of the gRPC gateway: HTTP/2 (h2c, nghttp2)
 * in, FlatRPC out, one thread and one poll(2) loop (docs/grpc.md).
 *
 * A gRPC call is an HTTP/2 stream. Its request is handed to the generated
 * glue (fr_gw_spec), which gives the FlatRPC body; that goes out with
 * flatrpc_send() and the stream waits, without blocking the loop, for its
 * completion from flatrpc_poll(), matched by RPC ID, or for its deadline.
 * So one connection carries many calls at once, and so do many
 * connections: nothing here waits on one call.
 *
 * Policy is not here: the ANFs run in XDP at the FlatRPC server as for
 * any client, and the gateway only turns their verdicts into gRPC codes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "gateway.h"
#include "health.pb-c.h"

#define GW_MAX_CONNS	256
/* per call: metadata headers kept for the glue, and their bytes */
#define GW_MAX_HDRS	32
#define GW_HDR_BYTES	8192
/* a health check request is a service name */
#define GW_HEALTH_MAX	1024
#define GW_HEALTH_PATH	"/grpc.health.v1.Health/Check"
/* server reflection, both versions of the one protocol (reflect.c) */
#define GW_REFL_V1A	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
#define GW_REFL_V1	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
/* a reflection request is a file or symbol name */
#define GW_REFL_MAX	4096
/* answers a client has not read yet: past this it is not reading them */
#define GW_REFL_OUT_MAX	(4u << 20)
/* --timing keeps this many calls' figures (4 MiB) */
#define GW_TIMED	(1u << 20)
/* gRPC's length-prefixed message: a compressed flag and a big-endian length */
#define GRPC_PREFIX	5

struct gw_hdr {
	char	*name, *value;
	size_t	vlen;
};

struct fr_gw_call {
	struct fr_gw_conn	*conn;
	int32_t			stream_id;
	const struct fr_gw_method *m;	/* NULL: health, or an unknown path */
	int			health;
	/* a reflection stream: answered message by message while the client
	 * sends, not once at END_STREAM */
	int			reflect;
	int			streaming;	/* its response headers are out */
	int			in_done;	/* the client has half-closed */
	int			ending;		/* failed: trailers next, input ignored */
	char			path[128];
	int			bad_type;	/* content-type is not application/grpc */
	int			hdr_overflow;
	struct gw_hdr		hdrs[GW_MAX_HDRS];
	unsigned		nhdrs;
	size_t			hdr_bytes;
	uint8_t			*in;		/* the request's DATA, prefix included */
	size_t			in_len, in_cap;
	uint64_t		deadline;	/* CLOCK_MONOTONIC ns; 0: none */
	/* --timing: the recv() that made it whole, it went to FlatRPC,
	 * FlatRPC answered */
	uint64_t		t_begin, t_send, t_done;
	int			calling;	/* sent to FlatRPC, awaiting completion */
	uint32_t		rpc_id;
	int			answered;	/* a response is submitted */
	enum fr_gw_code		code;
	char			msg[200];
	uint8_t			*out;		/* OK: prefix + message */
	size_t			out_len, out_off, out_cap;
	struct fr_gw_call	*prev, *next;	/* the conn's calls */
	struct fr_gw_call	*pprev, *pnext;	/* the calls awaiting FlatRPC */
};

struct fr_gw_conn {
	int			fd;		/* -1: the test harness */
	nghttp2_session		*h2;
	uint8_t			*wbuf;		/* bytes nghttp2 gave that the socket did not take */
	size_t			wlen, woff;
	struct fr_gw_call	*calls;
	int			dead;
};

struct gw {
	const struct fr_gw_service *gs;
	struct fr_gw_refl	*refl;		/* fr_gw_descriptor_set's index */
	struct flatrpc_sock	*sock;		/* NULL: the test harness */
	struct flatrpc_peer	peer;
	struct fr_gw_call	*pending;
	struct fr_gw_conn	*conns[GW_MAX_CONNS];
	unsigned		nconns;
	int			verbose;
	/* counters, printed at exit */
	uint64_t		calls, ok, failed, conns_total, h2_errors;
	/* --timing: each FlatRPC call's time in the gateway, its FlatRPC
	 * round trip left out (ns); at most GW_TIMED of them */
	uint32_t		*own;
	size_t			nown;
	uint64_t		t_recv;		/* when the bytes being fed came */
	uint8_t			body[FLATRPC_MSG_MAX];
};

static struct gw G;
static volatile sig_atomic_t stop;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- calls -------------------------------------------------------------------- */

static void pending_del(struct fr_gw_call *c)
{
	if (!c->calling)
		return;
	if (c->pprev)
		c->pprev->pnext = c->pnext;
	else
		G.pending = c->pnext;
	if (c->pnext)
		c->pnext->pprev = c->pprev;
	c->pprev = c->pnext = NULL;
	c->calling = 0;
}

static void pending_add(struct fr_gw_call *c)
{
	c->calling = 1;
	c->pprev = NULL;
	c->pnext = G.pending;
	if (G.pending)
		G.pending->pprev = c;
	G.pending = c;
}

static void call_free(struct fr_gw_call *c)
{
	struct fr_gw_conn *k = c->conn;

	pending_del(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		k->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	for (unsigned i = 0; i < c->nhdrs; i++)
		free(c->hdrs[i].name);
	free(c->in);
	free(c->out);
	free(c);
}

int fr_gw_fail(struct fr_gw_call *c, enum fr_gw_code code, const char *msg)
{
	if (c->code == FR_GW_OK) {
		c->code = code;
		snprintf(c->msg, sizeof(c->msg), "%s", msg);
	}
	return -1;
}

uint8_t *fr_gw_reply_buf(struct fr_gw_call *c, size_t n)
{
	free(c->out);
	c->out = malloc(GRPC_PREFIX + n + 1);
	if (!c->out) {
		fr_gw_fail(c, FR_GW_RESOURCE_EXHAUSTED, "gateway out of memory");
		return NULL;
	}
	c->out[0] = 0;
	c->out[1] = (uint8_t)(n >> 24);
	c->out[2] = (uint8_t)(n >> 16);
	c->out[3] = (uint8_t)(n >> 8);
	c->out[4] = (uint8_t)n;
	c->out_len = GRPC_PREFIX + n;
	c->out_off = 0;
	return c->out + GRPC_PREFIX;
}

/* ---- fields and metadata for the glue ----------------------------------------- */

static int over(struct fr_gw_call *c, const char *what, const char *name, size_t max)
{
	char m[160];

	snprintf(m, sizeof(m), "%s '%s' is longer than the spec allows (%zu)", what, name, max);
	return fr_gw_fail(c, FR_GW_INVALID_ARGUMENT, m);
}

int fr_gw_take_str(struct fr_gw_call *c, const char *field, const char *s, char *dst,
		   size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n > max)
		return over(c, "field", field, max);
	memcpy(dst, s ? s : "", n);
	dst[n] = 0;
	return 0;
}

int fr_gw_take_bytes(struct fr_gw_call *c, const char *field, const uint8_t *p, size_t n,
		     uint8_t *dst, uint16_t *dst_len, size_t max)
{
	if (n > max)
		return over(c, "field", field, max);
	if (n)
		memcpy(dst, p, n);
	*dst_len = (uint16_t)n;
	return 0;
}

int fr_gw_take_uint(struct fr_gw_call *c, const char *field, uint64_t v, uint64_t max)
{
	char m[160];

	if (v <= max)
		return 0;
	snprintf(m, sizeof(m), "field '%s' is above the spec's %" PRIu64, field, max);
	return fr_gw_fail(c, FR_GW_INVALID_ARGUMENT, m);
}

static const struct gw_hdr *find_hdr(const struct fr_gw_call *c, const char *name)
{
	for (unsigned i = 0; i < c->nhdrs; i++)
		if (!strcmp(c->hdrs[i].name, name))
			return &c->hdrs[i];
	return NULL;
}

static int bad_meta(struct fr_gw_call *c, const char *hdr, const char *why)
{
	char m[160];

	snprintf(m, sizeof(m), "metadata '%s': %s", hdr, why);
	return fr_gw_fail(c, FR_GW_INVALID_ARGUMENT, m);
}

int fr_gw_meta_str(struct fr_gw_call *c, const char *hdr, char *dst, size_t max)
{
	const struct gw_hdr *h = find_hdr(c, hdr);

	if (!h)
		return 0;
	if (h->vlen > max)
		return over(c, "metadata", hdr, max);
	if (memchr(h->value, 0, h->vlen))
		return bad_meta(c, hdr, "has a NUL byte");
	memcpy(dst, h->value, h->vlen);
	dst[h->vlen] = 0;
	return 0;
}

static int b64(int ch)
{
	if (ch >= 'A' && ch <= 'Z') return ch - 'A';
	if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9') return ch - '0' + 52;
	if (ch == '+' || ch == '-') return 62;
	if (ch == '/' || ch == '_') return 63;
	return -1;
}

int fr_gw_meta_bytes(struct fr_gw_call *c, const char *hdr, uint8_t *dst, uint16_t *dst_len,
		     size_t max)
{
	const struct gw_hdr *h = find_hdr(c, hdr);
	uint32_t acc = 0;
	size_t n = 0, bits = 0, len;

	if (!h)
		return 0;
	/* gRPC sends -bin values padded or not; either way the same bytes */
	for (len = h->vlen; len && h->value[len - 1] == '='; len--)
		;
	for (size_t i = 0; i < len; i++) {
		int v = b64((unsigned char)h->value[i]);
		if (v < 0)
			return bad_meta(c, hdr, "is not base64");
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == max)
				return over(c, "metadata", hdr, max);
			dst[n++] = (uint8_t)(acc >> bits);
		}
	}
	*dst_len = (uint16_t)n;
	return 0;
}

int fr_gw_meta_uint(struct fr_gw_call *c, const char *hdr, uint64_t *dst, uint64_t max)
{
	const struct gw_hdr *h = find_hdr(c, hdr);
	uint64_t v = 0;

	if (!h)
		return 0;
	if (!h->vlen || h->vlen > 20)
		return bad_meta(c, hdr, "wants a decimal number");
	for (size_t i = 0; i < h->vlen; i++) {
		unsigned d = (unsigned char)h->value[i] - '0';
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return bad_meta(c, hdr, "wants a decimal number that fits");
		v = v * 10 + d;
	}
	if (v > max)
		return bad_meta(c, hdr, "is above the spec's bound");
	*dst = v;
	return 0;
}

int fr_gw_meta_int(struct fr_gw_call *c, const char *hdr, int64_t *dst)
{
	const struct gw_hdr *h = find_hdr(c, hdr);
	char buf[24], *end;
	long long v;

	if (!h)
		return 0;
	if (!h->vlen || h->vlen >= sizeof(buf))
		return bad_meta(c, hdr, "wants a decimal number");
	memcpy(buf, h->value, h->vlen);
	buf[h->vlen] = 0;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (*end || errno)
		return bad_meta(c, hdr, "wants a decimal number that fits");
	*dst = v;
	return 0;
}

int fr_gw_meta_bool(struct fr_gw_call *c, const char *hdr, bool *dst)
{
	const struct gw_hdr *h = find_hdr(c, hdr);

	if (!h)
		return 0;
	if ((h->vlen == 4 && !memcmp(h->value, "true", 4)) || (h->vlen == 1 && h->value[0] == '1'))
		*dst = true;
	else if ((h->vlen == 5 && !memcmp(h->value, "false", 5)) ||
		 (h->vlen == 1 && h->value[0] == '0'))
		*dst = false;
	else
		return bad_meta(c, hdr, "wants true or false");
	return 0;
}

/* ---- status mapping ----------------------------------------------------------- */

/* The element library's errors that mean "too much, later": a rate
 * limiter, admission control and a quota (specs/elements/). Every other
 * ANF error is a denial. */
static const char *const exhausted[] = { "rate-limited", "overloaded", "over-quota" };

enum fr_gw_code fr_gw_status_of(const struct flatrpc_service_desc *svc, int err,
				uint8_t status, char *msg, size_t n)
{
	const char *name = flatrpc_status_str(svc, status);

	switch (err) {
	case 0:
		snprintf(msg, n, "ok");
		return FR_GW_OK;
	case FLATRPC_E_ANF:
		snprintf(msg, n, "denied by %s", name);
		if (status == FLATRPC_ST_STATE_FULL)
			return FR_GW_RESOURCE_EXHAUSTED;
		for (size_t i = 0; i < sizeof(exhausted) / sizeof(exhausted[0]); i++)
			if (!strcmp(name, exhausted[i]))
				return FR_GW_RESOURCE_EXHAUSTED;
		return FR_GW_PERMISSION_DENIED;
	case FLATRPC_E_TIMEOUT:
		snprintf(msg, n, "no response from the FlatRPC service in its spec's time");
		return FR_GW_DEADLINE_EXCEEDED;
	case FLATRPC_E_REMOTE:
		snprintf(msg, n, "the FlatRPC server answered %s", name);
		switch (status) {
		case FLATRPC_ST_NO_METHOD: return FR_GW_UNIMPLEMENTED;
		case FLATRPC_ST_BAD_REQUEST: return FR_GW_INVALID_ARGUMENT;
		case FLATRPC_ST_STATE_FULL: return FR_GW_RESOURCE_EXHAUSTED;
		default: return FR_GW_UNKNOWN;
		}
	case FLATRPC_E_OVERLOADED:
		snprintf(msg, n, "the FlatRPC server is busy");
		return FR_GW_UNAVAILABLE;
	case FLATRPC_E_BUSY:
		snprintf(msg, n, "the gateway has too many FlatRPC calls outstanding");
		return FR_GW_RESOURCE_EXHAUSTED;
	case FLATRPC_E_NOROUTE:
		snprintf(msg, n, "no route to the FlatRPC service");
		return FR_GW_UNAVAILABLE;
	default:
		snprintf(msg, n, "FlatRPC: %s", flatrpc_strerror(err));
		return FR_GW_INTERNAL;
	}
}

int64_t fr_gw_parse_timeout(const char *s, size_t n)
{
	int64_t v = 0, unit;

	/* the gRPC spec: TimeoutValue is at most 8 digits */
	if (n < 2 || n > 9)
		return -1;
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	switch (s[n - 1]) {
	case 'H': unit = 3600000000000ll; break;
	case 'M': unit = 60000000000ll; break;
	case 'S': unit = 1000000000ll; break;
	case 'm': unit = 1000000ll; break;
	case 'u': unit = 1000ll; break;
	case 'n': unit = 1; break;
	default: return -1;
	}
	return v * unit;	/* 99999999H fits in 63 bits */
}

/* ---- responses ---------------------------------------------------------------- */

/* grpc-message is percent-encoded outside printable ASCII (and '%') */
static void pct_encode(const char *s, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t k = 0;

	for (; *s && k + 4 < n; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch > 0x7e || ch == '%') {
			out[k++] = '%';
			out[k++] = hex[ch >> 4];
			out[k++] = hex[ch & 15];
		} else {
			out[k++] = (char)ch;
		}
	}
	out[k] = 0;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), \
		   NGHTTP2_NV_FLAG_NONE }

static ssize_t read_out(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
			uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct fr_gw_call *c = src->ptr;
	size_t n = c->out_len - c->out_off;
	char st[8], msg[3 * sizeof(c->msg)];

	if (n > len)
		n = len;
	if (n)
		memcpy(buf, c->out + c->out_off, n);
	c->out_off += n;
	if (c->out_off == c->out_len) {
		nghttp2_nv tr[] = { NV("grpc-status", st), NV("grpc-message", msg) };

		if (c->reflect && !c->in_done && !c->ending) {
			/* the client may ask more: wait for it (refl_flush resumes) */
			c->out_off = c->out_len = 0;
			return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
		}
		if (c->reflect) {
			if (c->code == FR_GW_OK)
				G.ok++;
			else
				G.failed++;
		}
		/* an error after messages: only a stream's can be one */
		snprintf(st, sizeof(st), "%d", c->code);
		tr[0].valuelen = strlen(st);
		pct_encode(c->msg, msg, sizeof(msg));
		tr[1].valuelen = strlen(msg);
		/* gRPC ends a stream on its trailers, never on DATA */
		*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		if (nghttp2_submit_trailer(h2, id, tr, c->code == FR_GW_OK ? 1 : 2))
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	return (ssize_t)n;
}

/* Sends the call's answer: its message and OK, or its error alone
 * ("Trailers-Only"). */
static void answer(struct fr_gw_call *c)
{
	char st[8], msg[3 * sizeof(c->msg)];

	if (c->answered)
		return;
	c->answered = 1;
	pending_del(c);
	if (c->code == FR_GW_OK && c->out) {
		nghttp2_nv hv[] = { NV(":status", "200"), NV("content-type", "application/grpc") };
		nghttp2_data_provider prd = { .source.ptr = c, .read_callback = read_out };

		G.ok++;
		nghttp2_submit_response(c->conn->h2, c->stream_id, hv, 2, &prd);
		return;
	}
	if (c->code == FR_GW_OK)
		fr_gw_fail(c, FR_GW_INTERNAL, "no response");
	G.failed++;
	snprintf(st, sizeof(st), "%d", c->code);
	pct_encode(c->msg, msg, sizeof(msg));
	nghttp2_nv ev[] = {
		NV(":status", c->bad_type ? "415" : "200"), NV("content-type", "application/grpc"),
		NV("grpc-status", st), NV("grpc-message", msg),
	};
	if (G.verbose)
		fprintf(stderr, "flatrpc-gateway: %s: status %d: %s\n", c->path, c->code, c->msg);
	nghttp2_submit_response(c->conn->h2, c->stream_id, ev, 4, NULL);
}

static void health(struct fr_gw_call *c, const uint8_t *pb, size_t len)
{
	Grpc__Health__V1__HealthCheckRequest *q;
	Grpc__Health__V1__HealthCheckResponse a = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	uint8_t *out;

	q = grpc__health__v1__health_check_request__unpack(NULL, len, pb);
	if (!q) {
		fr_gw_fail(c, FR_GW_INVALID_ARGUMENT, "HealthCheckRequest does not decode");
		return;
	}
	/* "" is the server as a whole (the health protocol's convention) */
	if (q->service[0] && strcmp(q->service, G.gs->grpc_name)) {
		char m[160];

		snprintf(m, sizeof(m), "unknown service '%.100s'", q->service);
		fr_gw_fail(c, FR_GW_NOT_FOUND, m);
	} else {
		/* SERVING: the socket is bound to the interface's pins; a dead
		 * FlatRPC server shows in its calls, not here */
		a.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
		out = fr_gw_reply_buf(c, grpc__health__v1__health_check_response__get_packed_size(&a));
		if (out)
			grpc__health__v1__health_check_response__pack(&a, out);
	}
	grpc__health__v1__health_check_request__free_unpacked(q, NULL);
}

/* ---- server reflection: a bidirectional stream ---------------------------------- */

/* Sends what the stream has: its response headers with the first answer,
 * then each answer as it is made, then the trailers once the client has
 * half-closed or the stream failed. */
static void refl_flush(struct fr_gw_call *c)
{
	nghttp2_nv hv[] = { NV(":status", "200"), NV("content-type", "application/grpc") };
	nghttp2_data_provider prd = { .source.ptr = c, .read_callback = read_out };

	if (c->streaming) {
		nghttp2_session_resume_data(c->conn->h2, c->stream_id);
		return;
	}
	if (c->code != FR_GW_OK) {
		answer(c);	/* nothing sent yet: Trailers-Only, as a unary call */
		return;
	}
	if (c->out_len == c->out_off && !c->in_done)
		return;
	c->streaming = c->answered = 1;
	nghttp2_submit_response(c->conn->h2, c->stream_id, hv, 2, &prd);
}

static void refl_end(struct fr_gw_call *c, enum fr_gw_code code, const char *msg)
{
	fr_gw_fail(c, code, msg);
	c->ending = 1;
	/* before the first answer, answer() says it */
	if (G.verbose && c->streaming)
		fprintf(stderr, "flatrpc-gateway: %s: status %d: %s\n", c->path, c->code, c->msg);
	refl_flush(c);
}

static int refl_queue(struct fr_gw_call *c, const uint8_t *pb, size_t n)
{
	size_t unsent = c->out_len - c->out_off, need = unsent + GRPC_PREFIX + n;

	if (need > GW_REFL_OUT_MAX)
		return fr_gw_fail(c, FR_GW_RESOURCE_EXHAUSTED,
				  "the client does not read its reflection answers");
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, unsent);
		c->out_off = 0;
		c->out_len = unsent;
	}
	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		uint8_t *p;

		while (cap < need)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p)
			return fr_gw_fail(c, FR_GW_RESOURCE_EXHAUSTED, "gateway out of memory");
		c->out = p;
		c->out_cap = cap;
	}
	c->out[c->out_len] = 0;
	c->out[c->out_len + 1] = (uint8_t)(n >> 24);
	c->out[c->out_len + 2] = (uint8_t)(n >> 16);
	c->out[c->out_len + 3] = (uint8_t)(n >> 8);
	c->out[c->out_len + 4] = (uint8_t)n;
	memcpy(c->out + c->out_len + GRPC_PREFIX, pb, n);
	c->out_len += GRPC_PREFIX + n;
	return 0;
}

/* Answers every whole request in c->in, in order; keeps a partial one. */
static void refl_pump(struct fr_gw_call *c)
{
	size_t used = 0;

	while (!c->ending && c->in_len - used >= GRPC_PREFIX) {
		const uint8_t *p = c->in + used;
		uint32_t mlen = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 |
				p[4];
		uint8_t *pb;
		ssize_t n;

		if (p[0] > 1) {
			refl_end(c, FR_GW_INVALID_ARGUMENT, "not a length-prefixed gRPC message");
			break;
		}
		if (p[0]) {
			refl_end(c, FR_GW_UNIMPLEMENTED, "compressed messages are not supported");
			break;
		}
		if (mlen > GW_REFL_MAX) {
			char m[120];

			snprintf(m, sizeof(m), "reflection request larger than %u bytes",
				 GW_REFL_MAX);
			refl_end(c, FR_GW_RESOURCE_EXHAUSTED, m);
			break;
		}
		if (c->in_len - used < GRPC_PREFIX + mlen)
			break;
		n = fr_gw_reflect(G.refl, p + GRPC_PREFIX, mlen, &pb);
		if (n == -1) {
			refl_end(c, FR_GW_INVALID_ARGUMENT, "ServerReflectionRequest does not decode");
			break;
		}
		if (n < 0 || refl_queue(c, pb, (size_t)n)) {
			free(pb);
			refl_end(c, FR_GW_RESOURCE_EXHAUSTED, c->code == FR_GW_OK ?
				 "gateway out of memory" : c->msg);
			break;
		}
		free(pb);
		used += GRPC_PREFIX + mlen;
	}
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
	if (!c->ending)
		refl_flush(c);
}

static void refl_data(struct fr_gw_call *c, const uint8_t *data, size_t len)
{
	const size_t max = GRPC_PREFIX + GW_REFL_MAX;

	if (!c->in) {
		c->in = malloc(max);
		if (!c->in) {
			refl_end(c, FR_GW_RESOURCE_EXHAUSTED, "gateway out of memory");
			return;
		}
		c->in_cap = max;
	}
	/* at most one request buffered: each is answered as soon as it is whole */
	while (len && !c->ending) {
		size_t n = max - c->in_len < len ? max - c->in_len : len;

		memcpy(c->in + c->in_len, data, n);
		c->in_len += n;
		data += n;
		len -= n;
		refl_pump(c);
	}
}

/* The request's headers are in, or the client half-closed. */
static void refl_frame(struct fr_gw_call *c, const nghttp2_frame *f)
{
	if (c->ending)
		return;
	if (c->bad_type) {
		refl_end(c, FR_GW_UNKNOWN, "content-type is not application/grpc");
		return;
	}
	if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return;
	c->in_done = 1;
	if (c->in_len) {
		refl_end(c, FR_GW_INVALID_ARGUMENT, "the stream ended inside a gRPC message");
		return;
	}
	refl_flush(c);
}

/* The request is whole (END_STREAM): decode it and call FlatRPC, or answer
 * at once. */
static void request_done(struct fr_gw_call *c)
{
	uint32_t mlen;
	int n, err;

	if (c->answered)
		return;
	G.calls++;
	/* not from its first header: the client's wait between its HEADERS
	 * and its DATA is not the gateway's time */
	c->t_begin = G.t_recv;
	if (c->bad_type) {
		fr_gw_fail(c, FR_GW_UNKNOWN, "content-type is not application/grpc");
		goto reply;
	}
	if (c->hdr_overflow) {
		fr_gw_fail(c, FR_GW_RESOURCE_EXHAUSTED, "too much metadata");
		goto reply;
	}
	if (!c->m && !c->health) {
		char m[200];

		snprintf(m, sizeof(m), "unknown method %.150s", c->path[0] ? c->path : "(no :path)");
		fr_gw_fail(c, FR_GW_UNIMPLEMENTED, m);
		goto reply;
	}
	if (c->code != FR_GW_OK)
		goto reply;
	if (c->in_len < GRPC_PREFIX) {
		fr_gw_fail(c, FR_GW_INVALID_ARGUMENT, "no gRPC message in the request");
		goto reply;
	}
	mlen = (uint32_t)c->in[1] << 24 | (uint32_t)c->in[2] << 16 | (uint32_t)c->in[3] << 8 |
	       c->in[4];
	if (c->in[0] > 1 || mlen != c->in_len - GRPC_PREFIX) {
		fr_gw_fail(c, FR_GW_INVALID_ARGUMENT,
			   "the request is not one length-prefixed gRPC message");
		goto reply;
	}
	if (c->in[0]) {
		/* we announce no grpc-accept-encoding, so a client must not */
		fr_gw_fail(c, FR_GW_UNIMPLEMENTED, "compressed messages are not supported");
		goto reply;
	}
	if (c->health) {
		health(c, c->in + GRPC_PREFIX, mlen);
		goto reply;
	}
	n = c->m->req(c, c->in + GRPC_PREFIX, mlen, G.body, sizeof(G.body));
	if (n < 0)
		goto reply;
	if (c->deadline && now_ns() >= c->deadline) {
		fr_gw_fail(c, FR_GW_DEADLINE_EXCEEDED, "deadline exceeded before the call was sent");
		goto reply;
	}
	if (!G.sock) {
		fr_gw_fail(c, FR_GW_UNAVAILABLE, "no FlatRPC socket");
		goto reply;
	}
	/* before the send: on veth its syscall carries the frame through the
	 * server's XDP in softirq, which is the FlatRPC leg, not the gateway */
	if (G.own)
		c->t_send = now_ns();
	err = flatrpc_send(G.sock, &G.peer, c->m->id, G.body, (size_t)n, &c->rpc_id);
	if (err) {
		char m[160];

		fr_gw_fail(c, fr_gw_status_of(G.gs->svc, err, 0, m, sizeof(m)), m);
		goto reply;
	}
	pending_add(c);
	return;
reply:
	answer(c);
}

static void complete(const struct flatrpc_completion *k)
{
	struct fr_gw_call *c;

	for (c = G.pending; c; c = c->pnext)
		if (c->rpc_id == k->rpc_id)
			break;
	if (!c)
		return;		/* answered already: its deadline passed, or its stream closed */
	if (G.own)
		c->t_done = now_ns();
	if (k->err) {
		char m[160];

		fr_gw_fail(c, fr_gw_status_of(G.gs->svc, k->err, k->status, m, sizeof(m)), m);
	} else {
		c->m->resp(c, k->body, k->len);
	}
	answer(c);
}

static void expire(uint64_t now)
{
	struct fr_gw_call *c, *next;

	for (c = G.pending; c; c = next) {
		next = c->pnext;
		if (c->deadline && now >= c->deadline) {
			fr_gw_fail(c, FR_GW_DEADLINE_EXCEEDED, "deadline exceeded (grpc-timeout)");
			answer(c);
		}
	}
}

/* ---- HTTP/2 callbacks ----------------------------------------------------------- */

static struct fr_gw_call *stream_call(nghttp2_session *h2, int32_t id)
{
	return nghttp2_session_get_stream_user_data(h2, id);
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct fr_gw_conn *k = user;
	struct fr_gw_call *c;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;	/* RST_STREAM */
	c->conn = k;
	c->stream_id = f->hd.stream_id;
	c->next = k->calls;
	if (k->calls)
		k->calls->prev = c;
	k->calls = c;
	nghttp2_session_set_stream_user_data(h2, f->hd.stream_id, c);
	return 0;
}

static int is(const uint8_t *p, size_t n, const char *s)
{
	return n == strlen(s) && !memcmp(p, s, n);
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
		     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
	struct fr_gw_call *c = stream_call(h2, f->hd.stream_id);

	if (!c || f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;	/* trailers of a request carry nothing we read */
	if (is(name, nlen, ":path")) {
		snprintf(c->path, sizeof(c->path), "%.*s", (int)(vlen < 127 ? vlen : 127), value);
		if (is(value, vlen, GW_HEALTH_PATH))
			c->health = 1;
		if (is(value, vlen, GW_REFL_V1A) || is(value, vlen, GW_REFL_V1)) {
			c->reflect = 1;
			G.calls++;	/* the stream is one call, however many requests */
		}
		for (unsigned i = 0; i < G.gs->n_methods; i++)
			if (is(value, vlen, G.gs->methods[i].path))
				c->m = &G.gs->methods[i];
	} else if (is(name, nlen, "content-type")) {
		/* application/grpc, +proto or ;params; anything else is not ours */
		c->bad_type = !(vlen >= 16 && !memcmp(value, "application/grpc", 16) &&
				(vlen == 16 || value[16] == '+' || value[16] == ';'));
	} else if (is(name, nlen, "grpc-timeout")) {
		int64_t t = fr_gw_parse_timeout((const char *)value, vlen);
		if (t < 0)
			fr_gw_fail(c, FR_GW_INVALID_ARGUMENT, "malformed grpc-timeout");
		else
			c->deadline = now_ns() + (uint64_t)t;
	} else if (name[0] != ':' && !(nlen > 5 && !memcmp(name, "grpc-", 5))) {
		/* kept for the glue's fr_gw_meta_*(); HPACK has lower-cased them */
		if (c->nhdrs == GW_MAX_HDRS || c->hdr_bytes + nlen + vlen > GW_HDR_BYTES) {
			c->hdr_overflow = 1;
			return 0;
		}
		struct gw_hdr *h = &c->hdrs[c->nhdrs];
		h->name = malloc(nlen + vlen + 2);
		if (!h->name) {
			c->hdr_overflow = 1;
			return 0;
		}
		memcpy(h->name, name, nlen);
		h->name[nlen] = 0;
		h->value = h->name + nlen + 1;
		memcpy(h->value, value, vlen);
		h->value[vlen] = 0;
		h->vlen = vlen;
		c->nhdrs++;
		c->hdr_bytes += nlen + vlen;
	}
	return 0;
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
		   size_t len, void *user)
{
	struct fr_gw_call *c = stream_call(h2, id);
	size_t max;

	if (c && c->reflect) {
		if (!c->ending)
			refl_data(c, data, len);
		return 0;
	}
	if (!c || c->answered)
		return 0;
	max = GRPC_PREFIX + (c->m ? c->m->pb_max : c->health ? GW_HEALTH_MAX : 0);
	if (c->in_len + len > max) {
		if (!c->m && !c->health)
			return 0;	/* an unknown method's message: answered at its end */
		/* answered now, and the rest is dropped: nothing above the
		 * spec's bound is ever buffered */
		char m[160];

		snprintf(m, sizeof(m), "request larger than the spec allows (%zu bytes with the "
			 "gRPC prefix)", max);
		fr_gw_fail(c, FR_GW_RESOURCE_EXHAUSTED, m);
		answer(c);
		return 0;
	}
	if (c->in_len + len > c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap : 512;
		uint8_t *p;

		while (cap < c->in_len + len)
			cap *= 2;
		if (cap > max)
			cap = max;
		p = realloc(c->in, cap);
		if (!p) {
			fr_gw_fail(c, FR_GW_RESOURCE_EXHAUSTED, "gateway out of memory");
			answer(c);
			return 0;
		}
		c->in = p;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, data, len);
	c->in_len += len;
	return 0;
}

static int on_frame(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct fr_gw_call *c;

	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	c = stream_call(h2, f->hd.stream_id);
	if (c && c->reflect) {
		refl_frame(c, f);
		return 0;
	}
	if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	if (c)
		request_done(c);
	return 0;
}

static int on_close(nghttp2_session *h2, int32_t id, uint32_t code, void *user)
{
	struct fr_gw_call *c = stream_call(h2, id);

	if (c) {
		nghttp2_session_set_stream_user_data(h2, id, NULL);
		call_free(c);	/* a late FlatRPC completion finds nothing */
	}
	return 0;
}

/* A GOAWAY with an error is nghttp2 ending a connection for what the
 * client sent: counted with the errors mem_recv() itself reports. */
static int on_sent(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	/* a call's last frame has been serialized for the socket: from the
	 * bytes that made its request whole to here, less the FlatRPC round
	 * trip, was the gateway's */
	if (G.own && f->hd.type == NGHTTP2_HEADERS && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		struct fr_gw_call *c = stream_call(h2, f->hd.stream_id);

		if (c && c->t_done && c->t_begin && G.nown < GW_TIMED) {
			uint64_t own = now_ns() - c->t_begin - (c->t_done - c->t_send);

			G.own[G.nown++] = own > UINT32_MAX ? UINT32_MAX : (uint32_t)own;
		}
	}
	if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR) {
		G.h2_errors++;
		if (G.verbose)
			fprintf(stderr, "flatrpc-gateway: HTTP/2: GOAWAY %s\n",
				nghttp2_http2_strerror(f->goaway.error_code));
	}
	return 0;
}

static nghttp2_session_callbacks *callbacks(void)
{
	static nghttp2_session_callbacks *cb;

	if (!cb && !nghttp2_session_callbacks_new(&cb)) {
		nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
		nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
		nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
		nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
		nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
		nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_sent);
	}
	return cb;
}

/* ---- connections ---------------------------------------------------------------- */

static struct fr_gw_conn *conn_new(int fd)
{
	struct fr_gw_conn *k = calloc(1, sizeof(*k));
	nghttp2_settings_entry set[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1024 },
		/* a whole request of the largest method fits the first window */
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20 },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16384 },
	};
	nghttp2_session_callbacks *cb = callbacks();

	if (!k || !cb || nghttp2_session_server_new(&k->h2, cb, k)) {
		free(k);
		return NULL;
	}
	k->fd = fd;
	nghttp2_submit_settings(k->h2, NGHTTP2_FLAG_NONE, set, sizeof(set) / sizeof(set[0]));
	return k;
}

static void conn_free(struct fr_gw_conn *k)
{
	/* the calls first, unhooked from their streams: whether the session's
	 * teardown calls on_close is none of our business then */
	while (k->calls) {
		nghttp2_session_set_stream_user_data(k->h2, k->calls->stream_id, NULL);
		call_free(k->calls);
	}
	nghttp2_session_del(k->h2);
	if (k->fd >= 0)
		close(k->fd);
	free(k->wbuf);
	free(k);
}

/* Writes what nghttp2 has to send; what the socket does not take waits in
 * wbuf, and nothing more is asked of nghttp2 until it has gone. */
static int conn_flush(struct fr_gw_conn *k)
{
	for (;;) {
		const uint8_t *p;
		ssize_t n, w;

		if (k->woff < k->wlen) {
			if (k->fd < 0) {
				k->woff = k->wlen;
				continue;
			}
			w = send(k->fd, k->wbuf + k->woff, k->wlen - k->woff, MSG_NOSIGNAL);
			if (w < 0)
				return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
			k->woff += (size_t)w;
			if (k->woff < k->wlen)
				return 0;
		}
		k->woff = k->wlen = 0;
		n = nghttp2_session_mem_send(k->h2, &p);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		w = k->fd < 0 ? n : send(k->fd, p, (size_t)n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			w = 0;
		}
		if (w < n) {
			uint8_t *b = realloc(k->wbuf, (size_t)(n - w));
			if (!b)
				return -1;
			k->wbuf = b;
			memcpy(b, p + w, (size_t)(n - w));
			k->wlen = (size_t)(n - w);
			k->woff = 0;
		}
	}
}

/* Bytes from the client. Malformed HTTP/2 ends this connection only, with
 * a GOAWAY where nghttp2 still can send one. */
static int conn_feed(struct fr_gw_conn *k, const uint8_t *p, size_t n)
{
	ssize_t r = nghttp2_session_mem_recv(k->h2, p, n);

	if (r < 0) {
		if (G.verbose)
			fprintf(stderr, "flatrpc-gateway: HTTP/2: %s\n", nghttp2_strerror((int)r));
		/* counted by on_sent() as its GOAWAY leaves */
		nghttp2_session_terminate_session(k->h2, NGHTTP2_PROTOCOL_ERROR);
		conn_flush(k);
		return -1;
	}
	if (conn_flush(k))
		return -1;
	return nghttp2_session_want_read(k->h2) || nghttp2_session_want_write(k->h2) ? 0 : -1;
}

/* The reflection index of the linked descriptor set, once. */
static int refl_init(char *err, size_t n)
{
	if (!G.refl)
		G.refl = fr_gw_refl_new(fr_gw_descriptor_set, fr_gw_descriptor_set_len, err, n);
	return G.refl ? 0 : -1;
}

struct fr_gw_conn *fr_gw_test_conn(const struct fr_gw_service *gs)
{
	char err[200];

	G.gs = gs;
	G.sock = NULL;
	if (refl_init(err, sizeof(err)))
		return NULL;
	return conn_new(-1);
}

int fr_gw_test_feed(struct fr_gw_conn *k, const uint8_t *p, size_t n)
{
	return conn_feed(k, p, n);
}

void fr_gw_test_close(struct fr_gw_conn *k)
{
	conn_free(k);
}

enum fr_gw_code fr_gw_test_request(const struct fr_gw_service *gs, unsigned method,
				   const uint8_t *pb, size_t n)
{
	struct fr_gw_call c = { 0 };
	int len;

	G.gs = gs;
	len = gs->methods[method].req(&c, pb, n, G.body, sizeof(G.body));
	/* a refused request always says why: the client gets that status */
	if (len < 0 && c.code == FR_GW_OK)
		abort();
	return c.code;
}

enum fr_gw_code fr_gw_test_response(const struct fr_gw_service *gs, unsigned method,
				    const uint8_t *body, size_t n)
{
	struct fr_gw_call c = { 0 };

	G.gs = gs;
	gs->methods[method].resp(&c, body, n);
	free(c.out);
	return c.code;
}

/* ---- the loop ------------------------------------------------------------------- */

static int listen_on(const char *spec)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char *end;
	long port;
	int fd, one = 1;

	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = 0;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535 || !inet_pton(AF_INET, host, &sa.sin_addr))
		return -EINVAL;
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128)) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static void accept_all(int lfd)
{
	for (;;) {
		int one = 1, fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct fr_gw_conn *k;

		if (fd < 0)
			return;
		if (G.nconns == GW_MAX_CONNS) {
			close(fd);	/* the client retries; the others keep their service */
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		k = conn_new(fd);
		if (!k || conn_flush(k)) {
			if (k)
				conn_free(k);
			else
				close(fd);
			continue;
		}
		G.conns[G.nconns++] = k;
		G.conns_total++;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* --timing's line at exit, for bench/run.sh --gateway */
static void print_timing(void)
{
	size_t n = G.nown;

	qsort(G.own, n, sizeof(*G.own), cmp_u32);
	printf("timing: calls %zu gateway_own_p50_us %.2f gateway_own_p99_us %.2f\n", n,
	       n ? G.own[n / 2] / 1e3 : 0.0, n ? G.own[n * 99 / 100] / 1e3 : 0.0);
}

static void on_signal(int sig)
{
	stop = 1;
}

static int run(int lfd)
{
	static uint8_t rbuf[65536];
	struct pollfd pfd[GW_MAX_CONNS + 2];
	struct flatrpc_completion done[64];

	while (!stop) {
		unsigned n = 0;
		int timeout = -1, r;

		pfd[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = flatrpc_sock_fd(G.sock), .events = POLLIN };
		for (unsigned i = 0; i < G.nconns; i++)
			pfd[n++] = (struct pollfd){
				.fd = G.conns[i]->fd,
				.events = POLLIN | (G.conns[i]->wlen || nghttp2_session_want_write(
						G.conns[i]->h2) ? POLLOUT : 0),
			};
		/* the library's retransmission timers need flatrpc_poll() */
		if (G.pending)
			timeout = 1;
		r = poll(pfd, n, timeout);
		if (r < 0 && errno != EINTR)
			return -errno;

		r = flatrpc_poll(G.sock, done, 64, 0);
		for (int i = 0; i < r; i++)
			complete(&done[i]);
		expire(now_ns());

		for (unsigned i = 0; i < G.nconns; i++) {
			struct fr_gw_conn *k = G.conns[i];
			short ev = pfd[i + 2].revents;

			if (ev & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t got = recv(k->fd, rbuf, sizeof(rbuf), 0);

				if (G.own)
					G.t_recv = now_ns();
				if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
					k->dead = 1;
				else if (got > 0 && conn_feed(k, rbuf, (size_t)got))
					k->dead = 1;
			}
			/* answers of completions and deadlines, and POLLOUT */
			if (!k->dead && conn_flush(k))
				k->dead = 1;
		}
		for (unsigned i = 0; i < G.nconns;) {
			if (G.conns[i]->dead) {
				conn_free(G.conns[i]);
				G.conns[i] = G.conns[--G.nconns];
			} else {
				i++;
			}
		}
		if (pfd[0].revents & POLLIN)
			accept_all(lfd);
	}
	return 0;
}

static void usage(FILE *f, const char *prog, const struct fr_gw_service *gs)
{
	fprintf(f,
		"usage: %s --iface IF --server ADDR[:PORT] [--listen IP:PORT] [--skb] [--timing] [-v]\n"
		"\n"
		"A gRPC gateway to the FlatRPC service %s: serves gRPC over HTTP/2\n"
		"without TLS (h2c) and calls the service with libflatrpc-user.\n"
		"\n"
		"  --iface IF       the interface with flatrpc-load's pins for %s\n"
		"  --server ADDR    the FlatRPC server (address or name, :PORT if not %u)\n"
		"  --listen IP:PORT where gRPC clients connect (default 127.0.0.1:50051)\n"
		"  --skb            bind the AF_XDP socket in SKB mode\n"
		"  --timing         at exit, the p50 and p99 of each call's time in the\n"
		"                   gateway, its FlatRPC round trip left out\n"
		"  -v               say why each failed call failed, on stderr\n"
		"  --help           this text\n"
		"\n"
		"Methods: the .proto of `flatrpc-gen --proto`, as %s; also\n"
		"grpc.health.v1.Health/Check and server reflection (grpc.reflection.v1\n"
		"and v1alpha). Metadata fields come from gRPC headers (docs/grpc.md). Exit status: 0 stopped by SIGINT/SIGTERM, 1 failure,\n"
		"2 usage error.\n"
		"\n"
		"Example:\n"
		"  %s --iface eth0 --server 10.0.0.2 --listen 0.0.0.0:50051\n",
		prog, gs->svc->name, gs->svc->name, gs->svc->port, gs->grpc_name, prog);
}

int fr_gw_main(int argc, char **argv, const struct fr_gw_service *gs)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "server", required_argument, NULL, 'S' },
		{ "listen", required_argument, NULL, 'l' },
		{ "skb", no_argument, NULL, 'k' },
		{ "timing", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct flatrpc_sock_opts so = { 0 };
	const char *server = NULL, *listen_at = "127.0.0.1:50051";
	char msg[200];
	int c, err, lfd;

	G.gs = gs;
	while ((c = getopt_long(argc, argv, "i:S:l:kvht", opts, NULL)) != -1) {
		switch (c) {
		case 'i': so.ifname = optarg; break;
		case 'S': server = optarg; break;
		case 'l': listen_at = optarg; break;
		case 'k': so.skb_mode = 1; break;
		case 't':
			if (!G.own && !(G.own = malloc(GW_TIMED * sizeof(*G.own)))) {
				fprintf(stderr, "%s: --timing: out of memory\n", argv[0]);
				return 1;
			}
			break;
		case 'v': G.verbose = 1; break;
		case 'h': usage(stdout, argv[0], gs); return 0;
		default: usage(stderr, argv[0], gs); return 2;
		}
	}
	if (!so.ifname || !server || optind != argc) {
		usage(stderr, argv[0], gs);
		return 2;
	}
	err = flatrpc_peer_parse(&G.peer, server);
	if (err) {
		fprintf(stderr, "%s: --server %s: %s\n", argv[0], server,
			err == -ENOENT ? "no such host" : err == -EAGAIN ?
			"the name could not be resolved now" : "wants an address or a name");
		return err == -EINVAL ? 2 : 1;
	}
	if (refl_init(msg, sizeof(msg))) {
		/* the build's own bytes: a broken set is a broken build */
		fprintf(stderr, "%s: server reflection: %s\n", argv[0], msg);
		return 1;
	}
	lfd = listen_on(listen_at);
	if (lfd == -EINVAL) {
		fprintf(stderr, "%s: --listen wants IPv4:PORT, got '%s'\n", argv[0], listen_at);
		return 2;
	}
	if (lfd < 0) {
		fprintf(stderr, "%s: cannot listen on %s: %s\n", argv[0], listen_at, strerror(-lfd));
		return 1;
	}
	G.sock = flatrpc_sock_new(gs->svc, &so, &err);
	if (!G.sock) {
		fprintf(stderr, "%s: cannot open a FlatRPC socket on %s: %s\n", argv[0], so.ifname,
			flatrpc_strerror(err));
		close(lfd);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	printf("%s: gRPC %s on %s -> FlatRPC %s at %s via %s\n", argv[0], gs->grpc_name,
	       listen_at, gs->svc->name, server, so.ifname);
	fflush(stdout);
	err = run(lfd);
	while (G.nconns)
		conn_free(G.conns[--G.nconns]);
	close(lfd);
	flatrpc_sock_del(G.sock);
	fr_gw_refl_free(G.refl);
	G.refl = NULL;
	if (G.own)
		print_timing();
	printf("calls %" PRIu64 " ok %" PRIu64 " failed %" PRIu64 " connections %" PRIu64
	       " http2_errors %" PRIu64 "\n", G.calls, G.ok, G.failed, G.conns_total, G.h2_errors);
	if (err)
		fprintf(stderr, "%s: poll: %s\n", argv[0], strerror(-err));
	return err ? 1 : 0;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * h2-bench - the KV mix of kv-bench over HTTP/2 (nghttp2), h2c with prior
 * knowledge on one TCP connection, so bench/run.sh can put a plain HTTP/2
 * stack (no gRPC, no protobuf) beside the others in the same run.
 *
 *   h2-bench server --port P [--busy-poll]
 *   h2-bench client --server ADDR [--port P] [--busy-poll] [--count N]
 *                   [--outstanding K] [--warmup W] [--server-pids PID[,PID...]]
 *
 * Every request is a POST on its own stream carrying username and session-id
 * as headers, as a mesh proxy would read them. Bodies carry what gRPC's
 * protobuf carries: the key (get), or a key length byte, the key and the
 * 64-byte value (set). A get answers with the value, a set with one byte
 * (1 when stored). The server answers 400 to a request without username or
 * session-id, 404 to an unknown path; the client counts anything but 200 as
 * an error. With --busy-poll both ends use non-blocking sockets and spin.
 *
 * The client prints kv-bench's line (proto=h2 mode= outstanding= count=
 * p50_us= p99_us= rate_per_s= errors= client_cpu_us_per_rpc=
 * server_cpu_us_per_rpc= body_bytes_per_rpc=).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "../examples/kv/kv_store.h"
#include "cpu_acct.h"

#define MAX_OUTSTANDING	64
#define VALUE_LEN	64
#define BODY_MAX	(1 + KV_STORE_KEY_MAX + KV_STORE_VAL_MAX)

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = 1; }

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* --- one connection: bytes in and out, for either end ----------------------- */

struct conn {
	int			fd, busy;
	nghttp2_session		*s;
	uint8_t			in[1 << 16];
};

/* Everything nghttp2 has queued goes out in as few writes as it fits in,
 * as a pipelining server or client would send it. */
static int conn_flush(struct conn *c)
{
	static uint8_t out[1 << 16];
	size_t olen = 0;

	for (;;) {
		const uint8_t *p;
		ssize_t n = nghttp2_session_mem_send(c->s, &p);

		if (n < 0) {
			fprintf(stderr, "h2-bench: send: %s\n", nghttp2_strerror((int)n));
			return -1;
		}
		if (n == 0 || olen + (size_t)n > sizeof(out)) {
			for (size_t off = 0; off < olen;) {
				ssize_t w = send(c->fd, out + off, olen - off, MSG_NOSIGNAL);

				if (w < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (w < 0) {
					perror("h2-bench: send");
					return -1;
				}
				off += (size_t)w;
			}
			olen = 0;
		}
		if (n == 0)
			return 0;
		memcpy(out + olen, p, (size_t)n);
		olen += (size_t)n;
	}
}

/* One read (spinning when busy) fed to nghttp2. 0 on progress or a harmless
 * interruption, 1 when the peer closed, -1 on error. */
static int conn_read(struct conn *c)
{
	ssize_t n = recv(c->fd, c->in, sizeof(c->in), c->busy ? MSG_DONTWAIT : 0);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : (perror("h2-bench: recv"), -1);
	if (n == 0)
		return 1;
	ssize_t r = nghttp2_session_mem_recv(c->s, c->in, (size_t)n);

	if (r < 0) {
		fprintf(stderr, "h2-bench: bad HTTP/2 from the peer: %s\n", nghttp2_strerror((int)r));
		return -1;
	}
	return 0;
}

static void conn_tune(int fd, int busy)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (busy)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int conn_settings(struct conn *c)
{
	nghttp2_settings_entry st = { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100 };

	return nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, &st, 1);
}

/* A body held by the caller, sent as one DATA frame (it fits the default
 * 16 KiB frame and 64 KiB window). */
struct body {
	const uint8_t	*p;
	size_t		len, off;
};

static ssize_t body_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct body *b = src->ptr;
	size_t n = b->len - b->off < len ? b->len - b->off : len;

	memcpy(buf, b->p + b->off, n);
	b->off += n;
	if (b->off == b->len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

#define NV(n, v, vl) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vl), \
		       NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE }

/* --- server ------------------------------------------------------------------------ */

enum { PATH_NONE, PATH_GET, PATH_SET };

struct sreq {
	int		path, has_user, has_session;
	uint8_t		in[BODY_MAX];
	size_t		in_len;
	int		too_big;
	uint8_t		out[KV_STORE_VAL_MAX];
	struct body	resp;
	char		status[4];
};

static int srv_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct sreq *r = calloc(1, sizeof(*r));

	if (!r)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	nghttp2_session_set_stream_user_data(s, f->hd.stream_id, r);
	return 0;
}

static int hdr_is(const uint8_t *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

static int srv_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		      const uint8_t *val, size_t vl, uint8_t flags, void *ud)
{
	struct sreq *r = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

	if (!r)
		return 0;
	if (hdr_is(name, nl, ":path"))
		r->path = hdr_is(val, vl, "/kv/get") ? PATH_GET : hdr_is(val, vl, "/kv/set") ? PATH_SET : PATH_NONE;
	else if (hdr_is(name, nl, "username"))
		r->has_user = vl > 0;
	else if (hdr_is(name, nl, "session-id"))
		r->has_session = vl > 0;
	return 0;
}

static int srv_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *d, size_t n, void *ud)
{
	struct sreq *r = nghttp2_session_get_stream_user_data(s, sid);

	if (!r)
		return 0;
	if (r->in_len + n > sizeof(r->in))
		r->too_big = 1;
	else
		memcpy(r->in + r->in_len, d, n);
	r->in_len += n;
	return 0;
}

/* The store work of kv-bench's kv_handle(), on this stack's body format;
 * returns the HTTP status. */
static const char *kv_do(struct kv_store *st, struct sreq *r)
{
	char key[KV_STORE_KEY_MAX + 1];

	if (!r->has_user || !r->has_session || r->too_big)
		return "400";
	if (r->path == PATH_GET) {
		if (r->in_len == 0 || r->in_len > KV_STORE_KEY_MAX)
			return "400";
		memcpy(key, r->in, r->in_len);
		key[r->in_len] = '\0';
		const struct kv_slot *sl = kv_store_get(st, key);

		if (sl) {
			memcpy(r->out, sl->val, sl->len);
			r->resp.len = sl->len;
		}
		return "200";
	}
	if (r->path == PATH_SET) {
		size_t kl = r->in_len ? r->in[0] : 0;

		if (kl == 0 || kl > KV_STORE_KEY_MAX || 1 + kl > r->in_len ||
		    r->in_len - 1 - kl > KV_STORE_VAL_MAX)
			return "400";
		memcpy(key, r->in + 1, kl);
		key[kl] = '\0';
		r->out[0] = kv_store_set(st, key, r->in + 1 + kl, (uint16_t)(r->in_len - 1 - kl)) != NULL;
		r->resp.len = 1;
		return "200";
	}
	return "404";
}

static int srv_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
	    !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	struct sreq *r = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

	if (!r)
		return 0;
	memcpy(r->status, kv_do(ud, r), 4);
	r->resp.p = r->out;
	nghttp2_nv nva[] = { NV(":status", r->status, 3) };
	nghttp2_data_provider prd = { .source.ptr = &r->resp, .read_callback = body_read };

	return nghttp2_submit_response(s, f->hd.stream_id, nva, 1, r->resp.len ? &prd : NULL) ?
	       NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static int srv_close(nghttp2_session *s, int32_t sid, uint32_t err, void *ud)
{
	free(nghttp2_session_get_stream_user_data(s, sid));
	nghttp2_session_set_stream_user_data(s, sid, NULL);
	return 0;
}

static int server(uint16_t port, int busy)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	static struct conn c;
	struct kv_store st;
	nghttp2_session_callbacks *cb;
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) || listen(lfd, 8)) {
		perror("h2-bench: tcp socket");
		return 1;
	}
	if (kv_store_init(&st, 1 << 16) || nghttp2_session_callbacks_new(&cb))
		return 1;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, srv_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, srv_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, srv_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, srv_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, srv_close);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* one client connection at a time, each its own HTTP/2 session */
	while (!stop) {
		c.fd = accept(lfd, NULL, NULL);
		c.busy = busy;
		if (c.fd < 0)
			continue;
		conn_tune(c.fd, busy);
		if (nghttp2_session_server_new(&c.s, cb, &st) || conn_settings(&c)) {
			fprintf(stderr, "h2-bench: cannot set up an HTTP/2 session\n");
			return 1;
		}
		int rc = conn_flush(&c);

		while (!rc && !stop && (nghttp2_session_want_read(c.s) || nghttp2_session_want_write(c.s))) {
			rc = conn_read(&c);
			if (!rc)
				rc = conn_flush(&c);
		}
		nghttp2_session_del(c.s);
		close(c.fd);
	}
	nghttp2_session_callbacks_del(cb);
	close(lfd);
	return 0;
}

/* --- client ------------------------------------------------------------------------ */

struct call {
	unsigned long	seq;
	uint64_t	at;
	int		status;
	uint8_t		buf[BODY_MAX];
	struct body	req;
	size_t		resp_len;
};

struct run {
	unsigned long	count, warmup, total, sent, done, errors;
	unsigned	outstanding, inflight;
	uint64_t	*lat, t_start, t_end, body_bytes, cpu0_client;
	unsigned long	n_lat;
	struct cpu_acct	server, server0;
	struct conn	c;
};

static int cli_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		      const uint8_t *val, size_t vl, uint8_t flags, void *ud)
{
	struct call *k = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

	if (k && hdr_is(name, nl, ":status"))
		k->status = hdr_is(val, vl, "200") ? 200 : -1;
	return 0;
}

static int cli_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *d, size_t n, void *ud)
{
	struct call *k = nghttp2_session_get_stream_user_data(s, sid);

	if (k)
		k->resp_len += n;
	return 0;
}

static int cli_close(nghttp2_session *s, int32_t sid, uint32_t err, void *ud)
{
	struct run *r = ud;
	struct call *k = nghttp2_session_get_stream_user_data(s, sid);
	uint64_t t = now_ns();

	if (!k)
		return 0;
	if (err || k->status != 200)
		r->errors++;
	r->body_bytes += k->resp_len;
	if (k->seq == r->warmup) {
		/* CPU over the measured window only, as kv-bench counts it */
		r->cpu0_client = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
		r->server0 = r->server;	/* the pid list */
		cpu_acct_read(&r->server0);
		r->t_start = k->at;
	}
	if (k->seq >= r->warmup)
		r->lat[r->n_lat++] = t - k->at;
	free(k);
	r->done++;
	r->inflight--;
	return 0;
}

/* kv-bench's mix: 1 in 5 is a set, and the four gets after it read the key
 * it wrote, so every get hits and returns the 64-byte value. */
static int submit_call(struct run *r, const char *authority)
{
	static const char value[VALUE_LEN + 1] =
		"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";
	struct call *k = calloc(1, sizeof(*k));
	unsigned long i = r->sent;
	int is_set = i % 5 == 0;
	char key[24];

	if (!k)
		return -1;
	int kl = snprintf(key, sizeof(key), "key-%lu", (i - i % 5) % 1000);

	if (is_set) {
		k->buf[0] = (uint8_t)kl;
		memcpy(k->buf + 1, key, (size_t)kl);
		memcpy(k->buf + 1 + kl, value, VALUE_LEN);
		k->req.len = 1 + (size_t)kl + VALUE_LEN;
	} else {
		memcpy(k->buf, key, (size_t)kl);
		k->req.len = (size_t)kl;
	}
	k->req.p = k->buf;
	k->seq = i;
	nghttp2_nv nva[] = {
		NV(":method", "POST", 4),
		NV(":scheme", "http", 4),
		NV(":authority", authority, strlen(authority)),
		NV(":path", is_set ? "/kv/set" : "/kv/get", 7),
		NV("username", "Kevin", 5),
		NV("session-id", "7", 1),
	};
	nghttp2_data_provider prd = { .source.ptr = &k->req, .read_callback = body_read };

	r->body_bytes += k->req.len;
	k->at = now_ns();
	int32_t sid = nghttp2_submit_request(r->c.s, NULL, nva, sizeof(nva) / sizeof(nva[0]), &prd, k);

	if (sid < 0) {
		fprintf(stderr, "h2-bench: request: %s\n", nghttp2_strerror(sid));
		free(k);
		return -1;
	}
	r->sent++;
	r->inflight++;
	return 0;
}

static int client(struct run *r, const char *server, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	nghttp2_session_callbacks *cb;
	int rc = 0;

	if (inet_pton(AF_INET, server, &sin.sin_addr) != 1) {
		fprintf(stderr, "h2-bench: --server takes an IPv4 address, not '%s'\n", server);
		return 2;
	}
	r->c.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (r->c.fd < 0 || connect(r->c.fd, (struct sockaddr *)&sin, sizeof(sin))) {
		fprintf(stderr, "h2-bench: cannot connect to %s:%u: %s\n", server, port, strerror(errno));
		return 1;
	}
	conn_tune(r->c.fd, r->c.busy);
	if (nghttp2_session_callbacks_new(&cb))
		return 1;
	nghttp2_session_callbacks_set_on_header_callback(cb, cli_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, cli_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, cli_close);
	if (nghttp2_session_client_new(&r->c.s, cb, r) || conn_settings(&r->c)) {
		fprintf(stderr, "h2-bench: cannot set up an HTTP/2 session\n");
		return 1;
	}
	while (!rc && r->done < r->total) {
		while (!rc && r->sent < r->total && r->inflight < r->outstanding)
			rc = submit_call(r, server);
		if (!rc)
			rc = conn_flush(&r->c);
		if (!rc)
			rc = conn_read(&r->c);
		if (rc == 1)
			fprintf(stderr, "h2-bench: the server closed the connection\n");
	}
	r->t_end = now_ns();
	nghttp2_session_del(r->c.s);
	nghttp2_session_callbacks_del(cb);
	close(r->c.fd);
	return rc ? 1 : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: h2-bench server --port P [--busy-poll]\n"
		"       h2-bench client --server ADDR [--port P] [--busy-poll] [--count N]\n"
		"                       [--outstanding K] [--warmup W] [--server-pids PID[,PID...]]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 'S' },
		{ "port", required_argument, NULL, 'P' },
		{ "busy-poll", no_argument, NULL, 'b' },
		{ "count", required_argument, NULL, 'c' },
		{ "outstanding", required_argument, NULL, 'o' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "server-pids", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct run r = { .count = 20000, .warmup = 2000, .outstanding = 1 };
	const char *server_addr = NULL;
	uint16_t port = 9446;
	int c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "S:P:bc:o:w:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'S': server_addr = optarg; break;
		case 'P': port = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'b': r.c.busy = 1; break;
		case 'c': r.count = strtoul(optarg, NULL, 0); break;
		case 'o': r.outstanding = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'w': r.warmup = strtoul(optarg, NULL, 0); break;
		case 's': cpu_acct_init(&r.server, optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (strcmp(argv[1], "server") == 0)
		return server(port, r.c.busy);
	if (strcmp(argv[1], "client") != 0 || !server_addr || !r.count || !r.outstanding ||
	    r.outstanding > MAX_OUTSTANDING) {
		usage(stderr);
		return 2;
	}
	r.total = r.count + r.warmup;
	r.lat = calloc(r.count, sizeof(*r.lat));
	if (!r.lat)
		return 1;
	int rc = client(&r, server_addr, port);

	if (rc)
		return rc;
	uint64_t cpu_client = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - r.cpu0_client;

	cpu_acct_read(&r.server);
	uint64_t cpu_server = cpu_acct_delta(&r.server0, &r.server);

	qsort(r.lat, r.n_lat, sizeof(*r.lat), cmp_u64);
	double secs = (double)(r.t_end - r.t_start) / 1e9, n = (double)r.n_lat;

	printf("proto=h2 mode=%s outstanding=%u count=%lu p50_us=%.2f p99_us=%.2f rate_per_s=%.0f errors=%lu"
	       " client_cpu_us_per_rpc=%.2f server_cpu_us_per_rpc=%.2f body_bytes_per_rpc=%.1f\n",
	       r.c.busy ? "busy" : "blocking", r.outstanding, r.n_lat,
	       r.n_lat ? r.lat[r.n_lat / 2] / 1e3 : 0.0, r.n_lat ? r.lat[r.n_lat * 99 / 100] / 1e3 : 0.0,
	       secs > 0 ? n / secs : 0.0, r.errors, n ? cpu_client / 1e3 / n : 0.0,
	       n ? cpu_server / 1e3 / n : 0.0, (double)r.body_bytes / (double)r.total);
	return r.errors ? 1 : 0;
}

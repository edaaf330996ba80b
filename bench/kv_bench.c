/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * kv-bench - the KV mix (80% get / 20% set, ~100 B) over FlatRPC and over
 * plain UDP and TCP (NODELAY) sockets, so bench/run.sh can run them side by
 * side and print ratios. The baselines do the same store work per request
 * and carry the same encoded body behind a 5-byte header (TCP adds a 2-byte
 * length), with no ANFs.
 *
 *   kv-bench udp-server|tcp-server --port P [--busy-poll]
 *   kv-bench client --proto udp|tcp|flatrpc --server ADDR [--iface IF] [--port P]
 *                   [--busy-poll] [--count N] [--outstanding K] [--warmup W]
 *                   [--server-pids PID[,PID...]] [--loss] [--stall-us T] [--late-ok]
 * The client prints one line: proto= mode= outstanding= count= p50_us=
 * p99_us= rate_per_s= errors= client_cpu_us_per_rpc= server_cpu_us_per_rpc=
 * body_bytes_per_rpc= get_p50_us= get_p99_us= gets= gets_lost= set_p50_us=
 * set_p99_us= sets= late=. The CPU figures cover the measured window (the
 * server's needs --server-pids); the bodies cover every call. The get_* and
 * set_* figures are over the measured calls of that method that completed. --loss says the link loses frames on purpose (bench/run.sh's
 * head-of-line run): a lossy call that times out is then counted as lost
 * (gets_lost), not as an error, and left out of every latency figure.
 * --stall-us T (FlatRPC): a call in flight for more than T µs stops counting
 * against --outstanding, so a call lost to its whole timeout does not leave
 * the run with fewer calls going, and less queueing, than the run without
 * loss it is compared with (at most MAX_OUTSTANDING in flight all the same).
 * --late-ok (FlatRPC, bench/run.sh --smoke): on a loaded machine a lossy
 * call's response can come after its timeout. Such a call is counted late,
 * not failed, provided its response does arrive: at the end the client waits
 * for as many stale responses as it had lossy timeouts, and fails if fewer
 * come, since a response that never comes on a lossless link is a bug.
 */
#include <arpa/inet.h>
#include <errno.h>
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

#include <flatrpc.h>
#include "kv_stubs.h"
#include "../examples/kv/kv_store.h"
#include "cpu_acct.h"

#define MAX_OUTSTANDING	64
#define UDP_HDR		5	/* le32 id + u8 method (or status in replies) */
/* FlatRPC calls by rpc_id: a lost lossy call holds its entry for its whole
 * timeout while other calls go on, so the table is far larger than what is
 * in flight */
#define N_SLOTS		(1u << 16)

static volatile int stop;
static void on_signal(int sig) { stop = 1; }

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* --- baseline servers -------------------------------------------------------- */

/* One request (UDP_HDR + body) in, one reply out; returns the reply length.
 * Shared by the UDP and TCP servers so both do the same store work. */
static size_t kv_handle(struct kv_store *st, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	int rlen = -1;

	memcpy(out, in, 4);
	out[4] = 0;
	if (in[4] == KV_GET) {
		struct kv_get_req r;
		struct kv_get_resp p = { 0 };

		if (kv_get_req_decode(&r, in + UDP_HDR, n - UDP_HDR) == 0) {
			const struct kv_slot *s = kv_store_get(st, r.key);

			p.value.len = s ? s->len : 0;
			if (s)
				memcpy(p.value.data, s->val, s->len);
			rlen = kv_get_resp_encode(&p, out + UDP_HDR, cap - UDP_HDR);
		}
	} else {
		struct kv_set_req r;
		struct kv_set_resp p = { 0 };

		if (kv_set_req_decode(&r, in + UDP_HDR, n - UDP_HDR) == 0) {
			p.ok = kv_store_set(st, r.key, r.value.data, r.value.len) != NULL;
			rlen = kv_set_resp_encode(&p, out + UDP_HDR, cap - UDP_HDR);
		}
	}
	if (rlen < 0) {
		out[4] = 1;
		rlen = 0;
	}
	return UDP_HDR + (size_t)rlen;
}

static void catch_stop(void)
{
	/* no SA_RESTART: a blocked recv must return to see `stop` */
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static int udp_server(uint16_t port, int busy)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct kv_store st;
	uint8_t in[2048], out[2048];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		perror("kv-bench: udp socket");
		return 1;
	}
	if (kv_store_init(&st, 1 << 16))
		return 1;
	catch_stop();
	while (!stop) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, in, sizeof(in), busy ? MSG_DONTWAIT : 0,
				     (struct sockaddr *)&from, &fl);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			perror("kv-bench: recvfrom");
			return 1;
		}
		if (n < UDP_HDR)
			continue;
		size_t rlen = kv_handle(&st, in, (size_t)n, out, sizeof(out));

		sendto(fd, out, rlen, 0, (struct sockaddr *)&from, fl);
	}
	close(fd);
	return 0;
}

/* TCP frames are le16 length + the UDP datagram, so the two baselines carry
 * the same bytes above the transport. */
#define TCP_LEN		2

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void tcp_tune(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int tcp_server(uint16_t port, int busy)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct kv_store st;
	static uint8_t in[1 << 16], out[1 << 16];
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) || listen(lfd, 8)) {
		perror("kv-bench: tcp socket");
		return 1;
	}
	if (kv_store_init(&st, 1 << 16))
		return 1;
	catch_stop();
	while (!stop) {
		int fd = accept(lfd, NULL, NULL);
		size_t have = 0;

		if (fd < 0)
			continue;
		tcp_tune(fd);
		while (!stop) {
			ssize_t n = recv(fd, in + have, sizeof(in) - have, busy ? MSG_DONTWAIT : 0);

			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0)
				break;
			have += (size_t)n;
			/* answer every whole frame in the buffer with one send, as a
			 * pipelining server would */
			size_t off = 0, olen = 0;

			while (have - off >= TCP_LEN) {
				uint16_t fl = (uint16_t)(in[off] | in[off + 1] << 8);

				if (have - off < TCP_LEN + (size_t)fl)
					break;
				if (fl >= UDP_HDR && olen + 2048 <= sizeof(out)) {
					size_t r = kv_handle(&st, in + off + TCP_LEN, fl,
							     out + olen + TCP_LEN, 2048 - TCP_LEN);

					out[olen] = (uint8_t)r;
					out[olen + 1] = (uint8_t)(r >> 8);
					olen += TCP_LEN + r;
				}
				off += TCP_LEN + fl;
			}
			memmove(in, in + off, have - off);
			have -= off;
			if (olen && write_all(fd, out, olen))
				break;
		}
		close(fd);
	}
	close(lfd);
	return 0;
}

/* --- the request mix --------------------------------------------------------- */

static int encode_mix(unsigned long i, uint8_t *method, uint8_t *buf, size_t cap)
{
	/* 1 in 5 is a set; the four gets after it read the key it wrote, so
	 * every get hits and returns the 64-byte value */
	char key[24];
	int is_set = i % 5 == 0;

	snprintf(key, sizeof(key), "key-%lu", (i - i % 5) % 1000);
	if (is_set) {
		struct kv_set_req r = { .session_id = 7 };

		strcpy(r.username, "Kevin");
		strcpy(r.key, key);
		r.value.len = 64;
		memset(r.value.data, 'v', 64);
		*method = KV_SET;
		return kv_set_req_encode(&r, buf, cap);
	}
	struct kv_get_req r = { .session_id = 7 };

	strcpy(r.username, "Kevin");
	strcpy(r.key, key);
	*method = KV_GET;
	return kv_get_req_encode(&r, buf, cap);
}

/* --- clients ------------------------------------------------------------------- */

struct run {
	unsigned long	count, warmup;
	unsigned	outstanding;
	int		busy;
	uint64_t	*lat;		/* ns, one per measured call */
	unsigned long	n_lat;
	uint64_t	*get_lat;	/* ns, the measured gets that completed */
	unsigned long	n_get, gets_lost;
	uint64_t	*set_lat;	/* ns, the measured sets that completed */
	unsigned long	n_set;
	int		loss;		/* --loss */
	int		late_ok;	/* --late-ok */
	unsigned long	late;		/* lossy calls timed out, answered later */
	uint64_t	stall_ns;	/* --stall-us */
	uint64_t	t_start, t_end;	/* measured window */
	int		started;	/* t_start and the CPU baselines taken */
	unsigned long	errors;
	uint64_t	body_bytes;	/* request + response bodies, every call */
	struct cpu_acct	server, server0;	/* no pids: client CPU only */
	uint64_t	cpu0_client;
	/* FlatRPC: where a call can wait besides the network */
	uint64_t	cwnd_cuts, waited, retransmits;
};

static uint64_t cpu_self_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void record(struct run *r, unsigned long seq, uint8_t method, uint64_t sent, uint64_t now)
{
	if (seq >= r->warmup && !r->started) {
		/* CPU is counted over the measured window only, so socket setup
		 * and a busy server's idle spinning before it stay out. The
		 * first measured call to complete opens it: the one at seq ==
		 * warmup may be lost or late, and never come here. */
		r->started = 1;
		r->cpu0_client = cpu_self_ns();
		r->server0 = r->server;	/* the pid list */
		cpu_acct_read(&r->server0);
		r->t_start = sent;
	}
	if (seq >= r->warmup) {
		r->lat[r->n_lat++] = now - sent;
		if (method == KV_GET)
			r->get_lat[r->n_get++] = now - sent;
		else if (method == KV_SET)
			r->set_lat[r->n_set++] = now - sent;
	}
}

static int udp_client(struct run *r, struct in_addr server, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = server };
	uint64_t sent_at[MAX_OUTSTANDING];
	unsigned long seq_of[MAX_OUTSTANDING];
	unsigned long total = r->count + r->warmup, sent = 0, done = 0;
	unsigned inflight = 0;
	uint8_t buf[2048];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		perror("kv-bench: udp client socket");
		return 1;
	}
	while (done < total) {
		while (sent < total && inflight < r->outstanding) {
			uint32_t slot = (uint32_t)(sent % MAX_OUTSTANDING);
			uint8_t m;
			int n = encode_mix(sent, &m, buf + UDP_HDR, sizeof(buf) - UDP_HDR);

			memcpy(buf, &slot, 4);
			buf[4] = m;
			r->body_bytes += (size_t)n;
			sent_at[slot] = now_ns();
			seq_of[slot] = sent;
			if (send(fd, buf, UDP_HDR + (size_t)n, 0) < 0) {
				perror("kv-bench: send");
				return 1;
			}
			sent++;
			inflight++;
		}
		ssize_t n = recv(fd, buf, sizeof(buf), r->busy ? MSG_DONTWAIT : 0);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			perror("kv-bench: recv");
			return 1;
		}
		uint32_t slot;

		memcpy(&slot, buf, 4);
		if (n < UDP_HDR || slot >= MAX_OUTSTANDING)
			continue;
		if (buf[4])
			r->errors++;
		r->body_bytes += (size_t)n - UDP_HDR;
		record(r, seq_of[slot], seq_of[slot] % 5 ? KV_GET : KV_SET, sent_at[slot], now_ns());
		done++;
		inflight--;
	}
	r->t_end = now_ns();
	close(fd);
	return 0;
}

static int tcp_client(struct run *r, struct in_addr server, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = server };
	uint64_t sent_at[MAX_OUTSTANDING];
	unsigned long seq_of[MAX_OUTSTANDING];
	unsigned long total = r->count + r->warmup, sent = 0, done = 0;
	unsigned inflight = 0;
	static uint8_t in[1 << 16];
	uint8_t buf[2048];
	size_t have = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		perror("kv-bench: tcp client socket");
		return 1;
	}
	tcp_tune(fd);
	while (done < total) {
		while (sent < total && inflight < r->outstanding) {
			uint32_t slot = (uint32_t)(sent % MAX_OUTSTANDING);
			uint8_t m;
			int n = encode_mix(sent, &m, buf + TCP_LEN + UDP_HDR,
					   sizeof(buf) - TCP_LEN - UDP_HDR);
			size_t fl = UDP_HDR + (size_t)n;

			buf[0] = (uint8_t)fl;
			buf[1] = (uint8_t)(fl >> 8);
			memcpy(buf + TCP_LEN, &slot, 4);
			buf[TCP_LEN + 4] = m;
			r->body_bytes += (size_t)n;
			sent_at[slot] = now_ns();
			seq_of[slot] = sent;
			if (write_all(fd, buf, TCP_LEN + fl)) {
				perror("kv-bench: send");
				return 1;
			}
			sent++;
			inflight++;
		}
		ssize_t n = recv(fd, in + have, sizeof(in) - have, r->busy ? MSG_DONTWAIT : 0);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			perror("kv-bench: recv");
			return 1;
		}
		if (n == 0) {
			fprintf(stderr, "kv-bench: tcp server closed\n");
			return 1;
		}
		have += (size_t)n;
		uint64_t t = now_ns();
		size_t off = 0;

		while (have - off >= TCP_LEN) {
			size_t fl = (size_t)(in[off] | in[off + 1] << 8);
			uint32_t slot;

			if (have - off < TCP_LEN + fl)
				break;
			memcpy(&slot, in + off + TCP_LEN, 4);
			if (fl >= UDP_HDR && slot < MAX_OUTSTANDING) {
				if (in[off + TCP_LEN + 4])
					r->errors++;
				r->body_bytes += fl - UDP_HDR;
				record(r, seq_of[slot], seq_of[slot] % 5 ? KV_GET : KV_SET,
				       sent_at[slot], t);
				done++;
				inflight--;
			}
			off += TCP_LEN + fl;
		}
		memmove(in, in + off, have - off);
		have -= off;
	}
	r->t_end = now_ns();
	close(fd);
	return 0;
}

static struct { uint32_t id; unsigned long seq; uint64_t at; } slot[N_SLOTS];

/* How many of the calls in flight count against --outstanding: all of them,
 * or with --stall-us those younger than that. *wait_ms: how long a poll may
 * block before the next of them turns stale (a new call may go then). */
static unsigned going(const struct run *r, const uint32_t *fly, unsigned inflight,
		      uint64_t now, int *wait_ms)
{
	unsigned n = 0;

	if (!r->stall_ns)
		return inflight;
	for (unsigned j = 0; j < inflight; j++) {
		uint64_t age = now - slot[fly[j] % N_SLOTS].at;

		if (age >= r->stall_ns)
			continue;
		n++;
		int ms = (int)((r->stall_ns - age + 999999) / 1000000);
		if (ms < *wait_ms)
			*wait_ms = ms;
	}
	return n;
}

static int flatrpc_client(struct run *r, const char *ifname, struct in_addr server)
{
	struct flatrpc_sock_opts so = { .ifname = ifname,
					.mode = r->busy ? FLATRPC_POLL_BUSY : FLATRPC_POLL_BLOCKING };
	struct flatrpc_peer peer = { .addr = server };
	struct flatrpc_completion comp[MAX_OUTSTANDING];
	unsigned long total = r->count + r->warmup, sent = 0, done = 0;
	unsigned inflight = 0;
	uint32_t fly[MAX_OUTSTANDING];	/* ids in flight, for --stall-us */
	uint8_t buf[2048];
	int err, n_done;
	struct flatrpc_sock *s = flatrpc_sock_new(&kv_service, &so, &err);

	if (!s) {
		fprintf(stderr, "kv-bench: flatrpc socket on %s: %s\n", ifname, flatrpc_strerror(err));
		return 1;
	}
	memset(slot, 0xff, sizeof(slot));
	while (done < total) {
		int wait_ms = 1000;

		while (sent < total && inflight < MAX_OUTSTANDING &&
		       going(r, fly, inflight, now_ns(), &wait_ms) < r->outstanding) {
			uint8_t m;
			int n = encode_mix(sent, &m, buf, sizeof(buf));
			uint32_t id;
			uint64_t t = now_ns();

			/* what goes on the wire: client: elements strip their fields */
			r->body_bytes += (size_t)n - kv_service.methods[m].req_strip;
			n = flatrpc_send(s, &peer, m, buf, (size_t)n, &id);
			if (n < 0) {
				fprintf(stderr, "kv-bench: send: %s\n", flatrpc_strerror(n));
				return 1;
			}
			slot[id % N_SLOTS].id = id;
			slot[id % N_SLOTS].seq = sent;
			slot[id % N_SLOTS].at = t;
			fly[inflight] = id;
			sent++;
			inflight++;
		}
		int n = flatrpc_poll(s, comp, MAX_OUTSTANDING, wait_ms);

		if (n < 0) {
			fprintf(stderr, "kv-bench: poll: %s\n", flatrpc_strerror(n));
			return 1;
		}
		uint64_t t = now_ns();

		for (int i = 0; i < n; i++) {
			unsigned k = comp[i].rpc_id % N_SLOTS;
			int mine = slot[k].id == comp[i].rpc_id;
			int lossy_to = comp[i].err == FLATRPC_E_TIMEOUT &&
				       !(kv_service.methods[comp[i].method].flags & FLATRPC_M_RELIABLE);
			int lost = r->loss && lossy_to;

			if (lost && comp[i].method == KV_GET && mine && slot[k].seq >= r->warmup)
				r->gets_lost++;
			else if (lossy_to && r->late_ok && !r->loss) {
				lost = 1;	/* out of the figures; checked below */
				r->late++;
			}
			else if (comp[i].err && !lost && !r->errors++)
				fprintf(stderr, "kv-bench: first failed call: #%ld, method %u: %s (status %s)\n",
					mine ? (long)slot[k].seq : -1L, comp[i].method, flatrpc_strerror(comp[i].err),
					flatrpc_status_str(&kv_service, comp[i].status));
			r->body_bytes += comp[i].len;
			if (mine && !lost)
				record(r, slot[k].seq, comp[i].method, slot[k].at, t);
			for (unsigned j = 0; j < inflight; j++)
				if (fly[j] == comp[i].rpc_id) {
					fly[j] = fly[inflight - 1];
					break;
				}
			done++;
			inflight--;
		}
	}
	r->t_end = now_ns();
	if (r->late) {
		struct flatrpc_sock_stats st;
		uint64_t give_up = now_ns() + 2000000000ull;

		/* Stale also counts the second answer to a retransmitted reliable
		 * call, so a lost lossy response can hide behind one: the check
		 * is a lower bound that fails only when too few came. */
		do {
			n_done = flatrpc_poll(s, comp, MAX_OUTSTANDING, 10);
			if (n_done != 0) {
				fprintf(stderr, "kv-bench: waiting for late responses: %s\n",
					n_done < 0 ? flatrpc_strerror(n_done) : "a call completed twice");
				return 1;
			}
			flatrpc_sock_stats(s, &st);
		} while (st.stale < r->late && now_ns() < give_up);
		fprintf(stderr, "kv-bench (%s, %u outstanding): %lu lossy calls timed out; %lu responses"
			" came after their call had timed out\n", r->busy ? "busy" : "blocking",
			r->outstanding, r->late, (unsigned long)st.stale);
		if (st.stale < r->late) {
			fprintf(stderr, "kv-bench: %lu lossy responses never came on a link that loses"
				" nothing\n", r->late - (unsigned long)st.stale);
			r->errors++;
		}
	}
	if (r->errors) {
		struct flatrpc_sock_stats st;

		/* late or lost: a response that comes after its call timed out is
		 * counted stale, so the two tell a slow peer from a lossy path */
		flatrpc_sock_stats(s, &st);
		fprintf(stderr, "kv-bench: %lu calls timed out; %lu responses came after their call had"
			" timed out\n", (unsigned long)st.timeouts, (unsigned long)st.stale);
	}
	struct flatrpc_sock_stats end;

	flatrpc_sock_stats(s, &end);
	r->cwnd_cuts = end.cwnd_cuts;
	r->waited = end.waited;
	r->retransmits = end.retransmits;
	flatrpc_sock_del(s);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kv-bench udp-server|tcp-server --port P [--busy-poll]\n"
		"       kv-bench client --proto udp|tcp|flatrpc --server ADDR [--iface IF] [--port P]\n"
		"                       [--busy-poll] [--count N] [--outstanding K] [--warmup W]\n"
		"                       [--server-pids PID[,PID...]] [--loss] [--stall-us T] [--late-ok]\n"
		"bench/run.sh runs both protocols side by side and prints the ratios.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "proto", required_argument, NULL, 'p' },
		{ "server", required_argument, NULL, 'S' },
		{ "iface", required_argument, NULL, 'i' },
		{ "port", required_argument, NULL, 'P' },
		{ "busy-poll", no_argument, NULL, 'b' },
		{ "count", required_argument, NULL, 'c' },
		{ "outstanding", required_argument, NULL, 'o' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "server-pids", required_argument, NULL, 's' },
		{ "loss", no_argument, NULL, 'L' },
		{ "stall-us", required_argument, NULL, 'T' },
		{ "late-ok", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct run r = { .count = 20000, .warmup = 2000, .outstanding = 1 };
	const char *proto = NULL, *server = NULL, *ifname = NULL;
	uint16_t port = 9447;
	struct in_addr addr;
	int c, rc;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];

	optind = 2;
	while ((c = getopt_long(argc, argv, "p:S:i:P:bc:o:w:s:LT:lh", opts, NULL)) != -1) {
		switch (c) {
		case 'p': proto = optarg; break;
		case 'S': server = optarg; break;
		case 'i': ifname = optarg; break;
		case 'P': port = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'b': r.busy = 1; break;
		case 'c': r.count = strtoul(optarg, NULL, 0); break;
		case 'o': r.outstanding = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'w': r.warmup = strtoul(optarg, NULL, 0); break;
		case 's': cpu_acct_init(&r.server, optarg); break;
		case 'L': r.loss = 1; break;
		case 'T': r.stall_ns = strtoull(optarg, NULL, 0) * 1000; break;
		case 'l': r.late_ok = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (strcmp(cmd, "udp-server") == 0)
		return udp_server(port, r.busy);
	if (strcmp(cmd, "tcp-server") == 0)
		return tcp_server(port, r.busy);
	if (strcmp(cmd, "client") != 0 || !proto || !server || !r.count ||
	    !r.outstanding || r.outstanding > MAX_OUTSTANDING ||
	    inet_pton(AF_INET, server, &addr) != 1 ||
	    (strcmp(proto, "flatrpc") == 0 && !ifname)) {
		usage(stderr);
		return 2;
	}
	r.lat = calloc(r.count, sizeof(*r.lat));
	r.get_lat = calloc(r.count, sizeof(*r.get_lat));
	r.set_lat = calloc(r.count, sizeof(*r.set_lat));
	if (!r.lat || !r.get_lat || !r.set_lat)
		return 1;
	if (strcmp(proto, "udp") == 0)
		rc = udp_client(&r, addr, port);
	else if (strcmp(proto, "tcp") == 0)
		rc = tcp_client(&r, addr, port);
	else if (strcmp(proto, "flatrpc") == 0)
		rc = flatrpc_client(&r, ifname, addr);
	else {
		usage(stderr);
		return 2;
	}
	if (rc)
		return rc;
	uint64_t cpu_client = cpu_self_ns() - r.cpu0_client;
	cpu_acct_read(&r.server);
	uint64_t cpu_server = cpu_acct_delta(&r.server0, &r.server);
	unsigned long calls = r.count + r.warmup;

	qsort(r.lat, r.n_lat, sizeof(*r.lat), cmp_u64);
	qsort(r.get_lat, r.n_get, sizeof(*r.get_lat), cmp_u64);
	qsort(r.set_lat, r.n_set, sizeof(*r.set_lat), cmp_u64);
	double secs = (double)(r.t_end - r.t_start) / 1e9;

	printf("proto=%s mode=%s outstanding=%u count=%lu p50_us=%.2f p99_us=%.2f rate_per_s=%.0f errors=%lu"
	       " client_cpu_us_per_rpc=%.2f server_cpu_us_per_rpc=%.2f body_bytes_per_rpc=%.1f"
	       " get_p50_us=%.2f get_p99_us=%.2f gets=%lu gets_lost=%lu"
	       " set_p50_us=%.2f set_p99_us=%.2f sets=%lu late=%lu"
	       " cwnd_cuts=%llu waited=%llu retransmits=%llu\n",
	       proto, r.busy ? "busy" : "blocking", r.outstanding, r.n_lat,
	       r.n_lat ? r.lat[r.n_lat / 2] / 1e3 : 0.0,
	       r.n_lat ? r.lat[(r.n_lat * 99) / 100] / 1e3 : 0.0,
	       secs > 0 ? (double)r.n_lat / secs : 0.0, r.errors,
	       r.n_lat ? cpu_client / 1e3 / (double)r.n_lat : 0.0,
	       r.n_lat ? cpu_server / 1e3 / (double)r.n_lat : 0.0,
	       (double)r.body_bytes / (double)calls,
	       r.n_get ? r.get_lat[r.n_get / 2] / 1e3 : 0.0,
	       r.n_get ? r.get_lat[(r.n_get * 99) / 100] / 1e3 : 0.0, r.n_get, r.gets_lost,
	       r.n_set ? r.set_lat[r.n_set / 2] / 1e3 : 0.0,
	       r.n_set ? r.set_lat[(r.n_set * 99) / 100] / 1e3 : 0.0, r.n_set, r.late,
	       (unsigned long long)r.cwnd_cuts, (unsigned long long)r.waited,
	       (unsigned long long)r.retransmits);
	return r.errors ? 1 : 0;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * kv-server - the paper's key-value store served over FlatRPC.
 *
 * The handlers only see requests that the kernel let through: the firewall
 * and session tracker ran in XDP before the frame reached this socket.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <time.h>

#include <flatrpc.h>
#include "kv_stubs.h"
#include "kv_store.h"

struct server {
	struct kv_store	store;
	FILE		*log;
	uint64_t	n_get, n_set, n_full;
	long		delay_us;	/* --delay-us: a deliberately slow server */
};

static volatile int stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void log_request(struct server *sv, const char *method,
			const char *user, uint64_t session, const char *key)
{
	if (!sv->log)
		return;
	fprintf(sv->log, "%s %s %" PRIu64 " %s\n", method, user, session, key);
	/* tests read the log while the server runs */
	fflush(sv->log);
}

/* Stands for a handler that computes: requests pile up in the library. */
static void slow_down(const struct server *sv)
{
	struct timespec ts = { sv->delay_us / 1000000, (sv->delay_us % 1000000) * 1000 };

	if (sv->delay_us > 0)
		nanosleep(&ts, NULL);
}

static int handle_get(void *ctx, const struct kv_get_req *req, struct kv_get_resp *resp)
{
	struct server *sv = ctx;
	const struct kv_slot *s = kv_store_get(&sv->store, req->key);

	slow_down(sv);
	sv->n_get++;
	log_request(sv, "get", req->username, req->session_id, req->key);
	resp->value.len = s ? s->len : 0;
	if (s)
		memcpy(resp->value.data, s->val, s->len);
	return 0;
}

static int handle_set(void *ctx, const struct kv_set_req *req, struct kv_set_resp *resp)
{
	struct server *sv = ctx;

	slow_down(sv);
	sv->n_set++;
	log_request(sv, "set", req->username, req->session_id, req->key);
	if (!kv_store_set(&sv->store, req->key, req->value.data, req->value.len)) {
		sv->n_full++;
		resp->ok = false;
		return 0;
	}
	resp->ok = true;
	return 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE [--busy-poll] [--skb] [--queue N] [--log FILE]\n"
		"       [--delay-us N] [--busy-at N]\n"
		"\n"
		"Serves kv.get and kv.set on IFACE, which flatrpc-load must have set up:\n"
		"  sudo flatrpc-load specs/kv.anf IFACE\n"
		"\n"
		"  --iface IFACE  interface to serve on (required)\n"
		"  --busy-poll    spin on the rings instead of sleeping in poll(2)\n"
		"  --skb          bind the AF_XDP socket in SKB (generic XDP) mode\n"
		"  --queue N      receive queue (default 0)\n"
		"  --log FILE     append one line per executed request\n"
		"  --delay-us N   sleep N microseconds in every handler (a slow server)\n"
		"  --busy-at N    queued requests at which XDP answers BUSY (default 1024)\n"
		"Stops on SIGINT or SIGTERM and prints a summary.\n", prog);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "busy-poll", no_argument, NULL, 'b' },
		{ "skb", no_argument, NULL, 's' },
		{ "queue", required_argument, NULL, 'q' },
		{ "log", required_argument, NULL, 'l' },
		{ "delay-us", required_argument, NULL, 'd' },
		{ "busy-at", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct flatrpc_sock_opts so = { 0 };
	struct kv_handlers h = { .get = handle_get, .set = handle_set };
	struct server sv = { 0 };
	struct flatrpc_sock *s;
	struct flatrpc_sock_stats st;
	size_t unique = 0, dups = 0;
	char *end;
	int c, err;

	while ((c = getopt_long(argc, argv, "i:bsq:l:d:B:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': so.ifname = optarg; break;
		case 'b': so.mode = FLATRPC_POLL_BUSY; break;
		case 's': so.skb_mode = 1; break;
		case 'q': so.queue = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'l':
			sv.log = fopen(optarg, "a");
			if (!sv.log) {
				fprintf(stderr, "kv-server: cannot open %s: %s\n", optarg, strerror(errno));
				return 1;
			}
			break;
		case 'd':
			sv.delay_us = strtol(optarg, &end, 0);
			if (*end || sv.delay_us < 0 || sv.delay_us > 1000000) {
				fprintf(stderr, "kv-server: --delay-us wants 0..1000000, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'B':
			so.busy_at = (uint32_t)strtoul(optarg, &end, 0);
			if (*end || !so.busy_at) {
				fprintf(stderr, "kv-server: --busy-at wants a positive count, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (!so.ifname || optind != argc) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (kv_store_init(&sv.store, 1 << 16)) {
		fprintf(stderr, "kv-server: out of memory\n");
		return 1;
	}
	s = flatrpc_sock_new(&kv_service, &so, &err);
	if (!s) {
		fprintf(stderr, "kv-server: cannot open a FlatRPC socket on %s: %s\n",
			so.ifname, flatrpc_strerror(err));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("kv-server: serving kv on %s (%s)\n", so.ifname,
	       so.mode == FLATRPC_POLL_BUSY ? "busy-poll" : "blocking");
	fflush(stdout);

	err = kv_serve(s, &h, &sv, &stop);
	if (err < 0)
		fprintf(stderr, "kv-server: serve loop failed: %s\n", flatrpc_strerror(err));

	for (size_t i = 0; i < sv.store.cap; i++) {
		const struct kv_slot *sl = &sv.store.slots[i];

		if (!sl->key[0])
			continue;
		unique++;
		dups += sl->sets - 1;
	}
	printf("served get=%" PRIu64 " set=%" PRIu64 "\n", sv.n_get, sv.n_set);
	/* repeated: sets of a key that was set before. A load that repeats
	 * keys (kv-bench's mix) makes them; under kv-client load, whose every
	 * set has a key of its own, each one is a set executed twice. */
	printf("applied set keys: unique=%zu repeated=%zu\n", unique, dups);
	if (sv.n_full)
		printf("store full: %" PRIu64 " sets refused\n", sv.n_full);
	flatrpc_sock_stats(s, &st);
	printf("transport backlog_max=%" PRIu64 " ack_tx=%" PRIu64 " xsk_rx_dropped=%" PRIu64
	       " xsk_rx_ring_full=%" PRIu64 " xsk_fill_ring_empty=%" PRIu64 "\n",
	       st.backlog_max, st.ack_tx, st.xsk_rx_dropped, st.xsk_rx_ring_full,
	       st.xsk_fill_ring_empty);
	for (unsigned l = 0; l < FLATRPC_PRIO_LEVELS; l++)
		if (st.prio_bypassed[l] || st.prio_overtaken_max[l])
			printf("priority level=%u overtaken_max=%" PRIu64 " bypassed=%" PRIu64 "\n",
			       l, st.prio_overtaken_max[l], st.prio_bypassed[l]);
	fflush(stdout);
	flatrpc_sock_del(s);
	kv_store_free(&sv.store);
	if (sv.log)
		fclose(sv.log);
	return err < 0 ? 1 : 0;
}

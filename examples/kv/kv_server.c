/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * kv-server - the paper's key-value store served over FlatRPC.
 *
 * The handlers only see requests that the kernel let through: the firewall
 * and session tracker ran in XDP before the frame reached this socket.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "kv_stubs.h"
#include "kv_store.h"

struct server {
	struct ex_server x;
	struct kv_store	store;
	uint64_t	n_get, n_set, n_full;
	long		delay_us;	/* --delay-us: a deliberately slow server */
};

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
	ex_log(&sv->x, "get %s %" PRIu64 " %s", req->username, req->session_id, req->key);
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
	ex_log(&sv->x, "set %s %" PRIu64 " %s", req->username, req->session_id, req->key);
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
		"       [--stats FILE] [--delay-us N] [--busy-at N]\n"
		"\n"
		"Serves kv.get and kv.set on IFACE, which flatrpc-load must have set up:\n"
		"  sudo flatrpc-load specs/kv.anf IFACE\n"
		"\n"
		"  --iface IFACE  interface to serve on (required)\n"
		"  --busy-poll    spin on the rings instead of sleeping in poll(2)\n"
		"  --skb          bind the AF_XDP socket in SKB (generic XDP) mode\n"
		"  --queue N      serve RX queue N alone (default: every RX queue of IFACE,\n"
		"                 one socket each, all served by this one thread)\n"
		"  --log FILE     append one line per executed request\n"
		"  --stats FILE   write the socket's counters as JSON on exit (per queue)\n"
		"  --delay-us N   sleep N microseconds in every handler (a slow server)\n"
		"  --busy-at N    queued requests at which XDP answers BUSY (default 1024)\n"
		"Stops on SIGINT or SIGTERM and prints a summary.\n"
		"\n"
		"Examples: every RX queue of eth0; then RX queue 1 alone, with its counters:\n"
		"  sudo %s --iface eth0\n"
		"  sudo %s --iface eth0 --queue 1 --stats /tmp/kv-stats.json\n", prog, prog, prog);
}

static int own_opt(int c, const char *arg, void *ctx)
{
	struct server *sv = ctx;
	unsigned long long v;
	int rc = EX_GO_ON;

	switch (c) {
	case 'b': sv->x.so.mode = FLATRPC_POLL_BUSY; break;
	case 's': sv->x.so.skb_mode = 1; break;
	case 'd':
		rc = ex_parse_u64("kv-server", "--delay-us", arg, 1000000, &v);
		sv->delay_us = (long)v;
		break;
	case 'B':
		rc = ex_parse_u64("kv-server", "--busy-at", arg, UINT32_MAX, &v);
		if (rc == EX_GO_ON && !v) {
			fprintf(stderr, "kv-server: --busy-at wants a positive count, got '%s'\n", arg);
			rc = EX_USAGE;
		}
		sv->x.so.busy_at = (uint32_t)v;
		break;
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "busy-poll", no_argument, NULL, 'b' },
		{ "skb", no_argument, NULL, 's' },
		{ "delay-us", required_argument, NULL, 'd' },
		{ "busy-at", required_argument, NULL, 'B' },
		{ 0 }
	};
	struct kv_handlers h = { .get = handle_get, .set = handle_set };
	struct server sv = { .x.name = "kv-server" };
	struct ex_opts own = { opts, "bsd:B:", own_opt, &sv };
	struct flatrpc_sock_stats st;
	size_t unique = 0, dups = 0;
	int rc, err;

	rc = ex_server_args(&sv.x, argc, argv, usage, &own);
	if (rc != EX_GO_ON)
		return rc;
	if (kv_store_init(&sv.store, 1 << 16)) {
		fprintf(stderr, "kv-server: out of memory\n");
		return EX_FAIL;
	}
	if (ex_server_open(&sv.x, &kv_service,
			   sv.x.so.mode == FLATRPC_POLL_BUSY ? " (busy-poll)" : " (blocking)")) {
		kv_store_free(&sv.store);
		return EX_FAIL;
	}
	err = kv_serve(sv.x.s, &h, &sv, &ex_stop);

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
	flatrpc_sock_stats(sv.x.s, &st);
	printf("transport backlog_max=%" PRIu64 " ack_tx=%" PRIu64 " xsk_rx_dropped=%" PRIu64
	       " xsk_rx_ring_full=%" PRIu64 " xsk_fill_ring_empty=%" PRIu64 "\n",
	       st.backlog_max, st.ack_tx, st.xsk_rx_dropped, st.xsk_rx_ring_full,
	       st.xsk_fill_ring_empty);
	for (unsigned l = 0; l < FLATRPC_PRIO_LEVELS; l++)
		if (st.prio_bypassed[l] || st.prio_overtaken_max[l])
			printf("priority level=%u overtaken_max=%" PRIu64 " bypassed=%" PRIu64 "\n",
			       l, st.prio_overtaken_max[l], st.prio_bypassed[l]);
	rc = ex_server_close(&sv.x, err);
	kv_store_free(&sv.store);
	return rc;
}

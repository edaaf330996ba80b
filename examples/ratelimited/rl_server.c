/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rl-server - serves specs/ratelimited.anf: a tiny store behind ACL, rate
 * limiter, metrics, admission control and fault injection.
 *
 * All of those elements run in the server's XDP before a frame reaches this
 * socket, so the handlers hold no policy at all. They log every request they
 * execute so that tests can tell a call the kernel refused from one that ran.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flatrpc.h>
#include "ratelimited_stubs.h"

/* One value is enough for the demo: get returns what the last put stored,
 * whatever the key, which keeps the example about the chain, not storage. */
struct server {
	FILE		*log;
	uint64_t	n_get, n_put;
	uint16_t	len;
	uint8_t		val[256];
};

static volatile int stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void log_request(struct server *sv, const char *method, const char *user, const char *key)
{
	if (!sv->log)
		return;
	fprintf(sv->log, "%s %s %s\n", method, user, key);
	fflush(sv->log);	/* tests read the log while the server runs */
}

static int handle_get(void *ctx, const struct ratelimited_get_req *req,
		      struct ratelimited_get_resp *resp)
{
	struct server *sv = ctx;

	sv->n_get++;
	log_request(sv, "get", req->username, req->key);
	resp->value.len = sv->len;
	memcpy(resp->value.data, sv->val, sv->len);
	return 0;
}

static int handle_put(void *ctx, const struct ratelimited_put_req *req,
		      struct ratelimited_put_resp *resp)
{
	struct server *sv = ctx;

	sv->n_put++;
	log_request(sv, "put", req->username, req->key);
	sv->len = req->value.len;
	memcpy(sv->val, req->value.data, req->value.len);
	resp->ok = true;
	return 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE [--log FILE]\n"
		"\n"
		"Serves ratelimited.get and .put on IFACE, set up beforehand with\n"
		"  sudo flatrpc-load specs/ratelimited.anf IFACE\n"
		"  --log FILE  append one line per executed request\n"
		"Stops on SIGINT or SIGTERM and prints `served get=N put=M`.\n", prog);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "log", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct flatrpc_sock_opts so = { 0 };
	struct ratelimited_handlers h = { .get = handle_get, .put = handle_put };
	struct server sv = { 0 };
	struct flatrpc_sock *s;
	int c, err;

	while ((c = getopt_long(argc, argv, "i:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': so.ifname = optarg; break;
		case 'l':
			sv.log = fopen(optarg, "a");
			if (!sv.log) {
				fprintf(stderr, "rl-server: cannot open %s: %s\n", optarg, strerror(errno));
				return 1;
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
	s = flatrpc_sock_new(&ratelimited_service, &so, &err);
	if (!s) {
		fprintf(stderr, "rl-server: cannot open a FlatRPC socket on %s: %s\n",
			so.ifname, flatrpc_strerror(err));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("rl-server: serving ratelimited on %s\n", so.ifname);
	fflush(stdout);

	err = ratelimited_serve(s, &h, &sv, &stop);
	if (err < 0)
		fprintf(stderr, "rl-server: serve loop failed: %s\n", flatrpc_strerror(err));
	printf("served get=%" PRIu64 " put=%" PRIu64 "\n", sv.n_get, sv.n_put);
	flatrpc_sock_del(s);
	if (sv.log)
		fclose(sv.log);
	return err < 0 ? 1 : 0;
}

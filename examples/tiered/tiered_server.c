/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tiered-server - serves specs/tiered.anf. The `tier` it sees is the one
 * header-rewrite wrote in the server's XDP, not the one the client sent;
 * the handler logs it and echoes it back so both ends can show the rewrite.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flatrpc.h>
#include "tiered_stubs.h"

struct server {
	FILE		*log;
	uint64_t	n_get;
};

static volatile int stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int handle_get(void *ctx, const struct tiered_get_req *req,
		      struct tiered_get_resp *resp)
{
	struct server *sv = ctx;
	int n;

	sv->n_get++;
	if (sv->log) {
		fprintf(sv->log, "get %s tier=%u %s\n", req->username, req->tier, req->key);
		fflush(sv->log);	/* tests read the log while the server runs */
	}
	n = snprintf((char *)resp->value.data, sizeof(resp->value.data), "tier %u",
		     req->tier);
	resp->value.len = (uint16_t)n;
	resp->tier = req->tier;
	return 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE [--log FILE]\n"
		"\n"
		"Serves tiered.get on IFACE, set up beforehand with\n"
		"  sudo flatrpc-load specs/tiered.anf IFACE\n"
		"  --log FILE  append `get USER tier=T KEY` per executed request\n"
		"Stops on SIGINT or SIGTERM and prints `served get=N`.\n", prog);
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
	struct tiered_handlers h = { .get = handle_get };
	struct server sv = { 0 };
	struct flatrpc_sock *s;
	int c, err;

	while ((c = getopt_long(argc, argv, "i:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': so.ifname = optarg; break;
		case 'l':
			sv.log = fopen(optarg, "a");
			if (!sv.log) {
				fprintf(stderr, "tiered-server: cannot open %s: %s\n", optarg,
					strerror(errno));
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
	s = flatrpc_sock_new(&tiered_service, &so, &err);
	if (!s) {
		fprintf(stderr, "tiered-server: cannot open a FlatRPC socket on %s: %s\n",
			so.ifname, flatrpc_strerror(err));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("tiered-server: serving tiered on %s\n", so.ifname);
	fflush(stdout);

	err = tiered_serve(s, &h, &sv, &stop);
	if (err < 0)
		fprintf(stderr, "tiered-server: serve loop failed: %s\n", flatrpc_strerror(err));
	printf("served get=%" PRIu64 "\n", sv.n_get);
	flatrpc_sock_del(s);
	if (sv.log)
		fclose(sv.log);
	return err < 0 ? 1 : 0;
}

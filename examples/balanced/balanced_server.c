/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * balanced-server - serves specs/balanced.anf, as a backend behind the
 * load-balancing front or as the front itself (which serves put). Every
 * answer names the server that produced it, so a client can tell which
 * backend the front's XDP chose without seeing any address. The backend
 * answers the client directly, from its own address: the client matches a
 * response by RPC ID and port, never by where it came from.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flatrpc.h>
#include "balanced_stubs.h"

struct server {
	const char	*name;
	FILE		*log;
	uint64_t	n_get, n_put;
};

static volatile int stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void log_line(struct server *sv, const char *method, const char *key)
{
	if (!sv->log)
		return;
	fprintf(sv->log, "%s %s\n", method, key);
	fflush(sv->log);	/* tests read the log while the server runs */
}

static int handle_get(void *ctx, const struct balanced_get_req *req,
		      struct balanced_get_resp *resp)
{
	struct server *sv = ctx;
	int n;

	sv->n_get++;
	log_line(sv, "get", req->key);
	n = snprintf((char *)resp->value.data, sizeof(resp->value.data), "%s", sv->name);
	resp->value.len = (uint16_t)(n < (int)sizeof(resp->value.data) ? n :
				     (int)sizeof(resp->value.data) - 1);
	return 0;
}

static int handle_put(void *ctx, const struct balanced_put_req *req,
		      struct balanced_put_resp *resp)
{
	struct server *sv = ctx;

	sv->n_put++;
	log_line(sv, "put", req->key);
	resp->ok = true;
	return 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE --name NAME [--log FILE]\n"
		"\n"
		"Serves balanced.get and balanced.put on IFACE, set up beforehand with\n"
		"  sudo flatrpc-load specs/balanced.anf IFACE\n"
		"  --name NAME  the value every get answers (which server served it)\n"
		"  --log FILE   append `get KEY` or `put KEY` per executed request\n"
		"Stops on SIGINT or SIGTERM and prints `served get=N put=M`.\n", prog);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "name", required_argument, NULL, 'n' },
		{ "log", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct flatrpc_sock_opts so = { 0 };
	struct balanced_handlers h = { .get = handle_get, .put = handle_put };
	struct server sv = { 0 };
	struct flatrpc_sock *s;
	int c, err;

	while ((c = getopt_long(argc, argv, "i:n:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': so.ifname = optarg; break;
		case 'n': sv.name = optarg; break;
		case 'l':
			sv.log = fopen(optarg, "a");
			if (!sv.log) {
				fprintf(stderr, "balanced-server: cannot open %s: %s\n", optarg,
					strerror(errno));
				return 1;
			}
			break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (!so.ifname || !sv.name || optind != argc) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (strlen(sv.name) >= sizeof(((struct balanced_get_resp *)0)->value.data)) {
		fprintf(stderr, "balanced-server: --name is at most 255 bytes\n");
		return 2;
	}
	s = flatrpc_sock_new(&balanced_service, &so, &err);
	if (!s) {
		fprintf(stderr, "balanced-server: cannot open a FlatRPC socket on %s: %s\n",
			so.ifname, flatrpc_strerror(err));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("balanced-server: %s serving balanced on %s\n", sv.name, so.ifname);
	fflush(stdout);

	err = balanced_serve(s, &h, &sv, &stop);
	if (err < 0)
		fprintf(stderr, "balanced-server: serve loop failed: %s\n", flatrpc_strerror(err));
	printf("served get=%" PRIu64 " put=%" PRIu64 "\n", sv.n_get, sv.n_put);
	flatrpc_sock_del(s);
	if (sv.log)
		fclose(sv.log);
	return err < 0 ? 1 : 0;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * balanced-server - serves specs/balanced.anf, as a backend behind the
 * load-balancing front or as the front itself (which serves put). Every
 * answer names the server that produced it, so a client can tell which
 * backend the front's XDP chose without seeing any address. The backend
 * answers the client directly, from its own address: the client matches a
 * response by RPC ID and port, never by where it came from.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "balanced_stubs.h"

struct server {
	struct ex_server x;
	const char	*name;
	uint64_t	n_get, n_put;
};

static int handle_get(void *ctx, const struct balanced_get_req *req,
		      struct balanced_get_resp *resp)
{
	struct server *sv = ctx;
	int n;

	sv->n_get++;
	ex_log(&sv->x, "get %s", req->key);
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
	ex_log(&sv->x, "put %s", req->key);
	resp->ok = true;
	return 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE --name NAME [--queue N] [--log FILE]\n"
		"\n"
		"Serves balanced.get and balanced.put on IFACE, set up beforehand with\n"
		"  sudo flatrpc-load specs/balanced.anf IFACE\n"
		"  --name NAME  the value every get answers (which server served it)\n"
		"  --log FILE   append `get KEY` or `put KEY` per executed request\n"
		EX_SERVER_HELP
		"Stops on SIGINT or SIGTERM and prints `served get=N put=M`.\n", prog);
}

static int own_opt(int c, const char *arg, void *ctx)
{
	struct server *sv = ctx;

	(void)c;	/* 'n', the only one */
	if (strlen(arg) >= sizeof(((struct balanced_get_resp *)0)->value.data)) {
		fprintf(stderr, "balanced-server: --name is at most 255 bytes\n");
		return EX_USAGE;
	}
	sv->name = arg;
	return EX_GO_ON;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ 0 }
	};
	struct balanced_handlers h = { .get = handle_get, .put = handle_put };
	struct server sv = { .x.name = "balanced-server" };
	struct ex_opts own = { opts, "n:", own_opt, &sv };
	char what[300];
	int rc, err;

	rc = ex_server_args(&sv.x, argc, argv, usage, &own);
	if (rc != EX_GO_ON)
		return rc;
	if (!sv.name) {
		usage(stderr, argv[0]);
		return EX_USAGE;
	}
	snprintf(what, sizeof(what), " as %s", sv.name);
	if (ex_server_open(&sv.x, &balanced_service, what))
		return EX_FAIL;
	err = balanced_serve(sv.x.s, &h, &sv, &ex_stop);
	printf("served get=%" PRIu64 " put=%" PRIu64 "\n", sv.n_get, sv.n_put);
	return ex_server_close(&sv.x, err);
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tiered-server - serves specs/tiered.anf. The `tier` it sees is the one
 * header-rewrite wrote in the server's XDP, not the one the client sent;
 * the handler logs it and echoes it back so both ends can show the rewrite.
 */
#include <inttypes.h>
#include <stdio.h>

#include "common.h"
#include "tiered_stubs.h"

struct server {
	struct ex_server	x;
	uint64_t		n_get;
};

static int handle_get(void *ctx, const struct tiered_get_req *req,
		      struct tiered_get_resp *resp)
{
	struct server *sv = ctx;
	int n;

	sv->n_get++;
	ex_log(&sv->x, "get %s tier=%u %s", req->username, req->tier, req->key);
	n = snprintf((char *)resp->value.data, sizeof(resp->value.data), "tier %u",
		     req->tier);
	resp->value.len = (uint16_t)n;
	resp->tier = req->tier;
	return 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE [--queue N] [--log FILE]\n"
		"\n"
		"Serves tiered.get on IFACE, set up beforehand with\n"
		"  sudo flatrpc-load specs/tiered.anf IFACE\n"
		"  --log FILE  append `get USER tier=T KEY` per executed request\n"
		EX_SERVER_HELP
		"Stops on SIGINT or SIGTERM and prints `served get=N`.\n", prog);
}

int main(int argc, char **argv)
{
	struct tiered_handlers h = { .get = handle_get };
	struct server sv = { .x.name = "tiered-server" };
	int rc, err;

	rc = ex_server_args(&sv.x, argc, argv, usage, NULL);
	if (rc != EX_GO_ON)
		return rc;
	if (ex_server_open(&sv.x, &tiered_service, NULL))
		return EX_FAIL;
	err = tiered_serve(sv.x.s, &h, &sv, &ex_stop);
	printf("served get=%" PRIu64 "\n", sv.n_get);
	return ex_server_close(&sv.x, err);
}

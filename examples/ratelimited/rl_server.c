/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rl-server - serves specs/ratelimited.anf: a tiny store behind ACL, rate
 * limiter, metrics, admission control and fault injection.
 *
 * All of those elements run in the server's XDP before a frame reaches this
 * socket, so the handlers hold no policy at all. They log every request they
 * execute so that tests can tell a call the kernel refused from one that ran.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "ratelimited_stubs.h"

/* One value is enough for the demo: get returns what the last put stored,
 * whatever the key, which keeps the example about the chain, not storage. */
struct server {
	struct ex_server x;
	uint64_t	n_get, n_put;
	uint16_t	len;
	uint8_t		val[256];
};

static int handle_get(void *ctx, const struct ratelimited_get_req *req,
		      struct ratelimited_get_resp *resp)
{
	struct server *sv = ctx;

	sv->n_get++;
	ex_log(&sv->x, "get %s %s", req->username, req->key);
	resp->value.len = sv->len;
	memcpy(resp->value.data, sv->val, sv->len);
	return 0;
}

static int handle_put(void *ctx, const struct ratelimited_put_req *req,
		      struct ratelimited_put_resp *resp)
{
	struct server *sv = ctx;

	sv->n_put++;
	ex_log(&sv->x, "put %s %s", req->username, req->key);
	sv->len = req->value.len;
	memcpy(sv->val, req->value.data, req->value.len);
	resp->ok = true;
	return 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE [--queue N] [--log FILE]\n"
		"\n"
		"Serves ratelimited.get and .put on IFACE, set up beforehand with\n"
		"  sudo flatrpc-load specs/ratelimited.anf IFACE\n"
		"  --log FILE  append one line per executed request\n"
		EX_SERVER_HELP
		"Stops on SIGINT or SIGTERM and prints `served get=N put=M`.\n", prog);
}

int main(int argc, char **argv)
{
	struct ratelimited_handlers h = { .get = handle_get, .put = handle_put };
	struct server sv = { .x.name = "rl-server" };
	int rc, err;

	rc = ex_server_args(&sv.x, argc, argv, usage, NULL);
	if (rc != EX_GO_ON)
		return rc;
	if (ex_server_open(&sv.x, &ratelimited_service, NULL))
		return EX_FAIL;
	err = ratelimited_serve(sv.x.s, &h, &sv, &ex_stop);
	printf("served get=%" PRIu64 " put=%" PRIu64 "\n", sv.n_get, sv.n_put);
	return ex_server_close(&sv.x, err);
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tiered-client - calls tiered.get N times, one at a time, claiming a tier
 * of its own choosing, and prints what came back: the tier the server saw
 * (after header-rewrite) and how many calls each ANF refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "tiered_stubs.h"

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE --server ADDR --user NAME [--tier T] [--count N] [--key KEY]\n"
		"\n"
		"Calls get N times (default 1) with the claimed tier T (default 9) and prints\n"
		"  tiered ok=A fault=B other=C tier=S\n"
		"S is the tier the server received in the last successful call (- if none).\n"
		"exit: 0 if every call succeeded, 1 if any did not, 2 usage\n", prog);
}

struct args {
	unsigned long long	n, tier;
	const char		*key;
};

static int own_opt(int c, const char *arg, void *ctx)
{
	struct args *a = ctx;

	switch (c) {
	case 't': return ex_parse_u64("tiered-client", "--tier", arg, 255, &a->tier);
	case 'c': return ex_parse_u64("tiered-client", "--count", arg, 1000000000, &a->n);
	case 'k': a->key = arg; break;
	}
	return EX_GO_ON;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tier", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ 0 }
	};
	struct args a = { .n = 1, .tier = 9, .key = "k" };
	struct ex_opts own = { opts, "t:c:k:", own_opt, &a };
	struct ex_client c = { .name = "tiered-client" };
	unsigned long long n, i, ok = 0, fault = 0, other = 0;
	const char *user, *key;
	int seen = -1;
	struct flatrpc_sock *s;
	int rc, err;

	rc = ex_client_args(&c, argc, argv, usage, &own, 16);
	if (rc != EX_GO_ON)
		return rc;
	if (!*c.user || !a.n || optind != argc) {
		usage(stderr, argv[0]);
		return EX_USAGE;
	}
	if (strlen(a.key) > 64) {
		fprintf(stderr, "tiered-client: key is at most 64 bytes\n");
		return EX_USAGE;
	}
	if (ex_client_open(&c, &tiered_service))
		return EX_FAIL;
	s = c.s;
	user = c.user;
	key = a.key;
	n = a.n;
	for (i = 0; i < n; i++) {
		struct tiered_get_req req = { .tier = (uint8_t)a.tier };
		struct tiered_get_resp resp = { 0 };
		uint8_t status = 0;

		strcpy(req.username, user);
		strcpy(req.key, key);
		err = tiered_get(s, &c.peer, &req, &resp, &status);
		if (!err) {
			ok++;
			seen = resp.tier;
		} else if (err == FLATRPC_E_ANF &&
			   !strcmp(flatrpc_status_str(&tiered_service, status), "fault")) {
			/* named by the spec's error table, never by number */
			fault++;
		} else {
			fprintf(stderr, "tiered-client: %s\n", err == FLATRPC_E_ANF ?
				flatrpc_status_str(&tiered_service, status) : flatrpc_strerror(err));
			other++;
		}
	}
	flatrpc_sock_del(s);
	printf("tiered ok=%llu fault=%llu other=%llu tier=", ok, fault, other);
	if (seen < 0)
		printf("-\n");
	else
		printf("%d\n", seen);
	return ok == n ? EX_OK : EX_FAIL;
}

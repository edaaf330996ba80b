/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tiered-client - calls tiered.get N times, one at a time, claiming a tier
 * of its own choosing, and prints what came back: the tier the server saw
 * (after header-rewrite) and how many calls each ANF refused.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flatrpc.h>
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "server", required_argument, NULL, 'S' },
		{ "user", required_argument, NULL, 'u' },
		{ "tier", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct flatrpc_sock_opts so = { 0 };
	struct flatrpc_peer peer = { 0 };
	const char *server = NULL, *user = NULL, *key = "k";
	unsigned long n = 1, i, ok = 0, fault = 0, other = 0, claimed = 9;
	int seen = -1;
	struct flatrpc_sock *s;
	int ch, err;

	while ((ch = getopt_long(argc, argv, "i:S:u:t:c:k:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'i': so.ifname = optarg; break;
		case 'S': server = optarg; break;
		case 'u': user = optarg; break;
		case 't': claimed = strtoul(optarg, NULL, 0); break;
		case 'c': n = strtoul(optarg, NULL, 0); break;
		case 'k': key = optarg; break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (!so.ifname || !server || !user || !n || claimed > 255 || optind != argc) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (strlen(user) > 16 || strlen(key) > 64) {
		fprintf(stderr, "tiered-client: user is at most 16 bytes, key 64\n");
		return 2;
	}
	if (inet_pton(AF_INET, server, &peer.addr) != 1) {
		fprintf(stderr, "tiered-client: --server wants an IPv4 address, got '%s'\n", server);
		return 2;
	}
	s = flatrpc_sock_new(&tiered_service, &so, &err);
	if (!s) {
		fprintf(stderr, "tiered-client: cannot open a FlatRPC socket on %s: %s\n",
			so.ifname, flatrpc_strerror(err));
		return 1;
	}
	for (i = 0; i < n; i++) {
		struct tiered_get_req req = { .tier = (uint8_t)claimed };
		struct tiered_get_resp resp = { 0 };
		uint8_t status = 0;

		strcpy(req.username, user);
		strcpy(req.key, key);
		err = tiered_get(s, &peer, &req, &resp, &status);
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
	printf("tiered ok=%lu fault=%lu other=%lu tier=", ok, fault, other);
	if (seen < 0)
		printf("-\n");
	else
		printf("%d\n", seen);
	return ok == n ? 0 : 1;
}

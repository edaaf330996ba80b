/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rl-client - calls ratelimited.get (or .put) N times, one at a time, and
 * counts the outcomes by the ANF that answered.
 *
 * One call at a time on purpose: the rate limiter's verdict then depends
 * only on the spacing of the calls, not on how many are in flight.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flatrpc.h>
#include "ratelimited_stubs.h"

struct tally {
	unsigned long ok, denied_acl, rate_limited, other;
};

/* Maps a call's result to a bucket. ANF denials are told apart by the name
 * in the spec's error table, so the client never hard-codes status numbers. */
static void count(struct tally *t, int err, uint8_t status)
{
	const char *why;

	if (!err) {
		t->ok++;
		return;
	}
	if (err == FLATRPC_E_ANF) {
		why = flatrpc_status_str(&ratelimited_service, status);
		if (strcmp(why, "acl") == 0) {
			t->denied_acl++;
			return;
		}
		if (strcmp(why, "rate-limited") == 0) {
			t->rate_limited++;
			return;
		}
		fprintf(stderr, "rl-client: denied by %s\n", why);
	} else {
		fprintf(stderr, "rl-client: %s\n", flatrpc_strerror(err));
	}
	t->other++;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE --server ADDR --user NAME [--count N] [--put VALUE] [--key KEY]\n"
		"\n"
		"Calls get (or put VALUE) N times (default 1), one at a time, and prints\n"
		"  rl ok=A denied_acl=B rate_limited=C other=D\n"
		"exit: 0 if every call succeeded, 1 if any did not, 2 usage\n", prog);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "server", required_argument, NULL, 'S' },
		{ "user", required_argument, NULL, 'u' },
		{ "count", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "put", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct flatrpc_sock_opts so = { 0 };
	struct flatrpc_peer peer = { 0 };
	const char *server = NULL, *user = NULL, *key = "k", *put = NULL;
	unsigned long n = 1, i;
	struct tally t = { 0 };
	struct flatrpc_sock *s;
	int ch, err;

	while ((ch = getopt_long(argc, argv, "i:S:u:c:k:p:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'i': so.ifname = optarg; break;
		case 'S': server = optarg; break;
		case 'u': user = optarg; break;
		case 'c': n = strtoul(optarg, NULL, 0); break;
		case 'k': key = optarg; break;
		case 'p': put = optarg; break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (!so.ifname || !server || !user || !n || optind != argc) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (strlen(user) > 16 || strlen(key) > 64 || (put && strlen(put) > 256)) {
		fprintf(stderr, "rl-client: user is at most 16 bytes, key 64, value 256\n");
		return 2;
	}
	if (inet_pton(AF_INET, server, &peer.addr) != 1) {
		fprintf(stderr, "rl-client: --server wants an IPv4 address, got '%s'\n", server);
		return 2;
	}
	s = flatrpc_sock_new(&ratelimited_service, &so, &err);
	if (!s) {
		fprintf(stderr, "rl-client: cannot open a FlatRPC socket on %s: %s\n",
			so.ifname, flatrpc_strerror(err));
		return 1;
	}
	for (i = 0; i < n; i++) {
		uint8_t status = 0;

		if (put) {
			struct ratelimited_put_req req = { 0 };
			struct ratelimited_put_resp resp = { 0 };

			strcpy(req.username, user);
			strcpy(req.key, key);
			req.value.len = (uint16_t)strlen(put);
			memcpy(req.value.data, put, req.value.len);
			err = ratelimited_put(s, &peer, &req, &resp, &status);
			if (!err && !resp.ok)
				err = FLATRPC_E_REMOTE;	/* counted as other */
		} else {
			struct ratelimited_get_req req = { 0 };
			struct ratelimited_get_resp resp = { 0 };

			strcpy(req.username, user);
			strcpy(req.key, key);
			err = ratelimited_get(s, &peer, &req, &resp, &status);
		}
		count(&t, err, status);
	}
	flatrpc_sock_del(s);
	printf("rl ok=%lu denied_acl=%lu rate_limited=%lu other=%lu\n",
	       t.ok, t.denied_acl, t.rate_limited, t.other);
	return t.ok == n ? 0 : 1;
}

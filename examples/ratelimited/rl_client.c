/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rl-client - calls ratelimited.get (or .put) N times, one at a time, and
 * counts the outcomes by the ANF that answered.
 *
 * One call at a time on purpose: the rate limiter's verdict then depends
 * only on the spacing of the calls, not on how many are in flight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
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

struct args {
	unsigned long long	n;
	const char		*key, *put;
};

static int own_opt(int c, const char *arg, void *ctx)
{
	struct args *a = ctx;

	switch (c) {
	case 'c': return ex_parse_u64("rl-client", "--count", arg, 1000000000, &a->n);
	case 'k': a->key = arg; break;
	case 'p': a->put = arg; break;
	}
	return EX_GO_ON;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "put", required_argument, NULL, 'p' },
		{ 0 }
	};
	struct args a = { .n = 1, .key = "k" };
	struct ex_opts own = { opts, "c:k:p:", own_opt, &a };
	struct ex_client c = { .name = "rl-client" };
	const char *user, *key, *put;
	unsigned long long n, i;
	struct tally t = { 0 };
	struct flatrpc_sock *s;
	int rc, err;

	rc = ex_client_args(&c, argc, argv, usage, &own, 16);
	if (rc != EX_GO_ON)
		return rc;
	if (!*c.user || !a.n || optind != argc) {
		usage(stderr, argv[0]);
		return EX_USAGE;
	}
	if (strlen(a.key) > 64 || (a.put && strlen(a.put) > 256)) {
		fprintf(stderr, "rl-client: key is at most 64 bytes, value 256\n");
		return EX_USAGE;
	}
	if (ex_client_open(&c, &ratelimited_service))
		return EX_FAIL;
	s = c.s;
	user = c.user;
	key = a.key;
	put = a.put;
	n = a.n;
	for (i = 0; i < n; i++) {
		uint8_t status = 0;

		if (put) {
			struct ratelimited_put_req req = { 0 };
			struct ratelimited_put_resp resp = { 0 };

			strcpy(req.username, user);
			strcpy(req.key, key);
			req.value.len = (uint16_t)strlen(put);
			memcpy(req.value.data, put, req.value.len);
			err = ratelimited_put(s, &c.peer, &req, &resp, &status);
			if (!err && !resp.ok)
				err = FLATRPC_E_REMOTE;	/* counted as other */
		} else {
			struct ratelimited_get_req req = { 0 };
			struct ratelimited_get_resp resp = { 0 };

			strcpy(req.username, user);
			strcpy(req.key, key);
			err = ratelimited_get(s, &c.peer, &req, &resp, &status);
		}
		count(&t, err, status);
	}
	flatrpc_sock_del(s);
	printf("rl ok=%lu denied_acl=%lu rate_limited=%lu other=%lu\n",
	       t.ok, t.denied_acl, t.rate_limited, t.other);
	return t.ok == n ? EX_OK : EX_FAIL;
}

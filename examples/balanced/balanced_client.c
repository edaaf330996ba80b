/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * balanced-client - calls balanced.get (or put) once per key, one at a
 * time, on the load-balancing front, and prints which server answered each
 * get. A get's answer comes from the backend's address, not the front's; a
 * put is served by the front itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "balanced_stubs.h"

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE --server ADDR [--user NAME] [--put] KEY...\n"
		"\n"
		"Calls get (with --put: put, value \"v\") for each KEY and prints one line per call:\n"
		"  get KEY from=NAME      NAME is the server that answered\n"
		"  put KEY ok             the put was stored\n"
		"  get KEY error=MESSAGE  the call failed (timeout, ANF error, ...)\n"
		"exit: 0 if every call succeeded, 1 if any did not, 2 usage\n", prog);
}

static int own_opt(int c, const char *arg, void *ctx)
{
	(void)c;	/* 'p', the only one */
	(void)arg;
	*(int *)ctx = 1;
	return EX_GO_ON;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "put", no_argument, NULL, 'p' },
		{ 0 }
	};
	int put = 0, failed = 0, rc, err;
	struct ex_opts own = { opts, "p", own_opt, &put };
	struct ex_client c = { .name = "balanced-client", .user = "client" };
	struct flatrpc_sock *s;

	rc = ex_client_args(&c, argc, argv, usage, &own, 16);
	if (rc != EX_GO_ON)
		return rc;
	if (optind == argc) {
		usage(stderr, argv[0]);
		return EX_USAGE;
	}
	for (int i = optind; i < argc; i++) {
		if (strlen(argv[i]) > 64) {
			fprintf(stderr, "balanced-client: key '%s' is longer than 64 bytes\n", argv[i]);
			return EX_USAGE;
		}
	}
	if (ex_client_open(&c, &balanced_service))
		return EX_FAIL;
	s = c.s;
	for (int i = optind; i < argc; i++) {
		struct balanced_get_req req = { 0 };
		struct balanced_get_resp resp = { 0 };
		struct balanced_put_req preq = { .value = { .len = 1, .data = "v" } };
		struct balanced_put_resp presp = { 0 };
		uint8_t status = 0;

		strcpy(req.username, c.user);
		strcpy(req.key, argv[i]);
		strcpy(preq.username, c.user);
		strcpy(preq.key, argv[i]);
		err = put ? balanced_put(s, &c.peer, &preq, &presp, &status) :
			    balanced_get(s, &c.peer, &req, &resp, &status);
		if (err || (put && !presp.ok)) {
			printf("%s %s error=%s\n", put ? "put" : "get", argv[i], !err ? "not stored" :
			       err == FLATRPC_E_ANF ? flatrpc_status_str(&balanced_service, status) :
			       flatrpc_strerror(err));
			failed = 1;
		} else if (put) {
			printf("put %s ok\n", argv[i]);
		} else {
			printf("get %s from=%.*s\n", argv[i], (int)resp.value.len,
			       (const char *)resp.value.data);
		}
	}
	flatrpc_sock_del(s);
	return failed ? EX_FAIL : EX_OK;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * balanced-client - calls balanced.get (or put) once per key, one at a
 * time, on the load-balancing front, and prints which server answered each
 * get. A get's answer comes from the backend's address, not the front's; a
 * put is served by the front itself.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flatrpc.h>
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "server", required_argument, NULL, 'S' },
		{ "user", required_argument, NULL, 'u' },
		{ "put", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct flatrpc_sock_opts so = { 0 };
	struct flatrpc_peer peer = { 0 };
	const char *server = NULL, *user = "client";
	struct flatrpc_sock *s;
	int ch, err, failed = 0, put = 0;

	while ((ch = getopt_long(argc, argv, "i:S:u:ph", opts, NULL)) != -1) {
		switch (ch) {
		case 'i': so.ifname = optarg; break;
		case 'S': server = optarg; break;
		case 'u': user = optarg; break;
		case 'p': put = 1; break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (!so.ifname || !server || optind == argc) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (strlen(user) > 16) {
		fprintf(stderr, "balanced-client: --user is at most 16 bytes\n");
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		if (strlen(argv[i]) > 64) {
			fprintf(stderr, "balanced-client: key '%s' is longer than 64 bytes\n", argv[i]);
			return 2;
		}
	}
	if (inet_pton(AF_INET, server, &peer.addr) != 1) {
		fprintf(stderr, "balanced-client: --server wants an IPv4 address, got '%s'\n", server);
		return 2;
	}
	s = flatrpc_sock_new(&balanced_service, &so, &err);
	if (!s) {
		fprintf(stderr, "balanced-client: cannot open a FlatRPC socket on %s: %s\n",
			so.ifname, flatrpc_strerror(err));
		return 1;
	}
	for (int i = optind; i < argc; i++) {
		struct balanced_get_req req = { 0 };
		struct balanced_get_resp resp = { 0 };
		struct balanced_put_req preq = { .value = { .len = 1, .data = "v" } };
		struct balanced_put_resp presp = { 0 };
		uint8_t status = 0;

		strcpy(req.username, user);
		strcpy(req.key, argv[i]);
		strcpy(preq.username, user);
		strcpy(preq.key, argv[i]);
		err = put ? balanced_put(s, &peer, &preq, &presp, &status) :
			    balanced_get(s, &peer, &req, &resp, &status);
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
	return failed;
}

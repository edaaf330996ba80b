/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tracked-client - one call of specs/tracked.anf per invocation.
 *
 * get and put run client: elements on this host before anything is sent
 * (the library runs them with BPF_PROG_TEST_RUN), so a put the firewall
 * denies here never reaches the wire, and the metadata only those elements
 * read is not sent at all.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flatrpc.h>
#include "tracked_stubs.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_DENIED = 3, EXIT_TIMEOUT = 4 };

struct client {
	struct flatrpc_sock	*s;
	struct flatrpc_peer	peer;
	const char		*server;	/* as given, for messages */
};

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE --server ADDR [--user NAME] [--session N] COMMAND\n"
		"  ADDR is an IPv4 or IPv6 address\n"
		"\n"
		"commands:\n"
		"  get KEY            print the value stored under KEY (session tracked on this host)\n"
		"  get-remote KEY     the same, with the session tracked at the server\n"
		"  put KEY VALUE      store VALUE under KEY, print ok (firewall and session\n"
		"                     tracker on this host: a denied put is never sent)\n"
		"exit: 0 ok, 1 failure, 2 usage, 3 denied by an ANF, 4 timed out\n"
		"example:\n"
		"  %s --iface eth0 --server 10.0.0.2 --user Kevin --session 42 put color blue\n",
		prog, prog);
}

static int report(const struct client *c, int err, uint8_t status)
{
	if (err == FLATRPC_E_ANF) {
		fprintf(stderr, "error: denied by %s\n", flatrpc_status_str(&tracked_service, status));
		return EXIT_DENIED;
	}
	if (err == FLATRPC_E_TIMEOUT) {
		fprintf(stderr, "error: no response from %s\n", c->server);
		return EXIT_TIMEOUT;
	}
	if (err == FLATRPC_E_REMOTE) {
		fprintf(stderr, "error: server answered %s\n",
			flatrpc_status_str(&tracked_service, status));
		return EXIT_FAIL;
	}
	fprintf(stderr, "error: %s\n", flatrpc_strerror(err));
	return EXIT_FAIL;
}

static int print_value(uint16_t len, const uint8_t *data)
{
	printf("%.*s\n", (int)len, (const char *)data);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "server", required_argument, NULL, 'S' },
		{ "user", required_argument, NULL, 'u' },
		{ "session", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct flatrpc_sock_opts so = { 0 };
	struct client c = { 0 };
	const char *user = "", *cmd, *key;
	uint64_t session = 0;
	uint8_t status = 0;
	char *end;
	int ch, err, rc;

	while ((ch = getopt_long(argc, argv, "i:S:u:n:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'i': so.ifname = optarg; break;
		case 'S': c.server = optarg; break;
		case 'u': user = optarg; break;
		case 'n':
			session = strtoull(optarg, &end, 0);
			if (!*optarg || *end || *optarg == '-') {
				fprintf(stderr, "error: --session wants an unsigned number, got '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': usage(stdout, argv[0]); return EXIT_OK;
		default: usage(stderr, argv[0]); return EXIT_USAGE;
		}
	}
	if (!so.ifname || !c.server || optind >= argc) {
		usage(stderr, argv[0]);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	if (!(((!strcmp(cmd, "get") || !strcmp(cmd, "get-remote")) && argc - optind == 2) ||
	      (!strcmp(cmd, "put") && argc - optind == 3))) {
		fprintf(stderr, "error: expected get KEY, get-remote KEY or put KEY VALUE\n");
		usage(stderr, argv[0]);
		return EXIT_USAGE;
	}
	key = argv[optind + 1];
	if (strlen(user) > 16 || strlen(key) > 64) {
		fprintf(stderr, "error: username is at most 16 bytes and key at most 64\n");
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "put") && strlen(argv[optind + 2]) > 256) {
		fprintf(stderr, "error: value is at most 256 bytes\n");
		return EXIT_USAGE;
	}
	if (flatrpc_peer_parse(&c.peer, c.server) != 0) {
		fprintf(stderr, "error: --server wants an IPv4 or IPv6 address, got '%s'\n",
			c.server);
		return EXIT_USAGE;
	}
	c.s = flatrpc_sock_new(&tracked_service, &so, &err);
	if (!c.s) {
		fprintf(stderr, "error: cannot open a FlatRPC socket on %s: %s\n", so.ifname,
			flatrpc_strerror(err));
		return EXIT_FAIL;
	}

	if (!strcmp(cmd, "get")) {
		struct tracked_get_req req = { .session_id = session };
		struct tracked_get_resp resp = { 0 };

		strcpy(req.username, user);
		strcpy(req.key, key);
		err = tracked_get(c.s, &c.peer, &req, &resp, &status);
		rc = err ? report(&c, err, status) : print_value(resp.value.len, resp.value.data);
	} else if (!strcmp(cmd, "get-remote")) {
		struct tracked_get_remote_req req = { .session_id = session };
		struct tracked_get_remote_resp resp = { 0 };

		strcpy(req.username, user);
		strcpy(req.key, key);
		err = tracked_get_remote(c.s, &c.peer, &req, &resp, &status);
		rc = err ? report(&c, err, status) : print_value(resp.value.len, resp.value.data);
	} else {
		struct tracked_put_req req = { .session_id = session };
		struct tracked_put_resp resp = { 0 };
		size_t n = strlen(argv[optind + 2]);

		strcpy(req.username, user);
		strcpy(req.key, key);
		memcpy(req.value.data, argv[optind + 2], n);
		req.value.len = (uint16_t)n;
		err = tracked_put(c.s, &c.peer, &req, &resp, &status);
		if (err) {
			rc = report(&c, err, status);
		} else if (!resp.ok) {
			fprintf(stderr, "error: the server refused the put (store full)\n");
			rc = EXIT_FAIL;
		} else {
			printf("ok\n");
			rc = EXIT_OK;
		}
	}
	flatrpc_sock_del(c.s);
	return rc;
}

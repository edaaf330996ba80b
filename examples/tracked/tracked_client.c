/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tracked-client - one call of specs/tracked.anf per invocation.
 *
 * get and put run client: elements on this host before anything is sent
 * (the library runs them with BPF_PROG_TEST_RUN), so a put the firewall
 * denies here never reaches the wire, and the metadata only those elements
 * read is not sent at all.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "tracked_stubs.h"

enum { EXIT_OK = EX_OK, EXIT_FAIL = EX_FAIL, EXIT_USAGE = EX_USAGE, EXIT_DENIED = EX_DENIED,
       EXIT_TIMEOUT = EX_TIMEOUT };

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE --server ADDR [--user NAME] [--session N] COMMAND\n"
		"  ADDR is an address or a name (/etc/hosts, DNS), with :PORT if not the service's\n"
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

static int print_value(uint16_t len, const uint8_t *data)
{
	printf("%.*s\n", (int)len, (const char *)data);
	return EXIT_OK;
}

static int own_opt(int c, const char *arg, void *ctx)
{
	unsigned long long v;
	int rc;

	(void)c;	/* 'n', the only one */
	rc = ex_parse_u64("tracked-client", "--session", arg, UINT64_MAX, &v);
	*(uint64_t *)ctx = v;
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "session", required_argument, NULL, 'n' },
		{ 0 }
	};
	uint64_t session = 0;
	struct ex_opts own = { opts, "n:", own_opt, &session };
	struct ex_client c = { .name = "tracked-client" };
	const char *user, *cmd, *key;
	uint8_t status = 0;
	int err, rc;

	rc = ex_client_args(&c, argc, argv, usage, &own, 16);
	if (rc != EX_GO_ON)
		return rc;
	if (optind >= argc) {
		usage(stderr, argv[0]);
		return EXIT_USAGE;
	}
	user = c.user;
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
	if (ex_client_open(&c, &tracked_service))
		return EXIT_FAIL;

	if (!strcmp(cmd, "get")) {
		struct tracked_get_req req = { .session_id = session };
		struct tracked_get_resp resp = { 0 };

		strcpy(req.username, user);
		strcpy(req.key, key);
		err = tracked_get(c.s, &c.peer, &req, &resp, &status);
		rc = err ? ex_report(&c, &tracked_service, err, status)
			 : print_value(resp.value.len, resp.value.data);
	} else if (!strcmp(cmd, "get-remote")) {
		struct tracked_get_remote_req req = { .session_id = session };
		struct tracked_get_remote_resp resp = { 0 };

		strcpy(req.username, user);
		strcpy(req.key, key);
		err = tracked_get_remote(c.s, &c.peer, &req, &resp, &status);
		rc = err ? ex_report(&c, &tracked_service, err, status)
			 : print_value(resp.value.len, resp.value.data);
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
			rc = ex_report(&c, &tracked_service, err, status);
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

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * frontend-client - calls frontend.lookup or frontend.store (specs/frontend.anf)
 * and prints what each backend behind the frontend answered.
 */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "frontend_stubs.h"

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE --server ADDR --user NAME lookup KEY...\n"
		"       %s --iface IFACE --server ADDR --user NAME store KEY VALUE\n"
		"\n"
		"Prints one line per call, with - for an empty field:\n"
		"  lookup KEY kv_value=V kv_error=E rl_value=V rl_error=E\n"
		"  store KEY kv_error=E rl_error=E\n"
		"where E is the backend's refusal in its own spec's words (firewall, acl).\n"
		"exit: 0 if every call was answered, 1 if one was not, 3 denied at the\n"
		"frontend, 4 timeout, 2 usage\n"
		"\n"
		"Example:\n"
		"  frontend-client --iface eth0 --server front.example --user Kevin lookup k1\n",
		prog, prog);
}

static const char *or_dash(const char *s)
{
	return *s ? s : "-";
}

/* A bytes<256> value as text: the examples store printable values. */
static const char *text(char *buf, const uint8_t *data, uint16_t len)
{
	memcpy(buf, data, len);
	buf[len] = 0;
	return or_dash(buf);
}

int main(int argc, char **argv)
{
	struct ex_client c = { .name = "frontend-client" };
	char v1[257], v2[257];
	const char *cmd;
	int rc = EX_OK, err;

	rc = ex_client_args(&c, argc, argv, usage, NULL, 16);
	if (rc != EX_GO_ON)
		return rc;
	rc = EX_OK;
	cmd = optind < argc ? argv[optind] : "";
	if (!*c.user || ((strcmp(cmd, "lookup") || argc - optind < 2) &&
			 (strcmp(cmd, "store") || argc - optind != 3))) {
		usage(stderr, argv[0]);
		return EX_USAGE;
	}
	for (int i = optind + 1; i < argc; i++) {
		if (strlen(argv[i]) > (i == optind + 2 ? 256 : 64)) {
			fprintf(stderr, "frontend-client: %s is longer than the spec allows\n", argv[i]);
			return EX_USAGE;
		}
	}
	if (ex_client_open(&c, &frontend_service))
		return EX_FAIL;
	if (!strcmp(cmd, "store")) {
		struct frontend_store_req q = { 0 };
		struct frontend_store_resp a = { 0 };
		uint8_t st = 0;

		strcpy(q.username, c.user);
		strcpy(q.key, argv[optind + 1]);
		q.value.len = (uint16_t)strlen(argv[optind + 2]);
		memcpy(q.value.data, argv[optind + 2], q.value.len);
		err = frontend_store(c.s, &c.peer, &q, &a, &st);
		if (err)
			rc = ex_report(&c, &frontend_service, err, st);
		else
			printf("store %s kv_error=%s rl_error=%s\n", q.key, or_dash(a.kv_error),
			       or_dash(a.rl_error));
	}
	for (int i = optind + 1; !strcmp(cmd, "lookup") && i < argc; i++) {
		struct frontend_lookup_req q = { 0 };
		struct frontend_lookup_resp a = { 0 };
		uint8_t st = 0;

		strcpy(q.username, c.user);
		strcpy(q.key, argv[i]);
		err = frontend_lookup(c.s, &c.peer, &q, &a, &st);
		if (err) {
			rc = ex_report(&c, &frontend_service, err, st);
			continue;
		}
		printf("lookup %s kv_value=%s kv_error=%s rl_value=%s rl_error=%s\n", q.key,
		       text(v1, a.kv_value.data, a.kv_value.len), or_dash(a.kv_error),
		       text(v2, a.rl_value.data, a.rl_value.len), or_dash(a.rl_error));
	}
	flatrpc_sock_del(c.s);
	return rc;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * blob-server - serves specs/blob.anf: values of up to 64 KiB by key, each
 * request and response larger than a fragment reassembled by the library.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "blob_stubs.h"

#define BLOB_KEYS	16

struct entry {
	char		key[65];
	uint32_t	len;
	uint8_t		*val;
};

struct server {
	struct ex_server x;
	struct entry	e[BLOB_KEYS];
	uint64_t	n_put, n_get;
};

static struct entry *find(struct server *sv, const char *key, int create)
{
	for (int i = 0; i < BLOB_KEYS; i++)
		if (sv->e[i].val && !strcmp(sv->e[i].key, key))
			return &sv->e[i];
	if (!create)
		return NULL;
	for (int i = 0; i < BLOB_KEYS; i++) {
		if (!sv->e[i].val) {
			sv->e[i].val = malloc(sizeof(((struct blob_put_req *)0)->value.data));
			if (!sv->e[i].val)
				return NULL;
			snprintf(sv->e[i].key, sizeof(sv->e[i].key), "%s", key);
			return &sv->e[i];
		}
	}
	return NULL;
}

static int handle_put(void *ctx, const struct blob_put_req *req, struct blob_put_resp *resp)
{
	struct server *sv = ctx;
	struct entry *e = find(sv, req->key, 1);

	sv->n_put++;
	ex_log(&sv->x, "put %s %u", req->key, (unsigned)req->value.len);
	resp->ok = e != NULL;
	if (e) {
		memcpy(e->val, req->value.data, req->value.len);
		e->len = req->value.len;
	}
	return 0;
}

static int handle_get(void *ctx, const struct blob_get_req *req, struct blob_get_resp *resp)
{
	struct server *sv = ctx;
	struct entry *e = find(sv, req->key, 0);

	sv->n_get++;
	ex_log(&sv->x, "get %s", req->key);
	resp->value.len = e ? (uint16_t)e->len : 0;
	if (e)
		memcpy(resp->value.data, e->val, e->len);
	return 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE [--queue N] [--log FILE]\n"
		"\n"
		"Serves blob.put and blob.get (values up to 65535 bytes, %d keys) on IFACE,\n"
		"set up beforehand with\n"
		"  sudo flatrpc-load specs/blob.anf IFACE\n"
		"  --log FILE  append `put KEY LEN` or `get KEY` per executed request\n"
		EX_SERVER_HELP
		"Stops on SIGINT or SIGTERM and prints `served put=N get=N` and the\n"
		"socket's reassembly counters.\n", prog, BLOB_KEYS);
}

int main(int argc, char **argv)
{
	struct blob_handlers h = { .put = handle_put, .get = handle_get };
	static struct server sv = { .x.name = "blob-server" };
	struct flatrpc_sock_stats st;
	int rc, err;

	rc = ex_server_args(&sv.x, argc, argv, usage, NULL);
	if (rc != EX_GO_ON)
		return rc;
	if (ex_server_open(&sv.x, &blob_service, NULL))
		return EX_FAIL;
	err = blob_serve(sv.x.s, &h, &sv, &ex_stop);
	flatrpc_sock_stats(sv.x.s, &st);
	printf("served put=%" PRIu64 " get=%" PRIu64 "\n", sv.n_put, sv.n_get);
	printf("reassembled=%" PRIu64 " frag_dropped=%" PRIu64 " frag_expired=%" PRIu64 "\n",
	       st.reassembled, st.frag_dropped, st.frag_expired);
	rc = ex_server_close(&sv.x, err);
	for (int i = 0; i < BLOB_KEYS; i++)
		free(sv.e[i].val);
	return rc;
}

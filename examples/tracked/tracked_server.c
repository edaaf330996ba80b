/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tracked-server - serves specs/tracked.anf from an in-memory store.
 *
 * Its log shows what the server really received: metadata that only the
 * client's client: elements read is stripped on the sending host, so it
 * arrives here as 0 or an empty string. That is what test_client_strip
 * reads the log for.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "tracked_stubs.h"
#include "kv_store.h"

struct server {
	struct ex_server x;
	struct kv_store	store;
	uint64_t	n_get, n_get_remote, n_put, n_full;
};

/* key=value, so an empty (stripped) username still parses */
#define log_request(sv, method, user, session, key) \
	ex_log(&(sv)->x, "%s user=%s session=%" PRIu64 " key=%s", method, user, session, key)

static void lookup(struct server *sv, const char *key, uint16_t *len, uint8_t *data)
{
	const struct kv_slot *sl = kv_store_get(&sv->store, key);

	*len = sl ? sl->len : 0;
	if (sl)
		memcpy(data, sl->val, sl->len);
}

static int handle_get(void *ctx, const struct tracked_get_req *req, struct tracked_get_resp *resp)
{
	struct server *sv = ctx;

	sv->n_get++;
	log_request(sv, "get", req->username, req->session_id, req->key);
	lookup(sv, req->key, &resp->value.len, resp->value.data);
	return 0;
}

static int handle_get_remote(void *ctx, const struct tracked_get_remote_req *req,
			     struct tracked_get_remote_resp *resp)
{
	struct server *sv = ctx;

	sv->n_get_remote++;
	log_request(sv, "get_remote", req->username, req->session_id, req->key);
	lookup(sv, req->key, &resp->value.len, resp->value.data);
	return 0;
}

static int handle_put(void *ctx, const struct tracked_put_req *req, struct tracked_put_resp *resp)
{
	struct server *sv = ctx;

	sv->n_put++;
	log_request(sv, "put", req->username, req->session_id, req->key);
	resp->ok = kv_store_set(&sv->store, req->key, req->value.data, req->value.len) != NULL;
	if (!resp->ok)
		sv->n_full++;
	return 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE [--queue N] [--log FILE]\n"
		"\n"
		"Serves tracked.get, tracked.get_remote and tracked.put on IFACE, which\n"
		"flatrpc-load must have set up (on the clients' hosts too):\n"
		"  sudo flatrpc-load specs/tracked.anf IFACE\n"
		"\n"
		"  --iface IFACE  interface to serve on (required)\n"
		"  --log FILE     append one line per executed request, with the metadata\n"
		"                 as received: METHOD user=NAME session=N key=KEY\n"
		EX_SERVER_HELP
		"Stops on SIGINT or SIGTERM and prints `served get=N get_remote=N put=N`.\n",
		prog);
}

int main(int argc, char **argv)
{
	struct tracked_handlers h = {
		.get = handle_get, .get_remote = handle_get_remote, .put = handle_put,
	};
	struct server sv = { .x.name = "tracked-server" };
	int rc, err;

	rc = ex_server_args(&sv.x, argc, argv, usage, NULL);
	if (rc != EX_GO_ON)
		return rc;
	if (kv_store_init(&sv.store, 1 << 12)) {
		fprintf(stderr, "tracked-server: out of memory\n");
		return EX_FAIL;
	}
	if (ex_server_open(&sv.x, &tracked_service, NULL)) {
		kv_store_free(&sv.store);
		return EX_FAIL;
	}
	err = tracked_serve(sv.x.s, &h, &sv, &ex_stop);
	printf("served get=%" PRIu64 " get_remote=%" PRIu64 " put=%" PRIu64 "\n",
	       sv.n_get, sv.n_get_remote, sv.n_put);
	if (sv.n_full)
		printf("store full: %" PRIu64 " puts refused\n", sv.n_full);
	rc = ex_server_close(&sv.x, err);
	kv_store_free(&sv.store);
	return rc;
}

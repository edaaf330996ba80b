/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tracked-server - serves specs/tracked.anf from an in-memory store.
 *
 * Its log shows what the server really received: metadata that only the
 * client's client: elements read is stripped on the sending host, so it
 * arrives here as 0 or an empty string. That is what test_client_strip
 * reads the log for.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flatrpc.h>
#include "tracked_stubs.h"
#include "kv_store.h"

struct server {
	struct kv_store	store;
	FILE		*log;
	uint64_t	n_get, n_get_remote, n_put, n_full;
};

static volatile int stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void log_request(struct server *sv, const char *method, const char *user,
			uint64_t session, const char *key)
{
	if (!sv->log)
		return;
	/* key=value, so an empty (stripped) username still parses */
	fprintf(sv->log, "%s user=%s session=%" PRIu64 " key=%s\n", method, user, session, key);
	fflush(sv->log);	/* tests read the log while the server runs */
}

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
		"usage: %s --iface IFACE [--log FILE]\n"
		"\n"
		"Serves tracked.get, tracked.get_remote and tracked.put on IFACE, which\n"
		"flatrpc-load must have set up (on the clients' hosts too):\n"
		"  sudo flatrpc-load specs/tracked.anf IFACE\n"
		"\n"
		"  --iface IFACE  interface to serve on (required)\n"
		"  --log FILE     append one line per executed request, with the metadata\n"
		"                 as received: METHOD user=NAME session=N key=KEY\n"
		"Stops on SIGINT or SIGTERM and prints `served get=N get_remote=N put=N`.\n",
		prog);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "log", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct flatrpc_sock_opts so = { 0 };
	struct tracked_handlers h = {
		.get = handle_get, .get_remote = handle_get_remote, .put = handle_put,
	};
	struct server sv = { 0 };
	struct flatrpc_sock *s;
	int c, err;

	while ((c = getopt_long(argc, argv, "i:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': so.ifname = optarg; break;
		case 'l':
			sv.log = fopen(optarg, "a");
			if (!sv.log) {
				fprintf(stderr, "tracked-server: cannot open %s: %s\n", optarg,
					strerror(errno));
				return 1;
			}
			break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (!so.ifname || optind != argc) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (kv_store_init(&sv.store, 1 << 12)) {
		fprintf(stderr, "tracked-server: out of memory\n");
		return 1;
	}
	s = flatrpc_sock_new(&tracked_service, &so, &err);
	if (!s) {
		fprintf(stderr, "tracked-server: cannot open a FlatRPC socket on %s: %s\n",
			so.ifname, flatrpc_strerror(err));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("tracked-server: serving tracked on %s\n", so.ifname);
	fflush(stdout);

	err = tracked_serve(s, &h, &sv, &stop);
	if (err < 0)
		fprintf(stderr, "tracked-server: serve loop failed: %s\n", flatrpc_strerror(err));
	printf("served get=%" PRIu64 " get_remote=%" PRIu64 " put=%" PRIu64 "\n",
	       sv.n_get, sv.n_get_remote, sv.n_put);
	if (sv.n_full)
		printf("store full: %" PRIu64 " puts refused\n", sv.n_full);
	fflush(stdout);
	flatrpc_sock_del(s);
	kv_store_free(&sv.store);
	if (sv.log)
		fclose(sv.log);
	return err < 0 ? 1 : 0;
}

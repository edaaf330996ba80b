/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * blob-server - serves specs/blob.anf: values of up to 64 KiB by key, each
 * request and response larger than a fragment reassembled by the library.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flatrpc.h>
#include "blob_stubs.h"

#define BLOB_KEYS	16

struct entry {
	char		key[65];
	uint32_t	len;
	uint8_t		*val;
};

struct server {
	struct entry	e[BLOB_KEYS];
	uint64_t	n_put, n_get;
};

static volatile int stop;

static void on_signal(int sig)
{
	stop = 1;
}

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
	resp->value.len = e ? (uint16_t)e->len : 0;
	if (e)
		memcpy(resp->value.data, e->val, e->len);
	return 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE\n"
		"\n"
		"Serves blob.put and blob.get (values up to 65535 bytes, %d keys) on IFACE,\n"
		"set up beforehand with\n"
		"  sudo flatrpc-load specs/blob.anf IFACE\n"
		"Stops on SIGINT or SIGTERM and prints `served put=N get=N` and the\n"
		"socket's reassembly counters.\n", prog, BLOB_KEYS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct flatrpc_sock_opts so = { 0 };
	struct blob_handlers h = { .put = handle_put, .get = handle_get };
	static struct server sv;
	struct flatrpc_sock_stats st;
	struct flatrpc_sock *s;
	int c, err;

	while ((c = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': so.ifname = optarg; break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (!so.ifname || optind != argc) {
		usage(stderr, argv[0]);
		return 2;
	}
	s = flatrpc_sock_new(&blob_service, &so, &err);
	if (!s) {
		fprintf(stderr, "blob-server: cannot open a FlatRPC socket on %s: %s\n",
			so.ifname, flatrpc_strerror(err));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("blob-server: serving blob on %s\n", so.ifname);
	fflush(stdout);

	err = blob_serve(s, &h, &sv, &stop);
	if (err < 0)
		fprintf(stderr, "blob-server: serve loop failed: %s\n", flatrpc_strerror(err));
	flatrpc_sock_stats(s, &st);
	printf("served put=%" PRIu64 " get=%" PRIu64 "\n", sv.n_put, sv.n_get);
	printf("reassembled=%" PRIu64 " frag_dropped=%" PRIu64 " frag_expired=%" PRIu64 "\n",
	       st.reassembled, st.frag_dropped, st.frag_expired);
	flatrpc_sock_del(s);
	for (int i = 0; i < BLOB_KEYS; i++)
		free(sv.e[i].val);
	return err < 0 ? 1 : 0;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * blob-client - puts and gets values of up to 64 KiB (specs/blob.anf). The
 * value is a pattern derived from the key, so `get` can check every byte
 * that came back through fragmentation and reassembly.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flatrpc.h>
#include "blob_stubs.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static uint8_t pattern(const char *key, size_t i)
{
	uint32_t h = 2166136261u;

	for (const char *k = key; *k; k++)
		h = (h ^ (uint8_t)*k) * 16777619u;
	return (uint8_t)((i * 131 + (i >> 8) + h) & 0xff);
}

static int report(int err, uint8_t status)
{
	if (err == FLATRPC_E_ANF) {
		fprintf(stderr, "error: denied by %s\n", flatrpc_status_str(&blob_service, status));
		return EXIT_FAIL;
	}
	if (err == FLATRPC_E_REMOTE) {
		fprintf(stderr, "error: server answered %s\n",
			flatrpc_status_str(&blob_service, status));
		return EXIT_FAIL;
	}
	fprintf(stderr, "error: %s\n", flatrpc_strerror(err));
	return EXIT_FAIL;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE --server ADDR [--user NAME] put KEY SIZE\n"
		"       %s --iface IFACE --server ADDR [--user NAME] get KEY SIZE\n"
		"\n"
		"put stores SIZE bytes (at most 65535) of a pattern derived from KEY;\n"
		"get reads KEY back and checks that it is exactly that pattern of SIZE bytes.\n"
		"Exit status: 0 ok, 1 error or mismatch, 2 usage.\n", prog, prog);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "server", required_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	/* 64 KiB each: not on the stack */
	static struct blob_put_req put;
	static struct blob_get_resp got;
	struct flatrpc_sock_opts so = { 0 };
	struct flatrpc_peer peer = { 0 };
	struct flatrpc_sock_stats st;
	struct flatrpc_sock *s;
	const char *user = "anonymous", *server = NULL, *cmd, *key;
	unsigned long size;
	uint8_t status = 0;
	int c, err, rc = EXIT_OK;

	while ((c = getopt_long(argc, argv, "i:s:u:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': so.ifname = optarg; break;
		case 's': server = optarg; break;
		case 'u': user = optarg; break;
		case 'h': usage(stdout, argv[0]); return EXIT_OK;
		default: usage(stderr, argv[0]); return EXIT_USAGE;
		}
	}
	if (!so.ifname || !server || argc - optind != 3) {
		usage(stderr, argv[0]);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	key = argv[optind + 1];
	size = strtoul(argv[optind + 2], NULL, 10);
	if (strcmp(cmd, "put") && strcmp(cmd, "get")) {
		fprintf(stderr, "error: the command is put or get, not %s\n", cmd);
		return EXIT_USAGE;
	}
	if (strlen(user) > 16 || strlen(key) > 64 || size > sizeof(put.value.data)) {
		fprintf(stderr, "error: user is at most 16 bytes, key at most 64, size at most %zu\n",
			sizeof(put.value.data));
		return EXIT_USAGE;
	}
	if (inet_pton(AF_INET, server, &peer.addr) != 1) {
		fprintf(stderr, "error: %s is not an IPv4 address\n", server);
		return EXIT_USAGE;
	}
	s = flatrpc_sock_new(&blob_service, &so, &err);
	if (!s) {
		fprintf(stderr, "error: cannot open a FlatRPC socket on %s: %s\n", so.ifname,
			flatrpc_strerror(err));
		return EXIT_FAIL;
	}

	if (!strcmp(cmd, "put")) {
		struct blob_put_resp resp = { 0 };

		strcpy(put.username, user);
		strcpy(put.key, key);
		put.value.len = (uint16_t)size;
		for (size_t i = 0; i < size; i++)
			put.value.data[i] = pattern(key, i);
		err = blob_put(s, &peer, &put, &resp, &status);
		if (err)
			rc = report(err, status);
		else if (!resp.ok)
			rc = (fprintf(stderr, "error: the server's store is full\n"), EXIT_FAIL);
		else
			printf("put %s %lu bytes ok\n", key, size);
	} else {
		struct blob_get_req req = { 0 };

		strcpy(req.username, user);
		strcpy(req.key, key);
		err = blob_get(s, &peer, &req, &got, &status);
		if (err) {
			rc = report(err, status);
		} else if (got.value.len != size) {
			fprintf(stderr, "error: got %u bytes, expected %lu\n", got.value.len, size);
			rc = EXIT_FAIL;
		} else {
			for (size_t i = 0; i < size && rc == EXIT_OK; i++) {
				if (got.value.data[i] != pattern(key, i)) {
					fprintf(stderr, "error: byte %zu differs\n", i);
					rc = EXIT_FAIL;
				}
			}
			if (rc == EXIT_OK)
				printf("get %s %lu bytes ok\n", key, size);
		}
	}
	flatrpc_sock_stats(s, &st);
	printf("tx=%" PRIu64 " rx=%" PRIu64 " retransmits=%" PRIu64 " reassembled=%" PRIu64 "\n",
	       st.tx, st.rx, st.retransmits, st.reassembled);
	flatrpc_sock_del(s);
	return rc;
}

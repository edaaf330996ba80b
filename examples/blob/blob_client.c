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
#include <time.h>

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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
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

/* 64 KiB each: not on the stack */
static struct blob_put_req put;
static struct blob_get_resp got;

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* One put or get; *took is the call's time alone. `say` prints the ok line. */
static int one_call(struct flatrpc_sock *s, const struct flatrpc_peer *peer, const char *cmd,
		    const char *user, const char *key, unsigned long size, int say,
		    uint64_t *took)
{
	uint8_t status = 0;
	uint64_t t0;
	int err;

	if (!strcmp(cmd, "put")) {
		struct blob_put_resp resp = { 0 };

		strcpy(put.username, user);
		strcpy(put.key, key);
		put.value.len = (uint16_t)size;
		for (size_t i = 0; i < size; i++)
			put.value.data[i] = pattern(key, i);
		t0 = now_ns();
		err = blob_put(s, peer, &put, &resp, &status);
		*took = now_ns() - t0;
		if (err)
			return report(err, status);
		if (!resp.ok) {
			fprintf(stderr, "error: the server's store is full\n");
			return EXIT_FAIL;
		}
		if (say)
			printf("put %s %lu bytes ok\n", key, size);
		return EXIT_OK;
	}

	struct blob_get_req req = { 0 };

	strcpy(req.username, user);
	strcpy(req.key, key);
	t0 = now_ns();
	err = blob_get(s, peer, &req, &got, &status);
	*took = now_ns() - t0;
	if (err)
		return report(err, status);
	if (got.value.len != size) {
		fprintf(stderr, "error: got %u bytes, expected %lu\n", got.value.len, size);
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < size; i++) {
		if (got.value.data[i] != pattern(key, i)) {
			fprintf(stderr, "error: byte %zu differs\n", i);
			return EXIT_FAIL;
		}
	}
	if (say)
		printf("get %s %lu bytes ok\n", key, size);
	return EXIT_OK;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE --server ADDR [--user NAME] put KEY SIZE\n"
		"       %s --iface IFACE --server ADDR [--user NAME] get KEY SIZE\n"
		"\n"
		"put stores SIZE bytes (at most 65535) of a pattern derived from KEY;\n"
		"get reads KEY back and checks that it is exactly that pattern of SIZE bytes.\n"
		"  --repeat N  do it N times and print the median and largest call time\n"
		"Exit status: 0 ok, 1 error or mismatch, 2 usage.\n", prog, prog);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "server", required_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct flatrpc_sock_opts so = { 0 };
	struct flatrpc_peer peer = { 0 };
	struct flatrpc_sock_stats st;
	struct flatrpc_sock *s;
	const char *user = "anonymous", *server = NULL, *cmd, *key;
	unsigned long size, repeat = 1;
	uint64_t *took;
	int c, err, rc = EXIT_OK;

	while ((c = getopt_long(argc, argv, "i:s:u:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': so.ifname = optarg; break;
		case 's': server = optarg; break;
		case 'u': user = optarg; break;
		case 'r': repeat = strtoul(optarg, NULL, 10); break;
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
	took = calloc(repeat ? repeat : 1, sizeof(*took));
	if (!repeat || repeat > 100000 || !took) {
		fprintf(stderr, "error: --repeat takes 1..100000\n");
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

	for (unsigned long r = 0; r < repeat && rc == EXIT_OK; r++)
		rc = one_call(s, &peer, cmd, user, key, size, r + 1 == repeat, &took[r]);
	if (rc == EXIT_OK && repeat > 1) {
		qsort(took, repeat, sizeof(*took), cmp_u64);
		printf("calls=%lu p50_us=%.1f max_us=%.1f\n", repeat, took[repeat / 2] / 1e3,
		       took[repeat - 1] / 1e3);
	}
	free(took);
	flatrpc_sock_stats(s, &st);
	printf("tx=%" PRIu64 " rx=%" PRIu64 " retransmits=%" PRIu64 " reassembled=%" PRIu64 "\n",
	       st.tx, st.rx, st.retransmits, st.reassembled);
	flatrpc_sock_del(s);
	return rc;
}

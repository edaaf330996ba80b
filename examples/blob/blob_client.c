/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * blob-client - puts and gets values of up to 64 KiB (specs/blob.anf). The
 * value is a pattern derived from the key, so `get` can check every byte
 * that came back through fragmentation and reassembly.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "blob_stubs.h"

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
		return EX_FAIL;
	}
	if (err == FLATRPC_E_REMOTE) {
		fprintf(stderr, "error: server answered %s\n",
			flatrpc_status_str(&blob_service, status));
		return EX_FAIL;
	}
	fprintf(stderr, "error: %s\n", flatrpc_strerror(err));
	return EX_FAIL;
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
			return EX_FAIL;
		}
		if (say)
			printf("put %s %lu bytes ok\n", key, size);
		return EX_OK;
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
		return EX_FAIL;
	}
	for (size_t i = 0; i < size; i++) {
		if (got.value.data[i] != pattern(key, i)) {
			fprintf(stderr, "error: byte %zu differs\n", i);
			return EX_FAIL;
		}
	}
	if (say)
		printf("get %s %lu bytes ok\n", key, size);
	return EX_OK;
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

static int own_opt(int c, const char *arg, void *ctx)
{
	(void)c;	/* 'r', the only one */
	return ex_parse_u64("blob-client", "--repeat", arg, 100000, ctx);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repeat", required_argument, NULL, 'r' },
		{ 0 }
	};
	unsigned long long repeat = 1, size;
	struct ex_opts own = { opts, "r:", own_opt, &repeat };
	struct ex_client c = { .name = "blob-client", .user = "anonymous" };
	struct flatrpc_sock_stats st;
	struct flatrpc_sock *s;
	const char *cmd, *key;
	uint64_t *took;
	int rc;

	rc = ex_client_args(&c, argc, argv, usage, &own, 16);
	if (rc != EX_GO_ON)
		return rc;
	if (argc - optind != 3 || !repeat) {
		usage(stderr, argv[0]);
		return EX_USAGE;
	}
	cmd = argv[optind];
	key = argv[optind + 1];
	if (strcmp(cmd, "put") && strcmp(cmd, "get")) {
		fprintf(stderr, "blob-client: the command is put or get, not %s\n", cmd);
		return EX_USAGE;
	}
	if (ex_parse_u64("blob-client", "SIZE", argv[optind + 2], sizeof(put.value.data), &size) !=
	    EX_GO_ON)
		return EX_USAGE;
	if (strlen(key) > 64) {
		fprintf(stderr, "blob-client: key is at most 64 bytes\n");
		return EX_USAGE;
	}
	took = calloc(repeat, sizeof(*took));
	if (!took) {
		fprintf(stderr, "blob-client: out of memory\n");
		return EX_FAIL;
	}
	if (ex_client_open(&c, &blob_service)) {
		free(took);
		return EX_FAIL;
	}
	s = c.s;
	rc = EX_OK;

	for (unsigned long long r = 0; r < repeat && rc == EX_OK; r++)
		rc = one_call(s, &c.peer, cmd, c.user, key, size, r + 1 == repeat, &took[r]);
	if (rc == EX_OK && repeat > 1) {
		qsort(took, repeat, sizeof(*took), cmp_u64);
		printf("calls=%llu p50_us=%.1f max_us=%.1f\n", repeat, took[repeat / 2] / 1e3,
		       took[repeat - 1] / 1e3);
	}
	free(took);
	flatrpc_sock_stats(s, &st);
	printf("tx=%" PRIu64 " rx=%" PRIu64 " retransmits=%" PRIu64 " reassembled=%" PRIu64 "\n",
	       st.tx, st.rx, st.retransmits, st.reassembled);
	flatrpc_sock_del(s);
	return rc;
}

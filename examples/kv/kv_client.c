/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * kv-client - calls the KV store over FlatRPC.
 *
 * `get` and `set` are one call each through the generated stubs; `load`
 * keeps several calls outstanding with flatrpc_send/flatrpc_poll, which is
 * what the selftests use to check loss handling.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "kv_stubs.h"

enum { EXIT_OK = EX_OK, EXIT_FAIL = EX_FAIL, EXIT_USAGE = EX_USAGE, EXIT_DENIED = EX_DENIED,
       EXIT_TIMEOUT = EX_TIMEOUT };

struct client {
	struct ex_client	x;
	uint64_t		session;
};

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE --server ADDR [--user NAME] [--session N] COMMAND\n"
		"  ADDR is an address or a name (/etc/hosts, DNS), with :PORT if not the service's\n"
		"\n"
		"commands:\n"
		"  get KEY            print the value stored under KEY\n"
		"  set KEY VALUE      store VALUE under KEY, print ok\n"
		"  load --count N [--set-ratio PCT] [--outstanding K] [--results FILE]\n"
		"                     N calls, PCT%% of them sets to unique keys, K in flight;\n"
		"                     FILE gets one line per completed call, in completion\n"
		"                     order: index method rpc_id err sent_ns done_ns\n"
		"options:\n"
		"  --busy-poll        spin instead of sleeping\n"
		"  --skb              bind the AF_XDP socket in SKB mode\n"
		"exit: 0 ok, 1 failure, 2 usage, 3 denied by an ANF, 4 timed out\n"
		"example:\n"
		"  %s --iface eth0 --server 10.0.0.2 --user Kevin set color blue\n",
		prog, prog);
}

static int fill_common(const struct client *c, char *user, uint64_t *session,
		       char *key, const char *k)
{
	if (strlen(c->x.user) > 16 || strlen(k) > 64) {
		fprintf(stderr, "error: username is at most 16 bytes and key at most 64\n");
		return -1;
	}
	strcpy(user, c->x.user);
	*session = c->session;
	strcpy(key, k);
	return 0;
}

static int cmd_get(struct client *c, const char *key)
{
	struct kv_get_req req = { 0 };
	struct kv_get_resp resp = { 0 };
	uint8_t status = 0;
	int err;

	if (fill_common(c, req.username, &req.session_id, req.key, key))
		return EXIT_USAGE;
	err = kv_get(c->x.s, &c->x.peer, &req, &resp, &status);
	if (err)
		return ex_report(&c->x, &kv_service, err, status);
	printf("%.*s\n", (int)resp.value.len, (const char *)resp.value.data);
	return EXIT_OK;
}

static int cmd_set(struct client *c, const char *key, const char *val)
{
	struct kv_set_req req = { 0 };
	struct kv_set_resp resp = { 0 };
	uint8_t status = 0;
	size_t n = strlen(val);
	int err;

	if (fill_common(c, req.username, &req.session_id, req.key, key))
		return EXIT_USAGE;
	if (n > sizeof(req.value.data)) {
		fprintf(stderr, "error: value is at most %zu bytes\n", sizeof(req.value.data));
		return EXIT_USAGE;
	}
	memcpy(req.value.data, val, n);
	req.value.len = (uint16_t)n;
	err = kv_set(c->x.s, &c->x.peer, &req, &resp, &status);
	if (err)
		return ex_report(&c->x, &kv_service, err, status);
	if (!resp.ok) {
		fprintf(stderr, "error: the server refused the set (store full)\n");
		return EXIT_FAIL;
	}
	printf("ok\n");
	return EXIT_OK;
}

/* Encodes call i of a load run: sets go to unique keys so the server's log
 * shows whether any was executed twice. */
static int encode_call(const struct client *c, unsigned long i, int is_set,
		       uint8_t *buf, size_t cap)
{
	char key[32];

	snprintf(key, sizeof(key), "key-%lu", i);
	if (is_set) {
		struct kv_set_req r = { 0 };

		fill_common(c, r.username, &r.session_id, r.key, key);
		r.value.len = (uint16_t)snprintf((char *)r.value.data, sizeof(r.value.data),
						 "value-%lu-%s", i,
						 "padded-to-about-one-hundred-bytes-like-the-paper");
		return kv_set_req_encode(&r, buf, cap);
	}
	struct kv_get_req r = { 0 };

	fill_common(c, r.username, &r.session_id, r.key, key);
	return kv_get_req_encode(&r, buf, cap);
}

/* A call in flight, so a completion (known by RPC ID) finds its index. */
struct load_slot {
	uint32_t	id;
	int		busy;
	unsigned long	idx;
	uint64_t	sent_ns;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmd_load(struct client *c, unsigned long count, unsigned set_pct, unsigned outstanding,
		    FILE *results)
{
	struct flatrpc_completion comp[64];
	struct flatrpc_sock_stats st;
	unsigned long sent = 0, done = 0, ok = 0, denied = 0, timeouts = 0, failed = 0;
	unsigned long get_ok = 0, set_ok = 0, get_tx = 0, set_tx = 0;
	unsigned inflight = 0;
	uint8_t buf[1024];
	struct load_slot *slot = calloc(outstanding, sizeof(*slot));

	if (!slot) {
		fprintf(stderr, "error: out of memory\n");
		return EXIT_FAIL;
	}
	if (strlen(c->x.user) > 16) {
		fprintf(stderr, "error: username is at most 16 bytes\n");
		return EXIT_USAGE;
	}
	while (done < count) {
		while (sent < count && inflight < outstanding) {
			/* spread sets evenly rather than in a burst */
			int is_set = (sent * set_pct) / 100 != ((sent + 1) * set_pct) / 100;
			uint8_t m = is_set ? KV_SET : KV_GET;
			uint32_t id;
			int n = encode_call(c, sent, is_set, buf, sizeof(buf));

			if (n < 0)
				return ex_report(&c->x, &kv_service, n, 0);
			n = flatrpc_send(c->x.s, &c->x.peer, m, buf, (size_t)n, &id);
			if (n == FLATRPC_E_BUSY)
				break;
			if (n < 0)
				return ex_report(&c->x, &kv_service, n, 0);
			is_set ? set_tx++ : get_tx++;
			for (unsigned k = 0; results && k < outstanding; k++) {
				if (!slot[k].busy) {
					slot[k] = (struct load_slot){ id, 1, sent, mono_ns() };
					break;
				}
			}
			sent++;
			inflight++;
		}
		int n = flatrpc_poll(c->x.s, comp, 64, 1000);

		if (n < 0)
			return ex_report(&c->x, &kv_service, n, 0);
		for (int i = 0; i < n; i++) {
			done++;
			inflight--;
			for (unsigned k = 0; results && k < outstanding; k++) {
				if (slot[k].busy && slot[k].id == comp[i].rpc_id) {
					fprintf(results, "%lu %u %" PRIu32 " %d %" PRIu64 " %" PRIu64 "\n",
						slot[k].idx, comp[i].method, comp[i].rpc_id,
						comp[i].err, slot[k].sent_ns, mono_ns());
					slot[k].busy = 0;
					break;
				}
			}
			switch (comp[i].err) {
			case 0:
				ok++;
				comp[i].method == KV_SET ? set_ok++ : get_ok++;
				break;
			case FLATRPC_E_ANF: denied++; break;
			case FLATRPC_E_TIMEOUT: timeouts++; break;
			default: failed++; break;
			}
		}
	}
	free(slot);
	flatrpc_sock_stats(c->x.s, &st);
	printf("load ok=%lu denied=%lu timeouts=%lu failed=%lu get_ok=%lu set_ok=%lu "
	       "get_tx=%lu set_tx=%lu retransmits=%" PRIu64 " epoch_resends=%" PRIu64 "\n",
	       ok, denied, timeouts, failed, get_ok, set_ok, get_tx, set_tx, st.retransmits,
	       st.epoch_resends);
	return failed ? EXIT_FAIL : EXIT_OK;
}

struct args {
	struct client		*c;
	unsigned long long	count, set_pct, outstanding;
	const char		*results;
};

static int own_opt(int c, const char *arg, void *ctx)
{
	struct args *a = ctx;
	unsigned long long v;
	int rc;

	switch (c) {
	case 'n':
		rc = ex_parse_u64("kv-client", "--session", arg, UINT64_MAX, &v);
		a->c->session = v;
		return rc;
	case 'b': a->c->x.so.mode = FLATRPC_POLL_BUSY; break;
	case 's': a->c->x.so.skb_mode = 1; break;
	case 'c': return ex_parse_u64("kv-client", "--count", arg, UINT32_MAX, &a->count);
	case 'r': return ex_parse_u64("kv-client", "--set-ratio", arg, 100, &a->set_pct);
	case 'o': return ex_parse_u64("kv-client", "--outstanding", arg, 65536, &a->outstanding);
	case 'R': a->results = arg; break;
	}
	return EX_GO_ON;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "session", required_argument, NULL, 'n' },
		{ "busy-poll", no_argument, NULL, 'b' },
		{ "skb", no_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'c' },
		{ "set-ratio", required_argument, NULL, 'r' },
		{ "outstanding", required_argument, NULL, 'o' },
		{ "results", required_argument, NULL, 'R' },
		{ 0 }
	};
	struct client c = { .x = { .name = "kv-client", .user = "Kevin" }, .session = 1 };
	struct args a = { .c = &c, .set_pct = 20, .outstanding = 1 };
	struct ex_opts own = { opts, "+n:bsc:r:o:R:", own_opt, &a };
	FILE *results = NULL;
	const char *cmd;
	int rc, nargs;

	rc = ex_client_args(&c.x, argc, argv, usage, &own, 16);
	if (rc != EX_GO_ON)
		return rc;
	/* options may also follow the `load` command */
	if (optind < argc && strcmp(argv[optind], "load") == 0) {
		int sub = optind, ch;

		optind = sub + 1;
		while ((ch = getopt_long(argc, argv, "c:r:o:R:", opts, NULL)) != -1) {
			if (ch == '?' || ch == ':' || own_opt(ch, optarg, &a) != EX_GO_ON) {
				usage(stderr, argv[0]);
				return EXIT_USAGE;
			}
		}
		if (optind != argc || !a.count || !a.outstanding) {
			usage(stderr, argv[0]);
			return EXIT_USAGE;
		}
		optind = sub;
	}
	if (optind >= argc) {
		usage(stderr, argv[0]);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	nargs = argc - optind - 1;
	if (!((strcmp(cmd, "get") == 0 && nargs == 1) || (strcmp(cmd, "set") == 0 && nargs == 2) ||
	      strcmp(cmd, "load") == 0)) {
		usage(stderr, argv[0]);
		return EXIT_USAGE;
	}
	if (a.results) {
		results = fopen(a.results, "w");
		if (!results) {
			fprintf(stderr, "kv-client: cannot write %s: %s\n", a.results, strerror(errno));
			return EXIT_FAIL;
		}
	}
	if (ex_client_open(&c.x, &kv_service)) {
		if (results)
			fclose(results);
		return EXIT_FAIL;
	}
	if (strcmp(cmd, "get") == 0)
		rc = cmd_get(&c, argv[optind + 1]);
	else if (strcmp(cmd, "set") == 0)
		rc = cmd_set(&c, argv[optind + 1], argv[optind + 2]);
	else
		rc = cmd_load(&c, a.count, (unsigned)a.set_pct, (unsigned)a.outstanding, results);
	flatrpc_sock_del(c.x.s);
	if (results && fclose(results)) {
		fprintf(stderr, "kv-client: writing %s: %s\n", a.results, strerror(errno));
		rc = EXIT_FAIL;
	}
	return rc;
}

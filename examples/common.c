// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* common.c - the examples' shared set-up (common.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

volatile int ex_stop;

static void on_signal(int sig)
{
	(void)sig;
	ex_stop = 1;
}

/*
 * getopt_long over the shared options and the example's own. Returns
 * EX_GO_ON or an exit code; each shared option goes to take(c, arg).
 */
static int parse(const char *name, int argc, char **argv, const struct option *base,
		 const char *base_letters, int (*take)(int c, const char *arg, void *ctx),
		 void *take_ctx, void (*usage)(FILE *, const char *), const struct ex_opts *own)
{
	size_t nb = 0, no = 0, i;
	struct option *all;
	char letters[64];
	int c, plus, rc = EX_GO_ON;

	while (base[nb].name)
		nb++;
	while (own && own->opts[no].name)
		no++;
	/* a leading '+' in the example's letters stops at the first argument
	 * that is no option (a command, whose own options follow it) */
	plus = own && own->letters[0] == '+';
	if (snprintf(letters, sizeof(letters), "%s%s%s", plus ? "+" : "", base_letters,
		     own ? own->letters + plus : "") >= (int)sizeof(letters)) {
		fprintf(stderr, "%s: too many options\n", name);
		return EX_FAIL;
	}
	all = calloc(nb + no + 1, sizeof(*all));
	if (!all) {
		fprintf(stderr, "%s: out of memory\n", name);
		return EX_FAIL;
	}
	memcpy(all, base, nb * sizeof(*all));
	if (no)
		memcpy(all + nb, own->opts, no * sizeof(*all));
	while (rc == EX_GO_ON && (c = getopt_long(argc, argv, letters, all, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout, argv[0]);
			rc = EX_OK;
		} else if (c == '?' || c == ':') {
			usage(stderr, argv[0]);
			rc = EX_USAGE;
		} else if (strchr(base_letters, c)) {
			rc = take(c, optarg, take_ctx);
		} else {
			for (i = 0; i < no && own->opts[i].val != c; i++)
				;
			rc = i < no || strchr(own->letters + plus, c) ?
			     own->on_opt(c, optarg, own->ctx) : EX_USAGE;
		}
	}
	free(all);
	return rc;
}

/* ---- servers ------------------------------------------------------------- */

static int server_take(int c, const char *arg, void *ctx)
{
	struct ex_server *x = ctx;
	unsigned long long v;
	int rc;

	if (c == 'i') {
		x->so.ifname = arg;
		return EX_GO_ON;
	}
	if (c == 'q') {
		rc = ex_parse_u64(x->name, "--queue", arg, FLATRPC_MAX_QUEUES - 1, &v);
		x->so.queue = (uint32_t)v;
		x->so.queues = 1;
		return rc;
	}
	if (c == 'J') {
		x->stats = arg;
		return EX_GO_ON;
	}
	/* 'l' */
	if (x->log)
		fclose(x->log);
	x->log = fopen(arg, "a");
	if (!x->log) {
		fprintf(stderr, "%s: cannot open %s: %s\n", x->name, arg, strerror(errno));
		return EX_FAIL;
	}
	return EX_GO_ON;
}

int ex_server_args(struct ex_server *x, int argc, char **argv,
		   void (*usage)(FILE *f, const char *prog), const struct ex_opts *own)
{
	static const struct option base[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "queue", required_argument, NULL, 'q' },
		{ "log", required_argument, NULL, 'l' },
		{ "stats", required_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int rc;

	/* A queue without a socket drops what the NIC steers to it, so a
	 * server takes them all unless told to pin one. */
	x->so.queues = FLATRPC_QUEUES_ALL;
	rc = parse(x->name, argc, argv, base, "i:q:l:J:h", server_take, x, usage, own);

	if (rc != EX_GO_ON)
		return rc;
	if (!x->so.ifname || optind != argc) {
		usage(stderr, argv[0]);
		return EX_USAGE;
	}
	return EX_GO_ON;
}

/* The socket of a server or a client, or NULL after saying why. */
static struct flatrpc_sock *open_sock(const char *name, const struct flatrpc_service_desc *svc,
				      const struct flatrpc_sock_opts *so)
{
	struct flatrpc_sock *s;
	int err;

	s = flatrpc_sock_new(svc, so, &err);
	if (!s && err == -ERANGE)
		fprintf(stderr, "%s: %s has no RX queue %u (ethtool -l %s shows its queues)\n",
			name, so->ifname, so->queue, so->ifname);
	else if (!s && err == -EBUSY)
		fprintf(stderr, "%s: an RX queue of %s is taken by another AF_XDP socket (another "
			"server?); --queue N takes one queue alone\n", name, so->ifname);
	else if (!s)
		fprintf(stderr, "%s: cannot open a FlatRPC socket on %s: %s\n", name, so->ifname,
			flatrpc_strerror(err));
	return s;
}

int ex_server_open(struct ex_server *x, const struct flatrpc_service_desc *svc,
		   const char *what)
{
	struct flatrpc_sock_stats st;
	char queues[32];

	x->s = open_sock(x->name, svc, &x->so);
	if (!x->s)
		return EX_FAIL;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	flatrpc_sock_stats(x->s, &st);
	if (st.queues > 1)
		snprintf(queues, sizeof(queues), "queues %u-%u", st.queue_first,
			 st.queue_first + st.queues - 1);
	else
		snprintf(queues, sizeof(queues), "queue %u", st.queue_first);
	printf("%s: serving %s on %s %s%s\n", x->name, svc->name, x->so.ifname, queues,
	       what ? what : "");
	fflush(stdout);
	return 0;
}

/* --stats: the socket's counters as one JSON object, for scripts. */
static void write_stats(struct ex_server *x)
{
	struct flatrpc_sock_stats st;
	FILE *f;

	if (!x->stats || !x->s)
		return;
	f = fopen(x->stats, "w");
	if (!f) {
		fprintf(stderr, "%s: cannot write %s: %s\n", x->name, x->stats, strerror(errno));
		return;
	}
	flatrpc_sock_stats(x->s, &st);
	fprintf(f, "{\"server\":\"%s\",\"iface\":\"%s\",\"rx\":%" PRIu64 ",\"tx\":%" PRIu64
		",\"dup_answered\":%" PRIu64 ",\"dup_dropped\":%" PRIu64 ",\"queue_first\":%u"
		",\"queues\":[", x->name, x->so.ifname, st.rx, st.tx, st.dup_answered,
		st.dup_dropped, st.queue_first);
	for (uint32_t i = 0; i < st.queues; i++)
		fprintf(f, "%s{\"queue\":%u,\"rx\":%" PRIu64 "}", i ? "," : "",
			st.queue_first + i, st.queue_rx[st.queue_first + i]);
	fprintf(f, "]}\n");
	if (fclose(f))
		fprintf(stderr, "%s: cannot write %s: %s\n", x->name, x->stats, strerror(errno));
}

int ex_server_close(struct ex_server *x, int err)
{
	if (err < 0)
		fprintf(stderr, "%s: serve loop failed: %s\n", x->name, flatrpc_strerror(err));
	fflush(stdout);
	write_stats(x);
	flatrpc_sock_del(x->s);
	x->s = NULL;
	if (x->log)
		fclose(x->log);
	x->log = NULL;
	return err < 0 ? EX_FAIL : EX_OK;
}

void ex_log(struct ex_server *x, const char *fmt, ...)
{
	va_list ap;

	if (!x->log)
		return;
	va_start(ap, fmt);
	vfprintf(x->log, fmt, ap);
	va_end(ap);
	fputc('\n', x->log);
	fflush(x->log);
}

/* ---- clients ------------------------------------------------------------- */

static int client_take(int c, const char *arg, void *ctx)
{
	struct ex_client *x = ctx;

	if (c == 'i')
		x->so.ifname = arg;
	else if (c == 'S')
		x->server = arg;
	else
		x->user = arg;
	return EX_GO_ON;
}

int ex_client_args(struct ex_client *x, int argc, char **argv,
		   void (*usage)(FILE *f, const char *prog), const struct ex_opts *own,
		   size_t user_max)
{
	static const struct option base[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "server", required_argument, NULL, 'S' },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int rc;

	if (!x->user)
		x->user = "";
	rc = parse(x->name, argc, argv, base, "i:S:u:h", client_take, x, usage, own);
	if (rc != EX_GO_ON)
		return rc;
	if (!x->so.ifname || !x->server) {
		usage(stderr, argv[0]);
		return EX_USAGE;
	}
	if (strlen(x->user) > user_max) {
		fprintf(stderr, "%s: --user is at most %zu bytes\n", x->name, user_max);
		return EX_USAGE;
	}
	rc = flatrpc_peer_parse(&x->peer, x->server);
	if (rc == -ENOENT || rc == -EAGAIN) {
		fprintf(stderr, "%s: --server %s: %s\n", x->name, x->server,
			rc == -ENOENT ? "no such host" : "the name could not be resolved now");
		return EX_FAIL;
	}
	if (rc) {
		fprintf(stderr, "%s: --server wants an address or a name, with :PORT if not the "
			"service's, got '%s'\n", x->name, x->server);
		return EX_USAGE;
	}
	return EX_GO_ON;
}

int ex_client_open(struct ex_client *x, const struct flatrpc_service_desc *svc)
{
	x->s = open_sock(x->name, svc, &x->so);
	return x->s ? 0 : EX_FAIL;
}

int ex_report(const struct ex_client *x, const struct flatrpc_service_desc *svc, int err,
	      uint8_t status)
{
	if (err == FLATRPC_E_ANF) {
		fprintf(stderr, "error: denied by %s\n", flatrpc_status_str(svc, status));
		return EX_DENIED;
	}
	if (err == FLATRPC_E_TIMEOUT) {
		fprintf(stderr, "error: no response from %s\n", x->server);
		return EX_TIMEOUT;
	}
	if (err == FLATRPC_E_REMOTE) {
		fprintf(stderr, "error: server answered %s\n", flatrpc_status_str(svc, status));
		return EX_FAIL;
	}
	fprintf(stderr, "error: %s\n", flatrpc_strerror(err));
	return EX_FAIL;
}

int ex_parse_u64(const char *name, const char *what, const char *arg, unsigned long long max,
		 unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(arg, &end, 0);
	if (!*arg || *end || *arg == '-' || errno || *out > max) {
		fprintf(stderr, "%s: %s wants a number from 0 to %llu, got '%s'\n", name, what, max,
			arg);
		return EX_USAGE;
	}
	return EX_GO_ON;
}

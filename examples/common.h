/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * common.h - what the example servers and clients share, so that each
 * example's main() holds only what is its own: its options, its handlers,
 * its calls.
 *
 * A server takes --iface IFACE, --queue N, --log FILE, --stats FILE and
 * --help, opens a FlatRPC socket on every RX queue of IFACE (or on queue N
 * alone), serves until SIGINT or SIGTERM, and logs one line per executed
 * request. A client takes --iface IFACE, --server ADDR (IPv4 or IPv6),
 * --user NAME and --help. Both take their own options through a callback.
 * Exit codes: 0 ok, 1 failure, 2 usage.
 */
#ifndef FLATRPC_EXAMPLES_COMMON_H
#define FLATRPC_EXAMPLES_COMMON_H

#include <getopt.h>
#include <signal.h>
#include <stdio.h>

#include <flatrpc.h>

#define EX_OK		0
#define EX_FAIL		1
#define EX_USAGE	2
#define EX_DENIED	3	/* a client's call refused by an ANF */
#define EX_TIMEOUT	4	/* a client's call got no answer */
#define EX_GO_ON	(-1)	/* from ex_*_args: parsed, carry on */

/* An example's own options: long options ending in { 0 }, their short
 * letters for getopt (a leading '+': stop at the first non-option, a
 * command), and what to do with each. on_opt returns EX_GO_ON or an exit
 * code (EX_USAGE, after saying why). */
struct ex_opts {
	const struct option	*opts;
	const char		*letters;
	int			(*on_opt)(int c, const char *arg, void *ctx);
	void			*ctx;
};

/* ---- servers ------------------------------------------------------------- */

struct ex_server {
	const char		*name;		/* "tiered-server", in every message */
	struct flatrpc_sock_opts so;
	FILE			*log;		/* --log, or NULL */
	const char		*stats;		/* --stats FILE, written at the end */
	struct flatrpc_sock	*s;
};

/* The shared server options other than --iface and --log, for each
 * server's usage text (kv-server says more of them). */
#define EX_SERVER_HELP \
	"  --queue N    serve RX queue N alone (default: every RX queue of IFACE)\n" \
	"  --stats FILE write the socket's counters, per queue, as JSON on exit\n"

/* Set by SIGINT and SIGTERM once ex_server_open() ran: the serve loop's stop. */
extern volatile int ex_stop;

/* Parses argv: the shared options and `own` (may be NULL). usage(f, prog)
 * prints the example's usage. Returns EX_GO_ON or the exit code. */
int ex_server_args(struct ex_server *x, int argc, char **argv,
		   void (*usage)(FILE *f, const char *prog), const struct ex_opts *own);

/* Opens the socket for svc and arms the signals; prints
 * "<name>: serving <service> on IFACE<what>". Returns 0, or EX_FAIL after
 * saying why. */
int ex_server_open(struct ex_server *x, const struct flatrpc_service_desc *svc,
		   const char *what);

/* After the serve loop returned err: says so if it failed, writes
 * --stats, closes the socket and the log. Returns the exit code. Print
 * the served counts before this. */
int ex_server_close(struct ex_server *x, int err);

/* One line in the log, flushed: the tests read it while the server runs. */
void ex_log(struct ex_server *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- clients ------------------------------------------------------------- */

struct ex_client {
	const char		*name;		/* "tiered-client", in every message */
	struct flatrpc_sock_opts so;
	const char		*server;	/* --server, as given */
	const char		*user;		/* --user; what the caller preset, or "" */
	struct flatrpc_peer	peer;
	struct flatrpc_sock	*s;
};

/* Parses argv as ex_server_args() does, for the client's options; checks
 * that --iface and --server were given, parses --server, and that --user
 * fits in user_max bytes. Positional arguments are left at argv[optind]. */
int ex_client_args(struct ex_client *x, int argc, char **argv,
		   void (*usage)(FILE *f, const char *prog), const struct ex_opts *own,
		   size_t user_max);

/* Opens the socket for svc. Returns 0, or EX_FAIL after saying why. */
int ex_client_open(struct ex_client *x, const struct flatrpc_service_desc *svc);

/* Says in plain words why a call failed with err (and the status of an
 * ANF's or the server's refusal), and returns the exit code for it:
 * EX_DENIED, EX_TIMEOUT or EX_FAIL. */
int ex_report(const struct ex_client *x, const struct flatrpc_service_desc *svc, int err,
	      uint8_t status);

/* Parses an unsigned number for option `what`; EX_USAGE after saying why. */
int ex_parse_u64(const char *name, const char *what, const char *arg, unsigned long long max,
		 unsigned long long *out);

#endif

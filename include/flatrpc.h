/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * flatrpc.h - the public API of libflatrpc-user.
 *
 * A flatrpc_sock is one AF_XDP socket per interface RX queue it covers (one,
 * or every one: flatrpc_sock_opts.queues), registered in the XSKMAP that
 * flatrpc-load pinned for that interface and driven by one thread. Clients call methods by
 * id and get responses matched by RPC ID; servers run a serve loop that
 * dispatches to per-method handlers. Generated stubs (<service>_stubs.h) wrap
 * these calls with typed request/response structs.
 *
 * Errors are negative codes: -errno for system errors, or FLATRPC_E_*.
 * flatrpc_strerror() names both. There is no hidden clock: the protocol core
 * (user/lib/proto.h) takes `now`; this socket layer reads CLOCK_MONOTONIC.
 */
#ifndef FLATRPC_H
#define FLATRPC_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include "flatrpc_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

struct flatrpc_method_desc {
	const char	*name;
	uint8_t		id;
	uint8_t		flags;		/* FLATRPC_M_* */
	uint16_t	req_fixed;	/* bytes of the request's fixed part */
	uint16_t	resp_fixed;
	uint32_t	req_max;	/* largest encoded request body; above
					 * FLATRPC_FRAG_CHUNK it travels in fragments */
	uint32_t	resp_max;
	uint32_t	timeout_us;	/* reliable: initial and largest per-attempt
					 * timeout (docs/transport.md); lossy: the wait */
	uint8_t		retries;	/* extra attempts for reliable methods */
	uint8_t		priority;	/* 0..FLATRPC_PRIO_MAX: DSCP and serving order */
	uint16_t	req_strip;	/* FLATRPC_M_CLIENT_ANF: the request body as
					 * encoded has this many bytes more, at the end
					 * of its fixed part, than go on the wire */
};

/* Emitted by flatrpc-gen as `<service>_service`. */
struct flatrpc_service_desc {
	const char				*name;
	uint64_t				spec_hash;
	uint16_t				port;
	unsigned int				n_methods;
	const struct flatrpc_method_desc	*methods;	/* indexed by id */
	unsigned int				n_errors;
	const char *const			*errors;	/* errors[code - 1] */
};

enum flatrpc_error {
	FLATRPC_E_TIMEOUT	= -1001,	/* no response after all attempts */
	FLATRPC_E_ANF		= -1002,	/* an ANF denied the call; see status */
	FLATRPC_E_REMOTE	= -1003,	/* the server answered with an error */
	FLATRPC_E_PROTO		= -1004,	/* malformed message */
	FLATRPC_E_NOTLOADED	= -1005,	/* no flatrpc-load pins for the interface */
	FLATRPC_E_SPEC		= -1006,	/* pinned spec differs from the service */
	FLATRPC_E_NOROUTE	= -1007,	/* no route or neighbour to the peer */
	FLATRPC_E_BUSY		= -1008,	/* too many calls outstanding */
	FLATRPC_E_TOOBIG	= -1009,	/* message larger than FLATRPC_MSG_MAX */
	FLATRPC_E_OVERLOADED	= -1010,	/* lossy call refused by a busy server */
	FLATRPC_E_NOKEY		= -1011,	/* the service authenticates; no key loaded */
};

const char *flatrpc_strerror(int err);

enum flatrpc_poll_mode {
	FLATRPC_POLL_BLOCKING = 0,	/* poll(2) on the socket; sleeps */
	FLATRPC_POLL_BUSY     = 1,	/* spin on the rings; one core per socket */
};

/* NULL or zeroed fields mean defaults. */
struct flatrpc_sock_opts {
	const char	*ifname;	/* required */
	uint32_t	queue;		/* default 0 */
	enum flatrpc_poll_mode mode;
	const char	*bpffs;		/* default $FLATRPC_BPFFS or /sys/fs/bpf */
	uint16_t	local_port;	/* client: 0 = ephemeral (reserved via a UDP socket);
					 * server: 0 = the service port */
	int		skb_mode;	/* bind with XDP_COPY in SKB mode (else DRV copy) */
	uint32_t	busy_at;	/* server: backlog of queued requests at which
					 * XDP answers ACK BUSY; 0 = half the RX frames */
	/* version 2: how many RX queues from `queue` on get a socket (each
	 * with its own UMEM, all served by the one thread that calls
	 * flatrpc_serve or flatrpc_poll, sharing one response cache): 0 or 1
	 * = `queue` alone, FLATRPC_QUEUES_ALL = every queue of the interface
	 * from `queue` on. A queue without a socket loses what the NIC
	 * steers to it (docs/transport.md, Queues). */
	uint32_t	queues;
	/* version 3: another service's socket on the same interface whose
	 * AF_XDP sockets this one takes its frames from too, registered in
	 * this service's XSKMAP as well: a process that serves one service
	 * and calls others on one interface opens the first socket alone and
	 * the rest with share, since a queue has room for one AF_XDP socket.
	 * The new socket covers share's interface and queues (ifname may be
	 * NULL; another name is -EINVAL; queue, queues and skb_mode are
	 * share's). Each frame goes to the socket it is for (answers by the
	 * client port, requests by the service port), whichever of them
	 * polls. All the sockets that share are driven by one thread; each
	 * is deleted on its own, the AF_XDP sockets with the last.
	 * docs/transport.md, Several services in one process. */
	struct flatrpc_sock *share;
};

#define FLATRPC_QUEUES_ALL	UINT32_MAX

struct flatrpc_sock;

/*
 * The layout of struct flatrpc_sock_opts that this header declares. A
 * program passes it, through flatrpc_sock_new(), to the library it runs
 * with, which accepts every version up to its own: a program built against
 * an older header keeps working with a newer library. Fields are only ever
 * appended, and each append is a new version here. (flatrpc_sock_stats()
 * passes its struct's size instead: it only receives.)
 */
#define FLATRPC_SOCK_OPTS_VERSION	3

/* Opens the socket and registers it in the interface's pinned XSKMAP.
 * Returns NULL and sets *err on failure. The caller owns the result.
 * *err is -ENOTSUP for an opts_version newer than the library's, -ERANGE
 * for queues the interface does not have, -ENOSPC with 16 sockets
 * sharing already. */
#define flatrpc_sock_new(svc, opts, err) \
	flatrpc_sock_new_versioned((svc), FLATRPC_SOCK_OPTS_VERSION, (opts), (err))
struct flatrpc_sock *flatrpc_sock_new_versioned(const struct flatrpc_service_desc *svc,
						int opts_version,
						const struct flatrpc_sock_opts *opts, int *err);
void flatrpc_sock_del(struct flatrpc_sock *s);
/* A descriptor that polls readable when a frame waits: the AF_XDP socket
 * itself, or with several queues an epoll descriptor over all of them. */
int flatrpc_sock_fd(const struct flatrpc_sock *s);

struct flatrpc_peer {
	struct in_addr	addr;		/* IPv4, unless family is AF_INET6 */
	uint16_t	port;		/* host order; 0 = the service port */
	uint16_t	family;		/* 0 or AF_INET: addr; AF_INET6: addr6 */
	struct in6_addr	addr6;
};

/*
 * Fills peer's address from text: an IPv4 or IPv6 address ("10.0.0.2",
 * "fd00::2") or a name ("kv.example", through getaddrinfo: /etc/hosts, DNS),
 * optionally with a port ("kv.example:7447", "10.0.0.2:7447",
 * "[fd00::2]:7447"), which then replaces peer->port. A name with several
 * addresses gives the first one getaddrinfo returns; it is resolved once,
 * here. Returns 0; -EINVAL for text that is none of these; -ENOENT for a
 * name with no address; -EAGAIN when the resolver could not answer now.
 */
int flatrpc_peer_parse(struct flatrpc_peer *peer, const char *text);

/* --- client --- */

/*
 * A service's client: elements compiled for user space: flatrpc-gen puts
 * them into <svc>_stubs.c, whose constructor registers them, so that
 * flatrpc_send() runs them with a function call (docs/placement.md). A
 * service without a registration is run through the pinned client
 * program instead, one BPF_PROG_TEST_RUN per request (as it is with
 * FLATRPC_CLIENT_ANFS=bpf in the environment, for comparing the two).
 */
struct flatrpc_client_anfs {
	const struct flatrpc_service_desc	*svc;
	unsigned int				n_slots;	/* elem_verdicts slots */
	/* Runs the method's client: chain on the request's fixed part as
	 * encoded (len bytes, rewritten in place): 0 passes, else the error
	 * status (FLATRPC_ANF_IS_ERR). Adds each element's verdict to
	 * verdicts[FLATRPC_CV_ELEM(slot, v)] unless verdicts is NULL. */
	int (*run)(uint64_t *verdicts, unsigned int method, void *fixed, size_t len);
};

/* Called by the generated stubs before main(); at most 16 services. */
void flatrpc_client_anfs_register(const struct flatrpc_client_anfs *c);

/* Sends a request body (already encoded in the method's layout) and
 * returns its RPC ID in *rpc_id. Reliable methods keep a copy for
 * retransmission until a response arrives or retries run out.
 * A FLATRPC_M_CLIENT_ANF method's client: elements run here first, on the
 * body as encoded (req_strip bytes more than the wire's); a call they deny
 * is not sent, and completes at the next flatrpc_poll() with FLATRPC_E_ANF. */
int flatrpc_send(struct flatrpc_sock *s, const struct flatrpc_peer *peer,
		 uint8_t method, const void *body, size_t len, uint32_t *rpc_id);

struct flatrpc_completion {
	uint32_t	rpc_id;
	uint8_t		method;
	int		err;		/* 0, FLATRPC_E_TIMEOUT, _ANF or _REMOTE */
	uint8_t		status;		/* FLATRPC_ERR status */
	uint32_t	len;		/* up to FLATRPC_MSG_MAX */
	const void	*body;		/* valid until the next flatrpc_poll() */
};

/* Drives RX, retransmissions and timeouts; fills up to max completions.
 * Waits up to timeout_ms (-1 forever) in blocking mode; in busy mode it spins
 * for at most that long. Returns the number of completions or an error. */
int flatrpc_poll(struct flatrpc_sock *s, struct flatrpc_completion *out,
		 int max, int timeout_ms);

/* send + poll until this RPC completes. resp/resp_len: in = capacity,
 * out = bytes copied. On FLATRPC_E_ANF/_REMOTE, *status holds the code. */
int flatrpc_call(struct flatrpc_sock *s, const struct flatrpc_peer *peer,
		 uint8_t method, const void *body, size_t len,
		 void *resp, size_t *resp_len, uint8_t *status);

/* Name of an error status from the service's table, or a transport name. */
const char *flatrpc_status_str(const struct flatrpc_service_desc *svc, uint8_t status);

/* --- server --- */

/* Handler: decode req, encode the response body into resp (capacity
 * *resp_len, set it to the bytes written). Return 0, or a status >= 128 to
 * answer with FLATRPC_ERR. */
typedef int (*flatrpc_handler_fn)(void *ctx, uint8_t method,
				  const void *req, size_t req_len,
				  void *resp, size_t *resp_len);

/* Serves until *stop becomes non-zero (checked between batches). It also
 * serves, in turns of one request each, every socket that shares s's
 * AF_XDP sockets (flatrpc_sock_opts.share) and has a handler from
 * flatrpc_serve_also(): one thread serves all the services of a process
 * on an interface. */
int flatrpc_serve(struct flatrpc_sock *s, flatrpc_handler_fn fn, void *ctx,
		  volatile int *stop);

/* Gives s a handler for the serve loop of a socket it shares with, which
 * then serves s's service too. release(ctx), if not NULL, runs when the
 * handler is replaced (fn NULL: none any more) or s is deleted. Returns 0
 * or a negative code. Generated stubs wrap it as <svc>_serve_also(). */
int flatrpc_serve_also(struct flatrpc_sock *s, flatrpc_handler_fn fn, void *ctx,
		       void (*release)(void *ctx));

/* --- counters of this socket, for tests and benchmarks --- */
struct flatrpc_sock_stats {
	uint64_t	tx;		/* frames sent */
	uint64_t	rx;		/* frames received */
	uint64_t	retransmits;
	uint64_t	timeouts;
	uint64_t	dup_answered;	/* DUP requests answered from cache */
	uint64_t	dup_dropped;	/* DUP requests with no cached response */
	uint64_t	stale;		/* responses for unknown RPC IDs */
	uint64_t	held;		/* hold-forever requests held for their turn */
	uint64_t	held_dropped;	/* copies of held requests, beyond the window,
					 * already run, or lost with an evicted stream */
	/* client: congestion and flow control */
	uint64_t	busy_rx;	/* ACK BUSY received */
	uint64_t	ack_rx;		/* ACK PENDING received */
	uint64_t	cwnd_cuts;	/* window halvings (loss or BUSY) */
	uint64_t	waited;		/* calls that waited for room in the window */
	/* server */
	uint64_t	ack_tx;		/* ACK PENDING sent for a request still queued or held */
	uint64_t	backlog_max;	/* most requests queued at once */
	uint64_t	prio_overtaken_max[FLATRPC_PRIO_LEVELS];	/* see proto_prio */
	uint64_t	prio_bypassed[FLATRPC_PRIO_LEVELS];
	/* the kernel's AF_XDP counters (XDP_STATISTICS) for this socket */
	uint64_t	xsk_rx_dropped;
	uint64_t	xsk_rx_ring_full;
	uint64_t	xsk_fill_ring_empty;
	/* multi-packet messages (user/lib/frag.h) */
	uint64_t	reassembled;	/* messages received whole from fragments */
	uint64_t	frag_dropped;	/* fragments dropped: duplicate, malformed, stale */
	uint64_t	frag_expired;	/* partial messages freed on timeout or eviction */
	/* client: answers and ACKs from a host or port the call was not sent
	 * to (appended: the fields above keep their offsets) */
	uint64_t	foreign;
	/* client: requests sent again for an ACK EPOCH (docs/security.md,
	 * Replay); server: epoch rotations its response cache asked for */
	uint64_t	epoch_resends;
	uint64_t	epoch_rotations;
	/* the RX queues this socket covers, and the frames each received
	 * (queue_rx[q] for queue q; rx is their sum) */
	uint32_t	queue_first;
	uint32_t	queues;
	uint64_t	queue_rx[FLATRPC_MAX_QUEUES];
	/* frames for this socket that another one sharing its AF_XDP
	 * sockets (flatrpc_sock_opts.share) took off the ring while this
	 * one's INBOX was full: it was not polled for too long */
	uint64_t	inbox_dropped;
};
/* Fills *st, whose size the macro passes: a caller built against an older
 * header gets the fields it has, a newer one zeros in the fields this
 * library does not know. Fields are only ever appended. */
#define flatrpc_sock_stats(s, st) flatrpc_sock_stats_sized((s), (st), sizeof(*(st)))
void flatrpc_sock_stats_sized(const struct flatrpc_sock *s, struct flatrpc_sock_stats *st,
			      size_t size);

#ifdef __cplusplus
}
#endif
#endif /* FLATRPC_H */

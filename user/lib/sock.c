/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * sock.c - the public API of libflatrpc-user (include/flatrpc.h).
 *
 * Glues the pure protocol core to one AF_XDP socket: builds and parses
 * Ethernet/IPv4/UDP or Ethernet/IPv6/UDP around flatrpc_hdr, reads
 * CLOCK_MONOTONIC, and waits. Offsets below are the IPv4 ones; an IPv6
 * frame's headers are V6_EXTRA bytes longer (msg_off() and friends).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <linux/if_xdp.h>

#include "client_anfs.h"
#include "flatrpc.h"
#include "flatrpc_csum.h"
#include "auth.h"
#include "frag.h"
#include "proto.h"
#include "queues.h"
#include "route.h"
#include "xsk_ring.h"
#include <bpf/bpf.h>
#include "export.h"

#define L2L4_LEN	(sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr))
#define MSG_OFF		(L2L4_LEN + sizeof(struct flatrpc_hdr))
#define V6_EXTRA	(sizeof(struct ipv6hdr) - sizeof(struct iphdr))
#define RX_BATCH	64
/* Answers wait for a batch's single kick at most this long: with slow
 * handlers, a batch of 64 would hold the first answer for 64 handler runs,
 * and the client would see the server idle when it is in fact backlogged. */
#define SERVE_FLUSH_NS	20000
#define SERVE_IDLE_MS	100	/* how often a blocked serve loop looks at *stop */
#define FRAME_TTL		64
#define CLIENT_DENIED_MAX	64	/* a power of two */

/* Most services that share one set of sockets (flatrpc_sock_opts.share). */
#define RINGS_MEMBERS_MAX	16
/* Frames of one queue that wait for a sharing service at most: a quarter
 * of the queue's RX frames, so that one that is never polled cannot take
 * the fill ring away from the others. */
#define INBOX_CAP		(FX_RX_FRAMES / 4)

/*
 * The AF_XDP sockets of an interface's queues, and the flatrpc_socks that
 * take frames from them: a process that serves one service and calls
 * others has one set, registered in every one of those services' XSKMAPs,
 * since a queue has room for one socket (docs/transport.md, Several
 * services in one process). One thread drives them all.
 */
struct sock_rings {
	unsigned int		refs;
	struct fx		*x[FLATRPC_MAX_QUEUES];
	uint32_t		n_q;
	int			wait_fd;	/* x[0]->fd, or an epoll fd over every queue */
	struct flatrpc_sock	*member[RINGS_MEMBERS_MAX];
	uint32_t		n_members;
};

/* Frames another member took off a queue's RX ring for this one. */
struct inbox {
	uint64_t		addr[INBOX_CAP];
	uint32_t		len[INBOX_CAP];
	uint32_t		head, n;
};

/* One RX queue's socket, as the serve loop and flatrpc_poll() see it. */
struct sock_q {
	struct fx		*x;		/* the rings' */
	struct fx_reg		reg;		/* x in this service's XSKMAP */
	struct inbox		*in;		/* when the rings are shared */
	uint64_t		*done;		/* serving: its frames whose answers are
						 * not kicked yet (FX_RX_FRAMES) */
	uint32_t		n_done;
	uint64_t		rx;
};

struct flatrpc_sock {
	const struct flatrpc_service_desc *svc;
	struct sock_rings	*rings;
	/* The first queue's socket; clients send through it alone (any TX
	 * queue reaches the wire), replies leave by the queue that got the
	 * request, since its frame is in that queue's UMEM. */
	struct fx		*x;
	struct sock_q		q[FLATRPC_MAX_QUEUES];
	uint32_t		n_q;
	struct fx		*cur;		/* the queue of the request being served */
	uint64_t		inbox_dropped;
	/* serving: the handler (flatrpc_serve's, or flatrpc_serve_also's for
	 * the serve loop of a socket it shares with), and the frames of
	 * answers not yet flushed, since when */
	flatrpc_handler_fn	serve_fn;
	void			*serve_ctx;
	void			(*serve_release)(void *ctx);
	uint32_t		serve_n_done;
	uint64_t		serve_oldest;
	struct proto_cli	cli;
	struct proto_srv	srv;
	int			srv_ready;
	struct proto_hold	hold;		/* hold-forever streams (server) */
	int			hold_ready;
	struct proto_prio	prio;		/* server receive queues by priority */
	int			prio_ready;
	struct flatrpc_load	*load;		/* the first queue's entry of the mmapped
						 * `load` map; the others follow it */
	/* the service's live keys (the mmapped `auth_keys` map): read at each
	 * send, so a rotation by flatrpc-load --rekey applies at once; the
	 * server writes its epochs into it when its cache asks to rotate */
	struct flatrpc_keys	*keys;
	size_t			keys_map_len;
	uint32_t		tag_len;	/* FLATRPC_TAG_LEN, or 0 for auth: none */
	void			*load_map;
	size_t			load_map_len;
	/* the mmapped `obs` array, by method id; NULL: not counted */
	struct flatrpc_method_obs *obs;
	size_t			obs_len;
	uint32_t		busy_at;
	uint64_t		ack_tx;
	uint64_t		backlog_max;
	struct route_cache	routes;
	enum flatrpc_poll_mode	mode;
	int			port_fd;	/* keeps local_port ours in the kernel */
	uint16_t		local_port;	/* network order */
	uint16_t		ip_id;
	uint8_t			mac[6];
	uint32_t		n_held;
	uint64_t		held[FX_RX_FRAMES];	/* RX frames lent to completions, */
	uint8_t			held_q[FX_RX_FRAMES];	/* and the queue of each */
	uint64_t		tx;
	uint64_t		rx;
	/* multi-packet messages (frag.h); only for services with a method
	 * whose body can exceed FLATRPC_FRAG_CHUNK */
	int			frag_ready;
	struct frag_rx		frag;		/* partial messages received */
	struct frag_store	big_tx;		/* client: big requests until answered */
	struct frag_store	big_resp;	/* server: big responses of reliable methods */
	uint8_t			*big_buf;	/* server: a handler's big response */
	const uint8_t		*big_qf;	/* server: the whole request being served ... */
	const uint8_t		*big_body;	/* ... its body ... */
	uint32_t		big_len;	/* ... and length */
	uint32_t		n_lent;
	struct frag_slot	*lent[RX_BATCH];	/* reassembled bodies lent to completions */
	uint64_t		frag_stale;	/* fragments of no call or no big service */
	/* client: elements (FLATRPC_M_CLIENT_ANF methods) */
	const struct flatrpc_client_anfs *canf;	/* run in the library, or NULL: */
	int			client_prog_fd;	/* the pinned flatrpc_client, or -1 */
	__u64			*cv;		/* mmapped client_verdicts, or NULL */
	size_t			cv_len;
	uint8_t			*wire_buf;	/* a stripped request body */
	struct {
		uint32_t	rpc_id;
		uint8_t		method, status;
	}			denied[CLIENT_DENIED_MAX];	/* calls denied before the wire, */
	uint32_t		denied_head, denied_tail;	/* for flatrpc_poll() */
};

static int frag_init(struct flatrpc_sock *s);
static void release_held(struct flatrpc_sock *s);
static void frag_fini(struct flatrpc_sock *s);

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint8_t method_tos(const struct flatrpc_service_desc *svc, uint8_t method)
{
	return method < svc->n_methods ? FLATRPC_PRIO_TOS(svc->methods[method].priority) : 0;
}

static inline bool frame_v6(const uint8_t *f)
{
	return ((const struct ethhdr *)f)->h_proto == htons(ETH_P_IPV6);
}

/* Where a frame's flatrpc_hdr and its body start. */
static inline size_t hdr_off(const uint8_t *f)
{
	return frame_v6(f) ? L2L4_LEN + V6_EXTRA : L2L4_LEN;
}

static inline size_t msg_off(const uint8_t *f)
{
	return hdr_off(f) + sizeof(struct flatrpc_hdr);
}

static inline const struct udphdr *frame_udp(const uint8_t *f)
{
	return (const struct udphdr *)(f + hdr_off(f) - sizeof(struct udphdr));
}

/* The sender (or with `dst`, the receiver) of a parsed frame. */
static fr_addr_t frame_addr(const uint8_t *f, bool dst)
{
	const uint8_t *l3 = f + sizeof(struct ethhdr);

	if (frame_v6(f)) {
		const struct ipv6hdr *ip6 = (const struct ipv6hdr *)l3;

		return fr_addr_v6(dst ? &ip6->daddr : &ip6->saddr);
	}
	return fr_addr_v4(dst ? ((const struct iphdr *)l3)->daddr
			      : ((const struct iphdr *)l3)->saddr);
}

/* The Ethernet type and IP/UDP headers; both addresses of one family. */
static void fill_l3l4(uint8_t *f, fr_addr_t saddr, fr_addr_t daddr, uint16_t sport,
		      uint16_t dport, uint16_t body_len, uint16_t ip_id, uint8_t tos)
{
	struct ethhdr *eth = (struct ethhdr *)f;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct ipv6hdr *ip6 = (struct ipv6hdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	uint16_t udp_len = sizeof(*udp) + sizeof(struct flatrpc_hdr) + body_len;

	if (!fr_addr_is_v4(daddr)) {
		eth->h_proto = htons(ETH_P_IPV6);
		udp = (struct udphdr *)(ip6 + 1);
		/* version 6, the class's DSCP as traffic class, no flow label */
		uint32_t vtc = htonl(6u << 28 | (uint32_t)tos << 20);

		memcpy(ip6, &vtc, sizeof(vtc));
		ip6->payload_len = htons(udp_len);
		ip6->nexthdr = IPPROTO_UDP;
		ip6->hop_limit = FRAME_TTL;
		fr_addr_bytes(saddr, &ip6->saddr);
		fr_addr_bytes(daddr, &ip6->daddr);
	} else {
		eth->h_proto = htons(ETH_P_IP);
		ip->version = 4;
		ip->ihl = 5;
		ip->tos = tos;
		ip->tot_len = htons(sizeof(*ip) + udp_len);
		ip->id = htons(ip_id);
		ip->frag_off = htons(0x4000);	/* DF: FlatRPC never fragments */
		ip->ttl = FRAME_TTL;
		ip->protocol = IPPROTO_UDP;
		ip->check = 0;
		ip->saddr = fr_addr_v4_of(saddr);
		ip->daddr = fr_addr_v4_of(daddr);
		ip->check = fr_csum_ip(ip);
	}
	udp->source = sport;
	udp->dest = dport;
	udp->len = htons(udp_len);
	/* Zero is legal for IPv4 and saves touching the body twice; IPv6
	 * frames get theirs in tx_frame(), once everything is written. */
	udp->check = 0;
}

/*
 * The UDP checksum of an IPv6 frame (RFC 8200 8.1: mandatory), summed over
 * the pseudo header and the whole datagram at the last moment before it
 * leaves, since the core and the fragment sender still write the header.
 */
static void udp6_csum_fill(uint8_t *f)
{
	struct ipv6hdr *ip6 = (struct ipv6hdr *)(f + sizeof(struct ethhdr));
	struct udphdr *udp = (struct udphdr *)(ip6 + 1);

	udp->check = 0;
	udp->check = fr_csum_udp(&ip6->saddr, &ip6->daddr, sizeof(ip6->saddr), udp,
				 ntohs(udp->len));
}

/* The FlatRPC header of a frame that carries well-formed headers, or NULL. */
static struct flatrpc_hdr *parse(const struct flatrpc_sock *s, uint8_t *f, uint32_t len)
{
	uint32_t tag = s->tag_len;

	const struct ethhdr *eth = (const struct ethhdr *)f;

	/* XDP has checked the lengths; the checksum is not checked here (the
	 * IPv4 sender may leave it 0, and an ANF rewrite in XDP zeroes it). */
	if (len >= MSG_OFF + V6_EXTRA && eth->h_proto == htons(ETH_P_IPV6)) {
		const struct ipv6hdr *ip6 = (const struct ipv6hdr *)(eth + 1);
		const struct udphdr *udp6 = (const struct udphdr *)(ip6 + 1);
		struct flatrpc_hdr *h6 = (struct flatrpc_hdr *)(udp6 + 1);
		uint32_t pl = ntohs(ip6->payload_len);

		if ((ip6->version) != 6 || ip6->nexthdr != IPPROTO_UDP ||
		    pl > len - sizeof(*eth) - sizeof(*ip6) || ntohs(udp6->len) != pl ||
		    pl != sizeof(*udp6) + sizeof(*h6) + ntohs(h6->len) + tag ||
		    h6->magic != FLATRPC_MAGIC)
			return NULL;
		return h6;
	}
	const struct iphdr *ip = (const struct iphdr *)(eth + 1);
	const struct udphdr *udp = (const struct udphdr *)(ip + 1);
	struct flatrpc_hdr *h = (struct flatrpc_hdr *)(udp + 1);
	uint32_t ip_len, udp_len;

	if (len < MSG_OFF || eth->h_proto != htons(ETH_P_IP) || ip->version != 4 ||
	    ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		return NULL;
	ip_len = ntohs(ip->tot_len);
	udp_len = ntohs(udp->len);
	if (ip_len > len - sizeof(*eth) || udp_len != ip_len - sizeof(*ip) ||
	    udp_len != sizeof(*udp) + sizeof(*h) + ntohs(h->len) + tag || h->magic != FLATRPC_MAGIC)
		return NULL;
	return h;
}

/* ------------------------------------------------------------ lifecycle */

/*
 * Maps this queue's entry of the pinned `load` array (BPF_F_MMAPABLE), so
 * the serve loop publishes its backlog with plain stores. An object loaded
 * without the map leaves s->load NULL: no BUSY, everything else works.
 */
/* Maps the pinned array NAME of the interface (BPF_F_MMAPABLE), `size`
 * bytes rounded up to pages, into *len. NULL with *err set when the pin is
 * missing (FLATRPC_E_NOTLOADED) or cannot be mapped. */
static void *pin_mmap(const struct flatrpc_sock *s, const struct flatrpc_sock_opts *opts,
		      const char *name, size_t size,
		      int prot, size_t *len, int *err)
{
	char dir[384], path[448];
	long page = sysconf(_SC_PAGESIZE);
	void *m;
	int fd;

	if (fx_pin_dir(dir, sizeof(dir), opts->bpffs, opts->ifname, s->svc->name) ||
	    snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		*err = -ENAMETOOLONG;
		return NULL;
	}
	/* read-write even for PROT_READ: the kernel maps a BPF map only
	 * MAP_SHARED, which a read-only file cannot be */
	fd = fx_obj_get(path, false);
	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	*len = (size + (size_t)page - 1) / (size_t)page * (size_t)page;
	m = mmap(NULL, *len, prot, MAP_SHARED, fd, 0);
	*err = m == MAP_FAILED ? -errno : 0;
	close(fd);
	return m == MAP_FAILED ? NULL : m;
}

static void load_map_open(struct flatrpc_sock *s, const struct flatrpc_sock_opts *opts)
{
	size_t len;
	void *m;
	int err;

	m = pin_mmap(s, opts, FLATRPC_PIN_LOAD, FLATRPC_MAX_QUEUES * sizeof(struct flatrpc_load),
		     PROT_READ | PROT_WRITE, &len, &err);
	if (!m)
		return;
	if (s->x->queue + s->n_q > FLATRPC_MAX_QUEUES) {
		munmap(m, len);
		return;
	}
	s->load_map = m;
	s->load_map_len = len;
	s->load = (struct flatrpc_load *)m + s->x->queue;
}

/*
 * Maps the per-method figures that every process of the host adds to
 * (docs/observability.md). FLATRPC_OBS=off leaves them out, for measuring
 * what they cost; an object without the map is not counted either.
 */
static void obs_map_open(struct flatrpc_sock *s, const struct flatrpc_sock_opts *opts)
{
	const char *env = getenv("FLATRPC_OBS");
	int err;

	if (env && !strcmp(env, "off"))
		return;
	s->obs = pin_mmap(s, opts, FLATRPC_PIN_OBS, FLATRPC_MAX_METHODS * sizeof(*s->obs),
			  PROT_READ | PROT_WRITE, &s->obs_len, &err);
}

static void obs_map_close(struct flatrpc_sock *s)
{
	if (s->obs)
		munmap(s->obs, s->obs_len);
	s->obs = NULL;
}

/* Relaxed atomics: the figures are sums, and many processes add to them. */
static void obs_add(__u64 *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static void obs_hist(struct flatrpc_hist *h, uint64_t ns)
{
	obs_add(&h->count, 1);
	obs_add(&h->sum_ns, ns);
	obs_add(&h->bucket[flatrpc_hist_bucket(ns)], 1);
}

/* The figures of a method, or NULL when they are not counted. */
static struct flatrpc_method_obs *obs_of(const struct flatrpc_sock *s, uint8_t method)
{
	return s->obs && method < FLATRPC_MAX_METHODS ? &s->obs[method] : NULL;
}

/* A call that ended: answered (with its latency when it was answered over
 * the wire, started != 0), timed out or refused as overloaded. */
static void obs_call_done(struct flatrpc_sock *s, uint8_t method, int err, uint8_t status,
			  uint64_t started, uint64_t now)
{
	struct flatrpc_method_obs *o = obs_of(s, method);

	if (!o)
		return;
	if (err == FLATRPC_E_TIMEOUT) {
		obs_add(&o->timeouts, 1);
	} else if (err == FLATRPC_E_OVERLOADED) {
		obs_add(&o->overloaded, 1);
	} else {
		obs_add(&o->answered[status], 1);
		if (started && now >= started)
			obs_hist(&o->call, now - started);
	}
}

/*
 * Maps the pinned `auth_keys` map. A service whose spec authenticates
 * (flatrpc-load sets `on`) gets no socket until a key is loaded: sending
 * untagged frames would only have them dropped at the peer.
 */
static int keys_map_open(struct flatrpc_sock *s, const struct flatrpc_sock_opts *opts)
{
	int err;

	s->keys = pin_mmap(s, opts, FLATRPC_PIN_KEYS, sizeof(struct flatrpc_keys),
			   PROT_READ | PROT_WRITE, &s->keys_map_len, &err);
	if (!s->keys)
		return err;
	if (!s->keys->on)
		return 0;
	if (!s->keys->count)
		return FLATRPC_E_NOKEY;
	s->tag_len = FLATRPC_TAG_LEN;
	return 0;
}

/* The services whose stubs carry their client: elements compiled for
 * user space; written before main() by the stubs' constructors, read after. */
#define CLIENT_ANFS_MAX 16
static const struct flatrpc_client_anfs *client_anfs[CLIENT_ANFS_MAX];

FLATRPC_EXPORT
void flatrpc_client_anfs_register(const struct flatrpc_client_anfs *c)
{
	for (unsigned int i = 0; i < CLIENT_ANFS_MAX; i++)
		if (!client_anfs[i] || client_anfs[i] == c) {
			client_anfs[i] = c;
			return;
		}
}

const struct flatrpc_client_anfs *flatrpc_client_anfs_find(const struct flatrpc_service_desc *svc)
{
	for (unsigned int i = 0; i < CLIENT_ANFS_MAX && client_anfs[i]; i++)
		if (client_anfs[i]->svc == svc)
			return client_anfs[i];
	return NULL;
}

static const struct flatrpc_client_anfs *client_anfs_of(const struct flatrpc_service_desc *svc)
{
	const char *env = getenv("FLATRPC_CLIENT_ANFS");

	return env && !strcmp(env, "bpf") ? NULL : flatrpc_client_anfs_find(svc);
}

/*
 * A service with client: elements runs them in the library when its stubs
 * registered them, counting their verdicts in client_verdicts (mapped like
 * obs, and like it left out by FLATRPC_OBS=off or a load without the map);
 * else it needs flatrpc-load's client program. Either needs a buffer for
 * the bodies they return. Without the program the elements could not run,
 * so the socket is refused rather than sending unchecked.
 */
static int client_prog_open(struct flatrpc_sock *s, const struct flatrpc_sock_opts *opts)
{
	const char *obs_env = getenv("FLATRPC_OBS");
	char dir[384], path[448];
	bool any = false;
	int err;

	for (unsigned int i = 0; i < s->svc->n_methods; i++)
		any |= !!(s->svc->methods[i].flags & FLATRPC_M_CLIENT_ANF);
	if (!any)
		return 0;
	s->canf = client_anfs_of(s->svc);
	if (s->canf) {
		if (!obs_env || strcmp(obs_env, "off"))
			s->cv = pin_mmap(s, opts, FLATRPC_PIN_CLIENT_VERDICTS,
					 FLATRPC_CV_ENTRIES(s->canf->n_slots) * sizeof(uint64_t),
					 PROT_READ | PROT_WRITE, &s->cv_len, &err);
		s->wire_buf = malloc(FLATRPC_MSG_MAX);
		return s->wire_buf ? 0 : -ENOMEM;
	}
	if (fx_pin_dir(dir, sizeof(dir), opts->bpffs, opts->ifname, s->svc->name) ||
	    snprintf(path, sizeof(path), "%s/%s", dir, FLATRPC_PIN_PROG_CLIENT) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	s->client_prog_fd = fx_obj_get(path, false);	/* a program pin opens read-write only */
	if (s->client_prog_fd < 0)
		return s->client_prog_fd;
	s->wire_buf = malloc(FLATRPC_MSG_MAX);
	return s->wire_buf ? 0 : -ENOMEM;
}

static void client_prog_close(struct flatrpc_sock *s)
{
	if (s->client_prog_fd >= 0)
		close(s->client_prog_fd);
	s->client_prog_fd = -1;
	if (s->cv)
		munmap(s->cv, s->cv_len);
	s->cv = NULL;
	s->canf = NULL;
	free(s->wire_buf);
	s->wire_buf = NULL;
}

/* The size of each version of struct flatrpc_sock_opts, by version number:
 * what a caller built against that header passes. Version 1 is the first
 * installed layout. */
static const size_t opts_size[] = {
	[1] = offsetof(struct flatrpc_sock_opts, queues),
	[2] = offsetof(struct flatrpc_sock_opts, queues) + sizeof(uint32_t),
	[3] = sizeof(struct flatrpc_sock_opts),
};
/* version 1 ended at busy_at: appended fields must start where it did */
_Static_assert(offsetof(struct flatrpc_sock_opts, queues) ==
	       offsetof(struct flatrpc_sock_opts, busy_at) + sizeof(uint32_t),
	       "struct flatrpc_sock_opts grows only at the end");
_Static_assert(sizeof(opts_size) / sizeof(opts_size[0]) == FLATRPC_SOCK_OPTS_VERSION + 1,
	       "a size for every version of struct flatrpc_sock_opts");

static struct flatrpc_sock *sock_new(const struct flatrpc_service_desc *svc,
				     const struct flatrpc_sock_opts *opts, int *err);

FLATRPC_EXPORT
struct flatrpc_sock *flatrpc_sock_new_versioned(const struct flatrpc_service_desc *svc,
						int opts_version,
						const struct flatrpc_sock_opts *opts, int *err)
{
	struct flatrpc_sock_opts o = { 0 };

	if (opts_version < 1 || opts_version > FLATRPC_SOCK_OPTS_VERSION) {
		if (err)
			*err = -ENOTSUP;
		return NULL;
	}
	/* an older caller's struct is shorter: the fields it lacks are 0 */
	if (opts)
		memcpy(&o, opts, opts_size[opts_version]);
	return sock_new(svc, opts ? &o : NULL, err);
}

/*
 * A socket per queue of the span, each on its own UMEM: a shared one
 * (XDP_SHARED_UMEM) would save memory but needs a fill and completion ring
 * per queue all the same, and one thread runs them all, so nothing would
 * be gained in speed (docs/transport.md, Queues).
 */
static int rings_open(struct sock_rings *r, const struct flatrpc_sock_opts *opts,
		      struct fx_cfg *xcfg, uint32_t n)
{
	int e;

	r->refs = 1;
	r->wait_fd = -1;
	for (uint32_t i = 0; i < n; i++) {
		struct fx *x = malloc(sizeof(*x));

		if (!x)
			return -ENOMEM;
		xcfg->queue = opts->queue + i;
		e = fx_open(x, xcfg);
		if (e) {
			free(x);
			return e;
		}
		r->x[r->n_q++] = x;
	}
	if (n == 1) {
		r->wait_fd = r->x[0]->fd;
		return 0;
	}
	/* one descriptor to sleep on, which flatrpc_sock_fd() can hand out */
	r->wait_fd = epoll_create1(EPOLL_CLOEXEC);
	if (r->wait_fd < 0)
		return -errno;
	for (uint32_t i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		if (epoll_ctl(r->wait_fd, EPOLL_CTL_ADD, r->x[i]->fd, &ev))
			return -errno;
	}
	return 0;
}

static void rings_close(struct sock_rings *r)
{
	if (r->n_q > 1 && r->wait_fd >= 0)
		close(r->wait_fd);
	for (uint32_t i = 0; i < r->n_q; i++) {
		fx_close(r->x[i]);
		free(r->x[i]);
	}
	free(r);
}

/* The service's registrations, checked before any socket exists so that
 * an interface without the load fails first, and without sockets made. */
static int queues_reg(struct flatrpc_sock *s, struct fx_cfg *xcfg, uint32_t first, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		int e;

		xcfg->queue = first + i;
		e = fx_reg_open(&s->q[i].reg, xcfg);
		s->n_q = i + 1;
		if (e)
			return e;
	}
	return 0;
}

/* Every member has an inbox per queue once the rings are shared. */
static int rings_inboxes(struct sock_rings *r)
{
	for (uint32_t m = 0; m < r->n_members; m++) {
		struct flatrpc_sock *o = r->member[m];

		for (uint32_t i = 0; i < o->n_q; i++)
			if (!o->q[i].in && !(o->q[i].in = calloc(1, sizeof(struct inbox))))
				return -ENOMEM;
	}
	return 0;
}

/* Opens this service's sockets, or joins those of opts->share, and
 * registers them in the service's XSKMAP. */
static int queues_open(struct flatrpc_sock *s, const struct flatrpc_sock_opts *opts,
		       struct fx_cfg *xcfg)
{
	struct sock_rings *r;
	uint32_t n;
	int e;

	if (opts->share) {
		r = opts->share->rings;
		if (r->n_members >= RINGS_MEMBERS_MAX)
			return -ENOSPC;
		xcfg->ifname = r->x[0]->ifname;
		e = queues_reg(s, xcfg, r->x[0]->queue, r->n_q);
		if (e)
			return e;
		r->refs++;
	} else {
		e = fx_queue_span(opts->queue, opts->queues, fx_rx_queues(opts->ifname), &n);
		if (e)
			return e;
		e = queues_reg(s, xcfg, opts->queue, n);
		if (e)
			return e;
		r = calloc(1, sizeof(*r));
		if (!r)
			return -ENOMEM;
		e = rings_open(r, opts, xcfg, n);
		if (e) {
			rings_close(r);
			return e;
		}
	}
	s->rings = r;
	s->x = r->x[0];
	s->cur = s->x;
	r->member[r->n_members++] = s;
	for (uint32_t i = 0; i < s->n_q; i++)
		s->q[i].x = r->x[i];
	if (r->n_members > 1) {
		e = rings_inboxes(r);
		if (e)
			return e;
	}
	for (uint32_t i = 0; i < s->n_q; i++) {
		e = fx_reg_bind(&s->q[i].reg, s->q[i].x);
		if (e)
			return e;
	}
	return 0;
}

/* Frames of the shared UMEM that this member still holds go back to the
 * fill ring, for the members that stay: its inbox, its backlog. */
static void queues_give_back(struct flatrpc_sock *s)
{
	struct proto_prio_item it;
	unsigned int level;

	for (uint32_t i = 0; i < s->n_q; i++) {
		struct sock_q *q = &s->q[i];

		if (!q->x)
			continue;
		if (q->in)
			for (; q->in->n; q->in->n--, q->in->head = (q->in->head + 1) % INBOX_CAP)
				fx_rx_release(q->x, &q->in->addr[q->in->head], 1);
		fx_rx_release(q->x, q->done, q->n_done);
		q->n_done = 0;
	}
	if (s->prio_ready)
		while (proto_prio_pop(&s->prio, &it, &level))
			fx_rx_release(s->q[it.queue].x, &it.addr, 1);
}

static void queues_close(struct flatrpc_sock *s)
{
	struct sock_rings *r = s->rings;

	for (uint32_t i = 0; i < s->n_q; i++) {
		fx_reg_close(&s->q[i].reg, s->q[i].x);
		free(s->q[i].done);
		free(s->q[i].in);
		s->q[i].done = NULL;
		s->q[i].in = NULL;
		s->q[i].x = NULL;
	}
	s->n_q = 0;
	if (!r)
		return;
	for (uint32_t m = 0; m < r->n_members; m++) {
		if (r->member[m] != s)
			continue;
		r->member[m] = r->member[--r->n_members];
		break;
	}
	if (--r->refs == 0)
		rings_close(r);
	s->rings = NULL;
	s->x = NULL;
}

static struct flatrpc_sock *sock_new(const struct flatrpc_service_desc *svc,
				     const struct flatrpc_sock_opts *opts, int *err)
{
	struct proto_cli_cfg ccfg = { 0 };
	struct fx_cfg xcfg = { 0 };
	struct flatrpc_sock *s;
	uint64_t rnd[3];
	uint16_t port;
	int e;

	if (!svc || !opts || (!opts->ifname && !opts->share) || !svc->methods ||
	    svc->n_methods > FLATRPC_MAX_METHODS ||
	    (opts->share && opts->ifname && strcmp(opts->ifname, opts->share->x->ifname))) {
		e = -EINVAL;
		goto fail_early;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		e = -ENOMEM;
		goto fail_early;
	}
	s->svc = svc;
	s->mode = opts->mode;
	s->port_fd = -1;
	s->client_prog_fd = -1;

	e = route_reserve_port(opts->local_port, &port);
	if (e < 0)
		goto fail;
	s->port_fd = e;
	s->local_port = htons(port);

	/* The RPC IDs' key must be secret (proto.h), so there is no fallback
	 * to a clock; a random first sequence keeps a restarted client from
	 * colliding with its predecessor's sequence state. */
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		e = -errno;
		goto fail;
	}
	ccfg.svc = svc;
	ccfg.id_key[0] = rnd[0];
	ccfg.id_key[1] = rnd[1];
	ccfg.first_count = (uint32_t)rnd[2];
	ccfg.first_seq = (uint16_t)(rnd[2] >> 32);
	ccfg.frame_size = FX_FRAME_SIZE;
	ccfg.hdr_off = L2L4_LEN;
	ccfg.hdr_off6 = L2L4_LEN + V6_EXTRA;
	e = proto_cli_init(&s->cli, &ccfg);
	if (e)
		goto fail;
	e = frag_init(s);
	if (e)
		goto fail;
	s->ip_id = (uint16_t)(rnd[2] >> 48);

	xcfg.ifname = opts->ifname;
	xcfg.queue = opts->queue;
	xcfg.skb_mode = opts->skb_mode;
	xcfg.bpffs = opts->bpffs;
	xcfg.spec_hash = svc->spec_hash;
	xcfg.service = svc->name;
	e = queues_open(s, opts, &xcfg);
	if (e)
		goto fail;
	e = route_if_mac(s->x->ifname, s->mac);
	if (e)
		goto fail;
	/* Half the RX frames: the other half absorbs what is in flight
	 * while the senders learn of the BUSY, so the fill ring never runs dry. */
	s->busy_at = opts->busy_at ? opts->busy_at : FX_RX_FRAMES / 2;
	{
		/* the pins' interface and bpffs are the rings' with share */
		struct flatrpc_sock_opts po = *opts;

		po.ifname = s->x->ifname;
		po.bpffs = s->x->bpffs[0] ? s->x->bpffs : NULL;
		load_map_open(s, &po);
		obs_map_open(s, &po);
		e = keys_map_open(s, &po);
		if (e)
			goto fail;
		e = client_prog_open(s, &po);
		if (e)
			goto fail;
	}
	if (err)
		*err = 0;
	return s;
fail:
	flatrpc_sock_del(s);
fail_early:
	if (err)
		*err = e;
	return NULL;
}

FLATRPC_EXPORT
void flatrpc_sock_del(struct flatrpc_sock *s)
{
	if (!s)
		return;
	if (s->load && s->prio_ready) {
		/* Nobody drains these queues any more: never answer BUSY for
		 * them. Only a socket that served: a client on the same queue
		 * must not switch off its server's threshold. */
		for (uint32_t i = 0; i < s->n_q; i++) {
			__atomic_store_n(&s->load[i].busy_at, 0, __ATOMIC_RELEASE);
			s->load[i].backlog = 0;
		}
	}
	if (s->load_map)
		munmap(s->load_map, s->load_map_len);
	obs_map_close(s);
	if (s->keys)
		munmap((void *)s->keys, s->keys_map_len);
	if (s->serve_release)
		s->serve_release(s->serve_ctx);
	if (s->rings && s->rings->refs > 1) {
		release_held(s);
		queues_give_back(s);
	}
	if (s->prio_ready)
		proto_prio_fini(&s->prio);
	queues_close(s);
	proto_cli_fini(&s->cli);
	frag_fini(s);
	if (s->srv_ready)
		proto_srv_fini(&s->srv);
	if (s->hold_ready)
		proto_hold_fini(&s->hold);
	if (s->port_fd >= 0)
		close(s->port_fd);
	client_prog_close(s);
	free(s);
}

FLATRPC_EXPORT
int flatrpc_sock_fd(const struct flatrpc_sock *s)
{
	return s->rings->wait_fd;
}

/* ------------------------------------------------------------ client */

/* ------------------------------------------------------------ multi-packet messages */

static int tx_frame(struct flatrpc_sock *s, uint64_t addr, uint32_t len);

/* Partial messages idle this long are freed: longer than any retransmission
 * gap we expect, short enough that a lost fragment does not pin a slot. */
#define FRAG_RX_TIMEOUT_NS	500000000ull

static void frag_fini(struct flatrpc_sock *s)
{
	if (!s->frag_ready)
		return;
	frag_rx_fini(&s->frag);
	frag_store_fini(&s->big_tx);
	frag_store_fini(&s->big_resp);
	free(s->big_buf);
	s->frag_ready = 0;
}

/* About 3 MB, so only for services that can send a big body. */
static int frag_init(struct flatrpc_sock *s)
{
	bool big = false;
	int e;

	for (unsigned int i = 0; i < s->svc->n_methods; i++)
		big |= s->svc->methods[i].req_max > FLATRPC_FRAG_CHUNK ||
		       s->svc->methods[i].resp_max > FLATRPC_FRAG_CHUNK;
	if (!big)
		return 0;
	e = frag_rx_init(&s->frag, 0, FRAG_RX_TIMEOUT_NS);
	if (e)
		return e;
	s->frag_ready = 1;
	/* Requests wait here until answered: a full store refuses new big
	 * calls (FLATRPC_E_BUSY); responses make room by evicting the oldest. */
	if (frag_store_init(&s->big_tx, 0, false) || frag_store_init(&s->big_resp, 0, true) ||
	    !(s->big_buf = malloc(FLATRPC_MSG_MAX))) {
		frag_fini(s);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Sends `body` as fragments from..count-1 behind `tmpl`, the message's
 * frame up to the body (Ethernet to flatrpc_hdr, addressing, rpc_id, seq and
 * flags final). A TX frame that cannot be had loses that fragment, like the
 * network would: a reliable message is resent whole on its timeout.
 */
static int tx_frame_on(struct flatrpc_sock *s, struct fx *x, uint64_t addr, uint32_t len);

static void send_frags_on(struct flatrpc_sock *s, struct fx *x, const uint8_t *tmpl,
			  const uint8_t *body, size_t len, unsigned int from)
{
	unsigned int count = frag_count(len);

	for (unsigned int i = from; i < count; i++) {
		uint64_t addr = fx_tx_alloc(x);
		size_t moff = msg_off(tmpl);
		struct udphdr *udp;
		struct flatrpc_hdr *h;
		struct flatrpc_frag *fx;
		uint16_t udp_len;
		uint32_t n;
		size_t off;
		uint8_t *f;

		if (addr == FX_NO_FRAME)
			return;
		f = fx_data(x, addr);
		n = frag_piece(len, i, &off);
		memcpy(f, tmpl, moff);
		h = (struct flatrpc_hdr *)(f + hdr_off(f));
		udp = (struct udphdr *)h - 1;
		udp_len = sizeof(*udp) + sizeof(*h) + sizeof(*fx) + n;
		if (frame_v6(f)) {
			((struct ipv6hdr *)(f + sizeof(struct ethhdr)))->payload_len = htons(udp_len);
		} else {
			struct iphdr *ip = (struct iphdr *)(f + sizeof(struct ethhdr));

			ip->tot_len = htons(sizeof(*ip) + udp_len);
			ip->id = htons(s->ip_id++);
			ip->check = 0;
			ip->check = fr_csum_ip(ip);
		}
		udp->len = htons(udp_len);
		udp->check = 0;
		h->flags |= FLATRPC_F_FRAG;
		h->len = htons(sizeof(*fx) + n);
		fx = (struct flatrpc_frag *)(f + moff);
		fx->index = htons(i);
		fx->count = htons(count);
		memcpy(fx + 1, body + off, n);
		tx_frame_on(s, x, addr, moff + sizeof(*fx) + n);
	}
}

/* A client's fragments: through the first queue, like all it sends. */
static void send_frags(struct flatrpc_sock *s, const uint8_t *tmpl, const uint8_t *body,
		       size_t len, unsigned int from)
{
	send_frags_on(s, s->x, tmpl, body, len, from);
}

/*
 * One received fragment of `kind`. Returns the whole message's header (the
 * first fragment's, in *fs's prefix) once every fragment is in; *fs is then
 * lent until frag_rx_release(). NULL otherwise: kept, or dropped (counted).
 */
static struct flatrpc_hdr *frag_receive(struct flatrpc_sock *s, const uint8_t *f,
					const struct flatrpc_hdr *h, uint8_t kind, uint64_t now,
					struct frag_slot **fs)
{
	const struct udphdr *udp = frame_udp(f);
	const struct flatrpc_frag *fx = (const struct flatrpc_frag *)(f + msg_off(f));
	uint16_t blen = ntohs(h->len);
	struct frag_in in;

	*fs = NULL;
	if (!s->frag_ready || blen < sizeof(*fx)) {
		s->frag_stale++;
		return NULL;
	}
	in = (struct frag_in){
		.addr = frame_addr(f, false), .port = udp->source, .kind = kind,
		.rpc_id = ntohl(h->rpc_id), .index = ntohs(fx->index), .count = ntohs(fx->count),
		.payload = fx + 1, .plen = blen - sizeof(*fx), .prefix = f, .prefix_len = msg_off(f),
	};
	if (frag_rx_add(&s->frag, &in, now, fs) != FRAG_DONE)
		return NULL;
	return (struct flatrpc_hdr *)((*fs)->prefix + hdr_off((*fs)->prefix));
}

/*
 * Appends the frame's tag (flatrpc_abi.h, FLATRPC_TAG_LEN) and counts it in
 * the IP and UDP lengths. Here, at the last moment, so that every send of a
 * message - first, queued, retransmitted with RETX or FIRST, answered from
 * the cache - is signed as it leaves and copies are kept untagged.
 */
static uint32_t tag_frame(const struct flatrpc_sock *s, uint8_t *f, uint32_t len)
{
	struct udphdr *udp = (struct udphdr *)frame_udp(f);
	size_t off = hdr_off(f);
	struct flatrpc_hdr *h = (struct flatrpc_hdr *)(f + off);
	uint32_t epoch = 0;
	__be32 saddr[4];
	__u64 key[2], tag;

	/* A request names its receiver's epoch, which may have changed since
	 * the copy was made (an ACK EPOCH). */
	if ((h->flags & FLATRPC_KIND_MASK) == FLATRPC_REQ) {
		epoch = proto_cli_call_epoch(&s->cli, ntohl(h->rpc_id));
		h->status = FLATRPC_EPOCH_HINT(epoch);
	}
	fr_addr_bytes(frame_addr(f, false), saddr);
	memcpy(key, s->keys->key[0], sizeof(key));
	tag = fr_tag_of(key, saddr, udp->source, udp->dest, epoch, f + off, len - off);
	memcpy(f + len, &tag, sizeof(tag));
	udp->len = htons(ntohs(udp->len) + FLATRPC_TAG_LEN);
	if (frame_v6(f)) {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(f + sizeof(struct ethhdr));

		ip6->payload_len = udp->len;
	} else {
		struct iphdr *ip = (struct iphdr *)(f + sizeof(struct ethhdr));

		ip->tot_len = htons(ntohs(ip->tot_len) + FLATRPC_TAG_LEN);
		ip->check = 0;
		ip->check = fr_csum_ip(ip);
	}
	return len + FLATRPC_TAG_LEN;
}

/* addr is a frame of x's UMEM: it can leave by x's TX ring alone. */
static int tx_frame_on(struct flatrpc_sock *s, struct fx *x, uint64_t addr, uint32_t len)
{
	uint8_t *f = fx_data(x, addr);
	int err;

	if (s->tag_len)
		len = tag_frame(s, f, len);
	if (frame_v6(f))
		udp6_csum_fill(f);
	err = fx_tx_push(x, addr, len);

	if (err) {
		fx_tx_free(x, addr);
		return err;
	}
	s->tx++;
	return 0;
}

static int tx_frame(struct flatrpc_sock *s, uint64_t addr, uint32_t len)
{
	return tx_frame_on(s, s->x, addr, len);
}

/*
 * The client: elements in the library: the generated chain on a copy of
 * the fixed part as the client built it; then the metadata only they read
 * (the last req_strip bytes of it) is left out, as the client program
 * does. Counted as that program counts into stats, in client_verdicts.
 */
static int run_client_anfs_lib(struct flatrpc_sock *s, uint8_t method, const void **body,
			       size_t *len, uint8_t *status)
{
	const struct flatrpc_method_desc *md = &s->svc->methods[method];
	size_t fixed = md->req_fixed, cfixed = fixed + md->req_strip;
	int rc;

	if (*len < cfixed)
		return FLATRPC_E_PROTO;
	if (*len - md->req_strip > FLATRPC_MSG_MAX)
		return FLATRPC_E_TOOBIG;
	memcpy(s->wire_buf, *body, cfixed);
	rc = s->canf->run((uint64_t *)s->cv, method, s->wire_buf, cfixed);
	if (FLATRPC_ANF_IS_ERR(rc)) {
		if (s->cv)
			obs_add(&s->cv[FLATRPC_CV_ERR(method)], 1);
		*status = (uint8_t)rc;
		return 1;
	}
	if (rc)	/* forward(): the checker keeps it out of client: chains */
		return FLATRPC_E_PROTO;
	if (s->cv)
		obs_add(&s->cv[FLATRPC_CV_PASS(method)], 1);
	memmove(s->wire_buf + fixed, (const uint8_t *)*body + cfixed, *len - cfixed);
	*body = s->wire_buf;
	*len -= md->req_strip;
	return 0;
}

/*
 * Runs the client: elements of a request: in the library when the stubs
 * registered them, else the pinned flatrpc_client program
 * sees its headers and fixed part as the client built them, through
 * BPF_PROG_TEST_RUN, since an AF_XDP transmit passes no hook. Returns 0 with
 * *body and *len now the body to send (the stripped fields gone), 1 when an
 * element denied the call (*status its error code), or an error.
 */
static int run_client_anfs(struct flatrpc_sock *s, uint8_t method, const void **body,
			   size_t *len, uint8_t *status)
{
	const struct flatrpc_method_desc *md = &s->svc->methods[method];
	size_t fixed = md->req_fixed, cfixed = fixed + md->req_strip;
	uint8_t in[MSG_OFF + FLATRPC_FRAG_CHUNK], out[sizeof(in)];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = MSG_OFF + cfixed,
		    .data_out = out, .data_size_out = sizeof(out));
	const struct flatrpc_hdr *oh = (const struct flatrpc_hdr *)(out + MSG_OFF) - 1;
	struct flatrpc_hdr *h = (struct flatrpc_hdr *)(in + MSG_OFF) - 1;
	int err;

	if (s->canf)
		return run_client_anfs_lib(s, method, body, len, status);
	if (*len < cfixed)
		return FLATRPC_E_PROTO;
	/* flatrpc-gen keeps the fixed part within one fragment */
	if (cfixed > FLATRPC_FRAG_CHUNK || *len - md->req_strip > FLATRPC_MSG_MAX)
		return FLATRPC_E_TOOBIG;
	/* Addresses mean nothing to an element; the frame only has to parse. */
	memset(in, 0, MSG_OFF);
	fill_l3l4(in, fr_addr_v4(0), fr_addr_v4(0), s->local_port, htons(s->svc->port),
		  (uint16_t)cfixed, 0, 0);
	h->magic = FLATRPC_MAGIC;
	h->flags = FLATRPC_REQ;
	h->method = method;
	h->len = htons((uint16_t)cfixed);
	memcpy(in + MSG_OFF, *body, cfixed);
	err = bpf_prog_test_run_opts(s->client_prog_fd, &o);
	if (err)
		return -errno;
	if (o.retval == XDP_TX && o.data_size_out >= MSG_OFF &&
	    (oh->flags & FLATRPC_KIND_MASK) == FLATRPC_ERR) {
		*status = oh->status;
		return 1;
	}
	if (o.retval != XDP_PASS || o.data_size_out != MSG_OFF + fixed)
		return FLATRPC_E_PROTO;	/* counted as not_client_request */
	/* the fixed part as the elements left it (they may rewrite a field) */
	memcpy(s->wire_buf, out + MSG_OFF, fixed);
	memcpy(s->wire_buf + fixed, (const uint8_t *)*body + cfixed, *len - cfixed);
	*body = s->wire_buf;
	*len -= md->req_strip;
	return 0;
}

/* A call the client: elements denied ends at the next flatrpc_poll(), like
 * one a server's element denied, without having been sent. */
static int deny_locally(struct flatrpc_sock *s, uint8_t method, uint8_t status, uint32_t *rpc_id)
{
	uint32_t i = s->denied_tail;

	if (i - s->denied_head == CLIENT_DENIED_MAX)
		return FLATRPC_E_BUSY;
	s->denied[i % CLIENT_DENIED_MAX].rpc_id = proto_cli_take_id(&s->cli);
	s->denied[i % CLIENT_DENIED_MAX].method = method;
	s->denied[i % CLIENT_DENIED_MAX].status = status;
	s->denied_tail = i + 1;
	if (rpc_id)
		*rpc_id = s->denied[i % CLIENT_DENIED_MAX].rpc_id;
	return 0;
}

static int take_denied(struct flatrpc_sock *s, struct flatrpc_completion *out, int max)
{
	int n = 0;

	for (; n < max && s->denied_head != s->denied_tail; n++, s->denied_head++) {
		uint32_t i = s->denied_head % CLIENT_DENIED_MAX;

		memset(&out[n], 0, sizeof(out[n]));
		out[n].rpc_id = s->denied[i].rpc_id;
		out[n].method = s->denied[i].method;
		out[n].err = FLATRPC_E_ANF;
		out[n].status = s->denied[i].status;
		obs_call_done(s, out[n].method, FLATRPC_E_ANF, out[n].status, 0, 0);
	}
	return n;
}

FLATRPC_EXPORT
int flatrpc_send(struct flatrpc_sock *s, const struct flatrpc_peer *peer,
		 uint8_t method, const void *body, size_t len, uint32_t *rpc_id)
{
	const struct route_nh *nh;
	struct flatrpc_hdr *h;
	struct ethhdr *eth;
	uint64_t now = mono_ns(), addr;
	uint8_t tmpl[MSG_OFF + V6_EXTRA];
	size_t flen, moff;
	fr_addr_t dst;
	uint32_t id;
	uint8_t *f;
	bool big;
	int err;

	if (!peer || (len && !body) || method >= s->svc->n_methods)
		return -EINVAL;
	if (s->svc->methods[method].flags & FLATRPC_M_CLIENT_ANF) {
		uint8_t status = 0;

		err = run_client_anfs(s, method, &body, &len, &status);
		if (err == 1)
			return deny_locally(s, method, status, rpc_id);
		if (err)
			return err;
	}
	if (peer->family == AF_INET6)
		dst = fr_addr_v6(&peer->addr6);
	else if (!peer->family || peer->family == AF_INET)
		dst = fr_addr_v4(peer->addr.s_addr);
	else
		return -EAFNOSUPPORT;
	moff = MSG_OFF + (fr_addr_is_v4(dst) ? 0 : V6_EXTRA);
	big = s->frag_ready && len > FLATRPC_FRAG_CHUNK;
	if (big ? len > FLATRPC_MSG_MAX : len > FX_FRAME_SIZE - moff - FLATRPC_TAG_LEN)
		return FLATRPC_E_TOOBIG;
	/* a big message's first frame is its first fragment */
	flen = big ? sizeof(struct flatrpc_frag) + FLATRPC_FRAG_CHUNK : len;
	err = route_cache_get(&s->routes, dst, now, 0, &nh);
	if (err)
		return err;
	/* The socket can only emit on its own interface. */
	if (nh->ifindex != s->x->ifindex)
		return FLATRPC_E_NOROUTE;

	addr = fx_tx_alloc(s->x);
	if (addr == FX_NO_FRAME)
		return FLATRPC_E_BUSY;
	f = fx_data(s->x, addr);
	eth = (struct ethhdr *)f;
	memcpy(eth->h_dest, nh->mac, ETH_ALEN);
	memcpy(eth->h_source, s->mac, ETH_ALEN);
	fill_l3l4(f, nh->src, dst, s->local_port,
		  htons(peer->port ? peer->port : s->svc->port), (uint16_t)flen, s->ip_id++,
		  method_tos(s->svc, method));
	h = (struct flatrpc_hdr *)(f + moff) - 1;
	h->len = htons((uint16_t)flen);
	if (big) {
		struct flatrpc_frag *fx = (struct flatrpc_frag *)(f + moff);

		fx->index = 0;
		fx->count = htons(frag_count(len));
		memcpy(fx + 1, body, FLATRPC_FRAG_CHUNK);
	} else if (len) {
		memcpy(f + moff, body, len);
	}

	err = proto_cli_send_to(&s->cli, dst,
				htons(peer->port ? peer->port : s->svc->port), method, f,
				moff + flen, now, &id);
	if (err < 0) {
		fx_tx_free(s->x, addr);
		return err;
	}
	if (big) {
		/* The core wrote the header (and keeps its first frame): the
		 * whole body is kept here, and every later send of this call
		 * (queued, retransmitted) sends all fragments. */
		if (frag_store_put(&s->big_tx, 0, 0, id, f, moff, body, len, now)) {
			proto_cli_cancel(&s->cli, id);
			fx_tx_free(s->x, addr);
			return FLATRPC_E_BUSY;
		}
		h->flags |= FLATRPC_F_FRAG;
		memcpy(tmpl, f, moff);
	}
	if (err == PROTO_QUEUED) {
		/* The peer's window is full: the core keeps a copy and hands
		 * it out (PROTO_EV_SEND) when an answer opens the window. */
		fx_tx_free(s->x, addr);
	} else {
		/* A full TX ring is treated like a lost frame: the call stays
		 * registered and the retransmission timer (or the deadline)
		 * handles it. */
		tx_frame(s, addr, moff + flen);
		if (big)
			send_frags(s, tmpl, body, len, 1);
		fx_kick(s->x);
	}
	if (rpc_id)
		*rpc_id = id;
	return 0;
}

/* ------------------------------------------------------------ receiving */

struct rx_frame {
	uint64_t	addr;
	uint32_t	len;
};

/*
 * Which member of shared rings a frame is for, by its UDP destination
 * port: for an answer or ACK, the member whose client port it is; for a
 * request, the member that serves that service's port (first). NULL: none,
 * and the member that took the frame off the ring deals with it as it
 * does with any frame not its own. Nothing else is read: the owner checks
 * the frame with its service's tag length.
 */
static struct flatrpc_sock *frame_owner(const struct sock_rings *r, const uint8_t *f,
					uint32_t len)
{
	const struct ethhdr *eth = (const struct ethhdr *)f;
	struct flatrpc_sock *any = NULL;
	const struct flatrpc_hdr *h;
	const struct udphdr *udp;

	if (len < MSG_OFF || (eth->h_proto == htons(ETH_P_IPV6) && len < MSG_OFF + V6_EXTRA))
		return NULL;
	udp = frame_udp(f);
	h = (const struct flatrpc_hdr *)(udp + 1);
	/* A client's port takes answers only: a request there (passed by
	 * another service's XDP, with that service's key) is none of its
	 * business, and goes to no one. */
	if ((h->flags & FLATRPC_KIND_MASK) != FLATRPC_REQ) {
		for (uint32_t m = 0; m < r->n_members; m++)
			if (r->member[m]->local_port == udp->dest)
				return r->member[m];
		return NULL;
	}
	for (uint32_t m = 0; m < r->n_members; m++) {
		struct flatrpc_sock *o = r->member[m];

		if (htons(o->svc->port) != udp->dest)
			continue;
		if (o->srv_ready)
			return o;
		if (!any)
			any = o;
	}
	return any;
}

/* Keeps a frame for its owner until the owner polls; past INBOX_CAP it
 * goes back to the fill ring, counted on the owner. */
static void inbox_push(struct flatrpc_sock *o, uint32_t qi, struct fx *x, uint64_t addr,
		       uint32_t len)
{
	struct inbox *in = o->q[qi].in;

	if (!in || in->n >= INBOX_CAP) {
		fx_rx_release(x, &addr, 1);
		o->inbox_dropped++;
		return;
	}
	in->addr[(in->head + in->n) % INBOX_CAP] = addr;
	in->len[(in->head + in->n) % INBOX_CAP] = len;
	in->n++;
}

static bool inbox_waiting(const struct flatrpc_sock *s)
{
	for (uint32_t i = 0; i < s->n_q; i++)
		if (s->q[i].in && s->q[i].in->n)
			return true;
	return false;
}

/*
 * Up to max of this member's frames of queue qi: first what other members
 * took off the ring for it, then the ring's own, handing theirs on to the
 * members that share the rings. The frames stay the caller's until it
 * gives them back with fx_rx_release().
 */
static uint32_t rx_take(struct flatrpc_sock *s, uint32_t qi, struct rx_frame *out, uint32_t max)
{
	struct sock_q *q = &s->q[qi];
	struct inbox *in = q->in;
	uint32_t n = 0, idx, got;

	for (; in && in->n && n < max; in->n--, in->head = (in->head + 1) % INBOX_CAP) {
		out[n].addr = in->addr[in->head];
		out[n++].len = in->len[in->head];
	}
	if (n == max)
		return n;
	got = xsk_ring_cons__peek(&q->x->rx, max - n, &idx);
	for (uint32_t i = 0; i < got; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->x->rx, idx + i);
		struct flatrpc_sock *o = s->rings->n_members > 1 ?
			frame_owner(s->rings, fx_data(q->x, d->addr), d->len) : NULL;

		if (o && o != s) {
			inbox_push(o, qi, q->x, d->addr, d->len);
			continue;
		}
		out[n].addr = d->addr;
		out[n++].len = d->len;
	}
	if (got)
		xsk_ring_cons__release(&q->x->rx, got);
	return n;
}

static void release_held(struct flatrpc_sock *s)
{
	uint32_t from = 0;

	/* runs of one queue, as rx_responses() lent them */
	for (uint32_t i = 1; i <= s->n_held; i++) {
		if (i < s->n_held && s->held_q[i] == s->held_q[from])
			continue;
		fx_rx_release(s->q[s->held_q[from]].x, s->held + from, i - from);
		from = i;
	}
	s->n_held = 0;
	for (uint32_t i = 0; i < s->n_lent; i++)
		frag_rx_release(&s->frag, s->lent[i]);
	s->n_lent = 0;
}

/* Sends a call's stored copy again, the core having updated its header
 * (RETX, FIRST) and its epoch. */
static void send_again(struct flatrpc_sock *s, uint32_t rpc_id, const void *frame, uint16_t len)
{
	const struct frag_store_ent *e = s->frag_ready ?
		frag_store_get(&s->big_tx, 0, 0, rpc_id) : NULL;
	uint64_t addr;

	/* a big message is resent whole */
	if (e) {
		send_frags(s, frame, e->buf, e->len, 0);
		return;
	}
	addr = fx_tx_alloc(s->x);
	/* No frame now means this attempt is lost; the next deadline tries
	 * again. */
	if (addr == FX_NO_FRAME)
		return;
	memcpy(fx_data(s->x, addr), frame, len);
	tx_frame(s, addr, len);
}

/* Reads responses from the RX ring; never takes more descriptors than it can
 * report, so nothing is lost when `max` is small. */
static int rx_responses_q(struct flatrpc_sock *s, uint32_t qi, struct flatrpc_completion *out,
			  int max, uint64_t now)
{
	struct fx *x = s->q[qi].x;
	struct rx_frame fr[RX_BATCH];
	uint64_t drop[RX_BATCH];
	uint32_t got, n_drop = 0;
	int n = 0;

	got = rx_take(s, qi, fr, max < RX_BATCH ? (uint32_t)max : RX_BATCH);
	for (uint32_t i = 0; i < got; i++) {
		const struct rx_frame *d = &fr[i];
		uint8_t *f = fx_data(x, d->addr);
		struct flatrpc_hdr *h = parse(s, f, d->len);
		const struct udphdr *udp = frame_udp(f);
		struct proto_done done;
		struct frag_slot *fs;
		uint16_t copy_len;
		int rc;

		s->rx++;
		s->q[qi].rx++;
		if (h && udp->dest == s->local_port && (h->flags & FLATRPC_F_FRAG) &&
		    (h->flags & FLATRPC_KIND_MASK) == FLATRPC_RESP) {
			/* copied into the reassembly slot: the frame goes back now */
			drop[n_drop++] = d->addr;
			if (!proto_cli_pending(&s->cli, ntohl(h->rpc_id))) {
				s->frag_stale++;
				continue;
			}
			h = frag_receive(s, f, h, FLATRPC_RESP, now, &fs);
			if (!h)
				continue;
			if (proto_cli_on_response(&s->cli, h, frame_addr(f, false), udp->source,
						  now, &done) != 1) {
				frag_rx_release(&s->frag, fs);
				continue;
			}
			frag_store_drop(&s->big_tx, 0, 0, done.rpc_id);
			obs_call_done(s, done.method, done.err, done.status, done.started, now);
			out[n].rpc_id = done.rpc_id;
			out[n].method = done.method;
			out[n].err = done.err;
			out[n].status = done.status;
			out[n].len = fs->len;
			out[n].body = fs->buf;
			s->lent[s->n_lent++] = fs;
			n++;
			continue;
		}
		if (!h || udp->dest != s->local_port) {
			drop[n_drop++] = d->addr;
			continue;
		}
		done.started = 0;
		if ((h->flags & FLATRPC_KIND_MASK) == FLATRPC_ACK) {
			struct flatrpc_method_obs *o = obs_of(s, h->method);

			rc = proto_cli_on_ack(&s->cli, h, frame_addr(f, false), udp->source, now,
					      &done);
			if (o && rc >= 0 && h->status == FLATRPC_ACK_BUSY)
				obs_add(&o->busy, 1);
			else if (o && rc >= 0 && h->status == FLATRPC_ACK_PENDING)
				obs_add(&o->pending, 1);
		} else {
			rc = proto_cli_on_response(&s->cli, h, frame_addr(f, false), udp->source,
						   now, &done);
		}
		if (rc == PROTO_ACK_RESEND) {
			const void *copy = proto_cli_frame(&s->cli, done.rpc_id, &copy_len);

			if (copy) {
				send_again(s, done.rpc_id, copy, copy_len);
				fx_kick(s->x);
			}
		}
		if (rc != 1) {
			drop[n_drop++] = d->addr;
			continue;
		}
		obs_call_done(s, done.method, done.err, done.status, done.started, now);
		out[n].rpc_id = done.rpc_id;
		out[n].method = done.method;
		out[n].err = done.err;
		out[n].status = done.status;
		out[n].len = done.err == FLATRPC_E_OVERLOADED ? 0 : ntohs(h->len);
		out[n].body = f + msg_off(f);
		s->held_q[s->n_held] = (uint8_t)qi;
		s->held[s->n_held++] = d->addr;
		if (s->frag_ready)
			frag_store_drop(&s->big_tx, 0, 0, done.rpc_id);
		n++;
	}
	fx_rx_release(x, drop, n_drop);
	return n;
}

/* Answers reach whichever queue the NIC (or veth) steers them to. */
static int rx_responses(struct flatrpc_sock *s, struct flatrpc_completion *out, int max,
			uint64_t now)
{
	int n = 0;

	for (uint32_t i = 0; i < s->n_q && n < max; i++)
		n += rx_responses_q(s, i, out + n, max - n, now);
	return n;
}

static int run_timers(struct flatrpc_sock *s, struct flatrpc_completion *out, int max,
		      uint64_t now)
{
	struct proto_event ev[RX_BATCH];
	int n = 0, got;

	got = proto_cli_expire(&s->cli, now, ev, max < RX_BATCH ? max : RX_BATCH);
	for (int i = 0; i < got; i++) {
		if (ev[i].kind == PROTO_EV_RETX || ev[i].kind == PROTO_EV_SEND) {
			if (ev[i].kind == PROTO_EV_RETX && obs_of(s, ev[i].method))
				obs_add(&obs_of(s, ev[i].method)->retransmits, 1);
			send_again(s, ev[i].rpc_id, ev[i].frame, ev[i].len);
			continue;
		}
		obs_call_done(s, ev[i].method, FLATRPC_E_TIMEOUT, 0, 0, now);
		out[n].rpc_id = ev[i].rpc_id;
		out[n].method = ev[i].method;
		out[n].err = FLATRPC_E_TIMEOUT;
		out[n].status = 0;
		out[n].len = 0;
		out[n].body = NULL;
		if (s->frag_ready)
			frag_store_drop(&s->big_tx, 0, 0, ev[i].rpc_id);
		n++;
	}
	return n;
}

static int ms_until(uint64_t when, uint64_t now)
{
	uint64_t d;

	if (when <= now)
		return 0;
	d = (when - now + 999999) / 1000000;
	return d > INT32_MAX ? INT32_MAX : (int)d;
}

FLATRPC_EXPORT
int flatrpc_poll(struct flatrpc_sock *s, struct flatrpc_completion *out, int max,
		 int timeout_ms)
{
	uint64_t now = mono_ns();
	uint64_t end = timeout_ms < 0 ? PROTO_NO_EXPIRY : now + (uint64_t)timeout_ms * 1000000;

	if (max <= 0 || !out)
		return -EINVAL;
	release_held(s);
	for (;;) {
		int n = take_denied(s, out, max);

		if (s->frag_ready)
			frag_rx_expire(&s->frag, now);
		if (n < max)
			n += rx_responses(s, out + n, max - n, now);
		if (n < max)
			n += run_timers(s, out + n, max - n, now);
		fx_kick(s->x);
		fx_reap(s->x);
		if (n)
			return n;
		if (now >= end)
			return 0;
		if (s->mode == FLATRPC_POLL_BLOCKING && !inbox_waiting(s)) {
			struct pollfd pfd = { .fd = s->rings->wait_fd, .events = POLLIN };
			uint64_t wake = proto_cli_next_expiry(&s->cli, now);

			if (end < wake)
				wake = end;
			if (wake == PROTO_NO_EXPIRY ? poll(&pfd, 1, -1) < 0 :
			    poll(&pfd, 1, ms_until(wake, now)) < 0) {
				if (errno != EINTR)
					return -errno;
			}
		}
		now = mono_ns();
	}
}

FLATRPC_EXPORT
int flatrpc_call(struct flatrpc_sock *s, const struct flatrpc_peer *peer,
		 uint8_t method, const void *body, size_t len,
		 void *resp, size_t *resp_len, uint8_t *status)
{
	struct flatrpc_completion c[16];
	uint32_t id;
	int err;

	err = flatrpc_send(s, peer, method, body, len, &id);
	if (err)
		return err;
	for (;;) {
		int n = flatrpc_poll(s, c, 16, -1);

		if (n < 0) {
			proto_cli_cancel(&s->cli, id);
			if (s->frag_ready)
				frag_store_drop(&s->big_tx, 0, 0, id);
			return n;
		}
		/* Completions of other outstanding calls are dropped here: mixing
		 * flatrpc_call with flatrpc_send on one socket is not supported. */
		for (int i = 0; i < n; i++) {
			size_t cap;

			if (c[i].rpc_id != id)
				continue;
			if (status)
				*status = c[i].status;
			if (c[i].err)
				return c[i].err;
			cap = resp_len ? *resp_len : 0;
			if (c[i].len > cap)
				return FLATRPC_E_TOOBIG;
			if (c[i].len)
				memcpy(resp, c[i].body, c[i].len);
			if (resp_len)
				*resp_len = c[i].len;
			return 0;
		}
	}
}

/* ------------------------------------------------------------ server */

/* Turns the request frame's addressing around into a response frame. */
static void build_reply(struct flatrpc_sock *s, uint8_t *rf, const uint8_t *qf,
			uint8_t kind, uint8_t status, uint16_t body_len)
{
	const struct ethhdr *qeth = (const struct ethhdr *)qf;
	const struct udphdr *qudp = frame_udp(qf);
	const struct flatrpc_hdr *qh = (const struct flatrpc_hdr *)(qudp + 1);
	struct ethhdr *eth = (struct ethhdr *)rf;
	struct flatrpc_hdr *h = (struct flatrpc_hdr *)(rf + hdr_off(qf));

	memcpy(eth->h_dest, qeth->h_source, ETH_ALEN);
	memcpy(eth->h_source, qeth->h_dest, ETH_ALEN);
	/* The request's method sets the response's class too. */
	fill_l3l4(rf, frame_addr(qf, true), frame_addr(qf, false), qudp->dest, qudp->source,
		  body_len, s->ip_id++, method_tos(s->svc, qh->method));
	h->magic = FLATRPC_MAGIC;
	h->flags = kind;
	h->method = qh->method;
	h->status = status;
	h->rpc_id = qh->rpc_id;
	h->seq = qh->seq;
	h->len = htons(body_len);
}

/*
 * The cache is about to forget requests that the receiver's epochs would
 * still admit: retire the older epoch (docs/security.md, Replay). Senders
 * on the newer one carry on; the others get ACK EPOCH and send again. One
 * 64-bit store, so XDP reads either epoch pair whole.
 */
static void rotate_epoch(struct flatrpc_sock *s, uint64_t now)
{
	__u32 cur;

	if (!s->tag_len || !proto_srv_rotate_due(&s->srv, now))
		return;
	cur = FLATRPC_EPOCH_CUR(__atomic_load_n(&s->keys->epochs, __ATOMIC_RELAXED));
	__atomic_store_n(&s->keys->epochs, FLATRPC_EPOCHS(flatrpc_epoch_next(cur), cur),
			 __ATOMIC_RELAXED);
}

/* A handler's run, from t0 (0: not counted) to now. */
static void obs_served(struct flatrpc_sock *s, uint8_t method, uint64_t t0, int rc)
{
	struct flatrpc_method_obs *o = obs_of(s, method);

	if (!o || !t0)
		return;
	obs_hist(&o->handler, mono_ns() - t0);
	obs_add(&o->served, 1);
	if (rc)
		obs_add(&o->served_err, 1);
}

/* Runs one admitted request (or answers the ANF denial XDP left to us) and
 * sends the response, caching it for reliable methods. */
static void execute(struct flatrpc_sock *s, flatrpc_handler_fn fn, void *ctx,
		    const uint8_t *qf, uint64_t now)
{
	const struct udphdr *qudp = frame_udp(qf);
	const struct flatrpc_hdr *qh = (const struct flatrpc_hdr *)(qudp + 1);
	const struct flatrpc_method_desc *md = NULL;
	const size_t moff = msg_off(qf);	/* the response's too */
	const uint8_t *qbody = qf + moff;
	size_t qlen = ntohs(qh->len);
	uint16_t body_len = 0;
	uint8_t kind = FLATRPC_RESP, st = 0;
	uint64_t addr;
	uint8_t *rf;

	if (qf == s->big_qf) {
		qbody = s->big_body;
		qlen = s->big_len;
	}
	if (qh->method < s->svc->n_methods)
		md = &s->svc->methods[qh->method];
	addr = fx_tx_alloc(s->cur);
	if (addr == FX_NO_FRAME)
		return;	/* the client retransmits (reliable) or times out */
	rf = fx_data(s->cur, addr);

	if ((qh->flags & FLATRPC_F_AHEAD) && qh->status) {
		kind = FLATRPC_ERR;
		st = qh->status;
	} else if (!md || !fn) {
		kind = FLATRPC_ERR;
		st = FLATRPC_ST_NO_METHOD;
	} else if (s->frag_ready && md->resp_max > FLATRPC_FRAG_CHUNK) {
		size_t rlen = FLATRPC_MSG_MAX;
		uint64_t t0 = obs_of(s, qh->method) ? mono_ns() : 0;
		int rc = fn(ctx, qh->method, qbody, qlen, s->big_buf, &rlen);

		obs_served(s, qh->method, t0, rc);

		if (rc == 0 && rlen > FLATRPC_FRAG_CHUNK && rlen <= FLATRPC_MSG_MAX) {
			uint8_t tmpl[MSG_OFF + V6_EXTRA];

			build_reply(s, rf, qf, FLATRPC_RESP, 0, 0);
			memcpy(tmpl, rf, moff);
			fx_tx_free(s->cur, addr);
			if (md->flags & FLATRPC_M_RELIABLE)
				frag_store_put(&s->big_resp, frame_addr(qf, false), qudp->source,
					       ntohl(qh->rpc_id), tmpl, moff, s->big_buf, rlen, now);
			send_frags_on(s, s->cur, tmpl, s->big_buf, rlen, 0);
			return;
		}
		if (rc == 0 && rlen <= FLATRPC_FRAG_CHUNK) {
			memcpy(rf + moff, s->big_buf, rlen);
			body_len = (uint16_t)rlen;
		} else {
			kind = FLATRPC_ERR;
			st = (rc >= 128 && rc <= 255) ? (uint8_t)rc : FLATRPC_ST_APP;
		}
	} else {
		size_t rlen = FX_FRAME_SIZE - moff - FLATRPC_TAG_LEN;
		uint64_t t0 = obs_of(s, qh->method) ? mono_ns() : 0;
		int rc = fn(ctx, qh->method, qbody, qlen, rf + moff, &rlen);

		obs_served(s, qh->method, t0, rc);

		if (rc == 0 && rlen <= FX_FRAME_SIZE - moff - FLATRPC_TAG_LEN) {
			body_len = (uint16_t)rlen;
		} else {
			kind = FLATRPC_ERR;
			st = (rc >= 128 && rc <= 255) ? (uint8_t)rc : FLATRPC_ST_APP;
		}
	}
	build_reply(s, rf, qf, kind, st, body_len);
	if (md && (md->flags & FLATRPC_M_RELIABLE)) {
		proto_srv_store(&s->srv, frame_addr(qf, false), qudp->source, ntohl(qh->rpc_id),
				rf, moff + body_len, now);
		rotate_epoch(s, now);
	}
	tx_frame_on(s, s->cur, addr, moff + body_len);
}

/* The kernel's expected sequence of a stream, or -1. */
static int32_t kern_expected(const struct flatrpc_sock *s, fr_addr_t addr, uint16_t port,
			     uint8_t method)
{
	struct flatrpc_seq_key key = { .port = port, .method = method };
	struct flatrpc_seq_state val;

	fr_addr_bytes(addr, key.addr);
	if (s->q[0].reg.seqs_fd < 0 || bpf_map_lookup_elem(s->q[0].reg.seqs_fd, &key, &val))
		return -1;
	return val.expected;
}

/*
 * Moves the kernel's stream past what the hold ran, so that later copies of
 * those requests are marked DUP. Never backwards: the kernel may already
 * have gone further with copies that slipped in before this write (they
 * were answered from the cache).
 */
static void kern_advance(struct flatrpc_sock *s, fr_addr_t addr, uint16_t port, uint8_t method,
			 uint16_t expected)
{
	struct flatrpc_seq_key key = { .port = port, .method = method };
	struct flatrpc_seq_state val = { 0 };

	fr_addr_bytes(addr, key.addr);
	if (s->q[0].reg.seqs_fd < 0)
		return;
	if (!bpf_map_lookup_elem(s->q[0].reg.seqs_fd, &key, &val) &&
	    !proto_seq_before(val.expected, expected))
		return;
	val.expected = expected;
	bpf_map_update_elem(s->q[0].reg.seqs_fd, &key, &val, BPF_ANY);
}

/* "Received, still waiting its turn" for a retransmission whose original is
 * queued or held here: the client stops retransmitting it for one RTO. */
static void send_ack(struct flatrpc_sock *s, const uint8_t *qf, uint8_t status)
{
	uint64_t addr = fx_tx_alloc(s->cur);

	if (addr == FX_NO_FRAME)
		return;
	build_reply(s, fx_data(s->cur, addr), qf, FLATRPC_ACK, status, 0);
	tx_frame_on(s, s->cur, addr, msg_off(qf));
	s->ack_tx++;
}

static void serve_msg(struct flatrpc_sock *s, flatrpc_handler_fn fn, void *ctx,
		      const uint8_t *qf, uint32_t qlen, const struct flatrpc_hdr *qh, uint64_t now);

/* One RX frame: a whole request, or a fragment that may complete one. */
static void serve_one(struct flatrpc_sock *s, flatrpc_handler_fn fn, void *ctx,
		      uint8_t *qf, uint32_t qlen, uint64_t now)
{
	struct flatrpc_hdr *qh = parse(s, qf, qlen);
	struct frag_slot *fs;

	if (!qh || (qh->flags & FLATRPC_KIND_MASK) != FLATRPC_REQ)
		return;
	if (!(qh->flags & FLATRPC_F_FRAG)) {
		serve_msg(s, fn, ctx, qf, qlen, qh, now);
		return;
	}
	qh = frag_receive(s, qf, qh, FLATRPC_REQ, now, &fs);
	if (!qh)
		return;
	/* The first fragment's prefix stands for the message; execute()
	 * takes the body from the reassembly slot. */
	s->big_qf = fs->prefix;
	s->big_body = fs->buf;
	s->big_len = fs->len;
	serve_msg(s, fn, ctx, fs->prefix, fs->prefix_len, qh, now);
	s->big_qf = NULL;
	frag_rx_release(&s->frag, fs);
}

static void serve_msg(struct flatrpc_sock *s, flatrpc_handler_fn fn, void *ctx,
		      const uint8_t *qf, uint32_t qlen, const struct flatrpc_hdr *qh, uint64_t now)
{
	const struct udphdr *qudp = frame_udp(qf);
	const fr_addr_t peer = frame_addr(qf, false);
	const struct flatrpc_method_desc *md = NULL;
	struct proto_hold_stream *hs = NULL;
	enum proto_srv_verdict v;
	const void *cached = NULL, *f;
	uint16_t clen = 0, flen, exp;
	uint64_t addr;
	bool reliable, ahead;

	if (qh->method < s->svc->n_methods)
		md = &s->svc->methods[qh->method];
	reliable = md && (md->flags & FLATRPC_M_RELIABLE);
	if (reliable && s->frag_ready) {
		const struct frag_store_ent *e = frag_store_get(&s->big_resp, peer,
								qudp->source, ntohl(qh->rpc_id));

		/* answered before with a big response: send it again, whole */
		if (e) {
			send_frags_on(s, s->cur, e->prefix, e->buf, e->len, 0);
			return;
		}
	}
	v = proto_srv_on_request(&s->srv, qh, reliable, peer, qudp->source, now,
				 &cached, &clen);
	if (v == PROTO_SRV_DROP)
		return;
	if (v == PROTO_SRV_CACHED) {
		addr = fx_tx_alloc(s->cur);
		if (addr == FX_NO_FRAME)
			return;
		memcpy(fx_data(s->cur, addr), cached, clen);
		tx_frame_on(s, s->cur, addr, clen);
		return;
	}
	/* Only hold-forever streams are reordered; the rest runs as it comes. */
	if (!s->hold_ready || !md || (md->flags & (FLATRPC_M_INORDER | FLATRPC_M_INORDER_DROP)) !=
	    FLATRPC_M_INORDER) {
		execute(s, fn, ctx, qf, now);
		return;
	}
	/* The kernel's view costs a syscall; only an ahead request on a stream
	 * the hold does not know yet needs it, never the in-order fast path. */
	ahead = qh->flags & FLATRPC_F_AHEAD;
	/* The hold keeps single frames; a big message ahead of its turn is
	 * dropped, and its sender resends it whole. */
	if (ahead && qf == s->big_qf) {
		s->frag_stale++;
		return;
	}
	switch (proto_hold_on_request(&s->hold, peer, qudp->source, qh->method,
				      ntohs(qh->seq), ahead,
				      ahead ? kern_expected(s, peer, qudp->source, qh->method) : -1,
				      qf, qlen, now, &hs)) {
	case PROTO_HOLD_EXEC:
		break;
	case PROTO_HOLD_HELD:
		/* Told at once, so that the client takes it out of its window:
		 * the calls held behind a gap must not stall other methods. */
		/* fall through */
	case PROTO_HOLD_PENDING:
		send_ack(s, qf, FLATRPC_ACK_PENDING);
		return;
	default:
		return;
	}
	while ((f = proto_hold_skipped(&s->hold, hs, &flen)))
		execute(s, fn, ctx, f, now);
	execute(s, fn, ctx, qf, now);
	while ((f = proto_hold_next(&s->hold, hs, &flen)))
		execute(s, fn, ctx, f, now);
	if (proto_hold_sync(hs, &exp))
		kern_advance(s, peer, qudp->source, qh->method, exp);
}

/* Plain stores into the mmapped map: XDP reads them per request. */
static void publish_backlog(struct flatrpc_sock *s)
{
	if (s->prio.total > s->backlog_max)
		s->backlog_max = s->prio.total;
	/* One thread drains every queue: each queue's XDP weighs the whole
	 * backlog, which is what a new request waits behind. */
	if (s->load)
		for (uint32_t i = 0; i < s->n_q; i++)
			__atomic_store_n(&s->load[i].backlog, s->prio.total, __ATOMIC_RELAXED);
}

/*
 * Moves one received frame into the priority queues. A copy of a reliable
 * request whose original still waits there gets ACK PENDING instead of a
 * place. Returns 1 when the frame is done with (back to the fill ring at
 * the next flush).
 */
static uint32_t drain_frame(struct flatrpc_sock *s, uint32_t qi, const struct rx_frame *d)
{
	struct sock_q *q = &s->q[qi];
	uint8_t *f = fx_data(q->x, d->addr);
	const struct flatrpc_hdr *h = parse(s, f, d->len);
	struct proto_prio_item it = { .addr = d->addr, .len = d->len, .queue = (uint16_t)qi };
	unsigned int level = 0;

	s->rx++;
	q->rx++;
	if (h && h->method < s->svc->n_methods) {
		const struct flatrpc_method_desc *md = &s->svc->methods[h->method];

		level = md->priority;
		it.peer = frame_addr(f, false);
		it.port = frame_udp(f)->source;
		it.rpc_id = ntohl(h->rpc_id);
		/* A fragment can fill a gap in a queued message. */
		if ((md->flags & FLATRPC_M_RELIABLE) && !(h->flags & FLATRPC_F_FRAG) &&
		    (h->flags & (FLATRPC_F_RETX | FLATRPC_F_DUP)) &&
		    proto_prio_has(&s->prio, it.peer, it.port, it.rpc_id)) {
			send_ack(s, f, FLATRPC_ACK_PENDING);
			q->done[q->n_done++] = d->addr;
			return 1;
		}
	}
	/* The queues hold every RX frame, so this cannot fail; if it
	 * did, the request is dropped like a lost one. */
	if (proto_prio_push(&s->prio, level, &it)) {
		q->done[q->n_done++] = d->addr;
		return 1;
	}
	return 0;
}

static uint32_t drain_rx_q(struct flatrpc_sock *s, uint32_t qi)
{
	/* what the ring and the inbox hold now, not what keeps coming */
	uint32_t rounds = (FX_RING_SIZE + INBOX_CAP) / RX_BATCH, added = 0, got;
	struct rx_frame fr[RX_BATCH];

	s->cur = s->q[qi].x;
	while (rounds-- && (got = rx_take(s, qi, fr, RX_BATCH)))
		for (uint32_t i = 0; i < got; i++)
			added += drain_frame(s, qi, &fr[i]);
	return added;
}

/* Every queue into the one set of priority queues, so that levels and
 * the response cache hold across queues. Returns the frames now done. */
static uint32_t drain_rx(struct flatrpc_sock *s, uint32_t n_done)
{
	for (uint32_t i = 0; i < s->n_q; i++)
		n_done += drain_rx_q(s, i);
	return n_done;
}

/* The serve loop's threshold, for every queue it drains. */
static void load_arm(struct flatrpc_sock *s)
{
	if (!s->load)
		return;
	for (uint32_t i = 0; i < s->n_q; i++) {
		s->load[i].backlog = 0;
		__atomic_store_n(&s->load[i].busy_at, s->busy_at, __ATOMIC_RELEASE);
	}
}

static int serve_init(struct flatrpc_sock *s)
{
	int err;

	if (!s->srv_ready) {
		struct proto_srv_cfg cfg = { .frame_size = FX_FRAME_SIZE };

		err = proto_srv_init(&s->srv, &cfg);
		if (err)
			return err;
		s->srv_ready = 1;
	}
	if (!s->hold_ready) {
		/* Without it hold-forever still works, by retransmission. */
		s->hold_ready = proto_hold_init(&s->hold, FX_FRAME_SIZE) == 0;
	}
	if (!s->prio_ready) {
		/* room for every RX frame of every queue */
		err = proto_prio_init(&s->prio, FX_RX_FRAMES * s->n_q);
		if (err)
			return err;
		s->prio_ready = 1;
	}
	/* a queue's frames are in its done list at most once each */
	for (uint32_t i = 0; i < s->n_q; i++) {
		if (!s->q[i].done && !(s->q[i].done = malloc(FX_RX_FRAMES * sizeof(uint64_t))))
			return -ENOMEM;
	}
	load_arm(s);
	return 0;
}

/* Sends the answers so far and gives their frames back, with one kick for
 * the lot: in copy mode each kick is a sendto syscall. */
static uint32_t serve_flush(struct flatrpc_sock *s)
{
	for (uint32_t i = 0; i < s->n_q; i++) {
		struct sock_q *q = &s->q[i];

		fx_kick(q->x);
		fx_rx_release(q->x, q->done, q->n_done);
		q->n_done = 0;
		fx_reap(q->x);
	}
	return 0;
}

/*
 * An --unload under a running server takes away the xsks map its socket is
 * registered in, and a later load brings a new one (and new keys, backlog
 * slot and client program maps) that knows nothing of it: the server would
 * go deaf for good. Say so once, and once a load of this service appears,
 * register in it and map its pins again, so that it serves again without a
 * restart.
 */
static void watch_load(struct flatrpc_sock *s, uint64_t now)
{
	struct flatrpc_sock_opts o = { .ifname = s->x->ifname, .queue = s->x->queue,
				       .bpffs = s->x->bpffs[0] ? s->x->bpffs : NULL };
	struct flatrpc_keys *old_keys = s->keys;
	size_t old_keys_len = s->keys_map_len;
	uint32_t old_tag_len = s->tag_len;
	int r = fx_watch(&s->q[0].reg, s->x, s->svc->spec_hash, now), err;

	/* Each queue registers itself at its index; the first one speaks for
	 * all, the pins being the same. */
	for (uint32_t i = 1; i < s->n_q; i++) {
		int ri = fx_watch(&s->q[i].reg, s->q[i].x, s->svc->spec_hash, now);

		if (ri < 0)
			fprintf(stderr, "flatrpc: cannot register queue %u with the new load on %s: %s\n",
				s->q[i].x->queue, s->x->ifname, flatrpc_strerror(ri));
	}

	if (r == FX_LOAD_GONE)
		fprintf(stderr, "flatrpc: FlatRPC was unloaded from %s; waiting for a new load\n",
			s->x->ifname);
	if (r < 0)
		fprintf(stderr, "flatrpc: cannot register with the new load on %s: %s\n",
			s->x->ifname, flatrpc_strerror(r));
	if (r != FX_LOAD_NEW)
		return;
	if (s->load_map)
		munmap(s->load_map, s->load_map_len);
	s->load_map = NULL;
	s->load = NULL;
	load_map_open(s, &o);
	obs_map_close(s);
	obs_map_open(s, &o);
	if (s->prio_ready)
		load_arm(s);
	/* the old keys stay mapped until the new ones are: tag_frame reads them */
	s->tag_len = 0;
	err = keys_map_open(s, &o);
	if (!s->keys) {
		s->keys = old_keys;
		s->keys_map_len = old_keys_len;
		s->tag_len = old_tag_len;
	} else if (old_keys) {
		munmap((void *)old_keys, old_keys_len);
	}
	if (!err && (s->client_prog_fd >= 0 || s->canf)) {
		client_prog_close(s);
		err = client_prog_open(s, &o);
	}
	if (err)
		fprintf(stderr, "flatrpc: the new load on %s is not usable: %s\n", s->x->ifname,
			flatrpc_strerror(err));
	else
		fprintf(stderr, "flatrpc: FlatRPC is loaded on %s again; serving\n", s->x->ifname);
}

/* One turn of one serving socket: take in what arrived, then run at most
 * one request. Returns whether it ran one. */
static bool serve_step(struct flatrpc_sock *s, uint64_t now)
{
	struct proto_prio_item it;
	struct sock_q *q;
	unsigned int level;

	watch_load(s, now);
	if (s->serve_n_done && now - s->serve_oldest >= SERVE_FLUSH_NS)
		s->serve_n_done = serve_flush(s);
	/* Before every request: what arrived meanwhile may outrank what is
	 * queued. Reading the ring's producer is no syscall. */
	if (!s->serve_n_done)
		s->serve_oldest = now;
	s->serve_n_done = drain_rx(s, s->serve_n_done);
	publish_backlog(s);
	if (s->frag_ready)
		frag_rx_expire(&s->frag, now);
	if (!proto_prio_pop(&s->prio, &it, &level)) {
		s->serve_n_done = serve_flush(s);
		return false;
	}
	q = &s->q[it.queue];
	s->cur = q->x;
	serve_one(s, s->serve_fn, s->serve_ctx, fx_data(q->x, it.addr), it.len, now);
	/* a handler may have sent through the first queue meanwhile */
	s->cur = s->x;
	q->done[q->n_done++] = it.addr;
	if (++s->serve_n_done >= RX_BATCH)
		s->serve_n_done = serve_flush(s);
	return true;
}

FLATRPC_EXPORT
int flatrpc_serve_also(struct flatrpc_sock *s, flatrpc_handler_fn fn, void *ctx,
		       void (*release)(void *ctx))
{
	int err = fn ? serve_init(s) : 0;

	if (err)
		return err;
	if (s->serve_release)
		s->serve_release(s->serve_ctx);
	s->serve_fn = fn;
	s->serve_ctx = ctx;
	s->serve_release = fn ? release : NULL;
	return 0;
}

/*
 * Serves s, and every socket that shares its AF_XDP sockets and has a
 * handler of its own (flatrpc_serve_also), in turns of one request each:
 * one thread for all the services of a process on this interface.
 */
FLATRPC_EXPORT
int flatrpc_serve(struct flatrpc_sock *s, flatrpc_handler_fn fn, void *ctx,
		  volatile int *stop)
{
	flatrpc_handler_fn old_fn = s->serve_fn;
	void *old_ctx = s->serve_ctx;
	struct sock_rings *r = s->rings;
	int err;

	err = serve_init(s);
	if (err)
		return err;
	s->serve_fn = fn;
	s->serve_ctx = ctx;
	release_held(s);
	while (!stop || !*stop) {
		uint64_t now = mono_ns();
		bool ran = false, waiting = false;

		/* a handler may open or delete sockets: n_members is read anew */
		for (uint32_t m = 0; m < r->n_members; m++) {
			struct flatrpc_sock *o = r->member[m];

			if (!o->serve_fn)
				continue;
			ran |= serve_step(o, now);
			waiting |= inbox_waiting(o);
		}
		if (ran || waiting || s->mode != FLATRPC_POLL_BLOCKING)
			continue;
		struct pollfd pfd = { .fd = r->wait_fd, .events = POLLIN };

		if (poll(&pfd, 1, SERVE_IDLE_MS) < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
	}
	for (uint32_t m = 0; m < r->n_members; m++)
		if (r->member[m]->serve_fn)
			r->member[m]->serve_n_done = serve_flush(r->member[m]);
	s->serve_fn = old_fn;
	s->serve_ctx = old_ctx;
	return err;
}

/* ------------------------------------------------------------ names, stats */

FLATRPC_EXPORT
const char *flatrpc_strerror(int err)
{
	switch (err) {
	case 0:			return "success";
	case FLATRPC_E_TIMEOUT:	return "timeout: no response after all attempts";
	case FLATRPC_E_ANF:	return "denied by an ANF";
	case FLATRPC_E_REMOTE:	return "the server answered with an error";
	case FLATRPC_E_PROTO:	return "malformed message";
	case FLATRPC_E_NOTLOADED: return "no flatrpc-load pins for the interface";
	case FLATRPC_E_SPEC:	return "pinned spec differs from the service";
	case FLATRPC_E_NOROUTE:	return "no route or neighbour to the peer";
	case FLATRPC_E_BUSY:	return "too many calls outstanding";
	case FLATRPC_E_TOOBIG:	return "message too large: over FLATRPC_MSG_MAX, or over the buffer given";
	case FLATRPC_E_OVERLOADED: return "the server was overloaded and refused the call";
	case FLATRPC_E_NOKEY:	return "the service authenticates its messages and no key is loaded "
				       "(flatrpc-load --key FILE)";
	}
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}

FLATRPC_EXPORT
const char *flatrpc_status_str(const struct flatrpc_service_desc *svc, uint8_t status)
{
	switch (status) {
	case FLATRPC_ST_OK:		return "ok";
	case FLATRPC_ST_NO_METHOD:	return "no_method";
	case FLATRPC_ST_BAD_REQUEST:	return "bad_request";
	case FLATRPC_ST_APP:		return "app_error";
	case FLATRPC_ST_STATE_FULL:	return "state_full";
	}
	if (status <= FLATRPC_MAX_ERRORS) {
		if (svc && svc->errors && status <= svc->n_errors && svc->errors[status - 1])
			return svc->errors[status - 1];
		return "anf_error";
	}
	return "remote_error";
}

static void sock_stats(const struct flatrpc_sock *s, struct flatrpc_sock_stats *st);

FLATRPC_EXPORT
void flatrpc_sock_stats_sized(const struct flatrpc_sock *s, struct flatrpc_sock_stats *st,
			      size_t size)
{
	struct flatrpc_sock_stats all;

	sock_stats(s, &all);
	memset(st, 0, size);
	memcpy(st, &all, size < sizeof(all) ? size : sizeof(all));
}

static void sock_stats(const struct flatrpc_sock *s, struct flatrpc_sock_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->tx = s->tx;
	st->rx = s->rx;
	st->retransmits = s->cli.retransmits;
	st->timeouts = s->cli.timeouts;
	st->stale = s->cli.stale;
	st->foreign = s->cli.foreign;
	st->epoch_resends = s->cli.epoch_acks;
	if (s->srv_ready) {
		st->dup_answered = s->srv.dup_answered;
		st->dup_dropped = s->srv.dup_dropped;
		st->epoch_rotations = s->srv.rotations;
	}
	if (s->hold_ready) {
		st->held = s->hold.held;
		st->held_dropped = s->hold.held_dup + s->hold.overflow + s->hold.late +
				   s->hold.evicted;
	}
	st->busy_rx = s->cli.busy;
	st->ack_rx = s->cli.acks;
	st->cwnd_cuts = s->cli.cwnd_cuts;
	st->waited = s->cli.waited;
	st->ack_tx = s->ack_tx;
	st->backlog_max = s->backlog_max;
	if (s->frag_ready) {
		st->reassembled = s->frag.completed;
		st->frag_dropped = s->frag.dup + s->frag.bad + s->frag.no_room + s->frag_stale;
		st->frag_expired = s->frag.expired + s->frag.evicted;
	}
	if (s->prio_ready) {
		for (unsigned int l = 0; l < FLATRPC_PRIO_LEVELS; l++) {
			st->prio_overtaken_max[l] = s->prio.overtaken_max[l];
			st->prio_bypassed[l] = s->prio.bypassed[l];
		}
	}
	st->queue_first = s->x->queue;
	st->queues = s->n_q;
	st->inbox_dropped = s->inbox_dropped;
	for (uint32_t i = 0; i < s->n_q; i++) {
		struct xdp_statistics xs = { 0 };
		socklen_t len = sizeof(xs);

		st->queue_rx[s->q[i].x->queue] = s->q[i].rx;
		if (s->q[i].x->fd >= 0 &&
		    !getsockopt(s->q[i].x->fd, SOL_XDP, XDP_STATISTICS, &xs, &len)) {
			st->xsk_rx_dropped += xs.rx_dropped;
			st->xsk_rx_ring_full += xs.rx_ring_full;
			st->xsk_fill_ring_empty += xs.rx_fill_ring_empty_descs;
		}
	}
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * xdp-echo - a raw AF_XDP UDP echo, the latency floor FlatRPC is held to
 * (the benchmark asks for FlatRPC within 1.20x of it). No RPC layer, no
 * store, no neighbour resolution: the server swaps addresses and sends the
 * frame back from the same UMEM slot; the client is told every address.
 *
 *   xdp-echo server --iface IF --port P [--busy-poll] [--bpf-obj FILE]
 *   xdp-echo client --iface IF --server IP --server-mac MAC --src-ip IP --port P
 *                   [--busy-poll] [--count N] [--outstanding K] [--warmup W]
 *                   [--server-pids PID[,PID...]] [--bpf-obj FILE]
 * Each side loads its own XDP program in skb mode (faster than drv on veth,
 * docs/facts.md) and detaches it on exit. The client prints kv-bench's line, with
 * proto=xdp-echo; the body is a fixed 99 bytes each way.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#include "cpu_acct.h"
#include "flatrpc_csum.h"

#define NUM_FRAMES	4096
#define FRAME_SIZE	2048
#define RING_SIZE	2048
/* The lowest frames feed the fill ring, which is kept half empty: the kernel
 * may publish its fill-ring consumer index later than the RX descriptors
 * that used the entries (seen on 6.18 in busy mode), and a full ring would
 * then have no room to take a received frame back. */
#define RX_FRAMES	(RING_SIZE / 2)
#define BODY		99
#define HDRS		(sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr))
#define MAX_OUTSTANDING	64
#define BATCH		64

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = 1; }

struct xe {
	int		ifindex, busy, attached, fd;
	struct bpf_object *obj;
	void		*area;
	struct xsk_umem	*umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fq, tx;
	struct xsk_ring_cons cq, rx;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_self_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void xe_close(struct xe *x)
{
	if (x->attached)
		bpf_xdp_detach(x->ifindex, XDP_FLAGS_SKB_MODE, NULL);
	if (x->xsk)
		xsk_socket__delete(x->xsk);
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->area)
		munmap(x->area, (size_t)NUM_FRAMES * FRAME_SIZE);
	bpf_object__close(x->obj);
}

static int xe_open(struct xe *x, const char *ifname, const char *obj_path, uint16_t port)
{
	struct xsk_umem_config ucfg = { .fill_size = RING_SIZE, .comp_size = RING_SIZE,
					.frame_size = FRAME_SIZE };
	/* our own program, not libxdp's default one: the echo must share the
	 * link with ARP and ping, which libxdp's program would swallow */
	struct xsk_socket_config scfg = { .rx_size = RING_SIZE, .tx_size = RING_SIZE,
					  .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
					  .xdp_flags = XDP_FLAGS_SKB_MODE, .bind_flags = XDP_COPY };
	struct bpf_program *prog;
	__u32 key = 0, val = port, idx;
	int err;

	x->ifindex = (int)if_nametoindex(ifname);
	if (!x->ifindex) {
		fprintf(stderr, "xdp-echo: no interface %s\n", ifname);
		return -1;
	}
	x->obj = bpf_object__open_file(obj_path, NULL);
	if (!x->obj || libbpf_get_error(x->obj)) {
		x->obj = NULL;
		fprintf(stderr, "xdp-echo: cannot open %s\n", obj_path);
		return -1;
	}
	if (bpf_object__load(x->obj)) {
		fprintf(stderr, "xdp-echo: cannot load %s\n", obj_path);
		return -1;
	}
	prog = bpf_object__find_program_by_name(x->obj, "xdp_echo");
	err = bpf_map_update_elem(bpf_object__find_map_fd_by_name(x->obj, "cfg"), &key, &val, 0);
	if (!prog || err) {
		fprintf(stderr, "xdp-echo: bad object %s\n", obj_path);
		return -1;
	}
	err = bpf_xdp_attach(x->ifindex, bpf_program__fd(prog),
			     XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (err) {
		fprintf(stderr, "xdp-echo: attach to %s: %s\n", ifname, strerror(-err));
		return -1;
	}
	x->attached = 1;
	x->area = mmap(NULL, (size_t)NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->area == MAP_FAILED) {
		perror("xdp-echo: UMEM");
		x->area = NULL;
		return -1;
	}
	/* the previous run's socket on this queue is released asynchronously
	 * (EBUSY for a moment, docs/facts.md); a failed bind spoils the UMEM's rings */
	for (int attempt = 0; attempt < 50; attempt++) {
		err = xsk_umem__create(&x->umem, x->area, (uint64_t)NUM_FRAMES * FRAME_SIZE,
				       &x->fq, &x->cq, &ucfg);
		if (err)
			break;
		err = xsk_socket__create(&x->xsk, ifname, 0, x->umem, &x->rx, &x->tx, &scfg);
		if (!err)
			break;
		xsk_umem__delete(x->umem);
		x->umem = NULL;
		if (err != -EBUSY)
			break;
		usleep(20000);
	}
	if (err) {
		fprintf(stderr, "xdp-echo: AF_XDP socket on %s: %s\n", ifname, strerror(-err));
		return -1;
	}
	x->fd = xsk_socket__fd(x->xsk);
	if (xsk_ring_prod__reserve(&x->fq, RX_FRAMES, &idx) != RX_FRAMES) {
		fprintf(stderr, "xdp-echo: the new fill ring has no room for %u frames\n", RX_FRAMES);
		return -1;
	}
	for (uint32_t i = 0; i < RX_FRAMES; i++)
		*xsk_ring_prod__fill_addr(&x->fq, idx + i) = (uint64_t)i * FRAME_SIZE;
	xsk_ring_prod__submit(&x->fq, RX_FRAMES);
	if (bpf_map_update_elem(bpf_object__find_map_fd_by_name(x->obj, "xsks"), &key, &x->fd, 0)) {
		perror("xdp-echo: xsks");
		return -1;
	}
	return 0;
}

static void kick(struct xe *x)
{
	/* copy mode sends nothing until the kernel is told to */
	if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 &&
	    errno != EAGAIN && errno != EBUSY && errno != ENOBUFS && errno != EINTR)
		perror("xdp-echo: sendto");
}

/* Blocking mode sleeps in poll(2) until the ring has something; busy-poll
 * spins on the ring and never enters the kernel for RX. */
static unsigned rx_wait(struct xe *x, unsigned max, uint32_t *idx)
{
	unsigned n = xsk_ring_cons__peek(&x->rx, max, idx);

	if (n || x->busy)
		return n;
	struct pollfd p = { .fd = x->fd, .events = POLLIN };

	if (poll(&p, 1, 100) <= 0)
		return 0;
	return xsk_ring_cons__peek(&x->rx, max, idx);
}

static void swap_addrs(uint8_t *f)
{
	struct ethhdr *eth = (struct ethhdr *)f;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	uint8_t mac[ETH_ALEN];
	uint32_t a = ip->saddr;
	uint16_t p = udp->source;

	memcpy(mac, eth->h_source, ETH_ALEN);
	memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	memcpy(eth->h_dest, mac, ETH_ALEN);
	ip->saddr = ip->daddr;
	ip->daddr = a;
	udp->source = udp->dest;
	udp->dest = p;
}

static int server(struct xe *x)
{
	while (!stop) {
		uint32_t ri, ti, ci, fi;
		unsigned n = rx_wait(x, BATCH, &ri);

		/* frames the last batch sent go back to the fill ring */
		unsigned c = xsk_ring_cons__peek(&x->cq, RING_SIZE, &ci);

		if (c && xsk_ring_prod__reserve(&x->fq, c, &fi) == c) {
			for (unsigned i = 0; i < c; i++)
				*xsk_ring_prod__fill_addr(&x->fq, fi + i) =
					*xsk_ring_cons__comp_addr(&x->cq, ci + i);
			xsk_ring_prod__submit(&x->fq, c);
			xsk_ring_cons__release(&x->cq, c);
		}
		if (!n)
			continue;
		while (xsk_ring_prod__reserve(&x->tx, n, &ti) != n)
			kick(x);
		for (unsigned i = 0; i < n; i++) {
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, ri + i);
			struct xdp_desc *t = xsk_ring_prod__tx_desc(&x->tx, ti + i);

			if (d->len >= HDRS)
				swap_addrs(xsk_umem__get_data(x->area, d->addr));
			t->addr = d->addr;
			t->len = d->len;
		}
		xsk_ring_cons__release(&x->rx, n);
		xsk_ring_prod__submit(&x->tx, n);
		kick(x);
	}
	return 0;
}

struct run {
	unsigned long	count, warmup, n_lat, errors;
	unsigned	outstanding;
	uint64_t	*lat, t_start, t_end, cpu0_client;
	struct cpu_acct	server, server0;
};

static void record(struct run *r, unsigned long seq, uint64_t sent, uint64_t now)
{
	if (seq == r->warmup) {
		r->cpu0_client = cpu_self_ns();
		r->server0 = r->server;
		cpu_acct_read(&r->server0);
		r->t_start = sent;
	}
	if (seq >= r->warmup)
		r->lat[r->n_lat++] = now - sent;
}

static int client(struct xe *x, struct run *r, const uint8_t *dmac, struct in_addr dst,
		  struct in_addr src, uint16_t port)
{
	uint8_t tmpl[HDRS];
	struct ethhdr *eth = (struct ethhdr *)tmpl;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	struct ifreq ifr = { 0 };
	uint64_t free_tx[NUM_FRAMES - RX_FRAMES], sent_at[MAX_OUTSTANDING];
	unsigned long seq_of[MAX_OUTSTANDING];
	unsigned long total = r->count + r->warmup, sent = 0, done = 0;
	unsigned n_free = 0, inflight = 0;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	if_indextoname((unsigned)x->ifindex, ifr.ifr_name);
	if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr)) {
		perror("xdp-echo: own MAC");
		return 1;
	}
	close(s);
	memcpy(eth->h_dest, dmac, ETH_ALEN);
	memcpy(eth->h_source, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	*ip = (struct iphdr){ .version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_UDP,
			      .tot_len = htons(sizeof(*ip) + sizeof(*udp) + BODY),
			      .saddr = src.s_addr, .daddr = dst.s_addr };
	ip->check = fr_csum_ip(ip);
	/* UDP checksum 0: none, as IPv4 allows */
	*udp = (struct udphdr){ .source = htons(port), .dest = htons(port),
				.len = htons(sizeof(*udp) + BODY) };
	for (uint32_t i = RX_FRAMES; i < NUM_FRAMES; i++)
		free_tx[n_free++] = (uint64_t)i * FRAME_SIZE;
	memset(seq_of, 0xff, sizeof(seq_of));

	while (done < total && !stop) {
		uint32_t idx, ci, fi;
		unsigned c = xsk_ring_cons__peek(&x->cq, RING_SIZE, &ci);

		for (unsigned i = 0; i < c; i++)
			free_tx[n_free++] = *xsk_ring_cons__comp_addr(&x->cq, ci + i);
		xsk_ring_cons__release(&x->cq, c);

		unsigned want = r->outstanding - inflight;

		if (want > total - sent)
			want = (unsigned)(total - sent);
		if (want > n_free)
			want = n_free;
		if (want && xsk_ring_prod__reserve(&x->tx, want, &idx) == want) {
			for (unsigned i = 0; i < want; i++, sent++) {
				struct xdp_desc *d = xsk_ring_prod__tx_desc(&x->tx, idx + i);
				uint8_t *f;
				unsigned slot = (unsigned)(sent % MAX_OUTSTANDING);

				d->addr = free_tx[--n_free];
				d->len = HDRS + BODY;
				f = xsk_umem__get_data(x->area, d->addr);
				memcpy(f, tmpl, HDRS);
				memcpy(f + HDRS, &sent, sizeof(sent));
				memset(f + HDRS + sizeof(sent), 'v', BODY - sizeof(sent));
				seq_of[slot] = sent;
				sent_at[slot] = now_ns();
			}
			xsk_ring_prod__submit(&x->tx, want);
			inflight += want;
			kick(x);
		}

		unsigned n = rx_wait(x, BATCH, &idx);

		if (!n)
			continue;
		uint64_t t = now_ns();

		if (xsk_ring_prod__reserve(&x->fq, n, &fi) != n) {
			/* half the ring spare (RX_FRAMES): should not happen,
			 * and a benchmark that stops says why */
			fprintf(stderr, "xdp-echo: no room in the fill ring for %u frames\n", n);
			return 1;
		}
		for (unsigned i = 0; i < n; i++) {
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);
			const uint8_t *f = xsk_umem__get_data(x->area, d->addr);
			unsigned long seq;

			*xsk_ring_prod__fill_addr(&x->fq, fi + i) = d->addr;
			if (d->len < HDRS + sizeof(seq)) {
				r->errors++;
				continue;
			}
			memcpy(&seq, f + HDRS, sizeof(seq));
			if (seq_of[seq % MAX_OUTSTANDING] != seq) {
				r->errors++;
				continue;
			}
			seq_of[seq % MAX_OUTSTANDING] = ULONG_MAX;
			record(r, seq, sent_at[seq % MAX_OUTSTANDING], t);
			done++;
			inflight--;
		}
		xsk_ring_prod__submit(&x->fq, n);
		xsk_ring_cons__release(&x->rx, n);
	}
	r->t_end = now_ns();
	if (done < total)
		fprintf(stderr, "xdp-echo: stopped by a signal after %lu of %lu answers\n",
			done, total);
	return done < total;
}

static int parse_mac(const char *s, uint8_t *m)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4],
		      &m[5]) == 6 ? 0 : -1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xdp-echo server --iface IF --port P [--busy-poll] [--bpf-obj FILE]\n"
		"       xdp-echo client --iface IF --server IP --server-mac MAC --src-ip IP --port P\n"
		"                       [--busy-poll] [--count N] [--outstanding K] [--warmup W]\n"
		"                       [--server-pids PID[,PID...]] [--bpf-obj FILE]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "port", required_argument, NULL, 'P' },
		{ "server", required_argument, NULL, 'S' },
		{ "server-mac", required_argument, NULL, 'm' },
		{ "src-ip", required_argument, NULL, 'a' },
		{ "busy-poll", no_argument, NULL, 'b' },
		{ "count", required_argument, NULL, 'c' },
		{ "outstanding", required_argument, NULL, 'o' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "server-pids", required_argument, NULL, 's' },
		{ "bpf-obj", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct run r = { .count = 20000, .warmup = 2000, .outstanding = 1 };
	const char *ifname = NULL, *server_ip = NULL, *mac_s = NULL, *src_s = NULL, *obj = NULL;
	char objbuf[PATH_MAX];
	struct in_addr dst, src;
	uint8_t dmac[ETH_ALEN];
	struct xe x = { 0 };
	uint16_t port = 0;
	int c, rc, is_client;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "i:P:S:m:a:bc:o:w:s:B:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': ifname = optarg; break;
		case 'P': port = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'S': server_ip = optarg; break;
		case 'm': mac_s = optarg; break;
		case 'a': src_s = optarg; break;
		case 'b': x.busy = 1; break;
		case 'c': r.count = strtoul(optarg, NULL, 0); break;
		case 'o': r.outstanding = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'w': r.warmup = strtoul(optarg, NULL, 0); break;
		case 's': cpu_acct_init(&r.server, optarg); break;
		case 'B': obj = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	is_client = strcmp(argv[1], "client") == 0;
	if ((!is_client && strcmp(argv[1], "server") != 0) || !ifname || !port ||
	    (is_client && (!server_ip || !mac_s || !src_s || !r.count || !r.outstanding ||
			   r.outstanding > MAX_OUTSTANDING || inet_pton(AF_INET, server_ip, &dst) != 1 ||
			   inet_pton(AF_INET, src_s, &src) != 1 || parse_mac(mac_s, dmac)))) {
		usage(stderr);
		return 2;
	}
	if (!obj) {
		/* build/xdp-echo finds build/bench/xdp_echo.bpf.o */
		ssize_t n = readlink("/proc/self/exe", objbuf, sizeof(objbuf) - 32);

		if (n <= 0) {
			perror("xdp-echo: /proc/self/exe");
			return 1;
		}
		objbuf[n] = 0;
		strcpy(strrchr(objbuf, '/'), "/bench/xdp_echo.bpf.o");
		obj = objbuf;
	}
	/* no SA_RESTART: poll must return so the program is detached */
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (is_client) {
		r.lat = calloc(r.count, sizeof(*r.lat));
		if (!r.lat) {
			perror("xdp-echo: latency array");
			return 1;
		}
	}
	if (xe_open(&x, ifname, obj, port)) {
		xe_close(&x);
		return 1;
	}
	rc = is_client ? client(&x, &r, dmac, dst, src, port) : server(&x);
	xe_close(&x);
	if (!is_client || rc)
		return rc;

	uint64_t cpu_client = cpu_self_ns() - r.cpu0_client;

	cpu_acct_read(&r.server);
	uint64_t cpu_server = cpu_acct_delta(&r.server0, &r.server);
	double secs = (double)(r.t_end - r.t_start) / 1e9;

	qsort(r.lat, r.n_lat, sizeof(*r.lat), cmp_u64);
	printf("proto=xdp-echo mode=%s outstanding=%u count=%lu p50_us=%.2f p99_us=%.2f rate_per_s=%.0f errors=%lu"
	       " client_cpu_us_per_rpc=%.2f server_cpu_us_per_rpc=%.2f body_bytes_per_rpc=%.1f\n",
	       x.busy ? "busy" : "blocking", r.outstanding, r.n_lat,
	       r.n_lat ? r.lat[r.n_lat / 2] / 1e3 : 0.0,
	       r.n_lat ? r.lat[(r.n_lat * 99) / 100] / 1e3 : 0.0,
	       secs > 0 ? (double)r.n_lat / secs : 0.0, r.errors,
	       r.n_lat ? cpu_client / 1e3 / (double)r.n_lat : 0.0,
	       r.n_lat ? cpu_server / 1e3 / (double)r.n_lat : 0.0, 2.0 * BODY);
	/* A stray frame on the queue is not an echo of ours: it is left out of
	 * the figures, said, and does not void the run. */
	if (r.errors)
		fprintf(stderr, "xdp-echo: %lu received frames were no answer to an outstanding "
			"request (left out)\n", r.errors);
	return 0;
}

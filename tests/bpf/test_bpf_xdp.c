// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_bpf_xdp.c - table-driven BPF_PROG_TEST_RUN over the kv object.
 *
 * Each row is one frame: how to build it, the verdict we expect, the drop
 * reason that must be counted (and no other), the per-method counter that
 * must move, and an optional check of the output frame or of map state.
 * Rows run in table order on one loaded object, so the in-order rows build
 * on each other. Nothing is pinned: the maps live only as long as the test.
 * Needs root (BPF_PROG_LOAD).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <endian.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flatrpc_abi.h"
#include "kv.abi.h"
#include "flatrpc.skel.h"
/* init.h is typed by the loader's entry struct; seeding through it keeps the
 * test's firewall exactly what the spec's init() says. */
#include "desc.h"
#include "init.h"
#include "fixture.h"

#define PORT		FLATRPC_DEFAULT_PORT
#define CLIENT_PORT	40000
#define SID_KEVIN	0x1111
#define SID_PETER	0x2222
#define SID_ANON	0x3333
#define SID_SET		0x4444

static struct flatrpc_bpf *skel;
static int ncpus;

/* ---- bodies, in the generated layout ------------------------------------ */

enum body {
	B_NONE,
	B_GET_KEVIN,
	B_GET_PETER,
	B_GET_ANON,
	B_SET_KEVIN,
	B_SET_PETER,
	B_SHORT,	/* less than the get request's fixed part */
	B_SET_RESP,
};

/* The variable part is `le16 length + bytes` per field, in order. */
static size_t put_var(uint8_t *p, const char *s)
{
	uint16_t n = strlen(s);

	p[0] = n & 0xff;
	p[1] = n >> 8;
	memcpy(p + 2, s, n);
	return 2 + n;
}

/* The metadata every kv request carries in its fixed part. */
#define PUT_FIXED(type, p, sid, user) ({				\
	type f;								\
	memset(&f, 0, sizeof(f));					\
	f.session_id = htole64(sid);					\
	strncpy(f.username, (user), sizeof(f.username));		\
	memcpy((p), &f, sizeof(f));					\
	sizeof(f);							\
})

static size_t make_body(enum body b, uint8_t *p)
{
	size_t n = 0;

	switch (b) {
	case B_NONE:
		return 0;
	case B_GET_KEVIN:
		n = PUT_FIXED(struct kv_get_req_fixed, p, SID_KEVIN, "Kevin");
		return n + put_var(p + n, "colour");
	case B_GET_PETER:
		n = PUT_FIXED(struct kv_get_req_fixed, p, SID_PETER, "Peter");
		return n + put_var(p + n, "colour");
	case B_GET_ANON:
		n = PUT_FIXED(struct kv_get_req_fixed, p, SID_ANON, "Mallory");
		return n + put_var(p + n, "colour");
	case B_SET_KEVIN:
		n = PUT_FIXED(struct kv_set_req_fixed, p, SID_SET, "Kevin");
		n += put_var(p + n, "colour");
		return n + put_var(p + n, "blue");
	case B_SET_PETER:
		n = PUT_FIXED(struct kv_set_req_fixed, p, SID_PETER, "Peter");
		n += put_var(p + n, "colour");
		return n + put_var(p + n, "red");
	case B_SHORT:
		memset(p, 0, KV_GET_REQ_FIXED - 1);
		return KV_GET_REQ_FIXED - 1;
	case B_SET_RESP:
		p[0] = 1;
		return KV_SET_RESP_FIXED;
	}
	return 0;
}

/* ---- frames --------------------------------------------------------------- */

/* Zero means "the ordinary value" for every knob. */
#define EXT(type)	((type) + 1)	/* hop-by-hop options are type 0 */
struct frame {
	bool		arp;
	bool		response;	/* from the service port to the client */
	uint8_t		flags;		/* kind | FLATRPC_F_* */
	uint8_t		method;
	uint8_t		status;
	uint16_t	seq;
	enum body	body;
	uint8_t		magic;
	int		ip_len_delta, udp_len_delta, hdr_len_delta;
	unsigned	pad;		/* Ethernet padding after the IP packet */
	unsigned	cut;		/* keep only this many bytes */
	unsigned	ip_opt_words;
	uint16_t	frag_off;	/* host order, with IP_MF etc. */
	uint16_t	dport;		/* override, e.g. not FlatRPC */
	bool		udp_csum;
	uint16_t	frag_index;	/* with FLATRPC_F_FRAG in flags: the extension */
	uint16_t	frag_count;
	bool		ip6;		/* IPv6 instead of IPv4 */
	uint16_t	ip6_ext;	/* with ip6: one extension header, EXT(type) */
	uint32_t	daddr;		/* IPv4 destination override, host order */
	const struct in6_addr *daddr6;	/* IPv6 destination override */
	bool		eth_group;	/* an Ethernet group (multicast) destination */
};

static const uint8_t mac_client[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t mac_server[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x02 };
#define IP_CLIENT	0x0a000001
#define IP_SERVER	0x0a000002
/* The test's namespace (setup()): IP_CLIENT and IP_SERVER are on lo,
 * IP_LOCAL2 on the veth; IP_OTHER goes out by the default route, IP_HOLE
 * into a blackhole. */
#define IP_LOCAL2	0x0a000901
#define IP_OTHER	0x0a000505
#define IP_HOLE		0x0a000606

static const struct in6_addr ip6_client = { { { 0xfd, 0x77, [15] = 1 } } };
static const struct in6_addr ip6_server = { { { 0xfd, 0x77, [15] = 2 } } };
static const struct in6_addr ip6_other = { { { 0xfd, 0x77, [15] = 0x99 } } };
static const struct in6_addr ip6_mcast = { { { 0xff, 0x02, [15] = 1 } } };
static const struct in6_addr ip6_linklocal = { { { 0xfe, 0x80, [15] = 2 } } };


/* An IPv6 request (or response) with a correct UDP checksum, as the
 * library sends it; ip6_ext puts one 8-byte extension header before UDP. */
static size_t build6(const struct frame *f, uint8_t *buf)
{
	struct ethhdr *eth = (struct ethhdr *)buf;
	struct ipv6hdr *ip6 = (struct ipv6hdr *)(eth + 1);
	uint8_t *ext = (uint8_t *)(ip6 + 1);
	struct udphdr *udp = (struct udphdr *)(ext + (f->ip6_ext ? 8 : 0));
	struct flatrpc_hdr *h = (struct flatrpc_hdr *)(udp + 1);
	size_t body = make_body(f->body, (uint8_t *)(h + 1)), pl, len;

	eth->h_proto = htons(ETH_P_IPV6);
	h->magic = f->magic ? f->magic : FLATRPC_MAGIC;
	h->flags = f->flags;
	h->method = f->method;
	h->status = f->status;
	h->rpc_id = htonl(0xabcd0601);
	h->seq = htons(f->seq);
	h->len = htons(body + f->hdr_len_delta);
	udp->source = htons(f->response ? PORT : CLIENT_PORT);
	udp->dest = htons(f->dport ? f->dport : f->response ? CLIENT_PORT : PORT);
	udp->len = htons(sizeof(*udp) + sizeof(*h) + body);
	pl = (uint8_t *)(h + 1) + body - ext;
	ip6->version = 6;
	ip6->hop_limit = 64;
	ip6->payload_len = htons(pl + f->ip_len_delta);
	ip6->saddr = f->response ? ip6_server : ip6_client;
	ip6->daddr = f->response ? ip6_client : ip6_server;
	if (f->daddr6)
		ip6->daddr = *f->daddr6;
	if (f->ip6_ext) {
		ip6->nexthdr = f->ip6_ext - 1;
		ext[0] = IPPROTO_UDP;	/* next header; length 0: 8 bytes */
	} else {
		ip6->nexthdr = IPPROTO_UDP;
	}
	udp->check = fixture_udp6_csum(ip6, udp);
	len = sizeof(*eth) + sizeof(*ip6) + pl;
	if (f->cut)
		len = f->cut;
	return len;
}

static size_t build(const struct frame *f, uint8_t *buf)
{
	struct ethhdr *eth = (struct ethhdr *)buf;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	unsigned ihl = 20 + 4 * f->ip_opt_words;
	struct udphdr *udp = (struct udphdr *)((uint8_t *)ip + ihl);
	struct flatrpc_hdr *h = (struct flatrpc_hdr *)(udp + 1);
	size_t body, ip_len, len;

	memset(buf, 0, 1024);
	memcpy(eth->h_dest, f->response ? mac_client : mac_server, ETH_ALEN);
	memcpy(eth->h_source, f->response ? mac_server : mac_client, ETH_ALEN);
	if (f->eth_group)
		eth->h_dest[0] |= 1;
	if (f->arp) {
		eth->h_proto = htons(ETH_P_ARP);
		memset(eth + 1, 0xab, 28);
		return sizeof(*eth) + 28;
	}
	if (f->ip6)
		return build6(f, buf);
	eth->h_proto = htons(ETH_P_IP);

	if (f->flags & FLATRPC_F_FRAG) {
		struct flatrpc_frag *fx = (struct flatrpc_frag *)(h + 1);

		fx->index = htons(f->frag_index);
		fx->count = htons(f->frag_count);
		body = sizeof(*fx) + make_body(f->body, (uint8_t *)(fx + 1));
	} else {
		body = make_body(f->body, (uint8_t *)(h + 1));
	}
	h->magic = f->magic ? f->magic : FLATRPC_MAGIC;
	h->flags = f->flags;
	h->method = f->method;
	h->status = f->status;
	h->rpc_id = htonl(0xabcd0001);
	h->seq = htons(f->seq);
	h->len = htons(body + f->hdr_len_delta);

	udp->source = htons(f->response ? PORT : CLIENT_PORT);
	udp->dest = htons(f->dport ? f->dport : f->response ? CLIENT_PORT : PORT);
	udp->len = htons(sizeof(*udp) + sizeof(*h) + body + f->udp_len_delta);

	ip_len = ihl + sizeof(*udp) + sizeof(*h) + body;
	ip->version = 4;
	ip->ihl = ihl / 4;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->id = htons(7);
	ip->frag_off = htons(f->frag_off);
	ip->tot_len = htons(ip_len + f->ip_len_delta);
	ip->saddr = htonl(f->response ? IP_SERVER : IP_CLIENT);
	ip->daddr = htonl(f->daddr ? f->daddr : f->response ? IP_CLIENT : IP_SERVER);
	ip->check = fixture_ip_csum(ip);
	if (f->udp_csum)
		udp->check = fixture_udp_csum(ip, udp);

	len = sizeof(*eth) + ip_len + f->pad;
	if (f->cut)
		len = f->cut;
	return len;
}

/* ---- map readers ---------------------------------------------------------- */

static uint64_t drop_count(uint32_t reason)
{
	uint64_t v[ncpus], sum = 0;
	int i;

	assert_int_equal(bpf_map__lookup_elem(skel->maps.drops, &reason, sizeof(reason),
					      v, sizeof(v), 0), 0);
	for (i = 0; i < ncpus; i++)
		sum += v[i];
	return sum;
}

static void method_stats(uint32_t method, struct flatrpc_method_stats *out)
{
	struct flatrpc_method_stats v[ncpus];
	int i;

	memset(out, 0, sizeof(*out));
	assert_int_equal(bpf_map__lookup_elem(skel->maps.stats, &method, sizeof(method),
					      v, sizeof(v), 0), 0);
	for (i = 0; i < ncpus; i++) {
		out->rx_req += v[i].rx_req;
		out->rx_resp += v[i].rx_resp;
		out->anf_err += v[i].anf_err;
		out->dup += v[i].dup;
		out->tx_stack += v[i].tx_stack;
		out->busy += v[i].busy;
		out->rx_ack += v[i].rx_ack;
	}
}

static uint64_t sessions(uint64_t sid)
{
	return fixture_count(skel->maps.fr_session_tracker_sessions, &sid, sizeof(sid));
}

static int seq_expected(uint8_t method, uint16_t *expected)
{
	struct flatrpc_seq_key k = { .port = htons(CLIENT_PORT), .method = method };
	struct flatrpc_seq_state st;
	int err;

	FLATRPC_ADDR_V4MAPPED(k.addr, htonl(IP_CLIENT));
	err = bpf_map__lookup_elem(skel->maps.seqs, &k, sizeof(k), &st, sizeof(st), 0);
	if (!err)
		*expected = st.expected;
	return err;
}

/* ---- rows --------------------------------------------------------------- */

enum hook { XDP, TC };

struct row;
typedef void (*check_fn)(const struct row *r, const uint8_t *in, size_t in_len,
			 const uint8_t *out, size_t out_len, const void *before);

struct row {
	const char	*name;
	enum hook	hook;
	struct frame	in;
	int		verdict;
	enum flatrpc_drop reason;	/* NONE: no drop counter may move */
	int		stat_method;	/* -1: none */
	size_t		stat_field;	/* offsetof(struct flatrpc_method_stats, ...) */
	bool		unchanged;	/* output frame must equal the input */
	check_fn	check;
	uint64_t	(*probe)(void);	/* state read before the run, for check */
	bool		no_router;	/* run with forwarding off on lo */
	bool		on_veth;	/* arrives on fr-out, which never forwards */
};

#define STAT(m, f)	.stat_method = (m), .stat_field = offsetof(struct flatrpc_method_stats, f)
#define NO_STAT		.stat_method = -1

static uint64_t probe_kevin(void) { return sessions(SID_KEVIN); }
static uint64_t probe_peter(void) { return sessions(SID_PETER); }
static uint64_t probe_anon(void) { return sessions(SID_ANON); }
static uint64_t probe_set(void) { return sessions(SID_SET); }

/* What a frame that is dropped before the transport and the ANFs must
 * leave as it was: the sessions the ANFs count and the set stream. */
static uint64_t probe_world(void)
{
	uint16_t exp = 0;
	uint64_t stream = seq_expected(KV_SET, &exp) ? 0 : 0x10000 | exp;

	return (sessions(SID_KEVIN) & 0xffff) | (sessions(SID_SET) & 0xffff) << 16 | stream << 32;
}

static void check_world(const struct row *r, const uint8_t *in, size_t in_len,
			const uint8_t *out, size_t out_len, const void *before)
{
	assert_int_equal(probe_world(), *(const uint64_t *)before);
}

static void check_counted(const struct row *r, const uint8_t *in, size_t in_len,
			  const uint8_t *out, size_t out_len, const void *before)
{
	uint64_t sid = r->probe == probe_kevin ? SID_KEVIN :
		       r->probe == probe_anon ? SID_ANON : SID_SET;

	assert_int_equal(sessions(sid), *(const uint64_t *)before + 1);
}

static void check_not_counted(const struct row *r, const uint8_t *in, size_t in_len,
			      const uint8_t *out, size_t out_len, const void *before)
{
	uint64_t sid = r->probe == probe_peter ? SID_PETER : SID_SET;

	assert_int_equal(sessions(sid), *(const uint64_t *)before);
}

/* The request came back as a bodiless reply of `kind` with `status`. */
static void check_bounced(const uint8_t *in, const uint8_t *out, size_t out_len,
			  uint8_t kind, uint8_t status)
{
	const struct ethhdr *ie = (const void *)in, *oe = (const void *)out;
	const struct iphdr *ii = (const void *)(ie + 1), *oi = (const void *)(oe + 1);
	const struct udphdr *iu = (const void *)(ii + 1), *ou = (const void *)(oi + 1);
	const struct flatrpc_hdr *ih = (const void *)(iu + 1), *oh = (const void *)(ou + 1);

	assert_int_equal(out_len, sizeof(*oe) + sizeof(*oi) + sizeof(*ou) + sizeof(*oh));
	assert_memory_equal(oe->h_dest, ie->h_source, ETH_ALEN);
	assert_memory_equal(oe->h_source, ie->h_dest, ETH_ALEN);
	assert_int_equal(oe->h_proto, htons(ETH_P_IP));
	assert_int_equal(oi->saddr, ii->daddr);
	assert_int_equal(oi->daddr, ii->saddr);
	assert_int_equal(ntohs(oi->tot_len), sizeof(*oi) + sizeof(*ou) + sizeof(*oh));
	assert_int_equal(fixture_ip_csum(oi), 0);
	assert_int_equal(ou->source, iu->dest);
	assert_int_equal(ou->dest, iu->source);
	assert_int_equal(ntohs(ou->len), sizeof(*ou) + sizeof(*oh));
	assert_int_equal(ou->check, 0);
	assert_int_equal(oh->magic, FLATRPC_MAGIC);
	assert_int_equal(oh->flags, kind);
	assert_int_equal(oh->method, ih->method);
	assert_int_equal(oh->status, status);
	assert_int_equal(oh->rpc_id, ih->rpc_id);
	assert_int_equal(oh->len, 0);
}

/* The IPv6 firewall answer: addresses swapped, and a UDP checksum that
 * verifies, since IPv6 has no "no checksum". */
static void check_err_reply6(const struct row *r, const uint8_t *in, size_t in_len,
			     const uint8_t *out, size_t out_len, const void *before)
{
	const struct ethhdr *ie = (const void *)in, *oe = (const void *)out;
	const struct ipv6hdr *ii = (const void *)(ie + 1), *oi = (const void *)(oe + 1);
	const struct udphdr *iu = (const void *)(ii + 1), *ou = (const void *)(oi + 1);
	const struct flatrpc_hdr *ih = (const void *)(iu + 1), *oh = (const void *)(ou + 1);

	assert_int_equal(out_len, sizeof(*oe) + sizeof(*oi) + sizeof(*ou) + sizeof(*oh));
	assert_memory_equal(oe->h_dest, ie->h_source, ETH_ALEN);
	assert_memory_equal(oe->h_source, ie->h_dest, ETH_ALEN);
	assert_int_equal(oe->h_proto, htons(ETH_P_IPV6));
	assert_memory_equal(&oi->saddr, &ii->daddr, 16);
	assert_memory_equal(&oi->daddr, &ii->saddr, 16);
	assert_int_equal(oi->nexthdr, IPPROTO_UDP);
	assert_int_equal(ntohs(oi->payload_len), sizeof(*ou) + sizeof(*oh));
	assert_int_equal(ou->source, iu->dest);
	assert_int_equal(ou->dest, iu->source);
	assert_int_equal(ntohs(ou->len), sizeof(*ou) + sizeof(*oh));
	assert_int_not_equal(ou->check, 0);
	assert_int_equal(fixture_udp6_csum(oi, ou), 0);
	assert_int_equal(oh->flags, FLATRPC_ERR);
	assert_int_equal(oh->status, KV_ERR_FIREWALL);
	assert_int_equal(oh->rpc_id, ih->rpc_id);
	assert_int_equal(sessions(SID_PETER), *(const uint64_t *)before);
}

static void check_err_reply(const struct row *r, const uint8_t *in, size_t in_len,
			    const uint8_t *out, size_t out_len, const void *before)
{
	check_bounced(in, out, out_len, FLATRPC_ERR, KV_ERR_FIREWALL);
	/* the firewall runs first: a denied call is never counted */
	assert_int_equal(sessions(SID_PETER), *(const uint64_t *)before);
}

/* The receiving library's backlog, as it publishes it in the mmapped map. */
static void set_load(uint32_t backlog, uint32_t busy_at)
{
	struct flatrpc_load l = { .backlog = backlog, .busy_at = busy_at };
	uint32_t q = 0;	/* BPF_PROG_TEST_RUN's rx_queue_index */

	assert_int_equal(bpf_map__update_elem(skel->maps.load, &q, sizeof(q), &l, sizeof(l), 0), 0);
}

static uint64_t probe_busy(void)
{
	set_load(4, 4);
	return sessions(SID_KEVIN);
}

static uint64_t probe_below(void)
{
	set_load(3, 4);
	return sessions(SID_KEVIN);
}

static void check_busy(const struct row *r, const uint8_t *in, size_t in_len,
		       const uint8_t *out, size_t out_len, const void *before)
{
	set_load(0, 0);
	check_bounced(in, out, out_len, FLATRPC_ACK, FLATRPC_ACK_BUSY);
	/* refused before the ANFs: the session tracker did not count it */
	assert_int_equal(sessions(SID_KEVIN), *(const uint64_t *)before);
}

static void check_below(const struct row *r, const uint8_t *in, size_t in_len,
			const uint8_t *out, size_t out_len, const void *before)
{
	set_load(0, 0);
	assert_int_equal(sessions(SID_KEVIN), *(const uint64_t *)before + 1);
}

static void check_seq_created(const struct row *r, const uint8_t *in, size_t in_len,
			      const uint8_t *out, size_t out_len, const void *before)
{
	uint16_t exp;

	assert_int_equal(seq_expected(KV_SET, &exp), 0);
	assert_int_equal(exp, r->in.seq + 1);
	check_counted(r, in, in_len, out, out_len, before);
}

static void check_seq_none(const struct row *r, const uint8_t *in, size_t in_len,
			   const uint8_t *out, size_t out_len, const void *before)
{
	uint16_t exp;

	assert_int_not_equal(seq_expected(KV_SET, &exp), 0);
}

static void check_dup_at(const struct row *r, const uint8_t *in, size_t in_len,
			 const uint8_t *out, size_t out_len, const void *before,
			 uint16_t stream_expected)
{
	const struct iphdr *ip = (const void *)(out + sizeof(struct ethhdr));
	const struct udphdr *udp = (const void *)(ip + 1);
	const struct flatrpc_hdr *h = (const void *)(udp + 1);
	uint16_t exp;

	assert_int_equal(out_len, in_len);
	assert_int_equal(h->flags, r->in.flags | FLATRPC_F_DUP);
	/* the flag was set without breaking the sender's UDP checksum */
	assert_int_not_equal(udp->check, 0);
	assert_int_equal(fixture_udp_csum(ip, udp), 0);
	assert_memory_equal(out + in_len - 8, in + in_len - 8, 8);
	/* an old number never moves the stream, nor re-runs the ANFs */
	assert_int_equal(seq_expected(KV_SET, &exp), 0);
	assert_int_equal(exp, stream_expected);
	check_not_counted(r, in, in_len, out, out_len, before);
}

/* after FIRST 100 and 101 */
static void check_dup(const struct row *r, const uint8_t *in, size_t in_len,
		      const uint8_t *out, size_t out_len, const void *before)
{
	check_dup_at(r, in, in_len, out, out_len, before, 102);
}

/* after the restart at 110 */
static void check_dup_restarted(const struct row *r, const uint8_t *in, size_t in_len,
				const uint8_t *out, size_t out_len, const void *before)
{
	check_dup_at(r, in, in_len, out, out_len, before, 111);
}

/* A hold-forever request ahead of 102 (after FIRST 100 and 101): delivered
 * marked AHEAD, checksum intact, the stream left where it was. */
static void check_marked_ahead(const struct row *r, const uint8_t *in, size_t in_len,
			       const uint8_t *out, size_t out_len, uint8_t status)
{
	const struct iphdr *ip = (const void *)(out + sizeof(struct ethhdr));
	const struct udphdr *udp = (const void *)(ip + 1);
	const struct flatrpc_hdr *h = (const void *)(udp + 1);
	uint16_t exp;

	assert_int_equal(out_len, in_len);
	assert_int_equal(h->flags, r->in.flags | FLATRPC_F_AHEAD);
	assert_int_equal(h->status, status);
	assert_int_not_equal(udp->check, 0);
	assert_int_equal(fixture_udp_csum(ip, udp), 0);
	assert_memory_equal(out + in_len - 8, in + in_len - 8, 8);
	assert_int_equal(seq_expected(KV_SET, &exp), 0);
	assert_int_equal(exp, 102);
}

static void check_ahead(const struct row *r, const uint8_t *in, size_t in_len,
			const uint8_t *out, size_t out_len, const void *before)
{
	check_marked_ahead(r, in, in_len, out, out_len, 0);
	/* a fresh request: its ANFs ran on arrival */
	check_counted(r, in, in_len, out, out_len, before);
}

static void check_ahead_denied(const struct row *r, const uint8_t *in, size_t in_len,
			       const uint8_t *out, size_t out_len, const void *before)
{
	/* no XDP reply: the library answers the denial in the stream's turn */
	check_marked_ahead(r, in, in_len, out, out_len, KV_ERR_FIREWALL);
	assert_int_equal(sessions(SID_PETER), *(const uint64_t *)before);
}

static void check_beyond_window(const struct row *r, const uint8_t *in, size_t in_len,
				const uint8_t *out, size_t out_len, const void *before)
{
	uint16_t exp;

	assert_int_equal(seq_expected(KV_SET, &exp), 0);
	assert_int_equal(exp, 102);
	check_not_counted(r, in, in_len, out, out_len, before);
}

static void check_scrubbed(const struct row *r, const uint8_t *in, size_t in_len,
			   const uint8_t *out, size_t out_len, const void *before)
{
	const struct iphdr *ip = (const void *)(out + sizeof(struct ethhdr));
	const struct udphdr *udp = (const void *)(ip + 1);
	const struct flatrpc_hdr *h = (const void *)(udp + 1);

	assert_int_equal(out_len, in_len);
	assert_int_equal(h->flags, FLATRPC_REQ | FLATRPC_F_RETX);
	assert_int_equal(h->status, 0);
	assert_int_not_equal(udp->check, 0);
	assert_int_equal(fixture_udp_csum(ip, udp), 0);
	check_counted(r, in, in_len, out, out_len, before);
}

static const struct row rows[] = {
	/* not ours: untouched */
	{ "udp to another port", XDP, { .body = B_GET_KEVIN, .dport = 53 },
	  XDP_PASS, FLATRPC_DROP_NONE, NO_STAT, .unchanged = true },
	{ "arp", XDP, { .arp = true }, XDP_PASS, FLATRPC_DROP_NONE, NO_STAT, .unchanged = true },
	{ "later fragment", XDP, { .body = B_GET_KEVIN, .frag_off = 100 },
	  XDP_PASS, FLATRPC_DROP_NONE, NO_STAT, .unchanged = true },
	{ "request sent from the port to elsewhere", XDP,
	  { .response = true, .flags = FLATRPC_REQ, .body = B_GET_KEVIN },
	  XDP_PASS, FLATRPC_DROP_NONE, NO_STAT, .unchanged = true },

	/* malformed */
	{ "truncated header", XDP, { .body = B_NONE, .cut = 14 + 20 + 8 + 5 },
	  XDP_DROP, FLATRPC_DROP_TRUNCATED, NO_STAT },
	{ "bad magic", XDP, { .body = B_GET_KEVIN, .magic = 0x42 },
	  XDP_DROP, FLATRPC_DROP_BAD_MAGIC, NO_STAT },
	{ "flatrpc length lies", XDP, { .body = B_GET_KEVIN, .hdr_len_delta = 4 },
	  XDP_DROP, FLATRPC_DROP_BAD_LEN, NO_STAT },
	{ "udp length lies", XDP, { .body = B_GET_KEVIN, .udp_len_delta = -2 },
	  XDP_DROP, FLATRPC_DROP_BAD_LEN, NO_STAT },
	{ "ip length beyond the frame", XDP, { .body = B_GET_KEVIN, .ip_len_delta = 8 },
	  XDP_DROP, FLATRPC_DROP_BAD_LEN, NO_STAT },
	{ "ip options", XDP, { .body = B_GET_KEVIN, .ip_opt_words = 1 },
	  XDP_DROP, FLATRPC_DROP_IP_FRAG, NO_STAT },
	{ "first fragment", XDP, { .body = B_GET_KEVIN, .frag_off = 0x2000 },
	  XDP_DROP, FLATRPC_DROP_IP_FRAG, NO_STAT },
	{ "unknown method", XDP, { .body = B_GET_KEVIN, .method = 9 },
	  XDP_DROP, FLATRPC_DROP_UNKNOWN_METHOD, NO_STAT },
	{ "short body", XDP, { .body = B_SHORT },
	  XDP_DROP, FLATRPC_DROP_SHORT_BODY, NO_STAT },
	{ "ack kind", XDP, { .body = B_GET_KEVIN, .flags = FLATRPC_ACK },
	  XDP_DROP, FLATRPC_DROP_BAD_KIND, NO_STAT },
	{ "ack with a body", XDP,
	  { .response = true, .flags = FLATRPC_ACK, .status = FLATRPC_ACK_BUSY,
	    .body = B_SET_RESP, .method = KV_SET },
	  XDP_DROP, FLATRPC_DROP_BAD_KIND, NO_STAT },
	{ "ack with an unknown status", XDP,
	  { .response = true, .flags = FLATRPC_ACK, .status = 9, .method = KV_SET },
	  XDP_DROP, FLATRPC_DROP_BAD_KIND, NO_STAT },
	/* a bare ACK passes parsing (here it finds no socket) */
	{ "ack busy reaches the client", XDP,
	  { .response = true, .flags = FLATRPC_ACK, .status = FLATRPC_ACK_BUSY, .method = KV_SET },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true },
	{ "ack pending reaches the client", XDP,
	  { .response = true, .flags = FLATRPC_ACK, .status = FLATRPC_ACK_PENDING,
	    .method = KV_GET },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true },

	/* the library's backlog at its threshold: XDP refuses with ACK BUSY */
	{ "request refused at the backlog threshold", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET },
	  XDP_TX, FLATRPC_DROP_NONE, STAT(KV_GET, busy),
	  .check = check_busy, .probe = probe_busy },
	{ "request below the threshold goes on", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT,
	  .check = check_below, .probe = probe_below },

	/* the ANF chain */
	{ "kevin's get, no socket", XDP, { .body = B_GET_KEVIN, .method = KV_GET },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true,
	  .check = check_counted, .probe = probe_kevin },
	{ "kevin's get with ethernet padding", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .pad = 6 },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true,
	  .check = check_counted, .probe = probe_kevin },
	{ "unknown user passes the firewall", XDP, { .body = B_GET_ANON, .method = KV_GET },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT,
	  .check = check_counted, .probe = probe_anon },
	{ "a sender cannot set DUP, AHEAD or a request status", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .udp_csum = true, .status = 7,
	    .flags = FLATRPC_F_DUP | FLATRPC_F_AHEAD | FLATRPC_F_RETX },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT,
	  .check = check_scrubbed, .probe = probe_kevin },
	{ "peter's get is answered by the firewall", XDP,
	  { .body = B_GET_PETER, .method = KV_GET, .udp_csum = true },
	  XDP_TX, FLATRPC_DROP_NONE, STAT(KV_GET, anf_err),
	  .check = check_err_reply, .probe = probe_peter },

	/* IPv6: the same rules, and extension headers are refused by name */
	{ "ipv6: kevin's get passes", XDP, { .ip6 = true, .body = B_GET_KEVIN, .method = KV_GET },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT,
	  .check = check_counted, .probe = probe_kevin },
	{ "ipv6: peter's get is answered by the firewall", XDP,
	  { .ip6 = true, .body = B_GET_PETER, .method = KV_GET },
	  XDP_TX, FLATRPC_DROP_NONE, STAT(KV_GET, anf_err),
	  .check = check_err_reply6, .probe = probe_peter },
	{ "ipv6: udp to another port", XDP,
	  { .ip6 = true, .body = B_GET_KEVIN, .dport = 53 },
	  XDP_PASS, FLATRPC_DROP_NONE, NO_STAT, .unchanged = true },
	{ "ipv6: hop-by-hop options header", XDP,
	  { .ip6 = true, .ip6_ext = EXT(0), .body = B_GET_KEVIN, .method = KV_GET },
	  XDP_DROP, FLATRPC_DROP_IP6_EXT, NO_STAT },
	{ "ipv6: destination options header", XDP,
	  { .ip6 = true, .ip6_ext = EXT(60), .body = B_GET_KEVIN, .method = KV_GET },
	  XDP_DROP, FLATRPC_DROP_IP6_EXT, NO_STAT },
	{ "ipv6: first-fragment header", XDP,
	  { .ip6 = true, .ip6_ext = EXT(44), .body = B_GET_KEVIN, .method = KV_GET },
	  XDP_DROP, FLATRPC_DROP_IP6_EXT, NO_STAT },
	{ "ipv6: truncated header", XDP,
	  { .ip6 = true, .body = B_NONE, .cut = 14 + 40 + 8 + 5 },
	  XDP_DROP, FLATRPC_DROP_TRUNCATED, NO_STAT },
	{ "ipv6: payload length beyond the frame", XDP,
	  { .ip6 = true, .body = B_GET_KEVIN, .method = KV_GET, .ip_len_delta = 8 },
	  XDP_DROP, FLATRPC_DROP_BAD_LEN, NO_STAT },
	{ "ipv6: tc sees a request", TC, { .ip6 = true, .body = B_GET_KEVIN, .method = KV_GET },
	  TC_ACT_OK, FLATRPC_DROP_NONE, STAT(KV_GET, tx_stack), .unchanged = true },

	/* in-order set */
	{ "set without FIRST and no stream", XDP,
	  { .body = B_SET_KEVIN, .method = KV_SET, .seq = 100 },
	  XDP_DROP, FLATRPC_DROP_SEQ_NOSTATE, NO_STAT, .check = check_seq_none },
	{ "set FIRST creates the stream", XDP,
	  { .body = B_SET_KEVIN, .method = KV_SET, .seq = 100, .flags = FLATRPC_F_FIRST },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT,
	  .check = check_seq_created, .probe = probe_set },
	{ "set next in sequence", XDP,
	  { .body = B_SET_KEVIN, .method = KV_SET, .seq = 101 },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT,
	  .check = check_seq_created, .probe = probe_set },
	{ "set old sequence is marked DUP", XDP,
	  { .body = B_SET_KEVIN, .method = KV_SET, .seq = 100,
	    .flags = FLATRPC_F_FIRST | FLATRPC_F_RETX, .udp_csum = true },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT,
	  .check = check_dup, .probe = probe_set },
	{ "set old sequence, no flags", XDP,
	  { .body = B_SET_KEVIN, .method = KV_SET, .seq = 99, .udp_csum = true },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT,
	  .check = check_dup, .probe = probe_set },
	{ "set ahead of sequence is delivered marked AHEAD", XDP,
	  { .body = B_SET_KEVIN, .method = KV_SET, .seq = 105, .udp_csum = true },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT,
	  .check = check_ahead, .probe = probe_set },
	{ "set at the far edge of the hold window", XDP,
	  { .body = B_SET_KEVIN, .method = KV_SET, .seq = 102 + FLATRPC_HOLD_WINDOW - 1,
	    .udp_csum = true },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT,
	  .check = check_ahead, .probe = probe_set },
	{ "set beyond the hold window", XDP,
	  { .body = B_SET_KEVIN, .method = KV_SET, .seq = 102 + FLATRPC_HOLD_WINDOW },
	  XDP_DROP, FLATRPC_DROP_SEQ_AHEAD, NO_STAT,
	  .check = check_beyond_window, .probe = probe_set },
	{ "set ahead denied by the firewall goes to the library", XDP,
	  { .body = B_SET_PETER, .method = KV_SET, .seq = 104, .udp_csum = true },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, STAT(KV_SET, anf_err),
	  .check = check_ahead_denied, .probe = probe_peter },
	{ "set FIRST ahead restarts the stream past the gap", XDP,
	  { .body = B_SET_KEVIN, .method = KV_SET, .seq = 110, .flags = FLATRPC_F_FIRST },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT,
	  .check = check_seq_created, .probe = probe_set },
	{ "set skipped by the restart is a DUP", XDP,
	  { .body = B_SET_KEVIN, .method = KV_SET, .seq = 105, .udp_csum = true },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT,
	  .check = check_dup_restarted, .probe = probe_set },

	/* responses at the client */
	{ "set response", XDP,
	  { .response = true, .flags = FLATRPC_RESP, .method = KV_SET, .body = B_SET_RESP },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true },
	{ "err response with empty body", XDP,
	  { .response = true, .flags = FLATRPC_ERR, .status = 1, .method = KV_SET },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true },
	{ "set response shorter than its layout", XDP,
	  { .response = true, .flags = FLATRPC_RESP, .method = KV_SET },
	  XDP_DROP, FLATRPC_DROP_SHORT_BODY, NO_STAT },

	/* multi-packet messages: all rows share one (client, rpc_id), in order */
	{ "fragment: count of one", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .flags = FLATRPC_F_FRAG, .frag_count = 1 },
	  XDP_DROP, FLATRPC_DROP_FRAG_BAD, NO_STAT },
	{ "fragment: index past count", XDP,
	  { .body = B_SHORT, .method = KV_GET, .flags = FLATRPC_F_FRAG, .frag_index = 3,
	    .frag_count = 3 },
	  XDP_DROP, FLATRPC_DROP_FRAG_BAD, NO_STAT },
	{ "fragment: lengths end inside the extension", XDP,
	  { .body = B_NONE, .method = KV_GET, .flags = FLATRPC_F_FRAG, .frag_count = 3,
	    .hdr_len_delta = -2, .udp_len_delta = -2, .ip_len_delta = -2 },
	  XDP_DROP, FLATRPC_DROP_TRUNCATED, NO_STAT },
	{ "fragment: first one short of the fixed part", XDP,
	  { .body = B_SHORT, .method = KV_GET, .flags = FLATRPC_F_FRAG, .frag_count = 3 },
	  XDP_DROP, FLATRPC_DROP_SHORT_BODY, NO_STAT },
	{ "peter's first fragment denied", XDP,
	  { .body = B_GET_PETER, .method = KV_GET, .flags = FLATRPC_F_FRAG, .frag_count = 3 },
	  XDP_TX, FLATRPC_DROP_NONE, STAT(KV_GET, anf_err) },
	{ "peter's later fragment follows the denial", XDP,
	  { .body = B_SHORT, .method = KV_GET, .flags = FLATRPC_F_FRAG, .frag_index = 2,
	    .frag_count = 3 },
	  XDP_DROP, FLATRPC_DROP_FRAG_DENIED, NO_STAT },
	{ "kevin's first fragment passes, clearing the denial", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .flags = FLATRPC_F_FRAG, .frag_count = 3 },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true,
	  .check = check_counted, .probe = probe_kevin },
	{ "kevin's later fragment: no ANF, no fixed part", XDP,
	  { .body = B_SHORT, .method = KV_GET, .flags = FLATRPC_F_FRAG, .frag_index = 1,
	    .frag_count = 3 },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true },

	/* a first fragment refused with ACK BUSY takes its message with it */
	{ "busy: first fragment answered ACK BUSY", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .flags = FLATRPC_F_FRAG, .frag_count = 3 },
	  XDP_TX, FLATRPC_DROP_NONE, STAT(KV_GET, busy),
	  .check = check_busy, .probe = probe_busy },
	{ "busy: its later fragment is dropped, even with room again", XDP,
	  { .body = B_SHORT, .method = KV_GET, .flags = FLATRPC_F_FRAG, .frag_index = 1,
	    .frag_count = 3 },
	  XDP_DROP, FLATRPC_DROP_FRAG_DENIED, NO_STAT },
	{ "busy: the resent first fragment passes", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .flags = FLATRPC_F_FRAG, .frag_count = 3 },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true },
	{ "busy: and its later fragments with it", XDP,
	  { .body = B_SHORT, .method = KV_GET, .flags = FLATRPC_F_FRAG, .frag_index = 1,
	    .frag_count = 3 },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true },

	/* TC egress: what the kernel stack sends */
	{ "tc: well-formed request", TC, { .body = B_GET_KEVIN, .method = KV_GET },
	  TC_ACT_OK, FLATRPC_DROP_NONE, STAT(KV_GET, tx_stack), .unchanged = true },
	/* another service's filter, or the default, decides */
	{ "tc: not flatrpc", TC, { .body = B_GET_KEVIN, .dport = 53 },
	  TC_ACT_UNSPEC, FLATRPC_DROP_NONE, NO_STAT, .unchanged = true },
	{ "tc: lying length", TC, { .body = B_GET_KEVIN, .hdr_len_delta = -3 },
	  TC_ACT_SHOT, FLATRPC_DROP_BAD_LEN, NO_STAT },
	/* the destination must be this host's (kern/local.h) */
	{ "request to another host's address", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .daddr = IP_OTHER },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true,
	  .check = check_world, .probe = probe_world },
	{ "stream reset to another host's address", XDP,
	  { .body = B_SET_KEVIN, .method = KV_SET, .seq = 500, .flags = FLATRPC_F_FIRST,
	    .daddr = IP_OTHER },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true,
	  .check = check_world, .probe = probe_world },
	{ "denied request to another host's address gets no answer", XDP,
	  { .body = B_GET_PETER, .method = KV_GET, .daddr = IP_OTHER },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true },
	{ "response to another host's address", XDP,
	  { .response = true, .flags = FLATRPC_RESP, .body = B_SET_RESP, .method = KV_SET,
	    .daddr = IP_OTHER },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true },
	{ "error to another host's address", XDP,
	  { .response = true, .flags = FLATRPC_ERR, .status = 1, .method = KV_GET,
	    .daddr = IP_OTHER },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true },
	{ "ack to another host's address", XDP,
	  { .response = true, .flags = FLATRPC_ACK, .status = FLATRPC_ACK_BUSY, .method = KV_SET,
	    .daddr = IP_OTHER },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true },
	{ "request to a blackholed address", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .daddr = IP_HOLE },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true,
	  .check = check_world, .probe = probe_world },
	{ "request to an ethernet group address", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .eth_group = true },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true },
	{ "request to an ipv4 multicast address", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .daddr = 0xe00000fb },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true },
	{ "request to the limited broadcast address", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .daddr = 0xffffffff },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true },
	{ "request to this host's other address passes", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .daddr = IP_LOCAL2 },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true,
	  .check = check_counted, .probe = probe_kevin },
	{ "request to 127.0.0.1 arriving on lo passes", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .daddr = 0x7f000001 },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true,
	  .check = check_counted, .probe = probe_kevin },
	{ "ipv6: request to another host's address", XDP,
	  { .ip6 = true, .body = B_GET_KEVIN, .method = KV_GET, .daddr6 = &ip6_other },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true,
	  .check = check_world, .probe = probe_world },
	{ "ipv6: request to a multicast address", XDP,
	  { .ip6 = true, .body = B_GET_KEVIN, .method = KV_GET, .daddr6 = &ip6_mcast },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true },
	{ "ipv6: request to a link-local address", XDP,
	  { .ip6 = true, .body = B_GET_KEVIN, .method = KV_GET, .daddr6 = &ip6_linklocal },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true },
	/* An interface that does not forward: asked again as if on lo */
	{ "arriving where nothing forwards: another host's address", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .daddr = IP_OTHER },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true,
	  .check = check_world, .probe = probe_world, .on_veth = true },
	{ "arriving where nothing forwards, ipv6: another host's address", XDP,
	  { .ip6 = true, .body = B_GET_KEVIN, .method = KV_GET, .daddr6 = &ip6_other },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true,
	  .check = check_world, .probe = probe_world, .on_veth = true },
	{ "arriving where nothing forwards: this host's address passes", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true,
	  .check = check_counted, .probe = probe_kevin, .on_veth = true },
	{ "arriving where nothing forwards, ipv6: this host's address passes", XDP,
	  { .ip6 = true, .body = B_GET_KEVIN, .method = KV_GET },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true,
	  .check = check_counted, .probe = probe_kevin, .on_veth = true },
	{ "127.0.0.1 arriving on another interface than lo", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .daddr = 0x7f000001 },
	  XDP_DROP, FLATRPC_DROP_NOT_LOCAL, NO_STAT, .unchanged = true, .on_veth = true },
	/* The limit, pinned down: bpf_fib_lookup() does not answer for an
	 * interface that does not forward; with lo not forwarding either, the
	 * frame goes on unchecked. */
	{ "no router: another host's address is not checked", XDP,
	  { .body = B_GET_KEVIN, .method = KV_GET, .daddr = IP_OTHER },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true,
	  .check = check_counted, .probe = probe_kevin, .no_router = true },
	{ "no router, ipv6: another host's address is not checked", XDP,
	  { .ip6 = true, .body = B_GET_KEVIN, .method = KV_GET, .daddr6 = &ip6_other },
	  XDP_DROP, FLATRPC_DROP_NO_SOCKET, NO_STAT, .unchanged = true,
	  .check = check_counted, .probe = probe_kevin, .no_router = true },
	{ "tc: bad magic", TC, { .body = B_GET_KEVIN, .magic = 0x99 },
	  TC_ACT_SHOT, FLATRPC_DROP_BAD_MAGIC, NO_STAT },
};

static uint64_t stat_field(int method, size_t off)
{
	struct flatrpc_method_stats st;

	method_stats(method, &st);
	return *(uint64_t *)((uint8_t *)&st + off);
}

static void run_row(void **state)
{
	const struct row *r = *state;
	uint8_t in[1024], out[1024];
	uint64_t before_drops[FLATRPC_DROP__MAX], before_stat = 0, before_probe = 0;
	size_t in_len;
	uint32_t i;
	int fd, err;
	struct xdp_md ctx = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	in_len = build(&r->in, in);
	for (i = 0; i < FLATRPC_DROP__MAX; i++)
		before_drops[i] = drop_count(i);
	if (r->stat_method >= 0)
		before_stat = stat_field(r->stat_method, r->stat_field);
	if (r->probe)
		before_probe = r->probe();

	memset(out, 0, sizeof(out));
	opts.data_in = in;
	opts.data_size_in = in_len;
	opts.data_out = out;
	opts.data_size_out = sizeof(out);
	opts.repeat = 1;
	if (r->on_veth) {
		ctx.data_end = in_len;
		ctx.ingress_ifindex = if_nametoindex("fr-out");
		assert_int_not_equal(ctx.ingress_ifindex, 0);
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	fd = bpf_program__fd(r->hook == XDP ? skel->progs.flatrpc_xdp
					    : skel->progs.flatrpc_tc_egress);
	if (r->no_router)
		assert_int_equal(fixture_lo_forwarding(0), 0);
	err = bpf_prog_test_run_opts(fd, &opts);
	if (r->no_router)
		assert_int_equal(fixture_lo_forwarding(1), 0);
	assert_int_equal(err, 0);
	assert_int_equal(opts.retval, (__u32)r->verdict);	/* TC_ACT_UNSPEC is -1 */

	for (i = 0; i < FLATRPC_DROP__MAX; i++) {
		uint64_t want = before_drops[i] + (i == r->reason && i != FLATRPC_DROP_NONE);

		if (drop_count(i) != want)
			fail_msg("%s: drop counter %u is %llu, want %llu", r->name, i,
				 (unsigned long long)drop_count(i), (unsigned long long)want);
	}
	if (r->stat_method >= 0)
		assert_int_equal(stat_field(r->stat_method, r->stat_field), before_stat + 1);
	if (r->unchanged) {
		assert_int_equal(opts.data_size_out, in_len);
		assert_memory_equal(out, in, in_len);
	}
	if (r->check)
		r->check(r, in, in_len, out, opts.data_size_out, &before_probe);
}

static int setup(void **state)
{
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		return -1;
	if (fixture_netns((const char *const[]){ "10.0.0.1/32", "10.0.0.2/32",
						"fd77::1/128", "fd77::2/128", NULL }) ||
	    system("ip addr add 10.0.9.1/32 dev fr-out") ||
	    /* a new namespace may inherit IPv4 forwarding from the host's */
	    system("sysctl -qw net.ipv4.conf.fr-out.forwarding=0 net.ipv6.conf.fr-out.forwarding=0") ||
	    system("ip route add blackhole 10.0.6.0/24"))
		return -1;
	skel = fixture_load(PORT);
	return skel ? 0 : -1;
}

static int teardown(void **state)
{
	flatrpc_bpf__destroy(skel);
	return 0;
}

int main(void)
{
	struct CMUnitTest tests[sizeof(rows) / sizeof(rows[0])];
	size_t i;

	if (geteuid() != 0) {
		fprintf(stderr, "test_bpf_xdp: needs root, skipping\n");
		return 77;
	}
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tests[i] = (struct CMUnitTest)cmocka_unit_test_prestate(run_row, (void *)&rows[i]);
		tests[i].name = rows[i].name;
	}
	return cmocka_run_group_tests_name("bpf_xdp", tests, setup, teardown);
}

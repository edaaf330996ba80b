// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_bpf_auth.c - the message tag in flatrpc_xdp (kern/auth.h), through
 * BPF_PROG_TEST_RUN on the kv object loaded with flatrpc_auth = 1.
 *
 * Frames are tagged here with the library's code (user/lib/auth.h), so
 * every accepted row also checks that the two walks of the definition
 * agree. Each row: how the frame is tagged or tampered with, the verdict,
 * the one drop reason that must be counted. A forged in-order request must
 * leave `seqs` as it was, and XDP's own replies (an ANF error) must carry a
 * tag that the library's code accepts. Needs root (BPF_PROG_LOAD).
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
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flatrpc_abi.h"
#include "kv.abi.h"
#include "flatrpc.skel.h"
#include "desc.h"
#include "init.h"
#include "fixture.h"
#include "auth.h"

#define PORT		FLATRPC_DEFAULT_PORT
#define CLIENT_PORT	40000

static struct flatrpc_bpf *skel;
static int ncpus;

static const __u64 key_a[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
static const __u64 key_b[2] = { 0x1122334455667788ULL, 0x99aabbccddeeff00ULL };
static const __u64 key_x[2] = { 0xdeadbeefdeadbeefULL, 0x0123456789abcdefULL };

static const uint8_t mac_c[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x0c };
static const uint8_t mac_s[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x05 };
#define IP_C	0x0a4d0102	/* 10.77.1.2 */
#define IP_S	0x0a4d0202	/* 10.77.2.2 */
static const struct in6_addr ip6_c = { { { 0xfd, 0x77, 0, 1, [15] = 2 } } };
static const struct in6_addr ip6_s = { { { 0xfd, 0x77, 0, 2, [15] = 2 } } };

enum tag_mode {
	TAG_A,		/* the signing key */
	TAG_B,		/* the second live key */
	TAG_X,		/* a key nobody loaded */
	TAG_NONE,	/* no tag at all: an untagged sender */
};

/* The receiver's epochs in these tests, and one it no longer holds. */
#define EPOCH_CUR	0x5eed0a02u
#define EPOCH_PREV	0x5eed0a01u
#define EPOCH_OLD	0x1234567fu

enum epoch_mode {
	E_CUR,		/* a request signed for the current epoch (answers: none) */
	E_PREV,		/* for the previous one, during a rotation */
	E_HELLO,	/* for none: hint 0, asks for the epoch */
	E_OLD,		/* for one this host no longer holds: a replay after a reload */
	E_MIXED,	/* the current epoch's hint, the previous one's tag */
};

enum tamper {
	T_NONE,
	T_TAG_BIT,	/* one bit of the tag */
	T_BODY,		/* a byte of the variable part, after tagging */
	T_SPORT,	/* the source port, after tagging */
	T_SADDR,	/* the source address (IPv4 checksum kept right) */
};

struct row {
	const char	*name;
	bool		v6;
	uint8_t		flags;		/* kind | FLATRPC_F_* */
	uint8_t		method;
	uint8_t		status;
	const char	*user;		/* a request's username; NULL: a bodiless frame */
	uint16_t	seq;
	uint16_t	frag_count;	/* a first fragment of that many */
	enum tag_mode	tag;
	enum tamper	tamper;
	enum epoch_mode	epoch;
	int		keys;		/* live keys: 1 (A) or 2 (A, B) */
	int		verdict;
	enum flatrpc_drop reason;
	bool		reply_tagged;	/* XDP_TX: the reply's tag must verify under A,
					 * and an ACK EPOCH's body is EPOCH_CUR */
	bool		seqs_untouched;	/* no stream state may appear */
};

static void frame_saddr(const uint8_t *f, __be32 out[4])
{
	const struct ethhdr *eth = (const struct ethhdr *)f;

	if (eth->h_proto == htons(ETH_P_IPV6)) {
		memcpy(out, &((const struct ipv6hdr *)(eth + 1))->saddr, 16);
	} else {
		__be32 v4 = ((const struct iphdr *)(eth + 1))->saddr;

		FLATRPC_ADDR_V4MAPPED(out, v4);
	}
}

static size_t l3_len(const uint8_t *f)
{
	return ((const struct ethhdr *)f)->h_proto == htons(ETH_P_IPV6) ?
	       sizeof(struct ipv6hdr) : sizeof(struct iphdr);
}

static size_t build(const struct row *r, uint8_t *buf)
{
	struct ethhdr *eth = (struct ethhdr *)buf;
	size_t l3 = r->v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	struct udphdr *udp = (struct udphdr *)((uint8_t *)(eth + 1) + l3);
	struct flatrpc_hdr *h = (struct flatrpc_hdr *)(udp + 1);
	uint8_t *body = (uint8_t *)(h + 1);
	bool resp = (r->flags & FLATRPC_KIND_MASK) != FLATRPC_REQ;
	size_t blen = 0, msg, udp_len;
	__u32 epoch = 0, hint_of = 0;
	__be32 saddr[4];
	__u64 tag;

	if (!resp) {
		static const __u32 sign[] = { EPOCH_CUR, EPOCH_PREV, 0, EPOCH_OLD, EPOCH_PREV };
		static const __u32 hint[] = { EPOCH_CUR, EPOCH_PREV, 0, EPOCH_OLD, EPOCH_CUR };

		epoch = sign[r->epoch];
		hint_of = hint[r->epoch];
	}

	memset(buf, 0, 2048);
	memcpy(eth->h_dest, resp ? mac_c : mac_s, ETH_ALEN);
	memcpy(eth->h_source, resp ? mac_s : mac_c, ETH_ALEN);
	if (r->frag_count) {
		struct flatrpc_frag *fx = (struct flatrpc_frag *)body;

		fx->index = 0;
		fx->count = htons(r->frag_count);
		blen = sizeof(*fx);
	}
	if (r->user) {
		struct kv_get_req_fixed fixed = { .session_id = htole64(0x77) };
		static const char key[] = "colour";

		memcpy(fixed.username, r->user, strlen(r->user));
		memcpy(body + blen, &fixed, sizeof(fixed));
		blen += sizeof(fixed);
		body[blen++] = sizeof(key) - 1;
		body[blen++] = 0;
		memcpy(body + blen, key, sizeof(key) - 1);
		blen += sizeof(key) - 1;
		if (r->frag_count) {	/* a full first fragment */
			memset(body + blen, 0x5a, sizeof(struct flatrpc_frag) + FLATRPC_FRAG_CHUNK - blen);
			blen = sizeof(struct flatrpc_frag) + FLATRPC_FRAG_CHUNK;
		}
	}
	h->magic = FLATRPC_MAGIC;
	h->flags = r->flags | (r->frag_count ? FLATRPC_F_FRAG : 0);
	h->method = r->method;
	h->status = resp ? r->status : FLATRPC_EPOCH_HINT(hint_of);
	h->rpc_id = htonl(0x5eed0001);
	h->seq = htons(r->seq);
	h->len = htons(blen);
	udp->source = htons(resp ? PORT : CLIENT_PORT);
	udp->dest = htons(resp ? CLIENT_PORT : PORT);
	msg = sizeof(*h) + blen;
	udp_len = sizeof(*udp) + msg + (r->tag == TAG_NONE ? 0 : FLATRPC_TAG_LEN);
	udp->len = htons(udp_len);
	if (r->v6) {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(eth + 1);

		eth->h_proto = htons(ETH_P_IPV6);
		ip6->version = 6;
		ip6->hop_limit = 64;
		ip6->nexthdr = IPPROTO_UDP;
		ip6->payload_len = htons(udp_len);
		ip6->saddr = resp ? ip6_s : ip6_c;
		ip6->daddr = resp ? ip6_c : ip6_s;
	} else {
		eth->h_proto = htons(ETH_P_IP);
		fixture_ipv4((struct iphdr *)(eth + 1), resp ? IP_S : IP_C, resp ? IP_C : IP_S, 1,
			     udp_len);
	}
	if (r->tag != TAG_NONE) {
		const __u64 *k = r->tag == TAG_A ? key_a : r->tag == TAG_B ? key_b : key_x;

		frame_saddr(buf, saddr);
		tag = fr_tag_of(k, saddr, udp->source, udp->dest, epoch, h, msg);
		memcpy((uint8_t *)h + msg, &tag, sizeof(tag));
	}
	switch (r->tamper) {
	case T_NONE:
		break;
	case T_TAG_BIT:
		((uint8_t *)h)[msg + 3] ^= 0x10;
		break;
	case T_BODY:
		body[blen - 1] ^= 0x01;
		break;
	case T_SPORT:
		udp->source = htons(ntohs(udp->source) + 1);
		break;
	case T_SADDR: {
		struct iphdr *ip = (struct iphdr *)(eth + 1);

		ip->saddr = htonl(ntohl(ip->saddr) + 1);
		ip->check = 0;
		ip->check = fixture_ip_csum(ip);
		break;
	}
	}
	if (r->v6) {
		udp->check = 0;
		udp->check = fr_csum_udp_value(fixture_udp6_csum((struct ipv6hdr *)(eth + 1), udp));
	}
	return sizeof(*eth) + l3 + udp_len;
}

static void set_keys(int n)
{
	struct flatrpc_keys k = { .on = 1, .count = n,
				  .epochs = FLATRPC_EPOCHS(EPOCH_CUR, EPOCH_PREV) };
	__u32 zero = 0;

	memcpy(k.key[0], key_a, sizeof(key_a));
	memcpy(k.key[1], key_b, sizeof(key_b));
	assert_int_equal(bpf_map__update_elem(skel->maps.auth_keys, &zero, sizeof(zero), &k,
					      sizeof(k), BPF_ANY), 0);
}

static __u64 drops_of(__u32 reason)
{
	return fixture_drops(skel, reason);
}

static long seqs_entries(void)
{
	struct flatrpc_seq_key k, next;
	int fd = bpf_map__fd(skel->maps.seqs);
	long n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* The reply XDP made must be a FlatRPC frame tagged under key A: bodiless,
 * or an ACK EPOCH whose body is the current epoch. */
static void check_reply(const uint8_t *out, size_t len)
{
	size_t off = sizeof(struct ethhdr) + l3_len(out);
	const struct udphdr *udp = (const struct udphdr *)(out + off);
	const struct flatrpc_hdr *h = (const struct flatrpc_hdr *)(udp + 1);
	bool epoch = (h->flags & FLATRPC_KIND_MASK) == FLATRPC_ACK &&
		     h->status == FLATRPC_ACK_EPOCH;
	size_t blen = epoch ? sizeof(struct flatrpc_epoch_body) : 0;
	__be32 saddr[4];
	__u64 want, got;

	assert_int_equal(len, off + sizeof(*udp) + sizeof(*h) + blen + FLATRPC_TAG_LEN);
	assert_int_equal(ntohs(udp->len), sizeof(*udp) + sizeof(*h) + blen + FLATRPC_TAG_LEN);
	assert_int_equal(ntohs(h->len), blen);
	assert_int_equal(ntohl(h->rpc_id), 0x5eed0001);
	if (epoch) {
		struct flatrpc_epoch_body b;

		memcpy(&b, h + 1, sizeof(b));
		assert_int_equal(ntohl(b.epoch), EPOCH_CUR);
	}
	frame_saddr(out, saddr);
	want = fr_tag_of(key_a, saddr, udp->source, udp->dest, 0, h, sizeof(*h) + blen);
	memcpy(&got, (const uint8_t *)(h + 1) + blen, sizeof(got));
	assert_true(want == got);
	if (l3_len(out) == sizeof(struct ipv6hdr)) {
		const struct ipv6hdr *ip6 = (const struct ipv6hdr *)(out + sizeof(struct ethhdr));

		assert_int_equal(fixture_udp6_csum(ip6, udp), 0);
	} else {
		assert_int_equal(fixture_ip_csum((const struct iphdr *)(out + sizeof(struct ethhdr))), 0);
	}
}

#define REQ(m)	.flags = FLATRPC_REQ, .method = (m)
#define SET_FIRST .flags = FLATRPC_REQ | FLATRPC_F_FIRST, .method = KV_SET, .seq = 9000

static const struct row rows[] = {
	{ "kevin's get, signing key", REQ(KV_GET), .user = "Kevin", .tag = TAG_A, .keys = 1,
	  .verdict = XDP_DROP, .reason = FLATRPC_DROP_NO_SOCKET },
	{ "kevin's get, IPv6", .v6 = true, REQ(KV_GET), .user = "Kevin", .tag = TAG_A, .keys = 1,
	  .verdict = XDP_DROP, .reason = FLATRPC_DROP_NO_SOCKET },
	{ "second key while only one is live", REQ(KV_GET), .user = "Kevin", .tag = TAG_B,
	  .keys = 1, .verdict = XDP_DROP, .reason = FLATRPC_DROP_BAD_TAG },
	{ "second key during a rotation", REQ(KV_GET), .user = "Kevin", .tag = TAG_B, .keys = 2,
	  .verdict = XDP_DROP, .reason = FLATRPC_DROP_NO_SOCKET },
	{ "a key nobody loaded", REQ(KV_GET), .user = "Kevin", .tag = TAG_X, .keys = 2,
	  .verdict = XDP_DROP, .reason = FLATRPC_DROP_BAD_TAG },
	{ "no tag: the length is wrong", REQ(KV_GET), .user = "Kevin", .tag = TAG_NONE, .keys = 1,
	  .verdict = XDP_DROP, .reason = FLATRPC_DROP_BAD_LEN },
	{ "one tag bit flipped", REQ(KV_GET), .user = "Kevin", .tag = TAG_A, .tamper = T_TAG_BIT,
	  .keys = 1, .verdict = XDP_DROP, .reason = FLATRPC_DROP_BAD_TAG },
	{ "variable part changed", REQ(KV_GET), .user = "Kevin", .tag = TAG_A, .tamper = T_BODY,
	  .keys = 1, .verdict = XDP_DROP, .reason = FLATRPC_DROP_BAD_TAG },
	{ "variable part changed, IPv6", .v6 = true, REQ(KV_GET), .user = "Kevin", .tag = TAG_A,
	  .tamper = T_BODY, .keys = 1, .verdict = XDP_DROP, .reason = FLATRPC_DROP_BAD_TAG },
	{ "another source port", REQ(KV_GET), .user = "Kevin", .tag = TAG_A, .tamper = T_SPORT,
	  .keys = 1, .verdict = XDP_DROP, .reason = FLATRPC_DROP_BAD_TAG },
	{ "another source address", REQ(KV_GET), .user = "Kevin", .tag = TAG_A, .tamper = T_SADDR,
	  .keys = 1, .verdict = XDP_DROP, .reason = FLATRPC_DROP_BAD_TAG },
	{ "forged stream reset: no state", SET_FIRST, .user = "Kevin", .tag = TAG_X, .keys = 1,
	  .verdict = XDP_DROP, .reason = FLATRPC_DROP_BAD_TAG, .seqs_untouched = true },
	{ "forged ACK PENDING", .flags = FLATRPC_ACK, .method = KV_SET,
	  .status = FLATRPC_ACK_PENDING, .tag = TAG_X, .keys = 1, .verdict = XDP_DROP,
	  .reason = FLATRPC_DROP_BAD_TAG },
	{ "forged ACK BUSY", .flags = FLATRPC_ACK, .method = KV_SET, .status = FLATRPC_ACK_BUSY,
	  .tag = TAG_X, .keys = 1, .verdict = XDP_DROP, .reason = FLATRPC_DROP_BAD_TAG },
	{ "ACK PENDING from the server", .flags = FLATRPC_ACK, .method = KV_SET,
	  .status = FLATRPC_ACK_PENDING, .tag = TAG_A, .keys = 1, .verdict = XDP_DROP,
	  .reason = FLATRPC_DROP_NO_SOCKET },
	{ "forged ERR response", .flags = FLATRPC_ERR, .method = KV_GET, .status = 1,
	  .tag = TAG_X, .keys = 1, .verdict = XDP_DROP, .reason = FLATRPC_DROP_BAD_TAG },
	{ "a full first fragment", REQ(KV_GET), .user = "Kevin", .frag_count = 3, .tag = TAG_A,
	  .keys = 1, .verdict = XDP_DROP, .reason = FLATRPC_DROP_NO_SOCKET },
	{ "a full first fragment, changed", REQ(KV_GET), .user = "Kevin", .frag_count = 3,
	  .tag = TAG_A, .tamper = T_BODY, .keys = 1, .verdict = XDP_DROP,
	  .reason = FLATRPC_DROP_BAD_TAG },
	{ "peter denied: the ERR reply is tagged", REQ(KV_GET), .user = "Peter", .tag = TAG_A,
	  .keys = 1, .verdict = XDP_TX, .reason = FLATRPC_DROP_NONE, .reply_tagged = true },
	{ "peter denied over IPv6: tagged, checksummed", .v6 = true, REQ(KV_GET), .user = "Peter",
	  .tag = TAG_A, .keys = 1, .verdict = XDP_TX, .reason = FLATRPC_DROP_NONE,
	  .reply_tagged = true },
	{ "forged peter: no reply at all", REQ(KV_GET), .user = "Peter", .tag = TAG_X, .keys = 1,
	  .verdict = XDP_DROP, .reason = FLATRPC_DROP_BAD_TAG },
	/* epochs: what a replay after a reload or a rotation meets */
	{ "previous epoch, during a rotation", REQ(KV_GET), .user = "Kevin", .tag = TAG_A,
	  .epoch = E_PREV, .keys = 1, .verdict = XDP_DROP, .reason = FLATRPC_DROP_NO_SOCKET },
	{ "HELLO: ACK EPOCH with the current epoch", REQ(KV_GET), .user = "Kevin", .tag = TAG_A,
	  .epoch = E_HELLO, .keys = 1, .verdict = XDP_TX, .reason = FLATRPC_DROP_EPOCH_HELLO,
	  .reply_tagged = true },
	{ "HELLO over IPv6: tagged, checksummed", .v6 = true, REQ(KV_GET), .user = "Kevin",
	  .tag = TAG_A, .epoch = E_HELLO, .keys = 1, .verdict = XDP_TX,
	  .reason = FLATRPC_DROP_EPOCH_HELLO, .reply_tagged = true },
	{ "HELLO that opens a stream: answered, no state", SET_FIRST, .user = "Kevin",
	  .tag = TAG_A, .epoch = E_HELLO, .keys = 1, .verdict = XDP_TX,
	  .reason = FLATRPC_DROP_EPOCH_HELLO, .reply_tagged = true, .seqs_untouched = true },
	{ "forged HELLO: no reply", REQ(KV_GET), .user = "Kevin", .tag = TAG_X, .epoch = E_HELLO,
	  .keys = 1, .verdict = XDP_DROP, .reason = FLATRPC_DROP_BAD_TAG },
	{ "replayed set of an old epoch: never run, told the epoch", SET_FIRST, .user = "Kevin",
	  .tag = TAG_A, .epoch = E_OLD, .keys = 1, .verdict = XDP_TX,
	  .reason = FLATRPC_DROP_STALE_EPOCH, .reply_tagged = true, .seqs_untouched = true },
	{ "old epoch over IPv6", .v6 = true, REQ(KV_GET), .user = "Kevin", .tag = TAG_A,
	  .epoch = E_OLD, .keys = 1, .verdict = XDP_TX, .reason = FLATRPC_DROP_STALE_EPOCH,
	  .reply_tagged = true },
	{ "current hint, previous epoch's tag", REQ(KV_GET), .user = "Kevin", .tag = TAG_A,
	  .epoch = E_MIXED, .keys = 1, .verdict = XDP_DROP, .reason = FLATRPC_DROP_BAD_TAG },
	{ "old epoch, a first fragment: answered", REQ(KV_GET), .user = "Kevin",
	  .frag_count = 3, .tag = TAG_A, .epoch = E_OLD, .keys = 1, .verdict = XDP_TX,
	  .reason = FLATRPC_DROP_STALE_EPOCH, .reply_tagged = true },
};

static void run_row(void **state)
{
	const struct row *r = *state;
	static uint8_t in[2048], out[2048];
	__u64 before[FLATRPC_DROP__MAX];
	long seqs_before;
	size_t in_len;
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	set_keys(r->keys);
	in_len = build(r, in);
	for (__u32 i = 0; i < FLATRPC_DROP__MAX; i++)
		before[i] = drops_of(i);
	seqs_before = seqs_entries();
	opts.data_in = in;
	opts.data_size_in = in_len;
	opts.data_out = out;
	opts.data_size_out = sizeof(out);
	opts.repeat = 1;
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.flatrpc_xdp), &opts), 0);
	assert_int_equal(opts.retval, r->verdict);
	for (__u32 i = 0; i < FLATRPC_DROP__MAX; i++) {
		__u64 want = before[i] + (i == r->reason && i != FLATRPC_DROP_NONE);

		if (drops_of(i) != want)
			fail_msg("%s: drop counter %u is %llu, want %llu", r->name, i,
				 (unsigned long long)drops_of(i), (unsigned long long)want);
	}
	if (r->seqs_untouched)
		assert_int_equal(seqs_entries(), seqs_before);
	if (r->reply_tagged)
		check_reply(out, opts.data_size_out);
}

/* SipHash-2-4's published vectors (key 00..0f, messages 00, 00 01, ...), so
 * that the shared steps are SipHash and not merely self-consistent. */
static void siphash_vectors(void **state)
{
	static const __u64 want[] = {
		0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL,
		0x85676696d7fb7e2dULL,
	};
	const __u64 key[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
	uint8_t msg[64];

	(void)state;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (size_t n = 0; n < sizeof(want) / sizeof(want[0]); n++)
		assert_true(fr_siphash2(key, NULL, 0, msg, n) == want[n]);
	/* 15 bytes: the paper's own example */
	assert_true(fr_siphash2(key, NULL, 0, msg, 15) == 0xa129ca6149be45e5ULL);
	/* a prefix of whole words is the same as the message that starts with it */
	assert_true(fr_siphash2(key, msg, 24, msg + 24, 13) == fr_siphash2(key, NULL, 0, msg, 37));
}

static int setup(void **state)
{
	(void)state;
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		return -1;
	if (fixture_netns((const char *const[]){ "10.77.1.2/32", "10.77.2.2/32",
						"fd77:1::2/128", "fd77:2::2/128", NULL }))
		return -1;
	skel = fixture_load_auth(PORT, 1);
	return skel ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	flatrpc_bpf__destroy(skel);
	return 0;
}

int main(void)
{
	struct CMUnitTest tests[sizeof(rows) / sizeof(rows[0]) + 1];
	size_t i;

	if (geteuid() != 0) {
		fprintf(stderr, "test_bpf_auth: needs root\n");
		return 1;
	}
	tests[0] = (struct CMUnitTest)cmocka_unit_test(siphash_vectors);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tests[i + 1] = (struct CMUnitTest)cmocka_unit_test_prestate(run_row, (void *)&rows[i]);
		tests[i + 1].name = rows[i].name;
	}
	return cmocka_run_group_tests_name("bpf_auth", tests, setup, teardown);
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * flatrpc_siphash.h - the SipHash-2-4 steps behind FlatRPC's message tag,
 * shared by the XDP program (kern/auth.h), the library and the tests, so
 * that the one algorithm has one text. Only the loops over a message
 * differ: BPF checks every packet access, user space walks a buffer.
 *
 * SipHash-2-4 (Aumasson and Bernstein, 2012) is a keyed PRF with a 128-bit
 * key and a 64-bit output, built from 64-bit adds, rotations and xors: no
 * tables and no kernel crypto helpers, so it runs as plain BPF on 6.1.
 * Words are read little-endian.
 */
#ifndef FLATRPC_SIPHASH_H
#define FLATRPC_SIPHASH_H

#include <linux/types.h>

#ifdef __bpf__
#define FR_SIP_INLINE static __always_inline
#else
#define FR_SIP_INLINE static inline __attribute__((always_inline))
#endif

struct fr_sip {
	__u64 v0, v1, v2, v3;
};

FR_SIP_INLINE __u64 fr_sip_rotl(__u64 x, int b)
{
	return (x << b) | (x >> (64 - b));
}

FR_SIP_INLINE void fr_sip_round(struct fr_sip *s)
{
	s->v0 += s->v1; s->v1 = fr_sip_rotl(s->v1, 13); s->v1 ^= s->v0;
	s->v0 = fr_sip_rotl(s->v0, 32);
	s->v2 += s->v3; s->v3 = fr_sip_rotl(s->v3, 16); s->v3 ^= s->v2;
	s->v0 += s->v3; s->v3 = fr_sip_rotl(s->v3, 21); s->v3 ^= s->v0;
	s->v2 += s->v1; s->v1 = fr_sip_rotl(s->v1, 17); s->v1 ^= s->v2;
	s->v2 = fr_sip_rotl(s->v2, 32);
}

FR_SIP_INLINE void fr_sip_init(struct fr_sip *s, __u64 k0, __u64 k1)
{
	s->v0 = k0 ^ 0x736f6d6570736575ULL;
	s->v1 = k1 ^ 0x646f72616e646f6dULL;
	s->v2 = k0 ^ 0x6c7967656e657261ULL;
	s->v3 = k1 ^ 0x7465646279746573ULL;
}

/* One 8-byte word of the message (two compression rounds). */
FR_SIP_INLINE void fr_sip_word(struct fr_sip *s, __u64 m)
{
	s->v3 ^= m;
	fr_sip_round(s);
	fr_sip_round(s);
	s->v0 ^= m;
}

/* `tail`: the last len % 8 bytes as a little-endian word, the rest 0;
 * `len`: the whole message's length in bytes. */
FR_SIP_INLINE __u64 fr_sip_final(struct fr_sip *s, __u64 tail, __u64 len)
{
	fr_sip_word(s, tail | len << 56);
	s->v2 ^= 0xff;
	fr_sip_round(s);
	fr_sip_round(s);
	fr_sip_round(s);
	fr_sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

#endif /* FLATRPC_SIPHASH_H */

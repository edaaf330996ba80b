/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * flatrpc_csum.h - the Internet checksum (RFC 1071) for everything that
 * builds or changes frames: the XDP program, the library, the BPF table
 * tests and the benchmark's tools, so that they cannot disagree.
 *
 * Words are summed as they lie in memory, in host order: the one's
 * complement sum commutes with byte swapping (RFC 1071, 2.B), so a folded
 * result is stored as it is, with no byte swap. The BPF side only ever
 * calls these with constant lengths, which clang unrolls for the verifier.
 */
#ifndef FLATRPC_CSUM_H
#define FLATRPC_CSUM_H

#include <linux/types.h>
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifdef __clang__
#define FR_CSUM_UNROLL _Pragma("unroll")
#else
#define FR_CSUM_UNROLL
#endif

/* Adds `words` 16-bit words at p (2-byte aligned) to a running sum. */
static __always_inline __u32 fr_csum_add(__u32 sum, const void *p, int words)
{
	const __u16 *w = (const __u16 *)p;
	int i;

	FR_CSUM_UNROLL
	for (i = 0; i < words; i++)
		sum += w[i];
	return sum;
}

/* Folds a running sum into the checksum field's value (its complement). */
static __always_inline __u16 fr_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * An option-less IPv4 header's checksum over the header as it stands: the
 * value to store while ip->check is 0, and 0 when ip->check is right. The
 * header is 20 bytes: the struct is not needed, only its size.
 */
static __always_inline __u16 fr_csum_ip(const void *ip)
{
	return fr_csum_fold(fr_csum_add(0, ip, 10));
}

/* RFC 1624 (eqn. 3): the checksum after one 16-bit word went old -> new. */
static __always_inline __u16 fr_csum_update16(__u16 check, __u16 old, __u16 new_)
{
	return fr_csum_fold((__u32)(__u16)~check + (__u16)~old + new_);
}

/* The same for a 32-bit field, such as an IPv4 address. */
static __always_inline __u16 fr_csum_replace4(__u16 check, __u32 from, __u32 to)
{
	__u32 sum = (__u16)~check;

	sum += (__u16)~(from & 0xffff) + (__u16)~(from >> 16);
	sum += (to & 0xffff) + (to >> 16);
	return fr_csum_fold(sum);
}

/* UDP sends a computed 0 as all ones: 0 in the field means "no checksum". */
static __always_inline __u16 fr_csum_udp_value(__u16 folded)
{
	return folded ? folded : 0xffff;
}

#ifndef __bpf__
#include <string.h>

/*
 * Adds len bytes at p, of any alignment, to a running sum; len must be even
 * but for the last piece of a datagram, whose odd byte is padded with a
 * zero after it (RFC 768, RFC 8200). 32-bit words into a 64-bit sum, then
 * folded back: the same one's complement sum, half the additions (RFC 1071,
 * 2.C). Not for BPF.
 */
static inline __u32 fr_csum_add_bytes(__u32 sum, const void *p, size_t len)
{
	const __u8 *b = (const __u8 *)p;
	__u64 s = sum;
	__u32 w4;
	__u16 w2;

	for (; len >= 4; len -= 4, b += 4) {
		memcpy(&w4, b, 4);
		s += w4;
	}
	if (len >= 2) {
		memcpy(&w2, b, 2);
		s += w2;
		b += 2;
		len -= 2;
	}
	if (len) {
		__u8 last[2] = { b[0], 0 };

		memcpy(&w2, last, 2);
		s += w2;
	}
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	return (__u32)s;
}

/*
 * The folded sum over a UDP pseudo header of the given addresses (4 bytes
 * each for IPv4, 16 for IPv6) and the len-byte datagram at udp, its own
 * checksum field included: 0 when that field is right, and the value to
 * store (through fr_csum_udp_value()) while it is 0. Not for BPF.
 */
static inline __u16 fr_csum_udp_sum(const void *saddr, const void *daddr, size_t alen,
				    const void *udp, size_t len)
{
	static const __u8 proto[4] = { 0, 0, 0, 17 };	/* zeros, then UDP */
	__u32 sum, n = (__u32)len;
	__u8 be[4] = { (__u8)(n >> 24), (__u8)(n >> 16), (__u8)(n >> 8), (__u8)n };

	/* IPv4's 12-byte pseudo header sums to the same as this 4-byte
	 * length and 4-byte protocol word, IPv6's 40-byte one is exactly it */
	sum = fr_csum_add_bytes(0, saddr, alen);
	sum = fr_csum_add_bytes(sum, daddr, alen);
	sum = fr_csum_add_bytes(sum, be, 4);
	sum = fr_csum_add_bytes(sum, proto, 4);
	return fr_csum_fold(fr_csum_add_bytes(sum, udp, len));
}

/* The value to store in a UDP checksum field that is 0 now. Not for BPF. */
static inline __u16 fr_csum_udp(const void *saddr, const void *daddr, size_t alen,
				const void *udp, size_t len)
{
	return fr_csum_udp_value(fr_csum_udp_sum(saddr, daddr, alen, udp, len));
}
#endif

#endif /* FLATRPC_CSUM_H */

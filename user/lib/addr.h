/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * addr.h - a peer's IP address as the library's tables key it (internal).
 *
 * One 16-byte value for both families, in the byte order of the wire: an
 * IPv6 address as is, an IPv4 one IPv4-mapped (::ffff:a.b.c.d, RFC 4291
 * 2.5.5.2), the form the kernel's seqs and frag_verdicts keys use too. A
 * 128-bit integer rather than a struct, so that tables compare and copy it
 * as plainly as the u32 they used to hold: an IPv4 peer costs two 64-bit
 * compares instead of one 32-bit one.
 */
#ifndef FLATRPC_ADDR_H
#define FLATRPC_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

__extension__ typedef unsigned __int128 fr_addr_t;

static inline fr_addr_t fr_addr_v6(const void *a16)
{
	fr_addr_t a;

	memcpy(&a, a16, sizeof(a));
	return a;
}

/* v4: network order */
static inline fr_addr_t fr_addr_v4(uint32_t v4)
{
	uint8_t b[16] = { [10] = 0xff, [11] = 0xff };

	memcpy(b + 12, &v4, 4);
	return fr_addr_v6(b);
}

static inline void fr_addr_bytes(fr_addr_t a, void *out16)
{
	memcpy(out16, &a, sizeof(a));
}

static inline bool fr_addr_is_v4(fr_addr_t a)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(&a, prefix, sizeof(prefix));
}

/* The IPv4 address (network order) of an IPv4-mapped one. */
static inline uint32_t fr_addr_v4_of(fr_addr_t a)
{
	uint32_t v4;

	memcpy(&v4, (const uint8_t *)&a + 12, 4);
	return v4;
}

/* 32 bits for hashing: an IPv4 peer keeps its address's spread. */
static inline uint32_t fr_addr_fold(fr_addr_t a)
{
	uint64_t w[2];

	memcpy(w, &a, sizeof(w));
	w[0] ^= w[1];
	return (uint32_t)w[0] ^ (uint32_t)(w[0] >> 32);
}

#endif /* FLATRPC_ADDR_H */

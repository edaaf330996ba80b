/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * flatrpc_anf_bytes.h - how the generated ANF code reads and writes body
 * integers. One text for both places that code runs: XDP (kern/anf_rt.h)
 * and the sending library (flatrpc_anf_user.h). Define __always_inline
 * before including it (bpf_helpers.h does).
 */
#ifndef FLATRPC_ANF_BYTES_H
#define FLATRPC_ANF_BYTES_H

#include <linux/types.h>

/* body integers are little-endian, at any alignment */
static __always_inline __u16 fr_le16(const void *p)
{
	__u16 v;

	__builtin_memcpy(&v, p, 2);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap16(v);
#endif
	return v;
}

static __always_inline __u32 fr_le32(const void *p)
{
	__u32 v;

	__builtin_memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static __always_inline __u64 fr_le64(const void *p)
{
	__u64 v;

	__builtin_memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static __always_inline void fr_st16(void *p, __u16 v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap16(v);
#endif
	__builtin_memcpy(p, &v, 2);
}

static __always_inline void fr_st32(void *p, __u32 v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	__builtin_memcpy(p, &v, 4);
}

static __always_inline void fr_st64(void *p, __u64 v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	__builtin_memcpy(p, &v, 8);
}

#endif /* FLATRPC_ANF_BYTES_H */

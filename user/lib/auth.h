/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * auth.h - the message tag in user space: the library signs every frame it
 * sends with it; the table tests sign their frames with it too, so XDP's
 * check is tested against a second walk of the same definition
 * (flatrpc_abi.h, FLATRPC_TAG_LEN; the steps are flatrpc_siphash.h).
 */
#ifndef FLATRPC_USER_AUTH_H
#define FLATRPC_USER_AUTH_H

#include <stddef.h>
#include <string.h>
#include "flatrpc_abi.h"
#include "flatrpc_siphash.h"

/* SipHash-2-4 of `pre` (a whole number of 8-byte words) followed by msg. */
static inline __u64 fr_siphash2(const __u64 key[2], const void *pre, size_t pre_len,
				const void *msg, size_t len)
{
	const unsigned char *p = msg;
	struct fr_sip s;
	__u64 m, tail = 0;
	size_t i;

	fr_sip_init(&s, key[0], key[1]);
	for (i = 0; i + 8 <= pre_len; i += 8) {
		memcpy(&m, (const unsigned char *)pre + i, 8);
		fr_sip_word(&s, m);
	}
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, p + i, 8);
		fr_sip_word(&s, m);
	}
	memcpy(&tail, p + i, len - i);
	return fr_sip_final(&s, tail, pre_len + len);
}

/* The tag of a frame's FlatRPC message (header and body, `len` bytes at
 * msg) sent from saddr (FLATRPC_ADDR form), sport to dport (network order),
 * signed for the receiver's `epoch` (a request's; 0 for answers). */
static inline __u64 fr_tag_of(const __u64 key[2], const __be32 saddr[4], __be16 sport,
			      __be16 dport, __u32 epoch, const void *msg, size_t len)
{
	struct flatrpc_tag_pseudo ph = { .sport = sport, .dport = dport, .epoch = epoch };

	memcpy(ph.saddr, saddr, sizeof(ph.saddr));
	return fr_siphash2(key, &ph, sizeof(ph), msg, len);
}

#endif

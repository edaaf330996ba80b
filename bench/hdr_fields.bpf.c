/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The FlatRPC side of the header-parsing benchmark (bench/hdr_parse.c): one
 * XDP program per N = 0..25 that reads N u64 metadata fields at the fixed
 * offsets a generated layout gives them, behind Ethernet/IPv4/UDP and the
 * 12-byte FlatRPC header. N = 0 is the cost of BPF_PROG_TEST_RUN itself.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define BODY_OFF	(14 + 20 + 8 + 12)

/* One bounds check for the whole fixed part, as the generated parser does;
 * the result feeds the return value so no load can be dropped. */
#define FIELDS_PROG(N)							\
SEC("xdp") int fields_##N(struct xdp_md *ctx)				\
{									\
	void *data = (void *)(long)ctx->data;				\
	void *end = (void *)(long)ctx->data_end;			\
	__u64 *f = data + BODY_OFF, acc = 0;				\
									\
	if ((void *)(f + (N)) > end)					\
		return XDP_ABORTED;					\
	_Pragma("unroll")						\
	for (int i = 0; i < (N); i++)					\
		acc ^= f[i];						\
	return acc == 0x5a5a5a5a5a5a5a5aull ? XDP_DROP : XDP_PASS;	\
}

FIELDS_PROG(0)  FIELDS_PROG(1)  FIELDS_PROG(2)  FIELDS_PROG(3)  FIELDS_PROG(4)
FIELDS_PROG(5)  FIELDS_PROG(6)  FIELDS_PROG(7)  FIELDS_PROG(8)  FIELDS_PROG(9)
FIELDS_PROG(10) FIELDS_PROG(11) FIELDS_PROG(12) FIELDS_PROG(13) FIELDS_PROG(14)
FIELDS_PROG(15) FIELDS_PROG(16) FIELDS_PROG(17) FIELDS_PROG(18) FIELDS_PROG(19)
FIELDS_PROG(20) FIELDS_PROG(21) FIELDS_PROG(22) FIELDS_PROG(23) FIELDS_PROG(24)
FIELDS_PROG(25)

char LICENSE[] SEC("license") = "Dual BSD/GPL";

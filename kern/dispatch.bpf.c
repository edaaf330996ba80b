// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * dispatch.bpf.c - the one XDP entry point of an interface, for all its
 * FlatRPC services.
 *
 * Every service's object (flatrpc.bpf.c, one per spec) has its own XDP
 * program; the interface runs this one, which tail-calls the program of
 * the service the frame is for, by UDP port. A service joins, is reloaded
 * or leaves by one update of the `dispatch` array: atomic, so the frames
 * of every other service never miss their program, nor do this service's
 * own across a reload. What is no service's passes on (XDP_PASS), to the
 * kernel stack or, under libxdp's dispatcher, to the next XDP program of
 * the interface. Fixed: built once, with flatrpc-load (a skeleton).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <xdp/xdp_helpers.h>
#include "flatrpc_abi.h"
#include "ports.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, FLATRPC_DISPATCH_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} dispatch SEC(".maps");

SEC("xdp")
int flatrpc_dispatch(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	__u16 other = 0, port = fr_service_port(data, data_end, &other);

	if (!port)
		return XDP_PASS;
	bpf_tail_call(ctx, &dispatch, port);
	/* no service on that port: a frame with a broken header may still be
	 * the other end's to count */
	if (other && other != port)
		bpf_tail_call(ctx, &dispatch, other);
	return XDP_PASS;
}

/* libxdp's dispatcher: run after programs of lower priority, and go on to
 * the next one on XDP_PASS (what is not FlatRPC's). */
struct {
	__uint(priority, 20);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(flatrpc_dispatch);

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * dispatch.h - the interface's XDP entry point (kern/dispatch.bpf.c) and its
 * program array, for flatrpc-load: one per interface, shared by all the
 * services loaded there; libxdp reads what holds the hook.
 */
#ifndef FLATRPC_LOAD_DISPATCH_H
#define FLATRPC_LOAD_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* What holds the interface's XDP hook. */
enum fr_hook {
	FR_HOOK_FREE,		/* nothing attached */
	FR_HOOK_OURS,		/* our entry point */
	FR_HOOK_SHARED,		/* libxdp's dispatcher, which the entry point cannot join */
	FR_HOOK_FOREIGN,	/* a program that is not libxdp's: *id */
};

/* A program's id from its fd (0 when it has none), and whether the
 * program of an id has the given name. */
__u32 fr_prog_id(int fd);
bool fr_prog_named(__u32 id, const char *name);

/* Who holds the hook of ifindex, given the entry point pinned in if_dir. */
enum fr_hook fr_dispatch_hook(const char *if_dir, int ifindex, __u32 *id);
/* The pinned entry point's program id, 0 when there is none. */
__u32 fr_dispatch_root_id(const char *if_dir);
/*
 * Attaches the entry point in xdp_flags' mode (XDP_FLAGS_SKB_MODE or
 * XDP_FLAGS_DRV_MODE) unless it is there already, and pins it and its array
 * in if_dir. A foreign program is replaced only with force. 0 or -errno,
 * with why[] in plain words.
 */
int fr_dispatch_ensure(const char *if_dir, int ifindex, __u32 xdp_flags, bool force,
		       char *why, size_t n);
/* The XDP mode (XDP_FLAGS_*) of what is attached to ifindex, or fallback. */
__u32 fr_dispatch_mode(int ifindex, __u32 fallback);
/* Detaches the entry point (wherever it sits) and removes its pins.
 * Returns 1 if it detached anything. */
int fr_dispatch_retire(const char *if_dir, int ifindex);
/* The program at port: its id, 0 for none. */
__u32 fr_dispatch_get(const char *if_dir, __u16 port);
/* Puts prog_fd at port (one atomic update) or takes port's program out. */
int fr_dispatch_set(const char *if_dir, __u16 port, int prog_fd);
int fr_dispatch_clear(const char *if_dir, __u16 port);

#endif

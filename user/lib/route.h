/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * route.h - next hop from the kernel's route and neighbour tables (internal).
 *
 * AF_XDP frames bypass the kernel's IP output path, so the library builds
 * Ethernet headers itself; the kernel stays the single source of truth for
 * routes and ARP (IPv6: neighbour discovery), read through rtnetlink rather
 * than a private static table. Addresses are addr.h values of either family.
 */
#ifndef FLATRPC_ROUTE_H
#define FLATRPC_ROUTE_H

#include <stdint.h>
#include "addr.h"

struct route_nh {
	int		ifindex;	/* output interface */
	fr_addr_t	src;		/* preferred source address */
	fr_addr_t	via;		/* gateway or the destination */
	uint8_t		mac[6];		/* next hop's MAC */
};

/* Resolves dst. Waits up to resolve_ms for ARP or neighbour discovery when
 * no valid neighbour entry exists. Returns 0, FLATRPC_E_NOROUTE or -errno. */
int route_lookup(fr_addr_t dst, struct route_nh *nh, int resolve_ms);

int route_if_mac(const char *ifname, uint8_t mac[6]);

/* Binds a UDP socket to the port (0 = ephemeral) on every address of both
 * families ([::], dual-stack; 0.0.0.0 without IPv6) and keeps it so the
 * kernel never hands the port to another socket. Returns the fd or -errno;
 * *bound gets the port in host order. */
int route_reserve_port(uint16_t port, uint16_t *bound);

/* ------------------------------------------------ per-peer next-hop cache */

#define ROUTE_CACHE_SIZE	64
#define ROUTE_CACHE_TTL_NS	(5ull * 1000000000ull)
#define ROUTE_NEGATIVE_TTL_NS	(1ull * 1000000000ull)
#define ROUTE_RESOLVE_MS	1000

enum { ROUTE_EMPTY = 0, ROUTE_OK, ROUTE_NEGATIVE };

struct route_entry {
	uint64_t	checked_at;
	fr_addr_t	dst;
	uint8_t		valid;		/* ROUTE_* */
	int		err;		/* why, when ROUTE_NEGATIVE */
	struct route_nh	nh;
};

struct route_cache {
	struct route_entry	e[ROUTE_CACHE_SIZE];
	uint32_t		next_victim;
};

/* Cached next hop for dst; refreshed from the kernel when older than the TTL
 * or when `force` is set. A failed lookup is remembered for
 * ROUTE_NEGATIVE_TTL_NS so callers do not block on ARP at every send. */
int route_cache_get(struct route_cache *rc, fr_addr_t dst, uint64_t now, int force,
		    const struct route_nh **nh);

#endif /* FLATRPC_ROUTE_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * queues.h - which RX queues of an interface a socket opens (internal).
 *
 * XDP can hand a frame only to the AF_XDP socket bound to the queue it
 * arrived on (docs/facts.md), so a server that leaves a queue without a
 * socket loses every request the NIC steers there (no_socket).
 */
#ifndef FLATRPC_QUEUES_H
#define FLATRPC_QUEUES_H

#include <stdint.h>

/*
 * How many queues to open from `first` on: `want` is the option as given
 * (0 or 1: `first` alone; FLATRPC_QUEUES_ALL: every queue from `first` to
 * the last; N: exactly N), `have` the interface's RX queue count (0:
 * unknown). Fails with -ERANGE rather than opening fewer than asked, for
 * a queue the interface lacks, and for a span that leaves the xsks map
 * (FLATRPC_MAX_QUEUES). Pure, for the unit tests.
 */
int fx_queue_span(uint32_t first, uint32_t want, uint32_t have, uint32_t *n);

/* The RX queues the kernel has for ifname (ethtool channels, else
 * sysfs), or 0 when neither says. */
uint32_t fx_rx_queues(const char *ifname);

#endif /* FLATRPC_QUEUES_H */

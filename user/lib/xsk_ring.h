/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * xsk_ring.h - one AF_XDP socket with its own UMEM, and its registrations
 * in services' pinned XSKMAPs (internal).
 *
 * The UMEM is split in two fixed pools so neither can starve the other:
 * the lower half cycles fill ring -> RX ring -> caller -> fill ring, the
 * upper half cycles free list -> TX ring -> completion ring -> free list.
 */
#ifndef FLATRPC_XSK_RING_H
#define FLATRPC_XSK_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include <xdp/xsk.h>

#define FX_NUM_FRAMES	4096
#define FX_FRAME_SIZE	2048
#define FX_RX_FRAMES	(FX_NUM_FRAMES / 2)
#define FX_TX_FRAMES	(FX_NUM_FRAMES - FX_RX_FRAMES)
#define FX_RING_SIZE	2048
#define FX_NO_FRAME	UINT64_MAX

struct fx {
	void			*area;
	struct xsk_umem		*umem;
	struct xsk_socket	*xsk;
	struct xsk_ring_prod	fq;
	struct xsk_ring_cons	cq;
	struct xsk_ring_cons	rx;
	struct xsk_ring_prod	tx;
	uint64_t		free_tx[FX_TX_FRAMES];
	uint32_t		n_free_tx;
	uint32_t		tx_unkicked;	/* descriptors submitted since the last kick */
	int			fd;
	uint32_t		queue;
	int			ifindex;
	char			ifname[IF_NAMESIZE];
	char			bpffs[256];	/* "" for $FLATRPC_BPFFS or /sys/fs/bpf */
};

/*
 * One socket's entry in one service's pinned XSKMAP. A socket has one per
 * service whose frames it takes: the services a process serves and calls
 * on one interface share its sockets (flatrpc_sock_opts.share), and each
 * registers them in its own map.
 */
struct fx_reg {
	int			xsks_fd;	/* pinned XSKMAP, -1 when not registered */
	int			seqs_fd;	/* pinned `seqs`, -1 when absent */
	uint32_t		xsks_id;	/* the map id of xsks_fd */
	uint64_t		watched_at;	/* CLOCK_MONOTONIC ns of the last look */
	bool			unloaded;	/* the pins went; said so once */
	char			service[64];	/* whose pins: <ifname>/<service> */
};

struct fx_cfg {
	const char	*ifname;
	uint32_t	queue;
	bool		skb_mode;
	const char	*bpffs;		/* NULL: $FLATRPC_BPFFS or /sys/fs/bpf */
	uint64_t	spec_hash;
	const char	*service;	/* the service's name: its pins' directory */
};

/* Creates the socket and its UMEM on cfg's interface and queue; registers
 * it nowhere. Returns 0 or -errno. */
int fx_open(struct fx *x, const struct fx_cfg *cfg);
void fx_close(struct fx *x);

/* Checks cfg's service's pins (meta, xsks) and opens them: before any
 * socket exists, so that an interface without the load fails first.
 * Returns 0, -errno, FLATRPC_E_NOTLOADED or FLATRPC_E_SPEC. */
int fx_reg_open(struct fx_reg *r, const struct fx_cfg *cfg);
/* Puts x into the map at its queue: from now on XDP hands it the
 * service's frames of that queue. */
int fx_reg_bind(struct fx_reg *r, const struct fx *x);
/* Takes x out of the map (before x closes: XDP then counts no_socket
 * instead of racing a dying socket) and closes the pins. */
void fx_reg_close(struct fx_reg *r, const struct fx *x);

enum { FX_LOAD_SAME, FX_LOAD_GONE, FX_LOAD_NEW };
/* At most once a second (now: CLOCK_MONOTONIC ns): whether the pinned xsks
 * is still the map x is registered in through r. FX_LOAD_GONE the first
 * time it is not (unloaded, or a load of another spec), FX_LOAD_NEW once
 * x is registered in a new load's, FX_LOAD_SAME otherwise; -errno when
 * that registration failed (tried again a second later). */
int fx_watch(struct fx_reg *r, const struct fx *x, uint64_t spec_hash, uint64_t now);

/* A TX frame from the free list (reaping completions if it is empty). */
uint64_t fx_tx_alloc(struct fx *x);
void fx_tx_free(struct fx *x, uint64_t addr);
/* Queues one frame on the TX ring; 0 or -EAGAIN when the ring is full. */
int fx_tx_push(struct fx *x, uint64_t addr, uint32_t len);
/* Wakes the kernel for everything pushed since the last kick. */
void fx_kick(struct fx *x);
void fx_reap(struct fx *x);
/* Gives received frames back to the fill ring. */
void fx_rx_release(struct fx *x, const uint64_t *addrs, uint32_t n);

static inline void *fx_data(const struct fx *x, uint64_t addr)
{
	return xsk_umem__get_data(x->area, addr);
}

/* Where the pins of a service live: <bpffs>/flatrpc/<ifname>/<service>
 * (the interface's directory holds one per service loaded there). */
int fx_pin_dir(char *buf, size_t sz, const char *bpffs, const char *ifname,
	       const char *service);
/* A pinned object; read-only when rdonly. FLATRPC_E_NOTLOADED or -errno. */
int fx_obj_get(const char *path, bool rdonly);

#endif /* FLATRPC_XSK_RING_H */

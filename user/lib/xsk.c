/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * xsk.c - AF_XDP socket, UMEM and rings, registered in flatrpc-load's pins.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <bpf/bpf.h>

#include "flatrpc.h"
#include "xsk_ring.h"

/* The kernel releases a queue asynchronously after the previous socket on
 * it closed (docs/facts.md), so a bind right after a restart may see EBUSY. */
#define BIND_ATTEMPTS	50
#define BIND_BACKOFF_NS	20000000L

int fx_pin_dir(char *buf, size_t sz, const char *bpffs, const char *ifname, const char *service)
{
	int n;

	if (!bpffs || !*bpffs)
		bpffs = getenv("FLATRPC_BPFFS");
	if (!bpffs || !*bpffs)
		bpffs = "/sys/fs/bpf";
	n = snprintf(buf, sz, "%s/%s/%s/%s", bpffs, FLATRPC_PIN_SUBDIR, ifname, service);
	return n < 0 || (size_t)n >= sz ? -ENAMETOOLONG : 0;
}

/*
 * A pin, opened read-only where that is all the library needs, so that an
 * application that is not root needs no more than read access to it
 * (flatrpc-load --group: docs/security.md). libbpf 1.1 has no
 * bpf_obj_get_opts, so the syscall is made here. Errors: FLATRPC_E_NOTLOADED
 * for a missing pin, else -errno (-EACCES: not readable by this user).
 */
int fx_obj_get(const char *path, bool rdonly)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.pathname = (__u64)(unsigned long)path;
	attr.file_flags = rdonly ? BPF_F_RDONLY : 0;
	fd = syscall(__NR_bpf, BPF_OBJ_GET, &attr, sizeof(attr));
	if (fd < 0)
		return errno == ENOENT ? FLATRPC_E_NOTLOADED : -errno;
	return fd;
}

static int open_pin(const char *dir, const char *name, bool rdonly)
{
	char path[512];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return fx_obj_get(path, rdonly);
}

static int check_meta(const char *dir, uint64_t spec_hash)
{
	struct flatrpc_meta meta;
	__u32 key = 0;
	int fd, err = 0;

	fd = open_pin(dir, FLATRPC_PIN_META, true);
	if (fd < 0)
		return fd;
	memset(&meta, 0, sizeof(meta));
	if (bpf_map_lookup_elem(fd, &key, &meta))
		err = -errno;
	else if (meta.spec_hash != spec_hash)
		err = FLATRPC_E_SPEC;
	close(fd);
	return err;
}

static uint32_t map_id(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/*
 * flatrpc-load --unload takes the pins away, and the xsks map in which this
 * socket is registered goes with the load; a later load has a new one that
 * knows nothing of the socket, so it would stay deaf. A reload keeps xsks
 * (the loader carries the maps over), so its id tells the two apart. A
 * load appears whole (the loader swaps its directory in), so once xsks is
 * there, meta is too.
 */
int fx_watch(struct fx_reg *r, const struct fx *x, uint64_t spec_hash, uint64_t now)
{
	char dir[384];
	__u32 key = x->queue;
	uint32_t id;
	int fd;

	if (now - r->watched_at < 1000000000ull)
		return FX_LOAD_SAME;
	r->watched_at = now;
	if (fx_pin_dir(dir, sizeof(dir), x->bpffs, x->ifname, r->service))
		return FX_LOAD_SAME;
	fd = open_pin(dir, FLATRPC_PIN_XSKS, false);
	id = fd >= 0 ? map_id(fd) : 0;
	if (fd >= 0 && id == r->xsks_id) {
		close(fd);
		return FX_LOAD_SAME;
	}
	if (fd < 0 || check_meta(dir, spec_hash)) {
		/* gone, or a load of another spec: not ours to serve */
		if (fd >= 0)
			close(fd);
		if (r->unloaded)
			return FX_LOAD_SAME;
		r->unloaded = true;
		return FX_LOAD_GONE;
	}
	if (bpf_map_update_elem(fd, &key, &x->fd, BPF_ANY)) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (r->xsks_fd >= 0)
		close(r->xsks_fd);
	r->xsks_fd = fd;
	r->xsks_id = id;
	if (r->seqs_fd >= 0)
		close(r->seqs_fd);
	r->seqs_fd = open_pin(dir, FLATRPC_PIN_SEQS, false);
	if (r->seqs_fd < 0)
		r->seqs_fd = -1;
	r->unloaded = false;
	return FX_LOAD_NEW;
}

int fx_reg_open(struct fx_reg *r, const struct fx_cfg *cfg)
{
	char dir[384];
	int err;

	memset(r, 0, sizeof(*r));
	r->xsks_fd = -1;
	r->seqs_fd = -1;
	err = fx_pin_dir(dir, sizeof(dir), cfg->bpffs, cfg->ifname, cfg->service);
	if (err)
		return err;
	err = check_meta(dir, cfg->spec_hash);
	if (err)
		return err;
	r->xsks_fd = open_pin(dir, FLATRPC_PIN_XSKS, false);
	if (r->xsks_fd < 0) {
		err = r->xsks_fd;
		r->xsks_fd = -1;
		return err;
	}
	/* Only a hold-forever server writes it (to move a stream past what it
	 * ran from its hold); a spec without in-order methods still has it. */
	r->seqs_fd = open_pin(dir, FLATRPC_PIN_SEQS, false);
	if (r->seqs_fd < 0)
		r->seqs_fd = -1;
	snprintf(r->service, sizeof(r->service), "%s", cfg->service);
	r->xsks_id = map_id(r->xsks_fd);
	return 0;
}

int fx_reg_bind(struct fx_reg *r, const struct fx *x)
{
	__u32 key = x->queue;

	return bpf_map_update_elem(r->xsks_fd, &key, &x->fd, BPF_ANY) ? -errno : 0;
}

void fx_reg_close(struct fx_reg *r, const struct fx *x)
{
	__u32 key;

	if (r->xsks_fd >= 0) {
		/* Closing the socket would drop the entry too; deleting first
		 * makes XDP count no_socket instead of racing a dying socket. */
		if (x && x->fd >= 0) {
			key = x->queue;
			bpf_map_delete_elem(r->xsks_fd, &key);
		}
		close(r->xsks_fd);
		r->xsks_fd = -1;
	}
	if (r->seqs_fd >= 0) {
		close(r->seqs_fd);
		r->seqs_fd = -1;
	}
}

static int create_socket(struct fx *x, const struct fx_cfg *cfg)
{
	struct xsk_umem_config ucfg = {
		.fill_size = FX_RING_SIZE,
		.comp_size = FX_RING_SIZE,
		.frame_size = FX_FRAME_SIZE,
		.frame_headroom = 0,
	};
	struct xsk_socket_config scfg = {
		.rx_size = FX_RING_SIZE,
		.tx_size = FX_RING_SIZE,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.xdp_flags = cfg->skb_mode ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE,
		.bind_flags = XDP_COPY,
	};
	struct timespec backoff = { 0, BIND_BACKOFF_NS };
	int err = 0;

	for (int attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
		/* A failed bind leaves the UMEM's rings half-consumed inside
		 * libxdp, so every attempt starts from a fresh UMEM. */
		err = xsk_umem__create(&x->umem, x->area, (uint64_t)FX_NUM_FRAMES * FX_FRAME_SIZE,
				       &x->fq, &x->cq, &ucfg);
		if (err)
			return err;
		err = xsk_socket__create(&x->xsk, cfg->ifname, cfg->queue, x->umem,
					 &x->rx, &x->tx, &scfg);
		if (!err)
			return 0;
		xsk_umem__delete(x->umem);
		x->umem = NULL;
		if (err != -EBUSY)
			return err;
		nanosleep(&backoff, NULL);
	}
	return err;
}

int fx_open(struct fx *x, const struct fx_cfg *cfg)
{
	uint32_t idx;
	int err;

	memset(x, 0, sizeof(*x));
	x->fd = -1;
	x->queue = cfg->queue;
	x->ifindex = if_nametoindex(cfg->ifname);
	if (!x->ifindex)
		return -ENODEV;

	x->area = mmap(NULL, (size_t)FX_NUM_FRAMES * FX_FRAME_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->area == MAP_FAILED) {
		x->area = NULL;
		err = -errno;
		goto fail;
	}
	err = create_socket(x, cfg);
	if (err)
		goto fail;
	x->fd = xsk_socket__fd(x->xsk);

	/* Lower half of the UMEM feeds the fill ring, upper half is for TX. */
	if (xsk_ring_prod__reserve(&x->fq, FX_RX_FRAMES, &idx) != FX_RX_FRAMES) {
		err = -ENOSPC;
		goto fail;
	}
	for (uint32_t i = 0; i < FX_RX_FRAMES; i++)
		*xsk_ring_prod__fill_addr(&x->fq, idx + i) = (uint64_t)i * FX_FRAME_SIZE;
	xsk_ring_prod__submit(&x->fq, FX_RX_FRAMES);
	for (uint32_t i = 0; i < FX_TX_FRAMES; i++)
		x->free_tx[i] = (uint64_t)(FX_RX_FRAMES + i) * FX_FRAME_SIZE;
	x->n_free_tx = FX_TX_FRAMES;

	snprintf(x->ifname, sizeof(x->ifname), "%s", cfg->ifname);
	snprintf(x->bpffs, sizeof(x->bpffs), "%s", cfg->bpffs ? cfg->bpffs : "");
	return 0;
fail:
	fx_close(x);
	return err;
}

void fx_close(struct fx *x)
{
	if (x->xsk)
		xsk_socket__delete(x->xsk);
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->area)
		munmap(x->area, (size_t)FX_NUM_FRAMES * FX_FRAME_SIZE);
	x->xsk = NULL;
	x->umem = NULL;
	x->area = NULL;
	x->fd = -1;
}

void fx_reap(struct fx *x)
{
	uint32_t idx, n;

	n = xsk_ring_cons__peek(&x->cq, FX_RING_SIZE, &idx);
	for (uint32_t i = 0; i < n; i++)
		x->free_tx[x->n_free_tx++] = *xsk_ring_cons__comp_addr(&x->cq, idx + i) &
					     ~(uint64_t)(FX_FRAME_SIZE - 1);
	if (n)
		xsk_ring_cons__release(&x->cq, n);
}

uint64_t fx_tx_alloc(struct fx *x)
{
	if (!x->n_free_tx) {
		fx_reap(x);
		if (!x->n_free_tx && x->tx_unkicked) {
			fx_kick(x);
			fx_reap(x);
		}
		if (!x->n_free_tx)
			return FX_NO_FRAME;
	}
	return x->free_tx[--x->n_free_tx];
}

void fx_tx_free(struct fx *x, uint64_t addr)
{
	x->free_tx[x->n_free_tx++] = addr;
}

int fx_tx_push(struct fx *x, uint64_t addr, uint32_t len)
{
	struct xdp_desc *d;
	uint32_t idx;

	if (xsk_ring_prod__reserve(&x->tx, 1, &idx) != 1) {
		fx_kick(x);
		fx_reap(x);
		if (xsk_ring_prod__reserve(&x->tx, 1, &idx) != 1)
			return -EAGAIN;
	}
	d = xsk_ring_prod__tx_desc(&x->tx, idx);
	d->addr = addr;
	d->len = len;
	d->options = 0;
	xsk_ring_prod__submit(&x->tx, 1);
	x->tx_unkicked++;
	return 0;
}

void fx_kick(struct fx *x)
{
	if (!x->tx_unkicked)
		return;
	/* Copy mode transmits only inside sendmsg, and at most a small budget
	 * (32 by default) per call, answering EAGAIN while more is queued. */
	for (int i = 0; i < FX_RING_SIZE / 32 + 1; i++) {
		if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
			break;
		if (errno != EAGAIN)
			break;
	}
	x->tx_unkicked = 0;
}

void fx_rx_release(struct fx *x, const uint64_t *addrs, uint32_t n)
{
	uint32_t idx;

	if (!n)
		return;
	/* RX frames never leave their pool, so the fill ring always has room
	 * for every frame taken out of the RX ring. */
	if (xsk_ring_prod__reserve(&x->fq, n, &idx) != n)
		return;
	for (uint32_t i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&x->fq, idx + i) = addrs[i] & ~(uint64_t)(FX_FRAME_SIZE - 1);
	xsk_ring_prod__submit(&x->fq, n);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * dispatch.c - the interface's entry point: attach it once, through libxdp,
 * and point its ports at the services' programs.
 *
 * The services are reached by tail call from our entry point, so loading,
 * reloading and unloading one service is one update of the `dispatch`
 * array, and never touches the interface's hook. The entry point is
 * attached as a plain XDP program: under libxdp's dispatcher it would run
 * as an freplace (BPF_PROG_TYPE_EXT) program, and 6.1 refuses to put a
 * service's XDP program into the array such a program calls (EINVAL,
 * measured). libxdp is used to read what holds the hook.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <xdp/libxdp.h>

#include "flatrpc_abi.h"
#include "dispatch.h"
#include "dispatch.skel.h"

#define ROOT_NAME "flatrpc_dispatch"

static int pin_get(const char *dir, const char *name)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return bpf_obj_get(path);
}

__u32 fr_prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

bool fr_prog_named(__u32 id, const char *name)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	bool same;
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0)
		return false;
	same = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       !strncmp(info.name, name, sizeof(info.name) - 1);
	close(fd);
	return same;
}

__u32 fr_dispatch_root_id(const char *if_dir)
{
	int fd = pin_get(if_dir, FLATRPC_PIN_PROG_DISPATCH);
	__u32 id = fr_prog_id(fd);

	if (fd >= 0)
		close(fd);
	return id;
}

/* Ours: the pinned one, or one of ours whose pins are gone. */
static bool is_root(__u32 id, __u32 pinned)
{
	return id && (id == pinned || fr_prog_named(id, ROOT_NAME));
}

enum fr_hook fr_dispatch_hook(const char *if_dir, int ifindex, __u32 *id)
{
	__u32 pinned = fr_dispatch_root_id(if_dir);
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	enum fr_hook hook = FR_HOOK_FREE;
	struct xdp_program *p;

	*id = 0;
	if (libxdp_get_error(mp))
		return FR_HOOK_FREE;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		*id = p ? xdp_program__id(p) : 0;
		hook = !*id ? FR_HOOK_FREE : is_root(*id, pinned) ? FR_HOOK_OURS : FR_HOOK_FOREIGN;
	} else {
		hook = FR_HOOK_SHARED;
		for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp))
			if (is_root(xdp_program__id(p), pinned)) {
				*id = xdp_program__id(p);
				hook = FR_HOOK_OURS;
			}
	}
	xdp_multiprog__close(mp);
	return hook;
}

int fr_dispatch_ensure(const char *if_dir, int ifindex, __u32 xdp_flags, bool force,
		       char *why, size_t n)
{
	struct flatrpc_dispatch_bpf *skel;
	char path[4096];
	__u32 id;
	int err, fd;

	switch (fr_dispatch_hook(if_dir, ifindex, &id)) {
	case FR_HOOK_OURS:
		if (fr_dispatch_root_id(if_dir) == id)
			return 0;
		/* ours, but its pins are gone (a killed first load): a new
		 * one replaces it, since its array is out of reach */
		break;
	case FR_HOOK_SHARED:
	case FR_HOOK_FOREIGN:
		if (!force) {
			snprintf(why, n, "it already has an XDP program (id %u) that is not FlatRPC's%s; "
				 "use --force to replace it", id,
				 id ? "" : " (libxdp's dispatcher, which FlatRPC cannot join: "
				 "docs/loading.md)");
			return -EEXIST;
		}
		break;
	default:
		break;
	}
	skel = flatrpc_dispatch_bpf__open_and_load();
	if (!skel) {
		err = -errno;
		snprintf(why, n, "cannot load the XDP entry point: %s", strerror(-err));
		return err;
	}
	fd = bpf_program__fd(skel->progs.flatrpc_dispatch);
	/* the kernel refuses drv and skb programs at once; whatever sits in
	 * the other mode is ours or --force'd by now */
	bpf_xdp_detach(ifindex, xdp_flags == XDP_FLAGS_SKB_MODE ? XDP_FLAGS_DRV_MODE :
		       XDP_FLAGS_SKB_MODE, NULL);
	err = bpf_xdp_attach(ifindex, fd, xdp_flags, NULL);
	if (err) {
		snprintf(why, n, "cannot attach the XDP entry point in %s mode: %s%s",
			 xdp_flags == XDP_FLAGS_SKB_MODE ? "skb" : "drv", strerror(-err),
			 err == -EOPNOTSUPP && xdp_flags == XDP_FLAGS_DRV_MODE ?
			 " (the driver has no native XDP: try --mode skb)" : "");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", if_dir, FLATRPC_PIN_DISPATCH);
	unlink(path);
	err = bpf_map__pin(skel->maps.dispatch, path);
	if (!err) {
		snprintf(path, sizeof(path), "%s/%s", if_dir, FLATRPC_PIN_PROG_DISPATCH);
		unlink(path);
		err = bpf_obj_pin(fd, path) ? -errno : 0;
	}
	if (err) {
		snprintf(why, n, "cannot pin the entry point in %s: %s", if_dir, strerror(-err));
		bpf_xdp_detach(ifindex, xdp_flags, NULL);
	}
out:
	flatrpc_dispatch_bpf__destroy(skel);
	return err;
}

int fr_dispatch_retire(const char *if_dir, int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	__u32 pinned = fr_dispatch_root_id(if_dir);
	char path[4096];
	int did = 0;

	if (ifindex && !bpf_xdp_query(ifindex, 0, &q)) {
		if (is_root(q.drv_prog_id, pinned) &&
		    !bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL))
			did = 1;
		if (is_root(q.skb_prog_id, pinned) &&
		    !bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL))
			did = 1;
	}
	snprintf(path, sizeof(path), "%s/%s", if_dir, FLATRPC_PIN_DISPATCH);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", if_dir, FLATRPC_PIN_PROG_DISPATCH);
	unlink(path);
	return did;
}

__u32 fr_dispatch_get(const char *if_dir, __u16 port)
{
	int fd = pin_get(if_dir, FLATRPC_PIN_DISPATCH);
	__u32 key = port, id = 0;

	if (fd < 0)
		return 0;
	/* from user space a program array answers with the program's id */
	if (bpf_map_lookup_elem(fd, &key, &id))
		id = 0;
	close(fd);
	return id;
}

int fr_dispatch_set(const char *if_dir, __u16 port, int prog_fd)
{
	int fd = pin_get(if_dir, FLATRPC_PIN_DISPATCH), err;
	__u32 key = port;

	if (fd < 0)
		return fd;
	err = bpf_map_update_elem(fd, &key, &prog_fd, BPF_ANY) ? -errno : 0;
	close(fd);
	return err;
}

int fr_dispatch_clear(const char *if_dir, __u16 port)
{
	int fd = pin_get(if_dir, FLATRPC_PIN_DISPATCH), err;
	__u32 key = port;

	if (fd < 0)
		return fd;
	err = bpf_map_delete_elem(fd, &key) && errno != ENOENT ? -errno : 0;
	close(fd);
	return err;
}

__u32 fr_dispatch_mode(int ifindex, __u32 fallback)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	enum xdp_attach_mode m;

	if (libxdp_get_error(mp))
		return fallback;
	m = xdp_multiprog__attach_mode(mp);
	xdp_multiprog__close(mp);
	return m == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : m == XDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE :
	       fallback;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fixture.h - what every BPF table test does before its rows: load its
 * service's object without pins and seed the state from init(), as
 * flatrpc-load would. Include after that service's flatrpc.skel.h and init.h
 * (the Makefile points each test at one service's generated directory).
 */
#ifndef FLATRPC_BPF_FIXTURE_H
#define FLATRPC_BPF_FIXTURE_H

/* The IPv4 header checksum of ip as it stands, in network order: the value
 * to store when ip->check is 0, and 0 when ip->check is already right. */
static inline __u16 fixture_ip_csum(const struct iphdr *ip)
{
	const __u8 *b = (const __u8 *)ip;
	__u32 sum = 0;

	for (int i = 0; i < ip->ihl * 4; i += 2)
		sum += (__u32)b[i] << 8 | b[i + 1];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return htons((__u16)~sum);
}

static struct flatrpc_bpf *fixture_load(__u16 port)
{
	struct flatrpc_bpf *s = flatrpc_bpf__open();
	struct bpf_map *map;
	unsigned int i;

	if (!s)
		return NULL;
	/* tests must never touch the pins of a running system */
	bpf_object__for_each_map(map, s->obj)
		bpf_map__set_pin_path(map, NULL);
	s->rodata->flatrpc_port = port;
	if (flatrpc_bpf__load(s))
		goto fail;
	for (i = 0; i < FLATRPC_INIT_COUNT; i++) {
		const struct flatrpc_init_entry *e = &flatrpc_init_table[i];

		map = bpf_object__find_map_by_name(s->obj, e->map);
		if (!map || bpf_map__update_elem(map, e->key, e->key_size, e->value,
						 e->value_size, BPF_ANY))
			goto fail;
	}
	return s;
fail:
	flatrpc_bpf__destroy(s);
	return NULL;
}

#endif

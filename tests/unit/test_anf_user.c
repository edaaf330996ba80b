/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_anf_user.c - the user-space run-time of the client: elements
 * (include/flatrpc_anf_user.h): the process tables answer as the kernel's
 * maps answer the same generated code (lookup, update flags, delete, a
 * full refusing map, a full evicting one, arrays), deletion keeps every
 * other key reachable, and init.h's entries seed only the tables they name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "flatrpc_anf_user.h"

struct k16 { char b[16]; };

static void test_hash_basic(void **state)
{
	struct fr_umap m = FR_UMAP_HASH_INIT("t", sizeof(__u64), sizeof(__u64), 16, 0);
	__u64 k = 42, v = 7, *p;

	(void)state;
	assert_null(bpf_map_lookup_elem(&m, &k));
	assert_null(m.mem);	/* nothing allocated for a lookup */
	assert_int_equal(bpf_map_update_elem(&m, &k, &v, BPF_NOEXIST), 0);
	assert_int_equal(bpf_map_update_elem(&m, &k, &v, BPF_NOEXIST), -EEXIST);
	p = bpf_map_lookup_elem(&m, &k);
	assert_non_null(p);
	assert_int_equal(*p, 7);
	/* 8-aligned, so the generated atomic adds are sound */
	assert_int_equal((uintptr_t)p % 8, 0);
	__sync_fetch_and_add(p, 1ULL);
	assert_int_equal(*(__u64 *)bpf_map_lookup_elem(&m, &k), 8);
	v = 9;
	assert_int_equal(bpf_map_update_elem(&m, &k, &v, BPF_ANY), 0);
	assert_int_equal(*(__u64 *)bpf_map_lookup_elem(&m, &k), 9);
	assert_int_equal(m.live, 1);
	assert_int_equal(bpf_map_delete_elem(&m, &k), 0);
	assert_int_equal(bpf_map_delete_elem(&m, &k), -ENOENT);
	assert_null(bpf_map_lookup_elem(&m, &k));
	assert_int_equal(m.live, 0);
	free(m.mem);
}

/* Keys that share probe runs, deleted in every other order: the backward
 * shift must leave each remaining key findable with its own value. */
static void test_hash_delete_keeps_others(void **state)
{
	enum { N = 200 };
	struct fr_umap m = FR_UMAP_HASH_INIT("t", sizeof(__u64), sizeof(__u64), N, 1);

	(void)state;
	for (__u64 k = 0; k < N; k++) {
		__u64 v = k * 3;

		assert_int_equal(bpf_map_update_elem(&m, &k, &v, BPF_NOEXIST), 0);
	}
	for (__u64 k = 0; k < N; k += 2)
		assert_int_equal(bpf_map_delete_elem(&m, &k), 0);
	for (__u64 k = 0; k < N; k++) {
		__u64 *p = bpf_map_lookup_elem(&m, &k);

		if (k % 2) {
			assert_non_null(p);
			assert_int_equal(*p, k * 3);
		} else {
			assert_null(p);
		}
	}
	assert_int_equal(m.live, N / 2);
	free(m.mem);
}

/* @full(refuse): a full table refuses a new key (-E2BIG, as a plain BPF
 * hash does) and fr_state_insert() says so; a key it holds still updates. */
static void test_hash_full_refuse(void **state)
{
	struct fr_umap m = FR_UMAP_HASH_INIT("t", sizeof(struct k16), 4, 4, 1);
	struct k16 k = { { 0 } };
	char v[4] = "Yes";

	(void)state;
	for (int i = 0; i < 4; i++) {
		k.b[0] = (char)('a' + i);
		assert_int_equal(fr_state_insert(&m, 0, 1, &k, v), 0);
	}
	k.b[0] = 'z';
	assert_int_equal(bpf_map_update_elem(&m, &k, v, BPF_ANY), -E2BIG);
	assert_int_equal(fr_state_insert(&m, 0, 1, &k, v), 1);
	assert_int_equal(m.refused, 1);
	assert_int_equal(m.inserted, 4);
	k.b[0] = 'a';
	assert_int_equal(fr_state_insert(&m, 0, 1, &k, "No\0"), 0);
	assert_string_equal((char *)bpf_map_lookup_elem(&m, &k), "No");
	free(m.mem);
}

/* @full(evict): a full table takes a new key and pushes one out, as the
 * kernel's LRU does; its size stays the limit. */
static void test_hash_full_evict(void **state)
{
	struct fr_umap m = FR_UMAP_HASH_INIT("t", sizeof(__u64), sizeof(__u64), 8, 0);
	unsigned int found = 0;

	(void)state;
	for (__u64 k = 0; k < 100; k++) {
		__u64 v = k;

		assert_int_equal(fr_state_insert(&m, 0, 0, &k, &v), 0);
		assert_non_null(bpf_map_lookup_elem(&m, &k));	/* the new key is in */
		assert_true(m.live <= 8);
	}
	assert_int_equal(m.live, 8);
	assert_int_equal(m.evicted, 92);
	for (__u64 k = 0; k < 100; k++)
		found += !!bpf_map_lookup_elem(&m, &k);
	assert_int_equal(found, 8);
	free(m.mem);
}

/* A Vec or scalar: an array, keys 0..max-1, delete refused as the kernel's. */
static void test_array(void **state)
{
	struct fr_umap m = FR_UMAP_ARRAY_INIT("a", sizeof(__u32), 3);
	__u32 i = 2, v = 5, *p;

	(void)state;
	p = bpf_map_lookup_elem(&m, &i);
	assert_non_null(p);
	assert_int_equal(*p, 0);	/* arrays start zeroed */
	assert_int_equal(bpf_map_update_elem(&m, &i, &v, BPF_ANY), 0);
	assert_int_equal(*(__u32 *)bpf_map_lookup_elem(&m, &i), 5);
	i = 3;
	assert_null(bpf_map_lookup_elem(&m, &i));
	assert_int_equal(bpf_map_update_elem(&m, &i, &v, BPF_ANY), -E2BIG);
	assert_int_equal(bpf_map_delete_elem(&m, &i), -EINVAL);
	free(m.mem);
}

/* init.h's entries: those naming a table (with its sizes) seed it; the
 * others are the state of elements that run elsewhere. */
static void test_seed(void **state)
{
	static struct fr_umap fw = FR_UMAP_HASH_INIT("fr_firewall_firewall", 16, 4, 64, 1);
	static struct fr_umap *const maps[] = { &fw, NULL };
	static const struct k16 kevin = { "Kevin" }, peter = { "Peter" };
	static const __u64 one = 1;
	const struct flatrpc_init_entry e[] = {
		{ "fr_firewall_firewall", &kevin, 16, "Yes", 4 },
		{ "fr_firewall_firewall", &peter, 16, "No\0", 4 },
		{ "fr_other_sessions", &one, 8, &one, 8 },
	};

	(void)state;
	fr_umap_seed(maps, e, 3);
	assert_int_equal(fw.live, 2);
	assert_string_equal((char *)bpf_map_lookup_elem(&fw, &kevin), "Yes");
	assert_string_equal((char *)bpf_map_lookup_elem(&fw, &peter), "No");
	free(fw.mem);
}

static void test_bytes(void **state)
{
	unsigned char b[8];

	(void)state;
	fr_st64(b, 0x0102030405060708ULL);
	assert_int_equal(b[0], 8);
	assert_int_equal(fr_le64(b), 0x0102030405060708ULL);
	fr_st16(b + 1, 0xabcd);	/* any alignment */
	assert_int_equal(fr_le16(b + 1), 0xabcd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_basic),
		cmocka_unit_test(test_hash_delete_keeps_others),
		cmocka_unit_test(test_hash_full_refuse),
		cmocka_unit_test(test_hash_full_evict),
		cmocka_unit_test(test_array),
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_bytes),
	};

	return cmocka_run_group_tests_name("anf_user", tests, NULL, NULL);
}

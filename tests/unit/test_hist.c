/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_hist.c - the latency histograms' buckets (flatrpc_abi.h), the code
 * that XDP and the library both run: every value lands in the bucket whose
 * bounds hold it, buckets tile the range without gaps, and none is wider
 * than the 12.5% that docs/observability.md states.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "flatrpc_abi.h"

static void test_fls(void **state)
{
	(void)state;
	assert_int_equal(flatrpc_fls64(0), 0);
	assert_int_equal(flatrpc_fls64(1), 1);
	assert_int_equal(flatrpc_fls64(7), 3);
	assert_int_equal(flatrpc_fls64(8), 4);
	assert_int_equal(flatrpc_fls64(1ull << 40), 41);
	assert_int_equal(flatrpc_fls64(~0ull), 64);
}

/* Bucket i holds (upper(i - 1), upper(i)]: both ends checked for each. */
static void test_bounds_tile(void **state)
{
	(void)state;
	assert_int_equal(flatrpc_hist_bucket(0), 0);
	assert_int_equal(flatrpc_hist_bucket(1), 0);
	for (__u32 i = 0; i + 1 < FLATRPC_HIST_BUCKETS; i++) {
		__u64 hi = flatrpc_hist_upper(i);

		assert_true(hi < flatrpc_hist_upper(i + 1));
		assert_int_equal(flatrpc_hist_bucket(hi), i);
		assert_int_equal(flatrpc_hist_bucket(hi + 1), i + 1);
	}
}

static void test_width(void **state)
{
	(void)state;
	for (__u32 i = FLATRPC_HIST_SUB; i < FLATRPC_HIST_BUCKETS; i++) {
		double lo = (double)flatrpc_hist_upper(i - 1), hi = (double)flatrpc_hist_upper(i);

		assert_true((hi - lo) / lo <= 0.125 + 1e-12);
	}
	/* 1 us, 8 us and 1 ms fall where the bounds say */
	assert_true(flatrpc_hist_upper(flatrpc_hist_bucket(1000)) >= 1000);
	assert_true(flatrpc_hist_upper(flatrpc_hist_bucket(8000) - 1) < 8000);
	assert_true(flatrpc_hist_upper(flatrpc_hist_bucket(1000000)) >= 1000000);
}

/* The last bucket ends at 2^36 ns and takes everything slower. */
static void test_overflow(void **state)
{
	(void)state;
	assert_int_equal(flatrpc_hist_upper(FLATRPC_HIST_BUCKETS - 1), 1ull << 36);
	assert_int_equal(flatrpc_hist_bucket(1ull << 36), FLATRPC_HIST_BUCKETS - 1);
	assert_int_equal(flatrpc_hist_bucket((1ull << 36) + 1), FLATRPC_HIST_BUCKETS - 1);
	assert_int_equal(flatrpc_hist_bucket(~0ull), FLATRPC_HIST_BUCKETS - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fls),
		cmocka_unit_test(test_bounds_tile),
		cmocka_unit_test(test_width),
		cmocka_unit_test(test_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

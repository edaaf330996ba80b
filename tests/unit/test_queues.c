/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_queues.c - which RX queues a socket opens (user/lib/queues.h): one
 * by default, as before the option existed; every one on request; never
 * fewer than asked, and never past the xsks map.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "flatrpc.h"
#include "queues.h"

static int span(uint32_t first, uint32_t want, uint32_t have, uint32_t *n)
{
	*n = 12345;
	return fx_queue_span(first, want, have, n);
}

/* 0 is what a caller built against version 1 of the options passes. */
static void test_one(void **state)
{
	uint32_t n;

	(void)state;
	assert_int_equal(span(0, 0, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(span(3, 1, 4, &n), 0);
	assert_int_equal(n, 1);
	/* a count the device does not report leaves the bind to judge */
	assert_int_equal(span(7, 0, 0, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(span(4, 1, 4, &n), -ERANGE);
	assert_int_equal(n, 12345);
}

static void test_all(void **state)
{
	uint32_t n;

	(void)state;
	assert_int_equal(span(0, FLATRPC_QUEUES_ALL, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(span(1, FLATRPC_QUEUES_ALL, 4, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(span(0, FLATRPC_QUEUES_ALL, 1, &n), 0);
	assert_int_equal(n, 1);
	/* unknown: the one queue every device has */
	assert_int_equal(span(0, FLATRPC_QUEUES_ALL, 0, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(span(2, FLATRPC_QUEUES_ALL, 2, &n), -ERANGE);
	/* more queues than the xsks map has entries: the first ones only
	 * would leave the rest deaf, so it is refused */
	assert_int_equal(span(0, FLATRPC_QUEUES_ALL, FLATRPC_MAX_QUEUES + 1, &n), -ERANGE);
	assert_int_equal(span(0, FLATRPC_QUEUES_ALL, FLATRPC_MAX_QUEUES, &n), 0);
	assert_int_equal(n, FLATRPC_MAX_QUEUES);
}

static void test_count(void **state)
{
	uint32_t n;

	(void)state;
	assert_int_equal(span(0, 2, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(span(2, 2, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(span(3, 2, 4, &n), -ERANGE);
	assert_int_equal(span(0, 5, 4, &n), -ERANGE);
	assert_int_equal(span(FLATRPC_MAX_QUEUES, 0, 0, &n), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one),
		cmocka_unit_test(test_all),
		cmocka_unit_test(test_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

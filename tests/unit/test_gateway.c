/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_gateway.c - the gRPC gateway without sockets: grpc-timeout parsing,
 * FlatRPC outcomes as gRPC statuses, and kv's generated glue on protobuf
 * packed by protoc-c's own code (the bounds of the spec, undecodable
 * input, response bodies that do not decode).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gateway.h"
#include "kv_stubs.h"
#include "kv.pb-c.h"

static void test_timeout(void **st)
{
	(void)st;
	assert_int_equal(fr_gw_parse_timeout("100m", 4), 100000000);
	assert_int_equal(fr_gw_parse_timeout("5S", 2), 5000000000ll);
	assert_int_equal(fr_gw_parse_timeout("1H", 2), 3600000000000ll);
	assert_int_equal(fr_gw_parse_timeout("7n", 2), 7);
	assert_int_equal(fr_gw_parse_timeout("12345678u", 9), 12345678000ll);
	/* nine digits, no unit, no digits, another unit */
	assert_int_equal(fr_gw_parse_timeout("123456789m", 10), -1);
	assert_int_equal(fr_gw_parse_timeout("100", 3), -1);
	assert_int_equal(fr_gw_parse_timeout("m", 1), -1);
	assert_int_equal(fr_gw_parse_timeout("10x", 3), -1);
	assert_int_equal(fr_gw_parse_timeout("-1S", 3), -1);
}

static void test_status(void **st)
{
	char m[160];

	(void)st;
	/* kv's error 1 is the firewall's */
	assert_int_equal(fr_gw_status_of(&kv_service, FLATRPC_E_ANF, 1, m, sizeof(m)),
			 FR_GW_PERMISSION_DENIED);
	assert_string_equal(m, "denied by firewall");
	assert_int_equal(fr_gw_status_of(&kv_service, FLATRPC_E_ANF, FLATRPC_ST_STATE_FULL, m,
					 sizeof(m)), FR_GW_RESOURCE_EXHAUSTED);
	assert_int_equal(fr_gw_status_of(&kv_service, FLATRPC_E_TIMEOUT, 0, m, sizeof(m)),
			 FR_GW_DEADLINE_EXCEEDED);
	assert_int_equal(fr_gw_status_of(&kv_service, FLATRPC_E_REMOTE, FLATRPC_ST_NO_METHOD, m,
					 sizeof(m)), FR_GW_UNIMPLEMENTED);
	assert_int_equal(fr_gw_status_of(&kv_service, FLATRPC_E_REMOTE, FLATRPC_ST_BAD_REQUEST, m,
					 sizeof(m)), FR_GW_INVALID_ARGUMENT);
	assert_int_equal(fr_gw_status_of(&kv_service, FLATRPC_E_OVERLOADED, 0, m, sizeof(m)),
			 FR_GW_UNAVAILABLE);
	assert_int_equal(fr_gw_status_of(&kv_service, 0, 0, m, sizeof(m)), FR_GW_OK);
}

/* a rate limiter's error is "too much", not "no" */
static void test_status_rate_limited(void **st)
{
	static const char *const errs[] = { "acl", "rate-limited" };
	struct flatrpc_service_desc d = { .name = "rl", .n_errors = 2, .errors = errs };
	char m[160];

	(void)st;
	assert_int_equal(fr_gw_status_of(&d, FLATRPC_E_ANF, 1, m, sizeof(m)),
			 FR_GW_PERMISSION_DENIED);
	assert_int_equal(fr_gw_status_of(&d, FLATRPC_E_ANF, 2, m, sizeof(m)),
			 FR_GW_RESOURCE_EXHAUSTED);
	assert_string_equal(m, "denied by rate-limited");
}

static unsigned method_of(const char *path)
{
	for (unsigned i = 0; i < fr_gw_spec.n_methods; i++)
		if (!strcmp(fr_gw_spec.methods[i].path, path))
			return i;
	fail_msg("no method %s", path);
	return 0;
}

static enum fr_gw_code set_with(const char *key, size_t vlen)
{
	Kv__SetRequest q = KV__SET_REQUEST__INIT;
	static uint8_t v[70000], pb[80000];
	size_t n;

	q.username = "Kevin";
	q.key = (char *)key;
	q.value.data = v;
	q.value.len = vlen;
	n = kv__set_request__pack(&q, pb);
	return fr_gw_test_request(&fr_gw_spec, method_of("/kv.Kv/Set"), pb, n);
}

static void test_glue_bounds(void **st)
{
	char key[70];

	(void)st;
	assert_string_equal(fr_gw_spec.grpc_name, "kv.Kv");
	assert_int_equal(fr_gw_spec.methods[method_of("/kv.Kv/Get")].id, KV_GET);
	assert_int_equal(set_with("k", 0), FR_GW_OK);
	assert_int_equal(set_with("k", 256), FR_GW_OK);
	assert_int_equal(set_with("k", 257), FR_GW_INVALID_ARGUMENT);
	memset(key, 'k', 64);
	key[64] = 0;
	assert_int_equal(set_with(key, 1), FR_GW_OK);
	key[64] = 'k';
	key[65] = 0;
	assert_int_equal(set_with(key, 1), FR_GW_INVALID_ARGUMENT);
}

static void test_glue_undecodable(void **st)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff };
	/* field 3 (key) as a varint: the wrong wire type for a string */
	static const uint8_t wrong_type[] = { 0x18, 0x01 };

	(void)st;
	assert_int_equal(fr_gw_test_request(&fr_gw_spec, method_of("/kv.Kv/Get"), junk,
					    sizeof(junk)), FR_GW_INVALID_ARGUMENT);
	assert_int_equal(fr_gw_test_request(&fr_gw_spec, method_of("/kv.Kv/Get"), wrong_type,
					    sizeof(wrong_type)), FR_GW_INVALID_ARGUMENT);
	/* the empty message is every field's default */
	assert_int_equal(fr_gw_test_request(&fr_gw_spec, method_of("/kv.Kv/Get"), junk, 0),
			 FR_GW_OK);
}

static void test_glue_response(void **st)
{
	struct kv_get_resp r = { .value = { .len = 3, .data = "abc" } };
	uint8_t body[KV_GET_RESP_MAX];
	int n;

	(void)st;
	n = kv_get_resp_encode(&r, body, sizeof(body));
	assert_true(n > 0);
	assert_int_equal(fr_gw_test_response(&fr_gw_spec, method_of("/kv.Kv/Get"), body,
					     (size_t)n), FR_GW_OK);
	/* a body the stubs refuse is the gateway's INTERNAL, not a crash */
	assert_int_equal(fr_gw_test_response(&fr_gw_spec, method_of("/kv.Kv/Get"), body, 1),
			 FR_GW_INTERNAL);
}

/* bytes that are not HTTP/2 end the connection, and nothing else */
static void test_conn_garbage(void **st)
{
	static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	struct fr_gw_conn *k;

	(void)st;
	k = fr_gw_test_conn(&fr_gw_spec);
	assert_non_null(k);
	assert_int_equal(fr_gw_test_feed(k, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18), -1);
	fr_gw_test_close(k);
	k = fr_gw_test_conn(&fr_gw_spec);
	assert_int_equal(fr_gw_test_feed(k, preface, sizeof(preface) - 1), 0);
	fr_gw_test_close(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_rate_limited),
		cmocka_unit_test(test_glue_bounds),
		cmocka_unit_test(test_glue_undecodable),
		cmocka_unit_test(test_glue_response),
		cmocka_unit_test(test_conn_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

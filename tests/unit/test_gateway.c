/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_gateway.c - the gRPC gateway without sockets: grpc-timeout parsing,
 * FlatRPC outcomes as gRPC statuses, and kv's generated glue on protobuf
 * packed by protoc-c's own code (the bounds of the spec, undecodable
 * input, response bodies that do not decode), and server reflection over
 * the descriptor set the build made with protoc, read back with protoc-c's
 * code for descriptor.proto.
 */
#define _GNU_SOURCE
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
#include "reflection.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"

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

/* ---- server reflection ---------------------------------------------------------- */

static struct fr_gw_refl *refl(void)
{
	static struct fr_gw_refl *r;
	char err[200] = "";

	if (!r)
		r = fr_gw_refl_new(fr_gw_descriptor_set, fr_gw_descriptor_set_len, err,
				   sizeof(err));
	if (!r)
		fail_msg("the build's descriptor set: %s", err);
	return r;
}

typedef Grpc__Reflection__V1alpha__ServerReflectionRequest Req;
typedef Grpc__Reflection__V1alpha__ServerReflectionResponse Resp;

static Resp *ask(Req *q)
{
	uint8_t pb[512], *out;
	size_t n = grpc__reflection__v1alpha__server_reflection_request__pack(q, pb);
	ssize_t len = fr_gw_reflect(refl(), pb, n, &out);
	Resp *a;

	assert_true(len >= 0);
	a = grpc__reflection__v1alpha__server_reflection_response__unpack(NULL, (size_t)len, out);
	free(out);
	assert_non_null(a);
	/* every answer carries its question back */
	assert_non_null(a->original_request);
	assert_int_equal(a->original_request->message_request_case, q->message_request_case);
	return a;
}

static Resp *ask_symbol(const char *sym)
{
	Req q = GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__INIT;

	q.message_request_case =
		GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL;
	q.file_containing_symbol = (char *)sym;
	return ask(&q);
}

/* The first file of a file_descriptor_response, decoded. */
static Google__Protobuf__FileDescriptorProto *first_file(const Resp *a)
{
	assert_int_equal(a->message_response_case,
			 GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE);
	assert_true(a->file_descriptor_response->n_file_descriptor_proto >= 1);
	return google__protobuf__file_descriptor_proto__unpack(
		NULL, a->file_descriptor_response->file_descriptor_proto[0].len,
		a->file_descriptor_response->file_descriptor_proto[0].data);
}

static void test_refl_list(void **st)
{
	static const char *const want[] = { "kv.Kv", "grpc.health.v1.Health",
		"grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection" };
	Req q = GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__INIT;
	Resp *a;

	(void)st;
	q.message_request_case =
		GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES;
	q.list_services = "";
	a = ask(&q);
	assert_int_equal(a->message_response_case,
			 GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE);
	assert_int_equal(a->list_services_response->n_service, 4);
	for (size_t i = 0; i < 4; i++) {
		size_t j;

		for (j = 0; j < a->list_services_response->n_service; j++)
			if (!strcmp(a->list_services_response->service[j]->name, want[i]))
				break;
		if (j == a->list_services_response->n_service)
			fail_msg("list_services lacks %s", want[i]);
	}
	grpc__reflection__v1alpha__server_reflection_response__free_unpacked(a, NULL);
}

static void test_refl_symbol(void **st)
{
	static const char *const syms[] = { "kv.Kv", "kv.Kv.Set", "kv.GetRequest",
					    "kv.GetRequest.key", ".kv.SetResponse" };
	Google__Protobuf__FileDescriptorProto *fd;
	Resp *a;

	(void)st;
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		a = ask_symbol(syms[i]);
		fd = first_file(a);
		assert_non_null(fd);
		assert_string_equal(fd->name, "kv.proto");
		assert_string_equal(fd->package, "kv");
		assert_int_equal(fd->n_service, 1);
		assert_string_equal(fd->service[0]->name, "Kv");
		assert_int_equal(fd->service[0]->n_method, 2);
		assert_string_equal(fd->service[0]->method[0]->name, "Get");
		assert_string_equal(fd->service[0]->method[0]->input_type, ".kv.GetRequest");
		assert_string_equal(fd->service[0]->method[1]->name, "Set");
		google__protobuf__file_descriptor_proto__free_unpacked(fd, NULL);
		grpc__reflection__v1alpha__server_reflection_response__free_unpacked(a, NULL);
	}
	/* a nested enum's value lives beside its enum */
	a = ask_symbol("grpc.health.v1.HealthCheckResponse.SERVING");
	fd = first_file(a);
	assert_string_equal(fd->name, "grpc/health/v1/health.proto");
	google__protobuf__file_descriptor_proto__free_unpacked(fd, NULL);
	grpc__reflection__v1alpha__server_reflection_response__free_unpacked(a, NULL);
	a = ask_symbol("grpc.reflection.v1.ServerReflection.ServerReflectionInfo");
	fd = first_file(a);
	assert_string_equal(fd->name, "grpc/reflection/v1/reflection.proto");
	assert_string_equal(fd->package, "grpc.reflection.v1");
	google__protobuf__file_descriptor_proto__free_unpacked(fd, NULL);
	grpc__reflection__v1alpha__server_reflection_response__free_unpacked(a, NULL);
}

static void test_refl_not_found(void **st)
{
	static const char *const syms[] = { "kv.Nope", "kv", "kv.Kv.", "Kv", "" };
	Req q = GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__INIT;
	Grpc__Reflection__V1alpha__ExtensionRequest e =
		GRPC__REFLECTION__V1ALPHA__EXTENSION_REQUEST__INIT;
	Resp *a;

	(void)st;
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		a = ask_symbol(syms[i]);
		assert_int_equal(a->message_response_case,
				 GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE);
		assert_int_equal(a->error_response->error_code, FR_GW_NOT_FOUND);
		assert_non_null(strstr(a->error_response->error_message, "no symbol"));
		grpc__reflection__v1alpha__server_reflection_response__free_unpacked(a, NULL);
	}
	q.message_request_case =
		GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME;
	q.file_by_filename = "nope.proto";
	a = ask(&q);
	assert_int_equal(a->error_response->error_code, FR_GW_NOT_FOUND);
	grpc__reflection__v1alpha__server_reflection_response__free_unpacked(a, NULL);
	/* proto3 files declare no extensions: none to find, none to list */
	e.containing_type = "kv.GetRequest";
	e.extension_number = 100;
	q.message_request_case =
		GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION;
	q.file_containing_extension = &e;
	a = ask(&q);
	assert_int_equal(a->error_response->error_code, FR_GW_NOT_FOUND);
	grpc__reflection__v1alpha__server_reflection_response__free_unpacked(a, NULL);
	q.message_request_case =
		GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE;
	q.all_extension_numbers_of_type = "kv.GetRequest";
	a = ask(&q);
	assert_int_equal(a->message_response_case,
			 GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE);
	assert_string_equal(a->all_extension_numbers_response->base_type_name, "kv.GetRequest");
	assert_int_equal(a->all_extension_numbers_response->n_extension_number, 0);
	grpc__reflection__v1alpha__server_reflection_response__free_unpacked(a, NULL);
	/* a service is not a message type */
	q.all_extension_numbers_of_type = "kv.Kv";
	a = ask(&q);
	assert_int_equal(a->error_response->error_code, FR_GW_NOT_FOUND);
	grpc__reflection__v1alpha__server_reflection_response__free_unpacked(a, NULL);
}

static void test_refl_by_filename(void **st)
{
	Req q = GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__INIT;
	Google__Protobuf__FileDescriptorProto *fd;
	Resp *a;

	(void)st;
	q.message_request_case =
		GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME;
	q.file_by_filename = "kv.proto";
	q.host = "gw:50051";
	a = ask(&q);
	assert_string_equal(a->valid_host, "gw:50051");
	fd = first_file(a);
	assert_string_equal(fd->name, "kv.proto");
	/* the bytes are protoc's: they are the set's record, unchanged */
	assert_non_null(memmem(fr_gw_descriptor_set, fr_gw_descriptor_set_len,
			       a->file_descriptor_response->file_descriptor_proto[0].data,
			       a->file_descriptor_response->file_descriptor_proto[0].len));
	google__protobuf__file_descriptor_proto__free_unpacked(fd, NULL);
	grpc__reflection__v1alpha__server_reflection_response__free_unpacked(a, NULL);
}

static void test_refl_bad_input(void **st)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff };
	/* a FileDescriptorSet whose one record runs past the end */
	static const uint8_t cut[] = { 0x0a, 0x10, 0x0a, 0x02 };
	/* a record of field 2: not a FileDescriptorSet */
	static const uint8_t other[] = { 0x12, 0x00 };
	char err[200];
	uint8_t *out;

	(void)st;
	assert_int_equal(fr_gw_reflect(refl(), junk, sizeof(junk), &out), -1);
	assert_null(fr_gw_refl_new(cut, sizeof(cut), err, sizeof(err)));
	assert_string_equal(err, "the descriptor set is not a FileDescriptorSet");
	assert_null(fr_gw_refl_new(other, sizeof(other), err, sizeof(err)));
	/* a file importing one the set lacks */
	{
		Google__Protobuf__FileDescriptorProto fd =
			GOOGLE__PROTOBUF__FILE_DESCRIPTOR_PROTO__INIT;
		char *deps[] = { "missing.proto" };
		uint8_t set[128];
		size_t n;

		fd.name = "a.proto";
		fd.n_dependency = 1;
		fd.dependency = deps;
		n = google__protobuf__file_descriptor_proto__pack(&fd, set + 2);
		set[0] = 0x0a;
		set[1] = (uint8_t)n;
		assert_null(fr_gw_refl_new(set, n + 2, err, sizeof(err)));
		assert_string_equal(err, "a.proto imports missing.proto, which the descriptor set lacks");
	}
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
		cmocka_unit_test(test_refl_list),
		cmocka_unit_test(test_refl_symbol),
		cmocka_unit_test(test_refl_not_found),
		cmocka_unit_test(test_refl_by_filename),
		cmocka_unit_test(test_refl_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

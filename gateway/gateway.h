/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * gateway.h - the generic half of the gRPC gateway (docs/grpc.md).
 *
 * gateway.c serves gRPC over HTTP/2 (h2c, nghttp2) and calls a FlatRPC
 * service through libflatrpc-user; the per-spec half, printed by
 * `flatrpc-gen --gateway`, knows the service's messages and fills the
 * table below. The generated code calls only the fr_gw_* functions
 * declared here, so the two halves meet in this header alone.
 */
#ifndef FLATRPC_GATEWAY_H
#define FLATRPC_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <flatrpc.h>

/* gRPC status codes (grpc/doc/statuscodes.md): the wire's numbers */
enum fr_gw_code {
	FR_GW_OK			= 0,
	FR_GW_CANCELLED			= 1,
	FR_GW_UNKNOWN			= 2,
	FR_GW_INVALID_ARGUMENT		= 3,
	FR_GW_DEADLINE_EXCEEDED		= 4,
	FR_GW_NOT_FOUND			= 5,
	FR_GW_PERMISSION_DENIED		= 7,
	FR_GW_RESOURCE_EXHAUSTED	= 8,
	FR_GW_UNIMPLEMENTED		= 12,
	FR_GW_INTERNAL			= 13,
	FR_GW_UNAVAILABLE		= 14,
};

struct fr_gw_call;

struct fr_gw_method {
	const char	*path;		/* "/kv.Kv/Get", the gRPC :path */
	uint8_t		id;		/* the FlatRPC method */
	uint32_t	pb_max;		/* largest request the spec allows, encoded */
	/* protobuf request -> the method's body in body[0..cap): its length,
	 * or < 0 after fr_gw_fail() */
	int		(*req)(struct fr_gw_call *c, const uint8_t *pb, size_t len,
			       void *body, size_t cap);
	/* the response's body -> protobuf through fr_gw_reply_buf(): 0, or
	 * < 0 after fr_gw_fail() */
	int		(*resp)(struct fr_gw_call *c, const void *body, size_t len);
};

struct fr_gw_service {
	const struct flatrpc_service_desc *svc;
	const char	*grpc_name;	/* "kv.Kv": health checks name it */
	unsigned	n_methods;
	const struct fr_gw_method *methods;
};

/* What `protoc --descriptor_set_out --include_imports` made of the spec's
 * .proto, health.proto and reflection.proto at build time, as a C array
 * (xxd -i) linked beside the glue: the FileDescriptorSet that server
 * reflection answers from. */
extern const unsigned char fr_gw_descriptor_set[];
extern const size_t fr_gw_descriptor_set_len;

/* The generated table, and the gateway's whole command line around it. */
extern const struct fr_gw_service fr_gw_spec;
int fr_gw_main(int argc, char **argv, const struct fr_gw_service *gs);

/* Ends the call with a gRPC error (the first one given sticks); returns -1
 * for the caller to pass on. msg is copied. */
int fr_gw_fail(struct fr_gw_call *c, enum fr_gw_code code, const char *msg);
/* Room for an OK reply's message of n bytes, or NULL after fr_gw_fail(). */
uint8_t *fr_gw_reply_buf(struct fr_gw_call *c, size_t n);

/* A request field into the stub's struct, 0, or -1 after INVALID_ARGUMENT
 * naming the field when it exceeds the spec's bound. */
int fr_gw_take_str(struct fr_gw_call *c, const char *field, const char *s, char *dst,
		   size_t max);
int fr_gw_take_bytes(struct fr_gw_call *c, const char *field, const uint8_t *p, size_t n,
		     uint8_t *dst, uint16_t *dst_len, size_t max);
int fr_gw_take_uint(struct fr_gw_call *c, const char *field, uint64_t v, uint64_t max);

/* A metadata field from the call's gRPC header `hdr`, when it has one: 0
 * (absent: *dst untouched, or taken), -1 after INVALID_ARGUMENT. Binary
 * values (`-bin` headers) are base64, as gRPC sends them. */
int fr_gw_meta_str(struct fr_gw_call *c, const char *hdr, char *dst, size_t max);
int fr_gw_meta_bytes(struct fr_gw_call *c, const char *hdr, uint8_t *dst, uint16_t *dst_len,
		     size_t max);
int fr_gw_meta_uint(struct fr_gw_call *c, const char *hdr, uint64_t *dst, uint64_t max);
int fr_gw_meta_int(struct fr_gw_call *c, const char *hdr, int64_t *dst);
int fr_gw_meta_bool(struct fr_gw_call *c, const char *hdr, bool *dst);

/* ---- for gateway.c's own tests and the fuzzer (gateway/fuzz_gateway.c) ---- */

/* grpc-timeout ("100m", "5S": at most 8 digits and a unit) in ns, or -1 */
int64_t fr_gw_parse_timeout(const char *s, size_t n);
/* The gRPC status a FlatRPC completion becomes (err: 0 or FLATRPC_E_*),
 * with its message in msg. */
enum fr_gw_code fr_gw_status_of(const struct flatrpc_service_desc *svc, int err,
				uint8_t status, char *msg, size_t n);

/* A gateway without sockets: bytes in as if from one client connection,
 * what it would send discarded. Calls that reach FlatRPC are answered
 * UNAVAILABLE. Returns 0, or -1 once the connection would be closed. */
struct fr_gw_conn;
struct fr_gw_conn *fr_gw_test_conn(const struct fr_gw_service *gs);
int fr_gw_test_feed(struct fr_gw_conn *c, const uint8_t *p, size_t n);
void fr_gw_test_close(struct fr_gw_conn *c);
/* One method's request decoding (protobuf to body) and response encoding
 * (body to protobuf) alone; the gRPC status they end with. */
enum fr_gw_code fr_gw_test_request(const struct fr_gw_service *gs, unsigned method,
				   const uint8_t *pb, size_t n);
enum fr_gw_code fr_gw_test_response(const struct fr_gw_service *gs, unsigned method,
				    const uint8_t *body, size_t n);

/* Server reflection (gateway/reflect.c): an index of a descriptor set's
 * files and symbols, or NULL with why in err. */
struct fr_gw_refl;
struct fr_gw_refl *fr_gw_refl_new(const uint8_t *set, size_t n, char *err, size_t errn);
void fr_gw_refl_free(struct fr_gw_refl *r);
/* One ServerReflectionRequest to its ServerReflectionResponse in *out
 * (malloc'd): its length; -1 when the request does not decode, -2 out of
 * memory. A name the set lacks is an error_response (NOT_FOUND), not an
 * error here. */
ssize_t fr_gw_reflect(const struct fr_gw_refl *r, const uint8_t *req, size_t n, uint8_t **out);

#endif /* FLATRPC_GATEWAY_H */

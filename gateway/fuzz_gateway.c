/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_gateway.c - libFuzzer entry for what the gRPC gateway decodes from
 * outside: HTTP/2 from a client, the protobuf of each method's request
 * (the generated glue for specs/kv.anf), the body of a FlatRPC
 * response and a server reflection request. The first byte picks which;
 * the rest is the input.
 *
 * HTTP/2 input follows a client preface and an empty SETTINGS frame, so
 * that the fuzzer spends its time on frames, HPACK and gRPC framing
 * rather than on the 24 fixed bytes every connection starts with.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"

static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
				 "\x00\x00\x00\x04\x00\x00\x00\x00\x00";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fr_gw_service *gs = &fr_gw_spec;
	struct fr_gw_conn *k;
	unsigned pick;

	if (!size)
		return 0;
	pick = data[0];
	data++;
	size--;
	if (pick < 128) {
		k = fr_gw_test_conn(gs);
		if (!k)
			abort();
		/* the preface is well formed: it must never end the connection */
		if (fr_gw_test_feed(k, preface, sizeof(preface) - 1))
			abort();
		/* in pieces, as TCP may deliver them */
		while (size) {
			size_t n = size < 97 ? size : 97;
			if (fr_gw_test_feed(k, data, n))
				break;
			data += n;
			size -= n;
		}
		fr_gw_test_close(k);
	} else if (pick < 192) {
		fr_gw_test_request(gs, (pick - 128) % gs->n_methods, data, size);
	} else if (pick < 240) {
		fr_gw_test_response(gs, (pick - 192) % gs->n_methods, data, size);
	} else {
		static struct fr_gw_refl *r;
		char err[200];
		uint8_t *out;

		if (!r)
			r = fr_gw_refl_new(fr_gw_descriptor_set, fr_gw_descriptor_set_len, err,
					   sizeof(err));
		if (!r)
			abort();	/* the build's own set always reads */
		if (fr_gw_reflect(r, data, size, &out) >= 0)
			free(out);
	}
	if (size < 10)
		fr_gw_parse_timeout((const char *)data, size);
	return 0;
}

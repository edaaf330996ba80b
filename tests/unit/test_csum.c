/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_csum.c - include/flatrpc_csum.h, which the XDP program, the library,
 * the table tests and the benchmark all use: RFC 1071's worked example, an
 * odd length, the incremental updates against a full recount, and UDP over
 * IPv4 and IPv6 against a byte-by-byte reference written here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "flatrpc_csum.h"

/* The reference: big-endian 16-bit words, one at a time, as RFC 1071 says. */
static uint32_t ref_add(uint32_t sum, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t ref_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* RFC 1071, 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, its checksum 220d. */
static void rfc1071_example(void **state)
{
	static const uint8_t b[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	uint16_t c;

	(void)state;
	c = fr_csum_fold(fr_csum_add_bytes(0, b, sizeof(b)));
	assert_int_equal(ntohs(c), 0x220d);
	c = fr_csum_fold(fr_csum_add(0, b, 4));
	assert_int_equal(ntohs(c), 0x220d);
}

/* Every length 0..300, odd ones too, against the reference. */
static void lengths_against_reference(void **state)
{
	uint8_t b[300];
	uint32_t s = 1;

	(void)state;
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)rnd(&s);
	for (size_t n = 0; n <= sizeof(b); n++)
		assert_int_equal(fr_csum_fold(fr_csum_add_bytes(0, b, n)),
				 ref_fold(ref_add(0, b, n)));
}

/* An IPv4 header: a stored checksum checks out, and the incremental
 * updates of a 16-bit and a 32-bit field equal a recount. */
static void ip_header_and_updates(void **state)
{
	uint8_t h[20];
	uint32_t s = 7;

	(void)state;
	for (int round = 0; round < 1000; round++) {
		uint16_t check, old16, new16;
		uint32_t old32, new32;

		for (size_t i = 0; i < sizeof(h); i++)
			h[i] = (uint8_t)rnd(&s);
		memset(h + 10, 0, 2);
		check = fr_csum_ip(h);
		assert_int_equal(check, ref_fold(ref_add(0, h, sizeof(h))));
		memcpy(h + 10, &check, 2);
		assert_int_equal(fr_csum_ip(h), 0);

		memcpy(&old16, h + 2, 2);
		new16 = (uint16_t)rnd(&s);
		memcpy(h + 2, &new16, 2);
		check = fr_csum_update16(check, old16, new16);
		memcpy(h + 10, &check, 2);
		assert_int_equal(fr_csum_ip(h), 0);

		memcpy(&old32, h + 16, 4);
		new32 = rnd(&s);
		memcpy(h + 16, &new32, 4);
		check = fr_csum_replace4(check, old32, new32);
		memcpy(h + 10, &check, 2);
		assert_int_equal(fr_csum_ip(h), 0);
	}
}

/* UDP over IPv4 (12-byte pseudo header) and IPv6 (40 bytes), odd lengths
 * included: the stored value checks out to 0, and matches the reference. */
static void udp_pseudo_headers(void **state)
{
	uint8_t a[32], udp[201];
	uint32_t s = 99;

	(void)state;
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)rnd(&s);
	for (size_t len = 8; len <= sizeof(udp); len += 7) {
		uint8_t ph4[12], ph6[40] = { 0 };
		uint16_t c;

		for (size_t i = 0; i < len; i++)
			udp[i] = (uint8_t)rnd(&s);
		udp[6] = udp[7] = 0;

		memcpy(ph4, a, 8);
		ph4[8] = 0;
		ph4[9] = 17;
		ph4[10] = (uint8_t)(len >> 8);
		ph4[11] = (uint8_t)len;
		c = fr_csum_udp(a, a + 4, 4, udp, len);
		assert_int_equal(c, fr_csum_udp_value(ref_fold(ref_add(ref_add(0, ph4, 12),
									udp, len))));
		memcpy(udp + 6, &c, 2);
		assert_int_equal(fr_csum_udp_sum(a, a + 4, 4, udp, len), 0);
		udp[6] = udp[7] = 0;

		memcpy(ph6, a, 32);
		ph6[34] = (uint8_t)(len >> 8);
		ph6[35] = (uint8_t)len;
		ph6[39] = 17;
		c = fr_csum_udp(a, a + 16, 16, udp, len);
		assert_int_equal(c, fr_csum_udp_value(ref_fold(ref_add(ref_add(0, ph6, 40),
									udp, len))));
		memcpy(udp + 6, &c, 2);
		assert_int_equal(fr_csum_udp_sum(a, a + 16, 16, udp, len), 0);
	}
}

/* A computed 0 goes on the wire as all ones: 0 means "no checksum". */
static void udp_zero_is_all_ones(void **state)
{
	(void)state;
	assert_int_equal(fr_csum_udp_value(0), 0xffff);
	assert_int_equal(fr_csum_udp_value(0x1234), 0x1234);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc1071_example),
		cmocka_unit_test(lengths_against_reference),
		cmocka_unit_test(ip_header_and_updates),
		cmocka_unit_test(udp_pseudo_headers),
		cmocka_unit_test(udp_zero_is_all_ones),
	};

	return cmocka_run_group_tests_name("csum", tests, NULL, NULL);
}

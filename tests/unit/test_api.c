/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_api.c - the parts of include/flatrpc.h that need no loaded
 * interface: flatrpc_peer_parse() (literals, ports, brackets, names from
 * /etc/hosts, and what it refuses; a name that only DNS could answer is
 * left to the selftests, which give their namespace a hosts file), and the
 * versioned options' refusal of a version newer than the library's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "flatrpc.h"

static struct flatrpc_peer parse_ok(const char *text)
{
	struct flatrpc_peer p = { .port = 9 };

	if (flatrpc_peer_parse(&p, text))
		fail_msg("'%s' was refused", text);
	return p;
}

static void v4(void **state)
{
	struct flatrpc_peer p = parse_ok("10.0.0.2");

	(void)state;
	assert_int_equal(p.family, AF_INET);
	assert_int_equal(ntohl(p.addr.s_addr), 0x0a000002);
	assert_int_equal(p.port, 9);	/* no port given: left alone */
	p = parse_ok("10.0.0.2:7447");
	assert_int_equal(ntohl(p.addr.s_addr), 0x0a000002);
	assert_int_equal(p.port, 7447);
}

static void v6(void **state)
{
	struct flatrpc_peer p = parse_ok("fd77:2::2");
	struct in6_addr want;

	(void)state;
	inet_pton(AF_INET6, "fd77:2::2", &want);
	assert_int_equal(p.family, AF_INET6);
	assert_memory_equal(&p.addr6, &want, sizeof(want));
	assert_int_equal(p.port, 9);
	p = parse_ok("[fd77:2::2]:7450");
	assert_int_equal(p.family, AF_INET6);
	assert_memory_equal(&p.addr6, &want, sizeof(want));
	assert_int_equal(p.port, 7450);
	p = parse_ok("[fd77:2::2]");
	assert_int_equal(p.port, 9);
	/* IPv4-mapped: an IPv4 peer, its frames are IPv4 */
	p = parse_ok("::ffff:10.0.0.3");
	assert_int_equal(p.family, AF_INET);
	assert_int_equal(ntohl(p.addr.s_addr), 0x0a000003);
}

static void names(void **state)
{
	struct flatrpc_peer p = parse_ok("localhost:7447");

	(void)state;
	assert_int_equal(p.port, 7447);
	if (p.family == AF_INET)
		assert_int_equal(ntohl(p.addr.s_addr) >> 24, 127);
	else
		assert_true(IN6_IS_ADDR_LOOPBACK(&p.addr6));
}

static void refused(void **state)
{
	static const char *const bad[] = {
		"", ":7447", "10.0.0.2:", "10.0.0.2:0", "10.0.0.2:65536", "10.0.0.2:-1",
		"10.0.0.2:80x", "[fd77::2", "[fd77::2]x", "[fd77::2]:", "[10.0.0.2]:1",
		"fd77::2:7447x", "a:b:c",
	};
	struct flatrpc_peer p = { .port = 5 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (flatrpc_peer_parse(&p, bad[i]) != -EINVAL)
			fail_msg("'%s' was not refused as malformed", bad[i]);
	}
	assert_int_equal(p.port, 5);	/* nothing written */
	assert_int_equal(flatrpc_peer_parse(NULL, "10.0.0.2"), -EINVAL);
	assert_int_equal(flatrpc_peer_parse(&p, NULL), -EINVAL);
}

/* A program built against a newer header than the library's: refused in
 * plain terms before anything is opened. */
static void opts_from_the_future(void **state)
{
	static const struct flatrpc_service_desc svc = { .name = "none" };
	struct flatrpc_sock_opts o = { .ifname = "lo" };
	int err = 0;

	(void)state;
	assert_null(flatrpc_sock_new_versioned(&svc, FLATRPC_SOCK_OPTS_VERSION + 1, &o, &err));
	assert_int_equal(err, -ENOTSUP);
	err = 0;
	assert_null(flatrpc_sock_new_versioned(&svc, 0, &o, &err));
	assert_int_equal(err, -ENOTSUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(v4),
		cmocka_unit_test(v6),
		cmocka_unit_test(names),
		cmocka_unit_test(refused),
		cmocka_unit_test(opts_from_the_future),
	};

	return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}

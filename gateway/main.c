/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* main.c - flatrpc-gateway-<service>: the generated table (fr_gw_spec) and
 * the generic gateway; apart from it so that the fuzzer links both. */
#include "gateway.h"

int main(int argc, char **argv)
{
	return fr_gw_main(argc, argv, &fr_gw_spec);
}

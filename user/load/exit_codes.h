/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * exit_codes.h - the exit codes flatrpc-load and flatrpc-stat share, so
 * that a script reads "not loaded" the same from both (their man pages).
 */
#ifndef FLATRPC_EXIT_CODES_H
#define FLATRPC_EXIT_CODES_H

#define EXIT_USAGE	2	/* bad arguments */
#define EXIT_NOTLOADED	3	/* FlatRPC is not loaded (or not attached) on the interface */

#endif

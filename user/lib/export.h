/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* export.h - marks the functions of include/flatrpc.h: the library is built
 * with hidden visibility, and its version script names what it exports. */
#ifndef FLATRPC_LIB_EXPORT_H
#define FLATRPC_LIB_EXPORT_H

#define FLATRPC_EXPORT	__attribute__((visibility("default")))

#endif

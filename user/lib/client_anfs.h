/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * client_anfs.h - the library's registry of client: elements compiled for
 * user space (flatrpc_client_anfs_register()). Internal: the BPF table
 * test reaches it through the static archive to hold the library's run of
 * a chain to the client program's.
 */
#ifndef FLATRPC_CLIENT_ANFS_H
#define FLATRPC_CLIENT_ANFS_H

#include "flatrpc.h"

/* The registration of svc's stubs, or NULL. */
const struct flatrpc_client_anfs *flatrpc_client_anfs_find(const struct flatrpc_service_desc *svc);

#endif /* FLATRPC_CLIENT_ANFS_H */

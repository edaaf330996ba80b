/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * keys.h - a service's key file: one to FLATRPC_KEYS_MAX lines of 32 hex
 * digits (128 bits each), '#' starts a comment. The first key signs and
 * verifies, a second one only verifies, so keys rotate without losing a
 * call (docs/security.md). The file must be a regular file of root's or of
 * the caller's, readable by its owner only.
 */
#ifndef FLATRPC_LOAD_KEYS_H
#define FLATRPC_LOAD_KEYS_H

#include <stddef.h>
#include "flatrpc_abi.h"

/* Where a service's key file is when --key is not given:
 * $FLATRPC_KEY_DIR/<service>.key, the directory defaulting to /etc/flatrpc. */
#define FR_KEY_DIR_DEFAULT	"/etc/flatrpc"
int fr_key_path(char *buf, size_t len, const char *service);

/* Reads path into *k (on = 1). Returns 0, or -1 with a plain-words reason
 * in why. */
int fr_keys_read(const char *path, struct flatrpc_keys *k, char *why, size_t why_len);

/* Creates path (0600, never over an existing file) holding one new random
 * key. Returns 0, 1 when the file exists already (left alone), or -1 with
 * why. */
int fr_keygen(const char *path, char *why, size_t why_len);

#endif

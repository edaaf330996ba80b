/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef KV_STORE_SHIM_H
#define KV_STORE_SHIM_H
#ifdef __cplusplus
extern "C" {
#endif
int kvs_init(void);
int kvs_get(const char *key, const void **val);	/* length, -1 when absent */
int kvs_set(const char *key, const void *val, unsigned len);	/* 1 when stored */
#ifdef __cplusplus
}
#endif
#endif

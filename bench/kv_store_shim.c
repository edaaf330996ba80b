/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* examples/kv/kv_store.h is C (implicit void * conversions); this gives the
 * C++ gRPC baseline the very same table, so it does the same store work. */
#include <string.h>
#include "kv_store_shim.h"
#include "../examples/kv/kv_store.h"

static struct kv_store st;

int kvs_init(void)
{
	return kv_store_init(&st, 1 << 16);
}

int kvs_get(const char *key, const void **val)
{
	const struct kv_slot *s = kv_store_get(&st, key);

	if (!s)
		return -1;
	*val = s->val;
	return s->len;
}

int kvs_set(const char *key, const void *val, unsigned len)
{
	return kv_store_set(&st, key, val, (uint16_t)len) != NULL;
}

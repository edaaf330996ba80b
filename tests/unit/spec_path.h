/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* spec_path.h - where the unit tests find the repository's specs. */
#ifndef FLATRPC_TEST_SPEC_PATH_H
#define FLATRPC_TEST_SPEC_PATH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* specs/<name> under $FLATRPC_SRCDIR, else under the root this file is in
 * (make compiles from the root, so __FILE__ is tests/unit/...). One buffer:
 * the result lasts until the next call. */
static inline const char *spec_path(const char *name)
{
	static char buf[4096];
	const char *root = getenv("FLATRPC_SRCDIR");
	const char *f = __FILE__, *cut = strstr(f, "tests/unit/");

	if (root)
		snprintf(buf, sizeof(buf), "%s/specs/%s", root, name);
	else
		snprintf(buf, sizeof(buf), "%.*sspecs/%s", cut ? (int)(cut - f) : 0, f, name);
	return buf;
}

#endif

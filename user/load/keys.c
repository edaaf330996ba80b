// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* keys.c - key files for message authentication (keys.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "keys.h"

int fr_key_path(char *buf, size_t len, const char *service)
{
	const char *dir = getenv("FLATRPC_KEY_DIR");

	if (!dir || !*dir)
		dir = FR_KEY_DIR_DEFAULT;
	return snprintf(buf, len, "%s/%s.key", dir, service) >= (int)len ? -1 : 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 32 hex digits, most significant first, into the two little-endian
 * words SipHash takes: bytes 0..7 of the key are k0, 8..15 are k1. */
static int parse_key(const char *s, __u64 key[2])
{
	unsigned char b[16];

	for (int i = 0; i < 16; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo;

		if (hi < 0 || (lo = hexval((unsigned char)s[2 * i + 1])) < 0)
			return -1;
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	key[0] = key[1] = 0;
	for (int i = 0; i < 8; i++) {
		key[0] |= (__u64)b[i] << (8 * i);
		key[1] |= (__u64)b[8 + i] << (8 * i);
	}
	return 0;
}

int fr_keys_read(const char *path, struct flatrpc_keys *k, char *why, size_t why_len)
{
	char line[256];
	struct stat st;
	int fd, lineno = 0;
	FILE *f;

	memset(k, 0, sizeof(*k));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_len, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(why, why_len, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(why, why_len, "%s belongs to uid %u, neither root nor you: refused",
			 path, (unsigned)st.st_uid);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(why, why_len, "%s is readable or writable by others (mode %03o): "
			 "chmod 600 it", path, (unsigned)(st.st_mode & 0777));
		close(fd);
		return -1;
	}
	f = fdopen(fd, "r");
	if (!f) {
		snprintf(why, why_len, "cannot read %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *e;

		lineno++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || !*p)
			continue;
		e = p;
		while (*e && *e != '\n' && *e != ' ' && *e != '\t' && *e != '#')
			e++;
		if (k->count == FLATRPC_KEYS_MAX) {
			snprintf(why, why_len, "%s:%d: at most %d keys are live at once",
				 path, lineno, FLATRPC_KEYS_MAX);
			fclose(f);
			return -1;
		}
		if (e - p != 32 || parse_key(p, k->key[k->count])) {
			snprintf(why, why_len, "%s:%d: a key is 32 hex digits", path, lineno);
			fclose(f);
			return -1;
		}
		k->count++;
	}
	fclose(f);
	if (!k->count) {
		snprintf(why, why_len, "%s holds no key", path);
		return -1;
	}
	k->on = 1;
	return 0;
}

int fr_keygen(const char *path, char *why, size_t why_len)
{
	unsigned char b[16];
	char text[64];
	int fd, n;

	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		snprintf(why, why_len, "no randomness: %s", strerror(errno));
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return 1;
		snprintf(why, why_len, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	n = 0;
	for (int i = 0; i < 16; i++)
		n += snprintf(text + n, sizeof(text) - n, "%02x", b[i]);
	text[n++] = '\n';
	if (write(fd, text, n) != n || fsync(fd)) {
		snprintf(why, why_len, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * desc.c - reads an object's description (desc.h).
 *
 * The text is lines of "key word...", words escaped as %XX (emit_init.c).
 * A pinned description is read back from the kernel, where anyone who can
 * write the pin could have changed it, so the parser trusts nothing: every
 * number is range-checked and every line must be whole.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flatrpc_abi.h"
#include "desc.h"

struct desc {
	struct flatrpc_desc		pub;	/* first: what callers get */
	char				*text;	/* the words, unescaped in place */
	const char			**methods, **states, **errors;
	struct flatrpc_elem_slot	*elems;
	struct flatrpc_init_entry	*init;
	unsigned char			*bytes;	/* init keys and values */
};

void flatrpc_desc_free(struct flatrpc_desc *pub)
{
	struct desc *d = (struct desc *)pub;

	if (!d)
		return;
	free(d->text);
	free(d->methods);
	free(d->states);
	free(d->errors);
	free(d->elems);
	free(d->init);
	free(d->bytes);
	free(d);
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Unescapes %XX in place; NULL if an escape is broken or yields a NUL. */
static char *unescape(char *w)
{
	char *o = w;

	for (char *i = w; *i; i++) {
		if (*i != '%') {
			*o++ = *i;
			continue;
		}
		int hi = hexval(i[1]), lo = hi < 0 ? -1 : hexval(i[2]);
		if (lo < 0 || !(hi | lo))
			return NULL;
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = 0;
	return w;
}

static int parse_uint(const char *w, unsigned long long max, unsigned long long *v, int base)
{
	char *end;

	if (!w || !*w || *w == '-' || *w == '+')
		return -1;
	errno = 0;
	*v = strtoull(w, &end, base);
	return errno || *end || *v > max ? -1 : 0;
}

/* Hex bytes into out; their number, or -1. */
static long parse_hex(const char *w, unsigned char *out)
{
	size_t n = w ? strlen(w) : 1;

	if (n % 2)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(w[i]), lo = hexval(w[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

#define MAX_WORDS 8

/* Splits a line into at most MAX_WORDS words; their number, or -1 for more. */
static int split(char *line, char **w)
{
	int n = 0;

	for (char *s = strtok(line, " "); s; s = strtok(NULL, " ")) {
		if (n == MAX_WORDS)
			return -1;
		w[n++] = s;
	}
	return n;
}

static void fail(char *why, size_t len, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(why, len, "line %u of the description: ", line);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < len)
		vsnprintf(why + n, len - (size_t)n, fmt, ap);
	va_end(ap);
}

struct flatrpc_desc *flatrpc_desc_parse(const char *text, size_t len, char *why, size_t why_len)
{
	unsigned n_lines = 0, n_m = 0, n_s = 0, n_e = 0, n_el = 0, n_i = 0, lineno = 0;
	size_t byte_room, used = 0;
	struct desc *d = calloc(1, sizeof(*d));
	char *w[MAX_WORDS], *line, *next;
	bool have_hash = false;

	while (len && !text[len - 1])
		len--;
	if (!d || !(d->text = malloc(len + 1))) {
		snprintf(why, why_len, "out of memory");
		goto bad;
	}
	memcpy(d->text, text, len);
	d->text[len] = 0;
	if (memchr(d->text, 0, len) || (len && d->text[len - 1] != '\n')) {
		snprintf(why, why_len, "the description is not whole lines of text");
		goto bad;
	}
	for (size_t i = 0; i < len; i++)
		n_lines += d->text[i] == '\n';
	/* every array has room for all lines, plus its terminator */
	byte_room = len / 2 + 1;
	d->methods = calloc(n_lines + 1, sizeof(*d->methods));
	d->states = calloc(n_lines + 1, sizeof(*d->states));
	d->errors = calloc(n_lines + 1, sizeof(*d->errors));
	d->elems = calloc(n_lines + 1, sizeof(*d->elems));
	d->init = calloc(n_lines + 1, sizeof(*d->init));
	d->bytes = malloc(byte_room);
	if (!d->methods || !d->states || !d->errors || !d->elems || !d->init || !d->bytes) {
		snprintf(why, why_len, "out of memory");
		goto bad;
	}

	for (line = d->text; *line; line = next) {
		unsigned long long v[3];
		int n;

		next = strchr(line, '\n');
		*next++ = 0;
		lineno++;
		n = split(line, w);
		if (n < 1) {
			fail(why, why_len, lineno, "empty or too long");
			goto bad;
		}
		for (int i = 1; i < n; i++)
			if (!unescape(w[i])) {
				fail(why, why_len, lineno, "a broken %%-escape");
				goto bad;
			}
		if (lineno == 1) {
			if (strcmp(w[0], "flatrpc-desc") || n != 2 ||
			    parse_uint(w[1], ~0u, v, 10) || v[0] != FLATRPC_DESC_VERSION) {
				snprintf(why, why_len, "not a version %u description (made by another "
					 "FlatRPC release?)", FLATRPC_DESC_VERSION);
				goto bad;
			}
		} else if (!strcmp(w[0], "service") && n == 2) {
			d->pub.service = w[1];
		} else if (!strcmp(w[0], "hash") && n == 2 && !parse_uint(w[1], ~0ull, v, 16)) {
			d->pub.spec_hash = v[0];
			have_hash = true;
		} else if (!strcmp(w[0], "file") && n == 2) {
			d->pub.spec_path = w[1];
		} else if (!strcmp(w[0], "port") && n == 2 && !parse_uint(w[1], 65535, v, 10) && v[0]) {
			d->pub.port = (__u16)v[0];
		} else if (!strcmp(w[0], "method") && n == 2 && n_m < FLATRPC_MAX_METHODS) {
			d->methods[n_m++] = w[1];
		} else if (!strcmp(w[0], "error") && n == 2) {
			d->errors[n_e++] = w[1];
		} else if (!strcmp(w[0], "state") && n == 2) {
			d->states[n_s++] = w[1];
		} else if (!strcmp(w[0], "elem") && n == 6 && !parse_uint(w[1], 0xffff, &v[0], 10) &&
			   !parse_uint(w[2], FLATRPC_MAX_METHODS - 1, &v[1], 10) &&
			   !parse_uint(w[3], 0xffff, &v[2], 10) &&
			   (!strcmp(w[4], "req") || !strcmp(w[4], "client_req") ||
			    !strcmp(w[4], "resp"))) {
			d->elems[n_el++] = (struct flatrpc_elem_slot){
				.slot = v[0], .method = v[1], .position = v[2],
				.hook = w[4], .element = w[5],
			};
		} else if (!strcmp(w[0], "init") && n == 4) {
			long ks = parse_hex(w[2], d->bytes + used);
			long vs = ks < 0 ? -1 : parse_hex(w[3], d->bytes + used + ks);

			if (ks <= 0 || vs <= 0) {
				fail(why, why_len, lineno, "a bad init entry");
				goto bad;
			}
			d->init[n_i++] = (struct flatrpc_init_entry){
				.map = w[1], .key = d->bytes + used, .key_size = ks,
				.value = d->bytes + used + ks, .value_size = vs,
			};
			used += (size_t)(ks + vs);
		} else {
			fail(why, why_len, lineno, "unknown or malformed '%.40s'", w[0]);
			goto bad;
		}
	}
	if (!d->pub.service || !have_hash || !d->pub.spec_path || !d->pub.port || !n_m) {
		snprintf(why, why_len, "the description lacks its service, hash, file, port or "
			 "methods");
		goto bad;
	}
	d->pub.methods = d->methods;
	d->pub.n_methods = n_m;
	d->pub.states = d->states;
	d->pub.errors = d->errors;
	d->pub.n_errors = n_e;
	d->pub.elems = d->elems;
	d->pub.init = d->init;
	d->pub.n_init = n_i;
	return &d->pub;
bad:
	flatrpc_desc_free(d ? &d->pub : NULL);
	return NULL;
}

struct flatrpc_desc *flatrpc_desc_of_object(struct bpf_object *obj, char *why, size_t why_len)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, FLATRPC_DESC_SECTION);
	const char *data;
	size_t size = 0;

	data = map ? bpf_map__initial_value(map, &size) : NULL;
	if (!data) {
		snprintf(why, why_len, "the object has no %s section: it was not built by "
			 "flatrpc-gen --object or flatrpc-load", FLATRPC_DESC_SECTION);
		return NULL;
	}
	return flatrpc_desc_parse(data, size, why, why_len);
}

struct flatrpc_desc *flatrpc_desc_of_pin(const char *pin_dir)
{
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info), zero = 0;
	struct flatrpc_desc *d = NULL;
	char path[4096], why[160];
	char *buf;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", pin_dir, FLATRPC_PIN_DESC) >= (int)sizeof(path))
		return NULL;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return NULL;
	if (bpf_obj_get_info_by_fd(fd, &info, &info_len) || info.type != BPF_MAP_TYPE_ARRAY ||
	    info.key_size != 4 || info.max_entries != 1 || !info.value_size ||
	    info.value_size > FLATRPC_DESC_MAX) {
		close(fd);
		return NULL;
	}
	buf = malloc(info.value_size);
	if (buf && !bpf_map_lookup_elem(fd, &zero, buf))
		d = flatrpc_desc_parse(buf, info.value_size, why, sizeof(why));
	free(buf);
	close(fd);
	return d;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

int flatrpc_services_of(const char *if_dir, char (*names)[256], int max)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(if_dir);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strchr(de->d_name, ':') ||
		    !strcmp(de->d_name, FLATRPC_PIN_DISPATCH) ||
		    !strcmp(de->d_name, FLATRPC_PIN_PROG_DISPATCH))
			continue;
		if (names && n < max)
			snprintf(names[n], sizeof(names[n]), "%s", de->d_name);
		n++;
	}
	closedir(d);
	/* by name, so that every listing of the same services agrees */
	if (names)
		qsort(names, n < max ? n : max, sizeof(names[0]), cmp_name);
	return n;
}

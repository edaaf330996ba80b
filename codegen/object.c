/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * object.c - a spec's BPF object from clang (object.h).
 *
 * The build happens in a private temporary directory: the embedded kern/
 * and include/ files, the spec's generated headers in gen/, and clang run
 * on kern/flatrpc.bpf.c. Nothing outside it is read but clang's own and
 * the system's headers (libbpf's bpf_helpers.h, the kernel's UAPI).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "object.h"
#include "spec.h"

extern char **environ;

uint64_t fr_bpf_sources_hash(void)
{
	uint64_t h = FR_FNV_OFFSET;

	for (const struct fr_embedded *e = fr_bpf_sources; e->path; e++) {
		h = fr_fnv1a64(h, e->path, strlen(e->path) + 1);
		h = fr_fnv1a64(h, e->data, e->len);
	}
	return h;
}

static int write_all(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *c = p;

	if (fd < 0)
		return -errno;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? -errno : -EIO;
			close(fd);
			return err;
		}
		c += w;
		n -= (size_t)w;
	}
	return close(fd) ? -errno : 0;
}

/* Writes the embedded sources under dir, making their directories. */
static int unpack(const char *dir)
{
	char path[PATH_MAX];

	for (const struct fr_embedded *e = fr_bpf_sources; e->path; e++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->path) >= (int)sizeof(path))
			return -ENAMETOOLONG;
		for (char *s = path + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
			*s = 0;
			if (mkdir(path, 0700) && errno != EEXIST)
				return -errno;
			*s = '/';
		}
		int err = write_all(path, e->data, e->len);
		if (err)
			return err;
	}
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Runs clang; its status, or FR_OBJ_NO_CLANG. */
static int run_clang(const char *dir, const char *out, FILE *diag)
{
	const char *clang = getenv("FLATRPC_CLANG");
	char inc[3][PATH_MAX + 8], src[PATH_MAX], multi[PATH_MAX + 2];
	const char *argv[24];
	struct utsname u;
	int n = 0, st, err;
	pid_t pid;

	if (!clang || !*clang)
		clang = "clang";
	snprintf(inc[0], sizeof(inc[0]), "-I%s/include", dir);
	snprintf(inc[1], sizeof(inc[1]), "-I%s/kern", dir);
	snprintf(inc[2], sizeof(inc[2]), "-I%s/gen", dir);
	snprintf(src, sizeof(src), "%s/kern/flatrpc.bpf.c", dir);
	argv[n++] = clang;
	argv[n++] = "-O2";
	argv[n++] = "-g";
	argv[n++] = "-target";
	argv[n++] = "bpf";
	argv[n++] = "-Wall";
	argv[n++] = "-Wno-unused-function";
	argv[n++] = inc[0];
	argv[n++] = inc[1];
	argv[n++] = inc[2];
	/* Debian keeps asm/types.h under the multiarch triplet, which a
	 * -target bpf compile does not search */
	if (!uname(&u)) {
		snprintf(multi, sizeof(multi), "-I/usr/include/%s-linux-gnu", u.machine);
		if (!access(multi + 2, F_OK))
			argv[n++] = multi;
	}
	argv[n++] = "-c";
	argv[n++] = src;
	argv[n++] = "-o";
	argv[n++] = out;
	argv[n] = NULL;
	err = posix_spawnp(&pid, clang, NULL, NULL, (char *const *)argv, environ);
	if (err) {
		if (diag)
			fprintf(diag, "cannot run %s: %s. A spec's BPF programs are compiled with "
				"clang: install it (Debian: apt install clang), set FLATRPC_CLANG, "
				"or build the object on a host that has it with "
				"flatrpc-gen --object FILE SPEC.anf and load that FILE\n",
				clang, strerror(err));
		return FR_OBJ_NO_CLANG;
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (diag)
		fprintf(diag, "%s failed on the generated BPF C (%s %d): the messages above are "
			"clang's%s\n", clang, WIFEXITED(st) ? "exit status" : "signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
			WIFEXITED(st) && WEXITSTATUS(st) == 1 ?
			"; a missing bpf/bpf_helpers.h means libbpf's headers are not installed "
			"(Debian: apt install libbpf-dev)" : "");
	return FR_OBJ_CLANG_FAILED;
}

int fr_build_object(const struct fr_spec *spec, const char *out, FILE *diag)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX], gen[PATH_MAX + 8], part[PATH_MAX];
	int err;

	snprintf(dir, sizeof(dir), "%s/flatrpc-build.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		err = -errno;
		if (diag)
			fprintf(diag, "cannot make a build directory %s: %s\n", dir, strerror(errno));
		return err;
	}
	snprintf(gen, sizeof(gen), "%s/gen", dir);
	if (snprintf(part, sizeof(part), "%s.tmp.%d", out, (int)getpid()) >= (int)sizeof(part)) {
		err = -ENAMETOOLONG;
		goto out;
	}
	err = unpack(dir);
	if (err) {
		if (diag)
			fprintf(diag, "cannot write the BPF sources into %s: %s\n", dir,
				strerror(-err));
		goto out;
	}
	err = fr_emit_dir(spec, gen, diag);
	if (err)
		goto out;
	err = run_clang(dir, part, diag);
	if (!err && rename(part, out)) {
		err = -errno;
		if (diag)
			fprintf(diag, "cannot write %s: %s\n", out, strerror(errno));
	}
	if (err)
		unlink(part);
out:
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return err;
}

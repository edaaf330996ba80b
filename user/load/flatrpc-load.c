// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * flatrpc-load - attach, inspect and detach FlatRPC on one interface.
 *
 *   flatrpc-load [options] SPEC.anf IFACE   check the spec, load, pin, attach
 *   flatrpc-load --status IFACE             what is attached, counters, state
 *   flatrpc-load --unload IFACE             detach and remove every pin
 *
 * Everything lives under <bpffs>/flatrpc/<ifname>/<service>/ so a second
 * run, the library and --status/--unload all find the same objects by
 * interface and service name; <ifname>/ also holds the interface's XDP entry
 * point, which every service's load shares (dispatch.c).
 * Exit codes: 0 ok, 1 failure, 2 usage, 3 not loaded (--status).
 */
#define _GNU_SOURCE	/* renameat2 */
#include <errno.h>
#include <grp.h>
#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <linux/rtnetlink.h>
#include <linux/pkt_sched.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "flatrpc_abi.h"
#include "flatrpc_gen.h"
#include "desc.h"
#include "object.h"
#include "seed.h"
#include "keys.h"
#include "metrics.h"
#include "exit_codes.h"
#include "dispatch.h"

/* A service's TC filter on clsact egress: one per service, told apart by
 * its port; 0xF1 echoes FLATRPC_MAGIC so a `tc filter show` makes it
 * recognisable. */
#define FR_TC_HANDLE(port)	(0xF10000u | (port))
#define FR_TC_PRIO	1

#define FR_XDP_PROG_NAME "flatrpc_xdp"
#define FR_TC_PROG_NAME	 "flatrpc_tc_egress"
#define FR_CLIENT_PROG_NAME "flatrpc_client"


static const char *const core_pins[] = {
	FLATRPC_PIN_XSKS, FLATRPC_PIN_STATS, FLATRPC_PIN_DROPS, FLATRPC_PIN_SEQS,
	FLATRPC_PIN_SEQ_HOSTS, FLATRPC_PIN_META, FLATRPC_PIN_PROG_XDP, FLATRPC_PIN_PROG_TC, FLATRPC_PIN_LOAD,
	FLATRPC_PIN_PROG_CLIENT, FLATRPC_PIN_KEYS, FLATRPC_PIN_STATE_LIMITS,
	FLATRPC_PIN_OBS, FLATRPC_PIN_XDP_TIME, FLATRPC_PIN_ELEM_VERDICTS, FLATRPC_PIN_DESC,
	FLATRPC_PIN_CLIENT_VERDICTS,
};

/*
 * What a member of the --group may do with each pin: what libflatrpc-user
 * needs and no more. Read-write: the library registers its AF_XDP socket in
 * xsks, publishes its backlog in load, resets in-order streams in seqs, and
 * runs the client program (a program pin opens read-write only), and maps
 * the keys it signs with and the figures it adds to (`obs`,
 * `client_verdicts`; the kernel
 * mmaps a BPF map only through a read-write file, so a member could also
 * change the keys). Read-only: what it
 * checks or a monitor reads. Everything else (the attached programs, the
 * ANF state) stays the loader's.
 */
static const struct { const char *pin; mode_t mode; } shared_pins[] = {
	{ FLATRPC_PIN_XSKS, 0660 },	{ FLATRPC_PIN_LOAD, 0660 },
	{ FLATRPC_PIN_SEQS, 0660 },	{ FLATRPC_PIN_PROG_CLIENT, 0660 },
	{ FLATRPC_PIN_KEYS, 0660 },	{ FLATRPC_PIN_META, 0640 },
	{ FLATRPC_PIN_STATS, 0640 },	{ FLATRPC_PIN_DROPS, 0640 },
	{ FLATRPC_PIN_STATE_LIMITS, 0640 },	{ FLATRPC_PIN_OBS, 0660 },
	{ FLATRPC_PIN_XDP_TIME, 0640 },	{ FLATRPC_PIN_ELEM_VERDICTS, 0640 },
	{ FLATRPC_PIN_DESC, 0640 },	{ FLATRPC_PIN_CLIENT_VERDICTS, 0660 },
};

struct options {
	const char	*spec;
	const char	*ifname;
	const char	*bpffs;
	const char	*key;		/* --key: the service's key file */
	const char	*object;	/* --object: built ahead of time */
	const char	*cache_dir;	/* where load-time builds are kept */
	const char	*service;	/* --service: the one of several on the interface */
	__u32		xdp_mode;	/* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE */
	__u16		port;		/* 0: the spec's */
	bool		quiet;
	bool		force;
	bool		json;		/* --status -j */
	bool		no_figures;	/* --figures off */
	bool		share;		/* --group, or the one the pins had */
	gid_t		gid;		/* the group whose applications may use the pins */
};

static struct options opt;
/* <bpffs>/flatrpc/<ifname>: the interface's entry point and its services */
static char if_dir[PATH_MAX - 1024];
/* <if_dir>/<service>: one service's pins; room left for "/" + a pin name */
static char pin_dir[PATH_MAX - 512];
/*
 * Where a load builds its pins before they become pin_dir (IFACE:stage, next
 * to it: rename(2) works only within one bpffs, and ':' is in no interface
 * name, so it never is another interface's directory). It exists exactly
 * while a load or an unload is under way, so a loader killed at any step
 * leaves it, and the next one to take the lock knows to recover (recover()).
 */
static char stage_dir[PATH_MAX - 512 + sizeof(":stage")];

/* Points pin_dir and stage_dir at one service of the interface. A service
 * name is an identifier (the compiler's rule), never "." or a path. */
static int set_service(const char *svc)
{
	if (!*svc || strchr(svc, '/') || strchr(svc, ':') || svc[0] == '.' ||
	    snprintf(pin_dir, sizeof(pin_dir), "%s/%s", if_dir, svc) >= (int)sizeof(pin_dir))
		return -EINVAL;
	snprintf(stage_dir, sizeof(stage_dir), "%s:stage", pin_dir);
	return 0;
}

/* The services loaded on the interface, up to max names; the count. */
static int list_services(char (*names)[NAME_MAX + 1], int max)
{
	return flatrpc_services_of(if_dir, names, max);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	if (opt.quiet)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void complain(const char *fmt, ...)
{
	va_list ap;

	fputs("flatrpc-load: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/*
 * A test hook: FLATRPC_LOAD_PAUSE_AT=STEP makes the loader stop for good at
 * STEP, so that selftests/run.sh test_loader_killed can kill -9 it exactly
 * between two changes; random delays hit those windows unreliably, least of
 * all in a slow VM. It gives nothing to whoever sets it: the caller of a
 * root tool owns its environment and could kill it anyway.
 */
static void step(const char *name)
{
	const char *at = getenv("FLATRPC_LOAD_PAUSE_AT");

	if (!at || strcmp(at, name))
		return;
	fprintf(stderr, "flatrpc-load: paused at %s (FLATRPC_LOAD_PAUSE_AT)\n", name);
	for (;;)
		pause();
}

/* libbpf's info lines are noise for an operator; keep warnings and errors. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Some probes are expected to fail (clsact already there, or absent);
 * libbpf would print the kernel's extack for them as if it were an error. */
static int libbpf_silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flatrpc-load [--mode auto|drv|skb] [--port N] [--bpffs DIR] [--group G] [--force] [-q]\n"
		"                    [--figures on|off] [--object FILE | --cache-dir DIR] SPEC.anf IFACE\n"
		"       flatrpc-load [--cache-dir DIR] --compile SPEC.anf\n"
		"       flatrpc-load [--bpffs DIR] [--service NAME] --status [-j] IFACE\n"
		"       flatrpc-load [--bpffs DIR] [--service NAME] [-q] --unload IFACE\n"
		"       flatrpc-load --keygen FILE\n"
		"       flatrpc-load [--bpffs DIR] [--key FILE] --rekey IFACE\n");
}

static void help(void)
{
	usage(stdout);
	printf("\n"
	       "Loads the FlatRPC XDP and TC programs of SPEC onto IFACE, seeds the\n"
	       "state of the spec's init() functions and pins everything under\n"
	       "<bpffs>/flatrpc/IFACE/SERVICE/. Running it again replaces the programs and keeps\n"
	       "state; another spec loads beside it, behind one XDP entry point per interface.\n"
	       "One loader at a time changes a bpffs (a second one waits for the first). The\n"
	       "flatrpc/ and flatrpc/IFACE/ directories must belong to the loader's user and\n"
	       "not be writable by others, or nothing is loaded. Under ip netns exec, where\n"
	       "/sys/fs/bpf is a throwaway, name a bpffs that outlives the command (--bpffs).\n"
	       "Any spec loads: its BPF object is compiled with clang on first use and kept\n"
	       "in a cache by the hash of the spec and of this flatrpc-load's BPF sources.\n"
	       "\n"
	       "  --mode M        XDP attach mode: drv, skb, or auto (default): skb on\n"
	       "                  veth, whose native XDP_TX is lost when the peer has\n"
	       "                  no XDP program, drv everywhere else\n"
	       "  --port N        UDP port of the service (default: the spec's)\n"
	       "  --object FILE   load FILE, built ahead of time by flatrpc-gen --object from\n"
	       "                  the same SPEC (for hosts without clang); no compile\n"
	       "  --cache-dir DIR where compiled objects are kept (default $FLATRPC_CACHE_DIR\n"
	       "                  or /var/cache/flatrpc); it must belong to this user and be\n"
	       "                  writable by no one else, since what it holds is loaded\n"
	       "  --compile SPEC  build SPEC's object into the cache (if it is not there) and\n"
	       "                  print its path; loads nothing\n"
	       "  --bpffs DIR     bpffs root (default $FLATRPC_BPFFS or /sys/fs/bpf);\n"
	       "                  mounted there if it is not a bpffs yet\n"
	       "  --force         replace an XDP program that is not FlatRPC's\n"
	       "  --figures off   the kernel programs record no XDP time and no element\n"
	       "                  verdicts (to measure what they cost; default on)\n"
	       "  --group G       let applications of group G (name or gid) use the service\n"
	       "                  without root: they need CAP_NET_RAW for AF_XDP\n"
	       "                  (docs/security.md); later loads keep the group\n"
	       "  --key FILE      the service's key file (default $FLATRPC_KEY_DIR/SERVICE.key,\n"
	       "                  the directory defaulting to /etc/flatrpc); needed unless the\n"
	       "                  spec says auth: none. 1 or 2 lines of 32 hex digits, mode 0600:\n"
	       "                  the first key signs, both verify\n"
	       "  --keygen FILE   write a new random key to FILE (0600); an existing FILE is kept\n"
	       "  --rekey IFACE   load the key file again into the running service (a rotation step)\n"
	       "  -q, --quiet     print errors only\n"
	       "  --status IFACE  show what is loaded, counters and state sizes (exit 3: nothing)\n"
	       "  -j, --json      with --status: one JSON object, keys in docs/observability.md\n"
	       "  --unload IFACE  detach and remove every pin; safe when nothing is loaded\n"
	       "  --service NAME  with --status, --unload, --rekey: the one service of those\n"
	       "                  loaded on IFACE (several load side by side, one per UDP port)\n"
	       "\n"
	       "Exit codes: 0 ok, 1 failure, 2 usage, 3 not loaded.\n"
	       "\n"
	       "Example:\n"
	       "  flatrpc-load --keygen /etc/flatrpc/kv.key    # once; copy it to the service's hosts\n"
	       "  flatrpc-load specs/kv.anf eth0\n"
	       "  flatrpc-gen --object kv.bpf.o kv.anf          # elsewhere, where clang is\n"
	       "  flatrpc-load --object kv.bpf.o kv.anf eth0\n"
	       "  flatrpc-load --status -j eth0 | jq '.methods[] | {name, answered}'\n");
}

/* ---- filesystem --------------------------------------------------------- */

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/*
 * `ip netns exec NAME` gives its command a mount namespace with a fresh /sys
 * (so that /sys/class/net shows NAME's interfaces), mounted with NAME as
 * its source, and iproute2 mounts a bpffs of its own on its /sys/fs/bpf.
 * Anything under that /sys goes when the command ends. Whether /sys is such
 * a mount: the last /sys line of mountinfo is a sysfs whose source names a
 * namespace in /run/netns.
 */
static bool sys_of_netns_exec(void)
{
	char line[4096], mnt[PATH_MAX], type[64], src[NAME_MAX + 1], path[PATH_MAX];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		/* id parent maj:min root MOUNTPOINT ... - TYPE SOURCE opts */
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 || strcmp(mnt, "/sys"))
			continue;
		found = sscanf(sep + 3, "%63s %255s", type, src) == 2 && !strcmp(type, "sysfs") &&
			strcmp(src, "sysfs") && !strchr(src, '/') &&
			snprintf(path, sizeof(path), "/run/netns/%s", src) < (int)sizeof(path) &&
			!access(path, F_OK);
	}
	fclose(f);
	return found;
}

static bool under_sys(const char *root)
{
	char abs[PATH_MAX];

	if (!realpath(root, abs))
		snprintf(abs, sizeof(abs), "%s", root);
	return !strncmp(abs, "/sys/", 5) || !strcmp(abs, "/sys");
}

/* bpffs is not mounted at boot on our targets; a load must still work. */
static int ensure_bpffs(const char *root)
{
	int err;

	/* A bpffs there (ip netns exec's, or one we mounted) would go when the
	 * command ends, and the pins with it: the programs would stay attached
	 * with nothing to find, reload or unload them by. */
	if (under_sys(root) && sys_of_netns_exec()) {
		complain("%s is under the /sys that ip netns exec mounted for this command: a "
			 "bpffs there vanishes when the command ends, and the pins with it. "
			 "Mount one that outlives it and name it, for example:\n"
			 "  mount -t bpf bpf /run/flatrpc-bpffs   (outside the namespace)\n"
			 "  ip netns exec NS flatrpc-load --bpffs /run/flatrpc-bpffs SPEC IFACE\n",
			 root);
		return -EXDEV;
	}
	if (is_bpffs(root))
		return 0;
	err = mkdir_p(root);
	if (err) {
		complain("cannot create %s: %s\n", root, strerror(-err));
		return err;
	}
	if (mount("bpf", root, "bpf", 0, "mode=0700")) {
		err = -errno;
		complain("cannot mount bpffs on %s: %s\n", root, strerror(errno));
		return err;
	}
	say("mounted bpffs on %s\n", root);
	return 0;
}

/*
 * Whoever owns a directory we pin into can delete or replace our pins, and a
 * fresh bpffs is world-writable (sticky): another user may have made
 * flatrpc/ or flatrpc/IFACE before us. So each must be a real directory of
 * ours that no one else may write to.
 */
static int check_dir_ours(const char *path)
{
	struct stat st;

	if (lstat(path, &st)) {
		complain("cannot stat %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		complain("%s is not a directory; refusing to pin there (remove it)\n", path);
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid()) {
		complain("%s belongs to uid %u, not to this loader (uid %u); refusing to pin "
			 "there: whoever owns it could remove or replace the pins (remove it)\n",
			 path, (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if (st.st_mode & S_IWOTH) {
		complain("%s is writable by others (mode %04o); refusing to pin there "
			 "(chmod o-w it, or remove it)\n", path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/*
 * One flatrpc-load at a time changes a bpffs's pins: an exclusive flock on
 * <bpffs>/flatrpc, held until exit (a killed loader's lock goes with it).
 * The second waits, then sees the first one's result. Coarser than one lock
 * per interface, but loads are rare, and a bpffs can hold no lock file of
 * its own; the per-interface directory itself is removed and made anew by
 * a load that changes service, so it cannot carry the lock.
 */
static int lock_fd = -1;

static int lock_pins(bool create)
{
	char dir[PATH_MAX];
	struct stat held, now;
	int err;

	if (snprintf(dir, sizeof(dir), "%s/%s", opt.bpffs, FLATRPC_PIN_SUBDIR) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
again:
	if (create) {
		err = mkdir_p(dir);
		if (err) {
			complain("cannot create %s: %s\n", dir, strerror(-err));
			return err;
		}
	}
	lock_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (lock_fd < 0) {
		if (errno == ENOENT && !create)
			return 0;	/* nothing pinned: nothing to guard */
		complain("cannot open %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	err = check_dir_ours(dir);
	if (err)
		return err;
	if (flock(lock_fd, LOCK_EX | LOCK_NB)) {
		if (errno != EWOULDBLOCK) {
			complain("cannot lock %s: %s\n", dir, strerror(errno));
			return -errno;
		}
		say("waiting for another flatrpc-load that holds %s\n", dir);
		if (flock(lock_fd, LOCK_EX)) {
			complain("cannot lock %s: %s\n", dir, strerror(errno));
			return -errno;
		}
	}
	/* The holder may have removed the directory (the last --unload does):
	 * a lock on a directory no longer there guards nothing. */
	if (fstat(lock_fd, &held) || stat(dir, &now) || held.st_ino != now.st_ino ||
	    held.st_dev != now.st_dev) {
		close(lock_fd);
		lock_fd = -1;
		if (!create && stat(dir, &now))
			return 0;
		goto again;
	}
	return 0;
}

static void pin_path_in(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void pin_path(char *buf, size_t len, const char *name)
{
	pin_path_in(buf, len, pin_dir, name);
}

static int pin_open_in(const char *dir, const char *name)
{
	char path[PATH_MAX];

	pin_path_in(path, sizeof(path), dir, name);
	return bpf_obj_get(path);
}

static int pin_open(const char *name)
{
	return pin_open_in(pin_dir, name);
}

/* Removes every pin in dir and dir; returns how many pins went. */
static int remove_dir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		pin_path_in(path, sizeof(path), dir, de->d_name);
		if (unlink(path))
			complain("cannot unpin %s: %s\n", path, strerror(errno));
		else if (++n == 1)
			step("removing");
	}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT)
		complain("cannot remove %s: %s\n", dir, strerror(errno));
	return n;
}

/*
 * The per-interface parent goes too once the last interface is gone. Only
 * by a command about to exit: it is the lock's directory, and a load that
 * went on to make it anew would hold a lock on one no longer there, which
 * a second loader would not see (lock_pins).
 */
static void remove_top(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", opt.bpffs, FLATRPC_PIN_SUBDIR);
	rmdir(path);
}

static int remove_pins(void)
{
	return remove_dir(pin_dir);
}

/* ---- programs and attachments --------------------------------------------- */


static __u32 pinned_prog_id(const char *name)
{
	int fd = pin_open(name);
	__u32 id = fr_prog_id(fd);

	if (fd >= 0)
		close(fd);
	return id;
}


/*
 * Native XDP on veth drops XDP_TX frames when the peer has no XDP program
 * (measured on 6.18, even with GRO on the peer), which would lose every
 * ANF error reply; generic XDP sends them through the peer's normal receive
 * path, and docs/facts.md measured it faster on veth anyway.
 */
static __u32 auto_mode(const char *ifname)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool veth = false;

	if (fd >= 0) {
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
		ifr.ifr_data = (void *)&info;
		veth = !ioctl(fd, SIOCETHTOOL, &ifr) && !strcmp(info.driver, "veth");
		close(fd);
	}
	return veth ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

static const char *mode_name(__u32 mode)
{
	return mode == XDP_FLAGS_SKB_MODE ? "skb" : mode == XDP_FLAGS_DRV_MODE ? "drv" :
	       mode == XDP_FLAGS_HW_MODE ? "hw" : "?";
}

static __u32 tc_attached_id(int ifindex, __u16 port)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = FR_TC_HANDLE(port), .priority = FR_TC_PRIO);

	int err;

	libbpf_set_print(libbpf_silent);
	err = bpf_tc_query(&hook, &q);
	libbpf_set_print(libbpf_print);
	return err ? 0 : q.prog_id;
}

static bool read_meta_in(const char *dir, struct flatrpc_meta *m)
{
	__u32 key = 0;
	bool ok;
	int fd;

	memset(m, 0, sizeof(*m));
	fd = pin_open_in(dir, FLATRPC_PIN_META);
	if (fd < 0)
		return false;
	ok = !bpf_map_lookup_elem(fd, &key, m) && m->spec_hash;
	close(fd);
	return ok;
}

/* The committed load: pin_dir only ever appears whole (renamed in from
 * stage_dir), so a meta there is that of a complete load. */
static bool read_meta(struct flatrpc_meta *m)
{
	return read_meta_in(pin_dir, m);
}

/*
 * Takes one service off the interface: its port out of the entry point's
 * array and its TC filter, if they are FlatRPC's. Returns 1 if it changed
 * anything.
 */
static int detach_service(int ifindex, __u16 port, bool verbose)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, tco, .handle = FR_TC_HANDLE(port), .priority = FR_TC_PRIO);
	__u32 id;
	int did = 0, err;

	if (!ifindex || !port)
		return 0;
	id = fr_dispatch_get(if_dir, port);
	if (id && fr_prog_named(id, FR_XDP_PROG_NAME) && !fr_dispatch_clear(if_dir, port)) {
		if (verbose)
			say("took port %u out of the XDP entry point of %s\n", port, opt.ifname);
		did = 1;
	}
	step("xdp-detached");
	id = tc_attached_id(ifindex, port);
	if (id && fr_prog_named(id, FR_TC_PROG_NAME)) {
		err = bpf_tc_detach(&hook, &tco);
		if (err)
			complain("cannot detach the TC filter: %s\n", strerror(-err));
		else if (verbose)
			say("removed the TC egress filter of port %u\n", port);
		did = 1;
	}
	step("tc-detached");
	return did;
}

/*
 * Once the interface's last service is gone, what they shared goes too:
 * the XDP entry point, and the clsact qdisc when flatrpc-load created it
 * (every load copies that fact from the services before it, so the last
 * one knows). Returns 1 if it changed anything.
 */
static int retire_interface(int ifindex, bool created_clsact, bool verbose)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int did = 0, err;

	if (list_services(NULL, 0))
		return 0;
	if (fr_dispatch_retire(if_dir, ifindex)) {
		if (verbose)
			say("detached the XDP entry point from %s\n", opt.ifname);
		did = 1;
	}
	if (ifindex && created_clsact) {
		libbpf_set_print(libbpf_silent);
		err = bpf_tc_hook_destroy(&hook);
		libbpf_set_print(libbpf_print);
		if (!err && verbose)
			say("removed the clsact qdisc that flatrpc-load had created\n");
		else if (err && err != -ENOENT && err != -EINVAL)
			complain("cannot remove the clsact qdisc: %s\n", strerror(-err));
		did = 1;
	}
	if (rmdir(if_dir) && errno != ENOENT && errno != ENOTEMPTY)
		complain("cannot remove %s: %s\n", if_dir, strerror(errno));
	return did;
}

/*
 * Puts the committed load's programs (pin_dir's) back on the interface,
 * where a killed reload may have left its own new ones, or none: its port
 * in the entry point (attached again if it had gone) and its TC filter.
 */
static int restore_attachments(int ifindex, const struct flatrpc_meta *m)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, tco, .handle = FR_TC_HANDLE(m->port), .priority = FR_TC_PRIO,
			    .flags = BPF_TC_F_REPLACE);
	__u32 mode = m->xdp_mode == XDP_FLAGS_SKB_MODE ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	int xfd = pin_open(FLATRPC_PIN_PROG_XDP), tfd = pin_open(FLATRPC_PIN_PROG_TC);
	struct flatrpc_meta upd = *m;
	char why[512];
	__u32 key = 0;
	int err = -ENOENT, mfd;

	if (xfd < 0 || tfd < 0) {
		complain("cannot put the load in %s back on %s: its program pins are missing "
			 "(--unload, then load again)\n", pin_dir, opt.ifname);
		goto out;
	}
	err = fr_dispatch_ensure(if_dir, ifindex, mode, false, why, sizeof(why));
	if (err) {
		complain("%s: %s; left as it is\n", opt.ifname, why);
		goto out;
	}
	if (fr_dispatch_get(if_dir, m->port) != fr_prog_id(xfd)) {
		err = fr_dispatch_set(if_dir, m->port, xfd);
		if (err) {
			complain("cannot put port %u back in the entry point of %s: %s\n", m->port,
				 opt.ifname, strerror(-err));
			goto out;
		}
	}
	libbpf_set_print(libbpf_silent);
	err = bpf_tc_hook_create(&hook);
	libbpf_set_print(libbpf_print);
	if (!err && !m->created_clsact) {
		/* someone removed the one that was there: it is ours now */
		upd.created_clsact = 1;
		mfd = pin_open(FLATRPC_PIN_META);
		if (mfd >= 0) {
			bpf_map_update_elem(mfd, &key, &upd, BPF_ANY);
			close(mfd);
		}
	}
	err = 0;
	if (tc_attached_id(ifindex, m->port) != fr_prog_id(tfd)) {
		tco.prog_fd = tfd;
		err = bpf_tc_attach(&hook, &tco);
		if (err)
			complain("cannot attach TC egress on %s again: %s\n", opt.ifname,
				 strerror(-err));
	}
out:
	if (xfd >= 0)
		close(xfd);
	if (tfd >= 0)
		close(tfd);
	return err;
}

/*
 * Run by every command that holds the lock, before it looks at anything.
 * stage_dir exists only while a load or an unload is under way, so finding
 * it means a loader was killed. pin_dir is the truth: a committed load
 * there (the swap had happened, or it is the previous load a reload was
 * replacing) gets its own programs attached again; with none, the killed
 * command was a first load or an unload, and everything of ours goes. The
 * stage goes last, so a recovery killed in turn is recovered again.
 */
static int recover(int ifindex, bool verbose, bool killed)
{
	struct flatrpc_meta live, staged;
	bool committed, staged_ok;
	int n = 0;

	if (access(stage_dir, F_OK))
		return 0;
	committed = read_meta(&live);
	if (committed) {
		/* (a load for an interface since gone and made anew has nothing
		 * to put back; the next load there reuses its state) */
		if (ifindex && live.ifindex == (__u32)ifindex && restore_attachments(ifindex, &live))
			return -1;
		if (killed)
			complain("a flatrpc-load on %s was killed half way: the last complete load "
			 "(service %.32s) is attached again\n", opt.ifname, live.service);
	} else {
		/* The stage's meta, written before anything was attached, says
		 * which port it took and whether it was to create the clsact
		 * qdisc; without one, it attached nothing. */
		staged_ok = read_meta_in(stage_dir, &staged) && staged.ifindex == (__u32)ifindex;
		if (staged_ok)
			detach_service(ifindex, staged.port, verbose);
		n = remove_pins();
		retire_interface(ifindex, staged_ok && staged.created_clsact, verbose);
		if (killed)
			complain("a flatrpc-load on %s was killed half way, with no complete load of %s "
				 "to go back to: what it had done is removed\n", opt.ifname,
				 pin_dir + strlen(if_dir) + 1);
	}
	n += remove_dir(stage_dir);
	if (verbose && n)
		say("removed %d pins and %s\n", n, pin_dir);
	/* the interface's directory, once its last service and stage are gone */
	if (!access(if_dir, F_OK) && !list_services(NULL, 0)) {
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/%s", if_dir, FLATRPC_PIN_DISPATCH);
		if (access(p, F_OK))
			rmdir(if_dir);
	}
	return 0;
}

/*
 * recover() for every service of the interface that a killed command left
 * a stage of, so that what anyone sees next is only whole loads.
 */
static int recover_all(int ifindex, bool verbose, bool killed)
{
	char keep[sizeof(pin_dir)], names[16][NAME_MAX + 1];
	struct dirent *de;
	int n = 0, i, rc = 0;
	DIR *d = opendir(if_dir);

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < 16) {
		size_t len = strlen(de->d_name);

		if (len > 6 && !strcmp(de->d_name + len - 6, ":stage"))
			snprintf(names[n++], sizeof(names[0]), "%.*s", (int)(len - 6), de->d_name);
	}
	closedir(d);
	memcpy(keep, pin_dir, sizeof(keep));
	for (i = 0; i < n; i++)
		if (!set_service(names[i]) && recover(ifindex, verbose, killed))
			rc = -1;
	memcpy(pin_dir, keep, sizeof(pin_dir));
	snprintf(stage_dir, sizeof(stage_dir), "%s:stage", pin_dir);
	return rc;
}

/* ---- the spec's object ------------------------------------------------------- */

/* Parses and checks the spec; errors are printed as file:line:col. */
static int spec_info(const char *spec, struct fr_spec_info *info)
{
	int errors;

	memset(info, 0, sizeof(*info));
	errors = fr_spec_info_from_file(spec, stderr, info);
	if (errors < 0) {
		complain("cannot read %s: %s\n", spec, strerror(-errors));
		return -1;
	}
	if (errors) {
		complain("%s: %d error%s; nothing was loaded\n", spec, errors,
			 errors == 1 ? "" : "s");
		return -1;
	}
	return 0;
}

/* What this process writes into, and later loads into the kernel from, must
 * be writable by it alone: anyone else who could write there could plant BPF
 * code for the next load. */
static int check_private(const char *path, bool dir)
{
	struct stat st;

	if (lstat(path, &st)) {
		complain("cannot use %s: %s\n", path, strerror(errno));
		return -1;
	}
	if ((dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) || st.st_uid != geteuid() ||
	    (st.st_mode & 022)) {
		complain("refusing %s: it must be a %s of uid %u that no one else can write "
			 "(it holds BPF objects this loader loads)\n", path,
			 dir ? "directory" : "file", (unsigned)geteuid());
		return -1;
	}
	return 0;
}

/*
 * The object for the spec: from the cache, or compiled into it now. Named
 * by service, spec hash and the hash of the BPF sources built into this
 * loader, so a new spec or a new flatrpc-load never picks a stale one.
 */
static int cached_object(const char *spec, const struct fr_spec_info *info, char *out,
			 size_t n)
{
	const char *dir = opt.cache_dir;
	int err;

	if (!dir || !*dir)
		dir = getenv("FLATRPC_CACHE_DIR");
	if (!dir || !*dir)
		dir = "/var/cache/flatrpc";
	if (mkdir_p(dir) || check_private(dir, true))
		return -1;
	if (snprintf(out, n, "%s/%s-%016llx-%08llx.bpf.o", dir, info->service,
		     (unsigned long long)info->spec_hash,
		     (unsigned long long)(fr_bpf_sources_hash() & 0xffffffffu)) >= (int)n) {
		complain("--cache-dir path too long\n");
		return -1;
	}
	if (!access(out, F_OK))
		return check_private(out, false);
	say("compiling %s (service %s) with clang into %s\n", spec, info->service, out);
	err = fr_spec_build_object(spec, out, stderr);
	if (err) {
		complain("%s: no BPF object, so nothing was loaded\n", spec);
		return -1;
	}
	return 0;
}

static int cmd_compile(void)
{
	struct fr_spec_info info;
	char path[PATH_MAX];

	if (spec_info(opt.spec, &info) || cached_object(opt.spec, &info, path, sizeof(path)))
		return 1;
	printf("%s\n", path);
	return 0;
}

/* Where a .rodata variable of an opened object sits, out_size bytes, so it
 * can be read or set before load; NULL when the object has none. */
static void *rodata_at(struct bpf_object *obj, const char *name, size_t out_size)
{
	const struct btf_var_secinfo *v;
	const struct btf_type *t;
	struct bpf_map *map;
	char *data;
	struct btf *btf;
	size_t size;
	int id, i;

	btf = bpf_object__btf(obj);
	if (!btf)
		return NULL;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return NULL;
	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		size_t len = strlen(name);

		if (bpf_map__is_internal(map) && len >= 7 && !strcmp(name + len - 7, ".rodata"))
			break;
	}
	if (!map)
		return NULL;
	/* const in libbpf 1.1, but it is the map's own mmap, which a skeleton
	 * writes through before load the same way */
	data = (char *)bpf_map__initial_value(map, &size);
	t = btf__type_by_id(btf, id);
	v = btf_var_secinfos(t);
	for (i = 0; i < btf_vlen(t); i++, v++) {
		const struct btf_type *vt = btf__type_by_id(btf, v->type);

		if (strcmp(btf__name_by_offset(btf, vt->name_off), name))
			continue;
		if (!data || v->offset + out_size > size || v->size != out_size)
			return NULL;
		return data + v->offset;
	}
	return NULL;
}

static int rodata_var(struct bpf_object *obj, const char *name, void *out, size_t out_size)
{
	void *at = rodata_at(obj, name, out_size);

	if (at)
		memcpy(out, at, out_size);
	return at ? 0 : -1;
}

/* The key file of a service: --key, or the default path by its name. */
static int key_file(char *buf, size_t len, const char *service)
{
	if (opt.key)
		return snprintf(buf, len, "%s", opt.key) >= (int)len ? -1 : 0;
	return fr_key_path(buf, len, service);
}

/*
 * A load's epochs: a random current one and no previous one, so that no
 * request signed before this load is admitted (docs/security.md, Replay).
 * A reload's pinned map still holds the running epochs: the new one's hint
 * differs from theirs, so a sender still on them is told at once.
 */
static int new_epochs(int fd, __u64 *epochs)
{
	struct flatrpc_keys old = {};
	__u32 zero = 0, e;

	bpf_map_lookup_elem(fd, &zero, &old);
	do {
		if (getrandom(&e, sizeof(e), 0) != sizeof(e)) {
			complain("cannot pick an epoch: %s\n", strerror(errno));
			return -1;
		}
	} while (!FLATRPC_EPOCH_HINT(e) ||
		 FLATRPC_EPOCH_HINT(e) == FLATRPC_EPOCH_HINT(FLATRPC_EPOCH_CUR(old.epochs)) ||
		 FLATRPC_EPOCH_HINT(e) == FLATRPC_EPOCH_HINT(FLATRPC_EPOCH_PREV(old.epochs)));
	*epochs = FLATRPC_EPOCHS(e, 0);
	return 0;
}

/*
 * Fills the object's auth_keys map: the spec's auth setting, and for an
 * authenticating service the keys of its key file. Before anything is
 * attached, so a missing key changes nothing on the interface.
 */
static int apply_keys(const struct flatrpc_desc *l, struct bpf_object *obj)
{
	struct flatrpc_keys k = {};
	char path[PATH_MAX], why[PATH_MAX + 128];
	__u8 auth = 1;
	__u32 key = 0;
	int fd;

	if (rodata_var(obj, "flatrpc_auth", &auth, sizeof(auth)) == 0 && !auth) {
		say("  auth: none (the spec says so): frames carry no tag\n");
	} else {
		if (key_file(path, sizeof(path), l->service)) {
			complain("key file path too long\n");
			return -1;
		}
		if (fr_keys_read(path, &k, why, sizeof(why))) {
			complain("service %s authenticates its messages, and its key is not usable: %s\n"
				 "  create one with: flatrpc-load --keygen %s (then copy it to every host "
				 "of the service), or give --key FILE\n", l->service, why, path);
			return -1;
		}
	}
	fd = bpf_map__fd(bpf_object__find_map_by_name(obj, FLATRPC_PIN_KEYS));
	if (fd >= 0 && k.on && new_epochs(fd, &k.epochs))
		return -1;
	if (fd < 0 || bpf_map_update_elem(fd, &key, &k, BPF_ANY)) {
		complain("cannot write the keys: %s\n", strerror(errno));
		return -1;
	}
	if (k.on)
		say("  auth: siphash-2-4, %u key%s from %s; epoch %08x\n", k.count,
		    k.count == 1 ? "" : "s", path, FLATRPC_EPOCH_CUR(k.epochs));
	return 0;
}

/* ---- load ------------------------------------------------------------------- */

static int apply_init(const struct flatrpc_desc *l, struct bpf_object *obj)
{
	const char *what = "";
	int err = flatrpc_seed(obj, l->init, l->n_init, l->states, &what);

	if (err)
		complain("cannot seed %s in the %s object: %s\n", what, l->service,
			 strerror(-err));
	return err;
}

static int pin_prog(struct bpf_program *prog, const char *name)
{
	char path[PATH_MAX];
	int err;

	pin_path_in(path, sizeof(path), stage_dir, name);
	err = bpf_program__pin(prog, path);
	if (err)
		complain("cannot pin %s: %s\n", path, strerror(-err));
	return err;
}

/*
 * Opens the pins in dir to opts.gid as shared_pins says. The interface's
 * directory becomes 0750 of that group, so members reach the pins but
 * cannot add, remove or replace any. Run on every load (on the stage, so
 * the pins appear with their modes), since a load may pin new objects.
 */
static int share_pins(const char *dir)
{
	char top[PATH_MAX], path[PATH_MAX];
	size_t i;

	snprintf(top, sizeof(top), "%s/%s", opt.bpffs, FLATRPC_PIN_SUBDIR);
	/* every group may pass through the top and the interface's directory
	 * (its services may be shared with different groups), none may list them */
	if (chmod(top, 0711) || chmod(if_dir, 0711) ||
	    chown(dir, (uid_t)-1, opt.gid) || chmod(dir, 0750)) {
		complain("cannot give group %u access to %s: %s\n", (unsigned)opt.gid, dir,
			 strerror(errno));
		return -errno;
	}
	for (i = 0; i < sizeof(shared_pins) / sizeof(shared_pins[0]); i++) {
		pin_path_in(path, sizeof(path), dir, shared_pins[i].pin);
		if (chown(path, (uid_t)-1, opt.gid) || chmod(path, shared_pins[i].mode)) {
			if (errno == ENOENT)
				continue;
			complain("cannot give group %u access to %s: %s\n", (unsigned)opt.gid,
				 path, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* A load without --group keeps the group an earlier one gave the pins. */
static void inherit_group(void)
{
	struct stat st;

	if (opt.share || stat(pin_dir, &st) || !st.st_gid || !(st.st_mode & S_IXGRP))
		return;
	opt.share = true;
	opt.gid = st.st_gid;
}

/*
 * Whether the interface has a clsact qdisc, from an RTM_GETQDISC dump.
 * The load must write down that it is about to create one before it does,
 * so that a recovery after kill -9 removes exactly a clsact we made;
 * libbpf only tells by creating it (-EEXIST), and bpf_tc_query answers
 * -EINVAL with and without one. Returns 1, 0, or -errno.
 */
static int clsact_present(int ifindex)
{
	struct {
		struct nlmsghdr n;
		struct tcmsg t;
	} req = {
		.n = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)), .nlmsg_type = RTM_GETQDISC,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.t = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex },
	};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[16384];
	int fd, found = 0, done = 0;
	ssize_t len;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		found = -errno;
		goto out;
	}
	while (!done && (len = recv(fd, buf, sizeof(buf), 0)) > 0) {
		struct nlmsghdr *n;

		for (n = (struct nlmsghdr *)buf; NLMSG_OK(n, len); n = NLMSG_NEXT(n, len)) {
			struct tcmsg *t = NLMSG_DATA(n);
			struct rtattr *a;
			int alen;

			if (n->nlmsg_type == NLMSG_DONE || n->nlmsg_type == NLMSG_ERROR) {
				done = 1;
				break;
			}
			if (n->nlmsg_type != RTM_NEWQDISC || t->tcm_ifindex != ifindex)
				continue;
			alen = n->nlmsg_len - NLMSG_LENGTH(sizeof(*t));
			for (a = (struct rtattr *)((char *)t + NLMSG_ALIGN(sizeof(*t)));
			     RTA_OK(a, alen); a = RTA_NEXT(a, alen))
				if (a->rta_type == TCA_KIND && !strcmp(RTA_DATA(a), "clsact"))
					found = 1;
		}
	}
	if (!done && !found)
		found = -EIO;
out:
	close(fd);
	return found;
}

/*
 * Gives the stage the committed load's maps, by hard link, so that libbpf
 * reuses them by pinned name and a reload keeps its state. Not meta: the
 * stage's own meta is the new load's record, and the committed one must
 * stay as it is until the swap. Not the programs: the new ones go there.
 */
static int link_maps(void)
{
	char from[PATH_MAX], to[PATH_MAX];
	struct dirent *de;
	int err = 0;
	DIR *d;

	d = opendir(pin_dir);
	if (!d)
		return -errno;
	while (!err && (de = readdir(d))) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, FLATRPC_PIN_META) ||
		    !strcmp(de->d_name, FLATRPC_PIN_DESC) ||
		    !strncmp(de->d_name, "prog_", 5))
			continue;
		pin_path_in(from, sizeof(from), pin_dir, de->d_name);
		pin_path_in(to, sizeof(to), stage_dir, de->d_name);
		if (link(from, to)) {
			err = -errno;
			complain("cannot link %s to %s: %s\n", from, to, strerror(errno));
		}
	}
	closedir(d);
	return err;
}

/* The other service of the interface whose committed load has port, if
 * any: 1 with its name in holder. */
static int port_holder(__u16 port, const char *self, char *holder, size_t n)
{
	char names[64][NAME_MAX + 1], dir[PATH_MAX];
	struct flatrpc_meta m;
	int k = list_services(names, 64), i;

	for (i = 0; i < k && i < 64; i++) {
		if (!strcmp(names[i], self))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", if_dir, names[i]);
		if (read_meta_in(dir, &m) && m.port == port) {
			snprintf(holder, n, "%s", names[i]);
			return 1;
		}
	}
	return 0;
}

/* Whether a service loaded before this one on the interface created its
 * clsact qdisc: then this load carries that on, for whichever goes last. */
static bool others_created_clsact(int ifindex, const char *self)
{
	char names[64][NAME_MAX + 1], dir[PATH_MAX];
	struct flatrpc_meta m;
	int k = list_services(names, 64), i;

	for (i = 0; i < k && i < 64; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", if_dir, names[i]);
		if (strcmp(names[i], self) && read_meta_in(dir, &m) &&
		    m.ifindex == (__u32)ifindex && m.created_clsact)
			return true;
	}
	return false;
}

/*
 * A load builds the whole new state in stage_dir, attaches it, and then
 * swaps stage_dir and pin_dir in one renameat2(RENAME_EXCHANGE), the commit
 * point: before it pin_dir is the previous load, after it the new one, and
 * stage_dir then holds the previous one, which is removed. stage_dir exists
 * throughout, so a loader killed at any step leaves a sign for recover(),
 * which puts the committed load's programs back (or removes everything when
 * there is none). The attachments cannot move in the same step as the
 * pins; that is why they are made to follow pin_dir, not the other way.
 */
static int cmd_load(void)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, tco, .priority = FR_TC_PRIO, .flags = BPF_TC_F_REPLACE);
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	struct flatrpc_desc *l = NULL;
	struct bpf_program *xdp_prog, *tc_prog, *client_prog;
	struct flatrpc_meta old = {}, m;
	struct bpf_object *obj = NULL;
	struct bpf_map *desc_map;
	struct fr_spec_info info;
	bool fresh, had_meta = false, replaced = false, had_dir;
	int created_clsact = 0, present;
	char obj_path[PATH_MAX], why[512];
	__u32 key = 0, hook_id, root_id, taken;
	enum fr_hook hook_state;
	int ifindex, err, mfd;
	__u8 *figures;
	__u16 port;

	if (spec_info(opt.spec, &info))
		return 1;
	if (opt.service && strcmp(opt.service, info.service)) {
		complain("%s is service %s, not %s (--service)\n", opt.spec, info.service,
			 opt.service);
		return 1;
	}
	if (set_service(info.service)) {
		complain("service name %s cannot name a directory\n", info.service);
		return 1;
	}
	if (opt.object)
		snprintf(obj_path, sizeof(obj_path), "%s", opt.object);
	else if (cached_object(opt.spec, &info, obj_path, sizeof(obj_path)))
		return 1;
	ifindex = if_nametoindex(opt.ifname);
	if (!ifindex) {
		complain("no interface %s\n", opt.ifname);
		return 1;
	}

	/* Under the lock from here: what is attached and pinned is then what
	 * a finished loader left, never one half way through. */
	if (ensure_bpffs(opt.bpffs) || lock_pins(true) || recover_all(ifindex, false, true))
		return 1;
	/* Refuse early, before anything changes, if the hook is someone else's
	 * (libxdp's dispatcher included: docs/loading.md). */
	hook_state = fr_dispatch_hook(if_dir, ifindex, &hook_id);
	if (hook_state == FR_HOOK_FOREIGN && !opt.force) {
		complain("%s already has an XDP program (id %u) that is not FlatRPC's and not in "
			 "libxdp's dispatcher; use --force to replace it\n", opt.ifname, hook_id);
		return 1;
	}
	if (mkdir(if_dir, 0700) && errno != EEXIST) {
		complain("cannot create %s: %s\n", if_dir, strerror(errno));
		return 1;
	}
	if (check_dir_ours(if_dir))
		return 1;
	if (hook_state == FR_HOOK_OURS) {
		__u32 mode = fr_dispatch_mode(ifindex, opt.xdp_mode);

		if (mode != opt.xdp_mode)
			say("%s runs FlatRPC's XDP in %s mode already; service %s joins it there\n",
			    opt.ifname, mode_name(mode), info.service);
		opt.xdp_mode = mode;
	}
	had_dir = !access(pin_dir, F_OK);
	if (had_dir && check_dir_ours(pin_dir))
		return 1;
	inherit_group();

	/* Maps are reused by pinned name, so another service's would hand this
	 * one their state (a session map, counters by method id) as its own:
	 * the stage then gets none of them, and the swap retires them. */
	had_meta = read_meta(&old);
	fresh = !had_meta || strncmp(old.service, info.service, sizeof(old.service));
	if (had_meta && fresh)
		say("%s held the state of service %.32s; it is removed, and %s starts afresh\n",
		    pin_dir, old.service, info.service);

	if (mkdir(stage_dir, 0700)) {
		complain("cannot create %s: %s\n", stage_dir, strerror(errno));
		return 1;
	}
	if (!fresh && link_maps())
		goto fail_early;
	step("staged");

	oo.pin_root_path = stage_dir;
	obj = bpf_object__open_file(obj_path, &oo);
	if (!obj) {
		complain("cannot open the BPF object %s: %s\n", obj_path, strerror(errno));
		goto fail_early;
	}
	/* The object says what it was built from; an --object of another
	 * version of the spec, or a damaged cache entry, stops here. */
	l = flatrpc_desc_of_object(obj, why, sizeof(why));
	if (!l) {
		complain("%s: %s\n", obj_path, why);
		goto fail_early;
	}
	if (l->spec_hash != info.spec_hash || strcmp(l->service, info.service)) {
		complain("%s was built from another spec (service %s, hash %016llx) than %s "
			 "(service %s, hash %016llx): build it again with flatrpc-gen --object\n",
			 obj_path, l->service, (unsigned long long)l->spec_hash, opt.spec,
			 info.service, (unsigned long long)info.spec_hash);
		goto fail_early;
	}
	figures = rodata_at(obj, "flatrpc_figures", sizeof(*figures));
	if (!figures || rodata_var(obj, "flatrpc_port", &port, sizeof(port))) {
		complain("%s lacks the settings every FlatRPC object has\n", obj_path);
		goto fail_early;
	}
	*figures = !opt.no_figures;
	if (opt.port) {
		port = opt.port;
		memcpy(rodata_at(obj, "flatrpc_port", sizeof(port)), &port, sizeof(port));
	}
	/* One port, one service: the entry point dispatches by it. */
	{
		char holder[NAME_MAX + 1];

		if (port_holder(port, info.service, holder, sizeof(holder))) {
			complain("UDP port %u of %s is service %s's; give this one another "
				 "(--port, or its spec's port)\n", port, opt.ifname, holder);
			goto fail_early;
		}
	}
	err = bpf_object__load(obj);
	if (err) {
		complain("cannot load the %s object: %s\n"
			 "  (if the pinned maps in %s are from another build, run --unload first)\n",
			 l->service, strerror(-err), pin_dir);
		goto fail_early;
	}
	step("object-loaded");
	xdp_prog = bpf_object__find_program_by_name(obj, FR_XDP_PROG_NAME);
	tc_prog = bpf_object__find_program_by_name(obj, FR_TC_PROG_NAME);
	client_prog = bpf_object__find_program_by_name(obj, FR_CLIENT_PROG_NAME);
	if (!xdp_prog || !tc_prog || !client_prog) {
		complain("the %s object lacks its programs\n", l->service);
		goto fail_early;
	}
	err = apply_init(l, obj);
	if (err)
		goto fail_early;
	if (apply_keys(l, obj))
		goto fail_early;

	/* The client program is never attached: libflatrpc-user runs it from
	 * its pin, so that pin is what keeps it loaded. */
	if (pin_prog(xdp_prog, FLATRPC_PIN_PROG_XDP) || pin_prog(tc_prog, FLATRPC_PIN_PROG_TC) ||
	    pin_prog(client_prog, FLATRPC_PIN_PROG_CLIENT))
		goto fail_early;
	/* the spec's names, for --status and flatrpc-stat */
	desc_map = bpf_object__find_map_by_name(obj, FLATRPC_DESC_SECTION);
	if (!desc_map || bpf_map__value_size(desc_map) > FLATRPC_DESC_MAX) {
		complain("the %s object's description is missing or over %u bytes\n", l->service,
			 FLATRPC_DESC_MAX);
		goto fail_early;
	}
	{
		char path[PATH_MAX];

		pin_path_in(path, sizeof(path), stage_dir, FLATRPC_PIN_DESC);
		err = bpf_map__pin(desc_map, path);
		if (err) {
			complain("cannot pin %s: %s\n", path, strerror(-err));
			goto fail_early;
		}
	}

	/* Whether this load is to create the clsact qdisc, written in the
	 * stage's meta before it does: a reload must remember that an earlier
	 * run created it, and a recovery must remove one we made and no other. */
	present = clsact_present(ifindex);
	if (present < 0) {
		complain("cannot list the qdiscs of %s: %s\n", opt.ifname, strerror(-present));
		goto fail_early;
	}
	created_clsact = !present || (had_meta && !fresh && old.ifindex == (__u32)ifindex &&
				      old.created_clsact) || others_created_clsact(ifindex, info.service);
	memset(&m, 0, sizeof(m));
	m.spec_hash = l->spec_hash;
	snprintf(m.service, sizeof(m.service), "%s", l->service);
	m.ifindex = ifindex;
	m.port = port;
	m.xdp_mode = opt.xdp_mode;
	m.created_clsact = created_clsact;
	m.figures = !opt.no_figures;
	mfd = bpf_map__fd(bpf_object__find_map_by_name(obj, FLATRPC_PIN_META));
	err = bpf_map_update_elem(mfd, &key, &m, BPF_ANY);
	if (err) {
		complain("cannot write meta: %s\n", strerror(errno));
		goto fail_early;
	}
	if (opt.share && share_pins(stage_dir))
		goto fail_early;
	step("pinned");

	/* From here on the interface changes; a failure undoes all of it.
	 * The entry point first (once per interface, in the mode of the
	 * first service loaded there), then this service's port in it: one
	 * update, which a reload makes in place. */
	root_id = fr_dispatch_root_id(if_dir);
	err = fr_dispatch_ensure(if_dir, ifindex, opt.xdp_mode, opt.force, why, sizeof(why));
	if (err) {
		complain("%s: %s\n", opt.ifname, why);
		goto fail;
	}
	taken = fr_dispatch_get(if_dir, port);
	replaced = taken != 0;
	err = fr_dispatch_set(if_dir, port, bpf_program__fd(xdp_prog));
	if (err) {
		complain("cannot put port %u in the XDP entry point of %s: %s\n", port,
			 opt.ifname, strerror(-err));
		goto fail;
	}
	step("xdp-attached");

	hook.ifindex = ifindex;
	libbpf_set_print(libbpf_silent);
	err = bpf_tc_hook_create(&hook);
	libbpf_set_print(libbpf_print);
	if (err && err != -EEXIST) {
		complain("cannot create the clsact qdisc on %s: %s\n", opt.ifname, strerror(-err));
		goto fail;
	}
	if (!present && err == -EEXIST) {
		/* another tc made one since we looked: theirs, never ours to remove */
		m.created_clsact = created_clsact = 0;
		bpf_map_update_elem(mfd, &key, &m, BPF_ANY);
	}
	step("clsact-created");
	tco.handle = FR_TC_HANDLE(port);
	tco.prog_fd = bpf_program__fd(tc_prog);
	err = bpf_tc_attach(&hook, &tco);
	if (err) {
		complain("cannot attach TC egress on %s: %s\n", opt.ifname, strerror(-err));
		goto fail;
	}
	step("tc-attached");

	/* The commit. A first load's pin_dir is absent: a plain rename, which
	 * no other loader can race (we hold the lock). */
	if (had_dir ? renameat2(AT_FDCWD, stage_dir, AT_FDCWD, pin_dir, RENAME_EXCHANGE) :
		      renameat2(AT_FDCWD, stage_dir, AT_FDCWD, pin_dir, RENAME_NOREPLACE)) {
		complain("cannot move %s into place as %s: %s%s\n", stage_dir, pin_dir,
			 strerror(errno), errno == EINVAL ?
			 " (this kernel's bpffs cannot swap two directories)" : "");
		goto fail;
	}
	step("committed");
	/* the previous load's pins, or nothing; its maps live on in pin_dir */
	remove_dir(stage_dir);
	/* a reload onto another port leaves the old one */
	if (had_meta && !fresh && old.port != port)
		detach_service(ifindex, old.port, false);

	say("%s FlatRPC service %s (%s, spec hash %016llx) on %s:\n",
	    replaced ? "reloaded" : "loaded", l->service, opt.spec,
	    (unsigned long long)l->spec_hash, opt.ifname);
	say("  object %s\n", obj_path);
	say("  XDP program id %u at port %u of the entry point (id %u, %s, %s mode)%s\n",
	    fr_prog_id(bpf_program__fd(xdp_prog)), port, fr_dispatch_root_id(if_dir),
	    root_id ? "already attached" : "attached now",
	    mode_name(fr_dispatch_mode(ifindex, opt.xdp_mode)),
	    replaced ? ", replacing the previous one" : "");
	say("  TC egress program id %u attached (clsact %s)\n",
	    fr_prog_id(bpf_program__fd(tc_prog)),
	    created_clsact ? "created by flatrpc-load" : "already present");
	say("  UDP port %u; %u init entr%s applied; %s\n", port, l->n_init,
	    l->n_init == 1 ? "y" : "ies", fresh ? "state is new" : "state kept from before");
	say("  pinned under %s\n", pin_dir);
	if (opt.no_figures)
		say("  figures off: no XDP time, no element verdicts (docs/observability.md)\n");
	if (opt.share) {
		struct group *g = getgrgid(opt.gid);

		say("  usable by group %s (gid %u): see docs/security.md, Applications without root\n",
		    g ? g->gr_name : "?", (unsigned)opt.gid);
	}
	bpf_object__close(obj);
	flatrpc_desc_free(l);
	return 0;

fail:
	/* exactly what a later command would do after a kill here */
	bpf_object__close(obj);
	flatrpc_desc_free(l);
	recover(ifindex, false, false);
	remove_top();
	complain("%s\n", had_meta ? "the previous load is attached again" :
		 "removed FlatRPC from the interface again");
	return 1;
fail_early:
	/* Nothing was attached; the previous load, if any, runs on as it was. */
	bpf_object__close(obj);
	flatrpc_desc_free(l);
	remove_dir(stage_dir);
	remove_top();
	return 1;
}

/* ---- status ----------------------------------------------------------------- */

#define STATUS_MAX_ENTRIES 16

/* True when the map's BTF says the type is an integer (through typedefs). */
static bool btf_is_integer(const struct btf *btf, __u32 type_id)
{
	const struct btf_type *t;
	int id;

	if (!btf || !type_id)
		return false;
	id = btf__resolve_type(btf, type_id);
	t = id < 0 ? NULL : btf__type_by_id(btf, id);
	return t && (btf_is_int(t) || btf_is_enum(t));
}

/* ANF state is strings or integers; show it as such, else as hex. */
static void print_value(const unsigned char *v, __u32 size, bool integer)
{
	__u32 len = 0, i;

	while (!integer && len < size && v[len] >= 0x20 && v[len] < 0x7f)
		len++;
	for (i = len; i < size && !v[i]; i++)
		;
	if (len && i == size) {
		printf("'%.*s'", (int)len, (const char *)v);
	} else if (size == 8 || size == 4 || size == 2 || size == 1) {
		unsigned long long x = 0;

		memcpy(&x, v, size);	/* little-endian, as the layout says */
		printf("%llu", x);
	} else {
		for (i = 0; i < size; i++)
			printf("%02x", v[i]);
	}
}

static void print_entries(int fd, const struct bpf_map_info *info, long max)
{
	unsigned char key[512], next[512], val[512];
	__u32 key_size = info->key_size, value_size = info->value_size;
	struct btf *btf = info->btf_id ? btf__load_from_kernel_by_id(info->btf_id) : NULL;
	bool int_key, int_val;
	void *prev = NULL;
	long n = 0;

	if (libbpf_get_error(btf))
		btf = NULL;
	int_key = btf_is_integer(btf, info->btf_key_type_id);
	int_val = btf_is_integer(btf, info->btf_value_type_id);
	btf__free(btf);
	if (key_size > sizeof(key) || value_size > sizeof(val))
		return;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, val))
			continue;
		if (n++ == max) {
			printf("      ...\n");
			break;
		}
		printf("      ");
		print_value(key, key_size, int_key);
		printf(" -> ");
		print_value(val, value_size, int_val);
		printf("\n");
	}
}

/* What state_limits says of the state pinned as NAME: "" for core maps. */
static const char *state_limits_of(const struct flatrpc_desc *l, const char *name,
				   char *buf, size_t n)
{
	struct flatrpc_state_limits v;
	__u32 i;
	int fd;

	buf[0] = 0;
	for (i = 0; l && l->states[i]; i++)
		if (!strcmp(l->states[i], name))
			break;
	if (!l || !l->states[i])
		return buf;
	fd = pin_open(FLATRPC_PIN_STATE_LIMITS);
	if (fd >= 0 && !bpf_map_lookup_elem(fd, &i, &v))
		snprintf(buf, n, "; inserted %llu, evicted %llu, refused %llu",
			 (unsigned long long)v.inserted, (unsigned long long)v.evicted,
			 (unsigned long long)v.refused);
	if (fd >= 0)
		close(fd);
	return buf;
}

static void print_state_maps(const struct flatrpc_desc *l)
{
	char path[PATH_MAX], lim[128];
	struct dirent *de;
	DIR *d;
	bool any = false;

	d = opendir(pin_dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		bool core = false;
		size_t i;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		for (i = 0; i < sizeof(core_pins) / sizeof(core_pins[0]); i++)
			core |= !strcmp(de->d_name, core_pins[i]);
		if (core && strcmp(de->d_name, FLATRPC_PIN_SEQS) &&
		    strcmp(de->d_name, FLATRPC_PIN_SEQ_HOSTS))
			continue;
		pin_path(path, sizeof(path), de->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type != BPF_MAP_TYPE_UNSPEC) {
			if (!any)
				printf("state maps:\n");
			any = true;
			printf("  %-32s %ld of %u entries%s%s\n", de->d_name,
			       flatrpc_count_entries(fd, info.key_size, info.max_entries), info.max_entries,
			       !core ? "" :
			       !strcmp(de->d_name, FLATRPC_PIN_SEQS) ? " (in-order streams)" :
			       " (client hosts' streams)",
			       state_limits_of(l, de->d_name, lim, sizeof(lim)));
			if (!core && (info.type == BPF_MAP_TYPE_HASH ||
				      info.type == BPF_MAP_TYPE_LRU_HASH ||
				      info.type == BPF_MAP_TYPE_ARRAY))
				print_entries(fd, &info, STATUS_MAX_ENTRIES);
		}
		close(fd);
	}
	closedir(d);
}

/* The figures as text: the kernel's counters by method, the library's
 * answers and latency, drops. */
static void print_figures(const struct fr_figures *f)
{
	char nb[16], col[40];
	bool any = false;

	printf("methods (kernel counters, summed over the CPUs):\n");
	printf("  %-8s", "method");
#define FLATRPC_X_HEAD(fl, help) printf(" %11.11s", #fl);
	FLATRPC_METHOD_STATS(FLATRPC_X_HEAD)
#undef FLATRPC_X_HEAD
	printf("\n");
	for (unsigned int m = 0; m < f->n_methods; m++) {
		const struct flatrpc_method_stats *k = &f->kern[m];
		__u64 all = 0;

#define FLATRPC_X_SUM(fl, help) all |= k->fl;
		FLATRPC_METHOD_STATS(FLATRPC_X_SUM)
#undef FLATRPC_X_SUM
		if (!all)
			continue;
		any = true;
		printf("  %-8s", fr_method_name(f, m, nb, sizeof(nb)));
#define FLATRPC_X_ROW(fl, help) printf(" %11llu", (unsigned long long)k->fl);
		FLATRPC_METHOD_STATS(FLATRPC_X_ROW)
#undef FLATRPC_X_ROW
		printf("\n");
	}
	if (!any)
		printf("  (no traffic yet)\n");

	any = false;
	for (unsigned int m = 0; m < f->n_methods; m++) {
		const struct flatrpc_method_obs *o = &f->obs[m];

		if (!o->call.count && !o->handler.count && !o->timeouts && !o->answered[0])
			continue;
		if (!any)
			printf("calls (the processes of this host):\n  %-9s %10s %10s %10s %9s %9s\n",
			       "", "answered", "timeouts", "served", "p50 us", "p99 us");
		any = true;
		/* "name:", so that a row is never taken for the counters' */
		snprintf(col, sizeof(col), "%s:", fr_method_name(f, m, nb, sizeof(nb)));
		printf("  %-9s %10llu %10llu %10llu %9.2f %9.2f\n", col,
		       (unsigned long long)o->call.count, (unsigned long long)o->timeouts,
		       (unsigned long long)o->served, fr_hist_quantile(&o->call, 0.5) / 1e3,
		       fr_hist_quantile(&o->call, 0.99) / 1e3);
	}

	printf("drops:\n");
	any = false;
	for (unsigned int r = 1; r < FLATRPC_DROP__MAX; r++) {
		if (!f->drops[r])
			continue;
		any = true;
		printf("  %-16s %12llu\n", fr_drop_names[r], (unsigned long long)f->drops[r]);
	}
	if (!any)
		printf("  (none)\n");
	if (f->xdp.count)
		printf("XDP time per frame: p50 %.0f ns, p99 %.0f ns over %llu frames\n",
		       fr_hist_quantile(&f->xdp, 0.5), fr_hist_quantile(&f->xdp, 0.99),
		       (unsigned long long)f->xdp.count);
}

/* Whether a command is at work on the interface, or was killed there. */
static bool has_stage(void)
{
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(if_dir);

	if (!d)
		return false;
	while (!found && (de = readdir(d)))
		found = strchr(de->d_name, ':') != NULL;
	closedir(d);
	return found;
}

/* The status of the service pin_dir names. */
static int status_one(void)
{
	const struct flatrpc_desc *l;
	struct flatrpc_keys k = {};
	struct fr_figures *f;
	__u32 pinned_xdp, pinned_tc, tc_id, xdp_id = 0, zero = 0, hook_id = 0, root_id;
	enum fr_hook hook = FR_HOOK_FREE;
	int ifindex, kfd;
	bool attached, keys_read;

	f = calloc(1, sizeof(*f));
	if (!f)
		return 1;
	if (!is_bpffs(opt.bpffs) || fr_figures_read(pin_dir, f)) {
		if (opt.json) {
			printf("{\"interface\":");
			fr_json_str(stdout, opt.ifname);
			printf(",\"loaded\":false}\n");
		} else {
			printf("FlatRPC is not loaded on %s (no pins in %s)\n", opt.ifname,
			       opt.service ? pin_dir : if_dir);
		}
		fr_figures_free(f);
		return EXIT_NOTLOADED;
	}
	ifindex = if_nametoindex(opt.ifname);
	l = f->l;
	kfd = pin_open(FLATRPC_PIN_KEYS);
	keys_read = kfd >= 0 && !bpf_map_lookup_elem(kfd, &zero, &k);
	if (kfd >= 0)
		close(kfd);
	pinned_xdp = pinned_prog_id(FLATRPC_PIN_PROG_XDP);
	pinned_tc = pinned_prog_id(FLATRPC_PIN_PROG_TC);
	root_id = fr_dispatch_root_id(if_dir);
	if (ifindex)
		hook = fr_dispatch_hook(if_dir, ifindex, &hook_id);
	/* attached: the entry point is on the interface and sends our port here */
	if (hook == FR_HOOK_OURS)
		xdp_id = fr_dispatch_get(if_dir, f->meta.port);
	tc_id = ifindex ? tc_attached_id(ifindex, f->meta.port) : 0;
	attached = xdp_id && xdp_id == pinned_xdp;

	if (opt.json) {
		char svc[sizeof(f->meta.service) + 1];

		snprintf(svc, sizeof(svc), "%.*s", (int)sizeof(f->meta.service), f->meta.service);
		printf("{\"interface\":");
		fr_json_str(stdout, opt.ifname);
		printf(",\"loaded\":true,\"attached\":%s,\"ifindex\":%u,\"present\":%s,\"service\":",
		       attached ? "true" : "false", f->meta.ifindex,
		       ifindex && (__u32)ifindex == f->meta.ifindex ? "true" : "false");
		fr_json_str(stdout, svc);
		printf(",\"spec_hash\":\"%016llx\",\"spec\":", (unsigned long long)f->meta.spec_hash);
		if (l)
			fr_json_str(stdout, l->spec_path);
		else
			printf("null");
		printf(",\"port\":%u,\"mode\":\"%s\",\"kernel_figures\":%s,\"auth\":", f->meta.port,
		       f->meta.xdp_mode == XDP_FLAGS_SKB_MODE ? "skb" : "drv",
		       f->meta.figures ? "true" : "false");
		if (keys_read)
			printf("{\"on\":%s,\"keys\":%u}", k.on ? "true" : "false", k.count);
		else
			printf("null");
		printf(",\"xdp\":{\"prog_id\":%u,\"attached\":%s,\"other_prog_id\":%u,"
		       "\"entry_prog_id\":%u,\"entry_attached\":%s}", pinned_xdp,
		       attached ? "true" : "false", hook == FR_HOOK_FOREIGN ? hook_id :
		       xdp_id != pinned_xdp ? xdp_id : 0, root_id,
		       hook == FR_HOOK_OURS ? "true" : "false");
		printf(",\"tc\":{\"prog_id\":%u,\"attached\":%s,\"created_clsact\":%s}", pinned_tc,
		       tc_id && tc_id == pinned_tc ? "true" : "false",
		       f->meta.created_clsact ? "true" : "false");
		fr_figures_json(stdout, f);
		printf("}\n");
		fr_figures_free(f);
		return attached ? 0 : EXIT_NOTLOADED;
	}

	printf("interface %s (ifindex %u%s)\n", opt.ifname, f->meta.ifindex,
	       ifindex && (__u32)ifindex == f->meta.ifindex ? "" : ", no longer present");
	printf("service   %.*s, spec hash %016llx, spec %s\n", (int)sizeof(f->meta.service),
	       f->meta.service, (unsigned long long)f->meta.spec_hash,
	       l ? l->spec_path : "(unknown: no readable desc pin)");
	printf("port      %u/udp\n", f->meta.port);
	printf("mode      %s\n", mode_name(f->meta.xdp_mode));
	printf("figures   %s\n", f->meta.figures ? "kernel's and library's" :
	       "library's only (loaded with --figures off)");
	if (!keys_read)
		printf("auth      unknown (no readable %s pin)\n", FLATRPC_PIN_KEYS);
	else if (!k.on)
		printf("auth      none (the spec says so)\n");
	else
		printf("auth      siphash-2-4, %u key%s live\n", k.count, k.count == 1 ? "" : "s");
	printf("XDP       program id %u, %s (port %u of the entry point, id %u%s)\n", pinned_xdp,
	       attached ? "attached" : "NOT attached", f->meta.port, root_id,
	       hook != FR_HOOK_OURS ? ", NOT attached" : "");
	if (hook == FR_HOOK_FOREIGN)
		printf("          another XDP program is attached: id %u\n", hook_id);
	else if (xdp_id && xdp_id != pinned_xdp)
		printf("          the entry point sends port %u to another program: id %u\n",
		       f->meta.port, xdp_id);
	printf("TC egress program id %u, %s (clsact %s)\n", pinned_tc,
	       tc_id && tc_id == pinned_tc ? "attached" : "NOT attached",
	       f->meta.created_clsact ? "created by flatrpc-load" : "pre-existing");
	print_figures(f);
	print_state_maps(l);
	fr_figures_free(f);
	if (!attached) {
		printf("FlatRPC is pinned but not attached on %s; load it again or --unload\n",
		       opt.ifname);
		return EXIT_NOTLOADED;
	}
	return 0;
}

/*
 * Every service of the interface in turn, or the one of --service. As
 * JSON, one service is one object; several are listed by name, and
 * --service picks one (docs/observability.md).
 */
static int cmd_status(void)
{
	char names[64][NAME_MAX + 1];
	int n, i, rc = 0, r;

	/* A stage is a loader at work (wait for it) or one killed (recover
	 * what it left), so that what is shown is one whole state. A user
	 * without the lock's directory (a --group member) sees what is there. */
	if (is_bpffs(opt.bpffs) && has_stage() && !lock_pins(false) &&
	    !recover_all(if_nametoindex(opt.ifname), false, true))
		remove_top();
	if (opt.service)
		return set_service(opt.service) ? EXIT_USAGE : status_one();
	n = is_bpffs(opt.bpffs) ? list_services(names, 64) : 0;
	if (n > 64)
		n = 64;
	if (n <= 1) {
		if (n == 1)
			set_service(names[0]);
		else
			set_service("-");	/* no such service: "not loaded" */
		return status_one();
	}
	if (opt.json) {
		printf("{\"interface\":");
		fr_json_str(stdout, opt.ifname);
		printf(",\"loaded\":true,\"services\":[");
		for (i = 0; i < n; i++) {
			printf(i ? "," : "");
			fr_json_str(stdout, names[i]);
		}
		printf("]}\n");
		return 0;
	}
	for (i = 0; i < n; i++) {
		printf("%s", i ? "\n" : "");
		set_service(names[i]);
		r = status_one();
		if (r > rc)
			rc = r;
	}
	return rc;
}

/* ---- unload ----------------------------------------------------------------- */

/* Unloads the service pin_dir names; 1 if there was one. */
static int unload_one(int ifindex)
{
	if (access(pin_dir, F_OK))
		return 0;
	/* The unload's commit point: once the pins are out of pin_dir, a kill
	 * leaves a stage with no committed load, and recover() finishes the
	 * unload. */
	if (renameat2(AT_FDCWD, pin_dir, AT_FDCWD, stage_dir, RENAME_NOREPLACE)) {
		complain("cannot move %s to %s: %s\n", pin_dir, stage_dir, strerror(errno));
		return -1;
	}
	step("unload-committed");
	recover(ifindex, true, false);
	return 1;
}

/* --unload: the service of --service, or every service of the interface. */
static int cmd_unload(void)
{
	int ifindex = if_nametoindex(opt.ifname);
	char names[64][NAME_MAX + 1];
	int did = 0, n, i, r;

	if (!is_bpffs(opt.bpffs)) {
		/* No bpffs means no pins; a stray entry point of ours may still
		 * be attached. */
		did = fr_dispatch_retire(if_dir, ifindex);
	} else {
		if (lock_pins(false) || recover_all(ifindex, true, true))
			return 1;
		if (opt.service) {
			if (set_service(opt.service))
				return EXIT_USAGE;
			did = unload_one(ifindex);
		} else {
			n = list_services(names, 64);
			for (i = 0; i < n && i < 64; i++) {
				set_service(names[i]);
				r = unload_one(ifindex);
				if (r < 0)
					return 1;
				did |= r;
			}
			/* the entry point of a load whose pins went astray */
			if (!list_services(NULL, 0))
				did |= retire_interface(ifindex, false, true);
		}
		remove_top();
	}
	if (did < 0)
		return 1;
	if (!did)
		say("%s%s was not loaded on %s; nothing to do\n", opt.service ? "service " : "FlatRPC",
		    opt.service ? opt.service : "", opt.ifname);
	else if (opt.service)
		say("service %s is unloaded from %s\n", opt.service, opt.ifname);
	else
		say("FlatRPC is unloaded from %s\n", opt.ifname);
	return 0;
}

/* The service a command about one service means: --service, or the only one
 * loaded on the interface. */
static int pick_service(void)
{
	char names[2][NAME_MAX + 1];
	int n;

	if (opt.service)
		return set_service(opt.service);
	n = list_services(names, 2);
	if (n > 1) {
		complain("%s has several services; name one with --service\n", opt.ifname);
		return -1;
	}
	return set_service(n ? names[0] : "-");
}

/* Replaces the live keys of the service loaded on the interface, in place:
 * one step of a rotation (docs/security.md), no reload. */
static int cmd_rekey(void)
{
	struct flatrpc_keys old = {}, k;
	struct flatrpc_meta m;
	char path[PATH_MAX], svc[sizeof(m.service) + 1], why[PATH_MAX + 128];
	__u32 zero = 0;
	int fd;

	if (is_bpffs(opt.bpffs) &&
	    (lock_pins(false) || recover_all(if_nametoindex(opt.ifname), false, true)))
		return 1;
	remove_top();
	if (pick_service())
		return EXIT_USAGE;
	if (!is_bpffs(opt.bpffs) || !read_meta(&m)) {
		complain("FlatRPC is not loaded on %s (no pins in %s)\n", opt.ifname, pin_dir);
		return EXIT_NOTLOADED;
	}
	snprintf(svc, sizeof(svc), "%.*s", (int)sizeof(m.service), m.service);
	fd = pin_open(FLATRPC_PIN_KEYS);
	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &old)) {
		complain("no readable %s pin in %s\n", FLATRPC_PIN_KEYS, pin_dir);
		return 1;
	}
	if (!old.on) {
		complain("service %s does not authenticate (auth: none in its spec); no key to change\n",
			 svc);
		close(fd);
		return 1;
	}
	if (key_file(path, sizeof(path), svc) || fr_keys_read(path, &k, why, sizeof(why))) {
		complain("%s\n", key_file(path, sizeof(path), svc) ? "key file path too long" : why);
		close(fd);
		return 1;
	}
	/*
	 * New keys, same epochs, so calls in flight carry on. Through the
	 * mapping, leaving the epochs word alone: a server library may rotate
	 * it at any moment, and writing back the value read above would undo
	 * that rotation. The verifying key goes in before the count that
	 * makes XDP try it.
	 */
	{
		size_t len = ((sizeof(k) - 1) / (size_t)getpagesize() + 1) * getpagesize();
		struct flatrpc_keys *live = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
						 fd, 0);

		if (live == MAP_FAILED) {
			complain("cannot map the keys: %s\n", strerror(errno));
			close(fd);
			return 1;
		}
		memcpy(live->key, k.key, sizeof(k.key));
		__atomic_store_n(&live->count, k.count, __ATOMIC_RELEASE);
		munmap(live, len);
	}
	close(fd);
	say("service %s on %s: %u key%s live from %s\n", svc, opt.ifname, k.count,
	    k.count == 1 ? "" : "s", path);
	return 0;
}

static int cmd_keygen(const char *path)
{
	char why[PATH_MAX + 128];
	int rc = fr_keygen(path, why, sizeof(why));

	if (rc < 0) {
		complain("%s\n", why);
		return 1;
	}
	say(rc ? "%s exists already; left as it is\n" : "wrote a new key to %s (mode 0600)\n", path);
	return 0;
}

/* ---- main ------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	enum { OPT_STATUS = 256, OPT_UNLOAD, OPT_MODE, OPT_PORT, OPT_BPFFS, OPT_FORCE, OPT_KEY,
	       OPT_KEYGEN, OPT_REKEY, OPT_GROUP, OPT_FIGURES, OPT_OBJECT, OPT_CACHE_DIR,
	       OPT_COMPILE, OPT_SERVICE };
	static const struct option longopts[] = {
		{ "mode",   required_argument, NULL, OPT_MODE },
		{ "port",   required_argument, NULL, OPT_PORT },
		{ "bpffs",  required_argument, NULL, OPT_BPFFS },
		{ "force",  no_argument,       NULL, OPT_FORCE },
		{ "figures", required_argument, NULL, OPT_FIGURES },
		{ "object", required_argument, NULL, OPT_OBJECT },
		{ "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
		{ "compile", no_argument,      NULL, OPT_COMPILE },
		{ "service", required_argument, NULL, OPT_SERVICE },
		{ "quiet",  no_argument,       NULL, 'q' },
		{ "json",   no_argument,       NULL, 'j' },
		{ "status", no_argument,       NULL, OPT_STATUS },
		{ "unload", no_argument,       NULL, OPT_UNLOAD },
		{ "key",    required_argument, NULL, OPT_KEY },
		{ "keygen", no_argument,       NULL, OPT_KEYGEN },
		{ "rekey",  no_argument,       NULL, OPT_REKEY },
		{ "group",  required_argument, NULL, OPT_GROUP },
		{ "help",   no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum { LOAD, STATUS, UNLOAD, KEYGEN, REKEY, COMPILE } cmd = LOAD;
	char *end;
	long v;
	int c;

	opt.xdp_mode = 0;	/* auto */
	opt.bpffs = getenv("FLATRPC_BPFFS");
	if (!opt.bpffs || !*opt.bpffs)
		opt.bpffs = "/sys/fs/bpf";

	while ((c = getopt_long(argc, argv, "qjh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_MODE:
			if (!strcmp(optarg, "auto"))
				opt.xdp_mode = 0;
			else if (!strcmp(optarg, "drv") || !strcmp(optarg, "native"))
				opt.xdp_mode = XDP_FLAGS_DRV_MODE;
			else if (!strcmp(optarg, "skb") || !strcmp(optarg, "generic"))
				opt.xdp_mode = XDP_FLAGS_SKB_MODE;
			else {
				complain("--mode is auto, drv or skb, not %s\n", optarg);
				usage(stderr);
				return EXIT_USAGE;
			}
			break;
		case OPT_PORT:
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 1 || v > 65535) {
				complain("--port takes 1..65535, not %s\n", optarg);
				usage(stderr);
				return EXIT_USAGE;
			}
			opt.port = v;
			break;
		case OPT_BPFFS:
			opt.bpffs = optarg;
			break;
		case OPT_FORCE:
			opt.force = true;
			break;
		case OPT_FIGURES:
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				complain("--figures is on or off, not %s\n", optarg);
				usage(stderr);
				return EXIT_USAGE;
			}
			opt.no_figures = !strcmp(optarg, "off");
			break;
		case 'q':
			opt.quiet = true;
			break;
		case 'j':
			opt.json = true;
			break;
		case OPT_STATUS:
			cmd = STATUS;
			break;
		case OPT_UNLOAD:
			cmd = UNLOAD;
			break;
		case OPT_KEY:
			opt.key = optarg;
			break;
		case OPT_KEYGEN:
			cmd = KEYGEN;
			break;
		case OPT_GROUP: {
			struct group *g = getgrnam(optarg);

			errno = 0;
			v = g ? (long)g->gr_gid : strtol(optarg, &end, 10);
			if (!g && (errno || *end || v < 1 || v > 0x7fffffff)) {
				complain("--group takes a group name or a gid other than 0, not %s\n",
					 optarg);
				usage(stderr);
				return EXIT_USAGE;
			}
			if (!v) {
				complain("--group root would share nothing: root has the pins already\n");
				usage(stderr);
				return EXIT_USAGE;
			}
			opt.share = true;
			opt.gid = (gid_t)v;
			break;
		}
		case OPT_REKEY:
			cmd = REKEY;
			break;
		case OPT_OBJECT:
			opt.object = optarg;
			break;
		case OPT_CACHE_DIR:
			opt.cache_dir = optarg;
			break;
		case OPT_COMPILE:
			cmd = COMPILE;
			break;
		case OPT_SERVICE:
			opt.service = optarg;
			break;
		case 'h':
			help();
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (cmd == KEYGEN) {
		if (argc - optind != 1) {
			usage(stderr);
			return EXIT_USAGE;
		}
		return cmd_keygen(argv[optind]);
	}
	if (cmd == COMPILE) {
		if (argc - optind != 1 || opt.object) {
			usage(stderr);
			return EXIT_USAGE;
		}
		opt.spec = argv[optind];
		return cmd_compile();
	}
	if (opt.object && cmd != LOAD) {
		complain("--object goes with a load\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (cmd == LOAD && argc - optind == 2) {
		opt.spec = argv[optind];
		opt.ifname = argv[optind + 1];
	} else if (cmd != LOAD && argc - optind == 1) {
		opt.ifname = argv[optind];
	} else {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strlen(opt.ifname) >= IFNAMSIZ || strchr(opt.ifname, '/')) {
		complain("bad interface name %s\n", opt.ifname);
		return EXIT_USAGE;
	}
	if (!opt.xdp_mode)
		opt.xdp_mode = auto_mode(opt.ifname);
	if (snprintf(if_dir, sizeof(if_dir), "%s/%s/%s", opt.bpffs, FLATRPC_PIN_SUBDIR,
		     opt.ifname) >= (int)sizeof(if_dir)) {
		complain("--bpffs path too long\n");
		return EXIT_USAGE;
	}
	if (opt.service && set_service(opt.service)) {
		complain("bad service name %s\n", opt.service);
		return EXIT_USAGE;
	}
	libbpf_set_print(libbpf_print);

	switch (cmd) {
	case LOAD:
		return cmd_load();
	case STATUS:
		return cmd_status();
	case UNLOAD:
		return cmd_unload();
	case REKEY:
		return cmd_rekey();
	case KEYGEN:
	case COMPILE:
		break;
	}
	return 1;
}

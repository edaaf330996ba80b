/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * route.c - next hop via raw rtnetlink, own MAC via ioctl, port reservation.
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_arp.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "flatrpc.h"
#include "route.h"

#define NL_BUF		16384
#define DISCARD_PORT	9

static int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 1 };
	int fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	/* A lost reply must not hang the caller forever. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void add_attr(struct nlmsghdr *n, size_t cap, int type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));

	if (NLMSG_ALIGN(n->nlmsg_len) + RTA_SPACE(len) > cap)
		return;
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_SPACE(len);
}

/*
 * Sends one request and feeds every reply message to cb until the kernel
 * says it is done (dump) or answers once (get). cb returns non-zero to keep
 * the result; the loop still drains the socket so it can be closed cleanly.
 */
typedef void (*nl_cb)(const struct nlmsghdr *n, void *arg);

static int nl_talk(struct nlmsghdr *req, bool dump, nl_cb cb, void *arg)
{
	static __thread uint32_t seq_ctr;
	char buf[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	uint32_t seq = ++seq_ctr;
	int fd, err = 0;

	fd = nl_open();
	if (fd < 0)
		return fd;
	req->nlmsg_seq = seq;
	if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		err = -errno;
		goto out;
	}
	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *n;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		for (n = (struct nlmsghdr *)buf; NLMSG_OK(n, (size_t)len); n = NLMSG_NEXT(n, len)) {
			if (n->nlmsg_seq != seq)
				continue;
			if (n->nlmsg_type == NLMSG_DONE)
				goto out;
			if (n->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(n);

				err = e->error;
				goto out;
			}
			cb(n, arg);
			if (!dump)
				goto out;
		}
	}
out:
	close(fd);
	return err;
}

struct route_res {
	bool		found;
	uint8_t		type;
	int		oif;
	fr_addr_t	gw;		/* 0: none */
	fr_addr_t	src;		/* 0: none */
};

/* The family, and where its bytes start, of an addr.h address. */
static int addr_family(const fr_addr_t *a, const uint8_t **bytes, size_t *len)
{
	if (fr_addr_is_v4(*a)) {
		*bytes = (const uint8_t *)a + 12;
		*len = 4;
		return AF_INET;
	}
	*bytes = (const uint8_t *)a;
	*len = 16;
	return AF_INET6;
}

/* A route or neighbour attribute holding an address of either family. */
static bool attr_addr(const struct rtattr *a, fr_addr_t *out)
{
	if (RTA_PAYLOAD(a) == 4) {
		uint32_t v4;

		memcpy(&v4, RTA_DATA(a), 4);
		*out = fr_addr_v4(v4);
		return true;
	}
	if (RTA_PAYLOAD(a) == 16) {
		*out = fr_addr_v6(RTA_DATA(a));
		return true;
	}
	return false;
}

static void route_cb(const struct nlmsghdr *n, void *arg)
{
	struct route_res *r = arg;
	const struct rtmsg *rtm = NLMSG_DATA(n);
	int len = RTM_PAYLOAD(n);

	if (n->nlmsg_type != RTM_NEWROUTE)
		return;
	r->found = true;
	r->type = rtm->rtm_type;
	for (const struct rtattr *a = RTM_RTA(rtm); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		switch (a->rta_type) {
		case RTA_OIF:
			memcpy(&r->oif, RTA_DATA(a), sizeof(r->oif));
			break;
		case RTA_GATEWAY:
			attr_addr(a, &r->gw);
			break;
		case RTA_PREFSRC:
			attr_addr(a, &r->src);
			break;
		}
	}
}

static int get_route(fr_addr_t dst, struct route_res *r)
{
	const uint8_t *bytes;
	size_t alen;
	int family = addr_family(&dst, &bytes, &alen);
	struct {
		struct nlmsghdr	n;
		struct rtmsg	r;
		char		attrs[64];
	} req;
	int err;

	memset(&req, 0, sizeof(req));
	memset(r, 0, sizeof(*r));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(req.r));
	req.n.nlmsg_type = RTM_GETROUTE;
	req.n.nlmsg_flags = NLM_F_REQUEST;
	req.r.rtm_family = family;
	req.r.rtm_dst_len = alen * 8;
	add_attr(&req.n, sizeof(req), RTA_DST, bytes, alen);
	err = nl_talk(&req.n, false, route_cb, r);
	if (err == -ENETUNREACH || err == -EHOSTUNREACH || err == -ENETDOWN)
		return FLATRPC_E_NOROUTE;
	if (err)
		return err;
	/* Local, blackhole, prohibit...: nothing an AF_XDP frame can reach. */
	if (!r->found || r->type != RTN_UNICAST || r->oif <= 0)
		return FLATRPC_E_NOROUTE;
	return 0;
}

struct neigh_res {
	int		ifindex;
	int		family;
	fr_addr_t	addr;
	bool		found;
	bool		failed;
	uint8_t		mac[6];
};

static void neigh_cb(const struct nlmsghdr *n, void *arg)
{
	struct neigh_res *r = arg;
	const struct ndmsg *nd = NLMSG_DATA(n);
	int len = n->nlmsg_len - NLMSG_LENGTH(sizeof(*nd));
	const uint8_t *mac = NULL;
	bool match = false;
	fr_addr_t dst;

	if (n->nlmsg_type != RTM_NEWNEIGH || nd->ndm_family != r->family ||
	    nd->ndm_ifindex != r->ifindex)
		return;
	for (const struct rtattr *a = (const struct rtattr *)((const char *)nd +
							     NLMSG_ALIGN(sizeof(*nd)));
	     RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == NDA_DST && attr_addr(a, &dst))
			match = dst == r->addr;
		else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6)
			mac = RTA_DATA(a);
	}
	if (!match)
		return;
	if (nd->ndm_state & NUD_FAILED)
		r->failed = true;
	/* STALE still holds the right MAC: our frames bypass the stack, so the
	 * kernel never confirms the entry and it ages to STALE by design. */
	if (mac && (nd->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE |
				     NUD_PERMANENT | NUD_NOARP))) {
		memcpy(r->mac, mac, 6);
		r->found = true;
	}
}

static int get_neigh(int ifindex, fr_addr_t addr, struct neigh_res *r)
{
	const uint8_t *bytes;
	size_t alen;

	struct {
		struct nlmsghdr	n;
		struct ndmsg	nd;
	} req;

	memset(&req, 0, sizeof(req));
	memset(r, 0, sizeof(*r));
	r->ifindex = ifindex;
	r->addr = addr;
	r->family = addr_family(&addr, &bytes, &alen);
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(req.nd));
	req.n.nlmsg_type = RTM_GETNEIGH;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nd.ndm_family = r->family;
	return nl_talk(&req.n, true, neigh_cb, r);
}

/* The kernel resolves the neighbour for any datagram it has to send there;
 * an empty one to the discard port is the least intrusive such datagram. */
static void poke_neigh(fr_addr_t addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(DISCARD_PORT) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(DISCARD_PORT) };
	const uint8_t *bytes;
	size_t alen;
	int family = addr_family(&addr, &bytes, &alen);
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	if (family == AF_INET) {
		memcpy(&sin.sin_addr, bytes, alen);
		sendto(fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&sin, sizeof(sin));
	} else {
		memcpy(&sin6.sin6_addr, bytes, alen);
		sendto(fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&sin6, sizeof(sin6));
	}
	close(fd);
}

/* IPv4 only: an IPv6 route always names its source (RTA_PREFSRC). */
static int if_addr(int ifindex, fr_addr_t *addr)
{
	struct ifreq ifr;
	int fd, err = 0;

	memset(&ifr, 0, sizeof(ifr));
	if (!if_indextoname(ifindex, ifr.ifr_name))
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFADDR, &ifr) < 0)
		err = -errno;
	else
		*addr = fr_addr_v4(((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr);
	close(fd);
	return err;
}

int route_lookup(fr_addr_t dst, struct route_nh *nh, int resolve_ms)
{
	const struct timespec step = { 0, 5 * 1000000L };
	struct route_res r;
	struct neigh_res n;
	int err;

	err = get_route(dst, &r);
	if (err)
		return err;
	nh->ifindex = r.oif;
	nh->via = r.gw ? r.gw : dst;
	nh->src = r.src;
	if (!nh->src && (!fr_addr_is_v4(dst) || if_addr(r.oif, &nh->src)))
		return FLATRPC_E_NOROUTE;

	for (int waited = 0;; waited += 5) {
		err = get_neigh(nh->ifindex, nh->via, &n);
		if (err)
			return err;
		if (n.found) {
			memcpy(nh->mac, n.mac, 6);
			return 0;
		}
		if (waited >= resolve_ms)
			return FLATRPC_E_NOROUTE;
		/* Poke at once, then again now and then: a FAILED entry only
		 * retries when something new wants to use it. */
		if (waited % 250 == 0 || n.failed)
			poke_neigh(nh->via);
		nanosleep(&step, NULL);
	}
}

int route_if_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int fd, err = 0;

	memset(&ifr, 0, sizeof(ifr));
	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -ENAMETOOLONG;
	strcpy(ifr.ifr_name, ifname);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		err = -errno;
	else if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		err = -EPFNOSUPPORT;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

int route_reserve_port(uint16_t port, uint16_t *bound)
{
	struct sockaddr_in6 sin6 = {
		.sin6_family = AF_INET6,
		.sin6_port = htons(port),
		.sin6_addr = IN6ADDR_ANY_INIT,
	};
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	struct sockaddr *sa = (struct sockaddr *)&sin6;
	socklen_t sl = sizeof(sin6);
	int fd, err, off = 0;

	/* One dual-stack socket holds the port for IPv4 and IPv6 peers alike;
	 * a kernel built without IPv6 gets an IPv4 one. */
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (fd < 0) {
		if (errno != EAFNOSUPPORT)
			return -errno;
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		sa = (struct sockaddr *)&sin;
		sl = sizeof(sin);
	}
	if (bind(fd, sa, sl) < 0 || getsockname(fd, sa, &sl) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	*bound = ntohs(sa->sa_family == AF_INET6 ? sin6.sin6_port : sin.sin_port);
	return fd;
}

int route_cache_get(struct route_cache *rc, fr_addr_t dst, uint64_t now, int force,
		    const struct route_nh **nh)
{
	struct route_entry *e = NULL;
	struct route_nh fresh;
	int err;

	for (int i = 0; i < ROUTE_CACHE_SIZE; i++) {
		if (rc->e[i].valid && rc->e[i].dst == dst) {
			e = &rc->e[i];
			break;
		}
	}
	if (e && !force && e->valid == ROUTE_NEGATIVE &&
	    now - e->checked_at < ROUTE_NEGATIVE_TTL_NS)
		return e->err;
	if (e && !force && e->valid == ROUTE_OK && now - e->checked_at < ROUTE_CACHE_TTL_NS) {
		*nh = &e->nh;
		return 0;
	}
	err = route_lookup(dst, &fresh, ROUTE_RESOLVE_MS);
	if (!e) {
		e = &rc->e[rc->next_victim];
		rc->next_victim = (rc->next_victim + 1) % ROUTE_CACHE_SIZE;
	}
	e->dst = dst;
	e->checked_at = now;
	if (err) {
		/* Remembering the failure for a moment keeps every send (and
		 * every retransmission) from blocking on ARP again. */
		e->valid = ROUTE_NEGATIVE;
		e->err = err;
		return err;
	}
	e->nh = fresh;
	e->valid = ROUTE_OK;
	*nh = &e->nh;
	return 0;
}

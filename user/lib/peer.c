// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * peer.c - a peer from text (include/flatrpc.h, flatrpc_peer_parse): an
 * address literal or a name, with or without a port.
 *
 * A name goes through getaddrinfo(), so /etc/hosts, DNS and whatever else
 * nsswitch.conf says apply. A name with several addresses gives its first
 * one, in the order getaddrinfo sorts them (RFC 6724): calls to that peer
 * all go to it, none is spread over the others. Resolving happens once,
 * here; a peer does not follow later changes of the name.
 */
#define _GNU_SOURCE	/* EAI_NODATA */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "flatrpc.h"
#include "export.h"

/* An IPv6 address; an IPv4-mapped one is IPv4, since its frames are. */
static void set_addr6(struct flatrpc_peer *peer, const struct in6_addr *a6)
{
	if (IN6_IS_ADDR_V4MAPPED(a6)) {
		memcpy(&peer->addr, &a6->s6_addr[12], 4);
		peer->family = AF_INET;
	} else {
		peer->addr6 = *a6;
		peer->family = AF_INET6;
	}
}

/* A literal address, IPv4 or IPv6. */
static int literal(struct flatrpc_peer *peer, const char *text)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, text, &a4) == 1) {
		peer->addr = a4;
		peer->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, &a6) != 1)
		return -EINVAL;
	set_addr6(peer, &a6);
	return 0;
}

static int resolve(struct flatrpc_peer *peer, const char *name)
{
	/* no AI_ADDRCONFIG: it hides the IPv4 answers on a host whose only
	 * IPv4 address is loopback, and the caller asked for this name */
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res, *ai;
	int rc = getaddrinfo(name, NULL, &hints, &res);

	if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_FAMILY)
		return -ENOENT;
	if (rc == EAI_AGAIN)
		return -EAGAIN;
	if (rc == EAI_MEMORY)
		return -ENOMEM;
	if (rc)
		return -EIO;
	rc = -ENOENT;
	for (ai = res; ai && rc; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			peer->addr = ((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
			peer->family = AF_INET;
			rc = 0;
		} else if (ai->ai_family == AF_INET6) {
			set_addr6(peer, &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
			rc = 0;
		}
	}
	freeaddrinfo(res);
	return rc;
}

/* ":PORT" at the end of text, 1..65535; 0 when there is none. */
static int port_of(const char *p, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (!*p || *p == '-' || *p == '+')
		return -EINVAL;
	v = strtoul(p, &end, 10);
	if (*end || !v || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

FLATRPC_EXPORT
int flatrpc_peer_parse(struct flatrpc_peer *peer, const char *text)
{
	struct flatrpc_peer p = { 0 };
	char host[256];
	const char *colon;
	uint16_t port = 0;
	size_t n;
	int rc;

	if (!peer || !text || !*text)
		return -EINVAL;
	if (!literal(&p, text))		/* an address alone, IPv6 included */
		goto done;
	if (text[0] == '[') {		/* [IPv6]:PORT or [IPv6] */
		const char *close = strchr(text, ']');

		if (!close || (close[1] && (close[1] != ':' || port_of(close + 2, &port))))
			return -EINVAL;
		n = (size_t)(close - text - 1);
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, text + 1, n);
		host[n] = 0;
		if (literal(&p, host) || p.family != AF_INET6)
			return -EINVAL;
		goto done;
	}
	colon = strrchr(text, ':');
	if (colon && strchr(text, ':') != colon)
		return -EINVAL;		/* colons but no literal: IPv6 wants brackets */
	n = colon ? (size_t)(colon - text) : strlen(text);
	if (!n || n >= sizeof(host) || (colon && port_of(colon + 1, &port)))
		return -EINVAL;
	memcpy(host, text, n);
	host[n] = 0;
	rc = literal(&p, host);
	if (rc)
		rc = resolve(&p, host);
	if (rc)
		return rc;
done:
	peer->family = p.family;
	peer->addr = p.addr;
	peer->addr6 = p.addr6;
	if (port)
		peer->port = port;
	return 0;
}

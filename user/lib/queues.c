/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* queues.c - the RX queues a socket opens (queues.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

#include "flatrpc.h"
#include "queues.h"

int fx_queue_span(uint32_t first, uint32_t want, uint32_t have, uint32_t *n)
{
	if (first >= FLATRPC_MAX_QUEUES)
		return -ERANGE;
	/* a device that reports no count has one queue, unless the bind
	 * of a single queue shows otherwise */
	if (!have && want <= 1) {
		*n = 1;
		return 0;
	}
	if (!have)
		have = 1;
	if (first >= have)
		return -ERANGE;
	if (want <= 1)
		want = 1;
	else if (want == FLATRPC_QUEUES_ALL)
		want = have - first;
	if (want > have - first || want > FLATRPC_MAX_QUEUES - first)
		return -ERANGE;
	*n = want;
	return 0;
}

static uint32_t sysfs_rx_queues(const char *ifname)
{
	char path[64 + IF_NAMESIZE];
	struct dirent *e;
	uint32_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, "rx-", 3);
	closedir(d);
	return n;
}

uint32_t fx_rx_queues(const char *ifname)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr;
	uint32_t n = 0;
	int fd;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ch;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		/* RX-only and combined channels both end in an RX queue */
		if (!ioctl(fd, SIOCETHTOOL, &ifr))
			n = ch.rx_count + ch.combined_count;
		close(fd);
	}
	/* sysfs lists what the stack registered, for drivers without
	 * channels; in another netns it shows the caller's own devices */
	if (!n)
		n = sysfs_rx_queues(ifname);
	return n;
}

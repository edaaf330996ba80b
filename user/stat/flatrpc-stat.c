// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * flatrpc-stat - the figures of the FlatRPC service on an interface: a live
 * view like top, one Prometheus exposition, or an HTTP /metrics endpoint
 * (libmicrohttpd) for a Prometheus server to scrape. It only reads pins;
 * the names are documented in docs/observability.md.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "metrics.h"
#include "desc.h"
#include "exit_codes.h"

static struct {
	const char	*ifname;
	char		pin_dir[PATH_MAX - 64];
	double		interval;	/* live view, seconds */
	long		count;		/* live view: refreshes, 0 = until interrupted */
} opt = { .interval = 1.0 };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flatrpc-stat [--bpffs DIR] [--service S] [--interval S] [--count N] IFACE\n"
		"       flatrpc-stat [--bpffs DIR] [--service S] --prometheus IFACE\n"
		"       flatrpc-stat [--bpffs DIR] [--service S] --json IFACE\n"
		"       flatrpc-stat [--bpffs DIR] [--service S] --listen ADDR:PORT IFACE\n");
}

static void help(void)
{
	usage(stdout);
	printf("\n"
	       "Shows the figures of the FlatRPC service loaded on IFACE: the kernel's\n"
	       "counters and drops, and what the processes using the interface counted\n"
	       "(calls by status, retransmissions, timeouts, latency histograms).\n"
	       "\n"
	       "  (no mode)           a live view, one screen per second: per method the\n"
	       "                      call rate, errors, p50 and p99 of the last interval\n"
	       "  --interval S        seconds between refreshes of the live view (default 1)\n"
	       "  --count N           stop the live view after N refreshes\n"
	       "  --prometheus        print the metrics once, Prometheus text format 0.0.4\n"
	       "  -j, --json          print the figures once as one JSON object\n"
	       "  --listen ADDR:PORT  serve them on http://ADDR:PORT/metrics until SIGINT\n"
	       "                      or SIGTERM (ADDR an IPv4 address)\n"
	       "  --bpffs DIR         bpffs root (default $FLATRPC_BPFFS or /sys/fs/bpf)\n"
	       "  --service NAME      which of the services loaded on IFACE (needed when\n"
	       "                      there are several)\n"
	       "\n"
	       "Exit codes: 0 ok, 1 failure, 2 usage, 3 FlatRPC not loaded on IFACE.\n"
	       "\n"
	       "Examples:\n"
	       "  flatrpc-stat eth0\n"
	       "  flatrpc-stat --prometheus eth0 | promtool check metrics\n"
	       "  flatrpc-stat --listen 127.0.0.1:9447 eth0   # scrape target 127.0.0.1:9447\n");
}

static struct fr_figures *read_figures(void)
{
	struct fr_figures *f = malloc(sizeof(*f));

	if (f && fr_figures_read(opt.pin_dir, f)) {
		fr_figures_free(f);
		return NULL;
	}
	return f;
}

static int not_loaded(void)
{
	fprintf(stderr, "flatrpc-stat: FlatRPC is not loaded on %s (no pins in %s)\n", opt.ifname,
		opt.pin_dir);
	return EXIT_NOTLOADED;
}

static int once(bool json)
{
	struct fr_figures *f = read_figures();
	char svc[sizeof(f->meta.service) + 1];

	if (!f)
		return not_loaded();
	if (json) {
		snprintf(svc, sizeof(svc), "%.*s", (int)sizeof(f->meta.service), f->meta.service);
		printf("{\"interface\":");
		fr_json_str(stdout, opt.ifname);
		printf(",\"service\":");
		fr_json_str(stdout, svc);
		printf(",\"spec_hash\":\"%016llx\"", (unsigned long long)f->meta.spec_hash);
		fr_figures_json(stdout, f);
		printf("}\n");
	} else {
		fr_figures_prometheus(stdout, f, opt.ifname);
	}
	fr_figures_free(f);
	return fflush(stdout) ? 1 : 0;
}

/* ---- --listen ---------------------------------------------------------------- */

static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url,
			     const char *method, const char *version, const char *upload,
			     size_t *upload_len, void **state)
{
	struct MHD_Response *r;
	struct fr_figures *f;
	enum MHD_Result ret;
	unsigned int code = MHD_HTTP_OK;
	char *body = NULL;
	size_t len = 0;
	FILE *out;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return MHD_NO;
	if (strcmp(url, "/metrics")) {
		static const char nf[] = "not found: the metrics are at /metrics\n";

		r = MHD_create_response_from_buffer(sizeof(nf) - 1, (void *)nf,
						    MHD_RESPMEM_PERSISTENT);
		ret = MHD_queue_response(c, MHD_HTTP_NOT_FOUND, r);
		MHD_destroy_response(r);
		return ret;
	}
	out = open_memstream(&body, &len);
	if (!out)
		return MHD_NO;
	f = read_figures();
	if (f) {
		fr_figures_prometheus(out, f, opt.ifname);
	} else {
		/* a scrape that fails shows as up == 0 in Prometheus */
		fprintf(out, "FlatRPC is not loaded on %s\n", opt.ifname);
		code = MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	fr_figures_free(f);
	if (fclose(out)) {
		free(body);
		return MHD_NO;
	}
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				code == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8" :
				"text/plain; charset=utf-8");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || !colon[1] || port < 1 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int listen_on(const struct sockaddr_in *sa, const char *what)
{
	struct MHD_Daemon *d;
	sigset_t set;
	int sig;

	/* Blocked before the daemon's thread starts, so it inherits the mask
	 * and the signals come to sigwait() here. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
			     serve, NULL, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)sa,
			     MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "flatrpc-stat: cannot listen on %s: %s\n", what, strerror(errno));
		return 1;
	}
	fprintf(stderr, "flatrpc-stat: serving http://%s/metrics for %s\n", what, opt.ifname);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}

/* ---- live view ----------------------------------------------------------------- */

static __u64 errors_of(const struct flatrpc_method_obs *o)
{
	__u64 n = o->timeouts + o->overloaded;

	for (unsigned int st = 1; st < 256; st++)
		n += o->answered[st];
	return n;
}

static __u64 calls_of(const struct flatrpc_method_obs *o)
{
	return o->answered[0] + errors_of(o);
}

/* One screen of 80 columns: per method the rates and latency of the last
 * interval, the kernel's view, then the drops of the interval. */
static void draw(const struct fr_figures *now, const struct fr_figures *was)
{
	double dt = now->at - was->at;
	struct flatrpc_hist d;
	char nb[16];
	bool any = false;

	if (dt <= 0)
		dt = 1;
	printf("\033[H\033[J");
	printf("flatrpc-stat %.16s  service %.32s  %s\n", opt.ifname, now->meta.service,
	       now->have_obs ? "" : "(no library figures in this load)");
	printf("%-12s %9s %8s %8s %8s %9s %9s %9s\n", "METHOD", "CALLS/s", "ERR/s", "RETX/s",
	       "SERVE/s", "P50 us", "P99 us", "XDPRX/s");
	for (unsigned int m = 0; m < now->n_methods; m++) {
		const struct flatrpc_method_obs *o = &now->obs[m], *p = &was->obs[m];

		fr_hist_sub(&d, &o->call, &p->call);
		printf("%-12.12s %9.0f %8.0f %8.0f %8.0f %9.1f %9.1f %9.0f\n",
		       fr_method_name(now, m, nb, sizeof(nb)),
		       (double)(calls_of(o) - calls_of(p)) / dt,
		       (double)(errors_of(o) - errors_of(p)) / dt,
		       (double)(o->retransmits - p->retransmits) / dt,
		       (double)(o->served - p->served) / dt,
		       fr_hist_quantile(&d, 0.5) / 1e3, fr_hist_quantile(&d, 0.99) / 1e3,
		       (double)(now->kern[m].rx_req + now->kern[m].rx_resp -
				was->kern[m].rx_req - was->kern[m].rx_resp) / dt);
	}
	fr_hist_sub(&d, &now->xdp, &was->xdp);
	printf("\nXDP per frame: p50 %.0f ns  p99 %.0f ns  %.0f frames/s\n",
	       fr_hist_quantile(&d, 0.5), fr_hist_quantile(&d, 0.99), (double)d.count / dt);
	printf("DROPS/s (total)\n");
	for (unsigned int r = 1; r < FLATRPC_DROP__MAX; r++) {
		if (!now->drops[r])
			continue;
		any = true;
		printf("  %-20s %9.0f (%llu)\n", fr_drop_names[r],
		       (double)(now->drops[r] - was->drops[r]) / dt,
		       (unsigned long long)now->drops[r]);
	}
	if (!any)
		printf("  (none)\n");
	fflush(stdout);
}

static int live(void)
{
	struct fr_figures *was = read_figures(), *now;
	struct timespec ts = { (time_t)opt.interval,
			       (long)((opt.interval - (double)(time_t)opt.interval) * 1e9) };

	if (!was)
		return not_loaded();
	for (long i = 0; !opt.count || i < opt.count; i++) {
		nanosleep(&ts, NULL);
		now = read_figures();
		if (!now) {
			free(was);
			return not_loaded();
		}
		draw(now, was);
		free(was);
		was = now;
	}
	free(was);
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_PROM = 256, OPT_LISTEN, OPT_BPFFS, OPT_INTERVAL, OPT_COUNT, OPT_SERVICE };
	static const struct option longopts[] = {
		{ "prometheus", no_argument,       NULL, OPT_PROM },
		{ "json",       no_argument,       NULL, 'j' },
		{ "listen",     required_argument, NULL, OPT_LISTEN },
		{ "bpffs",      required_argument, NULL, OPT_BPFFS },
		{ "service",    required_argument, NULL, OPT_SERVICE },
		{ "interval",   required_argument, NULL, OPT_INTERVAL },
		{ "count",      required_argument, NULL, OPT_COUNT },
		{ "help",       no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum { LIVE, PROM, JSON, LISTEN } mode = LIVE;
	const char *bpffs = getenv("FLATRPC_BPFFS"), *listen_at = NULL, *service = NULL;
	char if_dir[PATH_MAX], names[2][256];
	struct sockaddr_in sa;
	char *end;
	int c;

	if (!bpffs || !*bpffs)
		bpffs = "/sys/fs/bpf";
	while ((c = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_PROM:
			mode = PROM;
			break;
		case 'j':
			mode = JSON;
			break;
		case OPT_LISTEN:
			mode = LISTEN;
			listen_at = optarg;
			if (parse_addr(optarg, &sa)) {
				fprintf(stderr, "flatrpc-stat: --listen takes ADDR:PORT with an IPv4 "
					"address, such as 127.0.0.1:9447, not %s\n", optarg);
				usage(stderr);
				return EXIT_USAGE;
			}
			break;
		case OPT_BPFFS:
			bpffs = optarg;
			break;
		case OPT_INTERVAL:
			errno = 0;
			opt.interval = strtod(optarg, &end);
			if (errno || *end || !(opt.interval >= 0.1 && opt.interval <= 3600)) {
				fprintf(stderr, "flatrpc-stat: --interval takes 0.1 to 3600 seconds, "
					"not %s\n", optarg);
				usage(stderr);
				return EXIT_USAGE;
			}
			break;
		case OPT_COUNT:
			errno = 0;
			opt.count = strtol(optarg, &end, 10);
			if (errno || *end || opt.count < 1) {
				fprintf(stderr, "flatrpc-stat: --count takes a number of refreshes "
					"from 1, not %s\n", optarg);
				usage(stderr);
				return EXIT_USAGE;
			}
			break;
		case OPT_SERVICE:
			service = optarg;
			break;
		case 'h':
			help();
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "flatrpc-stat: name one interface\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	opt.ifname = argv[optind];
	if (!*opt.ifname || strchr(opt.ifname, '/') ||
	    snprintf(if_dir, sizeof(if_dir), "%s/%s/%s", bpffs, FLATRPC_PIN_SUBDIR,
		     opt.ifname) >= (int)sizeof(if_dir)) {
		fprintf(stderr, "flatrpc-stat: %s is not an interface name\n", opt.ifname);
		return EXIT_USAGE;
	}
	if (!service) {
		int n = flatrpc_services_of(if_dir, names, 2);

		if (n > 1) {
			fprintf(stderr, "flatrpc-stat: %s has several services; name one with "
				"--service\n", opt.ifname);
			usage(stderr);
			return EXIT_USAGE;
		}
		service = n ? names[0] : "-";	/* none: "not loaded" */
	}
	if (!*service || strchr(service, '/') ||
	    snprintf(opt.pin_dir, sizeof(opt.pin_dir), "%s/%s", if_dir, service) >=
	    (int)sizeof(opt.pin_dir)) {
		fprintf(stderr, "flatrpc-stat: %s is not a service name\n", service);
		return EXIT_USAGE;
	}
	switch (mode) {
	case PROM:
		return once(false);
	case JSON:
		return once(true);
	case LISTEN:
		return listen_on(&sa, listen_at);
	case LIVE:
		break;
	}
	return live();
}

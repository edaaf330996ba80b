/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hdr-parse - the cost of getting at N metadata fields of a request, N = 1..25
 * (the paper's Figure 3): as HTTP/2 headers decoded by nghttp2's HPACK
 * inflater, and as fixed-offset FlatRPC fields read by an XDP program run
 * through BPF_PROG_TEST_RUN (bench/hdr_fields.bpf.c).
 *
 *   hdr-parse --bpf-obj build/bench/hdr_fields.bpf.o [--runs R] [--iters K] [--max-n N]
 *
 * Prints one line per N: n= h2_cold_ns= h2_warm_ns= bpf_ns= bpf_net_ns=
 * (medians of R runs) with each series' min and max. h2_cold: the block a
 * deflater emits for a connection's first request (literals, Huffman, added
 * to the dynamic table); h2_warm: the same list on a later request, all
 * indexed. bpf_ns includes BPF_PROG_TEST_RUN's own loop; bpf_net_ns has
 * the N = 0 program's time taken off.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <nghttp2/nghttp2.h>

#define MAX_N		25
#define MAX_RUNS	15
#define PKT_LEN		(14 + 20 + 8 + 12 + MAX_N * 8)

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stat3 { double med, min, max; };

static struct stat3 summarize(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return (struct stat3){ n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v[0], v[n - 1] };
}

/* The application's view after decoding: a pointer to each field's value. */
static const uint8_t *found[MAX_N];

static int inflate_block(nghttp2_hd_inflater *inf, const uint8_t *blk, size_t len, int n)
{
	int got = 0;

	while (len) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t r = nghttp2_hd_inflate_hd2(inf, &nv, &flags, blk, len, 1);

		if (r < 0)
			return -1;
		blk += r;
		len -= (size_t)r;
		if ((flags & NGHTTP2_HD_INFLATE_EMIT) && got < n)
			found[got++] = nv.value;
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(inf);
			break;
		}
	}
	return got == n ? 0 : -1;
}

/* ns per request over iters inflates, after iters/10 of warm-up */
static double time_inflate(nghttp2_hd_inflater *inf, const uint8_t *blk, size_t len, int n, long iters)
{
	for (long i = 0; i < iters / 10; i++)
		if (inflate_block(inf, blk, len, n))
			return -1;
	double t0 = now_ns();

	for (long i = 0; i < iters; i++)
		if (inflate_block(inf, blk, len, n))
			return -1;
	return (now_ns() - t0) / (double)iters;
}

static int h2_blocks(int n, uint8_t *cold, size_t *cold_len, uint8_t *warm, size_t *warm_len)
{
	static char names[MAX_N][16], values[MAX_N][24];
	nghttp2_nv nv[MAX_N];
	nghttp2_hd_deflater *def;
	ssize_t r;

	for (int i = 0; i < n; i++) {
		/* a u64 in its text form, as HTTP/2 metadata carries it */
		snprintf(names[i], sizeof(names[i]), "x-md-%02d", i);
		snprintf(values[i], sizeof(values[i]), "%016llx", 0x1234567890abcdefull + (unsigned)i);
		nv[i] = (nghttp2_nv){ (uint8_t *)names[i], (uint8_t *)values[i],
				      strlen(names[i]), strlen(values[i]), NGHTTP2_NV_FLAG_NONE };
	}
	if (nghttp2_hd_deflate_new(&def, 4096))
		return -1;
	r = nghttp2_hd_deflate_hd(def, cold, 4096, nv, (size_t)n);
	if (r < 0)
		return -1;
	*cold_len = (size_t)r;
	r = nghttp2_hd_deflate_hd(def, warm, 4096, nv, (size_t)n);
	nghttp2_hd_deflate_del(def);
	if (r < 0)
		return -1;
	*warm_len = (size_t)r;
	return 0;
}

static double time_bpf(int prog_fd, const uint8_t *pkt, unsigned repeat)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = PKT_LEN, .repeat = repeat);

	/* a short run first so the program and packet are hot */
	struct bpf_test_run_opts w = o;

	w.repeat = repeat / 10 ? repeat / 10 : 1;
	if (bpf_prog_test_run_opts(prog_fd, &w) || bpf_prog_test_run_opts(prog_fd, &o))
		return -1;
	return (double)o.duration;	/* the kernel's mean ns per repeat */
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bpf-obj", required_argument, NULL, 'b' },
		{ "runs", required_argument, NULL, 'r' },
		{ "iters", required_argument, NULL, 'i' },
		{ "max-n", required_argument, NULL, 'n' },
		{ 0 }
	};
	const char *obj_path = NULL;
	int runs = 5, max_n = MAX_N, c;
	long iters = 200000;

	while ((c = getopt_long(argc, argv, "b:r:i:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'b': obj_path = optarg; break;
		case 'r': runs = atoi(optarg); break;
		case 'i': iters = atol(optarg); break;
		case 'n': max_n = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (!obj_path || runs < 1 || runs > MAX_RUNS || iters < 10 || max_n < 1 || max_n > MAX_N)
		goto usage;

	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);

	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "hdr-parse: cannot load %s\n", obj_path);
		return 1;
	}
	int prog_fd[MAX_N + 1];

	for (int n = 0; n <= MAX_N; n++) {
		char name[16];

		snprintf(name, sizeof(name), "fields_%d", n);
		struct bpf_program *p = bpf_object__find_program_by_name(obj, name);

		prog_fd[n] = p ? bpf_program__fd(p) : -1;
		if (prog_fd[n] < 0) {
			fprintf(stderr, "hdr-parse: %s has no %s\n", obj_path, name);
			return 1;
		}
	}
	uint8_t pkt[PKT_LEN] = { 0 };

	pkt[12] = 0x08;		/* IPv4; the programs read only the fixed offsets */
	for (int i = 54; i < PKT_LEN; i++)
		pkt[i] = (uint8_t)i;

	double base[MAX_RUNS];

	for (int r = 0; r < runs; r++)
		if ((base[r] = time_bpf(prog_fd[0], pkt, (unsigned)iters * 5)) < 0) {
			perror("hdr-parse: BPF_PROG_TEST_RUN");
			return 1;
		}
	struct stat3 b0 = summarize(base, runs);

	printf("# N=0 BPF_PROG_TEST_RUN loop: %.1f ns (min %.1f max %.1f); %d runs, %ld inflates each\n",
	       b0.med, b0.min, b0.max, runs, iters);
	for (int n = 1; n <= max_n; n++) {
		uint8_t cold[4096], warm[4096];
		size_t cl, wl;
		double hc[MAX_RUNS], hw[MAX_RUNS], bp[MAX_RUNS];

		if (h2_blocks(n, cold, &cl, warm, &wl))
			return 1;
		for (int r = 0; r < runs; r++) {
			nghttp2_hd_inflater *ic, *iw;

			if (nghttp2_hd_inflate_new(&ic) || nghttp2_hd_inflate_new(&iw))
				return 1;
			/* the warm inflater has seen the connection's first request */
			if (inflate_block(iw, cold, cl, n))
				return 1;
			hc[r] = time_inflate(ic, cold, cl, n, iters);
			hw[r] = time_inflate(iw, warm, wl, n, iters);
			bp[r] = time_bpf(prog_fd[n], pkt, (unsigned)iters * 5);
			nghttp2_hd_inflate_del(ic);
			nghttp2_hd_inflate_del(iw);
			if (hc[r] < 0 || hw[r] < 0 || bp[r] < 0) {
				fprintf(stderr, "hdr-parse: N=%d failed\n", n);
				return 1;
			}
		}
		struct stat3 a = summarize(hc, runs), w = summarize(hw, runs), p = summarize(bp, runs);

		printf("n=%d h2_cold_ns=%.1f h2_cold_min=%.1f h2_cold_max=%.1f h2_warm_ns=%.1f h2_warm_min=%.1f "
		       "h2_warm_max=%.1f bpf_ns=%.1f bpf_min=%.1f bpf_max=%.1f bpf_net_ns=%.1f "
		       "h2_cold_bytes=%zu h2_warm_bytes=%zu flatrpc_bytes=%d\n",
		       n, a.med, a.min, a.max, w.med, w.min, w.max, p.med, p.min, p.max,
		       p.med - b0.med, cl, wl, n * 8);
	}
	bpf_object__close(obj);
	return 0;
usage:
	fprintf(stderr, "usage: hdr-parse --bpf-obj OBJ [--runs R<=%d] [--iters K] [--max-n N<=%d]\n",
		MAX_RUNS, MAX_N);
	return 2;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_metrics.c - the figures' writers (user/load/metrics.c) on figures
 * made by hand, without pins: quantiles as histogram_quantile() reads
 * them, cumulative Prometheus buckets that end in the count, label and
 * JSON escapes, status names from the spec's table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

static const char *const methods[] = { "get", "odd \"name\\" };
static const char *const errors[] = { "firewall", NULL };
static const struct flatrpc_elem_slot elems[] = {
	{ 0, 0, 0, "firewall", "req" }, { 0, 0, 0, NULL, NULL },
};
static struct flatrpc_desc fake = {
	.service = "kv", .spec_hash = 0x1234, .methods = methods, .n_methods = 2,
	.errors = errors, .n_errors = 1, .elems = elems,
};

static struct fr_figures *figures(void)
{
	struct fr_figures *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->l = &fake;
	f->n_methods = 2;
	f->n_elems = 1;
	strcpy(f->meta.service, "kv");
	return f;
}

static void put(struct flatrpc_hist *h, __u64 ns, __u64 n)
{
	h->count += n;
	h->sum_ns += ns * n;
	h->bucket[flatrpc_hist_bucket(ns)] += n;
}

static void test_quantile(void **state)
{
	struct flatrpc_hist h = { 0 };
	__u32 b = flatrpc_hist_bucket(1000), c = flatrpc_hist_bucket(2000);
	double lo = (double)flatrpc_hist_upper(b - 1), hi = (double)flatrpc_hist_upper(b);
	(void)state;

	assert_true(fr_hist_quantile(&h, 0.5) == 0);
	put(&h, 1000, 100);
	/* one bucket: linear inside it */
	assert_true(fr_hist_quantile(&h, 0.5) == lo + (hi - lo) / 2);
	assert_true(fr_hist_quantile(&h, 1.0) == hi);
	/* half in each of two buckets: p50 is the first one's upper bound */
	put(&h, 2000, 100);
	assert_true(fr_hist_quantile(&h, 0.5) == hi);
	assert_true(fr_hist_quantile(&h, 0.99) > (double)flatrpc_hist_upper(c - 1));
	assert_true(fr_hist_quantile(&h, 0.99) <= (double)flatrpc_hist_upper(c));
}

static char *prometheus(const struct fr_figures *f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	fr_figures_prometheus(out, f, "eth0");
	assert_int_equal(fclose(out), 0);
	return buf;
}

static void test_prometheus_buckets(void **state)
{
	struct fr_figures *f = figures();
	const char *pfx = "flatrpc_client_call_duration_seconds_bucket{service=\"kv\",method=\"get\",le=\"";
	unsigned long long prev = 0, v, n = 0;
	char *text, *line;
	(void)state;

	put(&f->obs[0].call, 800, 3);
	put(&f->obs[0].call, 9000, 5);
	put(&f->obs[0].call, 1ull << 40, 1);	/* beyond the last bound: +Inf only */
	text = prometheus(f);
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, pfx, strlen(pfx)))
			continue;
		v = strtoull(strrchr(line, ' ') + 1, NULL, 10);
		assert_true(v >= prev);
		prev = v;
		n++;
		if (strstr(line, "le=\"+Inf\""))
			assert_int_equal(v, 9);
		else
			assert_true(v <= 8);
	}
	assert_int_equal(n, FLATRPC_HIST_BUCKETS);	/* 271 bounds and +Inf */
	assert_int_equal(prev, 9);
	free(text);
	free(f);
}

static void test_prometheus_labels(void **state)
{
	struct fr_figures *f = figures();
	char *text;
	(void)state;

	f->obs[0].answered[0] = 5;
	f->obs[0].answered[1] = 2;
	f->obs[1].answered[140] = 1;
	f->elem[0][1] = 2;
	f->drops[FLATRPC_DROP_BAD_TAG] = 7;
	text = prometheus(f);
	assert_non_null(strstr(text, "flatrpc_client_calls_total{service=\"kv\",method=\"get\","
				     "status=\"ok\"} 5\n"));
	assert_non_null(strstr(text, "flatrpc_client_calls_total{service=\"kv\",method=\"get\","
				     "status=\"firewall\"} 2\n"));
	/* a quote and a backslash in a label value are escaped */
	assert_non_null(strstr(text, "method=\"odd \\\"name\\\\\",status=\"status_140\"} 1\n"));
	assert_non_null(strstr(text, "flatrpc_element_verdicts_total{service=\"kv\",method=\"get\","
				     "element=\"firewall\",position=\"0\",hook=\"req\","
				     "verdict=\"error\",status=\"firewall\"} 2\n"));
	assert_non_null(strstr(text, "flatrpc_drops_total{service=\"kv\",reason=\"bad_tag\"} 7\n"));
	assert_non_null(strstr(text, "# TYPE flatrpc_kernel_rx_req_total counter\n"));
	assert_non_null(strstr(text, "# TYPE flatrpc_xdp_duration_seconds histogram\n"));
	free(text);
	free(f);
}

static void test_json(void **state)
{
	struct fr_figures *f = figures();
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	(void)state;

	f->obs[0].answered[0] = 5;
	f->obs[0].answered[1] = 2;
	put(&f->obs[0].call, 1000, 2);
	fr_figures_json(out, f);
	fclose(out);
	assert_non_null(strstr(buf, "\"name\":\"get\",\"kernel\":{\"rx_req\":0,"));
	assert_non_null(strstr(buf, "\"answered\":{\"ok\":5,\"firewall\":2}"));
	assert_non_null(strstr(buf, "\"name\":\"odd \\\"name\\\\\""));
	/* the one non-empty bucket, with both its bounds */
	{
		char want[64];
		__u32 b = flatrpc_hist_bucket(1000);

		snprintf(want, sizeof(want), "\"buckets\":[[%llu,%llu,2]]",
			 (unsigned long long)flatrpc_hist_upper(b - 1),
			 (unsigned long long)flatrpc_hist_upper(b));
		assert_non_null(strstr(buf, want));
	}
	assert_non_null(strstr(buf, "\"drops\":{\"truncated\":0,"));
	free(buf);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quantile),
		cmocka_unit_test(test_prometheus_buckets),
		cmocka_unit_test(test_prometheus_labels),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

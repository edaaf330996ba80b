// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * metrics.c - reads a FlatRPC interface's figures from its pins and writes
 * them as JSON or in the Prometheus text format (docs/observability.md).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flatrpc.h"
#include "metrics.h"

const char *const fr_drop_names[FLATRPC_DROP__MAX] = {
#define FLATRPC_X_NAME(n, s) [FLATRPC_DROP_##n] = s,
	FLATRPC_DROP_REASONS(FLATRPC_X_NAME)
#undef FLATRPC_X_NAME
};

static int open_pin(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return bpf_obj_get(path);
}

/* Sums a per-CPU array's entry into `sum`, `words` __u64s wide. */
static int percpu_sum(int fd, __u32 key, __u64 *sum, size_t words, __u64 *buf, int ncpus)
{
	if (bpf_map_lookup_elem(fd, &key, buf))
		return -errno;
	for (int c = 0; c < ncpus; c++)
		for (size_t w = 0; w < words; w++)
			sum[w] += buf[(size_t)c * words + w];
	return 0;
}

int fr_figures_read(const char *pin_dir, struct fr_figures *f)
{
	int ncpus = libbpf_num_possible_cpus(), fd, err = 0;
	size_t words = sizeof(struct flatrpc_hist) / sizeof(__u64);
	struct timespec ts;
	__u32 key = 0;
	__u64 *buf;

	memset(f, 0, sizeof(*f));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	f->at = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	fd = open_pin(pin_dir, FLATRPC_PIN_META);
	if (fd < 0)
		return -ENOENT;
	err = bpf_map_lookup_elem(fd, &key, &f->meta) ? -ENOENT : 0;
	close(fd);
	if (err)
		return err;
	f->l = flatrpc_desc_of_pin(pin_dir);
	/* a desc pin not of this load's spec names nothing right */
	if (f->l && f->l->spec_hash != f->meta.spec_hash) {
		flatrpc_desc_free(f->l);
		f->l = NULL;
	}
	f->n_methods = f->l ? f->l->n_methods : FLATRPC_MAX_METHODS;
	if (ncpus <= 0)
		return -EINVAL;
	/* the widest per-CPU value read here is a histogram */
	buf = calloc((size_t)ncpus, sizeof(struct flatrpc_hist));
	if (!buf)
		return -ENOMEM;

	fd = open_pin(pin_dir, FLATRPC_PIN_STATS);
	for (key = 0; fd >= 0 && key < f->n_methods; key++)
		percpu_sum(fd, key, (__u64 *)&f->kern[key], sizeof(f->kern[key]) / sizeof(__u64),
			   buf, ncpus);
	if (fd >= 0)
		close(fd);
	fd = open_pin(pin_dir, FLATRPC_PIN_DROPS);
	for (key = 0; fd >= 0 && key < FLATRPC_DROP__MAX; key++)
		percpu_sum(fd, key, &f->drops[key], 1, buf, ncpus);
	if (fd >= 0)
		close(fd);
	fd = open_pin(pin_dir, FLATRPC_PIN_XDP_TIME);
	key = 0;
	f->have_xdp = fd >= 0 && !percpu_sum(fd, key, (__u64 *)&f->xdp, words, buf, ncpus);
	if (fd >= 0)
		close(fd);

	fd = open_pin(pin_dir, FLATRPC_PIN_ELEM_VERDICTS);
	for (unsigned int e = 0; fd >= 0 && f->l && f->l->elems && f->l->elems[e].element &&
	     e < FR_MAX_ELEMS; e++) {
		f->n_elems = e + 1;
		for (unsigned int v = 0; v < FLATRPC_ELEM_VERDICTS; v++)
			if (fr_elem_verdict_known(f, v))
				percpu_sum(fd, f->l->elems[e].slot * FLATRPC_ELEM_VERDICTS + v,
					   &f->elem[e][v], 1, buf, ncpus);
	}
	if (fd >= 0)
		close(fd);
	free(buf);

	/* what the libraries' client: elements decided, counted where the
	 * client program would have counted it */
	fd = open_pin(pin_dir, FLATRPC_PIN_CLIENT_VERDICTS);
	for (key = 0; fd >= 0 && key < f->n_methods; key++) {
		__u64 n;

		if (!bpf_map_lookup_elem(fd, &(__u32){ FLATRPC_CV_PASS(key) }, &n))
			f->kern[key].client_pass += n;
		if (!bpf_map_lookup_elem(fd, &(__u32){ FLATRPC_CV_ERR(key) }, &n))
			f->kern[key].anf_err += n;
	}
	for (unsigned int e = 0; fd >= 0 && e < f->n_elems; e++) {
		if (strcmp(f->l->elems[e].hook, "client_req"))
			continue;
		for (unsigned int v = 0; v < FLATRPC_ELEM_VERDICTS; v++) {
			__u64 n;

			if (fr_elem_verdict_known(f, v) &&
			    !bpf_map_lookup_elem(fd, &(__u32){ FLATRPC_CV_ELEM(f->l->elems[e].slot, v) },
						 &n))
				f->elem[e][v] += n;
		}
	}
	if (fd >= 0)
		close(fd);

	fd = open_pin(pin_dir, FLATRPC_PIN_OBS);
	f->have_obs = fd >= 0;
	for (key = 0; fd >= 0 && key < f->n_methods; key++)
		bpf_map_lookup_elem(fd, &key, &f->obs[key]);
	if (fd >= 0)
		close(fd);
	return 0;
}

void fr_figures_free(struct fr_figures *f)
{
	if (f)
		flatrpc_desc_free(f->l);
	free(f);
}

bool fr_elem_verdict_known(const struct fr_figures *f, unsigned int v)
{
	return v == 0 || v == FLATRPC_ELEM_FORWARDED || (f->l && v <= f->l->n_errors) ||
	       (v >= FLATRPC_ST_NO_METHOD && v <= FLATRPC_ST_STATE_FULL);
}

const char *fr_method_name(const struct fr_figures *f, unsigned int m, char *buf, size_t n)
{
	if (f->l && m < f->l->n_methods)
		return f->l->methods[m];
	snprintf(buf, n, "%u", m);
	return buf;
}

const char *fr_status_name(const struct fr_figures *f, unsigned int status)
{
	static char buf[16];
	struct flatrpc_service_desc d = { 0 };

	if (f->l) {
		d.n_errors = f->l->n_errors;
		d.errors = f->l->errors;
	}
	/* a code without a name of its own, numbered so that no two share a key */
	if (status > FLATRPC_ST_STATE_FULL ||
	    (status && status <= FLATRPC_MAX_ERRORS && status > d.n_errors)) {
		snprintf(buf, sizeof(buf), "status_%u", status);
		return buf;
	}
	return flatrpc_status_str(&d, (uint8_t)status);
}

double fr_hist_quantile(const struct flatrpc_hist *h, double q)
{
	double rank = q * (double)h->count, seen = 0;

	if (!h->count)
		return 0;
	for (unsigned int i = 0; i < FLATRPC_HIST_BUCKETS; i++) {
		double lo = i ? (double)flatrpc_hist_upper(i - 1) : 0;
		double c = (double)h->bucket[i];

		if (c && seen + c >= rank)
			return lo + ((double)flatrpc_hist_upper(i) - lo) * (rank - seen) / c;
		seen += c;
	}
	return (double)flatrpc_hist_upper(FLATRPC_HIST_BUCKETS - 1);
}

void fr_hist_sub(struct flatrpc_hist *out, const struct flatrpc_hist *now,
		 const struct flatrpc_hist *before)
{
	out->count = now->count - before->count;
	out->sum_ns = now->sum_ns - before->sum_ns;
	for (unsigned int i = 0; i < FLATRPC_HIST_BUCKETS; i++)
		out->bucket[i] = now->bucket[i] - before->bucket[i];
}

/* ---- JSON ------------------------------------------------------------------ */

void fr_json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(out, "\\%c", *c);
		else if (*c < 0x20)
			fprintf(out, "\\u%04x", *c);
		else
			fputc(*c, out);
	}
	fputc('"', out);
}

static void json_hist(FILE *out, const struct flatrpc_hist *h)
{
	bool first = true;

	fprintf(out, "{\"count\":%llu,\"sum_ns\":%llu,\"p50_ns\":%.0f,\"p90_ns\":%.0f,"
		"\"p99_ns\":%.0f,\"buckets\":[", (unsigned long long)h->count,
		(unsigned long long)h->sum_ns, fr_hist_quantile(h, 0.5), fr_hist_quantile(h, 0.9),
		fr_hist_quantile(h, 0.99));
	for (unsigned int i = 0; i < FLATRPC_HIST_BUCKETS; i++) {
		if (!h->bucket[i])
			continue;
		fprintf(out, "%s[%llu,%llu,%llu]", first ? "" : ",",
			(unsigned long long)(i ? flatrpc_hist_upper(i - 1) : 0),
			(unsigned long long)flatrpc_hist_upper(i), (unsigned long long)h->bucket[i]);
		first = false;
	}
	fprintf(out, "]}");
}

static bool method_seen(const struct fr_figures *f, unsigned int m)
{
	const __u64 *k = (const __u64 *)&f->kern[m], *o = (const __u64 *)&f->obs[m];

	if (f->l)
		return true;
	for (size_t i = 0; i < sizeof(f->kern[m]) / sizeof(__u64); i++)
		if (k[i])
			return true;
	for (size_t i = 0; i < sizeof(f->obs[m]) / sizeof(__u64); i++)
		if (o[i])
			return true;
	return false;
}

void fr_figures_json(FILE *out, const struct fr_figures *f)
{
	const char *sep;
	char nb[16];
	bool first = true;

	fprintf(out, ",\"library_figures\":%s,\"methods\":[", f->have_obs ? "true" : "false");
	for (unsigned int m = 0; m < f->n_methods; m++) {
		const struct flatrpc_method_stats *k = &f->kern[m];
		const struct flatrpc_method_obs *o = &f->obs[m];

		if (!method_seen(f, m))
			continue;
		fprintf(out, "%s{\"id\":%u,\"name\":", first ? "" : ",", m);
		first = false;
		fr_json_str(out, fr_method_name(f, m, nb, sizeof(nb)));
		fprintf(out, ",\"kernel\":{");
		sep = "";
#define FLATRPC_X_JSON(fl, help) \
		fprintf(out, "%s\"" #fl "\":%llu", sep, (unsigned long long)k->fl); sep = ",";
		FLATRPC_METHOD_STATS(FLATRPC_X_JSON)
#undef FLATRPC_X_JSON
		fprintf(out, "},\"answered\":{\"ok\":%llu", (unsigned long long)o->answered[0]);
		for (unsigned int st = 1; st < 256; st++) {
			if (!o->answered[st])
				continue;
			fputc(',', out);
			fr_json_str(out, fr_status_name(f, st));
			fprintf(out, ":%llu", (unsigned long long)o->answered[st]);
		}
		fputc('}', out);
#define FLATRPC_X_JSON(fl, help) fprintf(out, ",\"" #fl "\":%llu", (unsigned long long)o->fl);
		FLATRPC_CALL_COUNTERS(FLATRPC_X_JSON)
#undef FLATRPC_X_JSON
		fprintf(out, ",\"call_latency\":");
		json_hist(out, &o->call);
		fprintf(out, ",\"handler_time\":");
		json_hist(out, &o->handler);
		fputc('}', out);
	}
	fprintf(out, "],\"elements\":[");
	for (unsigned int e = 0; e < f->n_elems; e++) {
		const struct flatrpc_elem_slot *es = &f->l->elems[e];

		fprintf(out, "%s{\"method\":", e ? "," : "");
		fr_json_str(out, fr_method_name(f, es->method, nb, sizeof(nb)));
		fprintf(out, ",\"position\":%u,\"element\":", es->position);
		fr_json_str(out, es->element);
		fprintf(out, ",\"hook\":\"%s\",\"passed\":%llu,\"forwarded\":%llu,\"errors\":{",
			es->hook, (unsigned long long)f->elem[e][0],
			(unsigned long long)f->elem[e][FLATRPC_ELEM_FORWARDED]);
		sep = "";
		for (unsigned int v = 1; v < FLATRPC_ELEM_FORWARDED; v++) {
			if (!f->elem[e][v])
				continue;
			fputs(sep, out);
			fr_json_str(out, fr_status_name(f, v));
			fprintf(out, ":%llu", (unsigned long long)f->elem[e][v]);
			sep = ",";
		}
		fprintf(out, "}}");
	}
	fprintf(out, "],\"drops\":{");
	for (unsigned int r = 1; r < FLATRPC_DROP__MAX; r++)
		fprintf(out, "%s\"%s\":%llu", r > 1 ? "," : "", fr_drop_names[r],
			(unsigned long long)f->drops[r]);
	fprintf(out, "},\"xdp_time\":");
	json_hist(out, &f->xdp);
}

/* ---- Prometheus text format ------------------------------------------------ */

/* A label value: backslash, double quote and newline escaped. */
static void prom_label(FILE *out, const char *name, const char *v, bool comma)
{
	fprintf(out, "%s%s=\"", comma ? "," : "", name);
	for (const char *c = v; *c; c++) {
		if (*c == '\\' || *c == '"')
			fprintf(out, "\\%c", *c);
		else if (*c == '\n')
			fputs("\\n", out);
		else
			fputc(*c, out);
	}
	fputc('"', out);
}

static void prom_head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The service and (m >= 0) method labels, no braces. */
static void prom_labels(FILE *out, const struct fr_figures *f, int m)
{
	char nb[16], svc[sizeof(f->meta.service) + 1];

	snprintf(svc, sizeof(svc), "%.*s", (int)sizeof(f->meta.service), f->meta.service);
	prom_label(out, "service", svc, false);
	if (m >= 0)
		prom_label(out, "method", fr_method_name(f, (unsigned int)m, nb, sizeof(nb)), true);
}

static void prom_hist(FILE *out, const char *name, const struct fr_figures *f, int m,
		      const struct flatrpc_hist *h)
{
	__u64 cum = 0;

	/* the last bucket also holds what is slower than its bound: +Inf */
	for (unsigned int i = 0; i + 1 < FLATRPC_HIST_BUCKETS; i++) {
		cum += h->bucket[i];
		fprintf(out, "%s_bucket{", name);
		prom_labels(out, f, m);
		fprintf(out, ",le=\"%.9g\"} %llu\n", (double)flatrpc_hist_upper(i) / 1e9,
			(unsigned long long)cum);
	}
	fprintf(out, "%s_bucket{", name);
	prom_labels(out, f, m);
	fprintf(out, ",le=\"+Inf\"} %llu\n%s_sum{", (unsigned long long)h->count, name);
	prom_labels(out, f, m);
	fprintf(out, "} %.9g\n%s_count{", (double)h->sum_ns / 1e9, name);
	prom_labels(out, f, m);
	fprintf(out, "} %llu\n", (unsigned long long)h->count);
}

#define PROM_PER_METHOD(what)							\
	for (unsigned int m = 0; m < f->n_methods; m++) {			\
		if (!method_seen(f, m))						\
			continue;						\
		what;								\
	}

/* A counter with a series per method: method m's value is the __u64 at
 * first + m * stride bytes (a field of an array of per-method structs). */
static void prom_counter(FILE *out, const struct fr_figures *f, const char *name,
			 const char *help, const __u64 *first, size_t stride)
{
	prom_head(out, name, "counter", help);
	PROM_PER_METHOD(fprintf(out, "%s{", name);
			prom_labels(out, f, (int)m);
			fprintf(out, "} %llu\n", (unsigned long long)
				*(const __u64 *)((const char *)first + m * stride)))
}

void fr_figures_prometheus(FILE *out, const struct fr_figures *f, const char *ifname)
{
	char hash[20];

	snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)f->meta.spec_hash);
	prom_head(out, "flatrpc_info", "gauge", "The FlatRPC service loaded on the interface (always 1).");
	fprintf(out, "flatrpc_info{");
	prom_labels(out, f, -1);
	prom_label(out, "interface", ifname, true);
	prom_label(out, "spec_hash", hash, true);
	fprintf(out, "} 1\n");

#define FLATRPC_X_PROM(fl, help)						\
	prom_counter(out, f, "flatrpc_kernel_" #fl "_total", "Kernel: " help ".",	\
		     &f->kern[0].fl, sizeof(f->kern[0]));
	FLATRPC_METHOD_STATS(FLATRPC_X_PROM)
#undef FLATRPC_X_PROM

	prom_head(out, "flatrpc_client_calls_total", "counter",
		  "Client: calls answered, by the answer's status (timeouts and overloaded "
		  "calls are counted apart).");
	PROM_PER_METHOD(
		for (unsigned int st = 0; st < 256; st++) {
			if (st && !f->obs[m].answered[st])
				continue;
			fprintf(out, "flatrpc_client_calls_total{");
			prom_labels(out, f, (int)m);
			prom_label(out, "status", fr_status_name(f, st), true);
			fprintf(out, "} %llu\n", (unsigned long long)f->obs[m].answered[st]);
		})

#define FLATRPC_X_PROM(fl, help)						\
	prom_counter(out, f, "flatrpc_" #fl "_total", help ".", &f->obs[0].fl, sizeof(f->obs[0]));
	FLATRPC_CALL_COUNTERS(FLATRPC_X_PROM)
#undef FLATRPC_X_PROM

	prom_head(out, "flatrpc_element_verdicts_total", "counter",
		  "What each ANF element decided, per run: passed, forwarded, or error with its status.");
	for (unsigned int e = 0; e < f->n_elems; e++) {
		const struct flatrpc_elem_slot *es = &f->l->elems[e];
		char pos[12];

		snprintf(pos, sizeof(pos), "%u", es->position);
		for (unsigned int v = 0; v < FLATRPC_ELEM_VERDICTS; v++) {
			if (v && v != FLATRPC_ELEM_FORWARDED && !f->elem[e][v])
				continue;
			fprintf(out, "flatrpc_element_verdicts_total{");
			prom_labels(out, f, (int)es->method);
			prom_label(out, "element", es->element, true);
			prom_label(out, "position", pos, true);
			prom_label(out, "hook", es->hook, true);
			prom_label(out, "verdict", !v ? "passed" : v == FLATRPC_ELEM_FORWARDED ?
				   "forwarded" : "error", true);
			if (v && v != FLATRPC_ELEM_FORWARDED)
				prom_label(out, "status", fr_status_name(f, v), true);
			fprintf(out, "} %llu\n", (unsigned long long)f->elem[e][v]);
		}
	}

	prom_head(out, "flatrpc_drops_total", "counter", "Frames dropped by the kernel programs, by reason.");
	for (unsigned int r = 1; r < FLATRPC_DROP__MAX; r++) {
		fprintf(out, "flatrpc_drops_total{");
		prom_labels(out, f, -1);
		prom_label(out, "reason", fr_drop_names[r], true);
		fprintf(out, "} %llu\n", (unsigned long long)f->drops[r]);
	}

	prom_head(out, "flatrpc_client_call_duration_seconds", "histogram",
		  "Client: time from a call to its answer, answered calls.");
	PROM_PER_METHOD(prom_hist(out, "flatrpc_client_call_duration_seconds", f, (int)m,
				  &f->obs[m].call))
	prom_head(out, "flatrpc_server_handler_duration_seconds", "histogram",
		  "Server: time the handler ran, per request.");
	PROM_PER_METHOD(prom_hist(out, "flatrpc_server_handler_duration_seconds", f, (int)m,
				  &f->obs[m].handler))
	prom_head(out, "flatrpc_xdp_duration_seconds", "histogram",
		  "Time the XDP program ran per FlatRPC frame.");
	prom_hist(out, "flatrpc_xdp_duration_seconds", f, -1, &f->xdp);
}

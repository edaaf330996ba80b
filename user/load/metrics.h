/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * metrics.h - one reading of a FlatRPC interface's figures, and the forms
 * they are written in: JSON (flatrpc-load --status -j, flatrpc-stat -j) and
 * the Prometheus text format (flatrpc-stat --prometheus, --listen). The
 * names and keys are documented in docs/observability.md; they come from
 * the X-macro tables of flatrpc_abi.h, so a new counter shows up in every
 * form at once.
 */
#ifndef FLATRPC_METRICS_H
#define FLATRPC_METRICS_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>
#include "flatrpc_abi.h"
#include "desc.h"

#define FR_MAX_ELEMS	64	/* element slots read; a spec with more shows the first */

struct fr_figures {
	struct flatrpc_meta		meta;
	struct flatrpc_desc		*l;		/* the spec's names, from the desc pin;
							 * NULL: none readable. Owned: see
							 * fr_figures_free() */
	unsigned int			n_methods;
	bool				have_obs;	/* a load with the library's figures */
	bool				have_xdp;
	double				at;		/* CLOCK_MONOTONIC seconds of the reading */
	struct flatrpc_method_stats	kern[FLATRPC_MAX_METHODS];
	struct flatrpc_method_obs	obs[FLATRPC_MAX_METHODS];
	__u64				drops[FLATRPC_DROP__MAX];
	unsigned int			n_elems;	/* of l->elems */
	__u64				elem[FR_MAX_ELEMS][FLATRPC_ELEM_VERDICTS];
	struct flatrpc_hist		xdp;
};

extern const char *const fr_drop_names[FLATRPC_DROP__MAX];

/* Reads every figure under pin_dir (<bpffs>/flatrpc/<ifname>). Returns 0,
 * or -ENOENT when nothing is loaded there (no readable meta). */
int fr_figures_read(const char *pin_dir, struct fr_figures *f);
/* Frees f (from malloc) and the description it holds. */
void fr_figures_free(struct fr_figures *f);

/* A method's name, or its number when the spec is not built in. */
const char *fr_method_name(const struct fr_figures *f, unsigned int m, char *buf, size_t n);

/* The name of an answer's status, as the library calls it. */
const char *fr_status_name(const struct fr_figures *f, unsigned int status);

/* The value below which a fraction q of the histogram lies, in ns,
 * interpolated inside its bucket like Prometheus's histogram_quantile();
 * 0 for an empty histogram. */
double fr_hist_quantile(const struct flatrpc_hist *h, double q);

/* now - before, bucket by bucket. */
void fr_hist_sub(struct flatrpc_hist *out, const struct flatrpc_hist *now,
		 const struct flatrpc_hist *before);

/* Whether verdict v of an element slot is one that can happen (and so is
 * read): passed, forwarded, the spec's errors and the FLATRPC_ST_* ones. */
bool fr_elem_verdict_known(const struct fr_figures *f, unsigned int v);

/* The figures' members of a JSON object: "methods", "elements", "drops", "xdp_time"
 * (no braces around them, a comma before each). */
void fr_figures_json(FILE *out, const struct fr_figures *f);

/* Everything in the Prometheus text exposition format 0.0.4. */
void fr_figures_prometheus(FILE *out, const struct fr_figures *f, const char *ifname);

/* s as a JSON string, quotes included. */
void fr_json_str(FILE *out, const char *s);

#endif

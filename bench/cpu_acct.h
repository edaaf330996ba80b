/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * CPU time of the server side (the server, and the proxies in front of it),
 * for kv-bench and grpc-bench. A thread's schedstat is exact, but a thread
 * that exits takes its time with it; /proc/PID/stat keeps exited threads'
 * time, but in clock ticks. cpu_acct_delta() takes schedstat unless the
 * ticks exceed it by more than two ticks (a tick can land in any short
 * window): then threads exited mid-run, and the ticks are the better count. Softirq work (the
 * network stack, and generic XDP) is charged to the task it interrupted,
 * as this kernel has no IRQ time accounting.
 */
#ifndef BENCH_CPU_ACCT_H
#define BENCH_CPU_ACCT_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CPU_ACCT_MAX	8

struct cpu_acct {
	int		pids[CPU_ACCT_MAX];
	int		n;
	uint64_t	sched_ns, tick_ns;
};

/* "PID[,PID...]" */
static inline void cpu_acct_init(struct cpu_acct *a, const char *list)
{
	a->n = 0;
	while (list && *list && a->n < CPU_ACCT_MAX) {
		a->pids[a->n++] = atoi(list);
		list = strchr(list, ',');
		if (list)
			list++;
	}
}

static inline void cpu_acct_read(struct cpu_acct *a)
{
	long hz = sysconf(_SC_CLK_TCK);

	a->sched_ns = a->tick_ns = 0;
	for (int i = 0; i < a->n; i++) {
		char path[320];
		DIR *d;
		struct dirent *e;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/task", a->pids[i]);
		d = opendir(path);
		while (d && (e = readdir(d))) {
			unsigned long long ns;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", a->pids[i], e->d_name);
			f = fopen(path, "r");
			if (f && fscanf(f, "%llu", &ns) == 1)
				a->sched_ns += ns;
			if (f)
				fclose(f);
		}
		if (d)
			closedir(d);
		snprintf(path, sizeof(path), "/proc/%d/stat", a->pids[i]);
		f = fopen(path, "r");
		if (f) {
			char buf[1024];
			size_t len = fread(buf, 1, sizeof(buf) - 1, f);
			unsigned long long ut, st;

			buf[len] = '\0';
			/* fields after the parenthesised name: state is field 3, utime 14 */
			const char *p = strrchr(buf, ')');

			if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
					&ut, &st) == 2)
				a->tick_ns += (ut + st) * (1000000000ull / (unsigned long long)hz);
			fclose(f);
		}
	}
}

static inline uint64_t cpu_acct_delta(const struct cpu_acct *t0, const struct cpu_acct *t1)
{
	uint64_t s = t1->sched_ns > t0->sched_ns ? t1->sched_ns - t0->sched_ns : 0;
	uint64_t t = t1->tick_ns > t0->tick_ns ? t1->tick_ns - t0->tick_ns : 0;

	uint64_t tick = 1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK);

	return t > s + 2 * tick ? t : s;
}

#endif

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cycles: apply and destroy one topology N times in one process, through
 * libtcspan, and say what the process holds before and after.
 *
 *   cycles FILE N
 *
 * Prints "fds A B" and "rss_kb A B": open descriptors and resident memory
 * after cycle N/10 (A, once everything made once exists and the allocator
 * has settled) and after the last (B).  Exit 1 when a cycle fails (its messages on stderr).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tcspan.h>

static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;		/* the directory's own descriptor */
}

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

static int cycle(const struct tcspan_topology *topo, struct tcspan_error *err)
{
	struct tcspan_plan_opts opts = { .sz = sizeof(opts) };
	struct tcspan_plan *plan;
	int ret;

	plan = tcspan_plan__new(topo, &opts, err);
	ret = plan ? tcspan_plan__apply(plan, err) : -1;
	tcspan_plan__free(plan);
	if (ret)
		return ret;
	plan = tcspan_plan__new_destroy(tcspan_topology__name(topo), &opts, err);
	ret = plan ? tcspan_plan__apply(plan, err) : -1;
	tcspan_plan__free(plan);
	return ret;
}

int main(int argc, char **argv)
{
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_topology *topo;
	long fds0 = 0, rss0 = 0;
	int i, n, status = 1;
	size_t k;

	if (argc != 3 || (n = atoi(argv[2])) < 2) {
		fprintf(stderr, "usage: cycles FILE N (N >= 2)\n");
		return 1;
	}
	topo = tcspan_topology__from_file(argv[1], err);
	for (i = 0; topo && i < n; i++) {
		if (cycle(topo, err))
			goto out;
		if (i == n / 10) {
			fds0 = open_fds();
			rss0 = rss_kb();
		}
	}
	if (topo) {
		printf("fds %ld %ld\nrss_kb %ld %ld\n", fds0, open_fds(), rss0, rss_kb());
		status = 0;
	}
out:
	for (k = 0; k < tcspan_error__count(err); k++)
		fprintf(stderr, "%s\n", tcspan_error__message(err, k));
	tcspan_topology__free(topo);
	tcspan_error__free(err);
	return status;
}

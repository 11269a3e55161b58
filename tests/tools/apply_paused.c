// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * apply_paused: plan a topology through libtcspan, stop until a line
 * arrives on stdin, then apply that plan.  A test changes the kernel in
 * the pause to meet what an apply meets when another tool acts between
 * tcspan's look at the kernel and its changes.
 *
 *   apply_paused FILE
 *
 * Prints "planned" followed by the plan's changes, one per line as
 * "NAME: DETAIL", then, after the apply, "applied" and the changes made.
 * Exit 0 when the apply succeeded; 1 otherwise, its messages on stderr.
 */
#include <stdio.h>
#include <tcspan.h>

static void print_changes(const struct tcspan_plan *plan)
{
	const struct tcspan_change *c;
	size_t i;

	for (i = 0; i < tcspan_plan__change_count(plan); i++) {
		c = tcspan_plan__change(plan, i);
		printf("%s: %s\n", c->name, c->detail ? c->detail : "");
	}
}

int main(int argc, char **argv)
{
	struct tcspan_plan_opts opts = { .sz = sizeof(opts) };
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_topology *topo = NULL;
	struct tcspan_plan *plan = NULL;
	char line[16];
	int status = 1;
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: apply_paused FILE\n");
		return 2;
	}
	topo = tcspan_topology__from_file(argv[1], err);
	plan = topo ? tcspan_plan__new(topo, &opts, err) : NULL;
	if (!plan)
		goto out;
	printf("planned\n");
	print_changes(plan);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		goto out;
	if (tcspan_plan__apply(plan, err))
		goto out;
	printf("applied\n");
	print_changes(plan);
	status = 0;
out:
	for (i = 0; i < tcspan_error__count(err); i++)
		fprintf(stderr, "%s\n", tcspan_error__message(err, i));
	tcspan_plan__free(plan);
	tcspan_topology__free(topo);
	tcspan_error__free(err);
	return status;
}

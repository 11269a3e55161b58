// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A program of one's own on libtcspan: a topology held in a string, planned
 * and applied, errors printed.  Built against the installed library:
 *
 *   cc apply_string.c $(pkg-config --cflags --libs tcspan) -o apply_string
 *   ./apply_string PREFIX    (namespaces PREFIX-a and PREFIX-b, topology PREFIX)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <tcspan.h>

static const char topology_fmt[] =
	"version: 1\n"
	"name: %s\n"
	"namespaces: [%s-a, %s-b]\n"
	"links:\n"
	"  - a: { netns: %s-a, dev: eth0, addresses: [198.18.0.1/24] }\n"
	"    b: { netns: %s-b, dev: eth0, addresses: [198.18.0.2/24] }\n"
	"  - a: %s-b/mon0\n"
	"    b: %s-b/mon1\n"
	"rules:\n"
	"  - name: span\n"
	"    action: mirror\n"
	"    from: %s-b/eth0\n"
	"    direction: ingress\n"
	"    to: %s-b/mon0\n";

static void print_errors(const struct tcspan_error *err)
{
	size_t i;

	for (i = 0; i < tcspan_error__count(err); i++)
		fprintf(stderr, "%s\n", tcspan_error__message(err, i));
}

int main(int argc, char **argv)
{
	struct tcspan_plan_opts opts = { .sz = sizeof(opts), .lock_timeout = 10 };
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_topology *topo = NULL;
	struct tcspan_plan *plan = NULL;
	const char *p = argc == 2 ? argv[1] : "example";
	char yaml[2048];
	int len, status = 1;
	size_t i;

	len = snprintf(yaml, sizeof(yaml), topology_fmt, p, p, p, p, p, p, p, p, p);
	topo = tcspan_topology__from_buffer("<string>", yaml, len, err);
	if (!topo)
		goto out;
	plan = tcspan_plan__new(topo, &opts, err);
	if (!plan || tcspan_plan__apply(plan, err))
		goto out;
	for (i = 0; i < tcspan_plan__change_count(plan); i++)
		printf("%s\n", tcspan_plan__change(plan, i)->name);
	printf("%zu added\n", tcspan_plan__count(plan, TCSPAN_OP_ADD));
	status = 0;
out:
	if (status)
		print_errors(err);
	tcspan_plan__free(plan);
	tcspan_topology__free(topo);
	tcspan_error__free(err);
	return status;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcspan: the command line over libtcspan.  See `tcspan help`. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tcspan.h"

static bool json, verbose, quiet;

static const char usage_text[] =
	"Usage: tcspan [-j|--json] [-v|--verbose] [-q|--quiet] COMMAND [ARGS]\n"
	"\n"
	"Commands:\n"
	"  validate FILE...              parse and check; touches no kernel state\n"
	"  plan FILE [--detailed-exitcode] [--wait SEC]\n"
	"                                what apply would change\n"
	"  apply FILE [--dry-run] [--wait SEC]\n"
	"                                make the kernel match FILE\n"
	"  show [NAME]                   what tcspan owns now, by topology and rule\n"
	"  stats [NAME] [--watch SEC]    per-rule packets and bytes\n"
	"  destroy NAME|FILE [--wait SEC]\n"
	"                                remove everything that topology owns\n"
	"  help, --help, --version\n"
	"\n"
	"Exit status: 0 success, 1 error, 2 changes pending (plan --detailed-exitcode).\n";

static int print_log(enum tcspan_print_level level, const char *fmt, va_list ap)
{
	if (quiet || (level == TCSPAN_DEBUG && !verbose) ||
	    (level == TCSPAN_INFO && !verbose))
		return 0;
	fputs("tcspan: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

/* File errors come formatted ("FILE:LINE:COL: error: ..."); others get one. */
static void print_errors(const struct tcspan_error *err)
{
	size_t i;

	for (i = 0; i < tcspan_error__count(err); i++) {
		const char *m = tcspan_error__message(err, i);

		if (strstr(m, "error: "))
			fprintf(stderr, "%s\n", m);
		else
			fprintf(stderr, "tcspan: error: %s\n", m);
	}
}

static void json_string(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static const char *op_name(enum tcspan_op op)
{
	return op == TCSPAN_OP_ADD ? "add" : op == TCSPAN_OP_CHANGE ? "change" : "remove";
}

static const char *kind_name(enum tcspan_kind kind)
{
	switch (kind) {
	case TCSPAN_KIND_RULE:	return "rule";
	case TCSPAN_KIND_NETNS:	return "netns";
	case TCSPAN_KIND_LINK:	return "link";
	default:		return "device";
	}
}

enum summary {
	SUMMARY_PLAN,		/* Plan: 1 to add, 0 to change, 0 to remove. */
	SUMMARY_APPLY,		/* Apply complete: 1 added, 0 changed, 0 removed. */
	SUMMARY_DESTROY,	/* Destroy complete: 3 removed. */
};

/* The changes of a plan, as text or JSON, with a closing summary. */
static void print_plan(const struct tcspan_plan *plan, enum summary summary)
{
	size_t i, n = tcspan_plan__change_count(plan);
	size_t add = tcspan_plan__count(plan, TCSPAN_OP_ADD);
	size_t chg = tcspan_plan__count(plan, TCSPAN_OP_CHANGE);
	size_t rem = tcspan_plan__count(plan, TCSPAN_OP_REMOVE);

	if (json) {
		printf("{\"add\": %zu, \"change\": %zu, \"remove\": %zu, \"changes\": [",
		       add, chg, rem);
		for (i = 0; i < n; i++) {
			const struct tcspan_change *c = tcspan_plan__change(plan, i);

			printf("%s{\"op\": \"%s\", \"kind\": \"%s\", \"name\": ", i ? ", " : "",
			       op_name(c->op), kind_name(c->kind));
			json_string(c->name);
			printf(", \"detail\": ");
			if (c->detail)
				json_string(c->detail);
			else
				printf("null");
			putchar('}');
		}
		printf("]}\n");
		return;
	}
	if (quiet)
		return;
	if (!n) {
		printf("No changes.\n");
		return;
	}
	for (i = 0; i < n; i++) {
		const struct tcspan_change *c = tcspan_plan__change(plan, i);

		printf("%c %s %s%s%s\n", c->op == TCSPAN_OP_ADD ? '+' :
		       c->op == TCSPAN_OP_CHANGE ? '~' : '-', kind_name(c->kind), c->name,
		       c->detail ? ": " : "", c->detail ? c->detail : "");
	}
	switch (summary) {
	case SUMMARY_PLAN:
		printf("Plan: %zu to add, %zu to change, %zu to remove.\n", add, chg, rem);
		break;
	case SUMMARY_APPLY:
		printf("Apply complete: %zu added, %zu changed, %zu removed.\n", add, chg, rem);
		break;
	case SUMMARY_DESTROY:
		printf("Destroy complete: %zu removed.\n", rem);
		break;
	}
}

/* ---- option parsing shared by the commands ----------------------------- */

struct cmd_opts {
	bool dry_run, detailed_exitcode;
	unsigned int wait;
	unsigned int watch;
	int optind;
};

static int parse_opts(int argc, char **argv, struct cmd_opts *o, const char *allowed)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "detailed-exitcode", no_argument, NULL, 'd' },
		{ "wait", required_argument, NULL, 'W' },
		{ "watch", required_argument, NULL, 'w' },
		{}
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		if (c == '?' || !strchr(allowed, c)) {
			if (c != '?')
				fprintf(stderr, "tcspan: error: %s: option not valid here\n",
					argv[optind - 1]);
			return -1;
		}
		switch (c) {
		case 'n':
			o->dry_run = true;
			break;
		case 'd':
			o->detailed_exitcode = true;
			break;
		case 'W':
		case 'w':
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);

			if (errno || *end || !*optarg || v == 0 || v > 86400) {
				fprintf(stderr, "tcspan: error: --%s: \"%s\" is not a number of "
					"seconds from 1 to 86400\n", c == 'W' ? "wait" : "watch",
					optarg);
				return -1;
			}
			if (c == 'W')
				o->wait = v;
			else
				o->watch = v;
			break;
		}
	}
	o->optind = optind;
	return 0;
}

static struct tcspan_topology *load(const char *path, struct tcspan_error *err)
{
	struct tcspan_topology *topo = tcspan_topology__from_file(path, err);

	if (!topo)
		print_errors(err);
	return topo;
}

/* ---- commands ------------------------------------------------------------ */

static int do_validate(int argc, char **argv)
{
	struct tcspan_error *err = tcspan_error__new();
	int i, status = 0;

	if (argc < 2) {
		fprintf(stderr, "tcspan: error: validate needs at least one FILE\n");
		tcspan_error__free(err);
		return 1;
	}
	for (i = 1; i < argc; i++) {
		struct tcspan_topology *topo;

		tcspan_error__clear(err);
		topo = load(argv[i], err);
		if (topo && tcspan_topology__check_system(topo, err)) {
			print_errors(err);
			tcspan_topology__free(topo);
			topo = NULL;
		}
		if (!topo) {
			status = 1;
			continue;
		}
		if (!quiet && !json)
			printf("%s: ok (topology \"%s\", %zu rule%s)\n", argv[i],
			       tcspan_topology__name(topo), tcspan_topology__rule_count(topo),
			       tcspan_topology__rule_count(topo) == 1 ? "" : "s");
		tcspan_topology__free(topo);
	}
	if (json)
		printf("{\"valid\": %s}\n", status ? "false" : "true");
	tcspan_error__free(err);
	return status;
}

static int plan_or_apply(int argc, char **argv, bool apply)
{
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_plan_opts popts = { .sz = sizeof(popts) };
	struct tcspan_topology *topo = NULL;
	struct tcspan_plan *plan = NULL;
	struct cmd_opts o;
	int status = 1, ret;

	if (parse_opts(argc, argv, &o, apply ? "nW" : "dW"))
		goto out;
	if (argc - o.optind != 1) {
		fprintf(stderr, "tcspan: error: %s needs exactly one FILE\n", argv[0]);
		goto out;
	}
	popts.lock_timeout = o.wait;
	topo = load(argv[o.optind], err);
	if (!topo)
		goto out;
	plan = tcspan_plan__new(topo, &popts, err);
	if (!plan) {
		print_errors(err);
		goto out;
	}
	if (!apply || o.dry_run) {
		print_plan(plan, SUMMARY_PLAN);
		status = o.detailed_exitcode && tcspan_plan__change_count(plan) ? 2 : 0;
		goto out;
	}
	ret = tcspan_plan__apply(plan, err);
	if (ret) {
		print_errors(err);
		if (ret == -ENOTRECOVERABLE)
			fprintf(stderr, "tcspan: apply failed, and some of its steps could "
				"not be undone (above); run plan to see the state\n");
		else
			fprintf(stderr, "tcspan: apply failed; every change it made was undone\n");
		goto out;
	}
	print_plan(plan, SUMMARY_APPLY);
	status = 0;
out:
	tcspan_plan__free(plan);
	tcspan_topology__free(topo);
	tcspan_error__free(err);
	return status;
}

static int do_plan(int argc, char **argv)
{
	return plan_or_apply(argc, argv, false);
}

static int do_apply(int argc, char **argv)
{
	return plan_or_apply(argc, argv, true);
}

static int do_destroy(int argc, char **argv)
{
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_plan_opts popts = { .sz = sizeof(popts) };
	struct tcspan_topology *topo = NULL;
	struct tcspan_plan *plan = NULL;
	const char *name;
	struct cmd_opts o;
	int status = 1;

	if (parse_opts(argc, argv, &o, "W"))
		goto out;
	if (argc - o.optind != 1) {
		fprintf(stderr, "tcspan: error: destroy needs a topology NAME or FILE\n");
		goto out;
	}
	popts.lock_timeout = o.wait;
	name = argv[o.optind];
	/* A path names the topology inside it; a topology name has no '/' or '.'. */
	if (strchr(name, '/') || strchr(name, '.')) {
		topo = load(name, err);
		if (!topo)
			goto out;
		name = tcspan_topology__name(topo);
	}
	plan = tcspan_plan__new_destroy(name, &popts, err);
	if (!plan || tcspan_plan__apply(plan, err)) {
		print_errors(err);
		goto out;
	}
	print_plan(plan, SUMMARY_DESTROY);
	status = 0;
out:
	tcspan_plan__free(plan);
	tcspan_topology__free(topo);
	tcspan_error__free(err);
	return status;
}

/* Columns as wide as their widest cell, like `ip -br`. */
#define SHOW_COLS 8

static void print_row(const char *const *cells, const int *width, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (i == n - 1)
			printf("%s\n", cells[i]);
		else
			printf("%-*s  ", width[i], cells[i]);
	}
}

static void widen(int *width, const char *const *cells, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if ((int)strlen(cells[i]) > width[i])
			width[i] = strlen(cells[i]);
}

static void rule_cells(const struct tcspan_rule_info *r, const char **c)
{
	c[1] = r->name;
	c[2] = r->action;
	c[3] = r->from;
	c[4] = r->direction;
	c[5] = *r->to ? r->to : "(gone)";
	c[6] = r->to_direction;
	c[7] = r->problem ? r->problem : r->datapath;
}

static int do_show(int argc, char **argv)
{
	static const char *const head[SHOW_COLS] = {
		"TOPOLOGY", "RULE", "ACTION", "FROM", "DIRECTION", "TO", "TO_DIR", "DATAPATH",
	};
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_state *st;
	int width[SHOW_COLS] = {}, pass;
	size_t t, r, i;

	if (argc > 2) {
		fprintf(stderr, "tcspan: error: show takes at most one NAME\n");
		tcspan_error__free(err);
		return 1;
	}
	st = tcspan_state__observe(argc == 2 ? argv[1] : NULL, err);
	if (!st) {
		print_errors(err);
		tcspan_error__free(err);
		return 1;
	}
	if (json) {
		printf("{\"topologies\": [");
		for (t = 0; t < tcspan_state__topology_count(st); t++) {
			printf("%s{\"name\": ", t ? ", " : "");
			json_string(tcspan_state__topology_name(st, t));
			printf(", \"rules\": [");
			for (r = 0; r < tcspan_state__rule_count(st, t); r++) {
				struct tcspan_rule_info ri;

				tcspan_state__rule(st, t, r, &ri);
				printf("%s{\"name\": ", r ? ", " : "");
				json_string(ri.name);
				printf(", \"action\": ");
				json_string(ri.action);
				printf(", \"from\": ");
				json_string(ri.from);
				printf(", \"direction\": ");
				json_string(ri.direction);
				printf(", \"to\": ");
				json_string(ri.to);
				printf(", \"to_direction\": ");
				json_string(ri.to_direction);
				printf(", \"datapath\": ");
				json_string(ri.datapath);
				printf(", \"fallback\": null, \"problem\": ");
				if (ri.problem)
					json_string(ri.problem);
				else
					printf("null");
				putchar('}');
			}
			printf("], \"namespaces\": [");
			for (i = 0; i < tcspan_state__namespace_count(st, t); i++) {
				printf("%s", i ? ", " : "");
				json_string(tcspan_state__namespace(st, t, i));
			}
			printf("], \"links\": [");
			for (i = 0; i < tcspan_state__link_count(st, t); i++) {
				printf("%s", i ? ", " : "");
				json_string(tcspan_state__link(st, t, i));
			}
			printf("], \"devices\": []}");
		}
		printf("]}\n");
		goto out;
	}
	if (!tcspan_state__topology_count(st)) {
		if (!quiet)
			printf("tcspan owns nothing%s%s.\n", argc == 2 ? " named " : "",
			       argc == 2 ? argv[1] : "");
		goto out;
	}
	/* Two passes: measure, then print. */
	for (pass = 0; pass < 2; pass++) {
		if (pass)
			print_row(head, width, SHOW_COLS);
		else
			widen(width, head, SHOW_COLS);
		for (t = 0; t < tcspan_state__topology_count(st); t++) {
			for (r = 0; r < tcspan_state__rule_count(st, t); r++) {
				struct tcspan_rule_info ri;
				const char *c[SHOW_COLS];

				tcspan_state__rule(st, t, r, &ri);
				c[0] = tcspan_state__topology_name(st, t);
				rule_cells(&ri, c);
				if (pass)
					print_row(c, width, SHOW_COLS);
				else
					widen(width, c, SHOW_COLS);
			}
		}
	}
	for (t = 0; t < tcspan_state__topology_count(st); t++) {
		if (tcspan_state__namespace_count(st, t)) {
			printf("%s namespaces:", tcspan_state__topology_name(st, t));
			for (i = 0; i < tcspan_state__namespace_count(st, t); i++)
				printf(" %s", tcspan_state__namespace(st, t, i));
			putchar('\n');
		}
		for (i = 0; i < tcspan_state__link_count(st, t); i++)
			printf("%s link: %s\n", tcspan_state__topology_name(st, t),
			       tcspan_state__link(st, t, i));
	}
out:
	tcspan_state__free(st);
	tcspan_error__free(err);
	return 0;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

struct counter {
	char *key;
	uint64_t packets, bytes;
};

static int print_stats(const char *name, unsigned int interval, struct counter **prev,
		       size_t *n_prev)
{
	struct tcspan_error *err = tcspan_error__new();
	struct counter *next = NULL;
	size_t n_next = 0, t, r, i;
	struct tcspan_state *st;
	st = tcspan_state__observe(name, err);
	if (!st) {
		print_errors(err);
		tcspan_error__free(err);
		return 1;
	}
	if (json)
		printf("{\"topologies\": [");
	else
		printf("%-16s %-24s %14s %16s%s\n", "TOPOLOGY", "RULE", "PACKETS", "BYTES",
		       interval ? "        PPS          BPS" : "");
	for (t = 0; t < tcspan_state__topology_count(st); t++) {
		const char *tname = tcspan_state__topology_name(st, t);

		if (json) {
			printf("%s{\"name\": ", t ? ", " : "");
			json_string(tname);
			printf(", \"rules\": [");
		}
		for (r = 0; r < tcspan_state__rule_count(st, t); r++) {
			struct tcspan_rule_info ri;
			double pps = 0, bps = 0;
			struct counter *c;

			tcspan_state__rule(st, t, r, &ri);
			c = realloc(next, (n_next + 1) * sizeof(*c));
			if (!c)
				break;
			next = c;
			c = &next[n_next++];
			if (asprintf(&c->key, "%s/%s", tname, ri.name) < 0)
				c->key = NULL;
			c->packets = ri.packets;
			c->bytes = ri.bytes;
			for (i = 0; interval && c->key && i < *n_prev; i++) {
				if (!strcmp((*prev)[i].key, c->key)) {
					pps = (double)(ri.packets - (*prev)[i].packets) / interval;
					bps = (double)(ri.bytes - (*prev)[i].bytes) * 8 / interval;
				}
			}
			if (json) {
				printf("%s{\"name\": ", r ? ", " : "");
				json_string(ri.name);
				printf(", \"packets\": %llu, \"bytes\": %llu",
				       (unsigned long long)ri.packets,
				       (unsigned long long)ri.bytes);
				if (interval)
					printf(", \"pps\": %.1f, \"bps\": %.1f", pps, bps);
				putchar('}');
			} else {
				printf("%-16s %-24s %14llu %16llu", tname, ri.name,
				       (unsigned long long)ri.packets,
				       (unsigned long long)ri.bytes);
				if (interval)
					printf(" %10.1f %12.1f", pps, bps);
				putchar('\n');
			}
		}
		if (json)
			printf("]}");
	}
	if (json)
		printf("]}\n");
	fflush(stdout);
	for (i = 0; i < *n_prev; i++)
		free((*prev)[i].key);
	free(*prev);
	*prev = next;
	*n_prev = n_next;
	tcspan_state__free(st);
	tcspan_error__free(err);
	return 0;
}

static int do_stats(int argc, char **argv)
{
	struct counter *prev = NULL;
	size_t n_prev = 0, i;
	const char *name;
	struct cmd_opts o;
	int status;

	if (parse_opts(argc, argv, &o, "w"))
		return 1;
	if (argc - o.optind > 1) {
		fprintf(stderr, "tcspan: error: stats takes at most one NAME\n");
		return 1;
	}
	name = argc - o.optind == 1 ? argv[o.optind] : NULL;
	status = print_stats(name, 0, &prev, &n_prev);
	if (o.watch) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		while (!status && !stop) {
			sleep(o.watch);
			if (stop)
				break;
			if (!json)
				putchar('\n');
			status = print_stats(name, o.watch, &prev, &n_prev);
		}
	}
	for (i = 0; i < n_prev; i++)
		free(prev[i].key);
	free(prev);
	return status;
}

static int do_help(int argc, char **argv)
{
	fputs(usage_text, stdout);
	return 0;
}

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "validate", do_validate },
	{ "plan", do_plan },
	{ "apply", do_apply },
	{ "show", do_show },
	{ "stats", do_stats },
	{ "destroy", do_destroy },
	{ "help", do_help },
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	size_t i;
	int c;

	while ((c = getopt_long(argc, argv, "+jvqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("tcspan %s\n", TCSPAN_VERSION);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 1;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return 1;
	}
	tcspan_set_print(print_log);
	argc -= optind;
	argv += optind;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[0], commands[i].name))
			return commands[i].fn(argc, argv);
	fprintf(stderr, "tcspan: error: unknown command \"%s\"; see \"tcspan help\"\n",
		argv[0]);
	return 1;
}

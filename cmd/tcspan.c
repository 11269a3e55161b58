// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcspan: the command line over libtcspan.  See `tcspan help`. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "tcspan.h"

static bool json, verbose, quiet;
/* Colour on stdout, on stderr (--color; auto: where it is a terminal). */
static bool color_out, color_err;

#define RED	"\033[31m"
#define GREEN	"\033[32m"
#define YELLOW	"\033[33m"
#define BOLD_RED "\033[1;31m"
#define RESET	"\033[0m"

static const char usage_text[] =
	"Usage: tcspan [OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Options:\n"
	"  -j, --json                    print JSON\n"
	"  -v, --verbose                 say more of what is done\n"
	"  -q, --quiet                   print errors only\n"
	"      --color=WHEN              colour: auto (on a terminal), always, never\n"
	"  -h, --help                    print this text\n"
	"  -V, --version                 print the version\n"
	"\n"
	"Commands:\n"
	"  validate FILE...              parse and check; touches no kernel state\n"
	"  plan FILE [--detailed-exitcode] [--wait SEC]\n"
	"                                what apply would change\n"
	"  apply FILE [--dry-run] [--wait SEC] [--watch [--destroy-on-exit]]\n"
	"                                make the kernel match FILE; with --watch,\n"
	"                                again whenever an owned object changes\n"
	"  show [NAME] [--dev [NETNS/]DEV]\n"
	"                                what tcspan owns now, by topology and rule\n"
	"  stats [NAME] [--dev [NETNS/]DEV] [--watch SEC]\n"
	"                                per-rule packets and bytes\n"
	"  destroy NAME|FILE [--wait SEC]\n"
	"                                remove everything that topology owns\n"
	"  destroy --taps                remove what killed taps left behind\n"
	"  tap --dev [NETNS/]DEV... [--netns NS] [--direction ingress|egress|both]\n"
	"      [--match KEY=VALUE,...] [-w FILE | --to DEV] [--snaplen N] [--count N]\n"
	"      [--duration SEC] [-- CMD...]\n"
	"                                mirror DEV while CMD runs, into a capture\n"
	"                                file (or to DEV); exit status: CMD's\n"
	"  help                          print this text\n"
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

		const char *at = strstr(m, ": error: ");

		/* "FILE:LINE:COLUMN: error: ..." keeps its place first. */
		if (at && at != m && !memchr(m, ' ', at - m) && (at += 2))
			fprintf(stderr, "%.*s%serror:%s %s\n", (int)(at - m), m,
				color_err ? BOLD_RED : "", color_err ? RESET : "", at + 7);
		else
			fprintf(stderr, "tcspan: %serror:%s %s\n", color_err ? BOLD_RED : "",
				color_err ? RESET : "", m);
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

		const char *hue = c->op == TCSPAN_OP_ADD ? GREEN :
				  c->op == TCSPAN_OP_CHANGE ? YELLOW : RED;

		printf("%s%c %s %s%s%s%s\n", color_out ? hue : "",
		       c->op == TCSPAN_OP_ADD ? '+' : c->op == TCSPAN_OP_CHANGE ? '~' : '-',
		       kind_name(c->kind), c->name, c->detail ? ": " : "",
		       c->detail ? c->detail : "", color_out ? RESET : "");
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

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

/* ---- option parsing shared by the commands ----------------------------- */

struct cmd_opts {
	bool dry_run, detailed_exitcode;
	bool keep_applying, destroy_on_exit;	/* apply --watch [--destroy-on-exit] */
	unsigned int wait;
	unsigned int watch;			/* stats --watch SEC */
	const char *dev;			/* show/stats --dev [NETNS/]DEV */
	int optind;
};

static const char *option_name(const struct option *opts, int c)
{
	for (; opts->name; opts++)
		if (opts->val == c)
			return opts->name;
	return "?";
}

/*
 * The options of the commands; `allowed` says which a command takes.
 * `--watch` takes seconds for stats and nothing for apply ('a'), so apply
 * reads a table of its own.
 */
static int parse_opts(int argc, char **argv, struct cmd_opts *o, const char *allowed)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "detailed-exitcode", no_argument, NULL, 'd' },
		{ "wait", required_argument, NULL, 'W' },
		{ "watch", required_argument, NULL, 'w' },
		{ "dev", required_argument, NULL, 'D' },
		{}
	};
	static const struct option apply_longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "detailed-exitcode", no_argument, NULL, 'd' },
		{ "wait", required_argument, NULL, 'W' },
		{ "watch", no_argument, NULL, 'a' },
		{ "destroy-on-exit", no_argument, NULL, 'x' },
		{ "dev", required_argument, NULL, 'D' },
		{}
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	/* 0: start afresh, and permute, so options may follow FILE or NAME. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", strchr(allowed, 'a') ? apply_longopts :
				longopts, NULL)) != -1) {
		if (c == '?') {
			fprintf(stderr, "tcspan: error: %s: unknown option \"%s\"; see \"tcspan "
				"help\"\n", argv[0], argv[optind - 1]);
			return -1;
		}
		if (c == ':') {
			fprintf(stderr, "tcspan: error: %s: option \"%s\" needs a value\n",
				argv[0], argv[optind - 1]);
			return -1;
		}
		if (!strchr(allowed, c)) {
			fprintf(stderr, "tcspan: error: %s: option \"--%s\" is not one of "
				"this command's\n", argv[0], option_name(longopts, c));
			return -1;
		}
		switch (c) {
		case 'n':
			o->dry_run = true;
			break;
		case 'd':
			o->detailed_exitcode = true;
			break;
		case 'a':
			o->keep_applying = true;
			break;
		case 'x':
			o->destroy_on_exit = true;
			break;
		case 'D':
			o->dev = optarg;
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
	if (o->destroy_on_exit && !o->keep_applying) {
		fprintf(stderr, "tcspan: error: --destroy-on-exit goes with --watch\n");
		return -1;
	}
	if (o->keep_applying && o->dry_run) {
		fprintf(stderr, "tcspan: error: --watch and --dry-run exclude each other\n");
		return -1;
	}
	return 0;
}

/* Whether FILE names something; says so when it does not. */
static bool file_named(const char *path)
{
	if (*path)
		return true;
	fprintf(stderr, "tcspan: error: an empty FILE name\n");
	return false;
}

static struct tcspan_topology *load(const char *path, struct tcspan_error *err)
{
	struct tcspan_topology *topo;

	if (!file_named(path))
		return NULL;
	topo = tcspan_topology__from_file(path, err);

	if (!topo)
		print_errors(err);
	return topo;
}

/* ---- commands ------------------------------------------------------------ */

static int do_validate(int argc, char **argv)
{
	struct tcspan_error *err = tcspan_error__new();
	struct cmd_opts o;
	int i, status = 0;

	if (parse_opts(argc, argv, &o, "") || argc - o.optind < 1) {
		if (argc - o.optind < 1)
			fprintf(stderr, "tcspan: error: validate needs at least one FILE\n");
		tcspan_error__free(err);
		return 1;
	}
	for (i = o.optind; i < argc; i++) {
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

/*
 * Plan `topo` (or the file at `path`, checked while the kernel is read)
 * and, unless only planning, apply it; print what was (or would be) done.
 * `quiet_noop` leaves out "No changes." (apply --watch wakes on its own
 * changes too).  Returns the exit status.
 */
static int converge(const struct tcspan_topology *topo, const char *path,
		    const struct cmd_opts *o, bool apply, bool quiet_noop)
{
	struct tcspan_plan_opts popts = { .sz = sizeof(popts), .lock_timeout = o->wait };
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_plan *plan;
	int status = 1, ret;

	plan = topo ? tcspan_plan__new(topo, &popts, err) :
		      tcspan_plan__new_from_file(path, &popts, err);
	if (!plan) {
		print_errors(err);
		goto out;
	}
	if (!apply || o->dry_run) {
		print_plan(plan, SUMMARY_PLAN);
		status = o->detailed_exitcode && tcspan_plan__change_count(plan) ? 2 : 0;
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
	if (!quiet_noop || tcspan_plan__change_count(plan))
		print_plan(plan, SUMMARY_APPLY);
	fflush(stdout);
	status = 0;
out:
	tcspan_plan__free(plan);
	tcspan_error__free(err);
	return status;
}

static int destroy_topology(const char *name, unsigned int wait)
{
	struct tcspan_plan_opts popts = { .sz = sizeof(popts), .lock_timeout = wait };
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_plan *plan;
	int status = 1;

	plan = tcspan_plan__new_destroy(name, &popts, err);
	if (!plan || tcspan_plan__apply(plan, err)) {
		print_errors(err);
		goto out;
	}
	print_plan(plan, SUMMARY_DESTROY);
	status = 0;
out:
	tcspan_plan__free(plan);
	tcspan_error__free(err);
	return status;
}

/*
 * apply --watch: apply, then sleep until the kernel reports a change in the
 * topology's namespaces and apply again, until SIGINT, SIGTERM or SIGHUP.
 * The signals are blocked and read from a signalfd polled beside the
 * watch, so one that comes during an apply is taken after it (an apply is
 * never cut short) and a stream of notifications cannot keep it waiting.
 * A failed apply is reported and tried again on the next change: the
 * device it missed may come back.
 */
static int keep_applying(const struct tcspan_topology *topo, const struct cmd_opts *o)
{
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_watch *watch = NULL;
	struct signalfd_siginfo si;
	int status, sfd = -1;
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sfd = signalfd(-1, &block, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		fprintf(stderr, "tcspan: error: signalfd: %s\n", strerror(errno));
		status = 1;
		goto out;
	}
	/* The watch comes first, so that no change after the plan is missed. */
	watch = tcspan_watch__new(topo, err);
	if (!watch) {
		print_errors(err);
		status = 1;
		goto out;
	}
	status = converge(topo, NULL, o, true, false);
	if (status)
		goto out;
	if (!quiet)
		fprintf(stderr, "tcspan: watching topology \"%s\"\n",
			tcspan_topology__name(topo));
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = tcspan_watch__fd(watch), .events = POLLIN },
		};

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "tcspan: error: poll: %s\n", strerror(errno));
			status = 1;
			break;
		}
		if (pfd[0].revents && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			stop = 1;
			break;
		}
		tcspan_watch__wait(watch, 0);
		tcspan_watch__free(watch);
		tcspan_error__clear(err);
		watch = tcspan_watch__new(topo, err);
		if (!watch) {
			print_errors(err);
			status = 1;
			break;
		}
		if (converge(topo, NULL, o, true, true) && !quiet)
			fprintf(stderr, "tcspan: trying again on the next change\n");
		malloc_trim(0);
	}
	if (!quiet && stop)
		fprintf(stderr, "tcspan: stopped watching topology \"%s\"\n",
			tcspan_topology__name(topo));
	if (stop && o->destroy_on_exit)
		status = destroy_topology(tcspan_topology__name(topo), o->wait);
out:
	if (sfd >= 0)
		close(sfd);
	tcspan_watch__free(watch);
	tcspan_error__free(err);
	return status;
}

static int plan_or_apply(int argc, char **argv, bool apply)
{
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_topology *topo = NULL;
	struct cmd_opts o;
	int status = 1;

	if (parse_opts(argc, argv, &o, apply ? "nWax" : "dW"))
		goto out;
	if (argc - o.optind != 1) {
		fprintf(stderr, "tcspan: error: %s needs exactly one FILE\n", argv[0]);
		goto out;
	}
	/* --watch needs the topology before its first plan (its watch). */
	if (o.keep_applying) {
		topo = load(argv[o.optind], err);
		if (topo)
			status = keep_applying(topo, &o);
	} else if (file_named(argv[o.optind])) {
		status = converge(NULL, argv[o.optind], &o, apply, false);
	}
out:
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
	struct tcspan_topology *topo = NULL;
	const char *name;
	struct cmd_opts o;
	int status = 1;

	if (argc == 2 && !strcmp(argv[1], "--taps")) {
		struct tap_ui ui = { .quiet = quiet, .color = color_err };
		int n = tap_reap(&ui);

		if (n >= 0 && !quiet)
			printf("Removed what %d killed tap%s left.\n", n, n == 1 ? "" : "s");
		status = n < 0;
		goto out;
	}
	if (parse_opts(argc, argv, &o, "W"))
		goto out;
	if (argc - o.optind != 1) {
		fprintf(stderr, "tcspan: error: destroy takes one topology NAME or FILE\n");
		goto out;
	}
	name = argv[o.optind];
	/* A path names the topology inside it; a topology name has no '/' or '.'. */
	if (strchr(name, '/') || strchr(name, '.')) {
		topo = load(name, err);
		if (!topo)
			goto out;
		name = tcspan_topology__name(topo);
	}
	status = destroy_topology(name, o.wait);
out:
	tcspan_topology__free(topo);
	tcspan_error__free(err);
	return status;
}

/* show/stats --dev: rules taken from DEV or sent to it ("NETNS/DEV" or "DEV"). */
static bool on_dev(const struct tcspan_rule_info *ri, const char *dev)
{
	return !dev || !strcmp(ri->from, dev) || !strcmp(ri->to, dev);
}

/* Columns as wide as their widest cell, like `ip -br`. */
#define SHOW_COLS 9

/* Numbers (`right` set) right-aligned; `hue` colours the last cell. */
static void print_row(const char *const *cells, const int *width, int n,
		      unsigned int right, const char *hue)
{
	int i;

	for (i = 0; i < n - 1; i++)
		printf(right & (1u << i) ? "%*s  " : "%-*s  ", width[i], cells[i]);
	if (right & (1u << i))
		printf("%s%*s%s\n", hue && color_out ? hue : "", width[i], cells[i],
		       hue && color_out ? RESET : "");
	else
		printf("%s%s%s\n", hue && color_out ? hue : "", cells[i],
		       hue && color_out ? RESET : "");
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
	c[7] = r->problem ? r->problem : !r->xdp_mode ? r->datapath :
	       !strcmp(r->xdp_mode, "native") ? "xdp (native)" :
	       !strcmp(r->xdp_mode, "generic") ? "xdp (generic)" : "xdp";
	c[8] = r->fallback ? r->fallback : "";
}

static int do_show(int argc, char **argv)
{
	static const char *const head[SHOW_COLS] = {
		"TOPOLOGY", "RULE", "ACTION", "FROM", "DIRECTION", "TO", "TO_DIR", "DATAPATH",
		"WHY",
	};
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_state *st = NULL;
	int width[SHOW_COLS] = {}, pass, status = 1;
	const char *name;
	struct cmd_opts o;
	size_t t, r, i;
	bool first;

	if (parse_opts(argc, argv, &o, "D"))
		goto fail;
	if (argc - o.optind > 1) {
		fprintf(stderr, "tcspan: error: show takes at most one NAME\n");
		goto fail;
	}
	name = argc - o.optind == 1 ? argv[o.optind] : NULL;
	st = tcspan_state__observe(name, err);
	if (!st) {
		print_errors(err);
		goto fail;
	}
	if (json) {
		printf("{\"topologies\": [");
		for (t = 0; t < tcspan_state__topology_count(st); t++) {
			printf("%s{\"name\": ", t ? ", " : "");
			json_string(tcspan_state__topology_name(st, t));
			printf(", \"rules\": [");
			for (r = 0, first = true; r < tcspan_state__rule_count(st, t); r++) {
				struct tcspan_rule_info ri;

				tcspan_state__rule(st, t, r, &ri);
				if (!on_dev(&ri, o.dev))
					continue;
				printf("%s{\"name\": ", first ? "" : ", ");
				first = false;
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
				printf(", \"xdp_mode\": ");
				if (ri.xdp_mode)
					json_string(ri.xdp_mode);
				else
					printf("null");
				printf(", \"fallback\": ");
				if (ri.fallback)
					json_string(ri.fallback);
				else
					printf("null");
				printf(", \"problem\": ");
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
			printf("], \"devices\": [");
			for (i = 0; i < tcspan_state__device_count(st, t); i++) {
				const char *kind, *dev = tcspan_state__device(st, t, i, &kind);
				size_t k = strcspn(kind, " ");

				printf("%s{\"name\": ", i ? ", " : "");
				json_string(dev);
				printf(", \"kind\": \"%.*s\", \"settings\": ", (int)k, kind);
				json_string(kind + k + (kind[k] == ' '));
				putchar('}');
			}
			printf("]}");
		}
		printf("]}\n");
		goto out;
	}
	if (!tcspan_state__topology_count(st)) {
		if (!quiet)
			printf("tcspan owns nothing%s%s.\n", name ? " named " : "",
			       name ? name : "");
		goto out;
	}
	/* Two passes: measure, then print. */
	for (pass = 0; pass < 2; pass++) {
		if (pass)
			print_row(head, width, SHOW_COLS, 0, NULL);
		else
			widen(width, head, SHOW_COLS);
		for (t = 0; t < tcspan_state__topology_count(st); t++) {
			for (r = 0; r < tcspan_state__rule_count(st, t); r++) {
				struct tcspan_rule_info ri;
				const char *c[SHOW_COLS];

				tcspan_state__rule(st, t, r, &ri);
				if (!on_dev(&ri, o.dev))
					continue;
				c[0] = tcspan_state__topology_name(st, t);
				rule_cells(&ri, c);
				if (pass)
					print_row(c, width, SHOW_COLS, 0, ri.problem ? RED : NULL);
				else
					widen(width, c, SHOW_COLS);
			}
		}
	}
	/* With --dev the question was about rules only. */
	for (t = 0; !o.dev && t < tcspan_state__topology_count(st); t++) {
		if (tcspan_state__namespace_count(st, t)) {
			printf("%s namespaces:", tcspan_state__topology_name(st, t));
			for (i = 0; i < tcspan_state__namespace_count(st, t); i++)
				printf(" %s", tcspan_state__namespace(st, t, i));
			putchar('\n');
		}
		for (i = 0; i < tcspan_state__link_count(st, t); i++)
			printf("%s link: %s\n", tcspan_state__topology_name(st, t),
			       tcspan_state__link(st, t, i));
		for (i = 0; i < tcspan_state__device_count(st, t); i++) {
			const char *kind, *dev = tcspan_state__device(st, t, i, &kind);

			printf("%s device: %s %s\n", tcspan_state__topology_name(st, t), dev, kind);
		}
	}
out:
	status = 0;
fail:
	tcspan_state__free(st);
	tcspan_error__free(err);
	return status;
}

struct counter {
	char *key;
	uint64_t packets, bytes;
};

/* One row of `stats`: TOPOLOGY RULE PACKETS BYTES [PPS BPS], as text. */
#define STATS_COLS 6
#define STATS_NUMBERS 0x3c	/* columns 2-5 are right-aligned */

struct stats_row {
	char cell[STATS_COLS][32];
	const char *topology, *rule;
};

static void print_stats_table(const struct stats_row *rows, size_t n, bool rates)
{
	static const char *const head[STATS_COLS] = {
		"TOPOLOGY", "RULE", "PACKETS", "BYTES", "PPS", "BPS",
	};
	int width[STATS_COLS] = {}, cols = rates ? STATS_COLS : 4;
	const char *c[STATS_COLS];
	size_t r;
	int i;

	widen(width, head, cols);
	for (r = 0; r < n; r++) {
		c[0] = rows[r].topology;
		c[1] = rows[r].rule;
		for (i = 2; i < cols; i++)
			c[i] = rows[r].cell[i];
		widen(width, c, cols);
	}
	print_row(head, width, cols, STATS_NUMBERS, NULL);
	for (r = 0; r < n; r++) {
		c[0] = rows[r].topology;
		c[1] = rows[r].rule;
		for (i = 2; i < cols; i++)
			c[i] = rows[r].cell[i];
		print_row(c, width, cols, STATS_NUMBERS, NULL);
	}
}

/*
 * Print the counters of `name` (NULL: every topology); with `interval`,
 * rates against `prev`, which then holds these counters.  On a terminal,
 * a --watch frame redraws the screen in place, as watch(1) does.
 */
static int print_stats(const char *name, const char *dev, unsigned int interval,
		       bool redraw, struct counter **prev, size_t *n_prev)
{
	struct tcspan_error *err = tcspan_error__new();
	struct stats_row *rows = NULL;
	struct counter *next = NULL;
	size_t n_next = 0, t, r, i;
	struct tcspan_state *st;
	int status = 1;
	bool first;

	st = tcspan_state__observe(name, err);
	if (!st) {
		print_errors(err);
		goto out;
	}
	if (json)
		printf("{\"topologies\": [");
	for (t = 0; t < tcspan_state__topology_count(st); t++) {
		const char *tname = tcspan_state__topology_name(st, t);

		if (json) {
			printf("%s{\"name\": ", t ? ", " : "");
			json_string(tname);
			printf(", \"rules\": [");
		}
		first = true;
		for (r = 0; r < tcspan_state__rule_count(st, t); r++) {
			struct tcspan_rule_info ri;
			double pps = 0, bps = 0;
			struct stats_row *row;
			struct counter *c;

			tcspan_state__rule(st, t, r, &ri);
			if (!on_dev(&ri, dev))
				continue;
			c = realloc(next, (n_next + 1) * sizeof(*c));
			row = realloc(rows, (n_next + 1) * sizeof(*row));
			if (c)
				next = c;
			if (row)
				rows = row;
			if (!c || !row) {
				fprintf(stderr, "tcspan: error: out of memory\n");
				goto out;
			}
			c = &next[n_next];
			row = &rows[n_next++];
			if (asprintf(&c->key, "%s/%s", tname, ri.name) < 0)
				c->key = NULL;
			c->packets = ri.packets;
			c->bytes = ri.bytes;
			for (i = 0; interval && c->key && i < *n_prev; i++) {
				if ((*prev)[i].key && !strcmp((*prev)[i].key, c->key)) {
					pps = (double)(ri.packets - (*prev)[i].packets) / interval;
					bps = (double)(ri.bytes - (*prev)[i].bytes) * 8 / interval;
				}
			}
			row->topology = tname;
			row->rule = ri.name;
			snprintf(row->cell[2], sizeof(row->cell[2]), "%llu",
				 (unsigned long long)ri.packets);
			snprintf(row->cell[3], sizeof(row->cell[3]), "%llu",
				 (unsigned long long)ri.bytes);
			snprintf(row->cell[4], sizeof(row->cell[4]), "%.1f", pps);
			snprintf(row->cell[5], sizeof(row->cell[5]), "%.1f", bps);
			if (json) {
				printf("%s{\"name\": ", first ? "" : ", ");
				first = false;
				json_string(ri.name);
				printf(", \"packets\": %llu, \"bytes\": %llu",
				       (unsigned long long)ri.packets,
				       (unsigned long long)ri.bytes);
				if (interval)
					printf(", \"pps\": %.1f, \"bps\": %.1f", pps, bps);
				putchar('}');
			}
		}
		if (json)
			printf("]}");
	}
	if (json) {
		printf("]}\n");
	} else {
		if (redraw)
			fputs("\033[H\033[J", stdout);
		else if (interval)
			putchar('\n');
		print_stats_table(rows, n_next, interval || redraw);
	}
	fflush(stdout);
	status = 0;
out:
	for (i = 0; i < *n_prev; i++)
		free((*prev)[i].key);
	free(*prev);
	*prev = next;
	*n_prev = n_next;
	free(rows);
	tcspan_state__free(st);
	tcspan_error__free(err);
	return status;
}

static int do_stats(int argc, char **argv)
{
	struct counter *prev = NULL;
	size_t n_prev = 0, i;
	const char *name;
	struct cmd_opts o;
	bool redraw;
	int status;

	if (parse_opts(argc, argv, &o, "wD"))
		return 1;
	if (argc - o.optind > 1) {
		fprintf(stderr, "tcspan: error: stats takes at most one NAME\n");
		return 1;
	}
	name = argc - o.optind == 1 ? argv[o.optind] : NULL;
	/* Frames after the first redraw in place on a terminal, else follow on. */
	redraw = o.watch && !json && isatty(STDOUT_FILENO);
	status = print_stats(name, o.dev, 0, redraw, &prev, &n_prev);
	if (o.watch) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		while (!status && !stop) {
			sleep(o.watch);
			if (stop)
				break;
			status = print_stats(name, o.dev, o.watch, redraw, &prev, &n_prev);
			malloc_trim(0);
		}
	}
	for (i = 0; i < n_prev; i++)
		free(prev[i].key);
	free(prev);
	return status;
}

static int do_tap(int argc, char **argv)
{
	struct tap_ui ui = { .quiet = quiet, .color = color_err };

	return tap_main(argc, argv, &ui);
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
	{ "tap", do_tap },
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
		{ "color", required_argument, NULL, 'C' },
		{}
	};
	const char *when = "auto";
	size_t i;
	int c;

	/*
	 * Keep what is freed for reuse instead of handing it back to the
	 * kernel and faulting it in again (each page costs microseconds in a
	 * VM; a plan of 10,000 rules frees tens of MiB it then needs again).
	 * The --watch loops hand it back after each round (malloc_trim).
	 */
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:jvqhV", longopts, NULL)) != -1) {
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
		case 'C':
			when = optarg;
			break;
		case ':':
			fprintf(stderr, "tcspan: error: option \"%s\" needs a value\n",
				argv[optind - 1]);
			return 1;
		default:
			fprintf(stderr, "tcspan: error: unknown option \"%s\"; see \"tcspan "
				"help\"\n", argv[optind - 1]);
			return 1;
		}
	}
	if (!strcmp(when, "always")) {
		color_out = color_err = true;
	} else if (!strcmp(when, "auto")) {
		/* As ls and git do; NO_COLOR (no-color.org) turns auto off. */
		color_out = !getenv("NO_COLOR") && isatty(STDOUT_FILENO);
		color_err = !getenv("NO_COLOR") && isatty(STDERR_FILENO);
	} else if (strcmp(when, "never")) {
		fprintf(stderr, "tcspan: error: --color: \"%s\" is not auto, always or never\n",
			when);
		return 1;
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

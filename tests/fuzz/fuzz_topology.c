// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: any bytes through what tcspan does with a topology
 * before it touches the kernel.
 *
 *   1. tcspan_topology__from_buffer(): YAML events into the config tree
 *      (config.c) and the schema checks (model.c);
 *   2. when the topology is valid: the namespace check against the
 *      snapshot below (tcspan_model__check_namespaces() with a callback in
 *      place of /run/netns), then plan_compute() for it and, as `destroy`
 *      does, for its name alone;
 *   3. everything freed: LeakSanitizer reports what is not.
 *
 * The kernel is a fixed snapshot made by hand, as tests/unit/test_plan.c
 * makes its own: what `apply configs/lab.yaml` leaves behind, drifted a
 * little, next to devices, namespaces and filters of another topology and
 * of no topology at all.  match.bpf objects are never read: each such rule
 * gets a fake object, as if classifier_object_read() had read it.  Nothing
 * here opens a file, a socket or a namespace.
 *
 * Besides the sanitizers, a few properties of the library's contract are
 * checked, and abort() when broken:
 *   - a refused file has at least one message; a valid one none;
 *   - each message is "fuzz.yaml:LINE:COLUMN: error: ..." (LINE and COLUMN
 *     from 1, LINE at most the input's last line, or the one after it for
 *     its end) or "fuzz.yaml: error: ..." (about the whole file), and
 *     those at a position come sorted by it;
 *   - a plan that fails says why; one that succeeds has its operations in
 *     phase order.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/pkt_cls.h>
#include <linux/tc_act/tc_mirred.h>

#include "classifier.h"
#include "model.h"
#include "plan.h"

#define FILE_NAME "fuzz.yaml"
#define OURS "lab"		/* the topology the snapshot holds most of */
#define OTHER "demo"		/* another topology's */

/* ---- the kernel, as observed --------------------------------------------- */

static struct tcspan_prefix addr(const char *s, uint8_t len)
{
	struct tcspan_prefix p = { .len = len };

	if (inet_pton(AF_INET, s, &p.addr.v4) == 1) {
		p.family = AF_INET;
	} else if (inet_pton(AF_INET6, s, &p.addr.v6) == 1) {
		p.family = AF_INET6;
	} else {
		fprintf(stderr, "fuzz_topology: bad address %s in the snapshot\n", s);
		abort();
	}
	return p;
}

static struct tcspan_prefix lab_a_addrs[2], lab_c_addrs[1], host_addrs[1];

/* The caller's namespace: plain devices, a foreign filter at tcspan's
 * first ingress prio, filters of both topologies on eth0. */
static struct link_dev host_devs[] = {
	{ .ifindex = 1, .name = "lo", .up = true },
	{ .ifindex = 2, .name = "eth0", .up = true },
	{ .ifindex = 3, .name = "eth1", .up = true },
	{ .ifindex = 4, .name = "mon0", .up = true },
	{ .ifindex = 5, .name = "uplink", .kind = "veth", .up = true },
	{ .ifindex = 6, .name = "span0", .kind = "veth" },
	{ .ifindex = 7, .name = "v0", .kind = "veth", .up = true,
	  .alias = "tcspan:" OURS " link v0 lab-b/v0" },
	/* A pair that a killed run left unmarked in its topology's device
	 * group (set below), and one of another topology's. */
	{ .ifindex = 8, .name = "p0", .kind = "veth" },
	{ .ifindex = 9, .name = "p1", .kind = "veth" },
	{ .ifindex = 10, .name = "q0", .kind = "veth" },
};

/* lab-a and lab-c: one end of a link each; lab-c's has lost its address. */
static struct link_dev lab_a_devs[] = {
	{ .ifindex = 1, .name = "lo", .up = true, .alias = "tcspan:" OURS " netns" },
	{ .ifindex = 2, .name = "eth0", .kind = "veth", .up = true,
	  .alias = "tcspan:" OURS " link lab-a/eth0 lab-b/eth-a" },
};

static struct link_dev lab_c_devs[] = {
	{ .ifindex = 1, .name = "lo", .up = true, .alias = "tcspan:" OURS " netns" },
	{ .ifindex = 2, .name = "eth0", .kind = "veth", .up = true,
	  .alias = "tcspan:" OURS " link lab-c/eth0 lab-b/eth-c" },
};

/* lab-b: the bump in the wire, with its rules' filters. */
static struct link_dev lab_b_devs[] = {
	{ .ifindex = 1, .name = "lo", .up = true, .alias = "tcspan:" OURS " netns" },
	{ .ifindex = 2, .name = "eth-a", .kind = "veth", .up = true,
	  .alias = "tcspan:" OURS " link lab-a/eth0 lab-b/eth-a" },
	{ .ifindex = 3, .name = "eth-c", .kind = "veth", .up = true,
	  .alias = "tcspan:" OURS " link lab-c/eth0 lab-b/eth-c" },
	{ .ifindex = 4, .name = "cap0", .kind = "veth", .up = true,
	  .alias = "tcspan:" OURS " link lab-b/cap0 lab-b/cap1" },
	{ .ifindex = 5, .name = "cap1", .kind = "veth", .up = true,
	  .alias = "tcspan:" OURS " link lab-b/cap0 lab-b/cap1" },
	{ .ifindex = 6, .name = "v0", .kind = "veth", .up = true,
	  .alias = "tcspan:" OURS " link v0 lab-b/v0" },
};

/* A namespace of ours that the file may no longer list. */
static struct link_dev lab_old_devs[] = {
	{ .ifindex = 1, .name = "lo", .up = true, .alias = "tcspan:" OURS " netns" },
	{ .ifindex = 2, .name = "old0", .kind = "veth", .up = true,
	  .alias = "tcspan:" OURS " link lab-old/old0 lab-old/old1" },
	{ .ifindex = 3, .name = "old1", .kind = "veth", .up = true,
	  .alias = "tcspan:" OURS " link lab-old/old0 lab-old/old1" },
};

/* Another topology's namespace, and one that no tcspan created. */
static struct link_dev demo_devs[] = {
	{ .ifindex = 1, .name = "lo", .up = true, .alias = "tcspan:" OTHER " netns" },
	{ .ifindex = 2, .name = "eth0", .kind = "veth", .up = true,
	  .alias = "tcspan:" OTHER " link demo-client/eth0 demo-server/eth0" },
	{ .ifindex = 3, .name = "mon0", .kind = "veth", .up = true,
	  .alias = "tcspan:" OTHER " link demo-server/mon0 demo-monitor/eth0" },
};

static struct link_dev foreign_devs[] = {
	{ .ifindex = 1, .name = "lo", .up = true },
	{ .ifindex = 2, .name = "eth0", .kind = "veth", .up = true },
	{ .ifindex = 3, .name = "mon0", .kind = "dummy" },
};

static uint32_t host_clsact[] = { 2, 3 };
static uint32_t lab_b_clsact[] = { 2, 3, 5, 6 };
static uint32_t demo_clsact[] = { 2 };
static uint32_t foreign_clsact[] = { 2 };

static struct tc_filter host_filters[8], lab_b_filters[16], demo_filters[2],
	foreign_filters[2];

static struct observed_netns namespaces[7];
static struct observed observed;

static struct meta_entry lab_meta[12], demo_meta[2];
static size_t n_lab_meta, n_demo_meta;

/* The root entry that a dump lists for a u32 instance at `prio`. */
static struct tc_filter u32_root(uint32_t ifindex, unsigned int hook, uint16_t prio)
{
	struct tc_filter f = {
		.ifindex = ifindex, .hook = hook, .prio = prio, .handle = 0x80000000,
		.protocol = 0x0003, .kind = "u32",
	};

	return f;
}

/* A match-all u32 filter with one mirred action; `topology` NULL: no
 * cookie of tcspan's. */
static struct tc_filter u32_mirred(uint32_t ifindex, unsigned int hook, uint16_t prio,
				   uint32_t node, int eaction, uint32_t target,
				   const char *topology, const char *rule)
{
	struct tc_filter f = u32_root(ifindex, hook, prio);

	f.handle = 0x80000000 | node;
	f.has_mirred = true;
	f.mirred.eaction = eaction;
	f.mirred.ifindex = target;
	f.mirred.verdict = eaction == TCA_EGRESS_MIRROR || eaction == TCA_INGRESS_MIRROR ?
			   TC_ACT_UNSPEC : TC_ACT_STOLEN;
	f.packets = 12;
	f.bytes = 1234;
	if (topology) {
		f.ours = true;
		f.cookie.topology_id = meta_id(topology);
		f.cookie.rule_id = meta_id(rule);
		f.cookie.spec = hook;
	}
	return f;
}

/* A cls_bpf filter of ours, its cookie carrying `hash`. */
static struct tc_filter bpf_mirred(uint32_t ifindex, unsigned int hook, uint16_t prio,
				   int eaction, uint32_t target, const char *topology,
				   const char *rule, uint32_t hash)
{
	struct tc_filter f = u32_mirred(ifindex, hook, prio, 0, eaction, target, topology,
					rule);

	snprintf(f.kind, sizeof(f.kind), "bpf");
	f.handle = TC_BPF_HANDLE;
	f.protocol = 0x0003;
	f.prog_id = 42;
	f.cookie.spec = TC_COOKIE_SPEC(hook, hash);
	snprintf(f.bpf_name, sizeof(f.bpf_name), "tcspan:%s:%s", topology, rule);
	return f;
}

static void meta(struct meta_entry *v, size_t *n, uint32_t kind, const char *text)
{
	v[*n].kind = kind;
	v[*n].id = meta_id(text);
	snprintf(v[*n].text, sizeof(v[*n].text), "%s", text);
	(*n)++;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void ns(size_t i, const char *name, const char *owner, struct link_dev *devs,
	       size_t n_devs, uint32_t *clsact, size_t n_clsact, struct tc_filter *filters,
	       size_t n_filters)
{
	snprintf(namespaces[i].name, sizeof(namespaces[i].name), "%s", name);
	snprintf(namespaces[i].owner, sizeof(namespaces[i].owner), "%s", owner);
	namespaces[i].links.devs = devs;
	namespaces[i].links.count = n_devs;
	namespaces[i].clsact = clsact;
	namespaces[i].n_clsact = n_clsact;
	namespaces[i].filters = filters;
	namespaces[i].n_filters = n_filters;
}

static void snapshot(void)
{
	struct tcspan_match web = {
		.has_protocol = true, .protocol = 6,
		.has_dst_port = true, .dst_port = { 443, 443 },
	};
	size_t n;

	lab_a_addrs[0] = addr("198.18.8.1", 24);
	lab_a_addrs[1] = addr("2001:db8:8::1", 64);
	lab_c_addrs[0] = addr("198.18.8.3", 24);
	host_addrs[0] = addr("198.18.4.1", 24);
	lab_a_devs[1].addresses = lab_a_addrs;
	lab_a_devs[1].n_addresses = 1;		/* the v6 one is missing */
	lab_c_devs[1].addresses = lab_c_addrs;
	lab_c_devs[1].n_addresses = 0;		/* lost */
	host_devs[4].addresses = host_addrs;
	host_devs[4].n_addresses = 1;
	host_devs[7].group = host_devs[8].group = link_unfinished_group(OURS);
	host_devs[9].group = link_unfinished_group(OTHER);

	/* Caller's namespace: a foreign u32 filter where tcspan starts on
	 * eth0 ingress, a rule of ours above it, another topology's rule on
	 * egress, a foreign filter of another kind on eth1. */
	n = 0;
	host_filters[n++] = u32_root(2, TCSPAN_HOOK_INGRESS, TCSPAN_PRIO_INGRESS);
	host_filters[n++] = u32_mirred(2, TCSPAN_HOOK_INGRESS, TCSPAN_PRIO_INGRESS, 1,
				       TCA_EGRESS_MIRROR, 4, NULL, NULL);
	host_filters[n++] = u32_root(2, TCSPAN_HOOK_INGRESS, TCSPAN_PRIO_INGRESS + 1);
	host_filters[n++] = u32_mirred(2, TCSPAN_HOOK_INGRESS, TCSPAN_PRIO_INGRESS + 1, 1,
				       TCA_EGRESS_MIRROR, 4, OURS, "tap");
	host_filters[n++] = u32_root(2, TCSPAN_HOOK_EGRESS, TCSPAN_PRIO_EGRESS);
	host_filters[n++] = u32_mirred(2, TCSPAN_HOOK_EGRESS, TCSPAN_PRIO_EGRESS, 1,
				       TCA_EGRESS_MIRROR, 4, OTHER, "tap");
	host_filters[n] = u32_root(3, TCSPAN_HOOK_INGRESS, 1);
	snprintf(host_filters[n++].kind, sizeof(host_filters[0].kind), "flower");
	ns(0, "", "", host_devs, N(host_devs), host_clsact, N(host_clsact), host_filters, n);

	ns(1, "lab-a", OURS, lab_a_devs, N(lab_a_devs), NULL, 0, NULL, 0);

	/* lab-b: configs/lab.yaml's two rules as applied, a match rule "web",
	 * a stale node of ours in a prio that is still in use, and a prio of
	 * ours that a foreign filter and another topology's have joined. */
	n = 0;
	lab_b_filters[n++] = u32_root(2, TCSPAN_HOOK_INGRESS, TCSPAN_PRIO_INGRESS);
	lab_b_filters[n++] = u32_mirred(2, TCSPAN_HOOK_INGRESS, TCSPAN_PRIO_INGRESS, 1,
					TCA_EGRESS_REDIR, 3, OURS, "a-to-c");
	lab_b_filters[n++] = u32_mirred(2, TCSPAN_HOOK_INGRESS, TCSPAN_PRIO_INGRESS, 2,
					TCA_EGRESS_MIRROR, 4, OURS, "gone");
	lab_b_filters[n++] = bpf_mirred(2, TCSPAN_HOOK_INGRESS, TCSPAN_PRIO_INGRESS + 1,
					TCA_EGRESS_MIRROR, 4, OURS, "web",
					classifier_match_hash(&web));
	lab_b_filters[n++] = u32_root(3, TCSPAN_HOOK_INGRESS, TCSPAN_PRIO_INGRESS);
	lab_b_filters[n++] = u32_mirred(3, TCSPAN_HOOK_INGRESS, TCSPAN_PRIO_INGRESS, 1,
					TCA_INGRESS_REDIR, 4, OURS, "c-quarantine");
	lab_b_filters[n++] = u32_root(6, TCSPAN_HOOK_EGRESS, TCSPAN_PRIO_EGRESS);
	lab_b_filters[n++] = u32_mirred(6, TCSPAN_HOOK_EGRESS, TCSPAN_PRIO_EGRESS, 1,
					TCA_EGRESS_MIRROR, 5, OURS, "v0-out");
	lab_b_filters[n++] = u32_root(5, TCSPAN_HOOK_EGRESS, TCSPAN_PRIO_EGRESS);
	lab_b_filters[n++] = u32_mirred(5, TCSPAN_HOOK_EGRESS, TCSPAN_PRIO_EGRESS, 1,
					TCA_EGRESS_MIRROR, 4, OURS, "cap-out");
	lab_b_filters[n++] = u32_mirred(5, TCSPAN_HOOK_EGRESS, TCSPAN_PRIO_EGRESS, 2,
					TCA_EGRESS_MIRROR, 4, NULL, NULL);
	lab_b_filters[n++] = u32_mirred(5, TCSPAN_HOOK_EGRESS, TCSPAN_PRIO_EGRESS, 3,
					TCA_EGRESS_REDIR, 4, OTHER, "cap-out");
	ns(2, "lab-b", OURS, lab_b_devs, N(lab_b_devs), lab_b_clsact, N(lab_b_clsact),
	   lab_b_filters, n);

	ns(3, "lab-c", OURS, lab_c_devs, N(lab_c_devs), NULL, 0, NULL, 0);
	ns(4, "lab-old", OURS, lab_old_devs, N(lab_old_devs), NULL, 0, NULL, 0);

	n = 0;
	demo_filters[n++] = u32_root(2, TCSPAN_HOOK_INGRESS, TCSPAN_PRIO_INGRESS);
	demo_filters[n++] = u32_mirred(2, TCSPAN_HOOK_INGRESS, TCSPAN_PRIO_INGRESS, 1,
				       TCA_EGRESS_MIRROR, 3, OTHER, "server-span");
	ns(5, "demo-server", OTHER, demo_devs, N(demo_devs), demo_clsact, N(demo_clsact),
	   demo_filters, n);

	n = 0;
	foreign_filters[n++] = u32_root(2, TCSPAN_HOOK_EGRESS, TCSPAN_PRIO_EGRESS);
	foreign_filters[n++] = u32_mirred(2, TCSPAN_HOOK_EGRESS, TCSPAN_PRIO_EGRESS, 1,
					  TCA_EGRESS_MIRROR, 3, NULL, NULL);
	ns(6, "foreign", "", foreign_devs, N(foreign_devs), foreign_clsact, N(foreign_clsact),
	   foreign_filters, n);

	observed.ns = namespaces;
	observed.n_ns = N(namespaces);

	/* The names kept in the kernel: a rule whose filter is gone ("ghost"),
	 * one whose name is missing ("v0-out" has none). */
	meta(lab_meta, &n_lab_meta, TCSPAN_META_RULE, "tap");
	meta(lab_meta, &n_lab_meta, TCSPAN_META_RULE, "a-to-c");
	meta(lab_meta, &n_lab_meta, TCSPAN_META_RULE, "c-quarantine");
	meta(lab_meta, &n_lab_meta, TCSPAN_META_RULE, "web");
	meta(lab_meta, &n_lab_meta, TCSPAN_META_RULE, "ghost");
	meta(lab_meta, &n_lab_meta, TCSPAN_META_RULE, "cap-out");
	meta(lab_meta, &n_lab_meta, TCSPAN_META_CLSACT, "lab-b/eth-a");
	meta(lab_meta, &n_lab_meta, TCSPAN_META_CLSACT, "lab-b/eth-c");
	meta(lab_meta, &n_lab_meta, TCSPAN_META_CLSACT, "eth1");
	meta(demo_meta, &n_demo_meta, TCSPAN_META_RULE, "server-span");
	meta(demo_meta, &n_demo_meta, TCSPAN_META_CLSACT, "demo-server/eth0");
}

/* Namespaces "exist" when the snapshot has them. */
static bool snapshot_has_netns(const char *netns, void *ctx)
{
	return observed__netns(&observed, netns) != NULL;
}

/* ---- the library's contract ---------------------------------------------- */

static void broken(const char *what, const struct tcspan_error *err, size_t i)
{
	fprintf(stderr, "fuzz_topology: %s\n", what);
	if (err && i < tcspan_error__count(err))
		fprintf(stderr, "  message %zu: %s\n", i, tcspan_error__message(err, i));
	abort();
}

/*
 * Lines as libyaml counts them (\n, \r, NEL, LS, PS), generously, plus
 * one: libyaml puts the end of an input that does not end in a line break
 * on a line of its own.  The largest line number a message may give.
 */
static unsigned long max_line(const uint8_t *data, size_t size)
{
	unsigned long n = 2;
	size_t i;

	/* UTF-16 (a BOM): every character is two bytes or more. */
	if (size >= 2 && ((data[0] == 0xff && data[1] == 0xfe) ||
			  (data[0] == 0xfe && data[1] == 0xff)))
		return size / 2 + 2;
	for (i = 0; i < size; i++) {
		if (data[i] == '\n' || data[i] == '\r')
			n++;
		else if (data[i] == 0xc2 && i + 1 < size && data[i + 1] == 0x85)
			n++;
		else if (data[i] == 0xe2 && i + 2 < size && data[i + 1] == 0x80 &&
			 (data[i + 2] == 0xa8 || data[i + 2] == 0xa9))
			n++;
	}
	return n;
}

/*
 * Message i of err: "FILE:LINE:COLUMN: error: ..." with its position in
 * *line and *column, or "FILE: error: ..." (0, 0).  `plain` also accepts
 * the planner's "error: ..." for what has no place in the file.
 */
static void check_message(const struct tcspan_error *err, size_t i, unsigned long lines,
			  bool plain, unsigned long *line, unsigned long *column)
{
	const char *m = tcspan_error__message(err, i);
	const char *p;
	char *end;

	*line = *column = 0;
	if (!m)
		broken("a message is NULL", err, i);
	if (plain && !strncmp(m, "error: ", 7))
		return;
	if (strncmp(m, FILE_NAME ":", strlen(FILE_NAME ":")))
		broken("a message does not start with the file's name", err, i);
	p = m + strlen(FILE_NAME ":");
	if (!strncmp(p, " error: ", 8))
		return;
	if (*p < '1' || *p > '9')
		broken("a message has no LINE:COLUMN from 1", err, i);
	*line = strtoul(p, &end, 10);
	if (*end != ':' || end[1] < '1' || end[1] > '9')
		broken("a message has no COLUMN from 1", err, i);
	*column = strtoul(end + 1, &end, 10);
	if (strncmp(end, ": error: ", 9))
		broken("a message's position is not followed by \": error: \"", err, i);
	if (*line > lines)
		broken("a message names a line past the end of the input", err, i);
}

/*
 * A refused file: at least one message, each well formed, those at a
 * position sorted by it.  Those about the whole file may come anywhere:
 * "larger than 16 MiB" first, "more than N problems" and "out of memory"
 * after the rest.
 */
static void check_refused(const struct tcspan_error *err, unsigned long lines)
{
	unsigned long line, column, last_line = 0, last_column = 0;
	size_t i, n = tcspan_error__count(err);

	if (!n)
		broken("a refused file has no message", NULL, 0);
	for (i = 0; i < n; i++) {
		check_message(err, i, lines, false, &line, &column);
		if (!line)
			continue;
		if (line < last_line || (line == last_line && column < last_column))
			broken("a file's messages are not sorted by position", err, i);
		last_line = line;
		last_column = column;
	}
}

static void check_plan(int ret, const struct plan_result *res,
		       const struct tcspan_error *err, size_t first, unsigned long lines)
{
	unsigned long line, column;
	size_t i, n = tcspan_error__count(err);

	for (i = first; i < n; i++)
		check_message(err, i, lines, true, &line, &column);
	if (ret) {
		if (ret != -ENOMEM && n == first)
			broken("a plan failed without a message", NULL, 0);
		if (res->n_ops || res->n_changes)
			broken("a failed plan kept operations", NULL, 0);
		return;
	}
	for (i = 1; i < res->n_ops; i++)
		if (res->ops[i].type < res->ops[i - 1].type)
			broken("a plan's operations are not in phase order", NULL, 0);
	for (i = 0; i < res->n_ops; i++) {
		const struct kop *op = &res->ops[i];

		if ((op->type == KOP_FILTER_ADD || op->type == KOP_FILTER_REPLACE) &&
		    (!op->rule || op->prio < TCSPAN_PRIO_INGRESS ||
		     (op->bpf && !op->match) || (!op->bpf && op->match)))
			broken("a filter operation is incomplete", NULL, 0);
	}
	for (i = 0; i < res->n_changes; i++)
		if (!res->changes[i].name)
			broken("a change has no name", NULL, 0);
}

/* ---- one input ------------------------------------------------------------- */

/* The pure functions that print what the model holds. */
static void print_model(const struct tcspan_topology *t)
{
	char buf[INET6_ADDRSTRLEN + TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 8];
	size_t i, j;

	for (i = 0; i < t->n_rules; i++) {
		const struct tcspan_match *m = &t->rules[i].match;
		struct tcspan_match_cfg cfg;

		tcspan_endpoint__str(&t->rules[i].from, buf, sizeof(buf));
		tcspan_endpoint__str(&t->rules[i].to, buf, sizeof(buf));
		if (!t->rules[i].has_match)
			continue;
		for (j = 0; j < m->n_src; j++)
			tcspan_prefix__str(&m->src[j], buf, sizeof(buf));
		for (j = 0; j < m->n_dst; j++)
			tcspan_prefix__str(&m->dst[j], buf, sizeof(buf));
		classifier_cfg(m, &cfg);
		if (classifier_sample_flows(m) == 0)
			broken("a rule's flow table has no entry", NULL, 0);
	}
	for (i = 0; i < t->n_links; i++) {
		for (j = 0; j < t->links[i].a.n_addresses; j++)
			tcspan_prefix__str(&t->links[i].a.addresses[j], buf, sizeof(buf));
		for (j = 0; j < t->links[i].b.n_addresses; j++)
			tcspan_prefix__str(&t->links[i].b.addresses[j], buf, sizeof(buf));
	}
}

static void plan_topology(const struct tcspan_topology *topo, struct tcspan_error *err,
			  unsigned long lines)
{
	static const char fake_elf[] = "\177ELF";
	struct classifier_object *objects;
	struct meta_store store = { .fd = -1 };
	struct meta_entry *m = NULL;
	struct plan_result res;
	size_t i, n_meta = 0, first;
	int ret;

	/* tcspan_plan__new() refuses a topology whose namespaces are missing
	 * before it plans; so does this. */
	first = tcspan_error__count(err);
	if (tcspan_model__check_namespaces(topo, snapshot_has_netns, NULL, err)) {
		check_refused(err, lines);
		return;
	}
	if (tcspan_error__count(err) != first)
		broken("a namespace check that passed left a message", err, first);

	/* The topology's metadata map, as meta_read() would find it. */
	if (!strcmp(topo->name, OURS)) {
		m = lab_meta;
		n_meta = n_lab_meta;
	} else if (!strcmp(topo->name, OTHER)) {
		m = demo_meta;
		n_meta = n_demo_meta;
	}

	/* match.bpf: as if read, hashed over the path and program name. */
	objects = calloc(topo->n_rules + 1, sizeof(*objects));
	if (!objects)
		return;
	for (i = 0; i < topo->n_rules; i++) {
		const struct tcspan_match *mt = &topo->rules[i].match;

		if (!topo->rules[i].has_match || !mt->has_bpf)
			continue;
		objects[i].data = (void *)fake_elf;
		objects[i].size = sizeof(fake_elf) - 1;
		objects[i].program = mt->bpf_program ? mt->bpf_program : "cls";
		objects[i].hash = (meta_id(mt->bpf_object ? mt->bpf_object : "") ^
				   meta_id(objects[i].program)) & 0x3fffffff;
	}

	store.entries = m;
	store.count = n_meta;
	if (meta_store__index(&store))
		goto out;
	ret = plan_compute(topo, topo->name, &observed, &store, m != NULL, objects, &res,
			   err);
	check_plan(ret, &res, err, first, lines);
	plan_result__free(&res);

	/* `destroy NAME`: the same name, nothing desired. */
	first = tcspan_error__count(err);
	ret = plan_compute(NULL, topo->name, &observed, &store, m != NULL, NULL, &res, err);
	check_plan(ret, &res, err, first, lines);
	plan_result__free(&res);
out:
	free(store.sorted);
	free(objects);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct tcspan_error *err;
	struct tcspan_topology *topo;
	unsigned long lines;

	if (!ready) {
		snapshot();
		ready = true;
	}
	err = tcspan_error__new();
	if (!err)
		return 0;
	lines = max_line(data, size);
	errno = 0;
	topo = tcspan_topology__from_buffer(FILE_NAME, (const char *)data, size, err);
	if (!topo) {
		if (errno != EINVAL && errno != ENOMEM)
			broken("a refused file did not set errno to EINVAL", err, 0);
		check_refused(err, lines);
	} else {
		if (tcspan_error__count(err))
			broken("a valid file left a message", err, 0);
		if (strcmp(tcspan_topology__name(topo), topo->name) ||
		    tcspan_topology__rule_count(topo) != topo->n_rules)
			broken("the topology's accessors disagree with it", NULL, 0);
		print_model(topo);
		plan_topology(topo, err, lines);
	}
	tcspan_topology__free(topo);
	tcspan_error__free(err);
	return 0;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * plan_compute() without a kernel: hand-made snapshots in, operations and
 * user-visible changes out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <linux/pkt_cls.h>
#include <linux/tc_act/tc_mirred.h>

#include "classifier.h"
#include "plan.h"
#include "unit.h"

#define TOPO "lab"

/* The caller's namespace with eth0 (ifindex 2) and mon0 (ifindex 3). */
static struct link_dev devs[] = {
	{ .ifindex = 1, .name = "lo" },
	{ .ifindex = 2, .name = "eth0", .up = true },
	{ .ifindex = 3, .name = "mon0", .up = true },
	{ .ifindex = 4, .name = "mon1", .up = true },
	{ .ifindex = 5, .name = "peer0", .up = true },	/* mon0's other end */
	{ .ifindex = 6, .name = "peer1", .up = true },	/* mon1's other end */
};

struct fixture {
	struct tcspan_topology topo;
	struct tcspan_rule rules[8];
	struct tcspan_namespace namespaces[2];
	struct observed_netns ns[2];
	struct observed obs;
	uint32_t clsact[1];
	struct tc_filter filters[8];
	struct meta_entry meta[8];
	size_t n_meta;
	struct classifier_object objects[8];	/* match.bpf, as if read */
	struct tcspan_link links[2];		/* mon0 -- peer0, mon1 -- peer1 */
	struct xdp_prog xdp[2];			/* observed XDP programs */
	struct xdp_entry entries[2];
	struct plan_result res;
	struct tcspan_error *err;
};

static void rule(struct fixture *f, size_t i, const char *name, enum tcspan_action action,
		 unsigned int hooks)
{
	struct tcspan_rule *r = &f->rules[i];

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->action = action;
	snprintf(r->from.dev, sizeof(r->from.dev), "eth0");
	snprintf(r->to.dev, sizeof(r->to.dev), "mon0");
	r->hooks = hooks;
	r->to_hook = TCSPAN_HOOK_EGRESS;
	/* The tc layout is what most tests look at; XDP tests say auto. */
	r->datapath = TCSPAN_DATAPATH_TC;
	r->index = i;
	r->mark.line = 10 + i;
	r->mark.column = 5;
	f->topo.n_rules = i + 1;
}

static void setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->topo.file = "lab.yaml";
	snprintf(f->topo.name, sizeof(f->topo.name), TOPO);
	f->topo.rules = f->rules;
	f->topo.namespaces = f->namespaces;
	f->ns[0].links.devs = devs;
	f->ns[0].links.count = sizeof(devs) / sizeof(devs[0]);
	f->obs.ns = f->ns;
	f->obs.n_ns = 1;
	f->err = tcspan_error__new();
}

/* An observed filter of ours for rule `name` at (prio, node) on eth0. */
static struct tc_filter *our_filter(struct fixture *f, size_t i, const char *name,
				    uint16_t prio, uint32_t node, uint32_t target)
{
	struct tc_filter *t = &f->filters[i];

	memset(t, 0, sizeof(*t));
	t->ifindex = 2;
	t->hook = TCSPAN_HOOK_INGRESS;
	t->prio = prio;
	t->handle = 0x80000000 | node;
	snprintf(t->kind, sizeof(t->kind), "u32");
	t->has_mirred = true;
	t->mirred.eaction = TCA_EGRESS_MIRROR;
	t->mirred.ifindex = target;
	t->mirred.verdict = TC_ACT_UNSPEC;
	t->ours = true;
	t->cookie.topology_id = meta_id(TOPO);
	t->cookie.rule_id = meta_id(name);
	t->cookie.spec = t->hook;
	f->ns[0].filters = f->filters;
	f->ns[0].n_filters = i + 1;
	f->clsact[0] = 2;
	f->ns[0].clsact = f->clsact;
	f->ns[0].n_clsact = 1;
	return t;
}

static void meta(struct fixture *f, uint32_t kind, const char *text)
{
	struct meta_entry *e = &f->meta[f->n_meta++];

	e->kind = kind;
	e->id = meta_id(text);
	snprintf(e->text, sizeof(e->text), "%s", text);
}

static int run(struct fixture *f, bool destroy)
{
	struct meta_store meta = { .fd = -1, .entries = f->meta, .count = f->n_meta };
	int ret = meta_store__index(&meta);

	if (!ret)
		ret = plan_compute(destroy ? NULL : &f->topo, TOPO, &f->obs, &meta,
				   f->n_meta > 0, f->objects, &f->res, f->err);
	free(meta.sorted);
	return ret;
}

static void teardown(struct fixture *f)
{
	plan_result__free(&f->res);
	tcspan_error__free(f->err);
}

static size_t count_ops(const struct fixture *f, enum kop_type type)
{
	size_t i, n = 0;

	for (i = 0; i < f->res.n_ops; i++)
		n += f->res.ops[i].type == type;
	return n;
}

static const struct kop *find_op(const struct fixture *f, enum kop_type type, size_t nth)
{
	size_t i;

	for (i = 0; i < f->res.n_ops; i++)
		if (f->res.ops[i].type == type && nth-- == 0)
			return &f->res.ops[i];
	return NULL;
}

/* The nth META op of `type` for an entry of `kind` with `text`, or NULL. */
static const struct kop *meta_op_of(const struct fixture *f, enum kop_type type,
				    uint32_t kind, const char *text)
{
	size_t i;

	for (i = 0; i < f->res.n_ops; i++)
		if (f->res.ops[i].type == type && f->res.ops[i].meta_kind == kind &&
		    !strcmp(f->res.ops[i].text, text))
			return &f->res.ops[i];
	return NULL;
}

static size_t count_meta(const struct fixture *f, enum kop_type type, uint32_t kind)
{
	size_t i, n = 0;

	for (i = 0; i < f->res.n_ops; i++)
		n += f->res.ops[i].type == type && f->res.ops[i].meta_kind == kind;
	return n;
}

/* The id of the REASON entry the plan writes for `text` (0: none). */
static uint32_t reason_id(const struct fixture *f, const char *text)
{
	const struct kop *op = meta_op_of(f, KOP_META_SET, TCSPAN_META_REASON, text);

	return op ? op->meta_id : 0;
}

/* A metadata entry as the kernel holds it. */
static void meta_entry(struct fixture *f, uint32_t kind, uint32_t id, const char *text,
		       uint32_t ref)
{
	struct meta_entry *e = &f->meta[f->n_meta++];

	e->kind = kind;
	e->id = id;
	e->ref = ref;
	snprintf(e->text, sizeof(e->text), "%s", text);
}

static void test_add_to_empty(void)
{
	struct fixture f;
	const struct kop *op;
	int ret;

	setup(&f);
	rule(&f, 0, "tap", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	ret = run(&f, false);
	op = find_op(&f, KOP_FILTER_ADD, 0);
	unit_result(ret == 0 && f.res.n_changes == 1 &&
		    f.res.changes[0].op == TCSPAN_OP_ADD &&
		    f.res.changes[0].kind == TCSPAN_KIND_RULE &&
		    !strcmp(f.res.changes[0].name, "tap"),
		    "plan: a new rule is one add", "ret %d, %zu changes", ret, f.res.n_changes);
	unit_result(count_ops(&f, KOP_CLSACT_ADD) == 1 && count_ops(&f, KOP_META_CREATE) == 1 &&
		    op && op->prio == TCSPAN_PRIO_INGRESS && op->handle == 1 && op->new_prio &&
		    op->mirred.eaction == TCA_EGRESS_MIRROR &&
		    op->mirred.verdict == TC_ACT_UNSPEC && op->mirred.ifindex == 3 &&
		    op->hook == TCSPAN_HOOK_INGRESS,
		    "plan: add creates clsact, metadata and a u32 filter at node 1",
		    "op %p", (void *)op);
	/* Operations come in phase order. */
	unit_result(f.res.ops[0].type == KOP_META_CREATE &&
		    f.res.ops[f.res.n_ops - 1].type == KOP_FILTER_ADD,
		    "plan: operations are ordered by phase", "first %d last %d",
		    f.res.ops[0].type, f.res.ops[f.res.n_ops - 1].type);
	teardown(&f);
}

static void test_noop(void)
{
	struct fixture f;
	int ret;

	setup(&f);
	rule(&f, 0, "tap", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	our_filter(&f, 0, "tap", TCSPAN_PRIO_INGRESS, 1, 3);
	meta(&f, TCSPAN_META_RULE, "tap");
	meta(&f, TCSPAN_META_CLSACT, "eth0");
	ret = run(&f, false);
	unit_result(ret == 0 && f.res.n_changes == 0 && f.res.n_ops == 0,
		    "plan: an unchanged system plans nothing", "ret %d, %zu changes, %zu ops",
		    ret, f.res.n_changes, f.res.n_ops);
	teardown(&f);
}

static void test_change(void)
{
	struct fixture f;
	const struct kop *op;
	int ret;

	setup(&f);
	rule(&f, 0, "tap", TCSPAN_ACTION_REDIRECT, TCSPAN_HOOK_INGRESS);
	our_filter(&f, 0, "tap", TCSPAN_PRIO_INGRESS, 1, 3);
	meta(&f, TCSPAN_META_RULE, "tap");
	ret = run(&f, false);
	op = find_op(&f, KOP_FILTER_REPLACE, 0);
	unit_result(ret == 0 && f.res.n_changes == 1 &&
		    f.res.changes[0].op == TCSPAN_OP_CHANGE && op &&
		    op->handle == 0x80000001 && op->mirred.eaction == TCA_EGRESS_REDIR &&
		    op->mirred.verdict == TC_ACT_STOLEN &&
		    op->old.mirred.eaction == TCA_EGRESS_MIRROR &&
		    count_ops(&f, KOP_FILTER_ADD) == 0 && count_ops(&f, KOP_FILTER_DEL) == 0,
		    "plan: a changed rule is one replace, keeping the old for undo",
		    "ret %d, %zu changes", ret, f.res.n_changes);
	teardown(&f);
}

static void test_remove(void)
{
	struct fixture f;
	int ret;

	setup(&f);
	our_filter(&f, 0, "gone", TCSPAN_PRIO_INGRESS, 1, 3);
	meta(&f, TCSPAN_META_RULE, "gone");
	ret = run(&f, false);
	unit_result(ret == 0 && f.res.n_changes == 1 &&
		    f.res.changes[0].op == TCSPAN_OP_REMOVE &&
		    !strcmp(f.res.changes[0].name, "gone") &&
		    count_ops(&f, KOP_FILTER_DEL) == 1 && count_ops(&f, KOP_PRIO_DEL) == 1 &&
		    count_ops(&f, KOP_META_DEL) == 1,
		    "plan: a rule gone from the file is removed with its name",
		    "ret %d, %zu changes", ret, f.res.n_changes);
	teardown(&f);
}

static void test_destroy(void)
{
	struct fixture f;
	int ret;

	setup(&f);
	our_filter(&f, 0, "tap", TCSPAN_PRIO_INGRESS, 1, 3);
	meta(&f, TCSPAN_META_RULE, "tap");
	ret = run(&f, true);
	unit_result(ret == 0 && f.res.n_changes == 1 && count_ops(&f, KOP_META_REMOVE) == 1 &&
		    f.res.ops[f.res.n_ops - 1].type == KOP_META_REMOVE,
		    "plan: destroy removes the rules, then the metadata",
		    "ret %d, %zu changes", ret, f.res.n_changes);
	teardown(&f);
}

/* A clsact of ours that goes takes our filters with it: their deletes are
 * not sent (covered) but kept for the undo; a foreign filter keeps both. */
static void test_destroy_covered(void)
{
	struct fixture f;
	const struct kop *del, *prio, *qdisc;
	struct tc_filter *t;
	int ret;

	setup(&f);
	our_filter(&f, 0, "tap", TCSPAN_PRIO_INGRESS, 1, 3);
	our_filter(&f, 1, "tap2", TCSPAN_PRIO_INGRESS, 2, 3);
	meta(&f, TCSPAN_META_RULE, "tap");
	meta(&f, TCSPAN_META_RULE, "tap2");
	meta(&f, TCSPAN_META_CLSACT, "eth0");
	ret = run(&f, true);
	del = find_op(&f, KOP_FILTER_DEL, 1);
	prio = find_op(&f, KOP_PRIO_DEL, 0);
	qdisc = find_op(&f, KOP_CLSACT_DEL, 0);
	unit_result(ret == 0 && count_ops(&f, KOP_FILTER_DEL) == 2 && del && prio && qdisc &&
		    qdisc->cover == 1 && find_op(&f, KOP_FILTER_DEL, 0)->cover == 1 &&
		    del->cover == 1 && prio->cover == 1 && !strcmp(del->old.kind, "u32"),
		    "plan: destroy deletes our clsact; our filters' deletes are left to it, "
		    "kept for the undo", "ret %d, cover %u %u %u", ret, del ? del->cover : 99,
		    prio ? prio->cover : 99, qdisc ? qdisc->cover : 99);
	teardown(&f);

	setup(&f);
	our_filter(&f, 0, "tap", TCSPAN_PRIO_INGRESS, 1, 3);
	t = our_filter(&f, 1, "other", 5, 1, 3);
	t->ours = false;
	meta(&f, TCSPAN_META_RULE, "tap");
	meta(&f, TCSPAN_META_CLSACT, "eth0");
	ret = run(&f, true);
	del = find_op(&f, KOP_FILTER_DEL, 0);
	unit_result(ret == 0 && count_ops(&f, KOP_CLSACT_DEL) == 0 && del && !del->cover &&
		    count_ops(&f, KOP_FILTER_DEL) == 1,
		    "plan: with a foreign filter on it, the clsact stays and our filter's "
		    "delete is sent", "ret %d, %zu clsact deletes, cover %u", ret,
		    count_ops(&f, KOP_CLSACT_DEL), del ? del->cover : 99);
	teardown(&f);
}

static void test_foreign_prio(void)
{
	struct fixture f;
	struct tc_filter *t;
	const struct kop *op;
	int ret;

	/* A foreign filter where tcspan would start: it takes the next prio. */
	setup(&f);
	rule(&f, 0, "tap", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	t = our_filter(&f, 0, "x", TCSPAN_PRIO_INGRESS, 1, 3);
	t->ours = false;
	ret = run(&f, false);
	op = find_op(&f, KOP_FILTER_ADD, 0);
	unit_result(ret == 0 && op && op->prio == TCSPAN_PRIO_INGRESS + 1 &&
		    count_ops(&f, KOP_FILTER_DEL) == 0 && count_ops(&f, KOP_CLSACT_ADD) == 0,
		    "plan: a foreign filter's prio is skipped, never touched",
		    "ret %d op %p", ret, (void *)op);
	teardown(&f);

	/* A foreign filter inside a prio tcspan owns is a collision. */
	setup(&f);
	rule(&f, 0, "tap", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	our_filter(&f, 0, "tap", TCSPAN_PRIO_INGRESS, 1, 3);
	t = our_filter(&f, 1, "x", TCSPAN_PRIO_INGRESS, 2, 3);
	t->ours = false;
	ret = run(&f, false);
	unit_result(ret == -EEXIST && tcspan_error__count(f.err) == 1 &&
		    strstr(tcspan_error__message(f.err, 0), "filter tcspan did not create"),
		    "plan: a foreign filter in tcspan's prio is an error naming it", "ret %d: %s",
		    ret, tcspan_error__count(f.err) ? tcspan_error__message(f.err, 0) : "");
	teardown(&f);
}

static void test_priority_order(void)
{
	struct fixture f;
	const struct kop *a, *b;
	int ret;

	setup(&f);
	rule(&f, 0, "late", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	f.rules[0].has_priority = true;
	f.rules[0].priority = 10;
	rule(&f, 1, "early", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	f.rules[1].has_priority = true;
	f.rules[1].priority = -5;
	ret = run(&f, false);
	a = find_op(&f, KOP_FILTER_ADD, 0);
	b = find_op(&f, KOP_FILTER_ADD, 1);
	unit_result(ret == 0 && a && b && !strcmp(a->rule, "early") && a->handle == 1 &&
		    !strcmp(b->rule, "late") && b->handle == 2 && a->prio == b->prio,
		    "plan: lower priority gets the earlier key node", "ret %d", ret);
	teardown(&f);
}

static void test_many_rules(void)
{
	size_t n = 5000, i;
	struct tcspan_rule *rules = calloc(n, sizeof(*rules));
	struct fixture f;
	const struct kop *last;
	int ret;

	setup(&f);
	for (i = 0; rules && i < n; i++) {
		snprintf(rules[i].name, sizeof(rules[i].name), "r%zu", i);
		snprintf(rules[i].from.dev, sizeof(rules[i].from.dev), "eth0");
		snprintf(rules[i].to.dev, sizeof(rules[i].to.dev), "mon0");
		rules[i].hooks = TCSPAN_HOOK_EGRESS;
		rules[i].to_hook = TCSPAN_HOOK_EGRESS;
		rules[i].index = i;
	}
	f.topo.rules = rules;
	f.topo.n_rules = n;
	ret = run(&f, false);
	last = find_op(&f, KOP_FILTER_ADD, n - 1);
	unit_result(ret == 0 && count_ops(&f, KOP_FILTER_ADD) == n && last &&
		    last->prio == TCSPAN_PRIO_EGRESS + 1 &&
		    last->handle == n - TC_U32_NODES_PER_PRIO,
		    "plan: 5000 rules on one hook fill 4095 nodes, then the next prio",
		    "ret %d", ret);
	teardown(&f);
	free(rules);
}

static void test_namespaces(void)
{
	struct fixture f;
	int ret;

	setup(&f);
	snprintf(f.namespaces[0].name, sizeof(f.namespaces[0].name), "blue");
	f.topo.n_namespaces = 1;
	snprintf(f.ns[1].name, sizeof(f.ns[1].name), "red");
	snprintf(f.ns[1].owner, sizeof(f.ns[1].owner), TOPO);
	f.obs.n_ns = 2;
	ret = run(&f, false);
	unit_result(ret == 0 && count_ops(&f, KOP_NETNS_ADD) == 1 &&
		    count_ops(&f, KOP_NETNS_DEL) == 1 &&
		    f.res.ops[f.res.n_ops - 1].type == KOP_NETNS_DEL,
		    "plan: a listed namespace is added, an owned unlisted one removed last",
		    "ret %d", ret);
	teardown(&f);

	setup(&f);
	snprintf(f.namespaces[0].name, sizeof(f.namespaces[0].name), "red");
	f.namespaces[0].mark.line = 3;
	f.namespaces[0].mark.column = 14;
	f.topo.n_namespaces = 1;
	snprintf(f.ns[1].name, sizeof(f.ns[1].name), "red");
	f.obs.n_ns = 2;
	ret = run(&f, false);
	unit_result(ret == -EEXIST && tcspan_error__count(f.err) == 1 &&
		    !strcmp(tcspan_error__message(f.err, 0),
			    "lab.yaml:3:14: error: namespace \"red\" exists and was not "
			    "created by tcspan"),
		    "plan: a foreign namespace of the same name is an error at its line",
		    "ret %d: %s", ret,
		    tcspan_error__count(f.err) ? tcspan_error__message(f.err, 0) : "");
	teardown(&f);
}

static void test_missing_device(void)
{
	struct fixture f;
	int ret;

	setup(&f);
	rule(&f, 0, "tap", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	snprintf(f.rules[0].to.dev, sizeof(f.rules[0].to.dev), "nope0");
	f.rules[0].to.mark.line = 12;
	f.rules[0].to.mark.column = 9;
	ret = run(&f, false);
	unit_result(ret != 0 && tcspan_error__count(f.err) == 1 &&
		    !strcmp(tcspan_error__message(f.err, 0),
			    "lab.yaml:12:9: error: device \"nope0\" not found") &&
		    f.res.n_ops == 0,
		    "plan: a missing target is an error at its line, planning nothing",
		    "ret %d: %s", ret,
		    tcspan_error__count(f.err) ? tcspan_error__message(f.err, 0) : "");
	teardown(&f);
}

/*
 * A pair that a killed run created but never marked (in the topology's
 * device group, without alias) is deleted first and its link made anew;
 * one in another topology's group, or in a group of someone else's, is not
 * this topology's to touch.
 */
static void test_unfinished(void)
{
	struct link_dev with_orphans[] = {
		{ .ifindex = 1, .name = "lo" },
		{ .ifindex = 2, .name = "eth0", .up = true },
		{ .ifindex = 3, .name = "mon0", .up = true },
		{ .ifindex = 4, .name = "p0" },
		{ .ifindex = 5, .name = "p1" },
		{ .ifindex = 6, .name = "x0", .group = 5 },
		{ .ifindex = 7, .name = "y0" },
	};
	struct tcspan_link link = {};
	struct fixture f;
	int ret;

	with_orphans[3].group = with_orphans[4].group = link_unfinished_group(TOPO);
	with_orphans[6].group = link_unfinished_group("other");

	setup(&f);
	f.ns[0].links.devs = with_orphans;
	f.ns[0].links.count = 7;
	snprintf(link.a.ep.dev, sizeof(link.a.ep.dev), "p0");
	snprintf(link.b.ep.dev, sizeof(link.b.ep.dev), "p1");
	f.topo.links = &link;
	f.topo.n_links = 1;
	ret = run(&f, false);
	unit_result(ret == 0 && count_ops(&f, KOP_UNFINISHED_DEL) == 2 &&
		    count_ops(&f, KOP_LINK_ADD) == 1 && f.res.ops[0].type == KOP_UNFINISHED_DEL &&
		    f.res.ops[1].type == KOP_UNFINISHED_DEL,
		    "plan: an unfinished pair of a killed run goes first, then the link is made",
		    "ret %d, %zu unfinished, %zu link adds: %s", ret,
		    count_ops(&f, KOP_UNFINISHED_DEL), count_ops(&f, KOP_LINK_ADD),
		    tcspan_error__count(f.err) ? tcspan_error__message(f.err, 0) : "");
	teardown(&f);

	setup(&f);
	f.ns[0].links.devs = with_orphans;
	f.ns[0].links.count = 7;
	ret = run(&f, true);
	unit_result(ret == 0 && count_ops(&f, KOP_UNFINISHED_DEL) == 2 && f.res.n_ops == 2,
		    "destroy: removes the topology's unfinished pairs, nothing else",
		    "ret %d, %zu ops", ret, f.res.n_ops);
	teardown(&f);

	setup(&f);
	f.ns[0].links.devs = with_orphans;
	f.ns[0].links.count = 7;
	snprintf(link.a.ep.dev, sizeof(link.a.ep.dev), "x0");
	snprintf(link.b.ep.dev, sizeof(link.b.ep.dev), "y0");
	link.a.ep.mark.line = 7;
	link.a.ep.mark.column = 8;
	link.b.ep.mark.line = 8;
	link.b.ep.mark.column = 8;
	f.topo.links = &link;
	f.topo.n_links = 1;
	ret = run(&f, false);
	unit_result(ret != 0 && tcspan_error__count(f.err) == 2 &&
		    !strcmp(tcspan_error__message(f.err, 0),
			    "lab.yaml:7:8: error: device \"x0\" exists and was not created by "
			    "tcspan") &&
		    !strcmp(tcspan_error__message(f.err, 1),
			    "lab.yaml:8:8: error: device \"y0\" exists and was not created by "
			    "tcspan"),
		    "plan: devices in other groups are not taken for unfinished ones",
		    "ret %d, %zu errors: %s", ret, tcspan_error__count(f.err),
		    tcspan_error__count(f.err) ? tcspan_error__message(f.err, 0) : "");
	teardown(&f);
}

/* A namespace file a killed run never mounted: removed first, by its owner
 * only, before the namespace is made again. */
static void test_unfinished_netns(void)
{
	struct observed_file files[] = {
		{ .name = "lab-a", .owner = TOPO },
		{ .name = "other-a", .owner = "other" },
		{ .name = "stray" },
	};
	struct fixture f;
	int ret;

	setup(&f);
	f.obs.files = files;
	f.obs.n_files = 3;
	snprintf(f.namespaces[0].name, sizeof(f.namespaces[0].name), "lab-a");
	f.topo.n_namespaces = 1;
	ret = run(&f, false);
	unit_result(ret == 0 && f.res.n_ops >= 2 &&
		    f.res.ops[0].type == KOP_NETNS_UNFINISHED_DEL &&
		    !strcmp(f.res.ops[0].netns, "lab-a") &&
		    f.res.ops[1].type == KOP_NETNS_ADD &&
		    count_ops(&f, KOP_NETNS_UNFINISHED_DEL) == 1,
		    "plan: a namespace file a killed run left goes first, then it is made",
		    "ret %d, %zu ops", ret, f.res.n_ops);
	teardown(&f);

	setup(&f);
	f.obs.files = files;
	f.obs.n_files = 3;
	ret = run(&f, true);
	unit_result(ret == 0 && count_ops(&f, KOP_NETNS_UNFINISHED_DEL) == 1 &&
		    f.res.n_changes == 1 &&
		    !strcmp(f.res.changes[0].detail, "left unfinished by an interrupted run"),
		    "destroy: removes the topology's unfinished namespace file, no other file",
		    "ret %d, %zu ops, %zu changes", ret, f.res.n_ops, f.res.n_changes);
	teardown(&f);

	/* A file by the name of a wanted namespace, not this topology's. */
	setup(&f);
	f.obs.files = files;
	f.obs.n_files = 3;
	snprintf(f.namespaces[0].name, sizeof(f.namespaces[0].name), "stray");
	snprintf(f.namespaces[1].name, sizeof(f.namespaces[1].name), "other-a");
	f.namespaces[0].mark.line = 3;
	f.namespaces[0].mark.column = 14;
	f.namespaces[1].mark.line = 3;
	f.namespaces[1].mark.column = 21;
	f.topo.n_namespaces = 2;
	ret = run(&f, false);
	unit_result(ret != 0 && tcspan_error__count(f.err) == 2 &&
		    !strcmp(tcspan_error__message(f.err, 0), "lab.yaml:3:14: error: "
			    "/run/netns/stray exists and is not a namespace") &&
		    !strcmp(tcspan_error__message(f.err, 1), "lab.yaml:3:21: error: "
			    "/run/netns/other-a exists and is not a namespace (left by "
			    "topology \"other\")"),
		    "plan: a file where a namespace is wanted is named, not touched",
		    "ret %d: %s", ret,
		    tcspan_error__count(f.err) ? tcspan_error__message(f.err, 0) : "");
	teardown(&f);
}

/* `devices:` items: made, kept, re-created when their settings change,
 * removed when the file drops them, never taken from others. */
static void test_devices(void)
{
	struct link_dev present[] = {
		{ .ifindex = 1, .name = "lo" },
		{ .ifindex = 2, .name = "eth0", .up = true },
		{ .ifindex = 3, .name = "mon0", .up = true },
		{ .ifindex = 4, .name = "vx0", .kind = "vxlan", .up = true },
		{ .ifindex = 5, .name = "ifb0", .kind = "ifb", .up = true },
	};
	struct tcspan_device dev[2] = {}, back = {};
	struct fixture f;
	char rest[256];
	int ret;

	dev[0].kind = TCSPAN_DEVICE_VXLAN;
	snprintf(dev[0].ep.dev, sizeof(dev[0].ep.dev), "vx0");
	dev[0].vxlan.id = 42;
	dev[0].vxlan.port = 4789;
	dev[0].vxlan.remote.family = AF_INET;
	dev[0].vxlan.remote.addr.v4.s_addr = htonl(0xc6120109);	/* 198.18.1.9 */
	dev[0].vxlan.remote.len = 32;
	snprintf(dev[0].vxlan.underlay, sizeof(dev[0].vxlan.underlay), "eth0");
	dev[0].mark.line = 7;
	dev[0].mark.column = 5;
	dev[1].kind = TCSPAN_DEVICE_IFB;
	snprintf(dev[1].ep.dev, sizeof(dev[1].ep.dev), "ifb0");

	/* The mark is the settings, and reads back. */
	unit_result(link_device_rest(&dev[0], rest, sizeof(rest)) &&
		    !strcmp(rest, "device vxlan id=42 remote=198.18.1.9 port=4789 underlay=eth0") &&
		    link_device_parse(rest, &back) && back.kind == TCSPAN_DEVICE_VXLAN &&
		    !memcmp(&back.vxlan, &dev[0].vxlan, sizeof(back.vxlan)) &&
		    !link_device_parse("device vxlan id=1", &back) &&
		    !link_device_parse("device gre", &back) &&
		    !link_device_rest(&dev[0], rest, 20),
		    "devices: a vxlan's mark holds its settings and reads back",
		    "'%s'", rest);

	setup(&f);
	f.ns[0].links.count = 3;
	f.topo.devices = dev;
	f.topo.n_devices = 2;
	rule(&f, 0, "tap", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	snprintf(f.rules[0].to.dev, sizeof(f.rules[0].to.dev), "ifb0");
	ret = run(&f, false);
	unit_result(ret == 0 && count_ops(&f, KOP_DEVICE_ADD) == 2 &&
		    f.res.n_changes == 3 && f.res.changes[0].kind == TCSPAN_KIND_DEVICE &&
		    !strncmp(find_op(&f, KOP_DEVICE_ADD, 0)->text, "tcspan:lab device vxlan ", 24),
		    "plan: devices are made, marked, and a rule may send to one",
		    "ret %d, %zu device adds, %zu changes: %s", ret,
		    count_ops(&f, KOP_DEVICE_ADD), f.res.n_changes,
		    tcspan_error__count(f.err) ? tcspan_error__message(f.err, 0) : "");
	teardown(&f);

	/* As marked: kept.  With a different id: deleted, then made anew. */
	link_device_rest(&dev[0], rest, sizeof(rest));
	snprintf(present[3].alias, sizeof(present[3].alias), "tcspan:lab %.200s", rest);
	snprintf(present[4].alias, sizeof(present[4].alias), "tcspan:lab device ifb");
	setup(&f);
	f.ns[0].links.devs = present;
	f.ns[0].links.count = 5;
	f.topo.devices = dev;
	f.topo.n_devices = 2;
	ret = run(&f, false);
	unit_result(ret == 0 && f.res.n_ops == 0 && f.res.n_changes == 0,
		    "plan: devices as the file says them are kept", "ret %d, %zu ops",
		    ret, f.res.n_ops);
	teardown(&f);

	dev[0].vxlan.id = 43;
	setup(&f);
	f.ns[0].links.devs = present;
	f.ns[0].links.count = 5;
	f.topo.devices = dev;
	f.topo.n_devices = 1;
	ret = run(&f, false);
	unit_result(ret == 0 && count_ops(&f, KOP_DEVICE_DEL) == 2 &&
		    count_ops(&f, KOP_DEVICE_ADD) == 1 && f.res.ops[0].type == KOP_DEVICE_DEL &&
		    f.res.ops[1].type == KOP_DEVICE_DEL && f.res.ops[2].type == KOP_DEVICE_ADD &&
		    find_op(&f, KOP_DEVICE_DEL, 0)->device.vxlan.id == 42 &&
		    f.res.n_changes == 2 && f.res.changes[0].op == TCSPAN_OP_CHANGE &&
		    f.res.changes[1].op == TCSPAN_OP_REMOVE,
		    "plan: a changed vxlan is re-created, a dropped ifb removed (undo knows both)",
		    "ret %d, %zu ops, %zu changes", ret, f.res.n_ops, f.res.n_changes);
	teardown(&f);
	dev[0].vxlan.id = 42;

	/* Another's device, a missing underlay: named, nothing planned. */
	present[3].alias[0] = '\0';
	setup(&f);
	f.ns[0].links.devs = present;
	f.ns[0].links.count = 5;
	dev[0].ep.mark.line = 7;
	dev[0].ep.mark.column = 13;
	f.topo.devices = dev;
	f.topo.n_devices = 1;
	ret = run(&f, false);
	unit_result(ret != 0 && tcspan_error__count(f.err) == 1 &&
		    !strcmp(tcspan_error__message(f.err, 0), "lab.yaml:7:13: error: device "
			    "\"vx0\" exists and was not created by tcspan"),
		    "plan: a device by that name made by others is named, not touched",
		    "ret %d: %s", ret,
		    tcspan_error__count(f.err) ? tcspan_error__message(f.err, 0) : "");
	teardown(&f);

	snprintf(dev[0].vxlan.underlay, sizeof(dev[0].vxlan.underlay), "eth9");
	setup(&f);
	f.topo.devices = dev;
	f.topo.n_devices = 1;
	ret = run(&f, false);
	unit_result(ret != 0 && tcspan_error__count(f.err) == 1 &&
		    !strcmp(tcspan_error__message(f.err, 0), "lab.yaml:7:5: error: vxlan "
			    "device \"vx0\": underlay device \"eth9\" not found"),
		    "plan: a vxlan whose underlay is missing is refused at its line",
		    "ret %d: %s", ret,
		    tcspan_error__count(f.err) ? tcspan_error__message(f.err, 0) : "");
	teardown(&f);
}

/* The links that make mon0 and mon1 XDP targets (their other ends ready). */
static void xdp_links(struct fixture *f)
{
	snprintf(f->links[0].a.ep.dev, IFNAMSIZ, "mon0");
	snprintf(f->links[0].b.ep.dev, IFNAMSIZ, "peer0");
	snprintf(f->links[1].a.ep.dev, IFNAMSIZ, "mon1");
	snprintf(f->links[1].b.ep.dev, IFNAMSIZ, "peer1");
	f->topo.links = f->links;
	f->topo.n_links = 2;
	/* Both pairs made by this topology before. */
	snprintf(devs[2].alias, sizeof(devs[2].alias), "tcspan:" TOPO " link mon0 peer0");
	snprintf(devs[4].alias, sizeof(devs[4].alias), "tcspan:" TOPO " link mon0 peer0");
	snprintf(devs[3].alias, sizeof(devs[3].alias), "tcspan:" TOPO " link mon1 peer1");
	snprintf(devs[5].alias, sizeof(devs[5].alias), "tcspan:" TOPO " link mon1 peer1");
	for (size_t i = 2; i < 6; i++)
		snprintf(devs[i].kind, sizeof(devs[i].kind), "veth");
}

/* An observed XDP program on ifindex: tcspan's of this topology (or not). */
static struct xdp_prog *xdp_prog(struct fixture *f, size_t i, uint32_t ifindex, uint32_t id,
				 bool ours)
{
	struct xdp_prog *x = &f->xdp[i];

	memset(x, 0, sizeof(*x));
	x->ifindex = ifindex;
	x->id = id;
	x->mode = 1;
	x->ours = ours;
	snprintf(x->topology, sizeof(x->topology), "%s", ours ? TOPO : "");
	devs[ifindex - 1].xdp_prog_id = id;
	f->ns[0].xdp = f->xdp;
	f->ns[0].n_xdp = i + 1;
	return x;
}

static void xdp_reset(void)
{
	size_t i;

	for (i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		devs[i].xdp_prog_id = 0;
		devs[i].alias[0] = devs[i].kind[0] = '\0';
	}
}

static const char *first_error(const struct fixture *f)
{
	return tcspan_error__count(f->err) ? tcspan_error__message(f->err, 0) : "";
}

/* Rule "fast" (eth0 -> mon0) as a previous apply left it: named, on XDP
 * (program 78 on eth0), mon0's other end readied (program 77). */
static void fast_in_place(struct fixture *f)
{
	meta(f, TCSPAN_META_RULE, "fast");
	xdp_prog(f, 0, 5, 77, true);
	xdp_prog(f, 1, 2, 78, true)->entries = f->entries;
	f->xdp[1].n_entries = 1;
	f->entries[0].rule.n_targets = 1;
	f->entries[0].rule.rule_id[0] = meta_id("fast");
	f->entries[0].rule.ifindex[0] = 3;
	f->entries[0].rule.hash = xdp_rule_hash(&f->entries[0].rule);
}

static void test_xdp(void)
{
	const struct kop *op, *op2;
	struct fixture f;
	int ret;

	/* datapath: xdp where XDP cannot carry the rule: refused at its line. */
	setup(&f);
	rule(&f, 0, "fast", TCSPAN_ACTION_REDIRECT, TCSPAN_HOOK_INGRESS);
	f.rules[0].datapath = TCSPAN_DATAPATH_XDP;
	ret = run(&f, false);
	unit_result(ret != 0 && tcspan_error__count(f.err) == 1 &&
		    !strcmp(first_error(&f), "lab.yaml:10:5: error: rule \"fast\": datapath: xdp, "
			    "but mon0 is not an end of a link of this topology (XDP frames go "
			    "only to veths tcspan readies)") && f.res.n_ops == 0,
		    "xdp: datapath: xdp that XDP cannot carry is refused at the rule's line",
		    "ret %d: %s", ret, first_error(&f));
	teardown(&f);
	xdp_reset();

	/* A redirect into a link end: on XDP, the other end readied first. */
	setup(&f);
	xdp_links(&f);
	rule(&f, 0, "fast", TCSPAN_ACTION_REDIRECT, TCSPAN_HOOK_INGRESS);
	f.rules[0].datapath = TCSPAN_DATAPATH_AUTO;
	ret = run(&f, false);
	op = find_op(&f, KOP_XDP_SET, 0);
	op2 = find_op(&f, KOP_XDP_SET, 1);
	unit_result(ret == 0 && count_ops(&f, KOP_FILTER_ADD) == 0 &&
		    count_ops(&f, KOP_CLSACT_ADD) == 0 && op && op2 &&
		    !strcmp(op->dev, "peer0") && op->xdp->n == 0 && !op->xdp_prog_id &&
		    !strcmp(op2->dev, "eth0") && op2->xdp->n == 1 &&
		    op2->xdp->entries[0].n_targets == 1 &&
		    op2->xdp->entries[0].rule_id[0] == meta_id("fast") &&
		    op2->xdp->entries[0].ifindex[0] == 3 && !strcmp(op2->xdp->target[0], "mon0") &&
		    op2->xdp->entries[0].hash == xdp_rule_hash(&op2->xdp->entries[0]),
		    "xdp: a redirect goes on XDP, no filter; the target's other end first",
		    "ret %d: %s", ret, first_error(&f));
	unit_result(f.res.n_changes == 1 && !strcmp(f.res.changes[0].detail,
		    "redirect eth0 ingress -> mon0 egress, on xdp"),
		    "xdp: plan says the rule runs on xdp", "%s",
		    f.res.n_changes ? f.res.changes[0].detail : "");
	teardown(&f);
	xdp_reset();

	/* A device that refused XDP at this apply (the apply then plans
	 * again): its rules on tc, saying so; a datapath: xdp rule there is
	 * an error.  The same for the target's other end. */
	for (int peer = 0; peer < 2; peer++) {
		struct xdp_refusal refusal = { "", "", "Device or resource busy" };
		const char *want = peer ?
			"redirect eth0 ingress -> mon0 egress, on tc: peer0, the other end of "
			"mon0, refused the XDP program that readies it at apply (Device or "
			"resource busy)" :
			"redirect eth0 ingress -> mon0 egress, on tc: eth0 refused the XDP "
			"program at apply (Device or resource busy)";

		snprintf(refusal.dev, sizeof(refusal.dev), "%s", peer ? "peer0" : "eth0");
		for (int forced = 0; forced < 2; forced++) {
			setup(&f);
			xdp_links(&f);
			rule(&f, 0, "fast", TCSPAN_ACTION_REDIRECT, TCSPAN_HOOK_INGRESS);
			f.rules[0].datapath = forced ? TCSPAN_DATAPATH_XDP : TCSPAN_DATAPATH_AUTO;
			f.obs.refused = &refusal;
			f.obs.n_refused = 1;
			ret = run(&f, false);
			if (forced)
				unit_result(ret != 0 && f.res.n_ops == 0 &&
					    strstr(first_error(&f), "datapath: xdp, but ") &&
					    strstr(first_error(&f), "refused the XDP program"),
					    peer ? "xdp: datapath: xdp with the target's other end refusing "
						   "XDP: an error" :
						   "xdp: datapath: xdp on a device that refused XDP: an error",
					    "ret %d: %s", ret, first_error(&f));
			else
				unit_result(ret == 0 && count_ops(&f, KOP_FILTER_ADD) == 1 &&
					    count_ops(&f, KOP_XDP_SET) == 0 && f.res.n_changes == 1 &&
					    !strcmp(f.res.changes[0].detail, want),
					    peer ? "xdp: the target's other end refused XDP: on tc, saying so" :
						   "xdp: the device refused XDP at apply: on tc, saying so",
					    "ret %d: %s", ret, f.res.n_changes ? f.res.changes[0].detail :
					    first_error(&f));
			teardown(&f);
			xdp_reset();
		}
	}

	/* The same, observed in place: nothing to do. */
	setup(&f);
	xdp_links(&f);
	rule(&f, 0, "fast", TCSPAN_ACTION_REDIRECT, TCSPAN_HOOK_INGRESS);
	f.rules[0].datapath = TCSPAN_DATAPATH_AUTO;
	fast_in_place(&f);
	ret = run(&f, false);
	unit_result(ret == 0 && f.res.n_ops == 0 && f.res.n_changes == 0,
		    "xdp: programs in place with the same entries: nothing planned",
		    "ret %d, %zu ops, %zu changes", ret, f.res.n_ops, f.res.n_changes);
	teardown(&f);
	xdp_reset();

	/* ...moved to another target: an update in place, of program 78. */
	setup(&f);
	xdp_links(&f);
	rule(&f, 0, "fast", TCSPAN_ACTION_REDIRECT, TCSPAN_HOOK_INGRESS);
	f.rules[0].datapath = TCSPAN_DATAPATH_AUTO;
	snprintf(f.rules[0].to.dev, IFNAMSIZ, "mon1");
	fast_in_place(&f);
	ret = run(&f, false);
	op = find_op(&f, KOP_XDP_SET, 1);
	unit_result(ret == 0 && count_ops(&f, KOP_XDP_SET) == 2 && op &&
		    op->xdp_prog_id == 78 && op->xdp->entries[0].ifindex[0] == 4 &&
		    !strcmp(find_op(&f, KOP_XDP_SET, 0)->dev, "peer1") &&
		    count_ops(&f, KOP_XDP_DEL) == 1 && find_op(&f, KOP_XDP_DEL, 0)->xdp_prog_id == 77 &&
		    f.res.n_changes == 1 && f.res.changes[0].op == TCSPAN_OP_CHANGE,
		    "xdp: a new target is an update in place; the old peer's program goes",
		    "ret %d, %zu changes", ret, f.res.n_changes);
	teardown(&f);
	xdp_reset();

	/* A mirror right before a redirect with the same match rides along. */
	setup(&f);
	xdp_links(&f);
	rule(&f, 0, "copy", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	rule(&f, 1, "fast", TCSPAN_ACTION_REDIRECT, TCSPAN_HOOK_INGRESS);
	snprintf(f.rules[0].to.dev, IFNAMSIZ, "mon1");
	f.rules[0].datapath = f.rules[1].datapath = TCSPAN_DATAPATH_AUTO;
	ret = run(&f, false);
	op = find_op(&f, KOP_XDP_SET, 2);
	unit_result(ret == 0 && count_ops(&f, KOP_XDP_SET) == 3 && op && op->xdp->n == 1 &&
		    op->xdp->entries[0].n_targets == 2 &&
		    op->xdp->entries[0].rule_id[0] == meta_id("fast") &&
		    op->xdp->entries[0].rule_id[1] == meta_id("copy") &&
		    !strcmp(op->xdp->target[1], "mon1") && count_ops(&f, KOP_FILTER_ADD) == 0,
		    "xdp: redirect + mirror with the same match: one entry, two targets",
		    "ret %d: %s", ret, first_error(&f));
	teardown(&f);
	xdp_reset();

	/* A lone mirror stays on tc and says why; a redirect after a rule on
	 * tc does too, naming it; the reasons are kept for `show`. */
	setup(&f);
	xdp_links(&f);
	rule(&f, 0, "copy", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	f.rules[0].has_match = true;
	f.rules[0].match.has_protocol = true;
	f.rules[0].match.protocol = 17;
	rule(&f, 1, "fast", TCSPAN_ACTION_REDIRECT, TCSPAN_HOOK_INGRESS);
	f.rules[0].datapath = f.rules[1].datapath = TCSPAN_DATAPATH_AUTO;
	ret = run(&f, false);
	unit_result(ret == 0 && count_ops(&f, KOP_XDP_SET) == 0 &&
		    count_ops(&f, KOP_FILTER_ADD) == 2 && count_ops(&f, KOP_META_SET) == 5,
		    "xdp: a mirror of other packets blocks the redirect after it",
		    "ret %d, %zu ops", ret, f.res.n_ops);
	/* The clsact's record, each rule's name naming its reason, and the
	 * two reasons. */
	op = meta_op_of(&f, KOP_META_SET, TCSPAN_META_RULE, "copy");
	op2 = meta_op_of(&f, KOP_META_SET, TCSPAN_META_RULE, "fast");
	unit_result(op && op2 && count_meta(&f, KOP_META_SET, TCSPAN_META_REASON) == 2 &&
		    op->meta_ref == reason_id(&f, "XDP cannot copy a packet and also pass it "
					      "on; a mirror rides on XDP only with the next "
					      "redirect of its hook, same match") &&
		    op2->meta_ref == reason_id(&f, "rule \"copy\" comes before it on eth0 "
					       "ingress and runs on tc") &&
		    op->meta_ref && op2->meta_ref,
		    "xdp: each reason is written to the metadata map, named by its rules",
		    "%zu ops", f.res.n_ops);
	teardown(&f);
	xdp_reset();

	/* A program of someone else's on the device: tc, with its id. */
	setup(&f);
	xdp_links(&f);
	rule(&f, 0, "fast", TCSPAN_ACTION_REDIRECT, TCSPAN_HOOK_INGRESS);
	f.rules[0].datapath = TCSPAN_DATAPATH_AUTO;
	xdp_prog(&f, 0, 2, 99, false);
	ret = run(&f, false);
	unit_result(ret == 0 && count_ops(&f, KOP_XDP_SET) == 0 &&
		    count_ops(&f, KOP_XDP_DEL) == 0 && count_ops(&f, KOP_FILTER_ADD) == 1 &&
		    f.res.n_changes == 1 && !strcmp(f.res.changes[0].detail,
		    "redirect eth0 ingress -> mon0 egress, on tc: eth0 has an XDP program that "
		    "tcspan did not create (id 99)"),
		    "xdp: a foreign program: the rule on tc, the program left alone", "%s",
		    f.res.n_changes ? f.res.changes[0].detail : first_error(&f));
	teardown(&f);
	xdp_reset();

	/* Destroy detaches this topology's programs only. */
	setup(&f);
	meta(&f, TCSPAN_META_RULE, "fast");
	xdp_prog(&f, 0, 2, 78, true);
	xdp_prog(&f, 1, 5, 79, false);
	ret = run(&f, true);
	op = find_op(&f, KOP_XDP_DEL, 0);
	unit_result(ret == 0 && count_ops(&f, KOP_XDP_DEL) == 1 && op && op->xdp_prog_id == 78 &&
		    !strcmp(op->dev, "eth0"),
		    "xdp: destroy detaches its own program, not another's", "ret %d", ret);
	teardown(&f);
	xdp_reset();
}

#define EGRESS_ONLY "XDP sees only the packets a device receives (direction: ingress)"

/* Three egress rules left on tc by auto, for one reason. */
static void egress_rules(struct fixture *f)
{
	static const char *const names[] = { "a", "b", "c" };
	size_t i;

	for (i = 0; i < 3; i++) {
		rule(f, i, names[i], TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_EGRESS);
		f->rules[i].datapath = TCSPAN_DATAPATH_AUTO;
	}
}

static void test_reasons(void)
{
	const struct kop *a, *b, *c;
	struct fixture f;
	uint32_t id;
	int ret;

	/* Rules that share a reason share its entry. */
	setup(&f);
	egress_rules(&f);
	ret = run(&f, false);
	a = meta_op_of(&f, KOP_META_SET, TCSPAN_META_RULE, "a");
	b = meta_op_of(&f, KOP_META_SET, TCSPAN_META_RULE, "b");
	c = meta_op_of(&f, KOP_META_SET, TCSPAN_META_RULE, "c");
	id = reason_id(&f, EGRESS_ONLY);
	unit_result(ret == 0 && count_meta(&f, KOP_META_SET, TCSPAN_META_REASON) == 1 &&
		    id == meta_id(EGRESS_ONLY) && a && b && c && a->meta_ref == id &&
		    b->meta_ref == id && c->meta_ref == id,
		    "reasons: one entry for the rules that share it, each rule naming it",
		    "ret %d, %zu ops: %s", ret, f.res.n_ops, first_error(&f));
	teardown(&f);

	/* Entries as the last apply left them: none written again. */
	setup(&f);
	egress_rules(&f);
	meta_entry(&f, TCSPAN_META_RULE, meta_id("a"), "a", meta_id(EGRESS_ONLY));
	meta_entry(&f, TCSPAN_META_RULE, meta_id("b"), "b", meta_id(EGRESS_ONLY));
	meta_entry(&f, TCSPAN_META_RULE, meta_id("c"), "c", meta_id(EGRESS_ONLY));
	meta_entry(&f, TCSPAN_META_REASON, meta_id(EGRESS_ONLY), EGRESS_ONLY, 0);
	ret = run(&f, false);
	unit_result(ret == 0 && count_meta(&f, KOP_META_SET, TCSPAN_META_RULE) == 0 &&
		    count_meta(&f, KOP_META_SET, TCSPAN_META_REASON) == 0 &&
		    count_ops(&f, KOP_META_DEL) == 0,
		    "reasons: entries in place are left alone", "ret %d, %zu ops", ret,
		    f.res.n_ops);
	teardown(&f);

	/* An earlier build's reason per rule, and a reason that no longer
	 * holds, go; the rule's entry is written with its ref. */
	setup(&f);
	egress_rules(&f);
	f.topo.n_rules = 1;
	meta_entry(&f, TCSPAN_META_RULE, meta_id("a"), "a", 0);
	meta_entry(&f, TCSPAN_META_FALLBACK, meta_id("a"), EGRESS_ONLY, 0);
	meta_entry(&f, TCSPAN_META_REASON, meta_id("gone"), "gone", 0);
	ret = run(&f, false);
	a = meta_op_of(&f, KOP_META_SET, TCSPAN_META_RULE, "a");
	unit_result(ret == 0 && a && a->meta_ref == meta_id(EGRESS_ONLY) &&
		    meta_op_of(&f, KOP_META_DEL, TCSPAN_META_FALLBACK, EGRESS_ONLY) &&
		    meta_op_of(&f, KOP_META_DEL, TCSPAN_META_REASON, "gone") &&
		    count_ops(&f, KOP_META_DEL) == 2 && f.res.n_changes == 1 &&
		    f.res.changes[0].op == TCSPAN_OP_ADD,
		    "reasons: the per-rule entries of earlier builds and stale reasons go",
		    "ret %d, %zu ops, %zu changes", ret, f.res.n_ops, f.res.n_changes);
	teardown(&f);

	/* Ids of texts: the hash; on a collision the next id; equal texts
	 * share one; never 0; past the largest id, the lowest free ones. */
	{
		struct plan_hashed_text v[] = {
			{ 7, 0, "seven", 0 }, { 5, 1, "five", 0 }, { 5, 2, "also five", 0 },
			{ 5, 3, "five", 0 }, { 0, 4, "zero", 0 },
			{ UINT32_MAX, 5, "top", 0 }, { UINT32_MAX, 6, "top too", 0 },
			{ UINT32_MAX - 1, 7, "below top", 0 }, { 6, 8, "six", 0 },
			{ UINT32_MAX, 9, "top three", 0 },
		};
		struct plan_named_text ids[10];
		uint32_t by_index[10];
		size_t n, i;
		bool sorted = true;

		n = plan_text_ids(v, 10, ids);
		for (i = 0; i < 10; i++)
			by_index[v[i].index] = v[i].id;
		for (i = 1; i < n; i++)
			sorted &= ids[i - 1].id < ids[i].id;
		unit_result(n == 9 && sorted && by_index[4] == 1 && by_index[1] == 5 &&
			    by_index[3] == 5 && by_index[2] == 6 && by_index[8] == 7 &&
			    by_index[0] == 8 && by_index[7] == UINT32_MAX - 1 &&
			    by_index[5] == UINT32_MAX && by_index[6] == 2 && by_index[9] == 3,
			    "reasons: ids are hashes, the next id on a collision, the lowest "
			    "free ones past the top",
			    "n %zu; ids %u %u %u %u %u %u %u %u %u %u", n, by_index[0],
			    by_index[1], by_index[2], by_index[3], by_index[4], by_index[5],
			    by_index[6], by_index[7], by_index[8], by_index[9]);
	}

	/* A reason longer than an entry holds is stored cut, and the cut
	 * text counts as equal, or every plan would write it again. */
	{
		char text[200], stored[TCSPAN_META_TEXT_SIZE];

		memset(text, 'x', sizeof(text) - 1);
		text[sizeof(text) - 1] = '\0';
		memcpy(stored, text, sizeof(stored) - 1);
		stored[sizeof(stored) - 1] = '\0';
		ret = meta_text_equal(stored, text) && meta_text_equal("abc", "abc") &&
		      !meta_text_equal("abc", "abcd") && !meta_text_equal("abcd", "abc");
		stored[50] = 'y';
		unit_result(ret && !meta_text_equal(stored, text),
			    "reasons: a text cut to the entry's size equals the whole",
			    "%zu bytes kept", strlen(stored));
	}
}

static void test_names_only(void)
{
	struct fixture f;
	int ret;

	/* The filter is there but its name is not: written back, shown. */
	setup(&f);
	rule(&f, 0, "tap", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	our_filter(&f, 0, "tap", TCSPAN_PRIO_INGRESS, 1, 3);
	meta(&f, TCSPAN_META_CLSACT, "eth0");
	ret = run(&f, false);
	unit_result(ret == 0 && f.res.n_changes == 1 &&
		    f.res.changes[0].op == TCSPAN_OP_CHANGE && f.res.n_ops == 1 &&
		    f.res.ops[0].type == KOP_META_SET,
		    "plan: a missing name record is a visible change", "ret %d, %zu changes",
		    ret, f.res.n_changes);
	teardown(&f);

	/* Only a name is left of a rule: its removal is visible too. */
	setup(&f);
	meta(&f, TCSPAN_META_RULE, "ghost");
	ret = run(&f, false);
	unit_result(ret == 0 && f.res.n_changes == 1 &&
		    f.res.changes[0].op == TCSPAN_OP_REMOVE &&
		    !strcmp(f.res.changes[0].name, "ghost") && count_ops(&f, KOP_META_DEL) == 1,
		    "plan: a name left without its rule is a visible removal",
		    "ret %d, %zu changes", ret, f.res.n_changes);
	teardown(&f);
}

/* `match: {protocol: udp, dst_port: PORT}` on rule i. */
static void udp_match(struct fixture *f, size_t i, uint16_t port)
{
	struct tcspan_rule *r = &f->rules[i];

	r->has_match = true;
	r->match.has_protocol = r->match.has_dst_port = true;
	r->match.protocol = 17;
	r->match.dst_port.first = r->match.dst_port.last = port;
}

/* An observed bpf filter of ours for rule i (its match as it is now). */
static struct tc_filter *our_bpf_filter(struct fixture *f, size_t i, size_t rule_i,
					uint16_t prio)
{
	struct tc_filter *t = our_filter(f, i, f->rules[rule_i].name, prio, 1, 3);

	snprintf(t->kind, sizeof(t->kind), "bpf");
	t->handle = TC_BPF_HANDLE;
	t->prog_id = 42;
	t->cookie.spec = TC_COOKIE_SPEC(t->hook, classifier_match_hash(&f->rules[rule_i].match));
	return t;
}

/* FNV-1a byte by byte over the whole table entry and the flow count. */
static uint32_t plain_hash(const struct tcspan_match *m)
{
	struct tcspan_match_cfg cfg;
	uint32_t flows = classifier_sample_flows(m), h = 2166136261u;
	const unsigned char *p = (const unsigned char *)&cfg;
	size_t i;

	classifier_cfg(m, &cfg);
	for (i = 0; i < sizeof(cfg); i++)
		h = (h ^ p[i]) * 16777619u;
	p = (const unsigned char *)&flows;
	for (i = 0; i < sizeof(flows); i++)
		h = (h ^ p[i]) * 16777619u;
	return (h ^ (h >> 30)) & 0x3fffffff;
}

/* The cookie's hash skips the unused CIDR slots, and still is this. */
static void test_match_hash(void)
{
	static struct tcspan_prefix src[TCSPAN_MATCH_CIDRS], dst[3];
	struct tcspan_match m = { 0 };
	bool ok = true;
	size_t i;

	for (i = 0; i < TCSPAN_MATCH_CIDRS; i++) {
		src[i].family = AF_INET6;
		src[i].addr.v6.s6_addr[0] = 0x20;
		src[i].addr.v6.s6_addr[15] = (uint8_t)i;
		src[i].len = 128;
	}
	for (i = 0; i < 3; i++) {
		dst[i].family = AF_INET;
		dst[i].addr.v4.s_addr = htonl(0xc6120000 + (i << 8));
		dst[i].len = 24;
	}
	ok &= classifier_match_hash(&m) == plain_hash(&m);
	m.has_protocol = m.has_dst_port = true;
	m.protocol = 17;
	m.dst_port.first = m.dst_port.last = 5000;
	ok &= classifier_match_hash(&m) == plain_hash(&m);
	m.dst = dst;
	m.n_dst = 3;
	ok &= classifier_match_hash(&m) == plain_hash(&m);
	m.src = src;
	m.n_src = TCSPAN_MATCH_CIDRS;
	m.has_sample = true;
	m.sample = 10;
	m.sample_flows = 4096;
	ok &= classifier_match_hash(&m) == plain_hash(&m);
	m.n_src = 1;
	ok &= classifier_match_hash(&m) == plain_hash(&m);
	unit_result(ok, "match hash: FNV-1a of the whole key table, unused slots skipped",
		    "a hash differs from the byte-by-byte one");
}

static void test_match_add(void)
{
	struct fixture f;
	const struct kop *a, *b, *c;
	int ret;

	setup(&f);
	rule(&f, 0, "all", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	rule(&f, 1, "udp", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	udp_match(&f, 1, 5001);
	rule(&f, 2, "all2", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	rule(&f, 3, "all3", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	ret = run(&f, false);
	a = find_op(&f, KOP_FILTER_ADD, 0);
	b = find_op(&f, KOP_FILTER_ADD, 1);
	c = find_op(&f, KOP_FILTER_ADD, 2);
	unit_result(ret == 0 && count_ops(&f, KOP_FILTER_ADD) == 4 && a && b && c &&
		    !strcmp(a->rule, "all") && !a->bpf && a->prio == TCSPAN_PRIO_INGRESS &&
		    !strcmp(b->rule, "udp") && b->bpf && b->match == &f.rules[1].match &&
		    b->prio == TCSPAN_PRIO_INGRESS + 1 && b->handle == TC_BPF_HANDLE &&
		    b->new_prio && TC_COOKIE_SPEC_HOOK(b->cookie.spec) == TCSPAN_HOOK_INGRESS &&
		    b->cookie.spec >> 2 != 0 &&
		    !strcmp(c->rule, "all2") && !c->bpf && c->prio == TCSPAN_PRIO_INGRESS + 2 &&
		    c->handle == 1,
		    "plan: a match rule is a bpf add at a prio of its own, in order",
		    "ret %d, %zu ops", ret, f.res.n_ops);
	c = find_op(&f, KOP_FILTER_ADD, 3);
	unit_result(c && !strcmp(c->rule, "all3") && c->prio == TCSPAN_PRIO_INGRESS + 2 &&
		    c->handle == 2,
		    "plan: rules without match after it share the next u32 prio", "op %p",
		    (void *)c);
	teardown(&f);

	/* A classifier of your own: its object's hash is the cookie's spec. */
	setup(&f);
	rule(&f, 0, "own", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	f.rules[0].has_match = f.rules[0].match.has_bpf = true;
	f.rules[0].match.bpf_object = "/etc/tcspan/cls.o";
	f.objects[0].data = "x";
	f.objects[0].size = 1;
	f.objects[0].program = "my_cls";
	f.objects[0].hash = 0x1234567;
	ret = run(&f, false);
	a = find_op(&f, KOP_FILTER_ADD, 0);
	unit_result(ret == 0 && a && a->bpf && a->object == &f.objects[0] &&
		    a->handle == TC_BPF_HANDLE &&
		    a->cookie.spec == TC_COOKIE_SPEC(TCSPAN_HOOK_INGRESS, 0x1234567),
		    "plan: match.bpf is a bpf add whose cookie hashes the object",
		    "ret %d: %s", ret,
		    tcspan_error__count(f.err) ? tcspan_error__message(f.err, 0) : "");
	teardown(&f);

	/* Not read (no objects given): refused, naming the file. */
	setup(&f);
	rule(&f, 0, "own", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	f.rules[0].has_match = f.rules[0].match.has_bpf = true;
	f.rules[0].match.bpf_object = "/etc/tcspan/cls.o";
	ret = run(&f, false);
	unit_result(ret != 0 && tcspan_error__count(f.err) == 1 && f.res.n_ops == 0 &&
		    strstr(tcspan_error__message(f.err, 0), "/etc/tcspan/cls.o"),
		    "plan: match.bpf without its object read is refused", "ret %d: %s", ret,
		    tcspan_error__count(f.err) ? tcspan_error__message(f.err, 0) : "");
	teardown(&f);
}

static void test_match_change(void)
{
	struct fixture f;
	const struct kop *op;
	int ret;

	setup(&f);
	rule(&f, 0, "udp", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	udp_match(&f, 0, 5001);
	our_bpf_filter(&f, 0, 0, TCSPAN_PRIO_INGRESS + 7);
	meta(&f, TCSPAN_META_RULE, "udp");
	meta(&f, TCSPAN_META_CLSACT, "eth0");
	ret = run(&f, false);
	unit_result(ret == 0 && f.res.n_ops == 0 && f.res.n_changes == 0,
		    "plan: an unchanged match rule plans nothing", "ret %d, %zu ops", ret,
		    f.res.n_ops);
	plan_result__free(&f.res);

	udp_match(&f, 0, 5002);
	ret = run(&f, false);
	op = find_op(&f, KOP_FILTER_REPLACE, 0);
	unit_result(ret == 0 && f.res.n_ops == 1 && op && op->bpf &&
		    op->prio == TCSPAN_PRIO_INGRESS + 7 && op->handle == TC_BPF_HANDLE &&
		    op->old.prog_id == 42 && op->cookie.spec != op->old.cookie.spec &&
		    TC_COOKIE_SPEC_HOOK(op->cookie.spec) == TCSPAN_HOOK_INGRESS &&
		    f.res.n_changes == 1 && f.res.changes[0].op == TCSPAN_OP_CHANGE,
		    "plan: a changed match is a replace of the same handle",
		    "ret %d, %zu ops", ret, f.res.n_ops);
	plan_result__free(&f.res);

	/* The flow table's size is part of what the kernel is asked for. */
	udp_match(&f, 0, 5001);
	f.rules[0].match.has_sample = true;
	f.rules[0].match.sample = 10;
	our_bpf_filter(&f, 0, 0, TCSPAN_PRIO_INGRESS + 7);
	f.rules[0].match.sample_flows = 4096;
	ret = run(&f, false);
	unit_result(ret == 0 && f.res.n_ops == 1 && find_op(&f, KOP_FILTER_REPLACE, 0),
		    "plan: a changed sample_flows alone is a replace", "ret %d, %zu ops", ret,
		    f.res.n_ops);
	teardown(&f);
}

static void test_match_kind_change(void)
{
	struct fixture f;
	const struct kop *a, *b;
	size_t i, last_add = 0, first_del = 0;
	int ret;

	/* u32 -> bpf at a kept slot: the hook moves to new prios, whole. */
	setup(&f);
	rule(&f, 0, "tap", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	rule(&f, 1, "udp", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	udp_match(&f, 1, 5001);
	our_filter(&f, 0, "udp", TCSPAN_PRIO_INGRESS, 1, 3);
	our_filter(&f, 1, "tap", TCSPAN_PRIO_INGRESS + 1, 1, 3);
	meta(&f, TCSPAN_META_RULE, "tap");
	meta(&f, TCSPAN_META_RULE, "udp");
	meta(&f, TCSPAN_META_CLSACT, "eth0");
	ret = run(&f, false);
	a = find_op(&f, KOP_FILTER_ADD, 0);
	b = find_op(&f, KOP_FILTER_ADD, 1);
	for (i = 0; i < f.res.n_ops; i++) {
		if (f.res.ops[i].type == KOP_FILTER_ADD)
			last_add = i;
		if (!first_del && (f.res.ops[i].type == KOP_FILTER_DEL ||
				   f.res.ops[i].type == KOP_PRIO_DEL))
			first_del = i;
	}
	unit_result(ret == 0 && a && b && !strcmp(a->rule, "tap") && !a->bpf &&
		    a->prio == TCSPAN_PRIO_INGRESS + 2 && !strcmp(b->rule, "udp") && b->bpf &&
		    b->prio == TCSPAN_PRIO_INGRESS + 3 &&
		    count_ops(&f, KOP_FILTER_REPLACE) == 0 &&
		    count_ops(&f, KOP_FILTER_DEL) == 2 && count_ops(&f, KOP_PRIO_DEL) == 2 &&
		    first_del > last_add,
		    "plan: a kind change moves the hook to new prios, deleting after adding",
		    "ret %d, %zu ops", ret, f.res.n_ops);
	teardown(&f);

	/* Mixing: an owned u32 prio stays, the new match rule goes above it. */
	setup(&f);
	rule(&f, 0, "udp", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	udp_match(&f, 0, 5001);
	f.rules[0].has_priority = true;
	f.rules[0].priority = 5;
	rule(&f, 1, "tap", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	our_filter(&f, 0, "tap", TCSPAN_PRIO_INGRESS, 1, 3);
	meta(&f, TCSPAN_META_RULE, "tap");
	meta(&f, TCSPAN_META_RULE, "udp");
	meta(&f, TCSPAN_META_CLSACT, "eth0");
	ret = run(&f, false);
	a = find_op(&f, KOP_FILTER_ADD, 0);
	unit_result(ret == 0 && f.res.n_ops == 1 && a && a->bpf && !strcmp(a->rule, "udp") &&
		    a->prio == TCSPAN_PRIO_INGRESS + 1,
		    "plan: mixing u32 and bpf keeps the sorted order", "ret %d, %zu ops", ret,
		    f.res.n_ops);
	teardown(&f);

	/* bpf -> u32: likewise, and the bpf filter is deleted, not its prio. */
	setup(&f);
	rule(&f, 0, "udp", TCSPAN_ACTION_MIRROR, TCSPAN_HOOK_INGRESS);
	udp_match(&f, 0, 5001);
	our_bpf_filter(&f, 0, 0, TCSPAN_PRIO_INGRESS);
	f.rules[0].has_match = false;
	meta(&f, TCSPAN_META_RULE, "udp");
	meta(&f, TCSPAN_META_CLSACT, "eth0");
	ret = run(&f, false);
	a = find_op(&f, KOP_FILTER_ADD, 0);
	b = find_op(&f, KOP_FILTER_DEL, 0);
	unit_result(ret == 0 && a && !a->bpf && a->prio == TCSPAN_PRIO_INGRESS + 1 && b &&
		    !strcmp(b->old.kind, "bpf") && count_ops(&f, KOP_PRIO_DEL) == 0,
		    "plan: a rule that loses its match moves to a new u32 prio",
		    "ret %d, %zu ops", ret, f.res.n_ops);
	teardown(&f);
}

/* Which EPERM is which: RLIMIT_MEMLOCK before 5.11, a capability after. */
static void test_eperm_hint(void)
{
	static const struct {
		const char *release;
		unsigned long long memlock;
		const char *want;
	} c[] = {
		{ "5.10.0-21-amd64", 64 << 10,
		  "RLIMIT_MEMLOCK, which is 64 KiB and could not be raised" },
		{ "4.19.0", 8 << 20, "`ulimit -l unlimited`" },
		{ "5.10.0", (unsigned long long)RLIM_INFINITY, "needs CAP_BPF" },
		{ "5.11.0", 64 << 10, "needs CAP_BPF" },
		{ "6.18.0", 64 << 10, "needs CAP_BPF" },
		{ "", 64 << 10, "needs CAP_BPF" },
	};
	char buf[192], name[80], limit[32];
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		classifier_eperm_hint(c[i].release, c[i].memlock, buf, sizeof(buf));
		if (c[i].memlock == (unsigned long long)RLIM_INFINITY)
			snprintf(limit, sizeof(limit), "unlimited");
		else
			snprintf(limit, sizeof(limit), "%llu KiB", c[i].memlock >> 10);
		snprintf(name, sizeof(name), "EPERM hint: kernel \"%s\", ulimit -l %s",
			 c[i].release, limit);
		unit_result(strstr(buf, c[i].want) != NULL, name, "got \"%s\"", buf);
	}
}

int main(void)
{
	test_devices();
	test_unfinished_netns();
	test_add_to_empty();
	test_noop();
	test_change();
	test_remove();
	test_destroy();
	test_destroy_covered();
	test_foreign_prio();
	test_priority_order();
	test_many_rules();
	test_namespaces();
	test_missing_device();
	test_xdp();
	test_unfinished();
	test_names_only();
	test_reasons();
	test_match_hash();
	test_match_add();
	test_match_change();
	test_match_kind_change();
	test_eperm_hint();
	return unit_exit();
}

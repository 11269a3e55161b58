// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `show` and `stats`: what tcspan owns, rebuilt from the kernel alone.
 * Topologies are the pinned metadata directories plus any topology id found
 * in an action cookie; rules are grouped from their filters by rule id.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/tc_act/tc_mirred.h>

#include "dirnames.h"
#include "meta.h"
#include "observe.h"

struct state_rule {
	uint32_t id;
	char *name, *from, *to;
	const char *action, *to_direction, *problem;
	const char *xdp_mode;		/* NULL: on tc */
	unsigned int hooks;
	uint64_t packets, bytes;
};

struct state_topology {
	char *name;
	uint32_t id;
	struct meta_store meta;
	struct state_rule *rules;
	size_t n_rules, cap_rules;
	/* Rules by id, the first of each id: open addressing, index + 1 in
	 * each slot (0: empty), at most half full.  10,000 rules meet
	 * 10,000 filters and 10,000 names. */
	uint32_t *by_id;
	size_t n_slots;
	char **namespaces, **links;
	size_t n_namespaces, n_links;
	char **devices, **device_kinds;	/* "NETNS/DEV"; "vxlan id=42 ..." */
	size_t n_devices;
};

struct tcspan_state {
	struct state_topology *topos;
	size_t n_topos;
};

static int push_string(char ***v, size_t *n, char *s)
{
	char **nv;

	if (!s)
		return -ENOMEM;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	*v = nv;
	nv[(*n)++] = s;
	return 0;
}

static struct state_topology *topology(struct tcspan_state *st, const char *name,
				       uint32_t id)
{
	struct state_topology *v;
	size_t i;

	for (i = 0; i < st->n_topos; i++)
		if (st->topos[i].id == id)
			return &st->topos[i];
	v = realloc(st->topos, (st->n_topos + 1) * sizeof(*v));
	if (!v)
		return NULL;
	st->topos = v;
	memset(&v[st->n_topos], 0, sizeof(*v));
	v[st->n_topos].id = id;
	v[st->n_topos].meta.fd = -1;
	if (name)
		v[st->n_topos].name = strdup(name);
	else if (asprintf(&v[st->n_topos].name, "topology-%08x", id) < 0)
		v[st->n_topos].name = NULL;
	if (!v[st->n_topos].name)
		return NULL;
	return &v[st->n_topos++];
}

static char *endpoint(const char *netns, const char *dev)
{
	char *s;

	if (asprintf(&s, "%s%s%s", netns, *netns ? "/" : "", dev) < 0)
		return NULL;
	return s;
}

/* A `devices:` item of topology `topo`: kind and settings from its mark. */
static int add_device(struct tcspan_state *st, const char *topo, const char *netns,
		      const char *dev, const char *kind)
{
	struct state_topology *t = topology(st, topo, meta_id(topo));
	size_t n;
	int ret;

	if (!t)
		return -ENOMEM;
	n = t->n_devices;
	ret = push_string(&t->devices, &n, endpoint(netns, dev));
	if (!ret)
		ret = push_string(&t->device_kinds, &t->n_devices, strdup(kind));
	if (ret && n > t->n_devices)
		free(t->devices[n - 1]);	/* keep the two lists in step */
	return ret;
}

/* The slot of the first rule with `id`, or the empty slot it would take. */
static size_t probe(const struct state_topology *t, uint32_t id)
{
	size_t mask = t->n_slots - 1, i;

	for (i = id & mask; t->by_id[i]; i = (i + 1) & mask)
		if (t->rules[t->by_id[i] - 1].id == id)
			break;
	return i;
}

static struct state_rule *find_rule(const struct state_topology *t, uint32_t id)
{
	size_t i;

	if (!t->n_slots)
		return NULL;
	i = probe(t, id);
	return t->by_id[i] ? &t->rules[t->by_id[i] - 1] : NULL;
}

/* Slot rule `index` under its id, unless a rule with that id has one. */
static void slot_rule(struct state_topology *t, size_t index)
{
	size_t i = probe(t, t->rules[index].id);

	if (!t->by_id[i])
		t->by_id[i] = index + 1;
}

/* A zeroed rule with id `id` at the end of t's rules; NULL when out of memory. */
static struct state_rule *push_rule(struct state_topology *t, uint32_t id)
{
	struct state_rule *v;
	size_t i;

	if (t->n_rules == t->cap_rules) {
		size_t cap = t->cap_rules ? t->cap_rules * 2 : 16;

		v = realloc(t->rules, cap * sizeof(*v));
		if (!v)
			return NULL;
		t->rules = v;
		t->cap_rules = cap;
	}
	if (2 * (t->n_rules + 1) > t->n_slots) {
		size_t n = t->n_slots ? t->n_slots * 2 : 32;
		uint32_t *slots = calloc(n, sizeof(*slots));

		if (!slots)
			return NULL;
		free(t->by_id);
		t->by_id = slots;
		t->n_slots = n;
		for (i = 0; i < t->n_rules; i++)
			slot_rule(t, i);
	}
	v = &t->rules[t->n_rules];
	memset(v, 0, sizeof(*v));
	v->id = id;
	slot_rule(t, t->n_rules++);
	return v;
}

/*
 * A new rule of t with id `id`, taken at ns's device from_ifindex and sent
 * to its device to_ifindex (gone: a problem).  NULL when out of memory.
 */
static struct state_rule *new_rule(struct state_topology *t, const struct observed_netns *ns,
				   uint32_t id, uint32_t from_ifindex, uint32_t to_ifindex)
{
	const struct link_dev *from = link_table__by_ifindex(&ns->links, from_ifindex);
	const struct link_dev *to = link_table__by_ifindex(&ns->links, to_ifindex);
	const char *name = meta_lookup(&t->meta, TCSPAN_META_RULE, id);
	struct state_rule *r;

	r = push_rule(t, id);
	if (!r)
		return NULL;
	if (name)
		r->name = strdup(name);
	else if (asprintf(&r->name, "rule-%08x", r->id) < 0)
		r->name = NULL;
	r->from = endpoint(ns->name, from ? from->name : "?");
	r->to = to ? endpoint(ns->name, to->name) : strdup("");
	if (!r->name || !r->from || !r->to)
		return NULL;
	if (!to)
		r->problem = "target device is gone";
	return r;
}

static int add_filter(struct state_topology *t, const struct observed_netns *ns,
		      const struct tc_filter *f)
{
	struct state_rule *r = find_rule(t, f->cookie.rule_id);

	if (r)
		goto count;
	r = new_rule(t, ns, f->cookie.rule_id, f->ifindex, f->mirred.ifindex);
	if (!r)
		return -ENOMEM;
	switch (f->mirred.eaction) {
	case TCA_EGRESS_MIRROR:
		r->action = "mirror";
		r->to_direction = "egress";
		break;
	case TCA_EGRESS_REDIR:
		r->action = "redirect";
		r->to_direction = "egress";
		break;
	case TCA_INGRESS_MIRROR:
		r->action = "mirror";
		r->to_direction = "ingress";
		break;
	default:
		r->action = "redirect";
		r->to_direction = "ingress";
		break;
	}
count:
	r->hooks |= f->hook;
	r->packets += f->packets;
	r->bytes += f->bytes;
	return 0;
}

/* A rule that an entry of tcspan's XDP program on `x` carries as target t. */
static int add_xdp_target(struct state_topology *t, const struct observed_netns *ns,
			  const struct xdp_prog *x, const struct xdp_entry *e, uint32_t k)
{
	struct state_rule *r = new_rule(t, ns, e->rule.rule_id[k], x->ifindex,
					e->rule.ifindex[k]);

	if (!r)
		return -ENOMEM;
	/* Target 0 is the entry's redirect; the others ride along. */
	r->action = k ? "mirror" : "redirect";
	r->to_direction = "egress";
	r->hooks = TCSPAN_HOOK_INGRESS;
	r->xdp_mode = xdp_mode_name(x->mode);
	r->packets = e->packets[k];
	r->bytes = e->bytes[k];
	return 0;
}

static int collect(struct tcspan_state *st, const char *only, const struct observed *obs)
{
	char **names = NULL, topo[TCSPAN_TOPOLOGY_NAME_MAX + 1];
	size_t n = 0, i, j;
	const char *rest;
	int ret;

	ret = meta_list(&names, &n);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		struct state_topology *t;

		if (only && strcmp(only, names[i]))
			continue;
		t = topology(st, names[i], meta_id(names[i]));
		if (!t) {
			ret = -ENOMEM;
			goto out;
		}
		ret = meta_read(names[i], &t->meta, NULL);
		if (ret)
			goto out;
	}
	for (i = 0; i < obs->n_ns; i++) {
		const struct observed_netns *ns = &obs->ns[i];

		for (j = 0; j < ns->n_filters; j++) {
			const struct tc_filter *f = &ns->filters[j];
			struct state_topology *t;

			if (!f->ours || !f->has_mirred ||
			    (only && f->cookie.topology_id != meta_id(only)))
				continue;
			t = topology(st, only, f->cookie.topology_id);
			if (!t || add_filter(t, ns, f)) {
				ret = -ENOMEM;
				goto out;
			}
		}
		for (j = 0; j < ns->n_xdp; j++) {
			const struct xdp_prog *x = &ns->xdp[j];
			struct state_topology *t;
			uint32_t e, k;

			if (!x->ours || (only && strcmp(only, x->topology)))
				continue;
			t = topology(st, x->topology, meta_id(x->topology));
			if (!t) {
				ret = -ENOMEM;
				goto out;
			}
			for (e = 0; e < x->n_entries; e++) {
				for (k = 0; k < x->entries[e].rule.n_targets; k++) {
					ret = add_xdp_target(t, ns, x, &x->entries[e], k);
					if (ret)
						goto out;
				}
			}
		}
		if (*ns->owner && (!only || !strcmp(only, ns->owner))) {
			struct state_topology *t = topology(st, ns->owner, meta_id(ns->owner));

			if (!t || push_string(&t->namespaces, &t->n_namespaces,
					      strdup(ns->name))) {
				ret = -ENOMEM;
				goto out;
			}
		}
		for (j = 0; j < ns->links.count; j++) {
			const struct link_dev *d = &ns->links.devs[j];
			struct state_topology *t;
			const char *sp;
			size_t k;
			bool dup = false;
			char *s;

			if (!link_alias_parse(d->alias, topo, sizeof(topo), &rest) ||
			    (only && strcmp(only, topo)))
				continue;
			if (!strncmp(rest, "device ", 7)) {
				ret = add_device(st, topo, ns->name, d->name, rest + 7);
				if (ret)
					goto out;
				continue;
			}
			if (strncmp(rest, "link ", 5))
				continue;
			t = topology(st, topo, meta_id(topo));
			sp = strchr(rest + 5, ' ');
			if (!t || !sp || asprintf(&s, "%.*s -- %s", (int)(sp - rest - 5),
						  rest + 5, sp + 1) < 0) {
				ret = -ENOMEM;
				goto out;
			}
			for (k = 0; k < t->n_links; k++)
				dup |= !strcmp(t->links[k], s);
			if (dup)
				free(s);
			else if (push_string(&t->links, &t->n_links, s)) {
				ret = -ENOMEM;
				goto out;
			}
		}
	}
	/* Rules whose names are kept but whose filters are all gone. */
	for (i = 0; i < st->n_topos; i++) {
		struct state_topology *t = &st->topos[i];

		for (j = 0; j < t->meta.count; j++) {
			const struct meta_entry *e = &t->meta.entries[j];
			struct state_rule *v;

			if (e->kind != TCSPAN_META_RULE || find_rule(t, e->id))
				continue;
			v = push_rule(t, e->id);
			if (!v) {
				ret = -ENOMEM;
				goto out;
			}
			v->name = strdup(e->text);
			v->from = strdup("");
			v->to = strdup("");
			v->action = "";
			v->to_direction = "";
			v->problem = "no filter in the kernel (its device is gone?)";
			if (!v->name || !v->from || !v->to) {
				ret = -ENOMEM;
				goto out;
			}
		}
	}
out:
	dir_names_free(names, n);
	return ret;
}

static int compare_topology(const void *a, const void *b)
{
	return strcmp(((const struct state_topology *)a)->name,
		      ((const struct state_topology *)b)->name);
}

static int compare_rule(const void *a, const void *b)
{
	return strcmp(((const struct state_rule *)a)->name,
		      ((const struct state_rule *)b)->name);
}

struct tcspan_state *tcspan_state__observe(const char *name, struct tcspan_error *err)
{
	struct conn_pool pool = {};
	struct observed obs;
	struct tcspan_state *st;
	size_t i;
	int ret;

	st = calloc(1, sizeof(*st));
	if (!st) {
		errno = ENOMEM;
		return NULL;
	}
	ret = observe(&pool, &obs, err);
	if (!ret) {
		ret = collect(st, name, &obs);
		observed__free(&obs);
	}
	conn_pool__free(&pool);
	if (ret) {
		if (!tcspan_error__count(err))
			tcspan_error__add(err, ret, "cannot read state: %s", strerror(-ret));
		tcspan_state__free(st);
		errno = -ret;
		return NULL;
	}
	/* qsort() takes no NULL, even for nothing. */
	if (st->n_topos)
		qsort(st->topos, st->n_topos, sizeof(*st->topos), compare_topology);
	for (i = 0; i < st->n_topos; i++) {
		struct state_topology *t = &st->topos[i];

		/* The index by id was for collecting: sorting moves the rules. */
		free(t->by_id);
		t->by_id = NULL;
		t->n_slots = 0;
		if (t->n_rules)
			qsort(t->rules, t->n_rules, sizeof(struct state_rule), compare_rule);
	}
	return st;
}

size_t tcspan_state__topology_count(const struct tcspan_state *st)
{
	return st->n_topos;
}

const char *tcspan_state__topology_name(const struct tcspan_state *st, size_t t)
{
	return t < st->n_topos ? st->topos[t].name : NULL;
}

size_t tcspan_state__rule_count(const struct tcspan_state *st, size_t t)
{
	return t < st->n_topos ? st->topos[t].n_rules : 0;
}

/* Why auto left rule `id` on tc: its entry's REASON, or the reason kept
 * per rule by the builds before REASON entries; NULL when none. */
static const char *reason_of(const struct meta_store *meta, uint32_t id)
{
	const struct meta_entry *e = meta_find(meta, TCSPAN_META_RULE, id);
	const char *why = e && e->ref ? meta_lookup(meta, TCSPAN_META_REASON, e->ref) : NULL;

	return why ? why : meta_lookup(meta, TCSPAN_META_FALLBACK, id);
}

int tcspan_state__rule(const struct tcspan_state *st, size_t t, size_t r,
		       struct tcspan_rule_info *info)
{
	const struct state_rule *sr;

	if (t >= st->n_topos || r >= st->topos[t].n_rules)
		return -ENOENT;
	sr = &st->topos[t].rules[r];
	memset(info, 0, sizeof(*info));
	info->name = sr->name;
	info->action = sr->action;
	info->from = sr->from;
	info->direction = sr->hooks == 3 ? "both" : sr->hooks == 1 ? "ingress" :
			  sr->hooks == 2 ? "egress" : "";
	info->to = sr->to;
	info->to_direction = sr->to_direction;
	info->datapath = sr->xdp_mode ? "xdp" : "tc";
	info->xdp_mode = sr->xdp_mode;
	info->fallback = sr->xdp_mode ? NULL : reason_of(&st->topos[t].meta, sr->id);
	info->problem = sr->problem;
	info->packets = sr->packets;
	info->bytes = sr->bytes;
	return 0;
}

size_t tcspan_state__namespace_count(const struct tcspan_state *st, size_t t)
{
	return t < st->n_topos ? st->topos[t].n_namespaces : 0;
}

const char *tcspan_state__namespace(const struct tcspan_state *st, size_t t, size_t i)
{
	return i < tcspan_state__namespace_count(st, t) ? st->topos[t].namespaces[i] : NULL;
}

size_t tcspan_state__link_count(const struct tcspan_state *st, size_t t)
{
	return t < st->n_topos ? st->topos[t].n_links : 0;
}

const char *tcspan_state__link(const struct tcspan_state *st, size_t t, size_t i)
{
	return i < tcspan_state__link_count(st, t) ? st->topos[t].links[i] : NULL;
}

size_t tcspan_state__device_count(const struct tcspan_state *st, size_t t)
{
	return t < st->n_topos ? st->topos[t].n_devices : 0;
}

const char *tcspan_state__device(const struct tcspan_state *st, size_t t, size_t i,
				 const char **kind)
{
	if (i >= tcspan_state__device_count(st, t))
		return NULL;
	if (kind)
		*kind = st->topos[t].device_kinds[i];
	return st->topos[t].devices[i];
}

void tcspan_state__free(struct tcspan_state *st)
{
	size_t i, j;

	if (!st)
		return;
	for (i = 0; i < st->n_topos; i++) {
		struct state_topology *t = &st->topos[i];

		for (j = 0; j < t->n_rules; j++) {
			free(t->rules[j].name);
			free(t->rules[j].from);
			free(t->rules[j].to);
		}
		free(t->rules);
		free(t->by_id);
		for (j = 0; j < t->n_namespaces; j++)
			free(t->namespaces[j]);
		free(t->namespaces);
		for (j = 0; j < t->n_links; j++)
			free(t->links[j]);
		free(t->links);
		for (j = 0; j < t->n_devices; j++) {
			free(t->devices[j]);
			free(t->device_kinds[j]);
		}
		free(t->devices);
		free(t->device_kinds);
		meta_store__free(&t->meta);
		free(t->name);
	}
	free(st->topos);
	free(st);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/pkt_cls.h>
#include <linux/tc_act/tc_mirred.h>

#include "classifier.h"
#include "plan.h"
#include "str.h"

#define U32_NODE(h)	((h) & 0xfff)
#define U32_BUCKET(h)	(((h) >> 12) & 0xff)

struct rule_id {
	uint32_t id;
	size_t index;
};

struct planner {
	const struct tcspan_topology *topo;
	const char *name;
	uint32_t tid;
	const struct observed *obs;
	const struct meta_store *store;	/* the topology's metadata */
	const struct meta_entry *meta;	/* its entries, store->count of them */
	const struct classifier_object *objects; /* per rule; match.bpf only */
	size_t n_meta;
	struct plan_result *res;
	struct tcspan_error *err;
	int error;
	size_t seq;
	size_t *op_seq;
	size_t cap_ops;			/* room in res->ops and op_seq */
	/* devices that this plan creates or re-creates: "NETNS/DEV" */
	char **fresh;
	size_t n_fresh;
	/* devices that this plan deletes (with their links): "NETNS/DEV" */
	char **doomed;
	size_t n_doomed;
	/* clsact qdiscs this plan adds or keeps: "NETNS/DEV" */
	char **clsact_needed;
	size_t n_clsact_needed;
	bool *rule_touched;
	struct datapath_choice *choice;	/* per rule: XDP or tc, and why */
	struct rule_id *ids;		/* (id, rule index), sorted by id */
	uint32_t *xdp_seen;		/* rule ids in this topology's XDP entries */
	size_t n_xdp_seen;
	bool meta_goes;			/* the whole map is removed at the end */
	/* Per observed namespace: its filters by device, in dump order within
	 * one (plan_hook runs per device and hook, and 10,000 filters on 100
	 * devices make a pass over all of them per hook the plan's largest
	 * cost). */
	const struct tc_filter ***by_dev;
};

/* The filters of one device, as a span of `by_dev`. */
struct dev_filters {
	const struct tc_filter *const *v;
	size_t n;
};

int plan_mirred_eaction(enum tcspan_action action, enum tcspan_hook to_hook)
{
	if (to_hook == TCSPAN_HOOK_INGRESS)
		return action == TCSPAN_ACTION_MIRROR ? TCA_INGRESS_MIRROR : TCA_INGRESS_REDIR;
	return action == TCSPAN_ACTION_MIRROR ? TCA_EGRESS_MIRROR : TCA_EGRESS_REDIR;
}

static bool is_ours(const struct planner *p, const struct tc_filter *f)
{
	return f->ours && f->cookie.topology_id == p->tid;
}

static int compare_by_dev(const void *x, const void *y)
{
	const struct tc_filter *a = *(const struct tc_filter *const *)x;
	const struct tc_filter *b = *(const struct tc_filter *const *)y;

	if (a->ifindex != b->ifindex)
		return a->ifindex < b->ifindex ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int index_filters(struct planner *p)
{
	size_t i, j;

	p->by_dev = calloc(p->obs->n_ns + 1, sizeof(*p->by_dev));
	if (!p->by_dev)
		return -ENOMEM;
	for (i = 0; i < p->obs->n_ns; i++) {
		const struct observed_netns *o = &p->obs->ns[i];

		p->by_dev[i] = calloc(o->n_filters + 1, sizeof(**p->by_dev));
		if (!p->by_dev[i])
			return -ENOMEM;
		for (j = 0; j < o->n_filters; j++)
			p->by_dev[i][j] = &o->filters[j];
		qsort(p->by_dev[i], o->n_filters, sizeof(**p->by_dev), compare_by_dev);
	}
	return 0;
}

static void free_index(struct planner *p)
{
	size_t i;

	for (i = 0; p->by_dev && i < p->obs->n_ns; i++)
		free(p->by_dev[i]);
	free(p->by_dev);
}

/* The filters observed on device `ifindex` of `o` (none without `o`). */
static struct dev_filters dev_filters(const struct planner *p,
				      const struct observed_netns *o, uint32_t ifindex)
{
	const struct tc_filter *const *v;
	size_t lo = 0, hi, end;

	if (!o)
		return (struct dev_filters){ NULL, 0 };
	v = p->by_dev[o - p->obs->ns];
	hi = o->n_filters;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid]->ifindex < ifindex)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < o->n_filters && v[end]->ifindex == ifindex; end++)
		;
	return (struct dev_filters){ v + lo, end - lo };
}

/* What a dump lists for a classifier instance itself, not a filter: the
 * root table of a u32 instance, handle 0 of a bpf one. */
static bool is_u32_root(const struct tc_filter *f)
{
	return (!strcmp(f->kind, "u32") && U32_NODE(f->handle) == 0) ||
	       (!strcmp(f->kind, "bpf") && f->handle == 0 && !f->has_mirred);
}

/*
 * The plan's strings: packed one after another in blocks, so that 30,000
 * texts of a large plan cost a few allocations, not one each.
 */
#define PLAN_STRINGS_BLOCK (64 << 10)

struct plan_strings {
	struct plan_strings *next;
	size_t used, size;
	char data[];
};

/* A copy of the `len` bytes at `s` (and a NUL) among the plan's strings. */
static const char *keep(struct planner *p, const char *s, size_t len)
{
	struct plan_strings *b = p->res->strings;
	char *out;

	if (!b || b->size - b->used < len + 1) {
		size_t size = len + 1 > PLAN_STRINGS_BLOCK ? len + 1 : PLAN_STRINGS_BLOCK;

		b = malloc(sizeof(*b) + size);
		if (!b) {
			p->error = -ENOMEM;
			return "";
		}
		b->used = 0;
		b->size = size;
		/* A block of one long string goes behind the current one. */
		if (size > PLAN_STRINGS_BLOCK && p->res->strings) {
			b->next = p->res->strings->next;
			p->res->strings->next = b;
		} else {
			b->next = p->res->strings;
			p->res->strings = b;
		}
	}
	out = b->data + b->used;
	memcpy(out, s, len);
	out[len] = '\0';
	b->used += len + 1;
	return out;
}

__attribute__((format(printf, 2, 3)))
static const char *fmt(struct planner *p, const char *f, ...)
{
	char buf[512], *s;
	const char *kept;
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	if (n < 0) {
		p->error = -ENOMEM;
		return "";
	}
	if ((size_t)n < sizeof(buf))
		return keep(p, buf, n);
	va_start(ap, f);
	n = vasprintf(&s, f, ap);
	va_end(ap);
	if (n < 0) {
		p->error = -ENOMEM;
		return "";
	}
	kept = keep(p, s, n);
	free(s);
	return kept;
}

__attribute__((format(printf, 3, 4)))
static void fail_at(struct planner *p, const struct tcspan_mark *mark, const char *f, ...)
{
	char *msg;
	va_list ap;

	va_start(ap, f);
	if (vasprintf(&msg, f, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (p->topo && mark && mark->line)
		tcspan_error__add(p->err, -EINVAL, "%s:%u:%u: error: %s", p->topo->file,
				  mark->line, mark->column, msg ? msg : "out of memory");
	else
		tcspan_error__add(p->err, -EINVAL, "error: %s", msg ? msg : "out of memory");
	free(msg);
	if (!p->error)
		p->error = -EEXIST;
}

static struct kop *push(struct planner *p, enum kop_type type)
{
	size_t cap = p->cap_ops ? p->cap_ops * 2 : 64;
	struct kop *v;
	size_t *s;

	/* Doubling: tens of thousands of ops cost no quadratic copying. */
	if (p->res->n_ops == p->cap_ops) {
		v = realloc(p->res->ops, cap * sizeof(*v));
		if (!v) {
			p->error = -ENOMEM;
			return NULL;
		}
		p->res->ops = v;
		s = realloc(p->op_seq, cap * sizeof(*s));
		if (!s) {
			p->error = -ENOMEM;
			return NULL;
		}
		p->op_seq = s;
		p->cap_ops = cap;
	}
	v = p->res->ops;
	p->op_seq[p->res->n_ops] = p->seq++;
	memset(&v[p->res->n_ops], 0, sizeof(*v));
	v[p->res->n_ops].type = type;
	return &v[p->res->n_ops++];
}

static void change(struct planner *p, enum tcspan_op op, enum tcspan_kind kind,
		   const char *name, const char *detail)
{
	struct tcspan_change *v;

	v = realloc(p->res->changes, (p->res->n_changes + 1) * sizeof(*v));
	if (!v) {
		p->error = -ENOMEM;
		return;
	}
	p->res->changes = v;
	v[p->res->n_changes++] = (struct tcspan_change){
		.op = op, .kind = kind, .name = name, .detail = detail,
	};
}

static bool in_list(char **list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

static void add_to_list(struct planner *p, char ***list, size_t *n, const char *s)
{
	char **v;

	if (in_list(*list, *n, s))
		return;
	v = realloc(*list, (*n + 1) * sizeof(*v));
	if (!v) {
		p->error = -ENOMEM;
		return;
	}
	*list = v;
	v[*n] = strdup(s);
	if (!v[*n]) {
		p->error = -ENOMEM;
		return;
	}
	(*n)++;
}

static const char *ep_str(struct planner *p, const char *netns, const char *dev)
{
	return *netns ? fmt(p, "%s/%s", netns, dev) : fmt(p, "%s", dev);
}

static bool is_fresh(struct planner *p, const char *netns, const char *dev)
{
	char key[TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 2];

	snprintf(key, sizeof(key), "%s/%s", netns, dev);
	return in_list(p->fresh, p->n_fresh, key);
}

static void mark_fresh(struct planner *p, const struct tcspan_endpoint *ep)
{
	char key[TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 2];

	snprintf(key, sizeof(key), "%s/%s", ep->netns, ep->dev);
	add_to_list(p, &p->fresh, &p->n_fresh, key);
}

static bool netns_desired(const struct planner *p, const char *name)
{
	size_t i;

	for (i = 0; p->topo && i < p->topo->n_namespaces; i++)
		if (!strcmp(p->topo->namespaces[i].name, name))
			return true;
	return false;
}

/* The device as it stands (NULL: missing or about to be created). */
static const struct link_dev *present_dev(struct planner *p, const char *netns,
					  const char *dev)
{
	const struct observed_netns *ns = observed__netns(p->obs, netns);

	if (!ns || is_fresh(p, netns, dev))
		return NULL;
	return link_table__by_name(&ns->links, dev);
}

/* ---- namespaces ------------------------------------------------------- */

static bool endpoint_in(const struct tcspan_endpoint *ep, const char *netns)
{
	return !strcmp(ep->netns, netns);
}

/*
 * An owned namespace the file no longer lists goes with all it holds: only
 * when that is nothing but this topology's, and nothing in the file uses it.
 */
static bool netns_removable(struct planner *p, const struct observed_netns *o)
{
	char topo[TCSPAN_TOPOLOGY_NAME_MAX + 1];
	const char *rest;
	size_t i;

	for (i = 0; i < o->links.count; i++) {
		const struct link_dev *d = &o->links.devs[i];

		if (!strcmp(d->name, "lo") || link_dev__unfinished(d, p->name) ||
		    (link_alias_parse(d->alias, topo, sizeof(topo), &rest) &&
		     !strcmp(topo, p->name)))
			continue;
		fail_at(p, NULL, "namespace \"%s\"%s holds device \"%s\" that is not "
			"this topology's; not removing it", o->name,
			p->topo ? " is no longer listed, but" : "", d->name);
		return false;
	}
	for (i = 0; p->topo && i < p->topo->n_links; i++) {
		const struct tcspan_link *l = &p->topo->links[i];

		if (endpoint_in(&l->a.ep, o->name) || endpoint_in(&l->b.ep, o->name)) {
			fail_at(p, &l->mark, "namespace \"%s\" is used here but no longer "
				"listed in \"namespaces\"", o->name);
			return false;
		}
	}
	for (i = 0; p->topo && i < p->topo->n_rules; i++) {
		const struct tcspan_rule *r = &p->topo->rules[i];

		if (endpoint_in(&r->from, o->name) || endpoint_in(&r->to, o->name)) {
			fail_at(p, &r->mark, "namespace \"%s\" is used here but no longer "
				"listed in \"namespaces\"", o->name);
			return false;
		}
	}
	return true;
}

static const struct observed_file *observed_file(const struct observed *obs,
						 const char *name)
{
	size_t i;

	for (i = 0; i < obs->n_files; i++)
		if (!strcmp(obs->files[i].name, name))
			return &obs->files[i];
	return NULL;
}

static void plan_namespaces(struct planner *p)
{
	size_t i;

	/* What a run killed before mounting a namespace left: removed first,
	 * the name then free. */
	for (i = 0; i < p->obs->n_files; i++) {
		const struct observed_file *f = &p->obs->files[i];
		struct kop *op;

		if (strcmp(f->owner, p->name))
			continue;
		op = push(p, KOP_NETNS_UNFINISHED_DEL);
		if (!op)
			return;
		str_copy(op->netns, sizeof(op->netns), f->name);
		change(p, TCSPAN_OP_REMOVE, TCSPAN_KIND_NETNS, fmt(p, "%s", f->name),
		       "left unfinished by an interrupted run");
	}

	for (i = 0; p->topo && i < p->topo->n_namespaces; i++) {
		const struct tcspan_namespace *n = &p->topo->namespaces[i];
		const struct observed_netns *o = observed__netns(p->obs, n->name);
		const struct observed_file *f;
		struct kop *op;

		if (!o && (f = observed_file(p->obs, n->name)) && strcmp(f->owner, p->name)) {
			fail_at(p, &n->mark, "/run/netns/%s exists and is not a namespace%s%s",
				n->name, *f->owner ? " (left by topology " : "",
				*f->owner ? fmt(p, "\"%s\")", f->owner) : "");
		} else if (!o) {
			op = push(p, KOP_NETNS_ADD);
			if (!op)
				return;
			str_copy(op->netns, sizeof(op->netns), n->name);
			op->mark = n->mark;
			change(p, TCSPAN_OP_ADD, TCSPAN_KIND_NETNS, fmt(p, "%s", n->name), NULL);
		} else if (strcmp(o->owner, p->name)) {
			if (*o->owner)
				fail_at(p, &n->mark, "namespace \"%s\" belongs to topology \"%s\"",
					n->name, o->owner);
			else
				fail_at(p, &n->mark,
					"namespace \"%s\" exists and was not created by tcspan",
					n->name);
		}
	}
	for (i = 0; i < p->obs->n_ns; i++) {
		const struct observed_netns *o = &p->obs->ns[i];
		struct kop *op;

		if (!*o->name || strcmp(o->owner, p->name) || netns_desired(p, o->name))
			continue;
		if (!netns_removable(p, o))
			continue;
		op = push(p, KOP_NETNS_DEL);
		if (!op)
			return;
		str_copy(op->netns, sizeof(op->netns), o->name);
		change(p, TCSPAN_OP_REMOVE, TCSPAN_KIND_NETNS, fmt(p, "%s", o->name), NULL);
	}
}

/* ---- links -------------------------------------------------------------- */

static bool same_addresses(const struct link_dev *d, const struct tcspan_prefix *want,
			   size_t n)
{
	size_t i, j;

	if (d->n_addresses != n)
		return false;
	for (i = 0; i < n; i++) {
		for (j = 0; j < d->n_addresses; j++) {
			const struct tcspan_prefix *a = &d->addresses[j];

			if (a->family == want[i].family && a->len == want[i].len &&
			    !memcmp(&a->addr, &want[i].addr,
				    a->family == AF_INET ? 4 : 16))
				break;
		}
		if (j == d->n_addresses)
			return false;
	}
	return true;
}

static const char *link_rest(struct planner *p, const struct tcspan_link *l)
{
	char a[TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 2], b[sizeof(a)];

	return fmt(p, "link %s %s", tcspan_endpoint__str(&l->a.ep, a, sizeof(a)),
		   tcspan_endpoint__str(&l->b.ep, b, sizeof(b)));
}

enum end_state {
	END_ABSENT,
	END_SAME,	/* this link's end, as it should be */
	END_DIFFERENT,	/* this topology's, but not as the file says */
	END_FOREIGN,	/* reported: not this topology's to touch */
};

static enum end_state check_end(struct planner *p, const struct link_dev *d,
				const char *rest, const struct tcspan_endpoint *ep)
{
	char topo[TCSPAN_TOPOLOGY_NAME_MAX + 1];
	const char *r;

	if (!d)
		return END_ABSENT;
	if (!link_alias_parse(d->alias, topo, sizeof(topo), &r)) {
		fail_at(p, &ep->mark, "device \"%s\" exists and was not created by tcspan",
			ep_str(p, ep->netns, ep->dev));
		return END_FOREIGN;
	}
	if (strcmp(topo, p->name)) {
		fail_at(p, &ep->mark, "device \"%s\" belongs to topology \"%s\"",
			ep_str(p, ep->netns, ep->dev), topo);
		return END_FOREIGN;
	}
	return !strcmp(r, rest) && !strcmp(d->kind, "veth") ? END_SAME : END_DIFFERENT;
}

static void link_op(struct planner *p, enum kop_type type, const struct tcspan_link *l)
{
	struct kop *op = push(p, type);

	if (!op)
		return;
	str_copy(op->netns, sizeof(op->netns), l->a.ep.netns);
	str_copy(op->dev, sizeof(op->dev), l->a.ep.dev);
	op->link.a = l->a.ep;
	op->link.b = l->b.ep;
	op->link.a_addresses = l->a.addresses;
	op->link.n_a = l->a.n_addresses;
	op->link.b_addresses = l->b.addresses;
	op->link.n_b = l->b.n_addresses;
	op->mark = l->mark;
}

static bool parse_endpoint(const char *s, size_t len, struct tcspan_endpoint *ep)
{
	const char *slash = memchr(s, '/', len);

	memset(ep, 0, sizeof(*ep));
	if (slash) {
		if ((size_t)(slash - s) > TCSPAN_NETNS_NAME_MAX)
			return false;
		memcpy(ep->netns, s, slash - s);
		len -= slash - s + 1;
		s = slash + 1;
	}
	if (!len || len >= IFNAMSIZ)
		return false;
	memcpy(ep->dev, s, len);
	return true;
}

static bool is_doomed(struct planner *p, const char *netns, const char *dev)
{
	char key[TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 2];

	snprintf(key, sizeof(key), "%s/%s", netns, dev);
	return in_list(p->doomed, p->n_doomed, key);
}

/*
 * Remove the veth pair named by alias `rest` ("link A B"), as observed:
 * delete it by an end that exists, remember both ends with their addresses
 * so that a rollback can re-create it, and doom both ends' devices.
 */
static void remove_link(struct planner *p, const char *rest)
{
	const char *r = rest + strlen("link "), *sp = strchr(r, ' ');
	struct tcspan_endpoint ends[2];
	const struct link_dev *dev[2] = {};
	struct kop *op;
	size_t k;

	if (!sp || !parse_endpoint(r, sp - r, &ends[0]) ||
	    !parse_endpoint(sp + 1, strlen(sp + 1), &ends[1]))
		return;
	for (k = 0; k < 2; k++) {
		const struct observed_netns *on = observed__netns(p->obs, ends[k].netns);
		char key[256];

		dev[k] = on ? link_table__by_name(&on->links, ends[k].dev) : NULL;
		snprintf(key, sizeof(key), "%s/%s", ends[k].netns, ends[k].dev);
		if (dev[k])
			add_to_list(p, &p->doomed, &p->n_doomed, key);
	}
	if (!dev[0] && !dev[1])
		return;
	op = push(p, KOP_LINK_DEL);
	if (!op)
		return;
	k = dev[0] ? 0 : 1;
	str_copy(op->netns, sizeof(op->netns), ends[k].netns);
	str_copy(op->dev, sizeof(op->dev), ends[k].dev);
	op->text = fmt(p, "tcspan:%s %s", p->name, rest);
	op->link.a = ends[0];
	op->link.b = ends[1];
	if (dev[0]) {
		op->link.a_addresses = dev[0]->addresses;
		op->link.n_a = dev[0]->n_addresses;
	}
	if (dev[1]) {
		op->link.b_addresses = dev[1]->addresses;
		op->link.n_b = dev[1]->n_addresses;
	}
}

/*
 * Pairs of this topology that a run killed between creating and marking
 * them left behind: deleted first, their names then free (see link.h).
 */
static void plan_unfinished(struct planner *p)
{
	struct tcspan_endpoint ep;
	struct kop *op;
	size_t i, j;

	for (i = 0; i < p->obs->n_ns; i++) {
		const struct observed_netns *o = &p->obs->ns[i];

		for (j = 0; j < o->links.count; j++) {
			const struct link_dev *d = &o->links.devs[j];

			if (!link_dev__unfinished(d, p->name))
				continue;
			op = push(p, KOP_UNFINISHED_DEL);
			if (!op)
				return;
			str_copy(op->netns, sizeof(op->netns), o->name);
			str_copy(op->dev, sizeof(op->dev), d->name);
			memset(&ep, 0, sizeof(ep));
			str_copy(ep.netns, sizeof(ep.netns), o->name);
			str_copy(ep.dev, sizeof(ep.dev), d->name);
			mark_fresh(p, &ep);
			change(p, TCSPAN_OP_REMOVE, TCSPAN_KIND_LINK, ep_str(p, o->name, d->name),
			       "left unfinished by an interrupted run");
		}
	}
}

static void plan_links(struct planner *p)
{
	char **kept = NULL, **gone = NULL;
	size_t n_kept = 0, n_gone = 0, i, j;

	plan_unfinished(p);

	for (i = 0; p->topo && i < p->topo->n_links; i++) {
		const struct tcspan_link *l = &p->topo->links[i];
		const char *rest = link_rest(p, l);
		const struct link_dev *da = present_dev(p, l->a.ep.netns, l->a.ep.dev);
		const struct link_dev *db = present_dev(p, l->b.ep.netns, l->b.ep.dev);
		enum end_state ea = check_end(p, da, rest, &l->a.ep);
		enum end_state eb = check_end(p, db, rest, &l->b.ep);
		const char *name = rest + strlen("link "), *sp = strchr(name, ' ');
		char topo[TCSPAN_TOPOLOGY_NAME_MAX + 1];
		const char *r;

		if (ea == END_FOREIGN || eb == END_FOREIGN)
			continue;
		if (ea == END_SAME && eb == END_SAME && da->up && db->up &&
		    same_addresses(da, l->a.addresses, l->a.n_addresses) &&
		    same_addresses(db, l->b.addresses, l->b.n_addresses)) {
			add_to_list(p, &kept, &n_kept, rest);
			continue;
		}
		name = fmt(p, "%.*s -- %s", (int)(sp - name), name, sp + 1);
		/* Whatever pairs the ends belong to now go first, then this one
		 * is made anew. */
		if (da && link_alias_parse(da->alias, topo, sizeof(topo), &r))
			add_to_list(p, &gone, &n_gone, r);
		if (db && link_alias_parse(db->alias, topo, sizeof(topo), &r))
			add_to_list(p, &gone, &n_gone, r);
		if (da || db)
			change(p, TCSPAN_OP_CHANGE, TCSPAN_KIND_LINK, name,
			       ea != END_SAME || eb != END_SAME ?
			       "re-created: an end is missing or differs" :
			       "re-created: addresses or state differ");
		else
			change(p, TCSPAN_OP_ADD, TCSPAN_KIND_LINK, name, NULL);
		link_op(p, KOP_LINK_ADD, l);
		mark_fresh(p, &l->a.ep);
		mark_fresh(p, &l->b.ep);
		add_to_list(p, &kept, &n_kept, rest);
	}

	/* This topology's pairs that the file no longer has. */
	for (i = 0; i < p->obs->n_ns; i++) {
		const struct observed_netns *o = &p->obs->ns[i];

		for (j = 0; j < o->links.count; j++) {
			const struct link_dev *d = &o->links.devs[j];
			char topo[TCSPAN_TOPOLOGY_NAME_MAX + 1];
			const char *r, *sp;

			if (!link_alias_parse(d->alias, topo, sizeof(topo), &r) ||
			    strcmp(topo, p->name) || strncmp(r, "link ", 5) ||
			    in_list(kept, n_kept, r) || in_list(gone, n_gone, r))
				continue;
			add_to_list(p, &gone, &n_gone, r);
			sp = strchr(r + 5, ' ');
			change(p, TCSPAN_OP_REMOVE, TCSPAN_KIND_LINK,
			       sp ? fmt(p, "%.*s -- %s", (int)(sp - r - 5), r + 5, sp + 1) :
				    ep_str(p, o->name, d->name), NULL);
		}
	}
	for (i = 0; i < n_gone; i++)
		remove_link(p, gone[i]);
	for (i = 0; i < n_kept; i++)
		free(kept[i]);
	free(kept);
	for (i = 0; i < n_gone; i++)
		free(gone[i]);
	free(gone);
}

/* ---- devices ------------------------------------------------------------ */

static void device_op(struct planner *p, enum kop_type type, const char *netns,
		      const struct tcspan_device *dev, const char *alias,
		      const struct tcspan_mark *mark)
{
	struct kop *op = push(p, type);

	if (!op)
		return;
	str_copy(op->netns, sizeof(op->netns), netns);
	str_copy(op->dev, sizeof(op->dev), dev->ep.dev);
	op->device = *dev;
	str_copy(op->device.ep.netns, sizeof(op->device.ep.netns), netns);
	op->text = fmt(p, "%s", alias);
	if (mark)
		op->mark = *mark;
}

/* Delete the observed device d of this topology (alias rest `rest`). */
static void remove_device(struct planner *p, const char *netns, const struct link_dev *d,
			  const char *rest)
{
	struct tcspan_device dev = {};
	char key[TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 2];

	str_copy(dev.ep.dev, sizeof(dev.ep.dev), d->name);
	if (!link_device_parse(rest, &dev)) {
		fail_at(p, NULL, "device \"%s\" carries a mark of this topology that this "
			"version of tcspan cannot read (\"%s\"); not removing it",
			ep_str(p, netns, d->name), d->alias);
		return;
	}
	snprintf(key, sizeof(key), "%s/%s", netns, d->name);
	add_to_list(p, &p->doomed, &p->n_doomed, key);
	device_op(p, KOP_DEVICE_DEL, netns, &dev, d->alias, NULL);
}

/* A vxlan's underlay: one of the file's link ends there, or present. */
static bool underlay_known(struct planner *p, const struct tcspan_device *dev)
{
	const struct observed_netns *o = observed__netns(p->obs, dev->ep.netns);

	return is_fresh(p, dev->ep.netns, dev->vxlan.underlay) ||
	       (o && link_table__by_name(&o->links, dev->vxlan.underlay));
}

static void plan_devices(struct planner *p)
{
	char topo[TCSPAN_TOPOLOGY_NAME_MAX + 1], rest[256], **kept = NULL;
	size_t n_kept = 0, i, j;
	const char *r;

	for (i = 0; p->topo && i < p->topo->n_devices; i++) {
		const struct tcspan_device *dev = &p->topo->devices[i];
		const struct tcspan_endpoint *ep = &dev->ep;
		const struct link_dev *d = present_dev(p, ep->netns, ep->dev);
		const char *kind = dev->kind == TCSPAN_DEVICE_IFB ? "ifb" : "vxlan";
		bool underlay_new = false;

		if (!link_device_rest(dev, rest, sizeof(rest))) {
			fail_at(p, &dev->mark, "device \"%s\": its settings are too long to "
				"record", ep_str(p, ep->netns, ep->dev));
			continue;
		}
		if (dev->kind == TCSPAN_DEVICE_VXLAN && dev->vxlan.underlay[0]) {
			if (!underlay_known(p, dev)) {
				fail_at(p, &dev->mark, "vxlan device \"%s\": underlay device "
					"\"%s\" not found", ep_str(p, ep->netns, ep->dev),
					ep_str(p, ep->netns, dev->vxlan.underlay));
				continue;
			}
			/* The kernel deletes a vxlan with its underlay. */
			underlay_new = is_fresh(p, ep->netns, dev->vxlan.underlay) ||
				       is_doomed(p, ep->netns, dev->vxlan.underlay);
		}
		if (d && !link_alias_parse(d->alias, topo, sizeof(topo), &r)) {
			fail_at(p, &ep->mark, "device \"%s\" exists and was not created by "
				"tcspan", ep_str(p, ep->netns, ep->dev));
			continue;
		}
		if (d && strcmp(topo, p->name)) {
			fail_at(p, &ep->mark, "device \"%s\" belongs to topology \"%s\"",
				ep_str(p, ep->netns, ep->dev), topo);
			continue;
		}
		add_to_list(p, &kept, &n_kept, ep_str(p, ep->netns, ep->dev));
		if (d && !strcmp(r, rest) && !strcmp(d->kind, kind) && d->up && !underlay_new)
			continue;
		if (d && !strncmp(r, "device ", 7))
			remove_device(p, ep->netns, d, r);
		/* A link end of this topology by that name goes with plan_links. */
		change(p, d ? TCSPAN_OP_CHANGE : TCSPAN_OP_ADD, TCSPAN_KIND_DEVICE,
		       ep_str(p, ep->netns, ep->dev),
		       !d ? kind : underlay_new ? "re-created: its underlay is re-created" :
		       strcmp(r, rest) ? "re-created: its settings differ" :
		       "re-created: it is down or differs");
		device_op(p, KOP_DEVICE_ADD, ep->netns, dev,
			  fmt(p, "tcspan:%s %s", p->name, rest), &dev->mark);
		mark_fresh(p, ep);
	}

	/* This topology's devices that the file no longer has. */
	for (i = 0; i < p->obs->n_ns; i++) {
		const struct observed_netns *o = &p->obs->ns[i];

		for (j = 0; j < o->links.count; j++) {
			const struct link_dev *d = &o->links.devs[j];

			if (!link_alias_parse(d->alias, topo, sizeof(topo), &r) ||
			    strcmp(topo, p->name) || strncmp(r, "device ", 7) ||
			    in_list(kept, n_kept, ep_str(p, o->name, d->name)))
				continue;
			change(p, TCSPAN_OP_REMOVE, TCSPAN_KIND_DEVICE,
			       ep_str(p, o->name, d->name), NULL);
			remove_device(p, o->name, d, r);
		}
	}
	for (i = 0; i < n_kept; i++)
		free(kept[i]);
	free(kept);
}

/* Our filters on devices that go with their links: deleted first, one by
 * one, so that a rollback can put them back. */
static void plan_doomed_filters(struct planner *p)
{
	size_t i, j;

	/* Mostly no device goes: then no filter needs looking at. */
	for (i = 0; p->n_doomed && i < p->obs->n_ns; i++) {
		const struct observed_netns *o = &p->obs->ns[i];

		for (j = 0; j < o->n_filters; j++) {
			const struct tc_filter *f = &o->filters[j];
			const struct link_dev *d = link_table__by_ifindex(&o->links, f->ifindex);
			const struct link_dev *t;
			struct kop *op;

			if (!is_ours(p, f) || !d || !is_doomed(p, o->name, d->name))
				continue;
			op = push(p, KOP_DOOMED_FILTER_DEL);
			if (!op)
				return;
			str_copy(op->netns, sizeof(op->netns), o->name);
			str_copy(op->dev, sizeof(op->dev), d->name);
			op->hook = f->hook;
			op->prio = f->prio;
			op->handle = f->handle;
			op->old = *f;
			t = link_table__by_ifindex(&o->links, f->mirred.ifindex);
			if (t)
				str_copy(op->target, sizeof(op->target), t->name);
		}
	}
}

/* ---- rules ------------------------------------------------------------- */

struct slot_rule {
	const struct tcspan_rule *rule;
	unsigned int hook;
};

static int compare_slot(const void *x, const void *y)
{
	const struct slot_rule *a = x, *b = y;
	int c;
	int32_t pa, pb;

	c = strcmp(a->rule->from.netns, b->rule->from.netns);
	if (!c)
		c = strcmp(a->rule->from.dev, b->rule->from.dev);
	if (!c)
		c = (int)a->hook - (int)b->hook;
	if (c)
		return c;
	/* A rule without `priority` counts as priority 0; ties keep file order. */
	pa = a->rule->has_priority ? a->rule->priority : 0;
	pb = b->rule->has_priority ? b->rule->priority : 0;
	if (pa != pb)
		return pa < pb ? -1 : 1;
	return (int)a->rule->index - (int)b->rule->index;
}

static const char *meta_text(const struct planner *p, uint32_t kind, uint32_t id)
{
	return meta_lookup(p->store, kind, id);
}

static void need_clsact(struct planner *p, const char *netns, const char *dev,
			const struct link_dev *d, const struct observed_netns *o)
{
	const char *key = ep_str(p, netns, dev);
	struct kop *op;

	if (in_list(p->clsact_needed, p->n_clsact_needed, key))
		return;
	add_to_list(p, &p->clsact_needed, &p->n_clsact_needed, key);
	if (d && o && observed_netns__has_clsact(o, d->ifindex))
		return;
	op = push(p, KOP_CLSACT_ADD);
	if (!op)
		return;
	str_copy(op->netns, sizeof(op->netns), netns);
	str_copy(op->dev, sizeof(op->dev), dev);
	/* Remember that it is ours, so that it goes when its rules go. */
	op = push(p, KOP_META_SET);
	if (!op)
		return;
	op->meta_kind = TCSPAN_META_CLSACT;
	op->meta_id = meta_id(key);
	op->text = key;
}

static bool rule_ids_equal(const struct tc_filter *f, const char *kind,
			   const struct tc_mirred_spec *m, const struct tc_cookie *c)
{
	return f->has_mirred && !strcmp(f->kind, kind) &&
	       f->mirred.eaction == m->eaction && f->mirred.verdict == m->verdict &&
	       f->mirred.ifindex == m->ifindex && f->cookie.rule_id == c->rule_id &&
	       f->cookie.spec == c->spec;
}

static const char *filter_desc(struct planner *p, const struct tc_filter *f)
{
	if (f->ours)
		return fmt(p, "a filter of another tcspan topology (%s prio %u handle 0x%x)",
			   f->kind, f->prio, f->handle);
	return fmt(p, "a filter tcspan did not create (%s prio %u handle 0x%x)",
		   f->kind, f->prio, f->handle);
}

/*
 * A prio in use on either hook: u32 tables of one prio on both hooks show
 * up in both hooks' dumps, so tcspan never shares a prio across hooks.
 */
static bool prio_used(const struct dev_filters *fs, uint16_t prio)
{
	size_t i;

	for (i = 0; i < fs->n; i++)
		if (fs->v[i]->prio == prio)
			return true;
	return false;
}

/* Our filters on one hook, sorted by (prio, key node), for lookups by slot. */
static int compare_slot_filter(const void *x, const void *y)
{
	const struct tc_filter *a = *(const struct tc_filter *const *)x;
	const struct tc_filter *b = *(const struct tc_filter *const *)y;

	if (a->prio != b->prio)
		return (int)a->prio - (int)b->prio;
	return (int)U32_NODE(a->handle) - (int)U32_NODE(b->handle);
}

/* The first filter at `prio` whose node is `node`, or with node 0 any. */
static const struct tc_filter *slot_find(const struct tc_filter *const *v, size_t n,
					 uint16_t prio, uint32_t node)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid]->prio < prio ||
		    (v[mid]->prio == prio && U32_NODE(v[mid]->handle) < node))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n && v[lo]->prio == prio && (!node || U32_NODE(v[lo]->handle) == node))
		return v[lo];
	return NULL;
}

static void filter_del(struct planner *p, const char *netns, const char *dev,
		       const struct tc_filter *f)
{
	struct kop *op = push(p, KOP_FILTER_DEL);

	if (!op)
		return;
	str_copy(op->netns, sizeof(op->netns), netns);
	str_copy(op->dev, sizeof(op->dev), dev);
	op->hook = f->hook;
	op->prio = f->prio;
	op->handle = f->handle;
	op->old = *f;
}

static void prio_del(struct planner *p, const char *netns, const char *dev,
		     unsigned int hook, uint16_t prio)
{
	struct kop *op = push(p, KOP_PRIO_DEL);

	if (!op)
		return;
	str_copy(op->netns, sizeof(op->netns), netns);
	str_copy(op->dev, sizeof(op->dev), dev);
	op->hook = hook;
	op->prio = prio;
}

/* Kinds of our filters in one prio. */
enum { KIND_U32 = 1, KIND_BPF = 2, KIND_OTHER = 4 };

/* One device and hook: rules sorted, laid out over prios and key nodes. */
static void plan_hook(struct planner *p, const struct slot_rule *s, size_t n)
{
	const struct tcspan_rule *first = s[0].rule;
	const char *netns = first->from.netns, *dev = first->from.dev;
	unsigned int hook = s[0].hook;
	const struct observed_netns *o = observed__netns(p->obs, netns);
	const struct link_dev *d = present_dev(p, netns, dev);
	uint16_t *owned = NULL, *prios = NULL;
	unsigned int *owned_kind = NULL;
	const struct link_dev **targets = NULL;
	size_t *group_first = NULL, *group_count = NULL;
	const struct tc_filter **mine = NULL;
	size_t groups = 0, n_owned = 0, n_reused, n_mine = 0, i, j, k;
	struct dev_filters fs = { NULL, 0 };
	bool bad = false, missing = false;
	uint32_t next;

	if (!d && !is_fresh(p, netns, dev)) {
		for (i = 0; i < n; i++)
			fail_at(p, &s[i].rule->from.mark, "device \"%s\" not found",
				ep_str(p, netns, dev));
		return;
	}
	/* Rules of a hook mostly share a target: looked up once per run of it. */
	targets = calloc(n + 1, sizeof(*targets));
	if (!targets) {
		p->error = -ENOMEM;
		return;
	}
	for (i = 0; i < n; i++) {
		const struct tcspan_rule *r = s[i].rule;
		const struct tcspan_rule *q = i ? s[i - 1].rule : NULL;
		bool same = q && !strcmp(q->to.dev, r->to.dev) &&
			    !strcmp(q->to.netns, r->to.netns);

		if (!same) {
			targets[i] = present_dev(p, r->to.netns, r->to.dev);
			missing = !targets[i] && !is_fresh(p, r->to.netns, r->to.dev);
		} else {
			targets[i] = targets[i - 1];
		}
		if (missing) {
			fail_at(p, &r->to.mark, "device \"%s\" not found",
				ep_str(p, r->to.netns, r->to.dev));
			bad = true;
		}
		if (r->has_match && r->match.has_bpf &&
		    (!p->objects || !p->objects[r - p->topo->rules].data)) {
			/* tcspan_plan__new() reads it, or refuses before we get here. */
			fail_at(p, &r->mark, "rule \"%s\": its \"match.bpf\" object \"%s\" "
				"was not read", r->name, r->match.bpf_object);
			bad = true;
		}
	}
	if (bad)
		goto out;
	need_clsact(p, netns, dev, d, o);
	if (d)
		fs = dev_filters(p, o, d->ifindex);

	/* Groups: a run of rules without match shares u32 prios; a rule with
	 * match is one bpf filter at a prio of its own. */
	group_first = calloc(n + 1, sizeof(*group_first));
	group_count = calloc(n + 1, sizeof(*group_count));
	owned = calloc(n + fs.n + 1, sizeof(*owned));
	owned_kind = calloc(n + fs.n + 1, sizeof(*owned_kind));
	mine = calloc(fs.n + 1, sizeof(*mine));
	prios = calloc(n + 1, sizeof(*prios));
	if (!group_first || !group_count || !owned || !owned_kind || !mine || !prios) {
		p->error = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		bool bpf = s[i].rule->has_match;

		if (groups && !bpf && !s[group_first[groups - 1]].rule->has_match &&
		    group_count[groups - 1] < TC_U32_NODES_PER_PRIO) {
			group_count[groups - 1]++;
			continue;
		}
		group_first[groups] = i;
		group_count[groups++] = 1;
	}
	for (i = 0; i < fs.n; i++) {
		const struct tc_filter *f = fs.v[i];

		if (f->hook == hook && is_ours(p, f) && U32_BUCKET(f->handle) == 0)
			mine[n_mine++] = f;
	}
	if (n_mine)
		qsort(mine, n_mine, sizeof(*mine), compare_slot_filter);
	for (i = 0; i < n_mine; i++) {
		unsigned int kind = !strcmp(mine[i]->kind, "bpf") ? KIND_BPF :
				    !strcmp(mine[i]->kind, "u32") ? KIND_U32 : KIND_OTHER;

		if (!n_owned || owned[n_owned - 1] != mine[i]->prio)
			owned[n_owned++] = mine[i]->prio;
		owned_kind[n_owned - 1] |= kind;
	}
	/* A prio never changes kind in place: then the hook moves, whole. */
	n_reused = groups < n_owned ? groups : n_owned;
	for (k = 0; k < n_reused; k++) {
		unsigned int want = s[group_first[k]].rule->has_match ? KIND_BPF : KIND_U32;

		if (owned_kind[k] != want)
			n_reused = 0;
	}
	next = n_owned ? owned[n_owned - 1] + 1u : TCSPAN_PRIO_BASE(hook);
	for (k = 0; k < groups; k++) {
		if (k < n_reused) {
			prios[k] = owned[k];
			continue;
		}
		while (next <= 0xffff && prio_used(&fs, next))
			next++;
		if (next > 0xffff) {
			fail_at(p, &first->mark, "no free tc prio left on %s %s",
				ep_str(p, netns, dev), tc_hook_name(hook));
			goto out;
		}
		prios[k] = next++;
	}

	/* A prio we keep must hold nothing but our own filters. */
	for (i = 0; i < fs.n; i++) {
		const struct tc_filter *f = fs.v[i];

		if (f->hook != hook || is_ours(p, f) || is_u32_root(f))
			continue;
		for (k = 0; k < n_reused; k++) {
			if (prios[k] == f->prio) {
				fail_at(p, &first->from.mark, "%s %s prio %u holds %s",
					ep_str(p, netns, dev), tc_hook_name(hook), f->prio,
					filter_desc(p, f));
				goto out;
			}
		}
	}

	for (k = 0; k < groups; k++) {
		for (j = 0; j < group_count[k]; j++) {
			const struct tcspan_rule *r = s[group_first[k] + j].rule;
			bool bpf = r->has_match;
			uint16_t prio = prios[k];
			uint32_t node = bpf ? TC_BPF_HANDLE : j + 1;
			const struct link_dev *t = targets[group_first[k] + j];
			const struct tc_filter *cur = NULL;
			const struct classifier_object *own =
				bpf && r->match.has_bpf ? &p->objects[r - p->topo->rules] : NULL;
			struct tc_mirred_spec m = {
				.eaction = plan_mirred_eaction(r->action, r->to_hook),
				.ifindex = t ? t->ifindex : 0,
				.verdict = r->action == TCSPAN_ACTION_MIRROR ? TC_ACT_UNSPEC
									      : TC_ACT_STOLEN,
			};
			struct tc_cookie c = {
				.topology_id = p->tid,
				.rule_id = meta_id(r->name),
				.spec = hook,
			};
			struct kop *op;

			if (bpf)
				c.spec = TC_COOKIE_SPEC(hook, own ? own->hash :
							classifier_match_hash(&r->match));
			cur = slot_find(mine, n_mine, prio, node);
			if (cur && t && rule_ids_equal(cur, bpf ? "bpf" : "u32", &m, &c))
				continue;
			op = push(p, cur ? KOP_FILTER_REPLACE : KOP_FILTER_ADD);
			if (!op)
				goto out;
			str_copy(op->netns, sizeof(op->netns), netns);
			str_copy(op->dev, sizeof(op->dev), dev);
			str_copy(op->target, sizeof(op->target), r->to.dev);
			op->hook = hook;
			op->prio = prio;
			op->handle = cur ? cur->handle : node;
			op->mirred = m;
			op->cookie = c;
			op->rule = r->name;
			op->mark = r->mark;
			op->bpf = bpf;
			op->match = bpf ? &r->match : NULL;
			op->object = own;
			if (cur) {
				op->old = *cur;
			} else if (bpf) {
				/* Its prio is new: the undo deletes the whole instance. */
				op->new_prio = true;
			} else {
				/* Undo deletes by full handle: the prio's root table id.
				 * (A prio tcspan takes anew holds no filter at all.) */
				const struct tc_filter *any = slot_find(mine, n_mine, prio, 0);

				op->new_prio = !any;
				if (any)
					op->old.handle = (any->handle & 0xfff00000) | node;
			}
			p->rule_touched[r - p->topo->rules] = true;
		}
	}

	/* What this hook holds of ours beyond the new layout. */
	for (i = 0; i < fs.n; i++) {
		const struct tc_filter *f = fs.v[i];
		bool kept = false;

		if (f->hook != hook || !is_ours(p, f))
			continue;
		for (k = 0; k < n_reused; k++) {
			if (prios[k] != f->prio || U32_BUCKET(f->handle) != 0)
				continue;
			if (s[group_first[k]].rule->has_match)
				kept |= !strcmp(f->kind, "bpf") && f->handle == TC_BPF_HANDLE;
			else
				kept |= !strcmp(f->kind, "u32") && U32_NODE(f->handle) >= 1 &&
					U32_NODE(f->handle) <= group_count[k];
		}
		if (!kept)
			filter_del(p, netns, dev, f);
	}
	/* Emptied u32 instances; a bpf instance goes with its one filter. */
	for (k = n_reused; k < n_owned; k++)
		if (owned_kind[k] & KIND_U32)
			prio_del(p, netns, dev, hook, owned[k]);
out:
	free(group_first);
	free(group_count);
	free(owned);
	free(owned_kind);
	free(mine);
	free(prios);
	free(targets);
}

/* Filters of ours on hooks that no rule uses any more. */
static void plan_stale_filters(struct planner *p, char **hooks_done, size_t n_done)
{
	char **emptied = NULL;
	size_t n_emptied = 0, i, j;

	for (i = 0; i < p->obs->n_ns; i++) {
		const struct observed_netns *o = &p->obs->ns[i];
		/* A dump lists a hook's filters together, by prio: what holds
		 * for one (its device, hook, prio) is looked up once. */
		const struct tc_filter *last = NULL;
		const struct link_dev *d = NULL;
		bool stale = false, prio_seen = false;

		for (j = 0; j < o->n_filters; j++) {
			const struct tc_filter *f = &o->filters[j];
			char key[TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 24];

			if (!is_ours(p, f))
				continue;
			if (!last || last->ifindex != f->ifindex || last->hook != f->hook) {
				d = link_table__by_ifindex(&o->links, f->ifindex);
				stale = d && !is_fresh(p, o->name, d->name) &&
					!is_doomed(p, o->name, d->name);
				if (stale) {
					snprintf(key, sizeof(key), "%s/%s %u", o->name, d->name,
						 f->hook);
					stale = !in_list(hooks_done, n_done, key);
				}
				prio_seen = false;
			} else if (last->prio != f->prio) {
				prio_seen = false;
			}
			last = f;
			if (!stale)
				continue;
			filter_del(p, o->name, d->name, f);
			/* The emptied u32 instance goes too, once per prio. */
			if (prio_seen || strcmp(f->kind, "u32"))
				continue;
			prio_seen = true;
			snprintf(key, sizeof(key), "%s/%s %u %u", o->name, d->name, f->hook,
				 f->prio);
			if (in_list(emptied, n_emptied, key))
				continue;
			add_to_list(p, &emptied, &n_emptied, key);
			prio_del(p, o->name, d->name, f->hook, f->prio);
		}
	}
	for (i = 0; i < n_emptied; i++)
		free(emptied[i]);
	free(emptied);
}

/* A clsact that goes, by device: the filters it takes with it. */
struct cover {
	char netns[TCSPAN_NETNS_NAME_MAX + 1];
	char dev[IFNAMSIZ];
	uint32_t id;
};

static int compare_cover(const void *x, const void *y)
{
	const struct cover *a = x, *b = y;
	int c = strcmp(a->netns, b->netns);

	return c ? c : strcmp(a->dev, b->dev);
}

/*
 * The filter and prio deletes on a device whose clsact goes: the kernel
 * takes them with the qdisc, at the cost of one message.  They stay in the
 * plan, numbered after their clsact's delete, for the undo.
 */
static void mark_covered(struct planner *p, struct cover *c, size_t n)
{
	struct kop *op;
	struct cover key, *hit;
	size_t i;

	if (!n)
		return;
	qsort(c, n, sizeof(*c), compare_cover);
	for (i = 0; i < p->res->n_ops; i++) {
		op = &p->res->ops[i];
		if (op->type != KOP_FILTER_DEL && op->type != KOP_PRIO_DEL)
			continue;
		memcpy(key.netns, op->netns, sizeof(key.netns));
		memcpy(key.dev, op->dev, sizeof(key.dev));
		hit = bsearch(&key, c, n, sizeof(*c), compare_cover);
		if (hit)
			op->cover = hit->id;
	}
}

/* clsact qdiscs that tcspan created and that hold nothing else now. */
static void plan_clsact_removal(struct planner *p)
{
	struct cover *covers = NULL, *grown;
	size_t i, j, n_covers = 0;

	for (i = 0; i < p->n_meta; i++) {
		const struct meta_entry *e = &p->meta[i];
		struct tcspan_endpoint ep;
		const struct observed_netns *o;
		const struct link_dev *d;
		bool foreign = false;
		struct kop *op;

		if (e->kind != TCSPAN_META_CLSACT ||
		    in_list(p->clsact_needed, p->n_clsact_needed, e->text))
			continue;
		if (parse_endpoint(e->text, strlen(e->text), &ep) &&
		    (o = observed__netns(p->obs, ep.netns)) &&
		    (d = link_table__by_name(&o->links, ep.dev)) &&
		    !is_fresh(p, ep.netns, ep.dev) && !is_doomed(p, ep.netns, ep.dev) &&
		    observed_netns__has_clsact(o, d->ifindex)) {
			struct dev_filters fs = dev_filters(p, o, d->ifindex);

			for (j = 0; j < fs.n; j++) {
				const struct tc_filter *f = fs.v[j];

				if (!is_ours(p, f) &&
				    !(is_u32_root(f) && f->prio >= TCSPAN_PRIO_INGRESS))
					foreign = true;
			}
			if (!foreign) {
				op = push(p, KOP_CLSACT_DEL);
				grown = op ? realloc(covers, (n_covers + 1) * sizeof(*covers)) : NULL;
				if (!grown) {
					if (op)
						p->error = -ENOMEM;
					goto out;
				}
				covers = grown;
				str_copy(op->netns, sizeof(op->netns), ep.netns);
				str_copy(op->dev, sizeof(op->dev), ep.dev);
				op->meta_kind = e->kind;
				op->meta_id = e->id;
				op->text = e->text;
				op->cover = n_covers + 1;
				memcpy(covers[n_covers].netns, op->netns, sizeof(op->netns));
				memcpy(covers[n_covers].dev, op->dev, sizeof(op->dev));
				covers[n_covers].id = op->cover;
				n_covers++;
			}
		}
		/* Forget it in any case: what is left is no longer ours alone. */
		if (p->meta_goes)
			continue;
		op = push(p, KOP_META_DEL);
		if (!op)
			goto out;
		op->meta_kind = e->kind;
		op->meta_id = e->id;
		op->text = e->text;
	}
	mark_covered(p, covers, n_covers);
out:
	free(covers);
}

/* ---- XDP --------------------------------------------------------------- */

static int compare_rule_id(const void *x, const void *y)
{
	const struct rule_id *a = x, *b = y;

	return a->id < b->id ? -1 : a->id > b->id;
}

/* The rule of the file with id `id`, or NULL. */
static const struct rule_id *rule_by_id(const struct planner *p, uint32_t id)
{
	struct rule_id key = { .id = id };
	size_t n = p->topo ? p->topo->n_rules : 0;

	return n ? bsearch(&key, p->ids, n, sizeof(key), compare_rule_id) : NULL;
}

/* The XDP program of a device as it stands (NULL: none, or about to be
 * created). */
static const struct xdp_prog *present_xdp(struct planner *p, const char *netns,
					  const char *dev)
{
	const struct link_dev *d = present_dev(p, netns, dev);

	if (!d || !d->xdp_prog_id)
		return NULL;
	return observed_netns__xdp(observed__netns(p->obs, netns), d->ifindex);
}

static bool xdp_mine(const struct planner *p, const struct xdp_prog *x)
{
	return x && x->ours && !strcmp(x->topology, p->name);
}

static uint32_t foreign_xdp(const char *netns, const char *dev, void *ctx)
{
	struct planner *p = ctx;
	const struct xdp_prog *x = present_xdp(p, netns, dev);

	return x && !xdp_mine(p, x) ? x->id : 0;
}

static const char *xdp_refused(const char *netns, const char *dev, void *ctx)
{
	const struct planner *p = ctx;
	size_t i;

	for (i = 0; i < p->obs->n_refused; i++)
		if (!strcmp(p->obs->refused[i].netns, netns) && !strcmp(p->obs->refused[i].dev, dev))
			return p->obs->refused[i].reason;
	return NULL;
}

/* A device that should run tcspan's XDP program, with its entries. */
struct xdp_dev {
	const char *netns, *dev;
	struct kop_xdp *x;
};

static struct kop_xdp *xdp_dev_add(struct planner *p, struct xdp_dev **v, size_t *n,
				   const char *netns, const char *dev)
{
	struct kop_xdp **keep, *x;
	struct xdp_dev *nv;

	x = calloc(1, sizeof(*x));
	x->entries = calloc(p->topo->n_rules + 1, sizeof(*x->entries));
	x->target = calloc((p->topo->n_rules + 1) * TCSPAN_XDP_TARGETS, sizeof(*x->target));
	keep = realloc(p->res->xdp, (p->res->n_xdp + 1) * sizeof(*keep));
	if (keep)
		p->res->xdp = keep;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (nv)
		*v = nv;
	if (!x || !x->entries || !x->target || !keep || !nv) {
		if (x) {
			free(x->entries);
			free(x->target);
		}
		free(x);
		p->error = -ENOMEM;
		return NULL;
	}
	keep[p->res->n_xdp++] = x;
	nv[(*n)++] = (struct xdp_dev){ netns, dev, x };
	return x;
}

static struct xdp_dev *xdp_dev_find(struct xdp_dev *v, size_t n, const char *netns,
				    const char *dev)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i].netns, netns) && !strcmp(v[i].dev, dev))
			return &v[i];
	return NULL;
}

/* Whether observed entry `o` is desired entry e of x, devices included. */
static bool xdp_entry_kept(struct planner *p, const char *netns, const struct kop_xdp *x,
			   size_t e, const struct xdp_entry *o)
{
	const struct tcspan_xdp_rule *w = &x->entries[e];
	const struct link_dev *t;
	uint32_t i;

	if (o->rule.hash != w->hash || o->rule.n_targets != w->n_targets ||
	    memcmp(o->rule.rule_id, w->rule_id, sizeof(w->rule_id)))
		return false;
	for (i = 0; i < w->n_targets; i++) {
		t = present_dev(p, netns, x->target[e * TCSPAN_XDP_TARGETS + i]);
		if (!t || t->ifindex != o->rule.ifindex[i])
			return false;
	}
	return true;
}

static void xdp_op(struct planner *p, const struct xdp_dev *d)
{
	const struct xdp_prog *cur = present_xdp(p, d->netns, d->dev);
	const struct tcspan_rule *rules = p->topo->rules;
	bool same = xdp_mine(p, cur) && cur->n_entries == d->x->n;
	size_t e, i, t;
	struct kop *op;

	for (e = 0; e < d->x->n; e++) {
		if (xdp_mine(p, cur) && e < cur->n_entries &&
		    xdp_entry_kept(p, d->netns, d->x, e, &cur->entries[e]))
			continue;
		same = false;
		/* The rules of a new or changed entry are changes of their own. */
		for (t = 0; t < d->x->entries[e].n_targets; t++) {
			const struct rule_id *r = rule_by_id(p, d->x->entries[e].rule_id[t]);

			if (r)
				p->rule_touched[r->index] = true;
		}
	}
	if (same)
		return;
	/* A peer readied anew: for the rules that send into its veth. */
	for (i = 0; !d->x->n && i < p->topo->n_rules; i++) {
		const struct tcspan_endpoint *peer;

		if (!p->choice[i].xdp)
			continue;
		peer = datapath_link_peer(p->topo, rules[i].to.netns, rules[i].to.dev);
		if (peer && !strcmp(peer->netns, d->netns) && !strcmp(peer->dev, d->dev))
			p->rule_touched[i] = true;
	}
	op = push(p, KOP_XDP_SET);
	if (!op)
		return;
	str_copy(op->netns, sizeof(op->netns), d->netns);
	str_copy(op->dev, sizeof(op->dev), d->dev);
	op->xdp = d->x;
	op->xdp_prog_id = xdp_mine(p, cur) ? cur->id : 0;
}

/* This topology's XDP programs that nothing wants any more, and the rule
 * ids their entries carry. */
static void plan_xdp_removal(struct planner *p, struct xdp_dev *wanted, size_t n_wanted)
{
	size_t i, j, t, w;

	for (i = 0; i < p->obs->n_ns; i++) {
		const struct observed_netns *o = &p->obs->ns[i];

		for (j = 0; j < o->n_xdp; j++) {
			const struct xdp_prog *x = &o->xdp[j];
			const struct link_dev *d = link_table__by_ifindex(&o->links, x->ifindex);
			bool keep = false;
			struct kop *op;

			if (!xdp_mine(p, x) || !d)
				continue;
			for (t = 0; t < x->n_entries; t++) {
				uint32_t *v = realloc(p->xdp_seen, (p->n_xdp_seen + TCSPAN_XDP_TARGETS) *
						      sizeof(*v));

				if (!v) {
					p->error = -ENOMEM;
					return;
				}
				p->xdp_seen = v;
				for (w = 0; w < x->entries[t].rule.n_targets; w++)
					v[p->n_xdp_seen++] = x->entries[t].rule.rule_id[w];
			}
			keep = xdp_dev_find(wanted, n_wanted, o->name, d->name) != NULL;
			/* Re-created: the program went with the old device. */
			if (keep || is_fresh(p, o->name, d->name))
				continue;
			op = push(p, is_doomed(p, o->name, d->name) ? KOP_DOOMED_XDP_DEL : KOP_XDP_DEL);
			if (!op)
				return;
			str_copy(op->netns, sizeof(op->netns), o->name);
			str_copy(op->dev, sizeof(op->dev), d->name);
			op->xdp_prog_id = x->id;
			op->xdp_mode = x->mode;
		}
	}
}

/*
 * The XDP programs the choices ask for: on each device with XDP rules, its
 * entries in hook order; on the other end of each link they send into, a
 * program with no entries (a veth drops XDP frames unless its peer runs
 * XDP), unless that end has a program of someone else's, which does as
 * well and is left alone.  Then the programs of this topology that are
 * not wanted any more.
 */
static void plan_xdp(struct planner *p)
{
	size_t n_rules = p->topo ? p->topo->n_rules : 0, n = 0, n_devs = 0, i, j, k;
	struct xdp_dev *devs = NULL, *d;
	struct slot_rule *order;

	order = calloc(n_rules + 1, sizeof(*order));
	if (!order) {
		p->error = -ENOMEM;
		return;
	}
	for (i = 0; i < n_rules; i++) {
		const struct tcspan_rule *r = &p->topo->rules[i];

		if (!p->choice[i].xdp)
			continue;
		if (!present_dev(p, r->from.netns, r->from.dev) &&
		    !is_fresh(p, r->from.netns, r->from.dev))
			fail_at(p, &r->from.mark, "device \"%s\" not found",
				ep_str(p, r->from.netns, r->from.dev));
		else if (!present_dev(p, r->to.netns, r->to.dev) &&
			 !is_fresh(p, r->to.netns, r->to.dev))
			fail_at(p, &r->to.mark, "device \"%s\" not found",
				ep_str(p, r->to.netns, r->to.dev));
		else
			order[n++] = (struct slot_rule){ r, TCSPAN_HOOK_INGRESS };
	}
	if (n)
		qsort(order, n, sizeof(*order), compare_slot);
	for (i = 0; i < n && !p->error; i++) {
		const struct tcspan_rule *h = order[i].rule;
		size_t hi = h - p->topo->rules, first = i;
		struct tcspan_xdp_rule *e;
		char (*target)[IFNAMSIZ];
		struct kop_xdp *x;

		if (p->choice[hi].head != hi)
			continue;
		d = xdp_dev_find(devs, n_devs, h->from.netns, h->from.dev);
		x = d ? d->x : xdp_dev_add(p, &devs, &n_devs, h->from.netns, h->from.dev);
		if (!x)
			break;
		e = &x->entries[x->n];
		target = &x->target[x->n * TCSPAN_XDP_TARGETS];
		x->n++;
		e->n_targets = 1;
		e->rule_id[0] = meta_id(h->name);
		snprintf(target[0], IFNAMSIZ, "%s", h->to.dev);
		/* The mirrors that ride along come right before it, in order. */
		while (first > 0 && p->choice[order[first - 1].rule - p->topo->rules].head == hi)
			first--;
		for (j = first; j < i; j++) {
			e->rule_id[e->n_targets] = meta_id(order[j].rule->name);
			snprintf(target[e->n_targets], IFNAMSIZ, "%s", order[j].rule->to.dev);
			e->n_targets++;
		}
		if (h->has_match)
			classifier_cfg(&h->match, &e->match);
		e->hash = xdp_rule_hash(e);
		for (k = 0; k < e->n_targets; k++) {
			const struct link_dev *t = present_dev(p, h->from.netns, target[k]);

			e->ifindex[k] = t ? t->ifindex : 0;
		}
	}
	/* The other ends of the links that entries send into. */
	for (i = 0, k = n_devs; i < k && !p->error; i++) {
		for (j = 0; j < devs[i].x->n * TCSPAN_XDP_TARGETS; j++) {
			const struct tcspan_endpoint *peer;
			const struct xdp_prog *cur;

			if (j % TCSPAN_XDP_TARGETS >= devs[i].x->entries[j / TCSPAN_XDP_TARGETS].n_targets)
				continue;
			peer = datapath_link_peer(p->topo, devs[i].netns, devs[i].x->target[j]);
			if (!peer || xdp_dev_find(devs, n_devs, peer->netns, peer->dev))
				continue;
			cur = present_xdp(p, peer->netns, peer->dev);
			if (cur && !xdp_mine(p, cur))
				continue;
			if (!xdp_dev_add(p, &devs, &n_devs, peer->netns, peer->dev))
				break;
		}
	}
	/* Peers first: a device sends into a veth only once its peer is ready. */
	for (i = k; i < n_devs && !p->error; i++)
		xdp_op(p, &devs[i]);
	for (i = 0; i < k && i < n_devs && !p->error; i++)
		xdp_op(p, &devs[i]);
	if (!p->error)
		plan_xdp_removal(p, devs, n_devs);
	free(order);
	free(devs);
}

/* What the rule does, and where it runs unless `datapath: tc` chose. */
static const char *rule_detail(struct planner *p, const struct tcspan_rule *r)
{
	const struct datapath_choice *c = &p->choice[r - p->topo->rules];
	char ep[TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 2];
	/* Two endpoints, the fallback and the words: no truncation. */
	char out[2 * sizeof(ep) + sizeof(c->fallback) + 64];
	size_t len = 0;

	/* "ACTION FROM HOOKS -> TO HOOK[, on xdp | , on tc: WHY]", without
	 * printf: a first apply of 10,000 rules writes 10,000 of these. */
	out[0] = '\0';
	str_append(out, sizeof(out), &len,
		   r->action == TCSPAN_ACTION_MIRROR ? "mirror " : "redirect ");
	str_append(out, sizeof(out), &len, tcspan_endpoint__str(&r->from, ep, sizeof(ep)));
	str_append(out, sizeof(out), &len,
		   r->hooks == (TCSPAN_HOOK_INGRESS | TCSPAN_HOOK_EGRESS) ? " both -> " :
		   r->hooks == TCSPAN_HOOK_INGRESS ? " ingress -> " : " egress -> ");
	str_append(out, sizeof(out), &len, tcspan_endpoint__str(&r->to, ep, sizeof(ep)));
	str_append(out, sizeof(out), &len,
		   r->to_hook == TCSPAN_HOOK_INGRESS ? " ingress" : " egress");
	if (c->xdp) {
		str_append(out, sizeof(out), &len, ", on xdp");
	} else if (c->fallback[0]) {
		str_append(out, sizeof(out), &len, ", on tc: ");
		str_append(out, sizeof(out), &len, c->fallback);
	}
	return keep(p, out, len);
}

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool has_id(const uint32_t *sorted, size_t n, uint32_t id)
{
	return n && bsearch(&id, sorted, n, sizeof(*sorted), compare_u32) != NULL;
}

/* Sorted, without repeats; returns the new length. */
static size_t sort_unique(uint32_t *v, size_t n)
{
	size_t i, k = 0;

	if (n)
		qsort(v, n, sizeof(*v), compare_u32);
	for (i = 0; i < n; i++)
		if (!k || v[k - 1] != v[i])
			v[k++] = v[i];
	return k;
}

/*
 * Why auto left rules on tc, for `show`: each distinct reason once, in a
 * REASON entry, and each rule's entry names it by id (ref).  10,000 rules
 * that share a reason cost one entry, not 10,000.
 */
struct reasons {
	struct plan_named_text *v;	/* sorted by id */
	size_t n;
	uint32_t *ref;			/* per rule: its reason's id, or 0 */
};

static int compare_hashed(const void *x, const void *y)
{
	const struct plan_hashed_text *a = x, *b = y;

	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

static int compare_named_id(const void *x, const void *y)
{
	const struct plan_named_text *a = x, *b = y;

	return a->id < b->id ? -1 : a->id > b->id;
}

/* The lowest id above 0 that none of v[0..n) (sorted by id) has. */
static uint32_t free_id(const struct plan_named_text *v, size_t n)
{
	uint32_t id = 1;
	size_t k;

	for (k = 0; k < n && v[k].id <= id; k++)
		if (v[k].id == id)
			id++;
	return id;
}

size_t plan_text_ids(struct plan_hashed_text *v, size_t n, struct plan_named_text *ids)
{
	size_t n_ids = 0, i, j, k, run;
	bool wrapped = false;
	uint32_t last = 0, id;

	if (n)
		qsort(v, n, sizeof(*v), compare_hashed);
	for (i = 0; i < n; i = j) {
		/* A run of one hash: its texts are one, but for a collision. */
		run = n_ids;
		for (j = i; j < n && v[j].hash == v[i].hash; j++) {
			for (k = wrapped ? 0 : run; k < n_ids && strcmp(ids[k].text, v[j].text); k++)
				;
			if (k < n_ids) {
				v[j].id = ids[k].id;
				continue;
			}
			if (last == UINT32_MAX)
				wrapped = true;
			if (wrapped) {
				id = free_id(ids, n_ids);
			} else {
				id = v[j].hash > last ? v[j].hash : last + 1;
				last = id = id ? id : 1;
			}
			ids[n_ids++] = (struct plan_named_text){ id, v[j].text };
			/* Kept sorted by id, for free_id() and the caller. */
			if (wrapped)
				qsort(ids, n_ids, sizeof(*ids), compare_named_id);
			v[j].id = id;
		}
	}
	return n_ids;
}

static void find_reasons(struct planner *p, struct reasons *out)
{
	size_t n_rules = p->topo ? p->topo->n_rules : 0, n = 0, i;
	struct plan_hashed_text *v = calloc(n_rules + 1, sizeof(*v));

	out->v = calloc(n_rules + 1, sizeof(*out->v));
	out->ref = calloc(n_rules + 1, sizeof(*out->ref));
	out->n = 0;
	if (!v || !out->v || !out->ref) {
		p->error = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n_rules; i++) {
		const char *why = p->choice[i].fallback;

		if (why[0])
			v[n++] = (struct plan_hashed_text){ meta_id(why), i, why, 0 };
	}
	out->n = plan_text_ids(v, n, out->v);
	for (i = 0; i < n; i++)
		out->ref[v[i].index] = v[i].id;
out:
	free(v);
}

static bool reason_wanted(const struct reasons *r, uint32_t id)
{
	struct plan_named_text key = { .id = id };

	return r->n && bsearch(&key, r->v, r->n, sizeof(key), compare_named_id);
}

static void meta_op(struct planner *p, enum kop_type type, uint32_t kind, uint32_t id,
		    const char *text, uint32_t ref)
{
	struct kop *op = push(p, type);

	if (!op)
		return;
	op->meta_kind = kind;
	op->meta_id = id;
	op->text = text;
	op->meta_ref = ref;
}

/* The delete of entry `e`, which keeps what it held for an undo. */
static void meta_del(struct planner *p, const struct meta_entry *e)
{
	meta_op(p, KOP_META_DEL, e->kind, e->id, e->text, e->ref);
}

static void plan_rules(struct planner *p)
{
	size_t n_rules = p->topo ? p->topo->n_rules : 0;
	struct slot_rule *slots = NULL;
	char **hooks_done = NULL;
	uint32_t *desired = NULL, *seen = NULL;
	size_t n = 0, i, j, start, n_done = 0, n_seen = 0, n_filters = 0, n_desired;
	struct reasons reasons = {};

	slots = calloc(n_rules * 2 + 1, sizeof(*slots));
	p->rule_touched = calloc(n_rules + 1, sizeof(bool));
	desired = calloc(n_rules + 1, sizeof(*desired));
	if (!slots || !p->rule_touched || !desired) {
		p->error = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n_rules; i++) {
		const struct tcspan_rule *r = &p->topo->rules[i];

		desired[i] = meta_id(r->name);
		if ((r->hooks & TCSPAN_HOOK_INGRESS) && !p->choice[i].xdp)
			slots[n++] = (struct slot_rule){ r, TCSPAN_HOOK_INGRESS };
		if (r->hooks & TCSPAN_HOOK_EGRESS)
			slots[n++] = (struct slot_rule){ r, TCSPAN_HOOK_EGRESS };
	}
	n_desired = sort_unique(desired, n_rules);
	/* Ids name rules in the kernel; two names with one id cannot coexist. */
	for (i = 0; n_desired < n_rules && i < n_rules; i++) {
		for (j = 0; j < i; j++) {
			if (meta_id(p->topo->rules[j].name) == meta_id(p->topo->rules[i].name))
				fail_at(p, &p->topo->rules[i].mark, "rule names \"%s\" and \"%s\" "
					"have the same id; rename one", p->topo->rules[i].name,
					p->topo->rules[j].name);
		}
	}
	if (n)
		qsort(slots, n, sizeof(*slots), compare_slot);
	for (start = 0; start < n; start = i) {
		char key[TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 16];

		for (i = start + 1; i < n; i++) {
			if (strcmp(slots[i].rule->from.netns, slots[start].rule->from.netns) ||
			    strcmp(slots[i].rule->from.dev, slots[start].rule->from.dev) ||
			    slots[i].hook != slots[start].hook)
				break;
		}
		plan_hook(p, &slots[start], i - start);
		snprintf(key, sizeof(key), "%s/%s %u", slots[start].rule->from.netns,
			 slots[start].rule->from.dev, slots[start].hook);
		add_to_list(p, &hooks_done, &n_done, key);
	}
	plan_stale_filters(p, hooks_done, n_done);
	plan_xdp(p);
	if (p->error)
		goto out;

	/* The user's view: rules by id, present in the kernel or not. */
	for (i = 0; i < p->obs->n_ns; i++)
		n_filters += p->obs->ns[i].n_filters;
	seen = calloc(n_filters + p->n_xdp_seen + 1, sizeof(*seen));
	if (!seen) {
		p->error = -ENOMEM;
		goto out;
	}
	for (i = 0; i < p->n_xdp_seen; i++)
		seen[n_seen++] = p->xdp_seen[i];
	for (i = 0; i < p->obs->n_ns; i++) {
		const struct observed_netns *o = &p->obs->ns[i];

		for (j = 0; j < o->n_filters; j++)
			if (is_ours(p, &o->filters[j]))
				seen[n_seen++] = o->filters[j].cookie.rule_id;
	}
	n_seen = sort_unique(seen, n_seen);
	find_reasons(p, &reasons);
	/* Reasons first: a rule's entry never names one not yet written. */
	for (i = 0; i < reasons.n && !p->error; i++) {
		const struct plan_named_text *rs = &reasons.v[i];
		const struct meta_entry *e = meta_find(p->store, TCSPAN_META_REASON, rs->id);

		if (!e || !meta_text_equal(e->text, rs->text))
			meta_op(p, KOP_META_SET, TCSPAN_META_REASON, rs->id,
				keep(p, rs->text, strlen(rs->text)), 0);
	}
	for (i = 0; i < n_rules && !p->error; i++) {
		const struct tcspan_rule *r = &p->topo->rules[i];
		uint32_t id = meta_id(r->name);
		const struct meta_entry *e = meta_find(p->store, TCSPAN_META_RULE, id);
		bool named = e && !strcmp(e->text, r->name);

		if (!has_id(seen, n_seen, id))
			change(p, TCSPAN_OP_ADD, TCSPAN_KIND_RULE, r->name, rule_detail(p, r));
		else if (p->rule_touched[i])
			change(p, TCSPAN_OP_CHANGE, TCSPAN_KIND_RULE, r->name, rule_detail(p, r));
		else if (!named)
			change(p, TCSPAN_OP_CHANGE, TCSPAN_KIND_RULE, r->name,
			       "its name is written back to the kernel");
		if (!named || e->ref != reasons.ref[i])
			meta_op(p, KOP_META_SET, TCSPAN_META_RULE, id, r->name, reasons.ref[i]);
	}
	if (p->error)
		goto out;
	for (j = 0; j < n_seen; j++) {
		const char *text = meta_text(p, TCSPAN_META_RULE, seen[j]);

		if (!has_id(desired, n_desired, seen[j]))
			change(p, TCSPAN_OP_REMOVE, TCSPAN_KIND_RULE,
			       text ? fmt(p, "%s", text) : fmt(p, "rule-%08x", seen[j]), NULL);
	}
	/* Names of rules that are gone from file and kernel alike, reasons
	 * that no longer hold, and the earlier builds' reasons per rule. */
	for (i = 0; i < p->n_meta; i++) {
		const struct meta_entry *e = &p->meta[i];

		if ((e->kind == TCSPAN_META_REASON && !reason_wanted(&reasons, e->id)) ||
		    e->kind == TCSPAN_META_FALLBACK) {
			if (!p->meta_goes)
				meta_del(p, e);
			continue;
		}
		if (e->kind != TCSPAN_META_RULE || has_id(desired, n_desired, e->id))
			continue;
		if (!has_id(seen, n_seen, e->id))
			change(p, TCSPAN_OP_REMOVE, TCSPAN_KIND_RULE, e->text,
			       "only its name was left in the kernel");
		if (!p->meta_goes)
			meta_del(p, e);
	}
out:
	free(reasons.v);
	free(reasons.ref);
	for (i = 0; i < n_done; i++)
		free(hooks_done[i]);
	free(hooks_done);
	free(desired);
	free(seen);
	free(slots);
}

static const struct plan_result *sort_res;
static const size_t *sort_seq;

static int compare_op(const void *x, const void *y)
{
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	const struct kop *oa = &sort_res->ops[a], *ob = &sort_res->ops[b];

	if (oa->type != ob->type)
		return (int)oa->type - (int)ob->type;
	return sort_seq[a] < sort_seq[b] ? -1 : sort_seq[a] > sort_seq[b];
}

/* Order by phase, keeping the order within a phase (a stable sort).  The
 * ops move in place, cycle by cycle: a copy of the array would double
 * the peak memory of a large plan. */
static int sort_ops(struct planner *p)
{
	size_t *idx, i, j, k, n = p->res->n_ops;
	struct kop *ops = p->res->ops, tmp;

	if (!n)
		return 0;
	idx = calloc(n, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		idx[i] = i;
	sort_res = p->res;
	sort_seq = p->op_seq;
	qsort(idx, n, sizeof(*idx), compare_op);
	/* Position i takes the op at idx[i]; idx[j] = j marks j as filled. */
	for (i = 0; i < n; i++) {
		if (idx[i] == i)
			continue;
		tmp = ops[i];
		for (j = i; idx[j] != i; j = k) {
			k = idx[j];
			ops[j] = ops[k];
			idx[j] = j;
		}
		ops[j] = tmp;
		idx[j] = j;
	}
	free(idx);
	return 0;
}

int plan_compute(const struct tcspan_topology *topo, const char *name,
		 const struct observed *obs, const struct meta_store *meta,
		 bool have_meta_map, const struct classifier_object *objects,
		 struct plan_result *out, struct tcspan_error *err)
{
	struct planner p = {
		.topo = topo,
		.name = name,
		.tid = meta_id(name),
		.obs = obs,
		.store = meta,
		.meta = meta->entries,
		.n_meta = meta->count,
		.objects = objects,
		.res = out,
		.err = err,
	};
	size_t i;

	memset(out, 0, sizeof(*out));
	/* Destroy removes the map last: its entries need no deleting one by one. */
	p.meta_goes = !topo && have_meta_map;
	if (index_filters(&p)) {
		free_index(&p);
		return -ENOMEM;
	}
	plan_namespaces(&p);
	plan_links(&p);
	plan_devices(&p);
	/* XDP or tc: after links and devices, so that fresh ones are known. */
	p.choice = calloc(topo ? topo->n_rules + 1 : 1, sizeof(*p.choice));
	p.ids = calloc(topo ? topo->n_rules + 1 : 1, sizeof(*p.ids));
	for (i = 0; p.ids && topo && i < topo->n_rules; i++)
		p.ids[i] = (struct rule_id){ meta_id(topo->rules[i].name), i };
	if (p.ids && topo && topo->n_rules)
		qsort(p.ids, topo->n_rules, sizeof(*p.ids), compare_rule_id);
	if (!p.choice || !p.ids ||
	    (topo && datapath_decide(topo, &(struct datapath_env){ foreign_xdp, xdp_refused, &p },
				     p.choice)))
		p.error = -ENOMEM;
	for (i = 0; !p.error && topo && i < topo->n_rules; i++)
		if (p.choice[i].refused)
			fail_at(&p, &topo->rules[i].mark, "rule \"%s\": datapath: xdp, but %s",
				topo->rules[i].name, p.choice[i].fallback);
	plan_doomed_filters(&p);
	plan_rules(&p);
	plan_clsact_removal(&p);
	if (topo && !have_meta_map && (topo->n_rules || out->n_ops))
		push(&p, KOP_META_CREATE);
	if (!topo && have_meta_map)
		push(&p, KOP_META_REMOVE);
	if (!p.error)
		p.error = sort_ops(&p);

	for (i = 0; i < p.n_fresh; i++)
		free(p.fresh[i]);
	free(p.fresh);
	for (i = 0; i < p.n_doomed; i++)
		free(p.doomed[i]);
	free(p.doomed);
	for (i = 0; i < p.n_clsact_needed; i++)
		free(p.clsact_needed[i]);
	free(p.clsact_needed);
	free(p.rule_touched);
	free(p.choice);
	free(p.ids);
	free(p.xdp_seen);
	free(p.op_seq);
	free_index(&p);
	if (p.error)
		plan_result__free(out);
	return p.error;
}

void plan_result__free(struct plan_result *res)
{
	size_t i;

	if (!res)
		return;
	while (res->strings) {
		struct plan_strings *next = res->strings->next;

		free(res->strings);
		res->strings = next;
	}
	free(res->ops);
	free(res->changes);
	for (i = 0; i < res->n_xdp; i++) {
		free(res->xdp[i]->entries);
		free(res->xdp[i]->target);
		free(res->xdp[i]);
	}
	free(res->xdp);
	memset(res, 0, sizeof(*res));
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "datapath.h"

static bool at(const struct tcspan_endpoint *ep, const char *netns, const char *dev)
{
	return !strcmp(ep->netns, netns) && !strcmp(ep->dev, dev);
}

const struct tcspan_endpoint *datapath_link_peer(const struct tcspan_topology *topo,
						 const char *netns, const char *dev)
{
	size_t i;

	for (i = 0; i < topo->n_links; i++) {
		if (at(&topo->links[i].a.ep, netns, dev))
			return &topo->links[i].b.ep;
		if (at(&topo->links[i].b.ep, netns, dev))
			return &topo->links[i].a.ep;
	}
	return NULL;
}

/* "NETNS/DEV" of an endpoint, for messages. */
static const char *ep(const struct tcspan_endpoint *e, char *buf, size_t size)
{
	return tcspan_endpoint__str(e, buf, size);
}

static const struct tcspan_topology *sort_topo;

/* Rules by the device they take packets from. */
static int compare_from(const void *x, const void *y)
{
	const struct tcspan_rule *a = &sort_topo->rules[*(const size_t *)x];
	const struct tcspan_rule *b = &sort_topo->rules[*(const size_t *)y];
	int c = strcmp(a->from.netns, b->from.netns);

	return c ? c : strcmp(a->from.dev, b->from.dev);
}

/* The first rule taking packets at NETNS/DEV egress, in `egress` (rule
 * indexes sorted by compare_from), or NULL. */
static const struct tcspan_rule *egress_rule(const struct tcspan_topology *topo,
					     const size_t *egress, size_t n,
					     const struct tcspan_endpoint *at_ep)
{
	size_t lo = 0, hi = n, mid;
	int c;

	while (lo < hi) {
		const struct tcspan_rule *q;

		mid = (lo + hi) / 2;
		q = &topo->rules[egress[mid]];
		c = strcmp(q->from.netns, at_ep->netns);
		if (!c)
			c = strcmp(q->from.dev, at_ep->dev);
		if (!c)
			return q;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Why `r` cannot run on XDP whatever the other rules of its hook do: into
 * buf, true; false when it could.  `egress`: the rules with an egress hook
 * (see egress_rule()).
 */
static bool own_reason(const struct tcspan_topology *topo, const struct datapath_env *env,
		       const size_t *egress, size_t n_egress, const struct tcspan_rule *r,
		       char *buf, size_t size)
{
	const struct tcspan_endpoint *peer;
	const struct tcspan_rule *q;
	char a[TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 2], b[sizeof(a)];
	const char *why;
	uint32_t id;

	if (r->hooks != TCSPAN_HOOK_INGRESS) {
		snprintf(buf, size, "XDP sees only the packets a device receives "
			 "(direction: ingress)");
		return true;
	}
	if (r->to_hook != TCSPAN_HOOK_EGRESS) {
		snprintf(buf, size, "XDP sends frames out of a device, not into its "
			 "ingress (to_direction: egress)");
		return true;
	}
	if (r->has_match && r->match.has_bpf) {
		snprintf(buf, size, "its own classifier (match.bpf) is a tc program");
		return true;
	}
	if (r->has_match && r->match.has_sample) {
		snprintf(buf, size, "sample keeps its flow table on tc");
		return true;
	}
	if (!datapath_link_peer(topo, r->to.netns, r->to.dev)) {
		snprintf(buf, size, "%s is not an end of a link of this topology (XDP frames "
			 "go only to veths tcspan readies)", ep(&r->to, a, sizeof(a)));
		return true;
	}
	q = egress_rule(topo, egress, n_egress, &r->to);
	if (q) {
		snprintf(buf, size, "rule \"%s\" takes packets at %s egress, which XDP "
			 "frames skip", q->name, ep(&r->to, a, sizeof(a)));
		return true;
	}
	if (env && env->foreign_xdp &&
	    (id = env->foreign_xdp(r->from.netns, r->from.dev, env->ctx))) {
		snprintf(buf, size, "%s has an XDP program that tcspan did not create (id %u)",
			 ep(&r->from, a, sizeof(a)), id);
		return true;
	}
	if (env && env->xdp_refused &&
	    (why = env->xdp_refused(r->from.netns, r->from.dev, env->ctx))) {
		snprintf(buf, size, "%s refused the XDP program at apply (%s)",
			 ep(&r->from, a, sizeof(a)), why);
		return true;
	}
	peer = datapath_link_peer(topo, r->to.netns, r->to.dev);
	if (env && env->xdp_refused &&
	    (why = env->xdp_refused(peer->netns, peer->dev, env->ctx))) {
		snprintf(buf, size, "%s, the other end of %s, refused the XDP program that "
			 "readies it at apply (%s)", ep(peer, a, sizeof(a)),
			 ep(&r->to, b, sizeof(b)), why);
		return true;
	}
	return false;
}

/* Rules taken at ingress, by device, then in the order they run. */
static int compare_order(const void *x, const void *y)
{
	const struct tcspan_rule *a = &sort_topo->rules[*(const size_t *)x];
	const struct tcspan_rule *b = &sort_topo->rules[*(const size_t *)y];
	int32_t pa = a->has_priority ? a->priority : 0, pb = b->has_priority ? b->priority : 0;
	int c;

	c = strcmp(a->from.netns, b->from.netns);
	if (!c)
		c = strcmp(a->from.dev, b->from.dev);
	if (c)
		return c;
	if (pa != pb)
		return pa < pb ? -1 : 1;
	return (int)a->index - (int)b->index;
}

static bool same_match(const struct tcspan_rule *a, const struct tcspan_rule *b)
{
	static struct tcspan_match_cfg ca, cb;

	if (a->has_match != b->has_match)
		return false;
	if (!a->has_match)
		return true;
	classifier_cfg(&a->match, &ca);
	classifier_cfg(&b->match, &cb);
	return !memcmp(&ca, &cb, sizeof(ca));
}

#define RIDE_ONLY "XDP cannot copy a packet and also pass it on; a mirror rides on XDP " \
		  "only with the next redirect of its hook, same match"

/* The rules of one device's ingress hook, in order: order[0..n). */
static void decide_hook(const struct tcspan_topology *topo, const size_t *order, size_t n,
			struct datapath_choice *out)
{
	char a[TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 2];
	const struct tcspan_rule *blocker = NULL;
	size_t *pending = calloc(n + 1, sizeof(*pending));
	size_t n_pending = 0, entries = 0, i, k;

	if (!pending) {
		for (i = 0; i < n; i++)
			snprintf(out[order[i]].fallback, sizeof(out[0].fallback), "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		const struct tcspan_rule *r = &topo->rules[order[i]];
		struct datapath_choice *c = &out[order[i]];
		bool tc = r->datapath == TCSPAN_DATAPATH_TC || c->fallback[0];
		bool ok = true;

		if (blocker) {
			if (!tc)
				snprintf(c->fallback, sizeof(c->fallback), "rule \"%s\" comes "
					 "before it on %s ingress and runs on tc", blocker->name,
					 ep(&r->from, a, sizeof(a)));
			continue;
		}
		if (tc) {
			for (k = 0; k < n_pending; k++)
				snprintf(out[pending[k]].fallback, sizeof(out[0].fallback),
					 RIDE_ONLY);
			blocker = n_pending ? &topo->rules[pending[0]] : r;
			n_pending = 0;
			continue;
		}
		if (r->action == TCSPAN_ACTION_MIRROR) {
			pending[n_pending++] = order[i];
			continue;
		}
		for (k = 0; k < n_pending; k++)
			ok &= same_match(&topo->rules[pending[k]], r);
		if (ok && entries < TCSPAN_XDP_RULES && n_pending < TCSPAN_XDP_TARGETS) {
			c->xdp = true;
			c->head = order[i];
			for (k = 0; k < n_pending; k++) {
				out[pending[k]].xdp = true;
				out[pending[k]].head = order[i];
			}
			entries++;
			n_pending = 0;
			continue;
		}
		for (k = 0; k < n_pending; k++) {
			if (!same_match(&topo->rules[pending[k]], r))
				snprintf(out[pending[k]].fallback, sizeof(out[0].fallback),
					 RIDE_ONLY);
			else
				snprintf(out[pending[k]].fallback, sizeof(out[0].fallback),
					 "the redirect it would ride with, \"%s\", runs on tc",
					 r->name);
		}
		if (!ok)
			snprintf(c->fallback, sizeof(c->fallback), "rule \"%s\" comes before it "
				 "on %s ingress and runs on tc", topo->rules[pending[0]].name,
				 ep(&r->from, a, sizeof(a)));
		else if (entries >= TCSPAN_XDP_RULES)
			snprintf(c->fallback, sizeof(c->fallback), "%s has %d redirects on XDP "
				 "already, the most one device carries", ep(&r->from, a, sizeof(a)),
				 TCSPAN_XDP_RULES);
		else
			snprintf(c->fallback, sizeof(c->fallback), "more than %d mirrors ride "
				 "with it, the most one XDP broadcast carries",
				 TCSPAN_XDP_TARGETS - 1);
		blocker = n_pending ? &topo->rules[pending[0]] : r;
		n_pending = 0;
	}
	for (k = 0; k < n_pending; k++)
		snprintf(out[pending[k]].fallback, sizeof(out[0].fallback), RIDE_ONLY);
	free(pending);
}

int datapath_decide(const struct tcspan_topology *topo, const struct datapath_env *env,
		    struct datapath_choice *out)
{
	size_t *order, *egress, n = 0, n_egress = 0, i, start;

	memset(out, 0, topo->n_rules * sizeof(*out));
	order = calloc(topo->n_rules + 1, sizeof(*order));
	egress = calloc(topo->n_rules + 1, sizeof(*egress));
	if (!order || !egress) {
		free(order);
		free(egress);
		return -ENOMEM;
	}
	sort_topo = topo;
	for (i = 0; i < topo->n_rules; i++)
		if (topo->rules[i].hooks & TCSPAN_HOOK_EGRESS)
			egress[n_egress++] = i;
	if (n_egress)
		qsort(egress, n_egress, sizeof(*egress), compare_from);
	for (i = 0; i < topo->n_rules; i++) {
		const struct tcspan_rule *r = &topo->rules[i];

		out[i].head = i;
		if (r->datapath != TCSPAN_DATAPATH_TC)
			own_reason(topo, env, egress, n_egress, r, out[i].fallback,
				   sizeof(out[i].fallback));
		if (r->hooks & TCSPAN_HOOK_INGRESS)
			order[n++] = i;
	}
	if (n)
		qsort(order, n, sizeof(*order), compare_order);
	for (start = 0; start < n; start = i) {
		const struct tcspan_rule *s = &topo->rules[order[start]];

		for (i = start + 1; i < n && at(&topo->rules[order[i]].from, s->from.netns,
						s->from.dev); i++)
			;
		decide_hook(topo, &order[start], i - start, out);
	}
	for (i = 0; i < topo->n_rules; i++) {
		if (out[i].xdp)
			out[i].fallback[0] = '\0';
		else if (topo->rules[i].datapath == TCSPAN_DATAPATH_XDP)
			out[i].refused = true;
	}
	free(order);
	free(egress);
	return 0;
}

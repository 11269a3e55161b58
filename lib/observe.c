// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dirnames.h"
#include "netns.h"
#include "observe.h"
#include "str.h"

int conn_pool__get(struct conn_pool *pool, const char *netns, struct nl_conn **conn,
		   struct tcspan_error *err)
{
	struct nl_conn **conns;
	char **names;
	size_t i;
	int ret;

	for (i = 0; i < pool->count; i++) {
		if (!strcmp(pool->names[i], netns)) {
			*conn = pool->conns[i];
			return 0;
		}
	}
	names = realloc(pool->names, (pool->count + 1) * sizeof(*names));
	if (!names)
		return -ENOMEM;
	pool->names = names;
	conns = realloc(pool->conns, (pool->count + 1) * sizeof(*conns));
	if (!conns)
		return -ENOMEM;
	pool->conns = conns;
	ret = nl_conn__open(netns, conn, err);
	if (ret)
		return ret;
	names[pool->count] = strdup(netns);
	if (!names[pool->count]) {
		nl_conn__close(*conn);
		return -ENOMEM;
	}
	conns[pool->count++] = *conn;
	return 0;
}

void conn_pool__drop(struct conn_pool *pool, const char *netns)
{
	size_t i;

	for (i = 0; i < pool->count; i++) {
		if (strcmp(pool->names[i], netns))
			continue;
		nl_conn__close(pool->conns[i]);
		free(pool->names[i]);
		pool->count--;
		pool->conns[i] = pool->conns[pool->count];
		pool->names[i] = pool->names[pool->count];
		return;
	}
}

void conn_pool__free(struct conn_pool *pool)
{
	size_t i;

	if (!pool)
		return;
	for (i = 0; i < pool->count; i++) {
		nl_conn__close(pool->conns[i]);
		free(pool->names[i]);
	}
	free(pool->conns);
	free(pool->names);
	memset(pool, 0, sizeof(*pool));
}

static int observe_netns(struct conn_pool *pool, struct observed_netns *ns,
			 struct tcspan_error *err)
{
	const struct link_dev *lo;
	struct nl_conn *conn;
	const char *rest;
	size_t i, n, cap = 0;
	int ret;

	ret = conn_pool__get(pool, ns->name, &conn, err);
	if (ret)
		return ret;
	ret = link_dump(conn, &ns->links, err);
	if (ret)
		return ret;
	lo = link_table__by_name(&ns->links, "lo");
	if (*ns->name && lo &&
	    !(link_alias_parse(lo->alias, ns->owner, sizeof(ns->owner), &rest) &&
	      !strcmp(rest, "netns")))
		ns->owner[0] = '\0';
	ret = tc_dump_clsact(conn, &ns->clsact, &ns->n_clsact, err);
	if (ret)
		return ret;
	for (i = 0; i < ns->n_clsact; i++) {
		ret = tc_dump_filters(conn, ns->clsact[i], TCSPAN_HOOK_INGRESS,
				      &ns->filters, &ns->n_filters, &cap, err);
		if (!ret)
			ret = tc_dump_filters(conn, ns->clsact[i], TCSPAN_HOOK_EGRESS,
					      &ns->filters, &ns->n_filters, &cap, err);
		if (ret)
			return ret;
	}
	/* Our filters listed in the other hook's dump are not that hook's. */
	for (i = 0, n = 0; i < ns->n_filters; i++) {
		const struct tc_filter *f = &ns->filters[i];

		if (f->ours && (TC_COOKIE_SPEC_HOOK(f->cookie.spec) == TCSPAN_HOOK_INGRESS ||
				TC_COOKIE_SPEC_HOOK(f->cookie.spec) == TCSPAN_HOOK_EGRESS) &&
		    TC_COOKIE_SPEC_HOOK(f->cookie.spec) != f->hook)
			continue;
		ns->filters[n++] = *f;
	}
	ns->n_filters = n;
	/* XDP programs: whose they are, and tcspan's entries. */
	for (i = 0; i < ns->links.count; i++) {
		const struct link_dev *d = &ns->links.devs[i];
		struct xdp_prog *v;

		if (!d->xdp_prog_id)
			continue;
		v = realloc(ns->xdp, (ns->n_xdp + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ns->xdp = v;
		ret = xdp_prog_read(d->ifindex, d->xdp_prog_id, d->xdp_mode, &v[ns->n_xdp], err);
		ns->n_xdp++;
		if (ret)
			return ret;
	}
	return 0;
}

/* Files a run killed before mounting its namespace left (netns.h). */
static int observe_files(struct observed *obs)
{
	char **names = NULL;
	size_t n = 0, i;
	int ret;

	ret = netns_list_files(&names, &n);
	if (ret)
		return ret;
	obs->files = calloc(n + 1, sizeof(*obs->files));
	if (!obs->files) {
		dir_names_free(names, n);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct observed_file *f = &obs->files[obs->n_files++];

		str_copy(f->name, sizeof(f->name), names[i]);
		netns_file_owner(names[i], f->owner, sizeof(f->owner));
	}
	dir_names_free(names, n);
	return 0;
}

int observe(struct conn_pool *pool, struct observed *obs, struct tcspan_error *err)
{
	char **names = NULL;
	size_t n = 0, i;
	int ret;

	memset(obs, 0, sizeof(*obs));
	ret = netns_list(&names, &n);
	if (ret)
		return tcspan_error__add(err, ret, "cannot list /run/netns: %s", strerror(-ret));
	obs->ns = calloc(n + 1, sizeof(*obs->ns));
	if (!obs->ns) {
		ret = -ENOMEM;
		goto out;
	}
	obs->n_ns = n + 1;
	for (i = 0; i < n; i++)
		str_copy(obs->ns[i + 1].name, sizeof(obs->ns[i + 1].name), names[i]);
	for (i = 0; i < obs->n_ns; i++) {
		ret = observe_netns(pool, &obs->ns[i], err);
		if (ret)
			goto out;
	}
	if (!ret)
		ret = observe_files(obs);
out:
	dir_names_free(names, n);
	if (ret)
		observed__free(obs);
	return ret;
}

void observed__free(struct observed *obs)
{
	size_t i, j;

	if (!obs)
		return;
	for (i = 0; i < obs->n_ns; i++) {
		link_table__free(&obs->ns[i].links);
		free(obs->ns[i].clsact);
		free(obs->ns[i].filters);
		for (j = 0; j < obs->ns[i].n_xdp; j++)
			xdp_prog__free(&obs->ns[i].xdp[j]);
		free(obs->ns[i].xdp);
	}
	free(obs->ns);
	free(obs->files);
	memset(obs, 0, sizeof(*obs));
}

const struct observed_netns *observed__netns(const struct observed *obs, const char *name)
{
	size_t i;

	for (i = 0; i < obs->n_ns; i++)
		if (!strcmp(obs->ns[i].name, name))
			return &obs->ns[i];
	return NULL;
}

bool observed_netns__has_clsact(const struct observed_netns *ns, uint32_t ifindex)
{
	size_t i;

	for (i = 0; i < ns->n_clsact; i++)
		if (ns->clsact[i] == ifindex)
			return true;
	return false;
}

const struct xdp_prog *observed_netns__xdp(const struct observed_netns *ns, uint32_t ifindex)
{
	size_t i;

	for (i = 0; ns && i < ns->n_xdp; i++)
		if (ns->xdp[i].ifindex == ifindex)
			return &ns->xdp[i];
	return NULL;
}

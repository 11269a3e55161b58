// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>

#include "apply.h"
#include "classifier.h"
#include "link.h"
#include "netns.h"
#include "xdp.h"
#include "str.h"

struct run {
	struct apply_ctx *ctx;
	const struct kop *ops;
	size_t n_ops;
	bool *done;
	struct meta_entry *old_meta;	/* META_SET: the entry it overwrote */
	bool *had_old;
	struct classifier_shared *shared; /* the built-in classifier of this run */
	int *prog_fd;			/* match.bpf add/replace: until its ack */
	int *old_prog_fd;		/* bpf replace/delete: for the undo */
	int *xdp_fd;			/* XDP attach: the new program; delete: the old */
	size_t *clsact_of;		/* by kop.cover: the CLSACT_DEL's op */
	uint8_t *xdp_mode;		/* XDP attach: how it went on */
	struct tcspan_xdp_order *xdp_old; /* XDP update: the order it replaced */
	struct tcspan_error *err;
	int error;
	/* ifindexes by name, per namespace, refreshed after device changes */
	char **cache_ns;
	struct link_table *cache;
	size_t n_cache;
	/* The last names resolved: ops come sorted, and a run of filters on
	 * one device to one target needs no lookup past its first. */
	struct resolved {
		char netns[TCSPAN_NETNS_NAME_MAX + 1];
		char dev[IFNAMSIZ];
		int ifindex;		/* 0: empty */
	} last[2];
	unsigned int next_last;
};

static void drop_cache(struct run *r)
{
	size_t i;

	for (i = 0; i < r->n_cache; i++) {
		free(r->cache_ns[i]);
		link_table__free(&r->cache[i]);
	}
	free(r->cache_ns);
	free(r->cache);
	r->cache_ns = NULL;
	r->cache = NULL;
	r->n_cache = 0;
	memset(r->last, 0, sizeof(r->last));
}

static int resolve(struct run *r, const char *netns, const char *dev,
		   struct tcspan_error *err)
{
	const struct link_dev *d;
	struct link_table *tables;
	struct nl_conn *conn;
	struct resolved *m;
	char **names;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(r->last) / sizeof(r->last[0]); i++) {
		m = &r->last[i];
		if (m->ifindex && !strcmp(m->dev, dev) && !strcmp(m->netns, netns))
			return m->ifindex;
	}
	for (i = 0; i < r->n_cache && strcmp(r->cache_ns[i], netns); i++)
		;
	if (i == r->n_cache) {
		ret = conn_pool__get(r->ctx->pool, netns, &conn, err);
		if (ret)
			return ret;
		names = realloc(r->cache_ns, (i + 1) * sizeof(*names));
		if (!names)
			return -ENOMEM;
		r->cache_ns = names;
		tables = realloc(r->cache, (i + 1) * sizeof(*tables));
		if (!tables)
			return -ENOMEM;
		r->cache = tables;
		ret = link_dump(conn, &tables[i], err);
		if (ret)
			return ret;
		names[i] = strdup(netns);
		if (!names[i]) {
			link_table__free(&tables[i]);
			return -ENOMEM;
		}
		r->n_cache++;
	}
	d = link_table__by_name(&r->cache[i], dev);
	if (!d)
		return tcspan_error__add(err, -ENODEV, "device \"%s%s%s\" not found",
					 netns, *netns ? "/" : "", dev);
	m = &r->last[r->next_last++ % (sizeof(r->last) / sizeof(r->last[0]))];
	str_copy(m->netns, sizeof(m->netns), netns);
	str_copy(m->dev, sizeof(m->dev), dev);
	m->ifindex = (int)d->ifindex;
	return m->ifindex;
}

static const char *where(const struct run *r, const struct kop *op, char *buf, size_t size)
{
	if (op->rule && r->ctx->file)
		snprintf(buf, size, "rule \"%s\" (%s:%u:%u): ", op->rule, r->ctx->file,
			 op->mark.line, op->mark.column);
	else if (op->rule)
		snprintf(buf, size, "rule \"%s\": ", op->rule);
	else if (op->mark.line && r->ctx->file)
		snprintf(buf, size, "%s:%u:%u: ", r->ctx->file, op->mark.line,
			 op->mark.column);
	else
		buf[0] = '\0';
	return buf;
}

/*
 * After the kernel's answer, the line of the file that the failed step
 * came from, in the form of a file error.
 */
static void blame(const struct run *r, const struct kop *op, int ret, struct tcspan_error *err)
{
	char what[TCSPAN_RULE_NAME_MAX + 16] = "this";

	if (op->rule)
		snprintf(what, sizeof(what), "rule \"%s\"", op->rule);
	if (op->mark.line && r->ctx->file)
		tcspan_error__add(err, ret, "%s:%u:%u: error: %s cannot be applied (see above)",
				  r->ctx->file, op->mark.line, op->mark.column, what);
	else if (op->rule)
		tcspan_error__add(err, ret, "%s cannot be applied (see above)", what);
}

static const char *op_verb(enum kop_type type)
{
	switch (type) {
	case KOP_CLSACT_ADD:	return "cannot add clsact";
	case KOP_CLSACT_DEL:	return "cannot delete clsact";
	case KOP_FILTER_ADD:	return "cannot add filter";
	case KOP_FILTER_REPLACE: return "cannot replace filter";
	case KOP_FILTER_DEL:
	case KOP_DOOMED_FILTER_DEL: return "cannot delete filter";
	case KOP_PRIO_DEL:	return "cannot delete filter prio";
	default:		return "cannot change";
	}
}

static void tc_ack(void *tag, int error, const char *extack, void *arg)
{
	struct run *r = arg;
	size_t i = (uintptr_t)tag;
	const struct kop *op = &r->ops[i];
	char w[512];

	/* The filter holds its program now (or never will). */
	if (r->prog_fd[i] >= 0) {
		close(r->prog_fd[i]);
		r->prog_fd[i] = -1;
	}
	if (!error) {
		r->done[i] = true;
		return;
	}
	/* Deleting what is already gone is what a delete wants. */
	if ((op->type == KOP_FILTER_DEL || op->type == KOP_DOOMED_FILTER_DEL ||
	     op->type == KOP_PRIO_DEL) &&
	    (error == -ENOENT || error == -ENODEV)) {
		r->done[i] = true;
		return;
	}
	tcspan_error__add(r->err, error, "%s%s on %s%s%s%s: %s%s", where(r, op, w, sizeof(w)),
			  op_verb(op->type), op->netns, *op->netns ? "/" : "", op->dev,
			  op->type == KOP_CLSACT_ADD || op->type == KOP_CLSACT_DEL ? "" :
			  op->hook == 1 ? " ingress" : " egress",
			  extack ? extack : strerror(-error), nl_eperm_hint(error));
	if (!r->error)
		r->error = error;
}

/* "tcspan:TOPOLOGY:RULE", the bpf filter's name (TCA_BPF_NAME). */
static void bpf_name(const struct run *r, const struct kop *op, char *buf, size_t size)
{
	if (op->rule)
		snprintf(buf, size, "tcspan:%s:%s", r->ctx->name, op->rule);
	else if (op->old.bpf_name[0])
		snprintf(buf, size, "%s", op->old.bpf_name);
	else
		snprintf(buf, size, "tcspan:%s", r->ctx->name);
}

/* The program of the bpf filter an op replaces or deletes, kept by fd so
 * that an undo can put it back. */
static void hold_old_program(struct run *r, size_t i)
{
	const struct kop *op = &r->ops[i];

	if (strcmp(op->old.kind, "bpf") || !op->old.prog_id || r->old_prog_fd[i] >= 0)
		return;
	r->old_prog_fd[i] = bpf_prog_get_fd_by_id(op->old.prog_id);
	if (r->old_prog_fd[i] < 0)
		r->old_prog_fd[i] = -1;
}

static int old_program(struct run *r, size_t i, struct tcspan_error *err)
{
	if (r->old_prog_fd[i] < 0)
		return tcspan_error__add(err, -ENOENT, "the replaced BPF classifier (id %u) "
					 "is gone", r->ops[i].old.prog_id);
	return r->old_prog_fd[i];
}

/*
 * The program of a bpf filter that op i adds or replaces: the rule's own
 * (match.bpf), loaded once and held until the ack, or the run's built-in
 * classifier with the rule's keys in a slot of its own (*classid).
 */
static int new_program(struct run *r, size_t i, uint32_t *classid, struct tcspan_error *err)
{
	const struct kop *op = &r->ops[i];
	struct tcspan_match_cfg cfg;
	char w[512];
	int fd;

	where(r, op, w, sizeof(w));
	*classid = 0;
	if (op->match->has_bpf) {
		if (r->prog_fd[i] < 0) {
			if (!op->object)
				return tcspan_error__add(err, -EINVAL, "%sits match.bpf object "
							 "was not read", w);
			fd = classifier_load_object(op->match->bpf_object, op->object, w, err);
			if (fd < 0)
				return fd;
			r->prog_fd[i] = fd;
		}
		return r->prog_fd[i];
	}
	classifier_cfg(op->match, &cfg);
	return classifier_shared__add(r->shared, &cfg, classifier_sample_flows(op->match),
				      classid, w, err);
}

/* Build the tc message of an op, or of its inverse (`undo`). */
static struct nl_msg *tc_message(struct run *r, size_t i, bool undo,
				 struct tcspan_error *err)
{
	const struct kop *op = &r->ops[i];
	struct tc_mirred_spec m = op->mirred;
	char name[256];
	int ifindex, target, fd;
	uint32_t classid;

	ifindex = resolve(r, op->netns, op->dev, err);
	if (ifindex < 0)
		return NULL;
	/* The name of a bpf filter added, replaced or put back. */
	if (op->bpf || ((op->type == KOP_FILTER_REPLACE || op->type == KOP_FILTER_DEL ||
			 op->type == KOP_DOOMED_FILTER_DEL) && !strcmp(op->old.kind, "bpf")))
		bpf_name(r, op, name, sizeof(name));
	switch (op->type) {
	case KOP_CLSACT_ADD:
		return tc_msg_clsact(undo ? RTM_DELQDISC : RTM_NEWQDISC, ifindex);
	case KOP_CLSACT_DEL:
		return tc_msg_clsact(undo ? RTM_NEWQDISC : RTM_DELQDISC, ifindex);
	case KOP_FILTER_ADD:
		if (undo && op->bpf)
			return tc_msg_filter_del(ifindex, op->hook, op->prio, 0, "bpf");
		if (undo)
			return tc_msg_filter_del(ifindex, op->hook, op->prio,
						 op->new_prio ? 0 : op->old.handle, "u32");
		/* fall through */
	case KOP_FILTER_REPLACE:
		if (undo && op->bpf) {
			fd = old_program(r, i, err);
			return fd < 0 ? NULL :
				tc_msg_bpf_mirred(ifindex, op->hook, op->prio, op->handle, true,
						  fd, op->old.classid,
						  op->old.bpf_name[0] ? op->old.bpf_name : name,
						  &op->old.mirred, &op->old.cookie);
		}
		if (undo)
			return tc_msg_u32_mirred(ifindex, op->hook, op->prio, op->handle, true,
						 &op->old.mirred, &op->old.cookie);
		target = resolve(r, op->netns, op->target, err);
		if (target < 0)
			return NULL;
		m.ifindex = target;
		if (!op->bpf)
			return tc_msg_u32_mirred(ifindex, op->hook, op->prio, op->handle,
						 op->type == KOP_FILTER_REPLACE, &m, &op->cookie);
		if (op->type == KOP_FILTER_REPLACE)
			hold_old_program(r, i);
		fd = new_program(r, i, &classid, err);
		if (fd < 0)
			return NULL;
		return tc_msg_bpf_mirred(ifindex, op->hook, op->prio, op->handle,
					 op->type == KOP_FILTER_REPLACE, fd, classid, name,
					 &m, &op->cookie);
	case KOP_FILTER_DEL:
	case KOP_DOOMED_FILTER_DEL:
		if (!undo) {
			hold_old_program(r, i);
			return tc_msg_filter_del(ifindex, op->hook, op->prio, op->handle,
						 op->old.kind);
		}
		/* Back by key node: if its prio went meanwhile, the kernel gives
		 * the re-created table another id.  The target may have been
		 * re-created too: find it by name. */
		m = op->old.mirred;
		if (op->target[0]) {
			target = resolve(r, op->netns, op->target, err);
			if (target < 0)
				return NULL;
			m.ifindex = target;
		}
		if (!strcmp(op->old.kind, "bpf")) {
			fd = old_program(r, i, err);
			return fd < 0 ? NULL :
				tc_msg_bpf_mirred(ifindex, op->hook, op->prio, op->old.handle,
						  false, fd, op->old.classid, name, &m,
						  &op->old.cookie);
		}
		return tc_msg_u32_mirred(ifindex, op->hook, op->prio,
					 op->old.handle & 0xfff, false, &m, &op->old.cookie);
	case KOP_PRIO_DEL:
		return tc_msg_filter_del(ifindex, op->hook, op->prio, 0, "u32");
	default:
		return NULL;
	}
}

static bool is_tc(enum kop_type type)
{
	return type == KOP_CLSACT_ADD || type == KOP_FILTER_ADD ||
	       type == KOP_FILTER_REPLACE || type == KOP_FILTER_DEL ||
	       type == KOP_DOOMED_FILTER_DEL ||
	       type == KOP_PRIO_DEL || type == KOP_CLSACT_DEL;
}

/* A filter or prio delete that the delete of its clsact does (plan.h). */
static bool is_covered(const struct kop *op)
{
	return op->cover && (op->type == KOP_FILTER_DEL || op->type == KOP_PRIO_DEL);
}

static int flush_all(struct run *r)
{
	size_t i;

	for (i = 0; i < r->ctx->pool->count; i++)
		nl_conn__flush(r->ctx->pool->conns[i], tc_ack, r);
	return r->error;
}

static int set_alias(struct run *r, const char *netns, const char *dev,
		     const char *alias, struct tcspan_error *err)
{
	struct nl_conn *conn;
	int ret = conn_pool__get(r->ctx->pool, netns, &conn, err);

	return ret ? ret : link_set_alias_up(conn, dev, alias, err);
}

static int add_addresses(struct run *r, const struct tcspan_endpoint *ep,
			 const struct tcspan_prefix *a, size_t n,
			 struct tcspan_error *err)
{
	struct nl_conn *conn;
	char what[256], buf[INET6_ADDRSTRLEN + 8];
	size_t i;
	int ret, ifindex;

	ret = conn_pool__get(r->ctx->pool, ep->netns, &conn, err);
	if (ret)
		return ret;
	ifindex = n ? link_ifindex(conn, ep->dev, err) : 0;
	if (ifindex < 0)
		return ifindex;
	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "cannot add address %s to %s%s%s",
			 tcspan_prefix__str(&a[i], buf, sizeof(buf)), ep->netns,
			 *ep->netns ? "/" : "", ep->dev);
		ret = link_add_address(conn, ifindex, &a[i], what, err);
		if (ret)
			return ret;
	}
	return 0;
}

/* A whole veth pair, marked, up, addressed; nothing is left on failure. */
static int create_link(struct run *r, const struct kop_link *l, struct tcspan_error *err)
{
	char alias[256], a[TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 2], b[sizeof(a)];
	struct nl_conn *conn;
	int ret;

	ret = conn_pool__get(r->ctx->pool, l->a.netns, &conn, err);
	if (ret)
		return ret;
	ret = link_add_veth(conn, l->a.dev, l->b.dev, l->b.netns,
			    link_unfinished_group(r->ctx->name), err);
	if (ret)
		return ret;
	snprintf(alias, sizeof(alias), "tcspan:%s link %s %s", r->ctx->name,
		 tcspan_endpoint__str(&l->a, a, sizeof(a)),
		 tcspan_endpoint__str(&l->b, b, sizeof(b)));
	ret = set_alias(r, l->a.netns, l->a.dev, alias, err);
	if (!ret)
		ret = set_alias(r, l->b.netns, l->b.dev, alias, err);
	if (!ret)
		ret = add_addresses(r, &l->a, l->a_addresses, l->n_a, err);
	if (!ret)
		ret = add_addresses(r, &l->b, l->b_addresses, l->n_b, err);
	if (ret)
		link_delete(conn, l->a.dev, NULL);
	return ret;
}

/* A `devices:` item, marked (op->text) and up; nothing is left on failure. */
static int create_device(struct run *r, const struct kop *op, struct tcspan_error *err)
{
	struct nl_conn *conn;
	int ret;

	ret = conn_pool__get(r->ctx->pool, op->netns, &conn, err);
	if (ret)
		return ret;
	ret = link_add_device(conn, &op->device, link_unfinished_group(r->ctx->name), err);
	if (ret)
		return ret;
	ret = link_set_alias_up(conn, op->dev, op->text, err);
	if (ret)
		link_delete(conn, op->dev, NULL);
	return ret;
}

/* op's device as the run has read it: 0 with *d NULL when it is gone. */
static int read_dev(struct run *r, const struct kop *op, const struct link_dev **d,
		    struct tcspan_error *err)
{
	size_t i;
	int ret;

	*d = NULL;
	ret = resolve(r, op->netns, op->dev, NULL);
	if (ret == -ENODEV)
		return 0;
	if (ret < 0)
		return tcspan_error__add(err, ret, "cannot read devices of %s: %s",
					 op->netns, strerror(-ret));
	for (i = 0; i < r->n_cache && strcmp(r->cache_ns[i], op->netns); i++)
		;
	*d = link_table__by_name(&r->cache[i], op->dev);
	return 0;
}

/*
 * Delete a pair by one end's name, once its alias shows it is still the
 * pair that was planned (op->text); an end already gone went with its peer.
 */
static int delete_link(struct run *r, const struct kop *op, struct tcspan_error *err)
{
	const struct link_dev *d;
	struct nl_conn *conn;
	int ret;

	ret = read_dev(r, op, &d, err);
	if (ret || !d)
		return ret;
	if (op->text && op->text[0] && strcmp(d->alias, op->text))
		return tcspan_error__add(err, -EEXIST, "device \"%s%s%s\" changed since it "
					 "was read (alias \"%s\"); not deleting it",
					 op->netns, *op->netns ? "/" : "", op->dev, d->alias);
	ret = conn_pool__get(r->ctx->pool, op->netns, &conn, err);
	return ret ? ret : link_delete(conn, op->dev, err);
}

/* An unmarked pair of this topology's group (link.h): gone, or deleted. */
static int delete_unfinished(struct run *r, const struct kop *op, struct tcspan_error *err)
{
	const struct link_dev *d;
	struct nl_conn *conn;
	int ret;

	ret = read_dev(r, op, &d, err);
	if (ret || !d)
		return ret;		/* gone: it went with its peer */
	if (!link_dev__unfinished(d, r->ctx->name))
		return tcspan_error__add(err, -EEXIST, "device \"%s%s%s\" changed since it "
					 "was read; not deleting it", op->netns,
					 *op->netns ? "/" : "", op->dev);
	ret = conn_pool__get(r->ctx->pool, op->netns, &conn, err);
	return ret ? ret : link_delete(conn, op->dev, err);
}

static int create_netns(struct run *r, const char *netns, struct tcspan_error *err)
{
	char alias[64];

	snprintf(alias, sizeof(alias), "tcspan:%s netns", r->ctx->name);
	return netns_create(netns, alias, err);
}

/* "NETNS/DEV: " of an XDP op, for messages. */
static const char *xdp_where(const struct kop *op, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s: ", op->netns, *op->netns ? "/" : "", op->dev);
	return buf;
}

/* KOP_XDP_SET: the entries with their devices' ifindexes, then attach or
 * update in place. */
static int set_xdp(struct run *r, size_t i, struct tcspan_error *err)
{
	const struct kop *op = &r->ops[i];
	struct tcspan_xdp_rule *w;
	struct nl_conn *conn;
	char what[TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 8];
	size_t e, t;
	int ret, ifindex;

	xdp_where(op, what, sizeof(what));
	w = calloc(op->xdp->n + 1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	memcpy(w, op->xdp->entries, op->xdp->n * sizeof(*w));
	for (e = 0, ret = 0; e < op->xdp->n && !ret; e++) {
		for (t = 0; t < w[e].n_targets && !ret; t++) {
			ifindex = resolve(r, op->netns,
					  op->xdp->target[e * TCSPAN_XDP_TARGETS + t], err);
			if (ifindex < 0)
				ret = ifindex;
			else
				w[e].ifindex[t] = ifindex;
		}
	}
	if (!ret && op->xdp_prog_id)
		ret = xdp_update(op->netns, op->xdp_prog_id, what, w, op->xdp->n,
				 &r->xdp_old[i], err);
	if (!ret && !op->xdp_prog_id) {
		bool refused = false;

		ifindex = resolve(r, op->netns, op->dev, err);
		ret = ifindex < 0 ? ifindex : conn_pool__get(r->ctx->pool, op->netns, &conn, err);
		if (!ret)
			ret = xdp_attach_new(conn, r->ctx->name, ifindex, what, w, op->xdp->n,
					     &r->xdp_fd[i], &r->xdp_mode[i], &refused, err);
		if (refused && r->ctx->refused) {
			struct xdp_refusal *f = r->ctx->refused;

			str_copy(f->netns, sizeof(f->netns), op->netns);
			str_copy(f->dev, sizeof(f->dev), op->dev);
			str_copy(f->reason, sizeof(f->reason), strerror(-ret));
		}
	}
	free(w);
	return ret;
}

/* KOP_XDP_DEL, KOP_DOOMED_XDP_DEL: detach tcspan's program, held for the undo. */
static int del_xdp(struct run *r, size_t i, struct tcspan_error *err)
{
	const struct kop *op = &r->ops[i];
	char what[TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 32];
	struct nl_conn *conn;
	int ret, ifindex;

	snprintf(what, sizeof(what), "%s%s%s: cannot detach XDP", op->netns,
		 *op->netns ? "/" : "", op->dev);
	r->xdp_fd[i] = bpf_prog_get_fd_by_id(op->xdp_prog_id);
	if (r->xdp_fd[i] < 0) {
		r->xdp_fd[i] = -1;
		return errno == ENOENT ? 0 : tcspan_error__add(err, -errno, "%s: %s", what,
								 strerror(errno));
	}
	ifindex = resolve(r, op->netns, op->dev, err);
	if (ifindex == -ENODEV)
		return 0;	/* gone, with its program */
	ret = ifindex < 0 ? ifindex : conn_pool__get(r->ctx->pool, op->netns, &conn, err);
	return ret ? ret : xdp_detach(conn, ifindex, r->xdp_fd[i], op->xdp_mode, what, err);
}

/* One op that is not pipelined: done at once. */
static int run_direct(struct run *r, size_t i)
{
	const struct kop *op = &r->ops[i];
	int ret = 0;

	switch (op->type) {
	case KOP_NETNS_UNFINISHED_DEL:
		ret = netns_unfinished_delete(op->netns, r->ctx->name, r->err);
		break;
	case KOP_NETNS_ADD:
		ret = create_netns(r, op->netns, r->err);
		break;
	case KOP_LINK_ADD:
		ret = create_link(r, &op->link, r->err);
		drop_cache(r);
		break;
	case KOP_UNFINISHED_DEL:
		ret = delete_unfinished(r, op, r->err);
		drop_cache(r);
		break;
	case KOP_LINK_DEL:
	case KOP_DEVICE_DEL:
		ret = delete_link(r, op, r->err);
		drop_cache(r);
		break;
	case KOP_DEVICE_ADD:
		ret = create_device(r, op, r->err);
		drop_cache(r);
		break;
	case KOP_META_CREATE:
		ret = meta_create(r->ctx->name, r->ctx->meta, r->err);
		break;
	case KOP_XDP_SET:
		ret = set_xdp(r, i, r->err);
		break;
	case KOP_XDP_DEL:
	case KOP_DOOMED_XDP_DEL:
		ret = del_xdp(r, i, r->err);
		break;
	case KOP_META_DEL:
		ret = meta_delete(r->ctx->meta, op->meta_kind, op->meta_id);
		if (ret)
			tcspan_error__add(r->err, ret, "cannot update the metadata map: %s",
					  strerror(-ret));
		break;
	case KOP_META_REMOVE:
		ret = meta_remove(r->ctx->name, r->err);
		break;
	case KOP_NETNS_DEL:
		conn_pool__drop(r->ctx->pool, op->netns);
		ret = netns_delete(op->netns, r->err);
		drop_cache(r);
		break;
	default:
		return -EINVAL;
	}
	if (!ret) {
		r->done[i] = true;
	} else {
		blame(r, op, ret, r->err);
	}
	return ret;
}

/*
 * The run of KOP_META_SET ops from `first`, in one batch, each remembering
 * the entry it replaces for the undo.  Returns the index after the run.
 */
static size_t set_names(struct run *r, size_t first)
{
	struct meta_entry *v;
	size_t end, i, done = 0;
	const struct meta_entry *old;
	int ret;

	for (end = first; end < r->n_ops && r->ops[end].type == KOP_META_SET; end++)
		;
	v = calloc(end - first, sizeof(*v));
	if (!v) {
		r->error = -ENOMEM;
		return end;
	}
	for (i = first; i < end; i++) {
		const struct kop *op = &r->ops[i];

		old = meta_find(r->ctx->meta, op->meta_kind, op->meta_id);
		r->had_old[i] = old != NULL;
		if (old)
			r->old_meta[i] = *old;
		v[i - first].kind = op->meta_kind;
		v[i - first].id = op->meta_id;
		v[i - first].ref = op->meta_ref;
		snprintf(v[i - first].text, sizeof(v[i - first].text), "%.*s",
			 (int)sizeof(v[i - first].text) - 1, op->text);
	}
	ret = meta_set_many(r->ctx->meta, v, end - first, &done, r->err);
	for (i = 0; i < done; i++)
		r->done[first + i] = true;
	if (ret) {
		blame(r, &r->ops[done < end - first ? first + done : end - 1], ret, r->err);
		r->error = ret;
	}
	free(v);
	return end;
}

/* Undo one step; false when it could not be undone (said in r->err). */
static bool undo_one(struct run *r, size_t i)
{
	const struct kop *op = &r->ops[i];
	struct tcspan_error *quiet;
	struct nl_conn *conn;
	struct nl_msg *msg;
	int ret = 0;

	/* A delete left to its qdisc's: undone only if the qdisc went. */
	if (is_covered(op) && !r->done[r->clsact_of[op->cover]])
		return true;
	quiet = tcspan_error__new();

	switch (op->type) {
	case KOP_NETNS_ADD:
		conn_pool__drop(r->ctx->pool, op->netns);
		ret = netns_delete(op->netns, quiet);
		drop_cache(r);
		break;
	case KOP_LINK_ADD:
		ret = delete_link(r, op, quiet);
		drop_cache(r);
		break;
	case KOP_LINK_DEL:
		ret = create_link(r, &op->link, quiet);
		drop_cache(r);
		break;
	case KOP_DEVICE_ADD:
		ret = delete_link(r, op, quiet);
		drop_cache(r);
		break;
	case KOP_DEVICE_DEL:
		ret = create_device(r, op, quiet);
		drop_cache(r);
		break;
	case KOP_FILTER_DEL:
	case KOP_DOOMED_FILTER_DEL:
		/* Its device may have been re-created without a clsact. */
		ret = conn_pool__get(r->ctx->pool, op->netns, &conn, quiet);
		if (!ret && (ret = resolve(r, op->netns, op->dev, quiet)) >= 0) {
			msg = tc_msg_clsact(RTM_NEWQDISC, ret);
			ret = msg ? nl_conn__request(conn, msg, "undo", NULL) : -ENOMEM;
			if (ret == -EEXIST)
				ret = 0;
		}
		if (ret)
			break;
		msg = tc_message(r, i, true, quiet);
		ret = msg ? nl_conn__request(conn, msg, "undo", quiet) : -ENODEV;
		break;
	case KOP_META_CREATE:
		ret = meta_remove(r->ctx->name, quiet);
		break;
	case KOP_META_SET:
		ret = r->had_old[i] ?
			meta_set(r->ctx->meta, op->meta_kind, op->meta_id, r->old_meta[i].text,
				 r->old_meta[i].ref, quiet) :
			meta_delete(r->ctx->meta, op->meta_kind, op->meta_id);
		break;
	case KOP_META_DEL:
		ret = meta_set(r->ctx->meta, op->meta_kind, op->meta_id, op->text, op->meta_ref,
			       quiet);
		break;
	case KOP_PRIO_DEL:
		/* Re-adding its filters re-creates the instance. */
		break;
	case KOP_XDP_SET:
		if (op->xdp_prog_id) {
			ret = xdp_restore_order(op->xdp_prog_id, &r->xdp_old[i], quiet);
			break;
		}
		ret = conn_pool__get(r->ctx->pool, op->netns, &conn, quiet);
		if (!ret && (ret = resolve(r, op->netns, op->dev, quiet)) >= 0)
			ret = xdp_detach(conn, ret, r->xdp_fd[i], r->xdp_mode[i], "undo", quiet);
		break;
	case KOP_XDP_DEL:
	case KOP_DOOMED_XDP_DEL:
		if (r->xdp_fd[i] < 0)
			break;
		ret = conn_pool__get(r->ctx->pool, op->netns, &conn, quiet);
		if (!ret && (ret = resolve(r, op->netns, op->dev, quiet)) >= 0)
			ret = xdp_reattach(conn, ret, r->xdp_fd[i], op->xdp_mode, "undo", quiet);
		break;
	default:
		if (!is_tc(op->type))
			break;
		msg = tc_message(r, i, true, quiet);
		ret = conn_pool__get(r->ctx->pool, op->netns, &conn, quiet);
		if (msg && !ret)
			ret = nl_conn__request(conn, msg, "undo", quiet);
		else
			nlmsg_free(msg);
		break;
	}
	bool undone = !ret && !tcspan_error__count(quiet);

	if (!undone)
		tcspan_error__add(r->err, ret ? ret : -EIO, "could not undo a step: %s",
				  tcspan_error__count(quiet) ? tcspan_error__message(quiet, 0) :
				  strerror(-ret));
	tcspan_error__free(quiet);
	return undone;
}

int apply_ops(struct apply_ctx *ctx, const struct kop *ops, size_t n_ops,
	      struct tcspan_error *err)
{
	struct run r = { .ctx = ctx, .ops = ops, .n_ops = n_ops, .err = err };
	uint32_t builtin = 0;
	size_t i;

	if (!n_ops)
		return 0;
	for (i = 0; i < n_ops; i++)
		builtin += (ops[i].type == KOP_FILTER_ADD || ops[i].type == KOP_FILTER_REPLACE) &&
			   ops[i].bpf && !ops[i].match->has_bpf;
	r.shared = classifier_shared__new(builtin);
	r.done = calloc(n_ops, sizeof(*r.done));
	r.had_old = calloc(n_ops, sizeof(*r.had_old));
	r.old_meta = calloc(n_ops, sizeof(*r.old_meta));
	r.prog_fd = calloc(n_ops, sizeof(*r.prog_fd));
	r.old_prog_fd = calloc(n_ops, sizeof(*r.old_prog_fd));
	r.xdp_fd = calloc(n_ops, sizeof(*r.xdp_fd));
	r.xdp_mode = calloc(n_ops, sizeof(*r.xdp_mode));
	r.xdp_old = calloc(n_ops, sizeof(*r.xdp_old));
	r.clsact_of = calloc(n_ops + 1, sizeof(*r.clsact_of));
	if (!r.clsact_of || !r.shared || !r.done || !r.had_old || !r.old_meta || !r.prog_fd || !r.old_prog_fd ||
	    !r.xdp_fd || !r.xdp_mode || !r.xdp_old) {
		r.error = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n_ops; i++) {
		r.prog_fd[i] = r.old_prog_fd[i] = r.xdp_fd[i] = -1;
		if (ops[i].type == KOP_CLSACT_DEL && ops[i].cover && ops[i].cover <= n_ops)
			r.clsact_of[ops[i].cover] = i;
	}
	for (i = 0; i < n_ops && !r.error; i++) {
		const struct kop *op = &ops[i];
		struct nl_conn *conn;
		struct nl_msg *msg;
		int ret;

		/* A phase starts when the one before it has settled. */
		if (i && ops[i - 1].type != op->type && is_tc(ops[i - 1].type) &&
		    flush_all(&r))
			break;
		if (op->type == KOP_META_SET) {
			i = set_names(&r, i) - 1;
			continue;
		}
		if (is_covered(op)) {
			/* The qdisc's delete takes it; the undo needs its program. */
			hold_old_program(&r, i);
			r.done[i] = true;
			continue;
		}
		if (!is_tc(op->type)) {
			ret = run_direct(&r, i);
			if (ret && !r.error)
				r.error = ret;
			continue;
		}
		ret = conn_pool__get(ctx->pool, op->netns, &conn, err);
		msg = ret ? NULL : tc_message(&r, i, false, err);
		if (!msg) {
			if (!ret && !tcspan_error__count(err))
				ret = -ENOMEM;
			/* Say which rule the missing device belongs to. */
			if (tcspan_error__count(err) && op->rule)
				blame(&r, op, -ENODEV, err);
			r.error = ret ? ret : -ENODEV;
			break;
		}
		/* Every answer, a failure to send included, reaches tc_ack(),
		 * which knows the failures that are none (a delete of what is
		 * gone): what this returns is not the step's verdict. */
		nl_conn__send(conn, msg, (void *)(uintptr_t)i, tc_ack, &r);
	}
	flush_all(&r);
	if (r.error) {
		bool undone = true;

		for (i = n_ops; i-- > 0;)
			if (r.done[i])
				undone &= undo_one(&r, i);
		for (i = 0; i < ctx->pool->count; i++) {
			if (!nl_conn__lost(ctx->pool->conns[i]))
				continue;
			tcspan_error__add(err, -ENOBUFS, "the kernel's answers to some steps in "
					  "%s were lost: whether it carried them out is unknown",
					  *ctx->pool->names[i] ? ctx->pool->names[i] :
					  "the caller's namespace");
			undone = false;
		}
		/* Say so: the caller must not claim a clean rollback. */
		if (!undone)
			r.error = -ENOTRECOVERABLE;
	}
out:
	for (i = 0; r.prog_fd && r.old_prog_fd && r.xdp_fd && i < n_ops; i++) {
		if (r.prog_fd[i] >= 0)
			close(r.prog_fd[i]);
		if (r.old_prog_fd[i] >= 0)
			close(r.old_prog_fd[i]);
		if (r.xdp_fd[i] >= 0)
			close(r.xdp_fd[i]);
	}
	classifier_shared__free(r.shared);
	free(r.clsact_of);
	free(r.prog_fd);
	free(r.old_prog_fd);
	free(r.xdp_fd);
	free(r.xdp_mode);
	free(r.xdp_old);
	drop_cache(&r);
	free(r.done);
	free(r.had_old);
	free(r.old_meta);
	return r.error;
}

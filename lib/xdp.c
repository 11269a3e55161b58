// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp.h"
#include "xdp.skel.h"

/* The maps of one of tcspan's XDP programs, by fd (-1 when not found). */
struct xdp_maps {
	int rules, order, live, counters, targets, groups;
};

#define NO_MAPS ((struct xdp_maps){ -1, -1, -1, -1, -1, -1 })

static void maps_close(struct xdp_maps *m)
{
	int *fds[] = { &m->rules, &m->order, &m->live, &m->counters, &m->targets, &m->groups };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

static uint32_t fnv1a(uint32_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len--) {
		h ^= *p++;
		h *= 16777619u;
	}
	return h;
}

uint32_t xdp_rule_hash(const struct tcspan_xdp_rule *r)
{
	uint32_t h = 2166136261u;

	h = fnv1a(h, &r->n_targets, sizeof(r->n_targets));
	h = fnv1a(h, r->rule_id, sizeof(r->rule_id));
	return fnv1a(h, &r->match, sizeof(r->match));
}

const char *xdp_mode_name(uint8_t mode)
{
	switch (mode) {
	case XDP_ATTACHED_DRV:	return "native";
	case XDP_ATTACHED_SKB:	return "generic";
	case XDP_ATTACHED_HW:	return "offloaded";
	case XDP_ATTACHED_MULTI: return "several";
	default:		return "none";
	}
}

/*
 * Whether prog_fd is tcspan's XDP program: its owner record into *owner and,
 * when `m` is given, its maps opened into *m.  False for anything else.
 */
static bool prog_is_ours(int prog_fd, struct tcspan_xdp_owner *owner, struct xdp_maps *m)
{
	struct bpf_prog_info info = {};
	uint32_t ids[16], len = sizeof(info), i, zero = 0;
	bool found = false;

	if (m)
		*m = NO_MAPS;
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (uint64_t)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) ||
	    info.type != BPF_PROG_TYPE_XDP || strcmp(info.name, XDP_PROG_NAME) ||
	    info.nr_map_ids > sizeof(ids) / sizeof(ids[0]))
		return false;
	for (i = 0; i < info.nr_map_ids; i++) {
		struct bpf_map_info mi = {};
		uint32_t mlen = sizeof(mi);
		size_t nlen;
		int fd = bpf_map_get_fd_by_id(ids[i]);
		int *keep = NULL;

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &mi, &mlen)) {
			close(fd);
			continue;
		}
		nlen = strlen(mi.name);
		if (nlen > 7 && !strcmp(mi.name + nlen - 7, ".rodata") &&
		    mi.value_size == sizeof(*owner) &&
		    !bpf_map_lookup_elem(fd, &zero, owner) && owner->magic == TCSPAN_XDP_MAGIC) {
			owner->topology[sizeof(owner->topology) - 1] = '\0';
			found = true;
		} else if (m && !strcmp(mi.name, "rules")) {
			keep = &m->rules;
		} else if (m && !strcmp(mi.name, "order")) {
			keep = &m->order;
		} else if (m && !strcmp(mi.name, "live")) {
			keep = &m->live;
		} else if (m && !strcmp(mi.name, "counters")) {
			keep = &m->counters;
		} else if (m && !strcmp(mi.name, "targets")) {
			keep = &m->targets;
		} else if (m && !strcmp(mi.name, "groups")) {
			keep = &m->groups;
		}
		if (keep && *keep < 0)
			*keep = fd;
		else
			close(fd);
	}
	if (m && (!found || m->rules < 0 || m->order < 0 || m->live < 0 || m->counters < 0 ||
		  m->targets < 0 || m->groups < 0)) {
		maps_close(m);
		return false;
	}
	return found;
}

/* The order packets read: the element `live` names, its index in *index. */
static int read_order(const struct xdp_maps *m, struct tcspan_xdp_order *o, uint32_t *index)
{
	uint32_t zero = 0;

	memset(o, 0, sizeof(*o));
	*index = 0;
	if (bpf_map_lookup_elem(m->live, &zero, index))
		return -errno;
	if (*index > 1)
		return -EINVAL;
	if (bpf_map_lookup_elem(m->order, index, o))
		return -errno;
	if (o->n > TCSPAN_XDP_RULES)
		o->n = TCSPAN_XDP_RULES;
	return 0;
}

/*
 * Make `o` the order packets read: write it into the element they do not
 * read, then switch `live` to it.  The caller has waited for readers of
 * that element to be gone (wait_for_readers).
 */
static int switch_order(const struct xdp_maps *m, uint32_t live, const struct tcspan_xdp_order *o)
{
	uint32_t zero = 0, next = !live;

	if (bpf_map_update_elem(m->order, &next, o, BPF_ANY))
		return -errno;
	/* The element's bytes before the switch, on every architecture. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (bpf_map_update_elem(m->live, &zero, &next, BPF_ANY))
		return -errno;
	return 0;
}

/*
 * Wait until no packet still reads what the last switch of `live` retired
 * (an order element, the slots only it named).  XDP programs run inside an
 * RCU read-side section, and the kernel waits for a grace period
 * (synchronize_rcu()) before an update of a map-in-map returns, so that
 * its caller knows no program still sees the old inner map: one such
 * update, of a map made for it, is the wait.
 */
static int wait_for_readers(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	uint32_t zero = 0;
	int inner, outer = -1, ret;

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "tcspan_wait", 4, 4, 1, NULL);
	if (inner >= 0) {
		opts.inner_map_fd = inner;
		outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "tcspan_wait", 4, 4, 1, &opts);
	}
	ret = outer < 0 || bpf_map_update_elem(outer, &zero, &inner, BPF_ANY) ? -errno : 0;
	if (outer >= 0)
		close(outer);
	if (inner >= 0)
		close(inner);
	return ret;
}

static int read_entries(const struct xdp_maps *m, struct xdp_prog *out)
{
	struct tcspan_xdp_counter *percpu;
	struct tcspan_xdp_order o;
	int ncpu = libbpf_num_possible_cpus(), ret;
	uint32_t i, t, k, live;
	int c;

	if (ncpu < 1)
		return ncpu < 0 ? ncpu : -EINVAL;
	ret = read_order(m, &o, &live);
	if (ret || !o.n)
		return ret;
	out->entries = calloc(o.n, sizeof(*out->entries));
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!out->entries || !percpu) {
		free(percpu);
		return -ENOMEM;
	}
	for (i = 0; i < o.n; i++) {
		struct xdp_entry *e = &out->entries[out->n_entries];

		e->slot = o.slot[i];
		if (e->slot >= TCSPAN_XDP_RULES || bpf_map_lookup_elem(m->rules, &e->slot, &e->rule))
			continue;
		if (e->rule.n_targets > TCSPAN_XDP_TARGETS)
			e->rule.n_targets = TCSPAN_XDP_TARGETS;
		for (t = 0; t < e->rule.n_targets; t++) {
			k = e->slot * TCSPAN_XDP_TARGETS + t;
			if (bpf_map_lookup_elem(m->counters, &k, percpu))
				continue;
			for (c = 0; c < ncpu; c++) {
				e->packets[t] += percpu[c].packets;
				e->bytes[t] += percpu[c].bytes;
			}
		}
		out->n_entries++;
	}
	free(percpu);
	return 0;
}

int xdp_prog_read(uint32_t ifindex, uint32_t id, uint8_t mode, struct xdp_prog *out,
		  struct tcspan_error *err)
{
	struct tcspan_xdp_owner owner;
	struct xdp_maps m;
	int fd, ret = 0;

	memset(out, 0, sizeof(*out));
	out->ifindex = ifindex;
	out->id = id;
	out->mode = mode;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;	/* detached meanwhile */
		return tcspan_error__add(err, -errno, "cannot read XDP program %u: %s%s", id,
					 strerror(errno), errno == EPERM ?
					 " (needs CAP_SYS_ADMIN)" : "");
	}
	if (prog_is_ours(fd, &owner, &m)) {
		out->ours = true;
		snprintf(out->topology, sizeof(out->topology), "%.*s",
			 TCSPAN_TOPOLOGY_NAME_MAX, owner.topology);
		ret = read_entries(&m, out);
		maps_close(&m);
		if (ret)
			tcspan_error__add(err, ret, "cannot read the tables of XDP program %u: %s",
					  id, strerror(-ret));
	}
	close(fd);
	return ret;
}

void xdp_prog__free(struct xdp_prog *p)
{
	if (!p)
		return;
	free(p->entries);
	p->entries = NULL;
	p->n_entries = 0;
}

/* ---- writing -------------------------------------------------------------- */

struct write_ctx {
	const struct xdp_maps *m;
	const struct tcspan_xdp_rule *w;
	size_t n;
	struct tcspan_xdp_order *old;	/* in: the order now; the new one goes in */
	uint32_t live;			/* the element of `order` that holds *old */
	bool attached;			/* packets may be reading *old */
	const char *what;
	struct tcspan_error *err;
};

static int write_slot(const struct write_ctx *c, uint32_t slot, const struct tcspan_xdp_rule *r)
{
	int ncpu = libbpf_num_possible_cpus();
	struct tcspan_xdp_counter *zero;
	uint32_t t, k;
	int inner = -1, ret;

	if (ncpu < 1)
		return -EINVAL;
	zero = calloc(ncpu, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	ret = bpf_map_update_elem(c->m->rules, &slot, r, BPF_ANY) ? -errno : 0;
	for (t = 0; !ret && t < TCSPAN_XDP_TARGETS; t++) {
		k = slot * TCSPAN_XDP_TARGETS + t;
		ret = bpf_map_update_elem(c->m->counters, &k, zero, BPF_ANY) ? -errno : 0;
	}
	free(zero);
	/* A devmap takes the ifindex in the caller's namespace: we are in it. */
	if (!ret)
		ret = bpf_map_update_elem(c->m->targets, &slot, &r->ifindex[0], BPF_ANY) ?
		      -errno : 0;
	if (ret)
		return tcspan_error__add(c->err, ret, "%scannot write XDP entry: %s", c->what,
					 strerror(-ret));
	if (r->n_targets <= 1) {
		bpf_map_delete_elem(c->m->groups, &slot);
		return 0;
	}
	inner = bpf_map_create(BPF_MAP_TYPE_DEVMAP, "tcspan_group", sizeof(uint32_t),
			       sizeof(uint32_t), TCSPAN_XDP_TARGETS, NULL);
	ret = inner < 0 ? -errno : 0;
	for (t = 0; !ret && t < r->n_targets; t++)
		ret = bpf_map_update_elem(inner, &t, &r->ifindex[t], BPF_ANY) ? -errno : 0;
	if (!ret)
		ret = bpf_map_update_elem(c->m->groups, &slot, &inner, BPF_ANY) ? -errno : 0;
	if (inner >= 0)
		close(inner);
	if (ret)
		return tcspan_error__add(c->err, ret, "%scannot write the devices of an XDP "
					 "broadcast: %s", c->what, strerror(-ret));
	return 0;
}

static bool same_entry(const struct tcspan_xdp_rule *a, const struct tcspan_xdp_rule *b)
{
	return a->hash == b->hash && a->n_targets == b->n_targets &&
	       !memcmp(&a->match, &b->match, sizeof(a->match)) &&
	       !memcmp(a->ifindex, b->ifindex, sizeof(a->ifindex)) &&
	       !memcmp(a->rule_id, b->rule_id, sizeof(a->rule_id));
}

/* In the target namespace: fill slots, then swap the order. */
static int write_entries(void *arg)
{
	const struct write_ctx *c = arg;
	struct tcspan_xdp_order next = { .n = c->n };
	bool used[TCSPAN_XDP_RULES] = { false }, taken[TCSPAN_XDP_RULES] = { false };
	struct tcspan_xdp_rule cur;
	uint32_t i, j, free_slot = 0;
	int ret;

	if (c->n > TCSPAN_XDP_RULES)
		return tcspan_error__add(c->err, -E2BIG, "%smore than %d XDP entries", c->what,
					 TCSPAN_XDP_RULES);
	ret = c->attached ? wait_for_readers() : 0;
	if (ret)
		return tcspan_error__add(c->err, ret, "%scannot wait for packets to leave the "
					 "XDP entries: %s", c->what, strerror(-ret));
	for (i = 0; i < c->old->n; i++)
		if (c->old->slot[i] < TCSPAN_XDP_RULES)
			used[c->old->slot[i]] = true;
	for (j = 0; j < c->n; j++) {
		bool kept = false;

		next.parse |= c->w[j].match.keys != 0;
		/* The same entry where it is: its counters go on. */
		for (i = 0; i < c->old->n && !kept; i++) {
			uint32_t s = c->old->slot[i];

			if (s < TCSPAN_XDP_RULES && !taken[s] &&
			    !bpf_map_lookup_elem(c->m->rules, &s, &cur) && same_entry(&cur, &c->w[j])) {
				taken[s] = kept = true;
				next.slot[j] = s;
			}
		}
		if (kept)
			continue;
		/* Elsewhere a free slot: packets still read the old ones. */
		while (free_slot < TCSPAN_XDP_RULES && (used[free_slot] || taken[free_slot]))
			free_slot++;
		if (free_slot == TCSPAN_XDP_RULES)
			return tcspan_error__add(c->err, -ENOSPC, "%sno free XDP slot", c->what);
		taken[free_slot] = true;
		next.slot[j] = free_slot;
		ret = write_slot(c, free_slot, &c->w[j]);
		if (ret)
			return ret;
	}
	ret = switch_order(c->m, c->live, &next);
	if (ret)
		return tcspan_error__add(c->err, ret, "%scannot swap the XDP entries: %s",
					 c->what, strerror(-ret));
	return 0;
}

static int set_xdp(struct nl_conn *conn, uint32_t ifindex, int fd, int expected,
		   uint32_t flags, const char *what, struct tcspan_error *err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = (int)ifindex };
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_SETLINK, 0);
	struct nlattr *nest;

	if (!msg || nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    !(nest = nla_nest_start(msg, IFLA_XDP)) ||
	    nla_put_s32(msg, IFLA_XDP_FD, fd) < 0 ||
	    nla_put_u32(msg, IFLA_XDP_FLAGS, flags) < 0 ||
	    ((flags & XDP_FLAGS_REPLACE) && nla_put_s32(msg, IFLA_XDP_EXPECTED_FD, expected) < 0)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	nla_nest_end(msg, nest);
	return nl_conn__request(conn, msg, what, err);
}

static uint32_t mode_flag(uint8_t mode)
{
	return mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

int xdp_attach_new(struct nl_conn *conn, const char *topology, uint32_t ifindex,
		   const char *what, const struct tcspan_xdp_rule *w, size_t n, int *prog_fd,
		   uint8_t *mode, bool *refused, struct tcspan_error *err)
{
	struct tcspan_xdp_order none = { 0 };
	struct tcspan_error *native;
	struct tcspan_xdp *skel;
	struct xdp_maps m = NO_MAPS;
	struct write_ctx c = { &m, w, n, &none, 0, false, what, err };
	libbpf_print_fn_t old;
	int ret, fd = -1;

	*prog_fd = -1;
	*refused = false;
	skel = tcspan_xdp__open();
	if (!skel)
		return tcspan_error__add(err, -errno, "%scannot open the XDP program: %s", what,
					 strerror(errno));
	((struct tcspan_xdp_owner *)&skel->rodata->owner)->magic = TCSPAN_XDP_MAGIC;
	snprintf((char *)skel->rodata->owner.topology, sizeof(skel->rodata->owner.topology),
		 "%s", topology);
	old = libbpf_set_print(NULL);
	ret = tcspan_xdp__load(skel);
	libbpf_set_print(old);
	if (ret) {
		tcspan_error__add(err, ret, "%scannot load the XDP program: %s%s", what,
				  strerror(-ret), ret == -EPERM ?
				  " (needs CAP_BPF with CAP_PERFMON, or CAP_SYS_ADMIN)" : "");
		goto out;
	}
	fd = fcntl(bpf_program__fd(skel->progs.tcspan_xdp), F_DUPFD_CLOEXEC, 0);
	m.rules = bpf_map__fd(skel->maps.rules);
	m.order = bpf_map__fd(skel->maps.order);
	m.live = bpf_map__fd(skel->maps.live);
	m.counters = bpf_map__fd(skel->maps.counters);
	m.targets = bpf_map__fd(skel->maps.targets);
	m.groups = bpf_map__fd(skel->maps.groups);
	ret = fd < 0 ? -errno : 0;
	if (!ret && n)
		ret = nl_in_netns(nl_conn__netns(conn), write_entries, &c, err);
	if (ret)
		goto out;
	/* Native where the driver takes it; generic (any device) otherwise.
	 * A program already there, or no permission, is final. */
	native = tcspan_error__new();
	ret = set_xdp(conn, ifindex, fd, 0, XDP_FLAGS_UPDATE_IF_NOEXIST | XDP_FLAGS_DRV_MODE,
		      what, native);
	*mode = XDP_ATTACHED_DRV;
	if (ret && ret != -EBUSY && ret != -EEXIST && ret != -EPERM) {
		*mode = XDP_ATTACHED_SKB;
		ret = set_xdp(conn, ifindex, fd, 0,
			      XDP_FLAGS_UPDATE_IF_NOEXIST | XDP_FLAGS_SKB_MODE, what, err);
	} else if (ret)
		tcspan_error__add(err, ret, "%s", tcspan_error__message(native, 0));
	tcspan_error__free(native);
	/* A program there (EBUSY, EEXIST), or no XDP in either mode. */
	*refused = ret == -EBUSY || ret == -EEXIST || ret == -EOPNOTSUPP || ret == -EINVAL;
out:
	tcspan_xdp__destroy(skel);
	if (ret && fd >= 0)
		close(fd);
	else
		*prog_fd = fd;
	return ret;
}

int xdp_update(const char *netns, uint32_t prog_id, const char *what,
	       const struct tcspan_xdp_rule *w, size_t n, struct tcspan_xdp_order *old,
	       struct tcspan_error *err)
{
	struct tcspan_xdp_owner owner;
	struct xdp_maps m;
	struct write_ctx c = { &m, w, n, old, 0, true, what, err };
	int fd, ret;

	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return tcspan_error__add(err, -errno, "%sXDP program %u is gone: %s", what,
					 prog_id, strerror(errno));
	if (!prog_is_ours(fd, &owner, &m)) {
		close(fd);
		return tcspan_error__add(err, -EEXIST, "%sXDP program %u is not tcspan's",
					 what, prog_id);
	}
	ret = read_order(&m, old, &c.live);
	if (ret)
		tcspan_error__add(err, ret, "%scannot read the XDP entries: %s", what,
				  strerror(-ret));
	else
		ret = nl_in_netns(netns, write_entries, &c, err);
	maps_close(&m);
	close(fd);
	return ret;
}

int xdp_restore_order(uint32_t prog_id, const struct tcspan_xdp_order *old,
		      struct tcspan_error *err)
{
	struct tcspan_xdp_owner owner;
	struct tcspan_xdp_order now;
	struct xdp_maps m;
	uint32_t live;
	int fd, ret;

	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0 || !prog_is_ours(fd, &owner, &m)) {
		if (fd >= 0)
			close(fd);
		return tcspan_error__add(err, -ENOENT, "XDP program %u is gone", prog_id);
	}
	ret = wait_for_readers();
	if (!ret)
		ret = read_order(&m, &now, &live);
	if (!ret)
		ret = switch_order(&m, live, old);
	if (ret)
		tcspan_error__add(err, ret, "cannot put back the XDP entries of program %u: %s",
				  prog_id, strerror(-ret));
	maps_close(&m);
	close(fd);
	return ret;
}

int xdp_detach(struct nl_conn *conn, uint32_t ifindex, int prog_fd, uint8_t mode,
	       const char *what, struct tcspan_error *err)
{
	return set_xdp(conn, ifindex, -1, prog_fd, XDP_FLAGS_REPLACE | mode_flag(mode), what,
		       err);
}

int xdp_reattach(struct nl_conn *conn, uint32_t ifindex, int prog_fd, uint8_t mode,
		 const char *what, struct tcspan_error *err)
{
	return set_xdp(conn, ifindex, prog_fd, 0, XDP_FLAGS_UPDATE_IF_NOEXIST | mode_flag(mode),
		       what, err);
}

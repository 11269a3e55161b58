// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/gen_stats.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <netlink/attr.h>

#include "model.h"
#include "tc.h"
#include "str.h"

static const uint8_t cookie_magic[4] = { 't', 'c', 's', 1 };

static void put_be32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t get_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

void tc_cookie__encode(const struct tc_cookie *c, uint8_t out[TC_COOKIE_LEN])
{
	memcpy(out, cookie_magic, 4);
	put_be32(out + 4, c->topology_id);
	put_be32(out + 8, c->rule_id);
	put_be32(out + 12, c->spec);
}

bool tc_cookie__decode(const uint8_t *buf, int len, struct tc_cookie *c)
{
	if (len != TC_COOKIE_LEN || memcmp(buf, cookie_magic, 4))
		return false;
	c->topology_id = get_be32(buf + 4);
	c->rule_id = get_be32(buf + 8);
	c->spec = get_be32(buf + 12);
	return true;
}

const char *tc_hook_name(unsigned int hook)
{
	return hook == TCSPAN_HOOK_INGRESS ? "ingress" : "egress";
}

static uint32_t hook_parent(unsigned int hook)
{
	return TC_H_MAKE(TC_H_CLSACT, hook == TCSPAN_HOOK_INGRESS ?
			 TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
}

/*
 * Room for the largest tc message tcspan sends (a bpf filter with its name,
 * a mirred action and a cookie: some 300 bytes).  libnl's default is a
 * page, zeroed for each of 10,000 messages of an apply.
 */
#define TC_MSG_SIZE 1024

static struct nl_msg *tc_msg(int cmd, int flags, const struct tcmsg *tcm)
{
	struct nl_msg *msg = nlmsg_alloc_size(TC_MSG_SIZE);

	if (!msg)
		return NULL;
	if (!nlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, cmd, 0, flags) ||
	    nlmsg_append(msg, (void *)tcm, sizeof(*tcm), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

struct nl_msg *tc_msg_clsact(int cmd, uint32_t ifindex)
{
	struct tcmsg tcm = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = ifindex,
		.tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0),
		.tcm_parent = TC_H_CLSACT,
	};
	struct nl_msg *msg;

	msg = tc_msg(cmd, cmd == RTM_NEWQDISC ? NLM_F_CREATE | NLM_F_EXCL : 0, &tcm);
	if (msg && nla_put_string(msg, TCA_KIND, "clsact") < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/* The action list: one mirred action with its cookie. */
static int put_mirred(struct nl_msg *msg, int list_type, const struct tc_mirred_spec *m,
		      const struct tc_cookie *cookie)
{
	struct nlattr *list, *act, *opts;
	uint8_t raw[TC_COOKIE_LEN];
	struct tc_mirred parms = {
		.action = m->verdict,
		.eaction = m->eaction,
		.ifindex = m->ifindex,
	};

	tc_cookie__encode(cookie, raw);

	list = nla_nest_start(msg, list_type);
	act = nla_nest_start(msg, 1);
	if (!list || !act || nla_put_string(msg, TCA_ACT_KIND, "mirred") < 0)
		return -EMSGSIZE;
	opts = nla_nest_start(msg, TCA_ACT_OPTIONS);
	if (!opts || nla_put(msg, TCA_MIRRED_PARMS, sizeof(parms), &parms) < 0)
		return -EMSGSIZE;
	nla_nest_end(msg, opts);
	if (nla_put(msg, TCA_ACT_COOKIE, sizeof(raw), raw) < 0)
		return -EMSGSIZE;
	nla_nest_end(msg, act);
	nla_nest_end(msg, list);
	return 0;
}

struct nl_msg *tc_msg_u32_mirred(uint32_t ifindex, unsigned int hook,
				 uint16_t prio, uint32_t handle, bool replace,
				 const struct tc_mirred_spec *m,
				 const struct tc_cookie *cookie)
{
	struct tcmsg tcm = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = ifindex,
		.tcm_handle = handle,
		.tcm_parent = hook_parent(hook),
		.tcm_info = TC_H_MAKE((uint32_t)prio << 16, htons(ETH_P_ALL)),
	};
	/* "match u32 0 0": one key that every packet passes. */
	struct {
		struct tc_u32_sel sel;
		struct tc_u32_key key;
	} sel = { .sel = { .flags = TC_U32_TERMINAL, .nkeys = 1 } };
	struct nl_msg *msg;
	struct nlattr *opts;

	msg = tc_msg(RTM_NEWTFILTER,
		     NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL), &tcm);
	if (!msg)
		return NULL;
	if (nla_put_string(msg, TCA_KIND, "u32") < 0)
		goto fail;
	opts = nla_nest_start(msg, TCA_OPTIONS);
	if (!opts || nla_put(msg, TCA_U32_SEL, sizeof(sel), &sel) < 0 ||
	    put_mirred(msg, TCA_U32_ACT, m, cookie))
		goto fail;
	nla_nest_end(msg, opts);
	return msg;
fail:
	nlmsg_free(msg);
	return NULL;
}

struct nl_msg *tc_msg_bpf_mirred(uint32_t ifindex, unsigned int hook,
				 uint16_t prio, uint32_t handle, bool replace,
				 int prog_fd, uint32_t classid, const char *name,
				 const struct tc_mirred_spec *m,
				 const struct tc_cookie *cookie)
{
	struct tcmsg tcm = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = ifindex,
		.tcm_handle = handle,
		.tcm_parent = hook_parent(hook),
		.tcm_info = TC_H_MAKE((uint32_t)prio << 16, htons(ETH_P_ALL)),
	};
	struct nl_msg *msg;
	struct nlattr *opts;

	msg = tc_msg(RTM_NEWTFILTER,
		     NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL), &tcm);
	if (!msg)
		return NULL;
	if (nla_put_string(msg, TCA_KIND, "bpf") < 0)
		goto fail;
	/* No TCA_BPF_FLAGS: without TCA_BPF_FLAG_ACT_DIRECT the program only
	 * classifies and the filter's actions run on a match. */
	opts = nla_nest_start(msg, TCA_OPTIONS);
	if (!opts || nla_put_u32(msg, TCA_BPF_FD, prog_fd) < 0 ||
	    nla_put_u32(msg, TCA_BPF_CLASSID, classid) < 0 ||
	    nla_put_string(msg, TCA_BPF_NAME, name) < 0 ||
	    put_mirred(msg, TCA_BPF_ACT, m, cookie))
		goto fail;
	nla_nest_end(msg, opts);
	return msg;
fail:
	nlmsg_free(msg);
	return NULL;
}

struct nl_msg *tc_msg_filter_del(uint32_t ifindex, unsigned int hook,
				 uint16_t prio, uint32_t handle, const char *kind)
{
	struct tcmsg tcm = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = ifindex,
		.tcm_handle = handle,
		.tcm_parent = hook_parent(hook),
		.tcm_info = TC_H_MAKE((uint32_t)prio << 16, htons(ETH_P_ALL)),
	};
	struct nl_msg *msg = tc_msg(RTM_DELTFILTER, 0, &tcm);

	if (msg && nla_put_string(msg, TCA_KIND, kind) < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static void parse_stats(struct nlattr *stats, struct tc_filter *f)
{
	struct nlattr *tb[TCA_STATS_MAX + 1];
	struct gnet_stats_basic basic;

	if (nla_parse_nested(tb, TCA_STATS_MAX, stats, NULL) < 0)
		return;
	if (tb[TCA_STATS_BASIC]) {
		memset(&basic, 0, sizeof(basic));
		memcpy(&basic, nla_data(tb[TCA_STATS_BASIC]),
		       nla_len(tb[TCA_STATS_BASIC]) < (int)sizeof(basic) ?
		       (size_t)nla_len(tb[TCA_STATS_BASIC]) : sizeof(basic));
		f->bytes = basic.bytes;
		f->packets = basic.packets;
	}
	/* The 32-bit packet count wraps; newer kernels add a 64-bit one. */
	if (tb[TCA_STATS_PKT64])
		f->packets = nla_get_u64(tb[TCA_STATS_PKT64]);
}

/* A filter is tcspan's when its only action is a mirred with our cookie. */
static void parse_actions(struct nlattr *list, struct tc_filter *f)
{
	struct nlattr *acts[TCA_ACT_MAX_PRIO + 1];
	struct nlattr *tb[TCA_ACT_MAX + 1];
	struct nlattr *opt[TCA_MIRRED_MAX + 1];
	struct tc_mirred parms;
	int i, n = 0;

	if (nla_parse_nested(acts, TCA_ACT_MAX_PRIO, list, NULL) < 0)
		return;
	for (i = 1; i <= TCA_ACT_MAX_PRIO; i++)
		n += acts[i] != NULL;
	if (n != 1 || !acts[1])
		return;
	if (nla_parse_nested(tb, TCA_ACT_MAX, acts[1], NULL) < 0 || !tb[TCA_ACT_KIND] ||
	    strcmp(nla_get_string(tb[TCA_ACT_KIND]), "mirred") || !tb[TCA_ACT_OPTIONS])
		return;
	if (nla_parse_nested(opt, TCA_MIRRED_MAX, tb[TCA_ACT_OPTIONS], NULL) < 0 ||
	    !opt[TCA_MIRRED_PARMS] || nla_len(opt[TCA_MIRRED_PARMS]) < (int)sizeof(parms))
		return;
	memcpy(&parms, nla_data(opt[TCA_MIRRED_PARMS]), sizeof(parms));
	f->has_mirred = true;
	f->mirred.eaction = parms.eaction;
	f->mirred.ifindex = parms.ifindex;
	f->mirred.verdict = parms.action;
	if (tb[TCA_ACT_COOKIE])
		f->ours = tc_cookie__decode(nla_data(tb[TCA_ACT_COOKIE]),
					    nla_len(tb[TCA_ACT_COOKIE]), &f->cookie);
	if (tb[TCA_ACT_STATS])
		parse_stats(tb[TCA_ACT_STATS], f);
}

struct filter_dump {
	unsigned int hook;
	struct tc_filter *v;
	size_t n, cap;
};

static int filter_cb(struct nlmsghdr *hdr, void *arg)
{
	struct filter_dump *d = arg;
	struct tcmsg *tcm = nlmsg_data(hdr);
	struct nlattr *tb[TCA_MAX + 1];
	struct tc_filter *f;

	if (hdr->nlmsg_type != RTM_NEWTFILTER)
		return 0;
	if (nlmsg_parse(hdr, sizeof(*tcm), tb, TCA_MAX, NULL) < 0 || !tb[TCA_KIND])
		return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct tc_filter *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	f = &d->v[d->n];
	memset(f, 0, sizeof(*f));
	f->ifindex = tcm->tcm_ifindex;
	f->hook = d->hook;
	f->prio = TC_H_MAJ(tcm->tcm_info) >> 16;
	f->protocol = ntohs(TC_H_MIN(tcm->tcm_info));
	f->handle = tcm->tcm_handle;
	str_copy(f->kind, sizeof(f->kind), nla_get_string(tb[TCA_KIND]));
	if (!strcmp(f->kind, "u32") && tb[TCA_OPTIONS]) {
		struct nlattr *opt[TCA_U32_MAX + 1];

		/* The root hash table of each u32 instance shows up as a filter
		 * with node 0; it has no action and is not a rule. */
		if (nla_parse_nested(opt, TCA_U32_MAX, tb[TCA_OPTIONS], NULL) == 0 &&
		    opt[TCA_U32_ACT])
			parse_actions(opt[TCA_U32_ACT], f);
	} else if (!strcmp(f->kind, "bpf") && tb[TCA_OPTIONS]) {
		struct nlattr *opt[TCA_BPF_MAX + 1];

		if (nla_parse_nested(opt, TCA_BPF_MAX, tb[TCA_OPTIONS], NULL) == 0) {
			if (opt[TCA_BPF_ACT])
				parse_actions(opt[TCA_BPF_ACT], f);
			if (opt[TCA_BPF_ID])
				f->prog_id = nla_get_u32(opt[TCA_BPF_ID]);
			if (opt[TCA_BPF_CLASSID])
				f->classid = nla_get_u32(opt[TCA_BPF_CLASSID]);
			if (opt[TCA_BPF_NAME])
				snprintf(f->bpf_name, sizeof(f->bpf_name), "%s",
					 nla_get_string(opt[TCA_BPF_NAME]));
		}
	}
	d->n++;
	return 0;
}

int tc_dump_filters(struct nl_conn *conn, uint32_t ifindex, unsigned int hook,
		    struct tc_filter **filters, size_t *count, size_t *cap,
		    struct tcspan_error *err)
{
	struct tcmsg tcm = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = ifindex,
		.tcm_parent = hook_parent(hook),
	};
	struct filter_dump d = { .hook = hook, .v = *filters, .n = *count, .cap = *cap };
	struct nl_msg *msg = tc_msg(RTM_GETTFILTER, 0, &tcm);
	int ret;

	if (!msg)
		return -ENOMEM;
	ret = nl_conn__dump(conn, msg, filter_cb, &d, err);
	*filters = d.v;
	*count = d.n;
	*cap = d.cap;
	return ret;
}

struct clsact_dump {
	uint32_t *v;
	size_t n, cap;
};

static int clsact_cb(struct nlmsghdr *hdr, void *arg)
{
	struct clsact_dump *d = arg;
	struct tcmsg *tcm = nlmsg_data(hdr);
	struct nlattr *tb[TCA_MAX + 1];

	if (hdr->nlmsg_type != RTM_NEWQDISC ||
	    nlmsg_parse(hdr, sizeof(*tcm), tb, TCA_MAX, NULL) < 0 || !tb[TCA_KIND] ||
	    strcmp(nla_get_string(tb[TCA_KIND]), "clsact"))
		return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		uint32_t *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n++] = tcm->tcm_ifindex;
	return 0;
}

int tc_dump_clsact(struct nl_conn *conn, uint32_t **ifindexes, size_t *count,
		   struct tcspan_error *err)
{
	struct tcmsg tcm = { .tcm_family = AF_UNSPEC };
	struct clsact_dump d = {};
	struct nl_msg *msg = tc_msg(RTM_GETQDISC, 0, &tcm);
	int ret;

	if (!msg)
		return -ENOMEM;
	ret = nl_conn__dump(conn, msg, clsact_cb, &d, err);
	*ifindexes = d.v;
	*count = d.n;
	return ret;
}

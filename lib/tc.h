/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tc objects as tcspan makes and reads them: the clsact qdisc, and filters
 * on its ingress/egress hooks that carry one act_mirred action each.  libnl
 * 3.7 knows neither clsact nor the ingress mirred actions, so the attributes
 * are encoded here on libnl's nl_msg.
 */
#ifndef TCSPAN_TC_H
#define TCSPAN_TC_H

#include <stdbool.h>
#include <stdint.h>
#include <netlink/msg.h>

#include "error.h"
#include "nl.h"

/*
 * Every action tcspan creates carries this 16-byte cookie (TCA_ACT_COOKIE,
 * the kernel's maximum): magic "tcs" + version 1, then the topology id, the
 * rule id (32-bit FNV-1a of the names) and a spec word for what a dump
 * cannot show reliably.  Its low 2 bits are the hook the filter was put on
 * (a u32 dump of one clsact hook also lists the other hook's tables of the
 * same prio): a u32 filter's spec word is just that, 1 ingress or 2
 * egress.  A bpf filter (a rule with `match:`) has in its upper 30 bits a
 * hash of its program's config (classifier_match_hash()), so that a changed
 * `match` shows from the kernel alone.  Names are kept in the topology's
 * pinned metadata map (meta.h).
 */
#define TC_COOKIE_LEN 16

struct tc_cookie {
	uint32_t topology_id;
	uint32_t rule_id;
	uint32_t spec;
};

#define TC_COOKIE_SPEC_HOOK(spec)	((spec) & 3u)
#define TC_COOKIE_SPEC(hook, hash)	((hook) | (uint32_t)(hash) << 2)

/* What an act_mirred does: TCA_{EGRESS,INGRESS}_{MIRROR,REDIR} to ifindex,
 * with verdict TC_ACT_UNSPEC ("continue", for mirrors, so that later rules
 * still see the packet) or TC_ACT_STOLEN (redirects). */
struct tc_mirred_spec {
	int eaction;
	uint32_t ifindex;
	int verdict;
};

/* An observed filter on a clsact hook. */
struct tc_filter {
	uint32_t ifindex;
	unsigned int hook;		/* TCSPAN_HOOK_INGRESS or _EGRESS */
	uint16_t prio;
	uint16_t protocol;		/* host order */
	uint32_t handle;
	char kind[16];
	bool has_mirred;		/* exactly one action, a mirred */
	struct tc_mirred_spec mirred;
	bool ours;			/* the cookie is tcspan's */
	struct tc_cookie cookie;
	uint64_t packets, bytes;	/* the action's counters */
	uint32_t prog_id;		/* bpf: the program (TCA_BPF_ID) */
	uint32_t classid;		/* bpf: TCA_BPF_CLASSID, the rule's slot */
	char bpf_name[96];		/* bpf: TCA_BPF_NAME, "tcspan:TOPO:RULE" */
};

/* Handle of a bpf filter: tcspan keeps one program per prio. */
#define TC_BPF_HANDLE 1

/* u32 key nodes are 12 bits: 1..4095 in the root table of one prio. */
#define TC_U32_NODES_PER_PRIO 4095

void tc_cookie__encode(const struct tc_cookie *c, uint8_t out[TC_COOKIE_LEN]);
bool tc_cookie__decode(const uint8_t *buf, int len, struct tc_cookie *c);

/* RTM_NEWQDISC / RTM_DELQDISC for clsact on ifindex. */
struct nl_msg *tc_msg_clsact(int cmd, uint32_t ifindex);

/*
 * A u32 match-all filter with one mirred action and tcspan's cookie.
 * `handle` is the key node (1..4095) when creating, the full handle that
 * the kernel reported when replacing (`replace` true).
 */
struct nl_msg *tc_msg_u32_mirred(uint32_t ifindex, unsigned int hook,
				 uint16_t prio, uint32_t handle, bool replace,
				 const struct tc_mirred_spec *m,
				 const struct tc_cookie *cookie);

/*
 * A cls_bpf filter in classifier mode (not direct-action) running the
 * program `prog_fd` with `classid` (the built-in classifier's slot of the
 * rule, see classifier.h), named `name`, with one mirred action and
 * tcspan's cookie; `replace` swaps program and action of the existing
 * `handle`.
 */
struct nl_msg *tc_msg_bpf_mirred(uint32_t ifindex, unsigned int hook,
				 uint16_t prio, uint32_t handle, bool replace,
				 int prog_fd, uint32_t classid, const char *name,
				 const struct tc_mirred_spec *m,
				 const struct tc_cookie *cookie);

/* Delete one filter, or with handle 0 every filter of `prio` (the whole
 * classifier instance). */
struct nl_msg *tc_msg_filter_del(uint32_t ifindex, unsigned int hook,
				 uint16_t prio, uint32_t handle, const char *kind);

/* Every filter on one hook of ifindex, appended to *filters (*count of
 * them, room for *cap: the array grows by doubling over many calls). */
int tc_dump_filters(struct nl_conn *conn, uint32_t ifindex, unsigned int hook,
		    struct tc_filter **filters, size_t *count, size_t *cap,
		    struct tcspan_error *err);

/* The ifindexes in the connection's namespace that have a clsact qdisc;
 * free *ifindexes. */
int tc_dump_clsact(struct nl_conn *conn, uint32_t **ifindexes, size_t *count,
		   struct tcspan_error *err);

/* "ingress"/"egress" for one hook bit. */
const char *tc_hook_name(unsigned int hook);

#endif

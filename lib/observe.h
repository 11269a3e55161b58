/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the kernel holds now, read once: for the caller's namespace and
 * every named one, its devices (with aliases and addresses), which of them
 * have clsact, and every filter on their clsact hooks.  plan.c diffs a
 * model against this snapshot without further I/O; state.c reads it back
 * for `show` and `stats`.
 */
#ifndef TCSPAN_OBSERVE_H
#define TCSPAN_OBSERVE_H

#include "link.h"
#include "model.h"
#include "nl.h"
#include "tc.h"
#include "xdp.h"

struct observed_netns {
	char name[TCSPAN_NETNS_NAME_MAX + 1];	/* "" = the caller's */
	char owner[TCSPAN_TOPOLOGY_NAME_MAX + 1]; /* topology that created it */
	struct link_table links;
	uint32_t *clsact;			/* ifindexes with clsact */
	size_t n_clsact;
	struct tc_filter *filters;		/* on every clsact hook */
	size_t n_filters;
	struct xdp_prog *xdp;			/* every device's XDP program */
	size_t n_xdp;
};

/*
 * A device that refused tcspan's XDP program at an apply (the apply was
 * undone): a program appeared there after the plan, or the device takes
 * none.  The next plan of that apply keeps the device's rules on tc.
 */
struct xdp_refusal {
	char netns[TCSPAN_NETNS_NAME_MAX + 1];
	char dev[IFNAMSIZ];
	char reason[64];			/* the kernel's answer, in words */
};

/* A file under /run/netns that is no namespace, and whose it is. */
struct observed_file {
	char name[TCSPAN_NETNS_NAME_MAX + 1];
	char owner[TCSPAN_TOPOLOGY_NAME_MAX + 1];	/* "" unless tcspan's */
};

struct observed {
	struct observed_netns *ns;
	size_t n_ns;
	struct observed_file *files;	/* see netns_create() */
	size_t n_files;
	const struct xdp_refusal *refused;	/* the caller's, not freed here */
	size_t n_refused;
};

/* Connections by namespace, opened on first use and kept for the run. */
struct conn_pool {
	char **names;
	struct nl_conn **conns;
	size_t count;
};

int conn_pool__get(struct conn_pool *pool, const char *netns, struct nl_conn **conn,
		   struct tcspan_error *err);
/* Forget (and close) the connection of a namespace that was deleted. */
void conn_pool__drop(struct conn_pool *pool, const char *netns);
void conn_pool__free(struct conn_pool *pool);

int observe(struct conn_pool *pool, struct observed *obs, struct tcspan_error *err);
void observed__free(struct observed *obs);

const struct observed_netns *observed__netns(const struct observed *obs, const char *name);
bool observed_netns__has_clsact(const struct observed_netns *ns, uint32_t ifindex);
/* The XDP program on ifindex, or NULL (ns may be NULL). */
const struct xdp_prog *observed_netns__xdp(const struct observed_netns *ns, uint32_t ifindex);

#endif

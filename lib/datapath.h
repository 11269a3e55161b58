/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where each rule runs, XDP or tc, and why a rule that could have run on
 * XDP does not.  Pure: the file, plus what the caller says of the kernel
 * through datapath_env (nothing for `validate`), so it is unit-tested.
 *
 * XDP runs before tc on the packets a device receives, and it can only
 * send a frame out of devices or pass it on to the stack, not both.  So:
 * - a `redirect` at `ingress` to `to` at `egress` can run on XDP, when
 *   `to` is an end of one of the topology's links (tcspan readies the
 *   other end to receive XDP frames, see xdp.h) and no rule of the
 *   topology takes packets at `to` egress (XDP frames skip that hook);
 * - a `mirror` can ride along with the redirect that comes next on the
 *   same hook, when both match the same packets: every packet it copies
 *   is then redirected too, and never needed the stack.  One devmap
 *   broadcast sends the redirect's frame and the mirrors' copies;
 * - rules run in order on a hook, so once one rule of a hook stays on tc,
 *   every later rule of that hook stays on tc: XDP would take packets
 *   before the earlier rule saw them.
 */
#ifndef TCSPAN_DATAPATH_H
#define TCSPAN_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "tcspan_xdp.h"

struct datapath_env {
	/* The id of an XDP program on NETNS/DEV that is not this topology's
	 * own, or 0.  NULL (validate): none anywhere. */
	uint32_t (*foreign_xdp)(const char *netns, const char *dev, void *ctx);
	/* Why NETNS/DEV refused tcspan's XDP program at this apply, or NULL
	 * (see struct xdp_refusal); the callback may be NULL. */
	const char *(*xdp_refused)(const char *netns, const char *dev, void *ctx);
	void *ctx;
};

struct datapath_choice {
	bool xdp;			/* the rule runs on XDP */
	size_t head;			/* xdp: the redirect whose entry carries it */
	char fallback[128];		/* on tc but for datapath: tc: why */
	bool refused;			/* datapath: xdp, but on tc: an error */
};

/*
 * Choose for every rule of `topo` into out[n_rules].  A rule with
 * `datapath: xdp` that cannot run on XDP is `refused`, for the caller to
 * report (the file's line, the reason).  0 or -ENOMEM.
 */
int datapath_decide(const struct tcspan_topology *topo, const struct datapath_env *env,
		    struct datapath_choice *out);

/* The other end of the topology's link that has end `ep`, or NULL. */
const struct tcspan_endpoint *datapath_link_peer(const struct tcspan_topology *topo,
						 const char *netns, const char *dev);

#endif

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The layout of the XDP program's tables, shared by bpf/xdp.bpf.c and the
 * library that fills them (lib/xdp.c).
 *
 * One program per device carries that device's XDP rules.  Each entry of
 * its rule table is a redirect with the mirrors that ride along with it:
 * a packet that the entry's match takes goes out of every target of the
 * entry, through one devmap entry (one target) or a devmap broadcast
 * (several).  The entries run in the order of the `order` table, which has
 * two elements: packets read the one `live` names, the library writes the
 * other and then switches `live` (one aligned 32-bit store), so adding,
 * changing or removing entries is seen by packets all at once.  Before it
 * writes an element or a slot that packets read until the last switch,
 * the library waits for an RCU grace period (a map-in-map update), after which no
 * packet is still reading it.  Both tables are arrays: their lookups are
 * inlined, a hash lookup costs as much as the rest of the program.
 */
#ifndef TCSPAN_XDP_H
#define TCSPAN_XDP_H

#include <linux/types.h>

#include "tcspan_match.h"

/* Entries (redirects) on one device, and targets of one entry. */
#define TCSPAN_XDP_RULES	64
#define TCSPAN_XDP_TARGETS	8

/* A program's .rodata `owner`: the kernel alone tells tcspan's programs
 * from others, and whose they are. */
#define TCSPAN_XDP_MAGIC 0x74637870	/* "tcxp" */

struct tcspan_xdp_owner {
	__u32 magic;			/* TCSPAN_XDP_MAGIC */
	char topology[36];		/* NUL-terminated */
};

/*
 * One entry: the rules that take a packet the match takes.  target 0 is
 * the redirect; the others are the mirrors that ride along.  rule_id[i]
 * names target i's rule (tcspan's rule id); counters for target i are at
 * index slot * TCSPAN_XDP_TARGETS + i of `counters`.  `hash` identifies
 * the entry's content for the planner.
 */
struct tcspan_xdp_rule {
	__u32 n_targets;
	__u32 hash;
	__u32 rule_id[TCSPAN_XDP_TARGETS];
	__u32 ifindex[TCSPAN_XDP_TARGETS];	/* as the devmap holds them */
	struct tcspan_match_cfg match;
};

/* The entries to run, by slot, first to last.  `parse`: whether any of
 * them has a match key (otherwise the headers are not read at all). */
struct tcspan_xdp_order {
	__u32 n;
	__u32 parse;
	__u32 slot[TCSPAN_XDP_RULES];
};

struct tcspan_xdp_counter {
	__u64 packets;
	__u64 bytes;
};

#endif

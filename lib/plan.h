/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The plan: a pure diff of a model against an observed snapshot, as an
 * ordered list of kernel operations plus the user-visible changes.  No I/O
 * here, so it is unit-tested with hand-made snapshots.
 *
 * Filter layout.  The rules on one device and hook are sorted by
 * (priority, file position) and laid out as u32 key nodes 1..4095 in the
 * root table of one tc prio, the next 4095 in the next prio, and so on: u32
 * keeps the nodes of a table in node order, so the order of rules is the
 * order of nodes, and a hook holds far more rules than the ~2,047 u32
 * instances (one per prio) the kernel allows.  A topology keeps the prios
 * it already owns on a hook and takes new ones above them, skipping prios
 * that other filters use.
 *
 * A rule with `match:` is a cls_bpf filter (handle TC_BPF_HANDLE) at a prio
 * of its own, in the same sorted order: consecutive rules without `match`
 * share u32 prios between them.  A prio never changes kind in place: when
 * a kept prio would go from u32 to bpf or back, the whole hook is laid out
 * anew in free prios above the ones it has, and its old prios are deleted
 * after the adds, so that no packet meets a hook without its rules.
 *
 * Ingress and egress take prios from ranges of their own: u32 keeps the
 * tables of both clsact hooks in one per-qdisc list, and a dump of one hook
 * lists every table of the same prio, the other hook's too.  With disjoint
 * prios a hook's dump shows only its own filters.
 */
#ifndef TCSPAN_PLAN_H
#define TCSPAN_PLAN_H

#include "model.h"
#include "meta.h"
#include "observe.h"
#include "tc.h"
#include "datapath.h"
#include "tcspan.h"

struct classifier_object;

#define TCSPAN_PRIO_INGRESS 0x4000
#define TCSPAN_PRIO_EGRESS  0x6000
#define TCSPAN_PRIO_BASE(hook) \
	((hook) == TCSPAN_HOOK_INGRESS ? TCSPAN_PRIO_INGRESS : TCSPAN_PRIO_EGRESS)

enum kop_type {
	KOP_NETNS_UNFINISHED_DEL, /* a file a killed run never mounted; no undo */
	KOP_NETNS_ADD,
	KOP_DOOMED_FILTER_DEL,	/* ours, on a device that goes with its link */
	KOP_DOOMED_XDP_DEL,	/* likewise an XDP program */
	KOP_UNFINISHED_DEL,	/* a pair that a killed run never marked; no undo */
	KOP_DEVICE_DEL,		/* before its underlay's link goes (undo after) */
	KOP_LINK_DEL,		/* before any add: a new link may reuse a name */
	KOP_LINK_ADD,
	KOP_DEVICE_ADD,		/* after the links: an underlay may be one */
	KOP_META_CREATE,
	KOP_META_SET,
	KOP_CLSACT_ADD,
	KOP_FILTER_ADD,
	KOP_FILTER_REPLACE,
	KOP_XDP_SET,		/* attach, or update in place (peers first) */
	KOP_FILTER_DEL,		/* after XDP_SET: a rule moving to XDP is taken
				 * there before its filter goes, and back */
	KOP_XDP_DEL,
	KOP_PRIO_DEL,		/* an emptied u32 instance of ours */
	KOP_CLSACT_DEL,
	KOP_META_DEL,
	KOP_NETNS_DEL,
	KOP_META_REMOVE,	/* last: nothing after it needs the names */
};

/* A veth pair as plan and apply need it: both ends with addresses. */
struct kop_link {
	struct tcspan_endpoint a, b;
	const struct tcspan_prefix *a_addresses, *b_addresses;
	size_t n_a, n_b;
};

/* The entries an XDP program of a device should hold, and the devices
 * they send to (by name, in the device's namespace; target t of entry e at
 * target[e * TCSPAN_XDP_TARGETS + t]). */
struct kop_xdp {
	struct tcspan_xdp_rule *entries;
	char (*target)[IFNAMSIZ];
	size_t n;
};

struct kop {
	enum kop_type type;
	char netns[TCSPAN_NETNS_NAME_MAX + 1];
	char dev[IFNAMSIZ];		/* the filter's device; a link's a end */
	unsigned int hook;
	uint16_t prio;
	uint32_t handle;		/* key node to add; full handle otherwise */
	char target[IFNAMSIZ];		/* mirred target, in netns (deletes: the
					 * old target, for a rollback) */
	struct tc_mirred_spec mirred;	/* ifindex filled in at apply */
	struct tc_cookie cookie;
	bool new_prio;			/* an add that creates the u32 instance */
	uint32_t cover;			/* CLSACT_DEL: its number (1...); FILTER_DEL,
					 * PRIO_DEL: that of the CLSACT_DEL that
					 * takes the filter with the qdisc, so that
					 * the delete is not sent and stays only to
					 * be undone (0: none) */
	bool bpf;			/* add/replace: a cls_bpf filter */
	const struct tcspan_match *match; /* bpf: the rule's keys (in the model) */
	const struct classifier_object *object; /* match.bpf: the object read */
	/* An op of 10,000 rules' apply is one of 30,000: one of these. */
	union {
		struct tc_filter old;	/* filters: what a replace or delete replaces */
		struct kop_link link;	/* links */
		struct tcspan_device device; /* device add/delete: what to create */
	};
	const struct kop_xdp *xdp;	/* XDP_SET: what to write */
	uint32_t xdp_prog_id;		/* XDP_SET, _DEL: tcspan's program there */
	uint8_t xdp_mode;		/* XDP_DEL: as it is attached */
	uint32_t meta_kind, meta_id;
	uint32_t meta_ref;		/* META_SET, _DEL: the entry's ref */
	/* Metadata text; a link's or device's alias.  It points into the
	 * model, the plan's strings or the metadata the plan was made from. */
	const char *text;
	const char *rule;		/* rule name, for messages */
	struct tcspan_mark mark;	/* where in the file it comes from */
};

/* The plan's strings, packed in blocks (plan.c). */
struct plan_strings;

struct plan_result {
	struct kop *ops;
	size_t n_ops;
	struct tcspan_change *changes;
	size_t n_changes;
	struct plan_strings *strings;	/* owned by the result: names, details */
	struct kop_xdp **xdp;		/* what XDP_SET ops point to */
	size_t n_xdp;
};

/*
 * Diff `topo` (NULL: nothing desired, as destroy) named `name` against
 * `obs` and the topology's metadata `meta`.  Errors (a collision with a
 * foreign object, a missing device) go into err, one per problem.
 * `objects` (one per rule of topo, or NULL) holds the match.bpf objects
 * read beforehand (classifier_object_read()): their hash goes into the
 * cookie, so that a changed object file replaces the program.
 */
int plan_compute(const struct tcspan_topology *topo, const char *name,
		 const struct observed *obs, const struct meta_store *meta,
		 bool have_meta_map, const struct classifier_object *objects,
		 struct plan_result *out, struct tcspan_error *err);
void plan_result__free(struct plan_result *res);

/* A text and the 32-bit id that names it in the metadata map. */
struct plan_named_text {
	uint32_t id;
	const char *text;
};

struct plan_hashed_text {
	uint32_t hash;			/* of text */
	uint32_t index;			/* the caller's; orders equal hashes */
	const char *text;
	uint32_t id;			/* out: its text's id */
};

/*
 * Name the texts of v[0..n) by ids: a text's hash, or on a collision the
 * id after the last one given (never 0; past UINT32_MAX, the lowest free
 * id), so that the same texts get the same ids from one plan to the next;
 * equal texts share one.  Sorts v by (hash, index) and sets each id; the
 * distinct texts go into ids (room for n), sorted by id.  Returns their
 * count.
 */
size_t plan_text_ids(struct plan_hashed_text *v, size_t n, struct plan_named_text *ids);

/* The eaction of act_mirred for a rule's action and target direction. */
int plan_mirred_eaction(enum tcspan_action action, enum tcspan_hook to_hook);

#endif

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF classifier of a rule with `match:`: the rule's keys as a slot of
 * the program's rule table (struct tcspan_match_cfg), and the program
 * loaded from the skeleton that the library embeds; or the user's own
 * program (match.bpf).  The conversion of keys is pure, so that
 * the planner can hash a rule's keys into its cookie and see a change of
 * `match` from the kernel alone.
 */
#ifndef TCSPAN_CLASSIFIER_H
#define TCSPAN_CLASSIFIER_H

#include <stdint.h>

#include "error.h"
#include "model.h"
#include "tcspan_match.h"

/* `m` as the program's config; bytes not used are zero. */
void classifier_cfg(const struct tcspan_match *m, struct tcspan_match_cfg *cfg);

/* The flow table size that `m` asks for (1 when it does not sample). */
uint32_t classifier_sample_flows(const struct tcspan_match *m);

/* 30 bits of FNV-1a over every byte of `m`'s program config and its flow
 * table size: what the cookie's spec word keeps above the hook's 2 bits. */
uint32_t classifier_match_hash(const struct tcspan_match *m);

/*
 * A classifier of the user's own (`match.bpf`), read once at plan time:
 * the bytes that the plan hashes are the bytes that apply loads.
 */
struct classifier_object {
	void *data;			/* the object file's content */
	size_t size;
	char *program;			/* the program: match.bpf.program or the only one */
	uint32_t hash;			/* 30 bits over data and program (the cookie's) */
};

/*
 * Read `m`'s object (m->has_bpf) through one descriptor (O_NOFOLLOW): a
 * regular file, owned by root, not writable by group or others, holding
 * the named tc classifier program (SEC "tc" or "classifier"), or exactly
 * one when no program is named.  Nothing is loaded.  Returns 0, or a
 * negative errno with one message in err, after `what` (the rule, its
 * line).  classifier_object_free() frees obj in either case.
 */
int classifier_object_read(const struct tcspan_match *m, const char *what,
			   struct classifier_object *obj, struct tcspan_error *err);
void classifier_object_free(struct classifier_object *obj);

/*
 * Load the program of a match.bpf object `obj` (read from `path` by
 * classifier_object_read(); only that program is loaded, with the object's
 * maps).  Returns a program fd (O_CLOEXEC) that the caller closes, or a
 * negative errno with the loader's (libbpf's, the verifier's) last lines
 * in err, after `what`.
 */
int classifier_load_object(const char *path, const struct classifier_object *obj,
			   const char *what, struct tcspan_error *err);

/*
 * The built-in classifier, shared by the rules of one apply: verifying a
 * program per rule would cost milliseconds each, so one program is loaded
 * (on the first rule) and each rule's keys go into a slot of its table.  A
 * filter passes its slot to the program as its classid (TCA_BPF_CLASSID),
 * which cls_bpf gives the program in skb->tc_classid; that is 16 bits, so
 * past CLASSIFIER_SLOTS rules another copy is loaded.  A rule that samples
 * gets its own flow table of its sample_flows entries.  What the filters
 * use lives on after classifier_shared__free(): the kernel frees a copy
 * and its tables with the last filter that runs it.
 */
#define CLASSIFIER_SLOTS 65536u

struct classifier_shared;

/* For about `rules` rules (it sizes the tables; more still work). */
struct classifier_shared *classifier_shared__new(uint32_t rules);
void classifier_shared__free(struct classifier_shared *s);

/*
 * Give a rule with keys `cfg` (classifier_cfg()) and flow table size
 * `flows` (classifier_sample_flows()) a slot: returns the fd of the program
 * to attach (owned by `s`, valid until classifier_shared__free()) and the
 * classid in *classid, or a negative errno with a message after `what`.
 */
int classifier_shared__add(struct classifier_shared *s, const struct tcspan_match_cfg *cfg,
			   uint32_t flows, uint32_t *classid, const char *what,
			   struct tcspan_error *err);

/*
 * What to tell a user whose load failed with EPERM on kernel `release`
 * (uname -r) with RLIMIT_MEMLOCK's soft limit `memlock` (bytes,
 * RLIM_INFINITY for none).  Kernels before 5.11 charge BPF maps and
 * programs to RLIMIT_MEMLOCK; libbpf raises the limit before it loads when
 * the process may (CAP_SYS_RESOURCE), so an EPERM there with a finite limit
 * means that raising it was refused.  Otherwise EPERM is a missing
 * capability.  Pure, for the tests.
 */
const char *classifier_eperm_hint(const char *release, unsigned long long memlock,
				  char *buf, size_t len);

#endif

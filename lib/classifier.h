/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF classifier of a rule with `match:`: the rule's keys as the
 * program's .rodata (struct tcspan_match_cfg), and the program loaded from
 * the skeleton that the library embeds.  The conversion is pure, so that
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
 * Load the classifier for `m`; returns a program fd (O_CLOEXEC) that the
 * caller closes, or a negative errno with the loader's (libbpf's, the
 * verifier's) last lines in err, after `what` (the rule and its line).
 */
int classifier_load(const struct tcspan_match *m, const char *what,
		    struct tcspan_error *err);

#endif

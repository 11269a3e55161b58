/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Carry out a plan's operations: tc operations are pipelined per namespace
 * and settled at each change of phase; every operation that succeeded is
 * logged, and when one fails the log is undone in reverse.
 */
#ifndef TCSPAN_APPLY_H
#define TCSPAN_APPLY_H

#include "meta.h"
#include "observe.h"
#include "plan.h"

struct apply_ctx {
	const char *name;		/* the topology */
	const char *file;		/* for messages; NULL for destroy */
	struct conn_pool *pool;
	struct meta_store *meta;
	/* out: set when the apply failed because a device refused tcspan's
	 * XDP program (see xdp_attach_new()); NULL: not asked */
	struct xdp_refusal *refused;
};

/*
 * 0, or the first error with every step undone, or -ENOTRECOVERABLE when
 * some step could not be undone (each such step is named in err).
 */
int apply_ops(struct apply_ctx *ctx, const struct kop *ops, size_t n_ops,
	      struct tcspan_error *err);

#endif

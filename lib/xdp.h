/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tcspan's XDP program on a device (bpf/xdp.bpf.c): loaded, filled,
 * attached, updated in place, detached, and read back from the kernel.
 *
 * The program is tcspan's by its name and by the owner record in its
 * .rodata (struct tcspan_xdp_owner: magic and topology), which anyone can
 * read from the program id alone; nothing is pinned.  A program of
 * another topology or of anyone else is foreign: never replaced, never
 * detached.
 *
 * The same program with no entries readies the peer of a veth that XDP
 * frames are sent into: a veth drops them unless its peer runs XDP.
 */
#ifndef TCSPAN_XDP_LIB_H
#define TCSPAN_XDP_LIB_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "model.h"
#include "nl.h"
#include "tcspan_xdp.h"

#define XDP_PROG_NAME "tcspan_xdp"

/* An entry as the kernel holds it, with its counters (summed over CPUs). */
struct xdp_entry {
	uint32_t slot;
	struct tcspan_xdp_rule rule;
	uint64_t packets[TCSPAN_XDP_TARGETS], bytes[TCSPAN_XDP_TARGETS];
};

/* A device's XDP program as observed. */
struct xdp_prog {
	uint32_t ifindex;
	uint32_t id;
	uint8_t mode;			/* XDP_ATTACHED_DRV, _SKB, ... */
	bool ours;			/* tcspan's, of `topology` */
	char topology[TCSPAN_TOPOLOGY_NAME_MAX + 1];
	struct xdp_entry *entries;	/* in the order they run */
	size_t n_entries;
};

/*
 * Read program `id` attached to ifindex in `mode`: whose it is, and for
 * tcspan's its entries with counters.  A program gone meanwhile reads as
 * foreign with no entries.  Returns 0 or a negative errno (in err).
 */
int xdp_prog_read(uint32_t ifindex, uint32_t id, uint8_t mode, struct xdp_prog *out,
		  struct tcspan_error *err);
void xdp_prog__free(struct xdp_prog *p);

/* "native", "generic", ... for an XDP_ATTACHED_* mode. */
const char *xdp_mode_name(uint8_t mode);

/*
 * Load a program for `topology`, write `n` entries, and attach it to
 * ifindex in the connection's namespace (native where the driver has it,
 * generic otherwise), only if the device has no XDP program.  *prog_fd
 * gets the program and *mode how it went on (XDP_ATTACHED_*), for a
 * detach that undoes it.  *refused: the program was ready and the device
 * would not take it (a program is there, or the device takes none in
 * either mode), as opposed to any other failure.  Devmap entries name
 * devices of the namespace: the writes run inside it.
 */
int xdp_attach_new(struct nl_conn *conn, const char *topology, uint32_t ifindex,
		   const char *what, const struct tcspan_xdp_rule *w, size_t n, int *prog_fd,
		   uint8_t *mode, bool *refused, struct tcspan_error *err);

/*
 * Replace the entries of tcspan's program `prog_id` (in namespace netns)
 * with `w`: entries that are already there keep their slot and counters,
 * new ones go to free slots, then the order is swapped in one update.
 * *old gets the order it replaced, for xdp_restore_order().
 */
int xdp_update(const char *netns, uint32_t prog_id, const char *what,
	       const struct tcspan_xdp_rule *w, size_t n, struct tcspan_xdp_order *old,
	       struct tcspan_error *err);
int xdp_restore_order(uint32_t prog_id, const struct tcspan_xdp_order *old,
		      struct tcspan_error *err);

/*
 * Detach program `prog_fd` from ifindex, and only it (XDP_FLAGS_REPLACE
 * with the expected program); `mode` as it was attached.
 */
int xdp_detach(struct nl_conn *conn, uint32_t ifindex, int prog_fd, uint8_t mode,
	       const char *what, struct tcspan_error *err);
/* Attach `prog_fd` again in `mode`, if the device has no program. */
int xdp_reattach(struct nl_conn *conn, uint32_t ifindex, int prog_fd, uint8_t mode,
		 const char *what, struct tcspan_error *err);

/* FNV-1a over an entry's rule ids and match (not its devices, which the
 * planner compares by ifindex): the entry's `hash`. */
uint32_t xdp_rule_hash(const struct tcspan_xdp_rule *r);

#endif

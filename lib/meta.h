/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A topology's names, kept in the kernel: a BPF hash map pinned at
 * /sys/fs/bpf/tcspan/TOPOLOGY/meta (bpffs is mounted when missing).  The
 * directory's existence is what lists a topology; the map names its rules
 * and the clsact qdiscs tcspan created.
 */
#ifndef TCSPAN_META_H
#define TCSPAN_META_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "tcspan_meta.h"

#define TCSPAN_BPFFS	 "/sys/fs/bpf"
#define TCSPAN_PIN_ROOT	 TCSPAN_BPFFS "/tcspan"

struct meta_entry {
	uint32_t kind;
	uint32_t id;
	uint32_t ref;			/* RULE: its REASON's id, or 0 */
	char text[TCSPAN_META_TEXT_SIZE];
};

struct meta_store {
	int fd;				/* -1: the topology has no map yet */
	struct meta_entry *entries;
	size_t count;
	struct meta_index *sorted;	/* entries by (kind, id): lookups */
};

struct meta_index {
	uint64_t key;			/* kind << 32 | id */
	const struct meta_entry *entry;
};

/* 32-bit FNV-1a: the ids in cookies and in the map. */
uint32_t meta_id(const char *s);

/* Read topology `name`'s map, if it has one, into store. */
int meta_read(const char *name, struct meta_store *store, struct tcspan_error *err);
/* Create (and pin) the map of `name` when it is missing. */
int meta_create(const char *name, struct meta_store *store, struct tcspan_error *err);
int meta_set(struct meta_store *store, uint32_t kind, uint32_t id, const char *text,
	     uint32_t ref, struct tcspan_error *err);
/*
 * meta_set() of n entries at once; *done says how many were set (in
 * order) when it fails.
 */
int meta_set_many(struct meta_store *store, const struct meta_entry *entries, size_t n,
		  size_t *done, struct tcspan_error *err);
int meta_delete(struct meta_store *store, uint32_t kind, uint32_t id);
/*
 * Sort store->sorted, the index that lookups use (meta_read() does it; a
 * plan of 10,000 rules looks up 20,000 names).  0 or -ENOMEM.
 */
int meta_store__index(struct meta_store *store);
const struct meta_entry *meta_find(const struct meta_store *store, uint32_t kind,
				   uint32_t id);
const char *meta_lookup(const struct meta_store *store, uint32_t kind, uint32_t id);
/* Whether a stored text is `text`, as far as an entry holds it. */
bool meta_text_equal(const char *stored, const char *text);
/* Unpin the map and remove the topology's directory. */
int meta_remove(const char *name, struct tcspan_error *err);
void meta_store__free(struct meta_store *store);

/* The topologies that have a directory, sorted. */
int meta_list(char ***names, size_t *count);

#endif

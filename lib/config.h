/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The first stage: YAML text into a small tree of mappings, sequences and
 * scalars, each with the line and column it starts at.  The tree knows
 * nothing of tcspan's schema; model.c checks that.  Problems are collected,
 * not printed, so that a file's errors can all be reported in one run and
 * sorted by position.
 */
#ifndef TCSPAN_CONFIG_H
#define TCSPAN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define CONFIG_MAX_FILE_SIZE	(16u << 20)	/* bytes */
#define CONFIG_MAX_DEPTH	32		/* nested mappings and sequences */
#define CONFIG_MAX_NODES	1000000		/* ~90,000 rules; bounds memory */

enum config_node_kind {
	CONFIG_SCALAR,
	CONFIG_SEQUENCE,
	CONFIG_MAPPING,
	/*
	 * Stands in for what was refused while parsing (an alias); the
	 * problem is already reported, so checks of the schema stay quiet
	 * about it.
	 */
	CONFIG_REFUSED,
};

struct config_pair;

/* 48 bytes: a file of 10,000 rules is some 110,000 of them. */
struct config_node {
	enum config_node_kind kind;
	unsigned int line;		/* 1-based */
	unsigned int column;		/* 1-based, in characters */
	/* CONFIG_SCALAR */
	unsigned int length;
	char *value;			/* NUL-terminated; never NULL */
	bool quoted;			/* any style but plain */
	/* CONFIG_SEQUENCE: items; CONFIG_MAPPING: pairs, in file order,
	 * keys unique and scalar */
	unsigned int n_items;
	unsigned int n_pairs;
	union {
		struct config_node **items;
		struct config_pair *pairs;
	};
};

struct config_pair {
	struct config_node *key;	/* always a CONFIG_SCALAR */
	struct config_node *value;
};

/* One problem found in a file, at a position (line 0: the whole file). */
struct config_problem {
	unsigned int line;
	unsigned int column;
	char *message;
};

/* Problems kept of one file; past them the file is read no further. */
#define CONFIG_MAX_PROBLEMS 100

struct config_problems {
	struct config_problem *items;
	size_t count;
	size_t capacity;
	bool out_of_memory;
	bool too_many;			/* more than CONFIG_MAX_PROBLEMS came */
};

/* The nodes of one file, all in one arena (config.c). */
struct config_chunk;

struct config_tree {
	const struct config_node *root;
	struct config_chunk *chunks;
};

/*
 * Parse `len` bytes of YAML into `tree`.  Returns the root node of the one
 * document, or NULL when there is none to check (empty file, or a problem
 * that left no usable tree).  Every problem goes into `problems`; a tree
 * may be returned together with problems (a refused alias, a duplicate
 * key), and then model.c reports what else is wrong with it.  The tree
 * holds memory either way: config_tree__free() it.
 */
const struct config_node *config_parse(const char *buf, size_t len,
				       struct config_problems *problems,
				       struct config_tree *tree);

void config_tree__free(struct config_tree *tree);

/* A plain scalar that YAML reads as null: "", "~", "null", "Null", "NULL". */
bool config_node__is_null(const struct config_node *node);

/* The value of `key` in a mapping, or NULL. */
const struct config_node *config_node__get(const struct config_node *map,
					   const char *key);

__attribute__((format(printf, 4, 5)))
void config_problems__add(struct config_problems *problems, unsigned int line,
			  unsigned int column, const char *fmt, ...);

/*
 * Move every problem into `err` as "FILE:LINE:COLUMN: error: MESSAGE" (or
 * "FILE: error: MESSAGE" for line 0), sorted by position; problems at one
 * position keep the order they were found in.  Returns how many there were.
 */
size_t config_problems__flush(struct config_problems *problems, const char *file,
			      struct tcspan_error *err);

void config_problems__free(struct config_problems *problems);

#endif /* TCSPAN_CONFIG_H */

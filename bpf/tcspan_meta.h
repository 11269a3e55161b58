/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The layout of a topology's metadata map, shared by the BPF object that
 * declares it and the library that reads and writes it.
 */
#ifndef TCSPAN_META_LAYOUT_H
#define TCSPAN_META_LAYOUT_H

#include <linux/types.h>

enum tcspan_meta_kind {
	/* id: rule id; text: the rule's name; ref: the REASON entry that
	 * says why auto chose tc for it (0: none) */
	TCSPAN_META_RULE = 1,
	TCSPAN_META_CLSACT = 2,		/* id: hash of text; text: "NETNS/DEV" */
	/* id: rule id; text: why auto chose tc.  Written by the builds
	 * before REASON; read by show, replaced on the next apply. */
	TCSPAN_META_FALLBACK = 3,
	/* id: hash of text (the next free id on a collision); text: why
	 * auto chose tc, once for all the rules whose ref names it */
	TCSPAN_META_REASON = 4,
};

struct tcspan_meta_key {
	__u32 kind;
	__u32 id;
};

#define TCSPAN_META_TEXT_SIZE 124

/* 128 bytes, as before ref: maps made by earlier builds read as they are
 * (their ref is the zeroes after the text). */
struct tcspan_meta_value {
	char text[TCSPAN_META_TEXT_SIZE];
	__u32 ref;
};

#define TCSPAN_META_MAX_ENTRIES 131072

#endif

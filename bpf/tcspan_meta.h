/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The layout of a topology's metadata map, shared by the BPF object that
 * declares it and the library that reads and writes it.
 */
#ifndef TCSPAN_META_LAYOUT_H
#define TCSPAN_META_LAYOUT_H

#include <linux/types.h>

enum tcspan_meta_kind {
	TCSPAN_META_RULE = 1,		/* id: rule id; text: the rule's name */
	TCSPAN_META_CLSACT = 2,		/* id: hash of text; text: "NETNS/DEV" */
	TCSPAN_META_FALLBACK = 3,	/* id: rule id; text: why auto chose tc */
};

struct tcspan_meta_key {
	__u32 kind;
	__u32 id;
};

struct tcspan_meta_value {
	char text[128];
};

#define TCSPAN_META_MAX_ENTRIES 131072

#endif

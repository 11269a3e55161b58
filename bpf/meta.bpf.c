// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Not attached anywhere: this object only declares the map that holds a
 * topology's names, pinned at /sys/fs/bpf/tcspan/TOPOLOGY/meta, so that
 * `show` and `destroy` can name rules from the kernel alone.  BTF makes
 * `bpftool map dump` print the names as text.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "tcspan_meta.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, TCSPAN_META_MAX_ENTRIES);
	__type(key, struct tcspan_meta_key);
	__type(value, struct tcspan_meta_value);
} meta SEC(".maps");

char LICENSE[] SEC("license") = "Dual BSD/GPL";

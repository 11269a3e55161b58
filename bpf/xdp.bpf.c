// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcspan's XDP program: one per device, running that device's XDP rules
 * (redirects taken at ingress and sent out of another device, with the
 * mirrors that ride along) from tables the library fills; see
 * tcspan_xdp.h.  A packet that no entry takes goes on (XDP_PASS) to the
 * stack and to the device's tc rules.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "tcspan_xdp.h"

const volatile struct tcspan_xdp_owner owner = {};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TCSPAN_XDP_RULES);
	__type(key, __u32);
	__type(value, struct tcspan_xdp_rule);
} rules SEC(".maps");

/* Two elements: the one `live` names runs, the other is written. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct tcspan_xdp_order);
} order SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} live SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCSPAN_XDP_RULES * TCSPAN_XDP_TARGETS);
	__type(key, __u32);
	__type(value, struct tcspan_xdp_counter);
} counters SEC(".maps");

/* An entry's one target, by slot. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, TCSPAN_XDP_RULES);
	__type(key, __u32);
	__type(value, __u32);
} targets SEC(".maps");

/* An entry's targets when there are several, by slot: a broadcast goes to
 * every device of the inner devmap. */
struct group {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, TCSPAN_XDP_TARGETS);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, TCSPAN_XDP_RULES);
	__type(key, __u32);
	__array(values, struct group);
} groups SEC(".maps");

/* Checked once by the verifier on its own, not once per entry: a global
 * function.  The parse, done once per packet, is inlined. */
__noinline int tcspan_xdp_match(const struct tcspan_match_cfg *cfg,
				const struct tcspan_packet *pkt)
{
	if (!cfg || !pkt)
		return 0;
	return tcspan_match(cfg, pkt);
}

static __always_inline void count(__u32 slot, __u32 n, __u64 bytes)
{
	struct tcspan_xdp_counter *c;
	__u32 i, k;

	for (i = 0; i < TCSPAN_XDP_TARGETS && i < n; i++) {
		k = slot * TCSPAN_XDP_TARGETS + i;
		c = bpf_map_lookup_elem(&counters, &k);
		if (c) {
			c->packets++;
			c->bytes += bytes;
		}
	}
}

SEC("xdp")
int tcspan_xdp(struct xdp_md *ctx)
{
	struct tcspan_packet pkt = {};
	struct tcspan_xdp_order *o;
	struct tcspan_xdp_rule *r;
	__u32 zero = 0, i, slot, *l;
	void *group;

	l = bpf_map_lookup_elem(&live, &zero);
	if (!l)
		return XDP_PASS;
	o = bpf_map_lookup_elem(&order, l);
	if (!o || !o->n)
		return XDP_PASS;
	if (o->parse && !tcspan_parse_ipv4_fast((void *)(long)ctx->data,
						(void *)(long)ctx->data_end, &pkt))
		tcspan_parse((void *)(long)ctx->data, (void *)(long)ctx->data_end, &pkt);
	for (i = 0; i < TCSPAN_XDP_RULES && i < o->n; i++) {
		slot = o->slot[i];
		r = bpf_map_lookup_elem(&rules, &slot);
		if (!r || (r->match.keys && !tcspan_xdp_match(&r->match, &pkt)))
			continue;
		count(slot, r->n_targets, ctx->data_end - ctx->data);
		if (r->n_targets <= 1)
			return bpf_redirect_map(&targets, slot, XDP_PASS);
		group = bpf_map_lookup_elem(&groups, &slot);
		if (!group)
			return XDP_PASS;
		return bpf_redirect_map(group, 0, BPF_F_BROADCAST);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The classifier of rules with `match:`, one program for many filters.
 * The library loads it once per apply (see lib/classifier.h) and writes
 * each rule's keys into a slot of `rules`; every filter of those rules
 * runs this program with its slot as the filter's classid, which cls_bpf
 * hands to the program in skb->tc_classid (16 bits) before running it.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "tcspan_match.h"

/* At least this much is pulled into the linear part when headers are not. */
#define TCSPAN_PULL_BYTES 256

/* The rules, by slot.  The library sets max_entries. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcspan_match_cfg);
} rules SEC(".maps");

/* `sample`: each flow's decision, one table per rule that samples (each
 * with the rule's sample_flows as its max_entries), by slot. */
struct flows {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TCSPAN_SAMPLE_FLOWS);
	__uint(key_size, sizeof(struct tcspan_flow_key));
	__uint(value_size, sizeof(__u8));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct flows);
} sample_flows SEC(".maps");

/* Inlined: a call costs more than the parse on CPUs with return thunks. */
static __always_inline void tcspan_classify_parse(struct __sk_buff *skb,
						  struct tcspan_packet *pkt)
{
	__builtin_memset(pkt, 0, sizeof(*pkt));
	/* On ingress, and with tx VLAN offload, the kernel keeps the tag aside. */
	if (skb->vlan_present)
		tcspan_packet__set_vlan(pkt, skb->vlan_tci);
	tcspan_parse((void *)(long)skb->data, (void *)(long)skb->data_end, pkt);
}

/*
 * A global function, which the verifier checks once on its own, for any
 * keys: the paths through the headers do not multiply with the paths
 * through the match's lists.  Rules with at most one `src` and one `dst`
 * are matched inline instead (tcspan_match_short()), which the verifier
 * walks in a few thousand more steps: a call and its return thunk cost
 * more than that match.
 */
__noinline int tcspan_classify_match(const struct tcspan_match_cfg *cfg,
				     const struct tcspan_packet *pkt)
{
	if (!cfg || !pkt)
		return 0;
	return tcspan_match(cfg, pkt);
}

/*
 * A cls_bpf filter in classifier mode (not direct-action) on a clsact
 * ingress or egress hook, with the rule's mirred action: 0 is "no match",
 * TC_ACT_UNSPEC (-1) is "match: take the filter's classid and actions".
 */
SEC("tc")
int tcspan_classify(struct __sk_buff *skb)
{
	const struct tcspan_match_cfg *cfg;
	struct tcspan_packet pkt;
	__u32 slot = skb->tc_classid, want;
	void *flows;

	cfg = bpf_map_lookup_elem(&rules, &slot);
	if (!cfg)
		return 0;
	/* Most frames: untagged IPv4, and a rule of one prefix per side. */
	if (tcspan_match_short(cfg) && !skb->vlan_present) {
		__builtin_memset(&pkt, 0, sizeof(pkt));
		if (tcspan_parse_ipv4_fast((void *)(long)skb->data, (void *)(long)skb->data_end,
					   &pkt)) {
			if (!tcspan_match_short_ipv4(cfg, &pkt))
				return 0;
			goto matched;
		}
	}
	tcspan_classify_parse(skb, &pkt);
	/* Headers outside the linear part are rare: pull them only then. */
	if ((pkt.flags & TCSPAN_PACKET_SHORT) && pkt.need <= skb->len) {
		want = pkt.need > TCSPAN_PULL_BYTES ? pkt.need : TCSPAN_PULL_BYTES;
		if (want > skb->len)
			want = skb->len;
		if (!bpf_skb_pull_data(skb, want))
			tcspan_classify_parse(skb, &pkt);
	}
	if (tcspan_match_short(cfg) ? !tcspan_match_upto(cfg, &pkt, 1) :
				      !tcspan_classify_match(cfg, &pkt))
		return 0;
matched:
	if ((cfg->keys & TCSPAN_KEY_SAMPLE) && cfg->sample > 1) {
		flows = bpf_map_lookup_elem(&sample_flows, &slot);
		/* A rule that samples has its table: without one, take nothing. */
		if (!flows || !tcspan_sample(flows, cfg, &pkt))
			return 0;
	}
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The classifier of a rule with `match:`: the rule's keys live in .rodata,
 * set by the library before load, so that the verifier sees them as
 * constants and keeps only the code that this rule's keys need.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "tcspan_match.h"

/* At least this much is pulled into the linear part when headers are not. */
#define TCSPAN_PULL_BYTES 256

const volatile struct tcspan_match_cfg cfg = {};

/* `sample`: each flow's decision.  The library sets max_entries. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TCSPAN_SAMPLE_FLOWS);
	__type(key, struct tcspan_flow_key);
	__type(value, __u8);
} sample_flows SEC(".maps");

/*
 * A global function, which the verifier checks once on its own: the paths
 * through the headers do not multiply with the paths through the match.
 */
__noinline int tcspan_classify_parse(struct __sk_buff *skb, struct tcspan_packet *pkt)
{
	if (!pkt)
		return 0;
	__builtin_memset(pkt, 0, sizeof(*pkt));
	/* On ingress, and with tx VLAN offload, the kernel keeps the tag aside. */
	if (skb->vlan_present)
		tcspan_packet__set_vlan(pkt, skb->vlan_tci);
	tcspan_parse((void *)(long)skb->data, (void *)(long)skb->data_end, pkt);
	return 0;
}

/*
 * A cls_bpf filter in classifier mode (not direct-action) on a clsact
 * ingress or egress hook, with the rule's mirred action: 0 is "no match",
 * TC_ACT_UNSPEC (-1) is "match: take the filter's classid and actions".
 */
SEC("tc")
int tcspan_classify(struct __sk_buff *skb)
{
	struct tcspan_packet pkt;
	__u32 want;

	tcspan_classify_parse(skb, &pkt);
	/* Headers outside the linear part are rare: pull them only then. */
	if ((pkt.flags & TCSPAN_PACKET_SHORT) && pkt.need <= skb->len) {
		want = pkt.need > TCSPAN_PULL_BYTES ? pkt.need : TCSPAN_PULL_BYTES;
		if (want > skb->len)
			want = skb->len;
		if (!bpf_skb_pull_data(skb, want))
			tcspan_classify_parse(skb, &pkt);
	}
	if (!tcspan_match(&cfg, &pkt) || !tcspan_sample(&sample_flows, &cfg, &pkt))
		return 0;
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

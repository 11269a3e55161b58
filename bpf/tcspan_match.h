/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `match:` in the kernel, in two parts.
 *
 * The layout of a rule's keys (struct tcspan_match_cfg), which the library
 * writes into the programs' rule tables, and of the flow tables that
 * `sample` keeps: plain data, included by the library too.
 *
 * For BPF only (__bpf__): the packet parsing and matching that tcspan's
 * programs share (the tc classifier, the XDP program), written over
 * (data, data_end) so that an __sk_buff and an xdp_md can both use it.  A
 * program calls tcspan_parse(), then tcspan_match() from a global function
 * of its own (see classifier.bpf.c): the verifier checks a global function
 * once, by itself, so that the paths through the headers do not multiply
 * with the paths through the match.  A program may match a rule for which
 * tcspan_match_short() holds inline, with tcspan_match_upto(cfg, pkt, 1),
 * and the frame most rules see (untagged IPv4 without options or
 * fragments) without the general path: tcspan_parse_ipv4_fast(), then
 * tcspan_match_short_ipv4().  Then tcspan_sample() on a match.
 */
#ifndef TCSPAN_MATCH_H
#define TCSPAN_MATCH_H

#include <linux/types.h>

/* Items of one `src` or `dst` list: TCSPAN_LIST_MAX of lib/model.h. */
#define TCSPAN_MATCH_CIDRS	64

/* Default max_entries of a program's flow map (`sample`). */
#define TCSPAN_SAMPLE_FLOWS	65536

/* IPv6 extension headers skipped before giving up on the protocol. */
#define TCSPAN_IPV6_EXT_MAX	8

/* tcspan_match_cfg.keys: the keys the rule gives; all of them must hold. */
enum tcspan_key {
	TCSPAN_KEY_ETHER_TYPE	= 1 << 0,
	TCSPAN_KEY_VLAN		= 1 << 1,
	TCSPAN_KEY_PROTOCOL	= 1 << 2,
	TCSPAN_KEY_SRC		= 1 << 3,
	TCSPAN_KEY_DST		= 1 << 4,
	TCSPAN_KEY_SRC_PORT	= 1 << 5,
	TCSPAN_KEY_DST_PORT	= 1 << 6,
	TCSPAN_KEY_SAMPLE	= 1 << 7,
};

/*
 * Address families, with the values of AF_INET and AF_INET6, so that the
 * library copies tcspan_prefix.family as it is.
 */
#define TCSPAN_FAMILY_IPV4	2
#define TCSPAN_FAMILY_IPV6	10
#if defined(AF_INET) && (AF_INET != TCSPAN_FAMILY_IPV4 || AF_INET6 != TCSPAN_FAMILY_IPV6)
#error "TCSPAN_FAMILY_* must equal AF_INET and AF_INET6"
#endif

/* One item of `src` or `dst`. */
struct tcspan_cidr {
	__u8 family;			/* TCSPAN_FAMILY_* */
	__u8 len;			/* prefix length: 0-32 or 0-128 */
	__u8 pad[2];
	__be32 addr[4];			/* as in in_addr/in6_addr; IPv4 in addr[0] */
};

/*
 * A rule's `match:`.  Numbers are in host order except addresses; a key's
 * fields mean something only when its bit is in `keys`.  Fixed arrays and
 * no pointers, so that the BPF object and the library agree on every byte.
 */
struct tcspan_match_cfg {
	__u32 keys;			/* enum tcspan_key bits */
	__u32 sample;			/* keep about 1 flow in `sample` (1: all) */
	__u16 ether_type;		/* after a VLAN tag, if any */
	__u16 vlan;			/* VID, 0-4095 */
	__u16 src_port_first, src_port_last;	/* inclusive */
	__u16 dst_port_first, dst_port_last;
	__u8 protocol;			/* after IPv6 extension headers */
	__u8 n_src, n_dst;		/* items used in src[] and dst[] */
	__u8 pad;
	struct tcspan_cidr src[TCSPAN_MATCH_CIDRS];	/* ORed */
	struct tcspan_cidr dst[TCSPAN_MATCH_CIDRS];	/* ORed */
};

_Static_assert(sizeof(struct tcspan_cidr) == 20, "tcspan_cidr has no hidden padding");
_Static_assert(sizeof(struct tcspan_match_cfg) == 24 + 2 * TCSPAN_MATCH_CIDRS * 20,
	       "tcspan_match_cfg has no hidden padding");

/*
 * The key of a program's flow map, where `sample` keeps its decision for
 * each flow.  Both directions of a flow have one key: the endpoint with the
 * lower (address, port) comes first.  A frame that is not IP is keyed by
 * its ether_type and Ethernet addresses (in addr[][0..1]); a fragment, first
 * or not, has ports 0, so that all fragments of a datagram go together.
 */
struct tcspan_flow_key {
	__u16 ether_type;
	__u8 family;			/* TCSPAN_FAMILY_*, 0 when not IP */
	__u8 protocol;
	__be16 port[2];
	__be32 addr[2][4];
};

_Static_assert(sizeof(struct tcspan_flow_key) == 40, "tcspan_flow_key has no hidden padding");

#ifdef __bpf__

#include <stdbool.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* What parsing found; a field means something only with its flag. */
enum tcspan_packet_flag {
	TCSPAN_PACKET_ETHER_TYPE = 1 << 0,	/* ether_type (after a tag) */
	TCSPAN_PACKET_VLAN	 = 1 << 1,	/* vlan: the frame is tagged */
	TCSPAN_PACKET_ADDRS	 = 1 << 2,	/* family, src, dst */
	TCSPAN_PACKET_PROTOCOL	 = 1 << 3,	/* protocol */
	TCSPAN_PACKET_PORTS	 = 1 << 4,	/* src_port, dst_port */
	TCSPAN_PACKET_FRAGMENT	 = 1 << 5,	/* a fragment, first or not */
	TCSPAN_PACKET_SHORT	 = 1 << 6,	/* data ended inside a header */
};

/* What tcspan_parse() found: zeroed first, fields without their flag stay 0. */
struct tcspan_packet {
	__u32 flags;			/* enum tcspan_packet_flag */
	__u32 need;			/* SHORT: the bytes that header needed */
	__u16 ether_type;
	__u16 vlan;
	__u8 family;
	__u8 protocol;
	__be16 src_port, dst_port;
	__be32 src[4], dst[4];		/* not IP: the Ethernet addresses */
};

struct tcspan_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct tcspan_ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;		/* offset in 8-byte units << 3, M bit */
	__be32 id;
};

/* The first bytes of TCP, UDP and SCTP headers alike. */
struct tcspan_ports {
	__be16 src;
	__be16 dst;
};

/*
 * Headers are read in the first TCSPAN_PARSE_MAX bytes of a frame; one that
 * starts later counts as missing.
 */
#define TCSPAN_PARSE_MAX	2048

/* No bound from the IP header's length field (0 there: BIG TCP, jumbogram). */
#define TCSPAN_IP_NO_LIMIT	0x100000

/*
 * `off` < TCSPAN_PARSE_MAX, as the verifier should know it: masked, so that
 * every offset that depends on the packet looks alike to it and the paths
 * through IPv6 extension headers prune instead of multiplying.  (The barrier
 * keeps the compiler from dropping the mask as a no-op.)
 */
static __always_inline __u32 tcspan_offset(__u32 off)
{
	asm volatile("" : "+r"(off));
	return off & (TCSPAN_PARSE_MAX - 1);
}

/*
 * The header of `size` bytes at `off` in the frame, or NULL when it does
 * not fit; SHORT says that more of the frame might have held it.
 */
static __always_inline void *tcspan_header(void *data, void *data_end, __u32 off, __u32 size,
					   struct tcspan_packet *pkt)
{
	if (off >= TCSPAN_PARSE_MAX)
		return NULL;
	off = tcspan_offset(off);
	if (data + off + size > data_end) {
		pkt->flags |= TCSPAN_PACKET_SHORT;
		pkt->need = off + size;
		return NULL;
	}
	return data + off;
}

/*
 * A tag that the kernel took out of the frame before the program ran
 * (skb->vlan_present).  It is the one tag that parsing counts.
 */
static __always_inline void tcspan_packet__set_vlan(struct tcspan_packet *pkt, __u16 tci)
{
	pkt->flags |= TCSPAN_PACKET_VLAN;
	pkt->vlan = tci & 0x0fff;
}

/*
 * Ports of TCP, UDP or SCTP at `off` in the frame, in an IP packet that
 * ends at `end`.  Only a whole minimal header counts: a truncated one gives
 * no ports.
 */
static __always_inline void tcspan_parse_ports(void *data, void *data_end, __u32 off,
					       __u32 end, struct tcspan_packet *pkt)
{
	struct tcspan_ports *ports;

	switch (pkt->protocol) {
	case IPPROTO_TCP:
		if (off + 20 > end)
			return;
		ports = tcspan_header(data, data_end, off, 20, pkt);
		break;
	case IPPROTO_UDP:
		if (off + 8 > end)
			return;
		ports = tcspan_header(data, data_end, off, 8, pkt);
		break;
	case IPPROTO_SCTP:
		if (off + 12 > end)
			return;
		ports = tcspan_header(data, data_end, off, 12, pkt);
		break;
	default:
		return;
	}
	if (!ports)
		return;
	pkt->src_port = ports->src;
	pkt->dst_port = ports->dst;
	pkt->flags |= TCSPAN_PACKET_PORTS;
}

static __always_inline void tcspan_parse_ipv4(void *data, void *data_end, __u32 off,
					      struct tcspan_packet *pkt)
{
	struct iphdr *ip = tcspan_header(data, data_end, off, sizeof(*ip), pkt);
	__u32 hlen, len;
	__u16 frag;

	if (!ip || ip->version != 4 || ip->ihl < 5)
		return;
	hlen = ip->ihl * 4;
	/* The options too: a header cut anywhere counts for nothing. */
	if (!tcspan_header(data, data_end, off, hlen, pkt))
		return;
	len = bpf_ntohs(ip->tot_len);
	if (!len)
		len = TCSPAN_IP_NO_LIMIT;
	else if (len < hlen)
		return;
	pkt->flags |= TCSPAN_PACKET_ADDRS | TCSPAN_PACKET_PROTOCOL;
	pkt->family = TCSPAN_FAMILY_IPV4;
	pkt->src[0] = ip->saddr;
	pkt->dst[0] = ip->daddr;
	pkt->protocol = ip->protocol;
	frag = bpf_ntohs(ip->frag_off);
	if (frag & (0x2000 | 0x1fff))		/* more fragments, offset */
		pkt->flags |= TCSPAN_PACKET_FRAGMENT;
	if (frag & 0x1fff)			/* a later fragment: no L4 header */
		return;
	tcspan_parse_ports(data, data_end, off + hlen, off + len, pkt);
}

/* Hop-by-hop (0), routing (43), fragment (44), destination options (60). */
#define TCSPAN_IPV6_EXT_HEADERS	((1ULL << IPPROTO_HOPOPTS) | (1ULL << IPPROTO_ROUTING) | \
				 (1ULL << IPPROTO_FRAGMENT) | (1ULL << IPPROTO_DSTOPTS))

static __always_inline bool tcspan_ipv6_ext(__u8 nexthdr)
{
	return nexthdr < 64 && ((TCSPAN_IPV6_EXT_HEADERS >> nexthdr) & 1);
}

static __always_inline void tcspan_parse_ipv6(void *data, void *data_end, __u32 off,
					      struct tcspan_packet *pkt)
{
	struct ipv6hdr *ip6 = tcspan_header(data, data_end, off, sizeof(*ip6), pkt);
	bool fragment = false;
	__u32 end, i;
	__u8 nexthdr;

	if (!ip6 || ip6->version != 6)
		return;
	pkt->flags |= TCSPAN_PACKET_ADDRS;
	pkt->family = TCSPAN_FAMILY_IPV6;
	__builtin_memcpy(pkt->src, &ip6->saddr, sizeof(pkt->src));
	__builtin_memcpy(pkt->dst, &ip6->daddr, sizeof(pkt->dst));
	end = bpf_ntohs(ip6->payload_len);
	end = end ? off + sizeof(*ip6) + end : TCSPAN_IP_NO_LIMIT;
	nexthdr = ip6->nexthdr;
	off += sizeof(*ip6);

	for (i = 0; i < TCSPAN_IPV6_EXT_MAX && tcspan_ipv6_ext(nexthdr); i++) {
		/* Each starts with next header and (but a fragment) a length. */
		struct tcspan_ipv6_frag_hdr *ext;

		if (off + sizeof(*ext) > end)
			return;
		ext = tcspan_header(data, data_end, off, sizeof(*ext), pkt);
		if (!ext)
			return;
		if (nexthdr == IPPROTO_FRAGMENT) {
			/* Two fragment headers are malformed (RFC 8200 4.1). */
			if (fragment)
				return;
			fragment = true;
			pkt->flags |= TCSPAN_PACKET_FRAGMENT;
			if (ext->frag_off & bpf_htons(0xfff8)) {
				/* A later fragment: what follows is data, not headers. */
				pkt->flags |= TCSPAN_PACKET_PROTOCOL;
				pkt->protocol = ext->nexthdr;
				return;
			}
			off += sizeof(*ext);
		} else {
			off += (ext->reserved + 1) * 8;
		}
		nexthdr = ext->nexthdr;
		if (off >= TCSPAN_PARSE_MAX)
			return;
		off = tcspan_offset(off);
	}
	if (tcspan_ipv6_ext(nexthdr))
		return;			/* too many: the protocol stays unknown */
	pkt->flags |= TCSPAN_PACKET_PROTOCOL;
	pkt->protocol = nexthdr;
	tcspan_parse_ports(data, data_end, off, end, pkt);
}

/*
 * Fill `pkt` from the Ethernet frame at [data, data_end).  Whatever is
 * truncated or malformed leaves its flags clear, so that the keys that need
 * it do not match.  `pkt` starts zeroed, or with tcspan_packet__set_vlan().
 */
static __always_inline void tcspan_parse(void *data, void *data_end, struct tcspan_packet *pkt)
{
	struct ethhdr *eth = tcspan_header(data, data_end, 0, sizeof(*eth), pkt);
	__u32 off = sizeof(*eth);
	__u16 type;

	if (!eth)
		return;
	type = bpf_ntohs(eth->h_proto);
	/* At most one tag counts; an inner one leaves ether_type 0x8100. */
	if (!(pkt->flags & TCSPAN_PACKET_VLAN) &&
	    (type == ETH_P_8021Q || type == ETH_P_8021AD)) {
		struct tcspan_vlan_hdr *tag;

		tag = tcspan_header(data, data_end, off, sizeof(*tag), pkt);
		if (!tag)
			return;
		tcspan_packet__set_vlan(pkt, bpf_ntohs(tag->tci));
		type = bpf_ntohs(tag->proto);
		off += sizeof(*tag);
	}
	pkt->flags |= TCSPAN_PACKET_ETHER_TYPE;
	pkt->ether_type = type;
	if (type == ETH_P_IP) {
		tcspan_parse_ipv4(data, data_end, off, pkt);
	} else if (type == ETH_P_IPV6) {
		tcspan_parse_ipv6(data, data_end, off, pkt);
	} else {
		__builtin_memcpy(pkt->src, eth->h_source, ETH_ALEN);
		__builtin_memcpy(pkt->dst, eth->h_dest, ETH_ALEN);
	}
}

/*
 * The frame most rules see, parsed without the general path's bookkeeping:
 * an untagged IPv4 packet without options that is no fragment, its headers
 * whole in [data, data_end) and within its total length.  Fills the zeroed
 * `pkt` as tcspan_parse() would and returns true; returns false (`pkt`
 * untouched) for every other frame, which tcspan_parse() takes.  The
 * caller checks that the kernel took no tag aside (skb->vlan_present).
 */
static __always_inline bool tcspan_parse_ipv4_fast(void *data, void *data_end,
						   struct tcspan_packet *pkt)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct tcspan_ports *ports = (void *)(ip + 1);
	__u32 need;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    *(__u8 *)ip != 0x45 || (ip->frag_off & bpf_htons(0x3fff)))
		return false;
	/* The bytes of the L4 header that count (see tcspan_parse_ports()). */
	switch (ip->protocol) {
	case IPPROTO_TCP:
		need = 20;
		break;
	case IPPROTO_UDP:
		need = 8;
		break;
	case IPPROTO_SCTP:
		need = 12;
		break;
	default:
		need = 0;
	}
	/* A total length of 0 (BIG TCP) or one short of the L4 header, and a
	 * header beyond the linear data, are the general path's to judge. */
	if (bpf_ntohs(ip->tot_len) < sizeof(*ip) + need || (void *)ports + need > data_end)
		return false;
	pkt->flags = TCSPAN_PACKET_ETHER_TYPE | TCSPAN_PACKET_ADDRS | TCSPAN_PACKET_PROTOCOL;
	pkt->ether_type = ETH_P_IP;
	pkt->family = TCSPAN_FAMILY_IPV4;
	pkt->protocol = ip->protocol;
	pkt->src[0] = ip->saddr;
	pkt->dst[0] = ip->daddr;
	if (need) {
		pkt->flags |= TCSPAN_PACKET_PORTS;
		pkt->src_port = ports->src;
		pkt->dst_port = ports->dst;
	}
	return true;
}

/* The bits of address word `w` (0-3) that a prefix of `len` bits covers. */
static __always_inline __be32 tcspan_prefix_mask(__u32 len, __u32 w)
{
	if (len <= w * 32)
		return 0;
	if (len >= (w + 1) * 32)
		return 0xffffffff;
	return bpf_htonl(0xffffffffu << ((w + 1) * 32 - len));
}

/*
 * Whether `addr` of the packet's family lies in the prefix `c`.  Without a
 * branch per word, so that the verifier walks each item of a list once.
 */
static __always_inline bool tcspan_cidr_contains(const struct tcspan_cidr *c,
						 __u8 family, const __be32 *addr)
{
	__u32 len = c->len, diff = c->family ^ family;

	diff |= (addr[0] ^ c->addr[0]) & tcspan_prefix_mask(len, 0);
	diff |= (addr[1] ^ c->addr[1]) & tcspan_prefix_mask(len, 1);
	diff |= (addr[2] ^ c->addr[2]) & tcspan_prefix_mask(len, 2);
	diff |= (addr[3] ^ c->addr[3]) & tcspan_prefix_mask(len, 3);
	return !diff;
}

static __always_inline bool tcspan_cidrs_contain(const struct tcspan_cidr *list,
						 __u32 n, __u32 max, __u8 family,
						 const __be32 *addr)
{
	__u32 i;

	for (i = 0; i < max && i < n; i++)
		if (tcspan_cidr_contains(&list[i], family, addr))
			return true;
	return false;
}

/* tcspan_cidr_contains() for an IPv4 address (its other words zero). */
static __always_inline bool tcspan_cidr_contains_ipv4(const struct tcspan_cidr *c, __be32 addr)
{
	__u32 len = c->len;

	if (c->family != TCSPAN_FAMILY_IPV4)
		return false;
	if (!len)
		return true;
	if (len > 32)
		len = 32;
	return !((addr ^ c->addr[0]) & bpf_htonl(0xffffffffu << (32 - len)));
}

static __always_inline bool tcspan_port_in(__be16 port, __u16 first, __u16 last)
{
	__u16 p = bpf_ntohs(port);

	return p >= first && p <= last;
}

/*
 * Whether `pkt` holds every key of `cfg` but `sample`, looking at no more
 * than `max` items of `src` and `dst` (a constant: TCSPAN_MATCH_CIDRS, or
 * 1 for tcspan_match_short()); `ipv4` (a constant) when `pkt` is known to
 * be IPv4 and max is 1, for the shorter compare of its addresses.
 */
static __always_inline bool tcspan_match_keys(const struct tcspan_match_cfg *cfg,
					      const struct tcspan_packet *pkt, __u32 max,
					      bool ipv4)
{
	__u32 keys = cfg->keys, flags = pkt->flags;

	if ((keys & TCSPAN_KEY_ETHER_TYPE) &&
	    (!(flags & TCSPAN_PACKET_ETHER_TYPE) || pkt->ether_type != cfg->ether_type))
		return false;
	if ((keys & TCSPAN_KEY_VLAN) &&
	    (!(flags & TCSPAN_PACKET_VLAN) || pkt->vlan != cfg->vlan))
		return false;
	if ((keys & TCSPAN_KEY_PROTOCOL) &&
	    (!(flags & TCSPAN_PACKET_PROTOCOL) || pkt->protocol != cfg->protocol))
		return false;
	if ((keys & (TCSPAN_KEY_SRC_PORT | TCSPAN_KEY_DST_PORT)) &&
	    !(flags & TCSPAN_PACKET_PORTS))
		return false;
	if ((keys & TCSPAN_KEY_SRC_PORT) &&
	    !tcspan_port_in(pkt->src_port, cfg->src_port_first, cfg->src_port_last))
		return false;
	if ((keys & TCSPAN_KEY_DST_PORT) &&
	    !tcspan_port_in(pkt->dst_port, cfg->dst_port_first, cfg->dst_port_last))
		return false;
	if ((keys & (TCSPAN_KEY_SRC | TCSPAN_KEY_DST)) && !(flags & TCSPAN_PACKET_ADDRS))
		return false;
	if ((keys & TCSPAN_KEY_SRC) &&
	    !(ipv4 ? cfg->n_src && tcspan_cidr_contains_ipv4(&cfg->src[0], pkt->src[0]) :
		     tcspan_cidrs_contain(cfg->src, cfg->n_src, max, pkt->family, pkt->src)))
		return false;
	if ((keys & TCSPAN_KEY_DST) &&
	    !(ipv4 ? cfg->n_dst && tcspan_cidr_contains_ipv4(&cfg->dst[0], pkt->dst[0]) :
		     tcspan_cidrs_contain(cfg->dst, cfg->n_dst, max, pkt->family, pkt->dst)))
		return false;
	return true;
}

static __always_inline bool tcspan_match_upto(const struct tcspan_match_cfg *cfg,
					      const struct tcspan_packet *pkt, __u32 max)
{
	return tcspan_match_keys(cfg, pkt, max, false);
}

/* Whether `pkt` holds every key of `cfg` but `sample`. */
static __always_inline bool tcspan_match(const struct tcspan_match_cfg *cfg,
					 const struct tcspan_packet *pkt)
{
	return tcspan_match_upto(cfg, pkt, TCSPAN_MATCH_CIDRS);
}

/*
 * A rule with at most one item in `src` and in `dst`: the common case,
 * matched without a loop, so that a program can have it inline and call
 * its global function (tcspan_match()) only for longer lists.
 */
static __always_inline bool tcspan_match_short(const struct tcspan_match_cfg *cfg)
{
	return cfg->n_src <= 1 && cfg->n_dst <= 1;
}

/* tcspan_match_upto(cfg, pkt, 1) for a `pkt` of tcspan_parse_ipv4_fast(). */
static __always_inline bool tcspan_match_short_ipv4(const struct tcspan_match_cfg *cfg,
						    const struct tcspan_packet *pkt)
{
	return tcspan_match_keys(cfg, pkt, 1, true);
}

/* The flow of `pkt`, the same for both directions (see tcspan_flow_key). */
static __always_inline void tcspan_flow_key__fill(struct tcspan_flow_key *key,
						  const struct tcspan_packet *pkt)
{
	__be16 src_port = 0, dst_port = 0;
	bool swap = false;
	__u32 w;

	if ((pkt->flags & (TCSPAN_PACKET_PORTS | TCSPAN_PACKET_FRAGMENT)) ==
	    TCSPAN_PACKET_PORTS) {
		src_port = pkt->src_port;
		dst_port = pkt->dst_port;
	}
	for (w = 0; w < 4; w++) {
		if (pkt->src[w] != pkt->dst[w]) {
			swap = pkt->src[w] > pkt->dst[w];
			break;
		}
	}
	if (w == 4)
		swap = src_port > dst_port;
	key->ether_type = pkt->ether_type;
	key->family = pkt->family;
	key->protocol = pkt->protocol;
	if (swap) {
		key->port[0] = dst_port;
		key->port[1] = src_port;
		__builtin_memcpy(key->addr[0], pkt->dst, sizeof(key->addr[0]));
		__builtin_memcpy(key->addr[1], pkt->src, sizeof(key->addr[1]));
	} else {
		key->port[0] = src_port;
		key->port[1] = dst_port;
		__builtin_memcpy(key->addr[0], pkt->src, sizeof(key->addr[0]));
		__builtin_memcpy(key->addr[1], pkt->dst, sizeof(key->addr[1]));
	}
}

/*
 * `sample`: whether to keep `pkt`, decided once per flow and remembered in
 * `flows`, an LRU hash from struct tcspan_flow_key to a __u8 decision.
 * Call it only for packets that every other key matched.
 */
static __always_inline bool tcspan_sample(void *flows, const struct tcspan_match_cfg *cfg,
					  const struct tcspan_packet *pkt)
{
	struct tcspan_flow_key key = {};
	__u32 n = cfg->sample;
	__u8 keep, *seen;

	if (!(cfg->keys & TCSPAN_KEY_SAMPLE) || n <= 1)
		return true;
	tcspan_flow_key__fill(&key, pkt);
	seen = bpf_map_lookup_elem(flows, &key);
	if (seen)
		return *seen;
	keep = bpf_get_prandom_u32() % n == 0;
	/* Another CPU may have decided this flow meanwhile: its decision stands. */
	if (bpf_map_update_elem(flows, &key, &keep, BPF_NOEXIST)) {
		seen = bpf_map_lookup_elem(flows, &key);
		if (seen)
			return *seen;
	}
	return keep;
}

#endif /* __bpf__ */

#endif /* TCSPAN_MATCH_H */

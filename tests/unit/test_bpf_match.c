// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tc classifier (bpf/classifier.bpf.c, bpf/tcspan_match.h) through
 * BPF_PROG_TEST_RUN: the library's shared classifier (classifier.h) with
 * one rule, in slot 0 (BPF_PROG_TEST_RUN runs with classid 0), and crafted
 * frames that it must take (TC_ACT_UNSPEC, -1) or leave (0).  Needs root.
 *
 * Test names read "RULE: takes|leaves FRAME".
 *
 * BPF_PROG_TEST_RUN itself refuses (EINVAL) an untagged frame of type IPv4
 * or IPv6 shorter than the base IP header, so frames cut there carry a VLAN
 * tag: the kernel then leaves them alone and the program still parses them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tcspan_match.h"
#include "classifier.h"
#include "unit.h"

/* The frame macros give defaults that a check then overrides. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define TAKE	-1	/* TC_ACT_UNSPEC: the filter's classid and actions */
#define LEAVE	0

#define V4_SRC "198.18.0.1"
#define V4_DST "198.18.0.2"
#define V6_SRC "2001:db8::1"
#define V6_DST "2001:db8::2"

/* ---- frames ---------------------------------------------------------------- */

struct frame {
	unsigned char b[512];
	size_t len;
};

/* What to build; zero fields take the defaults noted. */
struct frame_spec {
	__u16 tpid, tci;		/* an outer VLAN tag (tpid 0: none) */
	__u16 tpid2, tci2;		/* a second, inner tag */
	__u16 ether_type;		/* 0: from ip, or ARP with arp */
	bool arp;
	int ip;				/* 4 or 6; 0: no IP header */
	const char *src, *dst;		/* V4_* or V6_* */
	__u8 protocol;			/* with ip */
	__u16 src_port, dst_port;
	unsigned int ip_options;	/* IPv4: bytes of NOP options, 0-40 */
	__u8 ihl;			/* IPv4: a wrong header length */
	__u16 frag_offset;		/* in 8-byte units (IPv4, or the IPv6 */
	bool more_fragments;		/* fragment header in ext) */
	__u8 ext[12];			/* IPv6 extension headers, in order */
	unsigned int n_ext;
	bool short_ip_len;		/* IP length ends before the L4 header */
	bool zero_ip_len;		/* IPv4 total length 0 (BIG TCP) */
	__u8 mac;			/* last byte of the source MAC */
	size_t cut;			/* keep only the first `cut` bytes */
	size_t pad;			/* zeros up to `pad` bytes */
};

static unsigned char *put16(unsigned char *p, unsigned int v)
{
	p[0] = v >> 8;
	p[1] = v;
	return p + 2;
}

static unsigned char *put_addr(unsigned char *p, int family, const char *text)
{
	if (inet_pton(family, text, p) != 1) {
		fprintf(stderr, "bad test address %s\n", text);
		exit(2);
	}
	return p + (family == AF_INET ? 4 : 16);
}

/* The L4 header of `protocol`, with the ports where it has them. */
static size_t put_l4(unsigned char *p, const struct frame_spec *s)
{
	switch (s->protocol) {
	case IPPROTO_TCP:
		put16(put16(p, s->src_port), s->dst_port);
		p[12] = 5 << 4;			/* data offset */
		p[13] = 0x02;			/* SYN */
		return 20;
	case IPPROTO_UDP:
		put16(put16(put16(p, s->src_port), s->dst_port), 8);
		return 8;
	case IPPROTO_SCTP:
		put16(put16(p, s->src_port), s->dst_port);
		return 12;
	case IPPROTO_ICMP:
		p[0] = 8;			/* echo request; checksum left 0 */
		return 8;
	case IPPROTO_ICMPV6:
		p[0] = 128;
		return 8;
	default:
		return 8;
	}
}

static size_t put_ext(unsigned char *p, __u8 type, __u8 next, const struct frame_spec *s)
{
	p[0] = next;
	switch (type) {
	case IPPROTO_FRAGMENT:
		put16(p + 2, s->frag_offset << 3 | s->more_fragments);
		p[7] = 42;			/* identification */
		return 8;
	case IPPROTO_ROUTING:
		p[1] = 2;			/* 24 bytes: one address */
		p[2] = 4;			/* segment routing */
		return 24;
	case IPPROTO_DSTOPTS:
		p[1] = 1;			/* 16 bytes */
		p[2] = 1;			/* PadN */
		p[3] = 12;
		return 16;
	default:			/* hop-by-hop, 8 bytes */
		p[2] = 1;
		p[3] = 4;
		return 8;
	}
}

static void build(const struct frame_spec *s, struct frame *f)
{
	static const unsigned char dst_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	unsigned char src_mac[6] = { 0x02, 0, 0, 0, 1, s->mac };
	unsigned char *p = f->b, *ip, *l4;
	unsigned int i, hlen, ext_len = 0;
	__u16 type = s->ether_type;

	memset(f, 0, sizeof(*f));
	memcpy(p, dst_mac, 6);
	memcpy(p + 6, src_mac, 6);
	p += 12;
	if (s->tpid)
		p = put16(put16(p, s->tpid), s->tci);
	if (s->tpid2)
		p = put16(put16(p, s->tpid2), s->tci2);
	if (!type)
		type = s->arp ? 0x0806 : s->ip == 4 ? 0x0800 : s->ip == 6 ? 0x86dd : 0x88b5;
	p = put16(p, type);

	if (s->arp) {
		put16(put16(p, 1), 0x0800);	/* Ethernet, IPv4 */
		p[4] = 6;
		p[5] = 4;
		put16(p + 6, 1);		/* request */
		memcpy(p + 8, src_mac, 6);
		put_addr(p + 14, AF_INET, V4_SRC);
		put_addr(p + 24, AF_INET, V4_DST);
		p += 28;
	} else if (s->ip == 4) {
		ip = p;
		hlen = 20 + s->ip_options;
		ip[0] = 0x40 | (s->ihl ? s->ihl : hlen / 4);
		put16(ip + 6, s->frag_offset | (s->more_fragments ? 0x2000 : 0));
		ip[8] = 64;
		ip[9] = s->protocol;
		put_addr(put_addr(ip + 12, AF_INET, s->src ? s->src : V4_SRC), AF_INET,
			 s->dst ? s->dst : V4_DST);
		memset(ip + 20, 0x01, s->ip_options);	/* NOP: reads as port 257 */
		l4 = ip + hlen;
		p = l4 + put_l4(l4, s);
		put16(ip + 2, s->zero_ip_len ? 0 : s->short_ip_len ? hlen : (unsigned int)(p - ip));
	} else if (s->ip == 6) {
		ip = p;
		ip[0] = 0x60;
		ip[6] = s->n_ext ? s->ext[0] : s->protocol;
		ip[7] = 64;
		put_addr(put_addr(ip + 8, AF_INET6, s->src ? s->src : V6_SRC), AF_INET6,
			 s->dst ? s->dst : V6_DST);
		p = ip + 40;
		for (i = 0; i < s->n_ext; i++)
			p += put_ext(p, s->ext[i], i + 1 < s->n_ext ? s->ext[i + 1] : s->protocol, s);
		ext_len = p - (ip + 40);
		p += put_l4(p, s);
		put16(ip + 4, s->short_ip_len ? ext_len : (unsigned int)(p - (ip + 40)));
	} else if (!s->cut) {
		memcpy(p, "tcspan test frame", 17);
		p += 17;
	}
	f->len = p - f->b;
	if (s->pad > f->len)
		f->len = s->pad;
	if (s->cut && s->cut < f->len)
		f->len = s->cut;
}

/* ---- programs -------------------------------------------------------------- */

static void cidr(struct tcspan_match_cfg *cfg, bool dst, const char *text)
{
	struct tcspan_cidr *c = dst ? &cfg->dst[cfg->n_dst++] : &cfg->src[cfg->n_src++];
	char address[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);

	snprintf(address, sizeof(address), "%.*s", (int)n, text);
	c->family = strchr(address, ':') ? AF_INET6 : AF_INET;
	put_addr((unsigned char *)c->addr, c->family, address);
	c->len = slash ? atoi(slash + 1) : c->family == AF_INET ? 32 : 128;
	cfg->keys |= dst ? TCSPAN_KEY_DST : TCSPAN_KEY_SRC;
}

/* One rule loaded as the library loads it: the shared classifier, its slot. */
struct loaded {
	struct classifier_shared *shared;
	int prog_fd;
	uint32_t classid;
};

static void unload(struct loaded *l)
{
	if (l)
		classifier_shared__free(l->shared);
	free(l);
}

static struct loaded *load_flows(const struct tcspan_match_cfg *cfg, uint32_t flows, int *err)
{
	struct loaded *l = calloc(1, sizeof(*l));
	struct tcspan_error *e = tcspan_error__new();

	*err = -ENOMEM;
	if (l && e)
		l->shared = classifier_shared__new(1);
	if (l && l->shared) {
		l->prog_fd = classifier_shared__add(l->shared, cfg, flows, &l->classid, "", e);
		*err = l->prog_fd < 0 ? l->prog_fd : l->classid ? -ERANGE : 0;
	}
	if (*err && e && tcspan_error__count(e))
		fprintf(stderr, "%s\n", tcspan_error__message(e, 0));
	tcspan_error__free(e);
	if (*err) {
		unload(l);
		return NULL;
	}
	return l;
}

static struct loaded *load(const struct tcspan_match_cfg *cfg, int *err)
{
	return load_flows(cfg, TCSPAN_SAMPLE_FLOWS, err);
}

/* The program's verdict on `f`: TAKE, LEAVE, or a negative errno. */
static int classify(struct loaded *l, const struct frame *f)
{
	/* Not needed, but valgrind checks data_out even when it is NULL. */
	unsigned char out[sizeof(f->b)];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->b, .data_size_in = f->len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	if (bpf_prog_test_run_opts(l->prog_fd, &opts))
		return -errno;
	return (int)opts.retval == TAKE ? TAKE : opts.retval == 0 ? LEAVE : -ERANGE;
}

static int classify_spec(struct loaded *l, const struct frame_spec *s)
{
	struct frame f;

	build(s, &f);
	return classify(l, &f);
}

/* ---- table-driven checks ----------------------------------------------------- */

struct check {
	const char *frame;
	int want;
	struct frame_spec spec;
};

#define TAKES(what, ...)  { .frame = what, .want = TAKE, .spec = { __VA_ARGS__ } }
#define LEAVES(what, ...) { .frame = what, .want = LEAVE, .spec = { __VA_ARGS__ } }
#define TCP4(...)  .ip = 4, .protocol = IPPROTO_TCP, .src_port = 40000, .dst_port = 443, ##__VA_ARGS__
#define TCP6(...)  .ip = 6, .protocol = IPPROTO_TCP, .src_port = 40000, .dst_port = 443, ##__VA_ARGS__

static const char *verdict_str(int v)
{
	static char buf[32];

	if (v == TAKE)
		return "took it";
	if (v == LEAVE)
		return "left it";
	snprintf(buf, sizeof(buf), "error %d", v);
	return buf;
}

static void run_checks(const char *rule, const struct tcspan_match_cfg *cfg,
		       const struct check *checks, size_t n)
{
	struct loaded *l;
	char name[256];
	size_t i;
	int err, v;

	l = load(cfg, &err);
	if (!l) {
		snprintf(name, sizeof(name), "%s: loads", rule);
		unit_result(0, name, "load failed: %d", err);
		return;
	}
	for (i = 0; i < n; i++) {
		v = classify_spec(l, &checks[i].spec);
		snprintf(name, sizeof(name), "%s: %s %s", rule,
			 checks[i].want == TAKE ? "takes" : "leaves", checks[i].frame);
		unit_result(v == checks[i].want, name, "the program %s", verdict_str(v));
	}
	unload(l);
}

#define RUN(rule, cfg, ...) do {						\
		const struct check checks_[] = { __VA_ARGS__ };			\
		run_checks(rule, cfg, checks_, sizeof(checks_) / sizeof(checks_[0])); \
	} while (0)

static struct tcspan_match_cfg match_cfg(__u32 keys)
{
	struct tcspan_match_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.keys = keys;
	return cfg;
}

/* ---- the keys ---------------------------------------------------------------- */

static void test_no_keys(void)
{
	struct tcspan_match_cfg cfg = match_cfg(0);

	RUN("no keys", &cfg,
	    TAKES("a 14-byte Ethernet header alone", .cut = 14),
	    TAKES("a 60-byte padded frame", .arp = true, .pad = 60),
	    TAKES("IPv6/TCP", TCP6()));
}

static void test_ether_type(void)
{
	struct tcspan_match_cfg cfg = match_cfg(TCSPAN_KEY_ETHER_TYPE);

	cfg.ether_type = 0x0800;
	RUN("ether_type ipv4", &cfg,
	    TAKES("IPv4/TCP", TCP4()),
	    TAKES("IPv4 in an 802.1Q tag (the inner type)", TCP4(.tpid = 0x8100, .tci = 7)),
	    TAKES("IPv4 in an 802.1ad tag", TCP4(.tpid = 0x88a8, .tci = 7)),
	    TAKES("a tagged frame that ends after type 0x0800", .tpid = 0x8100, .ip = 4, .cut = 18),
	    TAKES("tagged IPv4 cut inside its header", TCP4(.tpid = 0x8100, .cut = 18 + 12)),
	    LEAVES("IPv6/TCP", TCP6()),
	    LEAVES("ARP", .arp = true),
	    LEAVES("Q-in-Q IPv4 (the one tag counted leaves type 0x8100)",
		   TCP4(.tpid = 0x88a8, .tci = 7, .tpid2 = 0x8100, .tci2 = 8)),
	    LEAVES("a frame that ends inside its tag", .tpid = 0x8100, .ip = 4, .cut = 16));

	cfg.ether_type = 0x86dd;
	RUN("ether_type ipv6", &cfg,
	    TAKES("IPv6/UDP", .ip = 6, .protocol = IPPROTO_UDP),
	    TAKES("IPv6 in an 802.1Q tag", TCP6(.tpid = 0x8100, .tci = 9)),
	    LEAVES("IPv4/TCP", TCP4()),
	    LEAVES("ARP", .arp = true));

	cfg.ether_type = 0x0806;
	RUN("ether_type arp", &cfg,
	    TAKES("ARP (42 bytes)", .arp = true),
	    TAKES("ARP padded to 60 bytes", .arp = true, .pad = 60),
	    TAKES("ARP in an 802.1Q tag", .arp = true, .tpid = 0x8100, .tci = 5),
	    LEAVES("IPv4/TCP", TCP4()),
	    LEAVES("IPv6/TCP", TCP6()));

	cfg.ether_type = 0x88cc;
	RUN("ether_type 0x88cc", &cfg,
	    TAKES("a frame of type 0x88cc", .ether_type = 0x88cc),
	    TAKES("a 14-byte frame of type 0x88cc", .ether_type = 0x88cc, .cut = 14),
	    LEAVES("a frame of type 0x88cd", .ether_type = 0x88cd),
	    LEAVES("IPv4/TCP", TCP4()));

	cfg.ether_type = 0x8100;
	RUN("ether_type 0x8100", &cfg,
	    LEAVES("IPv4 in an 802.1Q tag (the tag is not the type)",
		   TCP4(.tpid = 0x8100, .tci = 7)),
	    TAKES("Q-in-Q (0x88a8, then 0x8100)",
		  TCP4(.tpid = 0x88a8, .tci = 7, .tpid2 = 0x8100, .tci2 = 8)));
}

static void test_vlan(void)
{
	struct tcspan_match_cfg cfg = match_cfg(TCSPAN_KEY_VLAN);

	cfg.vlan = 100;
	RUN("vlan 100", &cfg,
	    TAKES("IPv4 tagged 802.1Q VID 100", TCP4(.tpid = 0x8100, .tci = 100)),
	    TAKES("IPv4 tagged 802.1ad VID 100", TCP4(.tpid = 0x88a8, .tci = 100)),
	    TAKES("VID 100 with priority 5 and DEI", TCP4(.tpid = 0x8100, .tci = 5 << 13 | 1 << 12 | 100)),
	    TAKES("ARP tagged VID 100", .arp = true, .tpid = 0x8100, .tci = 100),
	    TAKES("a bare tag with VID 100 (18 bytes)", .tpid = 0x8100, .tci = 100, .ip = 4, .cut = 18),
	    TAKES("Q-in-Q with outer VID 100, inner 200",
		  TCP4(.tpid = 0x88a8, .tci = 100, .tpid2 = 0x8100, .tci2 = 200)),
	    LEAVES("Q-in-Q with outer VID 200, inner 100 (one tag counts)",
		   TCP4(.tpid = 0x88a8, .tci = 200, .tpid2 = 0x8100, .tci2 = 100)),
	    LEAVES("IPv4 tagged VID 200", TCP4(.tpid = 0x8100, .tci = 200)),
	    LEAVES("IPv4 tagged VID 101", TCP4(.tpid = 0x8100, .tci = 101)),
	    LEAVES("untagged IPv4", TCP4()),
	    LEAVES("a frame that ends inside its tag", .tpid = 0x8100, .tci = 100, .cut = 16));

	cfg.vlan = 0;
	RUN("vlan 0", &cfg,
	    TAKES("a priority-tagged frame (VID 0)", TCP4(.tpid = 0x8100, .tci = 3 << 13)),
	    LEAVES("untagged IPv4", TCP4()));

	cfg.vlan = 4095;
	RUN("vlan 4095", &cfg,
	    TAKES("IPv6 tagged VID 4095", TCP6(.tpid = 0x8100, .tci = 4095)),
	    LEAVES("IPv6 tagged VID 95", TCP6(.tpid = 0x8100, .tci = 95)));
}

static void test_protocol(void)
{
	struct tcspan_match_cfg cfg = match_cfg(TCSPAN_KEY_PROTOCOL);

	cfg.protocol = IPPROTO_TCP;
	RUN("protocol tcp", &cfg,
	    TAKES("IPv4/TCP", TCP4()),
	    TAKES("IPv6/TCP", TCP6()),
	    TAKES("IPv4/TCP with 40 bytes of options", TCP4(.ip_options = 40)),
	    TAKES("IPv6 hop-by-hop, routing, destination options, TCP",
		  TCP6(.ext = { IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS }, .n_ext = 3)),
	    TAKES("IPv6 with 8 extension headers, TCP",
		  TCP6(.ext = { 0, 60, 60, 60, 60, 60, 60, 60 }, .n_ext = 8)),
	    TAKES("a later IPv4 fragment of TCP", TCP4(.frag_offset = 185)),
	    TAKES("a later IPv6 fragment of TCP",
		  TCP6(.ext = { IPPROTO_FRAGMENT }, .n_ext = 1, .frag_offset = 185)),
	    TAKES("IPv4/TCP cut inside the TCP header", TCP4(.cut = 14 + 20 + 10)),
	    TAKES("IPv4/TCP in an 802.1Q tag", TCP4(.tpid = 0x8100, .tci = 1)),
	    LEAVES("IPv4/UDP", .ip = 4, .protocol = IPPROTO_UDP),
	    LEAVES("IPv6/UDP after a hop-by-hop header",
		   .ip = 6, .protocol = IPPROTO_UDP, .ext = { IPPROTO_HOPOPTS }, .n_ext = 1),
	    LEAVES("IPv6 with 9 extension headers, TCP (past the limit of 8)",
		   TCP6(.ext = { 0, 60, 60, 60, 60, 60, 60, 60, 60 }, .n_ext = 9)),
	    LEAVES("IPv6 with two fragment headers, TCP",
		   TCP6(.ext = { IPPROTO_FRAGMENT, IPPROTO_FRAGMENT }, .n_ext = 2)),
	    LEAVES("tagged IPv4 cut inside its header", TCP4(.tpid = 0x8100, .cut = 18 + 12)),
	    LEAVES("IPv4 cut inside its options", TCP4(.ip_options = 12, .cut = 14 + 24)),
	    LEAVES("IPv4 with header length 4", TCP4(.ihl = 4)),
	    LEAVES("IPv4 with a header length past the frame", TCP4(.ihl = 15, .cut = 14 + 40)),
	    LEAVES("tagged IPv6 cut inside its header", TCP6(.tpid = 0x8100, .cut = 18 + 30)),
	    LEAVES("IPv6 cut inside an extension header",
		   TCP6(.ext = { IPPROTO_ROUTING }, .n_ext = 1, .cut = 14 + 40 + 4)),
	    LEAVES("a tagged frame that ends after type 0x0800", .tpid = 0x8100, .ip = 4, .cut = 18),
	    LEAVES("ARP", .arp = true));

	cfg.protocol = IPPROTO_UDP;
	RUN("protocol udp", &cfg,
	    TAKES("IPv4/UDP", .ip = 4, .protocol = IPPROTO_UDP),
	    TAKES("IPv6/UDP", .ip = 6, .protocol = IPPROTO_UDP),
	    LEAVES("IPv4/TCP", TCP4()),
	    LEAVES("IPv6/SCTP", .ip = 6, .protocol = IPPROTO_SCTP));

	cfg.protocol = IPPROTO_ICMP;
	RUN("protocol icmp", &cfg,
	    TAKES("IPv4/ICMP echo", .ip = 4, .protocol = IPPROTO_ICMP),
	    TAKES("IPv4/ICMP padded to 60 bytes", .ip = 4, .protocol = IPPROTO_ICMP, .pad = 60),
	    LEAVES("IPv6/ICMPv6 echo", .ip = 6, .protocol = IPPROTO_ICMPV6),
	    LEAVES("IPv4/TCP", TCP4()));

	cfg.protocol = IPPROTO_ICMPV6;
	RUN("protocol icmpv6", &cfg,
	    TAKES("IPv6/ICMPv6 echo", .ip = 6, .protocol = IPPROTO_ICMPV6),
	    TAKES("IPv6 hop-by-hop, ICMPv6 (as MLD)",
		  .ip = 6, .protocol = IPPROTO_ICMPV6, .ext = { IPPROTO_HOPOPTS }, .n_ext = 1),
	    LEAVES("IPv4/ICMP echo", .ip = 4, .protocol = IPPROTO_ICMP),
	    LEAVES("IPv6/UDP", .ip = 6, .protocol = IPPROTO_UDP));

	cfg.protocol = IPPROTO_SCTP;
	RUN("protocol sctp", &cfg,
	    TAKES("IPv4/SCTP", .ip = 4, .protocol = IPPROTO_SCTP),
	    TAKES("IPv6/SCTP", .ip = 6, .protocol = IPPROTO_SCTP),
	    LEAVES("IPv4/UDP", .ip = 4, .protocol = IPPROTO_UDP));

	cfg.protocol = 47;
	RUN("protocol 47", &cfg,
	    TAKES("IPv4/GRE", .ip = 4, .protocol = 47),
	    TAKES("IPv6/GRE", .ip = 6, .protocol = 47),
	    LEAVES("IPv4/TCP", TCP4()));

	cfg.protocol = 0;
	RUN("protocol 0", &cfg,
	    TAKES("IPv4 with protocol field 0", .ip = 4, .protocol = 0),
	    LEAVES("IPv6 hop-by-hop, TCP (the protocol is what follows)",
		   TCP6(.ext = { IPPROTO_HOPOPTS }, .n_ext = 1)));
}

static void test_addresses(void)
{
	struct tcspan_match_cfg cfg;

	cfg = match_cfg(0);
	cidr(&cfg, false, "198.18.0.0/24");
	RUN("src 198.18.0.0/24", &cfg,
	    TAKES("from 198.18.0.1", TCP4()),
	    TAKES("from 198.18.0.255", TCP4(.src = "198.18.0.255")),
	    TAKES("from 198.18.0.1 in an 802.1Q tag", TCP4(.tpid = 0x8100, .tci = 4)),
	    TAKES("a later fragment from 198.18.0.1", TCP4(.frag_offset = 100)),
	    LEAVES("from 198.18.1.1", TCP4(.src = "198.18.1.1")),
	    LEAVES("from 10.0.0.1 to 198.18.0.2 (dst in the prefix)",
		   TCP4(.src = "10.0.0.1", .dst = "198.18.0.2")),
	    LEAVES("IPv6 from 2001:db8::1", TCP6()),
	    LEAVES("ARP from 198.18.0.1", .arp = true),
	    LEAVES("tagged IPv4 cut inside its header", TCP4(.tpid = 0x8100, .cut = 18 + 16)));

	cfg = match_cfg(0);
	cidr(&cfg, false, "10.0.2.0/23");
	RUN("src 10.0.2.0/23", &cfg,
	    TAKES("from 10.0.2.0", TCP4(.src = "10.0.2.0")),
	    TAKES("from 10.0.3.7", TCP4(.src = "10.0.3.7")),
	    LEAVES("from 10.0.4.1", TCP4(.src = "10.0.4.1")),
	    LEAVES("from 10.0.1.255", TCP4(.src = "10.0.1.255")));

	cfg = match_cfg(0);
	cidr(&cfg, true, "198.18.0.2");
	RUN("dst 198.18.0.2 (/32)", &cfg,
	    TAKES("to 198.18.0.2", TCP4()),
	    LEAVES("to 198.18.0.3", TCP4(.dst = "198.18.0.3")),
	    LEAVES("to 199.18.0.2", TCP4(.dst = "199.18.0.2")));

	cfg = match_cfg(0);
	cidr(&cfg, false, "0.0.0.0/0");
	RUN("src 0.0.0.0/0", &cfg,
	    TAKES("IPv4 from 198.18.0.1", TCP4()),
	    TAKES("IPv4 from 255.255.255.255", .ip = 4, .protocol = IPPROTO_UDP,
		  .src = "255.255.255.255"),
	    LEAVES("IPv6 (family must match)", TCP6()),
	    LEAVES("ARP", .arp = true),
	    LEAVES("a frame of type 0x88b5", .ether_type = 0x88b5));

	cfg = match_cfg(0);
	cidr(&cfg, true, "::/0");
	RUN("dst ::/0", &cfg,
	    TAKES("IPv6 to 2001:db8::2", TCP6()),
	    TAKES("IPv6 to ff02::1", .ip = 6, .protocol = IPPROTO_ICMPV6, .dst = "ff02::1"),
	    LEAVES("IPv4 (family must match)", TCP4()));

	cfg = match_cfg(0);
	cidr(&cfg, false, "2001:db8::/64");
	RUN("src 2001:db8::/64", &cfg,
	    TAKES("from 2001:db8::1", TCP6()),
	    TAKES("from 2001:db8::ffff:ffff:ffff:ffff", TCP6(.src = "2001:db8::ffff:ffff:ffff:ffff")),
	    LEAVES("from 2001:db8:0:1::1", TCP6(.src = "2001:db8:0:1::1")),
	    LEAVES("IPv4", TCP4()));

	cfg = match_cfg(0);
	cidr(&cfg, false, "2001:db8:8000::/33");
	RUN("src 2001:db8:8000::/33", &cfg,
	    TAKES("from 2001:db8:8000::1", TCP6(.src = "2001:db8:8000::1")),
	    TAKES("from 2001:db8:ffff:ffff::1", TCP6(.src = "2001:db8:ffff:ffff::1")),
	    LEAVES("from 2001:db8:7fff::1", TCP6(.src = "2001:db8:7fff::1")));

	cfg = match_cfg(0);
	cidr(&cfg, true, "2001:db8::2/128");
	RUN("dst 2001:db8::2/128", &cfg,
	    TAKES("to 2001:db8::2", TCP6()),
	    TAKES("to 2001:db8::2 after extension headers",
		  TCP6(.ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS }, .n_ext = 2)),
	    LEAVES("to 2001:db8::3", TCP6(.dst = "2001:db8::3")),
	    LEAVES("to 2001:db9::2", TCP6(.dst = "2001:db9::2")),
	    LEAVES("to 3001:db8::2", TCP6(.dst = "3001:db8::2")));

	cfg = match_cfg(0);
	cidr(&cfg, false, "::ffff:198.18.0.1/128");
	RUN("src ::ffff:198.18.0.1", &cfg,
	    TAKES("IPv6 from ::ffff:198.18.0.1", TCP6(.src = "::ffff:198.18.0.1")),
	    LEAVES("IPv4 from 198.18.0.1 (family must match)", TCP4()));

	cfg = match_cfg(0);
	cidr(&cfg, true, "10.0.0.0/8");
	cidr(&cfg, true, "198.18.0.2/32");
	RUN("dst [10.0.0.0/8, 198.18.0.2/32]", &cfg,
	    TAKES("to 198.18.0.2 (the 2nd item)", TCP4()),
	    TAKES("to 10.1.2.3 (the 1st item)", TCP4(.dst = "10.1.2.3")),
	    LEAVES("to 198.18.0.3", TCP4(.dst = "198.18.0.3")));

	cfg = match_cfg(0);
	cidr(&cfg, true, "198.18.0.0/24");
	cidr(&cfg, true, "2001:db8::/64");
	RUN("dst [198.18.0.0/24, 2001:db8::/64]", &cfg,
	    TAKES("IPv4 to 198.18.0.2", TCP4()),
	    TAKES("IPv6 to 2001:db8::2 (the 2nd item, the other family)", TCP6()),
	    LEAVES("IPv6 to 2001:db9::2", TCP6(.dst = "2001:db9::2")),
	    LEAVES("IPv4 to 198.19.0.2", TCP4(.dst = "198.19.0.2")));

	cfg = match_cfg(0);
	cidr(&cfg, false, "198.18.0.0/24");
	cidr(&cfg, true, "2001:db8::/64");
	RUN("src 198.18.0.0/24, dst 2001:db8::/64", &cfg,
	    LEAVES("IPv4 from 198.18.0.1 to 198.18.0.2", TCP4()),
	    LEAVES("IPv6 from 2001:db8::1 to 2001:db8::2", TCP6()));
}

static void test_ports(void)
{
	struct tcspan_match_cfg cfg = match_cfg(TCSPAN_KEY_DST_PORT);

	cfg.dst_port_first = cfg.dst_port_last = 443;
	RUN("dst_port 443", &cfg,
	    TAKES("IPv4/TCP to 443", TCP4()),
	    TAKES("IPv6/TCP to 443", TCP6()),
	    TAKES("IPv4/UDP to 443", .ip = 4, .protocol = IPPROTO_UDP, .dst_port = 443),
	    TAKES("IPv6/UDP to 443", .ip = 6, .protocol = IPPROTO_UDP, .dst_port = 443),
	    TAKES("IPv4/SCTP to 443", .ip = 4, .protocol = IPPROTO_SCTP, .dst_port = 443),
	    TAKES("IPv6/SCTP to 443", .ip = 6, .protocol = IPPROTO_SCTP, .dst_port = 443),
	    TAKES("IPv4/TCP to 443 with 12 bytes of options", TCP4(.ip_options = 12)),
	    TAKES("IPv4/TCP to 443 with 40 bytes of options", TCP4(.ip_options = 40)),
	    TAKES("IPv6 hop-by-hop, routing, destination options, TCP to 443",
		  TCP6(.ext = { IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS }, .n_ext = 3)),
	    TAKES("a first IPv4 fragment with the whole TCP header", TCP4(.more_fragments = true)),
	    TAKES("a first IPv6 fragment with the whole TCP header",
		  TCP6(.ext = { IPPROTO_FRAGMENT }, .n_ext = 1, .more_fragments = true)),
	    TAKES("IPv6 hop-by-hop, first fragment, destination options, TCP to 443",
		  TCP6(.ext = { IPPROTO_HOPOPTS, IPPROTO_FRAGMENT, IPPROTO_DSTOPTS }, .n_ext = 3,
		       .more_fragments = true)),
	    TAKES("IPv4/TCP to 443 padded to 60 bytes", TCP4(.pad = 60)),
	    TAKES("IPv4/UDP header alone (8 bytes)",
		  .ip = 4, .protocol = IPPROTO_UDP, .dst_port = 443, .cut = 14 + 20 + 8),
	    TAKES("IPv4/TCP with total length 0 (BIG TCP)", TCP4(.zero_ip_len = true)),
	    TAKES("IPv4/TCP to 443 in an 802.1Q tag", TCP4(.tpid = 0x8100, .tci = 10)),
	    LEAVES("IPv4/TCP to 444", TCP4(.dst_port = 444)),
	    LEAVES("IPv4/TCP to 442", TCP4(.dst_port = 442)),
	    LEAVES("IPv4/TCP from 443 to 80", TCP4(.src_port = 443, .dst_port = 80)),
	    LEAVES("a later IPv4 fragment (bytes that read as port 443)", TCP4(.frag_offset = 185)),
	    LEAVES("a later IPv4 fragment at offset 8 bytes", TCP4(.frag_offset = 1, .more_fragments = true)),
	    LEAVES("a later IPv6 fragment (bytes that read as port 443)",
		   TCP6(.ext = { IPPROTO_FRAGMENT }, .n_ext = 1, .frag_offset = 185)),
	    LEAVES("a later IPv6 fragment after hop-by-hop",
		   TCP6(.ext = { IPPROTO_HOPOPTS, IPPROTO_FRAGMENT }, .n_ext = 2,
			.frag_offset = 1, .more_fragments = true)),
	    LEAVES("IPv4/TCP cut inside the TCP header", TCP4(.cut = 14 + 20 + 10)),
	    LEAVES("IPv4/TCP cut after the ports", TCP4(.cut = 14 + 20 + 4)),
	    LEAVES("IPv6/TCP cut inside the TCP header", TCP6(.cut = 14 + 40 + 19)),
	    LEAVES("IPv6/TCP cut inside the TCP header after extension headers",
		   TCP6(.ext = { IPPROTO_HOPOPTS }, .n_ext = 1, .cut = 14 + 48 + 12)),
	    LEAVES("IPv4/UDP cut inside the UDP header",
		   .ip = 4, .protocol = IPPROTO_UDP, .dst_port = 443, .cut = 14 + 20 + 7),
	    LEAVES("IPv4/SCTP cut inside the SCTP header",
		   .ip = 4, .protocol = IPPROTO_SCTP, .dst_port = 443, .cut = 14 + 20 + 11),
	    LEAVES("tagged IPv4 cut inside its header", TCP4(.tpid = 0x8100, .cut = 18 + 12)),
	    LEAVES("IPv4 cut inside its options", TCP4(.ip_options = 8, .cut = 14 + 26)),
	    LEAVES("IPv4 whose total length ends before TCP (padded to 60)",
		   TCP4(.short_ip_len = true, .pad = 60)),
	    LEAVES("IPv6 whose payload length ends before TCP",
		   TCP6(.ext = { IPPROTO_HOPOPTS }, .n_ext = 1, .short_ip_len = true)),
	    LEAVES("IPv4/ICMP", .ip = 4, .protocol = IPPROTO_ICMP),
	    LEAVES("IPv4/GRE", .ip = 4, .protocol = 47, .dst_port = 443),
	    LEAVES("a tagged frame that ends after type 0x0800", .tpid = 0x8100, .ip = 4, .cut = 18),
	    LEAVES("ARP padded to 60 bytes", .arp = true, .pad = 60));

	/* NOP options read as ports 257 by a parser that ignores the header length. */
	cfg.dst_port_first = cfg.dst_port_last = 257;
	RUN("dst_port 257", &cfg,
	    LEAVES("IPv4/TCP to 443 with NOP options", TCP4(.ip_options = 12)),
	    TAKES("IPv4/TCP to 257 with NOP options", TCP4(.ip_options = 12, .dst_port = 257)));

	/* ICMP's checksum, where a port would be, is 0 here. */
	cfg.dst_port_first = cfg.dst_port_last = 0;
	RUN("dst_port 0", &cfg,
	    TAKES("IPv4/UDP to 0", .ip = 4, .protocol = IPPROTO_UDP),
	    LEAVES("IPv4/ICMP (no ports, though the bytes read 0)", .ip = 4, .protocol = IPPROTO_ICMP),
	    LEAVES("IPv6/ICMPv6", .ip = 6, .protocol = IPPROTO_ICMPV6));

	cfg = match_cfg(TCSPAN_KEY_SRC_PORT);
	cfg.src_port_first = 1024;
	cfg.src_port_last = 65535;
	RUN("src_port 1024-65535", &cfg,
	    TAKES("IPv4/TCP from 1024", TCP4(.src_port = 1024)),
	    TAKES("IPv6/UDP from 40000", .ip = 6, .protocol = IPPROTO_UDP, .src_port = 40000),
	    TAKES("IPv4/SCTP from 65535", .ip = 4, .protocol = IPPROTO_SCTP, .src_port = 65535),
	    LEAVES("IPv4/TCP from 1023", TCP4(.src_port = 1023)),
	    LEAVES("IPv4/TCP from 0", TCP4(.src_port = 0)),
	    LEAVES("IPv4/TCP from 80 to 40000", TCP4(.src_port = 80, .dst_port = 40000)));

	cfg = match_cfg(TCSPAN_KEY_PROTOCOL | TCSPAN_KEY_DST_PORT);
	cfg.protocol = IPPROTO_UDP;
	cfg.dst_port_first = cfg.dst_port_last = 53;
	RUN("protocol udp, dst_port 53", &cfg,
	    TAKES("IPv4/UDP to 53", .ip = 4, .protocol = IPPROTO_UDP, .dst_port = 53),
	    TAKES("IPv6/UDP to 53", .ip = 6, .protocol = IPPROTO_UDP, .dst_port = 53),
	    LEAVES("IPv4/TCP to 53", TCP4(.dst_port = 53)),
	    LEAVES("IPv4/UDP to 54", .ip = 4, .protocol = IPPROTO_UDP, .dst_port = 54));

	cfg = match_cfg(TCSPAN_KEY_PROTOCOL | TCSPAN_KEY_SRC_PORT | TCSPAN_KEY_DST_PORT);
	cfg.protocol = IPPROTO_SCTP;
	cfg.src_port_first = 5000;
	cfg.src_port_last = 5010;
	cfg.dst_port_first = 9;
	cfg.dst_port_last = 10;
	RUN("protocol sctp, src_port 5000-5010, dst_port 9-10", &cfg,
	    TAKES("IPv4/SCTP 5000 -> 9", .ip = 4, .protocol = IPPROTO_SCTP, .src_port = 5000,
		  .dst_port = 9),
	    TAKES("IPv6/SCTP 5010 -> 10", .ip = 6, .protocol = IPPROTO_SCTP, .src_port = 5010,
		  .dst_port = 10),
	    LEAVES("IPv4/SCTP 5011 -> 9", .ip = 4, .protocol = IPPROTO_SCTP, .src_port = 5011,
		   .dst_port = 9),
	    LEAVES("IPv4/SCTP 5000 -> 11", .ip = 4, .protocol = IPPROTO_SCTP, .src_port = 5000,
		   .dst_port = 11),
	    LEAVES("IPv4/UDP 5000 -> 9", .ip = 4, .protocol = IPPROTO_UDP, .src_port = 5000,
		   .dst_port = 9));
}

static void test_and(void)
{
	struct tcspan_match_cfg cfg;

	cfg = match_cfg(TCSPAN_KEY_ETHER_TYPE | TCSPAN_KEY_PROTOCOL | TCSPAN_KEY_DST_PORT);
	cfg.ether_type = 0x0800;
	cfg.protocol = IPPROTO_TCP;
	cfg.dst_port_first = cfg.dst_port_last = 443;
	cidr(&cfg, false, "198.18.0.0/24");
	RUN("ether_type ipv4, protocol tcp, src 198.18.0.0/24, dst_port 443", &cfg,
	    TAKES("IPv4/TCP from 198.18.0.1 to 443", TCP4()),
	    LEAVES("IPv6/TCP to 443", TCP6()),
	    LEAVES("IPv4/UDP from 198.18.0.1 to 443", .ip = 4, .protocol = IPPROTO_UDP,
		   .dst_port = 443),
	    LEAVES("IPv4/TCP from 10.0.0.1 to 443", TCP4(.src = "10.0.0.1")),
	    LEAVES("IPv4/TCP from 198.18.0.1 to 80", TCP4(.dst_port = 80)));

	cfg = match_cfg(TCSPAN_KEY_VLAN | TCSPAN_KEY_ETHER_TYPE | TCSPAN_KEY_PROTOCOL |
			TCSPAN_KEY_SRC_PORT | TCSPAN_KEY_DST_PORT);
	cfg.vlan = 100;
	cfg.ether_type = 0x86dd;
	cfg.protocol = IPPROTO_UDP;
	cfg.src_port_first = 1000;
	cfg.src_port_last = 2000;
	cfg.dst_port_first = cfg.dst_port_last = 53;
	cidr(&cfg, true, "2001:db8::/64");
	cidr(&cfg, false, "2001:db8::/64");
#define DNS6(...) .tpid = 0x8100, .tci = 100, .ip = 6, .protocol = IPPROTO_UDP, \
		  .src_port = 1500, .dst_port = 53, ##__VA_ARGS__
	RUN("vlan 100, ether_type ipv6, protocol udp, src+dst 2001:db8::/64, "
	    "src_port 1000-2000, dst_port 53", &cfg,
	    TAKES("the frame that has them all", DNS6()),
	    LEAVES("VID 101", DNS6(.tci = 101)),
	    LEAVES("untagged", DNS6(.tpid = 0)),
	    LEAVES("to 2001:db9::2", DNS6(.dst = "2001:db9::2")),
	    LEAVES("from 2001:db8:1::1", DNS6(.src = "2001:db8:1::1")),
	    LEAVES("from port 999", DNS6(.src_port = 999)),
	    LEAVES("to port 54", DNS6(.dst_port = 54)),
	    LEAVES("TCP", DNS6(.protocol = IPPROTO_TCP)),
	    LEAVES("IPv4", DNS6(.ip = 4, .src = V4_SRC, .dst = V4_DST)));
#undef DNS6
}

/* Every key and both lists full: the largest program the verifier walks. */
static void test_largest(void)
{
	struct loaded *rule;
	struct tcspan_match_cfg cfg;
	struct bpf_prog_info info;
	__u32 info_len = sizeof(info);
	char text[64];
	int i, err;

	cfg = match_cfg(TCSPAN_KEY_VLAN | TCSPAN_KEY_ETHER_TYPE | TCSPAN_KEY_PROTOCOL |
			TCSPAN_KEY_SRC_PORT | TCSPAN_KEY_DST_PORT | TCSPAN_KEY_SAMPLE);
	cfg.vlan = 100;
	cfg.ether_type = 0x86dd;
	cfg.protocol = IPPROTO_TCP;
	cfg.src_port_first = 1;
	cfg.src_port_last = 65535;
	cfg.dst_port_first = cfg.dst_port_last = 443;
	cfg.sample = 1;
	for (i = 0; i < TCSPAN_MATCH_CIDRS; i++) {
		snprintf(text, sizeof(text), "2001:db8:%x::/127", i);
		cidr(&cfg, false, text);
	}
	/* 63 prefixes of both families that miss, then the one that matches. */
	for (i = 0; i < TCSPAN_MATCH_CIDRS - 1; i++) {
		if (i & 1)
			snprintf(text, sizeof(text), "2001:db9:%x::/64", i);
		else
			snprintf(text, sizeof(text), "10.%d.0.0/16", i);
		cidr(&cfg, true, text);
	}
	cidr(&cfg, true, V6_DST "/128");
#define TAGGED6(...) TCP6(.tpid = 0x8100, .tci = 100, ##__VA_ARGS__)
	RUN("every key, 64 src and 64 dst prefixes", &cfg,
	    TAKES("IPv6/TCP from the 1st src prefix to the 64th dst prefix",
		  TAGGED6(.src = "2001:db8::1")),
	    TAKES("IPv6/TCP from the 64th src prefix", TAGGED6(.src = "2001:db8:3f::1")),
	    LEAVES("IPv6/TCP from past the 64th src prefix", TAGGED6(.src = "2001:db8:40::1")),
	    LEAVES("IPv6/TCP to a dst in no prefix",
		   TAGGED6(.src = "2001:db8::1", .dst = "2001:db8::3")));
#undef TAGGED6

	/* With sampling on too, so that every part of the program is there. */
	cfg.sample = 100;
	rule = load(&cfg, &err);
	memset(&info, 0, sizeof(info));
	if (rule)
		err = bpf_obj_get_info_by_fd(rule->prog_fd, &info, &info_len);
	/*
	 * Not a timing: a guard against changes that make the verifier's
	 * paths multiply, well before its limit of 1,000,000.
	 */
	unit_result(rule && !err && info.verified_insns < 200000,
		    "every key and 64+64 prefixes: the verifier walks under 200,000 instructions",
		    "err %d, verified_insns %u", err, info.verified_insns);
	unload(rule);
}

/* ---- sample ------------------------------------------------------------------ */

/*
 * The flow table of slot 0, found from the program as a user would with
 * bpftool: its map "sample_flows", the inner map's id there; -ENOENT when
 * the rule has none.
 */
static int flows_fd(const struct loaded *l)
{
	struct bpf_prog_info info;
	struct bpf_map_info mi;
	__u32 ids[8], len = sizeof(info), mlen, i, key = 0, inner;
	int fd, ret = -ENOENT;

	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 8;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(l->prog_fd, &info, &len))
		return -errno;
	for (i = 0; i < info.nr_map_ids && i < 8 && ret == -ENOENT; i++) {
		fd = bpf_map_get_fd_by_id(ids[i]);
		if (fd < 0)
			return -errno;
		memset(&mi, 0, sizeof(mi));
		mlen = sizeof(mi);
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen) && !strcmp(mi.name, "sample_flows") &&
		    !bpf_map_lookup_elem(fd, &key, &inner))
			ret = bpf_map_get_fd_by_id(inner);
		close(fd);
	}
	return ret;
}

/* Flows remembered in slot 0's table (0 without one). */
static size_t count_flows(const struct loaded *l)
{
	struct tcspan_flow_key key, next;
	int fd = flows_fd(l);
	size_t n = 0;

	if (fd < 0)
		return 0;
	/*
	 * A key that is not there starts the walk, as NULL would (valgrind
	 * flags NULL); no frame of these tests has ether_type 0xffff.
	 */
	memset(&key, 0xff, sizeof(key));
	while (!bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		n++;
	}
	close(fd);
	return n;
}

static void flow_spec(struct frame_spec *s, unsigned int i, char *src)
{
	memset(s, 0, sizeof(*s));
	snprintf(src, INET_ADDRSTRLEN, "10.%u.%u.%u", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
	s->ip = 4;
	s->protocol = i & 1 ? IPPROTO_UDP : IPPROTO_TCP;
	s->src = src;
	s->dst = V4_DST;
	s->src_port = 1024 + i % 50000;
	s->dst_port = 443;
}

static void test_sample_one(void)
{
	struct loaded *rule;
	struct tcspan_match_cfg cfg = match_cfg(TCSPAN_KEY_SAMPLE);
	struct frame_spec s;
	char src[INET_ADDRSTRLEN];
	unsigned int i, kept = 0;
	int err;

	cfg.sample = 1;
	rule = load(&cfg, &err);
	for (i = 0; rule && i < 500; i++) {
		flow_spec(&s, i, src);
		kept += classify_spec(rule, &s) == TAKE;
	}
	unit_result(rule && kept == 500, "sample 1: takes every one of 500 flows",
		    "load %d, took %u", err, kept);
	unit_result(rule && flows_fd(rule) == -ENOENT, "sample 1: has no flow table",
		    "flows_fd %d", rule ? flows_fd(rule) : 0);
	unload(rule);
}

#define FLOWS 5000

static void test_sample_ten(void)
{
	static int first[FLOWS];
	struct loaded *rule;
	struct tcspan_match_cfg cfg = match_cfg(TCSPAN_KEY_SAMPLE);
	struct frame_spec s;
	char src[INET_ADDRSTRLEN];
	unsigned int i, kept = 0, kept_again = 0, dropped_again = 0, replies = 0, errors = 0;
	const char *addr;
	__u16 port;
	double share;
	size_t flows;
	int err, v;

	cfg.sample = 10;
	rule = load(&cfg, &err);
	if (!rule) {
		unit_result(0, "sample 10: loads", "load failed: %d", err);
		return;
	}
	for (i = 0; i < FLOWS; i++) {
		flow_spec(&s, i, src);
		first[i] = classify_spec(rule, &s);
		errors += first[i] != TAKE && first[i] != LEAVE;
		kept += first[i] == TAKE;
	}
	share = (double)kept / FLOWS;
	/* Binomial: sd = sqrt(5000 * 0.1 * 0.9) = 21 flows; 0.07-0.13 is +-7 sd. */
	unit_result(!errors && share >= 0.07 && share <= 0.13,
		    "sample 10: keeps 1 in 10 of 5000 flows (0.07-0.13)",
		    "kept %u of %u (%.3f), %u errors", kept, FLOWS, share, errors);

	for (i = 0; i < FLOWS; i++) {
		flow_spec(&s, i, src);
		v = classify_spec(rule, &s);
		if (first[i] == TAKE)
			kept_again += v == TAKE;
		else
			dropped_again += v == LEAVE;
		/* The reply: the same flow the other way. */
		addr = s.src;
		s.src = s.dst;
		s.dst = addr;
		port = s.src_port;
		s.src_port = s.dst_port;
		s.dst_port = port;
		replies += classify_spec(rule, &s) == first[i];
	}
	unit_result(kept_again == kept, "sample 10: takes every later packet of a kept flow",
		    "%u of %u kept flows taken again", kept_again, kept);
	unit_result(dropped_again == FLOWS - kept,
		    "sample 10: leaves every later packet of a dropped flow",
		    "%u of %u dropped flows left again", dropped_again, FLOWS - kept);
	unit_result(replies == FLOWS, "sample 10: a reply gets its flow's decision",
		    "%u of %u replies agreed", replies, FLOWS);
	flows = count_flows(rule);
	unit_result(flows == FLOWS, "sample 10: remembers one entry per flow, both directions",
		    "%zu entries for %u flows", flows, FLOWS);
	unload(rule);
}

static void test_sample_scope(void)
{
	struct loaded *rule;
	struct tcspan_match_cfg cfg = match_cfg(TCSPAN_KEY_SAMPLE | TCSPAN_KEY_DST_PORT);
	struct frame_spec s, later;
	char src[INET_ADDRSTRLEN];
	unsigned int i, kept = 0, agree = 0, taken = 0, consistent = 0;
	int err, a, b;

	cfg.sample = 10;
	cfg.dst_port_first = cfg.dst_port_last = 443;
	rule = load(&cfg, &err);
	for (i = 0; rule && i < 500; i++) {
		flow_spec(&s, i, src);
		s.dst_port = 80;
		taken += classify_spec(rule, &s) == TAKE;
	}
	unit_result(rule && !taken && count_flows(rule) == 0,
		    "sample 10, dst_port 443: frames another key leaves are neither taken nor remembered",
		    "load %d, took %u, %zu flows remembered", err, taken, rule ? count_flows(rule) : 0);
	unload(rule);

	/* Fragments have no ports in the flow key: one decision per datagram. */
	cfg = match_cfg(TCSPAN_KEY_SAMPLE | TCSPAN_KEY_PROTOCOL);
	cfg.sample = 10;
	cfg.protocol = IPPROTO_TCP;
	rule = load(&cfg, &err);
	for (i = 0; rule && i < 500; i++) {
		flow_spec(&s, 2 * i, src);
		s.more_fragments = true;
		later = s;
		later.more_fragments = false;
		later.frag_offset = 185;
		a = classify_spec(rule, &s);
		b = classify_spec(rule, &later);
		kept += a == TAKE;
		agree += a == b && (a == TAKE || a == LEAVE);
	}
	unit_result(rule && agree == 500 && kept > 0 && kept < 500,
		    "sample 10: all fragments of a datagram share one decision",
		    "load %d, %u of 500 pairs agreed, %u kept", err, agree, kept);
	unload(rule);

	/* Frames that are not IP: a flow is (ether_type, MAC addresses). */
	cfg = match_cfg(TCSPAN_KEY_SAMPLE);
	cfg.sample = 10;
	rule = load(&cfg, &err);
	kept = 0;
	for (i = 0; rule && i < 256; i++) {
		memset(&s, 0, sizeof(s));
		s.arp = true;
		s.mac = i;
		a = classify_spec(rule, &s);
		b = classify_spec(rule, &s);
		kept += a == TAKE;
		consistent += a == b && (a == TAKE || a == LEAVE);
	}
	unit_result(rule && consistent == 256 && kept > 0 && kept < 256,
		    "sample 10: ARP from 256 MAC addresses is sampled per address, consistently",
		    "load %d, %u of 256 consistent, %u kept", err, consistent, kept);
	unload(rule);
}

static void test_sample_map_size(void)
{
	struct tcspan_match_cfg cfg = match_cfg(TCSPAN_KEY_SAMPLE);
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	struct loaded *l;
	int err, fd = -1;

	cfg.sample = 10;
	l = load_flows(&cfg, 4096, &err);
	memset(&info, 0, sizeof(info));
	if (l)
		fd = flows_fd(l);
	if (fd >= 0)
		err = bpf_obj_get_info_by_fd(fd, &info, &len);
	unit_result(l && fd >= 0 && !err && info.max_entries == 4096 &&
		    info.type == BPF_MAP_TYPE_LRU_HASH,
		    "sample: a rule's flow table is an LRU hash of its sample_flows entries",
		    "err %d, fd %d, max_entries %u, type %u", err, fd, info.max_entries, info.type);
	if (fd >= 0)
		close(fd);
	unload(l);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("SKIP: test_bpf_match: BPF_PROG_TEST_RUN needs root\n");
		return 0;
	}
	test_no_keys();
	test_ether_type();
	test_vlan();
	test_protocol();
	test_addresses();
	test_ports();
	test_and();
	test_largest();
	test_sample_one();
	test_sample_ten();
	test_sample_scope();
	test_sample_map_size();
	return unit_exit();
}

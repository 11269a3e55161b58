// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * make bench: what tcspan's BPF programs cost per packet, measured with
 * BPF_PROG_TEST_RUN and `repeat` on one 64-byte UDP frame, side by side in
 * one run: a trivial cls_bpf program (return "match"), tcspan's classifier
 * with no key (match-all), with five keys (one prefix each for src and dst:
 * matched inline), and with five keys whose dst is a list of four prefixes
 * (the last one matching: its global function); a trivial XDP program
 * (XDP_TX), tcspan's XDP program with one match-all entry and with one
 * five-key entry (each redirecting through its devmap).  Prints a table
 * with ratios to the trivial program of the same kind and writes the
 * figures as JSON.
 *
 *   program_cost [--quick] [--json FILE]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tcspan_match.h"
#include "classifier.h"
#include "tcspan_xdp.h"
#include "xdp.skel.h"

#define RUNS 5

/* Ethernet + IPv4 + UDP 198.18.0.1:20000 -> 198.18.0.2:5001, 64 bytes. */
static void build_frame(unsigned char *buf, size_t len)
{
	struct ethhdr *eth = (void *)buf;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	memset(buf, 0, len);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons(len - sizeof(*eth));
	inet_pton(AF_INET, "198.18.0.1", &ip->saddr);
	inet_pton(AF_INET, "198.18.0.2", &ip->daddr);
	udp->source = htons(20000);
	udp->dest = htons(5001);
	udp->len = htons(len - sizeof(*eth) - sizeof(*ip));
}

/* One test run of `repeat` packets: ns per packet, and the verdict. */
static int measure(int prog_fd, unsigned int repeat, double *ns, int *retval)
{
	/* IPv4 after a 14-byte Ethernet header: 2 bytes in, it is aligned. */
	unsigned char storage[2 + 64] __attribute__((aligned(4))), *frame = storage + 2;
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = frame,
		.data_size_in = 64,
		.repeat = repeat,
	);

	build_frame(frame, 64);
	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	*ns = opts.duration;
	*retval = opts.retval;
	return 0;
}

static double median(double *v, int n)
{
	double t;
	int i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
			t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

/* r0 = VERDICT; exit */
static int trivial_program(enum bpf_prog_type type, int verdict)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = verdict },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(type, "trivial", "GPL", insns, sizeof(insns) / sizeof(insns[0]),
			     NULL);
}

/* tcspan's classifier with `cfg` in slot 0 (the classid of a test run), as
 * the library loads it; returns its program fd, owned by *shared. */
static int tcspan_program(const struct tcspan_match_cfg *cfg, struct classifier_shared **shared)
{
	struct tcspan_error *err = tcspan_error__new();
	uint32_t classid;
	int fd = -ENOMEM;

	*shared = classifier_shared__new(1);
	if (*shared && err)
		fd = classifier_shared__add(*shared, cfg, 1, &classid, "", err);
	if (fd < 0 && err && tcspan_error__count(err))
		fprintf(stderr, "program_cost: %s\n", tcspan_error__message(err, 0));
	tcspan_error__free(err);
	return fd;
}

/* tcspan's XDP program with one entry (`cfg`, redirect to the loopback
 * device of this namespace); returns its program fd, the skeleton kept. */
static int tcspan_xdp_program(const struct tcspan_match_cfg *cfg, struct tcspan_xdp **skel)
{
	struct tcspan_xdp_rule rule = { .n_targets = 1, .ifindex = { 1 } };
	struct tcspan_xdp_order order = { .n = 1, .parse = cfg->keys != 0 };
	__u32 zero = 0;

	*skel = tcspan_xdp__open();
	if (!*skel)
		return -errno;
	if (tcspan_xdp__load(*skel))
		return -errno;
	rule.match = *cfg;
	if (bpf_map__update_elem((*skel)->maps.rules, &zero, 4, &rule, sizeof(rule), 0) ||
	    bpf_map__update_elem((*skel)->maps.targets, &zero, 4, &rule.ifindex[0], 4, 0) ||
	    bpf_map__update_elem((*skel)->maps.order, &zero, 4, &order, sizeof(order), 0))
		return -errno;
	return bpf_program__fd((*skel)->progs.tcspan_xdp);
}

#define PROGS 7

int main(int argc, char **argv)
{
	struct classifier_shared *all = NULL, *five = NULL, *list = NULL;
	struct tcspan_xdp *xdp_all = NULL, *xdp_five = NULL;
	struct tcspan_match_cfg cfg_all = {}, cfg_five = {}, cfg_list;
	const char *json = NULL;
	unsigned int repeat = 1000000;
	double ns[PROGS], runs[PROGS][RUNS];
	int fd[PROGS], ret[PROGS], i, r, status = 1;
	static const char *const names[PROGS] = {
		"trivial cls_bpf program", "tcspan match-all", "tcspan five keys",
		"tcspan five keys, 4 dst", "trivial XDP program", "tcspan XDP match-all", "tcspan XDP five keys",
	};
	/* What each must return for the frame: "match" (TC_ACT_UNSPEC), and
	 * a redirect for tcspan's XDP entries. */
	static const int expect[PROGS] = { -1, -1, -1, -1, XDP_TX, XDP_REDIRECT, XDP_REDIRECT };
	FILE *out;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			repeat = 10000;
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--quick] [--json FILE]\n", argv[0]);
			return 1;
		}
	}
	/* protocol, src, dst, src_port, dst_port: the frame matches them all. */
	cfg_five.keys = TCSPAN_KEY_PROTOCOL | TCSPAN_KEY_SRC | TCSPAN_KEY_DST |
			TCSPAN_KEY_SRC_PORT | TCSPAN_KEY_DST_PORT;
	cfg_five.protocol = IPPROTO_UDP;
	cfg_five.n_src = cfg_five.n_dst = 1;
	cfg_five.src[0].family = cfg_five.dst[0].family = TCSPAN_FAMILY_IPV4;
	cfg_five.src[0].len = cfg_five.dst[0].len = 24;
	inet_pton(AF_INET, "198.18.0.0", cfg_five.src[0].addr);
	inet_pton(AF_INET, "198.18.0.0", cfg_five.dst[0].addr);
	cfg_five.src_port_first = 1024;
	cfg_five.src_port_last = 65535;
	cfg_five.dst_port_first = cfg_five.dst_port_last = 5001;
	/* The same with dst [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 198.18.0.0/24]. */
	cfg_list = cfg_five;
	cfg_list.n_dst = 4;
	cfg_list.dst[3] = cfg_five.dst[0];
	for (i = 0; i < 3; i++) {
		static const char *const miss[] = { "10.0.0.0", "172.16.0.0", "192.168.0.0" };
		static const __u8 len[] = { 8, 12, 16 };

		cfg_list.dst[i].family = TCSPAN_FAMILY_IPV4;
		cfg_list.dst[i].len = len[i];
		inet_pton(AF_INET, miss[i], cfg_list.dst[i].addr);
	}

	fd[0] = trivial_program(BPF_PROG_TYPE_SCHED_CLS, -1);
	fd[1] = tcspan_program(&cfg_all, &all);
	fd[2] = tcspan_program(&cfg_five, &five);
	fd[3] = tcspan_program(&cfg_list, &list);
	fd[4] = trivial_program(BPF_PROG_TYPE_XDP, XDP_TX);
	fd[5] = tcspan_xdp_program(&cfg_all, &xdp_all);
	fd[6] = tcspan_xdp_program(&cfg_five, &xdp_five);
	for (i = 0; i < PROGS; i++)
		if (fd[i] < 0) {
			fprintf(stderr, "program_cost: %s: %s\n", names[i], strerror(-fd[i]));
			goto out;
		}
	/* Rounds, each program once per round: a drift of the machine's speed
	 * touches them all alike. */
	for (r = 0; r < RUNS; r++)
		for (i = 0; i < PROGS; i++) {
			if (measure(fd[i], repeat, &runs[i][r], &ret[i])) {
				fprintf(stderr, "program_cost: %s: %s\n", names[i], strerror(errno));
				goto out;
			}
			if (ret[i] != expect[i]) {
				fprintf(stderr, "program_cost: %s returned %d for the frame, not %d\n",
					names[i], ret[i], expect[i]);
				goto out;
			}
		}
	for (i = 0; i < PROGS; i++)
		ns[i] = median(runs[i], RUNS);
	printf("BPF program cost per packet (BPF_PROG_TEST_RUN, 64-byte UDP, "
	       "median of %d runs x %u)\n", RUNS, repeat);
	printf("  %-26s %10s %10s\n", "program", "ns/packet", "ratio");
	for (i = 0; i < PROGS; i++)
		printf("  %-26s %10.1f %9.2fx\n", names[i], ns[i], ns[i] / ns[i < 4 ? 0 : 4]);
	if (json) {
		out = fopen(json, "w");
		if (!out) {
			perror(json);
			goto out;
		}
		fprintf(out, "{\"classifier_ns_per_packet\": {\"trivial\": %.1f, "
			"\"match_all\": %.1f, \"five_keys\": %.1f, \"five_keys_4_dst\": %.1f}, "
			"\"xdp_ns_per_packet\": {\"trivial\": %.1f, "
			"\"match_all\": %.1f, \"five_keys\": %.1f}, \"repeat\": %u}\n",
			ns[0], ns[1], ns[2], ns[3], ns[4], ns[5], ns[6], repeat);
		fclose(out);
	}
	status = 0;
out:
	for (i = 0; i < PROGS; i += 4)
		if (fd[i] >= 0)
			close(fd[i]);
	classifier_shared__free(all);
	classifier_shared__free(five);
	classifier_shared__free(list);
	tcspan_xdp__destroy(xdp_all);
	tcspan_xdp__destroy(xdp_five);
	return status;
}

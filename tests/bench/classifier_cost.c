// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * make bench: what a rule's classifier costs per packet, measured with
 * BPF_PROG_TEST_RUN and `repeat` on one 64-byte UDP frame, side by side in
 * one run: a trivial cls_bpf program (return "match"), tcspan's classifier
 * with no key (match-all) and with five keys.  Prints a table with ratios
 * to the trivial program and writes the figures as JSON.
 *
 *   classifier_cost [--quick] [--json FILE]
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
#include "classifier.skel.h"

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

/* The median of RUNS test runs of `repeat` packets, in ns per packet. */
static int measure(int prog_fd, unsigned int repeat, double *ns, int *retval)
{
	/* IPv4 after a 14-byte Ethernet header: 2 bytes in, it is aligned. */
	unsigned char storage[2 + 64] __attribute__((aligned(4))), *frame = storage + 2;
	double v[RUNS], t;
	int i, j;

	build_frame(frame, 64);
	for (i = 0; i < RUNS; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts,
			.data_in = frame,
			.data_size_in = 64,
			.repeat = repeat,
		);

		if (bpf_prog_test_run_opts(prog_fd, &opts))
			return -errno;
		v[i] = opts.duration;
		*retval = opts.retval;
	}
	for (i = 1; i < RUNS; i++)
		for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
			t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*ns = v[RUNS / 2];
	return 0;
}

static int trivial_program(void)
{
	/* r0 = -1 (TC_ACT_UNSPEC: "match"); exit */
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = -1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "trivial", "GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), NULL);
}

/* tcspan's classifier with `cfg`; returns its program fd, the skeleton kept. */
static int tcspan_program(const struct tcspan_match_cfg *cfg, struct tcspan_classifier **skel)
{
	*skel = tcspan_classifier__open();
	if (!*skel)
		return -errno;
	memcpy((void *)&(*skel)->rodata->cfg, cfg, sizeof(*cfg));
	bpf_map__set_max_entries((*skel)->maps.sample_flows, 1);
	if (tcspan_classifier__load(*skel))
		return -errno;
	return bpf_program__fd((*skel)->progs.tcspan_classify);
}

int main(int argc, char **argv)
{
	struct tcspan_classifier *all = NULL, *five = NULL;
	struct tcspan_match_cfg cfg_all = {}, cfg_five = {};
	const char *json = NULL;
	unsigned int repeat = 1000000;
	double ns[3];
	int fd[3], ret[3], i, status = 1;
	static const char *const names[3] = {
		"trivial cls_bpf program", "tcspan match-all", "tcspan five keys",
	};
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

	fd[0] = trivial_program();
	fd[1] = tcspan_program(&cfg_all, &all);
	fd[2] = tcspan_program(&cfg_five, &five);
	for (i = 0; i < 3; i++) {
		if (fd[i] < 0 || measure(fd[i], repeat, &ns[i], &ret[i])) {
			fprintf(stderr, "classifier_cost: %s: %s\n", names[i],
				strerror(fd[i] < 0 ? -fd[i] : errno));
			goto out;
		}
		if (ret[i] != -1) {
			fprintf(stderr, "classifier_cost: %s did not match the frame (%d)\n",
				names[i], ret[i]);
			goto out;
		}
	}
	printf("Classifier cost per packet (BPF_PROG_TEST_RUN, 64-byte UDP, "
	       "median of %d runs x %u)\n", RUNS, repeat);
	printf("  %-26s %10s %10s\n", "program", "ns/packet", "ratio");
	for (i = 0; i < 3; i++)
		printf("  %-26s %10.1f %9.2fx\n", names[i], ns[i], ns[i] / ns[0]);
	if (json) {
		out = fopen(json, "w");
		if (!out) {
			perror(json);
			goto out;
		}
		fprintf(out, "{\"classifier_ns_per_packet\": {\"trivial\": %.1f, "
			"\"match_all\": %.1f, \"five_keys\": %.1f}, \"repeat\": %u}\n",
			ns[0], ns[1], ns[2], repeat);
		fclose(out);
	}
	status = 0;
out:
	if (fd[0] >= 0)
		close(fd[0]);
	tcspan_classifier__destroy(all);
	tcspan_classifier__destroy(five);
	return status;
}

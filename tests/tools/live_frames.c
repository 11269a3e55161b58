// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * live_frames: the traffic generator and packet counter of the data-plane
 * bench.  Frames are injected as XDP frames with BPF_PROG_TEST_RUN and
 * BPF_F_TEST_XDP_LIVE_FRAMES, received on a device as its driver would
 * receive them: each frame goes through the XDP program attached to the
 * device, if there is one, and its verdict is acted on (a redirect is sent
 * on); without a program, a one-instruction XDP_PASS hands the frame to the
 * stack, where the kernel builds its skb and the device's tc ingress sees
 * it.  No skb is built, and no device is crossed, before the device under
 * test, so the generator costs little next to what is measured.
 *
 *   live_frames sink NETNS DEV
 *	attach a counting program to DEV (XDP, drops what it counts)
 *   live_frames redirect NETNS DEV TO_DEV
 *	attach to DEV the XDP redirect a user would write by hand: every
 *	frame out of TO_DEV through a one-entry devmap
 *   live_frames send NETNS DEV DST_MAC SECONDS SINK_NETNS SINK_DEV
 *	receive 64-byte IPv4 UDP frames 198.18.0.1:1500 -> 198.18.1.2:5000
 *	on DEV for SECONDS on one CPU; print "SENT DELIVERED SECONDS",
 *	DELIVERED being what the sink on SINK_DEV counted meanwhile
 *
 * Exit 1 on any failure, with the reason on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define SINK_NAME "bench_sink"
#define FRAME_LEN 64
#define CHUNK (1 << 18)		/* frames per BPF_PROG_TEST_RUN call */

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

static int die(const char *what, int err)
{
	fprintf(stderr, "live_frames: %s: %s\n", what, strerror(err));
	exit(1);
}

static void enter_netns(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
		die(path, errno);
	close(fd);
}

static int ifindex_of(const char *dev)
{
	int ifindex = if_nametoindex(dev);

	if (!ifindex)
		die(dev, errno);
	return ifindex;
}

static void attach(const char *dev, int prog_fd)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
	int err = bpf_xdp_attach(ifindex_of(dev), prog_fd, XDP_FLAGS_UPDATE_IF_NOEXIST, &opts);

	if (err)
		die(dev, -err);
}

/* Count every frame in a per-CPU array at key 0, then drop it. */
static void sink(const char *netns, const char *dev)
{
	int map_fd, prog_fd;

	enter_netns(netns);
	map_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "bench_sink", 4, 8, 1, NULL);
	if (map_fd < 0)
		die("sink map", errno);
	struct bpf_insn prog[] = {
		INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4),
		INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd),
		INSN(0, 0, 0, 0, 0),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 3, 0),
		INSN(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_1, BPF_REG_0, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, 1),
		INSN(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_0, BPF_REG_1, 0, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_DROP),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	prog_fd = bpf_prog_load(BPF_PROG_TYPE_XDP, SINK_NAME, "GPL", prog,
				sizeof(prog) / sizeof(prog[0]), NULL);
	if (prog_fd < 0)
		die("sink program", errno);
	attach(dev, prog_fd);
}

static void redirect(const char *netns, const char *dev, const char *to)
{
	__u32 zero = 0, ifindex;
	int map_fd, prog_fd;

	enter_netns(netns);
	ifindex = ifindex_of(to);
	map_fd = bpf_map_create(BPF_MAP_TYPE_DEVMAP, "bench_tx", 4, 4, 1, NULL);
	if (map_fd < 0 || bpf_map_update_elem(map_fd, &zero, &ifindex, BPF_ANY))
		die("devmap", errno);
	struct bpf_insn prog[] = {
		INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd),
		INSN(0, 0, 0, 0, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0, 0, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 0),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_redirect_map),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	prog_fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "bench_redirect", "GPL", prog,
				sizeof(prog) / sizeof(prog[0]), NULL);
	if (prog_fd < 0)
		die("redirect program", errno);
	attach(dev, prog_fd);
}

/* What the sink on DEV (of the current namespace) has counted. */
static uint64_t sink_count(int ifindex, const char *dev)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), prog_id = 0, map_id = 0, key = 0;
	int ncpu = libbpf_num_possible_cpus(), prog_fd, map_fd, i, err;
	uint64_t values[ncpu > 0 ? ncpu : 1], sum = 0;

	err = bpf_xdp_query_id(ifindex, 0, &prog_id);
	if (err || !prog_id)
		die(dev, err ? -err : ENOENT);
	prog_fd = bpf_prog_get_fd_by_id(prog_id);
	if (prog_fd < 0)
		die("sink program", errno);
	info.nr_map_ids = 1;
	info.map_ids = (uintptr_t)&map_id;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		die("sink program", errno);
	if (strcmp(info.name, SINK_NAME) || !map_id) {
		fprintf(stderr, "live_frames: %s: program %u is not the sink\n", dev, prog_id);
		exit(1);
	}
	map_fd = bpf_map_get_fd_by_id(map_id);
	if (map_fd < 0 || bpf_map_lookup_elem(map_fd, &key, values))
		die("sink map", errno);
	for (i = 0; i < ncpu; i++)
		sum += values[i];
	close(map_fd);
	close(prog_fd);
	return sum;
}

static uint16_t ip_checksum(const struct iphdr *ip)
{
	const uint16_t *w = (const void *)ip;
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i < sizeof(*ip) / 2; i++)
		sum += w[i];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static void build_frame(unsigned char *buf, const unsigned char *dst_mac)
{
	struct ethhdr *eth = (void *)buf;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	static const unsigned char src_mac[ETH_ALEN] = { 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01 };

	memset(buf, 0, FRAME_LEN);
	memcpy(eth->h_dest, dst_mac, ETH_ALEN);
	memcpy(eth->h_source, src_mac, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons(FRAME_LEN - sizeof(*eth));
	inet_pton(AF_INET, "198.18.0.1", &ip->saddr);
	inet_pton(AF_INET, "198.18.1.2", &ip->daddr);
	ip->check = ip_checksum(ip);
	udp->source = htons(1500);
	udp->dest = htons(5000);
	udp->len = htons(FRAME_LEN - sizeof(*eth) - sizeof(*ip));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void send_frames(char **argv)
{
	const char *netns = argv[0], *dev = argv[1], *mac = argv[2];
	const char *sink_netns = argv[4], *sink_dev = argv[5];
	double seconds = strtod(argv[3], NULL), t0, elapsed;
	unsigned char dst_mac[ETH_ALEN], frame[FRAME_LEN];
	struct bpf_insn pass[] = {
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	struct xdp_md ctx = { .data_end = FRAME_LEN };
	uint64_t sent = 0, before, after;
	int prog_fd, sink_ifindex, cpu;
	__u32 prog_id = 0;
	cpu_set_t cpus;

	if (sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &dst_mac[0], &dst_mac[1],
		   &dst_mac[2], &dst_mac[3], &dst_mac[4], &dst_mac[5]) != 6 || seconds <= 0) {
		fprintf(stderr, "live_frames: bad MAC address or duration\n");
		exit(2);
	}
	build_frame(frame, dst_mac);

	/* One core, the last one allowed: the sender, and the softirqs it
	 * raises, run there. */
	if (sched_getaffinity(0, sizeof(cpus), &cpus))
		die("sched_getaffinity", errno);
	for (cpu = CPU_SETSIZE - 1; cpu > 0 && !CPU_ISSET(cpu, &cpus); cpu--)
		;
	CPU_ZERO(&cpus);
	CPU_SET(cpu, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		die("sched_setaffinity", errno);

	/* The ingress device is looked up in the caller's namespace. */
	enter_netns(netns);
	ctx.ingress_ifindex = ifindex_of(dev);
	errno = -bpf_xdp_query_id(ctx.ingress_ifindex, 0, &prog_id);
	if (errno)
		die(dev, errno);
	if (prog_id)
		prog_fd = bpf_prog_get_fd_by_id(prog_id);
	else
		prog_fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "bench_pass", "GPL", pass, 2, NULL);
	if (prog_fd < 0)
		die("receiving program", errno);
	enter_netns(sink_netns);
	sink_ifindex = ifindex_of(sink_dev);
	before = sink_count(sink_ifindex, sink_dev);
	enter_netns(netns);
	t0 = now();
	do {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = FRAME_LEN,
			    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = CHUNK,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

		if (bpf_prog_test_run_opts(prog_fd, &opts))
			die("BPF_PROG_TEST_RUN", errno);
		sent += CHUNK;
		elapsed = now() - t0;
	} while (elapsed < seconds);

	/* What is still queued on the way reaches the sink in a moment. */
	usleep(100 * 1000);
	enter_netns(sink_netns);
	after = sink_count(sink_ifindex, sink_dev);
	printf("%llu %llu %.6f\n", (unsigned long long)sent,
	       (unsigned long long)(after - before), elapsed);
	close(prog_fd);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "sink"))
		sink(argv[2], argv[3]);
	else if (argc == 5 && !strcmp(argv[1], "redirect"))
		redirect(argv[2], argv[3], argv[4]);
	else if (argc == 8 && !strcmp(argv[1], "send"))
		send_frames(argv + 2);
	else {
		fprintf(stderr, "usage: live_frames sink NETNS DEV\n"
				"       live_frames redirect NETNS DEV TO_DEV\n"
				"       live_frames send NETNS DEV DST_MAC SECONDS SINK_NETNS SINK_DEV\n");
		return 2;
	}
	return 0;
}

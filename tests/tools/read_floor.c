// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * read_floor: the least a plan has to do to read each of its two inputs,
 * for the control-plane bench to set beside tcspan's no-op and plan.
 *
 *   read_floor kernel NETNS [--terse]
 *	In network namespace NETNS (/run/netns/NETNS): dump the qdiscs,
 *	then the filters of both hooks of every clsact, and throw the
 *	answers away (nothing parsed but the netlink headers).  --terse
 *	asks for the kernel's terse filter dump (TCA_DUMP_FLAGS_TERSE,
 *	Linux 5.10): the handles and the actions' cookies without the
 *	classifier's options, where the classifier can.
 *   read_floor yaml FILE
 *	Read FILE whole, then run it through libyaml's parser, event by
 *	event, building nothing.
 *
 * Prints what it read ("messages N bytes B" or "events N bytes B").
 * Exit 1, with the reason on stderr, when a read fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <yaml.h>

/* The most a dump's answer takes: the kernel fills up to 32 KiB. */
#define RECV_SIZE (32 << 10)

struct totals {
	unsigned long messages, bytes;
};

/*
 * Send a dump request of `type` for `tcm` and read its answers to the
 * end; `each` (may be NULL) sees every message of type `want`.
 */
static int dump(struct nl_sock *sk, int type, const struct tcmsg *tcm, bool terse,
		struct totals *t, int want, void (*each)(const struct nlmsghdr *, void *),
		void *arg)
{
	static unsigned char buf[RECV_SIZE];
	struct nl_msg *msg = nlmsg_alloc_simple(type, NLM_F_REQUEST | NLM_F_DUMP);
	int fd = nl_socket_get_fd(sk);
	struct nla_bitfield32 flags = { TCA_DUMP_FLAGS_TERSE, TCA_DUMP_FLAGS_TERSE };

	if (!msg || nlmsg_append(msg, (void *)tcm, sizeof(*tcm), NLMSG_ALIGNTO) < 0 ||
	    (terse && nla_put(msg, TCA_DUMP_FLAGS, sizeof(flags), &flags) < 0) ||
	    nl_send_auto(sk, msg) < 0) {
		nlmsg_free(msg);
		fprintf(stderr, "read_floor: cannot send a dump request\n");
		return -1;
	}
	nlmsg_free(msg);
	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;
		int left = (int)len;

		if (len < 0) {
			fprintf(stderr, "read_floor: recv: %s\n", strerror(errno));
			return -1;
		}
		t->bytes += (unsigned long)len;
		for (; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				fprintf(stderr, "read_floor: the kernel refused the dump: %s\n",
					strerror(-e->error));
				return -1;
			}
			t->messages++;
			if (each && h->nlmsg_type == want)
				each(h, arg);
		}
	}
}

struct clsacts {
	int v[4096];
	size_t n;
	bool more;			/* more than v holds: refused */
};

static void clsact_seen(const struct nlmsghdr *h, void *arg)
{
	const struct tcmsg *tcm = NLMSG_DATA(h);
	struct clsacts *c = arg;
	struct nlattr *kind = nlmsg_find_attr((struct nlmsghdr *)h, sizeof(*tcm), TCA_KIND);

	if (!kind || strcmp(nla_get_string(kind), "clsact"))
		return;
	if (c->n < sizeof(c->v) / sizeof(c->v[0]))
		c->v[c->n++] = tcm->tcm_ifindex;
	else
		c->more = true;
}

static int read_kernel(const char *netns, bool terse)
{
	static struct clsacts c;
	struct nl_sock *sk = NULL;
	struct totals t = {};
	char path[256];
	int fd, ret = 1;
	size_t i, h;

	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "read_floor: namespace %s: %s\n", netns, strerror(errno));
		goto out;
	}
	sk = nl_socket_alloc();
	if (!sk || nl_connect(sk, NETLINK_ROUTE)) {
		fprintf(stderr, "read_floor: cannot open a netlink socket\n");
		goto out;
	}
	if (dump(sk, RTM_GETQDISC, &(struct tcmsg){ .tcm_family = AF_UNSPEC }, false, &t,
		 RTM_NEWQDISC, clsact_seen, &c))
		goto out;
	if (c.more) {
		fprintf(stderr, "read_floor: more than %zu clsact qdiscs\n", c.n);
		goto out;
	}
	for (i = 0; i < c.n; i++) {
		for (h = 0; h < 2; h++) {
			struct tcmsg tcm = {
				.tcm_family = AF_UNSPEC,
				.tcm_ifindex = c.v[i],
				.tcm_parent = TC_H_MAKE(TC_H_CLSACT,
							h ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS),
			};

			if (dump(sk, RTM_GETTFILTER, &tcm, terse, &t, 0, NULL, NULL))
				goto out;
		}
	}
	printf("messages %lu bytes %lu\n", t.messages, t.bytes);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	nl_socket_free(sk);
	return ret;
}

static int read_yaml(const char *file)
{
	FILE *f = fopen(file, "rb");
	unsigned long events = 0;
	unsigned char *buf = NULL;
	yaml_parser_t parser;
	yaml_event_t event;
	bool end = false;
	long len;
	int ret = 1;

	/* Read whole, then parsed from memory, as tcspan reads it. */
	if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(buf = malloc(len + 1)) || fread(buf, 1, len, f) != (size_t)len) {
		fprintf(stderr, "read_floor: %s: %s\n", file, strerror(errno ? errno : EIO));
		free(buf);
		if (f)
			fclose(f);
		return 1;
	}
	fclose(f);
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, buf, len);
	while (!end) {
		if (!yaml_parser_parse(&parser, &event)) {
			fprintf(stderr, "read_floor: %s:%zu:%zu: %s\n", file,
				parser.problem_mark.line + 1, parser.problem_mark.column + 1,
				parser.problem ? parser.problem : "cannot parse");
			goto out;
		}
		end = event.type == YAML_STREAM_END_EVENT;
		events++;
		yaml_event_delete(&event);
	}
	printf("events %lu bytes %ld\n", events, len);
	ret = 0;
out:
	yaml_parser_delete(&parser);
	free(buf);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "kernel") &&
	    (argc == 3 || (argc == 4 && !strcmp(argv[3], "--terse"))))
		return read_kernel(argv[2], argc == 4);
	if (argc == 3 && !strcmp(argv[1], "yaml"))
		return read_yaml(argv[2]);
	fprintf(stderr, "usage: read_floor kernel NETNS [--terse] | read_floor yaml FILE\n");
	return 2;
}

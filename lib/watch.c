// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Waiting for the kernel to change under a topology: rtnetlink
 * notifications (links, addresses, tc qdiscs, filters and actions) in each
 * namespace the topology names, and inotify on /run/netns for namespaces
 * that come and go.  Nothing polls: one epoll_wait() sleeps until the
 * kernel says something.  What changed is not decoded; the caller plans
 * again, and the plan says whether it mattered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "model.h"
#include "nl.h"
#include "tcspan.h"

/* After the first notification, wait this long for the burst to end. */
#define WATCH_QUIET_MS	100
/* ... but no longer than this in all. */
#define WATCH_BURST_MS	1000

struct tcspan_watch {
	int epfd;
	int inotify_fd;
	struct nl_sock **socks;
	size_t n_socks;
};

static int join_groups(void *ctx)
{
	struct nl_sock *sk = ctx;
	int ret;

	ret = nl_connect(sk, NETLINK_ROUTE);
	if (!ret)
		ret = nl_socket_add_memberships(sk, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
						RTNLGRP_IPV6_IFADDR, RTNLGRP_TC, 0);
	return ret ? -EPROTO : 0;
}

static int watch_netns(struct tcspan_watch *w, const char *netns, struct tcspan_error *err)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct nl_sock **socks, *sk;
	int ret;

	socks = realloc(w->socks, (w->n_socks + 1) * sizeof(*socks));
	if (!socks)
		return tcspan_error__add(err, -ENOMEM, "out of memory");
	w->socks = socks;
	sk = nl_socket_alloc();
	if (!sk)
		return tcspan_error__add(err, -ENOMEM, "out of memory");
	nl_socket_disable_seq_check(sk);
	ret = nl_in_netns(netns, join_groups, sk, err);
	if (ret == -EPROTO)
		ret = tcspan_error__add(err, ret, "cannot listen to rtnetlink in %s%s%s",
					*netns ? "namespace \"" : "the caller's namespace",
					netns, *netns ? "\"" : "");
	if (!ret && nl_socket_set_nonblocking(sk))
		ret = tcspan_error__add(err, -EPROTO, "cannot make a netlink socket non-blocking");
	if (!ret) {
		ev.data.fd = nl_socket_get_fd(sk);
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev))
			ret = tcspan_error__add(err, -errno, "epoll: %s", strerror(errno));
	}
	if (ret) {
		nl_socket_free(sk);
		return ret;
	}
	w->socks[w->n_socks++] = sk;
	return 0;
}

static bool listed(const char *const *names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

/* Every namespace the topology names, once each; "" is the caller's. */
static size_t topology_netns(const struct tcspan_topology *topo, const char **names)
{
	size_t n = 0, i;

#define ADD(name) do {						\
		if (!listed(names, n, (name)))			\
			names[n++] = (name);			\
	} while (0)
	ADD("");
	for (i = 0; i < topo->n_namespaces; i++)
		ADD(topo->namespaces[i].name);
	for (i = 0; i < topo->n_links; i++) {
		ADD(topo->links[i].a.ep.netns);
		ADD(topo->links[i].b.ep.netns);
	}
	for (i = 0; i < topo->n_devices; i++)
		ADD(topo->devices[i].ep.netns);
	for (i = 0; i < topo->n_rules; i++) {
		ADD(topo->rules[i].from.netns);
		ADD(topo->rules[i].to.netns);
	}
#undef ADD
	return n;
}

struct tcspan_watch *tcspan_watch__new(const struct tcspan_topology *topo,
				       struct tcspan_error *err)
{
	size_t cap = 1 + topo->n_namespaces + 2 * (topo->n_links + topo->n_rules) +
		     topo->n_devices, n, i;
	struct epoll_event ev = { .events = EPOLLIN };
	struct tcspan_watch *w;
	const char **names;
	int ret = 0;

	w = calloc(1, sizeof(*w));
	if (w)
		w->epfd = w->inotify_fd = -1;
	names = calloc(cap, sizeof(*names));
	if (!w || !names) {
		ret = tcspan_error__add(err, -ENOMEM, "out of memory");
		goto fail;
	}
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0) {
		ret = tcspan_error__add(err, -errno, "epoll: %s", strerror(errno));
		goto fail;
	}
	n = topology_netns(topo, names);
	for (i = 0; i < n && !ret; i++)
		/* A namespace still to be made is watched through /run/netns. */
		if (!*names[i] || nl_netns_exists(names[i]))
			ret = watch_netns(w, names[i], err);
	if (ret)
		goto fail;
	w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->inotify_fd < 0) {
		ret = tcspan_error__add(err, -errno, "inotify: %s", strerror(errno));
		goto fail;
	}
	/* Without /run/netns there is no named namespace to lose. */
	if (inotify_add_watch(w->inotify_fd, "/run/netns",
			      IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
			      IN_DELETE_SELF | IN_ONLYDIR) >= 0) {
		ev.data.fd = w->inotify_fd;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->inotify_fd, &ev)) {
			ret = tcspan_error__add(err, -errno, "epoll: %s", strerror(errno));
			goto fail;
		}
	}
	free(names);
	return w;
fail:
	free(names);
	tcspan_watch__free(w);
	errno = -ret;
	return NULL;
}

/* Read whatever is queued; an overrun (ENOBUFS) is a change like any other. */
static void drain(int fd)
{
	char buf[16384];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
		;
}

static void drain_ready(struct tcspan_watch *w, const struct epoll_event *ev, int n)
{
	char buf[4096];
	int i;

	for (i = 0; i < n; i++) {
		if (ev[i].data.fd == w->inotify_fd)
			while (read(w->inotify_fd, buf, sizeof(buf)) > 0)
				;
		else
			drain(ev[i].data.fd);
	}
}

int tcspan_watch__wait(struct tcspan_watch *w, int timeout_ms)
{
	struct epoll_event ev[16];
	int n, waited = 0;

	n = epoll_wait(w->epfd, ev, 16, timeout_ms);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	/* A change comes as a burst (a link and its filters); take it whole. */
	while (n > 0 && waited < WATCH_BURST_MS) {
		drain_ready(w, ev, n);
		n = epoll_wait(w->epfd, ev, 16, WATCH_QUIET_MS);
		waited += WATCH_QUIET_MS;
	}
	if (n > 0)
		drain_ready(w, ev, n);
	return n < 0 && errno == EINTR ? -EINTR : 1;
}

int tcspan_watch__fd(const struct tcspan_watch *w)
{
	return w->epfd;
}

void tcspan_watch__free(struct tcspan_watch *w)
{
	size_t i;

	if (!w)
		return;
	for (i = 0; i < w->n_socks; i++)
		nl_socket_free(w->socks[i]);
	free(w->socks);
	if (w->inotify_fd >= 0)
		close(w->inotify_fd);
	if (w->epfd >= 0)
		close(w->epfd);
	free(w);
}

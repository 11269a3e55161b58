// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/attr.h>

#include "link.h"

#define ALIAS_PREFIX "tcspan:"

static struct nl_msg *link_msg(int cmd, int flags, uint32_t ifindex)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct nl_msg *msg = nlmsg_alloc_simple(cmd, flags);

	if (msg && nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static struct link_dev *find_dev(struct link_table *t, uint32_t ifindex)
{
	size_t i;

	for (i = 0; i < t->count; i++)
		if (t->devs[i].ifindex == ifindex)
			return &t->devs[i];
	return NULL;
}

static int link_cb(struct nlmsghdr *hdr, void *arg)
{
	struct link_table *t = arg;
	struct ifinfomsg *ifi = nlmsg_data(hdr);
	struct nlattr *tb[IFLA_MAX + 1];
	struct link_dev *d, *v;

	if (hdr->nlmsg_type != RTM_NEWLINK ||
	    nlmsg_parse(hdr, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0 || !tb[IFLA_IFNAME])
		return 0;
	v = realloc(t->devs, (t->count + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->devs = v;
	d = &v[t->count++];
	memset(d, 0, sizeof(*d));
	d->ifindex = ifi->ifi_index;
	d->up = ifi->ifi_flags & IFF_UP;
	if (tb[IFLA_GROUP])
		d->group = nla_get_u32(tb[IFLA_GROUP]);
	snprintf(d->name, sizeof(d->name), "%s", nla_get_string(tb[IFLA_IFNAME]));
	if (tb[IFLA_IFALIAS])
		snprintf(d->alias, sizeof(d->alias), "%.*s", nla_len(tb[IFLA_IFALIAS]),
			 (char *)nla_data(tb[IFLA_IFALIAS]));
	if (tb[IFLA_LINKINFO]) {
		struct nlattr *li[IFLA_INFO_MAX + 1];

		if (nla_parse_nested(li, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) == 0 &&
		    li[IFLA_INFO_KIND])
			snprintf(d->kind, sizeof(d->kind), "%s",
				 nla_get_string(li[IFLA_INFO_KIND]));
	}
	if (tb[IFLA_XDP]) {
		struct nlattr *x[IFLA_XDP_MAX + 1];

		if (nla_parse_nested(x, IFLA_XDP_MAX, tb[IFLA_XDP], NULL) == 0) {
			if (x[IFLA_XDP_ATTACHED])
				d->xdp_mode = nla_get_u8(x[IFLA_XDP_ATTACHED]);
			/* Two programs (generic and native): the native one. */
			if (x[IFLA_XDP_PROG_ID])
				d->xdp_prog_id = nla_get_u32(x[IFLA_XDP_PROG_ID]);
			else if (x[IFLA_XDP_DRV_PROG_ID])
				d->xdp_prog_id = nla_get_u32(x[IFLA_XDP_DRV_PROG_ID]);
			else if (x[IFLA_XDP_SKB_PROG_ID])
				d->xdp_prog_id = nla_get_u32(x[IFLA_XDP_SKB_PROG_ID]);
		}
	}
	return 0;
}

static int addr_cb(struct nlmsghdr *hdr, void *arg)
{
	struct link_table *t = arg;
	struct ifaddrmsg *ifa = nlmsg_data(hdr);
	struct nlattr *tb[IFA_MAX + 1];
	struct tcspan_prefix *p, *v;
	struct nlattr *a;
	struct link_dev *d;

	if (hdr->nlmsg_type != RTM_NEWADDR ||
	    nlmsg_parse(hdr, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
		return 0;
	d = find_dev(t, ifa->ifa_index);
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!d || !a || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return 0;
	/* Link-local IPv6 addresses are the kernel's, not the topology's. */
	if (ifa->ifa_family == AF_INET6 && ifa->ifa_scope == RT_SCOPE_LINK)
		return 0;
	v = realloc(d->addresses, (d->n_addresses + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	d->addresses = v;
	p = &v[d->n_addresses++];
	memset(p, 0, sizeof(*p));
	p->family = ifa->ifa_family;
	p->len = ifa->ifa_prefixlen;
	memcpy(&p->addr, nla_data(a), p->family == AF_INET ? 4 : 16);
	return 0;
}

int link_dump(struct nl_conn *conn, struct link_table *table, struct tcspan_error *err)
{
	struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
	struct nl_msg *msg;
	int ret;

	memset(table, 0, sizeof(*table));
	msg = link_msg(RTM_GETLINK, 0, 0);
	if (!msg)
		return -ENOMEM;
	ret = nl_conn__dump(conn, msg, link_cb, table, err);
	if (ret)
		goto fail;
	msg = nlmsg_alloc_simple(RTM_GETADDR, 0);
	if (!msg || nlmsg_append(msg, &ifa, sizeof(ifa), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		ret = -ENOMEM;
		goto fail;
	}
	ret = nl_conn__dump(conn, msg, addr_cb, table, err);
	if (ret)
		goto fail;
	return 0;
fail:
	link_table__free(table);
	return ret;
}

void link_table__free(struct link_table *table)
{
	size_t i;

	if (!table)
		return;
	for (i = 0; i < table->count; i++)
		free(table->devs[i].addresses);
	free(table->devs);
	table->devs = NULL;
	table->count = 0;
}

const struct link_dev *link_table__by_name(const struct link_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->count; i++)
		if (!strcmp(t->devs[i].name, name))
			return &t->devs[i];
	return NULL;
}

const struct link_dev *link_table__by_ifindex(const struct link_table *t, uint32_t ifindex)
{
	return find_dev((struct link_table *)t, ifindex);
}

int link_ifindex(struct nl_conn *conn, const char *name, struct tcspan_error *err)
{
	const char *netns = nl_conn__netns(conn);
	const struct link_dev *d;
	struct link_table t;
	int ret;

	ret = link_dump(conn, &t, err);
	if (ret)
		return ret;
	d = link_table__by_name(&t, name);
	ret = d ? (int)d->ifindex : -ENODEV;
	link_table__free(&t);
	if (ret < 0)
		tcspan_error__add(err, ret, "device \"%s%s%s\" not found", netns,
				  *netns ? "/" : "", name);
	return ret;
}

static int open_netns_fd(const char *netns)
{
	char path[PATH_MAX];

	if (!netns || !*netns)
		return open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	return open(path, O_RDONLY | O_CLOEXEC);
}

uint32_t link_unfinished_group(const char *topology)
{
	uint32_t h = 2166136261u;

	for (; *topology; topology++)
		h = (h ^ (uint8_t)*topology) * 16777619u;
	/* The top bit keeps it clear of the small groups people number by hand. */
	return 0x80000000u | (h & 0x7fffffffu);
}

bool link_dev__unfinished(const struct link_dev *d, const char *topology)
{
	char topo[TCSPAN_TOPOLOGY_NAME_MAX + 1];
	const char *rest;

	return d->group == link_unfinished_group(topology) &&
	       !link_alias_parse(d->alias, topo, sizeof(topo), &rest);
}

int link_add_veth(struct nl_conn *conn, const char *name, const char *peer,
		  const char *peer_netns, uint32_t group, struct tcspan_error *err)
{
	struct ifinfomsg peer_ifi = { .ifi_family = AF_UNSPEC };
	struct nlattr *linkinfo, *data, *peerinfo;
	struct nl_msg *msg;
	char what[128];
	int fd, ret;

	fd = open_netns_fd(peer_netns);
	if (fd < 0)
		return tcspan_error__add(err, -errno, "namespace \"%s\": %s", peer_netns,
					 strerror(errno));
	msg = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
	if (!msg || nla_put_string(msg, IFLA_IFNAME, name) < 0 ||
	    nla_put_u32(msg, IFLA_GROUP, group) < 0)
		goto nomem;
	linkinfo = nla_nest_start(msg, IFLA_LINKINFO);
	if (!linkinfo || nla_put_string(msg, IFLA_INFO_KIND, "veth") < 0)
		goto nomem;
	data = nla_nest_start(msg, IFLA_INFO_DATA);
	peerinfo = data ? nla_nest_start(msg, VETH_INFO_PEER) : NULL;
	/* The peer's attributes follow its own ifinfomsg. */
	if (!peerinfo || nlmsg_append(msg, &peer_ifi, sizeof(peer_ifi), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(msg, IFLA_IFNAME, peer) < 0 ||
	    nla_put_u32(msg, IFLA_GROUP, group) < 0 ||
	    nla_put_u32(msg, IFLA_NET_NS_FD, fd) < 0)
		goto nomem;
	nla_nest_end(msg, peerinfo);
	nla_nest_end(msg, data);
	nla_nest_end(msg, linkinfo);
	snprintf(what, sizeof(what), "cannot create veth %s/%s -- %s/%s",
		 nl_conn__netns(conn), name, peer_netns, peer);
	ret = nl_conn__request(conn, msg, what, err);
	close(fd);
	return ret;
nomem:
	nlmsg_free(msg);
	close(fd);
	return -ENOMEM;
}

static const char *address_str(const struct tcspan_prefix *p, char *buf, size_t size)
{
	return inet_ntop(p->family, &p->addr, buf, size) ? buf : "?";
}

const char *link_device_rest(const struct tcspan_device *dev, char *buf, size_t size)
{
	const struct tcspan_vxlan *vx = &dev->vxlan;
	char remote[INET6_ADDRSTRLEN], local[INET6_ADDRSTRLEN + 8] = "";
	char underlay[IFNAMSIZ + 10] = "";
	int n;

	if (dev->kind == TCSPAN_DEVICE_IFB) {
		n = snprintf(buf, size, "device ifb");
	} else {
		if (vx->has_local) {
			strcpy(local, " local=");
			address_str(&vx->local, local + 7, sizeof(local) - 7);
		}
		if (vx->underlay[0])
			snprintf(underlay, sizeof(underlay), " underlay=%s", vx->underlay);
		n = snprintf(buf, size, "device vxlan id=%u remote=%s port=%u%s%s", vx->id,
			     address_str(&vx->remote, remote, sizeof(remote)), vx->port,
			     local, underlay);
	}
	return n >= 0 && (size_t)n < size ? buf : NULL;
}

static bool parse_address(const char *s, struct tcspan_prefix *p)
{
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, s, &p->addr.v4) == 1) {
		p->family = AF_INET;
		p->len = 32;
	} else if (inet_pton(AF_INET6, s, &p->addr.v6) == 1) {
		p->family = AF_INET6;
		p->len = 128;
	}
	return p->family != 0;
}

bool link_device_parse(const char *rest, struct tcspan_device *dev)
{
	struct tcspan_vxlan *vx = &dev->vxlan;
	char copy[256], *save = NULL, *tok, *value;
	unsigned long v;
	bool id = false, remote = false;

	memset(vx, 0, sizeof(*vx));
	if (!strcmp(rest, "device ifb")) {
		dev->kind = TCSPAN_DEVICE_IFB;
		return true;
	}
	if (strncmp(rest, "device vxlan ", 13) || strlen(rest) >= sizeof(copy))
		return false;
	dev->kind = TCSPAN_DEVICE_VXLAN;
	strcpy(copy, rest + 13);
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		value = strchr(tok, '=');
		if (!value)
			return false;
		*value++ = '\0';
		if (!strcmp(tok, "id") || !strcmp(tok, "port")) {
			v = strtoul(value, NULL, 10);
			if (!strcmp(tok, "id"))
				vx->id = v, id = true;
			else
				vx->port = v;
		} else if (!strcmp(tok, "remote")) {
			remote = parse_address(value, &vx->remote);
		} else if (!strcmp(tok, "local")) {
			vx->has_local = parse_address(value, &vx->local);
		} else if (!strcmp(tok, "underlay") && strlen(value) < IFNAMSIZ) {
			strcpy(vx->underlay, value);
		} else {
			return false;
		}
	}
	return id && remote && vx->port;
}

static int put_vxlan(struct nl_msg *msg, const struct tcspan_vxlan *vx, int underlay)
{
	bool v4 = vx->remote.family == AF_INET;
	size_t alen = v4 ? sizeof(struct in_addr) : sizeof(struct in6_addr);

	if (nla_put_u32(msg, IFLA_VXLAN_ID, vx->id) < 0 ||
	    nla_put(msg, v4 ? IFLA_VXLAN_GROUP : IFLA_VXLAN_GROUP6, alen, &vx->remote.addr) < 0 ||
	    nla_put_u16(msg, IFLA_VXLAN_PORT, htons(vx->port)) < 0 ||
	    (vx->has_local &&
	     nla_put(msg, v4 ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, alen, &vx->local.addr) < 0) ||
	    (underlay > 0 && nla_put_u32(msg, IFLA_VXLAN_LINK, underlay) < 0))
		return -ENOMEM;
	return 0;
}

int link_add_device(struct nl_conn *conn, const struct tcspan_device *dev,
		    uint32_t group, struct tcspan_error *err)
{
	const char *kind = dev->kind == TCSPAN_DEVICE_IFB ? "ifb" : "vxlan";
	const char *netns = nl_conn__netns(conn);
	struct nlattr *linkinfo, *data;
	struct nl_msg *msg;
	char what[128];
	int underlay = 0;

	if (dev->kind == TCSPAN_DEVICE_VXLAN && dev->vxlan.underlay[0]) {
		underlay = link_ifindex(conn, dev->vxlan.underlay, err);
		if (underlay < 0)
			return underlay;
	}
	msg = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
	if (!msg || nla_put_string(msg, IFLA_IFNAME, dev->ep.dev) < 0 ||
	    nla_put_u32(msg, IFLA_GROUP, group) < 0)
		goto nomem;
	linkinfo = nla_nest_start(msg, IFLA_LINKINFO);
	if (!linkinfo || nla_put_string(msg, IFLA_INFO_KIND, kind) < 0)
		goto nomem;
	if (dev->kind == TCSPAN_DEVICE_VXLAN) {
		data = nla_nest_start(msg, IFLA_INFO_DATA);
		if (!data || put_vxlan(msg, &dev->vxlan, underlay))
			goto nomem;
		nla_nest_end(msg, data);
	}
	nla_nest_end(msg, linkinfo);
	snprintf(what, sizeof(what), "cannot create %s device %s%s%s", kind, netns,
		 *netns ? "/" : "", dev->ep.dev);
	return nl_conn__request(conn, msg, what, err);
nomem:
	nlmsg_free(msg);
	return -ENOMEM;
}

int link_set_alias_up(struct nl_conn *conn, const char *name, const char *alias,
		      struct tcspan_error *err)
{
	struct nl_msg *msg = link_msg(RTM_NEWLINK, 0, 0);
	struct ifinfomsg *ifi;
	char what[128];

	if (!msg || nla_put_string(msg, IFLA_IFNAME, name) < 0 ||
	    nla_put_string(msg, IFLA_IFALIAS, alias) < 0 ||
	    nla_put_u32(msg, IFLA_GROUP, 0) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	ifi = nlmsg_data(nlmsg_hdr(msg));
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	snprintf(what, sizeof(what), "cannot set up device %s", name);
	return nl_conn__request(conn, msg, what, err);
}

int link_add_address(struct nl_conn *conn, uint32_t ifindex,
		     const struct tcspan_prefix *p, const char *what,
		     struct tcspan_error *err)
{
	struct ifaddrmsg ifa = {
		.ifa_family = p->family,
		.ifa_prefixlen = p->len,
		.ifa_index = ifindex,
	};
	int alen = p->family == AF_INET ? 4 : 16;
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);

	/* Duplicate address detection would hold v6 addresses back for a
	 * second or more; a lab wants them at once. */
	if (p->family == AF_INET6)
		ifa.ifa_flags = IFA_F_NODAD;
	if (!msg || nlmsg_append(msg, &ifa, sizeof(ifa), NLMSG_ALIGNTO) < 0 ||
	    nla_put(msg, IFA_LOCAL, alen, &p->addr) < 0 ||
	    nla_put(msg, IFA_ADDRESS, alen, &p->addr) < 0 ||
	    (p->family == AF_INET6 && nla_put_u32(msg, IFA_FLAGS, IFA_F_NODAD) < 0)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return nl_conn__request(conn, msg, what, err);
}

int link_delete(struct nl_conn *conn, const char *name, struct tcspan_error *err)
{
	struct nl_msg *msg = link_msg(RTM_DELLINK, 0, 0);
	struct tcspan_error *local;
	char what[128];
	int ret;

	if (!msg || nla_put_string(msg, IFLA_IFNAME, name) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	snprintf(what, sizeof(what), "cannot delete device %s", name);
	local = tcspan_error__new();
	ret = nl_conn__request(conn, msg, what, local);
	/* Gone already (with its peer, say) is what a delete wants. */
	if (ret && ret != -ENODEV)
		tcspan_error__add(err, ret, "%s", tcspan_error__count(local) ?
				  tcspan_error__message(local, 0) : what);
	tcspan_error__free(local);
	return ret == -ENODEV ? 0 : ret;
}

bool link_alias_parse(const char *alias, char *topo, size_t size, const char **rest)
{
	const char *p, *end;

	if (strncmp(alias, ALIAS_PREFIX, strlen(ALIAS_PREFIX)))
		return false;
	p = alias + strlen(ALIAS_PREFIX);
	end = strchr(p, ' ');
	if (!end)
		end = p + strlen(p);
	if (end == p || (size_t)(end - p) >= size)
		return false;
	memcpy(topo, p, end - p);
	topo[end - p] = '\0';
	*rest = *end ? end + 1 : end;
	return true;
}

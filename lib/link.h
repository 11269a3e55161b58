/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Network devices: read them (with their addresses and aliases), create
 * veth pairs across namespaces, mark and remove them.
 *
 * tcspan marks what it creates in the device's alias (IFLA_IFALIAS), which
 * lives in the kernel with the device: "tcspan:TOPOLOGY link A B" on both
 * ends of a veth pair, "tcspan:TOPOLOGY netns" on the loopback device of a
 * namespace it created.
 *
 * The alias can only be set once a device exists, so a run killed between
 * the two would leave a pair that nothing marks.  A pair is therefore
 * created in a device group of its topology's own (IFLA_GROUP, which the
 * kernel takes in the same message that creates the device) and put back
 * into the default group when the alias is set: a device in that group
 * without a tcspan alias is what a killed run left unfinished, and its
 * topology's next apply or destroy removes it.
 */
#ifndef TCSPAN_LINK_H
#define TCSPAN_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

#include "model.h"
#include "nl.h"

struct link_dev {
	uint32_t ifindex;
	char name[IFNAMSIZ];
	char kind[16];			/* IFLA_INFO_KIND, "" when none */
	char alias[256];
	bool up;
	uint32_t group;			/* IFLA_GROUP */
	uint32_t xdp_prog_id;		/* IFLA_XDP: the program, 0 for none */
	uint8_t xdp_mode;		/* XDP_ATTACHED_* */
	struct tcspan_prefix *addresses;
	size_t n_addresses;
};

struct link_table {
	struct link_dev *devs;
	size_t count;
};

/* Every device of the connection's namespace with its addresses. */
int link_dump(struct nl_conn *conn, struct link_table *table, struct tcspan_error *err);
void link_table__free(struct link_table *table);
const struct link_dev *link_table__by_name(const struct link_table *t, const char *name);
const struct link_dev *link_table__by_ifindex(const struct link_table *t, uint32_t ifindex);

/* The ifindex of `name` in the connection's namespace, or a negative errno. */
int link_ifindex(struct nl_conn *conn, const char *name, struct tcspan_error *err);

/* The device group of `topology`'s pairs until they are marked. */
uint32_t link_unfinished_group(const char *topology);

/* A device of `topology` that a killed run created but never marked. */
bool link_dev__unfinished(const struct link_dev *d, const char *topology);

/*
 * Create veth `name` in the connection's namespace with peer `peer` in
 * namespace `peer_netns` ("" = the caller's), both ends in device group
 * `group` (see above).
 */
int link_add_veth(struct nl_conn *conn, const char *name, const char *peer,
		  const char *peer_netns, uint32_t group, struct tcspan_error *err);

/*
 * What marks a `devices:` item, after "tcspan:TOPOLOGY ": its kind and
 * settings, "device ifb" or "device vxlan id=42 remote=198.18.1.9
 * port=4789 [local=...] [underlay=eth0]", so that a device whose settings
 * the file changed is told apart and re-created.  NULL when buf is short.
 */
const char *link_device_rest(const struct tcspan_device *dev, char *buf, size_t size);

/* The kind and settings back from a rest link_device_rest() wrote. */
bool link_device_parse(const char *rest, struct tcspan_device *dev);

/*
 * Create device dev->ep.dev (ifb or vxlan) in the connection's namespace,
 * in device group `group`; a vxlan's underlay is looked up there.
 */
int link_add_device(struct nl_conn *conn, const struct tcspan_device *dev,
		    uint32_t group, struct tcspan_error *err);

/* Set alias, put into the default device group and bring up device `name`. */
int link_set_alias_up(struct nl_conn *conn, const char *name, const char *alias,
		      struct tcspan_error *err);

/* Add an address (with prefix length) to ifindex; no DAD for IPv6. */
int link_add_address(struct nl_conn *conn, uint32_t ifindex,
		     const struct tcspan_prefix *p, const char *what,
		     struct tcspan_error *err);

/* Delete device `name`; a missing device is not an error. */
int link_delete(struct nl_conn *conn, const char *name, struct tcspan_error *err);

/* Parse a tcspan alias: the topology name into topo; the rest after it
 * (e.g. "netns", "link A B") in *rest.  False when it is not tcspan's. */
bool link_alias_parse(const char *alias, char *topo, size_t size, const char **rest);

#endif

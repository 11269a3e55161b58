/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The validated desired state of one topology file.  config.c turns YAML
 * into a tree, model.c checks the tree against the schema and fills these
 * structs; nothing after model.c ever sees YAML again.
 */
#ifndef TCSPAN_MODEL_H
#define TCSPAN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>

#include "error.h"

#define TCSPAN_TOPOLOGY_NAME_MAX 32	/* [a-z0-9][a-z0-9-]{0,31} */
#define TCSPAN_RULE_NAME_MAX	 48	/* [A-Za-z0-9_.-]{1,48} */
#define TCSPAN_NETNS_NAME_MAX	 64	/* a file name under /run/netns */
#define TCSPAN_LIST_MAX		 64	/* items in one CIDR or address list */

/* Where a value came from in the YAML file (1-based, as printed). */
struct tcspan_mark {
	unsigned int line;
	unsigned int column;
};

enum tcspan_datapath {
	TCSPAN_DATAPATH_AUTO = 0,
	TCSPAN_DATAPATH_TC,
	TCSPAN_DATAPATH_XDP,
};

enum tcspan_action {
	TCSPAN_ACTION_MIRROR = 0,
	TCSPAN_ACTION_REDIRECT,
};

/* A hook of clsact; `direction: both` sets both bits. */
enum tcspan_hook {
	TCSPAN_HOOK_INGRESS = 1 << 0,
	TCSPAN_HOOK_EGRESS  = 1 << 1,
};

/* A device in a namespace; netns "" is the caller's namespace. */
struct tcspan_endpoint {
	char netns[TCSPAN_NETNS_NAME_MAX + 1];
	char dev[IFNAMSIZ];
	struct tcspan_mark mark;
};

/* An address or a prefix, v4 or v6; family is AF_INET or AF_INET6. */
struct tcspan_prefix {
	int family;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	uint8_t len;
};

struct tcspan_port_range {
	uint16_t first;
	uint16_t last;
};

/* `match:` of a rule.  The has_* flags say which keys were given. */
struct tcspan_match {
	bool has_ether_type, has_vlan, has_protocol, has_src_port, has_dst_port;
	bool has_sample, has_bpf;
	uint16_t ether_type;
	uint16_t vlan;			/* 0-4095 */
	uint8_t protocol;		/* IP protocol number */
	struct tcspan_prefix *src;	/* ORed; n_src == 0: any */
	size_t n_src;
	struct tcspan_prefix *dst;
	size_t n_dst;
	struct tcspan_port_range src_port;
	struct tcspan_port_range dst_port;
	uint32_t sample;		/* keep about 1 flow in `sample` */
	uint32_t sample_flows;		/* flows remembered (LRU); 0: the default */
	char *bpf_object;		/* match.bpf.object */
	char *bpf_program;		/* match.bpf.program */
};

struct tcspan_rule {
	char name[TCSPAN_RULE_NAME_MAX + 1];
	enum tcspan_action action;
	struct tcspan_endpoint from;
	unsigned int hooks;		/* enum tcspan_hook bits */
	struct tcspan_endpoint to;
	enum tcspan_hook to_hook;	/* TCSPAN_HOOK_EGRESS (default) or INGRESS */
	bool has_match;
	struct tcspan_match match;
	enum tcspan_datapath datapath;	/* defaults.datapath when not given */
	bool has_priority;
	int32_t priority;
	unsigned int index;		/* position in the file, 0-based */
	struct tcspan_mark mark;	/* the rule's mapping in the file */
};

struct tcspan_link_end {
	struct tcspan_endpoint ep;
	struct tcspan_prefix *addresses; /* with their prefix length */
	size_t n_addresses;
};

/* A veth pair. */
struct tcspan_link {
	struct tcspan_link_end a, b;
	struct tcspan_mark mark;
};

enum tcspan_device_kind {
	TCSPAN_DEVICE_VXLAN = 0,
	TCSPAN_DEVICE_IFB,
};

struct tcspan_vxlan {
	uint32_t id;			/* VNI, 0-16777215 */
	struct tcspan_prefix remote;	/* len is the full address length */
	bool has_local;
	struct tcspan_prefix local;
	uint16_t port;			/* default 4789 */
	char underlay[IFNAMSIZ];	/* "" when not given */
};

struct tcspan_device {
	struct tcspan_endpoint ep;	/* name and netns */
	enum tcspan_device_kind kind;
	struct tcspan_vxlan vxlan;
	struct tcspan_mark mark;
};

struct tcspan_namespace {
	char name[TCSPAN_NETNS_NAME_MAX + 1];
	struct tcspan_mark mark;
};

struct tcspan_topology {
	char *file;			/* as given on the command line */
	char name[TCSPAN_TOPOLOGY_NAME_MAX + 1];
	char default_netns[TCSPAN_NETNS_NAME_MAX + 1];
	enum tcspan_datapath default_datapath;
	struct tcspan_namespace *namespaces;
	size_t n_namespaces;
	struct tcspan_link *links;
	size_t n_links;
	struct tcspan_device *devices;
	size_t n_devices;
	struct tcspan_rule *rules;
	size_t n_rules;
};

/*
 * Parse and validate a topology.  `file` names it in messages; `buf` holds
 * `len` bytes of YAML.  On any problem every problem found is added to
 * `err` as "FILE:LINE:COLUMN: error: MESSAGE" and -EINVAL is returned.
 * Whether the namespaces that endpoints name exist is not checked here
 * (that needs the kernel): see tcspan_model__check_namespaces().
 */
int tcspan_model__parse(const char *file, const char *buf, size_t len,
			struct tcspan_topology **out, struct tcspan_error *err);

/*
 * tcspan_model__parse(), telling named(name, ctx) (when not NULL) the
 * topology's name as soon as it is read and valid, before the rest of the
 * file is checked, which may still fail: a caller can start on what needs
 * only the name.
 */
int tcspan_model__parse_named(const char *file, const char *buf, size_t len,
			      void (*named)(const char *name, void *ctx), void *ctx,
			      struct tcspan_topology **out, struct tcspan_error *err);

/* The bytes of the file at `path` into *buf (the caller frees it); the
 * error "FILE: error: cannot read: ..." when it cannot be read. */
int tcspan_model__read_file(const char *path, char **buf, size_t *len,
			    struct tcspan_error *err);

/*
 * Report, as file errors, endpoints whose namespace is neither listed in
 * `namespaces:` nor accepted by `exists(name, ctx)`.  Returns 0 or -EINVAL.
 */
int tcspan_model__check_namespaces(const struct tcspan_topology *topo,
				   bool (*exists)(const char *netns, void *ctx),
				   void *ctx, struct tcspan_error *err);

void tcspan_model__free(struct tcspan_topology *topo);

/* "NETNS/DEV", or "DEV" for the caller's namespace, into buf. */
const char *tcspan_endpoint__str(const struct tcspan_endpoint *ep,
				 char *buf, size_t size);

/* "198.18.0.1/24" into buf (INET6_ADDRSTRLEN + 4 is enough). */
const char *tcspan_prefix__str(const struct tcspan_prefix *p, char *buf,
			       size_t size);

#endif /* TCSPAN_MODEL_H */

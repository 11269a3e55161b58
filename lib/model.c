// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The config tree checked against the schema of SPEC.md section 1 and
 * turned into struct tcspan_topology.  Every check keeps going after a
 * problem, so that one run reports all of a file's problems; the checks
 * across items (duplicates, namespaces of from/to, loops) look only at the
 * items that were valid on their own, so that one mistake is not reported
 * again in other words.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "model.h"
#include "datapath.h"
#include "str.h"

/* A value as printed in messages: with its double quotes. */
#define QUOTE(key) "\"" key "\""

#define ENDPOINT_STR_MAX (TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 2)

struct checker {
	struct config_problems problems;
	struct tcspan_topology *topo;
	/* Parallel to topo->rules: valid enough to cross-check, where the name is. */
	bool *rule_ok;
	struct tcspan_mark *rule_name_mark;
	bool out_of_memory;
	/* Told the topology's name as soon as it is read (model.h). */
	void (*named)(const char *name, void *ctx);
	void *named_ctx;
};

/* The value of one key that a mapping may hold. */
struct field {
	const char *key;
	const struct config_node *key_node;
	const struct config_node *value;
};

#define KEY(name) { .key = name }
#define N_FIELDS(f) (sizeof(f) / sizeof((f)[0]))

static const char *const datapath_names[] = { "auto", "tc", "xdp", NULL };
static const char *const action_names[] = { "mirror", "redirect", NULL };

__attribute__((format(printf, 3, 4)))
static void problem(struct checker *c, const struct config_node *at, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg) {
		c->problems.out_of_memory = true;
		return;
	}
	config_problems__add(&c->problems, at->line, at->column, "%s", msg);
	free(msg);
}

static struct tcspan_mark mark_of(const struct config_node *node)
{
	struct tcspan_mark mark = { .line = node->line, .column = node->column };

	return mark;
}

/* ---- names and suggestions ------------------------------------------------ */

/* Edit distance, case-insensitive; keys are short, so two rows serve. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t prev[65], cur[65];

	if (la > 64 || lb > 64)
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cost = tolower((unsigned char)a[i - 1]) !=
				      tolower((unsigned char)b[j - 1]);
			size_t best = prev[j - 1] + cost;

			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			cur[j] = best;
		}
		memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
	}
	return prev[lb];
}

static bool is_prefix(const char *shorter, const char *longer)
{
	size_t n = strlen(shorter);

	return n >= 3 && n < strlen(longer) && !strncasecmp(shorter, longer, n);
}

/*
 * The known key that `key` was most likely meant to be: within two edits
 * (but not a whole rewrite of a short key like "a"), else one that starts
 * like it ("proto" for "protocol").
 */
static const char *suggest(const char *key, const struct field *fields, size_t n)
{
	size_t i, d, best_distance = 3;
	const char *best = NULL;

	for (i = 0; i < n; i++) {
		d = edit_distance(key, fields[i].key);
		if (d < best_distance && d < strlen(fields[i].key)) {
			best_distance = d;
			best = fields[i].key;
		}
	}
	for (i = 0; !best && i < n; i++)
		if (is_prefix(key, fields[i].key) || is_prefix(fields[i].key, key))
			best = fields[i].key;
	return best;
}

/* ---- values ----------------------------------------------------------- */

static const char *kind_name(enum config_node_kind kind)
{
	switch (kind) {
	case CONFIG_MAPPING:
		return "a mapping";
	case CONFIG_SEQUENCE:
		return "a list";
	default:
		return "a string";
	}
}

/*
 * Whether `node` is of `kind`; a problem if not.  A refused node (an alias)
 * is reported already and fails quietly.
 */
static bool expect(struct checker *c, const struct config_node *node,
		   enum config_node_kind kind, const char *what)
{
	if (node->kind == kind && !(kind == CONFIG_SCALAR && config_node__is_null(node)))
		return true;
	if (node->kind != CONFIG_REFUSED)
		problem(c, node, "%s must be %s", what, kind_name(kind));
	return false;
}

/* Spread the pairs of a mapping over `fields`; other keys are problems. */
static bool read_fields(struct checker *c, const struct config_node *map, const char *what,
			struct field *fields, size_t n)
{
	const struct config_node *key;
	const char *near;
	size_t i, k;

	if (!expect(c, map, CONFIG_MAPPING, what))
		return false;
	for (i = 0; i < map->n_pairs; i++) {
		key = map->pairs[i].key;
		for (k = 0; k < n && strcmp(key->value, fields[k].key); k++)
			;
		if (k < n) {
			fields[k].key_node = key;
			fields[k].value = map->pairs[i].value;
			continue;
		}
		near = suggest(key->value, fields, n);
		if (near)
			problem(c, key, "unknown key \"%s\" (did you mean \"%s\"?)",
				key->value, near);
		else
			problem(c, key, "unknown key \"%s\"", key->value);
	}
	return true;
}

static bool require(struct checker *c, const struct config_node *map,
		    const struct field *field)
{
	if (field->value)
		return true;
	problem(c, map, "missing required key \"%s\"", field->key);
	return false;
}

static const char *read_string(struct checker *c, const struct config_node *node,
			       const char *what)
{
	return expect(c, node, CONFIG_SCALAR, what) ? node->value : NULL;
}

/* YAML 1.2 core integers: decimal without leading zeros, or 0x hex. */
static bool parse_integer(const char *s, long long *out)
{
	const char *digits = s + (*s == '-' || *s == '+');
	int base = 10;
	char *end;

	if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
		base = 16;
		if (!isxdigit((unsigned char)digits[2]))
			return false;
	} else if (!isdigit((unsigned char)digits[0]) ||
		   (digits[0] == '0' && digits[1])) {
		/* "010" is octal to YAML 1.1 and decimal to 1.2: refuse both. */
		return false;
	}
	errno = 0;
	*out = strtoll(s, &end, base);
	return !errno && !*end;
}

static void range_text(char *buf, size_t size, long long min, long long max)
{
	if (min < 0)
		snprintf(buf, size, "%lld to %lld", min, max);
	else
		snprintf(buf, size, "%lld-%lld", min, max);
}

/* An integer written as a number (a quoted "42" is a string to YAML). */
static bool read_integer(struct checker *c, const struct config_node *node,
			 const char *what, long long min, long long max, long long *out)
{
	char range[64];

	if (node->kind == CONFIG_REFUSED)
		return false;
	if (node->kind != CONFIG_SCALAR || node->quoted ||
	    !parse_integer(node->value, out)) {
		problem(c, node, "%s must be a whole number", what);
		return false;
	}
	if (*out < min || *out > max) {
		range_text(range, sizeof(range), min, max);
		problem(c, node, "%s %s is out of range (%s)", what, node->value, range);
		return false;
	}
	return true;
}

/* "a, b or c" for a NULL-terminated list. */
static void join_names(char *buf, size_t size, const char *const *names)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; names[i] && used < size; i++)
		used += snprintf(buf + used, size - used, "%s%s",
				 !i ? "" : names[i + 1] ? ", " : " or ", names[i]);
}

static bool read_choice(struct checker *c, const struct config_node *node,
			const char *what, const char *const *names, int *out)
{
	char expected[128];
	int i;

	if (node->kind == CONFIG_REFUSED)
		return false;
	if (node->kind == CONFIG_SCALAR && !config_node__is_null(node)) {
		for (i = 0; names[i]; i++) {
			if (!strcmp(node->value, names[i])) {
				*out = i;
				return true;
			}
		}
	}
	join_names(expected, sizeof(expected), names);
	if (node->kind != CONFIG_SCALAR || config_node__is_null(node)) {
		problem(c, node, "%s must be %s", what, expected);
		return false;
	}
	problem(c, node, "%s must be %s, not \"%s\"", what, expected, node->value);
	return false;
}

/* ---- names of things -------------------------------------------------- */

static bool all_of(const char *s, const char *extra, bool lower_only)
{
	for (; *s; s++) {
		unsigned char ch = *s;

		if (isdigit(ch) || (lower_only ? islower(ch) : isalpha(ch)) ||
		    strchr(extra, ch))
			continue;
		return false;
	}
	return true;
}

static bool valid_netns_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= TCSPAN_NETNS_NAME_MAX && strcmp(s, ".") &&
	       strcmp(s, "..") && all_of(s, "_.-", false);
}

static bool check_netns_name(struct checker *c, const struct config_node *at,
			     const char *name)
{
	if (valid_netns_name(name))
		return true;
	problem(c, at, "invalid namespace name \"%s\" (must match [A-Za-z0-9_.-]{1,%d}, "
		"not \".\" or \"..\")", name, TCSPAN_NETNS_NAME_MAX);
	return false;
}

/* What the kernel's dev_valid_name() takes, said before the kernel says it. */
static bool check_dev_name(struct checker *c, const struct config_node *at,
			   const char *name)
{
	const char *s;

	if (!*name) {
		problem(c, at, "empty device name");
		return false;
	}
	if (strlen(name) > IFNAMSIZ - 1) {
		problem(c, at, "device name \"%s\" is longer than %d characters (IFNAMSIZ-1)",
			name, IFNAMSIZ - 1);
		return false;
	}
	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		problem(c, at, "invalid device name \"%s\"", name);
		return false;
	}
	for (s = name; *s; s++) {
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s)) {
			problem(c, at, "invalid device name \"%s\" (no \"/\", \":\" or whitespace)",
				name);
			return false;
		}
	}
	return true;
}

/* ---- addresses -------------------------------------------------------- */

enum prefix_status {
	PREFIX_OK,
	PREFIX_BAD_ADDRESS,
	PREFIX_BAD_LENGTH,
	PREFIX_NO_LENGTH,
	PREFIX_HAS_LENGTH,
};

enum prefix_form {
	PREFIX_NEEDS_LENGTH,	/* link addresses: the length is the subnet */
	PREFIX_MAY_HAVE_LENGTH,	/* match: a bare address is the host */
	PREFIX_ADDRESS_ONLY,	/* vxlan remote and local */
};

static enum prefix_status parse_prefix(const char *s, enum prefix_form form,
				       struct tcspan_prefix *p)
{
	char address[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned int max, len = 0;
	const char *d;

	memset(p, 0, sizeof(*p));
	if (n >= sizeof(address))
		return PREFIX_BAD_ADDRESS;
	memcpy(address, s, n);
	address[n] = '\0';
	if (inet_pton(AF_INET, address, &p->addr.v4) == 1) {
		p->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, address, &p->addr.v6) == 1) {
		p->family = AF_INET6;
		max = 128;
	} else {
		return PREFIX_BAD_ADDRESS;
	}
	if (!slash) {
		p->len = max;
		return form == PREFIX_NEEDS_LENGTH ? PREFIX_NO_LENGTH : PREFIX_OK;
	}
	if (form == PREFIX_ADDRESS_ONLY)
		return PREFIX_HAS_LENGTH;
	d = slash + 1;
	if (!*d || strlen(d) > 3)
		return PREFIX_BAD_LENGTH;
	for (; *d; d++) {
		if (!isdigit((unsigned char)*d))
			return PREFIX_BAD_LENGTH;
		len = len * 10 + (*d - '0');
	}
	if (len > max)
		return PREFIX_BAD_LENGTH;
	p->len = len;
	return PREFIX_OK;
}

/* Clear the host bits, so that equal prefixes compare equal. */
static void mask_prefix(struct tcspan_prefix *p)
{
	uint8_t *bytes = p->family == AF_INET ? (uint8_t *)&p->addr.v4 : p->addr.v6.s6_addr;
	unsigned int size = p->family == AF_INET ? 4 : 16, i;

	for (i = 0; i < size; i++) {
		if (p->len >= (i + 1) * 8)
			continue;
		bytes[i] &= p->len <= i * 8 ? 0 : (uint8_t)(0xff00 >> (p->len - i * 8));
	}
}

static bool read_prefix(struct checker *c, const struct config_node *node,
			const char *what, enum prefix_form form, struct tcspan_prefix *p)
{
	const char *s = read_string(c, node, what);

	if (!s)
		return false;
	switch (parse_prefix(s, form, p)) {
	case PREFIX_OK:
		return true;
	case PREFIX_BAD_ADDRESS:
		problem(c, node, "%s: invalid IPv4 or IPv6 address in \"%s\"", what, s);
		break;
	case PREFIX_BAD_LENGTH:
		problem(c, node, "%s: invalid prefix length in \"%s\" (0-%d)", what, s,
			p->family == AF_INET ? 32 : 128);
		break;
	case PREFIX_NO_LENGTH:
		problem(c, node, "%s: \"%s\" needs a prefix length, as in \"%s/%d\"", what,
			s, s, p->family == AF_INET ? 24 : 64);
		break;
	case PREFIX_HAS_LENGTH:
		problem(c, node, "%s must be an address, not a prefix: \"%s\"", what, s);
		break;
	}
	return false;
}

/* A CIDR or a list of them (ORed), at most TCSPAN_LIST_MAX. */
static bool read_prefix_list(struct checker *c, const struct config_node *node,
			     const char *what, enum prefix_form form,
			     struct tcspan_prefix **out, size_t *n_out)
{
	const struct config_node *const *items = &node;
	struct tcspan_prefix *list = NULL;
	size_t i, n = 1;
	bool ok = false;

	if (node->kind == CONFIG_SEQUENCE) {
		items = (const struct config_node *const *)node->items;
		n = node->n_items;
		if (!n) {
			problem(c, node, "%s is an empty list", what);
			goto out;
		}
		if (n > TCSPAN_LIST_MAX) {
			problem(c, node, "%s has more than %d items", what, TCSPAN_LIST_MAX);
			goto out;
		}
	} else if (node->kind != CONFIG_SCALAR || config_node__is_null(node)) {
		if (node->kind != CONFIG_REFUSED)
			problem(c, node, "%s must be a CIDR or a list of CIDRs", what);
		goto out;
	}
	list = calloc(n, sizeof(*list));
	if (!list) {
		c->out_of_memory = true;
		goto out;
	}
	ok = true;
	for (i = 0; i < n; i++) {
		if (!read_prefix(c, items[i], what, form, &list[i])) {
			ok = false;
			continue;
		}
		if (form == PREFIX_MAY_HAVE_LENGTH)
			mask_prefix(&list[i]);
	}
	if (ok) {
		*out = list;
		*n_out = n;
		list = NULL;
	}
out:
	free(list);
	return ok;
}

/* ---- endpoints -------------------------------------------------------- */

/*
 * "NETNS/DEV", "DEV" (in defaults.netns) or { netns, dev }; links also
 * take `addresses` in the mapping.  `end` is NULL outside links.
 */
static bool read_endpoint(struct checker *c, const struct config_node *node,
			  const char *what, struct tcspan_endpoint *ep,
			  struct tcspan_link_end *end)
{
	struct field f[] = { KEY("netns"), KEY("dev"), KEY("addresses") };
	const char *dev, *netns = c->topo->default_netns, *slash;
	char netns_buf[TCSPAN_NETNS_NAME_MAX + 1];
	bool ok = true;

	ep->mark = mark_of(node);
	if (node->kind == CONFIG_SCALAR && !config_node__is_null(node)) {
		dev = node->value;
		slash = strchr(dev, '/');
		if (slash) {
			if (slash == dev) {
				problem(c, node, "endpoint \"%s\" has an empty namespace name",
					node->value);
				return false;
			}
			if ((size_t)(slash - dev) >= sizeof(netns_buf)) {
				problem(c, node, "invalid namespace name \"%.*s\" (longer than %d)",
					(int)(slash - dev), dev, TCSPAN_NETNS_NAME_MAX);
				return false;
			}
			memcpy(netns_buf, dev, slash - dev);
			netns_buf[slash - dev] = '\0';
			netns = netns_buf;
			dev = slash + 1;
			ok = check_netns_name(c, node, netns);
		}
		ok = check_dev_name(c, node, dev) && ok;
		goto out;
	}
	if (node->kind != CONFIG_MAPPING) {
		if (node->kind != CONFIG_REFUSED)
			problem(c, node, "%s must be \"NETNS/DEV\", \"DEV\" or a mapping", what);
		return false;
	}
	if (!read_fields(c, node, what, f, end ? 3 : 2))
		return false;
	if (f[0].value) {
		/* "" (quoted: a plain empty value is null) is the caller's. */
		netns = read_string(c, f[0].value, QUOTE("netns"));
		if (!netns)
			ok = false;
		else if (*netns && !check_netns_name(c, f[0].value, netns))
			ok = false;
	}
	dev = NULL;
	if (!require(c, node, &f[1]))
		ok = false;
	else if (!(dev = read_string(c, f[1].value, QUOTE("dev"))) ||
		 !check_dev_name(c, f[1].value, dev))
		ok = false;
	if (end && f[2].value &&
	    !read_prefix_list(c, f[2].value, QUOTE("addresses"), PREFIX_NEEDS_LENGTH,
			      &end->addresses, &end->n_addresses))
		ok = false;
out:
	if (ok) {
		str_copy(ep->netns, sizeof(ep->netns), netns);
		str_copy(ep->dev, sizeof(ep->dev), dev);
	}
	return ok;
}

/* ---- the top-level sections --------------------------------------------- */

static void read_defaults(struct checker *c, const struct config_node *node)
{
	struct field f[] = { KEY("netns"), KEY("datapath") };
	const char *netns;
	int datapath;

	if (config_node__is_null(node))
		return;
	if (!read_fields(c, node, QUOTE("defaults"), f, N_FIELDS(f)))
		return;
	if (f[0].value) {
		/* "" (quoted: a plain empty value is null) is the caller's. */
		netns = read_string(c, f[0].value, QUOTE("netns"));
		if (netns && (!*netns || check_netns_name(c, f[0].value, netns)))
			snprintf(c->topo->default_netns, sizeof(c->topo->default_netns),
				 "%s", netns);
	}
	if (f[1].value && read_choice(c, f[1].value, QUOTE("datapath"), datapath_names,
				      &datapath))
		c->topo->default_datapath = datapath;
}

/*
 * The items of an optional list section; a null value (`links:` with
 * nothing after it) is an empty list.
 */
static const struct config_node *const *list_items(struct checker *c,
						   const struct config_node *node,
						   const char *what, size_t *n)
{
	*n = 0;
	if (!node || config_node__is_null(node))
		return NULL;
	if (!expect(c, node, CONFIG_SEQUENCE, what))
		return NULL;
	*n = node->n_items;
	return (const struct config_node *const *)node->items;
}

static void read_namespaces(struct checker *c, const struct config_node *node)
{
	const struct config_node *const *items;
	struct tcspan_namespace *ns;
	const char *name;
	size_t i, n;

	items = list_items(c, node, QUOTE("namespaces"), &n);
	if (!n)
		return;
	c->topo->namespaces = calloc(n, sizeof(*c->topo->namespaces));
	if (!c->topo->namespaces) {
		c->out_of_memory = true;
		return;
	}
	for (i = 0; i < n; i++) {
		name = read_string(c, items[i], "each item of " QUOTE("namespaces"));
		if (!name || !check_netns_name(c, items[i], name))
			continue;
		ns = &c->topo->namespaces[c->topo->n_namespaces++];
		str_copy(ns->name, sizeof(ns->name), name);
		ns->mark = mark_of(items[i]);
	}
}

static void read_links(struct checker *c, const struct config_node *node)
{
	const struct config_node *const *items;
	struct tcspan_link *link;
	size_t i, n;

	items = list_items(c, node, QUOTE("links"), &n);
	if (!n)
		return;
	c->topo->links = calloc(n, sizeof(*c->topo->links));
	if (!c->topo->links) {
		c->out_of_memory = true;
		return;
	}
	c->topo->n_links = n;
	for (i = 0; i < n; i++) {
		struct field f[] = { KEY("a"), KEY("b") };

		/* An end's dev stays "" unless the end is valid. */
		link = &c->topo->links[i];
		link->mark = mark_of(items[i]);
		if (!read_fields(c, items[i], "each item of " QUOTE("links"), f, N_FIELDS(f)))
			continue;
		if (require(c, items[i], &f[0]))
			read_endpoint(c, f[0].value, QUOTE("a"), &link->a.ep, &link->a);
		if (require(c, items[i], &f[1]))
			read_endpoint(c, f[1].value, QUOTE("b"), &link->b.ep, &link->b);
	}
}

static bool is_multicast(const struct tcspan_prefix *p)
{
	if (p->family == AF_INET)
		return (ntohl(p->addr.v4.s_addr) & 0xf0000000) == 0xe0000000;
	return p->addr.v6.s6_addr[0] == 0xff;
}

static void read_vxlan(struct checker *c, const struct config_node *node,
		       struct tcspan_device *dev)
{
	struct field f[] = {
		KEY("id"), KEY("remote"), KEY("local"), KEY("port"), KEY("underlay"),
	};
	struct tcspan_vxlan *vx = &dev->vxlan;
	bool remote_ok = false;
	const char *underlay;
	long long v;

	vx->port = 4789;
	if (!read_fields(c, node, QUOTE("vxlan"), f, N_FIELDS(f)))
		return;
	if (require(c, node, &f[0]) &&
	    read_integer(c, f[0].value, QUOTE("id"), 0, 16777215, &v))
		vx->id = v;
	if (require(c, node, &f[1]))
		remote_ok = read_prefix(c, f[1].value, QUOTE("remote"), PREFIX_ADDRESS_ONLY,
					&vx->remote);
	if (f[2].value && read_prefix(c, f[2].value, QUOTE("local"), PREFIX_ADDRESS_ONLY,
				      &vx->local)) {
		vx->has_local = true;
		if (remote_ok && vx->local.family != vx->remote.family)
			problem(c, f[2].value, QUOTE("local") " and " QUOTE("remote")
				" must both be IPv4 or both IPv6");
	}
	if (f[3].value && read_integer(c, f[3].value, QUOTE("port"), 1, 65535, &v))
		vx->port = v;
	if (f[4].value) {
		underlay = read_string(c, f[4].value, QUOTE("underlay"));
		if (underlay && check_dev_name(c, f[4].value, underlay))
			str_copy(vx->underlay, sizeof(vx->underlay), underlay);
	} else if (remote_ok && is_multicast(&vx->remote)) {
		/* The kernel needs a device to join the group on. */
		problem(c, f[1].value, QUOTE("remote") " is a multicast group and needs "
			QUOTE("underlay"));
	}
}

static void read_devices(struct checker *c, const struct config_node *node)
{
	static const char *const kinds[] = { "vxlan", "ifb", NULL };
	const struct config_node *const *items;
	struct tcspan_device *dev;
	size_t i, n;

	items = list_items(c, node, QUOTE("devices"), &n);
	if (!n)
		return;
	c->topo->devices = calloc(n, sizeof(*c->topo->devices));
	if (!c->topo->devices) {
		c->out_of_memory = true;
		return;
	}
	c->topo->n_devices = n;
	for (i = 0; i < n; i++) {
		struct field f[] = {
			KEY("name"), KEY("netns"), KEY("kind"), KEY("vxlan"),
		};
		const char *name, *netns = c->topo->default_netns;
		bool ok = true;
		int kind = -1;

		dev = &c->topo->devices[i];
		dev->mark = mark_of(items[i]);
		if (!read_fields(c, items[i], "each item of " QUOTE("devices"), f, N_FIELDS(f)))
			continue;
		if (f[1].value) {
			netns = read_string(c, f[1].value, QUOTE("netns"));
			if (!netns || (*netns && !check_netns_name(c, f[1].value, netns)))
				ok = false;
		}
		if (!require(c, items[i], &f[0]) ||
		    !(name = read_string(c, f[0].value, QUOTE("name"))) ||
		    !check_dev_name(c, f[0].value, name))
			ok = false;
		if (ok) {
			str_copy(dev->ep.netns, sizeof(dev->ep.netns), netns);
			str_copy(dev->ep.dev, sizeof(dev->ep.dev), name);
			dev->ep.mark = mark_of(f[0].value);
		}
		if (require(c, items[i], &f[2]) &&
		    read_choice(c, f[2].value, QUOTE("kind"), kinds, &kind))
			dev->kind = kind;
		if (kind == TCSPAN_DEVICE_VXLAN) {
			if (require(c, items[i], &f[3]))
				read_vxlan(c, f[3].value, dev);
		} else if (kind == TCSPAN_DEVICE_IFB && f[3].value) {
			problem(c, f[3].key_node, QUOTE("vxlan") " is only for kind vxlan");
		}
	}
}

/* ---- rules -------------------------------------------------------------- */

static bool read_port_range(struct checker *c, const struct config_node *node,
			    const char *what, struct tcspan_port_range *r)
{
	unsigned long first, last;
	const char *s, *dash;
	char *end;

	if (!(s = read_string(c, node, what)))
		return false;
	/* Digits only: strtoul alone would take " 1", "+1" and "-1". */
	dash = strchr(s, '-');
	if (!isdigit((unsigned char)s[0]) || strspn(s, "0123456789-") != strlen(s) ||
	    (dash && (!isdigit((unsigned char)dash[1]) || strchr(dash + 1, '-')))) {
		problem(c, node, "%s must be a port or a range \"FIRST-LAST\", not \"%s\"",
			what, s);
		return false;
	}
	errno = 0;
	first = strtoul(s, &end, 10);
	last = dash ? strtoul(dash + 1, NULL, 10) : first;
	if (errno || first > 65535 || last > 65535) {
		problem(c, node, "%s %s is out of range (0-65535)", what, s);
		return false;
	}
	if (first > last) {
		problem(c, node, "%s range \"%s\" is reversed (first > last)", what, s);
		return false;
	}
	r->first = first;
	r->last = last;
	return true;
}

struct number_name {
	const char *name;
	unsigned int value;
};

/* A name from `names`, or a number 0..max (plain, or quoted like "0x86dd"). */
static bool read_name_or_number(struct checker *c, const struct config_node *node,
				const char *what, const struct number_name *names,
				size_t n_names, long long max, const char *max_text,
				unsigned int *out)
{
	char expected[128];
	size_t i, used = 0;
	long long v;
	const char *s;

	if (!(s = read_string(c, node, what)))
		return false;
	for (i = 0; i < n_names; i++) {
		if (!strcmp(s, names[i].name)) {
			*out = names[i].value;
			return true;
		}
	}
	if (!parse_integer(s, &v)) {
		expected[0] = '\0';
		for (i = 0; i < n_names && used < sizeof(expected); i++)
			used += snprintf(expected + used, sizeof(expected) - used, "%s%s",
					 i ? ", " : "", names[i].name);
		problem(c, node, "%s must be %s or a number 0-%s, not \"%s\"", what, expected,
			max_text, s);
		return false;
	}
	if (v < 0 || v > max) {
		problem(c, node, "%s %s is out of range (0-%s)", what, s, max_text);
		return false;
	}
	*out = v;
	return true;
}

static bool port_protocol(uint8_t protocol)
{
	return protocol == IPPROTO_TCP || protocol == IPPROTO_UDP ||
	       protocol == IPPROTO_SCTP;
}

static void read_match(struct checker *c, const struct config_node *node,
		       struct tcspan_rule *rule)
{
	static const struct number_name ether_types[] = {
		{ "ipv4", 0x0800 }, { "ipv6", 0x86dd }, { "arp", 0x0806 },
	};
	static const struct number_name protocols[] = {
		{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { "icmp", IPPROTO_ICMP },
		{ "icmpv6", IPPROTO_ICMPV6 }, { "sctp", IPPROTO_SCTP },
	};
	enum { ETHER_TYPE, VLAN, PROTOCOL, SRC, DST, SRC_PORT, DST_PORT, SAMPLE, SAMPLE_FLOWS,
	       BPF };
	struct field f[] = {
		[ETHER_TYPE] = KEY("ether_type"), [VLAN] = KEY("vlan"),
		[PROTOCOL] = KEY("protocol"), [SRC] = KEY("src"), [DST] = KEY("dst"),
		[SRC_PORT] = KEY("src_port"), [DST_PORT] = KEY("dst_port"),
		[SAMPLE] = KEY("sample"), [SAMPLE_FLOWS] = KEY("sample_flows"),
		[BPF] = KEY("bpf"),
	};
	struct tcspan_match *m = &rule->match;
	bool protocol_ok = false;
	unsigned int value;
	size_t i, given = 0;
	long long v;

	rule->has_match = true;
	if (config_node__is_null(node) ||
	    (node->kind == CONFIG_MAPPING && !node->n_pairs)) {
		problem(c, node, "empty " QUOTE("match") " (leave it out to take every packet)");
		return;
	}
	if (!read_fields(c, node, QUOTE("match"), f, N_FIELDS(f)))
		return;
	for (i = 0; i < N_FIELDS(f); i++)
		given += !!f[i].value;
	if (f[ETHER_TYPE].value &&
	    read_name_or_number(c, f[ETHER_TYPE].value, QUOTE("ether_type"), ether_types,
				N_FIELDS(ether_types), 0xffff, "0xffff", &value)) {
		m->has_ether_type = true;
		m->ether_type = value;
	}
	if (f[VLAN].value && read_integer(c, f[VLAN].value, QUOTE("vlan"), 0, 4095, &v)) {
		m->has_vlan = true;
		m->vlan = v;
	}
	if (f[PROTOCOL].value &&
	    read_name_or_number(c, f[PROTOCOL].value, QUOTE("protocol"), protocols,
				N_FIELDS(protocols), 255, "255", &value)) {
		m->has_protocol = protocol_ok = true;
		m->protocol = value;
	}
	if (f[SRC].value)
		read_prefix_list(c, f[SRC].value, QUOTE("src"), PREFIX_MAY_HAVE_LENGTH,
				 &m->src, &m->n_src);
	if (f[DST].value)
		read_prefix_list(c, f[DST].value, QUOTE("dst"), PREFIX_MAY_HAVE_LENGTH,
				 &m->dst, &m->n_dst);
	if (f[SRC_PORT].value &&
	    read_port_range(c, f[SRC_PORT].value, QUOTE("src_port"), &m->src_port))
		m->has_src_port = true;
	if (f[DST_PORT].value &&
	    read_port_range(c, f[DST_PORT].value, QUOTE("dst_port"), &m->dst_port))
		m->has_dst_port = true;
	/* Without `protocol` a port means tcp, udp or sctp; with one, it must be one. */
	for (i = SRC_PORT; protocol_ok && !port_protocol(m->protocol) && i <= DST_PORT; i++)
		if (f[i].value)
			problem(c, f[i].key_node, "\"%s\" needs " QUOTE("protocol")
				" tcp, udp or sctp, not \"%s\"", f[i].key,
				f[PROTOCOL].value->value);
	if (f[SAMPLE].value &&
	    read_integer(c, f[SAMPLE].value, QUOTE("sample"), 1, 1000000, &v)) {
		m->has_sample = true;
		m->sample = v;
	}
	/* The size of the table of flows that `sample` keeps its decisions in. */
	if (f[SAMPLE_FLOWS].value) {
		if (!f[SAMPLE].value)
			problem(c, f[SAMPLE_FLOWS].key_node, QUOTE("sample_flows") " needs "
				QUOTE("sample"));
		else if (read_integer(c, f[SAMPLE_FLOWS].value, QUOTE("sample_flows"),
				      1024, 1 << 22, &v))
			m->sample_flows = v;
	}
	if (f[BPF].value) {
		struct field b[] = { KEY("object"), KEY("program") };
		const char *object, *program;

		/* Your own classifier decides alone; ANDing it with ours is not offered. */
		if (given > 1)
			problem(c, f[BPF].key_node, QUOTE("bpf") " cannot be combined with other "
				QUOTE("match") " keys");
		if (!read_fields(c, f[BPF].value, QUOTE("bpf"), b, N_FIELDS(b)))
			return;
		if (require(c, f[BPF].value, &b[0]) &&
		    (object = read_string(c, b[0].value, QUOTE("object")))) {
			if (object[0] != '/')
				problem(c, b[0].value, QUOTE("object") " must be an absolute path, "
					"not \"%s\"", object);
			else if (!(m->bpf_object = strdup(object)))
				c->out_of_memory = true;
		}
		if (b[1].value && (program = read_string(c, b[1].value, QUOTE("program")))) {
			m->bpf_program = strdup(program);
			if (!m->bpf_program)
				c->out_of_memory = true;
		}
		m->has_bpf = m->bpf_object != NULL;
	}
}

static bool valid_rule_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= TCSPAN_RULE_NAME_MAX && all_of(s, "_.-", false);
}

static bool valid_topology_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= TCSPAN_TOPOLOGY_NAME_MAX && s[0] != '-' &&
	       all_of(s, "-", true);
}

static void read_rule(struct checker *c, const struct config_node *node, size_t index)
{
	static const char *const directions[] = { "ingress", "egress", "both", NULL };
	static const char *const to_directions[] = { "egress", "ingress", NULL };
	enum { NAME, ACTION, FROM, DIRECTION, TO, TO_DIRECTION, MATCH, DATAPATH, PRIORITY };
	struct field f[] = {
		[NAME] = KEY("name"), [ACTION] = KEY("action"), [FROM] = KEY("from"),
		[DIRECTION] = KEY("direction"), [TO] = KEY("to"),
		[TO_DIRECTION] = KEY("to_direction"), [MATCH] = KEY("match"),
		[DATAPATH] = KEY("datapath"), [PRIORITY] = KEY("priority"),
	};
	struct tcspan_rule *rule = &c->topo->rules[index];
	bool from_ok = false, to_ok = false, hooks_ok = false, to_hook_ok = true;
	char from[ENDPOINT_STR_MAX], to[ENDPOINT_STR_MAX];
	const char *name;
	long long v;
	int choice;

	rule->index = index;
	rule->mark = mark_of(node);
	rule->to_hook = TCSPAN_HOOK_EGRESS;
	rule->datapath = c->topo->default_datapath;
	if (!read_fields(c, node, "each item of " QUOTE("rules"), f, N_FIELDS(f)))
		return;
	if (require(c, node, &f[NAME]) && (name = read_string(c, f[NAME].value, QUOTE("name")))) {
		if (valid_rule_name(name)) {
			str_copy(rule->name, sizeof(rule->name), name);
			c->rule_name_mark[index] = mark_of(f[NAME].value);
		} else
			problem(c, f[NAME].value, "invalid rule name \"%s\" (must match "
				"[A-Za-z0-9_.-]{1,%d})", name, TCSPAN_RULE_NAME_MAX);
	}
	if (require(c, node, &f[ACTION]) &&
	    read_choice(c, f[ACTION].value, QUOTE("action"), action_names, &choice))
		rule->action = choice;
	if (require(c, node, &f[FROM]))
		from_ok = read_endpoint(c, f[FROM].value, QUOTE("from"), &rule->from, NULL);
	if (require(c, node, &f[DIRECTION]) &&
	    read_choice(c, f[DIRECTION].value, QUOTE("direction"), directions, &choice)) {
		hooks_ok = true;
		rule->hooks = choice == 0 ? TCSPAN_HOOK_INGRESS :
			      choice == 1 ? TCSPAN_HOOK_EGRESS :
					    TCSPAN_HOOK_INGRESS | TCSPAN_HOOK_EGRESS;
	}
	if (require(c, node, &f[TO]))
		to_ok = read_endpoint(c, f[TO].value, QUOTE("to"), &rule->to, NULL);
	if (f[TO_DIRECTION].value) {
		to_hook_ok = read_choice(c, f[TO_DIRECTION].value, QUOTE("to_direction"),
					 to_directions, &choice);
		if (to_hook_ok && choice == 1)
			rule->to_hook = TCSPAN_HOOK_INGRESS;
	}
	if (f[MATCH].value)
		read_match(c, f[MATCH].value, rule);
	if (f[DATAPATH].value &&
	    read_choice(c, f[DATAPATH].value, QUOTE("datapath"), datapath_names, &choice))
		rule->datapath = choice;
	if (f[PRIORITY].value &&
	    read_integer(c, f[PRIORITY].value, QUOTE("priority"), INT32_MIN, INT32_MAX, &v)) {
		rule->has_priority = true;
		rule->priority = v;
	}
	/* mirred moves packets between devices of one namespace only. */
	if (from_ok && to_ok && strcmp(rule->from.netns, rule->to.netns)) {
		problem(c, f[TO].value, QUOTE("from") " (%s) and " QUOTE("to")
			" (%s) are in different namespaces",
			tcspan_endpoint__str(&rule->from, from, sizeof(from)),
			tcspan_endpoint__str(&rule->to, to, sizeof(to)));
		to_ok = false;
	}
	c->rule_ok[index] = from_ok && to_ok && hooks_ok && to_hook_ok;
}

static void read_rules(struct checker *c, const struct config_node *node)
{
	const struct config_node *const *items;
	size_t i, n;

	items = list_items(c, node, QUOTE("rules"), &n);
	if (!n)
		return;
	c->topo->rules = calloc(n, sizeof(*c->topo->rules));
	c->rule_ok = calloc(n, sizeof(*c->rule_ok));
	c->rule_name_mark = calloc(n, sizeof(*c->rule_name_mark));
	if (!c->topo->rules || !c->rule_ok || !c->rule_name_mark) {
		c->out_of_memory = true;
		return;
	}
	c->topo->n_rules = n;
	for (i = 0; i < n; i++)
		read_rule(c, items[i], i);
}

/* ---- checks across items -------------------------------------------------- */

struct named {
	const char *name;
	struct tcspan_mark mark;
};

static int compare_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int ret = strcmp(x->name, y->name);

	if (ret)
		return ret;
	if (x->mark.line != y->mark.line)
		return x->mark.line < y->mark.line ? -1 : 1;
	return x->mark.column < y->mark.column ? -1 : x->mark.column > y->mark.column;
}

/*
 * Every later use of a name is a problem that points at the first; sorting
 * keeps this n log n for files with thousands of rules.
 */
static void report_duplicates(struct checker *c, struct named *v, size_t n,
			      const char *what)
{
	const struct named *first;
	size_t i;

	if (n)
		qsort(v, n, sizeof(*v), compare_named);
	for (i = 1, first = v; i < n; i++) {
		if (strcmp(v[i].name, first->name)) {
			first = &v[i];
			continue;
		}
		config_problems__add(&c->problems, v[i].mark.line, v[i].mark.column,
				     "duplicate %s \"%s\" (first at %u:%u)", what, v[i].name,
				     first->mark.line, first->mark.column);
	}
}

static void check_duplicates(struct checker *c)
{
	const struct tcspan_topology *t = c->topo;
	size_t i, n, size = t->n_namespaces + 2 * t->n_links + t->n_devices + t->n_rules;
	char (*eps)[ENDPOINT_STR_MAX];
	struct named *v;

	if (!size)
		return;
	v = calloc(size, sizeof(*v));
	/* Devices are named "NETNS/DEV": those names are made here. */
	eps = calloc(2 * t->n_links + t->n_devices + 1, sizeof(*eps));
	if (!v || !eps) {
		c->out_of_memory = true;
		goto out;
	}
	for (i = 0, n = 0; i < t->n_namespaces; i++, n++) {
		v[n].name = t->namespaces[i].name;
		v[n].mark = t->namespaces[i].mark;
	}
	report_duplicates(c, v, n, "namespace");

	/* A device is made once: by one link end or one `devices:` item. */
	n = 0;
	for (i = 0; i < 2 * t->n_links + t->n_devices; i++) {
		const struct tcspan_endpoint *ep =
			i < 2 * t->n_links ? (i % 2 ? &t->links[i / 2].b.ep : &t->links[i / 2].a.ep)
					   : &t->devices[i - 2 * t->n_links].ep;

		if (!ep->dev[0])
			continue;
		v[n].name = tcspan_endpoint__str(ep, eps[i], sizeof(eps[i]));
		v[n++].mark = ep->mark;
	}
	report_duplicates(c, v, n, "device");

	n = 0;
	for (i = 0; i < t->n_rules; i++) {
		if (!t->rules[i].name[0])
			continue;
		v[n].name = t->rules[i].name;
		v[n++].mark = c->rule_name_mark[i];
	}
	report_duplicates(c, v, n, "rule name");
out:
	free(eps);
	free(v);
}

/*
 * Rule loops.  A rule takes packets at its source nodes (from, hook) and
 * puts them at one destination node (to, to_hook).  Rule R leads into rule
 * S when R's destination is one of S's sources, or when R sends out of a
 * veth end (egress) whose peer's ingress S takes at.  A strongly connected
 * set of rules (or a rule that leads into itself) is a loop: one problem per
 * such set, at its first rule in file order, naming a shortest cycle
 * through that rule.
 */
struct hook_node {
	const char *netns;
	const char *dev;
	unsigned int hook;
	size_t rule;
};

struct loop_graph {
	const struct tcspan_topology *topo;
	struct hook_node *sources;	/* sorted by node, then rule */
	size_t n_sources;
	size_t (*succ)[4];		/* per rule: two ranges of sources */
};

#define NONE ((size_t)-1)

static int compare_node(const struct hook_node *x, const char *netns, const char *dev,
			unsigned int hook)
{
	int ret = strcmp(x->netns, netns);

	if (!ret)
		ret = strcmp(x->dev, dev);
	if (!ret && x->hook != hook)
		ret = x->hook < hook ? -1 : 1;
	return ret;
}

static int compare_sources(const void *a, const void *b)
{
	const struct hook_node *x = a, *y = b;
	int ret = compare_node(x, y->netns, y->dev, y->hook);

	if (ret)
		return ret;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* The sources at one node, as [*lo, *hi). */
static void find_sources(const struct loop_graph *g, const char *netns, const char *dev,
			 unsigned int hook, size_t *lo, size_t *hi)
{
	size_t l = 0, h = g->n_sources, mid;

	while (l < h) {
		mid = l + (h - l) / 2;
		if (compare_node(&g->sources[mid], netns, dev, hook) < 0)
			l = mid + 1;
		else
			h = mid;
	}
	*lo = l;
	for (h = l; h < g->n_sources && !compare_node(&g->sources[h], netns, dev, hook); h++)
		;
	*hi = h;
}

/* A veth: what goes out of one end comes in at the other. */
static const struct tcspan_endpoint *veth_peer(const struct tcspan_topology *t,
					       const struct tcspan_endpoint *ep)
{
	const struct tcspan_link *l;
	size_t i;

	for (i = 0; i < t->n_links; i++) {
		l = &t->links[i];
		if (!l->a.ep.dev[0] || !l->b.ep.dev[0])
			continue;
		if (!strcmp(l->a.ep.netns, ep->netns) && !strcmp(l->a.ep.dev, ep->dev))
			return &l->b.ep;
		if (!strcmp(l->b.ep.netns, ep->netns) && !strcmp(l->b.ep.dev, ep->dev))
			return &l->a.ep;
	}
	return NULL;
}

static size_t degree(const struct loop_graph *g, size_t v)
{
	return g->succ[v][1] - g->succ[v][0] + g->succ[v][3] - g->succ[v][2];
}

static size_t successor(const struct loop_graph *g, size_t v, size_t k)
{
	size_t first = g->succ[v][1] - g->succ[v][0];

	return g->sources[k < first ? g->succ[v][0] + k : g->succ[v][2] + k - first].rule;
}

static int build_graph(struct loop_graph *g, const struct tcspan_topology *t,
		       const bool *rule_ok)
{
	const struct tcspan_endpoint *peer;
	const struct tcspan_rule *r;
	size_t i, n = 0;

	g->topo = t;
	g->sources = calloc(2 * t->n_rules, sizeof(*g->sources));
	g->succ = calloc(t->n_rules, sizeof(*g->succ));
	if (!g->sources || !g->succ)
		return -ENOMEM;
	for (i = 0; i < t->n_rules; i++) {
		r = &t->rules[i];
		if (!rule_ok[i])
			continue;
		if (r->hooks & TCSPAN_HOOK_INGRESS)
			g->sources[n++] = (struct hook_node){ r->from.netns, r->from.dev,
							      TCSPAN_HOOK_INGRESS, i };
		if (r->hooks & TCSPAN_HOOK_EGRESS)
			g->sources[n++] = (struct hook_node){ r->from.netns, r->from.dev,
							      TCSPAN_HOOK_EGRESS, i };
	}
	g->n_sources = n;
	if (n)
		qsort(g->sources, n, sizeof(*g->sources), compare_sources);
	for (i = 0; i < t->n_rules; i++) {
		r = &t->rules[i];
		if (!rule_ok[i])
			continue;
		find_sources(g, r->to.netns, r->to.dev, r->to_hook, &g->succ[i][0],
			     &g->succ[i][1]);
		peer = r->to_hook == TCSPAN_HOOK_EGRESS ? veth_peer(t, &r->to) : NULL;
		if (peer)
			find_sources(g, peer->netns, peer->dev, TCSPAN_HOOK_INGRESS,
				     &g->succ[i][2], &g->succ[i][3]);
	}
	return 0;
}

/* Tarjan's strongly connected components, without recursion. */
static int find_components(const struct loop_graph *g, const bool *rule_ok,
			   size_t *comp, size_t *comp_size)
{
	size_t n = g->topo->n_rules, counter = 0, n_comps = 0, sp = 0, fp = 0, v, w;
	size_t *index = NULL, *low = NULL, *stack = NULL, (*frames)[2] = NULL;
	bool *on_stack = NULL;
	size_t root;
	int ret = -ENOMEM;

	index = malloc(n * sizeof(*index));
	low = malloc(n * sizeof(*low));
	stack = malloc(n * sizeof(*stack));
	frames = malloc(n * sizeof(*frames));
	on_stack = calloc(n, sizeof(*on_stack));
	if (!index || !low || !stack || !frames || !on_stack)
		goto out;
	for (v = 0; v < n; v++) {
		index[v] = NONE;
		comp[v] = NONE;
	}
	for (root = 0; root < n; root++) {
		if (!rule_ok[root] || index[root] != NONE)
			continue;
		index[root] = low[root] = counter++;
		stack[sp++] = root;
		on_stack[root] = true;
		frames[fp][0] = root;
		frames[fp++][1] = 0;
		while (fp) {
			v = frames[fp - 1][0];
			if (frames[fp - 1][1] < degree(g, v)) {
				w = successor(g, v, frames[fp - 1][1]++);
				if (index[w] == NONE) {
					index[w] = low[w] = counter++;
					stack[sp++] = w;
					on_stack[w] = true;
					frames[fp][0] = w;
					frames[fp++][1] = 0;
				} else if (on_stack[w] && index[w] < low[v]) {
					low[v] = index[w];
				}
				continue;
			}
			fp--;
			if (fp && low[v] < low[frames[fp - 1][0]])
				low[frames[fp - 1][0]] = low[v];
			if (low[v] != index[v])
				continue;
			comp_size[n_comps] = 0;
			do {
				w = stack[--sp];
				on_stack[w] = false;
				comp[w] = n_comps;
				comp_size[n_comps]++;
			} while (w != v);
			n_comps++;
		}
	}
	ret = 0;
out:
	free(index);
	free(low);
	free(stack);
	free(frames);
	free(on_stack);
	return ret;
}

static bool leads_into_itself(const struct loop_graph *g, size_t v)
{
	size_t k;

	for (k = 0; k < degree(g, v); k++)
		if (successor(g, v, k) == v)
			return true;
	return false;
}

/* A shortest cycle through `s` in its component, as problem text. */
static void report_loop(struct checker *c, const struct loop_graph *g, size_t s,
			const size_t *comp, size_t *parent, size_t *queue, size_t *seen)
{
	const struct tcspan_rule *rules = g->topo->rules;
	size_t head = 0, tail = 0, u = NONE, v, w, k, len = 0, n = 0;
	size_t *path = queue;	/* reused once the search is over */
	char *text, *p;

	queue[tail++] = s;
	seen[s] = s;
	while (head < tail && u == NONE) {
		v = queue[head++];
		for (k = 0; k < degree(g, v); k++) {
			w = successor(g, v, k);
			if (comp[w] != comp[s])
				continue;
			if (w == s) {
				u = v;
				break;
			}
			if (seen[w] == s)
				continue;
			seen[w] = s;
			parent[w] = v;
			queue[tail++] = w;
		}
	}
	/* The component is strongly connected: the search always closes. */
	for (v = u; v != s; v = parent[v])
		path[n++] = v;
	path[n++] = s;
	for (k = 0; k < n; k++)
		len += strlen(rules[path[k]].name) + 4;
	text = malloc(len + strlen(rules[s].name) + 1);
	if (!text) {
		c->out_of_memory = true;
		return;
	}
	p = text;
	for (k = n; k-- > 0;)
		p += sprintf(p, "%s -> ", rules[path[k]].name);
	sprintf(p, "%s", rules[s].name);
	config_problems__add(&c->problems, rules[s].mark.line, rules[s].mark.column,
			     "rules loop: %s", text);
	free(text);
}

static void check_loops(struct checker *c)
{
	const struct tcspan_topology *t = c->topo;
	size_t n = t->n_rules, v, *comp = NULL, *comp_size = NULL, *parent = NULL;
	size_t *queue = NULL, *seen = NULL;
	struct loop_graph g = { 0 };
	bool *reported = NULL;

	if (!n)
		return;
	comp = malloc(n * sizeof(*comp));
	comp_size = malloc(n * sizeof(*comp_size));
	parent = malloc(n * sizeof(*parent));
	queue = malloc(n * sizeof(*queue));
	seen = malloc(n * sizeof(*seen));
	reported = calloc(n, sizeof(*reported));
	if (!comp || !comp_size || !parent || !queue || !seen || !reported ||
	    build_graph(&g, t, c->rule_ok) || find_components(&g, c->rule_ok, comp, comp_size)) {
		c->out_of_memory = true;
		goto out;
	}
	for (v = 0; v < n; v++)
		seen[v] = NONE;
	/* In file order, so that the first rule of each loop names it. */
	for (v = 0; v < n; v++) {
		if (comp[v] == NONE || reported[comp[v]])
			continue;
		if (comp_size[comp[v]] == 1 && !leads_into_itself(&g, v))
			continue;
		reported[comp[v]] = true;
		report_loop(c, &g, v, comp, parent, queue, seen);
	}
out:
	free(g.sources);
	free(g.succ);
	free(comp);
	free(comp_size);
	free(parent);
	free(queue);
	free(seen);
	free(reported);
}

/* ---- the whole file ------------------------------------------------------- */

/* `datapath: xdp` on a rule that XDP cannot carry, from the file alone. */
static void check_datapaths(struct checker *c)
{
	const struct tcspan_topology *t = c->topo;
	struct datapath_choice *choice;
	bool any = false;
	size_t i;

	/* Only `datapath: xdp` can be refused. */
	for (i = 0; i < t->n_rules && !any; i++)
		any = t->rules[i].datapath == TCSPAN_DATAPATH_XDP;
	if (!any)
		return;
	choice = calloc(t->n_rules, sizeof(*choice));
	if (!choice || datapath_decide(t, NULL, choice)) {
		c->out_of_memory = true;
		free(choice);
		return;
	}
	for (i = 0; i < t->n_rules; i++)
		if (choice[i].refused)
			config_problems__add(&c->problems, t->rules[i].mark.line,
					     t->rules[i].mark.column,
					     "rule \"%s\": datapath: xdp, but %s",
					     t->rules[i].name, choice[i].fallback);
	free(choice);
}

static void read_topology(struct checker *c, const struct config_node *root)
{
	enum { VERSION, NAME, DEFAULTS, NAMESPACES, LINKS, DEVICES, RULES };
	struct field f[] = {
		[VERSION] = KEY("version"), [NAME] = KEY("name"), [DEFAULTS] = KEY("defaults"),
		[NAMESPACES] = KEY("namespaces"), [LINKS] = KEY("links"),
		[DEVICES] = KEY("devices"), [RULES] = KEY("rules"),
	};
	const char *name;
	long long v;

	if (!read_fields(c, root, "the top level", f, N_FIELDS(f)))
		return;
	if (require(c, root, &f[VERSION]) &&
	    read_integer(c, f[VERSION].value, QUOTE("version"), LLONG_MIN, LLONG_MAX, &v) &&
	    v != 1)
		problem(c, f[VERSION].value, "unsupported " QUOTE("version") " %s "
			"(this tcspan reads version 1)", f[VERSION].value->value);
	if (require(c, root, &f[NAME]) && (name = read_string(c, f[NAME].value, QUOTE("name")))) {
		if (valid_topology_name(name)) {
			str_copy(c->topo->name, sizeof(c->topo->name), name);
			if (c->named)
				c->named(c->topo->name, c->named_ctx);
		} else
			problem(c, f[NAME].value, "invalid topology name \"%s\" (must match "
				"[a-z0-9][a-z0-9-]{0,%d})", name, TCSPAN_TOPOLOGY_NAME_MAX - 1);
	}
	/* Before anything that reads an endpoint: it fills in defaults.netns. */
	if (f[DEFAULTS].value)
		read_defaults(c, f[DEFAULTS].value);
	read_namespaces(c, f[NAMESPACES].value);
	read_links(c, f[LINKS].value);
	read_devices(c, f[DEVICES].value);
	read_rules(c, f[RULES].value);
	if (c->out_of_memory)
		return;
	check_duplicates(c);
	check_loops(c);
	/* Only on rules that are whole: a broken one would add noise. */
	if (!c->problems.count)
		check_datapaths(c);
}

int tcspan_model__parse_named(const char *file, const char *buf, size_t len,
			      void (*named)(const char *name, void *ctx), void *ctx,
			      struct tcspan_topology **out, struct tcspan_error *err)
{
	const struct config_node *root;
	struct config_tree tree = { 0 };
	struct checker c = { .named = named, .named_ctx = ctx };
	int ret = 0;

	*out = NULL;
	if (!file)
		file = "-";
	c.topo = calloc(1, sizeof(*c.topo));
	if (!c.topo || !(c.topo->file = strdup(file))) {
		ret = tcspan_error__add(err, -ENOMEM, "%s: error: out of memory", file);
		goto out;
	}
	root = config_parse(buf, len, &c.problems, &tree);
	if (root)
		read_topology(&c, root);
	if (c.out_of_memory)
		c.problems.out_of_memory = true;
	if (c.problems.count || c.problems.out_of_memory) {
		ret = c.problems.out_of_memory ? -ENOMEM : -EINVAL;
		config_problems__flush(&c.problems, file, err);
		goto out;
	}
	*out = c.topo;
	c.topo = NULL;
out:
	config_tree__free(&tree);
	config_problems__free(&c.problems);
	free(c.rule_ok);
	free(c.rule_name_mark);
	tcspan_model__free(c.topo);
	return ret;
}

int tcspan_model__parse(const char *file, const char *buf, size_t len,
			struct tcspan_topology **out, struct tcspan_error *err)
{
	return tcspan_model__parse_named(file, buf, len, NULL, NULL, out, err);
}

/* ---- namespaces at apply time ------------------------------------------- */

/* The namespaces found to exist, most recent first: a file names a few, in
 * thousands of endpoints, and each look is a system call. */
#define NETNS_SEEN 8

static void check_netns_of(struct checker *c, const struct tcspan_endpoint *ep,
			   bool (*exists)(const char *netns, void *ctx), void *ctx,
			   const char **seen)
{
	const struct tcspan_topology *t = c->topo;
	size_t i;

	/* "" is the caller's namespace, which always exists. */
	if (!ep->netns[0])
		return;
	for (i = 0; i < NETNS_SEEN && seen[i]; i++)
		if (!strcmp(seen[i], ep->netns))
			return;
	for (i = 0; i < t->n_namespaces; i++)
		if (!strcmp(t->namespaces[i].name, ep->netns))
			return;
	if (exists && exists(ep->netns, ctx)) {
		memmove(seen + 1, seen, (NETNS_SEEN - 1) * sizeof(*seen));
		seen[0] = ep->netns;
		return;
	}
	config_problems__add(&c->problems, ep->mark.line, ep->mark.column,
			     "namespace \"%s\" is not in " QUOTE("namespaces")
			     " and does not exist", ep->netns);
}

int tcspan_model__check_namespaces(const struct tcspan_topology *topo,
				   bool (*exists)(const char *netns, void *ctx),
				   void *ctx, struct tcspan_error *err)
{
	/* The checker only reads the topology here. */
	struct checker c = { .topo = (struct tcspan_topology *)topo };
	const char *seen[NETNS_SEEN] = {};
	size_t i;
	int ret = 0;

	if (!topo)
		return -EINVAL;
	for (i = 0; i < topo->n_links; i++) {
		check_netns_of(&c, &topo->links[i].a.ep, exists, ctx, seen);
		check_netns_of(&c, &topo->links[i].b.ep, exists, ctx, seen);
	}
	for (i = 0; i < topo->n_devices; i++)
		check_netns_of(&c, &topo->devices[i].ep, exists, ctx, seen);
	for (i = 0; i < topo->n_rules; i++) {
		check_netns_of(&c, &topo->rules[i].from, exists, ctx, seen);
		check_netns_of(&c, &topo->rules[i].to, exists, ctx, seen);
	}
	if (c.problems.count || c.problems.out_of_memory) {
		ret = c.problems.out_of_memory ? -ENOMEM : -EINVAL;
		config_problems__flush(&c.problems, topo->file ? topo->file : "-", err);
	}
	config_problems__free(&c.problems);
	return ret;
}

/* ---- the rest of model.h -------------------------------------------------- */

void tcspan_model__free(struct tcspan_topology *topo)
{
	struct tcspan_match *m;
	size_t i;

	if (!topo)
		return;
	for (i = 0; i < topo->n_links; i++) {
		free(topo->links[i].a.addresses);
		free(topo->links[i].b.addresses);
	}
	for (i = 0; i < topo->n_rules; i++) {
		m = &topo->rules[i].match;
		free(m->src);
		free(m->dst);
		free(m->bpf_object);
		free(m->bpf_program);
	}
	free(topo->namespaces);
	free(topo->links);
	free(topo->devices);
	free(topo->rules);
	free(topo->file);
	free(topo);
}

const char *tcspan_endpoint__str(const struct tcspan_endpoint *ep, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	if (ep->netns[0]) {
		str_append(buf, size, &len, ep->netns);
		str_append(buf, size, &len, "/");
	}
	str_append(buf, size, &len, ep->dev);
	return buf;
}

const char *tcspan_prefix__str(const struct tcspan_prefix *p, char *buf, size_t size)
{
	char address[INET6_ADDRSTRLEN];

	if (!inet_ntop(p->family, &p->addr, address, sizeof(address)))
		snprintf(address, sizeof(address), "?");
	snprintf(buf, size, "%s/%u", address, p->len);
	return buf;
}

/* ---- tcspan.h: the topology object -------------------------------------- */

/*
 * The whole file, or CONFIG_MAX_FILE_SIZE + 1 bytes of it: enough for
 * config_parse() to say that it is too large without reading on.
 */
static int read_file(const char *path, char **out, size_t *len_out)
{
	size_t len = 0, capacity = 65536, limit = CONFIG_MAX_FILE_SIZE + 1;
	char *buf = NULL, *p;
	struct stat st;
	ssize_t got;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* One read for a regular file; a pipe says 0 and grows as it comes. */
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 0)
		capacity = (size_t)st.st_size < limit ? (size_t)st.st_size + 1 : limit;
	for (;;) {
		if (!buf || len == capacity) {
			if (len == limit)
				break;
			if (buf)
				capacity = capacity * 2 < limit ? capacity * 2 : limit;
			p = realloc(buf, capacity);
			if (!p) {
				ret = -ENOMEM;
				goto out;
			}
			buf = p;
		}
		got = read(fd, buf + len, capacity - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			ret = -errno;
			goto out;
		}
		if (!got)
			break;
		len += got;
	}
	*out = buf;
	*len_out = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return ret;
}

int tcspan_model__read_file(const char *path, char **buf, size_t *len,
			    struct tcspan_error *err)
{
	int ret = read_file(path, buf, len);

	if (ret)
		tcspan_error__add(err, ret, "%s: error: cannot read: %s", path, strerror(-ret));
	return ret;
}

struct tcspan_topology *tcspan_topology__from_file(const char *path,
						   struct tcspan_error *err)
{
	struct tcspan_topology *topo = NULL;
	char *buf = NULL;
	size_t len = 0;
	int ret;

	ret = tcspan_model__read_file(path, &buf, &len, err);
	if (!ret)
		ret = tcspan_model__parse(path, buf, len, &topo, err);
	free(buf);
	if (ret)
		errno = -ret;
	return topo;
}

struct tcspan_topology *tcspan_topology__from_buffer(const char *file,
						     const char *buf, size_t len,
						     struct tcspan_error *err)
{
	struct tcspan_topology *topo = NULL;
	int ret;

	ret = tcspan_model__parse(file, buf, len, &topo, err);
	if (ret)
		errno = -ret;
	return topo;
}

const char *tcspan_topology__name(const struct tcspan_topology *topo)
{
	return topo ? topo->name : NULL;
}

size_t tcspan_topology__rule_count(const struct tcspan_topology *topo)
{
	return topo ? topo->n_rules : 0;
}

void tcspan_topology__free(struct tcspan_topology *topo)
{
	tcspan_model__free(topo);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * config.c and model.c without a kernel: topology files in, the model or
 * the exact error lines out.
 *
 *   bad/NAME.yaml   begins with one line per expected error, in order:
 *                     # expect: LINE:COLUMN: error: MESSAGE
 *                   (or "# expect: error: MESSAGE" for one about the whole
 *                   file); the errors must be exactly these, each read
 *                   after the "FILE:" that starts it.
 *   good/NAME.yaml  must parse without errors; spec.yaml's values are
 *                   checked one by one.
 *
 * Usage: test_model [DIR]   (DIR: tests/unit, run from the repository root)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "model.h"
#include "unit.h"

#define EXPECT_PREFIX "# expect: "

/* The first failed check of a test, for its FAIL line. */
struct check {
	bool failed;
	char why[1024];
};

#define CHECK(c, cond, ...)							\
	do {									\
		if (!(cond) && !(c)->failed) {					\
			(c)->failed = true;					\
			snprintf((c)->why, sizeof((c)->why), __VA_ARGS__);	\
		}								\
	} while (0)

static void report(const char *name, const struct check *c)
{
	unit_result(!c->failed, name, "%s", c->why);
}

static char *read_all(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f;
	long size;

	f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto out;
	buf = malloc(size + 1);
	if (!buf)
		goto out;
	n = fread(buf, 1, size, f);
	buf[n] = '\0';
	*len = n;
out:
	fclose(f);
	return buf;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.yaml files of a directory, sorted; NULL-terminated. */
static char **list_yaml(const char *dir)
{
	char **names = NULL, **p;
	size_t n = 0, len;
	struct dirent *d;
	DIR *dh;

	dh = opendir(dir);
	if (!dh)
		return NULL;
	while ((d = readdir(dh))) {
		len = strlen(d->d_name);
		if (len < 6 || strcmp(d->d_name + len - 5, ".yaml"))
			continue;
		p = realloc(names, (n + 2) * sizeof(*names));
		if (!p)
			break;
		names = p;
		names[n++] = strdup(d->d_name);
		names[n] = NULL;
	}
	closedir(dh);
	if (names)
		qsort(names, n, sizeof(*names), compare_strings);
	return names;
}

static void free_list(char **names)
{
	char **p;

	for (p = names; p && *p; p++)
		free(*p);
	free(names);
}

/* An error line without its "FILE:" (and the space of "FILE: error:"). */
static const char *after_file(const char *message, const char *file)
{
	size_t n = strlen(file);

	if (strncmp(message, file, n) || message[n] != ':')
		return NULL;
	message += n + 1;
	return *message == ' ' ? message + 1 : message;
}

/* Errors of `err` against the "# expect: " lines at the top of `text`. */
static void check_expected(struct check *c, const char *file, const char *text,
			   const struct tcspan_error *err)
{
	size_t i = 0, n = tcspan_error__count(err), len;
	const char *line = text, *end, *got;

	while (!strncmp(line, EXPECT_PREFIX, strlen(EXPECT_PREFIX))) {
		line += strlen(EXPECT_PREFIX);
		end = strchr(line, '\n');
		len = end ? (size_t)(end - line) : strlen(line);
		if (i >= n) {
			CHECK(c, false, "expected \"%.*s\", got no more errors", (int)len, line);
			return;
		}
		got = after_file(tcspan_error__message(err, i), file);
		CHECK(c, got && strlen(got) == len && !strncmp(got, line, len),
		      "error %zu: expected \"%.*s\", got \"%s\"", i + 1, (int)len, line,
		      tcspan_error__message(err, i));
		i++;
		line = end ? end + 1 : line + len;
	}
	CHECK(c, i > 0, "no \"" EXPECT_PREFIX "\" line at the top");
	CHECK(c, i == n, "%zu errors expected, got %zu; the first extra: \"%s\"", i, n,
	      i < n ? tcspan_error__message(err, i) : "");
}

static void test_bad_files(const char *dir)
{
	char path[4096], name[512], **files, **f;
	struct tcspan_topology *topo;
	struct tcspan_error *err;
	size_t len, count = 0;
	struct check c;
	char *text;

	snprintf(path, sizeof(path), "%s/bad", dir);
	files = list_yaml(path);
	for (f = files; f && *f; f++, count++) {
		memset(&c, 0, sizeof(c));
		snprintf(path, sizeof(path), "%s/bad/%s", dir, *f);
		snprintf(name, sizeof(name), "bad/%s", *f);
		err = tcspan_error__new();
		text = read_all(path, &len);
		errno = 0;
		topo = tcspan_topology__from_file(path, err);
		CHECK(&c, text, "cannot read %s", name);
		CHECK(&c, !topo, "accepted");
		CHECK(&c, topo || errno == EINVAL, "errno %d, not EINVAL", errno);
		if (text)
			check_expected(&c, path, text, err);
		report(name, &c);
		tcspan_topology__free(topo);
		tcspan_error__free(err);
		free(text);
	}
	/* Each file is one problem; fewer than this means files went missing. */
	unit_result(count >= 35, "bad: at least 35 files", "%zu files in %s/bad", count, dir);
	free_list(files);
}

static void parse_good(const char *path, const char *name)
{
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_topology *topo;

	topo = tcspan_topology__from_file(path, err);
	unit_result(topo && !tcspan_error__count(err), name, "%s",
		    tcspan_error__count(err) ? tcspan_error__message(err, 0) : "no topology");
	tcspan_topology__free(topo);
	tcspan_error__free(err);
}

/* The tests' own good files, and the examples that ship in configs/. */
static void test_good_files(const char *dir)
{
	static const char *const where[] = { "good", "../../configs" };
	char path[4096], name[512], **files, **f;
	size_t i;

	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, where[i]);
		files = list_yaml(path);
		unit_result(files != NULL, i ? "configs: found" : "good: found",
			    "no *.yaml in %s", path);
		for (f = files; f && *f; f++) {
			snprintf(path, sizeof(path), "%s/%s/%s", dir, where[i], *f);
			snprintf(name, sizeof(name), "%s/%s", i ? "configs" : "good", *f);
			parse_good(path, name);
		}
		free_list(files);
	}
}

static bool prefix_is(const struct tcspan_prefix *p, const char *text)
{
	char buf[INET6_ADDRSTRLEN + 8];

	return !strcmp(tcspan_prefix__str(p, buf, sizeof(buf)), text);
}

static bool endpoint_is(const struct tcspan_endpoint *ep, const char *text)
{
	char buf[TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 2];

	return !strcmp(tcspan_endpoint__str(ep, buf, sizeof(buf)), text);
}

/* Every value of good/spec.yaml, defaults and shorthands applied. */
static void test_spec_values(const char *dir)
{
	struct tcspan_error *err = tcspan_error__new();
	const struct tcspan_device *vx, *ifb;
	const struct tcspan_rule *r;
	const struct tcspan_match *m;
	struct tcspan_topology *t;
	char path[4096];
	struct check c = { 0 };

	snprintf(path, sizeof(path), "%s/good/spec.yaml", dir);
	t = tcspan_topology__from_file(path, err);
	CHECK(&c, t, "%s", tcspan_error__count(err) ? tcspan_error__message(err, 0) : "NULL");
	if (!t)
		goto out;
	CHECK(&c, !strcmp(t->file, path), "file \"%s\"", t->file);
	CHECK(&c, !strcmp(tcspan_topology__name(t), "weblab"), "name");
	CHECK(&c, !strcmp(t->default_netns, "server"), "default netns");
	CHECK(&c, t->default_datapath == TCSPAN_DATAPATH_TC, "default datapath");
	CHECK(&c, t->n_namespaces == 3 && !strcmp(t->namespaces[2].name, "monitor") &&
		  t->namespaces[2].mark.line == 12 && t->namespaces[2].mark.column == 30,
	      "namespaces");

	CHECK(&c, t->n_links == 2, "%zu links", t->n_links);
	if (t->n_links == 2) {
		const struct tcspan_link *l = &t->links[0];

		CHECK(&c, endpoint_is(&l->a.ep, "client/eth0") && l->a.n_addresses == 2 &&
			  prefix_is(&l->a.addresses[0], "198.18.0.1/24") &&
			  prefix_is(&l->a.addresses[1], "2001:db8::1/64"),
		      "link 0 a: host bits of an address stay");
		CHECK(&c, endpoint_is(&l->b.ep, "server/eth0") && l->b.n_addresses == 1 &&
			  prefix_is(&l->b.addresses[0], "198.18.0.2/24"),
		      "link 0 b: one address without a list");
		CHECK(&c, l->mark.line == 15 && l->mark.column == 5, "link 0 mark %u:%u",
		      l->mark.line, l->mark.column);
		l = &t->links[1];
		CHECK(&c, endpoint_is(&l->a.ep, "server/mon0") && !l->a.n_addresses,
		      "link 1 a: defaults.netns");
		CHECK(&c, endpoint_is(&l->b.ep, "monitor/eth0"), "link 1 b: shorthand");
		CHECK(&c, l->a.ep.mark.line == 17 && l->a.ep.mark.column == 8,
		      "link 1 a mark %u:%u", l->a.ep.mark.line, l->a.ep.mark.column);
	}

	CHECK(&c, t->n_devices == 2, "%zu devices", t->n_devices);
	if (t->n_devices == 2) {
		vx = &t->devices[0];
		ifb = &t->devices[1];
		CHECK(&c, endpoint_is(&vx->ep, "server/vx0") && vx->kind == TCSPAN_DEVICE_VXLAN,
		      "vx0");
		CHECK(&c, vx->vxlan.id == 16777215 &&
			  prefix_is(&vx->vxlan.remote, "198.18.1.9/32") &&
			  !vx->vxlan.has_local && vx->vxlan.port == 4789 &&
			  !strcmp(vx->vxlan.underlay, "eth0"),
		      "vxlan values, port 4789 by default");
		CHECK(&c, endpoint_is(&ifb->ep, "ifb0") && ifb->kind == TCSPAN_DEVICE_IFB,
		      "ifb0 in the caller's namespace");
	}

	CHECK(&c, tcspan_topology__rule_count(t) == 3, "%zu rules", t->n_rules);
	if (t->n_rules != 3)
		goto out;
	r = &t->rules[0];
	m = &r->match;
	CHECK(&c, !strcmp(r->name, "web-tap") && r->index == 0 && r->action == TCSPAN_ACTION_MIRROR,
	      "rule 0");
	CHECK(&c, r->mark.line == 29 && r->mark.column == 5, "rule 0 mark %u:%u",
	      r->mark.line, r->mark.column);
	CHECK(&c, endpoint_is(&r->from, "server/eth0") && r->from.mark.line == 31 &&
		  r->from.mark.column == 11, "rule 0 from");
	CHECK(&c, r->hooks == TCSPAN_HOOK_INGRESS && endpoint_is(&r->to, "server/mon0") &&
		  r->to_hook == TCSPAN_HOOK_EGRESS, "rule 0 hooks, to_direction egress by default");
	CHECK(&c, r->datapath == TCSPAN_DATAPATH_TC, "rule 0 datapath from defaults");
	CHECK(&c, r->has_priority && r->priority == -5, "rule 0 priority");
	CHECK(&c, r->has_match && m->has_ether_type && m->ether_type == 0x0800 &&
		  m->has_vlan && m->vlan == 100 && m->has_protocol && m->protocol == 6,
	      "rule 0 ether_type, vlan, protocol");
	CHECK(&c, m->n_src == 1 && prefix_is(&m->src[0], "198.18.0.0/24"),
	      "rule 0 src: host bits cleared");
	CHECK(&c, m->n_dst == 2 && prefix_is(&m->dst[0], "198.18.0.2/32") &&
		  prefix_is(&m->dst[1], "2001:db8::/64"), "rule 0 dst: a bare address is /32");
	CHECK(&c, m->has_src_port && m->src_port.first == 1024 && m->src_port.last == 65535 &&
		  m->has_dst_port && m->dst_port.first == 443 && m->dst_port.last == 443,
	      "rule 0 ports");
	CHECK(&c, m->has_sample && m->sample == 100 && !m->has_bpf && !m->bpf_object,
	      "rule 0 sample");

	r = &t->rules[1];
	m = &r->match;
	CHECK(&c, !strcmp(r->name, "custom_cls.v2") && r->index == 1 &&
		  r->action == TCSPAN_ACTION_REDIRECT, "rule 1");
	CHECK(&c, endpoint_is(&r->from, "server/eth0") && endpoint_is(&r->to, "server/vx0"),
	      "rule 1 endpoints as mappings");
	CHECK(&c, r->hooks == (TCSPAN_HOOK_INGRESS | TCSPAN_HOOK_EGRESS) &&
		  r->to_hook == TCSPAN_HOOK_INGRESS, "rule 1 both, to ingress");
	CHECK(&c, r->datapath == TCSPAN_DATAPATH_AUTO && !r->has_priority, "rule 1 datapath");
	CHECK(&c, r->has_match && m->has_bpf && m->bpf_object && m->bpf_program &&
		  !strcmp(m->bpf_object, "/etc/tcspan/cls.o") &&
		  !strcmp(m->bpf_program, "my_cls") && !m->has_protocol && !m->n_src,
	      "rule 1 bpf");

	r = &t->rules[2];
	m = &r->match;
	CHECK(&c, r->hooks == TCSPAN_HOOK_EGRESS && m->ether_type == 0x86dd &&
		  m->protocol == 58 && !m->has_dst_port && !m->has_sample,
	      "rule 2: ether_type as a quoted hex string, protocol as a number");
out:
	report("values: good/spec.yaml", &c);
	tcspan_topology__free(t);
	tcspan_error__free(err);
}

/* Parse a buffer; the errors stay in *err for the caller to look at. */
static struct tcspan_topology *parse(const char *yaml, struct tcspan_error **err)
{
	*err = tcspan_error__new();
	return tcspan_topology__from_buffer("t.yaml", yaml, strlen(yaml), *err);
}

/*
 * Problems come out sorted by position, not in the order they are found:
 * `defaults` is read before the rules above it, and loops after all.
 */
static void test_all_errors_sorted(void)
{
	static const char yaml[] =
		"version: 1\n"				/* 1 */
		"name: sorted\n"			/* 2 */
		"rules:\n"				/* 3 */
		"  - name: loop\n"			/* 4: loop */
		"    action: mirror\n"
		"    from: eth0\n"
		"    direction: both\n"
		"    to: eth0\n"
		"  - name: r2\n"			/* 9 */
		"    action: mirror\n"
		"    from: eth0\n"
		"    direction: ingress\n"
		"    to: { dev: eth1, color: red }\n"	/* 13:22 */
		"defaults:\n"				/* 14 */
		"  datapath: fast\n"			/* 15:13 */
		"version: 2\n";				/* 16:1 duplicate */
	static const unsigned int lines[] = { 4, 13, 15, 16 };
	struct tcspan_error *err;
	struct tcspan_topology *t;
	struct check c = { 0 };
	unsigned int line, prev = 0;
	size_t i, n;

	t = parse(yaml, &err);
	n = tcspan_error__count(err);
	CHECK(&c, !t && errno == EINVAL, "accepted, or errno %d", errno);
	CHECK(&c, n == 4, "%zu errors, not 4", n);
	for (i = 0; i < n; i++) {
		const char *m = tcspan_error__message(err, i);

		CHECK(&c, sscanf(m, "t.yaml:%u:", &line) == 1, "no line in \"%s\"", m);
		CHECK(&c, line >= prev, "\"%s\" after line %u", m, prev);
		CHECK(&c, i >= 4 || line == lines[i], "error %zu at line %u, not %u", i + 1,
		      line, lines[i]);
		prev = line;
	}
	CHECK(&c, n < 2 || !strcmp(tcspan_error__message(err, 1),
				   "t.yaml:13:22: error: unknown key \"color\""),
	      "\"%s\"", tcspan_error__message(err, 1));
	report("several errors: all reported, sorted by line", &c);
	tcspan_topology__free(t);
	tcspan_error__free(err);
}

/* Exactly one error, and it reads `expected` (after "t.yaml:"). */
static void expect_one(const char *name, const char *yaml, size_t len, const char *expected)
{
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_topology *t;
	struct check c = { 0 };
	const char *got;

	t = tcspan_topology__from_buffer("t.yaml", yaml, len, err);
	got = tcspan_error__count(err) ? after_file(tcspan_error__message(err, 0), "t.yaml") : NULL;
	CHECK(&c, !t, "accepted");
	CHECK(&c, tcspan_error__count(err) == 1, "%zu errors", tcspan_error__count(err));
	CHECK(&c, got && !strcmp(got, expected), "expected \"%s\", got \"%s\"", expected,
	      tcspan_error__count(err) ? tcspan_error__message(err, 0) : "nothing");
	report(name, &c);
	tcspan_topology__free(t);
	tcspan_error__free(err);
}

/* rules: [[[...]]]: the top mapping is level 1, each "[" one more. */
static char *nested(unsigned int brackets)
{
	char *yaml = malloc(64 + 2 * brackets), *p;
	unsigned int i;

	if (!yaml)
		return NULL;
	p = yaml + sprintf(yaml, "version: 1\nname: deep\nrules: ");
	for (i = 0; i < brackets; i++)
		*p++ = '[';
	for (i = 0; i < brackets; i++)
		*p++ = ']';
	strcpy(p, "\n");
	return yaml;
}

static void test_limits(void)
{
	size_t i, big = CONFIG_MAX_FILE_SIZE + 1, n_items = CONFIG_MAX_NODES;
	char *yaml, *p;

	/* 32 levels are fine (the error is about what is in them), 33 are not. */
	yaml = nested(31);
	if (yaml)
		expect_one("limits: 32 levels of nesting", yaml, strlen(yaml),
			   "3:9: error: each item of \"rules\" must be a mapping");
	free(yaml);
	yaml = nested(32);
	if (yaml)
		expect_one("limits: 33 levels of nesting", yaml, strlen(yaml),
			   "3:39: error: nesting deeper than 32 levels");
	free(yaml);

	yaml = malloc(big);
	if (yaml) {
		memset(yaml, '\n', big);
		yaml[0] = '#';
		expect_one("limits: over 16 MiB", yaml, big, "error: larger than 16 MiB");
	}
	free(yaml);

	/*
	 * 7 nodes before the list (mapping, 3 keys... up to the sequence), so
	 * the limit is crossed inside the list, at the item on column 2 * n.
	 */
	yaml = malloc(64 + 2 * n_items);
	if (yaml) {
		char want[64];

		p = yaml + sprintf(yaml, "version: 1\nname: many\nnamespaces: [");
		for (i = 0; i < n_items; i++)
			p += sprintf(p, "a,");
		strcpy(p - 1, "]\n");
		snprintf(want, sizeof(want), "3:%zu: error: more than %u nodes",
			 2 * n_items, CONFIG_MAX_NODES);
		expect_one("limits: over the node limit", yaml, strlen(yaml), want);
	}
	free(yaml);

	/* A flood of problems (here 100,000 aliases) stops after the first 100. */
	yaml = malloc(64 + 16 * 100000);
	if (yaml) {
		struct tcspan_error *err = tcspan_error__new();
		struct tcspan_topology *t;
		size_t n;

		p = yaml + sprintf(yaml, "version: 1\nname: x\nrules:\n");
		for (i = 0; i < 100000; i++)
			p += sprintf(p, "  - *a%zu\n", i);
		t = tcspan_topology__from_buffer("t.yaml", yaml, p - yaml, err);
		n = tcspan_error__count(err);
		unit_result(!t && n == CONFIG_MAX_PROBLEMS + 1 &&
			    !strcmp(tcspan_error__message(err, n - 1),
				    "t.yaml: error: more than 100 problems; the file was read "
				    "no further"),
			    "limits: 100,000 problems stop after the first 100",
			    "%zu messages, last: %s", n, n ? tcspan_error__message(err, n - 1) : "");
		tcspan_topology__free(t);
		tcspan_error__free(err);
	}
	free(yaml);
}

/*
 * Problems that are simpler to write here than as files: positions on a
 * line of their own, and bytes that a file of tests would hide.
 */
static void test_inline_errors(void)
{
	static const char tab[] = "version: 1\nname: t\nrules:\n\t- name: x\n";
	static const char many_keys[] = "version: 1\nname: k\nname: l\nname: m\n";
	struct tcspan_error *err;
	struct tcspan_topology *t;
	struct check c = { 0 };

	expect_one("inline: tab before a list item", tab, sizeof(tab) - 1,
		   "4:1: error: found character that cannot start any token "
		   "(a tab: YAML indents with spaces only)");
	expect_one("inline: NULL buffer of length 0 is an empty file", NULL, 0,
		   "1:1: error: empty file");

	/* Each later copy of a key names the first one. */
	t = parse(many_keys, &err);
	CHECK(&c, !t && tcspan_error__count(err) == 2 &&
		  !strcmp(tcspan_error__message(err, 0),
			  "t.yaml:3:1: error: duplicate key \"name\" (first at 2:1)") &&
		  !strcmp(tcspan_error__message(err, 1),
			  "t.yaml:4:1: error: duplicate key \"name\" (first at 2:1)"),
	      "got \"%s\"", tcspan_error__count(err) ? tcspan_error__message(err, 0) : "");
	report("inline: three copies of a key", &c);
	tcspan_topology__free(t);
	tcspan_error__free(err);
}

static void test_from_file_errors(const char *dir)
{
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_topology *t;
	struct check c = { 0 };
	char path[4096], want[4200];

	snprintf(path, sizeof(path), "%s/no-such-file.yaml", dir);
	snprintf(want, sizeof(want), "%s: error: cannot read: No such file or directory", path);
	errno = 0;
	t = tcspan_topology__from_file(path, err);
	CHECK(&c, !t && errno == ENOENT, "errno %d", errno);
	CHECK(&c, tcspan_error__count(err) == 1 && !strcmp(tcspan_error__message(err, 0), want),
	      "got \"%s\"", tcspan_error__count(err) ? tcspan_error__message(err, 0) : "");
	report("from_file: a missing file", &c);
	tcspan_topology__free(t);

	memset(&c, 0, sizeof(c));
	tcspan_error__clear(err);
	snprintf(want, sizeof(want), "%s: error: cannot read: Is a directory", dir);
	t = tcspan_topology__from_file(dir, err);
	CHECK(&c, !t && errno == EISDIR, "errno %d", errno);
	CHECK(&c, tcspan_error__count(err) == 1 && !strcmp(tcspan_error__message(err, 0), want),
	      "got \"%s\"", tcspan_error__count(err) ? tcspan_error__message(err, 0) : "");
	report("from_file: a directory", &c);
	tcspan_topology__free(t);
	tcspan_error__free(err);

	/* No error object: still NULL and errno, nothing else. */
	memset(&c, 0, sizeof(c));
	errno = 0;
	t = tcspan_topology__from_buffer("t.yaml", "name: [", 7, NULL);
	CHECK(&c, !t && errno == EINVAL, "errno %d", errno);
	CHECK(&c, !tcspan_topology__name(NULL) && !tcspan_topology__rule_count(NULL),
	      "accessors of NULL");
	tcspan_topology__free(NULL);
	tcspan_model__free(NULL);
	report("from_buffer: no error object", &c);
}

/* ---- tcspan_model__check_namespaces ------------------------------------- */

struct fake_system {
	const char *const *present;
	unsigned int calls;
	bool asked_listed;	/* asked about a namespace the file lists */
};

static bool fake_exists(const char *netns, void *ctx)
{
	struct fake_system *sys = ctx;
	const char *const *p;

	sys->calls++;
	if (!*netns || !strcmp(netns, "listed"))
		sys->asked_listed = true;
	for (p = sys->present; *p; p++)
		if (!strcmp(*p, netns))
			return true;
	return false;
}

static void test_check_namespaces(void)
{
	static const char yaml[] =
		"version: 1\n"
		"name: ns\n"
		"namespaces: [listed]\n"
		"links:\n"
		"  - a: listed/eth0\n"		/* 5 */
		"    b: present/eth0\n"		/* 6 */
		"  - a: missing/eth1\n"		/* 7:8 */
		"    b: eth1\n"			/* 8: the caller's */
		"devices:\n"
		"  - { name: vx0, netns: gone, kind: ifb }\n"	/* 10:13 */
		"rules:\n"
		"  - name: r\n"
		"    action: mirror\n"
		"    from: missing/eth2\n"	/* 14:11 */
		"    direction: ingress\n"
		"    to: { netns: missing, dev: eth3 }\n";	/* 16:9 */
	static const char *const present[] = { "present", NULL };
#define MISSING(at, name) \
	"t.yaml:" at ": error: namespace \"" name "\" is not in \"namespaces\" and does not exist"
	static const char *const expected[] = {
		MISSING("7:8", "missing"), MISSING("10:13", "gone"),
		MISSING("14:11", "missing"), MISSING("16:9", "missing"),
	};
#undef MISSING
	struct fake_system sys = { .present = present };
	struct tcspan_error *err;
	struct tcspan_topology *t;
	struct check c = { 0 };
	size_t i;
	int ret;

	t = parse(yaml, &err);
	CHECK(&c, t, "%s", tcspan_error__count(err) ? tcspan_error__message(err, 0) : "NULL");
	if (!t)
		goto out;
	CHECK(&c, t->devices[0].ep.mark.line == 10 && t->devices[0].ep.mark.column == 13,
	      "device mark %u:%u", t->devices[0].ep.mark.line, t->devices[0].ep.mark.column);
	ret = tcspan_model__check_namespaces(t, fake_exists, &sys, err);
	CHECK(&c, ret == -EINVAL, "returned %d", ret);
	CHECK(&c, !sys.asked_listed, "asked the system about \"\" or a listed namespace");
	CHECK(&c, sys.calls == 5, "%u calls to exists()", sys.calls);
	CHECK(&c, tcspan_error__count(err) == 4, "%zu errors", tcspan_error__count(err));
	for (i = 0; i < 4 && i < tcspan_error__count(err); i++)
		CHECK(&c, !strcmp(tcspan_error__message(err, i), expected[i]),
		      "error %zu: \"%s\"", i + 1, tcspan_error__message(err, i));

	/* When everything exists: 0 and no message. */
	tcspan_error__clear(err);
	sys.present = (const char *const[]){ "present", "missing", "gone", NULL };
	ret = tcspan_model__check_namespaces(t, fake_exists, &sys, err);
	CHECK(&c, ret == 0 && !tcspan_error__count(err), "all present: %d", ret);
out:
	report("check_namespaces: a fake system", &c);
	tcspan_topology__free(t);
	tcspan_error__free(err);
}

static void test_strings(void)
{
	struct tcspan_endpoint ep = { .netns = "server", .dev = "eth0" };
	struct tcspan_prefix p = { .family = AF_INET6, .len = 64 };
	char buf[TCSPAN_NETNS_NAME_MAX + IFNAMSIZ + 2], small[8];
	struct check c = { 0 };

	CHECK(&c, !strcmp(tcspan_endpoint__str(&ep, buf, sizeof(buf)), "server/eth0"),
	      "\"%s\"", buf);
	ep.netns[0] = '\0';
	CHECK(&c, !strcmp(tcspan_endpoint__str(&ep, buf, sizeof(buf)), "eth0"), "\"%s\"", buf);
	inet_pton(AF_INET6, "2001:db8::", &p.addr.v6);
	CHECK(&c, !strcmp(tcspan_prefix__str(&p, buf, sizeof(buf)), "2001:db8::/64"),
	      "\"%s\"", buf);
	CHECK(&c, !strcmp(tcspan_prefix__str(&p, small, sizeof(small)), "2001:db"),
	      "truncated: \"%s\"", small);
	report("strings: endpoint and prefix", &c);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/unit";

	test_bad_files(dir);
	test_good_files(dir);
	test_spec_values(dir);
	test_all_errors_sorted();
	test_limits();
	test_inline_errors();
	test_from_file_errors(dir);
	test_check_namespaces();
	test_strings();
	return unit_exit();
}

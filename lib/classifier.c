// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "classifier.h"
#include "classifier.skel.h"

void classifier_cfg(const struct tcspan_match *m, struct tcspan_match_cfg *cfg)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	if (m->has_ether_type) {
		cfg->keys |= TCSPAN_KEY_ETHER_TYPE;
		cfg->ether_type = m->ether_type;
	}
	if (m->has_vlan) {
		cfg->keys |= TCSPAN_KEY_VLAN;
		cfg->vlan = m->vlan;
	}
	if (m->has_protocol) {
		cfg->keys |= TCSPAN_KEY_PROTOCOL;
		cfg->protocol = m->protocol;
	}
	if (m->has_src_port) {
		cfg->keys |= TCSPAN_KEY_SRC_PORT;
		cfg->src_port_first = m->src_port.first;
		cfg->src_port_last = m->src_port.last;
	}
	if (m->has_dst_port) {
		cfg->keys |= TCSPAN_KEY_DST_PORT;
		cfg->dst_port_first = m->dst_port.first;
		cfg->dst_port_last = m->dst_port.last;
	}
	if (m->has_sample) {
		cfg->keys |= TCSPAN_KEY_SAMPLE;
		cfg->sample = m->sample;
	}
	/* The model caps lists at TCSPAN_LIST_MAX == TCSPAN_MATCH_CIDRS. */
	for (i = 0; i < m->n_src && i < TCSPAN_MATCH_CIDRS; i++) {
		cfg->src[i].family = m->src[i].family;
		cfg->src[i].len = m->src[i].len;
		memcpy(cfg->src[i].addr, &m->src[i].addr, m->src[i].family == AF_INET ?
		       sizeof(struct in_addr) : sizeof(struct in6_addr));
	}
	cfg->n_src = i;
	if (i)
		cfg->keys |= TCSPAN_KEY_SRC;
	for (i = 0; i < m->n_dst && i < TCSPAN_MATCH_CIDRS; i++) {
		cfg->dst[i].family = m->dst[i].family;
		cfg->dst[i].len = m->dst[i].len;
		memcpy(cfg->dst[i].addr, &m->dst[i].addr, m->dst[i].family == AF_INET ?
		       sizeof(struct in_addr) : sizeof(struct in6_addr));
	}
	cfg->n_dst = i;
	if (i)
		cfg->keys |= TCSPAN_KEY_DST;
}

_Static_assert(TCSPAN_LIST_MAX == TCSPAN_MATCH_CIDRS, "a match list fits the program");

uint32_t classifier_sample_flows(const struct tcspan_match *m)
{
	if (!m->has_sample)
		return 1;	/* the map costs memory only where `sample` uses it */
	return m->sample_flows ? m->sample_flows : TCSPAN_SAMPLE_FLOWS;
}

static uint32_t fnv1a(uint32_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

/* FNV-1a over `len` zero bytes: each one multiplies by the prime. */
static uint32_t fnv1a_zeros(uint32_t h, size_t len)
{
	uint32_t p = 16777619u;

	for (; len; len >>= 1, p *= p)
		if (len & 1)
			h *= p;
	return h;
}

/*
 * FNV-1a of the whole table entry, as the cookie has always carried it;
 * the unused CIDR slots are zeros (classifier_cfg()), hashed in a few
 * multiplications instead of byte by byte: a plan of 10,000 match rules
 * hashed 25 MB.
 */
uint32_t classifier_match_hash(const struct tcspan_match *m)
{
	const size_t cidr = sizeof(((struct tcspan_match_cfg *)0)->src[0]);
	struct tcspan_match_cfg cfg;
	uint32_t flows = classifier_sample_flows(m), h;

	classifier_cfg(m, &cfg);
	h = fnv1a(2166136261u, &cfg, offsetof(struct tcspan_match_cfg, src));
	h = fnv1a(h, cfg.src, cfg.n_src * cidr);
	h = fnv1a_zeros(h, (TCSPAN_MATCH_CIDRS - cfg.n_src) * cidr);
	h = fnv1a(h, cfg.dst, cfg.n_dst * cidr);
	h = fnv1a_zeros(h, (TCSPAN_MATCH_CIDRS - cfg.n_dst) * cidr);
	h = fnv1a(h, &flows, sizeof(flows));
	return (h ^ (h >> 30)) & 0x3fffffff;
}

/* libbpf's last lines (the verifier log ends with the reason). */
static char load_log[1024];

static int capture(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	size_t n, have, drop;
	const char *text;
	char *line;

	if (level == LIBBPF_DEBUG)
		return 0;
	/* The verifier's log comes as one long string: keep all of it. */
	if (vasprintf(&line, fmt, ap) < 0)
		return 0;
	n = strlen(line);
	text = n >= sizeof(load_log) ? line + n - (sizeof(load_log) - 1) : line;
	n = strlen(text);
	have = strlen(load_log);
	/* Keep the tail: drop the oldest text when the new text does not fit. */
	if (have + n + 1 > sizeof(load_log)) {
		drop = have + n + 1 - sizeof(load_log);
		memmove(load_log, load_log + drop, have - drop + 1);
	}
	strncat(load_log, text, sizeof(load_log) - strlen(load_log) - 1);
	free(line);
	return 0;
}

/*
 * The captured log as one line: the verifier's last three lines before its
 * statistics (the reason is there), without libbpf's own lines and its
 * "-- BEGIN/END PROG LOAD LOG --" frame, joined by " / ".
 */
static const char *load_log_line(void)
{
	char copy[sizeof(load_log)], *line[3] = {}, *save = NULL, *l;
	size_t n = 0, i;

	memcpy(copy, load_log, sizeof(copy));
	for (l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!l[strspn(l, " \t")] || strstr(l, "PROG LOAD LOG --") ||
		    !strncmp(l, "libbpf: ", 8) || !strncmp(l, "processed ", 10) ||
		    !strncmp(l, "verification time", 17))
			continue;
		line[n % 3] = l;
		n++;
	}
	load_log[0] = '\0';
	for (i = n > 3 ? n - 3 : 0; i < n; i++) {
		if (load_log[0])
			strncat(load_log, " / ", sizeof(load_log) - strlen(load_log) - 1);
		strncat(load_log, line[i % 3], sizeof(load_log) - strlen(load_log) - 1);
	}
	return load_log;
}

#define CLASSIFIER_OBJECT_MAX (64u << 20)

static int read_all(int fd, struct classifier_object *obj, off_t size)
{
	size_t cap = size > 0 ? (size_t)size + 1 : 4096;
	ssize_t n;
	void *p;

	obj->data = malloc(cap);
	if (!obj->data)
		return -ENOMEM;
	for (;;) {
		if (obj->size == cap && cap >= CLASSIFIER_OBJECT_MAX)
			return -EFBIG;	/* it grew since fstat() */
		if (obj->size == cap) {
			p = realloc(obj->data, cap * 2);
			if (!p)
				return -ENOMEM;
			obj->data = p;
			cap *= 2;
		}
		n = read(fd, (char *)obj->data + obj->size, cap - obj->size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return 0;
		obj->size += n;
	}
}

static bool is_classifier(const struct bpf_program *prog)
{
	return bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS;
}

int classifier_object_read(const struct tcspan_match *m, const char *what,
			   struct classifier_object *obj, struct tcspan_error *err)
{
	const char *path = m->bpf_object;
	struct bpf_program *prog, *found = NULL;
	struct bpf_object *bo = NULL;
	libbpf_print_fn_t old;
	unsigned int n = 0;
	struct stat st;
	int fd, ret;
	uint32_t h;

	memset(obj, 0, sizeof(*obj));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return tcspan_error__add(err, -errno, "%smatch.bpf object \"%s\": %s", what, path,
					 errno == ELOOP ? "is a symbolic link" : strerror(errno));
	/* Everything below is about this descriptor, not about the name. */
	if (fstat(fd, &st) < 0) {
		ret = tcspan_error__add(err, -errno, "%smatch.bpf object \"%s\": %s", what,
					path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = tcspan_error__add(err, -EINVAL, "%smatch.bpf object \"%s\" is not a "
					"regular file", what, path);
		goto out;
	}
	if (st.st_uid != 0) {
		ret = tcspan_error__add(err, -EPERM, "%smatch.bpf object \"%s\" is owned by "
					"uid %u, not by root", what, path,
					(unsigned int)st.st_uid);
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		ret = tcspan_error__add(err, -EPERM, "%smatch.bpf object \"%s\" is writable "
					"by %s (mode %04o)", what, path,
					(st.st_mode & S_IWGRP) ? "its group" : "others",
					(unsigned int)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > CLASSIFIER_OBJECT_MAX) {
		ret = tcspan_error__add(err, -EFBIG, "%smatch.bpf object \"%s\" is larger than "
					"%u MiB", what, path, CLASSIFIER_OBJECT_MAX >> 20);
		goto out;
	}
	ret = read_all(fd, obj, st.st_size);
	if (ret) {
		ret = tcspan_error__add(err, ret, "%smatch.bpf object \"%s\": %s", what, path,
					strerror(-ret));
		goto out;
	}

	if (!obj->size) {
		ret = tcspan_error__add(err, -EINVAL, "%smatch.bpf object \"%s\" is empty",
					what, path);
		goto out;
	}
	load_log[0] = '\0';
	old = libbpf_set_print(capture);
	{
		const char *base = strrchr(path, '/');
		LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = base ? base + 1 : path);

		bo = bpf_object__open_mem(obj->data, obj->size, &opts);
	}
	ret = bo ? 0 : -errno;
	libbpf_set_print(old);
	if (!bo) {
		char reason[128];

		load_log_line();
		/* libbpf's own codes (LIBBPF_ERRNO__*) are above errno's. */
		libbpf_strerror(ret ? ret : -EINVAL, reason, sizeof(reason));
		ret = tcspan_error__add(err, ret && ret > -4000 ? ret : -EINVAL,
					"%smatch.bpf object \"%s\" is not a BPF object: %s%s%s",
					what, path, reason, load_log[0] ? ": " : "", load_log);
		goto out;
	}
	if (m->bpf_program) {
		found = bpf_object__find_program_by_name(bo, m->bpf_program);
		if (!found) {
			ret = tcspan_error__add(err, -ENOENT, "%smatch.bpf object \"%s\" has no "
						"program \"%s\"", what, path, m->bpf_program);
			goto out;
		}
		if (!is_classifier(found)) {
			const char *type = libbpf_bpf_prog_type_str(bpf_program__type(found));

			ret = tcspan_error__add(err, -EINVAL, "%smatch.bpf program \"%s\" in \"%s\" "
						"is of type %s, not a tc classifier (SEC \"tc\" "
						"or \"classifier\")", what, m->bpf_program, path,
						type ? type : "unknown");
			goto out;
		}
	} else {
		bpf_object__for_each_program(prog, bo) {
			if (is_classifier(prog)) {
				found = prog;
				n++;
			}
		}
		if (n != 1) {
			ret = tcspan_error__add(err, -EINVAL, "%smatch.bpf object \"%s\" holds %u tc "
						"classifier programs (SEC \"tc\" or \"classifier\"); "
						"%s", what, path, n,
						n ? "name one with \"program\"" : "it needs one");
			goto out;
		}
	}
	obj->program = strdup(bpf_program__name(found));
	if (!obj->program) {
		ret = tcspan_error__add(err, -ENOMEM, "%sout of memory", what);
		goto out;
	}
	h = fnv1a(2166136261u, obj->data, obj->size);
	h = fnv1a(h, obj->program, strlen(obj->program) + 1);
	obj->hash = (h ^ (h >> 30)) & 0x3fffffff;
	ret = 0;
out:
	bpf_object__close(bo);
	close(fd);
	return ret;
}

void classifier_object_free(struct classifier_object *obj)
{
	if (!obj)
		return;
	free(obj->data);
	free(obj->program);
	memset(obj, 0, sizeof(*obj));
}

/* The program of a match.bpf object; only it is loaded. */
static int load_own(const struct classifier_object *obj, const char *path)
{
	const char *base = strrchr(path, '/');
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = base ? base + 1 : path);
	struct bpf_program *prog, *want;
	struct bpf_object *bo;
	int ret, fd = -1;

	bo = bpf_object__open_mem(obj->data, obj->size, &opts);
	if (!bo)
		return -errno ? -errno : -EINVAL;
	want = bpf_object__find_program_by_name(bo, obj->program);
	if (!want || !is_classifier(want)) {
		ret = -ENOENT;
		goto out;
	}
	bpf_object__for_each_program(prog, bo)
		bpf_program__set_autoload(prog, prog == want);
	ret = bpf_object__load(bo);
	if (!ret) {
		fd = fcntl(bpf_program__fd(want), F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			ret = -errno;
	}
out:
	bpf_object__close(bo);
	return ret ? ret : fd;
}

const char *classifier_eperm_hint(const char *release, unsigned long long memlock,
				  char *buf, size_t len)
{
	unsigned int major = 0, minor = 0;
	bool charged;

	charged = sscanf(release, "%u.%u", &major, &minor) == 2 &&
		  (major < 5 || (major == 5 && minor < 11));
	if (charged && memlock != (unsigned long long)RLIM_INFINITY)
		snprintf(buf, len, " (kernel %u.%u charges BPF memory to RLIMIT_MEMLOCK, "
			 "which is %llu KiB and could not be raised without CAP_SYS_RESOURCE: "
			 "run `ulimit -l unlimited` first)", major, minor, memlock >> 10);
	else
		snprintf(buf, len, " (needs CAP_BPF with CAP_PERFMON, or CAP_SYS_ADMIN)");
	return buf;
}

/* The hint for an EPERM of this process on this kernel. */
static const char *eperm_hint(char *buf, size_t len)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	struct utsname u;

	if (uname(&u))
		u.release[0] = '\0';
	getrlimit(RLIMIT_MEMLOCK, &rl);
	return classifier_eperm_hint(u.release, rl.rlim_cur, buf, len);
}

/* A failed load's message: errno, a hint for EPERM, the loader's last lines. */
static int load_error(int ret, const char *what, const char *thing, struct tcspan_error *err)
{
	char hint[192] = "";

	load_log_line();
	if (ret == -EPERM)
		eperm_hint(hint, sizeof(hint));
	return tcspan_error__add(err, ret < 0 ? ret : -EINVAL, "%scannot load %s: %s%s%s%s",
				 what, thing, strerror(ret < 0 ? -ret : EINVAL), hint,
				 load_log[0] ? ": " : "", load_log);
}

int classifier_load_object(const char *path, const struct classifier_object *obj,
			   const char *what, struct tcspan_error *err)
{
	char thing[PATH_MAX + 128];
	libbpf_print_fn_t old;
	int fd;

	load_log[0] = '\0';
	old = libbpf_set_print(capture);
	fd = load_own(obj, path);
	libbpf_set_print(old);
	if (fd >= 0)
		return fd;
	snprintf(thing, sizeof(thing), "program \"%s\" of \"%s\"", obj->program, path);
	return load_error(fd, what, thing, err);
}

/* One loaded copy of the built-in classifier, with `size` rule slots. */
struct shared_copy {
	struct tcspan_classifier *skel;
	uint32_t size, used;
};

struct classifier_shared {
	uint32_t left;			/* rules still to come, as announced */
	struct shared_copy *copies;
	size_t n_copies;
};

struct classifier_shared *classifier_shared__new(uint32_t rules)
{
	struct classifier_shared *s = calloc(1, sizeof(*s));

	if (s)
		s->left = rules;
	return s;
}

void classifier_shared__free(struct classifier_shared *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n_copies; i++)
		tcspan_classifier__destroy(s->copies[i].skel);
	free(s->copies);
	free(s);
}

/* A new copy with room for the rules still to come (one at least). */
static int shared_load(struct classifier_shared *s, struct shared_copy **out)
{
	uint32_t size = s->left ? s->left : 1;
	struct shared_copy *copies, *c;
	int ret;

	if (size > CLASSIFIER_SLOTS)
		size = CLASSIFIER_SLOTS;
	copies = realloc(s->copies, (s->n_copies + 1) * sizeof(*copies));
	if (!copies)
		return -ENOMEM;
	s->copies = copies;
	c = &copies[s->n_copies];
	memset(c, 0, sizeof(*c));
	c->size = size;
	c->skel = tcspan_classifier__open();
	if (!c->skel)
		return -errno ? -errno : -ENOMEM;
	ret = bpf_map__set_max_entries(c->skel->maps.rules, size);
	if (!ret)
		ret = bpf_map__set_max_entries(c->skel->maps.sample_flows, size);
	if (!ret)
		ret = tcspan_classifier__load(c->skel);
	if (ret) {
		tcspan_classifier__destroy(c->skel);
		return ret;
	}
	s->n_copies++;
	*out = c;
	return 0;
}

/* `sample`'s flow table of the rule in `slot`, `flows` entries. */
static int shared_flows(struct shared_copy *c, uint32_t slot, uint32_t flows)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	int fd, ret;

	fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "tcspan_flows", sizeof(struct tcspan_flow_key),
			    sizeof(__u8), flows, &opts);
	if (fd < 0)
		return -errno;
	/* The rules' table keeps it; this descriptor can go. */
	ret = bpf_map_update_elem(bpf_map__fd(c->skel->maps.sample_flows), &slot, &fd, BPF_ANY);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

int classifier_shared__add(struct classifier_shared *s, const struct tcspan_match_cfg *cfg,
			   uint32_t flows, uint32_t *classid, const char *what,
			   struct tcspan_error *err)
{
	struct shared_copy *c = s->n_copies ? &s->copies[s->n_copies - 1] : NULL;
	libbpf_print_fn_t old;
	uint32_t slot;
	int ret = 0;

	if (!c || c->used == c->size) {
		load_log[0] = '\0';
		old = libbpf_set_print(capture);
		ret = shared_load(s, &c);
		libbpf_set_print(old);
		if (ret)
			return load_error(ret, what, "the BPF classifier", err);
	}
	slot = c->used;
	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.rules), &slot, cfg, BPF_ANY))
		ret = -errno;
	else if ((cfg->keys & TCSPAN_KEY_SAMPLE) && cfg->sample > 1)
		ret = shared_flows(c, slot, flows);
	if (ret) {
		char hint[192] = "";

		if (ret == -EPERM)
			eperm_hint(hint, sizeof(hint));
		return tcspan_error__add(err, ret, "%scannot fill the BPF classifier's tables: %s%s",
					 what, strerror(-ret), hint);
	}
	c->used++;
	if (s->left)
		s->left--;
	*classid = slot;
	return bpf_program__fd(c->skel->progs.tcspan_classify);
}

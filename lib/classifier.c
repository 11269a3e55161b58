// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
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

uint32_t classifier_match_hash(const struct tcspan_match *m)
{
	struct tcspan_match_cfg cfg;
	uint32_t flows = classifier_sample_flows(m), h;

	classifier_cfg(m, &cfg);
	h = fnv1a(2166136261u, &cfg, sizeof(cfg));
	h = fnv1a(h, &flows, sizeof(flows));
	return (h ^ (h >> 30)) & 0x3fffffff;
}

/* libbpf's last lines (the verifier log ends with the reason). */
static char load_log[1024];

static int capture(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];
	size_t n, have;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	have = strlen(load_log);
	/* Keep the tail: drop the oldest text when the new line does not fit. */
	if (have + n + 1 > sizeof(load_log)) {
		size_t drop = have + n + 1 - sizeof(load_log);

		if (drop > have)
			drop = have;
		memmove(load_log, load_log + drop, have - drop + 1);
	}
	strncat(load_log, line, sizeof(load_log) - strlen(load_log) - 1);
	return 0;
}

int classifier_load(const struct tcspan_match *m, const char *what,
		    struct tcspan_error *err)
{
	struct tcspan_match_cfg cfg;
	struct tcspan_classifier *skel;
	libbpf_print_fn_t old;
	int ret, fd = -1;
	char *nl;

	classifier_cfg(m, &cfg);
	load_log[0] = '\0';
	old = libbpf_set_print(capture);
	skel = tcspan_classifier__open();
	if (!skel) {
		ret = -errno;
		goto out;
	}
	memcpy((void *)&skel->rodata->cfg, &cfg, sizeof(cfg));
	ret = bpf_map__set_max_entries(skel->maps.sample_flows, classifier_sample_flows(m));
	if (!ret)
		ret = tcspan_classifier__load(skel);
	if (!ret) {
		/* The program keeps its map; the skeleton's fds can go. */
		fd = fcntl(bpf_program__fd(skel->progs.tcspan_classify), F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			ret = -errno;
	}
out:
	libbpf_set_print(old);
	tcspan_classifier__destroy(skel);
	if (ret) {
		while ((nl = strrchr(load_log, '\n')) && !nl[1])
			*nl = '\0';
		for (nl = load_log; (nl = strchr(nl, '\n'));)
			*nl = ' ';
		return tcspan_error__add(err, ret < 0 ? ret : -EINVAL,
					 "%scannot load the BPF classifier: %s%s%s", what,
					 strerror(ret < 0 ? -ret : EINVAL),
					 load_log[0] ? ": " : "", load_log);
	}
	return fd;
}

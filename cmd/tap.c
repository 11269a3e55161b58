// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcspan tap: mirror devices for as long as a command runs, into one
 * capture file.  See tap.h for how leftovers are recognised.
 *
 * A tap is a topology written as YAML in memory and applied through the
 * library like any other, so that it is validated, planned, locked and
 * undone as apply does it.  For `-w`, each source NETNS/DEV gets a veth
 * pair tsIDsN (in NETNS) -- tsIDcN (in the caller's namespace) and a rule
 * mirroring DEV to tsIDsN; the copies come out at tsIDcN, where libpcap
 * reads them.  With `--to` the rules mirror to that device instead.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "tcspan.h"

#define TAPS_DIR	"/run/tcspan/taps"
#define TAP_PREFIX	"tap-"
#define TAP_FILE	"tap"		/* the "file" name of the generated YAML */
#define MAX_SOURCES	64
#define MAX_MATCH	64
#define DEFAULT_SNAPLEN	262144
#define STOP_GRACE_MS	5000		/* a signalled CMD gets this long */

struct source {
	char netns[256];
	char dev[IF_NAMESIZE];
	const char *arg;		/* as given to --dev */
	char origin[300];		/* "--dev ARG", for messages */
	char near[IF_NAMESIZE];		/* veth end beside DEV: tsIDsN */
	char far[IF_NAMESIZE];		/* veth end captured on: tsIDcN */
	pcap_t *pcap;
	uint64_t packets;
};

struct tap {
	const struct tap_ui *ui;
	char name[16];			/* tap-XXXXXXXX */
	char id[9];
	struct source src[MAX_SOURCES];
	size_t n_src;
	const char *netns, *direction, *file, *to;
	char to_origin[300], dir_origin[64];	/* "--to X", "--direction X" */
	const char *match[MAX_MATCH];
	char *match_origin[MAX_MATCH];	/* "--match KEY=VALUE" */
	size_t n_match;
	bool pcapng;
	unsigned long snaplen, count, duration;
	char **cmd;
	/* the YAML, and for each of its lines the option it came from */
	char *yaml;
	size_t yaml_len, yaml_cap;
	const char **origin;
	size_t n_lines;
	int lock_fd;
	char lock_path[PATH_MAX];
	bool applied;			/* apply was tried: destroy at the end */
	bool created;			/* -w FILE did not exist before */
	FILE *out;
	uint64_t captured;
	bool capturing;
};

static void tap_err(const struct tap *t, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tcspan: %serror:%s tap: ", t->ui->color ? "\033[1;31m" : "",
		t->ui->color ? "\033[0m" : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * The library's messages about the generated YAML ("tap:LINE:COL: error:
 * MSG") are said in terms of the option the line came from.
 */
static void print_errors(const struct tap *t, const struct tcspan_error *err)
{
	size_t i, j, n = tcspan_error__count(err);
	char **said = calloc(n + 1, sizeof(*said));

	for (i = 0; i < n; i++) {
		const char *m = tcspan_error__message(err, i), *at, *o = NULL;
		unsigned long line;
		char *end;

		if (!strncmp(m, TAP_FILE ":", strlen(TAP_FILE ":")) &&
		    (line = strtoul(m + strlen(TAP_FILE ":"), &end, 10)) > 0 &&
		    (at = strstr(end, ": error: "))) {
			o = line <= t->n_lines ? t->origin[line - 1] : NULL;
			m = at + 9;
		}
		if (!said || asprintf(&said[i], "%s%s%s", o ? o : "", o ? ": " : "", m) < 0) {
			tap_err(t, "%s%s%s", o ? o : "", o ? ": " : "", m);
			continue;
		}
		/* Both hooks of a source report its missing device: once. */
		for (j = 0; j < i && (!said[j] || strcmp(said[j], said[i])); j++)
			;
		if (j == i)
			tap_err(t, "%s", said[i]);
	}
	for (i = 0; said && i < n; i++)
		free(said[i]);
	free(said);
}

/* ---- the topology, as YAML ------------------------------------------------ */

static int emit(struct tap *t, const char *origin, const char *fmt, ...)
{
	va_list ap;
	char *line;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (t->yaml_len + n + 2 > t->yaml_cap) {
		size_t cap = (t->yaml_cap + n + 2) * 2;
		char *y = realloc(t->yaml, cap);

		if (!y) {
			free(line);
			return -ENOMEM;
		}
		t->yaml = y;
		t->yaml_cap = cap;
	}
	const char **o = realloc(t->origin, (t->n_lines + 1) * sizeof(*o));

	if (!o) {
		free(line);
		return -ENOMEM;
	}
	t->origin = o;
	t->origin[t->n_lines++] = origin;
	memcpy(t->yaml + t->yaml_len, line, n);
	t->yaml_len += n;
	t->yaml[t->yaml_len++] = '\n';
	t->yaml[t->yaml_len] = '\0';
	free(line);
	return 0;
}

/*
 * A value from the command line as a YAML scalar: digits plain (numbers),
 * everything else double-quoted.  Characters that would need escapes are
 * refused: no value of the schema has them.
 */
static bool quotable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\' || *s == 0x7f)
			return false;
	return true;
}

static const char *scalar(const char *s, char *buf, size_t size)
{
	if (*s && strspn(s, "0123456789") == strlen(s))
		snprintf(buf, size, "%s", s);
	else
		snprintf(buf, size, "\"%s\"", s);
	return buf;
}

static const char *endpoint(const char *netns, const char *dev, char *buf, size_t size)
{
	snprintf(buf, size, "\"%s%s%s\"", netns, *netns ? "/" : "", dev);
	return buf;
}

/* The `match:` block of every rule: repeated keys make a list (ORed). */
static int emit_match(struct tap *t)
{
	char value[512];
	size_t i, j, k;
	int ret = 0;

	if (!t->n_match)
		return 0;
	ret = emit(t, t->match_origin[0], "    match:");
	for (i = 0; !ret && i < t->n_match; i++) {
		const char *item = t->match[i], *eq = strchr(item, '=');
		size_t klen = eq - item, n = 0;
		bool first = true;

		for (j = 0; j < i; j++)
			if (!strncmp(t->match[j], item, klen + 1))
				break;
		if (j < i)
			continue;	/* this key was written with its first item */
		for (k = i; k < t->n_match; k++)
			n += !strncmp(t->match[k], item, klen + 1);
		if (klen == 3 && !strncmp(item, "bpf", 3)) {
			const char *colon = strrchr(eq + 1, ':');

			ret = emit(t, t->match_origin[i], "      bpf: { object: \"%.*s\", program: \"%s\" }",
				   (int)(colon - eq - 1), eq + 1, colon + 1);
			continue;
		}
		if (n == 1) {
			ret = emit(t, t->match_origin[i], "      %.*s: %s", (int)klen, item,
				   scalar(eq + 1, value, sizeof(value)));
			continue;
		}
		for (k = i; !ret && k < t->n_match; k++) {
			if (strncmp(t->match[k], item, klen + 1))
				continue;
			if (first)
				ret = emit(t, t->match_origin[i], "      %.*s:", (int)klen, item);
			first = false;
			if (!ret)
				ret = emit(t, t->match_origin[k], "        - %s",
					   scalar(t->match[k] + klen + 1, value, sizeof(value)));
		}
	}
	return ret;
}

static int build_yaml(struct tap *t)
{
	char from[300], to[300], dir[64];
	size_t i;
	int ret;

	ret = emit(t, NULL, "version: 1");
	if (!ret)
		ret = emit(t, NULL, "name: %s", t->name);
	if (!ret && !t->to)
		ret = emit(t, NULL, "links:");
	for (i = 0; !ret && !t->to && i < t->n_src; i++) {
		struct source *s = &t->src[i];

		ret = emit(t, s->origin, "  - a: %s", endpoint(s->netns, s->near, from, sizeof(from)));
		if (!ret)
			ret = emit(t, NULL, "    b: %s", endpoint("", s->far, to, sizeof(to)));
	}
	if (!ret)
		ret = emit(t, NULL, "rules:");
	for (i = 0; !ret && i < t->n_src; i++) {
		struct source *s = &t->src[i];
		const char *slash = t->to ? strchr(t->to, '/') : NULL;

		ret = emit(t, s->origin, "  - name: source%zu", i);
		if (!ret)
			ret = emit(t, s->origin, "    action: mirror");
		if (!ret)
			ret = emit(t, s->origin, "    from: %s",
				   endpoint(s->netns, s->dev, from, sizeof(from)));
		if (!ret)
			ret = emit(t, t->dir_origin, "    direction: %s",
				   scalar(t->direction, dir, sizeof(dir)));
		if (!ret && t->to) {
			/* "--to DEV" is in the namespace of each source. */
			ret = emit(t, t->to_origin, "    to: %s",
				   slash ? endpoint("", t->to, to, sizeof(to)) :
					   endpoint(s->netns, t->to, to, sizeof(to)));
		} else if (!ret) {
			ret = emit(t, s->origin, "    to: %s",
				   endpoint(s->netns, s->near, to, sizeof(to)));
		}
		if (!ret)
			ret = emit_match(t);
	}
	return ret;
}

/* ---- apply and destroy, as apply and destroy do them --------------------- */

static int apply_yaml(struct tap *t)
{
	struct tcspan_plan_opts popts = { .sz = sizeof(popts) };
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_topology *topo;
	struct tcspan_plan *plan = NULL;
	int ret = -1;

	topo = tcspan_topology__from_buffer(TAP_FILE, t->yaml, t->yaml_len, err);
	if (topo && !tcspan_topology__check_system(topo, err))
		plan = tcspan_plan__new(topo, &popts, err);
	if (plan && !tcspan_plan__apply(plan, err))
		ret = 0;
	if (ret)
		print_errors(t, err);
	tcspan_plan__free(plan);
	tcspan_topology__free(topo);
	tcspan_error__free(err);
	return ret;
}

static int destroy(const struct tap_ui *ui, const char *name)
{
	struct tcspan_plan_opts popts = { .sz = sizeof(popts) };
	struct tcspan_error *err = tcspan_error__new();
	struct tcspan_plan *plan;
	struct tap quiet = { .ui = ui };
	int ret = -1;

	plan = tcspan_plan__new_destroy(name, &popts, err);
	if (plan && !tcspan_plan__apply(plan, err))
		ret = 0;
	else
		print_errors(&quiet, err);
	tcspan_plan__free(plan);
	tcspan_error__free(err);
	return ret;
}

/* ---- liveness: an flock per running tap ----------------------------------- */

static int make_dirs(void)
{
	if (mkdir("/run/tcspan", 0755) && errno != EEXIST)
		return -errno;
	if (mkdir(TAPS_DIR, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static bool is_tap_name(const char *s)
{
	return !strncmp(s, TAP_PREFIX, strlen(TAP_PREFIX)) &&
	       strlen(s) == strlen(TAP_PREFIX) + 8 &&
	       strspn(s + strlen(TAP_PREFIX), "0123456789abcdef") == 8;
}

int tap_reap(const struct tap_ui *ui)
{
	struct tap t = { .ui = ui };
	struct dirent *de;
	char path[PATH_MAX];
	int n = 0, fd;
	DIR *dir;

	dir = opendir(TAPS_DIR);
	if (!dir)
		return errno == ENOENT ? 0 : (tap_err(&t, "cannot read %s: %s", TAPS_DIR,
						      strerror(errno)), -1);
	while ((de = readdir(dir))) {
		if (!is_tap_name(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", TAPS_DIR, de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		/* Held: that tap is running.  Not held: it was killed. */
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			close(fd);
			continue;
		}
		if (destroy(ui, de->d_name)) {
			close(fd);
			n = -1;
			break;
		}
		unlink(path);
		close(fd);
		if (!ui->quiet)
			fprintf(stderr, "tcspan: removed what tap %s left (its process is "
				"gone)\n", de->d_name);
		n++;
	}
	closedir(dir);
	return n;
}

/* Name this tap and hold its lock, under a name no other tap has. */
static int take_name(struct tap *t)
{
	uint32_t r;
	int tries, ret = make_dirs();

	if (ret) {
		tap_err(t, "cannot create %s: %s", TAPS_DIR, strerror(-ret));
		return -1;
	}
	for (tries = 0; tries < 16; tries++) {
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			break;
		snprintf(t->id, sizeof(t->id), "%08x", r);
		snprintf(t->name, sizeof(t->name), TAP_PREFIX "%s", t->id);
		snprintf(t->lock_path, sizeof(t->lock_path), "%s/%s", TAPS_DIR, t->name);
		t->lock_fd = open(t->lock_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (t->lock_fd < 0 && errno == EEXIST)
			continue;
		if (t->lock_fd < 0 || flock(t->lock_fd, LOCK_EX | LOCK_NB)) {
			tap_err(t, "cannot lock %s: %s", t->lock_path, strerror(errno));
			if (t->lock_fd >= 0) {
				close(t->lock_fd);
				unlink(t->lock_path);
			}
			t->lock_fd = -1;
			return -1;
		}
		return 0;
	}
	tap_err(t, "cannot find a free tap name in %s", TAPS_DIR);
	return -1;
}

/* ---- capture files: pcap, or pcapng with one interface per source ------- */

static int put(struct tap *t, const void *p, size_t n)
{
	return fwrite(p, 1, n, t->out) == n ? 0 : -EIO;
}

static int put32(struct tap *t, uint32_t v)
{
	return put(t, &v, 4);
}

static int write_header(struct tap *t, int linktype)
{
	static const char comment[] = "tcspan tap";
	size_t i;
	int ret;

	if (!t->pcapng) {
		struct {
			uint32_t magic;
			uint16_t major, minor;
			int32_t zone;
			uint32_t sigfigs, snaplen, linktype;
		} h = { 0xa1b2c3d4, 2, 4, 0, 0, t->snaplen, linktype };

		return put(t, &h, sizeof(h));
	}
	/* Section header: byte-order magic, version 1.0, length unknown. */
	uint32_t copt = (sizeof(comment) - 1 + 3) & ~3u, shb = 28 + 4 + copt + 4;
	uint64_t unknown = UINT64_MAX;
	uint32_t zero = 0;

	ret = put32(t, 0x0a0d0d0a) ?: put32(t, shb) ?: put32(t, 0x1a2b3c4d) ?:
	      put32(t, 0x00000001) ?: put(t, &unknown, 8) ?:
	      put32(t, 1 | (uint32_t)(sizeof(comment) - 1) << 16) ?:	/* opt_comment */
	      put(t, comment, sizeof(comment) - 1) ?: put(t, &zero, copt - (sizeof(comment) - 1)) ?:
	      put32(t, 0) ?: put32(t, shb);
	/* One interface per source, named after it (if_name). */
	for (i = 0; !ret && i < t->n_src; i++) {
		char name[300];
		uint32_t len, pad, idb;

		snprintf(name, sizeof(name), "%s%s%s", t->src[i].netns,
			 *t->src[i].netns ? "/" : "", t->src[i].dev);
		len = strlen(name);
		pad = ((len + 3) & ~3u) - len;
		idb = 28 + len + pad;
		ret = put32(t, 1) ?: put32(t, idb) ?: put32(t, (uint32_t)linktype) ?:
		      put32(t, t->snaplen) ?: put32(t, 2 | len << 16) ?: put(t, name, len) ?:
		      put(t, &zero, pad) ?: put32(t, 0) ?: put32(t, idb);
	}
	return ret;
}

static int write_packet(struct tap *t, size_t iface, const struct pcap_pkthdr *h,
			const unsigned char *data)
{
	uint32_t zero = 0;

	if (!t->pcapng) {
		uint32_t rec[4] = { (uint32_t)h->ts.tv_sec, (uint32_t)h->ts.tv_usec, h->caplen,
				    h->len };

		return put(t, rec, sizeof(rec)) ?: put(t, data, h->caplen);
	}
	/* Enhanced packet block; timestamps in microseconds (the default). */
	uint64_t us = (uint64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
	uint32_t pad = ((h->caplen + 3) & ~3u) - h->caplen, len = 32 + h->caplen + pad;

	return put32(t, 6) ?: put32(t, len) ?: put32(t, iface) ?:
	       put32(t, us >> 32) ?: put32(t, (uint32_t)us) ?: put32(t, h->caplen) ?:
	       put32(t, h->len) ?: put(t, data, h->caplen) ?: put(t, &zero, pad) ?:
	       put32(t, len);
}

/* ---- capture ------------------------------------------------------------- */

/*
 * The MAC address of device `dev` in namespace `netns`, as text: what the
 * near end sends by itself (IPv6 neighbour discovery, say) is left out of
 * the capture by it.
 */
static int near_mac(const char *netns, const char *dev, char *buf, size_t size)
{
	char path[PATH_MAX];
	struct ifreq ifr = {};
	int self, target = -1, sock = -1, ret = -1;
	unsigned char *m;

	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -1;
	if (*netns) {
		snprintf(path, sizeof(path), "/run/netns/%s", netns);
		target = open(path, O_RDONLY | O_CLOEXEC);
		if (target < 0 || setns(target, CLONE_NEWNET))
			goto out;
	}
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (sock >= 0 && !ioctl(sock, SIOCGIFHWADDR, &ifr)) {
		m = (unsigned char *)ifr.ifr_hwaddr.sa_data;
		snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
			 m[4], m[5]);
		ret = 0;
	}
out:
	if (sock >= 0)
		close(sock);
	if (target >= 0 && setns(self, CLONE_NEWNET))
		ret = -1;	/* cannot happen: we came from there */
	if (target >= 0)
		close(target);
	close(self);
	return ret;
}

static int open_capture(struct tap *t, struct source *s)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "", mac[32], filter[64];
	struct bpf_program prog;
	int ret;

	if (near_mac(s->netns, s->near, mac, sizeof(mac))) {
		tap_err(t, "cannot read the address of %s%s%s", s->netns, *s->netns ? "/" : "",
			s->near);
		return -1;
	}
	s->pcap = pcap_create(s->far, errbuf);
	if (!s->pcap)
		goto fail;
	if (pcap_set_snaplen(s->pcap, t->snaplen) || pcap_set_immediate_mode(s->pcap, 1) ||
	    pcap_set_buffer_size(s->pcap, 8 << 20))
		goto fail_pcap;
	ret = pcap_activate(s->pcap);
	if (ret < 0)
		goto fail_pcap;
	snprintf(filter, sizeof(filter), "not ether src %s", mac);
	if (pcap_setdirection(s->pcap, PCAP_D_IN) ||
	    pcap_compile(s->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN))
		goto fail_pcap;
	ret = pcap_setfilter(s->pcap, &prog);
	pcap_freecode(&prog);
	if (ret || pcap_setnonblock(s->pcap, 1, errbuf))
		goto fail_pcap;
	return 0;
fail_pcap:
	snprintf(errbuf, sizeof(errbuf), "%s", pcap_geterr(s->pcap));
fail:
	tap_err(t, "cannot capture on %s (for --dev %s): %s", s->far, s->arg, errbuf);
	return -1;
}

struct dispatch {
	struct tap *t;
	size_t iface;
	int error;
};

static void on_packet(unsigned char *user, const struct pcap_pkthdr *h,
		      const unsigned char *data)
{
	struct dispatch *d = (struct dispatch *)user;
	struct tap *t = d->t;

	if (!t->capturing || d->error)
		return;
	d->error = write_packet(t, d->iface, h, data);
	t->src[d->iface].packets++;
	if (++t->captured == t->count)
		t->capturing = false;
}

/* Read what is waiting on every source; -1 after a write error. */
static int drain(struct tap *t)
{
	size_t i;

	for (i = 0; i < t->n_src && t->capturing; i++) {
		struct dispatch d = { t, i, 0 };

		if (pcap_dispatch(t->src[i].pcap, -1, on_packet, (unsigned char *)&d) < 0) {
			tap_err(t, "reading %s: %s", t->src[i].far, pcap_geterr(t->src[i].pcap));
			return -1;
		}
		if (d.error) {
			tap_err(t, "cannot write %s: %s", t->file, strerror(-d.error));
			return -1;
		}
	}
	return fflush(t->out) ? (tap_err(t, "cannot write %s: %s", t->file,
					 strerror(errno)), -1) : 0;
}

/* ---- the command --------------------------------------------------------- */

static pid_t start_cmd(struct tap *t, const sigset_t *mask)
{
	pid_t pid = fork();

	if (pid < 0) {
		tap_err(t, "cannot start %s: %s", t->cmd[0], strerror(errno));
		return -1;
	}
	if (pid == 0) {
		sigprocmask(SIG_UNBLOCK, mask, NULL);
		execvp(t->cmd[0], t->cmd);
		tap_err(t, "cannot run %s: %s", t->cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	return pid;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * Capture until CMD ends (or, without CMD, until --count, --duration or a
 * signal).  A signal is passed on to CMD, which is given STOP_GRACE_MS to
 * end before it is killed.  Returns CMD's exit status, or 0 without CMD;
 * -1 on a capture error.
 */
static int run(struct tap *t, int sfd, const sigset_t *mask)
{
	struct pollfd pfd[MAX_SOURCES + 1];
	long long deadline = t->duration ? now_ms() + t->duration * 1000LL : 0, kill_at = 0;
	int status = 0, wstatus, timeout;
	pid_t child = 0;
	size_t i;

	if (t->cmd && (child = start_cmd(t, mask)) < 0)
		return -1;
	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (i = 0; i < t->n_src && t->file; i++)
		pfd[i + 1] = (struct pollfd){ .fd = pcap_get_selectable_fd(t->src[i].pcap),
					      .events = POLLIN };
	for (;;) {
		long long now = now_ms();

		if (deadline && now >= deadline) {
			t->capturing = false;
			deadline = 0;
		}
		if (!t->capturing && !child)
			break;
		timeout = -1;
		if (deadline)
			timeout = deadline - now;
		if (kill_at && (timeout < 0 || kill_at - now < timeout))
			timeout = kill_at > now ? kill_at - now : 0;
		if (poll(pfd, t->capturing && t->file ? t->n_src + 1 : 1, timeout) < 0 &&
		    errno != EINTR) {
			tap_err(t, "poll: %s", strerror(errno));
			status = -1;
			break;
		}
		if (t->capturing && t->file && drain(t)) {
			status = -1;
			break;
		}
		if (kill_at && now_ms() >= kill_at && child) {
			kill(child, SIGKILL);
			kill_at = 0;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo != SIGCHLD) {
				if (!child)
					break;		/* the way to end a tap without CMD */
				kill(child, si.ssi_signo);
				if (!kill_at)
					kill_at = now_ms() + STOP_GRACE_MS;
			}
		}
		if (child && waitpid(child, &wstatus, WNOHANG) == child) {
			child = 0;
			status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) :
				 128 + WTERMSIG(wstatus);
			/* What CMD sent just before it ended is in the capture. */
			if (t->capturing && t->file && drain(t))
				status = -1;
			break;
		}
	}
	if (child) {	/* a capture error: CMD is not left running unseen */
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	return status;
}

static void summary(struct tap *t)
{
	uint64_t dropped = 0;
	struct pcap_stat ps;
	size_t i;

	if (t->ui->quiet || !t->file)
		return;
	for (i = 0; i < t->n_src; i++)
		if (t->src[i].pcap && !pcap_stats(t->src[i].pcap, &ps))
			dropped += ps.ps_drop + ps.ps_ifdrop;
	fprintf(stderr, "tcspan: tap: %" PRIu64 " packet%s captured to %s, %" PRIu64
		" dropped by the kernel\n", t->captured, t->captured == 1 ? "" : "s",
		t->file, dropped);
}

static int parse_number(struct tap *t, const char *opt, const char *s,
			unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno || *end || !*s || *s == '-' || *v == 0 || *v > max) {
		tap_err(t, "%s: \"%s\" is not a number from 1 to %lu", opt, s, max);
		return -1;
	}
	return 0;
}

static int add_source(struct tap *t, const char *arg)
{
	const char *slash = strrchr(arg, '/');
	struct source *s;

	if (t->n_src == MAX_SOURCES) {
		tap_err(t, "--dev: at most %d sources", MAX_SOURCES);
		return -1;
	}
	s = &t->src[t->n_src++];
	s->arg = arg;
	snprintf(s->origin, sizeof(s->origin), "--dev %s", arg);
	if (!quotable(arg) || (slash && (size_t)(slash - arg) >= sizeof(s->netns)) ||
	    strlen(slash ? slash + 1 : arg) >= sizeof(s->dev) || !*(slash ? slash + 1 : arg)) {
		tap_err(t, "--dev %s: not a device name or NETNS/DEV", arg);
		return -1;
	}
	snprintf(s->dev, sizeof(s->dev), "%s", slash ? slash + 1 : arg);
	if (slash)
		snprintf(s->netns, sizeof(s->netns), "%.*s", (int)(slash - arg), arg);
	return 0;
}

static int add_match(struct tap *t, char *list)
{
	char *save = NULL, *item;

	for (item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		const char *eq = strchr(item, '=');

		if (!eq || eq == item || !eq[1]) {
			tap_err(t, "--match %s: not KEY=VALUE", item);
			return -1;
		}
		if (!quotable(item)) {
			tap_err(t, "--match %s: a value holds no quotes, backslashes or "
				"control characters", item);
			return -1;
		}
		if (eq - item == 3 && !strncmp(item, "bpf", 3) &&
		    (!strrchr(eq, ':') || !strrchr(eq, ':')[1] || strrchr(eq, ':') == eq + 1)) {
			tap_err(t, "--match %s: bpf takes OBJECT:PROGRAM", item);
			return -1;
		}
		if (t->n_match == MAX_MATCH) {
			tap_err(t, "--match: at most %d items", MAX_MATCH);
			return -1;
		}
		if (asprintf(&t->match_origin[t->n_match], "--match %s", item) < 0) {
			tap_err(t, "%s", strerror(ENOMEM));
			return -1;
		}
		t->match[t->n_match++] = item;
	}
	return 0;
}

static int parse_args(struct tap *t, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'i' },
		{ "netns", required_argument, NULL, 'N' },
		{ "direction", required_argument, NULL, 'd' },
		{ "match", required_argument, NULL, 'm' },
		{ "to", required_argument, NULL, 't' },
		{ "snaplen", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'D' },
		{}
	};
	size_t i;
	int c;

	t->netns = "";
	t->direction = "both";
	t->snaplen = DEFAULT_SNAPLEN;
	/* "+": CMD's own options after "--" (or after CMD) stay CMD's. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:w:i:", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (add_source(t, optarg))
				return -1;
			break;
		case 'N':
			t->netns = optarg;
			break;
		case 'd':
			t->direction = optarg;
			break;
		case 'm':
			if (add_match(t, optarg))
				return -1;
			break;
		case 'w':
			t->file = optarg;
			break;
		case 't':
			t->to = optarg;
			break;
		case 's':
			if (parse_number(t, "--snaplen", optarg, DEFAULT_SNAPLEN, &t->snaplen))
				return -1;
			break;
		case 'c':
			if (parse_number(t, "--count", optarg, UINT32_MAX, &t->count))
				return -1;
			break;
		case 'D':
			if (parse_number(t, "--duration", optarg, 86400, &t->duration))
				return -1;
			break;
		case ':':
			tap_err(t, "option \"%s\" needs a value", argv[optind - 1]);
			return -1;
		default:
			tap_err(t, "unknown option \"%s\"; see \"tcspan help\"", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc)
		t->cmd = argv + optind;
	if (!t->n_src) {
		tap_err(t, "--dev is required: the device to tap");
		return -1;
	}
	if (!t->file == !t->to) {
		tap_err(t, "give one of -w FILE (capture) and --to DEV (mirror)");
		return -1;
	}
	if (t->to && (t->count || t->snaplen != DEFAULT_SNAPLEN)) {
		tap_err(t, "--count and --snaplen are for -w (a capture)");
		return -1;
	}
	if (!quotable(t->netns) || !quotable(t->direction) || (t->to && !quotable(t->to))) {
		tap_err(t, "--netns, --direction and --to take names without quotes, "
			"backslashes or control characters");
		return -1;
	}
	snprintf(t->to_origin, sizeof(t->to_origin), "--to %s", t->to ? t->to : "");
	snprintf(t->dir_origin, sizeof(t->dir_origin), "--direction %s", t->direction);
	for (i = 0; i < t->n_src; i++)
		if (!strchr(t->src[i].arg, '/'))
			snprintf(t->src[i].netns, sizeof(t->src[i].netns), "%s", t->netns);
	t->pcapng = t->file && strlen(t->file) > 7 &&
		    !strcmp(t->file + strlen(t->file) - 7, ".pcapng");
	return 0;
}

int tap_main(int argc, char **argv, const struct tap_ui *ui)
{
	struct tap t = { .ui = ui, .lock_fd = -1 };
	bool started = false, left = false;
	sigset_t mask;
	int sfd = -1, status = 1, ret;
	size_t i;

	if (parse_args(&t, argc, argv))
		return 1;
	/* From here a signal is read, not taken: setup and cleanup finish. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) ||
	    (sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		tap_err(&t, "cannot set up signals: %s", strerror(errno));
		return 1;
	}
	/* Opened before the kernel is touched, emptied once the tap runs: a
	 * bad path, or a tap that cannot start, changes nothing. */
	if (t.file) {
		int fd = open(t.file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

		t.created = fd >= 0;
		if (fd < 0 && errno == EEXIST)
			fd = open(t.file, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || !(t.out = fdopen(fd, "w"))) {
			tap_err(&t, "cannot write %s: %s", t.file, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
	}
	if (tap_reap(ui) < 0 || take_name(&t))
		goto out;
	for (i = 0; i < t.n_src; i++) {
		snprintf(t.src[i].near, sizeof(t.src[i].near), "ts%.8ss%u", t.id, (unsigned char)i);
		snprintf(t.src[i].far, sizeof(t.src[i].far), "ts%.8sc%u", t.id, (unsigned char)i);
	}
	if (build_yaml(&t)) {
		tap_err(&t, "%s", strerror(ENOMEM));
		goto out;
	}
	t.applied = true;
	if (apply_yaml(&t))
		goto out;
	t.capturing = true;
	for (i = 0; t.file && i < t.n_src; i++)
		if (open_capture(&t, &t.src[i]))
			goto out;
	if (t.file && ftruncate(fileno(t.out), 0)) {
		tap_err(&t, "cannot write %s: %s", t.file, strerror(errno));
		goto out;
	}
	started = true;
	if (t.file && (ret = write_header(&t, pcap_datalink(t.src[0].pcap)))) {
		tap_err(&t, "cannot write %s: %s", t.file, strerror(-ret));
		goto out;
	}
	ret = run(&t, sfd, &mask);
	if (ret >= 0)
		status = ret;
	summary(&t);
out:
	if (t.out && fclose(t.out) && started) {
		tap_err(&t, "cannot write %s: %s", t.file, strerror(errno));
		status = status ? status : 1;
	}
	if (t.created && !started)
		unlink(t.file);
	for (i = 0; i < t.n_src; i++)
		if (t.src[i].pcap)
			pcap_close(t.src[i].pcap);
	/* After a failed apply too: what its undo could not undo goes now. */
	if (t.applied && destroy(ui, t.name)) {
		status = status ? status : 1;
		left = true;
	}
	if (t.lock_fd >= 0) {
		/* Kept when something is left: the next tap tries again. */
		if (!left)
			unlink(t.lock_path);
		close(t.lock_fd);
	}
	if (sfd >= 0)
		close(sfd);
	free(t.yaml);
	free(t.origin);
	for (i = 0; i < t.n_match; i++)
		free(t.match_origin[i]);
	return status;
}

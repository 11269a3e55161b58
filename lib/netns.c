// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirnames.h"
#include "link.h"
#include "model.h"
#include "netns.h"
#include "nl.h"

#define NETNS_RUN_DIR "/run/netns"

/*
 * /run/netns must be a shared mount point so that namespaces mounted later
 * show up in every mount namespace that has it, as iproute2 arranges.
 */
static int prepare_run_dir(struct tcspan_error *err)
{
	if (mkdir(NETNS_RUN_DIR, 0755) && errno != EEXIST)
		return tcspan_error__add(err, -errno, "cannot create %s: %s",
					 NETNS_RUN_DIR, strerror(errno));
	if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) == 0)
		return 0;
	if (errno != EINVAL)
		return tcspan_error__add(err, -errno, "cannot make %s shared: %s%s",
					 NETNS_RUN_DIR, strerror(errno),
					 errno == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
	/* Not a mount point yet: bind it onto itself, then share it. */
	if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) ||
	    mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL))
		return tcspan_error__add(err, -errno, "cannot mount %s: %s",
					 NETNS_RUN_DIR, strerror(errno));
	return 0;
}

/* lo up with tcspan's alias, in the namespace the thread is in now. */
static int mark_here(const char *alias, struct tcspan_error *err)
{
	struct nl_conn *conn;
	int ret;

	ret = nl_conn__open("", &conn, err);
	if (ret)
		return ret;
	ret = link_set_alias_up(conn, "lo", alias, err);
	nl_conn__close(conn);
	return ret;
}

int netns_create(const char *name, const char *alias, struct tcspan_error *err)
{
	char path[PATH_MAX], mark[256];
	int self = -1, fd, ret, n;

	ret = prepare_run_dir(err);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, name);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return tcspan_error__add(err, -errno, "cannot create namespace \"%s\": %s",
					 name, strerror(errno));
	n = snprintf(mark, sizeof(mark), "%s\n", alias);
	ret = write(fd, mark, n) == n ? 0 : -EIO;
	close(fd);
	if (ret) {
		ret = tcspan_error__add(err, ret, "cannot write %s: %s", path, strerror(-ret));
		goto fail;
	}

	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		ret = tcspan_error__add(err, -errno, "cannot open own namespace: %s",
					strerror(errno));
		goto fail;
	}
	if (unshare(CLONE_NEWNET)) {
		ret = tcspan_error__add(err, -errno, "cannot create namespace \"%s\": %s%s",
					name, strerror(errno),
					errno == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
		goto fail;
	}
	ret = mark_here(alias, err);
	if (!ret && mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL))
		ret = tcspan_error__add(err, -errno, "cannot mount namespace \"%s\": %s",
					name, strerror(errno));
	if (setns(self, CLONE_NEWNET) && !ret)
		ret = tcspan_error__add(err, -errno, "cannot return to own namespace: %s",
					strerror(errno));
	if (ret)
		goto fail;
	close(self);
	return 0;
fail:
	if (self >= 0)
		close(self);
	umount2(path, MNT_DETACH);
	unlink(path);
	return ret;
}

bool netns_file_owner(const char *name, char *topology, size_t size)
{
	char path[PATH_MAX], mark[128];
	const char *rest;
	ssize_t n;
	int fd;

	topology[0] = '\0';
	if (nl_netns_exists(name))
		return false;
	snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return false;
	n = read(fd, mark, sizeof(mark) - 1);
	close(fd);
	if (n <= 1 || mark[n - 1] != '\n')
		return false;
	mark[n - 1] = '\0';
	if (link_alias_parse(mark, topology, size, &rest) && !strcmp(rest, "netns"))
		return true;
	topology[0] = '\0';
	return false;
}

static bool netns_unfinished(const char *name, const char *topology)
{
	char owner[TCSPAN_TOPOLOGY_NAME_MAX + 1];

	return netns_file_owner(name, owner, sizeof(owner)) && !strcmp(owner, topology);
}

int netns_unfinished_delete(const char *name, const char *topology,
			    struct tcspan_error *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, name);
	if (!netns_unfinished(name, topology))
		return access(path, F_OK) ? 0 :
		       tcspan_error__add(err, -EEXIST, "%s changed since it was read; "
					 "not removing it", path);
	if (unlink(path) && errno != ENOENT)
		return tcspan_error__add(err, -errno, "cannot remove %s: %s", path,
					 strerror(errno));
	return 0;
}

int netns_delete(const char *name, struct tcspan_error *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, name);
	if (umount2(path, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
		return tcspan_error__add(err, -errno, "cannot unmount namespace \"%s\": %s",
					 name, strerror(errno));
	if (unlink(path) && errno != ENOENT)
		return tcspan_error__add(err, -errno, "cannot remove %s: %s", path,
					 strerror(errno));
	return 0;
}

/* Longer names cannot be a topology's: they are not tcspan's to read. */
static bool is_netns(const struct dirent *de)
{
	return strlen(de->d_name) <= TCSPAN_NETNS_NAME_MAX && nl_netns_exists(de->d_name);
}

int netns_list(char ***names, size_t *count)
{
	return dir_names(NETNS_RUN_DIR, is_netns, names, count);
}

/* Regular files only: a killed run's; ip's own leftovers are empty. */
static bool is_file(const struct dirent *de)
{
	return de->d_type == DT_REG && strlen(de->d_name) <= TCSPAN_NETNS_NAME_MAX &&
	       !nl_netns_exists(de->d_name);
}

int netns_list_files(char ***names, size_t *count)
{
	return dir_names(NETNS_RUN_DIR, is_file, names, count);
}

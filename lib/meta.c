// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "meta.h"
#include "meta.skel.h"
#include "dirnames.h"
#include "str.h"

uint32_t meta_id(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

static void pin_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s/meta", TCSPAN_PIN_ROOT, name);
}

static int ensure_bpffs(struct tcspan_error *err)
{
	struct statfs sfs;

	if (statfs(TCSPAN_BPFFS, &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", TCSPAN_BPFFS, "bpf", 0, "mode=0700"))
		return tcspan_error__add(err, -errno, "cannot mount bpffs at %s: %s",
					 TCSPAN_BPFFS, strerror(errno));
	return 0;
}

static int push_entry(struct meta_store *store, size_t *cap,
		      const struct tcspan_meta_key *key, const struct tcspan_meta_value *value)
{
	struct meta_entry *e;

	if (store->count == *cap) {
		size_t n = *cap ? *cap * 2 : 256;

		e = realloc(store->entries, n * sizeof(*e));
		if (!e)
			return -ENOMEM;
		store->entries = e;
		*cap = n;
	}
	e = &store->entries[store->count++];
	e->kind = key->kind;
	e->id = key->id;
	e->ref = key->kind == TCSPAN_META_RULE ? value->ref : 0;
	memcpy(e->text, value->text, sizeof(value->text));
	e->text[sizeof(value->text) - 1] = '\0';
	return 0;
}

static uint64_t entry_key(uint32_t kind, uint32_t id)
{
	return (uint64_t)kind << 32 | id;
}

static int compare_index(const void *x, const void *y)
{
	const struct meta_index *a = x, *b = y;

	return a->key < b->key ? -1 : a->key > b->key;
}

int meta_store__index(struct meta_store *store)
{
	size_t i;

	free(store->sorted);
	store->sorted = calloc(store->count + 1, sizeof(*store->sorted));
	if (!store->sorted)
		return -ENOMEM;
	for (i = 0; i < store->count; i++) {
		store->sorted[i].key = entry_key(store->entries[i].kind, store->entries[i].id);
		store->sorted[i].entry = &store->entries[i];
	}
	qsort(store->sorted, store->count, sizeof(*store->sorted), compare_index);
	return 0;
}

#define META_BATCH 1024
#ifndef ENOTSUPP
#define ENOTSUPP 524	/* the kernel's "operation not supported" */
#endif

/*
 * Every entry, a batch of them per system call (BPF_MAP_LOOKUP_BATCH, Linux
 * 5.6), or one key at a time where the kernel has no batches.
 */
static int read_entries(struct meta_store *store)
{
	/* Kind 0 is never stored: a hash map answers a missing key with its
	 * first key, which starts the walk without a NULL key. */
	struct tcspan_meta_key key = {}, next, *keys;
	struct tcspan_meta_value value, *values;
	uint32_t token, n, i;
	size_t cap = 0;
	bool first = true;
	int ret = 0, r;

	keys = calloc(META_BATCH, sizeof(*keys));
	values = calloc(META_BATCH, sizeof(*values));
	if (!keys || !values) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		n = META_BATCH;
		r = bpf_map_lookup_batch(store->fd, first ? NULL : &token, &token, keys, values,
					 &n, NULL);
		if (r && errno != ENOENT)
			break;
		first = false;
		for (i = 0; i < n && !ret; i++)
			ret = push_entry(store, &cap, &keys[i], &values[i]);
		if (r || ret)
			goto out;	/* ENOENT: that was the last batch */
	}
	if (!first) {
		ret = -errno;
		goto out;
	}
	while (bpf_map_get_next_key(store->fd, &key, &next) == 0) {
		key = next;
		if (bpf_map_lookup_elem(store->fd, &key, &value))
			continue;
		ret = push_entry(store, &cap, &key, &value);
		if (ret)
			break;
	}
out:
	free(keys);
	free(values);
	return ret ? ret : meta_store__index(store);
}

int meta_read(const char *name, struct meta_store *store, struct tcspan_error *err)
{
	char path[PATH_MAX];

	memset(store, 0, sizeof(*store));
	store->fd = -1;
	pin_path(path, sizeof(path), name);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	store->fd = bpf_obj_get(path);
	if (store->fd < 0) {
		store->fd = -1;
		return errno == ENOENT ? 0 :
			tcspan_error__add(err, -errno, "cannot open %s: %s%s", path,
					  strerror(errno), errno == EPERM ?
					  " (needs CAP_BPF, or CAP_SYS_ADMIN)" : "");
	}
	/* Read nothing from a map that is not laid out as tcspan's. */
	if (bpf_obj_get_info_by_fd(store->fd, &info, &len) ||
	    info.type != BPF_MAP_TYPE_HASH ||
	    info.key_size != sizeof(struct tcspan_meta_key) ||
	    info.value_size != sizeof(struct tcspan_meta_value)) {
		close(store->fd);
		store->fd = -1;
		return tcspan_error__add(err, -EINVAL, "%s is not a tcspan metadata map",
					 path);
	}
	return read_entries(store);
}

int meta_create(const char *name, struct meta_store *store, struct tcspan_error *err)
{
	struct tcspan_meta *skel = NULL;
	libbpf_print_fn_t old;
	char path[PATH_MAX], dir[PATH_MAX];
	bool made = false;
	int ret;

	if (store->fd >= 0)
		return 0;
	ret = ensure_bpffs(err);
	if (ret)
		return ret;
	if (mkdir(TCSPAN_PIN_ROOT, 0700) && errno != EEXIST)
		return tcspan_error__add(err, -errno, "cannot create %s: %s",
					 TCSPAN_PIN_ROOT, strerror(errno));
	snprintf(dir, sizeof(dir), "%s/%s", TCSPAN_PIN_ROOT, name);
	if (mkdir(dir, 0700)) {
		if (errno != EEXIST)
			return tcspan_error__add(err, -errno, "cannot create %s: %s", dir,
						 strerror(errno));
	} else {
		made = true;
	}
	old = libbpf_set_print(tcspan_libbpf_print);
	skel = tcspan_meta__open_and_load();
	ret = skel ? 0 : -errno;
	libbpf_set_print(old);
	if (!skel) {
		tcspan_error__add(err, ret, "cannot create the metadata map: %s%s",
				  strerror(-ret), ret == -EPERM ?
				  " (needs CAP_BPF, or CAP_SYS_ADMIN)" : "");
		goto out;
	}
	pin_path(path, sizeof(path), name);
	ret = bpf_map__pin(skel->maps.meta, path);
	if (ret) {
		tcspan_error__add(err, ret, "cannot pin %s: %s", path, strerror(-ret));
		goto out;
	}
	store->fd = fcntl(bpf_map__fd(skel->maps.meta), F_DUPFD_CLOEXEC, 0);
	if (store->fd < 0) {
		ret = -errno;
		unlink(path);
	}
out:
	tcspan_meta__destroy(skel);
	/* A folder without its map would list a topology that is not there. */
	if (ret && made)
		rmdir(dir);
	return ret;
}

int meta_set(struct meta_store *store, uint32_t kind, uint32_t id, const char *text,
	     uint32_t ref, struct tcspan_error *err)
{
	struct tcspan_meta_key key = { .kind = kind, .id = id };
	struct tcspan_meta_value value = { .ref = ref };

	str_copy(value.text, sizeof(value.text), text);
	if (bpf_map_update_elem(store->fd, &key, &value, BPF_ANY))
		return tcspan_error__add(err, -errno, "cannot update the metadata map: %s",
					 strerror(errno));
	return 0;
}

int meta_set_many(struct meta_store *store, const struct meta_entry *entries, size_t n,
		  size_t *done, struct tcspan_error *err)
{
	struct tcspan_meta_key *keys = calloc(n + 1, sizeof(*keys));
	struct tcspan_meta_value *values = calloc(n + 1, sizeof(*values));
	uint32_t count;
	size_t i;
	int ret = 0;

	*done = 0;
	if (!keys || !values) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		keys[i].kind = entries[i].kind;
		keys[i].id = entries[i].id;
		values[i].ref = entries[i].ref;
		str_copy(values[i].text, sizeof(values[i].text), entries[i].text);
	}
	/* All in one system call (BPF_MAP_UPDATE_BATCH, Linux 5.6), else one
	 * by one; count says how many the kernel took before an error. */
	count = n;
	if (!bpf_map_update_batch(store->fd, keys, values, &count, NULL)) {
		*done = n;
		goto out;
	}
	if (errno != EINVAL && errno != EOPNOTSUPP && errno != ENOTSUPP) {
		*done = count;
		ret = tcspan_error__add(err, -errno, "cannot update the metadata map: %s",
					strerror(errno));
		goto out;
	}
	for (i = 0; i < n && !ret; i++) {
		ret = meta_set(store, entries[i].kind, entries[i].id, entries[i].text,
			       entries[i].ref, err);
		if (!ret)
			*done = i + 1;
	}
out:
	free(keys);
	free(values);
	return ret;
}

int meta_delete(struct meta_store *store, uint32_t kind, uint32_t id)
{
	struct tcspan_meta_key key = { .kind = kind, .id = id };

	if (store->fd < 0)
		return 0;
	if (bpf_map_delete_elem(store->fd, &key) && errno != ENOENT)
		return -errno;
	return 0;
}

const struct meta_entry *meta_find(const struct meta_store *store, uint32_t kind,
				   uint32_t id)
{
	uint64_t key = entry_key(kind, id);
	size_t lo = 0, hi = store->sorted ? store->count : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (store->sorted[mid].key == key)
			return store->sorted[mid].entry;
		if (store->sorted[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *meta_lookup(const struct meta_store *store, uint32_t kind, uint32_t id)
{
	const struct meta_entry *e = meta_find(store, kind, id);

	return e ? e->text : NULL;
}

bool meta_text_equal(const char *stored, const char *text)
{
	size_t n = strnlen(text, TCSPAN_META_TEXT_SIZE - 1);

	return !strncmp(stored, text, n) && stored[n] == '\0';
}

int meta_remove(const char *name, struct tcspan_error *err)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), name);
	if (unlink(path) && errno != ENOENT)
		return tcspan_error__add(err, -errno, "cannot remove %s: %s", path,
					 strerror(errno));
	snprintf(path, sizeof(path), "%s/%s", TCSPAN_PIN_ROOT, name);
	if (rmdir(path) && errno != ENOENT)
		return tcspan_error__add(err, -errno, "cannot remove %s: %s", path,
					 strerror(errno));
	return 0;
}

void meta_store__free(struct meta_store *store)
{
	if (!store)
		return;
	if (store->fd >= 0)
		close(store->fd);
	store->fd = -1;
	free(store->entries);
	free(store->sorted);
	store->entries = NULL;
	store->sorted = NULL;
	store->count = 0;
}

static bool is_dir(const struct dirent *de)
{
	return de->d_type == DT_DIR;
}

int meta_list(char ***names, size_t *count)
{
	return dir_names(TCSPAN_PIN_ROOT, is_dir, names, count);
}

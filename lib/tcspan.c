// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The public plan object: lock, observe, plan, apply. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "classifier.h"
#include "meta.h"
#include "nl.h"
#include "observe.h"
#include "plan.h"
#include "str.h"

#define LOCK_DIR  "/run/tcspan"
#define LOCK_FILE LOCK_DIR "/lock"

struct tcspan_plan {
	const struct tcspan_topology *topo;
	struct tcspan_topology *own_topo;	/* tcspan_plan__new_from_file()'s */
	char name[TCSPAN_TOPOLOGY_NAME_MAX + 1];
	int lock_fd;
	struct conn_pool pool;
	struct observed obs;
	struct meta_store meta;
	struct plan_result res;
	struct classifier_object *objects;	/* per rule: match.bpf objects read */
	size_t n_objects;
	struct xdp_refusal *refused;		/* devices that refused XDP at apply */
	size_t n_refused;
	bool applied;
};

/*
 * Take the lock: wait for it `timeout` seconds (0: without limit), or with
 * `try`, not at all (-EWOULDBLOCK, no message, when another tcspan holds it).
 */
static int lock_acquire(unsigned int timeout, bool try, struct tcspan_error *err)
{
	struct timespec start, now;
	int fd;

	if (mkdir(LOCK_DIR, 0755) && errno != EEXIST)
		return tcspan_error__add(err, -errno, "cannot create %s: %s", LOCK_DIR,
					 strerror(errno));
	fd = open(LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return tcspan_error__add(err, -errno, "cannot open %s: %s", LOCK_FILE,
					 strerror(errno));
	if (try) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK)
			goto fail;
		close(fd);
		return -EWOULDBLOCK;
	}
	if (!timeout) {
		if (flock(fd, LOCK_EX) == 0)
			return fd;
		goto fail;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK)
			goto fail;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000 >= (long long)timeout * 1000) {
			close(fd);
			return tcspan_error__add(err, -EBUSY,
						 "another tcspan holds %s (waited %u s)",
						 LOCK_FILE, timeout);
		}
		usleep(50 * 1000);
	}
fail:
	tcspan_error__add(err, -errno, "cannot lock %s: %s", LOCK_FILE, strerror(errno));
	close(fd);
	return -errno;
}

static bool netns_exists(const char *netns, void *ctx)
{
	return !*netns || nl_netns_exists(netns);
}

int tcspan_topology__check_system(const struct tcspan_topology *topo,
				  struct tcspan_error *err)
{
	return tcspan_model__check_namespaces(topo, netns_exists, NULL, err);
}

/*
 * Read the objects of the match.bpf rules, once: the plan hashes them into
 * the cookie and apply loads these same bytes.  Every refusal is reported.
 */
static int read_objects(struct tcspan_plan *plan, struct tcspan_error *err)
{
	const struct tcspan_topology *topo = plan->topo;
	char what[512];
	size_t i;
	int ret = 0, r;

	plan->objects = calloc(topo->n_rules + 1, sizeof(*plan->objects));
	if (!plan->objects)
		return -ENOMEM;
	plan->n_objects = topo->n_rules;
	for (i = 0; i < topo->n_rules; i++) {
		const struct tcspan_rule *rule = &topo->rules[i];

		if (!rule->has_match || !rule->match.has_bpf)
			continue;
		snprintf(what, sizeof(what), "%s:%u:%u: error: rule \"%s\": ",
			 topo->file ? topo->file : "-", rule->mark.line, rule->mark.column,
			 rule->name);
		r = classifier_object_read(&rule->match, what, &plan->objects[i], err);
		if (r && !ret)
			ret = r;
	}
	return ret;
}

static unsigned int lock_timeout(const struct tcspan_plan_opts *opts)
{
	if (opts && opts->sz >= offsetof(struct tcspan_plan_opts, lock_timeout) +
				sizeof(opts->lock_timeout))
		return opts->lock_timeout;
	return 0;
}

static struct tcspan_plan *plan_alloc(const char *name)
{
	struct tcspan_plan *plan = calloc(1, sizeof(*plan));

	if (!plan) {
		errno = ENOMEM;
		return NULL;
	}
	plan->meta.fd = -1;
	plan->lock_fd = -1;
	str_copy(plan->name, sizeof(plan->name), name);
	return plan;
}

/* What a topology needs of the system before its plan: its namespaces,
 * and the objects of its match.bpf rules. */
static int check_topology(struct tcspan_plan *plan, struct tcspan_error *err)
{
	int ret = tcspan_topology__check_system(plan->topo, err);

	return ret ? ret : read_objects(plan, err);
}

/* The plan, from what was observed and the topology's metadata (read
 * here unless `have_meta`). */
static int compute(struct tcspan_plan *plan, bool have_meta, struct tcspan_error *err)
{
	int ret = have_meta ? 0 : meta_read(plan->name, &plan->meta, err);

	if (ret)
		return ret;
	return plan_compute(plan->topo, plan->name, &plan->obs, &plan->meta,
			    plan->meta.fd >= 0, plan->objects, &plan->res, err);
}

static struct tcspan_plan *plan_new(const struct tcspan_topology *topo, const char *name,
				    const struct tcspan_plan_opts *opts,
				    struct tcspan_error *err)
{
	struct tcspan_plan *plan = plan_alloc(name);
	int ret;

	if (!plan)
		return NULL;
	plan->topo = topo;
	plan->lock_fd = lock_acquire(lock_timeout(opts), false, err);
	if (plan->lock_fd < 0) {
		ret = plan->lock_fd;
		goto fail;
	}
	if (topo && (ret = check_topology(plan, err)))
		goto fail;
	ret = observe(&plan->pool, &plan->obs, err);
	if (!ret)
		ret = compute(plan, false, err);
	if (ret)
		goto fail;
	return plan;
fail:
	tcspan_plan__free(plan);
	errno = -ret;
	return NULL;
}

/*
 * The file's bytes, parsed and checked on a thread of its own, which tells
 * the topology's name as soon as it has it: the metadata needs only that.
 */
struct file_job {
	const char *path;
	char *buf;
	size_t len;
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	char name[TCSPAN_TOPOLOGY_NAME_MAX + 1];	/* "" until read */
	bool done;
	struct tcspan_topology *topo;
	int error;			/* the negative errno when topo is NULL */
	struct tcspan_error *err;	/* the file's problems */
};

static void name_read(const char *name, void *arg)
{
	struct file_job *job = arg;

	pthread_mutex_lock(&job->mutex);
	str_copy(job->name, sizeof(job->name), name);
	pthread_cond_signal(&job->cond);
	pthread_mutex_unlock(&job->mutex);
}

static void *parse_topology(void *arg)
{
	struct file_job *job = arg;

	job->error = tcspan_model__parse_named(job->path, job->buf, job->len, name_read, job,
					      &job->topo, job->err);
	pthread_mutex_lock(&job->mutex);
	job->done = true;
	pthread_cond_signal(&job->cond);
	pthread_mutex_unlock(&job->mutex);
	return NULL;
}

/* The topology's name, once the file has it; "" when the file has none. */
static void wait_for_name(struct file_job *job, char *name, size_t size)
{
	pthread_mutex_lock(&job->mutex);
	while (!job->name[0] && !job->done)
		pthread_cond_wait(&job->cond, &job->mutex);
	str_copy(name, size, job->name);
	pthread_mutex_unlock(&job->mutex);
}

static void copy_messages(struct tcspan_error *to, const struct tcspan_error *from, int error)
{
	size_t i;

	for (i = 0; i < tcspan_error__count(from); i++)
		tcspan_error__add(to, error, "%s", tcspan_error__message(from, i));
}

/*
 * Parsing the file (libyaml, then the model's checks) and reading the
 * kernel need nothing of each other: the file's bytes, read first and
 * without the lock (a pipe's writer may be another tcspan), are parsed on
 * a second thread while this one takes the lock, observes, and reads the
 * topology's metadata as soon as the parse has the name.  When another
 * tcspan holds the lock, the parse ends first, so that a file with errors
 * says so at once.
 */
struct tcspan_plan *tcspan_plan__new_from_file(const char *path,
					       const struct tcspan_plan_opts *opts,
					       struct tcspan_error *err)
{
	struct file_job job = {
		.path = path,
		.mutex = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};
	/* The lock's, observe()'s and the metadata's messages. */
	struct tcspan_error *kernel = NULL, *meta = NULL;
	char name[TCSPAN_TOPOLOGY_NAME_MAX + 1] = "";
	int ret, observed = 0, meta_read_ret = 0;
	struct tcspan_plan *plan;
	bool threaded = false;
	pthread_t thread;

	if (!path) {
		errno = EINVAL;
		return NULL;
	}
	plan = plan_alloc("");
	job.err = tcspan_error__new();
	kernel = tcspan_error__new();
	meta = tcspan_error__new();
	if (!plan || !job.err || !kernel || !meta) {
		ret = -ENOMEM;
		goto out;
	}
	ret = tcspan_model__read_file(path, &job.buf, &job.len, err);
	if (ret)
		goto out;
	threaded = !pthread_create(&thread, NULL, parse_topology, &job);
	if (!threaded)
		parse_topology(&job);
	plan->lock_fd = lock_acquire(0, true, kernel);
	if (plan->lock_fd == -EWOULDBLOCK) {
		if (threaded)
			pthread_join(thread, NULL);
		threaded = false;
		if (job.topo)
			plan->lock_fd = lock_acquire(lock_timeout(opts), false, kernel);
	}
	if (plan->lock_fd >= 0) {
		observed = observe(&plan->pool, &plan->obs, kernel);
		wait_for_name(&job, name, sizeof(name));
		if (!observed && name[0])
			meta_read_ret = meta_read(name, &plan->meta, meta);
	}
	if (threaded)
		pthread_join(thread, NULL);
	/* The file's problems first, then the system's, as when the file is
	 * read before the plan. */
	if (!job.topo) {
		ret = job.error;
		copy_messages(err, job.err, ret);
		goto out;
	}
	plan->topo = plan->own_topo = job.topo;
	job.topo = NULL;
	str_copy(plan->name, sizeof(plan->name), plan->topo->name);
	if (plan->lock_fd < 0) {
		ret = plan->lock_fd;
		copy_messages(err, kernel, ret);
		goto out;
	}
	ret = check_topology(plan, err);
	if (!ret && observed) {
		ret = observed;
		copy_messages(err, kernel, ret);
	}
	if (!ret && meta_read_ret) {
		ret = meta_read_ret;
		copy_messages(err, meta, ret);
	}
	if (!ret)
		ret = compute(plan, !strcmp(name, plan->name), err);
out:
	free(job.buf);
	tcspan_topology__free(job.topo);
	tcspan_error__free(job.err);
	tcspan_error__free(kernel);
	tcspan_error__free(meta);
	pthread_cond_destroy(&job.cond);
	pthread_mutex_destroy(&job.mutex);
	if (ret) {
		tcspan_plan__free(plan);
		errno = -ret;
		return NULL;
	}
	return plan;
}

struct tcspan_plan *tcspan_plan__new(const struct tcspan_topology *topo,
				     const struct tcspan_plan_opts *opts,
				     struct tcspan_error *err)
{
	if (!topo) {
		errno = EINVAL;
		return NULL;
	}
	return plan_new(topo, topo->name, opts, err);
}

struct tcspan_plan *tcspan_plan__new_destroy(const char *name,
					     const struct tcspan_plan_opts *opts,
					     struct tcspan_error *err)
{
	size_t i, len = name ? strlen(name) : 0;
	bool ok = len >= 1 && len <= TCSPAN_TOPOLOGY_NAME_MAX;

	/* The schema's [a-z0-9][a-z0-9-]{0,31}: a name is also a path part. */
	for (i = 0; ok && i < len; i++)
		ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		     (i && name[i] == '-');
	if (!ok) {
		tcspan_error__add(err, -EINVAL, "\"%s\" is not a topology name (1 to %d of "
				  "a-z, 0-9 and \"-\", not starting with \"-\")",
				  name ? name : "", TCSPAN_TOPOLOGY_NAME_MAX);
		errno = EINVAL;
		return NULL;
	}
	return plan_new(NULL, name, opts, err);
}

size_t tcspan_plan__change_count(const struct tcspan_plan *plan)
{
	return plan->res.n_changes;
}

const struct tcspan_change *tcspan_plan__change(const struct tcspan_plan *plan, size_t i)
{
	return i < plan->res.n_changes ? &plan->res.changes[i] : NULL;
}

size_t tcspan_plan__count(const struct tcspan_plan *plan, enum tcspan_op op)
{
	size_t i, n = 0;

	for (i = 0; i < plan->res.n_changes; i++)
		n += plan->res.changes[i].op == op;
	return n;
}

/*
 * After an apply that a device's refusal of XDP undid: look at the kernel
 * again and plan anew, that device's rules on tc (`refusal`, with the
 * ones before it).  -EAGAIN when that device had refused already: the
 * plan did not move its rules, and trying again would not end.
 */
static int replan(struct tcspan_plan *plan, const struct xdp_refusal *refusal,
		  struct tcspan_error *err)
{
	struct xdp_refusal *v;
	size_t i;
	int ret;

	for (i = 0; i < plan->n_refused; i++)
		if (!strcmp(plan->refused[i].netns, refusal->netns) &&
		    !strcmp(plan->refused[i].dev, refusal->dev))
			return -EAGAIN;
	v = realloc(plan->refused, (plan->n_refused + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	plan->refused = v;
	v[plan->n_refused++] = *refusal;
	plan_result__free(&plan->res);
	observed__free(&plan->obs);
	meta_store__free(&plan->meta);
	ret = observe(&plan->pool, &plan->obs, err);
	if (!ret)
		ret = meta_read(plan->name, &plan->meta, err);
	if (ret)
		return ret;
	plan->obs.refused = plan->refused;
	plan->obs.n_refused = plan->n_refused;
	return plan_compute(plan->topo, plan->name, &plan->obs, &plan->meta,
			    plan->meta.fd >= 0, plan->objects, &plan->res, err);
}

int tcspan_plan__apply(struct tcspan_plan *plan, struct tcspan_error *err)
{
	struct apply_ctx ctx = {
		.name = plan->name,
		.file = plan->topo ? plan->topo->file : NULL,
		.pool = &plan->pool,
		.meta = &plan->meta,
	};
	struct tcspan_error *attempt, *replanned;
	struct xdp_refusal refusal;
	int ret, r;

	if (plan->applied)
		return -EALREADY;
	plan->applied = true;
	/* A device that refuses XDP (another tool's program appeared since
	 * the plan, or it takes none) undoes the apply; its rules go to tc
	 * and the apply runs again, at most once per device. */
	for (;;) {
		attempt = tcspan_error__new();
		if (!attempt)
			return -ENOMEM;
		memset(&refusal, 0, sizeof(refusal));
		ctx.refused = &refusal;
		ret = apply_ops(&ctx, plan->res.ops, plan->res.n_ops, attempt);
		if (!ret || !refusal.dev[0] || ret == -ENOTRECOVERABLE)
			break;
		replanned = tcspan_error__new();
		r = replanned ? replan(plan, &refusal, replanned) : -ENOMEM;
		if (r == -EAGAIN || r == -ENOMEM) {
			tcspan_error__free(replanned);
			break;	/* the apply's own messages say why */
		}
		/* From here on, the new plan's messages, if any. */
		tcspan_error__free(attempt);
		attempt = replanned;
		if (r) {
			ret = r;
			break;
		}
		tcspan_error__free(attempt);
	}
	copy_messages(err, attempt, ret);
	tcspan_error__free(attempt);
	/* A topology's folder without its map (left by a tcspan older than
	 * the fix in meta_create()) goes with the topology too. */
	if (!ret && !plan->topo && plan->meta.fd < 0)
		ret = meta_remove(plan->name, err);
	return ret;
}

void tcspan_plan__free(struct tcspan_plan *plan)
{
	if (!plan)
		return;
	plan_result__free(&plan->res);
	for (size_t i = 0; i < plan->n_objects; i++)
		classifier_object_free(&plan->objects[i]);
	free(plan->objects);
	meta_store__free(&plan->meta);
	observed__free(&plan->obs);
	free(plan->refused);
	conn_pool__free(&plan->pool);
	if (plan->lock_fd >= 0)
		close(plan->lock_fd);
	tcspan_topology__free(plan->own_topo);
	free(plan);
}

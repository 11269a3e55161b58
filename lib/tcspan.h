/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libtcspan: make the kernel's tc mirror/redirect state match a YAML
 * topology.
 *
 * Conventions (as libbpf 1.0): functions return 0 or a negative errno;
 * functions that return a pointer return NULL and set errno.  Every call
 * that can fail takes a `struct tcspan_error *` (may be NULL) into which it
 * puts human-readable messages: file errors as "FILE:LINE:COLUMN: error:
 * MESSAGE", kernel errors with the kernel's extended-ack text and the object
 * they concern.  The library never prints and never exits; it logs only
 * through the callback set with tcspan_set_print().
 */
#ifndef TCSPAN_H
#define TCSPAN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TCSPAN_VERSION "0.1.0"

/* What the shared library exports; everything else in it is hidden. */
#ifndef TCSPAN_API
#define TCSPAN_API __attribute__((visibility("default")))
#endif

/* ---- errors and logging ------------------------------------------------ */

struct tcspan_error;

/* A new, empty error object; NULL and errno on failure. */
TCSPAN_API struct tcspan_error *tcspan_error__new(void);
/* Free it; NULL is accepted. */
TCSPAN_API void tcspan_error__free(struct tcspan_error *err);
/* Drop all messages, keep the object. */
TCSPAN_API void tcspan_error__clear(struct tcspan_error *err);
/* How many messages it holds. */
TCSPAN_API size_t tcspan_error__count(const struct tcspan_error *err);
/* Message i (0-based), or NULL when out of range.  Owned by err. */
TCSPAN_API const char *tcspan_error__message(const struct tcspan_error *err, size_t i);

enum tcspan_print_level {
	TCSPAN_WARN,
	TCSPAN_INFO,
	TCSPAN_DEBUG,
};

typedef int (*tcspan_print_fn_t)(enum tcspan_print_level level,
				 const char *fmt, va_list ap);

/*
 * Set the logging callback (NULL: log nothing, the default).  Returns the
 * previous one.  Messages end with a newline.
 */
TCSPAN_API tcspan_print_fn_t tcspan_set_print(tcspan_print_fn_t fn);

/* ---- topology: a parsed and validated file ------------------------------ */

struct tcspan_topology;

/*
 * Read and validate the topology file at `path`.  On failure NULL is
 * returned, errno is set (EINVAL for a file with errors) and every problem
 * of the file is in `err`, one message each.
 */
TCSPAN_API struct tcspan_topology *tcspan_topology__from_file(const char *path,
							      struct tcspan_error *err);

/*
 * The same for YAML held in memory; `file` is the name used in messages.
 */
TCSPAN_API struct tcspan_topology *tcspan_topology__from_buffer(const char *file,
								const char *buf, size_t len,
								struct tcspan_error *err);

/*
 * Checks that need the running system but change nothing: every namespace
 * an endpoint names is listed in the file or exists now.  0 or -EINVAL.
 */
TCSPAN_API int tcspan_topology__check_system(const struct tcspan_topology *topo,
					     struct tcspan_error *err);

/* The topology's `name`.  Owned by topo. */
TCSPAN_API const char *tcspan_topology__name(const struct tcspan_topology *topo);
/* How many rules it has. */
TCSPAN_API size_t tcspan_topology__rule_count(const struct tcspan_topology *topo);

/* Free it; NULL is accepted. */
TCSPAN_API void tcspan_topology__free(struct tcspan_topology *topo);

/* ---- plan: what it takes to make the kernel match a topology ------------ */

struct tcspan_plan;

enum tcspan_op {
	TCSPAN_OP_ADD,
	TCSPAN_OP_CHANGE,
	TCSPAN_OP_REMOVE,
};

enum tcspan_kind {
	TCSPAN_KIND_RULE,
	TCSPAN_KIND_NETNS,
	TCSPAN_KIND_LINK,
	TCSPAN_KIND_DEVICE,
};

/* One user-visible change: a rule, namespace, link or device. */
struct tcspan_change {
	enum tcspan_op op;
	enum tcspan_kind kind;
	const char *name;	/* rule name, netns name, "A -- B" for links */
	const char *detail;	/* why, in words (e.g. "target changed"); may be NULL */
};

struct tcspan_plan_opts {
	size_t sz;		/* sizeof(struct tcspan_plan_opts) */
	/*
	 * Seconds to wait for /run/tcspan/lock when another tcspan holds it;
	 * 0 waits without limit.  The lock is held from plan creation until
	 * the plan is freed, so that what was observed stays true.
	 */
	unsigned int lock_timeout;
};

/*
 * Observe the kernel and compute what apply would change to make it match
 * `topo`.  Takes the lock.  NULL and errno on failure (a collision with an
 * object tcspan did not create is EEXIST, its name in `err`).
 */
TCSPAN_API struct tcspan_plan *tcspan_plan__new(const struct tcspan_topology *topo,
						const struct tcspan_plan_opts *opts,
						struct tcspan_error *err);

/*
 * tcspan_topology__from_file() and tcspan_plan__new() in one call: the
 * file's bytes are read first, without the lock (its writer may be another
 * tcspan), then parsed and checked on a second thread while this one takes
 * the lock and reads the kernel, which need nothing of each other.  When
 * another tcspan holds the lock, the parse ends before the wait, so that a
 * file with errors fails at once.  The topology is the plan's, freed with
 * it.  NULL and errno on failure; the file's problems come first in `err`,
 * as from tcspan_topology__from_file(), and then nothing else.
 */
TCSPAN_API struct tcspan_plan *tcspan_plan__new_from_file(const char *path,
							  const struct tcspan_plan_opts *opts,
							  struct tcspan_error *err);

/*
 * A plan that removes everything topology `name` owns (what `destroy`
 * does).  A name that owns nothing gives an empty plan.
 */
TCSPAN_API struct tcspan_plan *tcspan_plan__new_destroy(const char *name,
							const struct tcspan_plan_opts *opts,
							struct tcspan_error *err);

/* The number of user-visible changes, and change i of them. */
TCSPAN_API size_t tcspan_plan__change_count(const struct tcspan_plan *plan);
TCSPAN_API const struct tcspan_change *tcspan_plan__change(const struct tcspan_plan *plan,
							   size_t i);
/* How many changes of one op. */
TCSPAN_API size_t tcspan_plan__count(const struct tcspan_plan *plan, enum tcspan_op op);

/*
 * Carry the plan out.  All or nothing: when the kernel refuses a step, every
 * step already made is undone, the kernel's message is in `err` and a
 * negative errno is returned; -ENOTRECOVERABLE means some step could not be
 * undone (each is named in `err`).  An empty plan sends nothing.
 */
TCSPAN_API int tcspan_plan__apply(struct tcspan_plan *plan, struct tcspan_error *err);

/* Free it and release the lock; NULL is accepted. */
TCSPAN_API void tcspan_plan__free(struct tcspan_plan *plan);

/* ---- state: what tcspan owns now, read from the kernel alone ------------ */

struct tcspan_state;

struct tcspan_rule_info {
	const char *name;
	const char *action;		/* "mirror" | "redirect" */
	const char *from;		/* "NETNS/DEV" or "DEV" */
	const char *direction;		/* "ingress" | "egress" | "both" */
	const char *to;			/* "" when the target is gone */
	const char *to_direction;	/* "ingress" | "egress" */
	const char *datapath;		/* "tc" | "xdp" */
	const char *fallback;		/* why auto chose tc, or NULL */
	const char *problem;		/* e.g. "target device is gone", or NULL */
	uint64_t packets;		/* sum over the rule's hooks */
	uint64_t bytes;
	const char *xdp_mode;		/* xdp: "native" | "generic"; else NULL */
};

/*
 * Read what tcspan owns in the caller's namespace and every named one, from
 * the kernel alone (cookies, filter names, link aliases, pinned maps); no
 * file and no lock are needed.  `name` NULL: all topologies; otherwise only
 * that one (none, when it owns nothing).  NULL and errno on failure.
 */
TCSPAN_API struct tcspan_state *tcspan_state__observe(const char *name,
						      struct tcspan_error *err);
/* How many topologies own something, sorted by name; and the name of t. */
TCSPAN_API size_t tcspan_state__topology_count(const struct tcspan_state *st);
TCSPAN_API const char *tcspan_state__topology_name(const struct tcspan_state *st, size_t t);
/* How many rules topology t has in the kernel. */
TCSPAN_API size_t tcspan_state__rule_count(const struct tcspan_state *st, size_t t);
/*
 * Fill `info` for rule r of topology t; its strings are owned by st.
 * 0, or -ENOENT when t or r is out of range.
 */
TCSPAN_API int tcspan_state__rule(const struct tcspan_state *st, size_t t, size_t r,
				  struct tcspan_rule_info *info);
/* The namespaces topology t created ("NAME"), and namespace i of them. */
TCSPAN_API size_t tcspan_state__namespace_count(const struct tcspan_state *st, size_t t);
TCSPAN_API const char *tcspan_state__namespace(const struct tcspan_state *st, size_t t, size_t i);
/* The veth links topology t created ("NETNS/DEV -- NETNS/DEV"), and link i. */
TCSPAN_API size_t tcspan_state__link_count(const struct tcspan_state *st, size_t t);
TCSPAN_API const char *tcspan_state__link(const struct tcspan_state *st, size_t t, size_t i);
/*
 * The devices (`devices:` items) topology t created ("NETNS/DEV"), and
 * device i, with its kind and settings ("vxlan id=42 remote=198.18.1.9
 * port=4789", "ifb") in *kind when kind is not NULL.
 */
TCSPAN_API size_t tcspan_state__device_count(const struct tcspan_state *st, size_t t);
TCSPAN_API const char *tcspan_state__device(const struct tcspan_state *st, size_t t,
					    size_t i, const char **kind);
/* Free it; NULL is accepted. */
TCSPAN_API void tcspan_state__free(struct tcspan_state *st);

/* ---- watch: wait for the kernel to change under a topology -------------- */

struct tcspan_watch;

/*
 * Listen for changes that may concern `topo`: rtnetlink notifications of
 * links, addresses and tc objects in every namespace it names (those that
 * exist now) and namespaces coming and going under /run/netns.  Make the
 * watch before planning, so that no change between the plan and the wait
 * is missed.  NULL and errno on failure.
 */
TCSPAN_API struct tcspan_watch *tcspan_watch__new(const struct tcspan_topology *topo,
						  struct tcspan_error *err);

/*
 * Sleep until the kernel reports a change (no polling), then until the
 * burst has been quiet for 100 ms (at most 1 s), reading every
 * notification.  `timeout_ms` -1 waits without limit.  Returns 1 after a
 * change, 0 on timeout, -EINTR when a signal came, or a negative errno.
 * A change is any notification, including those that apply itself causes:
 * plan again to see whether it matters.
 */
TCSPAN_API int tcspan_watch__wait(struct tcspan_watch *w, int timeout_ms);

/*
 * A descriptor that polls readable when a change is waiting (an epoll fd
 * that the watch owns), for callers that wait on more than the kernel: poll
 * it, then call tcspan_watch__wait(w, 0) to take the change.
 */
TCSPAN_API int tcspan_watch__fd(const struct tcspan_watch *w);

/* Close it; NULL is accepted. */
TCSPAN_API void tcspan_watch__free(struct tcspan_watch *w);

#ifdef __cplusplus
}
#endif

#endif /* TCSPAN_H */

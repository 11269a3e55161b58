/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Named network namespaces as `ip netns` keeps them: a bind mount of the
 * namespace at /run/netns/NAME, so `ip netns exec NAME` works on them.
 */
#ifndef TCSPAN_NETNS_H
#define TCSPAN_NETNS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/*
 * Create namespace `name` with `alias` (tcspan's mark, "tcspan:TOPOLOGY
 * netns") on its lo, set before the namespace is mounted; -EEXIST when
 * the name is taken.  The file the namespace is mounted on holds `alias`
 * too, so that a run killed before the mount leaves a file recognisably
 * its own (netns_file_owner()), not an anonymous one.
 */
int netns_create(const char *name, const char *alias, struct tcspan_error *err);
/*
 * Whether /run/netns/NAME is such a file: not a namespace, and holding a
 * topology's mark; that topology's name into `topology` ("" otherwise).
 */
bool netns_file_owner(const char *name, char *topology, size_t size);
/* Remove such a file of `topology`, when it still is one. */
int netns_unfinished_delete(const char *name, const char *topology,
			    struct tcspan_error *err);
/* The names under /run/netns that are not namespaces; dir_names_free(). */
int netns_list_files(char ***names, size_t *count);
/* Unmount and remove /run/netns/NAME; the namespace goes with its last user. */
int netns_delete(const char *name, struct tcspan_error *err);
/* The names under /run/netns, sorted; free with dir_names_free(). */
int netns_list(char ***names, size_t *count);

#endif

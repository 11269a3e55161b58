/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Named network namespaces as `ip netns` keeps them: a bind mount of the
 * namespace at /run/netns/NAME, so `ip netns exec NAME` works on them.
 */
#ifndef TCSPAN_NETNS_H
#define TCSPAN_NETNS_H

#include <stddef.h>

#include "error.h"

/* Create namespace `name`; -EEXIST when the name is taken. */
int netns_create(const char *name, struct tcspan_error *err);
/* Unmount and remove /run/netns/NAME; the namespace goes with its last user. */
int netns_delete(const char *name, struct tcspan_error *err);
/* The names under /run/netns, sorted; free with dir_names_free(). */
int netns_list(char ***names, size_t *count);

#endif

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The entries of a directory by name, sorted: /run/netns, bpffs pins. */
#ifndef TCSPAN_DIRNAMES_H
#define TCSPAN_DIRNAMES_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Names in `dir` (not starting with '.') that `keep` accepts, sorted.  A
 * missing directory has none.  Free with dir_names_free().
 */
int dir_names(const char *dir, bool (*keep)(const struct dirent *de),
	      char ***names, size_t *count);
void dir_names_free(char **names, size_t count);

#endif

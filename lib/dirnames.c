// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirnames.h"

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dir_names(const char *dir, bool (*keep)(const struct dirent *de),
	      char ***names, size_t *count)
{
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;
	DIR *d;

	*names = NULL;
	*count = 0;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char **nv;

		if (de->d_name[0] == '.' || !keep(de))
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv)
			goto nomem;
		v = nv;
		v[n] = strdup(de->d_name);
		if (!v[n])
			goto nomem;
		n++;
	}
	closedir(d);
	if (n)	/* qsort() takes no NULL, even for nothing */
		qsort(v, n, sizeof(*v), compare_names);
	*names = v;
	*count = n;
	return 0;
nomem:
	closedir(d);
	dir_names_free(v, n);
	return -ENOMEM;
}

void dir_names_free(char **names, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

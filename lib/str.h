/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Copying names into fixed buffers, truncated like snprintf("%s") but
 * without printf's machinery: the model and the plan copy names 100,000
 * times at 10,000 rules.
 */
#ifndef TCSPAN_STR_H
#define TCSPAN_STR_H

#include <stddef.h>
#include <string.h>

static inline void str_copy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * Append `src` to the string of `*len` bytes in `dst` (of `size` bytes,
 * `*len` < size), truncated at the end of `dst`; `*len` follows.
 */
static inline void str_append(char *dst, size_t size, size_t *len, const char *src)
{
	size_t n = strlen(src);

	if (n > size - 1 - *len)
		n = size - 1 - *len;
	memcpy(dst + *len, src, n);
	*len += n;
	dst[*len] = '\0';
}

#endif /* TCSPAN_STR_H */

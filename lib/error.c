// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

struct tcspan_error *tcspan_error__new(void)
{
	return calloc(1, sizeof(struct tcspan_error));
}

void tcspan_error__free(struct tcspan_error *err)
{
	size_t i;

	if (!err)
		return;
	for (i = 0; i < err->count; i++)
		free(err->messages[i]);
	free(err->messages);
	free(err);
}

void tcspan_error__clear(struct tcspan_error *err)
{
	size_t i;

	if (!err)
		return;
	for (i = 0; i < err->count; i++)
		free(err->messages[i]);
	err->count = 0;
}

size_t tcspan_error__count(const struct tcspan_error *err)
{
	return err ? err->count : 0;
}

const char *tcspan_error__message(const struct tcspan_error *err, size_t i)
{
	return err && i < err->count ? err->messages[i] : NULL;
}

int tcspan_error__vadd(struct tcspan_error *err, int errcode, const char *fmt,
		       va_list ap)
{
	char *msg;

	if (!err)
		return errcode;
	if (err->count == err->capacity) {
		size_t cap = err->capacity ? err->capacity * 2 : 8;
		char **m = realloc(err->messages, cap * sizeof(*m));

		if (!m)
			return errcode;
		err->messages = m;
		err->capacity = cap;
	}
	if (vasprintf(&msg, fmt, ap) < 0)
		return errcode;
	err->messages[err->count++] = msg;
	return errcode;
}

int tcspan_error__add(struct tcspan_error *err, int errcode, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tcspan_error__vadd(err, errcode, fmt, ap);
	va_end(ap);
	return errcode;
}

static tcspan_print_fn_t print_fn;

tcspan_print_fn_t tcspan_set_print(tcspan_print_fn_t fn)
{
	tcspan_print_fn_t old = print_fn;

	print_fn = fn;
	return old;
}

int tcspan_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's own words are detail: the caller reports the failure. */
	return print_fn ? print_fn(TCSPAN_DEBUG, fmt, ap) : 0;
}

void tcspan_log(enum tcspan_print_level level, const char *fmt, ...)
{
	va_list ap;

	if (!print_fn)
		return;
	va_start(ap, fmt);
	print_fn(level, fmt, ap);
	va_end(ap);
}

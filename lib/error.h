/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The error object that every library call may fill; see tcspan.h. */
#ifndef TCSPAN_ERROR_H
#define TCSPAN_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include <bpf/libbpf.h>

#include "tcspan.h"

struct tcspan_error {
	char **messages;
	size_t count;
	size_t capacity;
};

/*
 * Append one formatted message.  `err` may be NULL (the message is
 * dropped).  Returns `errcode` so that callers can `return
 * tcspan_error__add(err, -EINVAL, "...")`.
 */
int tcspan_error__add(struct tcspan_error *err, int errcode, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int tcspan_error__vadd(struct tcspan_error *err, int errcode, const char *fmt,
		       va_list ap);

/* Log through the callback set with tcspan_set_print(). */
/*
 * libbpf's print callback for tcspan's loads (libbpf_set_print()): its
 * messages go to tcspan's callback as TCSPAN_DEBUG instead of stderr.
 */
int tcspan_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap);

void tcspan_log(enum tcspan_print_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif

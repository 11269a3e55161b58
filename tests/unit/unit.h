/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The smallest test harness that serves: each test prints one line,
 * "PASS: NAME" or "FAIL: NAME: WHY", which tests/run counts.  A binary exits
 * 1 when any of its tests failed.
 */
#ifndef TCSPAN_UNIT_H
#define TCSPAN_UNIT_H

#include <stdio.h>
#include <stdarg.h>

static int unit_failed;

__attribute__((format(printf, 3, 4)))
static inline void unit_result(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("PASS: %s\n", name);
		return;
	}
	unit_failed = 1;
	printf("FAIL: %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

#define unit_exit() (fflush(stdout), unit_failed ? 1 : 0)

#endif

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tcspan tap: an ephemeral topology ("tap-" and 8 hex digits) that mirrors
 * the sources to capture points, captured with libpcap into one pcap or
 * pcapng file, around a command.  While a tap runs it holds an flock on
 * /run/tcspan/taps/NAME; a file there that nobody holds is a tap that was
 * killed, and its topology is removed by the next tap or `destroy --taps`.
 */
#ifndef TCSPAN_CMD_TAP_H
#define TCSPAN_CMD_TAP_H

#include <stdbool.h>

struct tap_ui {
	bool quiet;		/* -q: no summary */
	bool color;		/* "error:" in red on stderr */
};

/* `tcspan tap ...`: argv[0] is "tap".  Returns the exit status. */
int tap_main(int argc, char **argv, const struct tap_ui *ui);

/*
 * Remove what killed taps left: each topology whose lock file nobody
 * holds.  Returns how many were removed, or -1 after saying why not.
 */
int tap_reap(const struct tap_ui *ui);

#endif

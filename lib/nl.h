/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rtnetlink connections, one per network namespace, on libnl sockets.
 *
 * Requests are batched: nl_conn__send() adds a message to the connection's
 * batch, which goes to the kernel in one sendmsg when it is full or at
 * nl_conn__flush(), and the answers come back many per recvmmsg, so a
 * thousand filters cost a few system calls instead of two thousand.  Every
 * request asks for an acknowledgement and every socket for extended acks;
 * the kernel's message is handed back with the request it answers.  A
 * dump on a connection waits for no batch: flush first.
 */
#ifndef TCSPAN_NL_H
#define TCSPAN_NL_H

#include <stdbool.h>
#include <stdint.h>
#include <netlink/msg.h>

#include "error.h"

struct nl_conn;

/* Called for each answer of a flush: `tag` as given to send, `error` 0 or
 * a negative errno, `extack` the kernel's text or NULL. */
typedef void (*nl_ack_fn)(void *tag, int error, const char *extack, void *ctx);

/*
 * Open a connection in namespace `netns` ("" is the caller's, otherwise a
 * name under /run/netns).  The calling thread's namespace is restored
 * before return.
 */
int nl_conn__open(const char *netns, struct nl_conn **out, struct tcspan_error *err);
void nl_conn__close(struct nl_conn *conn);
const char *nl_conn__netns(const struct nl_conn *conn);

/*
 * Add `msg` (which nl_conn__send frees) to the batch, with NLM_F_ACK; `tag`
 * comes back in the callback.  When the batch is full, it is sent and its
 * answers are read first (and reported through `ack`); their first error
 * is returned.
 */
int nl_conn__send(struct nl_conn *conn, struct nl_msg *msg, void *tag,
		  nl_ack_fn ack, void *ctx);

/* Send the batch and read every answer.  Returns the first error seen, or 0. */
int nl_conn__flush(struct nl_conn *conn, nl_ack_fn ack, void *ctx);

/*
 * Whether requests went to the kernel whose answers never came (dropped on
 * a full receive buffer, or the socket failed): they were reported failed,
 * but whether the kernel carried them out is unknown.
 */
bool nl_conn__lost(const struct nl_conn *conn);

/* " (needs CAP_NET_ADMIN)" for an rtnetlink EPERM, else "". */
const char *nl_eperm_hint(int error);

/* One request, one answer: the kernel's text goes into `err` with `what`. */
int nl_conn__request(struct nl_conn *conn, struct nl_msg *msg,
		     const char *what, struct tcspan_error *err);

/* Called with each message of a dump; return 0 to go on, <0 to stop. */
typedef int (*nl_dump_fn)(struct nlmsghdr *hdr, void *ctx);

/* Send a dump request (`msg` is freed) and feed every answer to `fn`. */
int nl_conn__dump(struct nl_conn *conn, struct nl_msg *msg, nl_dump_fn fn,
		  void *ctx, struct tcspan_error *err);

/*
 * Run `fn(ctx)` with the calling thread in namespace `netns` ("" = the
 * caller's) and come back.  For the few calls that are not netlink
 * (opening a BPF or packet socket in a namespace).
 */
int nl_in_netns(const char *netns, int (*fn)(void *ctx), void *ctx,
		struct tcspan_error *err);

/* Does /run/netns/NAME exist as a namespace mount? */
bool nl_netns_exists(const char *netns);

#endif

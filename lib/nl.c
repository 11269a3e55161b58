// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/msg.h>

#include "nl.h"

#define NETNS_RUN_DIR "/run/netns"

/*
 * Requests sent in one batch: one send of up to NL_WINDOW messages (or
 * NL_BATCH_BYTES), whose answers the kernel has queued by the time the
 * send returns (rtnetlink runs each request in the sender's context, in
 * order).  Both shrink to what the socket's buffers hold: a datagram
 * larger than the send buffer is refused, and an answer that finds the
 * receive buffer full is dropped.  NL_ACK_TRUESIZE bounds what one answer
 * takes there (NETLINK_CAP_ACK: its header, the errno and the extended
 * ack's text, in the kernel's smallest buffers).
 */
#define NL_WINDOW 256
#define NL_BATCH_BYTES (128 << 10)
#define NL_ACK_TRUESIZE 2048
#define NL_BUFFER_SIZE (4 << 20)

/* Answers taken per recvmmsg, and the room for each: an ack is 36 bytes,
 * the extended ack's attributes add a short text and a few numbers. */
#define NL_ACK_SLOTS 64
#define NL_ACK_SIZE 2048

struct nl_pending {
	uint32_t seq;
	void *tag;
};

struct nl_conn {
	struct nl_sock *sk;
	char *netns;
	/* The batch: window[answered..outstanding) are its requests, sent
	 * and not yet answered, or still in `batch` waiting to be sent. */
	struct nl_pending window[NL_WINDOW];
	unsigned int outstanding, answered;
	unsigned int max_window;	/* what the receive buffer holds */
	unsigned char *batch;
	size_t batch_len, batch_cap;
	size_t max_batch;		/* what the send buffer holds */
	unsigned char *acks;		/* NL_ACK_SLOTS x NL_ACK_SIZE */
	bool lost;			/* see nl_conn__lost() */
};

static int zclose(int *fd)
{
	int ret = 0;

	if (*fd >= 0)
		ret = close(*fd);
	*fd = -1;
	return ret;
}

bool nl_netns_exists(const char *netns)
{
	char path[PATH_MAX];
	struct statfs sfs;

	snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, netns);
	/* A bind mount of an nsfs inode, as `ip netns add` leaves it. */
	return statfs(path, &sfs) == 0 && sfs.f_type == NSFS_MAGIC;
}

int nl_in_netns(const char *netns, int (*fn)(void *ctx), void *ctx,
		struct tcspan_error *err)
{
	char path[PATH_MAX];
	int self = -1, target = -1, ret;

	if (!netns || !*netns)
		return fn(ctx);

	snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, netns);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		ret = tcspan_error__add(err, -errno, "cannot open own network namespace: %s",
					strerror(errno));
		goto out;
	}
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		ret = tcspan_error__add(err, -errno, "network namespace \"%s\": %s",
					netns, strerror(errno));
		goto out;
	}
	if (setns(target, CLONE_NEWNET)) {
		ret = tcspan_error__add(err, -errno,
					"cannot enter network namespace \"%s\": %s%s", netns,
					strerror(errno),
					errno == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
		goto out;
	}
	ret = fn(ctx);
	if (setns(self, CLONE_NEWNET)) {
		/* Staying in the wrong namespace would misdirect every later call. */
		ret = tcspan_error__add(err, -errno,
					"cannot return to own network namespace: %s",
					strerror(errno));
	}
out:
	zclose(&target);
	zclose(&self);
	return ret;
}

struct open_ctx {
	struct nl_sock *sk;
	int error;
	int sndbuf, rcvbuf;		/* as the kernel set them */
};

static int open_socket(void *arg)
{
	struct open_ctx *oc = arg;
	int one = 1, size = NL_BUFFER_SIZE, fd;
	socklen_t len = sizeof(int);

	oc->sk = nl_socket_alloc();
	if (!oc->sk)
		return oc->error = -ENOMEM;
	oc->error = nl_connect(oc->sk, NETLINK_ROUTE);
	if (oc->error) {
		oc->error = -EPROTO;
		return oc->error;
	}
	fd = nl_socket_get_fd(oc->sk);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	/* Extended acks carry the kernel's reason; CAP_ACK keeps answers small. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	nl_socket_set_buffer_size(oc->sk, NL_BUFFER_SIZE, NL_BUFFER_SIZE);
	/* Room for whole batches past net.core.[rw]mem_max too, where
	 * CAP_NET_ADMIN allows; what the kernel grants sizes the batches. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &oc->rcvbuf, &len))
		oc->rcvbuf = 0;
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &oc->sndbuf, &len))
		oc->sndbuf = 0;
	/* One recvmsg per message, not a peek first: the kernel sends no
	 * datagram larger than 32 KiB to a reader of this buffer. */
	nl_socket_disable_msg_peek(oc->sk);
	nl_socket_set_msg_buf_size(oc->sk, 64 << 10);
	nl_socket_disable_seq_check(oc->sk);
	nl_socket_disable_auto_ack(oc->sk);
	return 0;
}

int nl_conn__open(const char *netns, struct nl_conn **out, struct tcspan_error *err)
{
	struct open_ctx oc = {};
	struct nl_conn *conn;
	int ret;

	*out = NULL;
	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return -ENOMEM;
	conn->netns = strdup(netns ? netns : "");
	if (!conn->netns) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = nl_in_netns(conn->netns, open_socket, &oc, err);
	if (ret || oc.error) {
		if (!ret)
			ret = tcspan_error__add(err, oc.error, "cannot open a netlink socket");
		nl_socket_free(oc.sk);
		goto fail;
	}
	conn->sk = oc.sk;
	/* The kernel refuses a datagram within 32 bytes of the send buffer. */
	conn->max_batch = oc.sndbuf > 64 + 32 ? (size_t)oc.sndbuf - 64 : 0;
	if (conn->max_batch > NL_BATCH_BYTES)
		conn->max_batch = NL_BATCH_BYTES;
	conn->max_window = oc.rcvbuf / NL_ACK_TRUESIZE;
	if (conn->max_window > NL_WINDOW)
		conn->max_window = NL_WINDOW;
	if (!conn->max_window)
		conn->max_window = 1;
	*out = conn;
	return 0;
fail:
	free(conn->netns);
	free(conn);
	return ret;
}

void nl_conn__close(struct nl_conn *conn)
{
	if (!conn)
		return;
	nl_socket_free(conn->sk);
	free(conn->batch);
	free(conn->acks);
	free(conn->netns);
	free(conn);
}

const char *nl_conn__netns(const struct nl_conn *conn)
{
	return conn->netns;
}

/* The kernel's extended-ack text in an NLMSG_ERROR, or NULL. */
static const char *extack_message(struct nlmsghdr *hdr)
{
	struct nlmsgerr *e = nlmsg_data(hdr);
	size_t off = sizeof(*e);
	struct nlattr *attr;
	int len, rem;

	if (!(hdr->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	if (!(hdr->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	len = (int)hdr->nlmsg_len - NLMSG_HDRLEN - (int)off;
	if (len <= 0)
		return NULL;
	nla_for_each_attr(attr, (struct nlattr *)((char *)e + off), len, rem) {
		if (nla_type(attr) == NLMSGERR_ATTR_MSG && nla_len(attr) > 0) {
			char *s = nla_data(attr);

			s[nla_len(attr) - 1] = '\0';
			return s;
		}
	}
	return NULL;
}

/* Report every request of the batch not yet answered as failed. */
static void fail_batch(struct nl_conn *conn, int error, const char *text,
		       nl_ack_fn ack, void *ctx)
{
	unsigned int i;

	for (i = conn->answered; i < conn->outstanding; i++)
		if (ack)
			ack(conn->window[i].tag, error, text, ctx);
	conn->outstanding = conn->answered = 0;
	conn->batch_len = 0;
}

/* Answer to request `seq`: find it (the kernel answers in order, so it is
 * the first unanswered one), report it, count it answered. */
static int settle(struct nl_conn *conn, uint32_t seq, int error, const char *extack,
		  nl_ack_fn ack, void *ctx)
{
	struct nl_pending found;
	unsigned int i;

	for (i = conn->answered; i < conn->outstanding; i++) {
		if (conn->window[i].seq != seq)
			continue;
		found = conn->window[i];
		conn->window[i] = conn->window[conn->answered];
		conn->window[conn->answered++] = found;
		if (ack)
			ack(found.tag, error, extack, ctx);
		return error;
	}
	return 0;
}

/* One datagram of answers, `len` bytes of it received (`truncated`: it
 * was longer); returns the first error it reports. */
static int answers(struct nl_conn *conn, struct nlmsghdr *hdr, int len, bool truncated,
		   nl_ack_fn ack, void *ctx)
{
	int first = 0, error;

	if (truncated) {
		/* Only an answer's own header and errno are sure to be whole. */
		if (len < (int)(NLMSG_HDRLEN + sizeof(struct nlmsgerr)) ||
		    hdr->nlmsg_type != NLMSG_ERROR)
			return 0;
		error = ((struct nlmsgerr *)nlmsg_data(hdr))->error;
		return settle(conn, hdr->nlmsg_seq, error, NULL, ack, ctx);
	}
	for (; nlmsg_ok(hdr, len); hdr = nlmsg_next(hdr, &len)) {
		if (hdr->nlmsg_type != NLMSG_ERROR)
			continue;
		error = ((struct nlmsgerr *)nlmsg_data(hdr))->error;
		error = settle(conn, hdr->nlmsg_seq, error, error ? extack_message(hdr) : NULL,
			       ack, ctx);
		if (error && !first)
			first = error;
	}
	return first;
}

/*
 * Read the answers to the batch sent, many per recvmmsg.  rtnetlink runs
 * every request of a send before the send returns, so each answer is in
 * the receive buffer by now, or was dropped when the buffer was full (the
 * kernel then reports ENOBUFS once): read without waiting, and count what
 * is not there as lost instead of waiting for it for ever.
 */
static int drain(struct nl_conn *conn, nl_ack_fn ack, void *ctx)
{
	struct sockaddr_nl peer[NL_ACK_SLOTS];
	struct mmsghdr msgs[NL_ACK_SLOTS];
	struct iovec iov[NL_ACK_SLOTS];
	int fd = nl_socket_get_fd(conn->sk), first = 0, error, n, k;
	unsigned int want;

	while (conn->answered < conn->outstanding) {
		want = conn->outstanding - conn->answered;
		if (want > NL_ACK_SLOTS)
			want = NL_ACK_SLOTS;
		memset(msgs, 0, want * sizeof(msgs[0]));
		for (k = 0; k < (int)want; k++) {
			iov[k].iov_base = conn->acks + (size_t)k * NL_ACK_SIZE;
			iov[k].iov_len = NL_ACK_SIZE;
			msgs[k].msg_hdr.msg_iov = &iov[k];
			msgs[k].msg_hdr.msg_iovlen = 1;
			msgs[k].msg_hdr.msg_name = &peer[k];
			msgs[k].msg_hdr.msg_namelen = sizeof(peer[k]);
		}
		n = recvmmsg(fd, msgs, want, MSG_DONTWAIT, NULL);
		/* ENOBUFS: some answers were dropped; the others are still queued. */
		if (n < 0 && (errno == EINTR || errno == ENOBUFS))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* The socket is unusable: fail everything still in flight. */
			conn->lost = true;
			fail_batch(conn, -EIO, "netlink receive failed", ack, ctx);
			return first ? first : -EIO;
		}
		for (k = 0; k < n; k++) {
			/* Answers come from the kernel (port 0) alone. */
			if (peer[k].nl_pid != 0)
				continue;
			error = answers(conn, iov[k].iov_base, (int)msgs[k].msg_len,
					msgs[k].msg_hdr.msg_flags & MSG_TRUNC, ack, ctx);
			if (error && !first)
				first = error;
		}
	}
	if (conn->answered < conn->outstanding) {
		/* Whether those requests were carried out is unknown. */
		conn->lost = true;
		fail_batch(conn, -ENOBUFS, "the kernel's answer was lost (the socket's receive "
			   "buffer was full)", ack, ctx);
		return first ? first : -ENOBUFS;
	}
	conn->outstanding = conn->answered = 0;
	return first;
}

/* Send the batch, then read its answers. */
static int push(struct nl_conn *conn, nl_ack_fn ack, void *ctx)
{
	char text[64];
	ssize_t n;
	int error;

	/* Room for the answers before anything is sent that they answer. */
	if (!conn->acks && conn->outstanding) {
		conn->acks = malloc(NL_ACK_SLOTS * NL_ACK_SIZE);
		if (!conn->acks) {
			fail_batch(conn, -ENOMEM, "out of memory for netlink answers", ack, ctx);
			return -ENOMEM;
		}
	}
	if (conn->batch_len) {
		do
			n = send(nl_socket_get_fd(conn->sk), conn->batch, conn->batch_len, 0);
		while (n < 0 && errno == EINTR);
		conn->batch_len = 0;
		if (n < 0) {
			/* Refused whole: none of the batch was carried out. */
			error = -errno;
			snprintf(text, sizeof(text), "netlink send failed: %s", strerror(-error));
			fail_batch(conn, error, text, ack, ctx);
			return error;
		}
	}
	return drain(conn, ack, ctx);
}

int nl_conn__send(struct nl_conn *conn, struct nl_msg *msg, void *tag,
		  nl_ack_fn ack, void *ctx)
{
	struct nlmsghdr *hdr = nlmsg_hdr(msg);
	size_t len = NLMSG_ALIGN(hdr->nlmsg_len), cap;
	unsigned char *grown;
	int first = 0;

	if (conn->outstanding == conn->max_window ||
	    (conn->batch_len && conn->batch_len + len > conn->max_batch))
		first = push(conn, ack, ctx);
	if (conn->batch_len + len > conn->batch_cap) {
		cap = conn->batch_len + len > NL_BATCH_BYTES ? conn->batch_len + len : NL_BATCH_BYTES;
		grown = realloc(conn->batch, cap);
		if (!grown) {
			nlmsg_free(msg);
			if (ack)
				ack(tag, -ENOMEM, "out of memory for a netlink request", ctx);
			return -ENOMEM;
		}
		conn->batch = grown;
		conn->batch_cap = cap;
	}
	/* The socket's port and next sequence number, as a send would set. */
	nl_complete_msg(conn->sk, msg);
	hdr->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	memcpy(conn->batch + conn->batch_len, hdr, hdr->nlmsg_len);
	memset(conn->batch + conn->batch_len + hdr->nlmsg_len, 0, len - hdr->nlmsg_len);
	conn->batch_len += len;
	conn->window[conn->outstanding].seq = hdr->nlmsg_seq;
	conn->window[conn->outstanding].tag = tag;
	conn->outstanding++;
	nlmsg_free(msg);
	return first;
}

int nl_conn__flush(struct nl_conn *conn, nl_ack_fn ack, void *ctx)
{
	return push(conn, ack, ctx);
}

bool nl_conn__lost(const struct nl_conn *conn)
{
	return conn->lost;
}

struct request_result {
	int error;
	char text[256];
};

static void request_ack(void *tag, int error, const char *extack, void *ctx)
{
	struct request_result *r = ctx;

	r->error = error;
	if (extack)
		snprintf(r->text, sizeof(r->text), "%s", extack);
}

const char *nl_eperm_hint(int error)
{
	/* rtnetlink checks one capability for every change it makes. */
	return error == -EPERM ? " (needs CAP_NET_ADMIN)" : "";
}

int nl_conn__request(struct nl_conn *conn, struct nl_msg *msg,
		     const char *what, struct tcspan_error *err)
{
	struct request_result r = {};

	nl_conn__send(conn, msg, NULL, request_ack, &r);
	nl_conn__flush(conn, request_ack, &r);
	if (r.error)
		return tcspan_error__add(err, r.error, "%s: %s%s", what,
					 r.text[0] ? r.text : strerror(-r.error),
					 nl_eperm_hint(r.error));
	return 0;
}

int nl_conn__dump(struct nl_conn *conn, struct nl_msg *msg, nl_dump_fn fn,
		  void *ctx, struct tcspan_error *err)
{
	struct nlmsghdr *req = nlmsg_hdr(msg);
	uint32_t seq;
	int ret = 0;
	bool done = false;

	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
	ret = nl_send_auto(conn->sk, msg);
	seq = req->nlmsg_seq;
	nlmsg_free(msg);
	if (ret < 0)
		return tcspan_error__add(err, -EIO, "netlink send failed");
	ret = 0;

	while (!done) {
		struct sockaddr_nl peer;
		unsigned char *buf = NULL;
		struct nlmsghdr *hdr;
		int n;

		n = nl_recv(conn->sk, &peer, &buf, NULL);
		if (n <= 0) {
			free(buf);
			return tcspan_error__add(err, -EIO, "netlink receive failed");
		}
		for (hdr = (struct nlmsghdr *)buf; nlmsg_ok(hdr, n); hdr = nlmsg_next(hdr, &n)) {
			if (hdr->nlmsg_seq != seq)
				continue;
			if (hdr->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (hdr->nlmsg_type == NLMSG_ERROR) {
				int e = ((struct nlmsgerr *)nlmsg_data(hdr))->error;
				const char *text = extack_message(hdr);

				if (e && !ret)
					ret = tcspan_error__add(err, e, "dump: %s%s",
								text ? text : strerror(-e),
								nl_eperm_hint(e));
				done = true;
				break;
			}
			/* Keep reading to the end even after the callback fails. */
			if (!ret)
				ret = fn(hdr, ctx);
		}
		free(buf);
	}
	return ret;
}

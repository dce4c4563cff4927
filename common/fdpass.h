/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One message with up to SL_FDPASS_MAX file descriptors (SCM_RIGHTS) over a
 * UNIX socket: the shared-memory attach request and reply (PROTOCOL.md
 * 14.1, 14.8), each side of which libsluice and the dataplane implement.
 */

#ifndef SLUICE_FDPASS_H
#define SLUICE_FDPASS_H

#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define SL_FDPASS_MAX 2

/* Send @len bytes of @buf with the @nfd descriptors of @fds (0 to
 * SL_FDPASS_MAX). Returns sendmsg's result. */
static inline ssize_t
sl_fdpass_send(int sock, const void *buf, size_t len, const int *fds, int nfd, int flags)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union {
		char buf[CMSG_SPACE(SL_FDPASS_MAX * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (nfd > 0) {
		nfd = nfd > SL_FDPASS_MAX ? SL_FDPASS_MAX : nfd;
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)nfd * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)nfd * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, (size_t)nfd * sizeof(int));
	}
	return sendmsg(sock, &mh, flags);
}

/* Receive one message into @buf (@len bytes) and the descriptors that came
 * with it into @fds (*@nfd of them, at most SL_FDPASS_MAX; more than that
 * are closed, close-on-exec set). Returns recvmsg's result; *@nfd is 0 on
 * failure. */
static inline ssize_t
sl_fdpass_recv(int sock, void *buf, size_t len, int *fds, int *nfd, int flags)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	union {
		char buf[CMSG_SPACE(SL_FDPASS_MAX * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	ssize_t n;
	int k;

	*nfd = 0;
	n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return n;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + (size_t)i * sizeof(int), sizeof(int));
			if (*nfd < SL_FDPASS_MAX)
				fds[(*nfd)++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

#endif /* SLUICE_FDPASS_H */

#include "sync.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int send_msg(int fd, struct sbx_msg *msg, int passed)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = msg, .iov_len = sizeof(*msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (passed >= 0) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passed, sizeof(int));
	}
	for (;;) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		return n == (ssize_t)sizeof(*msg) ? 0 : -1;
	}
}

int sbx_sync_send(int fd, int type, const struct sbx_error *error)
{
	struct sbx_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.type = type;
	if (error != NULL)
		msg.error = *error;
	return send_msg(fd, &msg, -1);
}

int sbx_sync_send_value(int fd, int type, int value)
{
	struct sbx_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.type = type;
	msg.wstatus = value;
	return send_msg(fd, &msg, -1);
}

int sbx_sync_send_status(int fd, int wstatus)
{
	return sbx_sync_send_value(fd, SBX_MSG_EXIT, wstatus);
}

int sbx_sync_send_fd(int fd, int type, int passed)
{
	struct sbx_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.type = type;
	return send_msg(fd, &msg, passed);
}

int sbx_sync_recv(int fd, struct sbx_msg *msg, int *passed, struct sbx_error *err)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = msg, .iov_len = sizeof(*msg) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	ssize_t n;
	int reset = 0;

	if (passed != NULL)
		*passed = -1;
	/* A peer that ended with messages of ours unread (a child whose setup
	 * failed before it read "start", one killed) resets the socket: the
	 * reset is reported once, before what the peer sent is read, so read
	 * on; what follows its last message is end of file. */
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && (errno == EINTR || (errno == ECONNRESET && !reset++)));
	if (n < 0 && errno == ECONNRESET)
		return 0;
	if (n < 0)
		return sbx_fail(err, errno, "reading the sync socket");
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int got;

			memcpy(&got, CMSG_DATA(c), sizeof(int));
			if (passed != NULL && *passed < 0)
				*passed = got;
			else
				close(got);
		}
	}
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(*msg))
		return sbx_fail(err, EPROTO, "short message on the sync socket");
	msg->error.msg[sizeof(msg->error.msg) - 1] = '\0';
	return 1;
}

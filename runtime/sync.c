#include "sync.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

int sbx_sync_send(int fd, int type, const struct sbx_error *error)
{
	struct sbx_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.type = type;
	if (error != NULL)
		msg.error = *error;
	for (;;) {
		ssize_t n = send(fd, &msg, sizeof(msg), MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		return n == (ssize_t)sizeof(msg) ? 0 : -1;
	}
}

int sbx_sync_recv(int fd, struct sbx_msg *msg, struct sbx_error *err)
{
	for (;;) {
		ssize_t n = recv(fd, msg, sizeof(*msg), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sbx_fail(err, errno, "reading the sync socket");
		if (n == 0)
			return 0;
		if (n != (ssize_t)sizeof(*msg))
			return sbx_fail(err, EPROTO, "short message on the sync socket");
		msg->error.msg[sizeof(msg->error.msg) - 1] = '\0';
		return 1;
	}
}

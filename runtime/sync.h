/* The sync socket between sbx and the sandbox's child: the parent says
 * when the id maps are in place; the child sends an error if a setup step
 * fails.  A successful execve closes the child's end (close-on-exec), which
 * the parent reads as end of file: no message means success. */
#ifndef SBX_SYNC_H
#define SBX_SYNC_H

#include "error.h"

enum sbx_msg_type {
	SBX_MSG_MAPS_READY = 1, /* parent -> child */
	SBX_MSG_ERROR = 2,      /* child -> parent */
};

struct sbx_msg {
	int type;
	struct sbx_error error;
};

int sbx_sync_send(int fd, int type, const struct sbx_error *error);

/* Receive one message.  Returns 1 with a message, 0 on end of file, -1 on
 * error (ERR filled). */
int sbx_sync_recv(int fd, struct sbx_msg *msg, struct sbx_error *err);

#endif

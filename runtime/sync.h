/* The sync socket between sbx and the sandbox.  sbx says when the id maps
 * are in place; the child reports a setup error, the init passes the pty
 * master (interactive runs) and, last, the command's wait status.  The
 * init's end closes when it exits: end of file means the sandbox is gone. */
#ifndef SBX_SYNC_H
#define SBX_SYNC_H

#include "error.h"

enum sbx_msg_type {
	SBX_MSG_MAPS_READY = 1, /* sbx -> child */
	SBX_MSG_ERROR = 2,      /* child -> sbx: setup or exec failed */
	SBX_MSG_PTY = 3,        /* init -> sbx: carries the pty master */
	SBX_MSG_EXIT = 4,       /* init -> sbx: the command's wait status */
	SBX_MSG_STARTED = 5,    /* init -> sbx: the command's process exists */
	SBX_MSG_ROOT = 6,       /* child -> sbx: SBX_ROOT_* flags, in wstatus */
	SBX_MSG_START = 7,      /* sbx -> init: run the command (the init parks until then) */
	SBX_MSG_NETNS = 8,      /* netns maker -> child: carries the new network namespace */
	/* An OCI container's setup (oci_container.c): */
	SBX_MSG_OCI_HOOKS = 9,  /* child -> sbx: mounts done, run prestart and createRuntime */
	SBX_MSG_OCI_READY = 10, /* child -> sbx: parked before the fifo, write the state */
	SBX_MSG_OCI_GO = 11,    /* sbx -> child: go on; the value is the child's host pid */
	SBX_MSG_OCI_DETACHED = 12, /* child -> sbx: no longer dies with sbx; sbx may exit */
};

struct sbx_msg {
	int type;
	int wstatus;
	struct sbx_error error;
};

int sbx_sync_send(int fd, int type, const struct sbx_error *error);
int sbx_sync_send_status(int fd, int wstatus);
/* A message of TYPE whose number (in wstatus) is VALUE. */
int sbx_sync_send_value(int fd, int type, int value);
int sbx_sync_send_fd(int fd, int type, int passed);

/* Receive one message; a passed descriptor lands in *PASSED (else -1).
 * Returns 1 with a message, 0 on end of file (or a peer that died with
 * messages unread), -1 on error. */
int sbx_sync_recv(int fd, struct sbx_msg *msg, int *passed, struct sbx_error *err);

#endif

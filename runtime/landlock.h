/* Landlock: within the sandbox the command may write only where it is
 * meant to (/workspace, /tmp, /dev/shm, its pty, --bind and --tmpfs
 * targets, the harmless device nodes); everything else is read and
 * execute only.  From ABI 6 abstract unix sockets and signals are scoped
 * to the sandbox too.  The ABI is negotiated, never assumed. */
#ifndef SBX_LANDLOCK_H
#define SBX_LANDLOCK_H

#include <stddef.h>

#include "error.h"

/* The kernel's Landlock ABI version, 0 when it has none. */
int sbx_landlock_abi(void);

/* Restrict the calling thread (no_new_privs must be set).  WRITABLE are
 * paths inside the sandbox; missing ones are skipped. */
int sbx_landlock_apply(int abi, const char *const *writable, size_t n_writable,
		       struct sbx_error *err);

#endif

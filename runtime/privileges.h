/* What the sandbox may never do, whatever its uid: capabilities (all five
 * sets empty, securebits locked so none come back), new privileges through
 * setuid or file-capability binaries (no_new_privs), core dumps that would
 * feed a host core handler. */
#ifndef SBX_PRIVILEGES_H
#define SBX_PRIVILEGES_H

#include "error.h"

/* While still privileged inside (needs CAP_SETPCAP): empty the bounding
 * set, lock the securebits, RLIMIT_CORE 0, no_new_privs. */
int sbx_lock_privileges(struct sbx_error *err);

/* After the switch to the sandbox user: empty the permitted, effective,
 * inheritable and ambient sets. */
int sbx_drop_capabilities(struct sbx_error *err);

#endif

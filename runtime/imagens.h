/* Work on image trees as the owner their files need.  Trees are unpacked
 * with the sandbox's own id map (the one `sbx run` uses for user 1000), so
 * that a file owned by root in the image is owned, on the host, by the id
 * the sandbox maps to root: root-owned files stay root-owned inside.  As
 * root and as a caller with subordinate ranges that means a child process
 * that is root of a user namespace with that map; without ranges, only the
 * caller's own id exists and owners are not kept. */
#ifndef SBX_IMAGENS_H
#define SBX_IMAGENS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

typedef int (*sbx_imagens_fn)(void *arg, void *out, struct sbx_error *err);

/* Run FN(ARG, OUT) as the owner of image trees, in a child process.  OUT
 * (OUT_LEN bytes of plain data) and the error come back from the child.
 * The caller blocks SIGINT, SIGTERM and SIGHUP: when one comes, the child
 * is killed and the error says so (status 128+N), so that the caller can
 * clean up what the child left. */
int sbx_imagens_run(sbx_imagens_fn fn, void *arg, void *out, size_t out_len, struct sbx_error *err);

/* The signals that stop an image command (SIGINT, SIGTERM, SIGHUP): the
 * caller blocks them, the worker's waiter and the steps between check. */
void sbx_imagens_stop_signals(sigset_t *set);
/* One of them pending: ERR says which (status 128+N). */
int sbx_imagens_stop_pending(struct sbx_error *err);

/* Give a directory sbx made for the worker to the worker's root (as host
 * root, whose own ids the worker's namespace does not map). */
int sbx_imagens_give_dir(int fd, struct sbx_error *err);

/* Whether image files keep their owners here (a user namespace is used). */
bool sbx_imagens_keeps_owners(void);

#endif

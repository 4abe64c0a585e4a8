/* The sandbox's network: with --network none a new namespace whose only
 * interface is the loopback, brought up so that localhost works. */
#ifndef SBX_NET_H
#define SBX_NET_H

#include "error.h"

#include <sys/types.h>

int sbx_loopback_up(struct sbx_error *err);

/* A network namespace takes the kernel ~0.5 ms to make (and the same to
 * bring lo up), as long as the rest of the sandbox's setup: sbx makes it
 * beside that setup, in a process of its own, instead of in the clone.
 *
 * In sbx, once the child exists: open its user namespace, while the
 * child is still sbx's user (it waits for its id maps), so that the
 * process may be looked at. */
int sbx_netns_open_userns(pid_t child, struct sbx_error *err);

/* Then fork the maker, which joins that user namespace USERNS (so that the
 * new network namespace is owned by it, as if the child had made it),
 * makes the namespace, brings lo up and passes it to the child over SOCK
 * (or the error that stopped it).  Returns its pid. */
pid_t sbx_netns_make_beside(int userns, int sock, struct sbx_error *err);

/* In the child: wait for the namespace the maker passes over SOCK and
 * enter it. */
int sbx_netns_enter(int sock, struct sbx_error *err);

#endif

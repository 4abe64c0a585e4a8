/* The sandbox's network: with --network none a new namespace whose only
 * interface is the loopback, brought up so that localhost works. */
#ifndef SBX_NET_H
#define SBX_NET_H

#include "error.h"

int sbx_loopback_up(struct sbx_error *err);

#endif

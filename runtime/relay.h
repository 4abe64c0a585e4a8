/* Relaying the command's stdout or stderr through sbx with a bound on
 * what is kept: the first half of the limit is passed on as it arrives,
 * the last half is held in a ring; at the end, if anything fell between,
 * a marker says how much.  The pipe is always drained, so the command never
 * blocks on a full pipe, and sbx's memory stays at the limit's half. */
#ifndef SBX_RELAY_H
#define SBX_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct sbx_relay {
	int in_fd;  /* read end of the command's pipe; -1 once at EOF */
	int out_fd; /* where kept output goes */
	uint64_t head_limit;
	uint64_t total; /* bytes the command wrote */
	char *ring;     /* the tail */
	size_t ring_cap;
	size_t ring_start;
	size_t ring_len;
};

/* The relay owns IN_FD from here on, even when this fails. */
int sbx_relay_init(struct sbx_relay *r, int in_fd, int out_fd, uint64_t limit,
		   struct sbx_error *err);
/* Frees the ring and closes IN_FD if still open. */
void sbx_relay_free(struct sbx_relay *r);

/* Take LEN bytes of the command's output. */
int sbx_relay_feed(struct sbx_relay *r, const char *buf, size_t len, struct sbx_error *err);

/* Read what is available from in_fd (non-blocking) and feed it.  Returns 1
 * while the pipe is open, 0 at EOF. */
int sbx_relay_pump(struct sbx_relay *r, struct sbx_error *err);

/* At EOF: write the marker (when something was dropped) and the tail. */
int sbx_relay_finish(struct sbx_relay *r, struct sbx_error *err);

bool sbx_relay_truncated(const struct sbx_relay *r);

#endif

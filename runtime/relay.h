/* Relaying the command's stdout or stderr through sbx with a bound on
 * what is kept: the first half of the limit is passed on as it arrives,
 * the last half is held in a ring; at the end, if anything fell between,
 * a marker says how much.  The pipe is always drained, so the command never
 * blocks on a full pipe, and sbx never blocks on its reader either: the
 * head waits in a buffer of its own until the reader takes it, so sbx holds
 * at most the limit per stream.  What the reader has not taken when the run
 * gives up on it (the deadline, a stop) is dropped and counted. */
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
	char *head;     /* the head, kept until the reader takes it */
	size_t head_len;
	size_t head_sent;
	char *ring;     /* the tail */
	size_t ring_cap;
	size_t ring_start;
	size_t ring_len;
	char marker[128]; /* written between head and tail at EOF */
	size_t marker_len;
	size_t end_sent;  /* bytes of marker and tail written */
	bool dropping;    /* the reader is gone or the run gave up on it */
};

/* The relay owns IN_FD from here on, even when this fails. */
int sbx_relay_init(struct sbx_relay *r, int in_fd, int out_fd, uint64_t limit,
		   struct sbx_error *err);
/* Frees the buffers and closes IN_FD if still open. */
void sbx_relay_free(struct sbx_relay *r);

/* Take LEN bytes of the command's output. */
int sbx_relay_feed(struct sbx_relay *r, const char *buf, size_t len, struct sbx_error *err);

/* Read what is available from in_fd (non-blocking, a bounded amount) and
 * feed it.  Returns 1 while the pipe is open, 0 at EOF. */
int sbx_relay_pump(struct sbx_relay *r, struct sbx_error *err);

/* The pipe is at EOF: closes it; the marker (when something fell between)
 * and the tail are due. */
void sbx_relay_eof(struct sbx_relay *r);

/* The next bytes due to out_fd (head, then at EOF the marker and the tail):
 * their length, 0 when nothing is due now. */
size_t sbx_relay_pending(const struct sbx_relay *r, const char **buf);
/* The reader took N of them. */
void sbx_relay_sent(struct sbx_relay *r, size_t n);
/* Deliver nothing more. */
void sbx_relay_drop(struct sbx_relay *r);
/* What would have been delivered (head and tail, not the omitted middle)
 * but was not, once dropping. */
uint64_t sbx_relay_dropped(const struct sbx_relay *r);

bool sbx_relay_truncated(const struct sbx_relay *r);

#endif

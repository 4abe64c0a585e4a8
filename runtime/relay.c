#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

int sbx_relay_init(struct sbx_relay *r, int in_fd, int out_fd, uint64_t limit,
		   struct sbx_error *err)
{
	memset(r, 0, sizeof(*r));
	r->in_fd = in_fd; /* owned from here on, also when this fails */
	r->out_fd = out_fd;
	r->head_limit = limit / 2;
	r->ring_cap = (size_t)(limit - r->head_limit);
	/* Pages are only touched as output arrives. */
	r->head = malloc((size_t)r->head_limit);
	r->ring = malloc(r->ring_cap);
	if (r->head == NULL || r->ring == NULL)
		return sbx_fail(err, ENOMEM, "--output-limit: allocating %llu bytes",
				(unsigned long long)limit);
	return 0;
}

void sbx_relay_free(struct sbx_relay *r)
{
	free(r->head);
	free(r->ring);
	r->head = r->ring = NULL;
	if (r->in_fd >= 0)
		close(r->in_fd);
	r->in_fd = -1;
}

static void ring_append(struct sbx_relay *r, const char *buf, size_t len)
{
	if (len >= r->ring_cap) {
		memcpy(r->ring, buf + len - r->ring_cap, r->ring_cap);
		r->ring_start = 0;
		r->ring_len = r->ring_cap;
		return;
	}
	for (size_t done = 0; done < len;) {
		size_t end = (r->ring_start + r->ring_len) % r->ring_cap;
		size_t n = len - done;

		if (n > r->ring_cap - end)
			n = r->ring_cap - end;
		memcpy(r->ring + end, buf + done, n);
		done += n;
		r->ring_len += n;
		if (r->ring_len > r->ring_cap) {
			r->ring_start = (r->ring_start + (r->ring_len - r->ring_cap)) % r->ring_cap;
			r->ring_len = r->ring_cap;
		}
	}
}

int sbx_relay_feed(struct sbx_relay *r, const char *buf, size_t len, struct sbx_error *err)
{
	uint64_t head_left = r->total < r->head_limit ? r->head_limit - r->total : 0;
	size_t to_head = len < head_left ? len : (size_t)head_left;

	(void)err;
	r->total += len;
	memcpy(r->head + r->head_len, buf, to_head);
	r->head_len += to_head;
	if (len > to_head)
		ring_append(r, buf + to_head, len - to_head);
	return 0;
}

bool sbx_relay_truncated(const struct sbx_relay *r)
{
	return r->total > r->head_limit + r->ring_len;
}

void sbx_relay_eof(struct sbx_relay *r)
{
	int n;

	if (r->in_fd >= 0)
		close(r->in_fd);
	r->in_fd = -1;
	if (!sbx_relay_truncated(r))
		return;
	n = snprintf(r->marker, sizeof(r->marker), "\n[sbx: output truncated, %llu bytes omitted]\n",
		     (unsigned long long)(r->total - r->head_limit - r->ring_len));
	r->marker_len = (size_t)n;
}

int sbx_relay_pump(struct sbx_relay *r, struct sbx_error *err)
{
	char buf[65536];

	for (int rounds = 0; r->in_fd >= 0 && rounds < 16; rounds++) {
		ssize_t n = read(r->in_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 1;
		if (n < 0)
			return sbx_fail(err, errno, "reading the command's output");
		if (n == 0) {
			sbx_relay_eof(r);
			return 0;
		}
		if (sbx_relay_feed(r, buf, (size_t)n, err) < 0)
			return -1;
	}
	return r->in_fd >= 0;
}

/* The part of the ring that runs to its end, then the part from its start. */
static size_t ring_first(const struct sbx_relay *r)
{
	size_t first = r->ring_cap - r->ring_start;

	return first < r->ring_len ? first : r->ring_len;
}

size_t sbx_relay_pending(const struct sbx_relay *r, const char **buf)
{
	size_t off = r->end_sent, first = ring_first(r);

	if (r->dropping)
		return 0;
	if (r->head_sent < r->head_len) {
		*buf = r->head + r->head_sent;
		return r->head_len - r->head_sent;
	}
	if (r->in_fd >= 0)
		return 0;
	if (off < r->marker_len) {
		*buf = r->marker + off;
		return r->marker_len - off;
	}
	off -= r->marker_len;
	if (off < first) {
		*buf = r->ring + r->ring_start + off;
		return first - off;
	}
	off -= first;
	*buf = r->ring + off;
	return r->ring_len - first - off;
}

void sbx_relay_sent(struct sbx_relay *r, size_t n)
{
	if (r->head_sent < r->head_len)
		r->head_sent += n;
	else
		r->end_sent += n;
}

void sbx_relay_drop(struct sbx_relay *r)
{
	r->dropping = true;
}

uint64_t sbx_relay_dropped(const struct sbx_relay *r)
{
	size_t tail_sent = r->end_sent > r->marker_len ? r->end_sent - r->marker_len : 0;

	if (!r->dropping)
		return 0;
	return (r->head_len - r->head_sent) + (r->ring_len - tail_sent);
}

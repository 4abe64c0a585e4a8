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
	r->ring = malloc(r->ring_cap);
	if (r->ring == NULL)
		return sbx_fail(err, ENOMEM, "--output-limit: allocating %zu bytes", r->ring_cap);
	return 0;
}

void sbx_relay_free(struct sbx_relay *r)
{
	free(r->ring);
	r->ring = NULL;
	if (r->in_fd >= 0)
		close(r->in_fd);
	r->in_fd = -1;
}

static int emit(struct sbx_relay *r, const char *buf, size_t len, struct sbx_error *err)
{
	/* A reader that went away (EPIPE) must not stop the draining. */
	if (sbx_write_all(r->out_fd, buf, len) < 0 && errno != EPIPE)
		return sbx_fail(err, errno, "relaying the command's output");
	return 0;
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

	r->total += len;
	if (to_head > 0 && emit(r, buf, to_head, err) < 0)
		return -1;
	if (len > to_head && r->ring_cap > 0)
		ring_append(r, buf + to_head, len - to_head);
	return 0;
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
			close(r->in_fd);
			r->in_fd = -1;
			return 0;
		}
		if (sbx_relay_feed(r, buf, (size_t)n, err) < 0)
			return -1;
	}
	return r->in_fd >= 0;
}

bool sbx_relay_truncated(const struct sbx_relay *r)
{
	return r->total > r->head_limit + r->ring_len;
}

int sbx_relay_finish(struct sbx_relay *r, struct sbx_error *err)
{
	size_t first = r->ring_cap - r->ring_start;

	if (sbx_relay_truncated(r)) {
		char marker[128];
		int n = snprintf(marker, sizeof(marker), "\n[sbx: output truncated, %llu bytes omitted]\n",
				 (unsigned long long)(r->total - r->head_limit - r->ring_len));

		if (emit(r, marker, (size_t)n, err) < 0)
			return -1;
	}
	if (first > r->ring_len)
		first = r->ring_len;
	if (emit(r, r->ring + r->ring_start, first, err) < 0 ||
	    emit(r, r->ring, r->ring_len - first, err) < 0)
		return -1;
	return 0;
}

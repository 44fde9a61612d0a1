/* pipe.c: pipe mode: decide a stream of SIP messages. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "pipe.h"
#include "sip.h"
#include "vlog.h"

#define READ_CHUNK 65536

struct pipe_state {
	struct gate *g;
	const struct conf *c;
	const struct pipe_opts *o;
	/* Bytes to pass on, gathered per read so that the log lines
	 * describing them are written first. */
	struct fed_buf out;
	struct fed_buf replies;
	struct sip_msg msg;
	struct gate_result res;
};

/* The log first (gate_log_flush commits the state batch before it):
 * whatever the other outputs hold, a decision is kept and on record
 * before its effects are. */
static int
flush_out(struct pipe_state *r, struct fed_err *err)
{
	if (gate_log_flush(r->g, err) != 0)
		return -1;
	if (r->replies.n > 0 && fed_write_all(r->o->replies_fd, r->replies.p,
	    r->replies.n) != 0) {
		fed_err_set(err, "replies: %s", strerror(errno));
		return -1;
	}
	r->replies.n = 0;
	if (r->out.n > 0 &&
	    fed_write_all(r->o->out_fd, r->out.p, r->out.n) != 0) {
		fed_err_set(err, "stdout: %s", strerror(errno));
		return -1;
	}
	r->out.n = 0;
	return 0;
}

/* A system error in the middle of a read: what was decided before it is
 * logged and passed on, then the run stops with the first error. */
static int
pipe_fail(struct pipe_state *r)
{
	struct fed_err later;

	(void)flush_out(r, &later);
	return FED_EXIT_SYS;
}

/* With an edge pool: the state questions of every whole message at the
 * start of buf, asked in one call before they are judged (gate_plan). */
static int
pipe_plan(struct pipe_state *r, const char *buf, size_t len, size_t scanned,
    int64_t now, struct fed_err *err)
{
	struct sip_error se;
	size_t off = 0, used;
	enum sip_frame_result fr;

	for (;;) {
		used = 0;
		fr = sip_frame(buf + off, len - off, &r->c->limits, &scanned,
		    &used, &r->msg, &se);
		if (fr == SIP_FRAME_MORE || fr == SIP_FRAME_ERROR)
			break;
		if (fr == SIP_FRAME_MESSAGE &&
		    gate_plan(r->g, &r->msg, now, err) != 0)
			return -1;
		off += used;
	}
	return gate_plan_run(r->g, now, err);
}

/* Decide every whole message at the start of buf.  Returns the bytes
 * used, -1 on a system error, -2 after an unframeable stream was logged
 * (*err says why). */
static long
pipe_chunk(struct pipe_state *r, const char *buf, size_t len,
    size_t *scanned, size_t consumed, int64_t now, struct fed_err *err)
{
	struct sip_error se;
	size_t off = 0, used;
	enum sip_frame_result fr;

	if (gate_plans(r->g) && pipe_plan(r, buf, len, *scanned, now, err) != 0)
		return -1;
	for (;;) {
		used = 0;
		fr = sip_frame(buf + off, len - off, &r->c->limits, scanned,
		    &used, &r->msg, &se);
		switch (fr) {
		case SIP_FRAME_MORE:
			return (long)off;
		case SIP_FRAME_KEEPALIVE:
			if (fed_buf_add(&r->out, buf + off, used) != 0)
				goto nomem;
			break;
		case SIP_FRAME_MESSAGE:
		case SIP_FRAME_MALFORMED:
			if (gate_message(r->g, &r->msg,
			    fr == SIP_FRAME_MALFORMED ? &se : NULL, now, &r->res,
			    err) != 0)
				return -1;
			if ((r->res.d.verdict == VERDICT_ACCEPT ||
			    r->res.d.verdict == VERDICT_OBSERVE) &&
			    fed_buf_add(&r->out, buf + off, used) != 0)
				goto nomem;
			if (r->res.reply_len > 0 && r->o->replies_fd >= 0 &&
			    fed_buf_add(&r->replies, r->res.reply,
			    r->res.reply_len) != 0)
				goto nomem;
			break;
		case SIP_FRAME_ERROR:
			if (gate_unframeable(r->g, now, err) != 0)
				return -1;
			fed_err_set(err, "%s: byte %zu: %s; the rest of the "
			    "stream cannot be read", r->o->in_name,
			    consumed + off, se.reason);
			return -2;
		}
		off += used;
	}
nomem:
	fed_err_set(err, "output buffer: %s", strerror(ENOMEM));
	return -1;
}

/* Input within a second (or an end, or an error: read(2) tells)? */
static int
input_ready(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 1000) != 0;
}

/* A lone CRLF keep-alive ends many captures: the framer waits for a
 * second one that never comes. */
static int
lone_keepalive(const char *buf, size_t len)
{
	return (len == 2 && memcmp(buf, "\r\n", 2) == 0) ||
	    (len == 1 && buf[0] == '\n');
}

/* One read into buf[len..cap): the bytes read, 0 at the end of the
 * input, -1 with *err. */
static ssize_t
pipe_read(const struct pipe_opts *o, char *buf, size_t len, size_t cap,
    struct fed_err *err)
{
	ssize_t n;

	if (len == cap) {	/* the framer refuses long before */
		fed_err_set(err, "%s: internal error: buffer full", o->in_name);
		return -1;
	}
	do
		n = read(o->in_fd, buf + len, cap - len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		fed_err_set(err, "%s: %s", o->in_name, strerror(errno));
	return n;
}

/* At the end of the input, what is left of it (len bytes at buf, after
 * `consumed`): a lone keep-alive is passed on, anything else is a message
 * cut short, logged.  Returns the run's exit status. */
static int
pipe_end(struct pipe_state *r, const char *buf, size_t len, size_t consumed,
    int64_t now, struct fed_err *err)
{
	struct sip_error se = { "message cut short at end of input", 400 };

	if (lone_keepalive(buf, len)) {
		if (fed_write_all(r->o->out_fd, buf, len) != 0) {
			fed_err_set(err, "stdout: %s", strerror(errno));
			return FED_EXIT_SYS;
		}
		len = 0;
	}
	if (len == 0)
		return FED_EXIT_OK;
	if (gate_unframeable(r->g, now, err) != 0 ||
	    gate_log_flush(r->g, err) != 0)
		return FED_EXIT_SYS;
	fed_err_set(err, "%s: byte %zu: %s", r->o->in_name, consumed,
	    se.reason);
	return FED_EXIT_USAGE;
}

int
pipe_run(struct gate *g, const struct conf *c, const struct pipe_opts *o,
    struct fed_err *err)
{
	struct pipe_state *r = NULL;
	struct fed_err later;
	size_t cap, len = 0, scanned = 0, consumed = 0;
	char *buf;
	ssize_t n;
	long used;
	int64_t now = 0;
	int eof = 0, rc = FED_EXIT_OK;

	/* Room for one whole message of the largest size plus a read. */
	cap = c->limits.max_message + READ_CHUNK;
	if ((buf = malloc(cap)) == NULL || (r = calloc(1, sizeof *r)) == NULL) {
		free(buf);
		fed_err_set(err, "pipe: %s", strerror(ENOMEM));
		return FED_EXIT_SYS;
	}
	r->g = g;
	r->c = c;
	r->o = o;
	gate_log_buffer(g, 1);
	if (gate_batch(g, 1, err) != 0) {
		rc = FED_EXIT_SYS;
		goto out;
	}
	while (!eof) {
		/* A pool's response counts go within a second, and its
		 * outage is said, even while the input is quiet. */
		if (gate_ticks_idle(g) && !input_ready(o->in_fd)) {
			if (gate_tick(g, fed_now_ms(), err) != 0) {
				rc = pipe_fail(r);
				break;
			}
			continue;
		}
		if ((n = pipe_read(o, buf, len, cap, err)) < 0) {
			rc = pipe_fail(r);
			break;
		}
		eof = n == 0;
		len += (size_t)n;
		/* c may change in the tick (a fed.conf reload): the framer
		 * reads it afresh each time. */
		now = fed_now_ms();
		if (o->tick != NULL)
			o->tick(o->tick_arg, now);
		if (gate_tick(g, now, err) != 0) {
			rc = pipe_fail(r);
			break;
		}
		used = pipe_chunk(r, buf, len, &scanned, consumed, now, err);
		if (used == -1) {
			rc = pipe_fail(r);
			break;
		}
		if (used == -2) {
			rc = flush_out(r, &later) != 0 ? FED_EXIT_SYS :
			    FED_EXIT_USAGE;
			if (rc == FED_EXIT_SYS)
				*err = later;
			break;
		}
		if (flush_out(r, err) != 0) {
			rc = FED_EXIT_SYS;
			break;
		}
		if (used > 0) {
			memmove(buf, buf + used, len - (size_t)used);
			len -= (size_t)used;
			consumed += (size_t)used;
			scanned = 0;
		}
		if (eof)
			rc = pipe_end(r, buf, len, consumed, now, err);
	}
out:
	fed_buf_free(&r->out);
	fed_buf_free(&r->replies);
	free(r);
	free(buf);
	return rc;
}

int
pipe_open(struct pipe_session *ps, struct conf *c, const struct gate_opts *o,
    const char *replies, struct fed_err *err)
{
	struct gate_opts go = *o;

	memset(ps, 0, sizeof *ps);
	ps->replies = replies;
	ps->replies_fd = ps->log_fd = -1;
	if (replies != NULL && (ps->replies_fd = open(replies,
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		fed_err_set(err, "%s: %s", replies, strerror(errno));
		return -1;
	}
	go.replies = ps->replies_fd >= 0;
	if ((go.log_fd = ps->log_fd = vlog_open(c->verdict_log)) < 0) {
		fed_err_set(err, "%s: %s", c->verdict_log, strerror(errno));
		goto fail;
	}
	if (gate_open(&ps->g, c, &go, err) != 0)
		goto fail;
	conf_watch_init(&ps->cw, c, fed_now_ms());
	ps->cw.g = ps->g;
	ps->cw.log_fd = ps->log_fd;
	return 0;
fail:
	if (ps->log_fd >= 0)
		close(ps->log_fd);
	if (ps->replies_fd >= 0)
		close(ps->replies_fd);
	return -1;
}

int
pipe_serve(struct pipe_session *ps)
{
	struct pipe_opts po = {
		.in_fd = STDIN_FILENO,
		.out_fd = STDOUT_FILENO,
		.replies_fd = ps->replies_fd,
		.in_name = "stdin",
		.tick = conf_watch_tick,
		.tick_arg = &ps->cw,
	};
	struct fed_err err;
	int rc;

	if ((rc = pipe_run(ps->g, ps->cw.c, &po, &err)) != FED_EXIT_OK)
		fed_warnx("%s", err.msg);
	if (gate_close(ps->g, &err) != 0) {
		fed_warnx("%s", err.msg);
		if (rc == FED_EXIT_OK)
			rc = FED_EXIT_SYS;
	}
	if (ps->replies_fd >= 0 && close(ps->replies_fd) != 0) {
		fed_diag(LOG_ERR, "%s: %s", ps->replies, strerror(errno));
		rc = FED_EXIT_SYS;
	}
	close(ps->log_fd);
	return rc;
}

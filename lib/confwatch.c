/* confwatch.c: a running fedgate re-reads fed.conf, follows its log. */
#include <sys/stat.h>

#include <string.h>

#include "confwatch.h"
#include "vlog.h"

void
conf_watch_init(struct conf_watch *w, struct conf *c, int64_t now_ms)
{
	struct stat st;

	memset(w, 0, sizeof *w);
	w->c = c;
	w->checked_ms = now_ms;
	w->log_fd = -1;
	if (c->path != NULL && stat(c->path, &st) == 0)
		fed_ident_of(&w->id, &st);
}

void
conf_watch_check(struct conf_watch *w, struct gate *g, int64_t now)
{
	struct fed_err err;
	struct conf fresh;
	struct fed_ident id;
	struct stat st;

	if (w->c->path == NULL || now - w->checked_ms < 1000)
		return;
	w->checked_ms = now;
	if (stat(w->c->path, &st) != 0)
		return;
	fed_ident_of(&id, &st);
	if (fed_ident_same(&id, &w->id))
		return;
	w->id = id;
	if (conf_load(&fresh, w->c->path, &err) != 0) {
		fed_warnx("%s (keeping the running configuration)", err.msg);
		conf_free(&fresh);
		return;
	}
	if (conf_check_local_domains(&fresh, &err) != 0) {
		fed_warnx("%s (keeping the running configuration)", err.msg);
		conf_free(&fresh);
		return;
	}
	if (g != NULL && gate_conf_compatible(w->c, &fresh, &err) != 0) {
		fed_warnx("%s: %s (keeping the running configuration)",
		    w->c->path, err.msg);
		conf_free(&fresh);
		return;
	}
	/* The gate holds a pointer to *w->c: replace the contents. */
	conf_free(w->c);
	*w->c = fresh;
	if (g != NULL)
		gate_conf_changed(g);
}

void
conf_watch_tick(void *arg, int64_t now)
{
	struct conf_watch *w = arg;

	conf_watch_check(w, w->g, now);
	if (w->log_fd < 0)
		return;
	if (vlog_follow(w->log_fd, w->c->verdict_log) < 0) {
		if (!w->log_said)
			fed_warn("%s: following the rotated log",
			    w->c->verdict_log);
		w->log_said = 1;
	} else
		w->log_said = 0;
}

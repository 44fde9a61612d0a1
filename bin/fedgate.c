/* fedgate.c: the SIP federation filter: options, then pipe or socket mode. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fed.h"
#include "gate.h"
#include "pipe.h"
#include "selfcheck.h"
#include "serve.h"

/* Diagnostics go to syslog: stderr is the partner's connection. */
static int diag_syslog;

static _Noreturn void
usage(int code)
{
	if (code != 0 && diag_syslog)
		fed_errx(code, "usage: bad options or arguments (fedgate -h)");
	fprintf(code == 0 ? stdout : stderr,
	    "usage: fedgate [-hnV] [-c file] [-p name] [-r file] [-u host:port]\n"
	    "       fedgate -t [-c file] [-u host:port]\n"
	    "  -c file       configuration (default $FEDKIT_CONF, "
	    CONF_DEFAULT_PATH ")\n"
	    "  -n            dry run: decide and log, change no state\n"
	    "  -p, --peer name\n"
	    "                the connection's identity (pipe mode)\n"
	    "  -r, --replies file\n"
	    "                write the responses fedgate builds to file (pipe mode)\n"
	    "  -t            check fed.conf, the lists, TLS and the upstream, then exit\n"
	    "  -u host:port  our internal SIP server (socket mode)\n"
	    "  -h            this help\n"
	    "  -V, --version the version\n");
	exit(code);
}

/* fedgate -t: each finding on stderr as it comes (fedgate(8)). */
static void
check_tell(void *arg, enum selfcheck_kind kind, const char *msg)
{
	(void)arg;
	if (kind == SELFCHECK_WARNING)
		fed_warnx("warning: %s", msg);
	else
		fed_warnx("%s", msg);
}

static int
check_config(const char *conf_path, const char *upstream)
{
	struct selfcheck_opts so = {
		.conf_path = conf_path,
		.upstream = upstream,
		.tell = check_tell,
	};
	struct selfcheck_result r;

	if (selfcheck_run(&so, &r) > 0) {
		fed_warnx("%s: configuration test failed: %u problem%s",
		    r.conf, r.problems, r.problems == 1 ? "" : "s");
		return FED_EXIT_USAGE;
	}
	if (r.warnings > 0)
		fed_warnx("%s: configuration OK, %u warning%s", r.conf,
		    r.warnings, r.warnings == 1 ? "" : "s");
	else
		fed_warnx("%s: configuration OK", r.conf);
	return FED_EXIT_OK;
}

/* fed.conf, which must name our own domains. */
static void
load_conf(struct conf *c, const char *conf_path)
{
	struct fed_err err;

	if (conf_load(c, conf_path, &err) != 0) {
		conf_free(c);
		fed_errx(FED_EXIT_USAGE, "%s", err.msg);
	}
	if (conf_check_local_domains(c, &err) != 0)
		fed_errx(FED_EXIT_USAGE, "%s", err.msg);
}

/* fedgate(8) Pipe mode: stdin decided onto stdout. */
static int
run_pipe(struct conf *c, const struct gate_opts *o, const char *replies)
{
	struct pipe_session ps;
	struct fed_err err;

	if (pipe_open(&ps, c, o, replies, &err) != 0)
		fed_errx(FED_EXIT_SYS, "%s", err.msg);
	return pipe_serve(&ps);
}

/* fedgate(8) SOCKET MODE: one connection, or a listener's many. */
static int
run_socket(struct conf *c, const struct gate_opts *o, const char *upstream,
    enum serve_stdin in)
{
	struct serve s;
	struct fed_err err;
	int rc;

	if ((rc = serve_open(&s, c, o, upstream, in, diag_syslog,
	    &err)) != FED_EXIT_OK)
		fed_errx(rc, "%s", err.msg);
	rc = serve_run(&s);
	serve_close(&s);
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ .name = "peer", .has_arg = required_argument, .val = 'p' },
		{ .name = "replies", .has_arg = required_argument, .val = 'r' },
		{ .name = "help", .has_arg = no_argument, .val = 'h' },
		{ .name = "version", .has_arg = no_argument, .val = 'V' },
		{ .name = NULL },
	};
	const char *conf_path = NULL, *replies = NULL, *upstream = NULL;
	struct gate_opts o = { .log_fd = -1 };
	enum serve_stdin in;
	struct fed_err err;
	struct conf c;
	int ch, rc, check = 0;

	fed_progname = "fedgate";
	/* Before anything can complain, even about the options; getopt
	 * would print on the connection. */
	if ((diag_syslog = serve_diagnostics()))
		opterr = 0;
	while ((ch = getopt_long(argc, argv, "c:hnp:r:tu:V", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'n':
			o.dry_run = 1;
			break;
		case 'p':
			o.peer = optarg;
			break;
		case 'r':
			replies = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'u':
			upstream = optarg;
			break;
		case 'V':
			printf("fedgate %s\n", FEDKIT_VERSION);
			return FED_EXIT_OK;
		case 'h':
			usage(FED_EXIT_OK);
		default:
			usage(FED_EXIT_USAGE);
		}
	}
	if (optind != argc)
		usage(FED_EXIT_USAGE);
	if (check) {
		if (o.dry_run || o.peer != NULL || replies != NULL)
			usage(FED_EXIT_USAGE);
		return check_config(conf_path, upstream);
	}
	if (o.peer != NULL && (o.peer[0] == '\0' || strlen(o.peer) >= 256))
		fed_errx(FED_EXIT_USAGE, "--peer: a name of 1 to 255 bytes");
	if ((rc = serve_stdin(&in, &err)) != FED_EXIT_OK)
		fed_errx(rc, "%s", err.msg);
	if (in != SERVE_PIPE && (o.peer != NULL || replies != NULL ||
	    o.dry_run))
		fed_errx(FED_EXIT_USAGE, "--peer, --replies and -n are for pipe "
		    "mode (stdin is a socket)");
	load_conf(&c, conf_path);
	/* A closed reader must not kill us in the middle of a log write. */
	signal(SIGPIPE, SIG_IGN);
	rc = in == SERVE_PIPE ? run_pipe(&c, &o, replies) :
	    run_socket(&c, &o, upstream, in);
	conf_free(&c);
	return rc;
}

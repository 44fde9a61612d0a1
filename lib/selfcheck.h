/* selfcheck.h: fedgate -t: what a start or a reload would trip over, all at once. */
#ifndef SELFCHECK_H
#define SELFCHECK_H

#include "fed.h"

/*
 * fedgate -t (fedgate(8) CHECKING A CONFIGURATION) runs every check below
 * and tells every finding, not just the first, as nginx -t and kamailio -c
 * do before a reload:
 *
 *   fed.conf	every bad line (FILE:LINE: problem), local_domains set
 *   TLS		with tls on: tls_cert, tls_key and tls_ca set and
 *		readable, the key matching the certificate, every CA and
 *		CRL decoding, the certificate valid now
 *   lists	the allow and block lists parse (FILE:LINE: problem); a
 *		domain on both is a warning (fedgate treats it as blocked)
 *   edge cache	parses; missing with verify = srv is a problem, every
 *		edge expired a warning
 *   watch list	parses
 *   files	state_dir, the watch list's directory and the verdict log
 *		(or its directory) writable by `user`
 *   upstream	-u, else fed.conf's upstream: a TCP connect within
 *		upstream_timeout, then an OPTIONS request: a SIP answer of
 *		any status is told (SELFCHECK_INFO), something else or a
 *		close a problem, silence within upstream_timeout a warning
 *		(a server may be set to ignore OPTIONS, and fedgate relays
 *		to it all the same)
 *
 * The lists, edge cache, watch list, directories and upstream are checked
 * as fedgate uses them: as `user` (fed.conf) when run as root, by a child
 * process that gives up root first, exactly as socket mode does once its
 * TLS key is read; the TLS files as root, as socket mode reads them.  The
 * check creates, locks and changes nothing.
 */

enum selfcheck_kind {
	SELFCHECK_PROBLEM,	/* fedgate would refuse to start or misbehave */
	SELFCHECK_WARNING,	/* works, but needs the operator soon */
	SELFCHECK_INFO		/* what was found, for the operator's eyes */
};

/* A certificate expiring within this many days is a warning. */
#define SELFCHECK_EXPIRY_WARN_DAYS 14
/* fed.conf lines told before the check gives up on the file. */
#define SELFCHECK_CONF_PROBLEMS_MAX 20

typedef void selfcheck_tell_fn(void *arg, enum selfcheck_kind,
    const char *msg);

struct selfcheck_opts {
	const char *conf_path;	/* -c, or NULL: found as conf_load does */
	const char *upstream;	/* -u, or NULL: fed.conf's upstream */
	selfcheck_tell_fn *tell;	/* each finding, in order */
	void *tell_arg;
};

struct selfcheck_result {
	unsigned problems, warnings;
	char conf[1024];	/* the file checked, or "built-in defaults" */
};

/* Run every check.  Returns the number of problems (also in *res). */
unsigned selfcheck_run(const struct selfcheck_opts *,
    struct selfcheck_result *res);

#endif

/* sandbox.h: least privilege for fedgate: drop root, confine the system calls. */
#ifndef SANDBOX_H
#define SANDBOX_H

#include <sys/types.h>

#include "fed.h"

/*
 * Become `user` (fed.conf `user =`, fedkit(7) SECURITY) when running as
 * root: its supplementary groups (initgroups), then its gid and uid, real,
 * effective and saved alike, then a check that root cannot be had back.
 * Call it once everything that needs root is open (fed.conf, the TLS key,
 * lists, state, verdict log): from then on only what `user` may open can
 * be opened.
 *
 * Returns 1 once the process runs as `user`; 0 when it was not root to
 * begin with (nothing is changed); -1 with *err when it is still root and
 * must not go on: no such user, a user that is root itself, or a step
 * that failed.  *uid and *gid, if not NULL, get the ids now in force.
 */
int sandbox_drop_user(const char *user, uid_t *uid, gid_t *gid,
    struct fed_err *);

/*
 * Confine the process with a seccomp filter (libseccomp): only the system
 * calls fedgate makes once its files are open (relaying a connection,
 * TLS, UDP, the state store, the verdict log, syslog, reloads of lists,
 * fed.conf and the watch list) are allowed; socket(2) only for AF_UNIX
 * (syslog), AF_INET and AF_INET6 (the upstream) and NETLINK_ROUTE
 * (getaddrinfo); ioctl(2) only for a few harmless requests.  Any other
 * call kills the process (SIGSYS), so a partner who got code running in
 * fedgate cannot run a program, trace one, or open a raw socket.  Sets
 * no_new_privs first, so it needs no privilege.  0, or -1 with *err.
 */
int sandbox_confine(struct fed_err *);

#endif

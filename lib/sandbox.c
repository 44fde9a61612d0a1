/* sandbox.c: least privilege for fedgate: drop root, confine the system calls. */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <linux/netlink.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "sandbox.h"

/* A sanitizer build (make test-asan) needs more of the kernel: see
 * sandbox_confine. */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif

#define NGROUPS_CHECK 1024	/* supplementary groups looked at for root */

/*
 * The user and its groups from /etc/passwd and /etc/group themselves: a
 * system user such as fedkit lives there (sysusers.d, useradd --system),
 * and reading the files costs a fraction of a millisecond where NSS
 * (getpwnam, initgroups) loads its modules at every connection, a few
 * milliseconds of a TLS connection's set-up.  0 when found (groups set,
 * *pw filled), 1 when not there (ask NSS), -1 with *err.
 */
static int
local_user(const char *user, struct passwd *pw, char *buf, size_t bufsz,
    struct fed_err *err)
{
	gid_t groups[NGROUPS_CHECK];
	struct passwd *p;
	struct group *g;
	FILE *fp;
	size_t n = 0;
	int found = 0;
	char **m;

	if ((fp = fopen("/etc/passwd", "re")) == NULL)
		return 1;
	while ((p = fgetpwent(fp)) != NULL)
		if (strcmp(p->pw_name, user) == 0) {
			if (strlen(p->pw_name) + 1 > bufsz)
				break;
			*pw = *p;
			pw->pw_name = strcpy(buf, p->pw_name);
			found = 1;
			break;
		}
	fclose(fp);
	if (!found)
		return 1;
	groups[n++] = pw->pw_gid;
	if ((fp = fopen("/etc/group", "re")) != NULL) {
		while ((g = fgetgrent(fp)) != NULL && n < NGROUPS_CHECK) {
			if (g->gr_gid == pw->pw_gid)
				continue;
			for (m = g->gr_mem; m != NULL && *m != NULL; m++)
				if (strcmp(*m, user) == 0) {
					groups[n++] = g->gr_gid;
					break;
				}
		}
		fclose(fp);
	}
	if (setgroups(n, groups) != 0) {
		fed_err_set(err, "user %s: setgroups: %s", user,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* The user's entry, from the local files first (local_user: 0 found
 * there, 1 to ask NSS).  NULL with *err. */
static struct passwd *
user_entry(const char *user, struct passwd *local, char *name, size_t nsz,
    int *from_nss, struct fed_err *err)
{
	struct passwd *pw;
	int rc;

	if ((rc = local_user(user, local, name, nsz, err)) < 0)
		return NULL;
	*from_nss = rc == 1;
	errno = 0;
	if ((pw = rc == 0 ? local : getpwnam(user)) == NULL) {
		/* getpwnam leaves errno 0 (or ENOENT, ESRCH...) for a name
		 * that is not there; a real error says what it was. */
		if (errno == 0 || errno == ENOENT || errno == ESRCH ||
		    errno == EBADF || errno == EPERM)
			fed_err_set(err, "user %s: no such user", user);
		else
			fed_err_set(err, "user %s: %s", user, strerror(errno));
		return NULL;
	}
	return pw;
}

/* The user's groups, as login would give them (the list and log
 * directories are often group-writable), none of them root's.  0, or -1
 * with *err. */
static int
user_groups(const char *user, const struct passwd *pw, int from_nss,
    struct fed_err *err)
{
	gid_t groups[NGROUPS_CHECK];
	int i, n;

	if (from_nss && initgroups(pw->pw_name, pw->pw_gid) != 0) {
		fed_err_set(err, "user %s: initgroups: %s", user,
		    strerror(errno));
		return -1;
	}
	if ((n = getgroups(NGROUPS_CHECK, groups)) < 0) {
		fed_err_set(err, "user %s: getgroups: %s", user,
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++)
		if (groups[i] == 0) {
			fed_err_set(err, "user %s: a member of group 0 (root): "
			    "fedgate does not run with root's group", user);
			return -1;
		}
	return 0;
}

/*
 * The group first: once the uid is gone, so is the right to set it.
 * Real, effective and saved ids alike, so nothing is kept to switch back
 * to; then the proof that root cannot be had back.  0, or -1 with *err.
 */
static int
ids_switch(const char *user, uid_t uid, gid_t gid, struct fed_err *err)
{
	gid_t rg, eg, sg;
	uid_t ru, eu, su;

	if (setresgid(gid, gid, gid) != 0) {
		fed_err_set(err, "user %s: setresgid(%lu): %s", user,
		    (unsigned long)gid, strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) != 0) {
		fed_err_set(err, "user %s: setresuid(%lu): %s", user,
		    (unsigned long)uid, strerror(errno));
		return -1;
	}
	if (getresuid(&ru, &eu, &su) != 0 || ru != uid || eu != uid ||
	    su != uid || getresgid(&rg, &eg, &sg) != 0 || rg != gid ||
	    eg != gid || sg != gid) {
		fed_err_set(err, "user %s: the switch of ids did not take",
		    user);
		return -1;
	}
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1) {
		fed_err_set(err, "user %s: root could be regained after the "
		    "switch", user);
		return -1;
	}
	return 0;
}

int
sandbox_drop_user(const char *user, uid_t *uidp, gid_t *gidp,
    struct fed_err *err)
{
	struct passwd *pw, local;
	char name[256];
	gid_t gid;
	uid_t uid, ru, eu, su;
	int from_nss;

	if (getresuid(&ru, &eu, &su) != 0) {
		fed_err_set(err, "getresuid: %s", strerror(errno));
		return -1;
	}
	if (ru != 0 && eu != 0 && su != 0) {
		if (uidp != NULL)
			*uidp = eu;
		if (gidp != NULL)
			*gidp = getegid();
		return 0;
	}
	if ((pw = user_entry(user, &local, name, sizeof name, &from_nss,
	    err)) == NULL)
		return -1;
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	/* Running "as" root under another name is still root. */
	if (uid == 0 || gid == 0) {
		fed_err_set(err, "user %s: its %s is root's (0): fedgate does "
		    "not run as root; name an unprivileged user", user,
		    uid == 0 ? "uid" : "group");
		return -1;
	}
	if (user_groups(user, pw, from_nss, err) != 0 ||
	    ids_switch(user, uid, gid, err) != 0)
		return -1;
#ifdef SANDBOX_SANITIZER
	/* LeakSanitizer stops the process with ptrace at exit, which a
	 * process that changed its ids (not dumpable) refuses even to
	 * itself.  Only in a sanitizer build. */
	(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	if (uidp != NULL)
		*uidp = uid;
	if (gidp != NULL)
		*gidp = gid;
	return 1;
}

/*
 * What fedgate calls once its files are open, found with `strace -f -c`
 * over the socket-mode tests (plain TCP, TLS, UDP, the LMDB state, syslog,
 * reloads of lists, fed.conf and the watch list, a watch written), plus
 * the close relatives libc may use instead (open for openat, fstat for
 * newfstatat ...).  Names the running architecture does not have are
 * skipped.  Not here on purpose: execve and the fork family, ptrace,
 * set*id, chown, mount, bpf, kernel module and keyring calls.
 */
static const char *const allowed_calls[] = {
	/* the connection, the upstream, syslog */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "lseek",
	"close", "poll", "ppoll", "recvfrom", "recvmsg", "recvmmsg", "sendto",
	"sendmsg", "sendmmsg", "shutdown", "getsockopt", "setsockopt",
	"getsockname", "getpeername", "connect",
	/* lists, fed.conf, the edge cache and the watch list: (re)read, and
	 * written the afile way (lock, temporary file, fsync, rename) */
	"openat", "open", "newfstatat", "fstat", "stat", "lstat", "statx",
	"fstatfs", "statfs", "getdents64", "getdents", "rename", "renameat",
	"renameat2", "unlink", "unlinkat", "mkdir", "mkdirat", "fsync",
	"fdatasync", "sync_file_range", "ftruncate", "fchmod", "flock",
	"fcntl", "access", "faccessat", "faccessat2", "fadvise64",
	"fadvise64_64", "arm_fadvise64_64",
	/* the verdict log reopened onto its descriptor after a rotation */
	"dup3",
	/* memory, and LMDB's map */
	"mmap", "munmap", "mremap", "mprotect", "brk", "madvise", "msync",
	/* time, randomness (OpenSSL, the state's hash key), self */
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep",
	"clock_nanosleep", "getrandom", "getpid", "gettid", "getuid",
	"geteuid", "getgid", "getegid", "getresuid", "getresgid", "sysinfo",
	"uname", "prlimit64", "getrlimit", "futex", "sched_yield",
	/* signals and the way out */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "restart_syscall",
	"exit", "exit_group",
};

/*
 * A sanitizer build reports errors by running a symbolizer (fork, exec)
 * and finds leaks at exit by stopping the process with ptrace from a
 * clone: without these its reports would die as SIGSYS.  The test of the
 * filter forbids what stays forbidden here too (a raw socket).
 */
#ifdef SANDBOX_SANITIZER
static const char *const sanitizer_calls[] = {
	"clone", "clone3", "fork", "vfork", "execve", "wait4", "waitid",
	"ptrace", "prctl", "pipe", "pipe2", "dup", "dup2", "readlink",
	"readlinkat", "sched_getaffinity", "sigaltstack", "getrusage",
	"kill", "tgkill", "process_vm_readv", "getppid", "setrlimit",
};
#endif

static int
allow_names(scmp_filter_ctx ctx, const char *const *names, size_t n,
    struct fed_err *err)
{
	size_t i;
	int nr, rc;

	for (i = 0; i < n; i++) {
		if ((nr = seccomp_syscall_resolve_name(names[i])) ==
		    __NR_SCMP_ERROR)
			continue;
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0) {
			fed_err_set(err, "seccomp: allowing %s: %s", names[i],
			    strerror(-rc));
			return -1;
		}
	}
	return 0;
}

int
sandbox_confine(struct fed_err *err)
{
	static const int families[] = { AF_UNIX, AF_INET, AF_INET6 };
	static const unsigned long ioctls[] = { TCGETS, FIONREAD, FIONBIO };
	scmp_filter_ctx ctx;
	uint32_t kill_action;
	size_t i;
	int rc = 0;

	/* Kill the whole process (kernel 4.14 and later), not one thread:
	 * fedgate has one, but a half-dead process must never go on. */
	kill_action = seccomp_api_get() >= 3 ? SCMP_ACT_KILL_PROCESS :
	    SCMP_ACT_KILL;
	if ((ctx = seccomp_init(kill_action)) == NULL) {
		fed_err_set(err, "seccomp: cannot make a filter");
		return -1;
	}
	if (allow_names(ctx, allowed_calls, sizeof allowed_calls /
	    sizeof allowed_calls[0], err) != 0)
		goto fail;
#ifdef SANDBOX_SANITIZER
	if (allow_names(ctx, sanitizer_calls, sizeof sanitizer_calls /
	    sizeof sanitizer_calls[0], err) != 0)
		goto fail;
#endif
	/* socket(2) for what fedgate talks to, nothing raw: syslog's
	 * AF_UNIX, the upstream's AF_INET and AF_INET6, and the routing
	 * netlink getaddrinfo may ask about local addresses. */
	for (i = 0; i < sizeof families / sizeof families[0] && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
		    SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
		    SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE));
	/* ioctl(2): is it a terminal (stdio), bytes waiting (the
	 * resolver), non-blocking: never one that changes a device. */
	for (i = 0; i < sizeof ioctls / sizeof ioctls[0] && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		    SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)ioctls[i]));
	/* abort(3) raises SIGABRT on itself: a signal to itself only. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	if (rc < 0) {
		fed_err_set(err, "seccomp: a rule with arguments: %s",
		    strerror(-rc));
		goto fail;
	}
	/* libseccomp sets no_new_privs before loading (its default), so
	 * no set-id program could be run to get out, and no privilege is
	 * needed to load the filter. */
	if ((rc = seccomp_load(ctx)) < 0) {
		fed_err_set(err, "seccomp: loading the filter: %s",
		    strerror(-rc));
		goto fail;
	}
	seccomp_release(ctx);
	return 0;
fail:
	seccomp_release(ctx);
	return -1;
}

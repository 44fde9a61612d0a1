/* preload_shim.c: LD_PRELOAD stand-in for an attacker's code inside fedgate (t/0560). */
/*
 * fedgate connects to its upstream only once it has dropped root and
 * confined itself.  This connect(2) first reports who the process is,
 * then makes the call $FEDKIT_SHIM_CALL names, as code a partner had
 * smuggled in would:
 *   netlink  socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG): list every
 *            socket of the machine (no privilege needed without a filter)
 *   execve   run /bin/sh, which writes "ran" to $FEDKIT_SHIM_OUT.ran
 *   none     nothing
 * Each step is written to $FEDKIT_SHIM_OUT as it happens, so a process
 * killed in the middle leaves the steps it took.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <linux/netlink.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef NETLINK_SOCK_DIAG
#define NETLINK_SOCK_DIAG 4
#endif

int connect(int, const struct sockaddr *, socklen_t);

static void
note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
note(const char *fmt, ...)
{
	const char *path = getenv("FEDKIT_SHIM_OUT");
	char line[256];
	va_list ap;
	int fd, n;

	if (path == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0666)) < 0)
		return;
	(void)!write(fd, line, (size_t)n);
	close(fd);
}

/* Who the process is, from /proc/self/status: getgroups(2) is no call
 * fedgate makes, so the filter would stop it. */
static void
identity(void)
{
	char buf[4096], *line, *nl;
	ssize_t n;
	int fd;

	if ((fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (line = buf; line != NULL && *line != '\0'; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		if (strncmp(line, "Uid:", 4) == 0 ||
		    strncmp(line, "Gid:", 4) == 0 ||
		    strncmp(line, "Groups:", 7) == 0 ||
		    strncmp(line, "NoNewPrivs:", 11) == 0 ||
		    strncmp(line, "Seccomp:", 8) == 0)
			note("%s", line);
	}
}

static void
attack(void)
{
	const char *call = getenv("FEDKIT_SHIM_CALL");
	int fd;

	identity();
	if (call == NULL || strcmp(call, "none") == 0)
		return;
	note("calling %s", call);
	if (strcmp(call, "netlink") == 0) {
		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
		    NETLINK_SOCK_DIAG);
		if (fd >= 0) {
			note("netlink: ok");
			close(fd);
		} else
			note("netlink: %s", strerror(errno));
	} else if (strcmp(call, "execve") == 0) {
		const char *out = getenv("FEDKIT_SHIM_OUT");
		char cmd[512];
		char *argv[] = { "sh", "-c", cmd, NULL };

		snprintf(cmd, sizeof cmd, "echo ran >'%s.ran'", out ? out :
		    "/dev/null");
		execve("/bin/sh", argv, (char *[]){ NULL });
		note("execve: %s", strerror(errno));
	}
}

int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);
	static int done;

	if (real == NULL)
		real = (int (*)(int, const struct sockaddr *, socklen_t))
		    dlsym(RTLD_NEXT, "connect");
	/* Only the upstream (syslog's AF_UNIX connect comes earlier). */
	if (!done && sa != NULL && (sa->sa_family == AF_INET ||
	    sa->sa_family == AF_INET6)) {
		done = 1;
		attack();
	}
	return real(fd, sa, len);
}

/* sandboxw.c: drive lib/sandbox.c directly for t/0560. */
/*
 * usage: sandboxw [-n] USER CALL
 *
 * sandbox_drop_user(USER), then (without -n) sandbox_confine, then CALL:
 *   none     nothing
 *   file     open, write, fsync, rename and unlink a file in the current
 *            directory (what afile does; allowed)
 *   netlink  socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG) (forbidden)
 *   packet   socket(AF_PACKET, SOCK_RAW, 0) (forbidden)
 *   execve   run /bin/true (forbidden)
 *   setuid   setuid(0) (forbidden; fails without the filter after a drop)
 * Prints one line a step: "drop: 1 uid=U gid=G", "confine: ok",
 * "CALL: ok" or "CALL: error".  Exit 0; 3 when a step failed.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <linux/netlink.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

#ifndef NETLINK_SOCK_DIAG
#define NETLINK_SOCK_DIAG 4
#endif

static int
report(const char *call, int rc)
{
	if (rc < 0)
		printf("%s: %s\n", call, strerror(errno));
	else
		printf("%s: ok\n", call);
	fflush(stdout);
	return rc < 0 ? 3 : 0;
}

static int
file_calls(void)
{
	int fd, rc = -1;

	if ((fd = open("sandboxw.tmp", O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0644)) < 0)
		return -1;
	if (write(fd, "x\n", 2) == 2 && fsync(fd) == 0 && close(fd) == 0 &&
	    rename("sandboxw.tmp", "sandboxw.new") == 0 &&
	    unlink("sandboxw.new") == 0)
		rc = 0;
	return rc;
}

int
main(int argc, char *argv[])
{
	struct fed_err err;
	const char *call;
	int ch, confine = 1, rc, fd;
	uid_t uid;
	gid_t gid;

	while ((ch = getopt(argc, argv, "n")) != -1) {
		if (ch != 'n') {
			fprintf(stderr, "usage: sandboxw [-n] user call\n");
			return 2;
		}
		confine = 0;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: sandboxw [-n] user call\n");
		return 2;
	}
	call = argv[optind + 1];
	rc = sandbox_drop_user(argv[optind], &uid, &gid, &err);
	if (rc < 0) {
		printf("drop: %s\n", err.msg);
		return 3;
	}
	printf("drop: %d uid=%lu gid=%lu\n", rc, (unsigned long)uid,
	    (unsigned long)gid);
	if (confine) {
		if (sandbox_confine(&err) != 0) {
			printf("confine: %s\n", err.msg);
			return 3;
		}
		printf("confine: ok\n");
	}
	fflush(stdout);
	if (strcmp(call, "none") == 0)
		return 0;
	if (strcmp(call, "file") == 0)
		return report(call, file_calls());
	if (strcmp(call, "netlink") == 0) {
		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
		    NETLINK_SOCK_DIAG);
		return report(call, fd);
	}
	if (strcmp(call, "packet") == 0) {
		fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
		return report(call, fd);
	}
	if (strcmp(call, "execve") == 0) {
		char *av[] = { "true", NULL };

		execve("/bin/true", av, (char *[]){ NULL });
		return report(call, -1);
	}
	if (strcmp(call, "setuid") == 0)
		return report(call, setuid(0));
	fprintf(stderr, "sandboxw: unknown call %s\n", call);
	return 2;
}

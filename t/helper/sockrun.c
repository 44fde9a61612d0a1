/* sockrun.c: run a command on one loopback TCP connection, as inetd would. */
/*
 * usage: sockrun [-t SECONDS] CMD [ARG...]
 *
 * Makes a TCP connection over 127.0.0.1, runs CMD with its stdin and
 * stdout on the server side (stderr is ours), sends our stdin to it from
 * the client side, then half-closes; what comes back is copied to our
 * stdout until the command closes the connection or SECONDS (default 10)
 * have passed.  The command is then waited for (killed if still running
 * at the deadline).  Says how it ended on stderr ("sockrun: exit N" or
 * "sockrun: signal N") and exits with N, or 128 + the signal number,
 * like a shell; 125 for an error of its own.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SOCKRUN_FAIL 125

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static _Noreturn void
fail(const char *what)
{
	fprintf(stderr, "sockrun: %s: %s\n", what, strerror(errno));
	exit(SOCKRUN_FAIL);
}

static void
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;		/* the command went away: fine */
		p += w;
		n -= (size_t)w;
	}
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	int lfd, cfd, sfd, ch, status, waited = 0;
	long secs = 10;
	int64_t deadline;
	char buf[65536];
	ssize_t n;
	pid_t pid;

	while ((ch = getopt(argc, argv, "+t:")) != -1) {
		if (ch != 't') {
			fprintf(stderr, "usage: sockrun [-t seconds] cmd "
			    "[arg ...]\n");
			return SOCKRUN_FAIL;
		}
		secs = strtol(optarg, NULL, 10);
		if (secs < 1 || secs > 600)
			secs = 10;
	}
	argv += optind;
	if (argv[0] == NULL) {
		fprintf(stderr, "usage: sockrun [-t seconds] cmd [arg ...]\n");
		return SOCKRUN_FAIL;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(lfd, 1) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
		fail("listen on 127.0.0.1");
	if ((cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(cfd, (struct sockaddr *)&sa, sizeof sa) != 0)
		fail("connect");
	if ((sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		fail("accept");
	close(lfd);
	if ((pid = fork()) < 0)
		fail("fork");
	if (pid == 0) {
		if (dup2(sfd, 0) < 0 || dup2(sfd, 1) < 0)
			fail("dup2");
		execvp(argv[0], argv);
		fprintf(stderr, "sockrun: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(sfd);
	while ((n = read(0, buf, sizeof buf)) > 0)
		write_all(cfd, buf, (size_t)n);
	shutdown(cfd, SHUT_WR);
	deadline = mono_ms() + secs * 1000;
	for (;;) {
		struct pollfd p = { cfd, POLLIN, 0 };
		int64_t left = deadline - mono_ms();

		if (left <= 0)
			break;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		if ((n = read(cfd, buf, sizeof buf)) <= 0)
			break;
		write_all(1, buf, (size_t)n);
	}
	close(cfd);
	/* A few moments for the command to finish after it closed. */
	deadline = mono_ms() + 5000;
	while (mono_ms() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			waited = 1;
			break;
		}
		usleep(10000);
	}
	if (!waited) {
		kill(pid, SIGKILL);
		if (waitpid(pid, &status, 0) != pid)
			fail("waitpid");
	}
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "sockrun: signal %d\n", WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	fprintf(stderr, "sockrun: exit %d\n", WEXITSTATUS(status));
	return WEXITSTATUS(status);
}

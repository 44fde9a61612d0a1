/* fedlist.c: front end of fedlist (not yet built: see issue 4). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fed.h"

static _Noreturn void
usage(int code)
{
	fprintf(code == 0 ? stdout : stderr, "usage: fedlist [-c file] [allow|block add|rm|ls ... | check domain | watch ls|clear ...]\n");
	exit(code);
}

int
main(int argc, char *argv[])
{
	int ch;

	fed_progname = "fedlist";
	while ((ch = getopt(argc, argv, "c:hV")) != -1) {
		switch (ch) {
		case 'c':
			break;
		case 'V':
			printf("fedlist %s\n", FEDKIT_VERSION);
			return FED_EXIT_OK;
		case 'h':
			usage(FED_EXIT_OK);
		default:
			usage(FED_EXIT_USAGE);
		}
	}
	fed_warnx("not implemented yet (issue 4)");
	usage(FED_EXIT_USAGE);
}

/* lock.c: libFuzzer target for bedup-lock's input loop and grouping. */
#define main stage_main
#include "../cmd/bedup-lock/bedup-lock.c"
#undef main
#include "stage.h"

static int
fuzz_args(unsigned flags, char **argv, char *input, char *catalog)
{
	int argc = 1;

	(void)catalog;
	if (flags & 1)
		argv[argc++] = "-R";
	if (flags & 2)
		argv[argc++] = "-v";
	argv[argc++] = input;
	return argc;
}

/* clone.c: libFuzzer target for bedup-clone's input loop, grouping and
 * the partition by owner. */
#define main stage_main
#include "../cmd/bedup-clone/bedup-clone.c"
#undef main
#include "stage.h"

static int
fuzz_args(unsigned flags, char **argv, char *input, char *catalog)
{
	int argc = 1;

	(void)catalog;
	if (flags & 1)
		argv[argc++] = "-n";
	if (flags & 2)
		argv[argc++] = "-R";
	if (flags & 4)
		argv[argc++] = "--same-owner";
	if (flags & 8)
		argv[argc++] = "-v";
	argv[argc++] = input;
	return argc;
}

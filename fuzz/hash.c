/* hash.c: libFuzzer target for bedup-hash's input loop, grouping and
 * catalog reading. Records name files that do not exist, or that are
 * not the inode named (no file is ever read: nothing else would match). */
#define main stage_main
#include "../cmd/bedup-hash/bedup-hash.c"
#undef main
#include "stage.h"

static int
fuzz_args(unsigned flags, char **argv, char *input, char *catalog)
{
	int argc = 1;

	argv[argc++] = "-p";           /* leave the fuzzer's I/O priority */
	argv[argc++] = "-j";
	argv[argc++] = flags & 1 ? "2" : "1";
	if (flags & 2) {
		argv[argc++] = "-C";
		argv[argc++] = catalog;
	}
	argv[argc++] = input;
	return argc;
}

/* hash.c: libFuzzer target for bedup-hash's input loop and grouping,
 * with an empty catalog (the catalog's reading is fuzz/catalog.c's). Records name files that do not exist, or that are
 * not the inode named (no file is ever read: nothing else would match). */
#define main stage_main
#include "../cmd/bedup-hash/bedup-hash.c"
#undef main
#include "../cmd/bedup-hash/catalog.c"
#include "../cmd/bedup-hash/group.c"
#include "../cmd/bedup-hash/pool.c"
#include "../cmd/bedup-hash/progress.c"
#include "../cmd/bedup-hash/read.c"
#include "../cmd/bedup-hash/steps.c"
#include "../cmd/bedup-hash/found.c"
#include "../cmd/bedup-hash/units.c"
#include "stage.h"

static int
fuzz_args(unsigned flags, char **argv, char *input, char *catalog)
{
	int argc = 1;

	argv[argc++] = "-p";           /* leave the fuzzer's I/O priority */
	argv[argc++] = "-j";
	argv[argc++] = flags & 1 ? "2" : "1";
	(void)catalog;
	if (flags & 2) {
		argv[argc++] = "-C";
		argv[argc++] = "/nonexistent/bedup-fuzz/catalog";
	}
	argv[argc++] = input;
	return argc;
}

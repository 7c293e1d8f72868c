/* group.c: libFuzzer target for bedup-group's input loop, sort, spill
 * to temp files and merge. The catalog's own reading is fuzz/catalog.c's;
 * here it is an empty one (none on disk), looked up for every size. */
#define main stage_main
#include "../cmd/bedup-group/bedup-group.c"
#undef main
#include "../cmd/bedup-group/catalog.c"
#include "../cmd/bedup-group/runs.c"
#include "stage.h"

static int
fuzz_args(unsigned flags, char **argv, char *input, char *catalog)
{
	int argc = 1;

	if (flags & 1) {
		argv[argc++] = "-s";
		argv[argc++] = "4097";
	}
	(void)catalog;
	if (flags & 2) {
		argv[argc++] = "-C";
		argv[argc++] = "/nonexistent/bedup-fuzz/catalog";
		argv[argc++] = "-m";
		argv[argc++] = "/";
	}
	/* a tiny memory budget: runs go to temp files and are merged */
	if (flags & 4)
		setenv("BEDUP_GROUP_MEMORY", "1", 1);
	else
		unsetenv("BEDUP_GROUP_MEMORY");
	argv[argc++] = input;
	return argc;
}

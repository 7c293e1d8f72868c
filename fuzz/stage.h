/* stage.h: runs one stage's main on fuzzed input, for the fuzz/STAGE.c
 * targets. The target includes the stage's source with main renamed:
 *
 *	#define main stage_main
 *	#include "../cmd/bedup-NAME/bedup-NAME.c"
 *	#undef main
 *	#include "stage.h"
 *
 * and defines fuzz_args(), which turns the first byte of the input into
 * options. The rest of the input is the stage's input file, held in a
 * memfd named by /proc/self/fd/N. Any exit() in the stage ends the run
 * and libFuzzer reports it: only setup errors may exit, and the fuzzed
 * input never causes one. */
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void __sanitizer_set_report_fd(void *fd);

/* Fills ARGV (after argv[0]) from FLAGS; INPUT and CATALOG name the
 * memfd. Returns argc. */
static int fuzz_args(unsigned flags, char **argv, char *input, char *catalog);

static int fuzz_null = -1, fuzz_err = -1;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_null = open("/dev/null", O_RDWR | O_CLOEXEC);
	fuzz_err = dup(2);
	if (fuzz_null < 0 || fuzz_err < 0 || dup2(fuzz_null, 1) < 0)
		abort();
	/* sanitizer reports still reach the real stderr while the stage's
	 * messages (one per bad line) go to /dev/null */
	__sanitizer_set_report_fd((void *)(intptr_t)fuzz_err);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[16], input[64];
	unsigned flags = size ? data[0] : 0;
	int fd, argc;

	if (size) {
		data++;
		size--;
	}
	fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	snprintf(input, sizeof input, "/proc/self/fd/%d", fd);
	argv[0] = "fuzz";
	argc = fuzz_args(flags, argv, input, input);
	argv[argc] = NULL;
	/* a fresh start for getopt (glibc: optind 0) and the exit status */
	optind = 0;
	bd_status = 0;
	if (dup2(fuzz_null, 2) < 0)
		abort();
	stage_main(argc, argv);
	fflush(stdout);
	clearerr(stdout);
	if (dup2(fuzz_err, 2) < 0)
		abort();
	close(fd);
	return 0;
}

/* counts.c: what a run cost, for -v and -i: the files it opened and the
 * bytes it read from storage. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bedup.h"

/* Files opened so far. Global and mutable on purpose, as handle.c's
 * mounts: bd_reopen counts every open of a file for reading, from any
 * thread (bedup-hash -j), so that no stage can open a file uncounted. */
static atomic_uint_fast64_t opened;

void
bd_count_open(void)
{
	atomic_fetch_add_explicit(&opened, 1, memory_order_relaxed);
}

int
bd_counts_get(struct bd_counts *c)
{
	char line[128];
	FILE *f;
	int found = 0;

	c->opened = atomic_load_explicit(&opened, memory_order_relaxed);
	c->read = 0;
	/* the whole process: every thread's I/O, those exited included */
	if (!(f = fopen("/proc/self/io", "re")))
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "read_bytes: %" SCNu64, &c->read) == 1)
			found = 1;
	fclose(f);
	if (!found) {
		errno = ENOTSUP;      /* a kernel without task I/O accounting */
		return -1;
	}
	return 0;
}

/* appends "PROG OPENED BYTES" to PATH in one write, so that stages
 * ending at once do not mix their lines */
static int
append(const char *path, const struct bd_counts *c, int known)
{
	char line[128];
	int fd, n, r = 0;

	if (known)
		n = snprintf(line, sizeof line, "%s %" PRIu64 " %" PRIu64 "\n", bd_prog,
		    c->opened, c->read);
	else
		n = snprintf(line, sizeof line, "%s %" PRIu64 " -\n", bd_prog, c->opened);
	if (n < 0 || (size_t)n >= sizeof line) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (write(fd, line, (size_t)n) != n)
		r = -1;
	if (close(fd) < 0)
		r = -1;
	return r;
}

void
bd_counts_end(int verbose, const char *path)
{
	struct bd_counts c;
	char h[32];
	int known;

	if (!verbose && !path)
		return;
	known = bd_counts_get(&c) == 0;
	if (verbose && known)
		bd_warn("%" PRIu64 " files opened, %" PRIu64 " bytes (%s) read from storage",
		    c.opened, c.read, bd_human(h, sizeof h, (double)c.read));
	else if (verbose)
		bd_warn("%" PRIu64 " files opened, bytes read from storage unknown (/proc/self/io: %s)",
		    c.opened, strerror(errno));
	if (path && append(path, &c, known) < 0) {
		bd_warn("%s:", path);
		bd_status = 2;
	}
}

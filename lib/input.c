/* input.c: the one input loop every stage reads records with. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bedup.h"

void
bd_input_init(struct bd_input *in, int nfiles, char **files)
{
	int i;

	memset(in, 0, sizeof *in);
	in->files = files;
	in->nfiles = nfiles;
	in->idx = -1;
	/* open all up front: a missing file means nothing is done (exit 2) */
	for (i = 0; i < nfiles; i++) {
		FILE *f;

		if (strcmp(files[i], "-") == 0)
			continue;
		f = fopen(files[i], "re");
		if (!f)
			bd_die("%s:", files[i]);
		fclose(f);
	}
}

static int
next_file(struct bd_input *in)
{
	in->lineno = 0;
	if (in->nfiles == 0) {
		if (in->idx >= 0)
			return 0;
		in->idx = 0;
		in->f = stdin;
		in->name = NULL;
		return 1;
	}
	if (++in->idx >= in->nfiles)
		return 0;
	in->name = in->files[in->idx];
	if (strcmp(in->name, "-") == 0) {
		in->f = stdin;
		in->name = NULL;
		return 1;
	}
	in->f = fopen(in->name, "re");
	if (!in->f)
		bd_die("%s:", in->name);
	return 1;
}

void
bd_input_fail(const struct bd_input *in, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", bd_prog);
	if (in->name) {
		bd_escape_write(stderr, in->name, strlen(in->name));
		fputs(": ", stderr);
	}
	fprintf(stderr, "line %" PRIu64 ": ", in->lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	bd_status = 1;
}

int
bd_input_next(struct bd_input *in, struct bd_record *r)
{
	char why[128];
	ssize_t n;

	for (;;) {
		if (!in->f && !next_file(in))
			return 0;
		errno = 0;
		n = getline(&in->line, &in->cap, in->f);
		if (n < 0) {
			if (ferror(in->f))
				bd_die("%s: read error:", in->name ? in->name : "stdin");
			if (in->f != stdin)
				fclose(in->f);
			in->f = NULL;
			continue;
		}
		in->lineno++;
		if (n > 0 && in->line[n - 1] == '\n')
			in->line[--n] = '\0';
		if (n == 0)
			continue;
		if (bd_record_parse(in->line, (size_t)n, r, why, sizeof why) < 0) {
			bd_input_fail(in, "%s", why);
			continue;
		}
		return 1;
	}
}

void
bd_input_close(struct bd_input *in)
{
	if (in->f && in->f != stdin)
		fclose(in->f);
	in->f = NULL;
	free(in->line);
	in->line = NULL;
	if (in->have_peek)
		bd_record_free(&in->peek);
	in->have_peek = 0;
}

/* records and bytes of FD, a regular file, read through from where it
 * stands and put back there; -1 when it is not one */
static int
count_fd(int fd, uint64_t *records, uint64_t *bytes)
{
	struct bd_record r;
	struct stat st;
	char why[128], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	off_t at;
	FILE *f;
	int d;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (at = lseek(fd, 0, SEEK_CUR)) < 0)
		return -1;
	if ((d = dup(fd)) < 0)
		return -1;
	if (!(f = fdopen(d, "r"))) {
		close(d);
		return -1;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && bd_record_parse(line, (size_t)n, &r, why, sizeof why) == 0) {
			(*records)++;
			*bytes += r.size;
		}
	}
	free(line);
	fclose(f);
	return lseek(fd, at, SEEK_SET) == at ? 0 : -1;
}

int
bd_input_count(const struct bd_input *in, uint64_t *records, uint64_t *bytes)
{
	int i, fd, st;

	*records = *bytes = 0;
	if (in->nfiles == 0)
		return count_fd(0, records, bytes);
	for (i = 0; i < in->nfiles; i++) {
		if (strcmp(in->files[i], "-") == 0) {
			if (count_fd(0, records, bytes) < 0)
				return -1;
			continue;
		}
		if ((fd = open(in->files[i], O_RDONLY | O_CLOEXEC)) < 0)
			return -1;
		st = count_fd(fd, records, bytes);
		close(fd);
		if (st < 0)
			return -1;
	}
	return 0;
}

/* err.c: messages, exit status, allocation that cannot fail, and closing
 * without losing errno. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bedup.h"

const char *bd_prog = "bedup";
int bd_status;

void
bd_init(const char *argv0)
{
	const char *p;

	if (argv0 && *argv0) {
		p = strrchr(argv0, '/');
		bd_prog = p ? p + 1 : argv0;
	}
}

static void
vwarn(const char *path, const char *fmt, va_list ap)
{
	int e = errno;
	size_t n = strlen(fmt);

	/* a progress line (progress.c) may stand on the terminal: the
	 * message takes its place, the line is drawn again below */
	if (isatty(2))
		fputs("\r\033[K", stderr);
	fprintf(stderr, "%s: ", bd_prog);
	if (path) {
		bd_escape_write(stderr, path, strlen(path));
		fputs(": ", stderr);
	}
	vfprintf(stderr, fmt, ap);
	if (n && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(e));
	fputc('\n', stderr);
	errno = e;
}

void
bd_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(NULL, fmt, ap);
	va_end(ap);
}

void
bd_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(NULL, fmt, ap);
	va_end(ap);
	bd_status = 1;
}

void
bd_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(NULL, fmt, ap);
	va_end(ap);
	exit(2);
}

void
bd_pwarn(const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(path, fmt, ap);
	va_end(ap);
}

void
bd_pfail(const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(path, fmt, ap);
	va_end(ap);
	bd_status = 1;
}

void
bd_usage(const char *usage)
{
	fprintf(stderr, "usage: %s\n", usage);
	exit(2);
}

int
bd_finish(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		bd_warn("write error:");
		return 2;
	}
	return bd_status;
}

void *
bd_emalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		bd_die("malloc:");
	return p;
}

void *
bd_ecalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		bd_die("calloc:");
	return p;
}

void *
bd_erealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		bd_die("realloc:");
	return p;
}

char *
bd_estrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		bd_die("strdup:");
	return p;
}

void
bd_close_keep(int fd)
{
	int e = errno;

	close(fd);
	errno = e;
}

/* atomic.c: replacing a file so that a crash leaves old or new, never
 * a mix (temp file, fsync, rename, fsync of the directory). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bedup.h"

int
bd_atomic_open(struct bd_atomic *a, const char *path)
{
	size_t n = strlen(path);
	int fd, e;

	memset(a, 0, sizeof *a);
	a->path = bd_estrdup(path);
	a->tmp = bd_emalloc(n + 16);
	memcpy(a->tmp, path, n);
	memcpy(a->tmp + n, ".tmp.XXXXXX", 12);
	fd = mkostemp(a->tmp, O_CLOEXEC);
	if (fd < 0)
		goto fail;
	a->f = fdopen(fd, "w");
	if (!a->f) {
		bd_close_keep(fd);
		e = errno;
		unlink(a->tmp);
		errno = e;
		goto fail;
	}
	return 0;
fail:
	e = errno;
	free(a->path);
	free(a->tmp);
	a->path = a->tmp = NULL;
	errno = e;
	return -1;
}

int
bd_sync_dir(const char *path)
{
	char *dir = bd_estrdup(path), *slash = strrchr(dir, '/');
	int fd, r;

	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	bd_close_keep(fd);
	return r;
}

int
bd_atomic_commit(struct bd_atomic *a)
{
	int r = 0, e;

	if (fflush(a->f) == EOF || ferror(a->f) || fsync(fileno(a->f)) < 0)
		r = -1;
	e = errno;
	if (fclose(a->f) == EOF && r == 0) {
		r = -1;
		e = errno;
	}
	a->f = NULL;
	if (r == 0 && rename(a->tmp, a->path) < 0) {
		r = -1;
		e = errno;
	}
	if (r < 0)
		unlink(a->tmp);
	else if (bd_sync_dir(a->path) < 0) {
		r = -1;
		e = errno;
	}
	free(a->path);
	free(a->tmp);
	a->path = a->tmp = NULL;
	errno = e;
	return r;
}

void
bd_atomic_abort(struct bd_atomic *a)
{
	int e = errno;

	if (a->f)
		fclose(a->f);
	a->f = NULL;
	if (a->tmp)
		unlink(a->tmp);
	free(a->path);
	free(a->tmp);
	a->path = a->tmp = NULL;
	errno = e;
}

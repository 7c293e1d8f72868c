/* files.c: bedup-findnew -f: the records of files named on the command
 * line (bedup dedup-files), made from the open inode with lib's calls. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "bedup.h"
#include "bedup-findnew.h"

/* The absolute path of ARG, its directory resolved (a symlink in it is
 * followed, as the shell's cd would) and its last component kept as it
 * is, so that a symlink there is seen, and refused, by the open. NULL
 * with errno when the directory cannot be resolved. */
static char *
abs_path(const char *arg)
{
	const char *slash = strrchr(arg, '/'), *base;
	char *dir, *rdir, *p;
	size_t dlen;

	base = slash ? slash + 1 : arg;
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		errno = EISDIR;
		return NULL;
	}
	if (!slash)
		dir = bd_estrdup(".");
	else if (slash == arg)
		dir = bd_estrdup("/");
	else {
		dir = bd_estrdup(arg);
		dir[slash - arg] = '\0';
	}
	rdir = realpath(dir, NULL);
	free(dir);
	if (!rdir)
		return NULL;
	dlen = strlen(rdir);
	if (dlen == 1)
		dlen = 0;             /* "/": no second slash */
	p = bd_emalloc(dlen + 1 + strlen(base) + 1);
	memcpy(p, rdir, dlen);
	p[dlen] = '/';
	strcpy(p + dlen + 1, base);
	free(rdir);
	return p;
}

/* Opens PATH for reading, refusing a symlink and anything but a regular
 * file before it is opened for reading (a FIFO, a device). Returns the fd
 * and ST, or -1 with WHY saying what is wrong (errno's text if NULL). */
static int
open_regular(const char *path, struct stat *st, const char **why)
{
	int pfd;

	*why = NULL;
	if ((pfd = bd_open_nofollow(path, O_PATH)) < 0)
		return -1;
	if (fstat(pfd, st) < 0) {
		bd_close_keep(pfd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		*why = "not a regular file";
		close(pfd);
		return -1;
	}
	/* reopened through the magic link: the very inode just checked */
	return bd_reopen(pfd, 0);
}

/* The record of the file ARG names into R (R->path is freshly
 * allocated). Returns 0, or -1 after a one-line message. */
static int
file_record(const char *arg, struct bd_record *r)
{
	const char *why;
	struct stat st;
	uint32_t gen;
	int fd, e;

	memset(r, 0, sizeof *r);
	if (!(r->path = abs_path(arg))) {
		if (errno == EISDIR)
			bd_pfail(arg, "not a regular file");
		else
			bd_pfail(arg, "%s", strerror(errno));
		return -1;
	}
	if ((fd = open_regular(r->path, &st, &why)) < 0) {
		if (why)
			bd_pfail(arg, "%s", why);
		else if (errno == ELOOP)
			bd_pfail(arg, "not a regular file (a symbolic link in its path)");
		else
			bd_pfail(arg, "%s", strerror(errno));
		goto fail;
	}
	if (bd_fsid_fd(fd, r->fsid) < 0) {
		e = errno;
		close(fd);
		if (e == ENOTTY)
			bd_pfail(arg, "not on a btrfs filesystem");
		else {
			errno = e;
			bd_pfail(arg, "cannot read its filesystem's UUID:");
		}
		goto fail;
	}
	if (bd_subvol_fd(fd, &r->subvol) < 0 || bd_igen_fd(fd, &gen) < 0) {
		bd_close_keep(fd);
		bd_pfail(arg, "cannot read its inode:");
		goto fail;
	}
	close(fd);
	/* FS_IOC_GETVERSION gives the low 32 bits: the stages compare those */
	r->gen = gen;
	r->size = (uint64_t)st.st_size;
	r->ino = (uint64_t)st.st_ino;
	strcpy(r->hash, "-");
	r->pathlen = strlen(r->path);
	return 0;
fail:
	free(r->path);
	r->path = NULL;
	return -1;
}

/* -f FILE...: one record per regular file, in the order named; a FILE
 * that is not one is reported and left out (exit status 1). */
void
findnew_files(int n, char **files)
{
	struct bd_record r;
	int i;

	for (i = 0; i < n; i++) {
		if (file_record(files[i], &r) < 0)
			continue;
		if (bd_record_write(stdout, &r) < 0)
			bd_die("write error:");
		free(r.path);
	}
}

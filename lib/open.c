/* open.c: opening a record's file without following symlinks, and
 * checking that it is still the inode the record names. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include "bedup.h"

static int
openat_nosym(int dirfd, const char *path, int flags)
{
	struct open_how how;

	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC);
	how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int
bd_open_nofollow(const char *path, int flags)
{
	size_t len = strlen(path), cut;
	int dfd = AT_FDCWD, fd;
	char *buf, *p;

	if (len < PATH_MAX)
		return openat_nosym(AT_FDCWD, path, flags);
	/* too long for one call: open the directories a piece at a time,
	 * each piece shorter than PATH_MAX and cut at a slash */
	buf = bd_estrdup(path);
	p = buf;
	while (strlen(p) >= PATH_MAX) {
		cut = PATH_MAX - 1;
		while (cut > 0 && p[cut] != '/')
			cut--;
		if (cut == 0) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		p[cut] = '\0';
		fd = openat_nosym(dfd, *p ? p : "/", O_PATH | O_DIRECTORY);
		if (fd < 0)
			goto fail;
		if (dfd != AT_FDCWD)
			close(dfd);
		dfd = fd;
		p += cut + 1;
	}
	fd = openat_nosym(dfd, p, flags);
	goto out;
fail:
	fd = -1;
out:
	/* free keeps errno (glibc 2.33, POSIX.1-2024) */
	if (dfd != AT_FDCWD)
		bd_close_keep(dfd);
	free(buf);
	return fd;
}

int
bd_reopen(int pfd, int extra)
{
	char proc[64];
	int fd;

	/* the reopen goes through the magic link, so no O_NOFOLLOW here:
	 * it would refuse the link itself (ELOOP) */
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
	fd = open(proc, O_RDONLY | O_NOATIME | O_CLOEXEC | extra);
	if (fd < 0 && errno == EPERM)
		/* O_NOATIME needs ownership or CAP_FOWNER */
		fd = open(proc, O_RDONLY | O_CLOEXEC | extra);
	if (fd >= 0)
		bd_count_open();
	bd_close_keep(pfd);
	return fd;
}

/* reopens PFD, an O_PATH fd of the regular file PST, for reading, and
 * checks it is the inode R names; closes PFD. BYHANDLE: PFD came from
 * R's file handle, so the kernel found the inode in R's subvolume of a
 * directory's filesystem with R's FSID, and compared its generation
 * unless R's is 0 (btrfs_get_dentry): that is not asked again */
static enum bd_open_result
reopen_check(const struct bd_record *r, int pfd, const struct stat *pst, int extra,
    int byhandle, int *fdp, struct stat *st)
{
	char fsid[BD_FSID_LEN + 1];
	uint64_t subvol;
	uint32_t gen;
	int fd;

	if ((fd = bd_reopen(pfd, extra)) < 0)
		return BD_OPEN_ERROR;
	if (fstat(fd, st) < 0)
		goto err;
	if (st->st_ino != pst->st_ino || st->st_dev != pst->st_dev) {
		close(fd);
		return BD_OPEN_OTHER;
	}
	if (byhandle && (uint32_t)r->gen != 0) {
		*fdp = fd;
		return BD_OPEN_OK;
	}
	if (bd_fsid_fd(fd, fsid) < 0 || bd_subvol_fd(fd, &subvol) < 0 ||
	    bd_igen_fd(fd, &gen) < 0)
		goto err;
	if (strcmp(fsid, r->fsid) != 0 || subvol != r->subvol || gen != (uint32_t)r->gen) {
		close(fd);
		return BD_OPEN_OTHER;
	}
	*fdp = fd;
	return BD_OPEN_OK;
err:
	bd_close_keep(fd);
	return BD_OPEN_ERROR;
}

/* an O_PATH fd of PFD's inode, checked as a regular file (PST) */
static enum bd_open_result
check_path_fd(const struct bd_record *r, int pfd, struct stat *pst)
{
	if (fstat(pfd, pst) < 0) {
		bd_close_keep(pfd);
		return BD_OPEN_ERROR;
	}
	if (!S_ISREG(pst->st_mode) || pst->st_ino != r->ino) {
		close(pfd);
		return BD_OPEN_OTHER;
	}
	return BD_OPEN_OK;
}

enum bd_open_result
bd_open_record(const struct bd_record *r, int extra, int *fdp, struct stat *st)
{
	enum bd_open_result res;
	struct stat pst;
	int pfd;

	*fdp = -1;
	/* O_PATH first, by handle or by path: nothing but a regular file is
	 * ever really opened, so a FIFO or a device has no effect */
	pfd = bd_open_handle(r, O_PATH);
	if (pfd >= 0) {
		if ((res = check_path_fd(r, pfd, &pst)) != BD_OPEN_OK)
			return res;
		if (pst.st_nlink > 0)
			return reopen_check(r, pfd, &pst, extra, 1, fdp, st);
		/* unlinked, held open by someone: the path tells gone from
		 * replaced, as below */
		close(pfd);
	}
	/* no handle (no CAP_DAC_READ_SEARCH, no directory of the filesystem
	 * found), or no such inode (ESTALE): the path, without symlinks,
	 * opens the file or tells a deleted file from a replaced one */
	pfd = bd_open_nofollow(r->path, O_PATH);
	if (pfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return BD_OPEN_GONE;
		if (errno == ELOOP)
			return BD_OPEN_OTHER;
		return BD_OPEN_ERROR;
	}
	if ((res = check_path_fd(r, pfd, &pst)) != BD_OPEN_OK)
		return res;
	return reopen_check(r, pfd, &pst, extra, 0, fdp, st);
}

const char *
bd_open_strerror(enum bd_open_result res)
{
	switch (res) {
	case BD_OPEN_OK: return "ok";
	case BD_OPEN_GONE: return "vanished";
	case BD_OPEN_OTHER: return "not the file the record names (replaced, or not a regular file)";
	case BD_OPEN_ERROR: return strerror(errno);
	case BD_OPEN_SIZE: return "size changed since the record was made";
	}
	return "unknown error";
}

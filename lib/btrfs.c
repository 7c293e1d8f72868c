/* btrfs.c: small questions and requests to btrfs about an open file, one
 * function per kernel operation, errno kept for the caller (libbtrfsutil's
 * pattern, and libbtrfsutil itself where it has the call). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/fs.h>
#include <btrfsutil.h>

#include "bedup.h"

/* libbtrfsutil returns its own code but leaves errno from the call that
 * failed; a failure without one becomes EIO */
static int
util(enum btrfs_util_error err)
{
	if (err == BTRFS_UTIL_OK)
		return 0;
	if (!errno)
		errno = EIO;
	return -1;
}

/* FS_INFO with FLAGS: what it fills besides the fsid */
static int
fs_info(int fd, struct btrfs_ioctl_fs_info_args *a, uint64_t flags)
{
	memset(a, 0, sizeof *a);
	a->flags = flags;
	return ioctl(fd, BTRFS_IOC_FS_INFO, a);
}

int
bd_fsid_fd(int fd, char out[BD_FSID_LEN + 1])
{
	struct btrfs_ioctl_fs_info_args a;

	if (fs_info(fd, &a, 0) < 0)
		return -1;
	bd_fsid_unpack(a.fsid, out);
	return 0;
}

int
bd_subvol_fd(int fd, uint64_t *id)
{
	errno = 0;
	return util(btrfs_util_subvolume_id_fd(fd, id));
}

int
bd_igen_fd(int fd, uint32_t *gen)
{
	int v = 0;

	if (ioctl(fd, FS_IOC_GETVERSION, &v) < 0)
		return -1;
	*gen = (uint32_t)v;
	return 0;
}

int
bd_iflags_fd(int fd, int *flags)
{
	*flags = 0;
	return ioctl(fd, FS_IOC_GETFLAGS, flags) < 0 ? -1 : 0;
}

int
bd_fs_generation_fd(int fd, uint64_t *gen)
{
	struct btrfs_ioctl_fs_info_args a;

	if (fs_info(fd, &a, BTRFS_FS_INFO_FLAG_GENERATION) < 0)
		return -1;
	if (!(a.flags & BTRFS_FS_INFO_FLAG_GENERATION)) {
		errno = ENOTSUP;
		return -1;
	}
	*gen = a.generation;
	return 0;
}

int
bd_csum_fs_fd(int fd, struct bd_csum_fs *c)
{
	struct btrfs_ioctl_fs_info_args a;

	if (fs_info(fd, &a, BTRFS_FS_INFO_FLAG_CSUM_INFO) < 0)
		return -1;
	if (!(a.flags & BTRFS_FS_INFO_FLAG_CSUM_INFO) || a.csum_size == 0 ||
	    a.sectorsize == 0 || a.nodesize == 0) {
		errno = ENOTSUP;
		return -1;
	}
	c->sectorsize = a.sectorsize;
	c->nodesize = a.nodesize;
	c->csum_size = a.csum_size;
	return 0;
}

int
bd_writeout_fd(int fd)
{
	return syncfs(fd);
}

int
bd_commit_fd(int fd, uint64_t *transid)
{
	uint64_t t;

	if (syncfs(fd) < 0)
		return -1;
	errno = 0;
	if (util(btrfs_util_start_sync_fd(fd, &t)) < 0)
		return -1;
	errno = 0;
	if (util(btrfs_util_wait_sync_fd(fd, t)) < 0)
		return -1;
	*transid = t;
	return 0;
}

int
bd_defrag_fd(int fd)
{
	struct btrfs_ioctl_defrag_range_args a;

	memset(&a, 0, sizeof a);
	a.len = (uint64_t)-1;
	a.flags = BTRFS_DEFRAG_RANGE_START_IO;
	return ioctl(fd, BTRFS_IOC_DEFRAG_RANGE, &a) < 0 ? -1 : 0;
}

int
bd_subvol_readonly_fd(int fd, int *ro)
{
	struct btrfs_ioctl_get_subvol_info_args a;

	/* GET_SUBVOL_INFO answers for the subvolume of any file in it,
	 * whereas SUBVOL_GETFLAGS wants the subvolume's root directory */
	memset(&a, 0, sizeof a);
	if (ioctl(fd, BTRFS_IOC_GET_SUBVOL_INFO, &a) < 0)
		return -1;
	*ro = !!(a.flags & BTRFS_ROOT_SUBVOL_RDONLY);
	return 0;
}

int
bd_ino_paths_fd(int fd, uint64_t ino, char *buf, size_t bufsz)
{
	struct btrfs_ioctl_ino_path_args a;
	struct btrfs_data_container *d;
	size_t room = 4096 + bufsz, n;
	const char *p;
	int e;

	/* the kernel fills a container of offsets (from val[0]) to names */
	d = bd_emalloc(room);
	memset(&a, 0, sizeof a);
	a.inum = ino;
	a.size = room;
	a.fspath = (uintptr_t)d;
	if (ioctl(fd, BTRFS_IOC_INO_PATHS, &a) < 0) {
		e = errno;
		free(d);
		errno = e;
		return -1;
	}
	if (d->elem_cnt == 0) {
		e = d->elem_missed ? ENAMETOOLONG : ENOENT;
		free(d);
		errno = e;
		return -1;
	}
	if (d->val[0] >= room - sizeof *d) {
		free(d);
		errno = EIO;
		return -1;
	}
	p = (const char *)d->val + d->val[0];
	n = strnlen(p, room - sizeof *d - (size_t)d->val[0]);
	if (n >= bufsz) {
		free(d);
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, p, n + 1);
	free(d);
	return 0;
}

int
bd_subvol_readonly_id(int fd, uint64_t id, int *ro)
{
	struct btrfs_util_subvolume_info info;

	errno = 0;
	if (util(btrfs_util_subvolume_info_fd(fd, id, &info)) < 0)
		return -1;
	*ro = !!(info.flags & BTRFS_ROOT_SUBVOL_RDONLY);
	return 0;
}

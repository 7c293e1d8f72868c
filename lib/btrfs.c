/* btrfs.c: small questions to btrfs about an open file. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/btrfs.h>
#include <linux/fs.h>
#include <btrfsutil.h>

#include "bedup.h"

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
	static const char hex[] = "0123456789abcdef";
	struct btrfs_ioctl_fs_info_args a;
	size_t i, o = 0;

	if (fs_info(fd, &a, 0) < 0)
		return -1;
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[a.fsid[i] >> 4];
		out[o++] = hex[a.fsid[i] & 15];
	}
	out[o] = '\0';
	return 0;
}

int
bd_subvol_fd(int fd, uint64_t *id)
{
	enum btrfs_util_error err = btrfs_util_subvolume_id_fd(fd, id);

	if (err == BTRFS_UTIL_OK)
		return 0;
	if (!errno)
		errno = EIO;
	return -1;
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

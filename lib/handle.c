/* handle.c: opening the inode a record names by its btrfs file handle
 * (subvolume, inode number, generation), with no path walk at all. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/statvfs.h>

#include "bedup.h"

/* the kernel's FILEID_BTRFS_WITHOUT_PARENT (include/linux/exportfs.h),
 * which no uapi header exports */
#define FILEID_BTRFS 0x4d
/* its struct btrfs_fid, packed: u64 objectid, u64 root_objectid, u32 gen */
#define FID_BYTES 20

/* Directories on each btrfs filesystem met so far, keyed by FSID: any fd
 * on a filesystem serves as open_by_handle_at's mount fd. The one global
 * mutable state beyond bd_prog and bd_status, on purpose: finding a
 * directory walks a path, the very cost handles save, so it is done once
 * per filesystem and process; the stages open from several threads
 * (bedup-hash -j), hence the mutex. The fds stay open until exit. Only
 * writable mounts are kept: a file opened by handle is on the mount of
 * the mount fd, and FIDEDUPERANGE refuses a destination on a read-only
 * mount (EROFS) even when the same filesystem is mounted writable too. */
static struct mount {
	char fsid[BD_FSID_LEN + 1];
	int fd;
} *mounts;
static size_t nmounts;
static pthread_mutex_t mounts_mu = PTHREAD_MUTEX_INITIALIZER;

/* a directory of R's filesystem: the nearest directory above R's path
 * that opens without following a symlink and is on that filesystem */
static int
find_mount(const struct bd_record *r)
{
	char fsid[BD_FSID_LEN + 1];
	char *dir = bd_estrdup(r->path), *slash;
	int fd = -1;

	while ((slash = strrchr(dir, '/')) != NULL) {
		slash[slash == dir] = '\0';   /* keep "/" itself */
		fd = bd_open_nofollow(dir, O_RDONLY | O_DIRECTORY);
		if (fd >= 0) {
			if (bd_fsid_fd(fd, fsid) == 0 && strcmp(fsid, r->fsid) == 0)
				break;
			close(fd);
			fd = -1;
		}
		if (slash == dir)
			break;
	}
	free(dir);
	return fd;
}

/* a mount fd for R's filesystem; *OWNED is set when the caller must
 * close it (a read-only mount, not kept) */
static int
mount_fd(const struct bd_record *r, int *owned)
{
	struct statvfs sv;
	size_t i;
	int fd = -1;

	*owned = 0;
	pthread_mutex_lock(&mounts_mu);
	for (i = 0; i < nmounts && fd < 0; i++)
		if (strcmp(mounts[i].fsid, r->fsid) == 0)
			fd = mounts[i].fd;
	if (fd < 0 && (fd = find_mount(r)) >= 0) {
		if (fstatvfs(fd, &sv) == 0 && !(sv.f_flag & ST_RDONLY)) {
			mounts = bd_erealloc(mounts, (nmounts + 1) * sizeof *mounts);
			memcpy(mounts[nmounts].fsid, r->fsid, sizeof mounts->fsid);
			mounts[nmounts++].fd = fd;
		} else {
			*owned = 1;
		}
	}
	pthread_mutex_unlock(&mounts_mu);
	return fd;
}

int
bd_open_handle(const struct bd_record *r, int flags)
{
	union {
		struct file_handle fh;
		unsigned char b[sizeof(struct file_handle) + FID_BYTES];
	} h;
	uint32_t gen = (uint32_t)r->gen;
	int mfd, owned, fd;

	/* only subvolume trees hold files; btrfs would look another tree
	 * up too (the root tree holds free space cache inodes) */
	if (r->subvol != 5 && (r->subvol < 256 || r->subvol > (uint64_t)-256)) {
		errno = EINVAL;
		return -1;
	}
	if ((mfd = mount_fd(r, &owned)) < 0) {
		errno = ENODEV;
		return -1;
	}
	memset(&h, 0, sizeof h);
	h.fh.handle_bytes = FID_BYTES;
	h.fh.handle_type = FILEID_BTRFS;
	memcpy(h.fh.f_handle, &r->ino, 8);
	memcpy(h.fh.f_handle + 8, &r->subvol, 8);
	memcpy(h.fh.f_handle + 16, &gen, 4);
	fd = open_by_handle_at(mfd, &h.fh, flags | O_CLOEXEC);
	if (owned)
		bd_close_keep(mfd);
	return fd;
}

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
 * on a filesystem serves as open_by_handle_at's mount fd, or for a tree
 * search. The one global mutable state beyond bd_prog and bd_status, on
 * purpose: finding a directory walks a path, the very cost handles save,
 * so it is done once per filesystem and process; the stages open from
 * several threads (bedup-hash -j), hence the mutex. The fds stay open
 * until exit. A directory on a read-only mount is kept apart (RO): a file
 * opened by handle is on the mount of the mount fd, and FIDEDUPERANGE
 * refuses a destination on a read-only mount (EROFS) even when the same
 * filesystem is mounted writable too; a search does not mind. */
static struct mount {
	char fsid[BD_FSID_LEN + 1];
	int fd;
	int ro;
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

/* the kept directory of R's filesystem, on a writable mount when RW is
 * set; mounts_mu held */
static int
kept(const struct bd_record *r, int rw)
{
	size_t i;

	for (i = 0; i < nmounts; i++)
		if (strcmp(mounts[i].fsid, r->fsid) == 0 && !(rw && mounts[i].ro))
			return mounts[i].fd;
	return -1;
}

/* a directory of R's filesystem, on a writable mount when RW is set;
 * *OWNED is set when the caller must close it (a read-only mount when a
 * read-only one is kept already) */
static int
mount_fd(const struct bd_record *r, int rw, int *owned)
{
	struct statvfs sv;
	int fd, ro;

	*owned = 0;
	pthread_mutex_lock(&mounts_mu);
	if ((fd = kept(r, rw)) < 0 && (fd = find_mount(r)) >= 0) {
		ro = fstatvfs(fd, &sv) < 0 || (sv.f_flag & ST_RDONLY);
		if (!ro || kept(r, 0) < 0) {
			mounts = bd_erealloc(mounts, (nmounts + 1) * sizeof *mounts);
			memcpy(mounts[nmounts].fsid, r->fsid, sizeof mounts->fsid);
			mounts[nmounts].ro = ro;
			mounts[nmounts++].fd = fd;
		} else {
			*owned = 1;
		}
	}
	pthread_mutex_unlock(&mounts_mu);
	return fd;
}

int
bd_fs_fd(const struct bd_record *r)
{
	int owned, fd = mount_fd(r, 0, &owned);

	if (fd < 0)
		errno = ENODEV;
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
	if ((mfd = mount_fd(r, 1, &owned)) < 0) {
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

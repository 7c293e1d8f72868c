/* member.c: opening a group member, with the checks the lock and clone
 * stages both make before they trust a record. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>

#include "bedup.h"

int
bd_member_open(const struct bd_record *r, struct stat *st)
{
	enum bd_open_result res;
	int fd;

	res = bd_open_record(r, 0, &fd, st);
	switch (res) {
	case BD_OPEN_OK:
		break;
	case BD_OPEN_GONE:
		return -1;            /* deleted since: nothing to do, no error */
	case BD_OPEN_OTHER:
		bd_pfail(r->path, "changed since the record was made, skipped");
		return -1;
	case BD_OPEN_ERROR:
		bd_pfail(r->path, "%s", bd_open_strerror(res));
		return -1;
	}
	if ((uint64_t)st->st_size != r->size) {
		bd_pfail(r->path, "size changed since the record was made, skipped");
		close(fd);
		return -1;
	}
	return fd;
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

/* member.c: opening a group member, with the checks every stage makes
 * before it trusts a record: the inode named, of the size named. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "bedup.h"

enum bd_open_result
bd_member_size(const struct bd_record *r, const struct stat *st)
{
	return (uint64_t)st->st_size == r->size ? BD_OPEN_OK : BD_OPEN_SIZE;
}

enum bd_open_result
bd_member_check(const struct bd_record *r, int *fd, struct stat *st)
{
	enum bd_open_result res;

	if ((res = bd_open_record(r, 0, fd, st)) != BD_OPEN_OK)
		return res;
	if ((res = bd_member_size(r, st)) != BD_OPEN_OK) {
		close(*fd);
		*fd = -1;
	}
	return res;
}

int
bd_member_open(const struct bd_record *r, struct stat *st)
{
	int fd;

	switch (bd_member_check(r, &fd, st)) {
	case BD_OPEN_OK:
		return fd;
	case BD_OPEN_GONE:
		break;                /* deleted since: nothing to do, no error */
	case BD_OPEN_OTHER:
		bd_pfail(r->path, "changed since the record was made, skipped");
		break;
	case BD_OPEN_SIZE:
		bd_pfail(r->path, "size changed since the record was made, skipped");
		break;
	case BD_OPEN_ERROR:
		bd_pfail(r->path, "%s", bd_open_strerror(BD_OPEN_ERROR));
		break;
	}
	return -1;
}

/* fiemap.c: where a file's data lies on disk, to see what is shared. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <linux/fiemap.h>

#include "bedup.h"

#define BATCH 256

/* extents whose place cannot be compared with another file's */
#define UNCOMPARABLE (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | \
	FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED)

static void
push(struct bd_extents *x, const struct fiemap_extent *fe)
{
	struct bd_extent *last = x->n ? &x->e[x->n - 1] : NULL;
	uint32_t fl = fe->fe_flags & ~(FIEMAP_EXTENT_LAST | FIEMAP_EXTENT_SHARED);

	/* merge pieces contiguous both in the file and on disk, so that
	 * two files sharing one extent compare equal however it is split */
	if (last && last->logical + last->length == fe->fe_logical &&
	    last->physical + last->length == fe->fe_physical &&
	    (last->flags & ~FIEMAP_EXTENT_SHARED) == fl &&
	    (last->flags & FIEMAP_EXTENT_SHARED) == (fe->fe_flags & FIEMAP_EXTENT_SHARED)) {
		last->length += fe->fe_length;
		return;
	}
	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 2;   /* most files are one extent */
		x->e = bd_erealloc(x->e, x->cap * sizeof *x->e);
	}
	x->e[x->n].logical = fe->fe_logical;
	x->e[x->n].physical = fe->fe_physical;
	x->e[x->n].length = fe->fe_length;
	x->e[x->n].flags = fl | (fe->fe_flags & FIEMAP_EXTENT_SHARED);
	x->n++;
}

int
bd_extents_get(int fd, struct bd_extents *x)
{
	struct fiemap *fm;
	uint64_t start = 0;
	unsigned i;
	int last = 0;

	x->n = 0;
	fm = bd_emalloc(sizeof *fm + BATCH * sizeof fm->fm_extents[0]);
	while (!last) {
		memset(fm, 0, sizeof *fm);
		fm->fm_start = start;
		fm->fm_length = FIEMAP_MAX_OFFSET - start;
		fm->fm_extent_count = BATCH;
		/* btrfs maps dirty overwritten pages to the old extent, not as
		 * delalloc: write them out first so that the map is true */
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			int e = errno;

			free(fm);
			errno = e;
			return -1;
		}
		if (fm->fm_mapped_extents == 0)
			break;
		for (i = 0; i < fm->fm_mapped_extents; i++) {
			push(x, &fm->fm_extents[i]);
			if (fm->fm_extents[i].fe_flags & FIEMAP_EXTENT_LAST)
				last = 1;
		}
		/* fewer than asked for: the kernel mapped all the range
		 * holds, whether or not it flagged the last */
		if (fm->fm_mapped_extents < BATCH)
			break;
		i = fm->fm_mapped_extents - 1;
		start = fm->fm_extents[i].fe_logical + fm->fm_extents[i].fe_length;
	}
	free(fm);
	return 0;
}

int
bd_extents_sync(int fd)
{
	struct fiemap fm;

	/* no extent asked for: the count only, after the write-out (btrfs
	 * waits for the ordered extents too, which put the items in the
	 * tree) */
	memset(&fm, 0, sizeof fm);
	fm.fm_length = FIEMAP_MAX_OFFSET;
	fm.fm_flags = FIEMAP_FLAG_SYNC;
	return ioctl(fd, FS_IOC_FIEMAP, &fm) < 0 ? -1 : 0;
}

int
bd_extents_same(const struct bd_extents *a, const struct bd_extents *b)
{
	size_t i;

	if (a->n != b->n || a->n == 0)
		return 0;
	for (i = 0; i < a->n; i++) {
		const struct bd_extent *p = &a->e[i], *q = &b->e[i];

		if ((p->flags | q->flags) & UNCOMPARABLE)
			return 0;
		if (p->logical != q->logical || p->physical != q->physical ||
		    p->length != q->length)
			return 0;
	}
	return 1;
}

uint64_t
bd_extents_shared_bytes(const struct bd_extents *x)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < x->n; i++)
		if (x->e[i].flags & FIEMAP_EXTENT_SHARED)
			n += x->e[i].length;
	return n;
}

uint64_t
bd_extents_data_bytes(const struct bd_extents *x, uint64_t len)
{
	uint64_t n = 0, end;
	size_t i;

	for (i = 0; i < x->n && x->e[i].logical < len; i++) {
		end = x->e[i].logical + x->e[i].length;
		n += (end < len ? end : len) - x->e[i].logical;
	}
	return n;
}

int
bd_extents_inline(const struct bd_extents *x)
{
	size_t i;

	for (i = 0; i < x->n; i++)
		if (x->e[i].flags & FIEMAP_EXTENT_DATA_INLINE)
			return 1;
	return 0;
}

void
bd_extents_free(struct bd_extents *x)
{
	free(x->e);
	x->e = NULL;
	x->n = x->cap = 0;
}

/* dedupe.c: sharing one file's data into others with FIDEDUPERANGE, the
 * call that compares both ranges under the inode locks and shares only
 * identical bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/fs.h>

#include "bedup.h"

#define READAHEAD_MAX (256u << 20)    /* bytes asked ahead per call, all files */

size_t
bd_dedupe_max_dests(void)
{
	long page = sysconf(_SC_PAGESIZE);

	/* the kernel refuses an argument larger than one page (ENOMEM) */
	if (page < 4096)
		page = 4096;
	return ((size_t)page - sizeof(struct file_dedupe_range)) /
		sizeof(struct file_dedupe_range_info);
}

/* The smallest offset a pending destination has reached, or LEN. */
static uint64_t
lowest(const struct bd_dedupe_dest *d, size_t n, uint64_t len)
{
	uint64_t off = len;
	size_t i;

	for (i = 0; i < n; i++)
		if (d[i].state == BD_DEDUPE_PENDING && d[i].done < off)
			off = d[i].done;
	return off;
}

void
bd_dedupe(int src, uint64_t len, struct bd_dedupe_dest *d, size_t n)
{
	struct file_dedupe_range *arg;
	size_t i, k, *idx, max = bd_dedupe_max_dests();
	uint64_t off, chunk, ra;
	int again;

	for (i = 0; i < n; i++) {
		d[i].state = len ? BD_DEDUPE_PENDING : BD_DEDUPE_DONE;
		d[i].done = 0;
		d[i].err = 0;
		d[i].tries = 0;
	}
	arg = bd_ecalloc(1, sizeof *arg + max * sizeof arg->info[0]);
	idx = bd_ecalloc(max, sizeof *idx);
	while ((off = lowest(d, n, len)) < len) {
		/* one chunk at a time, so that no inode stays locked long and
		 * a writer is never held up behind a whole large file */
		chunk = len - off < BD_DEDUPE_CHUNK ? len - off : BD_DEDUPE_CHUNK;
		memset(arg, 0, sizeof *arg);
		arg->src_offset = off;
		arg->src_length = chunk;
		for (i = 0, k = 0; i < n && k < max; i++) {
			if (d[i].state != BD_DEDUPE_PENDING || d[i].done != off)
				continue;
			memset(&arg->info[k], 0, sizeof arg->info[k]);
			arg->info[k].dest_fd = d[i].fd;
			arg->info[k].dest_offset = off;
			idx[k++] = i;
		}
		arg->dest_count = (uint16_t)k;
		/* the kernel's compare reads one folio at a time with no
		 * readahead: ask for this chunk and the next up front, within
		 * a budget so that a large batch does not flood the cache */
		ra = 2 * (uint64_t)BD_DEDUPE_CHUNK;
		if ((k + 1) * ra > READAHEAD_MAX)
			ra = READAHEAD_MAX / (k + 1);
		posix_fadvise(src, (off_t)off, (off_t)ra, POSIX_FADV_WILLNEED);
		for (i = 0; i < k; i++)
			posix_fadvise(d[idx[i]].fd, (off_t)off, (off_t)ra, POSIX_FADV_WILLNEED);
		if (ioctl(src, FIDEDUPERANGE, arg) < 0) {
			if (errno == EINTR)
				continue;
			for (i = 0; i < k; i++) {
				d[idx[i]].state = BD_DEDUPE_ERROR;
				d[idx[i]].err = errno;
			}
			continue;
		}
		again = 0;
		for (i = 0; i < k; i++) {
			struct file_dedupe_range_info *fi = &arg->info[i];
			struct bd_dedupe_dest *p = &d[idx[i]];

			if (fi->status == FILE_DEDUPE_RANGE_DIFFERS) {
				p->state = BD_DEDUPE_DIFFERS;
			} else if (fi->status == -EAGAIN) {
				/* btrfs refuses while a send uses the subvolume */
				if (++p->tries > BD_DEDUPE_TRIES)
					p->state = BD_DEDUPE_BUSY;
				else
					again = 1;
			} else if (fi->status < 0) {
				p->state = BD_DEDUPE_ERROR;
				p->err = -fi->status;
			} else if (fi->bytes_deduped == 0) {
				/* no progress: stop rather than loop forever */
				p->state = BD_DEDUPE_ERROR;
				p->err = EIO;
			} else {
				p->done += fi->bytes_deduped < chunk ? fi->bytes_deduped : chunk;
				if (p->done >= len)
					p->state = BD_DEDUPE_DONE;
			}
		}
		if (again)
			sleep(1);
	}
	free(idx);
	free(arg);
}

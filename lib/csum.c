/* csum.c: a digest of the checksums btrfs keeps of a file's data. Two
 * files whose data checksums differ cannot hold the same bytes, and the
 * checksums are metadata: telling same-size files apart this way reads
 * a few KiB of the checksum tree instead of blocks of every file. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/fiemap.h>
#include <xxhash.h>

#include "bedup.h"

/* extents whose checksums are not those of the file's bytes as read:
 * compressed (checksums of the compressed data), inline (none),
 * preallocated (none: they read as zeros), and the rest unknown */
#define NO_CSUM (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_ENCODED | \
	FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_UNWRITTEN | \
	FIEMAP_EXTENT_DATA_ENCRYPTED)

/* Feeds XS the checksums of the sectors [P, P + LEN) of the filesystem's
 * address space, in order. Returns 1, 0 if some are missing (nodatasum,
 * or the data moved since the map was read), -1/errno. */
static int
feed(int fd, const struct bd_csum_fs *c, uint64_t p, uint64_t len, void *buf, size_t bufsz,
    XXH3_state_t *xs)
{
	struct btrfs_ioctl_search_args_v2 *a = buf;
	struct btrfs_ioctl_search_header h;
	/* an item holds at most a leaf of checksums: one covering P starts
	 * at most this far before it */
	uint64_t reach = (uint64_t)c->nodesize / c->csum_size * c->sectorsize;
	uint64_t next = p, end = p + len, from = p > reach ? p - reach : 0;
	uint64_t start, stop, skip, take;
	size_t off;
	uint32_t i;

	while (next < end) {
		memset(&a->key, 0, sizeof a->key);
		a->key.tree_id = BTRFS_CSUM_TREE_OBJECTID;
		a->key.min_objectid = a->key.max_objectid = BTRFS_EXTENT_CSUM_OBJECTID;
		a->key.min_type = a->key.max_type = BTRFS_EXTENT_CSUM_KEY;
		a->key.min_offset = from;
		a->key.max_offset = end - 1;
		a->key.max_transid = UINT64_MAX;
		a->key.nr_items = UINT32_MAX;
		a->buf_size = bufsz - sizeof *a;
		if (ioctl(fd, BTRFS_IOC_TREE_SEARCH_V2, a) < 0)
			return errno == EOVERFLOW ? 0 : -1;
		if (a->key.nr_items == 0)
			return 0;
		for (i = 0, off = 0; i < a->key.nr_items; i++) {
			memcpy(&h, a->buf + off, sizeof h);
			off += sizeof h;
			start = h.offset;
			stop = start + h.len / c->csum_size * c->sectorsize;
			from = start + 1;
			if (stop > next && next < end) {
				if (start > next)
					return 0;          /* a sector without one */
				skip = (next - start) / c->sectorsize;
				take = ((stop < end ? stop : end) - next) / c->sectorsize;
				XXH3_128bits_update(xs, a->buf + off + skip * c->csum_size,
				    take * c->csum_size);
				next += take * c->sectorsize;
			}
			off += h.len;
		}
	}
	return 1;
}

int
bd_csum_digest(int fd, const struct bd_csum_fs *c, const struct bd_extents *x, uint64_t size,
    void *buf, size_t bufsz, uint8_t out[16])
{
	uint64_t ss = c->sectorsize, want = (size + ss - 1) / ss * ss, at = 0, len;
	XXH128_canonical_t can;
	XXH3_state_t *xs;
	size_t i;
	int r = 1;

	if (size == 0 || bufsz < sizeof(struct btrfs_ioctl_search_args_v2) + 65536)
		return 0;
	if (!(xs = XXH3_createState()))
		bd_die("XXH3_createState: out of memory");
	XXH3_128bits_reset(xs);
	for (i = 0; i < x->n && at < want && r == 1; i++) {
		const struct bd_extent *e = &x->e[i];

		/* a hole has no checksums, but reads as zeros like written
		 * zeros that have: such a file is left to the reads */
		if (e->logical != at || (e->flags & NO_CSUM) || e->physical % ss || e->length % ss) {
			r = 0;
			break;
		}
		len = e->length < want - at ? e->length : want - at;
		r = feed(fd, c, e->physical, len, buf, bufsz, xs);
		at += len;
	}
	if (r == 1 && at == want) {
		XXH128_canonicalFromHash(&can, XXH3_128bits_digest(xs));
		memcpy(out, can.digest, 16);
	} else if (r == 1) {
		r = 0;                       /* the map ends before the data */
	}
	XXH3_freeState(xs);
	return r;
}

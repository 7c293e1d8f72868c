/* csum.c: a digest of the checksums btrfs keeps of a file's data. Two
 * files whose data checksums differ cannot hold the same bytes, and the
 * checksums are metadata: telling same-size files apart this way reads
 * a few KiB of the checksum tree instead of blocks of every file. */
#include <errno.h>
#include <string.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <xxhash.h>

#include "bedup.h"

/* Feeds XS the checksums of the sectors [P, P + LEN) of the filesystem's
 * address space, in order, read into S by one search of the keys from
 * FROM on. Returns 1, 0 if some are missing (nodatasum, or the data moved
 * since the map was read), 2 when no item from FROM on covers P (nothing
 * fed: an item starting before FROM may), -1/errno. */
static int
feed_from(int fd, const struct bd_csum_fs *c, uint64_t p, uint64_t len, uint64_t from,
    struct bd_search *s, XXH3_state_t *xs)
{
	struct bd_search_item it;
	uint64_t next = p, end = p + len;
	uint64_t start, stop, skip, take;
	int n, got;

	bd_search_set(s, BTRFS_CSUM_TREE_OBJECTID,
	    (struct bd_key){ BTRFS_EXTENT_CSUM_OBJECTID, BTRFS_EXTENT_CSUM_KEY, from },
	    (struct bd_key){ BTRFS_EXTENT_CSUM_OBJECTID, BTRFS_EXTENT_CSUM_KEY, end - 1 }, 0);
	while (next < end) {
		if ((n = bd_search_run(fd, s, UINT32_MAX)) < 0)
			return errno != EOVERFLOW ? -1 : 0;
		if (n == 0)
			return next == p ? 2 : 0;
		for (got = 0; bd_search_next(s, &it); got = 1) {
			start = it.offset;
			stop = start + it.len / c->csum_size * c->sectorsize;
			if (stop > next && next < end) {
				if (start > next)
					return next == p ? 2 : 0;   /* a sector without one */
				skip = (next - start) / c->sectorsize;
				take = ((stop < end ? stop : end) - next) / c->sectorsize;
				XXH3_128bits_update(xs, it.data + skip * c->csum_size,
				    take * c->csum_size);
				next += take * c->sectorsize;
			}
		}
		if (!got || bd_search_after(s, &it) < 0)
			return next == p ? 2 : 0;
	}
	return 1;
}

/* Feeds XS the checksums of the sectors [P, P + LEN). The item covering P
 * may start up to a leaf of checksums before it, and a search returns
 * every item from where it starts: where files were written one by one,
 * that is hundreds of small items. So the search starts at P, then
 * further back only while no item covers P. Returns as feed_from, but 2
 * is 0. */
static int
feed(int fd, const struct bd_csum_fs *c, uint64_t p, uint64_t len, struct bd_search *s,
    XXH3_state_t *xs)
{
	uint64_t reach = (uint64_t)c->nodesize / c->csum_size * c->sectorsize;
	uint64_t back = 0;
	int r;

	for (;;) {
		if (back > reach)
			back = reach;
		r = feed_from(fd, c, p, len, p > back ? p - back : 0, s, xs);
		if (r != 2)
			return r;
		if (back >= reach || back >= p)
			return 0;
		back = back ? back * 16 : 64 * (uint64_t)c->sectorsize;
	}
}

int
bd_csum_digest(int fd, const struct bd_csum_fs *c, const struct bd_layout *l, uint64_t size,
    void *buf, size_t bufsz, uint8_t out[16])
{
	uint64_t ss = c->sectorsize, want = (size + ss - 1) / ss * ss, at = 0, len, p;
	XXH128_canonical_t can;
	struct bd_search s;
	XXH3_state_t *xs;
	size_t i;
	int r = 1;

	if (size == 0 || l->inl || bufsz < sizeof(struct btrfs_ioctl_search_args_v2) + 65536)
		return 0;
	if (!(xs = XXH3_createState()))
		bd_die("XXH3_createState: out of memory");
	XXH3_128bits_reset(xs);
	bd_search_init_buf(&s, buf, bufsz);
	for (i = 0; i < l->n && at < want && r == 1; i++) {
		const struct bd_ref *e = &l->r[i];

		p = e->bytenr + e->offset;
		/* a hole has no checksums, but reads as zeros like written
		 * zeros that have: such a file is left to the reads. Nor are
		 * a compressed extent's checksums those of the bytes read,
		 * and a preallocated one has none (it reads as zeros) */
		if (e->fileoff != at || e->type != BTRFS_FILE_EXTENT_REG || e->compression ||
		    p % ss || e->len % ss) {
			r = 0;
			break;
		}
		len = e->len < want - at ? e->len : want - at;
		r = feed(fd, c, p, len, &s, xs);
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

int
bd_csum_key_of(int fd, const struct bd_csum_fs *c, const struct bd_layout *l, uint64_t size,
    void *buf, size_t bufsz, uint8_t key[16])
{
	int r = bd_csum_digest(fd, c, l, size, buf, bufsz, key);

	memset(key + 8, 0, 8);
	return r;
}

int
bd_csum_key(int fd, const struct bd_record *r, struct bd_csum_fs *c, void *buf, size_t bufsz,
    uint8_t key[8])
{
	struct bd_layout l = {0};
	struct bd_search s;
	uint8_t k[16];
	int ret = 0;

	if (c->sectorsize == 0 && bd_csum_fs_fd(fd, c) < 0)
		return -1;
	bd_search_init_buf(&s, buf, bufsz);
	if (bd_layout_get(fd, r->subvol, r->ino, &s, &l) < 0) {
		ret = errno == ENOENT ? 0 : -1;
	} else if (bd_layout_is(&l, r) &&
	    (ret = bd_csum_key_of(fd, c, &l, r->size, buf, bufsz, k)) == 1) {
		memcpy(key, k, 8);
	}
	bd_layout_free(&l);
	return ret;
}

/* layout.c: a file's exact extent references, read from its subvolume's
 * tree with no open of the file. FIEMAP gives a physical address only,
 * and none a compressed extent can be compared by: the file extent items
 * say which extent, which slice of it and how it is encoded, so that two
 * files sharing one compressed extent are seen to. */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/fiemap.h>

#include <xxhash.h>

#include "bedup.h"

#define NR 256                   /* items per search run */
#define OWNBUF (80u << 10)       /* a search's buffer, when the caller has none: room
				  * for the largest leaf, so one run is enough */

/* little-endian fields of an item, at OFF, bounds checked by the caller */
static uint64_t
le64(const unsigned char *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof v);
	return le64toh(v);
}

static uint32_t
le32(const unsigned char *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof v);
	return le32toh(v);
}

static void
inode_item(struct bd_layout *l, const struct bd_search_item *it)
{
	const unsigned char *p = it->data;

	if (it->len < sizeof(struct btrfs_inode_item))
		return;
	l->found = 1;
	l->gen = le64(p, offsetof(struct btrfs_inode_item, generation));
	l->size = le64(p, offsetof(struct btrfs_inode_item, size));
	l->nlink = le32(p, offsetof(struct btrfs_inode_item, nlink));
	l->mode = le32(p, offsetof(struct btrfs_inode_item, mode));
	l->flags = le64(p, offsetof(struct btrfs_inode_item, flags));
}

/* appends R, or grows the last reference when R goes on where it ends
 * (file and extent contiguous): how an item is split (a clone of 16 MiB
 * at a time, a partial overwrite undone) does not tell two files apart */
static void
push(struct bd_layout *l, const struct bd_ref *r)
{
	struct bd_ref *p = l->n ? &l->r[l->n - 1] : NULL;

	if (p && p->type == r->type && p->compression == r->compression &&
	    p->bytenr == r->bytenr && p->disk_len == r->disk_len &&
	    p->fileoff + p->len == r->fileoff && p->offset + p->len == r->offset) {
		p->len += r->len;
		return;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 2;   /* most files are one extent */
		l->r = bd_erealloc(l->r, l->cap * sizeof *l->r);
	}
	l->r[l->n++] = *r;
}

static void
extent_item(struct bd_layout *l, const struct bd_search_item *it)
{
	const unsigned char *p = it->data;
	struct bd_ref r;

	if (it->len <= offsetof(struct btrfs_file_extent_item, type))
		return;
	memset(&r, 0, sizeof r);
	r.fileoff = it->offset;
	r.type = p[offsetof(struct btrfs_file_extent_item, type)];
	r.compression = p[offsetof(struct btrfs_file_extent_item, compression)];
	if (r.type == BTRFS_FILE_EXTENT_INLINE) {
		l->inl = 1;
		return;
	}
	if (it->len < sizeof(struct btrfs_file_extent_item))
		return;
	r.bytenr = le64(p, offsetof(struct btrfs_file_extent_item, disk_bytenr));
	r.disk_len = le64(p, offsetof(struct btrfs_file_extent_item, disk_num_bytes));
	r.offset = le64(p, offsetof(struct btrfs_file_extent_item, offset));
	r.len = le64(p, offsetof(struct btrfs_file_extent_item, num_bytes));
	/* holes are no data: an explicit hole item and the gap of a
	 * filesystem with no-holes read alike, and compare alike */
	if (r.bytenr == 0 || r.len == 0)
		return;
	push(l, &r);
}

/* the inode item and file extent items of INO into L, every reference */
static int
search(int fd, uint64_t subvol, uint64_t ino, struct bd_search *s, struct bd_layout *l)
{
	struct bd_search own, *q = s;
	struct bd_search_item it;
	int n, ret = 0;

	l->n = 0;
	l->found = l->inl = 0;
	/* only subvolume trees hold files (the root tree holds free space
	 * cache inodes; tree 0 would be FD's own subvolume) */
	if (subvol != BTRFS_FS_TREE_OBJECTID &&
	    (subvol < BTRFS_FIRST_FREE_OBJECTID || subvol > BTRFS_LAST_FREE_OBJECTID)) {
		errno = EINVAL;
		return -1;
	}
	if (!q) {
		q = &own;
		bd_search_init(q, OWNBUF);
	}
	bd_search_set(q, subvol, (struct bd_key){ ino, BTRFS_INODE_ITEM_KEY, 0 },
	    (struct bd_key){ ino, BTRFS_EXTENT_DATA_KEY, UINT64_MAX }, 0);
	for (;;) {
		if ((n = bd_search_run(fd, q, NR)) < 0) {
			ret = -1;
			break;
		}
		if (n == 0)
			break;
		while (bd_search_next(q, &it)) {
			if (it.objectid != ino)
				continue;
			if (it.type == BTRFS_INODE_ITEM_KEY)
				inode_item(l, &it);
			else if (it.type == BTRFS_EXTENT_DATA_KEY)
				extent_item(l, &it);
		}
		if (bd_search_exhausted(q, NR) || bd_search_after(q, &it) < 0)
			break;
	}
	if (q == &own) {
		n = errno;
		bd_search_free(q);
		errno = n;
	}
	if (ret == 0 && !l->found) {
		errno = ENOENT;
		ret = -1;
	}
	return ret;
}

/* what lies at or past SIZE (preallocated) is no data of the file */
static void
clip(struct bd_layout *l, uint64_t size)
{
	size_t i, k;

	l->size = size;
	for (i = k = 0; i < l->n; i++)
		if (l->r[i].fileoff < size)
			l->r[k++] = l->r[i];
	l->n = k;
}

int
bd_layout_get(int fd, uint64_t subvol, uint64_t ino, struct bd_search *s, struct bd_layout *l)
{
	if (search(fd, subvol, ino, s, l) < 0)
		return -1;
	clip(l, l->size);
	return 0;
}

/* L from FIEMAP's map of FD: the physical places stand for the extents
 * (one file's map against another's, as bd_extents_same compared them);
 * an extent FIEMAP cannot compare (compressed, delalloc, unknown) leaves
 * no reference at all, so that L is the same as no other file's */
static int
from_fiemap(int fd, struct bd_layout *l)
{
	struct bd_extents x = {0};
	struct bd_ref r;
	size_t i;

	if (bd_extents_get(fd, &x) < 0)
		return -1;
	l->inl = bd_extents_inline(&x);
	for (i = 0; i < x.n; i++) {
		const struct bd_extent *e = &x.e[i];

		if (e->flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |
		    FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED)) {
			l->n = 0;
			break;
		}
		memset(&r, 0, sizeof r);
		r.fileoff = e->logical;
		r.bytenr = e->physical;
		r.len = e->length;
		r.type = e->flags & FIEMAP_EXTENT_UNWRITTEN ? BTRFS_FILE_EXTENT_PREALLOC :
		    BTRFS_FILE_EXTENT_REG;
		push(l, &r);
	}
	bd_extents_free(&x);
	return 0;
}

int
bd_layout_fd(int fd, const struct bd_record *r, struct bd_layout *l)
{
	if (bd_extents_sync(fd) < 0)
		return -1;
	return bd_layout_synced(fd, r, l);
}

int
bd_layout_synced(int fd, const struct bd_record *r, struct bd_layout *l)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	if (search(fd, r->subvol, r->ino, NULL, l) < 0) {
		if (errno != EPERM)
			return -1;
		l->n = 0;
		l->found = 1;
		l->inl = 0;
		l->gen = r->gen;
		l->mode = st.st_mode;
		l->nlink = (uint32_t)st.st_nlink;
		l->flags = 0;
		if (from_fiemap(fd, l) < 0)
			return -1;
	}
	/* the inode item is updated in the tree at a commit (delayed inode
	 * items); the extent items when the data is written out: the size
	 * is the file's own */
	clip(l, (uint64_t)st.st_size);
	return 0;
}

int
bd_layout_is(const struct bd_layout *l, const struct bd_record *r)
{
	/* the low 32 bits, as bd_open_record compares them: a record's GEN
	 * may be what FS_IOC_GETVERSION gives */
	return l->found && (uint32_t)l->gen == (uint32_t)r->gen && S_ISREG(l->mode) &&
	    l->nlink > 0 &&
	    l->size == r->size;
}

int
bd_layout_cmp(const struct bd_layout *a, const struct bd_layout *b)
{
	size_t i;

	if (a->inl != b->inl)
		return a->inl < b->inl ? -1 : 1;
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	for (i = 0; i < a->n; i++) {
		const struct bd_ref *p = &a->r[i], *q = &b->r[i];

#define CMP(f) if (p->f != q->f) return p->f < q->f ? -1 : 1
		CMP(bytenr);
		CMP(offset);
		CMP(fileoff);
		CMP(len);
		CMP(disk_len);
		CMP(compression);
		CMP(type);
#undef CMP
	}
	return 0;
}

int
bd_layout_same(const struct bd_layout *a, const struct bd_layout *b)
{
	return !a->inl && !b->inl && a->n > 0 && bd_layout_cmp(a, b) == 0;
}

int
bd_layout_tag(const struct bd_layout *l, uint8_t tag[BD_LAYOUT_TAG_LEN])
{
	XXH64_hash_t h;
	uint64_t v[6];
	XXH3_state_t *xs;
	size_t i;

	if (l->inl || l->n == 0)
		return 0;
	if (!(xs = XXH3_createState()))
		bd_die("XXH3_createState: out of memory");
	XXH3_64bits_reset(xs);
	for (i = 0; i < l->n; i++) {
		const struct bd_ref *r = &l->r[i];

		v[0] = htole64(r->bytenr);
		v[1] = htole64(r->offset);
		v[2] = htole64(r->fileoff);
		v[3] = htole64(r->len);
		v[4] = htole64(r->disk_len);
		v[5] = htole64((uint64_t)r->compression << 8 | r->type);
		XXH3_64bits_update(xs, v, sizeof v);
	}
	h = XXH3_64bits_digest(xs);
	XXH3_freeState(xs);
	for (i = 0; i < BD_LAYOUT_TAG_LEN; i++)
		tag[i] = (uint8_t)(h >> (56 - 8 * i));
	return 1;
}

int
bd_layout_no_extent(const struct bd_layout *l)
{
	return l->n == 0;
}

int
bd_layout_all_inline(const struct bd_layout *l)
{
	return l->inl && bd_layout_no_extent(l);
}

uint64_t
bd_layout_data_bytes(const struct bd_layout *l, uint64_t len)
{
	uint64_t n = 0, end;
	size_t i;

	for (i = 0; i < l->n && l->r[i].fileoff < len; i++) {
		end = l->r[i].fileoff + l->r[i].len;
		n += (end < len ? end : len) - l->r[i].fileoff;
	}
	return n;
}

void
bd_layout_free(struct bd_layout *l)
{
	free(l->r);
	memset(l, 0, sizeof *l);
}

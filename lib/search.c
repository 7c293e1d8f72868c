/* search.c: reading btrfs trees with BTRFS_IOC_TREE_SEARCH_V2, for the
 * stages that need the metadata itself (findnew's inodes, csum.c's data
 * checksums). Needs CAP_SYS_ADMIN. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/btrfs.h>

#include "bedup.h"

void
bd_search_init(struct bd_search *s, size_t cap)
{
	memset(s, 0, sizeof *s);
	s->a = bd_emalloc(sizeof *s->a + cap);
	s->cap = cap;
	s->own = 1;
}

void
bd_search_init_buf(struct bd_search *s, void *buf, size_t bufsz)
{
	memset(s, 0, sizeof *s);
	s->a = buf;
	s->cap = bufsz - sizeof *s->a;
}

void
bd_search_free(struct bd_search *s)
{
	if (s->own)
		free(s->a);
	memset(s, 0, sizeof *s);
}

void
bd_search_set(struct bd_search *s, uint64_t tree, struct bd_key min, struct bd_key max,
    uint64_t mintrans)
{
	struct btrfs_ioctl_search_key *k = &s->a->key;

	memset(k, 0, sizeof *k);
	k->tree_id = tree;
	k->max_objectid = max.obj;
	k->max_type = max.type;
	k->max_offset = max.off;
	k->min_transid = mintrans;
	k->max_transid = UINT64_MAX;
	bd_search_from(s, min);
}

void
bd_search_from(struct bd_search *s, struct bd_key k)
{
	s->a->key.min_objectid = k.obj;
	s->a->key.min_type = k.type;
	s->a->key.min_offset = k.off;
}

int
bd_search_after(struct bd_search *s, const struct bd_search_item *it)
{
	struct bd_key k = { it->objectid, it->type, it->offset };

	/* (objectid, type, offset) counts up as one number */
	if (k.off < UINT64_MAX) {
		k.off++;
	} else if (k.type < UINT8_MAX) {
		k.type++;
		k.off = 0;
	} else if (k.obj < UINT64_MAX) {
		k.obj++;
		k.type = 0;
		k.off = 0;
	} else {
		return -1;
	}
	bd_search_from(s, k);
	return 0;
}

int
bd_search_run(int fd, struct bd_search *s, uint32_t nr)
{
	s->left = 0;
	s->off = 0;
	for (;;) {
		s->a->buf_size = s->cap;
		s->a->key.nr_items = nr;
		if (ioctl(fd, BTRFS_IOC_TREE_SEARCH_V2, s->a) == 0)
			break;
		/* the first item does not fit: the kernel says how much would */
		if (!s->own || errno != EOVERFLOW || s->a->buf_size <= s->cap)
			return -1;
		s->cap = s->a->buf_size;
		s->a = bd_erealloc(s->a, sizeof *s->a + s->cap);
	}
	s->left = s->a->key.nr_items;
	return (int)s->left;
}

int
bd_search_next(struct bd_search *s, struct bd_search_item *it)
{
	struct btrfs_ioctl_search_header h;

	if (!s->left || s->off + sizeof h > s->cap)
		return 0;
	memcpy(&h, s->a->buf + s->off, sizeof h);
	if (h.len > s->cap - s->off - sizeof h)
		return 0;
	it->objectid = h.objectid;
	it->offset = h.offset;
	it->transid = h.transid;
	it->type = h.type;
	it->len = h.len;
	it->data = (const unsigned char *)s->a->buf + s->off + sizeof h;
	s->off += sizeof h + h.len;
	s->left--;
	return 1;
}

int
bd_search_exhausted(const struct bd_search *s, uint32_t nr)
{
	/* the kernel stops at NR items, at the end of the range, or where
	 * the next item does not fit; no item is larger than a leaf (at
	 * most 64 KiB) */
	return s->a->key.nr_items < nr && s->cap - s->off >= 65536 +
	    sizeof(struct btrfs_ioctl_search_header);
}

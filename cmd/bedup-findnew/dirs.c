/* dirs.c: the names of inodes, and the paths of directories, found in the
 * subvolume's tree and cached per directory: a tree holds a file's name
 * and its directory's inode, not its path. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bedup-findnew.h"

int
parse_name(const struct bd_search_item *it, uint64_t *parent, const char **name, size_t *len)
{
	struct btrfs_inode_ref ref;
	struct btrfs_inode_extref ext;

	if (it->type == BTRFS_INODE_REF_KEY) {
		if (it->len < sizeof ref)
			return -1;
		memcpy(&ref, it->data, sizeof ref);
		*parent = it->offset;
		*len = le16toh(ref.name_len);
		*name = (const char *)it->data + sizeof ref;
		return *len && *len <= it->len - sizeof ref ? 0 : -1;
	}
	if (it->len < sizeof ext)
		return -1;
	memcpy(&ext, it->data, sizeof ext);
	*parent = le64toh(ext.parent_objectid);
	*len = le16toh(ext.name_len);
	*name = (const char *)it->data + sizeof ext;
	return *len && *len <= it->len - sizeof ext ? 0 : -1;
}

int
lookup_name(struct walk *w, uint64_t ino, uint64_t *parent, const char **name, size_t *len)
{
	struct bd_search_item it;
	int n;

	bd_search_set(&w->small, w->t->subvol, (struct bd_key){ ino, BTRFS_INODE_REF_KEY, 0 },
	    (struct bd_key){ ino, BTRFS_INODE_EXTREF_KEY, UINT64_MAX }, 0);
	n = bd_search_run(w->t->fd, &w->small, 1);
	if (n < 0)
		return -1;
	if (n == 0 || !bd_search_next(&w->small, &it)) {
		errno = ENOENT;
		return -1;
	}
	if (parse_name(&it, parent, name, len) < 0) {
		errno = EUCLEAN;
		return -1;
	}
	return 0;
}

static char **
cache_slot(struct dircache *c, uint64_t ino)
{
	size_t i = (size_t)(ino * 0x9e3779b97f4a7c15u) & (c->cap - 1);

	while (c->s[i].ino && c->s[i].ino != ino)
		i = (i + 1) & (c->cap - 1);
	c->s[i].ino = ino;
	return &c->s[i].path;
}

static const char *
cache_get(struct dircache *c, uint64_t ino)
{
	size_t i = (size_t)(ino * 0x9e3779b97f4a7c15u) & (c->cap - 1);

	if (!c->cap)
		return NULL;
	for (; c->s[i].ino; i = (i + 1) & (c->cap - 1))
		if (c->s[i].ino == ino)
			return c->s[i].path;
	return NULL;
}

/* Stores PATH (taken over) for directory INO. */
static void
cache_put(struct dircache *c, uint64_t ino, char *path)
{
	struct dirslot *old = c->s;
	size_t i, oldcap = c->cap;

	if (2 * (c->n + 1) > c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->s = bd_ecalloc(c->cap, sizeof *c->s);
		for (i = 0; i < oldcap; i++)
			if (old[i].ino)
				*cache_slot(c, old[i].ino) = old[i].path;
		free(old);
	}
	*cache_slot(c, ino) = path;
	c->n++;
}

void
cache_free(struct dircache *c)
{
	size_t i;

	for (i = 0; i < c->cap; i++)
		free(c->s[i].path);
	free(c->s);
	memset(c, 0, sizeof *c);
}

/* Walks the INODE_REFs up to the top, so any length works (INO_LOOKUP
 * stops near 4 KiB). */
const char *
dir_path(struct walk *w, uint64_t dir)
{
	struct step {
		uint64_t ino;
		char *name;
	} *chain = NULL;
	size_t n = 0, cap = 0, i, len, blen;
	uint64_t cur = dir, parent;
	const char *base, *name;
	char *p;
	int e;

	/* memory stays flat on any tree: a full cache starts again (the
	 * walk goes by inode, so a directory's files mostly come together
	 * and a fresh cache fills with what is near) */
	if (w->dirs.n >= DIRCACHE_MAX)
		cache_free(&w->dirs);
	for (;;) {
		if (cur == TOP_DIR) {
			base = "";
			break;
		}
		if ((base = cache_get(&w->dirs, cur)))
			break;
		for (i = 0; i < n; i++)
			if (chain[i].ino == cur) {
				errno = ELOOP;
				goto fail;
			}
		if (lookup_name(w, cur, &parent, &name, &len) < 0)
			goto fail;
		if (n == cap)
			chain = bd_erealloc(chain, (cap = cap ? 2 * cap : 16) * sizeof *chain);
		chain[n].ino = cur;
		chain[n].name = bd_emalloc(len + 1);
		memcpy(chain[n].name, name, len);
		chain[n].name[len] = '\0';
		n++;
		cur = parent;
	}
	/* build the paths top down, caching each directory on the way */
	while (n-- > 0) {
		blen = strlen(base);
		len = strlen(chain[n].name);
		p = bd_emalloc(blen + 1 + len + 1);
		memcpy(p, base, blen);
		if (blen)
			p[blen++] = '/';
		memcpy(p + blen, chain[n].name, len + 1);
		free(chain[n].name);
		cache_put(&w->dirs, chain[n].ino, p);
		base = p;
	}
	free(chain);
	return base;
fail:
	e = errno;
	while (n-- > 0)
		free(chain[n].name);
	free(chain);
	errno = e;
	return NULL;
}

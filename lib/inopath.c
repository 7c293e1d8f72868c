/* inopath.c: the path of an inode, from the filesystem mounted at its top
 * level: the subvolume's root found once (libbtrfsutil) and kept open,
 * then BTRFS_IOC_INO_PATHS on it. Nothing of the file is opened. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <btrfsutil.h>

#include "bedup.h"

#define NCACHE 64                 /* subvolume roots kept open */

struct subvol {
	uint64_t id;
	int fd;                       /* -1: a free slot */
	char *path;                   /* relative to the top level ("" for 5) */
	uint64_t used;                /* when last used, for LRU */
};

struct bd_inopaths {
	char *mount;
	int fd;                       /* the top level */
	struct subvol s[NCACHE];
	uint64_t clock;
};

/* whether FD is the root directory of subvolume ID (errno EINVAL if
 * not): what a path from the top level leads to may have been renamed */
static int
is_root(int fd, uint64_t id)
{
	struct stat st;
	uint64_t sv;

	if (fstat(fd, &st) < 0 || bd_subvol_fd(fd, &sv) < 0)
		return 0;
	if (st.st_ino != 256 || sv != id) {   /* BTRFS_FIRST_FREE_OBJECTID */
		errno = EINVAL;
		return 0;
	}
	return 1;
}

struct bd_inopaths *
bd_inopaths_open(const char *mount)
{
	struct bd_inopaths *p = bd_ecalloc(1, sizeof *p);
	size_t i;

	p->fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->fd < 0 || !is_root(p->fd, 5)) {
		if (p->fd >= 0)
			bd_close_keep(p->fd);
		free(p);
		return NULL;
	}
	p->mount = bd_estrdup(mount);
	for (i = 0; i < NCACHE; i++)
		p->s[i].fd = -1;
	return p;
}

static void
forget(struct subvol *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	s->fd = -1;
	s->path = NULL;
}

void
bd_inopaths_close(struct bd_inopaths *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < NCACHE; i++)
		forget(&p->s[i]);
	close(p->fd);
	free(p->mount);
	free(p);
}

/* the slot of SUBVOL, its root opened if it was not: NULL/errno */
static struct subvol *
subvol(struct bd_inopaths *p, uint64_t id)
{
	struct subvol *s, *lru = &p->s[0];
	char *path = NULL;
	size_t i;
	int fd;

	for (i = 0; i < NCACHE; i++) {
		s = &p->s[i];
		if (s->fd >= 0 && s->id == id) {
			s->used = ++p->clock;
			return s;
		}
		if (s->fd < 0 || (lru->fd >= 0 && s->used < lru->used))
			lru = s;
	}
	errno = 0;
	if (id == 5)
		path = bd_estrdup("");
	else if (btrfs_util_subvolume_path_fd(p->fd, id, &path) != BTRFS_UTIL_OK) {
		if (!errno)
			errno = ENOENT;
		return NULL;
	}
	fd = *path ? openat(p->fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
	    : dup(p->fd);
	if (fd < 0 || !is_root(fd, id)) {
		/* the subvolume exists but is not where its path says */
		if (fd >= 0 || errno == ENOENT)
			errno = ENOTDIR;
		if (fd >= 0)
			bd_close_keep(fd);
		free(path);
		return NULL;
	}
	forget(lru);
	lru->id = id;
	lru->fd = fd;
	lru->path = path;
	lru->used = ++p->clock;
	return lru;
}

char *
bd_inopath(struct bd_inopaths *p, uint64_t subvol_id, uint64_t ino)
{
	struct subvol *s = subvol(p, subvol_id);
	char rel[PATH_MAX], *out;
	size_t nm, ns, nr;

	if (!s || bd_ino_paths_fd(s->fd, ino, rel, sizeof rel) < 0)
		return NULL;
	nm = strlen(p->mount);
	while (nm > 1 && p->mount[nm - 1] == '/')
		nm--;
	ns = strlen(s->path);
	nr = strlen(rel);
	out = bd_emalloc(nm + ns + nr + 3);
	memcpy(out, p->mount, nm);
	if (nm != 1 || p->mount[0] != '/')
		out[nm++] = '/';
	memcpy(out + nm, s->path, ns);
	nm += ns;
	if (ns)
		out[nm++] = '/';
	memcpy(out + nm, rel, nr + 1);
	return out;
}

/* manifest: one line per entry under DIR, to prove a dedup run changed no
 * file's content or metadata, and to measure what is left to dedupe.
 *
 *   manifest DIR
 *
 * Fields (TAB): PATH TYPE INO NLINK MODE UID GID SIZE MTIME DIGEST LAYOUT
 * ALLOC. PATH is relative to DIR, escaped as in records. DIGEST is the
 * XXH3-128 of a regular file's bytes or of a symlink's target. Fields 1-10
 * must not change in a dedup run; LAYOUT (a digest of the FIEMAP
 * physical extents, "-" when the file has none) and ALLOC (bytes of data
 * extents, 0 when inline) are what dedup changes. Symlinks are never
 * followed. Unsorted: pipe through "LC_ALL=C sort". */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fiemap.h>
#include <xxhash.h>

#include "bedup.h"

static size_t rootlen;

static void
digest_fd(int fd, const char *path, char out[33])
{
	static char buf[1 << 20];
	XXH3_state_t *st = XXH3_createState();
	XXH128_hash_t h;
	ssize_t n;

	XXH3_128bits_reset(st);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		XXH3_128bits_update(st, buf, n);
	if (n < 0)
		bd_pfail(path, "read:");
	h = XXH3_128bits_digest(st);
	XXH3_freeState(st);
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64,
	    (unsigned long long)h.low64);
}

static void
layout_fd(int fd, const char *path, char out[17], unsigned long long *alloc)
{
	struct bd_extents x = { 0 };
	XXH3_state_t *st;
	XXH64_hash_t h;
	size_t i;

	*alloc = 0;
	strcpy(out, "-");
	if (bd_extents_get(fd, &x) < 0) {
		bd_pfail(path, "FIEMAP:");
		return;
	}
	st = XXH3_createState();
	if (!st)
		bd_die("XXH3_createState: out of memory");
	XXH3_64bits_reset(st);
	for (i = 0; i < x.n; i++) {
		/* only where the bytes are matters, not how FIEMAP flags them;
		 * field by field: the struct's padding is not initialised */
		uint64_t v[3] = { x.e[i].logical, x.e[i].physical, x.e[i].length };

		if (!(x.e[i].flags & FIEMAP_EXTENT_DATA_INLINE))
			*alloc += x.e[i].length;
		XXH3_64bits_update(st, v, sizeof v);
	}
	if (x.n) {
		h = XXH3_64bits_digest(st);
		snprintf(out, 17, "%016llx", (unsigned long long)h);
	}
	XXH3_freeState(st);
	bd_extents_free(&x);
}

static int
visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char digest[33] = "-", layout[17] = "-", target[4096], mtimebuf[48];
	const char *mtime = mtimebuf;
	unsigned long long alloc = 0;
	const char *rel = path + rootlen;
	ssize_t n;
	int fd;

	(void)ftw;
	if (*rel == '/')
		rel++;
	if (type == FTW_NS || type == FTW_DNR) {
		bd_pfail(path, "cannot stat or read");
		return 0;
	}
	if (S_ISREG(st->st_mode)) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC);
		if (fd < 0) {
			bd_pfail(path, "open:");
			return 0;
		}
		digest_fd(fd, path, digest);
		layout_fd(fd, path, layout, &alloc);
		close(fd);
	} else if (S_ISLNK(st->st_mode)) {
		if ((n = readlink(path, target, sizeof target)) < 0)
			bd_pfail(path, "readlink:");
		else {
			XXH128_hash_t h = XXH3_128bits(target, n);

			snprintf(digest, sizeof digest, "%016llx%016llx",
			    (unsigned long long)h.high64, (unsigned long long)h.low64);
		}
	}
	/* a nested subvolume shows in a snapshot as an empty directory
	 * with inode number 2 and times made up at each lookup */
	if (S_ISDIR(st->st_mode) && st->st_ino == 2)
		mtime = "-";
	else
		snprintf(mtimebuf, sizeof mtimebuf, "%lld.%09ld",
		    (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	if (bd_escape_write(stdout, *rel ? rel : ".", strlen(*rel ? rel : ".")) < 0)
		bd_die("stdout:");
	printf("\t%c\t%llu\t%llu\t%o\t%u\t%u\t%lld\t%s\t%s\t%s\t%llu\n",
	    S_ISREG(st->st_mode) ? 'f' : S_ISDIR(st->st_mode) ? 'd' : S_ISLNK(st->st_mode) ? 'l' : 'o',
	    (unsigned long long)st->st_ino, (unsigned long long)st->st_nlink, st->st_mode,
	    st->st_uid, st->st_gid, S_ISDIR(st->st_mode) ? 0LL : (long long)st->st_size,
	    mtime, digest, layout, alloc);
	return 0;
}

int
main(int argc, char **argv)
{
	bd_init(argv[0]);
	if (argc == 2 && strcmp(argv[1], "-h") == 0) {
		puts("usage: manifest DIR");
		return 0;
	}
	if (argc != 2)
		bd_usage("manifest DIR");
	rootlen = strlen(argv[1]);
	if (nftw(argv[1], visit, 64, FTW_PHYS) < 0)
		bd_die("%s:", argv[1]);
	return bd_finish();
}

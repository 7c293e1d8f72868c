/* read.c: one member of a group opened (still the inode and size its
 * record names), sampled, or read in full; the page cache left as the
 * later stages want it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "hash.h"

static void
drop(struct member *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
drop(struct member *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->note, sizeof m->note, fmt, ap);
	va_end(ap);
	m->state = DROPPED;
}

/* M dropped for its size, ST's, which is not its record's */
static void
size_changed(struct member *m, const struct stat *st)
{
	m->resized = 1;
	drop(m, "changed: size is %jd, record says %" PRIu64, (intmax_t)st->st_size, m->r.size);
}

/* opens M, checking it is still the inode and size its record names
 * (bd_member_check); the reason it is not goes into M */
int
open_member(struct member *m, struct stat *st)
{
	enum bd_open_result res;
	int fd;

	switch ((res = bd_member_check(&m->r, &fd, st))) {
	case BD_OPEN_OK:
		return fd;
	case BD_OPEN_GONE:
		m->state = GONE;
		break;
	case BD_OPEN_SIZE:
		size_changed(m, st);
		break;
	case BD_OPEN_OTHER:
		m->replaced = 1;
		drop(m, "%s", bd_open_strerror(res));
		break;
	case BD_OPEN_ERROR:
		drop(m, "%s", bd_open_strerror(res));
		break;
	}
	return -1;
}

/* M's file: the one its first open checked, kept open when the group is
 * small (an open by handle with its checks is several system calls,
 * and a member is read up to three times), or opened again; ST is its
 * stat now. Give it back with release(). */
static int
member_fd(struct member *m, struct stat *st)
{
	int fd;

	if (m->fd < 0) {
		if ((fd = open_member(m, st)) >= 0 && m->keep)
			m->fd = fd;
		return fd;
	}
	if (fstat(m->fd, st) < 0) {
		drop(m, "fstat: %s", strerror(errno));
		return -1;
	}
	if (bd_member_size(&m->r, st) != BD_OPEN_OK) {
		size_changed(m, st);
		return -1;
	}
	return m->fd;
}

/* M's kept fd, or a fresh identity-checked one; -1 if neither, M left
 * as it is (no note: for hints, not for reading). Give it back with
 * release(). */
int
peek_fd(struct member *m)
{
	struct stat st;
	int fd;

	if (m->fd >= 0)
		return m->fd;
	if (bd_open_record(&m->r, 0, &fd, &st) != BD_OPEN_OK)
		return -1;
	if (m->keep)
		m->fd = fd;              /* its read, if any, needs no open */
	return fd;
}

void
release(struct member *m, int fd)
{
	if (fd != m->fd)
		close(fd);
}

static int
same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void
digest_out(XXH3_state_t *xs, uint8_t out[16])
{
	XXH128_canonical_t c;

	/* canonical (big-endian) form: the hex xxhsum -H2 prints */
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(xs));
	memcpy(out, c.digest, 16);
}

/* the whole of M's data into DIGEST; 0, or -1 with M dropped */
static int
hash_member(struct member *m, char *buf, uint8_t digest[16], uint64_t *bytes)
{
	XXH3_state_t *xs;
	struct stat st, st2;
	uint64_t total = 0;
	ssize_t n;
	int fd, ret = -1;

	if ((fd = member_fd(m, &st)) < 0)
		return -1;
	xs = XXH3_createState();
	if (!xs)
		bd_die("XXH3_createState: out of memory");
	XXH3_128bits_reset(xs);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	/* a kept fd may have been read before */
	if (lseek(fd, 0, SEEK_SET) < 0) {
		drop(m, "lseek: %s", strerror(errno));
		goto out;
	}
	for (;;) {
		n = read(fd, buf, BUFSZ);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			drop(m, "read error: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		XXH3_128bits_update(xs, buf, (size_t)n);
		total += (uint64_t)n;
	}
	*bytes += total;
	/* a write while we read would make the digest describe no state of
	 * the file at all */
	if (total != m->r.size || fstat(fd, &st2) < 0 || !same_stat(&st, &st2)) {
		drop(m, "changed while being read");
		goto out;
	}
	digest_out(xs, digest);
	ret = 0;
out:
	/* leave the page cache to the user's own data; a file found
	 * identical to another keeps its pages until bedup-clone, whose
	 * FIDEDUPERANGE compares them again, has shared it; one that matched
	 * nothing is dropped in evict_unmatched */
	if (ret < 0)
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	XXH3_freeState(xs);
	release(m, fd);
	return ret;
}

/* a few blocks (start, middle, end) of M into SAMPLE */
int
sample_member(struct member *m, char *buf, uint8_t sample[16])
{
	off_t off[3] = { 0, (off_t)(m->r.size / 2) & ~(off_t)(BLOCK - 1), (off_t)m->r.size - BLOCK };
	XXH3_state_t *xs;
	struct stat st;
	ssize_t n;
	int fd, i, ret = 0;

	if ((fd = member_fd(m, &st)) < 0)
		return -1;
	/* no readahead: only these blocks are wanted */
	posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	xs = XXH3_createState();
	if (!xs)
		bd_die("XXH3_createState: out of memory");
	XXH3_128bits_reset(xs);
	for (i = 0; i < 3; i++) {
		do
			n = pread(fd, buf, BLOCK, off[i]);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			drop(m, "read error: %s", strerror(errno));
			ret = -1;
			break;
		}
		if (n != BLOCK) {
			drop(m, "changed while being read");
			ret = -1;
			break;
		}
		XXH3_128bits_update(xs, buf, BLOCK);
	}
	if (ret == 0)
		digest_out(xs, sample);
	XXH3_freeState(xs);
	release(m, fd);
	return ret;
}

/* Whether subvolumes are read-only, as the root tree said at their first
 * member (a tree search each time was most of a first run's searches);
 * the last word is bedup-clone's, which asks again at the dedupe. */
#define RO_CACHE 64
static struct {
	char fsid[BD_FSID_LEN + 1];
	uint64_t subvol;
	int ro;
} ro_cache[RO_CACHE];
static size_t ro_n;
static pthread_mutex_t ro_mu = PTHREAD_MUTEX_INITIALIZER;

static int
cached_ro(const struct bd_record *r, int *ro)
{
	size_t i;
	int hit = 0;

	pthread_mutex_lock(&ro_mu);
	for (i = 0; i < ro_n && !hit; i++)
		if (ro_cache[i].subvol == r->subvol && strcmp(ro_cache[i].fsid, r->fsid) == 0) {
			*ro = ro_cache[i].ro;
			hit = 1;
		}
	pthread_mutex_unlock(&ro_mu);
	return hit;
}

static void
cache_ro(const struct bd_record *r, int ro)
{
	pthread_mutex_lock(&ro_mu);
	if (ro_n < RO_CACHE) {
		memcpy(ro_cache[ro_n].fsid, r->fsid, sizeof ro_cache[ro_n].fsid);
		ro_cache[ro_n].subvol = r->subvol;
		ro_cache[ro_n++].ro = ro;
	}
	pthread_mutex_unlock(&ro_mu);
}

/* whether M lies in a read-only subvolume (a snapshot); no if unsure.
 * Asked of the subvolume by its id (no open), else through M's file. */
int
member_readonly(struct member *m)
{
	int fd, ro = 0;

	if (m->ro_known)
		return m->ro;
	if (!cached_ro(&m->r, &ro)) {
		if ((fd = bd_fs_fd(&m->r)) >= 0 && bd_subvol_readonly_id(fd, m->r.subvol, &ro) == 0) {
			cache_ro(&m->r, ro);
		} else {
			ro = 0;
			if ((fd = peek_fd(m)) < 0)
				return 0;
			if (bd_subvol_readonly_fd(fd, &ro) < 0)
				ro = 0;
			release(m, fd);
		}
	}
	m->ro_known = 1;
	return m->ro = ro;
}

/* what lib's source rule weighs of member I, as bedup-clone will weigh
 * it: the bytes the kernel marks shared come from FIEMAP, asked once per
 * unit (its members share one layout) */
void
member_source(struct member *mem, struct unit *units, size_t i, struct bd_source *s)
{
	struct unit *u = &units[mem[i].unit];
	struct bd_extents x = {0};
	size_t j;
	int fd;

	for (j = u->first; !u->src_known && j != SIZE_MAX; j = mem[j].next) {
		if (mem[j].state != ALIVE || (fd = peek_fd(&mem[j])) < 0)
			continue;
		if (bd_extents_get(fd, &x) == 0)
			u->shared = bd_extents_shared_bytes(&x);
		release(&mem[j], fd);
		u->src_known = 1;
	}
	u->src_known = 1;
	bd_extents_free(&x);
	s->inl = mem[i].lay.inl;
	s->ro = member_readonly(&mem[i]);
	s->shared = u->shared;
}

/* reads unit U in full through the first member that can be read; all
 * its members share the data, so any one will do. But the page cache is
 * per inode, and bedup-clone takes a member of a read-only subvolume as
 * the source when there is one: reading through that member leaves
 * FIDEDUPERANGE the source's pages, not a copy of the same data cached
 * under another inode, so that the source is not read from disk again. */
void
hash_unit(struct member *mem, struct unit *u, char *buf)
{
	size_t i;
	int pass;

	if (u->via != SIZE_MAX && mem[u->via].state == ALIVE &&
	    hash_member(&mem[u->via], buf, u->digest, &u->bytes) == 0) {
		u->known = 1;
		u->read_by = u->via;
		return;
	}
	for (pass = mem[u->first].next == SIZE_MAX; pass < 2; pass++) {
		for (i = u->first; i != SIZE_MAX; i = mem[i].next) {
			if (mem[i].state != ALIVE || (pass == 0 && !member_readonly(&mem[i])))
				continue;
			if (hash_member(&mem[i], buf, u->digest, &u->bytes) == 0) {
				u->known = 1;
				u->read_by = i;
				return;
			}
		}
	}
}

/* drops from the page cache the files read in full that matched nothing:
 * no later stage wants their pages */
void
evict_unmatched(struct member *mem, struct unit *units, const size_t *jobs, size_t nj)
{
	struct unit *u;
	size_t i;
	int fd;

	for (i = 0; i < nj; i++) {
		u = &units[jobs[i]];
		if (u->read_by == SIZE_MAX || u->cls != SIZE_MAX)
			continue;
		if ((fd = peek_fd(&mem[u->read_by])) < 0)
			continue;
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		release(&mem[u->read_by], fd);
	}
}

/* bedup-hash: split candidate groups into groups of identical files,
 * cheap tests first: files already sharing one layout are one member,
 * a few sampled blocks split groups, only survivors are read in full,
 * and digests the catalog still vouches for are not read again. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/ioprio.h>
#include <xxhash.h>

#include "bedup.h"

#define USAGE "bedup-hash [-C CATALOG [-u]] [-j N] [-p] [-v] [FILE...]"
#define BLOCK 4096
#define SAMPLE_MIN (4 * BLOCK)   /* smaller files are simply read in full */
#define BUFSZ (128u << 10)      /* per worker; readahead does the large reads */
#define MAXJOBS 64
#define HELP_MIN 8               /* steps of a loop worth sharing out */
#define INFLIGHT 4096            /* records in the window; memory, not speed */
#define KEEP_CAP 64              /* a slot keeps room for this many records */
#define KEEP_FDS 64              /* groups up to this size keep their fds */

enum { ALIVE, GONE, DROPPED };

struct member {
	struct bd_record r;
	int state;
	int replaced;            /* the path names another inode now */
	char note[128];          /* why it was DROPPED */
	struct stat st;          /* at the first open */
	int fd;                  /* kept from the first open, or -1 */
	struct bd_extents x;
	size_t unit;
	size_t next;             /* next member of its unit, or SIZE_MAX */
	int ro;                  /* in a read-only subvolume (when planned) */
};

struct unit {
	size_t first, last;      /* its members, chained through next */
	int failed;              /* the sample could not be read */
	int known;               /* DIGEST holds the whole-file digest */
	int sampled;             /* SAMPLE holds its sample (read or cached) */
	int csummed;             /* CSUM holds the digest of its checksums */
	uint8_t digest[16];
	uint8_t sample[16];
	uint8_t csum[16];
	uint64_t bytes;          /* read by a worker */
	size_t read_by;          /* the member read in full, or SIZE_MAX */
	size_t via;              /* the member to read it through, or SIZE_MAX */
	size_t cls;              /* class of equal digests */
};

/* what the catalog (or the samples file) knows, or what this run
 * learnt, of one inode */
struct entry {
	struct bd_inode key;     /* first: the table sorts by it */
	uint64_t gen, size;
	uint8_t digest[16];      /* or its sample, in a table of samples */
	int drop;                /* learnt: gone or replaced */
	int seen;                /* a sample: the catalog has the inode */
};

/* what a run learns is used only at its end (the catalog and samples
 * updated): it waits in SPOOL, a temp file, so that memory holds the
 * records in flight, not every file hashed */
struct table {
	struct entry *e;
	size_t n, cap;
	FILE *spool;
	size_t nspool;
};

/* one group on its way through: read by the main thread, worked on by
 * one worker, finished (written out) by the main thread in input order */
struct job {
	struct bd_group g;       /* bd_group_next reads straight into it */
	struct member *mem;
	struct unit *units;
	size_t *jobs, *idx;      /* units to read; scratch */
	size_t n, nu, nj;
	struct bd_csum_fs csum;  /* the filesystem's checksums */
	int keep_fds;            /* members keep their first open's fd */
	int done;
};

/* a loop of a worker over a big group whose steps are independent
 * (members opened, units sampled or read): idle workers take steps too */
struct step {
	void (*fn)(struct job *, size_t, char *);
	struct job *jb;
	size_t next, n, done;
	struct step *later;      /* the loop opened after it */
};

/* a window of jobs: head is the oldest unfinished, next the next one a
 * worker takes, tail the next one the main thread fills */
struct ring {
	pthread_mutex_t mu;
	pthread_cond_t work, done, helped;
	struct job *slot;
	size_t nslots, nworkers;
	uint64_t head, next, tail;
	size_t inflight;         /* records between head and tail (main thread) */
	struct step *steps;
	const struct table *cat;
	const struct table *smp; /* samples file, with a catalog */
	int keep_fds;            /* enough fds for the records in flight */
	int quit;
};

struct progress {
	int on, tty;
	uint64_t groups, files, bytes;
	struct timespec start, last;
};

/* ---- tables of inodes ------------------------------------------------ */

static struct entry *
table_new(struct table *t)
{
	struct entry *e;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap / 2 * 3 : 256;
		t->e = bd_erealloc(t->e, t->cap * sizeof *t->e);
	}
	e = &t->e[t->n++];
	memset(e, 0, sizeof *e);
	return e;
}

/* E, cleared, for R's inode as it is */
static void
entry_init(struct entry *e, const struct bd_record *r)
{
	memset(e, 0, sizeof *e);
	bd_inode_key(&e->key, r);
	e->gen = r->gen;
	e->size = r->size;
}

static struct entry *
table_add(struct table *t, const struct bd_record *r)
{
	struct entry *e = table_new(t);

	entry_init(e, r);
	return e;
}

/* R's inode learnt: its DIGEST (or sample) when not NULL, or DROP it */
static void
learn(struct table *t, const struct bd_record *r, const uint8_t *digest, int drop)
{
	struct entry e;

	entry_init(&e, r);
	if (digest)
		memcpy(e.digest, digest, 16);
	e.drop = drop;
	if (!t->spool)
		t->spool = bd_tempfile();
	if (fwrite(&e, sizeof e, 1, t->spool) != 1)
		bd_die("temp file: write error:");
	t->nspool++;
}

/* what was learnt into T, read back from its spool */
static void
unspool(struct table *t)
{
	if (!t->spool)
		return;
	if (fflush(t->spool) == EOF || fseeko(t->spool, 0, SEEK_SET) < 0)
		bd_die("temp file:");
	t->cap = t->n + t->nspool;
	t->e = bd_erealloc(t->e, t->cap * sizeof *t->e);
	if (fread(t->e + t->n, sizeof *t->e, t->nspool, t->spool) != t->nspool)
		bd_die("temp file: short read");
	t->n += t->nspool;
	t->nspool = 0;
	fclose(t->spool);
	t->spool = NULL;
}

static struct entry *
table_find(const struct table *t, const struct bd_record *r)
{
	struct bd_inode key;

	bd_inode_key(&key, r);
	return t->n ? bsearch(&key, t->e, t->n, sizeof *t->e, bd_inode_cmp) : NULL;
}

/* T's entry for R's inode as it is now (same generation and size) */
static struct entry *
table_valid(const struct table *t, const struct bd_record *r)
{
	struct entry *e = table_find(t, r);

	return e && e->gen == r->gen && e->size == r->size ? e : NULL;
}

/* digests the catalog holds; read once the first input line is in, so
 * that in a pipeline bedup-group has committed it (the protocol) */
static void
load_catalog(struct table *t, const char *path)
{
	struct bd_input in;
	struct bd_record r;
	char *files[1] = { (char *)path };

	if (access(path, F_OK) < 0) {
		if (errno != ENOENT)
			bd_die("%s:", path);
		return;
	}
	bd_input_init(&in, 1, files);
	while (bd_input_next(&in, &r)) {
		struct entry *e;

		if (strcmp(r.hash, "-") == 0)
			continue;
		e = table_add(t, &r);
		bd_hash_pack(r.hash, e->digest);
	}
	bd_input_close(&in);
	if (t->n)
		qsort(t->e, t->n, sizeof *t->e, bd_inode_cmp);
}

/* the catalog again, with the digests learnt filled in and the inodes
 * found gone or replaced left out; the samples in KEEP (when not NULL)
 * whose inode it keeps are marked seen. Returns 0, or -1 when the
 * catalog could not be read (the marks are incomplete). */
static int
update_catalog(struct table *learnt, const char *path, struct table *keep)
{
	struct bd_record r;
	struct bd_atomic at;
	char *line = NULL, why[128];
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	uint8_t d[16];
	int write = learnt->n > 0, ret = 0;

	if (!write && !keep)
		return 0;
	if (write)
		qsort(learnt->e, learnt->n, sizeof *learnt->e, bd_inode_cmp);
	if (!(f = fopen(path, "re"))) {
		if (errno != ENOENT)
			bd_fail("%s:", path);
		return -1;
	}
	if (write && bd_atomic_open(&at, path) < 0) {
		bd_fail("%s:", path);
		write = 0;   /* the old catalog stays; the marks are still right */
	}
	/* not bd_input: its malformed lines were reported when it was
	 * loaded; they are left out here, as bedup-group -u does */
	while ((n = getline(&line, &cap, f)) > 0) {
		struct entry *e;

		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0 || bd_record_parse(line, (size_t)n, &r, why, sizeof why) < 0)
			continue;
		e = table_find(learnt, &r);
		if (e && e->gen == r.gen) {
			if (e->drop)
				continue;
			if (e->size == r.size) {
				memcpy(d, e->digest, 16);
				bd_hash_unpack(d, r.hash);
			}
		}
		if (keep && (e = table_valid(keep, &r)))
			e->seen = 1;
		if (write)
			bd_record_write(at.f, &r);   /* errors show at commit */
	}
	if (ferror(f)) {
		bd_fail("%s: read error", path);
		if (write)
			bd_atomic_abort(&at);
		ret = -1;
	} else if (write && bd_atomic_commit(&at) < 0) {
		bd_fail("%s:", path);
	}
	fclose(f);
	free(line);
	return ret;
}

/* the samples file's entries; returns how many lines were malformed
 * (reported, and left out when it is written again) */
static uint64_t
load_samples(struct table *t, const char *path)
{
	struct bd_samples in;
	struct bd_sample s;
	struct entry *e;
	int r;

	if ((r = bd_samples_open(&in, path)) < 0)
		bd_die("%s:", path);
	while (r > 0 && (r = bd_samples_next(&in, &s)) > 0) {
		e = table_new(t);
		e->key = s.key;
		e->gen = s.gen;
		e->size = s.size;
		memcpy(e->digest, s.sample, 16);
	}
	if (r < 0)
		bd_die("%s:", path);
	bd_samples_close(&in);
	if (t->n)
		qsort(t->e, t->n, sizeof *t->e, bd_inode_cmp);
	return in.bad;
}

/* merges into SMP, the samples loaded, those LSMP learnt (replacing the
 * old ones of their inodes), leaving out those of inodes LEARNT found
 * gone or replaced. Returns whether anything changed. */
static int
merge_samples(struct table *smp, struct table *lsmp, struct table *learnt)
{
	struct entry *e, *l;
	size_t i, k;
	int changed = lsmp->n > 0;

	if (lsmp->n)
		qsort(lsmp->e, lsmp->n, sizeof *lsmp->e, bd_inode_cmp);
	if (learnt->n)
		qsort(learnt->e, learnt->n, sizeof *learnt->e, bd_inode_cmp);
	for (i = k = 0; i < smp->n; i++) {
		e = &smp->e[i];
		l = learnt->n ? bsearch(&e->key, learnt->e, learnt->n, sizeof *l, bd_inode_cmp) : NULL;
		if ((l && l->drop && l->gen == e->gen) ||
		    (lsmp->n && bsearch(&e->key, lsmp->e, lsmp->n, sizeof *l, bd_inode_cmp)))
			changed = 1;
		else
			smp->e[k++] = *e;
	}
	smp->n = k;
	for (i = 0; i < lsmp->n; i++)
		*table_new(smp) = lsmp->e[i];
	if (smp->n)
		qsort(smp->e, smp->n, sizeof *smp->e, bd_inode_cmp);
	return changed;
}

/* writes the samples of SMP not dropped whose inode the catalog has */
static void
write_samples(struct table *smp, const char *path)
{
	struct bd_atomic at;
	struct bd_sample s;
	size_t i;

	if (bd_atomic_open(&at, path) < 0) {
		bd_fail("%s:", path);
		return;
	}
	for (i = 0; i < smp->n; i++) {
		if (!smp->e[i].seen)
			continue;
		s.key = smp->e[i].key;
		s.gen = smp->e[i].gen;
		s.size = smp->e[i].size;
		memcpy(s.sample, smp->e[i].digest, 16);
		bd_sample_write(at.f, &s);   /* errors show at commit */
	}
	if (bd_atomic_commit(&at) < 0)
		bd_fail("%s:", path);
}

/* ---- reading --------------------------------------------------------- */

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

/* whether ST still has the size M's record names; if not, M is dropped */
static int
size_ok(struct member *m, const struct stat *st)
{
	if ((uint64_t)st->st_size == m->r.size)
		return 1;
	drop(m, "changed: size is %jd, record says %" PRIu64, (intmax_t)st->st_size, m->r.size);
	return 0;
}

/* opens M, checking it is still the inode and size its record names */
static int
open_member(struct member *m, struct stat *st)
{
	enum bd_open_result res;
	int fd;

	res = bd_open_record(&m->r, 0, &fd, st);
	if (res == BD_OPEN_GONE) {
		m->state = GONE;
		return -1;
	}
	if (res != BD_OPEN_OK) {
		m->replaced = res == BD_OPEN_OTHER;
		drop(m, "%s", bd_open_strerror(res));
		return -1;
	}
	if (!size_ok(m, st)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* M's file: the one its first open checked, kept open when the group is
 * small (an open by handle with its checks is several system calls,
 * and a member is read up to three times), or opened again; ST is its
 * stat now. Give it back with release(). */
static int
member_fd(struct member *m, struct stat *st)
{
	if (m->fd < 0)
		return open_member(m, st);
	if (fstat(m->fd, st) < 0) {
		drop(m, "fstat: %s", strerror(errno));
		return -1;
	}
	return size_ok(m, st) ? m->fd : -1;
}

/* M's kept fd, or a fresh identity-checked one; -1 if neither, M left
 * as it is (no note: for hints, not for reading). Give it back with
 * release(). */
static int
peek_fd(struct member *m)
{
	struct stat st;
	int fd;

	if (m->fd >= 0)
		return m->fd;
	return bd_open_record(&m->r, 0, &fd, &st) == BD_OPEN_OK ? fd : -1;
}

static void
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
static int
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

/* whether M lies in a read-only subvolume (a snapshot); no if unsure */
static int
member_readonly(struct member *m)
{
	int fd, ro = 0;

	if ((fd = peek_fd(m)) < 0)
		return 0;
	if (bd_subvol_readonly_fd(fd, &ro) < 0)
		ro = 0;
	release(m, fd);
	return ro;
}

/* reads unit U in full through the first member that can be read; all
 * its members share the data, so any one will do. But the page cache is
 * per inode, and bedup-clone takes a member of a read-only subvolume as
 * the source when there is one: reading through that member leaves
 * FIDEDUPERANGE the source's pages, not a copy of the same data cached
 * under another inode, so that the source is not read from disk again. */
static void
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
static void
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

/* ---- progress -------------------------------------------------------- */

static double
since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void
progress(struct progress *pr, int final)
{
	struct timespec now;
	double t;

	if (!pr->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!final && since(&pr->last, &now) < (pr->tty ? 0.2 : 1.0))
		return;
	pr->last = now;
	t = since(&pr->start, &now);
	fprintf(stderr, "%s%s: %" PRIu64 " groups, %" PRIu64 " files read, %.1f MiB hashed, %.1f MiB/s%s",
	    pr->tty ? "\r" : "", bd_prog, pr->groups, pr->files, (double)pr->bytes / 1048576,
	    t > 0 ? (double)pr->bytes / 1048576 / t : 0.0,
	    pr->tty && !final ? "\033[K" : "\n");
}

/* ---- loops shared out ---------------------------------------------- */

/* the oldest loop not yet fully taken, or NULL */
static struct step *
loop_open(struct ring *q)
{
	struct step *s;

	for (s = q->steps; s && s->next == s->n; s = s->later)
		;
	return s;
}

/* FN(JB, i) for i below N; with other workers about and a loop long
 * enough, they take steps too: a big group of small files is otherwise
 * one cold open after another */
static void
each(struct ring *q, struct job *jb, size_t n, void (*fn)(struct job *, size_t, char *), char *buf)
{
	struct step s = { fn, jb, 0, n, 0, NULL }, **p;
	size_t i;

	if (q->nworkers < 2 || n < HELP_MIN) {
		for (i = 0; i < n; i++)
			fn(jb, i, buf);
		return;
	}
	pthread_mutex_lock(&q->mu);
	for (p = &q->steps; *p; p = &(*p)->later)
		;
	*p = &s;
	pthread_cond_broadcast(&q->work);
	while (s.next < s.n) {
		i = s.next++;
		pthread_mutex_unlock(&q->mu);
		fn(jb, i, buf);
		pthread_mutex_lock(&q->mu);
		s.done++;
	}
	while (s.done < s.n)
		pthread_cond_wait(&q->helped, &q->mu);
	for (p = &q->steps; *p != &s; p = &(*p)->later)
		;
	*p = s.later;
	pthread_mutex_unlock(&q->mu);
}

/* ---- one group ------------------------------------------------------- */

static void
note(struct table *learnt, struct member *m)
{
	if (m->state == DROPPED)
		bd_pfail(m->r.path, "%s", m->note);
	/* gone or replaced: its catalog record goes (changed size: group
	 * replaces it once findnew reports it) */
	if (learnt && (m->state == GONE || m->replaced))
		learn(learnt, &m->r, NULL, 1);
}

/* orders of indexes, for qsort_r: sorting keeps large groups n log n */
static int
by_inode(const void *pa, const void *pb, void *arg)
{
	const struct bd_record *r = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;

	if (r[a].subvol != r[b].subvol)
		return r[a].subvol < r[b].subvol ? -1 : 1;
	if (r[a].ino != r[b].ino)
		return r[a].ino < r[b].ino ? -1 : 1;
	return (a > b) - (a < b);
}

static int
by_layout(const void *pa, const void *pb, void *arg)
{
	const struct member *m = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb, i;
	const struct bd_extents *x = &m[a].x, *y = &m[b].x;

	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	for (i = 0; i < x->n; i++) {
		const struct bd_extent *e = &x->e[i], *f = &y->e[i];

		if (e->physical != f->physical)
			return e->physical < f->physical ? -1 : 1;
		if (e->logical != f->logical)
			return e->logical < f->logical ? -1 : 1;
		if (e->length != f->length)
			return e->length < f->length ? -1 : 1;
	}
	return (a > b) - (a < b);
}

/* orders units by 16 bytes of theirs: sample, checksum digest or digest */
struct bytes_arg {
	const struct unit *u;
	size_t off;              /* offsetof(struct unit, ...) */
};

static const uint8_t *
unit_bytes(const struct bytes_arg *b, size_t k)
{
	return (const uint8_t *)&b->u[k] + b->off;
}

static int
by_bytes(const void *pa, const void *pb, void *arg)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int c = memcmp(unit_bytes(arg, a), unit_bytes(arg, b), 16);

	return c ? c : (a > b) - (a < b);
}

/* Sorts the N units of IDX by their 16 bytes at OFF and keeps of the NJ
 * units JOBS those whose bytes another unit of IDX has; NU bounds the
 * unit numbers. Returns how many are kept. */
static size_t
keep_matched(const struct unit *units, size_t nu, size_t *idx, size_t n, size_t off,
    size_t *jobs, size_t nj)
{
	struct bytes_arg b = { units, off };
	char *dup = bd_ecalloc(nu, 1);
	size_t i, k;

	qsort_r(idx, n, sizeof *idx, by_bytes, &b);
	for (i = 0; i + 1 < n; i++)
		if (memcmp(unit_bytes(&b, idx[i]), unit_bytes(&b, idx[i + 1]), 16) == 0)
			dup[idx[i]] = dup[idx[i + 1]] = 1;
	for (i = 0, k = 0; i < nj; i++)
		if (dup[jobs[i]])
			jobs[k++] = jobs[i];
	free(dup);
	return k;
}

struct class_arg {
	const struct member *mem;
	const struct unit *units;
};

static int
by_class(const void *pa, const void *pb, void *arg)
{
	const struct class_arg *c = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	size_t ca = c->units[c->mem[a].unit].cls, cb = c->units[c->mem[b].unit].cls;

	if (ca != cb)
		return ca < cb ? -1 : 1;
	return (a > b) - (a < b);
}

/* the members of G that are distinct inodes, in input order */
static size_t
collapse_links(struct bd_group *g, struct member *mem, size_t *idx)
{
	char *keep = bd_ecalloc(g->n, 1);
	size_t i, n = 0;

	for (i = 0; i < g->n; i++)
		idx[i] = i;
	qsort_r(idx, g->n, sizeof *idx, by_inode, g->r);
	for (i = 0; i < g->n; i++)
		keep[idx[i]] = i == 0 || !bd_record_same_inode(&g->r[idx[i - 1]], &g->r[idx[i]]);
	for (i = 0; i < g->n; i++) {
		mem[i].fd = -1;
		if (keep[i])
			mem[n++].r = g->r[i];
	}
	free(keep);
	return n;
}

/* members of one layout become one unit; units numbered in order of
 * their first member. Returns the number of units. */
static size_t
make_units(struct member *mem, size_t n, struct unit *units, size_t *idx)
{
	size_t *lead = bd_ecalloc(n, sizeof *lead);
	size_t na = 0, nu = 0, i, u;

	for (i = 0; i < n; i++)
		if (mem[i].state == ALIVE)
			idx[na++] = i;
	qsort_r(idx, na, sizeof *idx, by_layout, mem);
	for (i = 0; i < na; i++)
		lead[idx[i]] = i > 0 && bd_extents_same(&mem[idx[i - 1]].x, &mem[idx[i]].x) ?
		    lead[idx[i - 1]] : idx[i];
	for (i = 0; i < n; i++) {
		if (mem[i].state != ALIVE)
			continue;
		mem[i].next = SIZE_MAX;
		if (lead[i] == i) {
			u = mem[i].unit = nu++;
			units[u].first = i;
			units[u].read_by = units[u].via = SIZE_MAX;
		} else {
			u = mem[i].unit = mem[lead[i]].unit;
			mem[units[u].last].next = i;
		}
		units[u].last = i;
	}
	free(lead);
	return nu;
}

static void
sample_step(struct job *jb, size_t i, char *buf)
{
	struct unit *u = &jb->units[jb->jobs[i]];

	if (sample_member(&jb->mem[u->first], buf, u->sample) < 0)
		u->failed = 1;               /* its first member is dropped */
}

/* keeps the jobs whose sample matches another job's sample */
static size_t
split_by_sample(struct ring *q, struct job *jb, size_t nj, char *buf)
{
	struct unit *units = jb->units;
	size_t *jobs = jb->jobs;
	size_t i, k = 0;

	each(q, jb, nj, sample_step, buf);
	for (i = 0; i < nj; i++)
		if (!units[jobs[i]].failed)
			jobs[k++] = jobs[i];
	return keep_matched(units, jb->g.n, jobs, k, offsetof(struct unit, sample), jobs, k);
}

/* takes U's sample from the samples file when one of its members has a
 * valid entry there: all the members of a unit share their data */
static void
cached_sample(const struct member *mem, struct unit *u, const struct table *smp)
{
	const struct entry *e;
	size_t i;

	for (i = u->first; i != SIZE_MAX; i = mem[i].next) {
		if (mem[i].state == ALIVE && (e = table_valid(smp, &mem[i].r))) {
			memcpy(u->sample, e->digest, 16);
			u->sampled = 1;
			return;
		}
	}
}

/* reads U's sample through the first member that can be read */
static void
sample_unit(struct member *mem, struct unit *u, char *buf)
{
	size_t i;

	for (i = u->first; i != SIZE_MAX; i = mem[i].next) {
		if (mem[i].state == ALIVE && sample_member(&mem[i], buf, u->sample) == 0) {
			u->sampled = 1;
			return;
		}
	}
	u->failed = 1;
}

static void
sample_job_step(struct job *jb, size_t i, char *buf)
{
	struct unit *u = &jb->units[jb->jobs[i]];

	if (!u->sampled)
		sample_unit(jb->mem, u, buf);
}

static void
sample_idx_step(struct job *jb, size_t i, char *buf)
{
	sample_unit(jb->mem, &jb->units[jb->idx[i]], buf);
}

/* With a catalog: keeps the jobs (the unknown units) whose sample matches
 * another unit's, known or not. A known unit is never read in full, and
 * sampled only when a sampled unknown unit may match it; a unit whose
 * sample no other unit has cannot match any. Samples come from the
 * samples file when it has one, else are read. */
static size_t
match_samples(struct ring *q, struct job *jb, size_t nu, size_t nj, char *buf)
{
	struct member *mem = jb->mem;
	struct unit *units = jb->units;
	size_t *jobs = jb->jobs, *idx = jb->idx;
	size_t i, k, ns = 0, nknown = 0, nsampled = 0;

	for (k = 0; k < nu; k++) {
		cached_sample(mem, &units[k], q->smp);
		nknown += units[k].known;
	}
	if (nj + nknown < 2)
		nj = 0;                  /* nothing left to match it */
	each(q, jb, nj, sample_job_step, buf);
	for (i = 0; i < nj; i++)
		nsampled += units[jobs[i]].sampled;
	/* IDX is scratch here: make_units is done with it, write_classes
	 * fills it again */
	for (k = 0; k < nu && nsampled; k++)
		if (units[k].known && !units[k].sampled)
			idx[ns++] = k;
	each(q, jb, ns, sample_idx_step, buf);
	for (k = ns = 0; k < nu; k++)
		if (units[k].sampled)
			idx[ns++] = k;
	return keep_matched(units, nu, idx, ns, offsetof(struct unit, sample), jobs, nj);
}

/* every sample known, read or taken from another member, saves a read
 * next time: those the samples file lacks are learnt */
static void
learn_samples(struct table *lsmp, const struct table *smp, const struct member *mem, size_t n,
    const struct unit *units)
{
	const struct entry *e;
	const struct unit *u;
	size_t i;

	for (i = 0; i < n; i++) {
		if (mem[i].state != ALIVE)
			continue;
		u = &units[mem[i].unit];
		if (!u->sampled || u->failed)
			continue;
		e = table_valid(smp, &mem[i].r);
		if (!e || memcmp(e->digest, u->sample, 16))
			learn(lsmp, &mem[i].r, u->sample, 0);
	}
}

/* writes the classes of 2+ units of equal digest, each in order of its
 * first member, members in input order */
static void
write_classes(struct member *mem, size_t n, struct unit *units, size_t nu, size_t *idx)
{
	size_t nk = 0, i, j, cnt;
	char hex[BD_HASH_LEN + 1];

	for (i = 0; i < nu; i++) {
		units[i].cls = SIZE_MAX;
		if (units[i].known && !units[i].failed)
			idx[nk++] = i;
	}
	qsort_r(idx, nk, sizeof *idx, by_bytes,
	    &(struct bytes_arg){ units, offsetof(struct unit, digest) });
	for (i = 0; i < nk; i = j) {
		for (j = i + 1; j < nk && !memcmp(units[idx[i]].digest, units[idx[j]].digest, 16); j++)
			;
		cnt = j - i;
		while (cnt >= 2 && i < j)
			units[idx[i++]].cls = idx[j - cnt];   /* its smallest unit */
	}
	/* members by (class, input order): units are numbered by first member */
	for (i = 0, nk = 0; i < n; i++)
		if (mem[i].state == ALIVE && units[mem[i].unit].cls != SIZE_MAX)
			idx[nk++] = i;
	qsort_r(idx, nk, sizeof *idx, by_class, &(struct class_arg){ mem, units });
	for (i = 0; i < nk; i++) {
		struct member *m = &mem[idx[i]];

		bd_hash_unpack(units[m->unit].digest, hex);
		memcpy(m->r.hash, hex, sizeof hex);
		if (bd_record_write(stdout, &m->r) < 0)
			bd_die("write error:");
	}
}

/* one member: still the inode named, and its layout */
static void
member_step(struct job *jb, size_t i, char *buf)
{
	struct member *m = &jb->mem[i];
	int fd = open_member(m, &m->st);

	(void)buf;
	if (fd < 0)
		return;
	if (bd_extents_get(fd, &m->x) < 0)
		m->x.n = 0;                  /* cannot compare: read it */
	if (jb->keep_fds)
		m->fd = fd;
	else
		close(fd);
}

static void
hash_step(struct job *jb, size_t i, char *buf)
{
	hash_unit(jb->mem, &jb->units[jb->jobs[i]], buf);
}

/* U's checksum digest, through the first member whose file opens */
static void
csum_step(struct job *jb, size_t k, char *buf)
{
	struct unit *u = &jb->units[k];
	struct member *m;
	size_t i;
	int fd;

	for (i = u->first; i != SIZE_MAX; i = jb->mem[i].next) {
		m = &jb->mem[i];
		if (m->state != ALIVE || (fd = peek_fd(m)) < 0)
			continue;
		u->csummed = bd_csum_digest(fd, &jb->csum, &m->x, m->r.size, buf, BUFSZ,
		    u->csum) == 1;
		release(m, fd);
		return;
	}
}

/* The N units US have the same checksums: most likely one content,
 * which bedup-clone will share from the member it picks as the source:
 * the one in a read-only subvolume, else the one whose data is most
 * shared, else the first (its rule). Its unit is read through that
 * member, the others through a member it will share into: the kernel's
 * compare then finds both sides' pages in the cache, which is per inode. */
static void
plan_reads(struct member *mem, struct unit *units, const size_t *us, size_t n)
{
	size_t k, i, src = SIZE_MAX;
	uint64_t sh, best = 0;

	for (k = 0; k < n; k++) {
		for (i = units[us[k]].first; i != SIZE_MAX; i = mem[i].next) {
			mem[i].ro = member_readonly(&mem[i]);
			sh = bd_extents_shared_bytes(&mem[i].x);
			if (src == SIZE_MAX || mem[i].ro > mem[src].ro ||
			    (mem[i].ro == mem[src].ro && (sh > best || (sh == best && i < src)))) {
				src = i;
				best = sh;
			}
		}
	}
	for (k = 0; k < n; k++) {
		struct unit *u = &units[us[k]];

		if (src != SIZE_MAX && mem[src].unit == us[k]) {
			u->via = src;
			continue;
		}
		for (i = u->first; i != SIZE_MAX && mem[i].ro; i = mem[i].next)
			;
		u->via = i;
	}
}

/* Keeps the jobs whose data checksums match another unit's, known or
 * not: different checksums are different bytes, found without reading
 * a block of data. Returns how many are kept, or -1 when some unit has
 * no checksum digest (holes, compression, no capability...): then any
 * unit may match it, and the samples decide. */
static long
match_csums(struct ring *q, struct job *jb, size_t n, size_t nu, size_t nj, char *buf)
{
	struct unit *units = jb->units;
	size_t *jobs = jb->jobs, *idx = jb->idx;
	size_t i, j, k;
	int fd;

	for (i = 0; i < n && jb->mem[i].state != ALIVE; i++)
		;
	if (i == n || (fd = peek_fd(&jb->mem[i])) < 0)
		return -1;
	k = bd_csum_fs_fd(fd, &jb->csum) == 0;
	release(&jb->mem[i], fd);
	if (!k)
		return -1;
	each(q, jb, nu, csum_step, buf);
	for (k = 0; k < nu; k++) {
		if (!units[k].csummed)
			return -1;
		idx[k] = k;
	}
	/* IDX is scratch here, as in match_samples */
	k = keep_matched(units, nu, idx, nu, offsetof(struct unit, csum), jobs, nj);
	/* classes with a unit to read */
	for (i = 0; k && i < nu; i = j) {
		size_t unread = !units[idx[i]].known;

		for (j = i + 1; j < nu && !memcmp(units[idx[i]].csum, units[idx[j]].csum, 16); j++)
			unread += !units[idx[j]].known;
		if (j - i >= 2 && unread)
			plan_reads(jb->mem, units, idx + i, j - i);
	}
	return (long)k;
}

/* the reading part of one group, in a worker: touches only JB and reads
 * the catalog, so that groups can be worked on side by side */
static void
work_group(struct ring *q, struct job *jb, char *buf)
{
	const struct table *cat = q->cat;
	struct bd_group *g = &jb->g;
	struct member *mem = jb->mem = bd_ecalloc(g->n, sizeof *mem);
	struct unit *units = jb->units = bd_ecalloc(g->n, sizeof *units);
	size_t *jobs = jb->jobs = bd_ecalloc(g->n, sizeof *jobs);
	size_t *idx = jb->idx = bd_ecalloc(g->n, sizeof *idx);
	size_t n, nu = 0, nj = 0, nknown = 0, i, k, alive = 0;
	uint64_t size = g->r[0].size;
	long c;

	/* hard links are one member */
	n = collapse_links(g, mem, idx);
	jb->keep_fds = q->keep_fds && n <= KEEP_FDS;
	if (n >= 2)
		each(q, jb, n, member_step, buf);
	for (i = 0; i < n && n >= 2; i++)
		alive += mem[i].state == ALIVE;
	if (alive >= 2)
		nu = make_units(mem, n, units, idx);
	for (i = 0; i < n && cat && nu >= 2; i++) {
		struct unit *u = &units[mem[i].unit];
		struct entry *e;

		if (mem[i].state != ALIVE || u->known)
			continue;
		if ((e = table_valid(cat, &mem[i].r))) {
			u->known = 1;
			memcpy(u->digest, e->digest, 16);
			nknown++;
		}
	}
	/* one unit: already deduplicated, nothing to read */
	if (nu >= 2) {
		for (k = 0; k < nu; k++)
			if (!units[k].known)
				jobs[nj++] = k;
		if (nj && (c = match_csums(q, jb, n, nu, nj, buf)) >= 0)
			nj = (size_t)c;
		else if (size >= SAMPLE_MIN && q->smp)
			nj = match_samples(q, jb, nu, nj, buf);
		else if (size >= SAMPLE_MIN && nknown == 0 && nj >= 2)
			nj = split_by_sample(q, jb, nj, buf);
		if (nj == 1 && nknown == 0)
			nj = 0;                  /* nothing left to match it */
		each(q, jb, nj, hash_step, buf);
	}
	jb->n = n;
	jb->nu = nu;
	jb->nj = nj;
}

/* the rest of one group, in the main thread and in input order: notes,
 * output, page cache, what was learnt, progress */
static void
finish_group(struct job *jb, struct table *learnt, const struct table *smp, struct table *lsmp,
    struct progress *pr)
{
	struct member *mem = jb->mem;
	struct unit *units = jb->units;
	size_t n = jb->n, nu = jb->nu, nj = jb->nj, i;

	for (i = 0; i < nj; i++) {
		pr->bytes += units[jb->jobs[i]].bytes;
		pr->files += units[jb->jobs[i]].bytes || jb->g.r[0].size == 0;
	}
	/* notes in input order, whatever thread met the problem */
	for (i = 0; i < n; i++)
		note(learnt, &mem[i]);
	if (nu >= 2) {
		write_classes(mem, n, units, nu, jb->idx);
		evict_unmatched(mem, units, jb->jobs, nj);
	}
	/* every digest known, matched or not, saves a read next time */
	for (i = 0; i < n && learnt && nu >= 2; i++)
		if (mem[i].state == ALIVE && units[mem[i].unit].known)
			learn(learnt, &mem[i].r, units[mem[i].unit].digest, 0);
	if (lsmp && nu >= 2)
		learn_samples(lsmp, smp, mem, n, units);
	pr->groups++;
	progress(pr, 0);
	for (i = 0; i < n; i++) {
		bd_extents_free(&mem[i].x);
		if (mem[i].fd >= 0)
			close(mem[i].fd);
	}
	free(units);
	free(mem);
	free(jb->jobs);
	free(jb->idx);
}

/* ---- groups side by side (-j) --------------------------------------- */

static void *
worker(void *arg)
{
	struct ring *q = arg;
	char *buf = bd_emalloc(BUFSZ);
	struct step *s;
	struct job *jb;
	size_t i;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		/* loops begun before new groups, oldest first: the head of
		 * the window waits on them */
		if ((s = loop_open(q))) {
			i = s->next++;
			pthread_mutex_unlock(&q->mu);
			s->fn(s->jb, i, buf);
			pthread_mutex_lock(&q->mu);
			if (++s->done == s->n)
				pthread_cond_broadcast(&q->helped);
			continue;
		}
		if (q->next == q->tail) {
			if (q->quit)
				break;
			pthread_cond_wait(&q->work, &q->mu);
			continue;
		}
		jb = &q->slot[q->next++ % q->nslots];
		pthread_mutex_unlock(&q->mu);
		work_group(q, jb, buf);
		pthread_mutex_lock(&q->mu);
		jb->done = 1;
		pthread_cond_signal(&q->done);
	}
	pthread_mutex_unlock(&q->mu);
	free(buf);
	return NULL;
}

/* finishes the jobs done at the head of the window, in order, waiting
 * until a slot is free (with the input at its end, until all are done) */
static void
ring_finish(struct ring *q, struct table *learnt, struct table *lsmp, struct progress *pr)
{
	struct job *jb;

	pthread_mutex_lock(&q->mu);
	while (q->head < q->tail) {
		jb = &q->slot[q->head % q->nslots];
		if (!jb->done) {
			/* room for one more group: a free slot, and
			 * records in flight below the budget (groups of
			 * thousands of small files come in runs) */
			if (q->tail - q->head < q->nslots && q->inflight < INFLIGHT && !q->quit)
				break;
			pthread_cond_wait(&q->done, &q->mu);
			continue;
		}
		/* a done job is the main thread's alone */
		pthread_mutex_unlock(&q->mu);
		finish_group(jb, learnt, q->smp, lsmp, pr);
		q->inflight -= jb->g.n;
		/* a slot that held a big group gives its room back */
		if (jb->g.cap > KEEP_CAP)
			bd_group_free(&jb->g);
		jb->done = 0;
		pthread_mutex_lock(&q->mu);
		q->head++;
	}
	pthread_mutex_unlock(&q->mu);
}

/* the slot the next group is read into; one is free (ring_finish) */
static struct job *
ring_slot(struct ring *q)
{
	return &q->slot[q->tail % q->nslots];
}

/* hands the group just read into ring_slot to the workers, or, without
 * workers, works on it here */
static void
ring_push(struct ring *q, char *buf)
{
	struct job *jb = ring_slot(q);

	if (q->nworkers == 0) {
		work_group(q, jb, buf);
		jb->done = 1;
	}
	q->inflight += jb->g.n;
	pthread_mutex_lock(&q->mu);
	q->tail++;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->mu);
}

/* whether N files can be open at once, raising the soft limit if needed */
static int
fds_for(rlim_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur >= n)
		return 1;
	if (rl.rlim_max < n)
		return 0;
	rl.rlim_cur = n;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

int
main(int argc, char **argv)
{
	struct bd_input in;
	struct table cat, learnt, smp, lsmp;
	struct ring q;
	struct progress pr;
	pthread_t *th = NULL;
	const char *catalog = NULL;
	char *samples = NULL;
	uint64_t njobs = 32, bad = 0;
	int c, update = 0, prio = 0, loaded = 0;
	size_t i;
	char *buf;

	bd_init(argv[0]);
	bd_version(argc, argv);
	/* glibc gives each thread an arena of its own: with 32 workers that
	 * is tens of MiB held for a few small allocations per group */
	mallopt(M_ARENA_MAX, 2);
	memset(&pr, 0, sizeof pr);
	while ((c = getopt(argc, argv, "hC:uj:pv")) != -1) {
		switch (c) {
		case 'C':
			catalog = optarg;
			break;
		case 'u':
			update = 1;
			break;
		case 'j':
			if (bd_parse_u64(optarg, &njobs) < 0 || njobs < 1 || njobs > MAXJOBS)
				bd_usage(USAGE);
			break;
		case 'p':
			prio = 1;
			break;
		case 'v':
			pr.on = 1;
			break;
		case 'h':
			printf("usage: %s\n", USAGE);
			return bd_finish();
		default:
			bd_usage(USAGE);
		}
	}
	if (update && !catalog)
		bd_usage(USAGE);
	pr.tty = isatty(2);
	pr.on |= pr.tty;
	clock_gettime(CLOCK_MONOTONIC, &pr.start);
	pr.last = pr.start;
	/* idle I/O class, set before the workers so they inherit it */
	if (!prio && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
	    IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)) < 0)
		bd_warn("ioprio_set:");
	memset(&cat, 0, sizeof cat);
	memset(&learnt, 0, sizeof learnt);
	memset(&smp, 0, sizeof smp);
	memset(&lsmp, 0, sizeof lsmp);
	memset(&q, 0, sizeof q);
	buf = bd_emalloc(BUFSZ);
	pthread_mutex_init(&q.mu, NULL);
	pthread_cond_init(&q.work, NULL);
	pthread_cond_init(&q.done, NULL);
	pthread_cond_init(&q.helped, NULL);
	/* -j 1 is a plain serial run: no worker, one slot */
	q.nworkers = njobs > 1 ? njobs : 0;
	/* room for workers to go on past a slow group at the head */
	q.nslots = njobs > 1 ? 4 * njobs : 1;
	q.slot = bd_ecalloc(q.nslots, sizeof *q.slot);
	q.cat = catalog ? &cat : NULL;
	q.smp = catalog ? &smp : NULL;
	q.keep_fds = fds_for(INFLIGHT + KEEP_FDS + 64);
	if (q.nworkers)
		th = bd_ecalloc(q.nworkers, sizeof *th);
	for (i = 0; i < q.nworkers; i++)
		if ((errno = pthread_create(&th[i], NULL, worker, &q)))
			bd_die("pthread_create:");
	bd_input_init(&in, argc - optind, argv + optind);
	for (;;) {
		ring_finish(&q, update ? &learnt : NULL, update ? &lsmp : NULL, &pr);
		if (bd_group_next(&in, &ring_slot(&q)->g) == 0)
			break;
		/* before any worker can look at it */
		if (catalog && !loaded) {
			load_catalog(&cat, catalog);
			samples = bd_samples_path(catalog);
			bad = load_samples(&smp, samples);
			loaded = 1;
		}
		ring_push(&q, buf);
	}
	bd_input_close(&in);
	pthread_mutex_lock(&q.mu);
	q.quit = 1;
	pthread_cond_broadcast(&q.work);
	pthread_mutex_unlock(&q.mu);
	ring_finish(&q, update ? &learnt : NULL, update ? &lsmp : NULL, &pr);
	for (i = 0; i < q.nworkers; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < q.nslots; i++)
		bd_group_free(&q.slot[i].g);
	free(q.slot);
	free(th);
	if (fflush(stdout) == EOF)
		bd_die("write error:");
	if (update) {
		/* the freed memory of the window back first, not kept
		 * beside what was learnt */
		malloc_trim(0);
		unspool(&learnt);
		unspool(&lsmp);
		/* the samples file is written only when something changed */
		int resample = loaded && (merge_samples(&smp, &lsmp, &learnt) || bad);

		if (update_catalog(&learnt, catalog, resample ? &smp : NULL) == 0 && resample)
			write_samples(&smp, samples);
	}
	if (pr.groups)
		progress(&pr, 1);
	free(cat.e);
	free(learnt.e);
	free(smp.e);
	free(lsmp.e);
	free(samples);
	free(buf);
	return bd_finish();
}

/* bedup-group: sort records into candidate groups, runs of 2 or more
 * distinct inodes of equal (SIZE, FSID), largest first. Memory stays
 * bounded: records beyond a budget are sorted in runs written to temp
 * files and merged. With -C, the input is what changed: each group is
 * a size of the input with the catalog's files of that size (found by
 * a lookup, their paths from their inodes under -m), and with -u the
 * input goes into the catalog, one batch. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bedup.h"

#define USAGE "bedup-group [-s MINSIZE] [-C CATALOG -m MOUNT [-u]] [FILE...]"
#define DEFAULT_MEMORY (16u << 20)   /* spilling is cheap: runs stay in the page cache */
#define MAXRUNS 64           /* more runs than this are merged into one */
#define CHUNK (1u << 20)     /* path arena chunk */

/* one record, compact: the memory of a run is mostly these. PATH is
 * decoded and not NUL-terminated; a digest, when HASH is one, is kept in
 * the 16 bytes right before PATH (most records have none) */
struct item {
	uint64_t size, subvol, ino, gen;
	uint8_t fsid[16];
	const char *path;
	uint32_t pathlen;
	uint8_t hashed;      /* HASH is a digest, not "-" */
};

/* the digest and path bytes of IT, as stored */
static const char *
blob(const struct item *it)
{
	return it->hashed ? it->path - 16 : it->path;
}

static size_t
blob_len(const struct item *it)
{
	return it->pathlen + (it->hashed ? 16u : 0u);
}

struct chunk {
	struct chunk *next;
	size_t used, size;
	char data[];
};

/* a sorted run in a temp file: items, each followed by its path */
struct run {
	FILE *f;
	struct item cur;
	char *buf;
	size_t cap;
	int live;
};

/* the current (SIZE, FSID) run being collected for output */
struct pending {
	struct item *it;
	size_t n, cap;
};

struct state {
	struct item *items;
	size_t n, cap;
	struct chunk *chunks;
	size_t mem, budget;  /* MEM: bytes of paths held */
	struct run *runs;
	size_t nruns;
	uint64_t minsize;
	const char *catpath, *mount;  /* -C, -m */
	int update;          /* -u */
	struct bd_catalog *cat;       /* opened at the first group */
	uint8_t catfsid[16];
	struct bd_inopaths *paths;    /* under -m, at the first path needed */
	struct bd_cat_entry *bucket;  /* the catalog's files of one size */
	size_t bcap;
	FILE *out;           /* stdout, or a spool until the catalog is committed */
	struct pending pend;
};

static int
cmp_item(const struct item *a, const struct item *b)
{
	int c;
	size_t n;

	if (a->size != b->size)
		return a->size > b->size ? -1 : 1;   /* largest first */
	if ((c = memcmp(a->fsid, b->fsid, 16)))
		return c;
	if (a->subvol != b->subvol)
		return a->subvol < b->subvol ? -1 : 1;
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	n = a->pathlen < b->pathlen ? a->pathlen : b->pathlen;
	if ((c = memcmp(a->path, b->path, n)))
		return c;
	return (a->pathlen > b->pathlen) - (a->pathlen < b->pathlen);
}

static int
qcmp(const void *a, const void *b)
{
	return cmp_item(a, b);
}

/* stores the N bytes at P, after the 16 at DIGEST if not NULL; returns
 * where P's bytes went */
static const char *
store_path(struct state *s, const uint8_t *digest, const char *p, size_t n)
{
	size_t d = digest ? 16 : 0;

	struct chunk *c = s->chunks;
	size_t want = n + d > CHUNK ? n + d : CHUNK;

	if (!c || c->size - c->used < n + d) {
		c = bd_emalloc(sizeof *c + want);
		c->used = 0;
		c->size = want;
		c->next = s->chunks;
		s->chunks = c;
		s->mem += sizeof *c + want;
	}
	if (d)
		memcpy(c->data + c->used, digest, d);
	memcpy(c->data + c->used + d, p, n);
	c->used += n + d;
	return c->data + c->used - n;
}

static void
free_chunks(struct state *s)
{
	struct chunk *c, *next;

	for (c = s->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	s->chunks = NULL;
}

static void
run_write(FILE *f, const struct item *it)
{
	if (fwrite(it, sizeof *it, 1, f) != 1 ||
	    fwrite(blob(it), 1, blob_len(it), f) != blob_len(it))
		bd_die("temp file: write error:");
}

/* reads the next item of R into R->cur; 0 at its end */
static int
run_next(struct run *r)
{
	if (fread(&r->cur, sizeof r->cur, 1, r->f) != 1) {
		if (ferror(r->f))
			bd_die("temp file: read error:");
		r->live = 0;
		return 0;
	}
	if (blob_len(&r->cur) > r->cap) {
		r->cap = blob_len(&r->cur);
		r->buf = bd_erealloc(r->buf, r->cap);
	}
	if (fread(r->buf, 1, blob_len(&r->cur), r->f) != blob_len(&r->cur))
		bd_die("temp file: short read");
	r->cur.path = r->buf + (r->cur.hashed ? 16 : 0);
	r->live = 1;
	return 1;
}

static void
run_start(struct run *r)
{
	if (fflush(r->f) == EOF || fseeko(r->f, 0, SEEK_SET) < 0)
		bd_die("temp file:");
	run_next(r);
}

/* merges RUNS[0..N) in order, handing each item to EMIT */
static void
merge(struct run *runs, size_t n, void (*emit)(void *, const struct item *), void *arg)
{
	size_t i, best;

	for (i = 0; i < n; i++)
		run_start(&runs[i]);
	for (;;) {
		best = n;
		for (i = 0; i < n; i++)
			if (runs[i].live && (best == n || cmp_item(&runs[i].cur, &runs[best].cur) < 0))
				best = i;
		if (best == n)
			break;
		emit(arg, &runs[best].cur);
		run_next(&runs[best]);
	}
	for (i = 0; i < n; i++) {
		fclose(runs[i].f);
		free(runs[i].buf);
	}
}

static void
emit_run(void *arg, const struct item *it)
{
	run_write(arg, it);
}

/* sorts what is in memory and writes it out as one more run */
static void
spill(struct state *s)
{
	struct run *r;
	FILE *f;
	size_t i;

	if (s->n == 0)
		return;
	qsort(s->items, s->n, sizeof *s->items, qcmp);
	if (s->nruns == MAXRUNS) {
		/* too many open temp files: fold them into one */
		f = bd_tempfile();
		merge(s->runs, s->nruns, emit_run, f);
		memset(s->runs, 0, MAXRUNS * sizeof *s->runs);
		s->runs[0].f = f;
		s->nruns = 1;
	}
	r = &s->runs[s->nruns++];
	memset(r, 0, sizeof *r);
	r->f = bd_tempfile();
	for (i = 0; i < s->n; i++)
		run_write(r->f, &s->items[i]);
	s->n = 0;
	free_chunks(s);
	s->mem = 0;
}

static void
add(struct state *s, const struct bd_record *rec)
{
	struct item *it;
	uint8_t digest[16];

	if (rec->pathlen > UINT32_MAX - 16)
		return;
	if (s->n && s->mem + s->n * sizeof *s->items >= s->budget)
		spill(s);
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap / 2 * 3 : 4096;
		s->items = bd_erealloc(s->items, s->cap * sizeof *s->items);
	}
	it = &s->items[s->n++];
	memset(it, 0, sizeof *it);
	it->size = rec->size;
	it->subvol = rec->subvol;
	it->ino = rec->ino;
	it->gen = rec->gen;
	bd_fsid_pack(rec->fsid, it->fsid);
	/* an input record replaces the catalog's entry with what it says:
	 * HASH - from bedup-findnew voids a changed inode's old digest; a
	 * digest (a record bedup-hash wrote, fed back by the caller) is kept */
	it->hashed = (uint8_t)bd_hash_pack(rec->hash, digest);
	it->pathlen = (uint32_t)rec->pathlen;
	it->path = store_path(s, it->hashed ? digest : NULL, rec->path, rec->pathlen);
}

static void
read_all(struct state *s, struct bd_input *in)
{
	struct bd_record r;

	while (bd_input_next(in, &r))
		add(s, &r);
	bd_input_close(in);
}

static int
write_item(FILE *f, const struct item *it, int with_hash)
{
	struct bd_record r;

	memset(&r, 0, sizeof r);
	r.size = it->size;
	r.subvol = it->subvol;
	r.ino = it->ino;
	r.gen = it->gen;
	bd_fsid_unpack(it->fsid, r.fsid);
	if (with_hash && it->hashed)
		bd_hash_unpack((const uint8_t *)blob(it), r.hash);
	else
		strcpy(r.hash, "-");
	/* bd_record_write needs a NUL-terminated path only for its length */
	r.path = (char *)it->path;
	r.pathlen = it->pathlen;
	return bd_record_write(f, &r);
}

/* the catalog, at the first group: an empty one takes the FSID of the
 * first record */
static void
open_catalog(struct state *s, const struct item *first)
{
	if (!(s->cat = bd_catalog_open(s->catpath)))
		bd_die("%s:", s->catpath);
	if (bd_catalog_fsid(s->cat, s->catfsid) < 0) {
		memcpy(s->catfsid, first->fsid, 16);
		if (s->update)
			bd_catalog_set_fsid(s->cat, s->catfsid);
	}
}

/* the input item IT into the catalog's batch: what it says replaces the
 * entry of its inode and size (HASH -: nothing known of its content) */
static void
track(struct state *s, const struct item *it)
{
	struct bd_cat_entry e, old;

	memset(&e, 0, sizeof e);
	e.size = it->size;
	e.subvol = it->subvol;
	e.ino = it->ino;
	e.gen = it->gen;
	if (it->hashed) {
		/* a digest fed back: the inode has not changed, its sample
		 * stays */
		if (bd_catalog_find(s->cat, e.size, e.subvol, e.ino, &old) && old.gen == e.gen &&
		    (old.flags & BD_CAT_SAMPLE)) {
			memcpy(e.sample, old.sample, 16);
			e.flags |= BD_CAT_SAMPLE;
		}
		memcpy(e.digest, blob(it), 16);
		e.flags |= BD_CAT_DIGEST;
	}
	bd_catalog_put(s->cat, &e);
}

/* the catalog's file E of the group being collected as an item, its
 * path found from its inode; 0, or -1 when it has no path (a file
 * deleted since leaves the catalog) */
static int
from_catalog(struct state *s, const struct bd_cat_entry *e, struct item *it)
{
	char *path;

	if (!s->paths && !(s->paths = bd_inopaths_open(s->mount)))
		bd_die("%s:", s->mount);
	if (!(path = bd_inopath(s->paths, e->subvol, e->ino))) {
		if (errno == ENOENT && s->update) {
			struct bd_cat_entry gone = *e;

			gone.flags = BD_CAT_GONE;
			bd_catalog_put(s->cat, &gone);
		} else if (errno != ENOENT) {
			bd_warn("subvolume %" PRIu64 " inode %" PRIu64 ": no path:", e->subvol, e->ino);
		}
		return -1;
	}
	memset(it, 0, sizeof *it);
	it->size = e->size;
	memcpy(it->fsid, s->catfsid, 16);
	it->subvol = e->subvol;
	it->ino = e->ino;
	it->gen = e->gen;
	it->pathlen = (uint32_t)strlen(path);
	it->path = path;
	return 0;
}

/* the catalog's files of the group's size, not in the input, into the
 * group in order (subvolume, inode) */
static void
add_catalog(struct state *s)
{
	struct pending *p = &s->pend;
	size_t nb, nin = p->n, i, k = 0;
	struct item it;

	nb = bd_catalog_bucket(s->cat, p->it[0].size, &s->bucket, &s->bcap);
	for (i = 0; i < nb; i++) {
		const struct bd_cat_entry *e = &s->bucket[i];

		while (k < nin && (p->it[k].subvol < e->subvol ||
		    (p->it[k].subvol == e->subvol && p->it[k].ino < e->ino)))
			k++;
		if (k < nin && p->it[k].subvol == e->subvol && p->it[k].ino == e->ino)
			continue;        /* the input's record replaces it */
		if (from_catalog(s, e, &it) < 0)
			continue;
		if (p->n == p->cap) {
			p->cap = 2 * p->cap;
			p->it = bd_erealloc(p->it, p->cap * sizeof *p->it);
		}
		p->it[p->n++] = it;
	}
	/* back in order: the input's records, then the catalog's */
	if (p->n > nin)
		qsort(p->it, p->n, sizeof *p->it, qcmp);
}

/* one (SIZE, FSID) run of the input, done: into the catalog, and out
 * with the catalog's files of that size when they make a group */
static void
flush(struct state *s)
{
	struct pending *p = &s->pend;
	size_t i;
	int ours = 0;

	if (p->n && s->catpath) {
		if (!s->cat)
			open_catalog(s, &p->it[0]);
		ours = memcmp(p->it[0].fsid, s->catfsid, 16) == 0;
		for (i = 0; i < p->n && ours && s->update; i++)
			track(s, &p->it[i]);
		if (ours && p->it[0].size >= s->minsize)
			add_catalog(s);
	}
	if (p->n >= 2 && p->it[0].size >= s->minsize)
		for (i = 0; i < p->n; i++)
			if (write_item(s->out, &p->it[i], 0) < 0)
				bd_die("write error:");
	for (i = 0; i < p->n; i++)
		free((char *)blob(&p->it[i]));
	p->n = 0;
}

/* receives items in sorted order; collects runs of equal (SIZE, FSID) */
static void
emit_group(void *arg, const struct item *it)
{
	struct state *s = arg;
	struct pending *p = &s->pend;
	struct item *last = p->n ? &p->it[p->n - 1] : NULL;
	char *path;

	if (last && (last->size != it->size || memcmp(last->fsid, it->fsid, 16))) {
		flush(s);
		last = NULL;
	}
	/* hard links: the first one sorted wins */
	if (last && last->subvol == it->subvol && last->ino == it->ino)
		return;
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->it = bd_erealloc(p->it, p->cap * sizeof *p->it);
	}
	path = bd_emalloc(blob_len(it) ? blob_len(it) : 1);
	memcpy(path, blob(it), blob_len(it));
	p->it[p->n] = *it;
	p->it[p->n].path = path + (it->hashed ? 16 : 0);
	p->n++;
}

static void
copy_out(FILE *spool)
{
	char buf[65536];
	size_t n;

	if (fflush(spool) == EOF || fseeko(spool, 0, SEEK_SET) < 0)
		bd_die("temp file:");
	while ((n = fread(buf, 1, sizeof buf, spool)) > 0)
		if (fwrite(buf, 1, n, stdout) != n)
			bd_die("write error:");
	if (ferror(spool))
		bd_die("temp file: read error:");
	fclose(spool);
}

/* the options into S */
static void
options(int argc, char **argv, struct state *s)
{
	const char *env;
	uint64_t v;
	int c;

	s->minsize = 1;
	s->budget = DEFAULT_MEMORY;
	if ((env = getenv("BEDUP_GROUP_MEMORY")) && *env) {
		if (bd_parse_size(env, &v) < 0 || v == 0)
			bd_die("BEDUP_GROUP_MEMORY: not a size: %s", env);
		s->budget = v > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)v;
	}
	while ((c = getopt(argc, argv, "hs:C:m:u")) != -1) {
		switch (c) {
		case 's':
			if (bd_parse_size(optarg, &s->minsize) < 0)
				bd_usage(USAGE);
			break;
		case 'C':
			s->catpath = optarg;
			break;
		case 'm':
			s->mount = optarg;
			break;
		case 'u':
			s->update = 1;
			break;
		case 'h':
			printf("usage: %s\n", USAGE);
			exit(bd_finish());
		default:
			bd_usage(USAGE);
		}
	}
	/* the catalog's files get their paths under the mount */
	if ((s->update && !s->catpath) || !s->catpath != !s->mount)
		bd_usage(USAGE);
}

/* every group out, sorted: from memory, or merged from the spilled runs */
static void
write_groups(struct state *s)
{
	size_t i;

	if (s->nruns == 0) {
		if (s->n)
			qsort(s->items, s->n, sizeof *s->items, qcmp);
		for (i = 0; i < s->n; i++)
			emit_group(s, &s->items[i]);
	} else {
		spill(s);
		merge(s->runs, s->nruns, emit_group, s);
	}
	flush(s);
}

int
main(int argc, char **argv)
{
	struct state s;
	struct bd_input in;

	bd_init(argv[0]);
	bd_version(argc, argv);
	memset(&s, 0, sizeof s);
	options(argc, argv, &s);
	s.runs = bd_ecalloc(MAXRUNS + 1, sizeof *s.runs);
	bd_input_init(&in, argc - optind, argv + optind);
	read_all(&s, &in);
	s.out = stdout;
	/* the protocol: the catalog is committed before any output */
	if (s.update)
		s.out = bd_tempfile();
	/* no changed file: no group, and the catalog is not even opened */
	write_groups(&s);
	free(s.pend.it);
	free(s.items);
	free_chunks(&s);
	free(s.runs);
	free(s.bucket);
	if (s.paths)
		bd_inopaths_close(s.paths);
	if (s.cat) {
		if (s.update && bd_catalog_commit(s.cat, 0) < 0)
			bd_die("%s:", s.catpath);
		bd_catalog_close(s.cat);
	}
	if (s.update)
		copy_out(s.out);
	return bd_finish();
}

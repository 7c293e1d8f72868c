/* bedup-group: sort records into candidate groups, runs of 2 or more
 * distinct inodes of equal (SIZE, FSID), largest first. Memory stays
 * bounded: records beyond a budget are sorted in runs written to temp
 * files and merged. With -C, only groups holding a changed file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bedup.h"

#define USAGE "bedup-group [-s MINSIZE] [-C CATALOG [-u]] [-v] [-i COUNTS] [FILE...]"
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
	uint8_t changed;     /* from the input, not the catalog */
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
	struct bd_inode *keys;   /* inodes of the input, with -C */
	size_t nkeys, capkeys;
	struct bd_inode *voided; /* those with HASH -: changed, their samples go */
	size_t nvoided, capvoided;
	uint64_t minsize;
	int verbose;         /* -v */
	const char *counts;  /* -i */
	int catalog;         /* -C given: output needs a changed member;
	                      * 2: and the catalog exists */
	FILE *cat;           /* new catalog, with -u */
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
	if (a->changed != b->changed)
		return a->changed ? -1 : 1;          /* input replaces catalog */
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
add(struct state *s, const struct bd_record *rec, int changed)
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
	/* an input record replaces the catalog's with what it says: HASH -
	 * from bedup-findnew voids a changed inode's old digest; a digest
	 * (a record bedup-hash wrote, fed back by the caller) is kept */
	it->hashed = (uint8_t)bd_hash_pack(rec->hash, digest);
	it->changed = (uint8_t)changed;
	it->pathlen = (uint32_t)rec->pathlen;
	it->path = store_path(s, it->hashed ? digest : NULL, rec->path, rec->pathlen);
}

static void
key_add(struct bd_inode **keys, size_t *n, size_t *cap, const struct bd_record *r)
{
	if (*n == *cap) {
		*cap = *cap ? *cap / 2 * 3 : 1024;
		*keys = bd_erealloc(*keys, *cap * sizeof **keys);
	}
	bd_inode_key(&(*keys)[(*n)++], r);
}

static void
read_all(struct state *s, struct bd_input *in, int changed, int keep_keys)
{
	struct bd_record r;
	struct bd_inode k;

	while (bd_input_next(in, &r)) {
		if (keep_keys) {
			key_add(&s->keys, &s->nkeys, &s->capkeys, &r);
			if (strcmp(r.hash, "-") == 0)
				key_add(&s->voided, &s->nvoided, &s->capvoided, &r);
		}
		/* a changed inode's catalog record goes, whatever its old size */
		if (!changed && s->nkeys) {
			bd_inode_key(&k, &r);
			if (bsearch(&k, s->keys, s->nkeys, sizeof k, bd_inode_cmp))
				continue;
		}
		add(s, &r, changed);
	}
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

static void
flush(struct state *s)
{
	struct pending *p = &s->pend;
	size_t i;
	int changed = 0;

	for (i = 0; i < p->n; i++) {
		/* an error here shows in bd_atomic_commit, which then keeps the old catalog */
		if (s->cat)
			write_item(s->cat, &p->it[i], 1);
		changed |= p->it[i].changed;
	}
	if (p->n >= 2 && p->it[0].size >= s->minsize && (!s->catalog || changed))
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
	/* hard links and replaced catalog records: the first one sorted wins */
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

/* CATALOG.samples without the entries of the inodes the input reports
 * changed (HASH -), as the catalog loses their digests: streamed, so that
 * memory stays small. Committed before the catalog; a samples file that
 * cannot be updated stops everything (its stale samples would be trusted).
 * Done before the catalog's own update: dropping entries is always safe. */
static void
update_samples(struct state *s, const char *catalog)
{
	struct bd_samples in;
	struct bd_sample e;
	struct bd_atomic at;
	char *path = bd_samples_path(catalog);
	uint64_t dropped = 0;
	int r;

	if (s->nvoided == 0 || (r = bd_samples_open(&in, path)) == 0) {
		free(path);
		return;
	}
	if (r < 0)
		bd_die("%s:", path);
	qsort(s->voided, s->nvoided, sizeof *s->voided, bd_inode_cmp);
	if (bd_atomic_open(&at, path) < 0)
		bd_die("%s:", path);
	while ((r = bd_samples_next(&in, &e)) > 0) {
		if (bsearch(&e.key, s->voided, s->nvoided, sizeof *s->voided, bd_inode_cmp)) {
			dropped++;
			continue;
		}
		bd_sample_write(at.f, &e);   /* errors show at commit */
	}
	if (r < 0) {
		bd_atomic_abort(&at);
		bd_die("%s:", path);
	}
	if (dropped || in.bad) {
		if (bd_atomic_commit(&at) < 0)
			bd_die("%s:", path);
	} else {
		bd_atomic_abort(&at);
	}
	bd_samples_close(&in);
	free(path);
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

/* the options into S; returns CATALOG (-C) or NULL, sets *UPDATE (-u) */
static const char *
options(int argc, char **argv, struct state *s, int *update)
{
	const char *catalog = NULL, *env;
	uint64_t v;
	int c;

	s->minsize = 1;
	s->budget = DEFAULT_MEMORY;
	if ((env = getenv("BEDUP_GROUP_MEMORY")) && *env) {
		if (bd_parse_size(env, &v) < 0 || v == 0)
			bd_die("BEDUP_GROUP_MEMORY: not a size: %s", env);
		s->budget = v > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)v;
	}
	while ((c = getopt(argc, argv, "hs:C:uvi:")) != -1) {
		switch (c) {
		case 's':
			if (bd_parse_size(optarg, &s->minsize) < 0)
				bd_usage(USAGE);
			break;
		case 'C':
			catalog = optarg;
			break;
		case 'u':
			*update = 1;
			break;
		case 'v':
			s->verbose = 1;
			break;
		case 'i':
			s->counts = optarg;
			break;
		case 'h':
			printf("usage: %s\n", USAGE);
			exit(bd_finish());
		default:
			bd_usage(USAGE);
		}
	}
	if (*update && !catalog)
		bd_usage(USAGE);
	return catalog;
}

/* S->catalog from CATALOG: 0 none, 1 not there yet, 2 there. Returns 1
 * when a first run must still read its input's keys: an old samples file
 * beside a catalog not yet made has entries to drop. */
static int
catalog_state(struct state *s, const char *catalog)
{
	char *sp;
	int keep = 0;

	/* no catalog yet is an empty one: the first run starts it, and needs
	 * no keys of its input to replace old records (nor old samples) */
	if (catalog && access(catalog, F_OK) == 0)
		s->catalog = 2;
	else if (catalog && errno != ENOENT)
		bd_die("%s:", catalog);
	else if (catalog)
		s->catalog = 1;
	if (s->catalog == 1) {
		sp = bd_samples_path(catalog);
		if (access(sp, F_OK) == 0)
			keep = 1;
		free(sp);
	}
	return keep;
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
	struct bd_atomic at;
	const char *catalog;
	int update = 0, keep;

	bd_init(argv[0]);
	bd_version(argc, argv);
	memset(&s, 0, sizeof s);
	catalog = options(argc, argv, &s, &update);
	s.runs = bd_ecalloc(MAXRUNS + 1, sizeof *s.runs);
	keep = catalog_state(&s, catalog);
	bd_input_init(&in, argc - optind, argv + optind);
	read_all(&s, &in, 1, s.catalog == 2 || keep);
	/* no changed file: no group to write, and the catalog stays as it
	 * is; a rerun with nothing changed need not read it */
	if (s.catalog && s.n == 0 && s.nruns == 0) {
		free(s.runs);
		bd_counts_end(s.verbose, s.counts);
		return bd_finish();
	}
	if (s.catalog == 2) {
		char *files[1] = { (char *)catalog };

		if (s.nkeys)
			qsort(s.keys, s.nkeys, sizeof *s.keys, bd_inode_cmp);
		bd_input_init(&in, 1, files);
		read_all(&s, &in, 0, 0);
	}
	s.out = stdout;
	if (update) {
		update_samples(&s, catalog);
		if (bd_atomic_open(&at, catalog) < 0)
			bd_die("%s:", catalog);
		s.cat = at.f;
		/* the protocol: the catalog is committed before any output */
		s.out = bd_tempfile();
	}
	write_groups(&s);
	free(s.pend.it);
	free(s.items);
	free_chunks(&s);
	free(s.runs);
	free(s.keys);
	free(s.voided);
	if (update) {
		if (bd_atomic_commit(&at) < 0)
			bd_die("%s:", catalog);
		copy_out(s.out);
	}
	bd_counts_end(s.verbose, s.counts);
	return bd_finish();
}

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

#include "group.h"

#define USAGE "bedup-group [-s MINSIZE] [-C CATALOG -m MOUNT [-u]] [-v] [-i COUNTS] [FILE...]"

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

/* one (SIZE, FSID) run of the input, done: into the catalog, and out
 * with the catalog's files of that size when they make a group */
static void
flush(struct state *s)
{
	struct pending *p = &s->pend;
	size_t i;
	int ours = 0, keyed = 0;

	if (p->n && s->catpath) {
		if (!s->cat)
			open_catalog(s, &p->it[0]);
		ours = memcmp(p->it[0].fsid, s->catfsid, 16) == 0;
		s->nb = 0;
		if (ours && p->it[0].size >= s->minsize)
			s->nb = bd_catalog_bucket(s->cat, p->it[0].size, &s->bucket, &s->bcap);
		/* keys cost tree searches: only where the catalog has files
		 * to tell apart (not at a first run) */
		if (ours)
			keyed = input_layouts(s, s->nb != 0);
		for (i = 0; i < p->n && ours && s->update; i++)
			track(s, &p->it[i], p->laid ? &p->key[i] : NULL);
		/* no input item left (their data inline): nothing new */
		if (s->nb && p->n)
			add_catalog(s, keyed);
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
	while ((c = getopt(argc, argv, "hs:C:m:uvi:")) != -1) {
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
	s.fsfd = -1;
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
	free(s.pend.key);
	free(s.sbuf);
	if (s.fsfd >= 0)
		close(s.fsfd);
	if (s.verbose && s.inl)
		fprintf(stderr, "bedup-group: %" PRIu64 " files left out: their data lies inline "
		    "in the metadata\n", s.inl);
	if (s.verbose && s.settled)
		fprintf(stderr, "bedup-group: %" PRIu64 " files left out: they share all their "
		    "data with an unchanged tracked file\n", s.settled);
	if (s.verbose && s.same)
		fprintf(stderr, "bedup-group: %" PRIu64 " tracked files left out: they share "
		    "their data with another tracked file brought\n", s.same);
	if (s.verbose && s.left)
		fprintf(stderr, "bedup-group: %" PRIu64 " tracked files left out: their checksums "
		    "differ from every new file's of their size\n", s.left);
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
	bd_counts_end(s.verbose, s.counts);
	return bd_finish();
}

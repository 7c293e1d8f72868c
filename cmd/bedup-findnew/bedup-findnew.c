/* bedup-findnew: the regular files of btrfs subvolumes that changed since
 * a generation, as records, found by searching the subvolume trees. This
 * file: main, and the walk of one subvolume's tree. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "bedup-findnew.h"

#define USAGE "bedup-findnew [-g GEN | -S STATEDIR [-c FILE | -u]] [-s MINSIZE] [-x] [-0 | -t]\n" \
	"                     [-v] [-i COUNTS] PATH...\n" \
	"       bedup-findnew [-v] [-i COUNTS] -f FILE..."

/* files.c: -f, the records of the files named */

/* The kernel allows up to 16 MiB per TREE_SEARCH_V2 call, but 1 MiB
 * measured twice as fast (16 MiB is faulted in and leaves the caches). */
#define BIG_BUF (1u << 20)

/* A regular file the search kept, waiting for one of its names. */
struct inode {
	uint64_t ino, gen, size;
};

const char *
top_name(const struct target *t)
{
	return *t->top ? t->top : "/";
}

/* Writes the record (or the bare path) of inode IN, whose name NAME is in
 * directory PARENT. */
static void
emit(struct walk *w, const struct inode *in, uint64_t parent, const char *name, size_t len)
{
	const char *dir = dir_path(w, parent);
	size_t tlen, dlen, plen;
	struct bd_record r;
	char *p;

	if (!dir) {
		if (errno == ENOENT)
			return;       /* deleted while we searched */
		if (errno == ELOOP)
			bd_pfail(top_name(w->t), "inode %" PRIu64 ": directory loop on its path (renamed during the search?)", in->ino);
		else
			bd_pfail(top_name(w->t), "inode %" PRIu64 ": cannot find its path:", in->ino);
		w->t->ok = 0;
		return;
	}
	tlen = strlen(w->t->top);
	dlen = strlen(dir);
	plen = tlen + 1 + dlen + (dlen > 0) + len;
	if (plen + 1 > w->bufcap)
		w->buf = bd_erealloc(w->buf, w->bufcap = plen + 1);
	p = w->buf;
	memcpy(p, w->t->top, tlen);
	p += tlen;
	*p++ = '/';
	if (dlen) {
		memcpy(p, dir, dlen);
		p += dlen;
		*p++ = '/';
	}
	memcpy(p, name, len);
	p[len] = '\0';
	if (w->o->term >= 0) {
		/* the -0 and -t views: the path as it is, then its terminator */
		if (fwrite(w->buf, 1, plen, stdout) != plen || putchar(w->o->term) == EOF)
			bd_die("write error:");
		return;
	}
	memset(&r, 0, sizeof r);
	r.size = in->size;
	strcpy(r.hash, "-");
	memcpy(r.fsid, w->t->fsid, sizeof r.fsid);
	r.subvol = w->t->subvol;
	r.ino = in->ino;
	r.gen = in->gen;
	r.path = w->buf;
	r.pathlen = plen;
	if (bd_record_write(stdout, &r) < 0)
		bd_die("write error:");
}

/* Emits IN with a name looked up on its own (its INODE_REF was not among
 * the items the search returned: in an older leaf, or in no leaf). */
static void
emit_lookup(struct walk *w, const struct inode *in)
{
	const char *name;
	uint64_t parent;
	size_t len;
	char *copy;

	if (lookup_name(w, in->ino, &parent, &name, &len) < 0) {
		if (errno == ENOENT)
			return;       /* deleted while we searched */
		bd_pfail(top_name(w->t), "inode %" PRIu64 ": cannot find its name:", in->ino);
		w->t->ok = 0;
		return;
	}
	/* the name is in the look-up buffer, which emit uses again */
	copy = bd_emalloc(len);
	memcpy(copy, name, len);
	emit(w, in, parent, copy, len);
	free(copy);
}

/* Is this INODE_ITEM a regular file changed since the start and large
 * enough? */
static int
keep(const struct walk *w, const struct bd_search_item *it, struct inode *in)
{
	struct btrfs_inode_item ii;

	if (it->len < sizeof ii)
		return 0;
	memcpy(&ii, it->data, sizeof ii);
	/* the leaf is new, but this item may not be: each inode item keeps
	 * the transaction that last changed it */
	if (le64toh(ii.transid) < w->t->start || !S_ISREG(le32toh(ii.mode)) ||
	    le32toh(ii.nlink) == 0 || le64toh(ii.size) < w->o->minsize)
		return 0;
	in->ino = it->objectid;
	in->gen = le64toh(ii.generation);
	in->size = le64toh(ii.size);
	return 1;
}

/* Handles the items of one batch: an inode kept (*PENDING) is emitted
 * with its first name, or with one looked up when its names are not
 * there. Returns 0 when the batch had no items, else 1 with the last in
 * LAST. */
static int
walk_items(struct walk *w, struct bd_search *big, struct inode *in, int *pending,
    struct bd_search_item *last)
{
	struct bd_search_item it;
	const char *name;
	uint64_t parent;
	size_t len;
	int got = 0;

	while (bd_search_next(big, &it)) {
		if (*pending && (it.objectid != in->ino || it.type > BTRFS_INODE_EXTREF_KEY)) {
			emit_lookup(w, in);
			*pending = 0;
		}
		if (it.type == BTRFS_INODE_ITEM_KEY)
			*pending = keep(w, &it, in);
		else if (*pending && (it.type == BTRFS_INODE_REF_KEY ||
		    it.type == BTRFS_INODE_EXTREF_KEY)) {
			if (parse_name(&it, &parent, &name, &len) == 0)
				emit(w, in, parent, name, len);
			else
				emit_lookup(w, in);
			*pending = 0;
		}
		*last = it;
		got = 1;
	}
	return got;
}

/* Where the next batch starts, after item LAST: past an inode's names
 * nothing of it is wanted, so at the next inode. Returns 0, or -1 at the
 * end of the inode numbers. */
static int
next_batch(struct bd_search *big, const struct bd_search_item *last)
{
	if (last->type > BTRFS_INODE_EXTREF_KEY || (last->type == BTRFS_INODE_EXTREF_KEY &&
	    last->offset == UINT64_MAX)) {
		if (last->objectid >= BTRFS_LAST_FREE_OBJECTID)
			return -1;
		bd_search_from(big, (struct bd_key){ last->objectid + 1, BTRFS_INODE_ITEM_KEY, 0 });
		return 0;
	}
	return bd_search_after(big, last);
}

/* Searches one subvolume and writes what it finds. */
static void
walk_target(struct target *t, const struct opts *o, struct bd_search *big, struct ahead *ah,
    size_t j)
{
	struct walk w;
	struct bd_search_item last;
	struct inode in = { 0 };
	int pending = 0;

	memset(&w, 0, sizeof w);
	w.o = o;
	w.t = t;
	bd_search_init(&w.small, SMALL_BUF);
	t->ok = 1;
	if (!t->next) {
		t->ok = 0;            /* settle failed, said so */
		goto out;
	}
	/* (objectid, type, offset) compare as one key, so the range holds
	 * every item of the inodes; the kernel skips leaves older than start */
	bd_search_set(big, t->subvol, (struct bd_key){ TOP_DIR, BTRFS_INODE_ITEM_KEY, 0 },
	    (struct bd_key){ BTRFS_LAST_FREE_OBJECTID, BTRFS_INODE_EXTREF_KEY, UINT64_MAX },
	    t->start);
	for (;;) {
		if (bd_search_run(t->fd, big, UINT32_MAX) < 0) {
			bd_pfail(top_name(t), "tree search:");
			t->ok = 0;
			goto out;
		}
		if (!walk_items(&w, big, &in, &pending, &last))
			break;
		ahead_at(ah, j, last.objectid);
		if (next_batch(big, &last) < 0)
			break;
	}
	if (pending)
		emit_lookup(&w, &in);
out:
	cache_free(&w.dirs);
	bd_search_free(&w.small);
	free(w.buf);
}

/* the options into O; -g and -f into *GFLAG and *FFLAG */
static void
options(int argc, char **argv, struct opts *o, int *gflag, int *fflag)
{
	int c;

	while ((c = getopt(argc, argv, "g:S:c:us:x0tfvi:h")) != -1) {
		switch (c) {
		case 'g':
			if (bd_parse_u64(optarg, &o->gen) < 0)
				bd_usage(USAGE);
			*gflag = 1;
			break;
		case 'S': o->statedir = optarg; break;
		case 'c': o->cfile = optarg; break;
		case 'u': o->update = 1; break;
		case 's':
			if (bd_parse_size(optarg, &o->minsize) < 0)
				bd_usage(USAGE);
			break;
		case 'x': o->nonest = 1; break;
		case 'f': *fflag = 1; break;
		case 'v': o->verbose = 1; break;
		case 'i': o->counts = optarg; break;
		case '0':
		case 't':
			if (o->term >= 0)
				bd_usage(USAGE);
			o->term = c == '0' ? '\0' : '\n';
			break;
		case 'h':
			printf("usage: %s\n", USAGE);
			exit(bd_finish());
		default:
			bd_usage(USAGE);
		}
	}
}

int
main(int argc, char **argv)
{
	struct opts o = { .minsize = 1, .term = -1 };
	struct targets ts = { 0 };
	struct bd_search big;
	struct ahead *ah;
	FILE *cf = NULL;
	int gflag = 0, fflag = 0, bad = 0, i;
	size_t j;

	bd_init(argv[0]);
	bd_version(argc, argv);
	options(argc, argv, &o, &gflag, &fflag);
	if (fflag) {
		/* -f stands alone: nothing searched, no checkpoint */
		if (optind == argc || gflag || o.statedir || o.cfile || o.update ||
		    o.minsize != 1 || o.nonest || o.term >= 0)
			bd_usage(USAGE);
		findnew_files(argc - optind, argv + optind);
		bd_counts_end(o.verbose, o.counts);
		return bd_finish();
	}
	if (optind == argc || (gflag && o.statedir) || (o.cfile && o.update) ||
	    ((o.cfile || o.update) && !o.statedir))
		bd_usage(USAGE);

	/* every PATH is checked before anything is written: a bad one means
	 * nothing done */
	for (i = optind; i < argc; i++)
		if (add_path(&ts, argv[i], &o) < 0)
			bad = 1;
	if (!bad && o.cfile && !(cf = fopen(o.cfile, "w"))) {
		bd_pwarn(o.cfile, "%s", strerror(errno));
		bad = 1;
	}
	if (bad) {
		free_targets(&ts);
		return 2;
	}

	/* once per filesystem, before its first search */
	settle_all(&ts);
	bd_search_init(&big, BIG_BUF);
	ah = ahead_start(ts.t, ts.n);
	for (j = 0; j < ts.n; j++)
		walk_target(&ts.t[j], &o, &big, ah, j);
	ahead_stop(ah);
	bd_search_free(&big);
	/* checkpoints only once every record is out */
	if (fflush(stdout) == EOF || ferror(stdout))
		bd_die("write error:");
	if (checkpoint(&ts, &o, cf) < 0)
		return 2;
	free_targets(&ts);
	bd_counts_end(o.verbose, o.counts);
	return bd_finish();
}

/* bedup-findnew.h: what the files of bedup-findnew share.
 *   bedup-findnew.c  main, and the walk of one subvolume's tree
 *   dirs.c           names of inodes, and the cache of directory paths
 *   ahead.c          the threads reading the trees ahead of the walk
 *   subvols.c        the subvolumes to search, from the PATH arguments
 *   state.c          the commit before the search, checkpoint files */
#ifndef BEDUP_FINDNEW_H
#define BEDUP_FINDNEW_H

#include <stdint.h>
#include <linux/btrfs_tree.h>

#include "bedup.h"

/* A subvolume's top directory is always this inode. */
#define TOP_DIR BTRFS_FIRST_FREE_OBJECTID
/* The search buffer for single items (name look-ups, probes). */
#define SMALL_BUF (64u << 10)

struct opts {
	uint64_t gen;                 /* -g */
	const char *statedir;         /* -S */
	const char *cfile;            /* -c */
	int update;                   /* -u */
	uint64_t minsize;             /* -s */
	int nonest;                   /* -x */
	int term;                     /* -0: '\0', -t: '\n', records: -1 */
	int verbose;                  /* -v */
	const char *counts;           /* -i */
};

/* One subvolume to search. */
struct target {
	char fsid[BD_FSID_LEN + 1];
	uint64_t subvol;
	char *top;                    /* absolute path of its top directory, "" for "/" */
	int fd;                       /* open on that directory */
	uint64_t start;               /* report inodes changed in this transaction or later */
	uint64_t next;                /* the next start (see settle); 0: unknown */
	int ok;                       /* searched completely, no inode failed */
};

struct targets {
	struct target *t;
	size_t n, cap;
};

/* Directory inode -> its path below the top directory ("a/b"). */
struct dirslot {
	uint64_t ino;                 /* 0: empty */
	char *path;
};

#define DIRCACHE_MAX 65536           /* directories' paths cached, at most */

struct dircache {
	struct dirslot *s;
	size_t n, cap;                /* cap is a power of two */
};

/* The state of the search of one subvolume. */
struct walk {
	const struct opts *o;
	struct target *t;
	struct bd_search small;       /* for name look-ups, apart from the batch */
	struct dircache dirs;
	char *buf;                    /* the absolute path being built */
	size_t bufcap;
};

/* "/" for the top of the filesystem, for messages. */
const char *top_name(const struct target *t);

/* ---- dirs.c ---- */

/* Reads the first name of an INODE_REF or INODE_EXTREF item: the parent
 * directory and the name (not NUL-terminated). Returns 0, or -1 when the
 * item is too short for what it claims. */
int parse_name(const struct bd_search_item *it, uint64_t *parent, const char **name,
    size_t *len);

/* The first name of inode INO of the walked subvolume, looked up on its
 * own, in W's small buffer. Returns 0, or -1 with errno (ENOENT: it has no
 * name, deleted). */
int lookup_name(struct walk *w, uint64_t ino, uint64_t *parent, const char **name, size_t *len);

/* The path of directory DIR below the top directory: "" for the top,
 * else "a/b", cached in W. Returns NULL with errno on failure (ENOENT: a
 * directory on the way was deleted; ELOOP: a loop, renamed while we
 * walked). */
const char *dir_path(struct walk *w, uint64_t dir);

void cache_free(struct dircache *c);

/* ---- ahead.c ---- */

/* Reading ahead the trees of the targets: best effort, nothing but speed
 * depends on it. */
struct ahead;

/* Starts reading ahead the trees of the N targets T, but the start of the
 * first, which the walk reads at once. */
struct ahead *ahead_start(struct target *t, size_t n);

/* Tells the threads that the walk is at objectid INO of target J. */
void ahead_at(struct ahead *a, size_t j, uint64_t ino);

/* Stops and joins the threads, and frees A. */
void ahead_stop(struct ahead *a);

/* ---- subvols.c ---- */

/* Finds the subvolume holding directory ARG and adds it (and, without
 * -x, those nested below it), with their start generations. Returns 0,
 * or -1 after one line on stderr. */
int add_path(struct targets *ts, const char *arg, const struct opts *o);

void free_targets(struct targets *ts);

/* ---- state.c ---- */

/* Reads STATEDIR/FSID/SUBVOL.gen into T->start (0 when missing). Exits 2
 * when it cannot be read or does not hold a generation. */
void read_start(struct target *t, const char *statedir);

/* Commits every filesystem of TS once, before its first search, and
 * sets each target's next start (a warning and 0 where that fails). */
void settle_all(struct targets *ts);

/* Once every record is out: writes the checkpoints of the targets
 * searched completely, to CF (-c) or into the state directory (-u).
 * Returns 0, or -1 after a message when CF cannot be written. */
int checkpoint(const struct targets *ts, const struct opts *o, FILE *cf);

/* ---- files.c ---- */

/* -f FILE...: writes the record of each of the N FILES, in order; a FILE
 * that is not a regular file on btrfs gets one line on stderr and is left
 * out (bd_status 1). */
void findnew_files(int n, char **files);

#endif

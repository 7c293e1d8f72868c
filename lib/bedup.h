/* bedup.h: the one header of libbedup, one section per file of lib/. */
#ifndef BEDUP_H
#define BEDUP_H

#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

/* ---- err.c: messages, exit status, allocation, closing ------------- */

/* Program name for messages, and the exit status so far (0, or 1 once
 * something was skipped or failed; 2 once a side file the caller asked
 * for could not be written, bd_counts_end). The only global mutable
 * state. */
extern const char *bd_prog;
extern int bd_status;

/* Sets bd_prog from argv[0] (its last component). */
void bd_init(const char *argv0);

/* Prints "PROG: MSG" on stderr; a format ending in ':' appends
 * strerror(errno), as in sbase. bd_fail also sets bd_status to 1;
 * bd_die exits with status 2. */
void bd_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bd_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void bd_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* As bd_warn/bd_fail, with the message about PATH: "PROG: PATH: MSG",
 * PATH escaped as in records so that one problem is one line. */
void bd_pwarn(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bd_pfail(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "usage: USAGE" to stderr and exits 2. */
_Noreturn void bd_usage(const char *usage);

/* Flushes stdout and returns the exit status: bd_status, or 2 when
 * the output could not be written (a full disk must not look like
 * success). Call as "return bd_finish();" at the end of main. */
int bd_finish(void);

void *bd_emalloc(size_t n);
void *bd_ecalloc(size_t n, size_t size);
void *bd_erealloc(void *p, size_t n);
char *bd_estrdup(const char *s);

/* Closes FD and leaves errno as it was: for the paths that give up after
 * a failed call and must report that call's errno, not close's. */
void bd_close_keep(int fd);

/* ---- version.c: --version ------------------------------------------ */

/* When the first argument is "--version", prints "PROG VERSION" on
 * stdout (VERSION from the Makefile, the same for every program and
 * the bedup wrapper) and exits 0, or 2 if stdout fails. Call it right
 * after bd_init, before option parsing. */
void bd_version(int argc, char **argv);

/* ---- num.c: numbers on the command line and in records ------------ */

/* Parses a decimal uint64 with no sign, no spaces, no overflow.
 * Returns 0, or -1 with errno EINVAL (not a number) or ERANGE. */
int bd_parse_u64(const char *s, uint64_t *out);

/* Parses a size with an optional K, M, G or T suffix (powers of 1024),
 * as in "-s 1M". Returns 0 or -1 like bd_parse_u64. */
int bd_parse_size(const char *s, uint64_t *out);

/* ---- escape.c: the PATH escaping of RECORDS.md --------------------- */

/* Writes the N bytes of S to F escaped ("\\", "\t", "\n", "\r",
 * "\ooo" for other bytes < 0x20 and 0x7f). Returns 0, or -1 on a write
 * error. */
int bd_escape_write(FILE *f, const char *s, size_t n);

/* Returns the escaped form of the NUL-terminated S, freshly allocated. */
char *bd_escape_str(const char *s);

/* Decodes S (N bytes) in place; *OUTN gets the decoded length and a NUL
 * is stored after it. Returns 0, or -1 on an escape RECORDS.md does not
 * define (a lone backslash, "\x", "\400", a raw TAB or LF). */
int bd_unescape(char *s, size_t n, size_t *outn);

/* ---- json.c: JSON values from bytes ------------------------------- */

/* Returns 1 if the N bytes of S are UTF-8 (RFC 3629: no overlong forms,
 * no surrogates, nothing past U+10FFFF), else 0. */
int bd_utf8_valid(const char *s, size_t n);

/* Writes the N bytes of S to F as one JSON value: a string when they are
 * UTF-8 (quote, backslash and controls escaped, DEL as \u007f), else an
 * array of the byte values, as journalctl -o json does, so that any name
 * comes out exact and valid. Returns 0, or -1 on a write error. */
int bd_json_string(FILE *f, const char *s, size_t n);

/* Returns 1 if S is an integer as JSON writes one (-?(0|[1-9][0-9]*)). */
int bd_json_int_valid(const char *s);

/* ---- record.c: one file record ------------------------------------ */

#define BD_FSID_LEN 36
#define BD_HASH_LEN 32

struct bd_record {
	uint64_t size;
	char hash[BD_HASH_LEN + 1];   /* "-", or 32 lowercase hex digits */
	char fsid[BD_FSID_LEN + 1];   /* lowercase UUID with dashes */
	uint64_t subvol;
	uint64_t ino;
	uint64_t gen;
	char *path;                   /* decoded, NUL-terminated */
	size_t pathlen;
};

/* Parses LINE (LEN bytes, no trailing LF) into R. PATH is decoded in
 * place, so R->path points into LINE. Returns 0, or -1 with WHY (WHYLEN
 * bytes) holding what is wrong, such as "expected 7 fields, got 3". */
int bd_record_parse(char *line, size_t len, struct bd_record *r, char *why, size_t whylen);

/* The part of bd_record_parse that other line formats share: splits LINE
 * in place at TABs into exactly NF fields (FIELD[0..NF)) and checks the
 * six a record begins with, SIZE, a digest named HASHNAME ("HASH" allows
 * "-" as well), FSID, SUBVOL, INO and GEN, into R. Returns 0, or -1 with
 * WHY as bd_record_parse. */
int bd_record_fields(char *line, size_t len, size_t nf, char **field, const char *hashname,
    struct bd_record *r, char *why, size_t whylen);

/* Writes R as one record line. Returns 0 or -1 on a write error. */
int bd_record_write(FILE *f, const struct bd_record *r);

/* True when A and B name the same inode: (FSID, SUBVOL, INO). */
int bd_record_same_inode(const struct bd_record *a, const struct bd_record *b);

/* True when A and B belong to one group: equal (SIZE, HASH, FSID). */
int bd_record_same_group(const struct bd_record *a, const struct bd_record *b);

/* Copies R with its own copy of the path (free with bd_record_free). */
void bd_record_copy(struct bd_record *dst, const struct bd_record *src);
void bd_record_free(struct bd_record *r);

/* ---- input.c: the shared input loop -------------------------------- */

/* Reads records from the files named on the command line, or stdin when
 * there are none ("-" is stdin too). Malformed lines are reported as
 * "PROG: [FILE: ]line N: WHY", set bd_status to 1 and are skipped; empty
 * lines are ignored. */
struct bd_input {
	char **files;
	int nfiles;
	int idx;
	FILE *f;
	const char *name;             /* NULL for stdin */
	uint64_t lineno;
	char *line;
	size_t cap;
	struct bd_record peek;        /* a record read ahead by bd_group_next */
	int have_peek;
};

/* Opens every FILE up front and exits 2 if one cannot be opened, so that
 * a typo does nothing at all. */
void bd_input_init(struct bd_input *in, int nfiles, char **files);

/* Reads the next record into R (valid until the next call). Returns 1,
 * or 0 at the end of input. Exits 2 on a read error. */
int bd_input_next(struct bd_input *in, struct bd_record *r);

/* Reports a problem with the current line: "PROG: [FILE: ]line N: MSG"
 * and sets bd_status to 1. */
void bd_input_fail(const struct bd_input *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void bd_input_close(struct bd_input *in);

/* Counts the records of IN's input and the bytes their SIZE fields add
 * up to, before it is read (after bd_input_init): every input read
 * through and put back where it was. Returns 0, or -1 when an input is
 * not a regular file (a pipe cannot be read twice). Malformed lines are
 * not counted (the real reading reports them). */
int bd_input_count(const struct bd_input *in, uint64_t *records, uint64_t *bytes);

/* ---- group.c: runs of records with equal (SIZE, HASH, FSID) ------- */

struct bd_group {
	struct bd_record *r;          /* owned copies */
	size_t n;
	size_t cap;
};

/* Reads the next group (a maximal run of adjacent records with equal
 * SIZE, HASH and FSID; RECORDS.md) into G, replacing what it held.
 * Returns the number of records, 0 at the end of input. */
size_t bd_group_next(struct bd_input *in, struct bd_group *g);
void bd_group_free(struct bd_group *g);

/* Hard links count as one member (RECORDS.md): sets SEEN[i] (G->n bytes)
 * to 1 when record I of G names the inode of an earlier record of G (a
 * hard link of it, or the same record again), else to 0, and returns how
 * many distinct inodes G holds. Sorts the records' indexes, so that a
 * group of any size takes n log n; every stage that counts members calls
 * it once per group. */
size_t bd_group_links(const struct bd_group *g, char *seen);

/* ---- btrfs.c: what the stages ask of btrfs ------------------------- */

/* Writes the filesystem UUID of the btrfs file FD is on to OUT as 36
 * lowercase characters. Returns 0, or -1 with errno (ENOTTY: not btrfs). */
int bd_fsid_fd(int fd, char out[BD_FSID_LEN + 1]);

/* The id of the subvolume (tree root) FD is in. Returns 0 or -1/errno. */
int bd_subvol_fd(int fd, uint64_t *id);

/* The inode's generation as FS_IOC_GETVERSION reports it. The kernel
 * gives only its low 32 bits; compare with (uint32_t)rec->gen. */
int bd_igen_fd(int fd, uint32_t *gen);

/* The filesystem's current generation (transaction id), from
 * BTRFS_IOC_FS_INFO. Any change made after this call gets a generation
 * at least this large. Returns 0 or -1/errno. */
int bd_fs_generation_fd(int fd, uint64_t *gen);

/* The checksum geometry of the filesystem FD is on (BTRFS_IOC_FS_INFO),
 * for bd_csum_digest. Returns 0 or -1/errno (ENOTSUP: a kernel that does
 * not say). */
struct bd_csum_fs {
	uint32_t sectorsize, nodesize, csum_size;
};
int bd_csum_fs_fd(int fd, struct bd_csum_fs *c);

/* The inode flags (FS_IOC_GETFLAGS: FS_IMMUTABLE_FL, FS_APPEND_FL,
 * FS_NOCOW_FL...) of FD into *FLAGS. Returns 0 or -1/errno. */
int bd_iflags_fd(int fd, int *flags);

/* Writes out the dirty data of the filesystem FD is on (syncfs): its
 * trees then say where every byte written before the call lies (a tree
 * search sees no data still in the page cache). Returns 0 or -1/errno. */
int bd_writeout_fd(int fd);

/* Writes out the dirty data of the filesystem FD is on (syncfs) and
 * commits its running transaction (libbtrfsutil's start and wait sync),
 * whose id goes to *TRANSID: every change made before the call is then
 * in the trees a search reads, and every later change gets a larger
 * generation. Returns 0 or -1/errno. */
int bd_commit_fd(int fd, uint64_t *transid);

/* Rewrites where FD's data lies, never what it is (DEFRAG_RANGE of the
 * whole file, writeback started). Root needs no write access to the file
 * (CAP_SYS_ADMIN). Returns 0 or -1/errno. */
int bd_defrag_fd(int fd);

/* Sets *RO to 1 when the subvolume FD is in is read-only (a read-only
 * snapshot), else 0. Returns 0 or -1/errno. */
int bd_subvol_readonly_fd(int fd, int *ro);

/* The first path of inode INO of the subvolume whose root directory FD
 * is (BTRFS_IOC_INO_PATHS, nothing of the file opened), relative to that
 * root, into BUF (BUFSZ bytes), NUL-terminated. Returns 0, or -1/errno:
 * ENOENT (no such inode, or no name left), ENAMETOOLONG (BUF too small). */
int bd_ino_paths_fd(int fd, uint64_t ino, char *buf, size_t bufsz);

/* The same of subvolume ID, asked through FD, any fd on its filesystem
 * (the root tree searched: CAP_SYS_ADMIN), so that no file of it need be
 * opened. Returns 0 or -1/errno (ENOENT: no such subvolume). */
int bd_subvol_readonly_id(int fd, uint64_t id, int *ro);

/* ---- open.c: opening the inode a record names --------------------- */

/* Opens PATH with FLAGS (O_NOFOLLOW is added), refusing a symlink in any
 * component of the path (ELOOP), whatever its length: paths longer than
 * PATH_MAX are opened piece by piece. Returns an fd or -1/errno. */
int bd_open_nofollow(const char *path, int flags);

/* Reopens PFD, an O_PATH fd, for reading through /proc/self/fd: the very
 * inode PFD holds, whatever has since been renamed over its path.
 * O_RDONLY|O_NOATIME|O_CLOEXEC plus EXTRA, without O_NOATIME where the
 * caller may not set it. Closes PFD. Returns an fd or -1/errno. Every
 * fd it returns counts as a file opened (bd_counts_get). */
int bd_reopen(int pfd, int extra);

enum bd_open_result {
	BD_OPEN_OK = 0,
	BD_OPEN_GONE,                 /* no such file (deleted; renamed, without handles) */
	BD_OPEN_OTHER,                /* R names no regular file, or its inode is gone and
	                               * its path names another inode or no regular file */
	BD_OPEN_ERROR,                /* see errno */
	BD_OPEN_SIZE,                 /* bd_member_check: the inode named, but its
	                               * size is not R's (written since) */
};

/* Opens the file R names for reading (O_RDONLY|O_NOATIME|O_CLOEXEC plus
 * EXTRA flags) and checks it is a regular file and the inode R names:
 * same FSID, SUBVOL, INO and generation. The inode is opened by its file
 * handle (bd_open_handle), wherever it now is; R's path is walked, with
 * bd_open_nofollow, only without a handle (no CAP_DAC_READ_SEARCH) or
 * when the handle names no inode, to tell GONE from OTHER. Never opens a
 * non-regular file for reading (a FIFO, a device). On BD_OPEN_OK, *FD is
 * the open file and ST its stat. Safe to call from several threads. */
enum bd_open_result bd_open_record(const struct bd_record *r, int extra, int *fd, struct stat *st);

/* What went wrong, for a message, for a result other than BD_OPEN_OK
 * (uses errno for BD_OPEN_ERROR). */
const char *bd_open_strerror(enum bd_open_result res);

/* ---- fiemap.c: physical layout of a file's data -------------------- */

struct bd_extent {
	uint64_t logical;
	uint64_t physical;
	uint64_t length;
	uint32_t flags;               /* FIEMAP_EXTENT_* */
};

struct bd_extents {
	struct bd_extent *e;
	size_t n;
	size_t cap;
};

/* Reads the extent map of FD (FIEMAP_FLAG_SYNC: dirty data is written
 * out first, as btrfs would map dirty overwritten pages to their old
 * extent). Returns 0 or -1/errno. */
int bd_extents_get(int fd, struct bd_extents *x);

/* Writes out FD's dirty data and waits until the tree says where it lies
 * (FIEMAP_FLAG_SYNC, no extent asked for): a tree search (bd_layout_get)
 * then reads the file as it is. Returns 0 or -1/errno. */
int bd_extents_sync(int fd);

/* True when A and B map every byte to the same physical place, i.e. the
 * two files already share all their data (no delalloc, inline or
 * unknown extents, which cannot be compared). */
int bd_extents_same(const struct bd_extents *a, const struct bd_extents *b);

/* Bytes of X in extents the kernel marks shared. */
uint64_t bd_extents_shared_bytes(const struct bd_extents *x);

/* Bytes of data X maps in [0, LEN): holes do not count. */
uint64_t bd_extents_data_bytes(const struct bd_extents *x, uint64_t len);

/* Whether some of X's data lies inline in the metadata (small files):
 * no data extent to share, and FIDEDUPERANGE would only copy it. */
int bd_extents_inline(const struct bd_extents *x);

void bd_extents_free(struct bd_extents *x);

/* ---- atomic.c: replace a file atomically --------------------------- */

/* Starts a new version of PATH: a temp file in the same directory.
 * Write to the returned stream, then bd_atomic_commit (fflush, fsync,
 * rename over PATH, fsync of the directory) or bd_atomic_abort. A crash
 * at any point leaves the old or the new file, never a broken one. */
struct bd_atomic {
	FILE *f;
	char *path;
	char *tmp;
};
int bd_atomic_open(struct bd_atomic *a, const char *path);
int bd_atomic_commit(struct bd_atomic *a);
void bd_atomic_abort(struct bd_atomic *a);

/* Syncs the directory holding PATH, so that a rename or a creation in it
 * is durable. Returns 0, or -1 with errno set. */
int bd_sync_dir(const char *path);

/* ---- pack.c: FSID and HASH as 16 raw bytes ------------------------ */

/* Packs a valid FSID field (36 characters) into 16 bytes, and back. */
void bd_fsid_pack(const char *fsid, uint8_t out[16]);
void bd_fsid_unpack(const uint8_t in[16], char out[BD_FSID_LEN + 1]);

/* Packs a valid HASH field: returns 0 for "-" (OUT zeroed), 1 for a
 * digest (32 hex digits into 16 bytes). Unpack writes 32 hex digits. */
int bd_hash_pack(const char *hash, uint8_t out[16]);
void bd_hash_unpack(const uint8_t in[16], char out[BD_HASH_LEN + 1]);

/* An inode, (FSID, SUBVOL, INO), packed to sort and search tables of
 * them. bd_inode_cmp is a qsort/bsearch comparator; a struct that starts
 * with a struct bd_inode can be sorted with it too. */
struct bd_inode {
	uint8_t fsid[16];
	uint64_t subvol, ino;
};
void bd_inode_key(struct bd_inode *k, const struct bd_record *r);
int bd_inode_cmp(const void *a, const void *b);


/* ---- member.c: opening a group member ------------------------------ */

/* The one identity check of a member: opens the file R names
 * (bd_open_record: regular, same FSID, SUBVOL, INO and generation) and
 * checks its size is still R's SIZE. Returns BD_OPEN_OK with *FD open and
 * ST its stat, else why not (*FD is -1; with BD_OPEN_SIZE, ST is the stat
 * that differs, for the message). Reports nothing: each stage says what
 * it wants, when it wants (bedup-hash notes it in input order). */
enum bd_open_result bd_member_check(const struct bd_record *r, int *fd, struct stat *st);

/* The size half of bd_member_check, for a file opened before (ST its stat
 * now): BD_OPEN_OK, or BD_OPEN_SIZE when ST's size is not R's. */
enum bd_open_result bd_member_size(const struct bd_record *r, const struct stat *st);

/* bd_member_check with the report bedup-lock and bedup-clone make: returns
 * the fd, or -1: silently when the file is gone (nothing is left to do),
 * after a note and bd_status 1 when it changed or cannot be opened. */
int bd_member_open(const struct bd_record *r, struct stat *st);


/* ---- source.c: the member the others share from ------------------- */

/* What the source rule weighs of a member. */
struct bd_source {
	int inl;                      /* its data lies inline: no extent to share */
	int ro;                       /* in a read-only subvolume: cannot change */
	uint64_t shared;              /* bytes in extents already shared */
};

/* The source rule: true when A is a better source than B. A member with
 * a data extent comes first (inline data cannot be shared), then one that
 * must stay as it is (read-only), then the one whose data is most shared
 * already (fewest new extents); on a tie B stays, so that a loop over the
 * members in order keeps the first. bedup-clone picks its source with it
 * and bedup-hash reads through that member first, so the two agree. */
int bd_source_better(const struct bd_source *a, const struct bd_source *b);

/* ---- dedupe.c: sharing data with FIDEDUPERANGE ---------------------- */

#define BD_DEDUPE_CHUNK (16u << 20)   /* bytes per call (btrfs's own cap) */
#define BD_DEDUPE_TRIES 3             /* retries of EAGAIN, 1 s apart */

enum bd_dedupe_state {
	BD_DEDUPE_PENDING,
	BD_DEDUPE_DONE,               /* all LEN bytes shared */
	BD_DEDUPE_DIFFERS,            /* the kernel found different bytes */
	BD_DEDUPE_BUSY,               /* still EAGAIN after the retries */
	BD_DEDUPE_ERROR,              /* see err */
};

struct bd_dedupe_dest {
	int fd;                       /* set by the caller; may be read-only */
	enum bd_dedupe_state state;
	uint64_t done;                /* bytes from offset 0 shared so far */
	int err;                      /* errno for BD_DEDUPE_ERROR */
	int tries;
};

/* How many destinations one FIDEDUPERANGE call takes (its argument must
 * fit in one page): 127 with 4 KiB pages. */
size_t bd_dedupe_max_dests(void);

/* Shares bytes [0, LEN) of SRC into the same range of each of the N
 * destinations, BD_DEDUPE_CHUNK bytes and up to bd_dedupe_max_dests()
 * destinations per call, up to and including the unaligned tail
 * at EOF. Sets each destination's state, done and err. */
void bd_dedupe(int src, uint64_t len, struct bd_dedupe_dest *d, size_t n);

/* ---- samples.c: sample digests kept beside a catalog ---------------- */

/* bedup-hash keeps the sample digest of a file (XXH3-128 of the 3 blocks
 * it samples: first, middle, last) in CATALOG.samples, one line per inode,
 * fields separated by one TAB, in no particular order:
 *     SIZE  SAMPLE  FSID  SUBVOL  INO  GEN
 * SAMPLE is 32 lowercase hex digits. No PATH: it is not a record file. An
 * entry is trusted like a catalog digest: while FSID, SUBVOL, INO, GEN
 * and SIZE match and bedup-group -u has not dropped it (it drops the entry
 * of every inode its input reports changed). */
struct bd_sample {
	struct bd_inode key;          /* first: sorts with bd_inode_cmp */
	uint64_t gen, size;
	uint8_t sample[16];
};

/* Returns CATALOG.samples, freshly allocated. */
char *bd_samples_path(const char *catalog);

/* Reading a samples file, one entry at a time. */
struct bd_samples {
	FILE *f;
	const char *path;
	uint64_t lineno;
	uint64_t bad;                 /* malformed lines skipped so far */
	char *line;
	size_t cap;
};

/* Opens PATH (from bd_samples_path). Returns 1, 0 when there is no such
 * file (an empty cache), or -1/errno. */
int bd_samples_open(struct bd_samples *s, const char *path);

/* Reads the next entry into E. Returns 1, 0 at the end, or -1/errno on a
 * read error. A malformed line is reported ("PROG: PATH: line N: WHY"),
 * sets bd_status to 1, is counted in BAD and skipped. */
int bd_samples_next(struct bd_samples *s, struct bd_sample *e);
void bd_samples_close(struct bd_samples *s);

/* Writes E as one line. Returns 0, or -1 on a write error. */
int bd_sample_write(FILE *f, const struct bd_sample *e);

/* ---- catalog.c (cathead.c, catline.c, catmerge.c, catsort.c,
 * catconv.c): what earlier runs learnt of each file ------------------- */

/* The catalog of one filesystem: for each tracked inode, keyed by
 * (SIZE, SUBVOL, INO), its GEN and what is known of its content (the
 * whole-file digest, a sample digest, the checksum key). Plain text
 * that less(1) reads, no paths (a path is found from the inode when
 * needed, inopath.c):
 *	CATALOG		the base: a header line "# bedup catalog 4 FSID",
 *			then "SIZE TAB SUBVOL TAB INO TAB GEN TAB DIGEST TAB
 *			SAMPLE [TAB KEY [TAB LAYOUT]]", sorted by SIZE,
 *			SUBVOL, INO (numbers), DIGEST and SAMPLE 32 hex
 *			digits or "-", KEY 16 hex digits, or "-" before a
 *			LAYOUT, LAYOUT 8 hex digits, each only when known
 *			(versions 3 and 2, read too, never have LAYOUT; 2
 *			has no KEY). A commit onto a base of an older
 *			version writes a new base, so that an older bedup
 *			never meets lines it cannot read.
 *	CATALOG.journal	changes since the base was written: lines of the
 *			same form, DIGEST "gone" for an entry removed, in
 *			batches each ended by a line "# commit"; what
 *			follows the last "# commit" (a batch cut by a crash)
 *			is ignored. A later line wins over an earlier one and
 *			over the base.
 * A lookup is a bisection of the base (pread, a few KiB a probe: no
 * memory that grows with it) plus a bisection of the
 * journal (held sorted in memory, small: it is merged into a new base
 * once it passes a fraction of it, or a fixed bound). An update appends
 * one batch (fsync) and merges when due: the new base replaces the old
 * (bd_atomic), then the journal is emptied; replaying a journal twice
 * gives the same catalog, so a crash leaves old or new. A catalog of the
 * old form (one record per line, RECORDS.md) is converted on open, its
 * digests kept. Files are made mode 0600. */
#define BD_CAT_DIGEST 1u   /* DIGEST holds the whole-file digest */
#define BD_CAT_SAMPLE 2u   /* SAMPLE holds the sample digest */
#define BD_CAT_GONE   4u   /* removed (in a batch, or a journal line) */
#define BD_CAT_KEY    8u   /* KEY holds the checksum key (bd_csum_key) */
#define BD_CAT_LAYOUT 16u  /* LAYOUT holds the layout tag (bd_layout_tag) */
#define BD_LAYOUT_TAG_LEN 4  /* bytes of a layout tag */

struct bd_cat_entry {
	uint64_t size, subvol, ino, gen;
	uint8_t digest[16], sample[16];
	uint8_t key[8];
	uint8_t layout[BD_LAYOUT_TAG_LEN];
	unsigned flags;
};

struct bd_catalog;

/* Opens the catalog at PATH (missing: empty) and its journal, converting
 * an old-form catalog. Returns NULL, errno set, on failure (EPROTO: PATH
 * is no catalog, or of another version; it is left as it is). Malformed
 * lines are reported (bd_fail, "PATH: line N: ...") and left out: the
 * journal's at open, the base's when a scan meets them (bd_catalog_each,
 * a merge, which drops them); lookups step over them silently. */
struct bd_catalog *bd_catalog_open(const char *path);
void bd_catalog_close(struct bd_catalog *c);

/* The FSID the catalog is of (bd_fsid_pack form): 0 and FSID filled, or
 * -1 when it has none yet (empty). bd_catalog_set_fsid gives an empty
 * catalog its FSID, written with the next batch. */
int bd_catalog_fsid(const struct bd_catalog *c, uint8_t fsid[16]);
void bd_catalog_set_fsid(struct bd_catalog *c, const uint8_t fsid[16]);

/* bd_catalog_open for a stage whose first record is of the filesystem
 * FIRST (packed): the catalog's FSID into FSID, FIRST's when it has none
 * yet (empty), which it then takes with UPDATE (the stage writes it).
 * Returns NULL, errno set, as bd_catalog_open. */
struct bd_catalog *bd_catalog_open_for(const char *path, const uint8_t first[16], int update,
    uint8_t fsid[16]);

/* The entry of (SIZE, SUBVOL, INO) into *E: 1, or 0 when there is none
 * (or it was removed). Safe from several threads at once. */
int bd_catalog_find(const struct bd_catalog *c, uint64_t size, uint64_t subvol, uint64_t ino,
    struct bd_cat_entry *e);

/* Every entry of SIZE, sorted by SUBVOL then INO, into *V (grown as
 * needed, *CAP its room); returns how many. Not thread-safe. */
size_t bd_catalog_bucket(const struct bd_catalog *c, uint64_t size, struct bd_cat_entry **v,
    size_t *cap);

/* Calls FN for every entry, in order (size, subvol, ino), streaming;
 * stops and returns FN's value when it is not 0; returns 0, or -1 on a
 * read error. */
int bd_catalog_each(const struct bd_catalog *c, int (*fn)(void *, const struct bd_cat_entry *),
    void *arg);

/* A batch of changes: bd_catalog_put adds (or, with BD_CAT_GONE,
 * removes) one entry, kept in a temp file, any order; bd_catalog_commit
 * appends them to the journal as one batch, durably, and merges the
 * journal into a new base when due (or always, with FORCE, as for a
 * batch too big to keep in memory). Returns 0, or -1 with errno set
 * (the catalog on disk stays as it was or has the whole batch). */
void bd_catalog_put(struct bd_catalog *c, const struct bd_cat_entry *e);
int bd_catalog_commit(struct bd_catalog *c, int force);

/* A new base without the entries of the subvolumes SUBVOLS[0..N), the
 * journal merged: returns 0 or -1 (errno). */
int bd_catalog_drop_subvols(struct bd_catalog *c, const uint64_t *subvols, size_t n);

/* One catalog line (the form above, no LF) into *E: 0, or -1 with WHY
 * (WHYLEN bytes) saying what is wrong. DIGEST "gone" (BD_CAT_GONE) is
 * taken only with GONE_OK (a journal's line, a batch); LINE is not
 * changed. */
int bd_cat_entry_parse(const char *line, size_t len, struct bd_cat_entry *e, int gone_ok,
    char *why, size_t whylen);

/* Writes E as one catalog line. Returns 0, or -1 on a write error. */
int bd_cat_entry_write(FILE *f, const struct bd_cat_entry *e);

/* ---- inopath.c: a path from an inode ------------------------------- */

/* Paths of inodes of one filesystem, mounted at its top level (subvolid
 * 5) at MOUNT: BTRFS_IOC_INO_PATHS from the subvolume's root directory
 * (opened once, kept: at most 64), nothing of the file opened. Needs
 * CAP_SYS_ADMIN. bd_inopaths_open returns NULL with errno, EINVAL when
 * MOUNT is not the top level of a btrfs. */
struct bd_inopaths;
struct bd_inopaths *bd_inopaths_open(const char *mount);
void bd_inopaths_close(struct bd_inopaths *p);

/* A path of (SUBVOL, INO) under MOUNT, freshly allocated, or NULL with
 * errno (ENOENT: no such inode, or no name: deleted; ENOTDIR...: the
 * subvolume is not reachable under MOUNT). */
char *bd_inopath(struct bd_inopaths *p, uint64_t subvol, uint64_t ino);

/* ---- handle.c: opening an inode by its btrfs file handle ----------- */

/* Opens with FLAGS (O_CLOEXEC added) the inode R names by its file handle
 * (SUBVOL, INO, low 32 bits of GEN) on the filesystem FSID: no path walk,
 * so no symlink is followed and a renamed file is still found. The
 * filesystem is found once per process from a directory above R's path.
 * Needs CAP_DAC_READ_SEARCH. Opens whatever type the inode is: pass
 * O_PATH and check it before a real open. Returns an fd, or -1 with
 * errno: ESTALE (no such inode: deleted, or another generation), EPERM
 * (no capability), ENODEV (no directory of FSID found), EINVAL (SUBVOL is
 * no subvolume id), or what open_by_handle_at(2) gives. */
int bd_open_handle(const struct bd_record *r, int flags);

/* A directory on R's filesystem (FSID): the nearest directory above R's
 * path, opened O_DIRECTORY without following any symlink and checked to
 * be on FSID with BTRFS_IOC_FS_INFO, found once per filesystem and
 * process and kept open (do not close it). For what any fd on the
 * filesystem serves: a tree search (bd_layout_get), FS_INFO. Returns the
 * fd, or -1 with errno ENODEV (no directory of FSID found). Thread-safe. */
int bd_fs_fd(const struct bd_record *r);

/* ---- csum.c: what btrfs's data checksums tell of a file ------------ */

struct bd_layout;

/* Into OUT, a digest of the checksums btrfs keeps of every sector of the
 * data L references (the layout of a file of SIZE bytes, bd_layout_get),
 * read through FD, any fd on the filesystem: files with different
 * digests hold different bytes; equal digests prove nothing. Reads only
 * the checksum tree (CAP_SYS_ADMIN), with BUF (BUFSZ bytes, at least
 * 64 KiB more than a search header) as scratch. Returns 1, 0 when the
 * file has data without checksums of its bytes (holes, inline,
 * compressed, preallocated, nodatasum, a layout gone stale), or
 * -1/errno. */
int bd_csum_digest(int fd, const struct bd_csum_fs *c, const struct bd_layout *l, uint64_t size,
    void *buf, size_t bufsz, uint8_t out[16]);

/* The checksum key of a file of layout L and SIZE into KEY[0..8), the
 * first 8 bytes of its digest (bd_csum_digest, with its arguments and
 * return), KEY[8..16) zeroed: a key held where a digest goes. */
int bd_csum_key_of(int fd, const struct bd_csum_fs *c, const struct bd_layout *l, uint64_t size,
    void *buf, size_t bufsz, uint8_t key[16]);

/* The checksum key of the inode R names (SUBVOL, INO, of R's generation
 * and size; R's path is not used) into KEY: the first 8 bytes of its
 * checksum digest, read through FD, any fd on R's filesystem, from the
 * trees, nothing of the file opened (bd_layout_get, bd_csum_digest, with
 * BUF and BUFSZ as there). C, zeroed before the first call, is filled
 * then (one C per filesystem). Files whose keys differ hold different
 * bytes. Returns 1, 0 when it has none (no such inode now, or no
 * checksums of its bytes: see bd_csum_digest), or -1/errno. */
int bd_csum_key(int fd, const struct bd_record *r, struct bd_csum_fs *c, void *buf,
    size_t bufsz, uint8_t key[8]);

/* ---- search.c: reading btrfs trees (TREE_SEARCH_V2) ---------------- */

/* A key of a btrfs tree: (objectid, type, offset) compare as one number. */
struct bd_key {
	uint64_t obj;
	uint32_t type;
	uint64_t off;
};

/* One item a search returned: its key, the transaction that last wrote
 * its leaf, and its LEN bytes of DATA (in the search's buffer: valid until
 * the next run). */
struct bd_search_item {
	uint64_t objectid, offset, transid;
	uint32_t type, len;
	const unsigned char *data;
};

/* A search of one tree: the kernel's argument block with its buffer, and
 * a cursor over the items of the last run. */
struct btrfs_ioctl_search_args_v2;
struct bd_search {
	struct btrfs_ioctl_search_args_v2 *a;
	size_t cap;                   /* bytes of buffer after the block */
	int own;                      /* a buffer of its own, grown as needed */
	uint32_t left;                /* items of the last run not yet read */
	size_t off;
};

/* Sets S up with a buffer of its own, CAP bytes to start with (free with
 * bd_search_free), or with the caller's BUF of BUFSZ bytes, block
 * included, which is never grown. */
void bd_search_init(struct bd_search *s, size_t cap);
void bd_search_init_buf(struct bd_search *s, void *buf, size_t bufsz);
void bd_search_free(struct bd_search *s);

/* Aims S at the items of tree TREE with keys from MIN to MAX, in leaves
 * written in transaction MINTRANS or later (0: all). */
void bd_search_set(struct bd_search *s, uint64_t tree, struct bd_key min, struct bd_key max,
    uint64_t mintrans);

/* Moves the start of the range to K, or to just after item IT (returns
 * -1 when IT had the last key there can be): the next run goes on from
 * there. */
void bd_search_from(struct bd_search *s, struct bd_key k);
int bd_search_after(struct bd_search *s, const struct bd_search_item *it);

/* Runs the search, for at most NR items, from fd FD (any file of the
 * filesystem). Returns the number of items found (0: none left in the
 * range), or -1/errno: EOVERFLOW when the first item does not fit a
 * caller's buffer (a buffer of S's own is grown instead), EPERM without
 * CAP_SYS_ADMIN. */
int bd_search_run(int fd, struct bd_search *s, uint32_t nr);

/* Reads the next item of the last run into IT. Returns 1, or 0 when
 * they are all read. */
int bd_search_next(struct bd_search *s, struct bd_search_item *it);

/* After every item of a run for at most NR items is read: 1 when the run
 * ended at the end of the range (fewer than NR items, and room left for
 * any item), so that no further run is needed; 0 when one may find more. */
int bd_search_exhausted(const struct bd_search *s, uint32_t nr);

/* ---- layout.c: a file's extent references, by tree search --------- */

/* One reference of a file to a data extent: a file extent item of the
 * subvolume tree, or several that go on one from the other (contiguous
 * in the file and in the extent), merged. */
struct bd_ref {
	uint64_t fileoff;             /* where in the file (the item key's offset) */
	uint64_t bytenr, disk_len;    /* the extent: disk_bytenr, disk_num_bytes */
	uint64_t offset, len;         /* the slice of its (decoded) data used */
	uint8_t type;                 /* BTRFS_FILE_EXTENT_REG or _PREALLOC */
	uint8_t compression;          /* BTRFS_COMPRESS_* */
};

/* A file's inode item and its references to data extents, in file order.
 * Holes (disk_bytenr 0, or no item at all) are not references: they hold
 * no data to share. References starting at or past the size are left
 * out. INL is set when some data lies inline in the metadata. */
struct bd_layout {
	int found;                    /* the inode item was there */
	uint64_t gen, size, flags;    /* its generation, size, BTRFS_INODE_* flags */
	uint32_t mode, nlink;
	int inl;
	struct bd_ref *r;
	size_t n, cap;
};

/* Reads the layout of inode INO of subvolume SUBVOL with one tree search
 * (BTRFS_IOC_TREE_SEARCH_V2) through FD, any fd on the filesystem (not
 * the file's own: nothing of the file is opened or read, only metadata),
 * with S as scratch, or a buffer of its own when S is NULL. Needs
 * CAP_SYS_ADMIN. What the tree holds is what was written out: a file
 * with dirty pages may hold other bytes already, and its inode item
 * (size, links) is brought up to date at the next commit. Returns 0, or
 * -1/errno (ENOENT: no such inode; EINVAL: SUBVOL is no subvolume id;
 * EPERM: no capability). */
int bd_layout_get(int fd, uint64_t subvol, uint64_t ino, struct bd_search *s,
    struct bd_layout *l);

/* The layout of the file open as FD, the inode R names (checked by the
 * caller), its dirty data written out first (bd_extents_sync): by
 * bd_layout_get through FD, or where the search is refused
 * (EPERM: no CAP_SYS_ADMIN) from its FIEMAP map (bd_extents_get), whose
 * physical places stand for the references, and its fstat. FIEMAP cannot
 * compare a compressed extent: a map with one has no references, the
 * same as no other file's. Returns 0 or -1/errno. */
int bd_layout_fd(int fd, const struct bd_record *r, struct bd_layout *l);

/* bd_layout_fd for a caller that has just written out FD's dirty data
 * itself, with a FIEMAP_FLAG_SYNC map (bd_extents_get): FIEMAP walks
 * the backrefs of each extent, so one map, not two. */
int bd_layout_synced(int fd, const struct bd_record *r, struct bd_layout *l);

/* True when L is the inode R names as it was recorded: a regular file,
 * still linked, of R's generation (its low 32 bits, as bd_open_record
 * compares it) and size. */
int bd_layout_is(const struct bd_layout *l, const struct bd_record *r);

/* Orders layouts (a qsort comparator's result): 0 for equal ones. */
int bd_layout_cmp(const struct bd_layout *a, const struct bd_layout *b);

/* True when files of layouts A and B (of one size) already share all
 * their data: the same references (extent, slice, compression, file
 * offset), compressed or not, at least one, and no inline data. A file
 * of holes only shares nothing: there is nothing to free. */
int bd_layout_same(const struct bd_layout *a, const struct bd_layout *b);

/* A tag of L into TAG: a digest of its references, all that
 * bd_layout_same compares, so that files whose layouts were tagged alike
 * share all their data (but for a collision of 32 bits, which for files
 * of one content, the only ones compared, with a layout or two each, is
 * a missed sharing once in billions). Returns 1, or 0 when
 * L can share nothing (inline data, or holes only): no tag. */
int bd_layout_tag(const struct bd_layout *l, uint8_t tag[BD_LAYOUT_TAG_LEN]);

/* Whether L has no data in an extent (all its data inline, or holes
 * only): sharing another file's data into it frees nothing. A file whose
 * first bytes lie inline and the rest in extents (a small file extended,
 * on a compressed filesystem) can be shared into; only inline data
 * cannot be shared from. */
int bd_layout_no_extent(const struct bd_layout *l);

/* Whether all L's data lies inline, none in an extent: nothing to share,
 * from or into, and nothing read from a data block. A file of holes only
 * is not inline. */
int bd_layout_all_inline(const struct bd_layout *l);

/* Bytes of L's references in [0, LEN): holes do not count. */
uint64_t bd_layout_data_bytes(const struct bd_layout *l, uint64_t len);

void bd_layout_free(struct bd_layout *l);

/* ---- progress.c: the progress line of long work ------------------- */

enum { BD_PROGRESS_OFF, BD_PROGRESS_TTY, BD_PROGRESS_LINES };

struct bd_progress {
	int mode;
	int fd;                       /* where it is drawn */
	const char *phase;            /* "hashing" */
	uint64_t files, bytes;        /* done */
	uint64_t total_files, total_bytes;  /* 0: not known */
	struct timespec start, last;
	int drawn;                    /* drawn at least once */
	int shown;                    /* a terminal line is on screen */
};

/* Starts P for work called PHASE, drawn on FD: a line that rewrites
 * itself (\r, erase to the end) when FD is a terminal, else, with
 * VERBOSE, a plain line every few seconds, else nothing. */
void bd_progress_start(struct bd_progress *p, const char *phase, int fd, int verbose);

/* Seconds since bd_progress_start, whatever the mode. */
double bd_progress_elapsed(const struct bd_progress *p);

/* The whole of the work, when known: it adds "of N" and the time left. */
void bd_progress_total(struct bd_progress *p, uint64_t files, uint64_t bytes);

/* FILES and BYTES more done; draws the line when it is time (the first
 * call at once, then every 0.2 s on a terminal, 5 s as plain lines). */
void bd_progress_add(struct bd_progress *p, uint64_t files, uint64_t bytes);

/* N bytes as "12.3 MiB" (powers of 1024, "512 B" below 1 KiB) into BUF
 * (LEN bytes, 16 are enough); returns BUF. */
const char *bd_human(char *buf, size_t len, double n);

/* The work is over: the line drawn once more, as it ends (a plain line,
 * or on a terminal at once erased, the cursor left at the start of the
 * empty line). Nothing when nothing was drawn. */
void bd_progress_end(struct bd_progress *p);

/* ---- outcome.c: what became of a group member ---------------------- */

/* Writes to F the line "STATUS BYTES FSID SRCSUBVOL SRCINO DSTSUBVOL DSTINO
 * SRC DST" (TAB-separated, paths escaped as in records) about DST and the
 * source SRC its data was shared from; with SRC NULL (a member left out
 * before any source was picked) SRCSUBVOL, SRCINO and SRC are "-".
 * bedup-clone(1) lists the statuses. Returns 0, or -1 on a write error. */
int bd_outcome_write(FILE *f, const char *status, uint64_t bytes, const struct bd_record *src,
    const struct bd_record *dst);

/* ---- swap.c: active swap files ------------------------------------ */

/* Returns 1 when FD is an active swap file (in /proc/swaps: the same
 * device and inode), 0 when not, -1/errno when that cannot be told.
 * swapon keeps the file open for writing, so a file a read lease is
 * refused for is asked this before it is called in use. */
int bd_swapfile_fd(int fd);

/* ---- counts.c: what a run cost: files opened, bytes read ----------- */

/* What a process cost so far. OPENED counts the opens of files for
 * reading through bd_reopen: each open of a file a record names
 * (bd_open_record, bedup-findnew -f), a file opened twice counting twice;
 * not the O_PATH opens before them, nor the input, the output, the
 * catalog, temp files or directories. READ is the bytes the process, all
 * its threads, read from storage: /proc/self/io's read_bytes, which counts
 * what missed the page cache, file data and btrfs metadata alike,
 * FIDEDUPERANGE's compares included (the kernel reads for them in the
 * caller's context). */
struct bd_counts {
	uint64_t opened;
	uint64_t read;
};

/* One more file opened (bd_reopen calls it). Safe from any thread. */
void bd_count_open(void);

/* The counts so far into C. Returns 0, or -1/errno when /proc/self/io
 * cannot tell the bytes read (C->read is then 0). Call it after the
 * threads that did the work have ended. */
int bd_counts_get(struct bd_counts *c);

/* The end of a stage's run: with VERBOSE, the line "PROG: N files opened,
 * B bytes (H) read from storage" on stderr; with PATH, the line "PROG N B"
 * appended to PATH in one write (B "-" when unknown), for a caller that
 * runs several stages, or one several times, to add up. A failed write
 * is said and sets bd_status to 2. Call it last, before bd_finish. */
void bd_counts_end(int verbose, const char *path);

/* ---- tempfile.c: scratch files ------------------------------------- */

/* A new temp file in $TMPDIR (or /tmp), open for writing and reading,
 * already unlinked: it goes with the process, whatever happens. Exits on
 * failure. */
FILE *bd_tempfile(void);

#endif

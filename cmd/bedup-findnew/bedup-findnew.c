/* bedup-findnew: the regular files of btrfs subvolumes that changed since
 * a generation, as records, found by searching the subvolume trees. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <btrfsutil.h>

#include "bedup.h"

#define USAGE "bedup-findnew [-g GEN | -S STATEDIR [-c FILE | -u]] [-s MINSIZE] [-x] [-0 | -t] PATH..."

/* A subvolume's top directory is always this inode. */
#define TOP_DIR BTRFS_FIRST_FREE_OBJECTID
/* The kernel allows up to 16 MiB per TREE_SEARCH_V2 call, but 1 MiB
 * measured twice as fast (16 MiB is faulted in and leaves the caches). */
#define BIG_BUF (1u << 20)
#define SMALL_BUF (64u << 10)
/* Reading ahead: the search reads one leaf at a time, each a wait for
 * the disk; threads searching later parts of the trees meanwhile (their
 * results thrown away) have the leaves in the cache when it gets there. */
#define AHEAD_THREADS 4
#define AHEAD_PARTS 16                /* per subvolume */
#define AHEAD_BUF (256u << 10)

struct opts {
	uint64_t gen;                 /* -g */
	const char *statedir;         /* -S */
	const char *cfile;            /* -c */
	int update;                   /* -u */
	uint64_t minsize;             /* -s */
	int nonest;                   /* -x */
	int term;                     /* -0: '\0', -t: '\n', records: -1 */
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

/* A TREE_SEARCH_V2 argument block with its buffer. */
struct search {
	struct btrfs_ioctl_search_args_v2 *a;
	size_t cap;                   /* bytes of buffer after the header */
};

/* Directory inode -> its path below the top directory ("a/b"). */
struct dirslot {
	uint64_t ino;                 /* 0: empty */
	char *path;
};

struct dircache {
	struct dirslot *s;
	size_t n, cap;                /* cap is a power of two */
};

/* The state of the search of one subvolume. */
struct walk {
	const struct opts *o;
	struct target *t;
	struct search small;          /* for name look-ups, apart from the batch */
	struct dircache dirs;
	char *buf;                    /* the absolute path being built */
	size_t bufcap;
};

/* A regular file the search kept, waiting for one of its names. */
struct inode {
	uint64_t ino, gen, size;
};

static void
search_init(struct search *s, size_t cap)
{
	s->a = bd_emalloc(sizeof *s->a + cap);
	s->cap = cap;
}

/* Runs the search in s->a->key (nr_items set by the caller). Grows the
 * buffer when one item does not fit. Returns the number of items, or -1
 * with errno. */
static int
search_run(int fd, struct search *s)
{
	uint32_t want = s->a->key.nr_items;

	for (;;) {
		s->a->buf_size = s->cap;
		s->a->key.nr_items = want;
		if (ioctl(fd, BTRFS_IOC_TREE_SEARCH_V2, s->a) == 0)
			return (int)s->a->key.nr_items;
		if (errno != EOVERFLOW || s->a->buf_size <= s->cap)
			return -1;
		s->cap = s->a->buf_size;
		s->a = bd_erealloc(s->a, sizeof *s->a + s->cap);
	}
}

/* The search key for the items of TREE from (obj, type, 0) to
 * (maxobj, maxtype, max) in leaves of transaction MINTRANS or later. */
static void
search_key(struct search *s, uint64_t tree, uint64_t obj, uint32_t type,
    uint64_t maxobj, uint32_t maxtype, uint64_t mintrans)
{
	struct btrfs_ioctl_search_key *k = &s->a->key;

	memset(k, 0, sizeof *k);
	k->tree_id = tree;
	k->min_objectid = obj;
	k->min_type = type;
	k->max_objectid = maxobj;
	k->max_type = maxtype;
	k->max_offset = UINT64_MAX;
	k->min_transid = mintrans;
	k->max_transid = UINT64_MAX;
}

/* Reads the first name of an INODE_REF or INODE_EXTREF item: the parent
 * directory and the name (not NUL-terminated). Returns 0, or -1 when the
 * item is too short for what it claims. */
static int
parse_name(const struct btrfs_ioctl_search_header *h, const unsigned char *d,
    uint64_t *parent, const char **name, size_t *len)
{
	struct btrfs_inode_ref ref;
	struct btrfs_inode_extref ext;

	if (h->type == BTRFS_INODE_REF_KEY) {
		if (h->len < sizeof ref)
			return -1;
		memcpy(&ref, d, sizeof ref);
		*parent = h->offset;
		*len = le16toh(ref.name_len);
		*name = (const char *)d + sizeof ref;
		return *len && *len <= h->len - sizeof ref ? 0 : -1;
	}
	if (h->len < sizeof ext)
		return -1;
	memcpy(&ext, d, sizeof ext);
	*parent = le64toh(ext.parent_objectid);
	*len = le16toh(ext.name_len);
	*name = (const char *)d + sizeof ext;
	return *len && *len <= h->len - sizeof ext ? 0 : -1;
}

/* The first name of inode INO of the walked subvolume, looked up on its
 * own. Returns 0, or -1 with errno (ENOENT: it has no name, deleted). */
static int
lookup_name(struct walk *w, uint64_t ino, uint64_t *parent, const char **name, size_t *len)
{
	struct btrfs_ioctl_search_header h;
	int n;

	search_key(&w->small, w->t->subvol, ino, BTRFS_INODE_REF_KEY,
	    ino, BTRFS_INODE_EXTREF_KEY, 0);
	w->small.a->key.nr_items = 1;
	n = search_run(w->t->fd, &w->small);
	if (n < 0)
		return -1;
	if (n == 0) {
		errno = ENOENT;
		return -1;
	}
	memcpy(&h, w->small.a->buf, sizeof h);
	if (parse_name(&h, w->small.a->buf + sizeof h, parent, name, len) < 0) {
		errno = EUCLEAN;
		return -1;
	}
	return 0;
}

static char **
cache_slot(struct dircache *c, uint64_t ino)
{
	size_t i = (size_t)(ino * 0x9e3779b97f4a7c15u) & (c->cap - 1);

	while (c->s[i].ino && c->s[i].ino != ino)
		i = (i + 1) & (c->cap - 1);
	c->s[i].ino = ino;
	return &c->s[i].path;
}

static const char *
cache_get(struct dircache *c, uint64_t ino)
{
	size_t i = (size_t)(ino * 0x9e3779b97f4a7c15u) & (c->cap - 1);

	if (!c->cap)
		return NULL;
	for (; c->s[i].ino; i = (i + 1) & (c->cap - 1))
		if (c->s[i].ino == ino)
			return c->s[i].path;
	return NULL;
}

/* Stores PATH (taken over) for directory INO. */
static void
cache_put(struct dircache *c, uint64_t ino, char *path)
{
	struct dirslot *old = c->s;
	size_t i, oldcap = c->cap;

	if (2 * (c->n + 1) > c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->s = bd_ecalloc(c->cap, sizeof *c->s);
		for (i = 0; i < oldcap; i++)
			if (old[i].ino)
				*cache_slot(c, old[i].ino) = old[i].path;
		free(old);
	}
	*cache_slot(c, ino) = path;
	c->n++;
}

static void
cache_free(struct dircache *c)
{
	size_t i;

	for (i = 0; i < c->cap; i++)
		free(c->s[i].path);
	free(c->s);
	memset(c, 0, sizeof *c);
}

/* The path of directory DIR below the top directory: "" for the top,
 * else "a/b". Walks the INODE_REFs up to the top, so any length works
 * (INO_LOOKUP stops near 4 KiB). Returns NULL with errno on failure
 * (ENOENT: a directory on the way was deleted; ELOOP: a loop, renamed
 * while we walked). */
static const char *
dir_path(struct walk *w, uint64_t dir)
{
	struct step {
		uint64_t ino;
		char *name;
	} *chain = NULL;
	size_t n = 0, cap = 0, i, len, blen;
	uint64_t cur = dir, parent;
	const char *base, *name;
	char *p;
	int e;

	for (;;) {
		if (cur == TOP_DIR) {
			base = "";
			break;
		}
		if ((base = cache_get(&w->dirs, cur)))
			break;
		for (i = 0; i < n; i++)
			if (chain[i].ino == cur) {
				errno = ELOOP;
				goto fail;
			}
		if (lookup_name(w, cur, &parent, &name, &len) < 0)
			goto fail;
		if (n == cap)
			chain = bd_erealloc(chain, (cap = cap ? 2 * cap : 16) * sizeof *chain);
		chain[n].ino = cur;
		chain[n].name = bd_emalloc(len + 1);
		memcpy(chain[n].name, name, len);
		chain[n].name[len] = '\0';
		n++;
		cur = parent;
	}
	/* build the paths top down, caching each directory on the way */
	while (n-- > 0) {
		blen = strlen(base);
		len = strlen(chain[n].name);
		p = bd_emalloc(blen + 1 + len + 1);
		memcpy(p, base, blen);
		if (blen)
			p[blen++] = '/';
		memcpy(p + blen, chain[n].name, len + 1);
		free(chain[n].name);
		cache_put(&w->dirs, chain[n].ino, p);
		base = p;
	}
	free(chain);
	return base;
fail:
	e = errno;
	while (n-- > 0)
		free(chain[n].name);
	free(chain);
	errno = e;
	return NULL;
}

static const char *
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
keep(const struct walk *w, const struct btrfs_ioctl_search_header *h,
    const unsigned char *d, struct inode *in)
{
	struct btrfs_inode_item ii;

	if (h->len < sizeof ii)
		return 0;
	memcpy(&ii, d, sizeof ii);
	/* the leaf is new, but this item may not be: each inode item keeps
	 * the transaction that last changed it */
	if (le64toh(ii.transid) < w->t->start || !S_ISREG(le32toh(ii.mode)) ||
	    le32toh(ii.nlink) == 0 || le64toh(ii.size) < w->o->minsize)
		return 0;
	in->ino = h->objectid;
	in->gen = le64toh(ii.generation);
	in->size = le64toh(ii.size);
	return 1;
}

/* Writes out the filesystem's dirty data and commits its transaction, T;
 * sets *NEXT to T + 1. Every change made before this call is then in the
 * trees the search reads (an inode item keeps the size on disk, and
 * metadata waits in memory until a commit), and every later change gets
 * a generation of at least T + 1, so the next search from *NEXT misses
 * nothing and repeats nothing already committed. */
static int
settle(int fd, uint64_t *next)
{
	uint64_t t;

	if (syncfs(fd) < 0 || ioctl(fd, BTRFS_IOC_START_SYNC, &t) < 0 ||
	    ioctl(fd, BTRFS_IOC_WAIT_SYNC, &t) < 0)
		return -1;
	*next = t + 1;
	return 0;
}

/* ---- reading ahead ---------------------------------------------------- */

/* One part of a subvolume's tree, objectids FROM to TO. */
struct part {
	struct target *t;
	uint64_t from, to;
};

struct ahead {
	pthread_mutex_t mu;
	struct target *t;             /* the targets, in the walk's order */
	struct part *p;
	size_t n, next;
	size_t at;                    /* the target the walk is in */
	uint64_t ino;                 /* and the objectid it has reached */
	pthread_t th[AHEAD_THREADS];
	size_t nth;
};

/* Whether T's tree holds an item of objectid X or above (up to the last
 * inode number). */
static int
has_from(struct target *t, struct search *s, uint64_t x)
{
	search_key(s, t->subvol, x, 0, BTRFS_LAST_FREE_OBJECTID, UINT8_MAX, 0);
	s->a->key.nr_items = 1;
	return search_run(t->fd, s) > 0;
}

/* The highest inode number in T's tree, found by bisection; 0 if unsure */
static uint64_t
last_ino(struct target *t, struct search *s)
{
	uint64_t lo = TOP_DIR, hi = BTRFS_LAST_FREE_OBJECTID, mid;

	if (!has_from(t, s, lo))
		return 0;
	/* lo has an item at or above it, hi none */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (has_from(t, s, mid))
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* whether the walk is past objectid INO of target T (A locked) */
static int
passed(const struct ahead *a, const struct target *t, uint64_t ino)
{
	size_t j = (size_t)(t - a->t);

	return j < a->at || (j == a->at && a->ino >= ino);
}

/* the walk is at objectid INO of target J */
static void
ahead_at(struct ahead *a, size_t j, uint64_t ino)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->at = j;
	a->ino = ino;
	pthread_mutex_unlock(&a->mu);
}

static void
ahead_stop(struct ahead *a)
{
	size_t i;

	ahead_at(a, SIZE_MAX, 0);
	for (i = 0; i < a->nth; i++)
		pthread_join(a->th[i], NULL);
	pthread_mutex_destroy(&a->mu);
	free(a->p);
}

static void *
ahead_run(void *arg)
{
	struct ahead *a = arg;
	struct search s;
	struct part p;
	struct btrfs_ioctl_search_header h;
	size_t i, off;
	int n, skip;

	search_init(&s, AHEAD_BUF);
	for (;;) {
		pthread_mutex_lock(&a->mu);
		/* parts the walk has reached need no reading ahead */
		while (a->next < a->n && passed(a, a->p[a->next].t, a->p[a->next].to))
			a->next++;
		if (a->next == a->n) {
			pthread_mutex_unlock(&a->mu);
			break;
		}
		p = a->p[a->next++];
		pthread_mutex_unlock(&a->mu);
		search_key(&s, p.t->subvol, p.from, BTRFS_INODE_ITEM_KEY, p.to, UINT8_MAX,
		    p.t->start);
		for (;;) {
			s.a->key.nr_items = UINT32_MAX;
			if ((n = search_run(p.t->fd, &s)) <= 0)
				break;
			for (i = 0, off = 0; i < (size_t)n; i++) {
				memcpy(&h, s.a->buf + off, sizeof h);
				off += sizeof h + h.len;
			}
			if (h.objectid >= p.to)
				break;
			pthread_mutex_lock(&a->mu);
			skip = passed(a, p.t, h.objectid);
			pthread_mutex_unlock(&a->mu);
			if (skip)
				break;        /* the walk overtook this part */
			s.a->key.min_objectid = h.objectid + 1;
			s.a->key.min_type = 0;
			s.a->key.min_offset = 0;
		}
	}
	free(s.a);
	return NULL;
}

/* Starts reading ahead the trees of the N targets T, but the start of the
 * first, which the walk reads at once. Best effort: nothing but speed
 * depends on it. */
static void
ahead_start(struct ahead *a, struct target *t, size_t n)
{
	struct search s;
	uint64_t last, step, x;
	size_t j;

	memset(a, 0, sizeof *a);
	pthread_mutex_init(&a->mu, NULL);
	a->t = t;
	search_init(&s, SMALL_BUF);
	a->p = bd_ecalloc(n * AHEAD_PARTS, sizeof *a->p);
	for (j = 0; j < n; j++) {
		if (!t[j].next || !(last = last_ino(&t[j], &s)))
			continue;
		step = (last - TOP_DIR) / AHEAD_PARTS + 1;
		for (x = TOP_DIR; x <= last; x += step) {
			if (j == 0 && x == TOP_DIR)
				continue;
			a->p[a->n++] = (struct part){ &t[j], x, x + step - 1 < last ? x + step - 1 : last };
		}
	}
	free(s.a);
	for (a->nth = 0; a->nth < AHEAD_THREADS && a->nth < a->n; a->nth++)
		if (pthread_create(&a->th[a->nth], NULL, ahead_run, a) != 0)
			break;
}

/* Searches one subvolume and writes what it finds. */
static void
walk_target(struct target *t, const struct opts *o, struct search *big, struct ahead *ah,
    size_t j)
{
	struct walk w;
	struct btrfs_ioctl_search_header h = { 0 };
	struct btrfs_ioctl_search_key *k = &big->a->key;
	struct inode in = { 0 };
	const unsigned char *d;
	const char *name;
	uint64_t parent;
	size_t off, len;
	int n, i, pending = 0;

	memset(&w, 0, sizeof w);
	w.o = o;
	w.t = t;
	search_init(&w.small, SMALL_BUF);
	t->ok = 1;
	if (!t->next) {
		t->ok = 0;            /* settle failed, said so */
		goto out;
	}
	/* (objectid, type, offset) compare as one key, so the range holds
	 * every item of the inodes; the kernel skips leaves older than start */
	search_key(big, t->subvol, TOP_DIR, BTRFS_INODE_ITEM_KEY,
	    BTRFS_LAST_FREE_OBJECTID, BTRFS_INODE_EXTREF_KEY, t->start);
	for (;;) {
		k->nr_items = UINT32_MAX;
		n = search_run(t->fd, big);
		if (n < 0) {
			bd_pfail(top_name(t), "tree search:");
			t->ok = 0;
			goto out;
		}
		if (n == 0)
			break;
		off = 0;
		for (i = 0; i < n; i++) {
			memcpy(&h, big->a->buf + off, sizeof h);
			d = big->a->buf + off + sizeof h;
			off += sizeof h + h.len;
			if (pending && (h.objectid != in.ino || h.type > BTRFS_INODE_EXTREF_KEY)) {
				emit_lookup(&w, &in);
				pending = 0;
			}
			if (h.type == BTRFS_INODE_ITEM_KEY)
				pending = keep(&w, &h, d, &in);
			else if (pending && (h.type == BTRFS_INODE_REF_KEY ||
			    h.type == BTRFS_INODE_EXTREF_KEY)) {
				if (parse_name(&h, d, &parent, &name, &len) == 0)
					emit(&w, &in, parent, name, len);
				else
					emit_lookup(&w, &in);
				pending = 0;
			}
		}
		ahead_at(ah, j, h.objectid);
		/* go on after the last item; past an inode's names nothing of
		 * it is wanted, so skip to the next inode */
		k->min_objectid = h.objectid;
		k->min_type = h.type;
		k->min_offset = h.offset;
		if (h.type > BTRFS_INODE_EXTREF_KEY || (h.type == BTRFS_INODE_EXTREF_KEY &&
		    h.offset == UINT64_MAX)) {
			if (h.objectid >= BTRFS_LAST_FREE_OBJECTID)
				break;
			k->min_objectid++;
			k->min_type = BTRFS_INODE_ITEM_KEY;
			k->min_offset = 0;
		} else if (h.offset == UINT64_MAX) {
			k->min_type++;
			k->min_offset = 0;
		} else {
			k->min_offset++;
		}
	}
	if (pending)
		emit_lookup(&w, &in);
out:
	cache_free(&w.dirs);
	free(w.small.a);
	free(w.buf);
}

/* Reads STATEDIR/FSID/SUBVOL.gen into T->start (0 when missing). Exits 2
 * when it cannot be read or does not hold a generation. */
static void
read_start(struct target *t, const char *statedir)
{
	char *path, buf[32];
	ssize_t n;
	int fd;

	if (asprintf(&path, "%s/%s/%" PRIu64 ".gen", statedir, t->fsid, t->subvol) < 0)
		bd_die("asprintf:");
	t->start = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		free(path);
		return;
	}
	if (fd < 0 || (n = read(fd, buf, sizeof buf - 1)) < 0) {
		bd_pwarn(path, "%s", strerror(errno));
		exit(2);
	}
	close(fd);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	if (bd_parse_u64(buf, &t->start) < 0) {
		bd_pwarn(path, "not a generation number");
		exit(2);
	}
	free(path);
}

/* Adds the subvolume whose top directory is FD, at absolute path TOP
 * (taken over), unless it is there already. */
static void
add_target(struct targets *ts, int fd, char *top, const char *fsid, uint64_t subvol)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		if (ts->t[i].subvol == subvol && strcmp(ts->t[i].fsid, fsid) == 0) {
			close(fd);
			free(top);
			return;
		}
	if (ts->n == ts->cap)
		ts->t = bd_erealloc(ts->t, (ts->cap = ts->cap ? 2 * ts->cap : 8) * sizeof *ts->t);
	memset(&ts->t[ts->n], 0, sizeof ts->t[ts->n]);
	memcpy(ts->t[ts->n].fsid, fsid, sizeof ts->t[ts->n].fsid);
	ts->t[ts->n].subvol = subvol;
	ts->t[ts->n].top = top;
	ts->t[ts->n].fd = fd;
	ts->n++;
}

/* Can this subvolume be searched (root only)? A one-item search. */
static int
probe(int fd, uint64_t subvol)
{
	struct search s;
	int r;

	search_init(&s, SMALL_BUF);
	search_key(&s, subvol, TOP_DIR, BTRFS_INODE_ITEM_KEY, TOP_DIR, BTRFS_INODE_ITEM_KEY, 0);
	s.a->key.nr_items = 1;
	r = search_run(fd, &s);
	free(s.a);
	return r < 0 ? -1 : 0;
}

/* Adds every subvolume nested below target T that can be reached by its
 * path; one that cannot is skipped with a warning. Returns 0, or -1 with
 * errno when they cannot be listed. */
static int
add_nested(struct targets *ts, size_t ti)
{
	struct btrfs_util_subvolume_iterator *it;
	enum btrfs_util_error err;
	char fsid[BD_FSID_LEN + 1];
	struct stat st;
	uint64_t id, got;
	char *rel, *abs;
	int fd;

	/* add_target may move ts->t: keep copies */
	memcpy(fsid, ts->t[ti].fsid, sizeof fsid);

	err = btrfs_util_create_subvolume_iterator_fd(ts->t[ti].fd, 0, 0, &it);
	if (err)
		return -1;
	while ((err = btrfs_util_subvolume_iterator_next(it, &rel, &id)) == BTRFS_UTIL_OK) {
		if (asprintf(&abs, "%s/%s", ts->t[ti].top, rel) < 0)
			bd_die("asprintf:");
		free(rel);
		/* seen from here it must be that subvolume's top directory */
		fd = bd_open_nofollow(abs, O_RDONLY | O_DIRECTORY);
		if (fd < 0 || fstat(fd, &st) < 0 || st.st_ino != TOP_DIR ||
		    bd_subvol_fd(fd, &got) < 0 || got != id) {
			bd_pwarn(abs, "subvolume %" PRIu64 " is not reachable at this path, skipped", id);
			if (fd >= 0)
				close(fd);
			free(abs);
			continue;
		}
		add_target(ts, fd, abs, fsid, id);
	}
	btrfs_util_destroy_subvolume_iterator(it);
	return err == BTRFS_UTIL_ERROR_STOP_ITERATION ? 0 : -1;
}

/* Finds the subvolume holding directory ARG and adds it (and, without
 * -x, those nested below it). Returns 0, or -1 after one line on stderr. */
static int
add_path(struct targets *ts, const char *arg, const struct opts *o)
{
	char fsid[BD_FSID_LEN + 1], *abs, *slash;
	struct stat st, pst;
	uint64_t subvol;
	size_t first = ts->n, i;
	int fd, pfd;

	abs = realpath(arg, NULL);
	if (!abs) {
		bd_pwarn(arg, "%s", strerror(errno));
		return -1;
	}
	fd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		bd_pwarn(arg, "%s", strerror(errno));
		goto fail;
	}
	if (bd_fsid_fd(fd, fsid) < 0) {
		if (errno == ENOTTY)
			bd_pwarn(arg, "not on a btrfs filesystem");
		else
			bd_pwarn(arg, "%s", strerror(errno));
		goto fail;
	}
	/* up to the top directory of its subvolume; a subvolume is one
	 * st_dev, so a change of st_dev means its top is not visible */
	while (st.st_ino != TOP_DIR) {
		pfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0 || fstat(pfd, &pst) < 0 || pst.st_dev != st.st_dev ||
		    pst.st_ino == st.st_ino || !(slash = strrchr(abs, '/'))) {
			bd_pwarn(arg, "the top directory of its subvolume is not visible");
			if (pfd >= 0)
				close(pfd);
			goto fail;
		}
		slash[slash == abs] = '\0';
		close(fd);
		fd = pfd;
		st = pst;
	}
	if (bd_subvol_fd(fd, &subvol) < 0) {
		bd_pwarn(arg, "%s", strerror(errno));
		goto fail;
	}
	if (probe(fd, subvol) < 0) {
		bd_pwarn(arg, "cannot search: %s", strerror(errno));
		goto fail;
	}
	if (strcmp(abs, "/") == 0)
		*abs = '\0';
	add_target(ts, fd, abs, fsid, subvol);
	if (!o->nonest && ts->n > first && add_nested(ts, first) < 0) {
		bd_pwarn(arg, "cannot list nested subvolumes: %s", strerror(errno));
		return -1;
	}
	for (i = first; i < ts->n; i++)
		if (o->statedir)
			read_start(&ts->t[i], o->statedir);
		else
			ts->t[i].start = o->gen;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(abs);
	return -1;
}

static void
free_targets(struct targets *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++) {
		close(ts->t[i].fd);
		free(ts->t[i].top);
	}
	free(ts->t);
	memset(ts, 0, sizeof *ts);
}

/* Commits T's next start into STATEDIR/FSID/SUBVOL.gen, atomically. */
static void
save_start(const struct target *t, const char *statedir)
{
	struct bd_atomic a;
	char *dir, *path;

	if (asprintf(&dir, "%s/%s", statedir, t->fsid) < 0 ||
	    asprintf(&path, "%s/%" PRIu64 ".gen", dir, t->subvol) < 0)
		bd_die("asprintf:");
	/* the catalogs there list every file: keep them to root */
	if ((mkdir(statedir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(dir, 0700) < 0 && errno != EEXIST))
		bd_pfail(dir, "%s", strerror(errno));
	else if (bd_atomic_open(&a, path) < 0)
		bd_pfail(path, "%s", strerror(errno));
	else if (fprintf(a.f, "%" PRIu64 "\n", t->next) < 0) {
		bd_pfail(path, "%s", strerror(errno));
		bd_atomic_abort(&a);
	} else if (bd_atomic_commit(&a) < 0)
		bd_pfail(path, "%s", strerror(errno));
	free(dir);
	free(path);
}

int
main(int argc, char **argv)
{
	struct opts o = { .minsize = 1, .term = -1 };
	struct targets ts = { 0 };
	struct search big;
	struct ahead ah;
	FILE *cf = NULL;
	int c, gflag = 0, bad = 0, i;
	size_t j, k;

	bd_init(argv[0]);
	bd_version(argc, argv);
	while ((c = getopt(argc, argv, "g:S:c:us:x0th")) != -1) {
		switch (c) {
		case 'g':
			if (bd_parse_u64(optarg, &o.gen) < 0)
				bd_usage(USAGE);
			gflag = 1;
			break;
		case 'S': o.statedir = optarg; break;
		case 'c': o.cfile = optarg; break;
		case 'u': o.update = 1; break;
		case 's':
			if (bd_parse_size(optarg, &o.minsize) < 0)
				bd_usage(USAGE);
			break;
		case 'x': o.nonest = 1; break;
		case '0':
		case 't':
			if (o.term >= 0)
				bd_usage(USAGE);
			o.term = c == '0' ? '\0' : '\n';
			break;
		case 'h':
			printf("usage: %s\n", USAGE);
			return bd_finish();
		default:
			bd_usage(USAGE);
		}
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
	for (j = 0; j < ts.n; j++) {
		for (k = 0; k < j && strcmp(ts.t[k].fsid, ts.t[j].fsid) != 0; k++)
			;
		if (k < j)
			ts.t[j].next = ts.t[k].next;
		else if (settle(ts.t[j].fd, &ts.t[j].next) < 0)
			bd_pfail(top_name(&ts.t[j]), "cannot commit the running transaction:");
	}
	search_init(&big, BIG_BUF);
	ahead_start(&ah, ts.t, ts.n);
	for (j = 0; j < ts.n; j++)
		walk_target(&ts.t[j], &o, &big, &ah, j);
	ahead_stop(&ah);
	free(big.a);
	/* checkpoints only once every record is out */
	if (fflush(stdout) == EOF || ferror(stdout))
		bd_die("write error:");
	for (j = 0; j < ts.n; j++) {
		if (!ts.t[j].ok)
			continue;
		if (cf && fprintf(cf, "%s\t%" PRIu64 "\t%" PRIu64 "\n",
		    ts.t[j].fsid, ts.t[j].subvol, ts.t[j].next) < 0)
			break;
		if (o.update)
			save_start(&ts.t[j], o.statedir);
	}
	if (cf && (fflush(cf) == EOF || ferror(cf) || fclose(cf) == EOF)) {
		bd_pwarn(o.cfile, "%s", strerror(errno));
		return 2;
	}
	free_targets(&ts);
	return bd_finish();
}

/* catalog.c: the catalog of what earlier runs learnt: the header, the
 * base mapped and searched by bisection (as look(1) does), and lookups
 * through the journal held in memory. Updates are in catmerge.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "catalog.h"

#define HEADER "# bedup catalog "
#define VERSION_2 "2 "

int
cat_header_write(FILE *f, const struct bd_catalog *c)
{
	char fsid[BD_FSID_LEN + 1] = "-";

	if (c->has_fsid)
		bd_fsid_unpack(c->fsid, fsid);
	return fprintf(f, HEADER VERSION_2 "%s\n", fsid) < 0 ? -1 : 0;
}

/* the line of the base at OFF: its end (the LF, or the end of the map) */
static size_t
line_end(const struct bd_catalog *c, size_t off)
{
	const char *p = memchr(c->map + off, '\n', c->len - off);

	return p ? (size_t)(p - c->map) : c->len;
}

static int
base_line(const struct bd_catalog *c, size_t off, struct bd_cat_entry *e, size_t *next,
    char *why, size_t whylen)
{
	size_t end = line_end(c, off);

	*next = end < c->len ? end + 1 : end;
	return bd_cat_entry_parse(c->map + off, end - off, e, 0, why, whylen);
}

/* the header: "# bedup catalog 2 FSID"; the rest of the base is read as
 * entries whatever it holds, so a bad FSID only loses the FSID */
static int
header(struct bd_catalog *c)
{
	size_t end = line_end(c, 0), n = sizeof HEADER - 1;
	const char *p = c->map + n;
	char fsid[BD_FSID_LEN + 1];
	uint8_t raw[16];
	size_t i;

	c->body = end < c->len ? end + 1 : end;
	if (end < n + 2 || memcmp(p, VERSION_2, 2) != 0) {
		bd_pfail(c->path, "line 1: not a catalog of version 2");
		errno = EPROTO;
		return -1;
	}
	p += 2;
	if (end - (size_t)(p - c->map) == 1 && *p == '-')
		return 0;
	if (end - (size_t)(p - c->map) == BD_FSID_LEN) {
		memcpy(fsid, p, BD_FSID_LEN);
		fsid[BD_FSID_LEN] = '\0';
		bd_fsid_pack(fsid, raw);
		bd_fsid_unpack(raw, fsid);
		for (i = 0; i < BD_FSID_LEN && fsid[i] == p[i]; i++)
			;
		if (i == BD_FSID_LEN) {
			memcpy(c->fsid, raw, 16);
			c->has_fsid = 1;
			return 0;
		}
	}
	bd_pfail(c->path, "line 1: bad FSID");
	return 0;
}

void
cat_unmap(struct bd_catalog *c)
{
	if (c->map)
		munmap((void *)c->map, c->len);
	c->map = NULL;
	c->len = c->body = 0;
}

/* the journal may hold an eighth of the base (a line is ~60 bytes), at
 * least 4096 and at most 65536 entries; BEDUP_CATALOG_JOURNAL_MAX sets it
 * (for tests) */
static size_t
journal_max(const struct bd_catalog *c)
{
	const char *s = getenv("BEDUP_CATALOG_JOURNAL_MAX");
	size_t n = c->len / 60 / 8;
	uint64_t v;

	if (s && bd_parse_u64(s, &v) == 0)
		return (size_t)v;
	if (n > 65536)
		n = 65536;
	return n < 4096 ? 4096 : n;
}

/* 1 when the base is of the old form (records), else 0 or -1/errno */
static int
map_base(struct bd_catalog *c)
{
	struct stat st;
	void *m;
	int fd;

	cat_unmap(c);
	if ((fd = open(c->path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0) {
		bd_close_keep(fd);
		return -1;
	}
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	bd_close_keep(fd);
	if (m == MAP_FAILED)
		return -1;
	c->map = m;
	c->len = (size_t)st.st_size;
	madvise(m, c->len, MADV_RANDOM);
	if (c->len < sizeof HEADER - 1 || memcmp(c->map, HEADER, sizeof HEADER - 1) != 0)
		return 1;
	return header(c);
}

/* the journal's bound follows the base's size */
static int
map(struct bd_catalog *c)
{
	int r = map_base(c);

	c->jmax = journal_max(c);
	return r;
}

int
cat_map(struct bd_catalog *c)
{
	int r = map(c);

	if (r > 0) {
		cat_unmap(c);
		errno = EPROTO;
		return -1;
	}
	return r;
}

/* The pages of the base a process touched count in its RSS as long as
 * they stay mapped: a scan lets go of what it has read every RELEASE
 * bytes (the page cache keeps them), so that a scan's RSS does not grow
 * with the catalog. */
#define RELEASE (8u << 20)

static void
release(const struct bd_catalog *c, size_t from, size_t to)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	from -= from % pg;
	to -= to % pg;
	if (c->map && to > from)
		madvise((void *)(c->map + from), to - from, MADV_DONTNEED);
}


void
cat_scan_init(struct cat_scan *s, const struct bd_catalog *c, int report)
{
	memset(s, 0, sizeof *s);
	s->c = c;
	s->off = c->body;
	s->lineno = 1;
	s->report = report;
}

int
cat_scan_next(struct cat_scan *s, struct bd_cat_entry *e)
{
	char why[128];
	size_t next;

	while (s->off < s->c->len) {
		if (s->off - s->released >= RELEASE) {
			release(s->c, s->released, s->off);
			s->released = s->off;
		}
		s->lineno++;
		if (base_line(s->c, s->off, e, &next, why, sizeof why) < 0) {
			if (s->report)
				bd_pfail(s->c->path, "line %" PRIu64 ": %s", s->lineno, why);
		} else if (s->have_last && cat_cmp(&s->last, e) >= 0) {
			if (s->report)
				bd_pfail(s->c->path, "line %" PRIu64 ": out of order", s->lineno);
		} else {
			s->off = next;
			s->last = *e;
			s->have_last = 1;
			return 1;
		}
		s->off = next;
	}
	return 0;
}


/* The offset of the first good line of the base whose key is K's or
 * above (c->len: none), by bisection on byte offsets: LO and HI are
 * line starts, every good line before LO is below K, the line at HI is
 * not. Malformed lines are stepped over. */
static size_t
base_lower(const struct bd_catalog *c, const struct bd_cat_entry *k, struct bd_cat_entry *e,
    int *found)
{
	size_t lo = c->body, hi = c->len, mid, s, s0, next;
	const char *p;
	char why[8];

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		s = lo;
		if (mid > lo && (p = memchr(c->map + mid - 1, '\n', hi - (mid - 1))) &&
		    (size_t)(p - c->map) + 1 < hi)
			s = (size_t)(p - c->map) + 1;
		for (s0 = s; s < hi; s = next)
			if (base_line(c, s, e, &next, why, sizeof why) == 0)
				break;
		if (s >= hi) {
			if (s0 == lo)
				lo = hi;
			else
				hi = s0;
		} else if (cat_cmp(e, k) < 0) {
			lo = next;
		} else {
			hi = s;
		}
	}
	for (; lo < c->len; lo = next)
		if (base_line(c, lo, e, &next, why, sizeof why) == 0) {
			*found = 1;
			break;
		}
	return lo;
}

/* the index of the first journal entry of K's key or above */
static size_t
journal_lower(const struct bd_catalog *c, const struct bd_cat_entry *k)
{
	size_t lo = 0, hi = c->nj, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cat_cmp(&c->j[mid], k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
bd_catalog_find(const struct bd_catalog *c, uint64_t size, uint64_t subvol, uint64_t ino,
    struct bd_cat_entry *e)
{
	struct bd_cat_entry k = { .size = size, .subvol = subvol, .ino = ino };
	size_t i = journal_lower(c, &k);
	int found;

	if (i < c->nj && cat_cmp(&c->j[i], &k) == 0) {
		if (c->j[i].flags & BD_CAT_GONE)
			return 0;
		*e = c->j[i];
		return 1;
	}
	if (!c->map)
		return 0;
	base_lower(c, &k, e, &found);
	return found && cat_cmp(e, &k) == 0;
}

static void
push(struct bd_cat_entry **v, size_t *cap, size_t n, const struct bd_cat_entry *e)
{
	if (n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = bd_erealloc(*v, *cap * sizeof **v);
	}
	(*v)[n] = *e;
}

size_t
bd_catalog_bucket(const struct bd_catalog *c, uint64_t size, struct bd_cat_entry **v,
    size_t *cap)
{
	struct bd_cat_entry k = { .size = size }, b;
	size_t i = journal_lower(c, &k), off = c->len, n = 0, next;
	int have = 0, d;
	char why[8];

	if (c->map) {
			off = base_lower(c, &k, &b, &have);
	}
	for (;;) {
		have = have && b.size == size;
		if (!have && (i >= c->nj || c->j[i].size != size))
			break;
		d = !have ? 1 : i >= c->nj || c->j[i].size != size ? -1 : cat_cmp(&b, &c->j[i]);
		if (d < 0)
			push(v, cap, n++, &b);
		else if (!(c->j[i].flags & BD_CAT_GONE))
			push(v, cap, n++, &c->j[i]);
		if (d > 0) {
			i++;
			continue;
		}
		if (d == 0)
			i++;
		/* the next good base line (bisection skips bad ones too) */
		for (have = 0, off = off < c->len ? line_end(c, off) + 1 : off; off < c->len;
		    off = next)
			if (base_line(c, off, &b, &next, why, sizeof why) == 0) {
				have = 1;
				break;
			}
	}
	return n;
}

int
bd_catalog_each(const struct bd_catalog *c, int (*fn)(void *, const struct bd_cat_entry *),
    void *arg)
{
	struct cat_scan s;
	struct bd_cat_entry b;
	size_t i = 0;
	int have, d, r;

	cat_scan_init(&s, c, 1);
	have = cat_scan_next(&s, &b);
	while (have || i < c->nj) {
		d = !have ? 1 : i >= c->nj ? -1 : cat_cmp(&b, &c->j[i]);
		r = 0;
		if (d < 0)
			r = fn(arg, &b);
		else if (!(c->j[i].flags & BD_CAT_GONE))
			r = fn(arg, &c->j[i]);
		if (r)
			return r;
		if (d >= 0)
			i++;
		if (d <= 0)
			have = cat_scan_next(&s, &b);
	}
	return 0;
}

static char *
suffixed(const char *path, const char *suffix)
{
	char *p = bd_emalloc(strlen(path) + strlen(suffix) + 1);

	strcpy(p, path);
	strcat(p, suffix);
	return p;
}

struct bd_catalog *
bd_catalog_open(const char *path)
{
	struct bd_catalog *c = bd_ecalloc(1, sizeof *c);
	int r, e;

	c->path = bd_estrdup(path);
	c->jpath = suffixed(path, ".journal");
	if ((r = map(c)) > 0)
		r = cat_convert(c);
	if (r < 0 || cat_journal_load(c) < 0)
		goto fail;
	return c;
fail:
	e = errno;
	bd_catalog_close(c);
	errno = e;
	return NULL;
}

void
bd_catalog_close(struct bd_catalog *c)
{
	if (!c)
		return;
	cat_unmap(c);
	if (c->batch)
		catsort_free(c->batch);
	free(c->j);
	free(c->path);
	free(c->jpath);
	free(c);
}

int
bd_catalog_fsid(const struct bd_catalog *c, uint8_t fsid[16])
{
	if (!c->has_fsid)
		return -1;
	memcpy(fsid, c->fsid, 16);
	return 0;
}

void
bd_catalog_set_fsid(struct bd_catalog *c, const uint8_t fsid[16])
{
	if (c->has_fsid && memcmp(c->fsid, fsid, 16) == 0)
		return;
	memcpy(c->fsid, fsid, 16);
	c->has_fsid = c->fsid_new = 1;
}

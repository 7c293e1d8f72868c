/* catalog.c: the catalog of what earlier runs learnt: the base searched
 * by bisection (as look(1) does), and lookups through the journal held in
 * memory. The header line is in cathead.c, updates in catmerge.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "catalog.h"

/* The base is read with pread(2) through a window of it (a caller's
 * buffer, so that lookups from several threads need no lock), not
 * mapped: mapped pages a lookup touched would count in the process's RSS,
 * and a catalog of millions of files would make every stage big. */
void
cat_win_init(struct cat_win *w, const struct bd_catalog *c, char *buf, size_t cap)
{
	w->c = c;
	w->buf = buf;
	w->cap = cap;
	w->at = w->n = 0;
	w->err = 0;
}

/* the window at OFF: 0, or -1 at the end (or a read error, in ERR) */
static int
win_fill(struct cat_win *w, size_t off)
{
	ssize_t r;

	w->at = off;
	w->n = 0;
	while (w->n < w->cap && off + w->n < w->c->len) {
		r = pread(w->c->fd, w->buf + w->n, w->cap - w->n, (off_t)(off + w->n));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				w->err = errno;
			break;
		}
		w->n += (size_t)r;
	}
	return w->n ? 0 : -1;
}

/* the first LF at POS or after it, before HI: its offset, or HI */
static size_t
win_lf(struct cat_win *w, size_t pos, size_t hi)
{
	const char *p;
	size_t end;

	while (pos < hi) {
		if ((pos < w->at || pos >= w->at + w->n) && win_fill(w, pos) < 0)
			return hi;
		end = w->at + w->n < hi ? w->at + w->n : hi;
		if ((p = memchr(w->buf + (pos - w->at), '\n', end - pos)))
			return w->at + (size_t)(p - w->buf);
		pos = end;
	}
	return hi;
}

/* The line at OFF: its bytes (*LEN of them, no LF) in the window, or NULL
 * when it does not fit the window (no line of the catalog is that long);
 * *NEXT the offset after it either way. */
const char *
cat_win_line(struct cat_win *w, size_t off, size_t *len, size_t *next)
{
	size_t lf;

	if (off < w->at || (off + BD_CAT_LINE_MAX > w->at + w->n && w->at + w->n < w->c->len))
		win_fill(w, off);
	lf = win_lf(w, off, w->c->len);
	*next = lf < w->c->len ? lf + 1 : lf;
	if (off < w->at || lf > w->at + w->n) {
		*len = 0;
		return NULL;
	}
	*len = lf - off;
	return w->buf + (off - w->at);
}

static int
base_line(struct cat_win *w, size_t off, struct bd_cat_entry *e, size_t *next, char *why,
    size_t whylen)
{
	size_t len;
	const char *p = cat_win_line(w, off, &len, next);

	if (!p) {
		snprintf(why, whylen, "line too long");
		return -1;
	}
	return bd_cat_entry_parse(p, len, e, 0, why, whylen);
}

void
cat_unmap(struct bd_catalog *c)
{
	cat_index_free(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
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

	cat_unmap(c);
	if ((c->fd = open(c->path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(c->fd, &st) < 0) {
		cat_unmap(c);
		return -1;
	}
	c->len = (size_t)st.st_size;
	if (c->len == 0)
		return 0;
	posix_fadvise(c->fd, 0, 0, POSIX_FADV_RANDOM);
	return cat_header_read(c);
}

/* the journal's bound follows the base's size */
static int
map(struct bd_catalog *c)
{
	int r = map_base(c);

	c->jmax = journal_max(c);
	if (r == 0)
		cat_index_reset(c);
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

void
cat_scan_init(struct cat_scan *s, const struct bd_catalog *c, int report)
{
	memset(s, 0, sizeof *s);
	s->c = c;
	cat_win_init(&s->w, c, s->buf, sizeof s->buf);
	s->off = c->body;
	s->lineno = 1;
	s->report = report;
}

int
cat_scan_next(struct cat_scan *s, struct bd_cat_entry *e)
{
	char why[128];
	size_t next;

	while (s->off < s->c->len && !s->w.err) {
		s->lineno++;
		if (base_line(&s->w, s->off, e, &next, why, sizeof why) < 0) {
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
	if (s->w.err) {
		errno = s->w.err;
		return -1;
	}
	return 0;
}


size_t
cat_line_from(const struct bd_catalog *c, size_t off, struct bd_cat_entry *e)
{
	char buf[BD_CAT_LINE_MAX * 2], why[8];
	struct cat_win w;
	size_t next;

	cat_win_init(&w, c, buf, sizeof buf);
	if (off > c->body)
		off = win_lf(&w, off - 1, c->len) + 1;
	for (; off < c->len && !w.err; off = next)
		if (base_line(&w, off, e, &next, why, sizeof why) == 0)
			return off;
	return c->len;
}

/* The offset of the first good line of the base whose key is K's or
 * above (c->len: none), that line in *E and the offset after it in
 * *NEXT, by bisection on byte offsets: LO and HI are line starts, every
 * good line before LO is below K, the line at HI is not. Malformed lines
 * are stepped over. */
static size_t
base_lower(struct cat_win *w, const struct bd_cat_entry *k, struct bd_cat_entry *e,
    size_t *next, int *found)
{
	const struct bd_catalog *c = w->c;
	size_t lo, hi, mid, s, s0, lf;
	char why[8];

	*found = 0;
	cat_index_range(c, k, &lo, &hi);
	while (lo < hi && !w->err) {
		/* the rest of the search in one read */
		if (hi - lo <= w->cap && (lo < w->at || hi > w->at + w->n))
			win_fill(w, lo);
		mid = lo + (hi - lo) / 2;
		s = lo;
		if (mid > lo && (lf = win_lf(w, mid - 1, hi)) + 1 < hi)
			s = lf + 1;
		for (s0 = s; s < hi; s = *next)
			if (base_line(w, s, e, next, why, sizeof why) == 0)
				break;
		if (s >= hi) {
			if (s0 == lo)
				lo = hi;
			else
				hi = s0;
		} else if (cat_cmp(e, k) < 0) {
			lo = *next;
		} else {
			hi = s;
		}
	}
	for (; lo < c->len && !w->err; lo = *next)
		if (base_line(w, lo, e, next, why, sizeof why) == 0) {
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
	size_t i = journal_lower(c, &k), next;
	char buf[16384];
	struct cat_win w;
	int found;

	if (i < c->nj && cat_cmp(&c->j[i], &k) == 0) {
		if (c->j[i].flags & BD_CAT_GONE)
			return 0;
		*e = c->j[i];
		return 1;
	}
	if (c->fd < 0)
		return 0;
	cat_win_init(&w, c, buf, sizeof buf);
	base_lower(&w, &k, e, &next, &found);
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
	size_t i = journal_lower(c, &k), n = 0, next = c->len;
	char buf[16384], why[8];
	struct cat_win w;
	int have = 0, d;

	cat_win_init(&w, c, buf, sizeof buf);
	if (c->fd >= 0)
		base_lower(&w, &k, &b, &next, &have);
	for (;;) {
		have = have && b.size == size;
		if (!have && (i >= c->nj || c->j[i].size != size))
			break;
		d = !have ? 1 : i >= c->nj || c->j[i].size != size ? -1 : cat_cmp(&b, &c->j[i]);
		if (d < 0)
			push(v, cap, n++, &b);
		else if (!(c->j[i].flags & BD_CAT_GONE))
			push(v, cap, n++, &c->j[i]);
		if (d >= 0)
			i++;
		if (d > 0)
			continue;
		/* the next good base line (bisection skips bad ones too) */
		for (have = 0; next < c->len && !w.err;)
			if (base_line(&w, next, &b, &next, why, sizeof why) == 0) {
				have = 1;
				break;
			}
	}
	return n;
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

	c->fd = -1;
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

/* catalog.c: the catalog of what earlier runs learnt: its line form, the
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

static const char hexdig[] = "0123456789abcdef";

/* a decimal number from P up to a TAB or END; NULL when it is none */
static const char *
num(const char *p, const char *end, uint64_t *v)
{
	const char *s = p;
	uint64_t x = 0;

	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return NULL;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	if (p == s || p - s > 20)
		return NULL;
	*v = x;
	return p;
}

static int
unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* a DIGEST or SAMPLE field of N bytes: 1 a digest, 0 "-", -1 bad */
static int
digest(const char *p, size_t n, uint8_t out[16])
{
	size_t i;
	int h, l;

	if (n == 1 && *p == '-') {
		memset(out, 0, 16);
		return 0;
	}
	if (n != 32)
		return -1;
	for (i = 0; i < 16; i++) {
		if ((h = unhex((unsigned char)p[2 * i])) < 0 ||
		    (l = unhex((unsigned char)p[2 * i + 1])) < 0)
			return -1;
		out[i] = (uint8_t)(h << 4 | l);
	}
	return 1;
}

int
bd_cat_entry_parse(const char *line, size_t len, struct bd_cat_entry *e, int gone_ok,
    char *why, size_t whylen)
{
	static const char *const name[] = { "SIZE", "SUBVOL", "INO", "GEN" };
	uint64_t *v[4] = { &e->size, &e->subvol, &e->ino, &e->gen };
	const char *p = line, *end = line + len, *f, *q;
	size_t i, nf = 1;
	int d;

	memset(e, 0, sizeof *e);
	for (q = line; (q = memchr(q, '\t', (size_t)(end - q))); q++)
		nf++;
	if (nf != 6) {
		snprintf(why, whylen, "expected 6 fields, got %zu", nf);
		return -1;
	}
	for (i = 0; i < 4; i++) {
		if (!(q = num(p, end, v[i])) || *q != '\t') {
			snprintf(why, whylen, "bad %s: not a decimal number", name[i]);
			return -1;
		}
		p = q + 1;
	}
	if (e->subvol == 0 || e->ino == 0) {
		snprintf(why, whylen, "bad %s: zero", e->subvol ? "INO" : "SUBVOL");
		return -1;
	}
	f = memchr(p, '\t', (size_t)(end - p));
	if (gone_ok && f - p == 4 && memcmp(p, "gone", 4) == 0) {
		e->flags = BD_CAT_GONE;
		return 0;
	}
	if ((d = digest(p, (size_t)(f - p), e->digest)) < 0) {
		snprintf(why, whylen, "bad DIGEST: not '-'%s or 32 lowercase hex digits",
		    gone_ok ? ", 'gone'" : "");
		return -1;
	}
	e->flags = d ? BD_CAT_DIGEST : 0;
	p = f + 1;
	if ((d = digest(p, (size_t)(end - p), e->sample)) < 0) {
		snprintf(why, whylen, "bad SAMPLE: not '-' or 32 lowercase hex digits");
		return -1;
	}
	e->flags |= d ? BD_CAT_SAMPLE : 0;
	return 0;
}

static char *
put_u64(char *p, uint64_t v)
{
	char t[20];
	size_t n = 0;

	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		*p++ = t[--n];
	return p;
}

static char *
put_digest(char *p, const uint8_t d[16], int have)
{
	size_t i;

	if (!have) {
		*p++ = '-';
		return p;
	}
	for (i = 0; i < 16; i++) {
		*p++ = hexdig[d[i] >> 4];
		*p++ = hexdig[d[i] & 15];
	}
	return p;
}

int
bd_cat_entry_write(FILE *f, const struct bd_cat_entry *e)
{
	char buf[4 * 21 + 2 * 33 + 1], *p = buf;

	p = put_u64(p, e->size);
	*p++ = '\t';
	p = put_u64(p, e->subvol);
	*p++ = '\t';
	p = put_u64(p, e->ino);
	*p++ = '\t';
	p = put_u64(p, e->gen);
	*p++ = '\t';
	if (e->flags & BD_CAT_GONE) {
		memcpy(p, "gone\t-", 6);
		p += 6;
	} else {
		p = put_digest(p, e->digest, e->flags & BD_CAT_DIGEST);
		*p++ = '\t';
		p = put_digest(p, e->sample, e->flags & BD_CAT_SAMPLE);
	}
	*p++ = '\n';
	return fwrite(buf, 1, (size_t)(p - buf), f) == (size_t)(p - buf) ? 0 : -1;
}

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

/* 1 when the base is of the old form (records), else 0 or -1/errno */
static int
map(struct bd_catalog *c)
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

	if (c->map)
		off = base_lower(c, &k, &b, &have);
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
	c->jmax = journal_max(c);
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

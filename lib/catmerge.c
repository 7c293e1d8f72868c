/* catmerge.c: changing the catalog: the journal (read at open, appended
 * one batch at a time), and the merge of base, journal and batch into a
 * new base. Entries are absolute states and the later wins, so that a
 * journal replayed over a base it was already merged into changes
 * nothing: a crash anywhere leaves the old catalog or the new one. And
 * reading base and journal merged, in order (bd_catalog_each). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "catalog.h"

#define COMMIT "# commit\n"

/* ---- reading the journal ---- */

static int
seq_cmp(const void *pa, const void *pb)
{
	const struct bd_cat_entry *a = pa, *b = pb;
	int c = cat_cmp(a, b);

	/* GEN's place is taken by the line's order while sorting */
	return c ? c : (a->gen > b->gen) - (a->gen < b->gen);
}

/* the offset just past the last "# commit" line of F */
static off_t
last_commit(FILE *f, char **line, size_t *cap)
{
	off_t off = 0, end = 0;
	ssize_t n;

	while ((n = getline(line, cap, f)) > 0) {
		off += n;
		if ((size_t)n == sizeof COMMIT - 1 && memcmp(*line, COMMIT, (size_t)n) == 0)
			end = off;
	}
	return end;
}

/* sorts the N entries of V read in order (their GEN in SEQ), keeping
 * the last line of each key; returns how many are left */
static size_t
sort_lines(struct bd_cat_entry *v, uint64_t *gen, size_t n)
{
	size_t i, o = 0;
	uint64_t g;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		g = v[i].gen;
		v[i].gen = i;
		gen[i] = g;
	}
	qsort(v, n, sizeof *v, seq_cmp);
	for (i = 0; i < n; i++) {
		v[i].gen = gen[v[i].gen];
		if (o && cat_cmp(&v[o - 1], &v[i]) == 0)
			o--;
		v[o++] = v[i];
	}
	return o;
}

int
cat_journal_load(struct bd_catalog *c)
{
	FILE *f = fopen(c->jpath, "re");
	size_t cap = 0, n = 0, room = 0;
	char *line = NULL, why[128];
	uint64_t lineno = 0, *gen;
	off_t off = 0;
	ssize_t len;

	if (!f)
		return errno == ENOENT ? 0 : -1;
	c->jend = last_commit(f, &line, &cap);
	if (ferror(f) || fseeko(f, 0, SEEK_SET) < 0)
		goto fail;
	while (off < c->jend && (len = getline(&line, &cap, f)) > 0) {
		off += len;
		lineno++;
		if ((size_t)len == sizeof COMMIT - 1 && memcmp(line, COMMIT, (size_t)len) == 0)
			continue;
		if (n == room) {
			room = room ? room * 2 : 64;
			c->j = bd_erealloc(c->j, room * sizeof *c->j);
		}
		if (bd_cat_entry_parse(line, (size_t)len - 1, &c->j[n], 1, why, sizeof why) == 0)
			n++;
		else
			bd_pfail(c->jpath, "line %" PRIu64 ": %s", lineno, why);
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	free(line);
	gen = bd_emalloc((n ? n : 1) * sizeof *gen);
	c->nj = sort_lines(c->j, gen, n);
	free(gen);
	return 0;
fail:
	free(line);
	fclose(f);
	errno = errno ? errno : EIO;
	return -1;
}

/* ---- a batch ---- */

void
bd_catalog_put(struct bd_catalog *c, const struct bd_cat_entry *e)
{
	struct bd_cat_entry t = *e;

	if (!c->batch)
		c->batch = catsort_new();
	if (t.flags & BD_CAT_GONE)
		t.flags = BD_CAT_GONE;
	if (!(t.flags & BD_CAT_DIGEST))
		memset(t.digest, 0, sizeof t.digest);
	if (!(t.flags & BD_CAT_SAMPLE))
		memset(t.sample, 0, sizeof t.sample);
	catsort_put(c->batch, &t);
}

/* ---- merging into a new base ---- */

static int
dropped(uint64_t subvol, const uint64_t *drop, size_t ndrop)
{
	size_t i;

	for (i = 0; i < ndrop; i++)
		if (drop[i] == subvol)
			return 1;
	return 0;
}

/* the three sources in order; on equal keys the batch wins over the
 * journal, the journal over the base */
struct sources {
	struct cat_scan base;
	struct bd_cat_entry b, bt;
	int hb, hbt;
	size_t j;
	struct bd_catsort *batch;
};

/* the next entry of the merged sources into *E: 1, 0 at the end, -1 */
static int
next_merged(struct bd_catalog *c, struct sources *s, struct bd_cat_entry *e)
{
	const struct bd_cat_entry *m = NULL;
	int hj = s->j < c->nj;

	if (s->hb)
		m = &s->b;
	if (hj && (!m || cat_cmp(&c->j[s->j], m) <= 0))
		m = &c->j[s->j];
	if (s->hbt && (!m || cat_cmp(&s->bt, m) <= 0))
		m = &s->bt;
	if (!m)
		return 0;
	*e = *m;
	if (s->hb && cat_cmp(&s->b, e) == 0 && (s->hb = cat_scan_next(&s->base, &s->b)) < 0)
		return -1;
	if (hj && cat_cmp(&c->j[s->j], e) == 0)
		s->j++;
	if (s->hbt && cat_cmp(&s->bt, e) == 0 &&
	    (s->hbt = catsort_next(s->batch, &s->bt)) < 0)
		return -1;
	return 1;
}

static int
merge(struct bd_catalog *c, struct bd_catsort *batch, const uint64_t *drop, size_t ndrop)
{
	struct bd_atomic a;
	struct sources s;
	struct bd_cat_entry e;
	int r;

	memset(&s, 0, sizeof s);
	cat_scan_init(&s.base, c, 1);
	if ((s.hb = cat_scan_next(&s.base, &s.b)) < 0)
		return -1;
	if ((s.batch = batch) && (s.hbt = catsort_next(batch, &s.bt)) < 0)
		return -1;
	if (bd_atomic_open(&a, c->path) < 0)
		return -1;
	/* mkostemp made it 0600: it holds digests of every user's files */
	r = cat_header_write(a.f, c);
	while (r == 0 && (r = next_merged(c, &s, &e)) > 0) {
		r = 0;
		if (!(e.flags & BD_CAT_GONE) && !dropped(e.subvol, drop, ndrop))
			r = bd_cat_entry_write(a.f, &e);
	}
	if (r < 0 || ferror(a.f)) {
		bd_atomic_abort(&a);
		return -1;
	}
	if (bd_atomic_commit(&a) < 0)
		return -1;
	/* the new base holds the journal: a crash before this unlink
	 * replays it over the new base, to the same state */
	if (unlink(c->jpath) < 0 && errno != ENOENT)
		return -1;
	if (bd_sync_dir(c->jpath) < 0)
		return -1;
	free(c->j);
	c->j = NULL;
	c->nj = 0;
	c->jend = 0;
	c->fsid_new = 0;
	return cat_map(c);
}

/* ---- appending a batch to the journal ---- */

/* the journal's entries and the batch's sorted entries V[0..N) as one
 * sorted array, the batch winning */
static void
journal_add(struct bd_catalog *c, struct bd_cat_entry *v, size_t n)
{
	struct bd_cat_entry *m = bd_emalloc((c->nj + n) * sizeof *m + 1);
	size_t i = 0, k = 0, o = 0;
	int d;

	while (i < c->nj || k < n) {
		d = i >= c->nj ? 1 : k >= n ? -1 : cat_cmp(&c->j[i], &v[k]);
		if (d < 0)
			m[o++] = c->j[i++];
		else {
			m[o++] = v[k++];
			i += d == 0;
		}
	}
	free(c->j);
	c->j = m;
	c->nj = o;
}

static int
write_batch(FILE *f, struct bd_catsort *batch, struct bd_cat_entry *v, size_t *n)
{
	int r;

	while ((r = catsort_next(batch, &v[*n])) > 0)
		if (bd_cat_entry_write(f, &v[(*n)++]) < 0)
			return -1;
	if (r < 0 || fflush(f) == EOF || fsync(fileno(f)) < 0)
		return -1;
	if (fputs(COMMIT, f) == EOF || fflush(f) == EOF || fsync(fileno(f)) < 0)
		return -1;
	return 0;
}

static int
append(struct bd_catalog *c, struct bd_catsort *batch)
{
	struct bd_cat_entry *v = bd_emalloc((size_t)catsort_count(batch) * sizeof *v + 1);
	size_t n = 0;
	FILE *f = NULL;
	int fd, e, fresh = access(c->jpath, F_OK) < 0;
	off_t end;

	fd = open(c->jpath, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	/* a torn batch after the last commit goes first */
	if (fd < 0 || fchmod(fd, 0600) < 0 || ftruncate(fd, c->jend) < 0 ||
	    lseek(fd, c->jend, SEEK_SET) < 0 || !(f = fdopen(fd, "w")))
		goto fail;
	if (write_batch(f, batch, v, &n) < 0 || (end = ftello(f)) < 0)
		goto fail;
	if (fclose(f) == EOF || (fresh && bd_sync_dir(c->jpath) < 0)) {
		free(v);
		return -1;
	}
	c->jend = end;
	journal_add(c, v, n);
	free(v);
	return 0;
fail:
	e = errno;
	/* best effort: what is past the last commit is ignored anyway */
	if (fd >= 0)
		(void)!ftruncate(fd, c->jend);
	if (f)
		fclose(f);
	else if (fd >= 0)
		close(fd);
	free(v);
	errno = e;
	return -1;
}

int
bd_catalog_commit(struct bd_catalog *c, int force)
{
	struct bd_catsort *b = c->batch;
	uint64_t n = b ? catsort_count(b) : 0;
	int r;

	c->batch = NULL;
	if (!b && !force && !c->fsid_new)
		return 0;
	if (!b)
		b = catsort_new();
	if (catsort_finish(b) < 0) {
		catsort_free(b);
		return -1;
	}
	/* an older bedup reads its own version's base and journal only */
	if (force || c->fsid_new || c->old || c->nj + n > c->jmax)
		r = merge(c, b, NULL, 0);
	else
		r = append(c, b);
	catsort_free(b);
	return r;
}

int
bd_catalog_drop_subvols(struct bd_catalog *c, const uint64_t *subvols, size_t n)
{
	return merge(c, NULL, subvols, n);
}

/* the base and the journal merged, in order, for each entry (bedup.h) */
int
bd_catalog_each(const struct bd_catalog *c, int (*fn)(void *, const struct bd_cat_entry *),
    void *arg)
{
	struct cat_scan s;
	struct bd_cat_entry b;
	size_t i = 0;
	int have, d, r;

	cat_scan_init(&s, c, 1);
	if ((have = cat_scan_next(&s, &b)) < 0)
		return -1;
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
		if (d <= 0 && (have = cat_scan_next(&s, &b)) < 0)
			return -1;
	}
	return 0;
}

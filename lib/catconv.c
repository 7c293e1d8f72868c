/* catconv.c: a catalog of the old form (one record per line, RECORDS.md,
 * with its sample digests in CATALOG.samples) made into a base of the
 * new one, once, at open: digests and samples kept, paths dropped. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"

/* the records of the old catalog into S; the FSID from the first */
static int
read_records(struct bd_catalog *c, struct bd_catsort *s)
{
	FILE *f = fopen(c->path, "re");
	struct bd_record r;
	struct bd_cat_entry e;
	uint8_t fsid[16];
	char *line = NULL, why[128];
	size_t cap = 0;
	uint64_t lineno = 0;
	ssize_t n;
	int err;

	if (!f)
		return -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (bd_record_parse(line, (size_t)n, &r, why, sizeof why) < 0) {
			/* a file that does not start as a catalog is none: it
			 * is left as it is (a wrong -C must not wipe it) */
			if (!c->has_fsid) {
				bd_pfail(c->path, "line %" PRIu64 ": not a catalog: %s", lineno, why);
				errno = EPROTO;
				break;
			}
			bd_pfail(c->path, "line %" PRIu64 ": %s", lineno, why);
			continue;
		}
		bd_fsid_pack(r.fsid, fsid);
		if (!c->has_fsid) {
			memcpy(c->fsid, fsid, 16);
			c->has_fsid = 1;
		} else if (memcmp(c->fsid, fsid, 16) != 0) {
			bd_pfail(c->path, "line %" PRIu64 ": FSID is not the first record's", lineno);
			continue;
		}
		memset(&e, 0, sizeof e);
		e.size = r.size;
		e.subvol = r.subvol;
		e.ino = r.ino;
		e.gen = r.gen;
		if (bd_hash_pack(r.hash, e.digest))
			e.flags = BD_CAT_DIGEST;
		catsort_put(s, &e);
	}
	err = ferror(f) ? (errno ? errno : EIO) : n > 0 && !c->has_fsid ? EPROTO : 0;
	free(line);
	fclose(f);
	errno = err;
	return err ? -1 : 0;
}

/* the sample digests of the catalog's FSID into S (none: fine) */
static int
read_samples(struct bd_catalog *c, const char *path, struct bd_catsort *s)
{
	struct bd_samples in;
	struct bd_sample x;
	struct bd_cat_entry e;
	int r;

	if ((r = bd_samples_open(&in, path)) <= 0)
		return r;
	while ((r = bd_samples_next(&in, &x)) > 0) {
		if (!c->has_fsid || memcmp(x.key.fsid, c->fsid, 16) != 0)
			continue;
		memset(&e, 0, sizeof e);
		e.size = x.size;
		e.subvol = x.key.subvol;
		e.ino = x.key.ino;
		e.gen = x.gen;
		memcpy(e.sample, x.sample, 16);
		e.flags = BD_CAT_SAMPLE;
		catsort_put(s, &e);
	}
	bd_samples_close(&in);
	return r;
}

/* writes the records, each with its sample where one of the same inode,
 * size and generation was kept */
static int
write_base(struct bd_catalog *c, struct bd_catsort *rec, struct bd_catsort *smp)
{
	struct bd_atomic a;
	struct bd_cat_entry e, x;
	int hx, r;

	if (catsort_finish(rec) < 0 || catsort_finish(smp) < 0)
		return -1;
	if ((hx = catsort_next(smp, &x)) < 0 || bd_atomic_open(&a, c->path) < 0)
		return -1;
	r = cat_header_write(a.f, c);
	while (r == 0 && (r = catsort_next(rec, &e)) > 0) {
		while (hx > 0 && cat_cmp(&x, &e) < 0)
			hx = catsort_next(smp, &x);
		if (hx < 0) {
			r = -1;
			break;
		}
		if (hx && cat_cmp(&x, &e) == 0 && x.gen == e.gen) {
			memcpy(e.sample, x.sample, 16);
			e.flags |= BD_CAT_SAMPLE;
		}
		r = bd_cat_entry_write(a.f, &e) < 0 ? -1 : 0;
	}
	if (r < 0 || ferror(a.f)) {
		bd_atomic_abort(&a);
		return -1;
	}
	return bd_atomic_commit(&a);
}

int
cat_convert(struct bd_catalog *c)
{
	struct bd_catsort *rec = catsort_new(), *smp = catsort_new();
	char *samples = bd_samples_path(c->path);
	int r = -1;

	cat_unmap(c);
	c->has_fsid = 0;
	if (read_records(c, rec) == 0 && read_samples(c, samples, smp) >= 0 &&
	    write_base(c, rec, smp) == 0 && cat_map(c) == 0)
		r = 0;
	/* the samples live in the new base now; left behind by a crash
	 * they are only stale, never read again */
	if (r == 0 && unlink(samples) < 0 && errno != ENOENT)
		bd_pwarn(samples, "cannot remove:");
	catsort_free(rec);
	catsort_free(smp);
	free(samples);
	return r;
}

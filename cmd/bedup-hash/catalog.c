/* catalog.c: the catalog's digests and the samples file, loaded before
 * the first group and written again at the end of a run with -u. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"

/* digests the catalog holds; read once the first input line is in, so
 * that in a pipeline bedup-group has committed it (the protocol) */
void
load_catalog(struct table *t, const char *path)
{
	struct bd_input in;
	struct bd_record r;
	char *files[1] = { (char *)path };

	if (access(path, F_OK) < 0) {
		if (errno != ENOENT)
			bd_die("%s:", path);
		return;
	}
	bd_input_init(&in, 1, files);
	while (bd_input_next(&in, &r)) {
		struct entry *e;

		if (strcmp(r.hash, "-") == 0)
			continue;
		e = table_add(t, &r);
		bd_hash_pack(r.hash, e->digest);
	}
	bd_input_close(&in);
	table_sort(t);
}

/* the records of -N FOUND, digests or not: the inodes this run found
 * changed (their gens and sizes, for table_valid) */
void
load_found(struct table *t, const char *path)
{
	struct bd_input in;
	char *files[1] = { (char *)path };
	struct bd_record r;

	bd_input_init(&in, 1, files);
	while (bd_input_next(&in, &r))
		table_add(t, &r);
	bd_input_close(&in);
	table_sort(t);
}

/* the catalog again, with the digests learnt filled in and the inodes
 * found gone or replaced left out; the samples in KEEP (when not NULL)
 * whose inode it keeps are marked seen. Returns 0, or -1 when the
 * catalog could not be read (the marks are incomplete). */
int
update_catalog(struct table *learnt, const char *path, struct table *keep)
{
	struct bd_record r;
	struct bd_atomic at;
	char *line = NULL, why[128];
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	uint8_t d[16];
	int write = learnt->n > 0, ret = 0;

	if (!write && !keep)
		return 0;
	table_sort(learnt);
	if (!(f = fopen(path, "re"))) {
		if (errno != ENOENT)
			bd_fail("%s:", path);
		return -1;
	}
	if (write && bd_atomic_open(&at, path) < 0) {
		bd_fail("%s:", path);
		write = 0;   /* the old catalog stays; the marks are still right */
	}
	/* not bd_input: its malformed lines were reported when it was
	 * loaded; they are left out here, as bedup-group -u does */
	while ((n = getline(&line, &cap, f)) > 0) {
		struct entry *e;

		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0 || bd_record_parse(line, (size_t)n, &r, why, sizeof why) < 0)
			continue;
		e = table_find(learnt, &r);
		if (e && e->gen == r.gen) {
			if (e->drop)
				continue;
			if (e->size == r.size) {
				memcpy(d, e->digest, 16);
				bd_hash_unpack(d, r.hash);
			}
		}
		if (keep && (e = table_valid(keep, &r)))
			e->seen = 1;
		if (write)
			bd_record_write(at.f, &r);   /* errors show at commit */
	}
	if (ferror(f)) {
		bd_fail("%s: read error", path);
		if (write)
			bd_atomic_abort(&at);
		ret = -1;
	} else if (write && bd_atomic_commit(&at) < 0) {
		bd_fail("%s:", path);
	}
	fclose(f);
	free(line);
	return ret;
}

/* the samples file's entries; returns how many lines were malformed
 * (reported, and left out when it is written again) */
uint64_t
load_samples(struct table *t, const char *path)
{
	struct bd_samples in;
	struct bd_sample s;
	struct entry *e;
	int r;

	if ((r = bd_samples_open(&in, path)) < 0)
		bd_die("%s:", path);
	while (r > 0 && (r = bd_samples_next(&in, &s)) > 0) {
		e = table_new(t);
		e->key = s.key;
		e->gen = s.gen;
		e->size = s.size;
		memcpy(e->digest, s.sample, 16);
	}
	if (r < 0)
		bd_die("%s:", path);
	bd_samples_close(&in);
	table_sort(t);
	return in.bad;
}

/* merges into SMP, the samples loaded, those LSMP learnt (replacing the
 * old ones of their inodes), leaving out those of inodes LEARNT found
 * gone or replaced. Returns whether anything changed. */
int
merge_samples(struct table *smp, struct table *lsmp, struct table *learnt)
{
	struct entry *e, *l;
	size_t i, k;
	int changed = lsmp->n > 0;

	table_sort(lsmp);
	table_sort(learnt);
	for (i = k = 0; i < smp->n; i++) {
		e = &smp->e[i];
		l = learnt->n ? bsearch(&e->key, learnt->e, learnt->n, sizeof *l, bd_inode_cmp) : NULL;
		if ((l && l->drop && l->gen == e->gen) ||
		    (lsmp->n && bsearch(&e->key, lsmp->e, lsmp->n, sizeof *l, bd_inode_cmp)))
			changed = 1;
		else
			smp->e[k++] = *e;
	}
	smp->n = k;
	for (i = 0; i < lsmp->n; i++)
		*table_new(smp) = lsmp->e[i];
	table_sort(smp);
	return changed;
}

/* writes the samples of SMP not dropped whose inode the catalog has */
void
write_samples(struct table *smp, const char *path)
{
	struct bd_atomic at;
	struct bd_sample s;
	size_t i;

	if (bd_atomic_open(&at, path) < 0) {
		bd_fail("%s:", path);
		return;
	}
	for (i = 0; i < smp->n; i++) {
		if (!smp->e[i].seen)
			continue;
		s.key = smp->e[i].key;
		s.gen = smp->e[i].gen;
		s.size = smp->e[i].size;
		memcpy(s.sample, smp->e[i].digest, 16);
		bd_sample_write(at.f, &s);   /* errors show at commit */
	}
	if (bd_atomic_commit(&at) < 0)
		bd_fail("%s:", path);
}

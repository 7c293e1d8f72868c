/* samples.c: the file of sample digests kept beside a catalog
 * (CATALOG.samples), read and written by bedup-group and bedup-hash. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bedup.h"

#define NFIELDS 6

char *
bd_samples_path(const char *catalog)
{
	size_t n = strlen(catalog);
	char *p = bd_emalloc(n + sizeof ".samples");

	memcpy(p, catalog, n);
	memcpy(p + n, ".samples", sizeof ".samples");
	return p;
}

/* SIZE SAMPLE FSID SUBVOL INO GEN: a record's first six fields, SAMPLE
 * in HASH's place */
static int
parse(char *line, size_t len, struct bd_sample *e, char *why, size_t whylen)
{
	char *field[NFIELDS];
	struct bd_record r;

	memset(e, 0, sizeof *e);
	if (bd_record_fields(line, len, NFIELDS, field, "SAMPLE", &r, why, whylen) < 0)
		return -1;
	e->size = r.size;
	e->gen = r.gen;
	bd_hash_pack(r.hash, e->sample);
	bd_inode_key(&e->key, &r);
	return 0;
}

int
bd_samples_open(struct bd_samples *s, const char *path)
{
	memset(s, 0, sizeof *s);
	s->path = path;
	if (!(s->f = fopen(path, "re")))
		return errno == ENOENT ? 0 : -1;
	return 1;
}

int
bd_samples_next(struct bd_samples *s, struct bd_sample *e)
{
	char why[128];
	ssize_t n;

	while ((n = getline(&s->line, &s->cap, s->f)) > 0) {
		s->lineno++;
		if (s->line[n - 1] == '\n')
			s->line[--n] = '\0';
		if (n == 0)
			continue;
		if (parse(s->line, (size_t)n, e, why, sizeof why) == 0)
			return 1;
		bd_pfail(s->path, "line %" PRIu64 ": %s", s->lineno, why);
		s->bad++;
	}
	return ferror(s->f) ? -1 : 0;   /* errno from getline */
}

void
bd_samples_close(struct bd_samples *s)
{
	if (s->f)
		fclose(s->f);
	free(s->line);
	s->f = NULL;
	s->line = NULL;
}

int
bd_sample_write(FILE *f, const struct bd_sample *e)
{
	char sample[BD_HASH_LEN + 1], fsid[BD_FSID_LEN + 1];

	bd_hash_unpack(e->sample, sample);
	bd_fsid_unpack(e->key.fsid, fsid);
	return fprintf(f, "%" PRIu64 "\t%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n",
	    e->size, sample, fsid, e->key.subvol, e->key.ino, e->gen) < 0 ? -1 : 0;
}

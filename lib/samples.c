/* samples.c: the file of sample digests kept beside a catalog
 * (CATALOG.samples), read and written by bedup-group and bedup-hash. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bedup.h"

#define NFIELDS 6

static const char *const fieldname[NFIELDS] = {
	"SIZE", "SAMPLE", "FSID", "SUBVOL", "INO", "GEN",
};

char *
bd_samples_path(const char *catalog)
{
	size_t n = strlen(catalog);
	char *p = bd_emalloc(n + sizeof ".samples");

	memcpy(p, catalog, n);
	memcpy(p + n, ".samples", sizeof ".samples");
	return p;
}

/* S is N lowercase hex digits, but for a dash at each position whose bit
 * is set in DASHES */
static int
lowhex(const char *s, size_t n, uint64_t dashes)
{
	size_t i;
	int c;

	if (strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if ((dashes >> i & 1) ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return 1;
}

#define FSID_DASHES (1ull << 8 | 1ull << 13 | 1ull << 18 | 1ull << 23)

static int
parse(char *line, size_t len, struct bd_sample *e, char *why, size_t whylen)
{
	char *field[NFIELDS];
	uint64_t *num[NFIELDS] = { &e->size, NULL, NULL, &e->key.subvol, &e->key.ino, &e->gen };
	size_t nf = 1, i;
	char *p;

	memset(e, 0, sizeof *e);
	if (memchr(line, '\0', len)) {
		snprintf(why, whylen, "NUL byte in line");
		return -1;
	}
	field[0] = line;
	for (p = line; (p = memchr(p, '\t', len - (size_t)(p - line))); p++) {
		if (nf < NFIELDS)
			field[nf] = p + 1;
		nf++;
		*p = '\0';
	}
	if (nf != NFIELDS) {
		snprintf(why, whylen, "expected %d fields, got %zu", NFIELDS, nf);
		return -1;
	}
	for (i = 0; i < NFIELDS; i++) {
		if (num[i] && bd_parse_u64(field[i], num[i]) < 0) {
			snprintf(why, whylen, "bad %s: %s", fieldname[i],
			    errno == ERANGE ? "number too large" : "not a decimal number");
			return -1;
		}
	}
	if (!lowhex(field[1], BD_HASH_LEN, 0)) {
		snprintf(why, whylen, "bad SAMPLE: not 32 lowercase hex digits");
		return -1;
	}
	bd_hash_pack(field[1], e->sample);
	if (!lowhex(field[2], BD_FSID_LEN, FSID_DASHES)) {
		snprintf(why, whylen, "bad FSID: not a lowercase UUID");
		return -1;
	}
	bd_fsid_pack(field[2], e->key.fsid);
	if (e->key.subvol == 0 || e->key.ino == 0) {
		snprintf(why, whylen, "bad %s: zero", e->key.subvol ? "INO" : "SUBVOL");
		return -1;
	}
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

/* record.c: parsing and writing one file record (RECORDS.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bedup.h"

static const char *const fieldname[] = {
	"SIZE", "HASH", "FSID", "SUBVOL", "INO", "GEN",
};

static int
ishex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int
valid_hash(const char *s, int dash)
{
	size_t i;

	if (dash && strcmp(s, "-") == 0)
		return 1;
	for (i = 0; i < BD_HASH_LEN; i++)
		if (!ishex((unsigned char)s[i]))
			return 0;
	return s[i] == '\0';
}

static int
valid_fsid(const char *s)
{
	size_t i;

	for (i = 0; i < BD_FSID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!ishex((unsigned char)s[i])) {
			return 0;
		}
	}
	return s[i] == '\0';
}

int
bd_record_fields(char *line, size_t len, size_t nf, char **field, const char *hashname,
    struct bd_record *r, char *why, size_t whylen)
{
	uint64_t *num[6] = { &r->size, NULL, NULL, &r->subvol, &r->ino, &r->gen };
	size_t n = 1, i;
	int dash = strcmp(hashname, "HASH") == 0;
	char *p;

	if (memchr(line, '\0', len)) {
		snprintf(why, whylen, "NUL byte in line");
		return -1;
	}
	field[0] = line;
	for (p = line; (p = memchr(p, '\t', len - (size_t)(p - line))); p++) {
		if (n < nf)
			field[n] = p + 1;
		n++;
		*p = '\0';
	}
	if (n != nf) {
		snprintf(why, whylen, "expected %zu fields, got %zu", nf, n);
		return -1;
	}
	for (i = 0; i < 6; i++) {
		if (!num[i])
			continue;
		if (bd_parse_u64(field[i], num[i]) < 0) {
			snprintf(why, whylen, "bad %s: %s", fieldname[i],
			    errno == ERANGE ? "number too large" : "not a decimal number");
			return -1;
		}
	}
	if (!valid_hash(field[1], dash)) {
		snprintf(why, whylen, "bad %s: not %s32 lowercase hex digits", hashname,
		    dash ? "'-' or " : "");
		return -1;
	}
	memcpy(r->hash, field[1], strlen(field[1]) + 1);
	if (!valid_fsid(field[2])) {
		snprintf(why, whylen, "bad FSID: not a lowercase UUID");
		return -1;
	}
	memcpy(r->fsid, field[2], BD_FSID_LEN + 1);
	if (r->subvol == 0 || r->ino == 0) {
		snprintf(why, whylen, "bad %s: zero", r->subvol ? "INO" : "SUBVOL");
		return -1;
	}
	return 0;
}

int
bd_record_parse(char *line, size_t len, struct bd_record *r, char *why, size_t whylen)
{
	char *field[7];

	if (bd_record_fields(line, len, 7, field, "HASH", r, why, whylen) < 0)
		return -1;
	r->path = field[6];
	if (bd_unescape(r->path, len - (size_t)(field[6] - line), &r->pathlen) < 0) {
		snprintf(why, whylen, "bad escape in PATH");
		return -1;
	}
	if (r->pathlen == 0) {
		snprintf(why, whylen, "empty PATH");
		return -1;
	}
	if (memchr(r->path, '\0', r->pathlen)) {
		snprintf(why, whylen, "NUL byte in PATH");
		return -1;
	}
	if (r->path[0] != '/') {
		snprintf(why, whylen, "PATH is not absolute");
		return -1;
	}
	return 0;
}

int
bd_record_write(FILE *f, const struct bd_record *r)
{
	if (fprintf(f, "%" PRIu64 "\t%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t",
	    r->size, r->hash, r->fsid, r->subvol, r->ino, r->gen) < 0)
		return -1;
	if (bd_escape_write(f, r->path, r->pathlen) < 0)
		return -1;
	return putc('\n', f) == EOF ? -1 : 0;
}

int
bd_record_same_inode(const struct bd_record *a, const struct bd_record *b)
{
	return a->ino == b->ino && a->subvol == b->subvol && strcmp(a->fsid, b->fsid) == 0;
}

int
bd_record_same_group(const struct bd_record *a, const struct bd_record *b)
{
	return a->size == b->size && strcmp(a->hash, b->hash) == 0 &&
	    strcmp(a->fsid, b->fsid) == 0;
}

void
bd_record_copy(struct bd_record *dst, const struct bd_record *src)
{
	*dst = *src;
	dst->path = bd_emalloc(src->pathlen + 1);
	memcpy(dst->path, src->path, src->pathlen + 1);
}

void
bd_record_free(struct bd_record *r)
{
	free(r->path);
	r->path = NULL;
}

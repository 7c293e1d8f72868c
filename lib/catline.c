/* catline.c: one line of the catalog, "SIZE SUBVOL INO GEN DIGEST
 * SAMPLE [KEY [LAYOUT]]", parsed and written by hand: a merge writes
 * millions of them. KEY and LAYOUT are there only when known (KEY "-"
 * before a LAYOUT). */
#include <stdio.h>
#include <string.h>

#include "catalog.h"

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

/* a field of N bytes, "-" or 2 * LEN hex digits into OUT (LEN bytes):
 * 1 a digest, 0 "-", -1 bad */
static int
digest(const char *p, size_t n, uint8_t *out, size_t len)
{
	size_t i;
	int h, l;

	if (n == 1 && *p == '-') {
		memset(out, 0, len);
		return 0;
	}
	if (n != 2 * len)
		return -1;
	for (i = 0; i < len; i++) {
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
	if (nf < 6 || nf > 8) {
		snprintf(why, whylen, "expected 6 to 8 fields, got %zu", nf);
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
	if ((d = digest(p, (size_t)(f - p), e->digest, 16)) < 0) {
		snprintf(why, whylen, "bad DIGEST: not '-'%s or 32 lowercase hex digits",
		    gone_ok ? ", 'gone'" : "");
		return -1;
	}
	e->flags = d ? BD_CAT_DIGEST : 0;
	p = f + 1;
	if (!(f = memchr(p, '\t', (size_t)(end - p))))
		f = end;
	if ((d = digest(p, (size_t)(f - p), e->sample, 16)) < 0) {
		snprintf(why, whylen, "bad SAMPLE: not '-' or 32 lowercase hex digits");
		return -1;
	}
	e->flags |= d ? BD_CAT_SAMPLE : 0;
	if (f == end)
		return 0;            /* no KEY */
	p = f + 1;
	if (!(f = memchr(p, '\t', (size_t)(end - p))))
		f = end;
	/* "-" only where a LAYOUT follows: a KEY field is there for one */
	if ((d = digest(p, (size_t)(f - p), e->key, 8)) < 0 || (d == 0 && f == end)) {
		snprintf(why, whylen, "bad KEY: not 16 lowercase hex digits%s",
		    f == end ? "" : " or '-'");
		return -1;
	}
	e->flags |= d ? BD_CAT_KEY : 0;
	if (f == end)
		return 0;            /* no LAYOUT */
	p = f + 1;
	if (digest(p, (size_t)(end - p), e->layout, BD_LAYOUT_TAG_LEN) <= 0) {
		snprintf(why, whylen, "bad LAYOUT: not %d lowercase hex digits", 2 * BD_LAYOUT_TAG_LEN);
		return -1;
	}
	e->flags |= BD_CAT_LAYOUT;
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
put_digest(char *p, const uint8_t *d, size_t len, int have)
{
	size_t i;

	if (!have) {
		*p++ = '-';
		return p;
	}
	for (i = 0; i < len; i++) {
		*p++ = hexdig[d[i] >> 4];
		*p++ = hexdig[d[i] & 15];
	}
	return p;
}

int
bd_cat_entry_write(FILE *f, const struct bd_cat_entry *e)
{
	char buf[4 * 21 + 2 * 33 + 17 + 2 * BD_LAYOUT_TAG_LEN + 2], *p = buf;

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
		p = put_digest(p, e->digest, 16, e->flags & BD_CAT_DIGEST);
		*p++ = '\t';
		p = put_digest(p, e->sample, 16, e->flags & BD_CAT_SAMPLE);
		if (e->flags & (BD_CAT_KEY | BD_CAT_LAYOUT)) {
			*p++ = '\t';
			p = put_digest(p, e->key, 8, e->flags & BD_CAT_KEY);
		}
		if (e->flags & BD_CAT_LAYOUT) {
			*p++ = '\t';
			p = put_digest(p, e->layout, BD_LAYOUT_TAG_LEN, 1);
		}
	}
	*p++ = '\n';
	return fwrite(buf, 1, (size_t)(p - buf), f) == (size_t)(p - buf) ? 0 : -1;
}

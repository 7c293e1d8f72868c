/* catalog.c: libFuzzer target for the catalog's reading. The input,
 * split at its first byte 0xff, is a base and a journal in a scratch
 * directory; they are opened (an old form converted), listed, and every
 * size listed is looked up. Nothing may crash, and what is listed must
 * be what the lookups find. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bedup.h"

static char dir[] = "/tmp/bedup-fuzz-catalog.XXXXXX";
static char base[64], journal[80];

struct check {
	struct bd_catalog *c;
	struct bd_cat_entry *v;
	size_t cap;
};

static int
check_one(void *arg, const struct bd_cat_entry *e)
{
	struct check *k = arg;
	struct bd_cat_entry f;
	size_t n, i;

	if (!bd_catalog_find(k->c, e->size, e->subvol, e->ino, &f) || f.gen != e->gen ||
	    f.flags != e->flags)
		abort();
	n = bd_catalog_bucket(k->c, e->size, &k->v, &k->cap);
	for (i = 0; i < n; i++)
		if (k->v[i].subvol == e->subvol && k->v[i].ino == e->ino)
			break;
	if (i == n)
		abort();
	return 0;
}

static void
put(const char *path, const uint8_t *d, size_t n)
{
	FILE *f = fopen(path, "w");

	if (!f || (n && fwrite(d, 1, n, f) != n) || fclose(f) == EOF)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *cut = memchr(data, 0xff, size);
	size_t nb = cut ? (size_t)(cut - data) : size;
	struct check k = { NULL, NULL, 0 };

	if (!*base) {
		if (!mkdtemp(dir))
			abort();
		snprintf(base, sizeof base, "%s/catalog", dir);
		snprintf(journal, sizeof journal, "%s.journal", base);
	}
	put(base, data, nb);
	if (cut)
		put(journal, cut + 1, size - nb - 1);
	else
		unlink(journal);
	/* messages, one per bad line, are the stage's business */
	if ((k.c = bd_catalog_open(base))) {
		if (bd_catalog_each(k.c, check_one, &k) != 0)
			abort();
		bd_catalog_close(k.c);
	}
	free(k.v);
	return 0;
}

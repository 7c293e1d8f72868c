/* record.c: libFuzzer target for the record parser and the escaping.
 * Each input line is parsed; a record that parses must write back to a
 * line that parses to the same record (the mapping is exact), and any
 * byte string must survive escape then unescape. */
#include <stdlib.h>
#include <string.h>

#include "bedup.h"

static void
roundtrip_bytes(const uint8_t *d, size_t n)
{
	char *buf = NULL, *copy;
	size_t len = 0, outn;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	bd_escape_write(f, (const char *)d, n);
	fclose(f);
	if (memchr(buf, '\t', len) || memchr(buf, '\n', len))
		abort();
	copy = malloc(len + 1);
	memcpy(copy, buf, len);
	if (bd_unescape(copy, len, &outn) < 0 || outn != n || memcmp(copy, d, n) != 0)
		abort();
	free(copy);
	free(buf);
}

static void
roundtrip_record(const struct bd_record *r)
{
	struct bd_record r2;
	char *buf = NULL, why[128];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	if (bd_record_write(f, r) < 0)
		abort();
	fclose(f);
	if (len == 0 || buf[len - 1] != '\n')
		abort();
	if (bd_record_parse(buf, len - 1, &r2, why, sizeof why) < 0)
		abort();
	if (r2.size != r->size || strcmp(r2.hash, r->hash) || strcmp(r2.fsid, r->fsid) ||
	    r2.subvol != r->subvol || r2.ino != r->ino || r2.gen != r->gen ||
	    r2.pathlen != r->pathlen || memcmp(r2.path, r->path, r->pathlen))
		abort();
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bd_record r;
	char *line = malloc(size + 1), why[128];
	size_t start = 0, i;

	roundtrip_bytes(data, size);
	memcpy(line, data, size);
	line[size] = '\0';
	for (i = 0; i <= size; i++) {
		if (i < size && line[i] != '\n')
			continue;
		line[i] = '\0';
		if (bd_record_parse(line + start, i - start, &r, why, sizeof why) == 0)
			roundtrip_record(&r);
		else if (!*why)
			abort();
		start = i + 1;
	}
	free(line);
	return 0;
}

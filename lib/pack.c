/* pack.c: FSID and HASH fields as 16 raw bytes, for tools that keep
 * millions of records in memory or in temp files. */
#include <string.h>

#include "bedup.h"

static const char hexdig[] = "0123456789abcdef";

static int
unhex(int c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* S holds 32 hex digits, maybe with dashes between pairs (a parsed
 * record's fields are already validated) */
static void
pack(const char *s, uint8_t out[16])
{
	size_t i = 0;

	while (i < 16) {
		if (*s == '-') {
			s++;
			continue;
		}
		out[i++] = (uint8_t)(unhex((unsigned char)s[0]) << 4 | unhex((unsigned char)s[1]));
		s += 2;
	}
}

void
bd_fsid_pack(const char *fsid, uint8_t out[16])
{
	pack(fsid, out);
}

void
bd_fsid_unpack(const uint8_t in[16], char out[BD_FSID_LEN + 1])
{
	size_t i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hexdig[in[i] >> 4];
		out[o++] = hexdig[in[i] & 15];
	}
	out[o] = '\0';
}

int
bd_hash_pack(const char *hash, uint8_t out[16])
{
	if (strcmp(hash, "-") == 0) {
		memset(out, 0, 16);
		return 0;
	}
	pack(hash, out);
	return 1;
}

void
bd_hash_unpack(const uint8_t in[16], char out[BD_HASH_LEN + 1])
{
	size_t i;

	for (i = 0; i < 16; i++) {
		out[2 * i] = hexdig[in[i] >> 4];
		out[2 * i + 1] = hexdig[in[i] & 15];
	}
	out[BD_HASH_LEN] = '\0';
}

void
bd_inode_key(struct bd_inode *k, const struct bd_record *r)
{
	memset(k, 0, sizeof *k);
	bd_fsid_pack(r->fsid, k->fsid);
	k->subvol = r->subvol;
	k->ino = r->ino;
}

int
bd_inode_cmp(const void *pa, const void *pb)
{
	const struct bd_inode *a = pa, *b = pb;
	int c = memcmp(a->fsid, b->fsid, 16);

	if (c)
		return c;
	if (a->subvol != b->subvol)
		return a->subvol < b->subvol ? -1 : 1;
	return (a->ino > b->ino) - (a->ino < b->ino);
}

/* cathead.c: the header line of the catalog's base, "# bedup catalog
 * VERSION FSID": which versions are read and which is written, and the
 * FSID the catalog is of. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"

#define HEADER "# bedup catalog "
#define VERSION "4 "     /* written; "3 " (no LAYOUT), "2 " (no KEY) are read too */

int
cat_header_write(FILE *f, const struct bd_catalog *c)
{
	char fsid[BD_FSID_LEN + 1] = "-";

	if (c->has_fsid)
		bd_fsid_unpack(c->fsid, fsid);
	return fprintf(f, HEADER VERSION "%s\n", fsid) < 0 ? -1 : 0;
}

/* the header: "# bedup catalog 4 FSID" (or 3, or 2: C->old set); the rest
 * of the base is read as entries whatever it holds, so a bad FSID only
 * loses the FSID */
static int
header(struct bd_catalog *c)
{
	size_t n = sizeof HEADER - 1, len, i;
	char fsid[BD_FSID_LEN + 1], buf[BD_CAT_LINE_MAX];
	struct cat_win w;
	const char *p;
	uint8_t raw[16];

	cat_win_init(&w, c, buf, sizeof buf);
	p = cat_win_line(&w, 0, &len, &c->body);
	if (!p || len < n + 2 || p[n] < '2' || p[n] > VERSION[0] || p[n + 1] != ' ') {
		bd_pfail(c->path, "line 1: not a catalog of version 4, 3 or 2");
		errno = EPROTO;
		return -1;
	}
	c->old = p[n] != VERSION[0];
	p += n + 2;
	len -= n + 2;
	if (len == 1 && *p == '-')
		return 0;
	if (len == BD_FSID_LEN) {
		memcpy(fsid, p, BD_FSID_LEN);
		fsid[BD_FSID_LEN] = '\0';
		bd_fsid_pack(fsid, raw);
		bd_fsid_unpack(raw, fsid);
		for (i = 0; i < BD_FSID_LEN && fsid[i] == p[i]; i++)
			;
		if (i == BD_FSID_LEN) {
			memcpy(c->fsid, raw, 16);
			c->has_fsid = 1;
			return 0;
		}
	}
	bd_pfail(c->path, "line 1: bad FSID");
	return 0;
}

int
cat_header_read(struct bd_catalog *c)
{
	char head[sizeof HEADER - 1];
	ssize_t r;

	if ((r = pread(c->fd, head, sizeof head, 0)) < 0)
		return -1;
	if ((size_t)r < sizeof head || memcmp(head, HEADER, sizeof head) != 0)
		return 1;
	return header(c);
}

int
bd_catalog_fsid(const struct bd_catalog *c, uint8_t fsid[16])
{
	if (!c->has_fsid)
		return -1;
	memcpy(fsid, c->fsid, 16);
	return 0;
}

void
bd_catalog_set_fsid(struct bd_catalog *c, const uint8_t fsid[16])
{
	if (c->has_fsid && memcmp(c->fsid, fsid, 16) == 0)
		return;
	memcpy(c->fsid, fsid, 16);
	c->has_fsid = c->fsid_new = 1;
}

struct bd_catalog *
bd_catalog_open_for(const char *path, const uint8_t first[16], int update, uint8_t fsid[16])
{
	struct bd_catalog *c = bd_catalog_open(path);

	if (c && bd_catalog_fsid(c, fsid) < 0) {
		memcpy(fsid, first, 16);
		if (update)
			bd_catalog_set_fsid(c, fsid);
	}
	return c;
}

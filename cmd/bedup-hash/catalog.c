/* catalog.c: what the catalog (lib/catalog.c) knows of a member, and
 * what a run learns of it: with -u, one batch committed at the end. */
#include <stdlib.h>
#include <string.h>

#include "hash.h"

/* the catalog, once the first input line is in (so that in a pipeline
 * bedup-group has committed it: the protocol); an empty one takes the
 * FSID of the first record */
void
open_catalog(struct run *rn, const char *path, const struct bd_record *first)
{
	uint8_t fsid[16];

	bd_fsid_pack(first->fsid, fsid);
	if (!(rn->cat = bd_catalog_open_for(path, fsid, rn->update, rn->catfsid)))
		bd_die("%s:", path);
}

/* whether R is of the catalog's filesystem */
static int
ours(const struct run *rn, const struct bd_record *r)
{
	uint8_t fsid[16];

	if (!rn->cat)
		return 0;
	bd_fsid_pack(r->fsid, fsid);
	return memcmp(fsid, rn->catfsid, 16) == 0;
}

/* the catalog's entry for M's inode as it is now (same size, the key,
 * and same generation), or NULL: looked up once per member */
const struct bd_cat_entry *
member_entry(const struct run *rn, struct member *m)
{
	const struct bd_record *r = &m->r;

	if (m->ce_state == 0)
		m->ce_state = ours(rn, r) &&
		    bd_catalog_find(rn->cat, r->size, r->subvol, r->ino, &m->ce) &&
		    m->ce.gen == r->gen ? 1 : -1;
	return m->ce_state > 0 ? &m->ce : NULL;
}

/* what the run knows of R at the end of its group, its DIGEST, SAMPLE
 * and checksum KEY (NULL: not known), and the tag of its layout as read
 * (a member bedup-clone then shares into comes back to bedup-group as
 * changed, which replaces its entry), into the batch when it is news */
void
learn_member(const struct run *rn, struct member *m, const uint8_t *digest,
    const uint8_t *sample, const uint8_t *key)
{
	const struct bd_record *r = &m->r;
	const struct bd_cat_entry *old;
	struct bd_cat_entry e;
	uint8_t tag[BD_LAYOUT_TAG_LEN];
	int tagged;

	if (!rn->update || !ours(rn, r))
		return;
	tagged = m->laid && bd_layout_tag(&m->lay, tag);
	if (!digest && !sample && !key && !tagged)
		return;
	if ((old = member_entry(rn, m)))
		e = *old;
	else
		memset(&e, 0, sizeof e);
	e.size = r->size;
	e.subvol = r->subvol;
	e.ino = r->ino;
	e.gen = r->gen;
	if (digest) {
		memcpy(e.digest, digest, 16);
		e.flags |= BD_CAT_DIGEST;
	}
	if (sample) {
		memcpy(e.sample, sample, 16);
		e.flags |= BD_CAT_SAMPLE;
	}
	if (key) {
		memcpy(e.key, key, 8);
		e.flags |= BD_CAT_KEY;
	}
	if (tagged) {
		memcpy(e.layout, tag, BD_LAYOUT_TAG_LEN);
		e.flags |= BD_CAT_LAYOUT;
	}
	if (old && memcmp(&e, old, sizeof e) == 0)
		return;
	bd_catalog_put(rn->cat, &e);
}

/* R's inode is gone, or another file has its number: the catalog's
 * entry of its key goes */
void
forget_member(const struct run *rn, const struct bd_record *r)
{
	struct bd_cat_entry e;

	if (!rn->update || !ours(rn, r) || !bd_catalog_find(rn->cat, r->size, r->subvol, r->ino, &e))
		return;
	e.flags = BD_CAT_GONE;
	bd_catalog_put(rn->cat, &e);
}

/* with -u, at the end: the batch into the catalog */
void
close_catalog(struct run *rn, const char *path)
{
	if (!rn->cat)
		return;
	if (rn->update && bd_catalog_commit(rn->cat, 0) < 0)
		bd_fail("%s:", path);
	bd_catalog_close(rn->cat);
	rn->cat = NULL;
}

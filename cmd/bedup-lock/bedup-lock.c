/* bedup-lock: passes on only the group members that nobody is writing and
 * whose data may be shared, so that bedup-clone acts on files at rest. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>

#include "bedup.h"

static const char usage[] = "bedup-lock [-R] [-s SKIPPED] [-v] [-i COUNTS] [FILE...]";

struct member {
	int keep;
	int ro;                       /* in a read-only subvolume */
	int nocow;                    /* nodatacow (FS_NOCOW_FL) */
};

/* The members an earlier pass left out for a reason of their own (not
 * "alone"), read from the -s file before this pass appends to it: left
 * out again, silently, so that a second pass over a group does not say
 * it twice. */
struct skipped {
	struct bd_inode *k;
	size_t n;
};

static void
skipped_load(struct skipped *sk, FILE *f)
{
	struct bd_record r;
	char *line = NULL, *fld[8], *p;
	size_t cap = 0, n = 0, i;
	ssize_t len;

	while ((len = getline(&line, &cap, f)) > 0) {
		for (i = 0, p = line; i < 8 && p; i++)
			fld[i] = strsep(&p, "\t");
		memset(&r, 0, sizeof r);
		/* a line not of this format is not ours to judge: ignored */
		if (i < 8 || !strcmp(fld[0], "alone") || strlen(fld[2]) != BD_FSID_LEN ||
		    bd_parse_u64(fld[5], &r.subvol) < 0 || bd_parse_u64(fld[6], &r.ino) < 0)
			continue;
		memcpy(r.fsid, fld[2], BD_FSID_LEN + 1);
		if (sk->n == n) {
			n = n ? 2 * n : 64;
			sk->k = bd_erealloc(sk->k, n * sizeof *sk->k);
		}
		bd_inode_key(&sk->k[sk->n++], &r);
	}
	free(line);
	/* from reading to appending: a stream needs a seek between */
	if (ferror(f) || fseek(f, 0, SEEK_END) < 0)
		bd_die("cannot read the skipped members:");
	if (sk->n)
		qsort(sk->k, sk->n, sizeof *sk->k, bd_inode_cmp);
}

static int
skipped_before(const struct skipped *sk, const struct bd_record *r)
{
	struct bd_inode k;

	if (!sk->n)
		return 0;
	bd_inode_key(&k, r);
	return bsearch(&k, sk->k, sk->n, sizeof k, bd_inode_cmp) != NULL;
}

/* A member left out for a reason that is no failure (RECORDS.md): a note
 * on stderr, and with -s a line of bedup-clone's format into SK, which
 * tells the caller what to take again (in use) and what not (the rest). */
static void
skip(FILE *sk, const char *status, const struct bd_record *r, const char *why)
{
	bd_pwarn(r->path, "%s", why);
	if (sk && bd_outcome_write(sk, status, r->size, NULL, r) < 0)
		bd_die("write error:");
}

/* Checks the file R names and fills M. Returns 1 to keep it, 0 to drop it
 * (with a note unless it is gone). */
static int
check(const struct bd_record *r, struct member *m, FILE *sk)
{
	struct bd_layout lay = {0};
	struct stat st;
	int fd, fl = 0, ok = 0, sw, inl;

	if ((fd = bd_member_open(r, &st)) < 0)
		return 0;
	/* inline data (in the metadata, a small file) has no extent to
	 * share: FIDEDUPERANGE would only copy it. Left before any lease.
	 * A file with its first bytes inline and the rest in extents may
	 * still be shared into */
	inl = bd_layout_fd(fd, r, &lay) == 0 && bd_layout_all_inline(&lay);
	bd_layout_free(&lay);
	if (inl) {
		skip(sk, "inline", r, "inline data, cannot be shared, skipped");
		goto out;
	}
	/* the kernel's own test for writers: a read lease is refused while
	 * any process has the file open for writing or mapped writable; an
	 * active swap file too (swapon keeps it open read-write), which no
	 * wait will change */
	if (fcntl(fd, F_SETLEASE, F_RDLCK) < 0) {
		if (errno != EAGAIN)
			bd_pfail(r->path, "cannot test for writers:");
		else if ((sw = bd_swapfile_fd(fd)) > 0)
			skip(sk, "swapfile", r, "an active swap file, skipped");
		else if (sw == 0)
			skip(sk, "in-use", r, "in use, skipped");
		else
			bd_pfail(r->path, "in use; cannot tell whether as a swap file:");
		goto out;
	}
	if (fcntl(fd, F_SETLEASE, F_UNLCK) < 0) {
		bd_pfail(r->path, "cannot release the lease:");
		goto out;
	}
	if (bd_iflags_fd(fd, &fl) < 0) {
		bd_pfail(r->path, "cannot read flags:");
		goto out;
	}
	/* the kernel refuses to share into these; their flags are never touched */
	if (fl & FS_IMMUTABLE_FL) {
		skip(sk, "immutable", r, "immutable, skipped");
		goto out;
	}
	if (fl & FS_APPEND_FL) {
		skip(sk, "append-only", r, "append-only, skipped");
		goto out;
	}
	if (bd_subvol_readonly_fd(fd, &m->ro) < 0) {
		bd_pfail(r->path, "cannot read the subvolume's flags:");
		goto out;
	}
	m->nocow = !!(fl & FS_NOCOW_FL);
	ok = 1;
out:
	close(fd);
	return ok;
}

/* btrfs shares data only between files that are both nodatacow or both
 * not. Keeps the kind most read-only members have (they cannot change),
 * else the kind most members have, datacow on a tie. */
static void
one_kind(const struct bd_group *g, struct member *m, FILE *sk)
{
	size_t i, cow = 0, nocow = 0, rocow = 0, ronocow = 0;
	int kind;

	for (i = 0; i < g->n; i++) {
		if (!m[i].keep)
			continue;
		if (m[i].nocow) {
			nocow++;
			ronocow += m[i].ro;
		} else {
			cow++;
			rocow += m[i].ro;
		}
	}
	if (rocow + ronocow)
		kind = ronocow > rocow;
	else
		kind = nocow > cow;
	for (i = 0; i < g->n; i++) {
		if (m[i].keep && m[i].nocow != kind) {
			skip(sk, m[i].nocow ? "nodatacow" : "datacow", &g->r[i],
			    m[i].nocow ? "nodatacow unlike the rest of its group, skipped" :
			    "datacow unlike the rest of its group, skipped");
			m[i].keep = 0;
		}
	}
}

/* G's members kept (M[i].keep) out, when they make a group: a second
 * member, and one that may change; the members of one that has not are
 * left, until one of the group changes, as the others are (an "alone"
 * line in SK). Returns 1 when the group went out, counting its members
 * into *PASSED. */
static int
pass_group(const struct bd_group *g, const struct member *m, int rflag, FILE *sk,
    uint64_t *passed)
{
	size_t i, n = 0, dests = 0;

	for (i = 0; i < g->n; i++) {
		n += m[i].keep;
		dests += m[i].keep && (!m[i].ro || rflag);
	}
	if (n < 2 || dests == 0) {
		for (i = 0; sk && i < g->n; i++)
			if (m[i].keep && bd_outcome_write(sk, "alone", g->r[i].size, NULL,
			    &g->r[i]) < 0)
				bd_die("write error:");
		return 0;
	}
	for (i = 0; i < g->n; i++) {
		if (!m[i].keep)
			continue;
		(*passed)++;
		if (bd_record_write(stdout, &g->r[i]) < 0)
			bd_die("write error:");
	}
	return 1;
}

int
main(int argc, char **argv)
{
	struct bd_input in;
	struct bd_group g = {0};
	struct member *m = NULL;
	char *seen = NULL;
	uint64_t groups = 0, kept = 0, files = 0, passed = 0;
	size_t i, cap = 0;
	int c, rflag = 0, vflag = 0;
	FILE *sk = NULL;
	const char *counts = NULL;
	struct skipped before = {0};

	bd_init(argv[0]);
	bd_version(argc, argv);
	while ((c = getopt(argc, argv, "Rs:vi:h")) != -1) {
		switch (c) {
		case 'R': rflag = 1; break;
		case 's':
			/* appended to: a caller runs a stage per pass */
			if (sk)
				bd_usage(usage);
			if (!(sk = fopen(optarg, "a+e")))
				bd_die("%s:", optarg);
			skipped_load(&before, sk);
			break;
		case 'v': vflag = 1; break;
		case 'i': counts = optarg; break;
		case 'h': printf("usage: %s\n", usage); return bd_finish();
		default: bd_usage(usage);
		}
	}
	bd_input_init(&in, argc - optind, argv + optind);
	while (bd_group_next(&in, &g)) {
		groups++;
		files += g.n;
		if (g.n > cap) {
			cap = g.n;
			m = bd_erealloc(m, cap * sizeof *m);
			seen = bd_erealloc(seen, cap);
		}
		bd_group_links(&g, seen);
		for (i = 0; i < g.n; i++) {
			memset(&m[i], 0, sizeof m[i]);
			/* a hard link is the same member again; an empty file
			 * has nothing to share */
			if (g.r[0].size == 0 || seen[i] || skipped_before(&before, &g.r[i]))
				continue;
			m[i].keep = check(&g.r[i], &m[i], sk);
		}
		one_kind(&g, m, sk);
		kept += pass_group(&g, m, rflag, sk, &passed);
	}
	if (vflag)
		bd_warn("%" PRIu64 " of %" PRIu64 " groups, %" PRIu64 " of %" PRIu64
			" files passed", kept, groups, passed, files);
	bd_input_close(&in);
	bd_group_free(&g);
	free(m);
	free(seen);
	free(before.k);
	if (sk && (fflush(sk) == EOF || ferror(sk) || fclose(sk) == EOF)) {
		bd_warn("write error:");
		return 2;
	}
	bd_counts_end(vflag, counts);
	return bd_finish();
}

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

static const char usage[] = "bedup-lock [-R] [-v] [FILE...]";

struct member {
	int keep;
	int ro;                       /* in a read-only subvolume */
	int nocow;                    /* nodatacow (FS_NOCOW_FL) */
};

/* Checks the file R names and fills M. Returns 1 to keep it, 0 to drop it
 * (with a note unless it is gone). */
static int
check(const struct bd_record *r, struct member *m)
{
	struct stat st;
	int fd, fl = 0, ok = 0;

	if ((fd = bd_member_open(r, &st)) < 0)
		return 0;
	/* the kernel's own test for writers: a read lease is refused while
	 * any process has the file open for writing or mapped writable (an
	 * active swap file too: swapon keeps it open read-write) */
	if (fcntl(fd, F_SETLEASE, F_RDLCK) < 0) {
		if (errno == EAGAIN)
			bd_pfail(r->path, "in use, skipped");
		else
			bd_pfail(r->path, "cannot test for writers:");
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
		bd_pfail(r->path, "immutable, skipped");
		goto out;
	}
	if (fl & FS_APPEND_FL) {
		bd_pfail(r->path, "append-only, skipped");
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
one_kind(const struct bd_group *g, struct member *m)
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
			bd_pfail(g->r[i].path, "%s unlike the rest of its group, skipped",
				m[i].nocow ? "nodatacow" : "datacow");
			m[i].keep = 0;
		}
	}
}

int
main(int argc, char **argv)
{
	struct bd_input in;
	struct bd_group g = {0};
	struct member *m = NULL;
	char *seen = NULL;
	uint64_t groups = 0, kept = 0, files = 0, passed = 0;
	size_t i, cap = 0, n, dests;
	int c, rflag = 0, vflag = 0;

	bd_init(argv[0]);
	bd_version(argc, argv);
	while ((c = getopt(argc, argv, "Rvh")) != -1) {
		switch (c) {
		case 'R': rflag = 1; break;
		case 'v': vflag = 1; break;
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
			if (g.r[0].size == 0 || seen[i])
				continue;
			m[i].keep = check(&g.r[i], &m[i]);
		}
		one_kind(&g, m);
		for (i = n = dests = 0; i < g.n; i++) {
			n += m[i].keep;
			dests += m[i].keep && (!m[i].ro || rflag);
		}
		/* a group needs a second member, and one that may change */
		if (n < 2 || dests == 0)
			continue;
		kept++;
		for (i = 0; i < g.n; i++) {
			if (!m[i].keep)
				continue;
			passed++;
			if (bd_record_write(stdout, &g.r[i]) < 0)
				bd_die("write error:");
		}
	}
	if (vflag)
		bd_warn("%" PRIu64 " of %" PRIu64 " groups, %" PRIu64 " of %" PRIu64
			" files passed", kept, groups, passed, files);
	bd_input_close(&in);
	bd_group_free(&g);
	free(m);
	free(seen);
	return bd_finish();
}

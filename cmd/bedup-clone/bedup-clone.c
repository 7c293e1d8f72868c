/* bedup-clone: shares the data of one member of each group into the
 * others with FIDEDUPERANGE. Nothing is ever written to a file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <linux/fs.h>

#include "bedup.h"

static const char usage[] = "bedup-clone [-n] [-R] [--defrag] [--same-owner] [-v] [-i COUNTS] [FILE...]";

struct opts {
	int dry, ro, defrag, same_owner, verbose;
	const char *counts;
};

struct totals {
	uint64_t deduped, bytes, shared, failed;
};

struct cand {
	int ok;                       /* opened, the inode the record names */
	int todo;                     /* --same-owner: owner not yet done */
	int fd;                       /* kept open from the survey, or -1 */
	struct bd_source src;         /* what the source rule weighs */
	uid_t uid;                    /* owner */
	struct bd_layout lay;         /* its extent references */
};

/* how many members of a group the survey keeps open for the dedupe, so
 * that no file is opened twice: all but a margin of the soft limit on
 * open files, raised towards KEEP_FILES (the hard limit permitting); the
 * members of a larger group beyond it are opened again */
#define KEEP_FILES 8192
static size_t keep_max;

static void
keep_init(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < KEEP_FILES && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < KEEP_FILES ? rl.rlim_max : KEEP_FILES;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* the rest: a batch of destinations beyond the kept ones, the
	 * kept directories and stdio */
	if (rl.rlim_cur > 2 * bd_dedupe_max_dests() + 64)
		keep_max = rl.rlim_cur - 2 * bd_dedupe_max_dests() - 64;
}

/* One line per destination: STATUS BYTES FSID SRCSUBVOL SRCINO DSTSUBVOL
 * DSTINO SRC DST. The inodes say which records the line is about; the
 * paths, last, are for people (RECORDS.md: PATH is a hint). */
static void
out(const char *status, uint64_t bytes, const struct bd_record *src,
    const struct bd_record *dst)
{
	if (bd_outcome_write(stdout, status, bytes, src, dst) < 0)
		bd_die("write error:");
}

/* Looks at every member once: which can be used, which are read-only,
 * how much of each is already shared, its extent references. Keeps the
 * first keep_max members open; the others are opened again to share. */
static void
survey(const struct bd_group *g, struct cand *c)
{
	struct bd_extents x = {0};
	struct stat st;
	char *seen = bd_emalloc(g->n);
	size_t i, kept = 0;
	int fd;

	bd_group_links(g, seen);
	for (i = 0; i < g->n; i++) {
		c[i].ok = c[i].todo = 0;
		c[i].fd = -1;
		if (seen[i] || (fd = bd_member_open(&g->r[i], &st)) < 0)
			continue;
		if (bd_subvol_readonly_fd(fd, &c[i].src.ro) < 0)
			bd_pfail(g->r[i].path, "cannot read the subvolume's flags:");
		else if (bd_extents_get(fd, &x) < 0 ||
		    bd_layout_synced(fd, &g->r[i], &c[i].lay) < 0)
			bd_pfail(g->r[i].path, "cannot read the extent map:");
		else {
			/* FIEMAP says which bytes the kernel holds shared */
			c[i].src.shared = bd_extents_shared_bytes(&x);
			c[i].src.inl = c[i].lay.inl;
			c[i].uid = st.st_uid;
			c[i].ok = 1;
		}
		if (c[i].ok && kept < keep_max) {
			c[i].fd = fd;
			kept++;
		} else {
			close(fd);
		}
	}
	bd_extents_free(&x);
	free(seen);
}

/* member I's fd for the dedupe: the survey's, or opened again, identity
 * checked, when the survey could not keep it; -1 if gone since. The
 * caller owns it. */
static int
take(const struct bd_group *g, struct cand *c, size_t i)
{
	struct stat st;
	int fd = c[i].fd;

	c[i].fd = -1;
	return fd >= 0 ? fd : bd_member_open(&g->r[i], &st);
}

/* closes what the survey kept and nothing took */
static void
release(const struct bd_group *g, struct cand *c)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (c[i].fd >= 0) {
			close(c[i].fd);
			c[i].fd = -1;
		}
}

/* The source, by lib's rule (bd_source_better), which bedup-hash's
 * reads follow too. -1 if none. */
static long
pick(const struct cand *c, size_t n)
{
	long best = -1;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i].ok && (best < 0 || bd_source_better(&c[i].src, &c[best].src)))
			best = (long)i;
	return best;
}

static void
defrag(int fd, const struct bd_record *r)
{
	/* written out, so that the tree says where its data now lies */
	if (bd_defrag_fd(fd) < 0 || fdatasync(fd) < 0)
		bd_pfail(r->path, "defrag:");
}

/* Reports that DST could not be shared, for the reason E (an errno). */
static void
fail(int e, const struct bd_record *src, const struct bd_record *dst, struct totals *t)
{
	const char *s = strerrorname_np(e);
	char status[64];

	/* the kernel's answer for an active swap file: left, as
	 * bedup-lock leaves one, no failure */
	if (e == ETXTBSY) {
		out("swapfile", dst->size, src, dst);
		bd_pwarn(dst->path, "an active swap file, not shared");
		return;
	}
	snprintf(status, sizeof status, "error:%s", s ? s : "EUNKNOWN");
	out(status, dst->size, src, dst);
	errno = e;
	bd_pfail(dst->path, "not shared:");
	t->failed++;
}

/* Shares SRC into the N destinations of batch B and reports each. */
static void
run(int sfd, const struct bd_group *g, const struct cand *c, size_t src,
    struct bd_dedupe_dest *d, const size_t *b, size_t n, struct totals *t)
{
	const struct bd_record *s = &g->r[src], *r;
	uint64_t done;
	size_t i;

	bd_dedupe(sfd, s->size, d, n);
	for (i = 0; i < n; i++) {
		r = &g->r[b[i]];
		/* data bytes, not the range: holes were never space to free */
		done = bd_layout_data_bytes(&c[b[i]].lay, d[i].done);
		t->bytes += done;
		switch (d[i].state) {
		case BD_DEDUPE_DONE:
			t->deduped++;
			out("deduped", done, s, r);
			break;
		case BD_DEDUPE_DIFFERS:
			out("differs", r->size, s, r);
			break;
		case BD_DEDUPE_BUSY:
			out("busy", r->size, s, r);
			break;
		default:
			fail(d[i].err, s, r, t);
			break;
		}
		/* each failure is also a message, as RECORDS.md asks; busy
		 * is for now, a note (the caller tries again) */
		if (d[i].state == BD_DEDUPE_DIFFERS) {
			bd_pfail(r->path, "content differs from the source, not shared");
			t->failed++;
		} else if (d[i].state == BD_DEDUPE_BUSY) {
			bd_pwarn(r->path, "busy (a btrfs send in progress?), not shared");
		}
		/* the compare read it: leave the page cache to the user's data */
		posix_fadvise(d[i].fd, 0, 0, POSIX_FADV_DONTNEED);
		close(d[i].fd);
	}
}

/* a group's source, as each destination is checked against it */
struct source {
	const struct bd_record *r;
	int flags;
	uid_t uid;
	const struct bd_layout *x;    /* its extent references */
	struct bd_layout defragged;   /* with --defrag, read again after it */
};

/* Checks the destination DST, open as FD, its survey C, against the
 * source S: returns 1 when the kernel is to compare it; else 0, after
 * its line, FD closed. */
static int
admit(const struct source *s, const struct bd_record *dst, const struct cand *c, int fd,
    const struct opts *o, struct totals *t)
{
	const struct bd_record *src = s->r;
	struct stat st;
	int fl, e;

	if (c->src.ro && !o->ro)
		goto skip;
	/* the owner as it is now, a moment before the dedupe, counts */
	if (o->same_owner && (fstat(fd, &st) < 0 || st.st_uid != s->uid))
		goto skip;
	/* the kernel shares into an append-only file; its owner asked
	 * for nothing but appends, so neither flag is ever overruled:
	 * a policy, a note (RECORDS.md), as bedup-lock's */
	if (bd_iflags_fd(fd, &fl) < 0) {
		fail(errno, src, dst, t);
		goto skip;
	}
	if (fl & (FS_IMMUTABLE_FL | FS_APPEND_FL)) {
		e = fl & FS_IMMUTABLE_FL;
		out(e ? "immutable" : "append-only", dst->size, src, dst);
		bd_pwarn(dst->path, "%s, not shared", e ? "immutable" : "append-only");
		goto skip;
	}
	/* btrfs shares only between two nodatacow files or two not
	 * (EINVAL): the kind is the file's choice, as bedup-lock's */
	if ((fl ^ s->flags) & FS_NOCOW_FL) {
		e = fl & FS_NOCOW_FL;
		out(e ? "nodatacow" : "datacow", dst->size, src, dst);
		bd_pwarn(dst->path, "%s unlike its source, not shared",
		    e ? "nodatacow" : "datacow");
		goto skip;
	}
	/* the same extent references, compressed or not: nothing to do */
	if (bd_layout_same(s->x, &c->lay)) {
		t->shared++;
		out("shared", dst->size, src, dst);
		goto skip;
	}
	/* the kernel would copy inline data into the destination's
	 * metadata: no space freed, and the file reported changed. A
	 * destination with some data inline and the rest in extents (a
	 * small file extended) can take the source's extents: that frees
	 * its own; one with no extent has nothing to free */
	if (s->x->inl || bd_layout_no_extent(&c->lay)) {
		out("inline", dst->size, src, dst);
		goto skip;
	}
	if (o->dry) {
		out("would-dedupe", dst->size, src, dst);
		goto skip;
	}
	return 1;
skip:
	close(fd);
	return 0;
}

/* The source of the members of G that C marks ok, its fd into *SFD:
 * the best by the source rule that is still there; -1 if none. */
static long
source_of(const struct bd_group *g, struct cand *c, const struct opts *o, struct source *s,
    int *sfd)
{
	struct stat st;
	long src;

	while ((src = pick(c, g->n)) >= 0 && (*sfd = take(g, c, (size_t)src)) < 0)
		c[src].ok = 0;
	if (src < 0)
		return -1;
	s->r = &g->r[src];
	s->x = &c[src].lay;
	if (fstat(*sfd, &st) < 0 || bd_iflags_fd(*sfd, &s->flags) < 0) {
		bd_pfail(s->r->path, "cannot read the flags:");
		close(*sfd);
		return -1;
	}
	s->uid = st.st_uid;
	if (o->defrag && !o->dry && !c[src].src.ro) {
		defrag(*sfd, s->r);
		/* its extents moved: compared as they are now */
		if (bd_layout_fd(*sfd, s->r, &s->defragged) < 0) {
			bd_pfail(s->r->path, "cannot read the extent map:");
			close(*sfd);
			return -1;
		}
		s->x = &s->defragged;
	}
	return src;
}

/* Shares the members of G that C marks ok: one source, the rest into it. */
static void
share(const struct bd_group *g, struct cand *c, const struct opts *o, struct totals *t)
{
	struct source s = {0};
	struct bd_dedupe_dest *d;
	size_t i, n = 0, max = bd_dedupe_max_dests(), *b;
	long src;
	int sfd = -1, fd;

	if ((src = source_of(g, c, o, &s, &sfd)) < 0) {
		bd_layout_free(&s.defragged);
		return;
	}
	d = bd_ecalloc(max, sizeof *d);
	b = bd_ecalloc(max, sizeof *b);
	for (i = 0; i < g->n; i++) {
		if (!c[i].ok || (long)i == src)
			continue;
		if ((fd = take(g, c, i)) < 0)
			continue;
		if (!admit(&s, &g->r[i], &c[i], fd, o, t))
			continue;
		d[n].fd = fd;
		b[n++] = i;
		if (n == max) {
			run(sfd, g, c, (size_t)src, d, b, n, t);
			n = 0;
		}
	}
	if (n)
		run(sfd, g, c, (size_t)src, d, b, n, t);
	free(d);
	free(b);
	bd_layout_free(&s.defragged);
	/* bedup-hash left the pages of identical files for the compare */
	posix_fadvise(sfd, 0, 0, POSIX_FADV_DONTNEED);
	close(sfd);
}

/* Shares each group, or with --same-owner each owner's part of it, so
 * that bedup never makes a file share extents with another user's file:
 * shared extents would tell a user that someone else holds the same data. */
static void
group(const struct bd_group *g, struct cand *c, const struct opts *o, struct totals *t)
{
	size_t i, j, n;
	uid_t uid;

	if (g->n < 2 || g->r[0].size == 0)
		return;
	survey(g, c);
	if (!o->same_owner) {
		share(g, c, o, t);
		release(g, c);
		return;
	}
	for (i = 0; i < g->n; i++)
		c[i].todo = c[i].ok;
	for (i = 0; i < g->n; i++) {
		if (!c[i].todo)
			continue;
		uid = c[i].uid;
		for (j = n = 0; j < g->n; j++) {
			c[j].ok = j >= i && c[j].todo && c[j].uid == uid;
			c[j].todo &= !c[j].ok;
			n += c[j].ok;
		}
		if (n >= 2)
			share(g, c, o, t);
	}
	release(g, c);
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "defrag", no_argument, NULL, 'D' },
		{ "same-owner", no_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = {0};
	struct totals t = {0};
	struct bd_input in;
	struct bd_group g = {0};
	struct cand *c = NULL;
	size_t cap = 0;
	int ch;

	bd_init(argv[0]);
	bd_version(argc, argv);
	while ((ch = getopt_long(argc, argv, "nRvi:h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'n': o.dry = 1; break;
		case 'R': o.ro = 1; break;
		case 'v': o.verbose = 1; break;
		case 'i': o.counts = optarg; break;
		case 'D': o.defrag = 1; break;
		case 'O': o.same_owner = 1; break;
		case 'h': printf("usage: %s\n", usage); return bd_finish();
		default: bd_usage(usage);
		}
	}
	keep_init();
	bd_input_init(&in, argc - optind, argv + optind);
	while (bd_group_next(&in, &g)) {
		if (g.n > cap) {
			c = bd_erealloc(c, g.n * sizeof *c);
			memset(c + cap, 0, (g.n - cap) * sizeof *c);
			cap = g.n;
		}
		group(&g, c, &o, &t);
	}
	if (o.verbose)
		bd_warn("%" PRIu64 " files deduplicated, %" PRIu64 " bytes newly shared, %"
			PRIu64 " already shared, %" PRIu64 " failed",
			t.deduped, t.bytes, t.shared, t.failed);
	bd_input_close(&in);
	bd_group_free(&g);
	while (cap > 0)
		bd_layout_free(&c[--cap].lay);
	free(c);
	bd_counts_end(o.verbose, o.counts);
	return bd_finish();
}

/* subvols.c: the subvolumes to search: the one holding each PATH, seen
 * from its top directory, and without -x those nested below it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <btrfsutil.h>

#include "bedup-findnew.h"

/* Adds the subvolume whose top directory is FD, at absolute path TOP
 * (taken over), unless it is there already. */
static void
add_target(struct targets *ts, int fd, char *top, const char *fsid, uint64_t subvol)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		if (ts->t[i].subvol == subvol && strcmp(ts->t[i].fsid, fsid) == 0) {
			close(fd);
			free(top);
			return;
		}
	if (ts->n == ts->cap)
		ts->t = bd_erealloc(ts->t, (ts->cap = ts->cap ? 2 * ts->cap : 8) * sizeof *ts->t);
	memset(&ts->t[ts->n], 0, sizeof ts->t[ts->n]);
	memcpy(ts->t[ts->n].fsid, fsid, sizeof ts->t[ts->n].fsid);
	ts->t[ts->n].subvol = subvol;
	ts->t[ts->n].top = top;
	ts->t[ts->n].fd = fd;
	ts->n++;
}

/* Can this subvolume be searched (root only)? A one-item search. */
static int
probe(int fd, uint64_t subvol)
{
	struct bd_search s;
	int r;

	bd_search_init(&s, SMALL_BUF);
	bd_search_set(&s, subvol, (struct bd_key){ TOP_DIR, BTRFS_INODE_ITEM_KEY, 0 },
	    (struct bd_key){ TOP_DIR, BTRFS_INODE_ITEM_KEY, UINT64_MAX }, 0);
	r = bd_search_run(fd, &s, 1);
	bd_search_free(&s);
	return r < 0 ? -1 : 0;
}

/* Adds every subvolume nested below target T that can be reached by its
 * path; one that cannot is skipped with a warning. Returns 0, or -1 with
 * errno when they cannot be listed. */
static int
add_nested(struct targets *ts, size_t ti)
{
	struct btrfs_util_subvolume_iterator *it;
	enum btrfs_util_error err;
	char fsid[BD_FSID_LEN + 1];
	struct stat st;
	uint64_t id, got;
	char *rel, *abs;
	int fd;

	/* add_target may move ts->t: keep copies */
	memcpy(fsid, ts->t[ti].fsid, sizeof fsid);

	err = btrfs_util_create_subvolume_iterator_fd(ts->t[ti].fd, 0, 0, &it);
	if (err)
		return -1;
	while ((err = btrfs_util_subvolume_iterator_next(it, &rel, &id)) == BTRFS_UTIL_OK) {
		if (asprintf(&abs, "%s/%s", ts->t[ti].top, rel) < 0)
			bd_die("asprintf:");
		free(rel);
		/* seen from here it must be that subvolume's top directory */
		fd = bd_open_nofollow(abs, O_RDONLY | O_DIRECTORY);
		if (fd < 0 || fstat(fd, &st) < 0 || st.st_ino != TOP_DIR ||
		    bd_subvol_fd(fd, &got) < 0 || got != id) {
			bd_pwarn(abs, "subvolume %" PRIu64 " is not reachable at this path, skipped", id);
			if (fd >= 0)
				close(fd);
			free(abs);
			continue;
		}
		add_target(ts, fd, abs, fsid, id);
	}
	btrfs_util_destroy_subvolume_iterator(it);
	return err == BTRFS_UTIL_ERROR_STOP_ITERATION ? 0 : -1;
}

int
add_path(struct targets *ts, const char *arg, const struct opts *o)
{
	char fsid[BD_FSID_LEN + 1], *abs, *slash;
	struct stat st, pst;
	uint64_t subvol;
	size_t first = ts->n, i;
	int fd, pfd;

	abs = realpath(arg, NULL);
	if (!abs) {
		bd_pwarn(arg, "%s", strerror(errno));
		return -1;
	}
	fd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		bd_pwarn(arg, "%s", strerror(errno));
		goto fail;
	}
	if (bd_fsid_fd(fd, fsid) < 0) {
		if (errno == ENOTTY)
			bd_pwarn(arg, "not on a btrfs filesystem");
		else
			bd_pwarn(arg, "%s", strerror(errno));
		goto fail;
	}
	/* up to the top directory of its subvolume; a subvolume is one
	 * st_dev, so a change of st_dev means its top is not visible */
	while (st.st_ino != TOP_DIR) {
		pfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0 || fstat(pfd, &pst) < 0 || pst.st_dev != st.st_dev ||
		    pst.st_ino == st.st_ino || !(slash = strrchr(abs, '/'))) {
			bd_pwarn(arg, "the top directory of its subvolume is not visible");
			if (pfd >= 0)
				close(pfd);
			goto fail;
		}
		slash[slash == abs] = '\0';
		close(fd);
		fd = pfd;
		st = pst;
	}
	if (bd_subvol_fd(fd, &subvol) < 0) {
		bd_pwarn(arg, "%s", strerror(errno));
		goto fail;
	}
	if (probe(fd, subvol) < 0) {
		bd_pwarn(arg, "cannot search: %s", strerror(errno));
		goto fail;
	}
	if (strcmp(abs, "/") == 0)
		*abs = '\0';
	add_target(ts, fd, abs, fsid, subvol);
	if (!o->nonest && ts->n > first && add_nested(ts, first) < 0) {
		bd_pwarn(arg, "cannot list nested subvolumes: %s", strerror(errno));
		return -1;
	}
	for (i = first; i < ts->n; i++)
		if (o->statedir)
			read_start(&ts->t[i], o->statedir);
		else
			ts->t[i].start = o->gen;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(abs);
	return -1;
}

void
free_targets(struct targets *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++) {
		close(ts->t[i].fd);
		free(ts->t[i].top);
	}
	free(ts->t);
	memset(ts, 0, sizeof *ts);
}

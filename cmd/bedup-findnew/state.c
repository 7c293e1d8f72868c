/* state.c: where each search starts and where the next one will: the
 * commit before the search, and the checkpoints after it, in -c FILE or
 * in STATEDIR/FSID/SUBVOL.gen. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "bedup-findnew.h"

void
read_start(struct target *t, const char *statedir)
{
	char *path, buf[32];
	ssize_t n;
	int fd;

	if (asprintf(&path, "%s/%s/%" PRIu64 ".gen", statedir, t->fsid, t->subvol) < 0)
		bd_die("asprintf:");
	t->start = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		free(path);
		return;
	}
	if (fd < 0 || (n = read(fd, buf, sizeof buf - 1)) < 0) {
		bd_pwarn(path, "%s", strerror(errno));
		exit(2);
	}
	close(fd);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	if (bd_parse_u64(buf, &t->start) < 0) {
		bd_pwarn(path, "not a generation number");
		exit(2);
	}
	free(path);
}

/* Writes out the filesystem's dirty data and commits its transaction, T;
 * sets *NEXT to T + 1. Every change made before this call is then in the
 * trees the search reads (an inode item keeps the size on disk, and
 * metadata waits in memory until a commit), and every later change gets
 * a generation of at least T + 1, so the next search from *NEXT misses
 * nothing and repeats nothing already committed. */
static int
settle(int fd, uint64_t *next)
{
	uint64_t t;

	if (bd_commit_fd(fd, &t) < 0)
		return -1;
	*next = t + 1;
	return 0;
}

void
settle_all(struct targets *ts)
{
	size_t j, k;

	for (j = 0; j < ts->n; j++) {
		for (k = 0; k < j && strcmp(ts->t[k].fsid, ts->t[j].fsid) != 0; k++)
			;
		if (k < j)
			ts->t[j].next = ts->t[k].next;
		else if (settle(ts->t[j].fd, &ts->t[j].next) < 0)
			bd_pfail(top_name(&ts->t[j]), "cannot commit the running transaction:");
	}
}

/* Commits T's next start into STATEDIR/FSID/SUBVOL.gen, atomically. */
static void
save_start(const struct target *t, const char *statedir)
{
	struct bd_atomic a;
	char *dir, *path;

	if (asprintf(&dir, "%s/%s", statedir, t->fsid) < 0 ||
	    asprintf(&path, "%s/%" PRIu64 ".gen", dir, t->subvol) < 0)
		bd_die("asprintf:");
	/* the catalogs there list every file: keep them to root */
	if ((mkdir(statedir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(dir, 0700) < 0 && errno != EEXIST))
		bd_pfail(dir, "%s", strerror(errno));
	else if (bd_atomic_open(&a, path) < 0)
		bd_pfail(path, "%s", strerror(errno));
	else if (fprintf(a.f, "%" PRIu64 "\n", t->next) < 0) {
		bd_pfail(path, "%s", strerror(errno));
		bd_atomic_abort(&a);
	} else if (bd_atomic_commit(&a) < 0)
		bd_pfail(path, "%s", strerror(errno));
	free(dir);
	free(path);
}

int
checkpoint(const struct targets *ts, const struct opts *o, FILE *cf)
{
	size_t j;

	for (j = 0; j < ts->n; j++) {
		if (!ts->t[j].ok)
			continue;
		if (cf && fprintf(cf, "%s\t%" PRIu64 "\t%" PRIu64 "\n",
		    ts->t[j].fsid, ts->t[j].subvol, ts->t[j].next) < 0)
			break;
		if (o->update)
			save_start(&ts->t[j], o->statedir);
	}
	if (cf && (fflush(cf) == EOF || ferror(cf) || fclose(cf) == EOF)) {
		bd_pwarn(o->cfile, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

/* bedup-catalog: the catalog of a filesystem (lib/catalog.c) for people
 * and scripts: list it, count it, print it as records, change it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bedup.h"

#define USAGE "bedup-catalog -C CATALOG list [-s SUBVOL]... | count | " \
	"records -m MOUNT [-s SUBVOL]... | lookup | drop SUBVOL... | compact | apply [-f FSID]"

/* what a command is given: the subvolumes to keep (none: all) */
struct want {
	uint64_t *subvol;
	size_t n;
	struct bd_inopaths *paths;
	char fsid[BD_FSID_LEN + 1];
	uint64_t *count;              /* count: files per subvol[i] */
};

static uint64_t
subvol_arg(const char *s)
{
	uint64_t v;

	if (bd_parse_u64(s, &v) < 0 || v == 0)
		bd_usage(USAGE);
	return v;
}

static void
add_subvol(struct want *w, uint64_t id)
{
	w->subvol = bd_erealloc(w->subvol, (w->n + 1) * sizeof *w->subvol);
	w->subvol[w->n++] = id;
}

static int
wanted(const struct want *w, uint64_t id)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (w->subvol[i] == id)
			return 1;
	return w->n == 0;
}

static int
list_one(void *arg, const struct bd_cat_entry *e)
{
	if (wanted(arg, e->subvol) && bd_cat_entry_write(stdout, e) < 0)
		bd_die("write error:");
	return 0;
}

static int
count_one(void *arg, const struct bd_cat_entry *e)
{
	struct want *w = arg;
	size_t i;

	for (i = 0; i < w->n && w->subvol[i] != e->subvol; i++)
		;
	if (i == w->n) {
		add_subvol(w, e->subvol);
		w->count = bd_erealloc(w->count, w->n * sizeof *w->count);
		w->count[i] = 0;
	}
	w->count[i]++;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void
count(struct bd_catalog *c)
{
	struct want w = { .n = 0 };
	uint64_t *pair;
	size_t i;

	if (bd_catalog_each(c, count_one, &w) < 0)
		bd_die("read error:");
	/* by subvolume: (id, count) pairs sorted by id */
	pair = bd_emalloc(2 * w.n * sizeof *pair + 1);
	for (i = 0; i < w.n; i++) {
		pair[2 * i] = w.subvol[i];
		pair[2 * i + 1] = w.count[i];
	}
	qsort(pair, w.n, 2 * sizeof *pair, cmp_u64);
	for (i = 0; i < w.n; i++)
		printf("%" PRIu64 "\t%" PRIu64 "\n", pair[2 * i], pair[2 * i + 1]);
	free(pair);
	free(w.subvol);
	free(w.count);
}

static int
record_one(void *arg, const struct bd_cat_entry *e)
{
	struct want *w = arg;
	struct bd_record r;
	char *path;

	if (!wanted(w, e->subvol))
		return 0;
	if (!(path = bd_inopath(w->paths, e->subvol, e->ino))) {
		/* deleted since the catalog saw it: nothing to say */
		if (errno != ENOENT)
			bd_fail("subvolume %" PRIu64 " inode %" PRIu64 ":", e->subvol, e->ino);
		return 0;
	}
	memset(&r, 0, sizeof r);
	r.size = e->size;
	if (e->flags & BD_CAT_DIGEST)
		bd_hash_unpack(e->digest, r.hash);
	else
		strcpy(r.hash, "-");
	memcpy(r.fsid, w->fsid, sizeof r.fsid);
	r.subvol = e->subvol;
	r.ino = e->ino;
	r.gen = e->gen;
	r.path = path;
	r.pathlen = strlen(path);
	if (bd_record_write(stdout, &r) < 0)
		bd_die("write error:");
	free(path);
	return 0;
}

static void
records(struct bd_catalog *c, struct want *w, const char *mount)
{
	uint8_t fsid[16];
	char mfsid[BD_FSID_LEN + 1];
	int fd;

	if (bd_catalog_fsid(c, fsid) < 0)
		bd_die("the catalog has no FSID yet");
	bd_fsid_unpack(fsid, w->fsid);
	if ((fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		bd_die("%s:", mount);
	if (bd_fsid_fd(fd, mfsid) < 0)
		bd_die("%s:", mount);
	close(fd);
	if (strcmp(mfsid, w->fsid) != 0)
		bd_die("%s: filesystem %s, the catalog's is %s", mount, mfsid, w->fsid);
	if (!(w->paths = bd_inopaths_open(mount)))
		bd_die("%s:", mount);
	if (bd_catalog_each(c, record_one, w) < 0)
		bd_die("read error:");
	bd_inopaths_close(w->paths);
}

/* catalog lines on stdin, one batch */
static void
apply(struct bd_catalog *c)
{
	struct bd_cat_entry e;
	char *line = NULL, why[128];
	size_t cap = 0;
	uint64_t lineno = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		lineno++;
		if (line[n - 1] == '\n')
			n--;
		if (n == 0)
			continue;
		if (bd_cat_entry_parse(line, (size_t)n, &e, 1, why, sizeof why) < 0)
			bd_fail("line %" PRIu64 ": %s", lineno, why);
		else
			bd_catalog_put(c, &e);
	}
	if (ferror(stdin))
		bd_die("read error:");
	free(line);
	if (bd_catalog_commit(c, 0) < 0)
		bd_die("%s:", "commit");
}

/* keys on stdin, "SIZE" (a bucket) or "SIZE TAB SUBVOL TAB INO": the
 * entries found, as catalog lines */
static void
lookup(struct bd_catalog *c)
{
	struct bd_cat_entry e, *v = NULL;
	char *line = NULL, *f[3], *p;
	size_t cap = 0, vcap = 0, nf, i, nv;
	uint64_t lineno = 0, k[3];
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		lineno++;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0)
			continue;
		for (nf = 0, p = line; nf < 3; nf++) {
			f[nf] = p;
			if (!(p = strchr(p, '\t'))) {
				nf++;
				break;
			}
			*p++ = '\0';
		}
		for (i = 0; i < nf && bd_parse_u64(f[i], &k[i]) == 0; i++)
			;
		if (p || (nf != 1 && nf != 3) || i != nf) {
			bd_fail("line %" PRIu64 ": expected SIZE, or SIZE SUBVOL INO", lineno);
			continue;
		}
		if (nf == 3) {
			if (bd_catalog_find(c, k[0], k[1], k[2], &e) && bd_cat_entry_write(stdout, &e) < 0)
				bd_die("write error:");
			continue;
		}
		nv = bd_catalog_bucket(c, k[0], &v, &vcap);
		for (i = 0; i < nv; i++)
			if (bd_cat_entry_write(stdout, &v[i]) < 0)
				bd_die("write error:");
	}
	if (ferror(stdin))
		bd_die("read error:");
	free(line);
	free(v);
}

static const char *
valid_fsid(const char *s)
{
	struct bd_record r;
	char line[128], why[64], *field[6];

	/* the one FSID check: a record's */
	if (snprintf(line, sizeof line, "1\t-\t%s\t5\t1\t1", s) >= (int)sizeof line ||
	    bd_record_fields(line, strlen(line), 6, field, "HASH", &r, why, sizeof why) < 0)
		bd_usage(USAGE);
	return s;
}

/* the options of a command: -s SUBVOL, -m MOUNT, -f FSID as ALLOWED */
static void
options(int argc, char **argv, const char *allowed, struct want *w, const char **mount,
    const char **fsid)
{
	char opts[8] = "h";
	int ch;

	strcat(opts, allowed);
	argv[0] = (char *)bd_prog;    /* getopt's messages name the program */
	optind = 1;
	while ((ch = getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'h': printf("usage: %s\n", USAGE); exit(bd_finish());
		case 's': add_subvol(w, subvol_arg(optarg)); break;
		case 'm': *mount = optarg; break;
		case 'f': *fsid = valid_fsid(optarg); break;
		default: bd_usage(USAGE);
		}
	}
}

static void
run(struct bd_catalog *c, const char *cmd, int argc, char **argv)
{
	struct want w = { .n = 0 };
	const char *mount = NULL, *fsid = NULL;
	uint8_t raw[16];
	int i;

	if (strcmp(cmd, "list") == 0) {
		options(argc, argv, "s:", &w, &mount, &fsid);
		if (optind != argc)
			bd_usage(USAGE);
		if (bd_catalog_each(c, list_one, &w) < 0)
			bd_die("read error:");
	} else if (strcmp(cmd, "records") == 0) {
		options(argc, argv, "s:m:", &w, &mount, &fsid);
		if (!mount || optind != argc)
			bd_usage(USAGE);
		records(c, &w, mount);
	} else if (strcmp(cmd, "apply") == 0) {
		options(argc, argv, "f:", &w, &mount, &fsid);
		if (optind != argc)
			bd_usage(USAGE);
		if (fsid) {
			bd_fsid_pack(fsid, raw);
			bd_catalog_set_fsid(c, raw);
		}
		apply(c);
	} else if (strcmp(cmd, "drop") == 0) {
		for (i = 1; i < argc; i++)
			add_subvol(&w, subvol_arg(argv[i]));
		if (w.n == 0)
			bd_usage(USAGE);
		if (bd_catalog_drop_subvols(c, w.subvol, w.n) < 0)
			bd_die("%s:", "drop");
	} else if (strcmp(cmd, "lookup") == 0 && argc == 1) {
		lookup(c);
	} else if (strcmp(cmd, "count") == 0 && argc == 1) {
		count(c);
	} else if (strcmp(cmd, "compact") == 0 && argc == 1) {
		if (bd_catalog_commit(c, 1) < 0)
			bd_die("%s:", "compact");
	} else {
		bd_usage(USAGE);
	}
	free(w.subvol);
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	struct bd_catalog *c;
	int ch;

	bd_init(argv[0]);
	bd_version(argc, argv);
	/* "+": the options before the command only */
	while ((ch = getopt(argc, argv, "+hC:")) != -1) {
		switch (ch) {
		case 'h': printf("usage: %s\n", USAGE); return bd_finish();
		case 'C': path = optarg; break;
		default: bd_usage(USAGE);
		}
	}
	if (!path || optind >= argc)
		bd_usage(USAGE);
	if (!(c = bd_catalog_open(path)))
		bd_die("%s:", path);
	run(c, argv[optind], argc - optind, argv + optind);
	bd_catalog_close(c);
	return bd_finish();
}

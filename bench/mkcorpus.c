/* mkcorpus: the seeded benchmark corpus of bench/run, written into a
 * mounted btrfs filesystem, plus what whole-file dedup could free in it.
 *
 *   mkcorpus [-n FILES] [-S SEED] -i          print the corpus' figures
 *   mkcorpus [-n FILES] [-S SEED] -p 0|1 DIR   write phase 0 or 1 under DIR
 *   mkcorpus [-n FILES] [-S SEED] -m DIR       change 2% of the files
 *
 * -s: the small-file corpus of bench/scale instead (every mode): 98% of
 * 3 to 9 KiB, the rest up to 1 MiB, 80% unique and 20% real copies, in
 * the subvolumes home, projects and media, no snapshot. -c N with -m:
 * change exactly N files, chosen by (SEED, N), instead of 2%.
 *
 * DIR is the top of the filesystem (subvolid 5) holding the subvolumes
 * home, home/cache, projects and media; bench/run snapshots home
 * read-only between phase 0 and phase 1, so the model counts the data
 * of phase-0 home files as pinned by that snapshot. Every choice comes
 * from a counter-based generator keyed by (SEED, what, index), so every
 * run with the same SEED and FILES makes the same bytes, and -m changes
 * the same files of every copy of the image. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>

#include "bedup.h"

enum kind { K_NEW, K_COPY, K_NEAR, K_HARD, K_REFLINK, K_SYM, K_EMPTY };
static const char *kindname[] = { "new", "copy", "near", "hardlink", "reflink", "symlink", "empty" };
enum { V_HOME, V_CACHE, V_PROJECTS, V_MEDIA, NVOL };
static const char *volname[] = { "home", "home/cache", "projects", "media" };

/* streams of the generator: one per kind of choice */
enum { S_VOL, S_KIND, S_SIZE, S_SIZE2, S_PICK, S_VARIANT, S_CONTENT, S_MUT, S_MUTOP, S_MUTLEN, S_NAME,
	S_MUTN };

#define INLINE_MAX 2048         /* btrfs max_inline default: such files have no data extent */
#define BLK 4096
#define MAXCOPIES 5

struct content {
	uint64_t key;                 /* seeds the bytes */
	uint64_t size;
	uint64_t flip;                /* offset of the one flipped byte, or UINT64_MAX */
	uint32_t nphys, npinned, nfiles;
	uint32_t near[3];             /* its one-byte variants, UINT32_MAX until made */
};

struct file {
	uint32_t content;             /* index in contents, or UINT32_MAX */
	uint32_t phys;                /* physical copy id */
	uint32_t target;              /* source file of copy/near/link kinds */
	uint8_t kind, vol;
};

static uint64_t seed = 1;
static uint32_t nfiles = 5000;
static int small;                 /* -s: bench/scale's corpus */
static struct file *files;
static struct content *contents;
static uint32_t ncontents;
static uint8_t *physpinned;       /* per physical copy */
static uint32_t *physcontent;
static uint32_t nphys;

static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t
rnd(int stream, uint64_t i)
{
	return mix(mix(seed) ^ mix(((uint64_t)stream << 48) ^ i));
}

static double
unif(int stream, uint64_t i)
{
	return (rnd(stream, i) >> 11) * 0x1p-53;
}

static uint64_t
logunif(double u, double lo, double hi)
{
	return (uint64_t)(lo * exp(u * log(hi / lo)));
}

/* Most files are small, most bytes are in the few large ones. */
static uint64_t
size_for(uint32_t i, int vol)
{
	double u = unif(S_SIZE, i), v = unif(S_SIZE2, i);

	if (small)
		return u < 0.98 ? 3072 + (uint64_t)(v * 6145) : logunif(v, 9216, 1 << 20);
	if (i % 40000 == 7)
		return logunif(v, 64 << 20, 256 << 20);
	if (vol == V_MEDIA)
		u = 0.9 + u * 0.1;
	if (u < 0.62)
		return logunif(v, 1, 8192);
	if (u < 0.935)
		return logunif(v, 8192, 65536);
	if (u < 0.995)
		return logunif(v, 65536, 1 << 20);
	return logunif(v, 1 << 20, 4 << 20);
}

static uint32_t
newcontent(uint64_t size, uint64_t flip, uint64_t key)
{
	struct content *c = &contents[ncontents];

	c->key = key;
	c->size = size;
	c->flip = flip;
	c->near[0] = c->near[1] = c->near[2] = UINT32_MAX;
	return ncontents++;
}

static uint32_t
newphys(uint32_t content)
{
	physcontent[nphys] = content;
	contents[content].nphys++;
	return nphys++;
}

/* An earlier file of content for kind K (same volume for hard links),
 * or UINT32_MAX. */
static uint32_t
pick(uint32_t i, int k, int vol)
{
	int t;

	for (t = 0; t < 8 && i > 0; t++) {
		uint32_t j = rnd(S_PICK, (uint64_t)i * 8 + t) % i;
		struct file *f = &files[j];

		if (f->content == UINT32_MAX)
			continue;
		if (k == K_HARD && f->vol != vol)
			continue;
		if (k == K_COPY && contents[f->content].nfiles >= MAXCOPIES)
			continue;
		if (k == K_NEAR && (contents[f->content].size < 2 ||
		    contents[f->content].flip != UINT64_MAX))
			continue;
		return j;
	}
	return UINT32_MAX;
}

/* The whole corpus as a plan, made the same way by every invocation. */
static void
plan(void)
{
	uint32_t i;

	files = bd_ecalloc(nfiles, sizeof *files);
	contents = bd_ecalloc(nfiles, sizeof *contents);
	physpinned = bd_ecalloc(nfiles, 1);
	physcontent = bd_ecalloc(nfiles, sizeof *physcontent);
	for (i = 0; i < nfiles; i++) {
		struct file *f = &files[i];
		double u = unif(S_VOL, i), w = unif(S_KIND, i);
		uint32_t j;
		int k;

		if (small) {
			f->vol = u < 1 / 3.0 ? V_HOME : u < 2 / 3.0 ? V_PROJECTS : V_MEDIA;
			k = w < 0.80 ? K_NEW : K_COPY;
		} else {
			f->vol = u < 0.40 ? V_HOME : u < 0.55 ? V_CACHE : u < 0.94 ? V_PROJECTS : V_MEDIA;
			k = w < 0.60 ? K_NEW : w < 0.80 ? K_COPY : w < 0.88 ? K_NEAR : w < 0.92 ? K_HARD :
			    w < 0.96 ? K_REFLINK : w < 0.985 ? K_SYM : K_EMPTY;
		}
		f->content = UINT32_MAX;
		j = k == K_NEW || k == K_EMPTY ? UINT32_MAX : pick(i, k, f->vol);
		if (k != K_NEW && k != K_EMPTY && j == UINT32_MAX)
			k = K_NEW;
		f->kind = k;
		f->target = j;
		switch (k) {
		case K_NEW:
			f->content = newcontent(size_for(i, f->vol), UINT64_MAX, rnd(S_CONTENT, i));
			f->phys = newphys(f->content);
			break;
		case K_COPY:
			f->content = files[j].content;
			f->phys = newphys(f->content);
			break;
		case K_NEAR: {
			/* same size, one byte flipped: first, middle or last; a
			 * variant made twice is one content with two copies */
			uint32_t o = files[j].content;
			uint64_t v = rnd(S_VARIANT, i) % 3, size = contents[o].size;

			if (contents[o].near[v] == UINT32_MAX)
				contents[o].near[v] = newcontent(size, v == 0 ? 0 : v == 1 ?
				    size / 2 : size - 1, contents[o].key);
			f->content = contents[o].near[v];
			f->phys = newphys(f->content);
			break;
		}
		case K_HARD:
		case K_REFLINK:
			f->content = files[j].content;
			f->phys = files[j].phys;
			break;
		default:
			break;
		}
		if (f->content != UINT32_MAX)
			contents[f->content].nfiles++;
		/* the read-only snapshot of home pins what phase 0 put there */
		if (!small && f->vol == V_HOME && i < nfiles / 2 && f->content != UINT32_MAX)
			physpinned[f->phys] = 1;
	}
	for (i = 0; i < nphys; i++)
		contents[physcontent[i]].npinned += physpinned[i];
}

static uint64_t
alloc(uint64_t size)
{
	return size <= INLINE_MAX ? 0 : (size + BLK - 1) / BLK * BLK;
}

static void
info(void)
{
	static const uint64_t cut[] = { 1, 4096, 128 << 10, 1 << 20 };
	uint64_t count[7] = { 0 }, bytes = 0, data = 0;
	uint32_t i;
	size_t c;

	for (i = 0; i < nfiles; i++) {
		count[files[i].kind]++;
		if (files[i].content != UINT32_MAX)
			bytes += contents[files[i].content].size;
	}
	for (i = 0; i < nphys; i++)
		data += alloc(contents[physcontent[i]].size);
	printf("seed %llu\nfiles %u\n", (unsigned long long)seed, nfiles);
	for (c = 0; c < 7; c++)
		printf("files_%s %llu\n", kindname[c], (unsigned long long)count[c]);
	printf("apparent_bytes %llu\ndata_bytes %llu\n", (unsigned long long)bytes,
	    (unsigned long long)data);
	for (c = 0; c < sizeof cut / sizeof cut[0]; c++) {
		uint64_t save = 0, dup = 0, keep;

		for (i = 0; i < ncontents; i++) {
			const struct content *t = &contents[i];

			if (t->size < cut[c] || t->nphys < 2)
				continue;
			keep = t->npinned > 1 ? t->npinned : 1;
			save += (t->nphys - keep) * alloc(t->size);
			dup += t->nphys * t->size;
		}
		/* savings: what whole-file dedup can free; dup: the bytes of
		 * the physical copies that really are duplicates */
		printf("savings_%llu %llu\ndup_bytes_%llu %llu\n", (unsigned long long)cut[c],
		    (unsigned long long)save, (unsigned long long)cut[c], (unsigned long long)dup);
	}
}

static void
path_of(uint32_t i, char *buf, size_t n)
{
	uint64_t r = rnd(S_NAME, i) % 997;

	/* a few names people have too: spaces, UTF-8, a newline */
	snprintf(buf, n, "%s/d%02x/d%02x/f%07u%s", volname[files[i].vol], (i >> 12) & 0xff,
	    (i >> 6) & 0x3f, i, r < 10 ? " copy (1).txt" : r < 12 ? " caf\xc3\xa9.dat" :
	    r < 13 ? "\nnewline" : kindname[files[i].kind][0] == 'n' ? ".bin" : ".dat");
}

static void
mkparents(char *path)
{
	char *s;

	for (s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			bd_die("%s:", path);
		*s = '/';
	}
}

static int
create(char *path, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | flags, 0644);

	if (fd < 0 && errno == ENOENT) {
		mkparents(path);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | flags, 0644);
	}
	if (fd < 0)
		bd_die("%s:", path);
	return fd;
}

/* Writes SIZE bytes of the stream KEY at offset OFF of FD, the byte at
 * FLIP (an offset in the stream) inverted. */
static void
writestream(int fd, const char *path, uint64_t key, uint64_t size, uint64_t flip, off_t off)
{
	static uint64_t buf[1 << 17];
	uint64_t done = 0, w = 0;

	while (done < size) {
		size_t n = size - done < sizeof buf ? size - done : sizeof buf, k;
		ssize_t r;

		for (k = 0; k < (n + 7) / 8; k++)
			buf[k] = mix(key ^ (w++ * 0xd1b54a32d192ed03ULL));
		if (flip >= done && flip < done + n)
			((unsigned char *)buf)[flip - done] ^= 0xff;
		r = pwrite(fd, buf, n, off + done);
		if (r < 0 || (size_t)r != n)
			bd_die("%s:", path);
		done += n;
	}
}

static void
writecontent(int fd, const char *path, uint32_t content)
{
	const struct content *c = &contents[content];

	writestream(fd, path, c->key, c->size, c->flip, 0);
}

static void
makefile(uint32_t i)
{
	char path[PATH_MAX], tpath[PATH_MAX];
	struct file *f = &files[i];
	int fd, src;

	path_of(i, path, sizeof path);
	if (f->target != UINT32_MAX)
		path_of(f->target, tpath, sizeof tpath);
	switch (f->kind) {
	case K_NEW:
	case K_COPY:
	case K_NEAR:
		/* a real copy: the same bytes written again, new extents */
		fd = create(path, 0);
		writecontent(fd, path, f->content);
		if (close(fd) < 0)
			bd_die("%s:", path);
		break;
	case K_EMPTY:
		if (close(create(path, 0)) < 0)
			bd_die("%s:", path);
		break;
	case K_HARD:
		if (link(tpath, path) < 0 && (errno != ENOENT || (mkparents(path), link(tpath, path)) < 0))
			bd_die("%s:", path);
		break;
	case K_REFLINK:
		if ((src = open(tpath, O_RDONLY)) < 0)
			bd_die("%s:", tpath);
		fd = create(path, 0);
		if (ioctl(fd, FICLONE, src) < 0)
			bd_die("%s:", path);
		close(src);
		if (close(fd) < 0)
			bd_die("%s:", path);
		break;
	case K_SYM: {
		char target[PATH_MAX + 8];

		snprintf(target, sizeof target, "/%s", tpath);
		if (symlink(target, path) < 0 && (errno != ENOENT ||
		    (mkparents(path), symlink(target, path)) < 0))
			bd_die("%s:", path);
		break;
	}
	}
}

/* File I changes: an append, a rewrite in place (the same bytes again,
 * or one block changed) or a new real copy, named with TAG. */
static void
mutate_one(uint32_t i, uint64_t tag)
{
	const struct file *f = &files[i];
	const struct content *c = &contents[f->content];
	char path[PATH_MAX], npath[PATH_MAX];
	double op = unif(S_MUTOP, i);
	int fd;

	path_of(i, path, sizeof path);
	if (op < 0.35) {
		uint64_t len = 1 + rnd(S_MUTLEN, i) % 65536;

		if ((fd = open(path, O_WRONLY)) < 0)
			bd_die("%s:", path);
		writestream(fd, path, mix(c->key ^ len), len, UINT64_MAX, c->size);
	} else if (op < 0.70) {
		if ((fd = open(path, O_WRONLY)) < 0)
			bd_die("%s:", path);
		if (op < 0.55 || c->size < BLK)
			writecontent(fd, path, f->content);
		else
			writestream(fd, path, mix(c->key ^ i), BLK, UINT64_MAX,
			    rnd(S_MUTLEN, i) % (c->size / BLK) * BLK);
	} else {
		if (tag)
			snprintf(npath, sizeof npath, "%s/new/m%07u-%llu.dat", volname[f->vol], i,
			    (unsigned long long)tag);
		else
			snprintf(npath, sizeof npath, "%s/new/m%07u.dat", volname[f->vol], i);
		fd = create(npath, 0);
		writecontent(fd, npath, f->content);
	}
	if (close(fd) < 0)
		bd_die("%s:", path);
}

static int
mutable(uint32_t i)
{
	return files[i].content != UINT32_MAX && files[i].kind != K_HARD;
}

/* 2% of the files change, or exactly COUNT of them (chosen by SEED and
 * COUNT, so -c 1 and -c 1000 pick different files). */
static void
mutate(uint64_t count)
{
	uint32_t i, n = 0;

	if (count) {
		uint8_t *done = bd_ecalloc(nfiles, 1);
		uint64_t k;

		for (k = 0; n < count && k < 64 * count + 64 * (uint64_t)nfiles; k++) {
			i = rnd(S_MUTN, count << 32 ^ k) % nfiles;
			if (done[i] || !mutable(i))
				continue;
			done[i] = 1;
			mutate_one(i, count);
			n++;
		}
		free(done);
	} else {
		for (i = 0; i < nfiles; i++) {
			if (unif(S_MUT, i) >= 0.02 || !mutable(i))
				continue;
			mutate_one(i, 0);
			n++;
		}
	}
	printf("changed %u\n", n);
}

#define USAGE "mkcorpus [-n FILES] [-S SEED] -i | -p 0|1 DIR | -m DIR"

int
main(int argc, char **argv)
{
	int c, phase = -1, doinfo = 0, domut = 0;
	uint64_t n, count = 0;
	uint32_t i;

	bd_init(argv[0]);
	while ((c = getopt(argc, argv, "hn:S:ip:mc:s")) != -1) {
		switch (c) {
		case 'n':
			if (bd_parse_u64(optarg, &n) < 0 || n < 2 || n > UINT32_MAX / 2)
				bd_usage(USAGE);
			nfiles = n;
			break;
		case 'S':
			if (bd_parse_u64(optarg, &seed) < 0)
				bd_usage(USAGE);
			break;
		case 'i': doinfo = 1; break;
		case 'p': phase = optarg[0] == '1' ? 1 : optarg[0] == '0' ? 0 : 2; break;
		case 'm': domut = 1; break;
		case 'c':
			if (bd_parse_u64(optarg, &count) < 0 || count < 1 || count > UINT32_MAX)
				bd_usage(USAGE);
			break;
		case 's': small = 1; break;
		case 'h': puts("usage: " USAGE); return 0;
		default: bd_usage(USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if ((doinfo ? argc != 0 : argc != 1) || doinfo + domut + (phase >= 0) != 1 || phase > 1 ||
	    (count && !domut))
		bd_usage(USAGE);
	plan();
	if (doinfo) {
		info();
		return fflush(stdout) ? 2 : 0;
	}
	if (chdir(argv[0]) < 0)
		bd_die("%s:", argv[0]);
	if (domut)
		mutate(count);
	else
		for (i = phase ? nfiles / 2 : 0; i < (phase ? nfiles : nfiles / 2); i++)
			makefile(i);
	return fflush(stdout) ? 2 : 0;
}

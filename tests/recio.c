/* recio: a test driver for the record library, not installed.
 *   recio          records in, records out (parse, then write back)
 *   recio -p       records in, decoded paths out, each ended by NUL
 *   recio -e       raw bytes in (all of stdin), escaped form out
 *   recio -u       one escaped string in (all of stdin), raw bytes out
 *   recio -o       records in; for each, what bd_open_record says of it:
 *                  ok, vanished, other or error, a TAB, the record's INO
 *   recio -O       records in; the content of each file bd_open_record
 *                  opens, read from the fd it returned, out */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bedup.h"

static char *
slurp(size_t *n)
{
	size_t cap = 4096, len = 0, r;
	char *buf = bd_emalloc(cap);

	while ((r = fread(buf + len, 1, cap - len, stdin)) > 0) {
		len += r;
		if (len == cap)
			buf = bd_erealloc(buf, cap *= 2);
	}
	*n = len;
	return buf;
}

int
main(int argc, char **argv)
{
	struct bd_input in;
	struct bd_record r;
	char *buf;
	size_t n;
	int mode = argc > 1 && argv[1][0] == '-' && argv[1][1] ? argv[1][1] : 0;

	bd_init(argv[0]);
	if (mode == 'e') {
		buf = slurp(&n);
		if (bd_escape_write(stdout, buf, n) < 0)
			bd_die("write:");
		free(buf);
		return bd_finish();
	}
	if (mode == 'u') {
		buf = slurp(&n);
		if (bd_unescape(buf, n, &n) < 0)
			bd_die("bad escape");
		fwrite(buf, 1, n, stdout);
		free(buf);
		return bd_finish();
	}
	bd_input_init(&in, argc - (mode != 0) - 1, argv + 1 + (mode != 0));
	while (bd_input_next(&in, &r)) {
		if (mode == 'o' || mode == 'O') {
			static const char *const word[] = { "ok", "vanished", "other", "error" };
			struct stat st;
			char b[4096];
			ssize_t k;
			int fd;
			enum bd_open_result res = bd_open_record(&r, 0, &fd, &st);

			if (mode == 'o')
				printf("%s\t%" PRIu64 "\n", word[res], r.ino);
			if (res != BD_OPEN_OK)
				continue;
			while (mode == 'O' && (k = read(fd, b, sizeof b)) > 0)
				fwrite(b, 1, (size_t)k, stdout);
			close(fd);
			continue;
		}
		if (mode == 'p') {
			fwrite(r.path, 1, r.pathlen + 1, stdout);
			continue;
		}
		if (bd_record_write(stdout, &r) < 0)
			bd_die("write:");
	}
	bd_input_close(&in);
	return bd_finish();
}

/* escape.c: the PATH escaping of RECORDS.md, exact in both directions. */
#include <stdlib.h>
#include <string.h>

#include "bedup.h"

/* Escapes one byte into OUT (at most 4 bytes); returns its length. */
static size_t
esc1(unsigned char c, char *out)
{
	switch (c) {
	case '\\': memcpy(out, "\\\\", 2); return 2;
	case '\t': memcpy(out, "\\t", 2); return 2;
	case '\n': memcpy(out, "\\n", 2); return 2;
	case '\r': memcpy(out, "\\r", 2); return 2;
	}
	if (c < 0x20 || c == 0x7f) {
		out[0] = '\\';
		out[1] = (char)('0' + (c >> 6));
		out[2] = (char)('0' + ((c >> 3) & 7));
		out[3] = (char)('0' + (c & 7));
		return 4;
	}
	out[0] = (char)c;
	return 1;
}

int
bd_escape_write(FILE *f, const char *s, size_t n)
{
	char buf[4];
	size_t i, k, run = 0;

	for (i = 0; i < n; i++) {
		k = esc1((unsigned char)s[i], buf);
		if (k == 1 && buf[0] == s[i])
			continue;
		/* write the plain bytes before this one in one go */
		if (i > run && fwrite(s + run, 1, i - run, f) != i - run)
			return -1;
		if (fwrite(buf, 1, k, f) != k)
			return -1;
		run = i + 1;
	}
	if (n > run && fwrite(s + run, 1, n - run, f) != n - run)
		return -1;
	return 0;
}

char *
bd_escape_str(const char *s)
{
	size_t n = strlen(s), i, k = 0;
	char *out = bd_emalloc(4 * n + 1);

	for (i = 0; i < n; i++)
		k += esc1((unsigned char)s[i], out + k);
	out[k] = '\0';
	return out;
}

int
bd_unescape(char *s, size_t n, size_t *outn)
{
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\t' || c == '\n')
			return -1;
		if (c != '\\') {
			s[o++] = (char)c;
			continue;
		}
		if (++i >= n)
			return -1;
		switch (s[i]) {
		case '\\': s[o++] = '\\'; break;
		case 't': s[o++] = '\t'; break;
		case 'n': s[o++] = '\n'; break;
		case 'r': s[o++] = '\r'; break;
		case '0': case '1': case '2': case '3':
			if (i + 2 >= n || s[i + 1] < '0' || s[i + 1] > '7' ||
			    s[i + 2] < '0' || s[i + 2] > '7')
				return -1;
			v = (unsigned)(s[i] - '0') << 6 | (unsigned)(s[i + 1] - '0') << 3 |
			    (unsigned)(s[i + 2] - '0');
			/* only bytes the encoder writes as \ooo; anything else
			 * has one spelling and another is malformed */
			if ((v >= 0x20 && v != 0x7f) || v == '\t' || v == '\n' || v == '\r')
				return -1;
			s[o++] = (char)v;
			i += 2;
			break;
		default:
			return -1;
		}
	}
	s[o] = '\0';
	*outn = o;
	return 0;
}

/* json.c: JSON strings and numbers from any bytes, exact or refused. */
#include <string.h>

#include "bedup.h"

/* Length of the UTF-8 sequence at S (at most N bytes), or 0 when it is
 * not one: overlong forms, surrogates and code points past U+10FFFF are
 * not UTF-8 (RFC 3629). */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned long cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

int
bd_utf8_valid(const char *s, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i += k)
		if (!(k = utf8_len((const unsigned char *)s + i, n - i)))
			return 0;
	return 1;
}

/* Writes the bytes of S, valid UTF-8, as a JSON string. */
static int
string(FILE *f, const char *s, size_t n)
{
	size_t i;
	unsigned char c;

	if (putc('"', f) == EOF)
		return -1;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		default:
			/* other controls, and DEL: never raw on a terminal */
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				putc(c, f);
		}
	}
	putc('"', f);
	return ferror(f) ? -1 : 0;
}

int
bd_json_string(FILE *f, const char *s, size_t n)
{
	size_t i;

	if (bd_utf8_valid(s, n))
		return string(f, s, n);
	/* not UTF-8: its bytes, as journalctl -o json writes such a field */
	putc('[', f);
	for (i = 0; i < n; i++)
		fprintf(f, i ? ",%u" : "%u", (unsigned char)s[i]);
	putc(']', f);
	return ferror(f) ? -1 : 0;
}

int
bd_json_int_valid(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		return s[1] == '\0';
	if (*s < '1' || *s > '9')
		return 0;
	while (*s >= '0' && *s <= '9')
		s++;
	return *s == '\0';
}

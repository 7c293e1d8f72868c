/* num.c: strict parsing of unsigned numbers and sizes. */
#include <errno.h>
#include <string.h>

#include "bedup.h"

int
bd_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s) {
		errno = EINVAL;
		return -1;
	}
	for (; *s; s++) {
		if (*s < '0' || *s > '9') {
			errno = EINVAL;
			return -1;
		}
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) {
			errno = ERANGE;
			return -1;
		}
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int
bd_parse_size(const char *s, uint64_t *out)
{
	char buf[32];
	size_t n = strlen(s);
	unsigned shift = 0;
	uint64_t v;

	if (n == 0 || n >= sizeof buf) {
		errno = n ? ERANGE : EINVAL;
		return -1;
	}
	memcpy(buf, s, n + 1);
	switch (buf[n - 1]) {
	case 'K': case 'k': shift = 10; break;
	case 'M': case 'm': shift = 20; break;
	case 'G': case 'g': shift = 30; break;
	case 'T': case 't': shift = 40; break;
	}
	if (shift)
		buf[n - 1] = '\0';
	if (bd_parse_u64(buf, &v) < 0)
		return -1;
	if (shift && v > (UINT64_MAX >> shift)) {
		errno = ERANGE;
		return -1;
	}
	*out = v << shift;
	return 0;
}

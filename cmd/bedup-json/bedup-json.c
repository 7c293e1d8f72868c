/* bedup-json: JSON from a stream of NUL-terminated tokens, for the bedup
 * wrapper. A sh value holds any byte but NUL, so printf '%s\0' passes it
 * exact; the encoding (escapes, UTF-8 or not) is lib/json.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bedup.h"

#define USAGE "bedup-json [FILE]"
#define MAXDEPTH 32

/* What is open: the containers, and in each whether a member was
 * written and, in an object, whether a key waits for its value. */
struct writer {
	char kind[MAXDEPTH];          /* '{' or '[' */
	int count[MAXDEPTH];
	int keyed[MAXDEPTH];
	int depth;
	unsigned long tok;            /* token number, for messages */
};

static void
bad(const struct writer *w, const char *why)
{
	bd_fail("token %lu: %s", w->tok, why);
}

/* Before a value: the comma, and the check that it may stand here. */
static int
value_ok(struct writer *w)
{
	int d = w->depth - 1;

	if (d < 0)
		return 1;
	if (w->kind[d] == '{') {
		if (!w->keyed[d]) {
			bad(w, "a value in an object without a key");
			return 0;
		}
		w->keyed[d] = 0;
		return 1;
	}
	if (w->count[d]++)
		putchar(',');
	return 1;
}

/* After a value: a top-level value ends its line. */
static void
value_done(const struct writer *w)
{
	if (w->depth == 0)
		putchar('\n');
}

static void
key(struct writer *w, const char *k, size_t n)
{
	int d = w->depth - 1;

	if (d < 0 || w->kind[d] != '{' || w->keyed[d]) {
		bad(w, d >= 0 && w->keyed[d] ? "a key after a key" : "a key outside an object");
		return;
	}
	if (w->count[d]++)
		putchar(',');
	bd_json_string(stdout, k, n);
	putchar(':');
	w->keyed[d] = 1;
}

static void
open_c(struct writer *w, char kind)
{
	if (w->depth == MAXDEPTH) {
		bad(w, "nested too deep");
		return;
	}
	if (!value_ok(w))
		return;
	putchar(kind);
	w->kind[w->depth] = kind;
	w->count[w->depth] = 0;
	w->keyed[w->depth] = 0;
	w->depth++;
}

static void
close_c(struct writer *w, char kind)
{
	int d = w->depth - 1;

	if (d < 0 || w->kind[d] != (kind == '}' ? '{' : '[')) {
		bad(w, "a close that matches no open");
		return;
	}
	if (w->keyed[d]) {
		bad(w, "a key without a value: null");
		fputs("null", stdout);
	}
	putchar(kind);
	w->depth--;
	value_done(w);
}

static void
token(struct writer *w, char *t, size_t n)
{
	if (n == 1 && strchr("{[", t[0])) {
		open_c(w, t[0]);
	} else if (n == 1 && strchr("}]", t[0])) {
		close_c(w, t[0]);
	} else if (t[0] == ':') {
		key(w, t + 1, n - 1);
	} else if (t[0] == '=') {
		if (value_ok(w)) {
			bd_json_string(stdout, t + 1, n - 1);
			value_done(w);
		}
	} else if (t[0] == '#') {
		if (!bd_json_int_valid(t + 1))
			bad(w, "not an integer");
		else if (value_ok(w)) {
			fputs(t + 1, stdout);
			value_done(w);
		}
	} else if (!strcmp(t, "null") || !strcmp(t, "true") || !strcmp(t, "false")) {
		if (value_ok(w)) {
			fputs(t, stdout);
			value_done(w);
		}
	} else {
		bad(w, "unknown token");
	}
}

int
main(int argc, char **argv)
{
	struct writer w = { .depth = 0 };
	FILE *f = stdin;
	char *t = NULL;
	size_t cap = 0;
	ssize_t n;
	int c;

	bd_init(argv[0]);
	bd_version(argc, argv);
	while ((c = getopt(argc, argv, "h")) != -1) {
		switch (c) {
		case 'h': printf("usage: %s\n", USAGE); return bd_finish();
		default: bd_usage(USAGE);
		}
	}
	if (argc - optind > 1)
		bd_usage(USAGE);
	if (optind < argc && strcmp(argv[optind], "-") && !(f = fopen(argv[optind], "r")))
		bd_die("%s:", argv[optind]);
	while ((n = getdelim(&t, &cap, '\0', f)) > 0) {
		w.tok++;
		if (t[n - 1] == '\0')
			n--;
		else
			bad(&w, "no NUL at the end of the input");
		if (n == 0) {
			bad(&w, "empty token");
			continue;
		}
		token(&w, t, (size_t)n);
	}
	if (ferror(f))
		bd_die("read error:");
	/* whatever is still open is closed: the output stays JSON */
	if (w.depth) {
		bd_fail("end of input inside a value: closed");
		while (w.depth)
			close_c(&w, w.kind[w.depth - 1] == '{' ? '}' : ']');
	}
	free(t);
	return bd_finish();
}

#!/usr/bin/env bats
# Replays the inputs under tests/fuzz/STAGE/ (inputs the libFuzzer targets
# in fuzz/ found, crashes among them, minimized) through the stage built
# by make, with the options the target derives from the first byte. Each
# must end normally (exit 0 or 1), with one message per problem and no
# sanitizer report (the SANITIZE=1 run makes that check sharp).

load helpers

# args STAGE FLAGS INPUT: the options fuzz/STAGE.c gives for FLAGS.
args() {
	local f=$2 in=$3
	case $1 in
	group)
		(( f & 1 )) && printf '%s\n' -s 4097
		(( f & 2 )) && printf '%s\n' -C /nonexistent/bedup-fuzz/catalog -m / ;;
	hash)
		printf '%s\n' -p -j $(( f & 1 ? 2 : 1 ))
		(( f & 2 )) && printf '%s\n' -C /nonexistent/bedup-fuzz/catalog ;;
	lock)
		(( f & 1 )) && echo -R
		(( f & 2 )) && echo -v ;;
	clone)
		(( f & 1 )) && echo -n
		(( f & 2 )) && echo -R
		(( f & 4 )) && echo --same-owner
		(( f & 8 )) && echo -v ;;
	esac
	echo "$in"
}

@test "fuzz inputs: every stage ends normally on every saved input" {
	local dir st f flags n=0 a
	for dir in "$BATS_TEST_DIRNAME"/fuzz/*/; do
		st=$(basename "$dir")
		for f in "$dir"*; do
			[ -f "$f" ] || continue
			flags=$(od -An -tu1 -N1 "$f" | tr -d ' ')
			tail -c +2 "$f" >"$BATS_TEST_TMPDIR/in"
			mapfile -t a < <(args "$st" "${flags:-0}" "$BATS_TEST_TMPDIR/in")
			if (( ${flags:-0} & 4 )) && [ "$st" = group ]; then
				run --separate-stderr env BEDUP_GROUP_MEMORY=1 "bedup-$st" "${a[@]}"
			else
				run --separate-stderr "bedup-$st" "${a[@]}"
			fi
			[ "$status" -le 1 ] || { echo "bedup-$st on $f: exit $status" >&2; false; }
			if [ -n "$stderr" ] && grep -qvE "^bedup-$st: " <<<"$stderr"; then
				echo "bedup-$st on $f: stderr: $stderr" >&2
				false
			fi
			n=$((n + 1))
		done
	done
	[ "$n" -gt 0 ]
}

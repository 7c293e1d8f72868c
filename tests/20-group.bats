#!/usr/bin/env bats
# bedup-group: candidate groups from records (a filter: fake records,
# no root needed), and the catalog of incremental runs.

load helpers

A=aaaaaaaa-0000-0000-0000-000000000001
B=bbbbbbbb-0000-0000-0000-000000000002
H=0123456789abcdef0123456789abcdef

# rec SIZE FSID INO PATH [HASH [SUBVOL]]: one record line
rec() {
	printf '%s\t%s\t%s\t%s\t%s\t7\t%s\n' "$1" "${5:--}" "$2" "${6:-5}" "$3" "$4"
}

@test "groups: 2+ inodes of equal size and filesystem, largest first" {
	{
		rec 10 "$A" 300 /small1
		rec 500 "$A" 301 /big1
		rec 10 "$B" 302 /otherfs
		rec 77 "$A" 303 /alone
		rec 500 "$A" 304 /big2 "$H"
		rec 10 "$A" 305 /small2
		rec 10 "$B" 306 /otherfs2
	} >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-group "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(
		rec 500 "$A" 301 /big1
		rec 500 "$A" 304 /big2
		rec 10 "$A" 300 /small1
		rec 10 "$A" 305 /small2
		rec 10 "$B" 302 /otherfs
		rec 10 "$B" 306 /otherfs2)"
}

@test "hard links count once: one record per inode" {
	{
		rec 10 "$A" 300 /link2
		rec 10 "$A" 300 /link1
		rec 20 "$A" 400 /x
		rec 20 "$A" 400 /y
		rec 20 "$A" 400 /x - 6
	} >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-group <"$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	# 400 in subvolume 5 and 400 in subvolume 6 are two inodes
	assert_equal "$output" "$(rec 20 "$A" 400 /x; rec 20 "$A" 400 /x - 6)"
}

@test "-s MINSIZE leaves out smaller files; empty files by default" {
	{
		rec 0 "$A" 300 /e1; rec 0 "$A" 301 /e2
		rec 1023 "$A" 302 /s1; rec 1023 "$A" 303 /s2
		rec 1024 "$A" 304 /k1; rec 1024 "$A" 305 /k2
	} >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-group -s 1K "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(rec 1024 "$A" 304 /k1; rec 1024 "$A" 305 /k2)"
	run --separate-stderr bedup-group "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$(printf '%s\n' "$output" | cut -f7 | tr '\n' ' ')" "/k1 /k2 /s1 /s2 "
}

@test "external sort (tiny memory budget) gives the same output as sort(1)" {
	awk -v a="$A" -v b="$B" 'BEGIN { srand(3); for (i = 1; i <= 20000; i++)
		printf "%d\t-\t%s\t5\t%d\t7\t/d/f%d\\tx\n", int(rand() * 3000), (i % 7 ? a : b), i + 256, i }' \
		>"$BATS_TEST_TMPDIR/in"
	# expected: sizes seen on 2+ inodes of one fs, then size desc, fsid, ino
	awk -F'\t' 'NR == FNR { n[$1 FS $3]++; next } $1 > 0 && n[$1 FS $3] > 1' \
		"$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/in" |
		sort -t "$(printf '\t')" -k1,1nr -k3,3 -k5,5n >"$BATS_TEST_TMPDIR/want"
	run --separate-stderr env BEDUP_GROUP_MEMORY=64K TMPDIR="$BATS_TEST_TMPDIR" \
		bedup-group "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(cat "$BATS_TEST_TMPDIR/want")"
	# its temp files are gone
	run find "$BATS_TEST_TMPDIR" -name 'bedup-group*'
	assert_output ""
}

@test "odd paths come out byte for byte" {
	{
		rec 9 "$A" 300 '/a b\tc\nd\\e\001'$'\377'
		rec 9 "$A" 301 '/plain'
	} >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-group "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(cat "$BATS_TEST_TMPDIR/in")"
}

@test "malformed lines: reported, skipped, the rest grouped, exit 1" {
	{
		rec 9 "$A" 300 /one
		echo "not a record"
		rec 9 "$A" 301 relative
		echo
		rec 9 "$A" 302 /two
	} >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-group <"$BATS_TEST_TMPDIR/in"
	assert_failure 1
	assert_equal "$stderr" "$(printf '%s\n' \
		"bedup-group: line 2: expected 7 fields, got 1" \
		"bedup-group: line 3: PATH is not absolute")"
	assert_equal "$output" "$(rec 9 "$A" 300 /one; rec 9 "$A" 302 /two)"
}

@test "usage: bad options exit 2, -h exits 0, -u needs -C" {
	run --separate-stderr bedup-group -x
	assert_failure 2
	assert_output ""
	assert_equal "${stderr##*$'\n'}" "usage: bedup-group [-s MINSIZE] [-C CATALOG [-u]] [-v] [-i COUNTS] [FILE...]"
	run --separate-stderr bedup-group -u
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "usage: bedup-group [-s MINSIZE] [-C CATALOG [-u]] [-v] [-i COUNTS] [FILE...]"
	run --separate-stderr bedup-group -s 12Q
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "usage: bedup-group [-s MINSIZE] [-C CATALOG [-u]] [-v] [-i COUNTS] [FILE...]"
	run --separate-stderr bedup-group -h
	assert_success
	assert_output "usage: bedup-group [-s MINSIZE] [-C CATALOG [-u]] [-v] [-i COUNTS] [FILE...]"
	assert_equal "$stderr" ""
	run --separate-stderr bedup-group /nonexistent
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup-group: /nonexistent: No such file or directory"
}

@test "catalog: missing is empty; -u creates it with every record" {
	cat=$BATS_TEST_TMPDIR/cat
	{ rec 9 "$A" 300 /one; rec 9 "$A" 301 /two; rec 5 "$A" 302 /single; } >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-group -C "$cat" -u "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(rec 9 "$A" 300 /one; rec 9 "$A" 301 /two)"
	assert_equal "$(cat "$cat")" "$(rec 9 "$A" 300 /one; rec 9 "$A" 301 /two; rec 5 "$A" 302 /single)"
}

@test "catalog: output is every group with a changed file, all members" {
	cat=$BATS_TEST_TMPDIR/cat
	{
		rec 9 "$A" 300 /old9a "$H"
		rec 9 "$A" 301 /old9b "$H"
		rec 7 "$A" 302 /old7 "$H"
		rec 5 "$A" 303 /old5a
		rec 5 "$A" 304 /old5b
		rec 3 "$A" 305 /old3 "$H"
		rec 9 "$A" 306 /old9c "$H"
	} >"$cat"
	# 308 is new and twins 302; 301 changed (same size); 305 grew
	{
		rec 7 "$A" 308 /new7
		rec 9 "$A" 301 /old9b-renamed
		rec 11 "$A" 305 /old3
	} >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-group -C "$cat" "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(
		rec 9 "$A" 300 /old9a
		rec 9 "$A" 301 /old9b-renamed
		rec 9 "$A" 306 /old9c
		rec 7 "$A" 302 /old7
		rec 7 "$A" 308 /new7)"
	# without -u the catalog is untouched
	assert_equal "$(sha256sum <"$cat")" "$( {
		rec 9 "$A" 300 /old9a "$H"; rec 9 "$A" 301 /old9b "$H"; rec 7 "$A" 302 /old7 "$H"
		rec 5 "$A" 303 /old5a; rec 5 "$A" 304 /old5b; rec 3 "$A" 305 /old3 "$H"
		rec 9 "$A" 306 /old9c "$H"; } | sha256sum)"
	# with -u: changed records replaced (HASH -), unchanged keep their digest
	run --separate-stderr bedup-group -C "$cat" -u "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(cat "$cat")" "$(
		rec 11 "$A" 305 /old3
		rec 9 "$A" 300 /old9a "$H"
		rec 9 "$A" 301 /old9b-renamed
		rec 9 "$A" 306 /old9c "$H"
		rec 7 "$A" 302 /old7 "$H"
		rec 7 "$A" 308 /new7
		rec 5 "$A" 303 /old5a
		rec 5 "$A" 304 /old5b)"
}

@test "catalog: an input record's digest enters the catalog, output HASH stays -" {
	cat=$BATS_TEST_TMPDIR/cat
	G=fedcba9876543210fedcba9876543210
	{ rec 9 "$A" 300 /a "$H"; rec 9 "$A" 301 /b "$H"; } >"$cat"
	# 301 fed back with the digest bedup-hash gave it; 302 is new
	{ rec 9 "$A" 301 /b "$G"; rec 9 "$A" 302 /c; } >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-group -C "$cat" -u "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(rec 9 "$A" 300 /a; rec 9 "$A" 301 /b; rec 9 "$A" 302 /c)"
	assert_equal "$(cat "$cat")" "$(rec 9 "$A" 300 /a "$H"; rec 9 "$A" 301 /b "$G"; rec 9 "$A" 302 /c)"
}

@test "catalog -u: committed before the first output line" {
	cat=$BATS_TEST_TMPDIR/cat
	rec 9 "$A" 300 /old >"$cat"
	rec 9 "$A" 301 /new >"$BATS_TEST_TMPDIR/in"
	# the reader copies the catalog as soon as it sees the first line
	run --separate-stderr sh -c 'bedup-group -C "$1" -u "$2" |
		{ read -r line; cp "$1" "$1.seen"; echo "$line"; cat; }' sh "$cat" "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(rec 9 "$A" 300 /old; rec 9 "$A" 301 /new)"
	assert_equal "$(cat "$cat.seen")" "$(rec 9 "$A" 300 /old; rec 9 "$A" 301 /new)"
	# no temp file left beside it
	run find "$BATS_TEST_TMPDIR" -name 'cat.tmp.*'
	assert_output ""
}

# smp SIZE SAMPLE FSID INO [SUBVOL]: one line of a samples file
smp() {
	printf '%s\t%s\t%s\t%s\t%s\t7\n' "$1" "$2" "$3" "${5:-5}" "$4"
}

@test "catalog -u: the samples of inodes reported changed go, before the first output line" {
	cat=$BATS_TEST_TMPDIR/cat
	G=fedcba9876543210fedcba9876543210
	{ rec 9 "$A" 300 /a "$H"; rec 9 "$A" 301 /b; rec 9 "$A" 302 /c; } >"$cat"
	{ smp 9 "$H" "$A" 300; smp 9 "$G" "$A" 301; smp 9 "$G" "$A" 302; smp 9 "$G" "$B" 301; } >"$cat.samples"
	cp "$cat.samples" "$BATS_TEST_TMPDIR/before"
	# 301 changed (HASH -); 300 fed back with its digest keeps its sample
	{ rec 9 "$A" 301 /b; rec 9 "$A" 300 /a "$H"; } >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-group -C "$cat" "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(rec 9 "$A" 300 /a; rec 9 "$A" 301 /b; rec 9 "$A" 302 /c)"
	# without -u the samples are untouched
	cmp "$cat.samples" "$BATS_TEST_TMPDIR/before"
	run --separate-stderr sh -c 'bedup-group -C "$1" -u "$2" |
		{ read -r line; cp "$1.samples" "$1.seen"; echo "$line"; cat; }' sh "$cat" "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(rec 9 "$A" 300 /a; rec 9 "$A" 301 /b; rec 9 "$A" 302 /c)"
	# the inode of another filesystem with the same numbers stays
	want=$(smp 9 "$H" "$A" 300; smp 9 "$G" "$A" 302; smp 9 "$G" "$B" 301)
	assert_equal "$(cat "$cat.seen")" "$want"
	assert_equal "$(cat "$cat.samples")" "$want"
	assert_equal "$(stat -c %a "$cat.samples")" 600
	run find "$BATS_TEST_TMPDIR" -name 'cat.samples.tmp.*'
	assert_output ""
}

@test "catalog -u: a malformed samples line is reported and left out" {
	cat=$BATS_TEST_TMPDIR/cat
	{ rec 9 "$A" 300 /a; rec 9 "$A" 301 /b; } >"$cat"
	{
		smp 9 "$H" "$A" 300
		echo junk
		smp 9 0123456789ABCDEF0123456789ABCDEF "$A" 301
		smp 9 "$H" "${A%1}" 301
		smp 9 "$H" "$A" 301 0
		smp 9 "$H" "$A" 302
	} >"$cat.samples"
	rec 9 "$A" 301 /b >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-group -C "$cat" -u "$BATS_TEST_TMPDIR/in"
	assert_failure 1
	assert_equal "$stderr" "bedup-group: $cat.samples: line 2: expected 6 fields, got 1
bedup-group: $cat.samples: line 3: bad SAMPLE: not 32 lowercase hex digits
bedup-group: $cat.samples: line 4: bad FSID: not a lowercase UUID
bedup-group: $cat.samples: line 5: bad SUBVOL: zero"
	assert_equal "$output" "$(rec 9 "$A" 300 /a; rec 9 "$A" 301 /b)"
	assert_equal "$(cat "$cat.samples")" "$(smp 9 "$H" "$A" 300; smp 9 "$H" "$A" 302)"
}

@test "catalog: a malformed catalog line is reported like an input line" {
	cat=$BATS_TEST_TMPDIR/cat
	{ rec 9 "$A" 300 /old; echo "junk"; } >"$cat"
	rec 9 "$A" 301 /new >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-group -C "$cat" -u "$BATS_TEST_TMPDIR/in"
	assert_failure 1
	assert_equal "$stderr" "bedup-group: $cat: line 2: expected 7 fields, got 1"
	assert_equal "$output" "$(rec 9 "$A" 300 /old; rec 9 "$A" 301 /new)"
	assert_equal "$(cat "$cat")" "$(rec 9 "$A" 300 /old; rec 9 "$A" 301 /new)"
}

@test "catalog: no changed file leaves the catalog unread and as it was" {
	cat=$BATS_TEST_TMPDIR/cat
	{ rec 9 "$A" 300 /old; rec 9 "$A" 301 /old2; echo "junk"; } >"$cat"
	ino=$(stat -c %i "$cat")
	# a rerun with nothing changed: no group can hold a changed file
	run --separate-stderr bedup-group -C "$cat" -u </dev/null
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	assert_equal "$(stat -c %i "$cat")" "$ino"
	assert_equal "$(cat "$cat")" "$(rec 9 "$A" 300 /old; rec 9 "$A" 301 /old2; echo junk)"
}

@test "an output that cannot be written is exit 2" {
	{ rec 9 "$A" 300 /old; rec 9 "$A" 301 /new; } >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr sh -c 'bedup-group "$@" >/dev/full' sh "$BATS_TEST_TMPDIR/in"
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup-group: write error: No space left on device"
}

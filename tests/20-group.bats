#!/usr/bin/env bats
# bedup-group: candidate groups from records (a filter: fake records,
# no root needed). The catalog of incremental runs: 21-group-catalog.

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
	assert_equal "${stderr##*$'\n'}" "usage: bedup-group [-s MINSIZE] [-C CATALOG -m MOUNT [-u]] [-v] [-i COUNTS] [FILE...]"
	run --separate-stderr bedup-group -u
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "usage: bedup-group [-s MINSIZE] [-C CATALOG -m MOUNT [-u]] [-v] [-i COUNTS] [FILE...]"
	run --separate-stderr bedup-group -s 12Q
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "usage: bedup-group [-s MINSIZE] [-C CATALOG -m MOUNT [-u]] [-v] [-i COUNTS] [FILE...]"
	run --separate-stderr bedup-group -h
	assert_success
	assert_output "usage: bedup-group [-s MINSIZE] [-C CATALOG -m MOUNT [-u]] [-v] [-i COUNTS] [FILE...]"
	assert_equal "$stderr" ""
	run --separate-stderr bedup-group /nonexistent
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup-group: /nonexistent: No such file or directory"
}

@test "an output that cannot be written is exit 2" {
	{ rec 9 "$A" 300 /old; rec 9 "$A" 301 /new; } >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr sh -c 'bedup-group "$@" >/dev/full' sh "$BATS_TEST_TMPDIR/in"
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup-group: write error: No space left on device"
}

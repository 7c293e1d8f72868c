#!/usr/bin/env bats
# The record library: escaping and parsing exactly as RECORDS.md says.

load helpers

FS=01234567-89ab-cdef-0123-456789abcdef

@test "escape/unescape round-trips all 256 byte values" {
	local all esc back
	all=$BATS_TEST_TMPDIR/all
	for i in $(seq 0 255); do printf "\\$(printf %03o "$i")"; done >"$all"
	[ "$(stat -c %s "$all")" = 256 ]
	run --separate-stderr sh -c "recio -e <'$all' >'$BATS_TEST_TMPDIR/esc'"
	assert_success
	assert_equal "$stderr" ""
	# the escaped form is one line, no TAB, no LF, no CR, no control byte
	run sh -c "LC_ALL=C grep -c '[[:cntrl:]]' '$BATS_TEST_TMPDIR/esc'"
	assert_output 0
	recio -u <"$BATS_TEST_TMPDIR/esc" >"$BATS_TEST_TMPDIR/back"
	cmp "$all" "$BATS_TEST_TMPDIR/back"
}

@test "escape writes the documented forms" {
	run sh -c "printf 'a\\\\b\\tc\\nd\\re\\001f\\177g\\377 h' | recio -e"
	assert_success
	assert_output 'a\\b\tc\nd\re\001f\177g'$'\377'' h'
}

@test "records round-trip, odd paths included" {
	printf '10\t-\t%s\t5\t257\t7\t/a b\\tc\\nd\\\\e\\001\377\n' "$FS" >"$BATS_TEST_TMPDIR/in"
	printf '0\t0123456789abcdef0123456789abcdef\t%s\t256\t1\t18446744073709551615\t/x\n' "$FS" >>"$BATS_TEST_TMPDIR/in"
	run --separate-stderr recio "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(cat "$BATS_TEST_TMPDIR/in")"
	recio -p "$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/paths"
	printf '/a b\tc\nd\\e\001\377\0/x\0' >"$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/paths"
}

# bad LINE MESSAGE: the line is rejected with exactly that message and the
# valid records around it still come out; exit status 1.
bad() {
	printf '1\t-\t%s\t5\t257\t7\t/before\n%s\n2\t-\t%s\t5\t258\t7\t/after\n' \
		"$FS" "$1" "$FS" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr recio <"$BATS_TEST_TMPDIR/in"
	assert_failure 1
	assert_equal "$stderr" "recio: line 2: $2"
	assert_equal "$(printf '%s\n' "$output" | cut -f7)" "$(printf '/before\n/after')"
}

@test "malformed: wrong field count" {
	bad "$(printf '1\t-\t%s' "$FS")" "expected 7 fields, got 3"
	bad "$(printf '1\t-\t%s\t5\t257\t7\t/p\textra' "$FS")" "expected 7 fields, got 8"
	bad "just words" "expected 7 fields, got 1"
}

@test "malformed: numbers" {
	bad "$(printf 'abc\t-\t%s\t5\t257\t7\t/p' "$FS")" "bad SIZE: not a decimal number"
	bad "$(printf -- '-1\t-\t%s\t5\t257\t7\t/p' "$FS")" "bad SIZE: not a decimal number"
	bad "$(printf '18446744073709551616\t-\t%s\t5\t257\t7\t/p' "$FS")" "bad SIZE: number too large"
	bad "$(printf '1\t-\t%s\t\t257\t7\t/p' "$FS")" "bad SUBVOL: not a decimal number"
	bad "$(printf '1\t-\t%s\t5\t0x10\t7\t/p' "$FS")" "bad INO: not a decimal number"
	bad "$(printf '1\t-\t%s\t5\t257\t+7\t/p' "$FS")" "bad GEN: not a decimal number"
	bad "$(printf '1\t-\t%s\t0\t257\t7\t/p' "$FS")" "bad SUBVOL: zero"
}

@test "malformed: hash and fsid" {
	bad "$(printf '1\tABC\t%s\t5\t257\t7\t/p' "$FS")" "bad HASH: not '-' or 32 lowercase hex digits"
	bad "$(printf '1\t0123456789ABCDEF0123456789abcdef\t%s\t5\t257\t7\t/p' "$FS")" "bad HASH: not '-' or 32 lowercase hex digits"
	bad "$(printf '1\t-\tnot-a-uuid\t5\t257\t7\t/p')" "bad FSID: not a lowercase UUID"
}

@test "malformed: paths" {
	bad "$(printf '1\t-\t%s\t5\t257\t7\t' "$FS")" "empty PATH"
	bad "$(printf '1\t-\t%s\t5\t257\t7\trelative' "$FS")" "PATH is not absolute"
	bad "$(printf '1\t-\t%s\t5\t257\t7\t/a\\q' "$FS")" "bad escape in PATH"
	bad "$(printf '1\t-\t%s\t5\t257\t7\t/a\\' "$FS")" "bad escape in PATH"
	bad "$(printf '1\t-\t%s\t5\t257\t7\t/a\\101' "$FS")" "bad escape in PATH"
	bad "$(printf '1\t-\t%s\t5\t257\t7\t/a\\400' "$FS")" "bad escape in PATH"
	bad "$(printf '1\t-\t%s\t5\t257\t7\t/a\\000b' "$FS")" "NUL byte in PATH"
}

@test "malformed: a raw NUL byte in the line" {
	printf '1\t-\t%s\t5\t257\t7\t/a\0b\n' "$FS" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr recio "$BATS_TEST_TMPDIR/in"
	assert_failure 1
	assert_equal "$stderr" "recio: $BATS_TEST_TMPDIR/in: line 1: NUL byte in line"
	assert_output ""
}

@test "empty lines are ignored, a missing file is exit 2" {
	printf '\n\n' >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr recio "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	run --separate-stderr recio "$BATS_TEST_TMPDIR/nope"
	assert_failure 2
	assert_equal "$stderr" "recio: $BATS_TEST_TMPDIR/nope: No such file or directory"
}

@test "a full output device is an error, exit 2" {
	[ -w /dev/full ] || _missing "no /dev/full"
	printf '1\t-\t%s\t5\t257\t7\t/p\n' "$FS" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr sh -c "recio '$BATS_TEST_TMPDIR/in' >/dev/full"
	assert_failure 2
	assert_equal "$stderr" "recio: write error: No space left on device"
}

#!/usr/bin/env bats
# Bad input to every record reader: each bad line gets its one message
# "PROG: line N: WHAT", the tool goes on, the valid records around it are
# still processed (really shared, for bedup-clone), and the exit is 1.

load helpers

TOOLS="bedup-group bedup-hash bedup-lock bedup-clone"

setup_file() {
	requires root btrfs
	btrfs_mount 1G
	local D=$MNT/bad fs
	mkdir -p "$D"
	mkfile "$D/a" 3000000 bad
	for f in b c d e; do copy "$D/a" "$D/$f"; done
	fs=$(fsid "$MNT")
	# a FSID no filesystem here has (compared only after parsing)
	export OTHER=0123abcd-0000-4000-8000-00000000000${fs: -1}
	[ "$OTHER" != "$fs" ] || OTHER=0123abcd-0000-4000-8000-00000000000f
	[ "$OTHER" != "$fs" ] || OTHER=0123abcd-0000-4000-8000-00000000000e
	DIGEST=$(xxhsum -H2 "$D/a" | cut -d' ' -f1)
	# the records, HASH filled in: bedup-group ignores it, the others use it
	record "$D/a" "$D/b" "$D/c" "$D/d" "$D/e" |
		awk -F'\t' -v OFS='\t' -v h="$DIGEST" '{ $2 = h; print }' >"$BATS_FILE_TMPDIR/good"
	{
		sed -n 1p "$BATS_FILE_TMPDIR/good"                            # 1 a
		echo                                                          # 2 blank
		head -c 1048576 /dev/zero | tr '\0' x; echo                   # 3
		printf '3000000\t%s\t%s\t5\t257\t7\t/x\0y\n' "$DIGEST" "$OTHER"  # 4 NUL
		printf '3000000\t-\t%s\n' "$OTHER"                            # 5
		printf '%s\textra\n' "$(sed -n 1p "$BATS_FILE_TMPDIR/good")"   # 6
		printf '3000000\t%s\t%s\t5\t257\t7\t/x\\q\n' "$DIGEST" "$OTHER"  # 7
		printf '18446744073709551616\t%s\t%s\t5\t257\t7\t/x\n' "$DIGEST" "$OTHER"  # 8
		printf '3000000\t%s\t%s\t5\t-257\t7\t/x\n' "$DIGEST" "$OTHER"  # 9
		printf -- '-3000000\t%s\t%s\t5\t257\t7\t/x\n' "$DIGEST" "$OTHER"  # 10
		sed -n 2p "$BATS_FILE_TMPDIR/good"                            # 11 b
		# 12: c under an unknown SUBVOL
		sed -n 3p "$BATS_FILE_TMPDIR/good" | awk -F'\t' -v OFS='\t' '{ $4 = 4242; print }'
		# 13: a valid record with a 1 MiB PATH that does not exist
		printf '3000000\t%s\t%s\t5\t999999\t7\t' "$DIGEST" "$(fsid "$MNT")"
		for i in $(seq 5000); do printf '/%0200d' "$i"; done; echo
		# 14, 15: d and e under another filesystem's FSID: a group of their own
		sed -n '4,5p' "$BATS_FILE_TMPDIR/good" | awk -F'\t' -v OFS='\t' -v o="$OTHER" '{ $3 = o; print }'
	} >"$BATS_FILE_TMPDIR/bad"
	export DIGEST
}

teardown_file() {
	btrfs_unmount
}

# the messages every tool gives for lines 3 to 10 of the bad input
line_errors() {
	printf '%s: line %s\n' \
		"$1" "3: expected 7 fields, got 1" \
		"$1" "4: NUL byte in line" \
		"$1" "5: expected 7 fields, got 3" \
		"$1" "6: expected 7 fields, got 8" \
		"$1" "7: bad escape in PATH" \
		"$1" "8: bad SIZE: number too large" \
		"$1" "9: bad INO: not a decimal number" \
		"$1" "10: bad SIZE: not a decimal number"
}

@test "bad input: empty input and only blank lines: nothing out, nothing said, exit 0" {
	local t
	for t in $TOOLS; do
		run --separate-stderr "$t" </dev/null
		assert_success
		assert_output ""
		assert_equal "$stderr" ""
		run --separate-stderr "$t" < <(printf '\n\n\n')
		assert_success
		assert_output ""
		assert_equal "$stderr" ""
	done
}

@test "bad input: bedup-group reports each bad line and groups the rest" {
	local D=$MNT/bad
	run --separate-stderr bedup-group <"$BATS_FILE_TMPDIR/bad"
	assert_failure 1
	assert_equal "$stderr" "$(line_errors bedup-group)"
	# a, b, c (SUBVOL 4242) and the long path share (SIZE, FSID); d and e
	# are a group of the other FSID; no HASH survives grouping
	assert_equal "$(printf '%s\n' "$output" | cut -f2 | sort -u)" "-"
	assert_equal "$(printf '%s\n' "$output" | cut -f3,4,5 | sort)" "$(
		{ for f in a b; do record "$D/$f" | cut -f3,4,5; done
		  record "$D/c" | awk -F'\t' -v OFS='\t' '{ print $3, 4242, $5 }'
		  printf '%s\t5\t999999\n' "$(fsid "$MNT")"
		  for f in d e; do record "$D/$f" | awk -F'\t' -v OFS='\t' -v o="$OTHER" '{ print o, $4, $5 }'; done
		} | sort)"
	assert_equal "$(printf '%s\n' "$output" | wc -l)" 6
}

@test "bad input: bedup-hash reports each bad line and each foreign record, hashes the rest" {
	local D=$MNT/bad
	run --separate-stderr bedup-hash <"$BATS_FILE_TMPDIR/bad"
	assert_failure 1
	assert_output "$(sed -n '1,2p' "$BATS_FILE_TMPDIR/good")"
	assert_equal "$stderr" "$(line_errors bedup-hash
		for f in c d e; do
			echo "bedup-hash: $D/$f: not the file the record names (replaced, or not a regular file)"
		done)"
}

@test "bad input: bedup-lock reports each bad line and each foreign record, passes the rest" {
	local D=$MNT/bad
	run --separate-stderr bedup-lock <"$BATS_FILE_TMPDIR/bad"
	assert_failure 1
	assert_output "$(sed -n '1,2p' "$BATS_FILE_TMPDIR/good")"
	assert_equal "$stderr" "$(line_errors bedup-lock
		for f in c d e; do
			echo "bedup-lock: $D/$f: changed since the record was made, skipped"
		done)"
}

@test "bad input: bedup-clone reports each bad line and each foreign record, shares the rest" {
	local D=$MNT/bad
	meta "$D/a" "$D/b" "$D/c" "$D/d" "$D/e" >"$BATS_TEST_TMPDIR/meta.before"
	run --separate-stderr bedup-clone <"$BATS_FILE_TMPDIR/bad"
	cut_ids
	assert_failure 1
	assert_output "deduped	3000000	$D/a	$D/b"
	assert_equal "$stderr" "$(line_errors bedup-clone
		for f in c d e; do
			echo "bedup-clone: $D/$f: changed since the record was made, skipped"
		done)"
	# a and b really share; c, d and e, named wrongly, were left alone
	assert_equal "$(excl "$D/a" "$D/b")" "$(zeros 2)"
	assert_equal "$(excl "$D/c" "$D/d" "$D/e")" "$(printf '3002368\n%.0s' 1 2 3 | head -c -1)"
	meta "$D/a" "$D/b" "$D/c" "$D/d" "$D/e" >"$BATS_TEST_TMPDIR/meta.after"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/meta.after")" "$(cat "$BATS_TEST_TMPDIR/meta.before")"
}

@test "bad input: a bad line in the FILE arguments names the file; a missing FILE is exit 2, nothing done" {
	local t
	printf 'junk\n' >"$BATS_TEST_TMPDIR/j"
	for t in $TOOLS; do
		run --separate-stderr "$t" "$BATS_TEST_TMPDIR/j"
		assert_failure 1
		assert_output ""
		assert_equal "$stderr" "$t: $BATS_TEST_TMPDIR/j: line 1: expected 7 fields, got 1"
		run --separate-stderr "$t" "$BATS_FILE_TMPDIR/good" "$BATS_TEST_TMPDIR/missing"
		assert_failure 2
		assert_output ""
		assert_equal "$stderr" "$t: $BATS_TEST_TMPDIR/missing: No such file or directory"
	done
}

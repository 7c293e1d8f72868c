#!/usr/bin/env bats
# bedup find-new, generation and dedup-files.

load helpers
load bedup

setup() {
	requires root btrfs
	newfs 1G
}

teardown() {
	dropfs
}

@test "find-new VOL: records of the subvolume's files, -t paths, -0 NUL-ended" {
	mkfile "$MNT/a" 5
	mkfile "$MNT/b c" 7
	: >"$MNT/empty"
	btrfs -q subvolume create "$MNT/sv"
	mkfile "$MNT/sv/in-sv" 9
	run --separate-stderr bedup find-new "$MNT"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sort <<<"$output")" "$(record "$MNT/a" "$MNT/b c" | sort)"
	run --separate-stderr bedup find-new --terse "$MNT"
	assert_success
	assert_equal "$(sort <<<"$output")" "$(printf '%s\n' "$MNT/a" "$MNT/b c")"
	bedup find-new -0 "$MNT" 0 | sort -z >"$BATS_TEST_TMPDIR/out"
	printf '%s\0' "$MNT/a" "$MNT/b c" | cmp - "$BATS_TEST_TMPDIR/out"
	run --separate-stderr bedup find-new -t "$MNT/sv"
	assert_success
	assert_output "$MNT/sv/in-sv"
}

@test "generation, and find-new since it: only what changed after" {
	mkfile "$MNT/old" 5
	sync -f "$MNT"
	: >"$MNT/z"                     # an empty file: not listed
	run --separate-stderr bedup generation --flush "$MNT"
	assert_success
	assert_output --regexp '^[1-9][0-9]*$'
	assert_equal "$stderr" ""
	gen=$output
	mkfile "$MNT/new" 5
	run --separate-stderr bedup find-new --terse "$MNT" "$gen"
	assert_success
	assert_output "$MNT/new"
	assert_equal "$stderr" ""
	run --separate-stderr bedup generation --flush "$MNT"
	assert_success
	[ "$output" -gt "$gen" ]
	run --separate-stderr bedup generation "$MNT"
	assert_success
	assert_output --regexp '^[1-9][0-9]*$'
	run --separate-stderr bedup generation /proc
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup: /proc: not on btrfs"
}

@test "dedup-files SRC DST...: shares, reports differing files, exit 1" {
	mkfile "$MNT/a" 2M a
	copy "$MNT/a" "$MNT/b"
	copy "$MNT/a" "$MNT/c"
	mkfile "$MNT/x" 2M x            # same size, other content
	mkfile "$MNT/y" 1M y            # other size
	ln -s a "$MNT/l"
	before=$(fingerprint "$MNT")
	run --separate-stderr bedup dedup-files "$MNT/a" "$MNT/b" "$MNT/c"
	assert_success
	assert_output "bedup: 2 files deduplicated, 4194304 bytes (4.0 MiB) newly shared"
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT/b" "$MNT/c"
	cd "$MNT"
	run --separate-stderr bedup dedup-files a x y l
	assert_failure 1
	assert_output "bedup: 0 files deduplicated, 0 bytes (0 B) newly shared, 1 differ"
	assert_equal "$stderr" "bedup-findnew: l: not a regular file
bedup: $MNT/y: differs from $MNT/a (size), unchanged
bedup-clone: $MNT/x: content differs from the source, not shared"
	apart "$MNT/a" "$MNT/x"
	apart "$MNT/a" "$MNT/y"
	assert_equal "$(fingerprint "$MNT")" "$before"
}

@test "dedup-files: odd names, -n, -v, --defrag, a file open for writing" {
	mkfile "$MNT/a" 2M a
	odd=$MNT/$'odd \t\n\\\377x'
	copy "$MNT/a" "$odd"
	copy "$MNT/a" "$MNT/w"
	run --separate-stderr bedup dedup-files -n "$MNT/a" "$odd"
	assert_success
	assert_output "bedup: 1 files would be deduplicated, 2097152 bytes (2.0 MiB)"
	assert_equal "$stderr" ""
	apart "$MNT/a" "$odd"
	run --separate-stderr bedup dedup-files -v --defrag "$MNT/a" "$odd"
	assert_success
	assert_line --index 0 --regexp $'^deduped\t2097152\t'"$IDS"
	pat=$'/odd \\t\\n\\\\\377x'
	[[ ${lines[0]} == *"$pat"* ]]
	assert_line --index 1 "bedup: 1 files deduplicated, 2097152 bytes (2.0 MiB) newly shared"
	shared "$MNT/a" "$odd"
	exec 7>>"$MNT/w"
	run --separate-stderr bedup dedup-files "$MNT/a" "$MNT/w" 7>&-
	exec 7>&-
	assert_success
	assert_output "bedup: 0 files deduplicated, 0 bytes (0 B) newly shared, 1 in use"
	assert_equal "$stderr" "bedup-lock: $MNT/w: in use, skipped"
	apart "$MNT/a" "$MNT/w"
}

@test "dedup-files: a source not a regular file on btrfs does nothing, exit 2; a DST on another filesystem is left out" {
	mkfile "$MNT/a" 2M a
	copy "$MNT/a" "$MNT/b"
	ln -s a "$MNT/l"
	before=$(fingerprint "$MNT")
	run --separate-stderr bedup dedup-files "$MNT/l" "$MNT/a" "$MNT/b"
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup-findnew: $MNT/l: not a regular file
bedup: $MNT/l: source unusable, nothing done"
	assert_equal "$(fingerprint "$MNT")" "$before"
	apart "$MNT/a" "$MNT/b"
	mkdir "$BATS_TEST_TMPDIR/tmpfs"
	mount -t tmpfs none "$BATS_TEST_TMPDIR/tmpfs"
	head -c 2097152 "$MNT/a" >"$BATS_TEST_TMPDIR/tmpfs/t"
	run --separate-stderr bedup dedup-files "$BATS_TEST_TMPDIR/tmpfs/t" "$MNT/a"
	assert_failure 2
	assert_equal "$stderr" "bedup-findnew: $BATS_TEST_TMPDIR/tmpfs/t: not on a btrfs filesystem
bedup: $BATS_TEST_TMPDIR/tmpfs/t: source unusable, nothing done"
	run --separate-stderr bedup dedup-files "$MNT/a" "$BATS_TEST_TMPDIR/tmpfs/t" "$MNT/b"
	umount "$BATS_TEST_TMPDIR/tmpfs"
	assert_failure 1
	assert_output "bedup: 1 files deduplicated, 2097152 bytes (2.0 MiB) newly shared"
	assert_equal "$stderr" "bedup-findnew: $BATS_TEST_TMPDIR/tmpfs/t: not on a btrfs filesystem"
	shared "$MNT/a" "$MNT/b"
}

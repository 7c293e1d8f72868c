#!/usr/bin/env bats
# bedup-clone --same-owner: files of different owners never come to share
# extents, so that no user learns what another user's files hold.

load helpers

setup_file() {
	requires root btrfs
	btrfs_mount 1G
}

teardown_file() {
	btrfs_unmount
}

setup() {
	D=$MNT/$BATS_TEST_NUMBER
	mkdir -p "$D"
}

# first_block FILE: the physical offset of FILE's first extent.
first_block() {
	filefrag -v "$1" | awk '$1 == "0:" { print $4; exit }'
}

@test "same-owner: each owner's files share among themselves, never across owners" {
	mkfile "$D/a" 3000000 s
	for f in b c d e; do copy "$D/a" "$D/$f"; done
	chown 1000 "$D/a" "$D/c"
	chown 2000 "$D/b" "$D/d"
	chown 3000 "$D/e"
	record "$D/a" "$D/b" "$D/c" "$D/d" "$D/e" >"$D/in"
	meta "$D/a" "$D/b" "$D/c" "$D/d" "$D/e" >"$D/meta.before"
	run --separate-stderr bedup-clone --same-owner -v "$D/in"
	cut_ids
	assert_success
	assert_output "deduped	3000000	$D/a	$D/c
deduped	3000000	$D/b	$D/d"
	assert_equal "${stderr%$'\n'*}" "bedup-clone: 2 files deduplicated, 6000000 bytes newly shared, 0 already shared, 0 failed"
	assert_regex "${stderr##*$'\n'}" "$(counts_re bedup-clone '[0-9]+')"
	# 1000's pair and 2000's pair each share one copy; 3000's file is its own
	assert_equal "$(first_block "$D/a")" "$(first_block "$D/c")"
	assert_equal "$(first_block "$D/b")" "$(first_block "$D/d")"
	assert [ "$(first_block "$D/a")" != "$(first_block "$D/b")" ]
	assert [ "$(first_block "$D/e")" != "$(first_block "$D/a")" ]
	assert [ "$(first_block "$D/e")" != "$(first_block "$D/b")" ]
	assert_equal "$(excl "$D/e")" 3002368
	meta "$D/a" "$D/b" "$D/c" "$D/d" "$D/e" >"$D/meta.after"
	assert_equal "$(cat "$D/meta.after")" "$(cat "$D/meta.before")"
	# without the option the same group becomes one copy
	run --separate-stderr bedup-clone "$D/in"
	cut_ids
	assert_success
	# lines for members already shared come first (bedup-clone(1))
	assert_output "shared	3000000	$D/a	$D/c
deduped	3000000	$D/a	$D/b
deduped	3000000	$D/a	$D/d
deduped	3000000	$D/a	$D/e"
	assert_equal "$stderr" ""
	assert_equal "$(excl "$D/a" "$D/b" "$D/c" "$D/d" "$D/e")" "$(zeros 5)"
}

@test "same-owner: a group of one owner is shared as without the option; -n too" {
	mkfile "$D/a" 1000000 t
	copy "$D/a" "$D/b"
	copy "$D/a" "$D/c"
	chown 1000 "$D/a" "$D/b" "$D/c"
	record "$D/a" "$D/b" "$D/c" >"$D/in"
	run --separate-stderr bedup-clone -n --same-owner "$D/in"
	cut_ids
	assert_success
	assert_output "would-dedupe	1000000	$D/a	$D/b
would-dedupe	1000000	$D/a	$D/c"
	assert_equal "$stderr" ""
	run --separate-stderr bedup-clone --same-owner "$D/in"
	cut_ids
	assert_success
	assert_output "deduped	1000000	$D/a	$D/b
deduped	1000000	$D/a	$D/c"
	assert_equal "$stderr" ""
	assert_equal "$(excl "$D/a" "$D/b" "$D/c")" "$(zeros 3)"
}

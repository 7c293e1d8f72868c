#!/usr/bin/env bats
# The five stages chained as the README shows them, on one filesystem with
# a realistic mix: what is identical ends up shared, nothing else changes.

load helpers

setup_file() {
	requires root btrfs python3
	btrfs_mount 4G
	local M=$MNT
	mkdir -p "$M/d" "$M/odd"
	# three copies of an unaligned file, one in a nested subvolume
	mkfile "$M/d/a" $((5 * 1048576 + 7)) a
	copy "$M/d/a" "$M/d/a2"
	btrfs subvolume create "$M/sub" >/dev/null
	copy "$M/d/a" "$M/sub/a3"
	# a pair beyond 128 MiB
	mkfile "$M/d/big" $((130 * 1048576 + 1)) big
	copy "$M/d/big" "$M/d/big2"
	# same size, different content: first, middle and last byte
	mkfile "$M/d/s0" 3000000 s
	for w in first mid last; do copy "$M/d/s0" "$M/d/s-$w"; done
	printf 'X' | dd of="$M/d/s-first" bs=1 seek=0 conv=notrunc status=none
	printf 'X' | dd of="$M/d/s-mid" bs=1 seek=1500001 conv=notrunc status=none
	printf 'X' | dd of="$M/d/s-last" bs=1 seek=2999999 conv=notrunc status=none
	# a hard link and a reflinked copy of a fourth file, and an odd name
	mkfile "$M/d/h" 2000000 h
	ln "$M/d/h" "$M/d/h-link"
	cp --reflink=always "$M/d/h" "$M/d/h-reflink"
	copy "$M/d/h" "$M/odd/$(printf 'tab\there\nnl\\\377')"
	# unique files
	mkfile "$M/d/u1" 1234567 u1
	mkfile "$M/d/u2" 7654321 u2
	sync -f "$M"
	(cd "$M" && find . -type f -print0 | sort -z) >"$BATS_FILE_TMPDIR/files"
	(cd "$M" && xargs -0 bash -c "$(declare -f meta); meta \"\$@\"" _ <"$BATS_FILE_TMPDIR/files") \
		>"$BATS_FILE_TMPDIR/meta.before"
	used_data "$M" >"$BATS_FILE_TMPDIR/used.before"
}

teardown_file() {
	btrfs_unmount
}

run_pipeline() {
	bedup-findnew "$MNT" | bedup-group | bedup-hash | bedup-lock | bedup-clone
	echo "${PIPESTATUS[*]}" >"$BATS_TEST_TMPDIR/status"
}

@test "pipeline: identical files end up sharing all their data" {
	run --separate-stderr run_pipeline
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(cat "$BATS_TEST_TMPDIR/status")" "0 0 0 0 0"
	# one source per group; every other distinct inode deduped, the
	# reflinked copy already shared
	assert_equal "$(printf '%s\n' "$output" | cut -f1 | sort | uniq -c | awk '{print $2 "=" $1}' | paste -sd' ')" \
		"deduped=4 shared=1"
	run excl "$MNT/d/a" "$MNT/d/a2" "$MNT/sub/a3" "$MNT/d/big" "$MNT/d/big2" \
		"$MNT/d/h" "$MNT/d/h-reflink" "$MNT/odd/"*
	assert_output "$(zeros 8)"
	# the three same-size files that differ keep all their own data
	run excl "$MNT/d/s-first" "$MNT/d/s-mid" "$MNT/d/s-last"
	assert_output "$(printf '3002368\n3002368\n3002368')"   # 3000000 in 4 KiB blocks
	# freed: two copies of a, one of big, one of h (the odd-named copy)
	local want=$(( 2 * (5 * 1048576 + 8192) + 130 * 1048576 + 4096 + 2000000 ))
	near "$(( $(cat "$BATS_FILE_TMPDIR/used.before") - $(used_data "$MNT") ))" "$want"
}

@test "pipeline: no content or metadata changed" {
	(cd "$MNT" && xargs -0 bash -c "$(declare -f meta); meta \"\$@\"" _ <"$BATS_FILE_TMPDIR/files") \
		>"$BATS_TEST_TMPDIR/meta.after"
	run diff "$BATS_FILE_TMPDIR/meta.before" "$BATS_TEST_TMPDIR/meta.after"
	assert_success
	assert_output ""
}

@test "pipeline: a second run shares nothing and reads no file: checksums tell the others apart" {
	# one trace file per thread (-ff): no call split into "unfinished"
	# and "resumed" halves when two threads read at once
	named "$MNT"
	run --separate-stderr strace -ff -qq -y -e trace=ioctl,read,pread64,readv,preadv -e signal=none \
		-o "$BATS_TEST_TMPDIR/trace" \
		bash -c "$(declare -f run_pipeline); run_pipeline"
	cat "$BATS_TEST_TMPDIR"/trace.* >"$BATS_TEST_TMPDIR/trace"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(cat "$BATS_TEST_TMPDIR/status")" "0 0 0 0 0"
	# every group is already one extent layout: bedup-hash drops them
	assert_output ""
	run grep -c FIDEDUPERANGE "$BATS_TEST_TMPDIR/trace"
	assert_output 0
	# without a catalog, the same-size files that differ are told apart
	# again, by the checksums btrfs keeps of their data: no file on the
	# filesystem is read (strace -y names the file behind each fd)
	assert_equal "$(unnamed_reads "$BATS_TEST_TMPDIR/trace")" 0
	run grep -E "(read|readv|pread64|preadv)\\([0-9]+<$MNT/" "$BATS_TEST_TMPDIR/trace"
	assert_output ""
	run grep -c 'tree_id=BTRFS_CSUM_TREE_OBJECTID' "$BATS_TEST_TMPDIR/trace"
	refute_output 0
	# and the trace did see reads: of the pipes between the stages
	run grep -cE '(read|pread64)\([0-9]+<pipe:' "$BATS_TEST_TMPDIR/trace"
	refute_output 0
}

@test "pipeline: grep and awk between stages narrow the work" {
	local M=$MNT/grep
	mkdir -p "$M/keep" "$M/skip"
	mkfile "$M/keep/x" 3000000 gx
	copy "$M/keep/x" "$M/keep/y"
	mkfile "$M/skip/x" 3000000 gs
	copy "$M/skip/x" "$M/skip/y"
	run --separate-stderr bash -c "bedup-findnew '$MNT' | grep -av '	$M/skip/' |
		bedup-group | bedup-hash | bedup-lock | bedup-clone"
	cut_ids
	assert_success
	assert_equal "$stderr" ""
	assert_output "$(printf 'deduped\t3000000\t%s\t%s' "$M/keep/x" "$M/keep/y")"
	run excl "$M/skip/x" "$M/skip/y"
	assert_output "$(printf '3002368\n3002368')"
}

#!/usr/bin/env bats
# What files already share is read from their extent references (the
# subvolume tree), compressed or not: a rerun reads no data it shared
# before, inline data goes nowhere, and only the work left reaches
# bedup-lock and bedup-clone.

load helpers
load bedup

setup() {
	requires root btrfs strace
	newfs 1G
}

teardown() {
	dropfs
}

# sectors_read: sectors read so far from the loop device under $MNT
sectors_read() {
	local dev
	dev=$(findmnt -nvo SOURCE "$MNT")
	awk '{ print $3 }' "/sys/block/${dev#/dev/}/stat"
}

# textfile PATH: 200 KiB of text that compresses about 4 to 1
textfile() {
	seq 1 100000 | head -c 204800 >"$1"
}

# total_excl DIR: bytes the files under DIR hold that no other file shares
total_excl() {
	sync -f "$1"
	btrfs filesystem du -s --raw -- "$1" | awk 'NR == 2 { print $2 }'
}

@test "compress=zstd: copies sharing one compressed extent are shared once, then never read" {
	mount -o remount,compress=zstd:1 "$MNT"
	mkdir "$MNT/t"
	textfile "$MNT/t/f0"
	for i in $(seq 59); do copy "$MNT/t/f0" "$MNT/t/f$i"; done
	sync
	# compressed: FIEMAP calls every extent encoded
	filefrag -v "$MNT/t/f0" | grep -q encoded
	before=$(total_excl "$MNT/t")
	[ "$before" -gt 0 ]
	run --separate-stderr bedup dedup --size-cutoff 1 "$MNT"
	assert_success
	assert_equal "$stderr" ""
	assert_output --regexp "$(summary_re 59 '[0-9]+')"
	# the oracle is btrfs's own count, not bedup's layouts
	assert_equal "$(total_excl "$MNT/t")" 0
	# a rerun, nothing changed since: dedupe gave the copies a new
	# transaction, so findnew reports them, but they share one layout
	named "$MNT"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sectors=$(sectors_read)
	run --separate-stderr strace -f -qq -e trace=read,pread64,preadv,preadv2 -y \
		-o "$BATS_TEST_TMPDIR/strace" bedup dedup -v --size-cutoff 1 "$MNT"
	sectors=$(($(sectors_read) - sectors))
	assert_success
	refute_output --regexp '^deduped'
	refute_output --regexp '^shared'
	run grep -cE "(read|pread64|preadv2?)\\([0-9]+<$MNT/t/" "$BATS_TEST_TMPDIR/strace"
	assert_output 0
	assert_equal "$(unnamed_reads "$BATS_TEST_TMPDIR/strace")" 0
	# sectors of 512 bytes: metadata only, not the 60 files' ~3 MB
	# of compressed data a read of each would take from the disk
	echo "sectors read: $sectors, exclusive before: $before" >&3
	[ "$sectors" -lt $((before / 512 / 4)) ]
}

@test "inline: small identical files reach neither lock nor clone, hash alone lists them" {
	mkdir "$MNT/s"
	printf '%099d\n' 7 >"$MNT/s/f0"
	for i in $(seq 49); do copy "$MNT/s/f0" "$MNT/s/f$i"; done
	sync
	filefrag -v "$MNT/s/f0" | grep -q inline
	named "$MNT"
	run --separate-stderr strace -f -qq -e trace=openat,open_by_handle_at,read -y \
		-o "$BATS_TEST_TMPDIR/strace" bedup dedup -v --size-cutoff 1 "$MNT"
	assert_success
	refute_output --regexp '^inline'
	refute_output --regexp '^deduped'
	refute_line --partial 'cannot be shared'
	assert_output --regexp "$(summary_re 0 0)"
	# no stage opened one: their data stays where it is, in the metadata
	run grep -cE "<$MNT/s/f[0-9]+>" "$BATS_TEST_TMPDIR/strace"
	assert_output 0
	run grep -c 'open_by_handle_at(.*= [0-9]' "$BATS_TEST_TMPDIR/strace"
	assert_output 0
	# bedup-hash alone lists all the identical files, inline or not
	record "$MNT"/s/f* | bedup-group -s 1 >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "${#lines[@]}" 50
	assert_equal "$(cut -f2 <<<"$output" | sort -u | wc -l)" 1
	# with -w, nothing: inline data is nothing to share
	run --separate-stderr bedup-hash -w "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_output ""
	# bedup-lock alone leaves each out, a note, before any lease
	run --separate-stderr bedup-lock -s "$BATS_TEST_TMPDIR/skipped" <(head -n 2 <<<"$(bedup-hash "$BATS_TEST_TMPDIR/in")")
	assert_success
	assert_output ""
	assert_equal "$(grep -c 'inline data, cannot be shared, skipped' <<<"$stderr")" 2
	assert_equal "$(cut -f1 "$BATS_TEST_TMPDIR/skipped" | sort -u)" inline
}

@test "-w: of 60 files sharing one extent and a new copy, the source and the copy" {
	mkdir "$MNT/w"
	mkfile "$MNT/w/f0" 1000000 w
	for i in $(seq 59); do cp --reflink=always "$MNT/w/f0" "$MNT/w/f$i"; done
	copy "$MNT/w/f0" "$MNT/w/new"
	sync
	record "$MNT"/w/* | bedup-group -s 1 >"$BATS_TEST_TMPDIR/in"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/in")" 61
	run --separate-stderr strace -f -qq -e trace=open_by_handle_at -o "$BATS_TEST_TMPDIR/strace" \
		bedup-hash -w "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "${#lines[@]}" 2
	# the source first, one of the 60; then the copy that shares nothing
	[[ ${lines[0]} =~ $'\t'"$MNT/w/f"[0-9]+$ ]]
	[[ ${lines[1]} =~ $'\t'"$MNT/w/new"$ ]]
	# one file read of each layout, not 61 opened
	run grep -c 'open_by_handle_at(.*= [0-9]' "$BATS_TEST_TMPDIR/strace"
	[ "$output" -le 2 ]
	# without -w, every identical file
	run --separate-stderr bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "${#lines[@]}" 61
	# and bedup-clone, given the two, shares the copy from the source
	bedup-hash -w "$BATS_TEST_TMPDIR/in" | bedup-lock | bedup-clone >"$BATS_TEST_TMPDIR/out"
	run cut -f1 "$BATS_TEST_TMPDIR/out"
	assert_output deduped
	wait_shared "$MNT"/w/*
}

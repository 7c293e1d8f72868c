#!/usr/bin/env bats
# bedup-clone: identical files end up sharing all their data, and nothing
# else about them changes.

load helpers

setup_file() {
	requires root btrfs
	btrfs_mount 4G
}

teardown_file() {
	btrfs_unmount
}

setup() {
	D=$MNT/$BATS_TEST_NUMBER
	mkdir -p "$D"
}

# pipeline RECORDS [CLONE OPTIONS...]: bedup-lock | bedup-clone, with both
# statuses in $D/status.
pipeline() {
	local in=$1
	shift
	bedup-lock "$in" | bedup-clone "$@"
	echo "${PIPESTATUS[*]}" >"$D/status"
}

@test "clone: -h prints usage, a bad option is a usage error" {
	run --separate-stderr bedup-clone -h
	assert_success
	assert_output "usage: bedup-clone [-n] [-R] [--defrag] [--same-owner] [-v] [-i COUNTS] [FILE...]"
	assert_equal "$stderr" ""
	run --separate-stderr bedup-clone --bogus
	assert_failure 2
	assert_output ""
	assert_equal "${stderr##*$'\n'}" "usage: bedup-clone [-n] [-R] [--defrag] [--same-owner] [-v] [-i COUNTS] [FILE...]"
}

@test "clone: identical files share all extents; data and metadata unchanged" {
	requires python3
	local size=$((40 * 1048576 + 123)) before after
	mkfile "$D/a" "$size" s
	copy "$D/a" "$D/b"
	copy "$D/a" "$D/c"
	chmod 600 "$D/b"
	chown 1234:5678 "$D/b"
	python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.k", b"v")' "$D/c"
	touch -d '2001-02-03 04:05:06' "$D/c"
	record "$D/a" "$D/b" "$D/c" >"$D/in"
	meta "$D/a" "$D/b" "$D/c" >"$D/meta.before"
	before=$(used_data "$MNT")
	run --separate-stderr pipeline "$D/in" -v
	cut_ids
	assert_success
	assert_equal "$(cat "$D/status")" "0 0"
	assert_output "deduped	$size	$D/a	$D/b
deduped	$size	$D/a	$D/c"
	assert_equal "${stderr%$'\n'*}" "bedup-clone: 2 files deduplicated, $((2 * size)) bytes newly shared, 0 already shared, 0 failed"
	assert_regex "${stderr##*$'\n'}" "$(counts_re bedup-clone '[0-9]+')"
	assert_equal "$(excl "$D/a" "$D/b" "$D/c")" "$(zeros 3)"
	after=$(used_data "$MNT")
	near $((before - after)) $((2 * size))
	meta "$D/a" "$D/b" "$D/c" >"$D/meta.after"
	assert_equal "$(cat "$D/meta.after")" "$(cat "$D/meta.before")"
}

@test "clone: files up to and beyond 128 MiB, unaligned sizes, fully shared" {
	local s
	for s in 5000 1048575 $((128 * 1048576)) $((128 * 1048576 + 1)) $((200 * 1048576 + 4097)); do
		mkfile "$D/$s.a" "$s" "$s"
		copy "$D/$s.a" "$D/$s.b"
		record "$D/$s.a" "$D/$s.b"
	done >"$D/in"
	run --separate-stderr pipeline "$D/in"
	cut_ids
	assert_success
	assert_equal "$(cat "$D/status")" "0 0"
	assert_output "$(for s in 5000 1048575 $((128 * 1048576)) $((128 * 1048576 + 1)) $((200 * 1048576 + 4097)); do
		printf 'deduped\t%s\t%s\t%s\n' "$s" "$D/$s.a" "$D/$s.b"; done)"
	assert_equal "$stderr" ""
	for s in 5000 1048575 $((128 * 1048576)) $((128 * 1048576 + 1)) $((200 * 1048576 + 4097)); do
		assert_equal "$(excl "$D/$s.a" "$D/$s.b")" "$(zeros 2)"
		# the same physical blocks, extent by extent, up to the tail
		assert_equal "$(filefrag -v "$D/$s.b" | awk '$1 ~ /^[0-9]+:$/ { print $2, $3, $4, $5 }')" \
			"$(filefrag -v "$D/$s.a" | awk '$1 ~ /^[0-9]+:$/ { print $2, $3, $4, $5 }')"
		cmp "$D/$s.a" "$D/$s.b"
	done
}

@test "clone: a second run finds all shared and calls no dedupe" {
	requires strace
	mkfile "$D/a" 30000000 s
	copy "$D/a" "$D/b"
	copy "$D/a" "$D/c"
	record "$D/a" "$D/b" "$D/c" >"$D/in"
	run --separate-stderr pipeline "$D/in"
	cut_ids
	assert_success
	run --separate-stderr strace -f -qq -o "$D/trace" -e trace=ioctl bedup-clone -v "$D/in"
	cut_ids
	assert_success
	assert_output "shared	30000000	$D/a	$D/b
shared	30000000	$D/a	$D/c"
	assert_equal "${stderr%$'\n'*}" "bedup-clone: 0 files deduplicated, 0 bytes newly shared, 2 already shared, 0 failed"
	assert_regex "${stderr##*$'\n'}" "$(counts_re bedup-clone '[0-9]+')"
	grep -q FS_IOC_FIEMAP "$D/trace"
	run grep -c FIDEDUPERANGE "$D/trace"
	assert_output 0
}

@test "clone: a destination with its first bytes inline and the rest in extents is shared into" {
	local F=$D/mixed
	mkdir "$F"
	btrfs property set "$F" compression zstd
	# 4 KiB committed alone go inline (compressed); extended, the rest
	# goes to extents and the inline item stays
	yes mixed | head -c 4096 >"$F/a"
	sync
	yes more | head -c 20000 >>"$F/a"
	# the same bytes written at once (cat would clone a's extents)
	{ yes mixed | head -c 4096; yes more | head -c 20000; } >"$F/b"
	sync
	filefrag -v "$F/a" | grep -q inline
	! filefrag -v "$F/b" | grep -q inline
	meta "$F/a" "$F/b" >"$D/meta.before"
	# bedup-lock keeps both: a can be shared into
	run --separate-stderr bedup-lock <(record "$F/a" "$F/b")
	assert_success
	assert_equal "$output" "$(record "$F/a" "$F/b")"
	# the source is b, whose data is all in extents
	run --separate-stderr bedup-clone <(record "$F/a" "$F/b")
	cut_ids
	assert_success
	# BYTES: the data in extents it held (the inline bytes were none)
	assert_output "deduped	20000	$F/b	$F/a"
	sync
	! filefrag -v "$F/a" | grep -q inline
	cmp "$F/a" "$F/b"
	meta "$F/a" "$F/b" >"$D/meta.after"
	cmp "$D/meta.before" "$D/meta.after"
	[ "$(filefrag -v "$F/a" | awk '/^ *0:/ { print $4 }')" = "$(filefrag -v "$F/b" | awk '/^ *0:/ { print $4 }')" ]
}

@test "clone: inline data is left alone, the file not rewritten" {
	requires strace
	local gen
	# files under max_inline (2 KiB) keep their data in the metadata:
	# there is no extent to share, and FIDEDUPERANGE would copy the data
	# into a new item, making the file look changed to the next run
	local F=$D/f
	mkdir "$F"
	mkfile "$F/a" 1000 s
	copy "$F/a" "$F/b"
	mkfile "$F/c" 5000 t
	copy "$F/c" "$F/d"
	record "$F/a" "$F/b" >"$D/in"
	record "$F/c" "$F/d" >>"$D/in"
	sync
	filefrag -v "$F/a" | grep -q inline
	meta "$F/a" "$F/b" >"$D/meta.before"
	gen=$(btrfs subvolume find-new "$MNT" 99999999 | awk '{ print $NF }')
	run --separate-stderr strace -f -qq -o "$D/trace" -e trace=ioctl bedup-clone -v "$D/in"
	cut_ids
	assert_success
	assert_output "inline	1000	$F/a	$F/b
deduped	5000	$F/c	$F/d"
	assert_equal "${stderr%$'\n'*}" "bedup-clone: 1 files deduplicated, 5000 bytes newly shared, 0 already shared, 0 failed"
	assert_regex "${stderr##*$'\n'}" "$(counts_re bedup-clone '[0-9]+')"
	run grep -c FIDEDUPERANGE "$D/trace"
	assert_output 1
	meta "$F/a" "$F/b" >"$D/meta.after"
	assert_equal "$(cat "$D/meta.after")" "$(cat "$D/meta.before")"
	sync
	# the whole subvolume is searched: the files of this test only
	bedup-findnew -g $((gen + 1)) "$MNT" >"$D/new"
	run grep -F "$F/" "$D/new"
	assert_output "$(record "$F/d")"
}

@test "clone: -n prints what it would do and changes nothing" {
	requires strace
	mkfile "$D/a" 3000000 s
	copy "$D/a" "$D/b"
	copy "$D/a" "$D/c"
	cp --reflink=always "$D/a" "$D/r"
	record "$D/a" "$D/b" "$D/r" "$D/c" >"$D/in"
	excl "$D/a" "$D/b" "$D/c" "$D/r" >"$D/excl.before"
	run --separate-stderr strace -f -qq -o "$D/trace" -e trace=ioctl bedup-clone -n --defrag "$D/in"
	cut_ids
	assert_success
	assert_output "would-dedupe	3000000	$D/a	$D/b
shared	3000000	$D/a	$D/r
would-dedupe	3000000	$D/a	$D/c"
	assert_equal "$stderr" ""
	run grep -cE 'FIDEDUPERANGE|BTRFS_IOC_DEFRAG' "$D/trace"
	assert_output 0
	assert_equal "$(excl "$D/a" "$D/b" "$D/c" "$D/r")" "$(cat "$D/excl.before")"
}

@test "clone: the most shared member is the source" {
	mkfile "$D/a" 3000000 s
	copy "$D/a" "$D/b"
	copy "$D/a" "$D/c"
	cp --reflink=always "$D/b" "$D/r"
	record "$D/a" "$D/b" "$D/c" "$D/r" >"$D/in"
	run --separate-stderr bedup-clone "$D/in"
	cut_ids
	assert_success
	# already shared: said at once; deduped: once the batch is done
	assert_output "shared	3000000	$D/b	$D/r
deduped	3000000	$D/b	$D/a
deduped	3000000	$D/b	$D/c"
	assert_equal "$stderr" ""
	assert_equal "$(excl "$D/a" "$D/b" "$D/c" "$D/r")" "$(zeros 4)"
}

@test "clone: a file open for writing elsewhere is skipped and unchanged" {
	mkfile "$D/a" 3000000 s
	copy "$D/a" "$D/b"
	copy "$D/a" "$D/c"
	record "$D/a" "$D/b" "$D/c" >"$D/in"
	sleep 100 >>"$D/b" &
	local pid=$! sum
	sum=$(sha256sum <"$D/b")
	run --separate-stderr pipeline "$D/in"
	cut_ids
	kill "$pid"
	assert_success
	# in use is for now: a note, no failure (RECORDS.md)
	assert_equal "$(cat "$D/status")" "0 0"
	assert_output "deduped	3000000	$D/a	$D/c"
	assert_equal "$stderr" "bedup-lock: $D/b: in use, skipped"
	assert_equal "$(excl "$D/a" "$D/b" "$D/c")" "0
3002368
0"
	assert_equal "$(sha256sum <"$D/b")" "$sum"
}

@test "clone: immutable and append-only duplicates stay unshared with their flags" {
	requires python3 strace
	mkfile "$D/a" 3000000 s
	for f in b i ap; do copy "$D/a" "$D/$f"; done
	chattr +i "$D/i"
	chattr +a "$D/ap"
	record "$D/a" "$D/i" "$D/b" "$D/ap" >"$D/in"
	meta "$D/i" "$D/ap" >"$D/meta.before"
	run --separate-stderr pipeline "$D/in"
	cut_ids
	assert_success
	# a policy: notes, no failure (RECORDS.md)
	assert_equal "$(cat "$D/status")" "0 0"
	assert_output "deduped	3000000	$D/a	$D/b"
	assert_equal "$stderr" "bedup-lock: $D/i: immutable, skipped
bedup-lock: $D/ap: append-only, skipped"
	# clone alone refuses both too (the kernel itself refuses only
	# the immutable one), and says so per file
	run --separate-stderr strace -f -qq -o "$D/trace" -e trace=ioctl bedup-clone "$D/in"
	cut_ids
	assert_success
	assert_output "immutable	3000000	$D/a	$D/i
shared	3000000	$D/a	$D/b
append-only	3000000	$D/a	$D/ap"
	assert_equal "$stderr" "bedup-clone: $D/i: immutable, not shared
bedup-clone: $D/ap: append-only, not shared"
	run grep -c FIDEDUPERANGE "$D/trace"
	assert_output 0
	meta "$D/i" "$D/ap" >"$D/meta.after"
	assert_equal "$(excl "$D/i" "$D/ap")" "3002368
3002368"
	chattr -i "$D/i"
	chattr -a "$D/ap"
	assert_equal "$(cat "$D/meta.after")" "$(cat "$D/meta.before")"
	assert_equal "$(cut -d' ' -f10 "$D/meta.after")" "----i-----------------
-----a----------------"
}

@test "clone: a read-only snapshot is untouched without -R, shared with it" {
	requires python3
	local size=5000000 before after
	btrfs subvolume create "$D/s1" >/dev/null
	btrfs subvolume create "$D/s2" >/dev/null
	mkfile "$D/s1/a" "$size" s
	copy "$D/s1/a" "$D/s2/a"
	copy "$D/s1/a" "$D/w"
	btrfs subvolume snapshot -r "$D/s1" "$D/r1" >/dev/null
	btrfs subvolume snapshot -r "$D/s2" "$D/r2" >/dev/null
	btrfs subvolume delete "$D/s1" "$D/s2" >/dev/null
	btrfs filesystem sync "$MNT"
	# each snapshot now holds its own copy of the data
	record "$D/w" "$D/r2/a" "$D/r1/a" >"$D/in"
	meta "$D/r1/a" "$D/r2/a" >"$D/meta.before"
	run --separate-stderr pipeline "$D/in"
	cut_ids
	assert_success
	assert_equal "$(cat "$D/status")" "0 0"
	assert_output "deduped	$size	$D/r2/a	$D/w"
	assert_equal "$stderr" ""
	assert_equal "$(excl "$D/r1/a" "$D/r2/a" "$D/w")" "5001216
0
0"
	before=$(used_data "$MNT")
	run --separate-stderr pipeline "$D/in" -R
	cut_ids
	assert_success
	assert_equal "$(cat "$D/status")" "0 0"
	assert_output "shared	$size	$D/r2/a	$D/w
deduped	$size	$D/r2/a	$D/r1/a"
	assert_equal "$stderr" ""
	assert_equal "$(excl "$D/r1/a" "$D/r2/a" "$D/w")" "$(zeros 3)"
	after=$(used_data "$MNT")
	near $((before - after)) $size
	assert_equal "$(btrfs property get "$D/r1" ro)" "ro=true"
	meta "$D/r1/a" "$D/r2/a" >"$D/meta.after"
	assert_equal "$(cat "$D/meta.after")" "$(cat "$D/meta.before")"
}

@test "clone: a nodatacow duplicate is left with a line and a note" {
	mkfile "$D/a" 3000000 s
	touch "$D/n"
	chattr +C "$D/n"
	cat "$D/a" >>"$D/n"
	record "$D/a" "$D/n" >"$D/in"
	run --separate-stderr bedup-clone "$D/in"
	cut_ids
	assert_success
	assert_output "nodatacow	3000000	$D/a	$D/n"
	assert_equal "$stderr" "bedup-clone: $D/n: nodatacow unlike its source, not shared"
	run --separate-stderr pipeline "$D/in"
	cut_ids
	assert_success
	assert_equal "$(cat "$D/status")" "0 0"
	assert_output ""
	assert_equal "$stderr" "bedup-lock: $D/n: nodatacow unlike the rest of its group, skipped"
	cmp "$D/a" "$D/n"
}

@test "clone: a group of 200 identical files" {
	local i size=262147 before after
	mkfile "$D/f0" "$size" s
	for i in $(seq 1 199); do copy "$D/f0" "$D/f$i"; done
	record $(for i in $(seq 0 199); do echo "$D/f$i"; done) >"$D/in"
	before=$(used_data "$MNT")
	run --separate-stderr pipeline "$D/in" -v
	cut_ids
	assert_success
	assert_equal "$(cat "$D/status")" "0 0"
	assert_output "$(for i in $(seq 1 199); do printf 'deduped\t%s\t%s\t%s\n' "$size" "$D/f0" "$D/f$i"; done)"
	assert_equal "${stderr%$'\n'*}" "bedup-clone: 199 files deduplicated, $((199 * size)) bytes newly shared, 0 already shared, 0 failed"
	assert_regex "${stderr##*$'\n'}" "$(counts_re bedup-clone '[0-9]+')"
	assert_equal "$(excl "$D"/f*)" "$(zeros 200)"
	after=$(used_data "$MNT")
	# whole blocks are freed: 262147 bytes take 65 blocks of 4 KiB
	near $((before - after)) $((199 * 65 * 4096))
}

@test "clone: each member opened once; beyond the open-file limit, the rest opened again" {
	local i size=40000
	mkfile "$D/f0" "$size" s
	for i in $(seq 1 199); do copy "$D/f0" "$D/f$i"; done
	record $(for i in $(seq 0 199); do echo "$D/f$i"; done) >"$D/in"
	run --separate-stderr bedup-clone -n -v "$D/in"
	assert_success
	assert_equal "$(grep -c '^would-dedupe' <<<"$output")" 199
	assert_regex "${stderr##*$'\n'}" "$(counts_re bedup-clone 200)"
	# a limit of 400 open files: 400 less a batch of destinations twice
	# and 64 is 82 members kept, the other 118 opened again to share
	run --separate-stderr bash -c "ulimit -n 400 && exec bedup-clone -v '$D/in'"
	assert_success
	assert_equal "$(grep -c '^deduped' <<<"$output")" 199
	assert_regex "${stderr##*$'\n'}" "$(counts_re bedup-clone 318)"
	assert_equal "$(excl "$D"/f*)" "$(zeros 200)"
	for i in $(seq 1 199); do cmp "$D/f0" "$D/f$i"; done
}

@test "clone: BYTES and the summary count data, not holes" {
	# 8 MiB apparent, 1 MiB + 5 bytes of data in the middle
	truncate -s 8M "$D/a"
	mkfile "$D/data" $((1048576 + 5)) sp
	dd if="$D/data" of="$D/a" bs=1M seek=3 conv=notrunc status=none
	copy "$D/a" "$D/b"
	record "$D/a" "$D/b" >"$D/in"
	run --separate-stderr pipeline "$D/in" -v
	cut_ids
	assert_success
	assert_output "$(printf 'deduped\t%s\t%s\t%s' $((1048576 + 4096)) "$D/a" "$D/b")"
	assert_equal "${stderr%$'\n'*}" "bedup-clone: 1 files deduplicated, $((1048576 + 4096)) bytes newly shared, 0 already shared, 0 failed"
	assert_regex "${stderr##*$'\n'}" "$(counts_re bedup-clone '[0-9]+')"
	assert_equal "$(cmp "$D/a" "$D/b" && echo same)" same
}

@test "clone: different content is reported and left alone" {
	mkfile "$D/a" 3000000 s
	mkfile "$D/x" 3000000 t
	copy "$D/a" "$D/b"
	record "$D/a" "$D/x" "$D/b" >"$D/in"
	run --separate-stderr bedup-clone "$D/in"
	cut_ids
	assert_failure 1
	assert_output "differs	3000000	$D/a	$D/x
deduped	3000000	$D/a	$D/b"
	assert_equal "$stderr" "bedup-clone: $D/x: content differs from the source, not shared"
	assert_equal "$(sha256sum <"$D/x")" "$(mkfile /dev/stdout 3000000 t | sha256sum)"
}

@test "clone: vanished members go silently, replaced ones with a note" {
	mkfile "$D/a" 3000000 s
	for f in b c d; do copy "$D/a" "$D/$f"; done
	ln "$D/d" "$D/l"
	record "$D/a" "$D/b" "$D/c" "$D/d" "$D/l" >"$D/in"
	rm "$D/b" "$D/c"
	copy "$D/a" "$D/c"
	run --separate-stderr bedup-clone "$D/in"
	cut_ids
	assert_failure 1
	assert_output "deduped	3000000	$D/a	$D/d"
	assert_equal "$stderr" "bedup-clone: $D/c: changed since the record was made, skipped"
}

@test "clone: members renamed between the stages are shared as themselves" {
	mkfile "$D/a" 3000000 s
	mkdir "$D/dir"
	for f in b c; do copy "$D/a" "$D/dir/$f"; done
	record "$D/a" "$D/dir/b" "$D/dir/c" >"$D/in"
	bedup-lock "$D/in" >"$D/locked"
	# PATH is a hint: b is renamed, c's directory moves, and a file of
	# the same content and size takes b's name
	mv "$D/dir/b" "$D/dir/b2"
	mv "$D/dir" "$D/moved"
	mkdir "$D/dir"
	copy "$D/a" "$D/dir/b"
	meta "$D/dir/b" >"$D/meta.before"
	run --separate-stderr bedup-clone "$D/locked"
	cut_ids
	assert_success
	assert_output "deduped	3000000	$D/a	$D/dir/b
deduped	3000000	$D/a	$D/dir/c"
	assert_equal "$stderr" ""
	assert_equal "$(excl "$D/a" "$D/moved/b2" "$D/moved/c" "$D/dir/b")" "$(printf '0\n0\n0\n3002368')"
	meta "$D/dir/b" >"$D/meta.after"
	assert_equal "$(cat "$D/meta.after")" "$(cat "$D/meta.before")"
}

@test "clone: a member named through a read-only bind mount does not make the others read-only" {
	mkfile "$D/a" 3000000 ro
	copy "$D/a" "$D/b"
	mkdir "$D/robind"
	mount --bind -o ro "$D" "$D/robind"
	# a, the source, through the read-only mount: a file opened by handle
	# is on the mount it was opened from, and a read-only mount refuses
	# to be a destination; b is reached through the writable one
	record "$D/robind/a" "$D/b" >"$D/in"
	run --separate-stderr bedup-clone "$D/in"
	cut_ids
	umount "$D/robind"
	assert_success
	assert_output "deduped	3000000	$D/robind/a	$D/b"
	assert_equal "$stderr" ""
	assert_equal "$(excl "$D/a" "$D/b")" "$(zeros 2)"
}

@test "clone: --defrag defragments the source and shares it" {
	requires strace python3
	mkfile "$D/a" 3000000 s
	copy "$D/a" "$D/b"
	record "$D/a" "$D/b" >"$D/in"
	meta "$D/a" "$D/b" >"$D/meta.before"
	run --separate-stderr strace -f -qq -o "$D/trace" -e trace=ioctl bedup-clone --defrag "$D/in"
	cut_ids
	assert_success
	assert_output "deduped	3000000	$D/a	$D/b"
	assert_equal "$stderr" ""
	run grep -c BTRFS_IOC_DEFRAG_RANGE "$D/trace"
	assert_output 1
	assert_equal "$(excl "$D/a" "$D/b")" "$(zeros 2)"
	meta "$D/a" "$D/b" >"$D/meta.after"
	assert_equal "$(cat "$D/meta.after")" "$(cat "$D/meta.before")"
}

@test "clone: a member with unwritten rewritten pages is not taken as shared" {
	mkfile "$D/a" 3000000 s
	copy "$D/a" "$D/b"
	record "$D/a" "$D/b" >"$D/in"
	run --separate-stderr bedup-clone "$D/in"
	cut_ids
	assert_success
	# the same bytes again, still in the page cache: FIEMAP without a
	# sync would show the old, shared extent
	dd if="$D/a" of="$D/b" bs=1M conv=notrunc status=none
	run --separate-stderr bedup-clone "$D/in"
	cut_ids
	assert_success
	assert_output "deduped	3000000	$D/a	$D/b"
	assert_equal "$stderr" ""
	assert_equal "$(excl "$D/a" "$D/b")" "$(zeros 2)"
}

@test "clone: a destination a btrfs send is using is reported busy" {
	local spid i rfd
	btrfs subvolume create "$D/s1" >/dev/null
	btrfs subvolume create "$D/s2" >/dev/null
	mkfile "$D/s1/a" 3000000 s
	copy "$D/s1/a" "$D/s2/a"
	btrfs subvolume snapshot -r "$D/s1" "$D/r1" >/dev/null
	btrfs subvolume snapshot -r "$D/s2" "$D/r2" >/dev/null
	btrfs subvolume delete "$D/s1" "$D/s2" >/dev/null
	btrfs filesystem sync "$MNT"
	record "$D/r1/a" "$D/r2/a" >"$D/in"
	# a send into a pipe nobody reads: it stays in progress, blocked
	mkfifo "$D/fifo"
	btrfs send -q "$D/r2" >"$D/fifo" &
	spid=$!
	exec {rfd}<"$D/fifo"
	for i in $(seq 100); do
		case $(cat "/proc/$spid/wchan") in *pipe_write) break ;; esac
		sleep 0.1
	done
	run --separate-stderr bedup-clone -R "$D/in"
	cut_ids
	exec {rfd}<&-
	wait "$spid" || true
	# busy is for now: a note, no failure (RECORDS.md)
	assert_success
	assert_output "busy	3000000	$D/r1/a	$D/r2/a"
	assert_equal "$stderr" "bedup-clone: $D/r2/a: busy (a btrfs send in progress?), not shared"
	# once the send is over, it works
	run --separate-stderr bedup-clone -R "$D/in"
	cut_ids
	assert_success
	assert_output "deduped	3000000	$D/r1/a	$D/r2/a"
	assert_equal "$stderr" ""
}

@test "clone: odd names are escaped in the output" {
	local odd=$'t\tab\\ \nl\001'
	mkdir "$D/$odd"
	mkfile "$D/$odd/a" 300000 s
	copy "$D/$odd/a" "$D/$odd/b"$'\377'
	record "$D/$odd/a" "$D/$odd/b"$'\377' >"$D/in"
	run --separate-stderr bedup-clone "$D/in"
	cut_ids
	assert_success
	local e='t\tab\\ \nl\001'
	assert_output "deduped	300000	$D/$e/a	$D/$e/b"$'\377'
	assert_equal "$stderr" ""
	# plain names for btrfs filesystem du, which prints names raw
	ln "$D/$odd/a" "$D/la"
	ln "$D/$odd/b"$'\377' "$D/lb"
	assert_equal "$(excl "$D/la" "$D/lb")" "$(zeros 2)"
}

@test "clone: paths longer than PATH_MAX" {
	local name i f fs
	name=$(printf 'd%.0s' $(seq 200))
	fs=$(fsid "$MNT")
	# record cannot: realpath and stat refuse such paths; build by hand
	(
		cd "$D"
		for i in $(seq 25); do mkdir "$name" && cd "$name"; done
		mkfile a 300000 s
		copy a b
		for f in a b; do
			printf '300000\t-\t%s\t5\t%s\t%s\t%s/%s\n' "$fs" "$(stat -c %i "$f")" \
				"$(lsattr -vd "$f" | awk 'NR == 1 { print $1 }')" "$PWD" "$f"
		done
	) >"$D/in"
	[ "$(cut -f7 "$D/in" | head -n1 | wc -c)" -gt 5000 ]
	run --separate-stderr pipeline "$D/in"
	cut_ids
	assert_success
	assert_equal "$(cat "$D/status")" "0 0"
	assert_output "deduped	300000	$(cut -f7 "$D/in" | paste -s)"
	assert_equal "$stderr" ""
	run --separate-stderr bedup-clone "$D/in"
	cut_ids
	assert_success
	assert_output "shared	300000	$(cut -f7 "$D/in" | paste -s)"
	assert_equal "$stderr" ""
}

# writer FILE DIR: rewrites FILE in place with the patterns DIR/p0, p1,
# p0, p2... until DIR/stop exists, noting in DIR/last each pattern it has
# completely written.
writer() {
	local f=$1 dir=$2 p
	while :; do
		for p in p0 p1 p0 p2; do
			dd if="$dir/$p" of="$f" bs=1M conv=notrunc status=none || return 1
			echo "$p" >"$dir/last"
			[ -e "$dir/stop" ] && return 0
		done
	done
}

@test "clone: a member rewritten during the run ends as its writer left it, 20 rounds" {
	local size=$((64 * 1048576)) round want p0 st line pid
	mkfile "$D/p0" "$size" p0
	mkfile "$D/p1" "$size" p1
	mkfile "$D/p2" "$size" p2
	for f in m0 m1 m2 m3; do copy "$D/p0" "$D/$f"; done
	# the written file first: in the first round it is the source
	record "$D/m2" "$D/m0" "$D/m1" "$D/m3" >"$D/in"
	p0=$(sha256sum <"$D/p0")
	for round in $(seq 1 20); do
		rm -f "$D/stop" "$D/last"
		# fresh extents for the others, so that every round has work
		for f in m0 m1 m3; do
			dd if="$D/p0" of="$D/$f" bs=1M conv=notrunc status=none
		done
		writer "$D/m2" "$D" &
		pid=$!
		# the writer is under way, and keeps writing during the run
		while [ ! -e "$D/last" ]; do sleep 0.01; done
		# odd rounds: the pipeline; even rounds: clone alone, no lock
		st=0
		if [ $((round % 2)) = 1 ]; then
			bedup-lock "$D/in" 2>"$D/err" | bedup-clone >"$D/out" 2>>"$D/err" || st=$?
		else
			bedup-clone "$D/in" >"$D/out" 2>"$D/err" || st=$?
		fi
		touch "$D/stop"
		wait "$pid"
		[ -s "$D/last" ]
		want=$(sha256sum <"$D/$(cat "$D/last")")
		echo "round $round: clone $st, wrote $(cat "$D/last"), $(cut -f1 "$D/out" | sort | uniq -c | xargs)"
		[ "$st" = 0 ] || [ "$st" = 1 ]
		while IFS= read -r line; do
			[[ $line =~ ^(deduped|shared|differs)$'\t'[0-9]+$'\t'[0-9a-f-]{36}($'\t'[0-9]+){4}$'\t'$D/m[0-3]$'\t'$D/m[0-3]$ ]] ||
				{ echo "unexpected output: $line"; false; }
		done <"$D/out"
		while IFS= read -r line; do
			[[ $line =~ ^bedup-(lock|clone):\ $D/m2:\ (in\ use,\ skipped|content\ differs\ from\ the\ source,\ not\ shared)$ ||
			   $line =~ ^bedup-clone:\ $D/m[013]:\ content\ differs\ from\ the\ source,\ not\ shared$ ]] ||
				{ echo "unexpected message: $line"; false; }
		done <"$D/err"
		assert_equal "$(sha256sum <"$D/m2")" "$want"
		for f in m0 m1 m3; do
			assert_equal "$(sha256sum <"$D/$f")" "$p0"
		done
	done
}

@test "clone: each line names the source's and the destination's inodes, as their records do" {
	mkfile "$D/a" 3000000 id
	copy "$D/a" "$D/"$'b\tc'
	btrfs -q subvolume create "$D/sv"
	copy "$D/a" "$D/sv/c"
	record "$D/a" "$D/"$'b\tc' "$D/sv/c" >"$D/in"
	run --separate-stderr bedup-clone -n "$D/in"
	assert_success
	assert_equal "$stderr" ""
	# FSID SRCSUBVOL SRCINO DSTSUBVOL DSTINO: fields 3, 4 and 5 of the records
	src=$(head -n 1 "$D/in" | cut -f4,5)
	assert_output "$(tail -n +2 "$D/in" | awk -F'\t' -v s="$src" -v p="$(head -n 1 "$D/in" | cut -f7)" \
		'{ print "would-dedupe\t" $1 "\t" $3 "\t" s "\t" $4 "\t" $5 "\t" p "\t" $7 }')"
	# the wrapper's join: clone's lines back to their records by inode
	run --separate-stderr bash -c "bedup-clone '$D/in' | awk -F'\t' 'NR == FNR { d[\$3 FS \$6 FS \$7] = \$1; next }
		{ print d[\$3 FS \$4 FS \$5] }' - '$D/in'"
	assert_success
	assert_output "$(printf '\ndeduped\ndeduped')"
}

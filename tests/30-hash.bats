#!/usr/bin/env bats
# bedup-hash on real btrfs: groups of identical files, cheap tests first,
# the catalog's digests, and files that change under it.

load helpers

setup_file() {
	requires root btrfs strace xxhsum
	btrfs_mount 1G
	btrfs_mount 256M b
}

teardown_file() {
	btrfs_unmount
}

setup() {
	D=$MNT/$BATS_TEST_NUMBER
	mkdir -p "$D"
}

SIZE=2097275   # 2 MiB and a bit: several sample blocks, an odd tail

# poke FILE OFFSET: changes the byte at OFFSET in place
poke() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\$(printf %03o $(((b + 1) % 256)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# nocsum: files made in $D from now on have no data checksums (nodatacow),
# like files on any filesystem whose checksums cannot be used: samples,
# not checksums, tell them apart
nocsum() {
	chattr +C "$D"
}

# digest FILE: XXH3-128 as xxhsum -H2 prints it
digest() {
	xxhsum -H2 "$1" | cut -d' ' -f1
}

# sample FILE: the digest bedup-hash samples of FILE: XXH3-128 of its
# first, middle (4 KiB aligned) and last 4 KiB
sample() {
	local size
	size=$(stat -c %s -- "$1")
	{
		dd if="$1" bs=4096 count=1 status=none
		dd if="$1" bs=4096 skip=$((size / 2 / 4096)) count=1 status=none
		dd if="$1" bs=4096 skip=$((size - 4096)) iflag=skip_bytes count=1 status=none
	} | xxhsum -H2 - | cut -d' ' -f1
}

# hashed HASH RECORD...: the records with HASH filled in
hashed() {
	local h=$1
	shift
	printf '%s\n' "$@" | awk -F'\t' -v OFS='\t' -v h="$h" '{ $2 = h; print }'
}

# reads [FILE]: after the command in $BATS_TEST_TMPDIR/strace ran,
# the number of read calls made on the FILEs traced, or on FILE
reads() {
	grep -c -E "(read|pread64)\\([0-9]+<${1:-.*}>" "$BATS_TEST_TMPDIR/strace" || true
}

# traced FILE... -- CMD...: runs CMD under strace, logging the read calls
# made on FILEs, page cache dropped first
traced() {
	local p=()
	while [ "$1" != -- ]; do p+=(-P "$1"); shift; done
	shift
	sync
	echo 3 >/proc/sys/vm/drop_caches
	strace -f -qq -y -o "$BATS_TEST_TMPDIR/strace" "${p[@]}" -e trace=read,pread64 "$@"
}

@test "files differing in the first, a middle or the last byte never share a group" {
	local E kind
	# told apart by btrfs's data checksums, or, without them, by samples
	# and full reads
	for kind in csum nocsum; do
		E=$D/$kind
		mkdir "$E"
		[ "$kind" = csum ] || chattr +C "$E"
		mkfile "$E/base" "$SIZE" s1
		for f in twin first mid-sample mid-unsampled last; do copy "$E/base" "$E/$f"; done
		poke "$E/first" 0
		poke "$E/mid-sample" $((SIZE / 2 / 4096 * 4096 + 100))   # in the sampled block
		poke "$E/mid-unsampled" $((SIZE / 3))                     # only a full read sees it
		poke "$E/last" $((SIZE - 1))
		sync
		record "$E"/* | bedup-group >"$BATS_TEST_TMPDIR/in"
		assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/in")" 6
		run --separate-stderr traced "$E/first" "$E/mid-sample" "$E/mid-unsampled" "$E/last" -- \
			bedup-hash "$BATS_TEST_TMPDIR/in"
		assert_success
		assert_equal "$stderr" ""
		assert_equal "$output" "$(hashed "$(digest "$E/base")" "$(record "$E/base" "$E/twin")")"
		if [ "$kind" = csum ]; then
			assert_equal "$(reads)" 0
		else
			assert_equal "$(reads "$E/first")" 3
			assert_equal "$(reads "$E/last")" 3
			[ "$(reads "$E/mid-unsampled")" -gt 3 ]
		fi
	done
}

@test "files whose checksums tell nothing are compared by their bytes: holes, compression" {
	# a file of holes and one of written zeros: no checksums for the
	# first, the same bytes
	truncate -s 1M "$D/holes"
	head -c 1M /dev/zero >"$D/zeros"
	mkfile "$D/other" 1048576 z
	# compressed extents: checksums of the compressed bytes
	mkdir "$D/z"
	btrfs property set "$D/z" compression zstd
	mkfile "$D/seed" 200000 t
	od -An -tx1 -v "$D/seed" | head -c 400000 >"$D/z/a"
	copy "$D/z/a" "$D/z/b"
	copy "$D/z/a" "$D/z/c"
	poke "$D/z/c" 200000
	sync
	filefrag -v "$D/z/a" | grep -q encoded
	record "$D/holes" "$D/zeros" "$D/other" "$D/z/a" "$D/z/b" "$D/z/c" | bedup-group >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$(digest "$D/zeros")" "$(record "$D/holes" "$D/zeros")"
		hashed "$(digest "$D/z/a")" "$(record "$D/z/a" "$D/z/b")")"
}

@test "identical files always share a group; one group per content" {
	mkfile "$D/a1" 100000 a
	mkfile "$D/b1" 100000 b
	copy "$D/a1" "$D/a2"; copy "$D/b1" "$D/b2"; copy "$D/a1" "$D/a3"
	mkfile "$D/small1" 3000 s; copy "$D/small1" "$D/small2"
	sync
	record "$D/a1" "$D/b1" "$D/a2" "$D/b2" "$D/a3" "$D/small1" "$D/small2" |
		bedup-group >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-hash -j 3 "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(
		hashed "$(digest "$D/a1")" "$(record "$D/a1" "$D/a2" "$D/a3")"
		hashed "$(digest "$D/b1")" "$(record "$D/b1" "$D/b2")"
		hashed "$(digest "$D/small1")" "$(record "$D/small1" "$D/small2")")"
	# the same, whatever the number of threads
	run --separate-stderr bedup-hash -j 1 "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(bedup-hash -j 8 "$BATS_TEST_TMPDIR/in")"
}

@test "hard links are one member" {
	mkfile "$D/a" 50000 h
	ln "$D/a" "$D/a-link"
	copy "$D/a" "$D/b"
	sync
	# straight to bedup-hash: it collapses them itself, keeping the first
	record "$D/a" "$D/a-link" "$D/b" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$(digest "$D/a")" "$(record "$D/a" "$D/b")")"
	# two names of one inode are nothing to do
	record "$D/a" "$D/a-link" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_output ""
}

@test "groups of different filesystems stay apart" {
	mkdir -p "$MNT_b/$BATS_TEST_NUMBER"
	E=$MNT_b/$BATS_TEST_NUMBER
	mkfile "$D/x" 70000 fs
	copy "$D/x" "$E/x"
	copy "$D/x" "$E/y"
	sync
	# one copy here, two there: only the two there make a group
	record "$D/x" "$E/x" "$E/y" | bedup-group >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$(digest "$D/x")" "$(record "$E/x" "$E/y")")"
	# even fed as one run of equal SIZE, the FSID splits them
	record "$D/x" "$E/x" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_output ""
}

@test "data a read-only snapshot shares is read through the snapshot's file" {
	# bedup-clone takes the snapshot's file as the source, and the page
	# cache is per inode: reading the data through it leaves the kernel's
	# compare the source's own pages
	btrfs -q subvolume create "$D/v"
	mkfile "$D/v/a" 3000000 ro
	btrfs -q subvolume snapshot -r "$D/v" "$D/snap"
	copy "$D/v/a" "$D/b"
	sync
	record "$D/v/a" "$D/snap/a" "$D/b" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr traced "$D/v/a" "$D/snap/a" "$D/b" -- bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$(digest "$D/b")" "$(record "$D/v/a" "$D/snap/a" "$D/b")")"
	# v/a, first of the pair, gives the sample (3 preads); the whole
	# data is read (read calls) through snap/a
	run grep -cE "^[0-9]+ +read\([0-9]+<$D/v/a>" "$BATS_TEST_TMPDIR/strace"
	assert_output 0
	run grep -cE "^[0-9]+ +read\([0-9]+<$D/snap/a>" "$BATS_TEST_TMPDIR/strace"
	[ "$output" -gt 0 ]
	run grep -cE "^[0-9]+ +read\([0-9]+<$D/b>" "$BATS_TEST_TMPDIR/strace"
	[ "$output" -gt 0 ]
}

@test "each copy is read through the file bedup-clone compares: nothing read twice" {
	# two copies in the snapshot: snap/a will be the source, snap/c is
	# never a destination (read-only), v/c is: the pair sharing c's data
	# is read through v/c, whose pages the kernel's compare then finds
	btrfs -q subvolume create "$D/v"
	mkfile "$D/v/a" 8000000 pl
	copy "$D/v/a" "$D/v/c"
	btrfs -q subvolume snapshot -r "$D/v" "$D/snap"
	copy "$D/v/a" "$D/b"
	sync
	record "$D/v/a" "$D/snap/a" "$D/v/c" "$D/snap/c" "$D/b" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr traced "$D/v/a" "$D/snap/a" "$D/v/c" "$D/snap/c" "$D/b" -- \
		bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$(digest "$D/b")" "$(cat "$BATS_TEST_TMPDIR/in")")"
	assert_equal "$(reads "$D/v/a")" 0
	assert_equal "$(reads "$D/snap/c")" 0
	[ "$(reads "$D/snap/a")" -gt 0 ] && [ "$(reads "$D/v/c")" -gt 0 ] && [ "$(reads "$D/b")" -gt 0 ]
	# the compare of bedup-clone, right after, reads nothing from the disk
	echo "$output" >"$BATS_TEST_TMPDIR/groups"
	local dev sectors
	dev=$(basename "$(findmnt -nvo SOURCE -T "$MNT")")
	sectors=$(awk '{ print $3 }' "/sys/block/$dev/stat")
	run --separate-stderr bedup-clone "$BATS_TEST_TMPDIR/groups"
	cut_ids
	sectors=$(($(awk '{ print $3 }' "/sys/block/$dev/stat") - sectors))
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(printf '%s\t8000000\t%s\t%s\n' shared "$D/snap/a" "$D/v/a" \
		deduped "$D/snap/a" "$D/v/c" deduped "$D/snap/a" "$D/b")"
	# sectors of 512 bytes: some metadata, none of the 8 MB of data
	[ "$sectors" -lt 2000 ]
}

@test "each member of a small group is opened once, or not at all" {
	# an open by handle, with its identity checks, is several system
	# calls: the first one's fd serves the sample and the full read; c,
	# told apart by its checksums (the tree's), is never opened
	mkfile "$D/a" 300000 once
	copy "$D/a" "$D/b"
	mkfile "$D/c" 300000 other
	sync
	record "$D/a" "$D/b" "$D/c" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr strace -f -qq -o "$BATS_TEST_TMPDIR/strace" -e trace=open_by_handle_at \
		bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$(digest "$D/a")" "$(record "$D/a" "$D/b")")"
	run grep -c 'open_by_handle_at(.*O_PATH) = [0-9]' "$BATS_TEST_TMPDIR/strace"
	assert_output 2
}

@test "reflinked copies are dropped without reading their data" {
	mkfile "$D/a" 4000000 r
	cp --reflink=always "$D/a" "$D/b"
	cp --reflink=always "$D/a" "$D/c"
	sync
	record "$D/a" "$D/b" "$D/c" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr traced "$D/a" "$D/b" "$D/c" -- bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_output ""
	assert_equal "$(reads)" 0
	# control: with a real copy beside them the data is read, once for
	# the three that share it and once for the copy
	copy "$D/a" "$D/d"
	sync
	record "$D/a" "$D/b" "$D/c" "$D/d" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr traced "$D/b" "$D/c" -- bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$(digest "$D/a")" "$(record "$D/a" "$D/b" "$D/c" "$D/d")")"
	assert_equal "$(reads)" 0
	run --separate-stderr traced "$D/a" "$D/d" -- bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	[ "$(reads)" -gt 2 ]
}

# pipeline CATALOG FILE...: an incremental run over FILEs
pipeline() {
	local cat=$1
	shift
	record "$@" | bedup-group -C "$cat" -m "$MNT" -u | bedup-hash -C "$cat" -u
}

@test "catalog: a new file's twin is found among old files, whose digests are not read again" {
	nocsum
	cat=$BATS_TEST_TMPDIR/catalog
	mkfile "$D/old1" 3000000 c
	copy "$D/old1" "$D/old2"
	mkfile "$D/other" 3000000 o
	sync
	run --separate-stderr pipeline "$cat" "$D/old1" "$D/old2" "$D/other"
	assert_success
	assert_equal "$stderr" ""
	h=$(digest "$D/old1")
	assert_equal "$output" "$(hashed "$h" "$(record "$D/old1" "$D/old2")")"
	# the catalog keeps every file, with the digests learnt and the
	# samples of all three
	s=$(sample "$D/old1")
	assert_equal "$(entries "$cat")" "$( { entry "$D/old1" "$h" "$s"; entry "$D/old2" "$h" "$s"
		entry "$D/other" - "$(sample "$D/other")"; } | sort)"
	# later: a new copy; the old twins' data is not read, nor other's,
	# which its sample, kept, tells apart
	copy "$D/old1" "$D/new"
	record "$D/new" | bedup-group -C "$cat" -m "$MNT" -u >"$BATS_TEST_TMPDIR/in"
	assert_equal "$(cut -f7 "$BATS_TEST_TMPDIR/in")" "$(printf '%s\n' "$D/old1" "$D/old2" "$D/other" "$D/new")"
	run --separate-stderr traced "$D/old1" "$D/old2" "$D/other" -- bedup-hash -C "$cat" -u "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$h" "$(record "$D/old1" "$D/old2" "$D/new")")"
	assert_equal "$(reads)" 0
	assert_equal "$(entries "$cat")" "$( { entry "$D/old1" "$h" "$s"; entry "$D/old2" "$h" "$s"
		entry "$D/new" "$h" "$s"; entry "$D/other" - "$(sample "$D/other")"; } | sort)"
}

@test "catalog: a sample is trusted only for the same inode, generation and size" {
	nocsum
	cat=$BATS_TEST_TMPDIR/catalog
	mkfile "$D/a" 200000 sa
	mkfile "$D/b" 200000 sb
	sync
	run --separate-stderr pipeline "$cat" "$D/a" "$D/b"
	assert_success
	assert_equal "$stderr" ""
	assert_output ""
	record "$D/a" "$D/b" >"$BATS_TEST_TMPDIR/in"
	sa=$(sample "$D/a")
	# b's entry made to say a's sample: believed, so both are read in
	# full (and found different) without being sampled
	{ entry "$D/a" - "$sa"; entry "$D/b" - "$sa"; } | bedup-catalog -C "$cat" apply
	run --separate-stderr traced "$D/a" "$D/b" -- bedup-hash -C "$cat" "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_output ""
	run grep -cE "pread64\\([0-9]+<$D/[ab]>" "$BATS_TEST_TMPDIR/strace"
	assert_output 0
	[ "$(reads "$D/a")" -gt 3 ] && [ "$(reads "$D/b")" -gt 3 ]
	# the same entry for another generation or another size: not
	# believed, b is sampled (3 blocks) and found unlike a
	for f in 4 1; do
		rm -f "$cat" "$cat.journal"
		{ entry "$D/a" - "$sa"
			entry "$D/b" - "$sa" | awk -F'\t' -v OFS='\t' -v f=$f '{ $f++; print }'
		} | bedup-catalog -C "$cat" apply
		run --separate-stderr traced "$D/a" "$D/b" -- bedup-hash -C "$cat" "$BATS_TEST_TMPDIR/in"
		assert_success
		assert_equal "$stderr" ""
		assert_output ""
		assert_equal "$(reads "$D/a")" 0
		assert_equal "$(reads "$D/b")" 3
	done
	# with -u, b's sample is learnt (a's is known)
	run --separate-stderr bedup-hash -C "$cat" -u "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(bedup-catalog -C "$cat" list | grep -v "^200001" | cut -f1-6)" "$( { entry "$D/a" - "$sa"
		entry "$D/b" - "$(sample "$D/b")"; } | sort -n)"
}

@test "catalog: a file changed in place loses its sample and is compared by what it holds now" {
	nocsum
	cat=$BATS_TEST_TMPDIR/catalog
	mkfile "$D/a" 300000 ca
	mkfile "$D/b" 300000 cb
	copy "$D/a" "$D/c"
	copy "$D/a" "$D/d"
	sync
	h=$(digest "$D/a")
	run --separate-stderr pipeline "$cat" "$D/a" "$D/b" "$D/c" "$D/d"
	assert_success
	assert_equal "$output" "$(hashed "$h" "$(record "$D/a" "$D/c" "$D/d")")"
	# b, only ever sampled, becomes a's twin: its old sample (unlike
	# a's) must not be believed
	dd if="$D/a" of="$D/b" conv=notrunc status=none
	sync
	record "$D/b" | bedup-group -C "$cat" -m "$MNT" -u >"$BATS_TEST_TMPDIR/in"
	run entries "$cat"
	assert_line "$(entry "$D/b")"
	run --separate-stderr bedup-hash -C "$cat" -u "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$h" "$(record "$D/a" "$D/b" "$D/c" "$D/d")")"
	assert_equal "$(bedup-catalog -C "$cat" list | cut -f6 | grep -c "$(sample "$D/a")")" 4
	# c changes in its middle block, its sample with it: it is not read
	# in full; d changes outside the sampled blocks: read in full, found
	# different. a, known, is not read at all.
	poke "$D/c" $((147456 + 7))
	poke "$D/d" 100000
	sync
	record "$D/c" "$D/d" | bedup-group -C "$cat" -m "$MNT" -u >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr traced "$D/a" "$D/c" "$D/d" -- bedup-hash -C "$cat" -u "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$h" "$(record "$D/a" "$D/b")")"
	assert_equal "$(reads "$D/a")" 0
	assert_equal "$(reads "$D/c")" 3
	[ "$(reads "$D/d")" -gt 3 ]
	run entries "$cat"
	assert_line "$(entry "$D/c" - "$(sample "$D/c")")"
	[ "$(sample "$D/c")" != "$(sample "$D/a")" ]
	assert_line "$(entry "$D/d" "$(digest "$D/d")" "$(sample "$D/a")")"
	assert_equal "$(bedup-catalog -C "$cat" list | cut -f6 | grep -c "$(sample "$D/a")")" 3
}

@test "catalog: a stale entry (inode number reused) never joins a group as the old file" {
	cat=$BATS_TEST_TMPDIR/catalog
	# a subvolume of its own: after a remount btrfs numbers new inodes
	# from the highest one left in the subvolume, which victim then was
	btrfs subvolume create "$D/sv" >/dev/null
	D=$D/sv
	mkfile "$D/a" 200000 st
	copy "$D/a" "$D/victim"
	sync
	record "$D/a" "$D/victim" | bedup-group -C "$cat" -m "$MNT" -u | bedup-hash -C "$cat" -u >/dev/null
	h=$(digest "$D/a")
	old=$(bedup-catalog -C "$cat" list | grep -F "$(entry "$D/victim" | cut -f1-4)")
	assert_equal "$(cut -f5 <<<"$old")" "$h"
	# victim goes; after a remount btrfs hands its inode number out again
	rm "$D/victim"
	sync
	umount "$MNT"
	mount -o loop "$IMG" "$MNT"
	mkfile "$D/victim" 200000 different
	sync
	assert_equal "$(stat -c %i "$D/victim")" "$(cut -f3 <<<"$old")"
	[ "$(lsattr -vd "$D/victim" | awk '{print $1}')" != "$(cut -f4 <<<"$old")" ]
	# the catalog still says victim is a's twin: a new copy of a joins a
	# group with both; bedup-hash must not believe it
	copy "$D/a" "$D/new"
	sync
	record "$D/new" | bedup-group -C "$cat" -m "$MNT" -u >"$BATS_TEST_TMPDIR/in"
	assert_equal "$(cut -f7 "$BATS_TEST_TMPDIR/in")" "$(printf '%s\n' "$D/a" "$D/victim" "$D/new")"
	# with -N, naming what this run found changed (new), the catalog's
	# victim was replaced since an earlier run: churn, dropped quietly
	record "$D/new" >"$BATS_TEST_TMPDIR/found"
	run --separate-stderr bedup-hash -C "$cat" -N "$BATS_TEST_TMPDIR/found" "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$h" "$(record "$D/a" "$D/new")")"
	run --separate-stderr bedup-hash -v -C "$cat" -N "$BATS_TEST_TMPDIR/found" "$BATS_TEST_TMPDIR/in"
	assert_success
	# (at the end of the run: FOUND is read once, then)
	grep -qxF "bedup-hash: $D/victim: replaced since the last run, dropped" <<<"$stderr"
	# a record this run found, replaced since: changed between stages
	grep victim "$BATS_TEST_TMPDIR/in" >>"$BATS_TEST_TMPDIR/found"
	run --separate-stderr bedup-hash -C "$cat" -N "$BATS_TEST_TMPDIR/found" "$BATS_TEST_TMPDIR/in"
	assert_failure 1
	assert_equal "$stderr" "bedup-hash: $D/victim: not the file the record names (replaced, or not a regular file)"
	run --separate-stderr bedup-hash -C "$cat" -u "$BATS_TEST_TMPDIR/in"
	assert_failure 1
	assert_equal "$stderr" "bedup-hash: $D/victim: not the file the record names (replaced, or not a regular file)"
	assert_equal "$output" "$(hashed "$h" "$(record "$D/a" "$D/new")")"
	# and the stale entry has left the catalog
	assert_equal "$(bedup-catalog -C "$cat" list | cut -f3 | sort)" \
		"$(stat -c %i "$D/a" "$D/new" | sort)"
}

@test "a file modified between group and hash is dropped with a note; a vanished one silently" {
	mkfile "$D/a" 300000 m
	for f in b c d; do copy "$D/a" "$D/$f"; done
	sync
	record "$D/a" "$D/b" "$D/c" "$D/d" | bedup-group >"$BATS_TEST_TMPDIR/in"
	echo more >>"$D/b"
	run --separate-stderr bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_failure 1
	assert_equal "$stderr" "bedup-hash: $D/b: changed: size is 300005, record says 300000"
	assert_equal "$output" "$(hashed "$(digest "$D/a")" "$(record "$D/a" "$D/c" "$D/d")")"
	# vanished: not an error
	rm "$D/c"
	grep -v "$D/b" "$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/in2"
	run --separate-stderr bedup-hash "$BATS_TEST_TMPDIR/in2"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$(digest "$D/a")" "$(record "$D/a" "$D/d")")"
	# a symlink swapped in under the name is never followed
	ln -sf "$D/a" "$D/d"
	run --separate-stderr bedup-hash "$BATS_TEST_TMPDIR/in2"
	assert_failure 1
	assert_equal "$stderr" "bedup-hash: $D/d: not the file the record names (replaced, or not a regular file)"
	assert_output ""
}

@test "not root: no file handles, files are opened by their path as before" {
	local d
	mkfile "$D/a" "$SIZE" nr
	copy "$D/a" "$D/b"
	copy "$D/a" "$D/c"
	record "$D/a" "$D/b" "$D/c" >"$BATS_TEST_TMPDIR/in"
	mv "$D/c" "$D/c.moved"
	# let the user reach the files through the test's private dirs
	d=$D
	while [ "$d" != "$BATS_RUN_TMPDIR" ] && [ "$d" != / ]; do d=${d%/*}; chmod o+x "$d"; done
	chmod o+r "$BATS_TEST_TMPDIR/in"
	# c is not where its record says: without handles it is gone
	run --separate-stderr as_nobody bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$(digest "$D/a")" "$(sed 2q "$BATS_TEST_TMPDIR/in")")"
	# root finds it by its handle
	run --separate-stderr bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$(digest "$D/a")" "$(cat "$BATS_TEST_TMPDIR/in")")"
}

@test "a read error (EIO) drops the file with a note, the run goes on" {
	local loop logical phys
	mkfile "$D/a" 1000000 eio
	copy "$D/a" "$D/bad"
	copy "$D/a" "$D/c"
	sync
	# spoil one block of bad's data on the disk, outside the sampled
	# blocks: btrfs then fails the read on a checksum mismatch
	loop=$(findmnt -nvo SOURCE -T "$MNT")
	logical=$(($(filefrag -v "$D/bad" | awk '$1 == "0:" { sub(/\.\./, "", $4); print $4 }') * 4096))
	phys=$(btrfs-map-logical -l "$logical" -b 4096 "$loop" | awk '/^mirror 1/ { print $6 }')
	[ -n "$phys" ]
	head -c 4096 /dev/urandom | dd of="$IMG" bs=4096 seek=$((phys / 4096 + 60)) conv=notrunc status=none
	sync
	echo 3 >/proc/sys/vm/drop_caches
	record "$D/a" "$D/bad" "$D/c" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_failure 1
	assert_equal "$stderr" "bedup-hash: $D/bad: read error: Input/output error"
	assert_equal "$output" "$(hashed "$(digest "$D/a")" "$(record "$D/a" "$D/c")")"
}

@test "odd names and paths longer than PATH_MAX" {
	local odd deep n i line
	odd=$(printf '%s/sp ace\ttab\nnl\\bs\001\377' "$D")
	mkfile "$odd" 40000 odd
	copy "$odd" "$D/plain"
	# a tree deeper than PATH_MAX, made one directory at a time
	n=$(printf 'd%.0s' $(seq 200))
	deep=$D
	(
		cd "$D"
		for i in $(seq 25); do mkdir "$n"; cd "$n"; done
		copy "$D/plain" deep-file
		sync
		# its record by hand: record() resolves paths with tools that stop at PATH_MAX
		printf '40000\t-\t%s\t5\t%s\t%s\t' "$(fsid "$MNT")" "$(stat -c %i deep-file)" \
			"$(lsattr -vd deep-file | awk '{print $1}')"
		printf '%s/deep-file\n' "$D$(printf "/$n%.0s" $(seq 25))"
	) >"$BATS_TEST_TMPDIR/deep"
	line=$(cat "$BATS_TEST_TMPDIR/deep")
	[ "${#line}" -gt 5000 ]
	{ record "$odd" "$D/plain"; cat "$BATS_TEST_TMPDIR/deep"; } | bedup-group >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$(digest "$D/plain")" "$(cat "$BATS_TEST_TMPDIR/in")")"
	assert_equal "$(printf '%s\n' "$output" | wc -l)" 3
}

@test "malformed lines: the documented error, the rest processed" {
	mkfile "$D/a" 10000 bad
	copy "$D/a" "$D/b"
	sync
	{ record "$D/a"; echo "1 2 3"; record "$D/b"; printf '5\tXYZ\t-\t-\t-\t-\t-\n'; } >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_failure 1
	assert_equal "$stderr" "$(printf '%s\n' \
		"bedup-hash: $BATS_TEST_TMPDIR/in: line 2: expected 7 fields, got 1" \
		"bedup-hash: $BATS_TEST_TMPDIR/in: line 4: bad SUBVOL: not a decimal number")"
	assert_equal "$output" "$(hashed "$(digest "$D/a")" "$(record "$D/a" "$D/b")")"
}

@test "usage: bad options exit 2, -h exits 0" {
	u="usage: bedup-hash [-C CATALOG [-u]] [-N FOUND] [-j N] [-p] [-P FD] [-v] [-w] [-i COUNTS] [FILE...]"
	for bad in "-j 0" "-j x" "-u" "-q" "-P x"; do
		run --separate-stderr bedup-hash $bad
		assert_failure 2
		assert_output ""
		assert_equal "${stderr##*$'\n'}" "$u"
	done
	run --separate-stderr bedup-hash -h
	assert_success
	assert_output "$u"
	assert_equal "$stderr" ""
}

@test "-v reports progress on stderr: groups, files, bytes, rate" {
	mkfile "$D/a" 1000000 v
	copy "$D/a" "$D/b"
	sync
	record "$D/a" "$D/b" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-hash -v -p "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$output" "$(hashed "$(digest "$D/a")" "$(record "$D/a" "$D/b")")"
	assert_regex "$stderr" '(^|'$'\n'')bedup-hash: 1 groups, 2 files read, 1\.9 MiB hashed, [0-9.]+ MiB/s'$'\n'
	assert_regex "${stderr##*$'\n'}" "$(counts_re bedup-hash 2)"
}

@test "-v and -i: the files opened and the bytes read from storage, cold and warm" {
	local in=$BATS_TEST_TMPDIR/in counts=$BATS_TEST_TMPDIR/counts f prog n b
	mkfile "$D/a" 1048576 counts
	copy "$D/a" "$D/b"
	copy "$D/a" "$D/c"
	sync
	record "$D/a" "$D/b" "$D/c" >"$in"
	# a first run brings the program's own code in (a cold start reads
	# it too: megabytes under ASan); then the three files' data, and only
	# theirs, is dropped from the page cache
	bedup-hash "$in" >/dev/null
	for f in a b c; do dd if="$D/$f" iflag=nocache count=0 status=none; done
	run --separate-stderr bedup-hash -v -i "$counts" "$in"
	assert_success
	assert_equal "$output" "$(hashed "$(digest "$D/a")" "$(record "$D/a" "$D/b" "$D/c")")"
	assert_regex "${stderr##*$'\n'}" "$(counts_re bedup-hash 3)"
	read -r prog n b <"$counts"
	echo "cold: $prog $n $b"
	assert_equal "$prog $n" "bedup-hash 3"
	# the -v line and the -i line say the same
	[[ ${stderr##*$'\n'} == *", $b bytes ("* ]]
	# three copies, each read in full from the disk, and little else
	[ "$b" -ge $((3 * 1048576)) ] && [ "$b" -le $((5 * 1048576)) ]
	# warm: the same opens, none of the data read again; -i appends
	run --separate-stderr bedup-hash -i "$counts" "$in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(wc -l <"$counts")" 2
	read -r prog n b < <(tail -n 1 "$counts")
	echo "warm: $prog $n $b"
	assert_equal "$prog $n" "bedup-hash 3"
	[ "$b" -lt 1048576 ]
	# no file opened at all: an empty input
	run --separate-stderr bedup-hash -v /dev/null
	assert_success
	assert_regex "$stderr" "$(counts_re bedup-hash 0)"
}

@test "on a terminal: one line rewritten, files and bytes of the total, rate, time left" {
	requires script
	mkfile "$D/a" 1000000 t
	copy "$D/a" "$D/b"
	mkfile "$D/c" 2000000 t2
	copy "$D/c" "$D/d"
	sync
	{ record "$D/c" "$D/d"; record "$D/a" "$D/b"; } >"$BATS_TEST_TMPDIR/in"
	# a pseudo-terminal: script(1) from util-linux
	run script -qec "bedup-hash -p '$BATS_TEST_TMPDIR/in' >/dev/null" /dev/null
	assert_success
	# drawn from the start, after groups (every 0.2 s at most) and as it
	# ends; then erased
	assert_output --partial $'\rbedup-hash: hashing 0 of 4 files, 0 B of 5.7 MiB, 0 B/s\e[K'
	assert_regex "$output" $'\rbedup-hash: hashing 4 of 4 files, 5\.7 MiB of 5\.7 MiB, [0-9.]+ [KMG]?i?B/s, 0 s left\e\\[K\r\e\\[K$'
	[[ $output != *$'\n'* ]]
	# stdin a regular file: its total is known too; a pipe: no total
	run script -qec "bedup-hash -p <'$BATS_TEST_TMPDIR/in' >/dev/null" /dev/null
	assert_output --partial $'\rbedup-hash: hashing 4 of 4 files, 5.7 MiB of 5.7 MiB, '
	run script -qec "cat '$BATS_TEST_TMPDIR/in' | bedup-hash -p >/dev/null" /dev/null
	assert_output --partial $'\rbedup-hash: hashing 4 files, 5.7 MiB, '
	[[ $output != *" of "* && $output != *left* ]]
	# on a pipe nothing, with -v plain lines
	run --separate-stderr bedup-hash -p "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	run --separate-stderr bedup-hash -v -p "$BATS_TEST_TMPDIR/in"
	assert_success
	[[ $stderr != *$'\r'* && $stderr != *$'\e'* ]]
	assert_regex "$stderr" '^bedup-hash: hashing 2 of 4 files, 3\.8 MiB of 5\.7 MiB, [^'$'\n'']* left'$'\n''bedup-hash: hashing 4 of 4 files, 5\.7 MiB of 5\.7 MiB, [^'$'\n'']*, 0 s left'$'\n''bedup-hash: 2 groups, 4 files read'
}

@test "low impact: idle I/O class unless -p, sequential reads, pages dropped after" {
	# compressed: checksums, of the compressed bytes, cannot tell c apart
	btrfs property set "$D" compression zstd
	mkfile "$D/seed" 150000 low
	od -An -tx1 -v "$D/seed" | head -c 300000 >"$D/a"
	copy "$D/a" "$D/b"
	# c differs from a in a byte no sample covers: read in full, unmatched
	copy "$D/a" "$D/c"
	printf 'X' | dd of="$D/c" bs=1 seek=100000 conv=notrunc status=none
	sync
	record "$D/a" "$D/b" "$D/c" >"$BATS_TEST_TMPDIR/in"
	named "$D"
	run --separate-stderr strace -f -qq -y -o "$BATS_TEST_TMPDIR/strace" \
		-e trace=ioprio_set,fadvise64 bedup-hash "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$(digest "$D/a")" "$(record "$D/a" "$D/b")")"
	st=$BATS_TEST_TMPDIR/strace
	assert_equal "$(grep -c 'ioprio_set(IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)) = 0' "$st")" 1
	assert_equal "$(grep -c 'POSIX_FADV_SEQUENTIAL' "$st")" 3
	# the unmatched file's pages are dropped at once; the identical ones
	# are kept for bedup-clone's compare, which drops them after sharing
	assert_equal "$(grep 'POSIX_FADV_DONTNEED' "$st" | grep -o "<$D/[abc]>" | paste -sd' ')" "<$D/c>"
	run --separate-stderr strace -f -qq -y -o "$st" -e trace=fadvise64 \
		bash -c "bedup-hash '$BATS_TEST_TMPDIR/in' | bedup-clone"
	cut_ids
	assert_success
	assert_output "$(printf 'deduped\t300000\t%s\t%s' "$D/a" "$D/b")"
	assert_equal "$(grep 'POSIX_FADV_DONTNEED' "$st" | grep -o "<$D/[abc]>" | sort | paste -sd' ')" "<$D/a> <$D/b> <$D/c>"
	run --separate-stderr strace -f -qq -o "$st" -e trace=ioprio_set bedup-hash -p "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(grep -c ioprio_set "$st")" 0
	# the reading threads are idle too: look at them while input is pending
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	bedup-hash -j 3 <"$BATS_TEST_TMPDIR/fifo" >/dev/null &
	exec 7>"$BATS_TEST_TMPDIR/fifo"
	for i in $(seq 100); do
		[ "$(ls /proc/$!/task | wc -l)" = 4 ] && break
		sleep 0.1
	done
	classes=$(for t in /proc/$!/task/*; do ionice -p "${t##*/}"; done | sort | uniq -c | tr -s ' ')
	exec 7>&-
	wait $!
	assert_equal "$classes" " 4 idle"
}

@test "catalog: a file that grew since is dropped from its old size quietly, and leaves it" {
	cat=$BATS_TEST_TMPDIR/catalog
	mkfile "$D/a" 150000 grew
	copy "$D/a" "$D/b"
	sync
	pipeline "$cat" "$D/a" "$D/b" >/dev/null
	old=$(bedup-catalog -C "$cat" list | grep -F "$(entry "$D/b" | cut -f1-4)")
	echo more >>"$D/b"
	copy "$D/a" "$D/c"
	sync
	# this run found b at its new size, and c: the catalog's b, of the
	# old size, is a stale entry, not a file that changed during the run
	record "$D/b" "$D/c" >"$BATS_TEST_TMPDIR/found"
	bedup-group -C "$cat" -m "$MNT" -u "$BATS_TEST_TMPDIR/found" >"$BATS_TEST_TMPDIR/in"
	assert_equal "$(cut -f7 "$BATS_TEST_TMPDIR/in")" "$(printf '%s\n' "$D/a" "$D/b" "$D/c")"
	run --separate-stderr bedup-hash -C "$cat" -u -N "$BATS_TEST_TMPDIR/found" "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$(digest "$D/a")" "$(record "$D/a" "$D/c")")"
	run bedup-catalog -C "$cat" list
	refute_line "$old"
	assert_line "$(entry "$D/b")"
	# a member this run found at the record's size that changed since
	# is still a failure
	echo more >>"$D/c"
	run --separate-stderr bedup-hash -N "$BATS_TEST_TMPDIR/found" "$BATS_TEST_TMPDIR/in"
	assert_failure 1
	assert_equal "$stderr" "bedup-hash: $D/c: changed: size is 150005, record says 150000"
}

@test "catalog: a deleted file is dropped silently and leaves the catalog" {
	cat=$BATS_TEST_TMPDIR/catalog
	mkfile "$D/a" 150000 gone
	copy "$D/a" "$D/b"
	copy "$D/a" "$D/doomed"
	sync
	pipeline "$cat" "$D/a" "$D/b" "$D/doomed" >/dev/null
	assert_equal "$(bedup-catalog -C "$cat" list | cut -f3 | sort)" \
		"$(stat -c %i "$D/a" "$D/b" "$D/doomed" | sort)"
	rm "$D/doomed"
	copy "$D/a" "$D/new"
	sync
	run --separate-stderr pipeline "$cat" "$D/new"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(hashed "$(digest "$D/a")" "$(record "$D/a" "$D/b" "$D/new")")"
	assert_equal "$(bedup-catalog -C "$cat" list | cut -f3 | sort)" \
		"$(stat -c %i "$D/a" "$D/b" "$D/new" | sort)"
}

@test "catalog: a malformed catalog line is left out, the rest used" {
	cat=$BATS_TEST_TMPDIR/catalog
	mkfile "$D/a" 50000 mal
	copy "$D/a" "$D/b"
	sync
	h=$(digest "$D/a")
	{ printf '# bedup catalog 4 %s\n' "$(fsid "$MNT")"; entry "$D/a" "$h"; echo junk; } >"$cat"
	record "$D/b" | bedup-group -C "$cat" -m "$MNT" -u >"$BATS_TEST_TMPDIR/in"
	# a's digest is taken from the catalog: a is not read
	run --separate-stderr traced "$D/a" -- bedup-hash -C "$cat" -u "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$output" "$(hashed "$h" "$(record "$D/a" "$D/b")")"
	assert_equal "$(reads "$D/a")" 0
	# a merge into a new base reports it once and leaves it out
	run --separate-stderr bedup-catalog -C "$cat" compact
	assert_failure 1
	assert_equal "$stderr" "bedup-catalog: $cat: line 3: expected 6 to 8 fields, got 1"
	run --separate-stderr bedup-catalog -C "$cat" list
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(cut -f1-6 <<<"$output")" "$( { entry "$D/a" "$h"; entry "$D/b" "$h"; } | sort -n -k3,3)"
}

# many_groups: in $D, 30 candidate groups of three (two twins and one
# other; every other group big enough to be sampled) and two groups of 24
# (two contents each, loops big enough to share out among workers); their
# candidate groups in $BATS_TEST_TMPDIR/in
many_groups() {
	local k i s
	for k in $(seq 30); do
		s=$((k % 2 ? 1000 * k : 20000 + 7000 * k))
		mkfile "$D/g$k-a" $s "j$k"
		copy "$D/g$k-a" "$D/g$k-b"
		mkfile "$D/g$k-c" $s "j$k-other"
	done
	for s in 777 40000; do
		mkfile "$D/big$s-x" $s "x$s"
		mkfile "$D/big$s-y" $s "y$s"
		for i in $(seq 11); do
			copy "$D/big$s-x" "$D/big$s-x$i"
			copy "$D/big$s-y" "$D/big$s-y$i"
		done
	done
	sync
	record "$D"/* | bedup-group >"$BATS_TEST_TMPDIR/in"
}

@test "-j: 1, 4 and 16 workers write the same groups and the same notes, in input order" {
	many_groups
	# then some members change size (a note each) and some vanish (silently)
	changed=("$D/g5-b" "$D/g10-a" "$D/g15-c" "$D/g20-b" "$D/big777-x3" "$D/big777-y7" \
		"$D/big40000-x5" "$D/big40000-y1")
	for f in "${changed[@]}"; do echo more >>"$f"; done
	rm "$D/g7-c" "$D/g14-a" "$D/big777-x9" "$D/big40000-y4"
	# expected: the survivors with their digests, classes of 2 or more of
	# each candidate group in order of their first member
	while IFS=$'\t' read -r size _ fs sv ino gen p; do
		[ -e "$p" ] && [ "$(stat -c %s "$p")" = "$size" ] || continue
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$(digest "$p")" "$fs" "$sv" "$ino" "$gen" "$p"
	done <"$BATS_TEST_TMPDIR/in" | awk -F'\t' '
		function flush(  i, j) { for (i = 1; i <= nc; i++) if (cnt[i] >= 2) printf "%s", out[i]; nc = 0; delete cnt; delete out; delete at }
		$1 != size { flush(); size = $1 }
		{ if (!($2 in at)) at[$2] = ++nc; cnt[at[$2]]++; out[at[$2]] = out[at[$2]] $0 "\n" }
		END { flush() }' >"$BATS_TEST_TMPDIR/want"
	want_err=$(cut -f1,7 "$BATS_TEST_TMPDIR/in" | while IFS=$'\t' read -r size p; do
		for f in "${changed[@]}"; do
			if [ "$p" = "$f" ]; then
				echo "bedup-hash: $p: changed: size is $((size + 5)), record says $size"
			fi
		done
	done)
	# 26 pairs of twins, 21 and 21 left of the big groups
	assert_equal "$(grep -c . "$BATS_TEST_TMPDIR/want")" 94
	for j in 1 4 16; do
		run --separate-stderr bedup-hash -j $j "$BATS_TEST_TMPDIR/in"
		assert_failure 1
		assert_equal "$output" "$(cat "$BATS_TEST_TMPDIR/want")"
		assert_equal "$stderr" "$want_err"
	done
	# -j 1 is a plain serial run: no thread started; -j 4 starts 4
	for j in 1:0 4:4; do
		run --separate-stderr strace -f -qq -o "$BATS_TEST_TMPDIR/strace" -e trace=clone,clone3 \
			bedup-hash -j "${j%:*}" "$BATS_TEST_TMPDIR/in"
		assert_failure 1
		assert_equal "$output" "$(cat "$BATS_TEST_TMPDIR/want")"
		assert_equal "$stderr" "$want_err"
		assert_equal "$(grep -c clone "$BATS_TEST_TMPDIR/strace")" "${j#*:}"
	done
}

@test "-j: the catalog learnt with 8 workers is the one learnt with 1" {
	many_groups
	rm "$D/g3-b" "$D/big777-y2"
	for j in 1 8; do
		cat=$BATS_TEST_TMPDIR/catalog$j
		bedup-group -C "$cat" -m "$MNT" -u "$BATS_TEST_TMPDIR/in" >/dev/null
		run --separate-stderr bedup-hash -C "$cat" -u -j $j "$BATS_TEST_TMPDIR/in"
		assert_success
		assert_equal "$stderr" ""
		echo "$output" >"$BATS_TEST_TMPDIR/out$j"
	done
	cmp "$BATS_TEST_TMPDIR/out1" "$BATS_TEST_TMPDIR/out8"
	assert_equal "$(entries "$BATS_TEST_TMPDIR/catalog1")" "$(entries "$BATS_TEST_TMPDIR/catalog8")"
	# the vanished files left; every file read in full has its own
	# digest: all but the 30 unlike any other (g2-c to g30-c, and g3-a
	# without its twin), which their checksums told apart unread; g1-c,
	# 1000 bytes inline in the metadata, has no checksums: read in full
	bedup-catalog -C "$BATS_TEST_TMPDIR/catalog8" list >"$BATS_TEST_TMPDIR/list8"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/list8")" 136
	# each digest with the path of its inode now
	find "$D" -type f -printf '%i\t%p\n' | sort >"$BATS_TEST_TMPDIR/inos"
	run awk -F'\t' 'FILENAME == ARGV[1] { p[$1] = $2; next }
		!($3 in p) { print "no file: " $0; next }
		$5 != "-" { print $5 "  " p[$3] }' "$BATS_TEST_TMPDIR/inos" "$BATS_TEST_TMPDIR/list8"
	assert_success
	refute_output --partial "no file: "
	assert_equal "$(echo "$output" | wc -l)" 106
	while read -r h p; do
		assert_equal "$h" "$(digest "$p")"
	done <<<"$output"
}

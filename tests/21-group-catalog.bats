#!/usr/bin/env bats
# bedup-group with a catalog, on real btrfs: the catalog's files of each
# size the input has, found by lookup, their paths from their inodes; the
# input tracked, one batch committed before the first output line.

load helpers

setup_file() {
	requires root btrfs
	btrfs_mount 256M
	btrfs_mount 256M b
}

teardown_file() {
	btrfs_unmount
}

setup() {
	D=$MNT/$BATS_TEST_NUMBER
	mkdir -p "$D"
	cat=$BATS_TEST_TMPDIR/catalog
}

H=0123456789abcdef0123456789abcdef
G=fedcba9876543210fedcba9876543210

# group ARG...: bedup-group with the test's catalog, paths under $MNT
group() {
	bedup-group -C "$cat" -m "$MNT" "$@"
}

# traced ARG...: group, its ioctls traced for lookups
traced() {
	strace -f -e trace=ioctl -o "$BATS_TEST_TMPDIR/trace" bedup-group -C "$cat" -m "$MNT" "$@"
}

# lookups: the paths the last traced group looked up (BTRFS_IOC_INO_PATHS)
lookups() {
	grep -c INO_PATHS "$BATS_TEST_TMPDIR/trace"
}

@test "catalog: missing is empty; -u tracks every input record" {
	mkfile "$D/one" 9000 x
	mkfile "$D/two" 9000 y
	mkfile "$D/single" 5000 z
	record "$D/one" "$D/two" "$D/single" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr group -u "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(record "$D/one" "$D/two")"
	assert_equal "$(entries "$cat")" "$( { entry "$D/one"; entry "$D/two"; entry "$D/single"; } | sort)"
	# no path in it, and only root reads it
	run grep -c "$D" "$cat" "$cat.journal"
	refute_output --regexp ':[1-9]'
	for f in "$cat" "$cat.journal"; do
		[ ! -e "$f" ] || assert_equal "$(stat -c '%a %u' "$f")" "600 0"
	done
}

@test "catalog: output is every group with a changed file, with the catalog's members under their names now" {
	# members of one size with other bytes are left out by their keys
	# (read from the trees when the catalog has none): one content each
	for f in 9a 9b 9c; do mkfile "$D/old$f" 9000 9; done
	mkfile "$D/old7" 7000 s
	mkfile "$D/old5a" 5000 a
	mkfile "$D/old5b" 5000 b
	mkfile "$D/old3" 3000 t
	record "$D"/old* | group -u >/dev/null
	# old9a and old9c hashed since
	{ entry "$D/old9a" "$H"; entry "$D/old9c" "$H"; } | bedup-catalog -C "$cat" apply
	# old7 renamed: its inode keeps its entry, found under its new name;
	# new7 is new, old9b changed (same size), old3 grew
	mv "$D/old7" "$D/renamed7"
	mkfile "$D/new7" 7000 s
	echo >>"$D/old9b"
	truncate -s 9000 "$D/old9b"
	echo more >>"$D/old3"
	record "$D/new7" "$D/old9b" "$D/old3" >"$BATS_TEST_TMPDIR/in"
	before=$(entries "$cat")
	run --separate-stderr group "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(record "$D/old9a" "$D/old9b" "$D/old9c"; record "$D/renamed7" "$D/new7" |
		sort -t"$(printf '\t')" -k5,5n)"
	# without -u the catalog is as it was
	assert_equal "$(entries "$cat")" "$before"
	run --separate-stderr group -u "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	# changed files replaced, with no digest; the others kept theirs.
	# old3's entry at its old size stays until that size is looked up.
	old3=$(printf '3000\t%s' "$(entry "$D/old3" | cut -f2-)")
	assert_equal "$(entries "$cat")" "$( {
		entry "$D/old9a" "$H"; entry "$D/old9b"; entry "$D/old9c" "$H"
		entry "$D/renamed7"; entry "$D/new7"; entry "$D/old5a"; entry "$D/old5b"
		entry "$D/old3"; echo "$old3"; } | sort)"
}

@test "catalog: a digest fed back enters the catalog and keeps the sample; output HASH stays -" {
	mkfile "$D/a" 9000 x
	mkfile "$D/b" 9000 x
	record "$D/a" "$D/b" | group -u >/dev/null
	{ entry "$D/a" "$H" "$G"; entry "$D/b" "$H" "$G"; } | bedup-catalog -C "$cat" apply
	mkfile "$D/c" 9000 x
	# b fed back with the digest bedup-hash gave it; c is new
	{ record "$D/b" | awk -F'\t' -v OFS='\t' -v g="$G" '{ $2 = g; print }'; record "$D/c"; } \
		>"$BATS_TEST_TMPDIR/in"
	run --separate-stderr group -u "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(record "$D/a" "$D/b" "$D/c")"
	assert_equal "$(entries "$cat")" "$( { entry "$D/a" "$H" "$G"; entry "$D/b" "$G" "$G"; entry "$D/c"; } | sort)"
}

@test "catalog -u: committed before the first output line" {
	mkfile "$D/old" 9000 a
	record "$D/old" | group -u >/dev/null
	mkfile "$D/new" 9000 a
	record "$D/new" >"$BATS_TEST_TMPDIR/in"
	# the reader lists the catalog as soon as it sees the first line
	run --separate-stderr sh -c 'bedup-group -C "$1" -m "$3" -u "$2" |
		{ read -r line; bedup-catalog -C "$1" list | cut -f1-6 | sort >"$1.seen"; echo "$line"; cat; }' \
		sh "$cat" "$BATS_TEST_TMPDIR/in" "$MNT"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(record "$D/old" "$D/new")"
	assert_equal "$(cat "$cat.seen")" "$( { entry "$D/old"; entry "$D/new"; } | sort)"
	run find "$BATS_TEST_TMPDIR" -name 'catalog*.tmp.*'
	assert_output ""
}

@test "catalog: a deleted member is left out, and with -u leaves the catalog" {
	mkfile "$D/a" 9000 a
	mkfile "$D/gone" 9000 a
	record "$D/a" "$D/gone" | group -u >/dev/null
	gone=$(entry "$D/gone")
	rm "$D/gone"
	mkfile "$D/new" 9000 a
	sync
	record "$D/new" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr group "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" "$(record "$D/a" "$D/new")"
	run bedup-catalog -C "$cat" list
	assert_line "$gone"
	run --separate-stderr group -u "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$output" "$(record "$D/a" "$D/new")"
	assert_equal "$(entries "$cat")" "$( { entry "$D/a"; entry "$D/new"; } | sort)"
}

@test "catalog: no changed file leaves the catalog unopened, as it was" {
	mkfile "$D/a" 9000 a
	mkfile "$D/b" 9000 b
	record "$D/a" "$D/b" | group -u >/dev/null
	ls -li --full-time "$cat"* >"$BATS_TEST_TMPDIR/before"
	run --separate-stderr strace -f -e trace=openat -o "$BATS_TEST_TMPDIR/strace" \
		bedup-group -C "$cat" -m "$MNT" -u </dev/null
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	run grep -c "$cat" "$BATS_TEST_TMPDIR/strace"
	assert_output 0
	assert_equal "$(ls -li --full-time "$cat"*)" "$(cat "$BATS_TEST_TMPDIR/before")"
}

@test "catalog: -C needs -m, and -m needs -C" {
	run --separate-stderr bedup-group -C "$cat" -u </dev/null
	assert_failure 2
	assert_equal "$stderr" "usage: bedup-group [-s MINSIZE] [-C CATALOG -m MOUNT [-u]] [-v] [-i COUNTS] [FILE...]"
	run --separate-stderr bedup-group -m "$MNT" </dev/null
	assert_failure 2
}

@test "catalog: records of another filesystem are grouped, not tracked" {
	mkfile "$D/a" 9000 a
	mkfile "$D/b" 9000 a
	record "$D/a" | group -u >/dev/null
	mkfile "$MNT_b/x" 9000 x
	mkfile "$MNT_b/y" 9000 y
	record "$D/b" "$MNT_b/x" "$MNT_b/y" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr group -u "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_line "$(record "$D/a")"
	assert_line "$(record "$MNT_b/x")"
	assert_equal "${#lines[@]}" 4
	assert_equal "$(entries "$cat")" "$( { entry "$D/a"; entry "$D/b"; } | sort)"
}

@test "catalog: tracked files whose checksums differ from every new file's are left out, paths not looked up" {
	for i in 1 2 3 4 5 6; do mkfile "$D/f$i" 9000 "f$i"; done
	sync
	record "$D"/f* >"$BATS_TEST_TMPDIR/all"
	group -u "$BATS_TEST_TMPDIR/all" >/dev/null
	# the first run had nothing to tell apart: no key computed
	assert_equal "$(keys "$cat")" ""
	# taken again with the catalog's bucket there: every file's key
	# tracked, one per content
	group -u "$BATS_TEST_TMPDIR/all" >/dev/null
	assert_equal "$(keys "$cat" | wc -l)" 6
	assert_equal "$(keys "$cat" | cut -d' ' -f2 | sort -u | wc -l)" 6
	# a real copy of f3: only f3 can hold its bytes
	cp --reflink=never "$D/f3" "$D/new"
	sync
	record "$D/new" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr group -v -u "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$output" "$(record "$D/f3" "$D/new")"
	assert_equal "${stderr%%$'\n'*}" "bedup-group: 5 tracked files left out: their checksums differ from every new file's of their size"
	assert_equal "$(keys "$cat" | awk -v a="$(stat -c %i "$D/f3")" -v b="$(stat -c %i "$D/new")" \
		'$1 == a || $1 == b { print $2 }' | sort -u | wc -l)" 1
	# a new file of other bytes: no tracked file can match it
	mkfile "$D/other" 9000 other
	sync
	run --separate-stderr group -u <(record "$D/other")
	assert_success
	assert_output ""
	# a file without checksums (nodatacow) may hold any bytes: every
	# tracked file of its size comes, and so does one with no key
	mkfile_nocsum "$D/nocsum" 9000 f5
	sync
	entry "$D/f1" | bedup-catalog -C "$cat" apply
	run --separate-stderr group <(record "$D/nocsum")
	assert_success
	assert_equal "$(echo "$output" | wc -l)" 9
	# f1's key is gone: read from the trees, not its path, and learnt
	cp --reflink=never "$D/f2" "$D/new2"
	sync
	run --separate-stderr traced -v -u <(record "$D/new2")
	assert_success
	assert_equal "$output" "$(record "$D/f2" "$D/new2")"
	assert_equal "${stderr%%$'\n'*}" "bedup-group: 7 tracked files left out: their checksums differ from every new file's of their size"
	assert_equal "$(lookups)" 1
	assert_equal "$(keys "$cat" | awk -v a="$(stat -c %i "$D/f1")" '$1 == a' | wc -l)" 1
}

@test "catalog: checksum keys are read only from the catalog's filesystem" {
	mkfile "$D/a" 9000 a
	mkfile "$D/b" 9000 b
	sync
	record "$D/a" >"$BATS_TEST_TMPDIR/in"
	group -u "$BATS_TEST_TMPDIR/in" >/dev/null
	record "$D/b" >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bedup-group -C "$cat" -m "$MNT_b" "$BATS_TEST_TMPDIR/in"
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup-group: $MNT_b: filesystem $(fsid "$MNT_b"), the catalog's is $(fsid "$MNT")"
	# a first run has only the input's small files to look at: not
	# looked at, said once, the rest done
	printf x >"$D/s1"
	printf x >"$D/s2"
	sync
	run --separate-stderr bedup-group -C "$cat.new" -m "$MNT_b" -u <(record "$D/s1" "$D/s2")
	assert_failure 1
	assert_output "$(record "$D/s1" "$D/s2")"
	assert_equal "$stderr" "bedup-group: $MNT_b: filesystem $(fsid "$MNT_b"), the catalog's is $(fsid "$MNT"): small files not looked at, kept in groups and tracked"
	assert_equal "$(entries "$cat.new")" "$( { entry "$D/s1"; entry "$D/s2"; } | sort)"
}

# inline FILE: whether FILE's data lies inline in the metadata (FIEMAP)
inline() {
	filefrag -v "$1" | grep -q 'inline'
}

@test "catalog: files whose data lies inline are neither grouped nor tracked, and leave the catalog" {
	# small files written at once: inline (max_inline is 2048)
	for i in 1 2 3; do printf '%0100d' 7 >"$D/s$i"; done
	sync
	for i in 1 2 3; do inline "$D/s$i"; done
	run --separate-stderr group -v -u <(record "$D"/s*)
	assert_success
	assert_output ""
	assert_equal "${stderr%%$'\n'*}" "bedup-group: 3 files left out: their data lies inline in the metadata"
	assert_equal "$(entries "$cat")" ""
	# the same bytes in a regular extent (written as a block, cut):
	# tracked, with a second one, grouped
	for i in 1 2; do
		printf '%0100d' 7 >"$D/r$i"
		head -c 3996 /dev/zero >>"$D/r$i"
		sync
		truncate -s 100 "$D/r$i"
	done
	sync
	! inline "$D/r1"
	cmp "$D/r1" "$D/s1"
	run --separate-stderr group -u <(record "$D/r1")
	assert_success
	assert_output ""
	# entries of s1 and s2, as an older bedup kept them: when their size
	# comes again they leave the catalog, their paths never looked up
	{ entry "$D/s1"; entry "$D/s2"; } | bedup-catalog -C "$cat" apply
	mv "$D/s1" "$D/s2" "$MNT"/
	run --separate-stderr traced -v -u <(record "$D/r2")
	assert_success
	assert_equal "$output" "$(record "$D/r1" "$D/r2")"
	assert_equal "${stderr%%$'\n'*}" "bedup-group: 2 files left out: their data lies inline in the metadata"
	assert_equal "$(lookups)" 1
	assert_equal "$(entries "$cat")" "$( { entry "$D/r1"; entry "$D/r2"; } | sort)"
}

@test "catalog: tracked files of one key that share one layout come as one; of two layouts, all come" {
	mkfile "$D/a" 9000 a
	for i in 1 2 3 4; do cp --reflink=always "$D/a" "$D/a$i"; done
	sync
	record "$D"/a* | group -u >/dev/null
	# learn the keys: the catalog now has files of this size
	record "$D"/a* | group -u >/dev/null
	assert_equal "$(keys "$cat" | wc -l)" 5
	# a real copy: one of the five comes, the others share its extents
	cp --reflink=never "$D/a" "$D/new"
	sync
	run --separate-stderr traced -v <(record "$D/new")
	assert_success
	assert_equal "$output" "$(record "$D/a" "$D/new")"
	assert_equal "${stderr%%$'\n'*}" "bedup-group: 4 tracked files left out: they share their data with another tracked file brought"
	assert_equal "$(lookups)" 1
	# the catalog had their layout tags, all alike: no tree search of
	# theirs (the new file's layout and checksums only)
	assert_equal "$(layouts "$cat" | wc -l)" 5
	assert_equal "$(layouts "$cat" | cut -d' ' -f2 | sort -u | wc -l)" 1
	[ "$(grep -c TREE_SEARCH_V2 "$BATS_TEST_TMPDIR/trace")" -lt 5 ]
	# one of them with its own copy of the bytes: two layouts, all come
	# (bedup-clone may share the new file's data into each)
	cp --reflink=never "$D/a" "$D/a2.tmp"
	mv "$D/a2.tmp" "$D/a2"
	sync
	record "$D/a2" | group -u >/dev/null
	run --separate-stderr group <(record "$D/new")
	assert_success
	assert_equal "$output" "$(record "$D"/a "$D"/a1 "$D"/a3 "$D"/a4 "$D"/a2 "$D/new" |
		sort -t"$(printf '\t')" -k5,5n)"
	assert_equal "$stderr" ""
}

@test "catalog: of tracked files sharing one layout, one deleted since is passed over for the next" {
	mkfile "$D/a" 9000 a
	cp --reflink=always "$D/a" "$D/a1"
	cp --reflink=always "$D/a" "$D/a2"
	sync
	record "$D"/a* | group -u >/dev/null
	record "$D"/a* | group -u >/dev/null
	assert_equal "$(layouts "$cat" | cut -d' ' -f2 | sort -u | wc -l)" 1
	# a, the first of them, deleted: a new copy still finds one to share
	# from, and a leaves the catalog
	cp --reflink=never "$D/a" "$D/new"
	rm "$D/a"
	sync
	run --separate-stderr group -v -u <(record "$D/new")
	assert_success
	assert_equal "$output" "$(record "$D/a1" "$D/new")"
	assert_equal "${stderr%%$'\n'*}" "bedup-group: 1 tracked files left out: they share their data with another tracked file brought"
	assert_equal "$(entries "$cat")" "$( { entry "$D/a1"; entry "$D/a2"; entry "$D/new"; } | sort)"
}

# with_digest DIGEST: record lines in, their HASH field DIGEST
with_digest() {
	awk -F'\t' -v OFS='\t' -v h="$1" '{ $2 = h; print }'
}

@test "catalog: a tracked file shared into since, all its data another unchanged one's, is left out and takes its digest" {
	mkfile "$D/a" 9000 a
	mkfile "$D/b" 9000 b
	cp --reflink=never "$D/a" "$D/c"
	cp --reflink=never "$D/a" "$D/d"
	sync
	record "$D"/? | group -u >/dev/null
	# the files of this size learn their layouts and keys, a its digest
	{ record "$D/a" | with_digest $H; record "$D/b" "$D/c" "$D/d"; } | group -u >/dev/null
	assert_equal "$(layouts "$cat" | wc -l)" 4
	# c now shares all of a's data (what a dedupe leaves); d is changed
	# too, its own copy of the bytes rewritten
	record "$D/a" "$D/c" | with_digest $H | bedup-clone >/dev/null
	cp --reflink=never "$D/a" "$D/d.tmp"
	cat "$D/d.tmp" >"$D/d"
	rm "$D/d.tmp"
	sync
	run --separate-stderr traced -v -u <(record "$D/c" "$D/d")
	assert_success
	# c is not grouped, and as a tracked file sharing a's layout it does
	# not come back for d either: d comes, and a, which may hold its
	# bytes (b's key differs); one path looked up, a's
	assert_equal "$output" "$(record "$D/a" "$D/d")"
	assert_equal "$(head -n 2 <<<"$stderr")" "bedup-group: 1 files left out: they share all their data with an unchanged tracked file
bedup-group: 1 tracked files left out: they share their data with another tracked file brought"
	assert_equal "$(lookups)" 1
	# c is tracked with a's digest and layout tag
	assert_equal "$(entries "$cat")" "$( { entry "$D/a" $H; entry "$D/b"; entry "$D/c" $H; entry "$D/d"; } | sort)"
	assert_equal "$(layouts "$cat" | awk -v a="$(stat -c %i "$D/a")" -v c="$(stat -c %i "$D/c")" \
		'$1 == a { ta = $2 } $1 == c { tc = $2 } END { print (ta == tc && ta != "") }')" 1
	# a file whose layout is the one the catalog has goes on as any other
	# (a read-only snapshot's, taken again under -R, may be a source)
	run --separate-stderr group -v <(record "$D/c")
	assert_success
	assert_equal "$output" "$(record "$D/a" "$D/c" "$D/d")"
	[[ "$stderr" != *"share all their data"* ]]
	# and one whose voucher changed too is not left out: both go on
	run --separate-stderr group <(record "$D/a" "$D/c")
	assert_success
	assert_equal "$output" "$(record "$D/a" "$D/c" "$D/d")"
}

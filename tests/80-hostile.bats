#!/usr/bin/env bats
# Hostile names and races on real btrfs: between stages (or during one),
# a path component becomes a symlink, a file is replaced by another of the
# same name and size, a directory is renamed, files are deleted. Nothing
# but the records' own inodes is ever opened or shared, and nothing is
# shared as a file it is not. As root, files are opened by handle (SUBVOL,
# INO, GEN): a record's inode is found wherever it moved, and what took
# its name is never looked at.

load helpers

setup_file() {
	requires root btrfs strace
	btrfs_mount 1G
}

teardown_file() {
	btrfs_unmount
}

setup() {
	D=$MNT/$BATS_TEST_NUMBER
	mkdir -p "$D"
}

# traced_stage OUT STAGE ARGS...: runs STAGE under strace, the fd of every
# open decorated with the path it names (-y), the log in OUT.
traced_stage() {
	local out=$1
	shift
	strace -f -qq -y -e trace=open,openat,openat2,open_by_handle_at -o "$out" "$@"
}

# the records of $D/dir/a and $D/dir/b, HASH filled in as bedup-hash would
hashed_pair() {
	record "$D/dir/a" "$D/dir/b" >"$D/in"
	bedup-hash "$D/in" >"$D/hashed"
	[ "$(wc -l <"$D/hashed")" = 2 ]
}

@test "hostile: a directory swapped for a symlink (outside the fs, to root-only files): nothing behind it opened or shared" {
	local out=$BATS_FILE_TMPDIR/outside sec=$MNT/secret t target stage want opened
	mkdir -p "$D/dir" "$out" "$sec"
	mkfile "$D/dir/a" 2000000 sym
	copy "$D/dir/a" "$D/dir/b"
	hashed_pair
	# same names, same size and content behind the links: a root-only
	# "shadow" pair on this filesystem, and a pair on another filesystem
	copy "$D/dir/a" "$out/a"; copy "$D/dir/a" "$out/b"
	copy "$D/dir/a" "$sec/a"; copy "$D/dir/a" "$sec/b"
	chmod 700 "$sec"; chmod 600 "$sec/a" "$sec/b"
	meta "$out/a" "$out/b" "$sec/a" "$sec/b" >"$D/meta.before"
	mv "$D/dir" "$D/dir.old"
	for target in "$out" "$sec"; do
		ln -sfn "$target" "$D/dir"
		for stage in bedup-hash bedup-lock bedup-clone; do
			run --separate-stderr traced_stage "$D/trace" "$stage" "$D/hashed"
			[ "$stage" != bedup-clone ] || cut_ids
			assert_success
			assert_equal "$stderr" ""
			# the records' own inodes, in dir.old, are what is processed
			case $stage:$target in
			bedup-clone:"$out") want="deduped	2000000	$D/dir/a	$D/dir/b" ;;
			bedup-clone:*) want="shared	2000000	$D/dir/a	$D/dir/b" ;;
			# already sharing all their data: nothing to hash
			bedup-hash:"$sec") want="" ;;
			*) want=$(cat "$D/hashed") ;;
			esac
			assert_output "$want"
			# no fd ever named the target; the search of a directory of the
			# filesystem refused the link
			run grep -c -F "$target" "$D/trace"
			assert_output 0
			run grep -c -E "\"$D/dir\".* = -1 (ELOOP|ENOTDIR)" "$D/trace"
			refute_output 0
			# opened by handle, then reopened: what the fd names is dir.old;
			# bedup-hash opens neither once they share their data (the
			# tree says so)
			opened=refute_output
			[ "$stage:$target" != "bedup-hash:$sec" ] || opened=assert_output
			run grep -c -E "^[0-9]+ +open_by_handle_at\(.*O_PATH\) = [0-9]+\$" "$D/trace"
			$opened 0
			run grep -c -E "\"/proc/self/fd/[0-9]+\".* = [0-9]+<$D/dir.old/[ab]>\$" "$D/trace"
			$opened 0
		done
	done
	meta "$out/a" "$out/b" "$sec/a" "$sec/b" >"$D/meta.after"
	assert_equal "$(cat "$D/meta.after")" "$(cat "$D/meta.before")"
	assert_equal "$(excl "$sec/a" "$sec/b" "$D/dir.old/a" "$D/dir.old/b")" \
		"$(printf '2002944\n2002944\n0\n0')"
}

@test "hostile: the last component swapped for a symlink to a root-only file: not opened, not shared" {
	local sec=$MNT/secret2 stage
	mkdir -p "$D" "$sec"
	mkfile "$D/a" 2000000 last
	copy "$D/a" "$D/b"
	record "$D/a" "$D/b" >"$D/in"
	copy "$D/a" "$sec/shadow"
	chmod 600 "$sec/shadow"
	mv "$D/b" "$D/b.old"
	ln -s "$sec/shadow" "$D/b"
	for stage in bedup-hash bedup-lock bedup-clone; do
		run --separate-stderr traced_stage "$D/trace" "$stage" "$D/in"
		[ "$stage" != bedup-clone ] || cut_ids
		assert_success
		assert_equal "$stderr" ""
		assert_equal "$(grep -c -F "$sec/shadow" "$D/trace")" 0
		if [ "$stage" = bedup-clone ]; then
			assert_output "deduped	2000000	$D/a	$D/b"
		else
			assert_equal "$(cut -f3- <<<"$output")" "$(cut -f3- "$D/in")"
		fi
	done
	# b's own inode, now b.old, is shared; the shadow is not
	assert_equal "$(excl "$sec/shadow" "$D/a" "$D/b.old")" "$(printf '2002944\n0\n0')"
}

@test "hostile: a file replaced by another of the same name and size between hash and clone is never shared" {
	mkdir -p "$D/dir"
	mkfile "$D/dir/a" 2000000 rep
	copy "$D/dir/a" "$D/dir/b"
	copy "$D/dir/a" "$D/dir/c"
	record "$D/dir/a" "$D/dir/b" "$D/dir/c" >"$D/in"
	bedup-hash "$D/in" >"$D/hashed"
	bedup-lock "$D/hashed" >"$D/locked"
	assert_equal "$(wc -l <"$D/locked")" 3
	# b: other content, same size; c: the same content, but another inode
	rm "$D/dir/b" "$D/dir/c"
	mkfile "$D/dir/b" 2000000 other
	copy "$D/dir/a" "$D/dir/c"
	meta "$D/dir/b" "$D/dir/c" >"$D/meta.before"
	run --separate-stderr bedup-clone "$D/locked"
	cut_ids
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "bedup-clone: $D/dir/b: changed since the record was made, skipped
bedup-clone: $D/dir/c: changed since the record was made, skipped"
	assert_equal "$(excl "$D/dir/a" "$D/dir/b" "$D/dir/c")" "$(printf '2002944\n%.0s' 1 2 3 | head -c -1)"
	meta "$D/dir/b" "$D/dir/c" >"$D/meta.after"
	assert_equal "$(cat "$D/meta.after")" "$(cat "$D/meta.before")"
}

@test "hostile: a directory renamed during a run: its files are shared as themselves, what took their names is not" {
	local i pid st
	for i in 1 2 3; do
		mkdir -p "$D/d$i"
		mkfile "$D/d$i/a" $((2000000 + i)) "mv$i"
		copy "$D/d$i/a" "$D/d$i/b"
		record "$D/d$i/a" "$D/d$i/b"
	done >"$D/in"
	sha256sum "$D"/d*/* >"$D/sum"
	mkfifo "$D/fifo"
	bedup-clone <"$D/fifo" >"$D/out" 2>"$D/err" &
	pid=$!
	exec 7>"$D/fifo"
	head -n 3 "$D/in" >&7          # group 1 and the line that ends it
	wait_shared "$D/d1/a" "$D/d1/b"
	# group 2's directory moves away; another takes its name, with files
	# of the same names and sizes
	mv "$D/d2" "$D/d2.moved"
	mkdir "$D/d2"
	copy "$D/d2.moved/a" "$D/d2/a"
	copy "$D/d2.moved/b" "$D/d2/b"
	meta "$D/d2/a" "$D/d2/b" >"$D/meta.before"
	tail -n +4 "$D/in" >&7
	exec 7>&-
	st=0
	wait "$pid" || st=$?
	assert_equal "$st" 0
	assert_equal "$(cut -f1,2,8- "$D/out")" "deduped	2000001	$D/d1/a	$D/d1/b
deduped	2000002	$D/d2/a	$D/d2/b
deduped	2000003	$D/d3/a	$D/d3/b"
	assert_equal "$(cat "$D/err")" ""
	assert_equal "$(excl "$D/d2/a" "$D/d2/b" "$D/d2.moved/a" "$D/d2.moved/b")" \
		"$(printf '2002944\n2002944\n0\n0')"
	meta "$D/d2/a" "$D/d2/b" >"$D/meta.after"
	assert_equal "$(cat "$D/meta.after")" "$(cat "$D/meta.before")"
	run sha256sum -c <(sed "s|$D/d2/|$D/d2.moved/|" "$D/sum")
	assert_success
}

@test "hostile: files deleted during the run are skipped silently, the others shared" {
	mkfile "$D/a" 2000000 del
	copy "$D/a" "$D/b"
	copy "$D/a" "$D/c"
	mkfile "$D/x" 2000001 del2
	copy "$D/x" "$D/y"
	record "$D/a" "$D/b" "$D/c" "$D/x" "$D/y" >"$D/in"
	bedup-hash "$D/in" >"$D/hashed"
	# gone between hash and lock, and between lock and clone
	rm "$D/b"
	bedup-lock "$D/hashed" >"$D/locked"
	assert_equal "$(cut -f7 "$D/locked")" "$D/a
$D/c
$D/x
$D/y"
	rm "$D/y"
	run --separate-stderr bedup-clone "$D/locked"
	cut_ids
	assert_success
	assert_output "deduped	2000000	$D/a	$D/c"
	assert_equal "$stderr" ""
	assert_equal "$(excl "$D/a" "$D/c")" "$(zeros 2)"
	assert_equal "$(excl "$D/x")" 2002944
}

@test "hostile: the catalog, digests of every user's files, is written readable by root only" {
	requires xxhsum
	mkfile "$D/a" 100000 cat
	copy "$D/a" "$D/b"
	mkfile_nocsum "$D/n" 100000 n      # so that the files are sampled
	record "$D/a" "$D/b" "$D/n" >"$D/in"
	run --separate-stderr bash -c "umask 022; bedup-group -C '$D/catalog' -m '$MNT' -u '$D/in' |
		bedup-hash -C '$D/catalog' -u"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(cut -f7 <<<"$output")" "$D/a
$D/b"
	# the digests are in it, and only root can read it
	assert_equal "$(bedup-catalog -C "$D/catalog" list | cut -f5 | sort -u)" "-
$(xxhsum -H2 "$D/a" | cut -d' ' -f1)"
	assert_equal "$(bedup-catalog -C "$D/catalog" list | cut -f6 | grep -c '[0-9a-f]\{32\}')" 3
	# a merge into a new base too
	bedup-catalog -C "$D/catalog" compact
	for f in "$D"/catalog*; do
		assert_equal "$f: $(stat -c '%a %u' "$f")" "$f: 600 0"
	done
}

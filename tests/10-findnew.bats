#!/usr/bin/env bats
# bedup-findnew on a real loop-mounted btrfs: which inodes it reports, how
# it names them, its checkpoints and its errors. Each test works in its own
# subvolume, searched with -x unless nesting is the point.

load helpers

USAGE='usage: bedup-findnew [-g GEN | -S STATEDIR [-c FILE | -u]] [-s MINSIZE] [-x] [-0 | -t]
                     [-v] [-i COUNTS] PATH...
       bedup-findnew [-v] [-i COUNTS] -f FILE...'

setup_file() {
	requires root btrfs
	btrfs_mount 1G
}

teardown_file() {
	btrfs_unmount
}

# subvol NAME: a fresh subvolume for one test, in $SV.
subvol() {
	SV=$MNT/$1
	btrfs -q subvolume create "$SV" >/dev/null
}

# gen_after: after a sync, the smallest generation any later change gets.
gen_after() {
	sync -f "$MNT"
	btrfs inspect-internal dump-super "$IMG" | awk '$1 == "generation" { print $2 + 1 }'
}

# records FILE...: the records bedup-findnew must print for FILEs, sorted.
records() {
	record "$@" | sort
}

# odd_files: files of odd names in $SV, their paths in $paths: space,
# TAB, LF, backslash, \377, CR, other control bytes, 255 bytes, and all of
# them in a directory's name.
odd_files() {
	local long n names
	long=$(printf 'n%.0s' $(seq 255))
	names=("sp ace" $'t\tab' $'l\nf' 'back\slash' $'\377' $'c\rr' $'ctl\001\177' "$long" $'dir \t\n\\\377/file')
	mkdir "$SV/"$'dir \t\n\\\377'
	for n in "${names[@]}"; do mkfile "$SV/$n" 10; done
	paths=("${names[@]/#/$SV/}")
}

# sorted: $output, sorted.
sorted() {
	printf '%s\n' "$output" | sort
}

@test "reports each regular file once, with the record record gives it" {
	subvol all
	mkdir -p "$SV/d/e"
	mkfile "$SV/a" 100
	mkfile "$SV/d/b" 5000
	mkfile "$SV/d/e/c" 1
	# a second name of d/b: still one record, named by its first link
	ln "$SV/d/b" "$SV/d/e/link"
	: >"$SV/empty"
	ln -s a "$SV/symlink"
	mkfifo "$SV/fifo"
	# no sync: bedup-findnew commits what is in memory before it searches
	run --separate-stderr bedup-findnew -x "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(records "$SV/a" "$SV/d/b" "$SV/d/e/c")"
	# the fields, each against the tool that owns it
	assert_equal "$(cut -f3 <<<"$output" | sort -u)" "$(fsid "$MNT")"
	assert_equal "$(cut -f4 <<<"$output" | sort -u)" "$(btrfs inspect-internal rootid "$SV")"
	assert_equal "$(grep '/a$' <<<"$output" | cut -f1,2,5,6)" \
		"$(printf '100\t-\t%s\t%s' "$(stat -c %i "$SV/a")" "$(lsattr -vd "$SV/a" | awk '{print $1}')")"
}

@test "reports new, rewritten, appended, truncated, renamed and chmod-ed files, not unchanged ones" {
	subvol changes
	for f in same rewrite oldtime append trunc rename chmod; do mkfile "$SV/$f" 4096; done
	touch -d 2001-01-01 "$SV/ref"
	G=$(gen_after)
	# all these inodes share one leaf: the unchanged one must still be left out
	dd if=/dev/zero of="$SV/rewrite" bs=100 count=1 conv=notrunc status=none
	dd if=/dev/zero of="$SV/oldtime" bs=100 count=1 conv=notrunc status=none
	touch -r "$SV/ref" "$SV/oldtime"
	echo more >>"$SV/append"
	truncate -s 10 "$SV/trunc"
	mv "$SV/rename" "$SV/renamed"
	chmod 600 "$SV/chmod"
	mkfile "$SV/new" 10
	sync -f "$SV"
	run --separate-stderr bedup-findnew -g "$G" -x "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(records "$SV/rewrite" "$SV/oldtime" "$SV/append" \
		"$SV/trunc" "$SV/renamed" "$SV/chmod" "$SV/new")"
	# the rewrites kept their size
	assert_equal "$(stat -c %s "$SV/rewrite" "$SV/oldtime")" "$(printf '4096\n4096')"
}

@test "GEN newer than every change reports nothing, GEN 0 everything" {
	subvol quiet
	mkfile "$SV/a" 10
	mkfile "$SV/b" 10
	G=$(gen_after)
	run --separate-stderr bedup-findnew -g "$G" -x "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_output ""
	run --separate-stderr bedup-findnew -g 0 -x "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(records "$SV/a" "$SV/b")"
}

@test "nested subvolumes are searched unless -x, each subvolume once" {
	subvol nest
	mkfile "$SV/top" 10
	btrfs -q subvolume create "$SV/inner"
	mkfile "$SV/inner/f" 10
	mkdir "$SV/dir"
	btrfs -q subvolume create "$SV/dir/deep"
	btrfs -q subvolume create "$SV/dir/deep/deeper"
	mkfile "$SV/dir/deep/deeper/g" 10
	all=$(records "$SV/top" "$SV/inner/f" "$SV/dir/deep/deeper/g")
	[ "$(cut -f4 <<<"$all" | sort -u | wc -l)" = 3 ]

	run --separate-stderr bedup-findnew "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$all"

	run --separate-stderr bedup-findnew -x "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(records "$SV/top")"

	# a directory inside a subvolume stands for that whole subvolume
	run --separate-stderr bedup-findnew "$SV/dir"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$all"

	run --separate-stderr bedup-findnew "$SV/dir/deep"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(records "$SV/dir/deep/deeper/g")"

	# named twice, directly and as nested: still once
	run --separate-stderr bedup-findnew "$SV" "$SV/inner" "$SV/dir/deep/deeper" "$SV/dir"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$all"

	run --separate-stderr bedup-findnew -x "$SV/dir/deep/deeper" "$SV/inner" "$SV/inner"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(records "$SV/inner/f" "$SV/dir/deep/deeper/g")"
}

@test "-s keeps files of at least MINSIZE, with K, M and G suffixes" {
	subvol sizes
	for s in 0 1 1023 1024 1048575 1048576; do truncate -s "$s" "$SV/s$s"; done
	run --separate-stderr bedup-findnew -x "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(records "$SV"/s1 "$SV"/s1023 "$SV"/s1024 "$SV"/s1048575 "$SV"/s1048576)"

	run --separate-stderr bedup-findnew -s 0 -x "$SV"
	assert_success
	assert_equal "$(sorted)" "$(records "$SV"/s*)"

	run --separate-stderr bedup-findnew -s 1K -x "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(records "$SV"/s1024 "$SV"/s1048575 "$SV"/s1048576)"

	run --separate-stderr bedup-findnew -s 1023 -x "$SV"
	assert_success
	assert_equal "$(sorted)" "$(records "$SV"/s1023 "$SV"/s1024 "$SV"/s1048575 "$SV"/s1048576)"

	run --separate-stderr bedup-findnew -s 1M -x "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(records "$SV"/s1048576)"

	run --separate-stderr bedup-findnew -s 1G -x "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_output ""
}

@test "-S with -u: a second run reports nothing, a change after it is reported" {
	subvol state
	mkfile "$SV/a" 10
	mkfile "$SV/b" 10
	btrfs -q subvolume create "$SV/in"
	mkfile "$SV/in/c" 10
	st=$BATS_TEST_TMPDIR/state
	fs=$(fsid "$MNT")
	id=$(btrfs inspect-internal rootid "$SV")
	inid=$(btrfs inspect-internal rootid "$SV/in")

	run --separate-stderr bedup-findnew -S "$st" -u "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(records "$SV/a" "$SV/b" "$SV/in/c")"
	# one decimal line per subvolume, and no temp file left
	G=$(gen_after)
	assert_equal "$(cat "$st/$fs/$id.gen")" "$G"
	assert_equal "$(cat "$st/$fs/$inid.gen")" "$G"
	assert_equal "$(ls "$st/$fs" | sort)" "$(printf '%s.gen\n' "$id" "$inid" | sort)"

	run --separate-stderr bedup-findnew -S "$st" -u "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_output ""

	echo more >>"$SV/b"
	echo more >>"$SV/in/c"
	run --separate-stderr bedup-findnew -S "$st" -u "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(records "$SV/b" "$SV/in/c")"

	run --separate-stderr bedup-findnew -S "$st" -u "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_output ""
}

@test "-c alone commits nothing and writes FSID TAB SUBVOL TAB GEN per subvolume" {
	subvol pending
	mkfile "$SV/a" 10
	btrfs -q subvolume create "$SV/in"
	mkfile "$SV/in/c" 10
	st=$BATS_TEST_TMPDIR/state
	mkdir "$st"
	fs=$(fsid "$MNT")
	id=$(btrfs inspect-internal rootid "$SV")
	inid=$(btrfs inspect-internal rootid "$SV/in")
	all=$(records "$SV/a" "$SV/in/c")

	run --separate-stderr bedup-findnew -S "$st" -c "$BATS_TEST_TMPDIR/pend" "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$all"
	G=$(gen_after)
	assert_equal "$(cat "$BATS_TEST_TMPDIR/pend")" "$(printf '%s\t%s\t%s\n' "$fs" "$id" "$G" "$fs" "$inid" "$G")"
	assert_equal "$(ls -A "$st")" ""

	# nothing was committed: the same again
	run --separate-stderr bedup-findnew -S "$st" -c "$BATS_TEST_TMPDIR/pend" "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$all"

	# committing the pending lines, as the bedup wrapper does, ends it
	mkdir "$st/$fs"
	while IFS=$'\t' read -r f s g; do echo "$g" >"$st/$f/$s.gen"; done <"$BATS_TEST_TMPDIR/pend"
	run --separate-stderr bedup-findnew -S "$st" "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_output ""
}

@test "-S: a state file that does not hold a generation is an error" {
	subvol badstate
	mkfile "$SV/a" 10
	st=$BATS_TEST_TMPDIR/state
	fs=$(fsid "$MNT")
	id=$(btrfs inspect-internal rootid "$SV")
	mkdir -p "$st/$fs"
	for bad in junk '' '12 ' '-1' '1
2'; do
		printf '%s' "$bad" >"$st/$fs/$id.gen"
		run --separate-stderr bedup-findnew -S "$st" -x "$SV"
		assert_failure 2
		assert_output ""
		assert_equal "$stderr" "bedup-findnew: $st/$fs/$id.gen: not a generation number"
	done
}

@test "-0 and -t print bare paths" {
	subvol bare
	mkfile "$SV/plain" 10
	mkfile "$SV/sp ace" 10
	mkfile "$SV/l"$'\n'"f" 10
	mkfile "$SV/back\\slash" 10
	run --separate-stderr bedup-findnew -0 -x "$SV"
	assert_success
	assert_equal "$stderr" ""
	bedup-findnew -0 -x "$SV" | sort -z >"$BATS_TEST_TMPDIR/got"
	printf '%s\0' "$SV/plain" "$SV/sp ace" "$SV/l"$'\n'"f" "$SV/back\\slash" | sort -z >"$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"

	run --separate-stderr bedup-findnew -t -x "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(printf '%s\n' "$SV/plain" "$SV/sp ace" "$SV/l"$'\n'"f" "$SV/back\\slash" | sort)"
	[ "${#lines[@]}" = 5 ]
}

@test "odd names come out escaped and decode to the same bytes" {
	subvol odd
	odd_files
	run --separate-stderr bedup-findnew -x "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(records "${paths[@]}")"
	[ "${#lines[@]}" = "${#paths[@]}" ]
	printf '%s\n' "$output" | recio -p | sort -z >"$BATS_TEST_TMPDIR/got"
	printf '%s\0' "${paths[@]}" | sort -z >"$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

@test "a path longer than PATH_MAX comes out whole and names the record's inode" {
	subvol long
	d=$(printf 'd%.0s' $(seq 255))
	(cd "$SV" && for i in $(seq 20); do mkdir "$d" && cd "$d" || exit 1; done && echo deep >file)
	run --separate-stderr bedup-findnew -x "$SV"
	assert_success
	assert_equal "$stderr" ""
	[ "${#lines[@]}" = 1 ]
	want=$SV$(for i in $(seq 20); do printf '/%s' "$d"; done)/file
	path=$(printf '%s\n' "$output" | recio -p | tr -d '\0')
	[ "${#path}" -gt 4096 ]
	assert_equal "$path" "$want"
	# stat it by walking down in pieces, each shorter than PATH_MAX
	got=$(IFS=/; set -f; cd / && for c in ${path%/*}; do [ -z "$c" ] || cd -P -- "$c" || exit 1; done &&
		printf '%s\t%s\t%s' "$(stat -c %s file)" "$(stat -c %i file)" "$(lsattr -v file | awk '{print $1}')")
	assert_equal "$(cut -f1,5,6 <<<"$output")" "$got"
}

@test "a file deleted while still open is skipped silently" {
	subvol orphan
	mkfile "$SV/kept" 10
	# (bats owns fd 3)
	exec 8>"$SV/gone"
	echo data >&8
	rm "$SV/gone"
	run --separate-stderr bedup-findnew -x "$SV"
	exec 8>&-
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(records "$SV/kept")"
}

@test "errors: no such path, not btrfs, not a directory: one line each, exit 2, nothing done" {
	subvol errs
	mkfile "$SV/a" 10
	run --separate-stderr bedup-findnew "$SV/nope"
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup-findnew: $SV/nope: No such file or directory"

	mkdir "$BATS_TEST_TMPDIR/tmpfs"
	mount -t tmpfs none "$BATS_TEST_TMPDIR/tmpfs"
	run --separate-stderr bedup-findnew "$BATS_TEST_TMPDIR/tmpfs"
	umount "$BATS_TEST_TMPDIR/tmpfs"
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup-findnew: $BATS_TEST_TMPDIR/tmpfs: not on a btrfs filesystem"

	run --separate-stderr bedup-findnew "$SV/a"
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup-findnew: $SV/a: Not a directory"

	# a pending-checkpoint file that cannot be written: nothing done
	run --separate-stderr bedup-findnew -S "$BATS_TEST_TMPDIR" -c "$BATS_TEST_TMPDIR/no/pend" "$SV"
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup-findnew: $BATS_TEST_TMPDIR/no/pend: No such file or directory"

	# a good PATH among bad ones: still nothing done
	run --separate-stderr bedup-findnew "$SV" "$SV/nope" "$SV"/$'x\ty'
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "$(printf '%s\n' "bedup-findnew: $SV/nope: No such file or directory" \
		"bedup-findnew: $SV/x\\ty: No such file or directory")"
}

@test "errors: a user who cannot search the trees gets exit 2" {
	subvol notroot
	mkfile "$SV/a" 10
	# let the user reach the mount point through the test's private dirs
	d=$MNT
	while [ "$d" != "$BATS_RUN_TMPDIR" ] && [ "$d" != / ]; do d=${d%/*}; chmod o+x "$d"; done
	run --separate-stderr as_nobody bedup-findnew "$SV"
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup-findnew: $SV: cannot search: Operation not permitted"
}

@test "usage: bad options exit 2 with the usage line, -h prints it" {
	run --separate-stderr bedup-findnew -h
	assert_success
	assert_output "$USAGE"
	assert_equal "$stderr" ""
	for args in "" "-g 1 -S $BATS_TEST_TMPDIR $MNT" "-c f $MNT" "-u $MNT" \
		"-S $BATS_TEST_TMPDIR -c f -u $MNT" "-0 -t $MNT" "-g abc $MNT" "-g -1 $MNT" \
		"-s 1X $MNT" "-s $MNT" "-q $MNT" "-f" "-f -x $MNT/a" "-f -s 2 $MNT/a" \
		"-f -g 0 $MNT/a" "-f -t $MNT/a" "-f -S $BATS_TEST_TMPDIR $MNT/a"; do
		run --separate-stderr bedup-findnew $args
		assert_failure 2
		assert_output ""
		[[ $stderr == "$USAGE" || $stderr == *$'\n'"$USAGE" ]]
	done
}

@test "many files: the search goes on across batches and misses none" {
	subvol many
	# about 2 MiB of tree items: several 1 MiB search batches
	mkdir "$SV/d1" "$SV/d2"
	(cd "$SV/d1" && for i in $(seq 3000); do printf x >"f$i"; done)
	(cd "$SV/d2" && for i in $(seq 3000); do printf xy >"g$i"; done)
	run --separate-stderr bedup-findnew -t -x "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(find "$SV" -type f | sort)"
	[ "${#lines[@]}" = 6000 ]
	# and the full records agree with find on size and inode
	assert_equal "$(bedup-findnew -x "$SV" | awk -F '\t' '{ print $1, $5, $7 }' | sort)" \
		"$(find "$SV" -type f -printf '%s %i %p\n' | sort)"

	G=$(gen_after)
	echo more >>"$SV/d1/f1"
	echo more >>"$SV/d1/f1500"
	echo more >>"$SV/d2/g3000"
	run --separate-stderr bedup-findnew -g "$G" -x "$SV"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sorted)" "$(records "$SV/d1/f1" "$SV/d1/f1500" "$SV/d2/g3000")"
}

@test "a nested subvolume hidden under another mount is skipped with a warning" {
	subvol hidden
	mkfile "$SV/top" 10
	btrfs -q subvolume create "$SV/inner"
	mkfile "$SV/inner/f" 10
	id=$(btrfs inspect-internal rootid "$SV/inner")
	mount -t tmpfs none "$SV/inner"
	run --separate-stderr bedup-findnew -S "$BATS_TEST_TMPDIR" -c "$BATS_TEST_TMPDIR/pend" "$SV"
	umount "$SV/inner"
	assert_success
	assert_equal "$stderr" "bedup-findnew: $SV/inner: subvolume $id is not reachable at this path, skipped"
	assert_equal "$(sorted)" "$(records "$SV/top")"
	# no checkpoint for what was not searched
	assert_equal "$(cut -f2 "$BATS_TEST_TMPDIR/pend")" "$(btrfs inspect-internal rootid "$SV")"
}

@test "-f FILE...: the record of each file named, in order, odd names escaped" {
	subvol files
	odd_files
	mkfile "$SV/a" 10
	run --separate-stderr bedup-findnew -f "${paths[@]}"
	assert_success
	assert_equal "$stderr" ""
	assert_output "$(record "${paths[@]}")"
	printf '%s\n' "$output" | recio -p >"$BATS_TEST_TMPDIR/got"
	printf '%s\0' "${paths[@]}" | cmp - "$BATS_TEST_TMPDIR/got"
	# a relative name comes out absolute; a symlinked directory resolved
	ln -s "$SV/"$'dir \t\n\\\377' "$BATS_TEST_TMPDIR/dl"
	cd "$SV"
	run --separate-stderr bedup-findnew -f -- a "$BATS_TEST_TMPDIR/dl/file"
	assert_success
	assert_equal "$stderr" ""
	assert_output "$(record "$SV/a" "$SV/"$'dir \t\n\\\377/file')"
}

@test "-f: a symlink, a FIFO, a directory, a missing file, a file not on btrfs: one line each, exit 1, the rest still out" {
	subvol fbad
	mkfile "$SV/a" 10
	mkfile "$SV/b" 20
	ln -s a "$SV/l"
	mkfifo "$SV/fifo"
	mkdir "$SV/d"
	mkdir "$BATS_TEST_TMPDIR/tmpfs"
	mount -t tmpfs none "$BATS_TEST_TMPDIR/tmpfs"
	echo x >"$BATS_TEST_TMPDIR/tmpfs/t"
	run --separate-stderr bedup-findnew -f "$SV/a" "$SV/l" "$SV/fifo" "$SV/d" "$SV/nope" \
		"$BATS_TEST_TMPDIR/tmpfs/t" "$SV/b"
	umount "$BATS_TEST_TMPDIR/tmpfs"
	assert_failure 1
	assert_output "$(record "$SV/a" "$SV/b")"
	assert_equal "$stderr" "bedup-findnew: $SV/l: not a regular file
bedup-findnew: $SV/fifo: not a regular file
bedup-findnew: $SV/d: not a regular file
bedup-findnew: $SV/nope: No such file or directory
bedup-findnew: $BATS_TEST_TMPDIR/tmpfs/t: not on a btrfs filesystem"
	# the FIFO was never opened for reading: no writer needed, no hang
}

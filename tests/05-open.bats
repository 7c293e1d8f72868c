#!/usr/bin/env bats
# bd_open_record: a record's file is opened only if it is still the very
# inode the record names. As root it is opened by its file handle (SUBVOL,
# INO, GEN), so whatever now holds its PATH does not matter; without
# CAP_DAC_READ_SEARCH the PATH is walked, and no symlink is followed.

load helpers

setup_file() {
	requires root btrfs
	btrfs_mount 512M
}

teardown_file() {
	btrfs_unmount
}

# gen PATH: the generation of any inode (lsattr cannot ask a symlink, a
# FIFO or a device), from the subvolume tree of the synced image
gen() {
	local sv ino
	sv=$(btrfs inspect-internal rootid -- "$(dirname -- "$1")")
	ino=$(stat -c %i -- "$1")
	sync -f "$1"
	btrfs inspect-internal dump-tree -t "$sv" "$IMG" 2>/dev/null |
		awk -v k="key ($ino INODE_ITEM 0)" 'index($0, k) { getline; print $2; exit }'
}

# rec_at PATH NAME: a record naming the inode at PATH, whatever its type,
# with NAME as its PATH field
rec_at() {
	printf '%s\t-\t%s\t%s\t%s\t%s\t%s\n' "$(stat -c %s -- "$1")" "$(fsid "$MNT")" \
		"$(btrfs inspect-internal rootid -- "$(dirname -- "$1")")" "$(stat -c %i -- "$1")" \
		"$(gen "$1")" "$2"
}

# nocap CMD...: CMD without CAP_DAC_READ_SEARCH, so without file handles
nocap() {
	setpriv --bounding-set -dac_read_search "$@"
}

@test "the file a record names opens" {
	mkdir "$MNT/ok"
	mkfile "$MNT/ok/f" 10000
	run --separate-stderr sh -c "$(declare -f record fsid); record '$MNT/ok/f' | recio -o"
	assert_success
	assert_output "ok	$(stat -c %i "$MNT/ok/f")"
	assert_equal "$stderr" ""
}

@test "a deleted file is vanished; one replaced by another inode under its name is other" {
	mkdir "$MNT/gone"
	mkfile "$MNT/gone/f" 10000
	mkfile "$MNT/gone/g" 10000
	record "$MNT/gone/f" >"$BATS_TEST_TMPDIR/f.rec"
	record "$MNT/gone/g" >"$BATS_TEST_TMPDIR/g.rec"
	rm "$MNT/gone/f" "$MNT/gone/g"
	mkfile "$MNT/gone/g" 10000
	run --separate-stderr sh -c "cat '$BATS_TEST_TMPDIR/f.rec' '$BATS_TEST_TMPDIR/g.rec' | recio -o | cut -f1"
	assert_success
	assert_output "$(printf 'vanished\nother')"
	assert_equal "$stderr" ""
	run --separate-stderr recio -O "$BATS_TEST_TMPDIR/g.rec"
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
}

@test "a deleted file still held open elsewhere is vanished" {
	mkdir "$MNT/held"
	mkfile "$MNT/held/f" 10000
	record "$MNT/held/f" >"$BATS_TEST_TMPDIR/r"
	# its inode lives on, unlinked, while this fd is open: a handle still
	# finds it, but there is nothing left to deduplicate
	local fd
	exec {fd}<"$MNT/held/f"
	rm "$MNT/held/f"
	run --separate-stderr recio -o "$BATS_TEST_TMPDIR/r"
	exec {fd}<&-
	assert_success
	assert_output "vanished	$(cut -f5 "$BATS_TEST_TMPDIR/r")"
	assert_equal "$stderr" ""
}

@test "a renamed file opens, itself and not what took its name" {
	mkdir -p "$MNT/ren/dir"
	mkfile "$MNT/ren/dir/f" 10000 f
	mkfile "$MNT/ren/g" 10000 g
	record "$MNT/ren/dir/f" "$MNT/ren/g" >"$BATS_TEST_TMPDIR/r"
	# f's directory moves away, g moves to another name; others take
	# their names
	mv "$MNT/ren/dir" "$MNT/ren/moved"
	mv "$MNT/ren/g" "$MNT/ren/moved/g2"
	mkdir "$MNT/ren/dir"
	mkfile "$MNT/ren/dir/f" 10000 other
	mkfile "$MNT/ren/g" 10000 other
	run --separate-stderr recio -o "$BATS_TEST_TMPDIR/r"
	assert_success
	assert_output "$(printf 'ok\t%s\nok\t%s' "$(stat -c %i "$MNT/ren/moved/f")" \
		"$(stat -c %i "$MNT/ren/moved/g2")")"
	assert_equal "$stderr" ""
	run --separate-stderr sh -c "recio -O '$BATS_TEST_TMPDIR/r' | sha256sum"
	assert_success
	assert_output "$(cat "$MNT/ren/moved/f" "$MNT/ren/moved/g2" | sha256sum)"
	assert_equal "$stderr" ""
}

@test "without CAP_DAC_READ_SEARCH the path is walked: a renamed file is gone, a replaced one other" {
	mkdir -p "$MNT/nocap"
	mkfile "$MNT/nocap/f" 10000 f
	mkfile "$MNT/nocap/g" 10000 g
	mkfile "$MNT/nocap/h" 10000 h
	record "$MNT/nocap/f" "$MNT/nocap/g" "$MNT/nocap/h" >"$BATS_TEST_TMPDIR/r"
	mv "$MNT/nocap/f" "$MNT/nocap/f.moved"
	mv "$MNT/nocap/g" "$MNT/nocap/g.moved"
	mkfile "$MNT/nocap/g" 10000 other
	run --separate-stderr nocap recio -o "$BATS_TEST_TMPDIR/r"
	assert_success
	assert_output "$(printf 'vanished\t%s\nother\t%s\nok\t%s' "$(stat -c %i "$MNT/nocap/f.moved")" \
		"$(stat -c %i "$MNT/nocap/g.moved")" "$(stat -c %i "$MNT/nocap/h")")"
	assert_equal "$stderr" ""
	run --separate-stderr sh -c "$(declare -f nocap); nocap recio -O '$BATS_TEST_TMPDIR/r' | sha256sum"
	assert_success
	assert_output "$(sha256sum <"$MNT/nocap/h")"
	assert_equal "$stderr" ""
}

@test "same inode number, other generation: other" {
	mkdir "$MNT/gen"
	mkfile "$MNT/gen/f" 100
	record "$MNT/gen/f" | awk -F'\t' -v OFS='\t' '{ $6 = $6 + 1; print }' >"$BATS_TEST_TMPDIR/r"
	# low 32 bits 0: btrfs then skips its own generation check
	record "$MNT/gen/f" | awk -F'\t' -v OFS='\t' '{ $6 = "4294967296"; print }' >>"$BATS_TEST_TMPDIR/r"
	run --separate-stderr recio -o "$BATS_TEST_TMPDIR/r"
	assert_success
	assert_output "$(printf 'other\t%s\n' "$(stat -c %i "$MNT/gen/f")"{,} | head -c -1)"
	assert_equal "$stderr" ""
	run --separate-stderr recio -O "$BATS_TEST_TMPDIR/r"
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
}

@test "an inode number reused after a delete and a remount is another inode: not opened" {
	local img=$BATS_TEST_TMPDIR/reuse.img m=$BATS_TEST_TMPDIR/reuse
	truncate -s 512M "$img"
	mkfs.btrfs -q -f "$img" >/dev/null 2>&1
	mkdir "$m"
	# a filesystem and a mount namespace of its own: a copy of the mount
	# in a namespace someone else unshared would keep the filesystem, and
	# its inode counter, alive across the remount. After the remount btrfs
	# numbers new inodes from the highest one left, which victim then was
	run --separate-stderr unshare -m --propagation private bash -c "$(declare -f record fsid mkfile)
		set -e
		mount -o loop '$img' '$m'
		mkfile '$m/a' 100 a
		mkfile '$m/victim' 100 v
		sync
		record '$m/victim' >'$BATS_TEST_TMPDIR/r'
		rm '$m/victim'
		sync
		umount '$m'
		mount -o loop '$img' '$m'
		# the same content, the same number, elsewhere and then under the name
		mkfile '$m/new' 100 v
		sync
		echo \$(stat -c %i '$m/new') \$(lsattr -vd '$m/new' | cut -d' ' -f1)
		recio -o '$BATS_TEST_TMPDIR/r'
		mv '$m/new' '$m/victim'
		recio -o '$BATS_TEST_TMPDIR/r'
		recio -O '$BATS_TEST_TMPDIR/r' | wc -c
		umount '$m'"
	assert_success
	assert_equal "$stderr" ""
	local ino=$(cut -f5 "$BATS_TEST_TMPDIR/r") gen=$(cut -f6 "$BATS_TEST_TMPDIR/r")
	assert_equal "${lines[0]%% *}" "$ino"
	[ "${lines[0]#* }" != "$gen" ]
	assert_equal "${lines[1]}" "vanished	$ino"
	assert_equal "${lines[2]}" "other	$ino"
	assert_equal "${lines[3]}" 0
	assert_equal "${#lines[@]}" 4
}

@test "a symlink in the path is never followed: the record's own inode opens" {
	mkdir -p "$MNT/sym/real" "$MNT/sym/decoy"
	mkfile "$MNT/sym/real/f" 100 real
	mkfile "$MNT/sym/decoy/f" 100 decoy
	record "$MNT/sym/real/f" >"$BATS_TEST_TMPDIR/r"
	mv "$MNT/sym/real" "$MNT/sym/moved"
	ln -s decoy "$MNT/sym/real"
	# the same inode named by a path that is a symlink
	ln -s "$MNT/sym/decoy/f" "$MNT/sym/link"
	sed "s#/sym/real/f\$#/sym/link#" "$BATS_TEST_TMPDIR/r" >>"$BATS_TEST_TMPDIR/r"
	run --separate-stderr sh -c "recio -o '$BATS_TEST_TMPDIR/r' | cut -f1"
	assert_success
	assert_output "$(printf 'ok\nok')"
	assert_equal "$stderr" ""
	run --separate-stderr sh -c "recio -O '$BATS_TEST_TMPDIR/r' | sha256sum"
	assert_success
	assert_output "$(cat "$MNT/sym/moved/f" "$MNT/sym/moved/f" | sha256sum)"
	assert_equal "$stderr" ""
}

@test "a symlink anywhere in the path is refused when the path is walked" {
	mkdir -p "$MNT/symw/real" "$MNT/symw/decoy"
	mkfile "$MNT/symw/real/f" 100 real
	mkfile "$MNT/symw/decoy/f" 100 decoy
	mkfile "$MNT/symw/g" 100 g
	record "$MNT/symw/real/f" "$MNT/symw/g" >"$BATS_TEST_TMPDIR/r"
	# f: its directory moves, a symlink to a decoy takes its name
	mv "$MNT/symw/real" "$MNT/symw/moved"
	ln -s decoy "$MNT/symw/real"
	# g: deleted, a symlink to a copy of it under its name; so even as
	# root the path is walked, and refused
	copy "$MNT/symw/g" "$MNT/symw/decoy/g"
	rm "$MNT/symw/g"
	ln -s decoy/g "$MNT/symw/g"
	run --separate-stderr sh -c "$(declare -f nocap); nocap recio -o '$BATS_TEST_TMPDIR/r' | cut -f1
		recio -o '$BATS_TEST_TMPDIR/r' | cut -f1"
	assert_success
	assert_output "$(printf 'other\nother\nok\nother')"
	assert_equal "$stderr" ""
	run --separate-stderr sh -c "$(declare -f nocap); nocap recio -O '$BATS_TEST_TMPDIR/r' | sha256sum
		recio -O '$BATS_TEST_TMPDIR/r' | sha256sum"
	assert_success
	assert_output "$(printf '%s\n' "$(: | sha256sum)" "$(sha256sum <"$MNT/symw/moved/f")")"
	assert_equal "$stderr" ""
}

@test "a record naming a directory, a symlink, a FIFO or a device is not opened" {
	requires strace
	local t=$MNT/types
	mkdir -p "$t/dir"
	ln -s dir "$t/sym"
	mkfifo "$t/fifo"
	mknod "$t/null" c 1 3
	for f in dir sym fifo null; do
		rec_at "$t/$f" "$t/$f"
		# and under a name that no longer exists: no path to fall back on
		rec_at "$t/$f" "$t/elsewhere"
	done >"$BATS_TEST_TMPDIR/r"
	[ "$(cut -f6 "$BATS_TEST_TMPDIR/r" | grep -c '^[1-9][0-9]*$')" = 8 ]
	# opening the FIFO for reading would block: the timeout catches that
	run --separate-stderr strace -f -qq -e trace=openat,openat2,open_by_handle_at \
		-o "$BATS_TEST_TMPDIR/trace" timeout 10 recio -o "$BATS_TEST_TMPDIR/r"
	assert_success
	assert_output "$(for f in dir sym fifo null; do printf 'other\t%s\n' "$(stat -c %i "$t/$f")"{,}; done | head -c -1)"
	assert_equal "$stderr" ""
	# each opened by handle, O_PATH only, and not opened again
	assert_equal "$(grep -c 'open_by_handle_at(.*O_PATH) = [0-9]' "$BATS_TEST_TMPDIR/trace")" 8
	assert_equal "$(grep 'open_by_handle_at' "$BATS_TEST_TMPDIR/trace" | grep -vc O_PATH)" 0
	assert_equal "$(grep -c '/proc/self/fd' "$BATS_TEST_TMPDIR/trace")" 0
}

@test "a FIFO or a directory under the name of a deleted file is never opened" {
	mkdir "$MNT/fifo"
	mkfile "$MNT/fifo/f" 100
	record "$MNT/fifo/f" >"$BATS_TEST_TMPDIR/r"
	rm "$MNT/fifo/f"
	mkfifo "$MNT/fifo/f"
	# opening a FIFO for reading would block: the timeout catches that
	run --separate-stderr timeout 10 recio -o "$BATS_TEST_TMPDIR/r"
	assert_success
	assert_output --regexp '^(vanished|other)	'
	rm "$MNT/fifo/f"
	mkdir "$MNT/fifo/f"
	run --separate-stderr timeout 10 recio -o "$BATS_TEST_TMPDIR/r"
	assert_success
	assert_output --regexp '^other	'
	assert_equal "$stderr" ""
}

@test "a path longer than PATH_MAX opens" {
	local d="$MNT/long" i
	mkdir "$d"
	cd "$d"
	for i in $(seq 20); do
		mkdir "$(printf 'd%.0s' $(seq 250))$i"
		cd "$(printf 'd%.0s' $(seq 250))$i"
	done
	mkfile f 100
	local abs=$PWD/f
	[ "${#abs}" -gt 4096 ]
	printf '%s\t-\t%s\t%s\t%s\t%s\t%s\n' 100 "$(fsid "$MNT")" 5 "$(stat -c %i f)" \
		"$(lsattr -v f | awk '{print $1}')" "$abs" >"$BATS_TEST_TMPDIR/r"
	cd "$BATS_TEST_TMPDIR"
	run --separate-stderr recio -o "$BATS_TEST_TMPDIR/r"
	assert_success
	assert_output --regexp '^ok	'
	assert_equal "$stderr" ""
	# and by the path walk
	run --separate-stderr nocap recio -o "$BATS_TEST_TMPDIR/r"
	assert_success
	assert_output --regexp '^ok	'
	assert_equal "$stderr" ""
}

#!/usr/bin/env bats
# bd_open_record: a record's file is opened only if it is still the very
# inode the record names, reached without any symlink.

load helpers

setup_file() {
	requires root btrfs
	btrfs_mount 512M
}

teardown_file() {
	btrfs_unmount
}

@test "the file a record names opens" {
	mkdir "$MNT/ok"
	mkfile "$MNT/ok/f" 10000
	run --separate-stderr sh -c "$(declare -f record fsid); record '$MNT/ok/f' | recio -o"
	assert_success
	assert_output "ok	$(stat -c %i "$MNT/ok/f")"
	assert_equal "$stderr" ""
}

@test "a deleted file is vanished, a replaced one is other" {
	mkdir "$MNT/gone"
	mkfile "$MNT/gone/f" 10000
	mkfile "$MNT/gone/g" 10000
	record "$MNT/gone/f" >"$BATS_TEST_TMPDIR/f.rec"
	record "$MNT/gone/g" >"$BATS_TEST_TMPDIR/g.rec"
	rm "$MNT/gone/f"
	mv "$MNT/gone/g" "$MNT/gone/g.old"
	mkfile "$MNT/gone/g" 10000
	run --separate-stderr sh -c "cat '$BATS_TEST_TMPDIR/f.rec' '$BATS_TEST_TMPDIR/g.rec' | recio -o | cut -f1"
	assert_success
	assert_output "$(printf 'vanished\nother')"
	assert_equal "$stderr" ""
}

@test "same inode number, other generation: other" {
	mkdir "$MNT/gen"
	mkfile "$MNT/gen/f" 100
	record "$MNT/gen/f" | awk -F'\t' -v OFS='\t' '{ $6 = $6 + 1; print }' >"$BATS_TEST_TMPDIR/r"
	run --separate-stderr recio -o "$BATS_TEST_TMPDIR/r"
	assert_success
	assert_output "other	$(stat -c %i "$MNT/gen/f")"
	assert_equal "$stderr" ""
}

@test "a symlink anywhere in the path is refused" {
	mkdir -p "$MNT/sym/real"
	mkfile "$MNT/sym/real/f" 100
	record "$MNT/sym/real/f" >"$BATS_TEST_TMPDIR/r"
	mv "$MNT/sym/real" "$MNT/sym/moved"
	ln -s moved "$MNT/sym/real"
	ln -s "$MNT/sym/moved/f" "$MNT/sym/link"
	sed "s#/sym/real/f\$#/sym/link#" "$BATS_TEST_TMPDIR/r" >>"$BATS_TEST_TMPDIR/r"
	run --separate-stderr sh -c "recio -o '$BATS_TEST_TMPDIR/r' | cut -f1"
	assert_success
	assert_output "$(printf 'other\nother')"
	assert_equal "$stderr" ""
}

@test "a FIFO or a directory under the name is never opened" {
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
}

#!/usr/bin/env bats
# bedup --json: dedup ends with one object per filesystem, show prints
# one document; jq reads both whatever bytes the names hold.

load helpers
load bedup

setup() {
	requires root btrfs jq
	newfs 1G
}

teardown() {
	# a mount point with a newline: dropfs, which reads findmnt's
	# escaped names, could not unmount it
	[ -z "${ODD_MNT:-}" ] || umount "$ODD_MNT" 2>/dev/null || true
	dropfs
}

@test "dedup --json: one object per filesystem, and only that on stdout" {
	mkfile "$MNT/a" 2M
	copy "$MNT/a" "$MNT/b"
	run --separate-stderr bedup dedup --json "$MNT"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "${#lines[@]}" 1
	local js=$output
	run jq -c --arg fs "$FS" '[.filesystem == $fs, .dry_run, .status, .files, .bytes,
		(.seconds | type), .differ, .busy, .failed, (.date | test("^20[0-9-]+T[0-9:]+Z$"))]' <<<"$js"
	assert_success
	assert_output '[true,false,0,1,2097152,"number",0,0,0,true]'
	# what each stage cost, in pipeline order: the search and the grouping
	# open no file, hash opened both copies at least
	run jq -c '[(.stages | keys_unsorted), [.stages[].files_opened][0:2],
		(.stages["bedup-hash"].files_opened >= 2), ([.stages[].bytes_read | type] | unique)]' <<<"$js"
	assert_success
	assert_output '[["bedup-findnew","bedup-group","bedup-hash","bedup-lock","bedup-clone"],[0,0],true,["number"]]'
	shared "$MNT/a" "$MNT/b"
	# the run's figures stay for show --json, its status with them
	run cut -f2-5 "$STATE/$FS/run"
	assert_output --regexp $'^0\t1\t2097152\t[0-9]+$'
	# a dry run says what it would do, and records nothing
	mkfile "$MNT/c" 1M c
	copy "$MNT/c" "$MNT/d"
	cp -p "$STATE/$FS/run" "$BATS_TEST_TMPDIR/run.before"
	run --separate-stderr bedup dedup --json -n "$MNT"
	assert_success
	run jq -c '[.dry_run, .status, .files, .bytes]' <<<"$output"
	assert_output '[true,0,1,1048576]'
	cmp "$STATE/$FS/run" "$BATS_TEST_TMPDIR/run.before"
	# -v's lines would go to stdout too
	run --separate-stderr bedup dedup --json -v "$MNT"
	assert_failure 2
	assert_output ""
	assert_equal "${stderr_lines[0]}" "bedup: dedup: --json and -v exclude each other"
}

@test "dedup --json: a filesystem another run holds has its status, figures null" {
	mkdir -p "$STATE/$FS"
	# this shell holds the lock, as another run would
	exec 8>"$STATE/$FS/lock"
	flock 8
	run --separate-stderr bedup dedup --json --no-wait "$MNT"
	exec 8>&-
	assert_failure 1
	assert_equal "$stderr" "bedup: $FS: another bedup run is working on it, skipped (--no-wait)"
	run jq -c --arg fs "$FS" '[.filesystem == $fs, .status, .files, .bytes, .seconds, .stages]' <<<"$output"
	assert_output '[true,1,null,null,null,null]'
}

@test "show --json: names with newlines, quotes, backslashes and bytes not UTF-8" {
	local odd=$'sv\nwith "quotes" and \\ back\\slash' latin=$'caf\xe9' dir
	btrfs filesystem label "$MNT" $'lab"el\\\n2' >/dev/null
	btrfs subvolume create "$MNT/$odd" >/dev/null
	btrfs subvolume create "$MNT/$latin" >/dev/null
	btrfs subvolume snapshot -r "$MNT/$odd" "$MNT/ro" >/dev/null
	mkfile "$MNT/$odd/a" 2M
	copy "$MNT/$odd/a" "$MNT/$latin/b"
	# and a second mount point whose name has them all
	dir=$BATS_TEST_TMPDIR/$'m\n"\\\xff'
	mkdir "$dir"
	mount --bind "$MNT" "$dir"
	ODD_MNT=$dir
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	run --separate-stderr bedup show --json "$FS"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "${#lines[@]}" 1
	echo "$output" >"$BATS_TEST_TMPDIR/show.json"
	jqs() { jq -c --arg fs "$FS" --arg odd "/$odd" --arg mnt "$MNT" "$@" "$BATS_TEST_TMPDIR/show.json"; }
	run jqs '.filesystems | length, (.[0] | .uuid == $fs, .label, .size_cutoff, .files_tracked)'
	assert_success
	assert_output "1
true
\"lab\\\"el\\\\\\n2\"
1048576
2"
	# the mount points: the odd one as bytes (it is not UTF-8)
	run jqs --argjson oddm "$(printf '%s' "$dir" | od -An -tu1 | xargs | tr ' ' , | sed 's/.*/[&]/')" \
		'[.filesystems[0].mounts[] | .path == $mnt or .path == $oddm] | all, length'
	assert_output "true
2"
	run jqs '.filesystems[0].subvolumes[] | [.id > 0, .path, .read_only, .deleted, (.checkpoint | type), .files]'
	assert_output "[true,\"/\",false,false,\"number\",0]
[true,\"/sv\\nwith \\\"quotes\\\" and \\\\ back\\\\slash\",false,false,\"number\",1]
[true,[47,99,97,102,233],false,false,\"number\",1]
[true,\"/ro\",true,false,\"number\",0]"
	run jqs '.filesystems[0].last_run | [.status, .files, .bytes, (.date | type), (.seconds | type)]'
	assert_output '[0,1,2097152,"string","number"]'
	# the last dedup of each subvolume it searched (all four): one file
	# shared into one of them
	run jqs '[.filesystems[0].subvolumes[] | .last_dedup // empty | .files] | length, add'
	assert_output "4
1"
}

@test "show --json: a filesystem known only to the state directory" {
	mkfile "$MNT/a" 2M
	copy "$MNT/a" "$MNT/b"
	bedup dedup "$MNT" >/dev/null
	dropfs
	run --separate-stderr bedup show --json "$FS"
	assert_success
	assert_equal "$stderr" ""
	run jq -c '.filesystems[0] | [.label, .mounts, .files_tracked, .last_run.files,
		(.subvolumes[] | [.id, .path, .read_only, .deleted, (.checkpoint | type)])]' <<<"$output"
	assert_output '[null,[],2,1,[5,null,null,null,"number"]]'
}

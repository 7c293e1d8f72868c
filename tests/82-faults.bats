#!/usr/bin/env bats
# Faults: a full filesystem, a read-only remount in the middle of a run,
# a reader that stops early. Each gives clean errors, no change to any
# file's content, and a filesystem that checks clean and works after.

load helpers

setup_file() {
	requires root btrfs
	btrfs_mount 1G
}

teardown_file() {
	btrfs_unmount
}

setup() {
	D=$MNT/$BATS_TEST_NUMBER
	mkdir -p "$D"
}

# a test that failed half-way must not leave the next one a read-only fs
teardown() {
	mount -o remount,rw "$MNT" 2>/dev/null || true
}

# fragmented PATH BLOCKS SEED: a file of BLOCKS 4 KiB blocks written in
# many transactions, so that it has hundreds of extents (sharing it takes
# metadata for each).
fragmented() {
	python3 - "$@" <<'PY'
import os, random, sys
path, blocks, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3]
random.seed(seed)
data = random.randbytes(4096 * blocks)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for i in range(blocks):
    os.pwrite(fd, data[4096 * i:4096 * (i + 1)], 4096 * i)
    if i % 2 == 0:
        os.fsync(fd)
os.fsync(fd)
os.close(fd)
PY
}

@test "faults: ENOSPC while sharing: error lines, contents unchanged, the fs checks clean and the rerun shares" {
	requires python3
	local img=$BATS_FILE_TMPDIR/full.img m=$BATS_FILE_TMPDIR/full
	# a small filesystem with data and metadata in one pool (--mixed), so
	# that filling it with data leaves no room for dedupe's metadata
	truncate -s 128M "$img"
	mkfs.btrfs -q -f --mixed "$img" >/dev/null 2>&1
	mkdir -p "$m"
	mount -o loop "$img" "$m"
	echo "$m" >>"$BATS_FILE_TMPDIR/.mounts"
	fragmented "$m/a" 1000 full
	copy "$m/a" "$m/b"
	copy "$m/a" "$m/c"
	record "$m/a" "$m/b" "$m/c" >"$BATS_TEST_TMPDIR/in"
	sha256sum "$m/a" "$m/b" "$m/c" >"$BATS_TEST_TMPDIR/sum"
	run dd if=/dev/zero of="$m/fill" bs=1M
	assert_failure
	assert_output --partial "No space left on device"
	sync -f "$m"
	run --separate-stderr bedup-clone "$BATS_TEST_TMPDIR/in"
	cut_ids
	assert_failure 1
	assert_output "error:ENOSPC	4096000	$m/a	$m/b
error:ENOSPC	4096000	$m/a	$m/c"
	assert_equal "$stderr" "bedup-clone: $m/b: not shared: No space left on device
bedup-clone: $m/c: not shared: No space left on device"
	run sha256sum -c "$BATS_TEST_TMPDIR/sum"
	assert_success
	# space again: the same records are shared
	rm "$m/fill"
	sync -f "$m"
	run --separate-stderr bedup-clone "$BATS_TEST_TMPDIR/in"
	cut_ids
	assert_success
	assert_output "deduped	4096000	$m/a	$m/b
deduped	4096000	$m/a	$m/c"
	assert_equal "$stderr" ""
	assert_equal "$(excl "$m/a" "$m/b" "$m/c")" "$(zeros 3)"
	run sha256sum -c "$BATS_TEST_TMPDIR/sum"
	assert_success
	umount "$m"
	run btrfs check --readonly "$img"
	assert_success
}

@test "faults: read-only remount in the middle of a run: groups before shared, the rest EROFS, contents intact" {
	local i pid st
	# three groups: records of one size and HASH - would be one group
	for i in 1 2 3; do
		mkfile "$D/$i.a" $((3000000 + i)) "ro$i"
		copy "$D/$i.a" "$D/$i.b"
		record "$D/$i.a" "$D/$i.b"
	done >"$BATS_TEST_TMPDIR/in"
	sha256sum "$D"/* >"$BATS_TEST_TMPDIR/sum"
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	bedup-clone <"$BATS_TEST_TMPDIR/fifo" >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
	pid=$!
	exec 7>"$BATS_TEST_TMPDIR/fifo"
	# group 1 and the first line of group 2, which ends group 1
	head -n 3 "$BATS_TEST_TMPDIR/in" >&7
	wait_shared "$D/1.a" "$D/1.b"
	mount -o remount,ro "$MNT"
	tail -n +4 "$BATS_TEST_TMPDIR/in" >&7
	exec 7>&-
	st=0
	wait "$pid" || st=$?
	mount -o remount,rw "$MNT"
	assert_equal "$st" 1
	assert_equal "$(cut -f1,2,8- "$BATS_TEST_TMPDIR/out")" "deduped	3000001	$D/1.a	$D/1.b
error:EROFS	3000002	$D/2.a	$D/2.b
error:EROFS	3000003	$D/3.a	$D/3.b"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" "bedup-clone: $D/2.b: not shared: Read-only file system
bedup-clone: $D/3.b: not shared: Read-only file system"
	run sha256sum -c "$BATS_TEST_TMPDIR/sum"
	assert_success
	assert_equal "$(excl "$D/2.a" "$D/2.b" "$D/3.a" "$D/3.b")" "$(printf '3002368\n%.0s' 1 2 3 4 | head -c -1)"
	# and the filesystem works: the rerun shares what was left
	run --separate-stderr bedup-clone "$BATS_TEST_TMPDIR/in"
	cut_ids
	assert_success
	assert_output "shared	3000001	$D/1.a	$D/1.b
deduped	3000002	$D/2.a	$D/2.b
deduped	3000003	$D/3.a	$D/3.b"
	assert_equal "$stderr" ""
}

@test "faults: a reader that stops early ends every stage by SIGPIPE, with nothing on stderr" {
	local i st
	# enough records that no stage's output fits in the pipe; data in an
	# extent, not inline, which bedup-lock would leave out
	mkdir -p "$D/many"
	yes same | head -c 5000 >"$D/many/0"
	for i in $(seq 1 1999); do copy "$D/many/0" "$D/many/$i"; done
	# (findnew lists the whole subvolume: keep what this test made)
	bedup-findnew "$D/many" | grep -F "	$D/many/" >"$BATS_TEST_TMPDIR/found"
	bedup-group "$BATS_TEST_TMPDIR/found" >"$BATS_TEST_TMPDIR/grouped"
	bedup-hash "$BATS_TEST_TMPDIR/grouped" >"$BATS_TEST_TMPDIR/hashed"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/hashed")" 2000
	for st in "bedup-findnew $D/many" "bedup-group $BATS_TEST_TMPDIR/found" \
		"bedup-hash $BATS_TEST_TMPDIR/grouped" "bedup-lock $BATS_TEST_TMPDIR/hashed" \
		"bedup-clone -n $BATS_TEST_TMPDIR/hashed" "bedup-clone $BATS_TEST_TMPDIR/hashed"; do
		run --separate-stderr bash -c "$st | head -n 1; echo \"status \${PIPESTATUS[*]}\""
		assert_equal "$stderr" ""
		assert_line --index 1 "status 141 0"
		assert_equal "${#lines[@]}" 2
	done
}

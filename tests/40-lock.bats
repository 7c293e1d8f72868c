#!/usr/bin/env bats
# bedup-lock: only members nobody writes and that may be shared pass.

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

@test "lock: -h prints usage, a bad option is a usage error" {
	run --separate-stderr bedup-lock -h
	assert_success
	assert_output "usage: bedup-lock [-R] [-s SKIPPED] [-v] [-i COUNTS] [FILE...]"
	assert_equal "$stderr" ""
	run --separate-stderr bedup-lock -x
	assert_failure 2
	assert_output ""
	assert_equal "${stderr##*$'\n'}" "usage: bedup-lock [-R] [-s SKIPPED] [-v] [-i COUNTS] [FILE...]"
}

@test "lock: a group at rest passes unchanged" {
	mkfile "$D/a" 100000 s
	copy "$D/a" "$D/b"
	copy "$D/a" "$D/c"
	record "$D/a" "$D/b" "$D/c" >"$D/in"
	run --separate-stderr bedup-lock -v "$D/in"
	assert_success
	assert_output "$(cat "$D/in")"
	assert_equal "${stderr%$'\n'*}" "bedup-lock: 1 of 1 groups, 3 of 3 files passed"
	assert_regex "${stderr##*$'\n'}" "$(counts_re bedup-lock 3)"
}

# skipline STATUS FILE: the line bedup-lock -s writes for FILE
skipline() {
	record "$2" | awk -F'\t' -v OFS='\t' -v s="$1" '{ print s, $1, $3, "-", "-", $4, $5, "-", $7 }'
}

@test "lock: a file open for writing elsewhere is skipped, a note, no failure" {
	mkfile "$D/a" 100000 s
	copy "$D/a" "$D/b"
	copy "$D/a" "$D/c"
	record "$D/a" "$D/b" "$D/c" >"$D/in"
	sleep 100 >>"$D/b" &
	local pid=$!
	echo old >"$D/skipped"
	run --separate-stderr bedup-lock -s "$D/skipped" "$D/in"
	kill "$pid"
	assert_success
	assert_output "$(sed -n '1p;3p' "$D/in")"
	assert_equal "$stderr" "bedup-lock: $D/b: in use, skipped"
	# -s appends
	assert_equal "$(cat "$D/skipped")" "old
$(skipline in-use "$D/b")"
}

@test "lock: a file mapped writable is skipped" {
	requires python3
	mkfile "$D/a" 100000 s
	copy "$D/a" "$D/b"
	record "$D/a" "$D/b" >"$D/in"
	# the fd is closed once mapped: only the shared writable mapping remains
	python3 -c 'import mmap,os,sys,time
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_WRITE)
os.close(fd)
print("ready", flush=True)
time.sleep(100)' "$D/b" >"$D/ready" &
	local pid=$!
	while [ ! -s "$D/ready" ]; do sleep 0.1; done
	run --separate-stderr bedup-lock -s "$D/skipped" "$D/in"
	kill "$pid"
	assert_success
	assert_output ""
	assert_equal "$stderr" "bedup-lock: $D/b: in use, skipped"
	# a is left with nothing to share with
	assert_equal "$(cat "$D/skipped")" "$(skipline in-use "$D/b")
$(skipline alone "$D/a")"
}

@test "lock: immutable and append-only members are dropped, flags untouched" {
	mkfile "$D/a" 100000 s
	for f in b i ap; do copy "$D/a" "$D/$f"; done
	chattr +i "$D/i"
	chattr +a "$D/ap"
	record "$D/a" "$D/i" "$D/b" "$D/ap" >"$D/in"
	run --separate-stderr bedup-lock -s "$D/skipped" "$D/in"
	local ai ap
	ai=$(lsattr -d "$D/i" | cut -c1-22)
	ap=$(lsattr -d "$D/ap" | cut -c1-22)
	chattr -i "$D/i"
	chattr -a "$D/ap"
	# a policy, not a failure (RECORDS.md)
	assert_success
	assert_equal "$(cat "$D/skipped")" "$(skipline immutable "$D/i")
$(skipline append-only "$D/ap")"
	assert_output "$(sed -n '1p;3p' "$D/in")"
	assert_equal "$stderr" "bedup-lock: $D/i: immutable, skipped
bedup-lock: $D/ap: append-only, skipped"
	assert_equal "$ai" "----i-----------------"
	assert_equal "$ap" "-----a----------------"
}

@test "lock: a nodatacow member unlike the rest is dropped" {
	mkfile "$D/a" 100000 s
	copy "$D/a" "$D/b"
	touch "$D/n"
	chattr +C "$D/n"
	cat "$D/a" >>"$D/n"
	record "$D/a" "$D/n" "$D/b" >"$D/in"
	run --separate-stderr bedup-lock -s "$D/skipped" "$D/in"
	assert_success
	assert_equal "$(cat "$D/skipped")" "$(skipline nodatacow "$D/n")"
	assert_output "$(sed -n '1p;3p' "$D/in")"
	assert_equal "$stderr" "bedup-lock: $D/n: nodatacow unlike the rest of its group, skipped"
	# two of a kind: the nodatacow pair passes, the datacow one is dropped
	touch "$D/m"
	chattr +C "$D/m"
	cat "$D/a" >>"$D/m"
	record "$D/n" "$D/a" "$D/m" >"$D/in"
	run --separate-stderr bedup-lock "$D/in"
	assert_success
	assert_output "$(sed -n '1p;3p' "$D/in")"
	assert_equal "$stderr" "bedup-lock: $D/a: datacow unlike the rest of its group, skipped"
}

@test "lock: an active swap file is skipped, not in use" {
	requires swapon swapoff
	btrfs filesystem mkswapfile -s 16M "$D/swap" >/dev/null
	swapon "$D/swap" 2>/dev/null || skip "swapon not permitted here"
	touch "$D/n"
	chattr +C "$D/n"
	cat "$D/swap" >>"$D/n"
	record "$D/swap" "$D/n" >"$D/in"
	run --separate-stderr bedup-lock -s "$D/skipped" "$D/in"
	swapoff "$D/swap"
	assert_success
	assert_output ""
	assert_equal "$stderr" "bedup-lock: $D/swap: an active swap file, skipped"
	assert_equal "$(cat "$D/skipped")" "$(skipline swapfile "$D/swap")
$(skipline alone "$D/n")"
}

@test "lock: read-only snapshot members are sources only, unless -R" {
	btrfs subvolume create "$D/s1" >/dev/null
	btrfs subvolume create "$D/s2" >/dev/null
	mkfile "$D/s1/a" 100000 s
	copy "$D/s1/a" "$D/s2/a"
	copy "$D/s1/a" "$D/w"
	btrfs subvolume snapshot -r "$D/s1" "$D/r1" >/dev/null
	btrfs subvolume snapshot -r "$D/s2" "$D/r2" >/dev/null
	record "$D/r1/a" "$D/r2/a" >"$D/in"
	run --separate-stderr bedup-lock "$D/in"
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	run --separate-stderr bedup-lock -R "$D/in"
	assert_success
	assert_output "$(cat "$D/in")"
	assert_equal "$stderr" ""
	record "$D/r1/a" "$D/r2/a" "$D/w" >"$D/in"
	run --separate-stderr bedup-lock "$D/in"
	assert_success
	assert_output "$(cat "$D/in")"
	assert_equal "$stderr" ""
}

@test "lock: vanished files go silently, replaced ones with a note" {
	mkfile "$D/a" 100000 s
	for f in b c d; do copy "$D/a" "$D/$f"; done
	record "$D/a" "$D/b" "$D/c" "$D/d" >"$D/in"
	rm "$D/b"
	run --separate-stderr bedup-lock "$D/in"
	assert_success
	assert_output "$(sed -n '1p;3p;4p' "$D/in")"
	assert_equal "$stderr" ""
	rm "$D/c"
	copy "$D/a" "$D/c"
	run --separate-stderr bedup-lock "$D/in"
	assert_failure 1
	assert_output "$(sed -n '1p;4p' "$D/in")"
	assert_equal "$stderr" "bedup-lock: $D/c: changed since the record was made, skipped"
	# same inode, other size
	printf x >>"$D/d"
	run --separate-stderr bedup-lock "$D/in"
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "bedup-lock: $D/c: changed since the record was made, skipped
bedup-lock: $D/d: size changed since the record was made, skipped"
}

@test "lock: hard links are one member; malformed lines are skipped" {
	mkfile "$D/a" 100000 s
	ln "$D/a" "$D/l"
	copy "$D/a" "$D/b"
	record "$D/a" "$D/l" >"$D/in"
	run --separate-stderr bedup-lock "$D/in"
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	{ record "$D/a" "$D/l"; echo junk; record "$D/b"; } >"$D/in"
	run --separate-stderr bedup-lock "$D/in"
	assert_failure 1
	assert_output "$(sed -n '1p;4p' "$D/in")"
	assert_equal "$stderr" "bedup-lock: $D/in: line 3: expected 7 fields, got 1"
}

@test "lock: groups are kept apart" {
	mkfile "$D/a" 100000 s
	mkfile "$D/x" 100000 t
	copy "$D/a" "$D/b"
	copy "$D/x" "$D/y"
	# same size, different fake hashes: two groups of two
	{ record "$D/a" "$D/b" | awk -F'\t' -v OFS='\t' '{$2="11111111111111111111111111111111"; print}'
	  record "$D/x" "$D/y" | awk -F'\t' -v OFS='\t' '{$2="22222222222222222222222222222222"; print}'; } >"$D/in"
	sleep 100 >>"$D/y" &
	local pid=$!
	run --separate-stderr bedup-lock -v "$D/in"
	kill "$pid"
	assert_success
	assert_output "$(sed -n '1,2p' "$D/in")"
	assert_equal "${stderr%$'\n'*}" "bedup-lock: $D/y: in use, skipped
bedup-lock: 1 of 2 groups, 2 of 4 files passed"
	assert_regex "${stderr##*$'\n'}" "$(counts_re bedup-lock 4)"
}

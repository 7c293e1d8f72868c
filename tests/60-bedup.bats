#!/usr/bin/env bats
# The bedup command: command line, dedup and its options, on real btrfs.

load helpers
load bedup

setup() {
	case $BATS_TEST_DESCRIPTION in
	cli:*) export BEDUP_STATE_DIR=$BATS_TEST_TMPDIR/state ;;
	*) requires root btrfs; newfs 2G ;;
	esac
}

teardown() {
	dropfs
}

@test "cli: -h and --version on stdout, exit 0" {
	run --separate-stderr bedup -h
	assert_success
	assert_line --index 0 --regexp '^usage: bedup dedup \['
	assert_output --partial 'bedup find-new [-0 | -t] VOL [GEN]'
	assert_equal "$stderr" ""
	run --separate-stderr bedup dedup -h
	assert_success
	assert_line --index 0 --regexp '^usage: bedup dedup \['
	assert_equal "$stderr" ""
	run --separate-stderr bedup --version
	assert_success
	assert_output "bedup 0.1"
	assert_equal "$stderr" ""
}

# usage_error ARGS... MESSAGE: bedup ARGS fails with MESSAGE then the usage
usage_error() {
	local msg=${!#}
	run --separate-stderr bedup "${@:1:$#-1}"
	assert_failure 2
	assert_output ""
	assert_equal "$(sed -n 1p <<<"$stderr")" "$msg"
	assert_equal "$(sed -n 2p <<<"$stderr" | cut -c1-19)" "usage: bedup dedup "
}

@test "cli: bad commands and options are usage errors, exit 2" {
	run --separate-stderr bedup
	assert_failure 2
	assert_output ""
	assert_equal "$(sed -n 1p <<<"$stderr" | cut -c1-19)" "usage: bedup dedup "
	usage_error frob "bedup: unknown command: frob"
	usage_error --frob "bedup: unknown option: --frob"
	usage_error dedup --frob "bedup: dedup: unknown option: --frob"
	usage_error dedup -x "bedup: dedup: unknown option: -x"
	usage_error show -n "bedup: show: unknown option: -n"
	usage_error scan --defrag "bedup: scan: unknown option: --defrag"
	usage_error dedup --size-cutoff 1X "bedup: bad size: 1X"
	usage_error dedup --size-cutoff=-1 "bedup: bad size: -1"
	usage_error dedup -j 0 "bedup: bad number of jobs: 0"
	usage_error dedup -jx "bedup: bad number of jobs: x"
	usage_error dedup --size-cutoff "bedup: dedup: option --size-cutoff needs a value"
	usage_error dedup --defrag=yes "bedup: dedup: option --defrag takes no value"
	usage_error reset "bedup: reset: expected FILTER..."
	usage_error forget-fs "bedup: forget-fs: expected UUID..."
	usage_error forget-fs nope "bedup: forget-fs: not a UUID: nope"
	usage_error find-new "bedup: find-new: expected VOL [GEN]"
	usage_error find-new / x "bedup: find-new: bad generation: x"
	usage_error generation "bedup: generation: expected VOL"
	usage_error dedup-files /a "bedup: dedup-files: expected SRC DST..."
}

@test "cli: dedup and scan need root" {
	command -v setpriv >/dev/null || skip "no setpriv"
	[ "$(id -u)" = 0 ] || skip "not root: cannot drop root"
	run --separate-stderr as_nobody bedup dedup /
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup: dedup needs root"
	run --separate-stderr as_nobody bedup scan
	assert_failure 2
	assert_equal "$stderr" "bedup: scan needs root"
}

@test "cli: a bad filter stops everything, exit 2" {
	run --separate-stderr bedup dedup /nonexistent
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup: /nonexistent: No such file or directory"
	run --separate-stderr bedup scan /proc
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup: /proc: not on btrfs"
	run --separate-stderr bedup dedup 01234567-89ab-cdef-0123-456789abcdef
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup: 01234567-89ab-cdef-0123-456789abcdef: no such btrfs filesystem"
	run --separate-stderr bedup dedup /dev/null
	assert_failure 2
	assert_equal "$stderr" "bedup: /dev/null: not a block device"
	[ ! -e "$BEDUP_STATE_DIR" ]
}

@test "dedup PATH: identical files share their data, nothing else changes" {
	mkdir "$MNT/d"
	mkfile "$MNT/a" 3M
	copy "$MNT/a" "$MNT/b"
	copy "$MNT/a" "$MNT/d/c"
	mkfile "$MNT/x" 3M other        # same size, other content
	mkfile "$MNT/small" 64K
	copy "$MNT/small" "$MNT/small2" # below the size cutoff
	before=$(fingerprint "$MNT")
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 2 6291456)"
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT/b" "$MNT/d/c"
	apart "$MNT/a" "$MNT/x"
	apart "$MNT/small" "$MNT/small2"
	assert_equal "$(fingerprint "$MNT")" "$before"
	# the state: checkpoint, cutoff, catalog of the 4 files, last dedup
	run cat "$STATE/$FS/5.gen"
	assert_output --regexp '^[1-9][0-9]*$'
	assert_equal "$(cat "$STATE/$FS/cutoff")" 1048576
	catalog_ok "$STATE/$FS/catalog"
	assert_equal "$(catalog_ids)" "$(tracked "$MNT/a" "$MNT/b" "$MNT/d/c" "$MNT/x")"
	run cut -f2- "$STATE/$FS/last"
	assert_output --regexp $'^2\t6291456\t[0-9]+$'
	# nothing left to do
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 0 0)"
	assert_equal "$stderr" ""
	assert_equal "$(fingerprint "$MNT")" "$before"
}

@test "dedup -v shows each file shared and the stages' summaries; -q nothing" {
	mkfile "$MNT/a" 2M
	copy "$MNT/a" "$MNT/b"
	run --separate-stderr bedup dedup -v "$MNT"
	assert_success
	assert_equal "${#lines[@]}" 2
	assert_line --index 0 --regexp $'^deduped\t2097152\t'"$IDS$MNT"$'/[ab]\t'"$MNT"'/[ab]$'
	assert_line --index 1 --regexp "$(summary_re 1 2097152)"
	[[ $stderr == *"bedup: $FS: mounted privately (top level, all subvolumes)"* ]]
	[[ $stderr == *"bedup: $FS: deduplicating $MNT"$'\n'* ]]
	[[ $stderr == *"bedup-clone: "* ]]
	shared "$MNT/a" "$MNT/b"
	copy "$MNT/a" "$MNT/c"
	run --separate-stderr bedup dedup -q "$MNT"
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT/c"
}

@test "dedup on a terminal: bedup-hash's line rewrites itself, with the total; not on a pipe, not -q" {
	requires script
	mkfile "$MNT/a" 2M
	copy "$MNT/a" "$MNT/b"
	mkfile "$MNT/c" 3M c
	copy "$MNT/c" "$MNT/d"
	run script -qec "bedup dedup '$MNT'" /dev/null
	assert_success
	assert_output --partial $'\rbedup-hash: hashing 0 of 4 files, 0 B of 10.0 MiB, 0 B/s\e[K'
	assert_regex "$output" $'\rbedup-hash: hashing 4 of 4 files, 10\.0 MiB of 10\.0 MiB, [^\r]*/s, 0 s left\e\\[K\r\e\\[K'
	# the summary on a line of its own, after the line was erased
	assert_regex "$output" $'\e\\[K'"$(summary_re 2 5242880 | sed 's/^\^//; s/\$$//')"$'\r$'
	[[ $output != *"$BEDUP_RUN_DIR"* ]]
	mkfile "$MNT/e" 2M e
	copy "$MNT/e" "$MNT/f"
	run script -qec "bedup dedup -q '$MNT'" /dev/null
	assert_success
	assert_output ""
	mkfile "$MNT/g" 2M g
	copy "$MNT/g" "$MNT/h"
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	assert_equal "$stderr" ""
	shared "$MNT/g" "$MNT/h"
}

@test "dedup -n: says what it would do, changes nothing, commits nothing" {
	mkfile "$MNT/a" 2M
	copy "$MNT/a" "$MNT/b"
	before=$(fingerprint "$MNT")
	run --separate-stderr bedup dedup -n "$MNT"
	assert_success
	assert_output --regexp "^bedup: $FS: 1 files would be deduplicated, 2097152 bytes \(2.0 MiB\), [0-9]+ s$"
	assert_equal "$stderr" ""
	apart "$MNT/a" "$MNT/b"
	assert_equal "$(fingerprint "$MNT")" "$before"
	run ls "$STATE/$FS"
	assert_output "lock"
	run --separate-stderr bedup dedup --dry-run -v "$MNT"
	assert_success
	assert_line --index 0 --regexp $'^would-dedupe\t2097152\t'"$IDS"
	# the real run still finds them
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	shared "$MNT/a" "$MNT/b"
}

@test "dedup --size-cutoff: smaller files count; lowering it rescans from 0" {
	mkfile "$MNT/a" 512K
	copy "$MNT/a" "$MNT/b"
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 0 0)"
	apart "$MNT/a" "$MNT/b"
	# unchanged since the checkpoint, found again because the cutoff is lower
	run --separate-stderr bedup dedup --size-cutoff 256K "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 524288)"
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT/b"
	assert_equal "$(cat "$STATE/$FS/cutoff")" 262144
	# a higher cutoff keeps the checkpoints
	gen=$(cat "$STATE/$FS/5.gen")
	run --separate-stderr bedup dedup --size-cutoff=1M "$MNT"
	assert_success
	assert_equal "$(cat "$STATE/$FS/cutoff")" 1048576
	[ "$(cat "$STATE/$FS/5.gen")" -ge "$gen" ]
}

@test "dedup --flush --defrag -j 2: unsynced files are found and shared" {
	mkfile "$MNT/a" 3M
	copy "$MNT/a" "$MNT/b"
	copy "$MNT/a" "$MNT/c"
	run --separate-stderr bedup dedup --flush --defrag -j 2 "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 2 6291456)"
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT/b" "$MNT/c"
}

@test "dedup -R: read-only snapshots become destinations only with -R" {
	btrfs -q subvolume create "$MNT/v1"
	btrfs -q subvolume create "$MNT/v2"
	mkfile "$MNT/v1/x" 2M
	copy "$MNT/v1/x" "$MNT/v2/y"
	btrfs -q subvolume snapshot -r "$MNT/v1" "$MNT/s1"
	btrfs -q subvolume snapshot -r "$MNT/v2" "$MNT/s2"
	btrfs -q subvolume delete "$MNT/v1" "$MNT/v2"
	before=$(fingerprint "$MNT")
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 0 0)"
	apart "$MNT/s1/x" "$MNT/s2/y"
	bedup reset -y "$MNT" >/dev/null
	run --separate-stderr bedup dedup -R "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	shared "$MNT/s1/x" "$MNT/s2/y"
	assert_equal "$(btrfs property get -ts "$MNT/s1" ro)" "ro=true"
	assert_equal "$(fingerprint "$MNT")" "$before"
}

@test "dedup --state-dir DIR: the state goes there" {
	mkfile "$MNT/a" 2M
	copy "$MNT/a" "$MNT/b"
	run --separate-stderr bedup dedup --state-dir "$BATS_TEST_TMPDIR/other" "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	[ -f "$BATS_TEST_TMPDIR/other/$FS/5.gen" ]
	[ ! -e "$STATE" ]
}

# fake_stage NAME SCRIPT: a copy of bedup in $BATS_TEST_TMPDIR/bin whose
# stage NAME is the sh SCRIPT, the other stages the real ones
fake_stage() {
	local bin=$BATS_TEST_TMPDIR/bin s
	mkdir -p "$bin"
	cp "$BEDUP_ROOT/cmd/bedup/bedup" "$bin/bedup"
	for s in bedup-findnew bedup-group bedup-hash bedup-lock bedup-clone; do
		ln -sf "$(command -v "$s")" "$bin/$s"
	done
	rm "$bin/$1"
	printf '#!/bin/sh\n%s\n' "$2" >"$bin/$1"
	chmod +x "$bin/$1"
}

@test "a stage that fails is named, and no checkpoint is committed" {
	mkfile "$MNT/a" 2M
	copy "$MNT/a" "$MNT/b"
	fake_stage bedup-hash 'cat >/dev/null; echo "bedup-hash: injected failure" >&2; exit 2'
	run --separate-stderr "$BATS_TEST_TMPDIR/bin/bedup" dedup "$MNT"
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup-hash: injected failure
bedup: $FS: bedup-hash failed (exit status 2)
bedup: $FS: stopped; checkpoints not updated, the next run redoes this one"
	apart "$MNT/a" "$MNT/b"
	run ls "$STATE/$FS"
	refute_output --partial ".gen"
	fake_stage bedup-clone 'kill -KILL $$'
	run --separate-stderr "$BATS_TEST_TMPDIR/bin/bedup" dedup "$MNT"
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup: $FS: bedup-clone killed by signal 9
bedup: $FS: stopped; checkpoints not updated, the next run redoes this one"
	run ls "$STATE/$FS"
	refute_output --partial ".gen"
	# the real stages then do the job
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	shared "$MNT/a" "$MNT/b"
}

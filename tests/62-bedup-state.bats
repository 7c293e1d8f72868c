#!/usr/bin/env bats
# bedup state: incremental runs, scan, show, reset, forget-fs, the lock,
# and runs killed with SIGKILL.

load helpers
load bedup

setup() {
	requires root btrfs
	newfs 4G
}

teardown() {
	dropfs
}

@test "incremental: a new copy is shared, old files are not read again" {
	mkfile "$MNT/a" 3M
	copy "$MNT/a" "$MNT/b"
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 3145728)"
	copy "$MNT/a" "$MNT/c"
	named "$MNT"
	run --separate-stderr strace -f -qq -e trace=read,pread64,preadv,preadv2,mmap -y \
		-o "$BATS_TEST_TMPDIR/strace" bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 3145728)"
	assert_equal "$stderr" ""
	assert_equal "$(unnamed_reads "$BATS_TEST_TMPDIR/strace")" 0
	shared "$MNT/a" "$MNT/b" "$MNT/c"
	run grep -cE "<$BEDUP_RUN_DIR/$FS/[ab]>" "$BATS_TEST_TMPDIR/strace"
	assert_output 0
	# the new file was read: the trace does see reads of data files
	run grep -cE "^[0-9]+ +(p?read(64|v2?)?)\\(.*<$BEDUP_RUN_DIR/$FS/c>" "$BATS_TEST_TMPDIR/strace"
	[ "$output" -gt 0 ]
}

@test "reruns read no known file, read-only snapshot copies included" {
	# two copies of each of two contents, snapshotted read-only; then a
	# third copy of one, and a unique file of the same size
	btrfs subvolume create "$MNT/home" >/dev/null
	mkfile "$MNT/home/u1" 2M u1
	mkfile "$MNT/home/u2" 2M u2
	copy "$MNT/home/u1" "$MNT/home/c1"
	copy "$MNT/home/u2" "$MNT/home/c2"
	btrfs subvolume snapshot -r "$MNT/home" "$MNT/snap" >/dev/null
	copy "$MNT/home/u1" "$MNT/home/c3"
	# without checksums: the files of its size are sampled
	mkfile_nocsum "$MNT/home/u3" 2M u3
	named "$MNT"
	run --separate-stderr strace -f -qq -e trace=read,pread64,preadv,preadv2 -y \
		-o "$BATS_TEST_TMPDIR/strace.1" bedup dedup "$MNT"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(unnamed_reads "$BATS_TEST_TMPDIR/strace.1")" 0
	# the snapshot's copies are the sources; its own duplicates stay
	shared "$MNT/snap/u1" "$MNT/home/u1" "$MNT/home/c1" "$MNT/home/c3"
	shared "$MNT/snap/u2" "$MNT/home/u2" "$MNT/home/c2"
	apart "$MNT/snap/u1" "$MNT/snap/c1"
	# every file of the size was sampled: the catalog has their samples
	run bash -c "bedup-catalog -C '$STATE/$FS/catalog' list | grep -cE '^2097152	[0-9]+	[0-9]+	[0-9]+	([0-9a-f]{32}|-)	[0-9a-f]{32}(	([0-9a-f]{16}|-)(	[0-9a-f]{8})?)?\$'"
	assert_output 10
	# the run's second pass found the files it deduplicated into
	# changed (the dedupe updated their inodes) and their size came back,
	# but it read nothing: the known files have digests, u3, only ever
	# sampled, its sample. u3 was read 3 times, 4 KiB each: its sample.
	run grep -cE "<$BEDUP_RUN_DIR/$FS/home/u3>" "$BATS_TEST_TMPDIR/strace.1"
	assert_output 3
	# so the next runs find nothing to read, and the snapshot's unshared
	# copies are not taken again without -R
	for _ in 2 3; do
		named "$MNT"
		run --separate-stderr strace -f -qq -e trace=read,pread64,preadv,preadv2 -y \
			-o "$BATS_TEST_TMPDIR/strace" bedup dedup "$MNT"
		assert_success
		assert_output --regexp "$(summary_re 0 0)"
		assert_equal "$stderr" ""
		assert_equal "$(unnamed_reads "$BATS_TEST_TMPDIR/strace")" 0
		run grep -cE "<$BEDUP_RUN_DIR/$FS/" "$BATS_TEST_TMPDIR/strace"
		assert_output 0
	done
	# with -R the snapshot's own duplicates are still within reach,
	# without reading what is known
	named "$MNT"
	run --separate-stderr strace -f -qq -e trace=read,pread64,preadv,preadv2 -y \
		-o "$BATS_TEST_TMPDIR/strace" bedup dedup -R "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 2 4194304)"
	assert_equal "$stderr" ""
	assert_equal "$(unnamed_reads "$BATS_TEST_TMPDIR/strace")" 0
	shared "$MNT/snap/u1" "$MNT/snap/c1" "$MNT/home/u1" "$MNT/home/c3"
	shared "$MNT/snap/u2" "$MNT/snap/c2"
	run grep -cE "<$BEDUP_RUN_DIR/$FS/(home|snap)/[uc][12]>" "$BATS_TEST_TMPDIR/strace"
	assert_output 0
	[ "$(btrfs property get -ts "$MNT/snap" ro)" = ro=true ]
}

@test "a file rewritten in place with the same size is checked again" {
	mkfile "$MNT/a" 2M a
	mkfile "$MNT/b" 2M b
	# without checksums: the files of its size are sampled
	mkfile_nocsum "$MNT/n" 2M n
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 0 0)"
	# b becomes a's twin: same inode, same size, new content; its old
	# sample (unlike a's) is not believed
	dd if="$MNT/a" of="$MNT/b" bs=64K conv=notrunc status=none
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT/b"
	cmp "$MNT/a" "$MNT/b"
	# one byte of b's middle block changes: b is sampled again (its
	# sample differs from a's), not read in full, not shared; a, known,
	# is not read
	b=$(sha256sum <"$MNT/b")
	printf x | dd of="$MNT/b" bs=1 seek=$((1048576 + 5)) conv=notrunc status=none
	[ "$(sha256sum <"$MNT/b")" != "$b" ]
	b=$(sha256sum <"$MNT/b")
	run --separate-stderr strace -f -qq -e trace=read,pread64,preadv,preadv2 -y \
		-o "$BATS_TEST_TMPDIR/strace" bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 0 0)"
	assert_equal "$stderr" ""
	run grep -cE "<$BEDUP_RUN_DIR/$FS/a>" "$BATS_TEST_TMPDIR/strace"
	assert_output 0
	run grep -cE "<$BEDUP_RUN_DIR/$FS/b>" "$BATS_TEST_TMPDIR/strace"
	assert_output 3
	assert_equal "$(sha256sum <"$MNT/b")" "$b"
	! cmp -s "$MNT/a" "$MNT/b"
}

@test "scan tracks changes that the next dedup deduplicates" {
	mkfile "$MNT/a" 2M
	copy "$MNT/a" "$MNT/b"
	run --separate-stderr bedup scan "$MNT"
	assert_success
	assert_output --regexp "^bedup: $FS: 2 changed files tracked, [0-9]+ s$"
	assert_equal "$stderr" ""
	apart "$MNT/a" "$MNT/b"
	[ -f "$STATE/$FS/5.gen" ]
	assert_equal "$(cut -f7 "$STATE/$FS/changes" | sort)" \
		"$(printf "$BEDUP_RUN_DIR/$FS/%s\n" a b)"
	catalog_ok "$STATE/$FS/catalog"
	assert_equal "$(catalog_ids | wc -l)" 2
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT/b"
	[ ! -e "$STATE/$FS/changes" ]
}

@test "a run without --size-cutoff keeps the stored one, and the checkpoints" {
	mkfile "$MNT/a" 128K
	run --separate-stderr bedup scan --size-cutoff 64K "$MNT"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(cat "$STATE/$FS/cutoff")" 65536
	gen=$(cat "$STATE/$FS/5.gen")
	# two new identical files over the stored cutoff, under the default
	mkfile "$MNT/b" 128K b
	copy "$MNT/b" "$MNT/c"
	run --separate-stderr bedup dedup -v "$MNT"
	assert_success
	assert_line --regexp "$(summary_re 1 131072)"
	[[ $stderr != *rescanning* ]]
	shared "$MNT/b" "$MNT/c"
	assert_equal "$(cat "$STATE/$FS/cutoff")" 65536
	[ "$(cat "$STATE/$FS/5.gen")" -ge "$gen" ]
	# an explicit cutoff still wins, and is stored; a lower one rescans
	run --separate-stderr bedup dedup --size-cutoff 1M "$MNT"
	assert_success
	assert_equal "$(cat "$STATE/$FS/cutoff")" 1048576
	run --separate-stderr bedup dedup -v --size-cutoff 32K "$MNT"
	assert_success
	assert_equal "$(cat "$STATE/$FS/cutoff")" 32768
	[[ $stderr == *"size cutoff lowered from 1048576 to 32768: rescanning everything"* ]]
}

@test "show: filesystem, mounts, cutoff, last dedup, subvolumes" {
	btrfs filesystem label "$MNT" data
	btrfs -q subvolume create "$MNT/sv"
	mkfile "$MNT/a" 2M
	copy "$MNT/a" "$MNT/sv/b"
	mkfile "$MNT/c" 3M
	btrfs -q subvolume snapshot -r "$MNT/sv" "$MNT/snap"
	run --separate-stderr bedup show "$MNT"
	assert_success
	assert_equal "$stderr" ""
	dev=$(findmnt -nvo SOURCE "$MNT")
	assert_equal "$output" "$FS
	label: data
	devices: $dev
	mounted: $MNT (subvolid 5, rw)
	size cutoff: -
	last dedup: never
	  SUBVOL   CHECKPOINT    FILES  LAST DEDUP            DEDUPED        BYTES  PATH
	       5            -        0  never                       -            -  <top level>
	     256            -        0  never                       -            -  sv
	     257            -        0  never                       -            -  snap (read-only)"
	bedup dedup "$MNT" >/dev/null
	g5=$(cat "$STATE/$FS/5.gen")
	g256=$(cat "$STATE/$FS/256.gen")
	g257=$(cat "$STATE/$FS/257.gen")
	run --separate-stderr bedup show "$FS"
	assert_success
	assert_equal "$stderr" ""
	assert_line --index 4 "	size cutoff: 1048576"
	assert_line --index 5 --regexp '^	last dedup: 20[0-9-]+T[0-9:]+Z, 1 files, 2097152 bytes \(2.0 MiB\) newly shared, [0-9]+ s$'
	date=$(cut -f1 "$STATE/$FS/last")
	# the file shared went into a (top level) or sv/b, whichever was not the source
	assert_equal "$(cat "$STATE/$FS/5.last" "$STATE/$FS/256.last" | cut -f2- | sort)" \
		"$(printf '0\t0\n1\t2097152')"
	for sv in 5 256 257; do
		IFS=$'\t' read -r d n b <"$STATE/$FS/$sv.last"
		eval "n$sv=\$n b$sv=\$b"
		assert_equal "$d" "$date"
	done
	assert_line --index 7 "$(printf '\t%8s %12s %8s  %-20s %8s %12s  %s' 5 "$g5" 2 "$date" "$n5" "$b5" '<top level>')"
	assert_line --index 8 "$(printf '\t%8s %12s %8s  %-20s %8s %12s  %s' 256 "$g256" 1 "$date" "$n256" "$b256" sv)"
	assert_line --index 9 "$(printf '\t%8s %12s %8s  %-20s %8s %12s  %s' 257 "$g257" 1 "$date" 0 0 'snap (read-only)')"
	# unmounted: what the state directory knows
	umount "$MNT"
	run --separate-stderr bedup show "$FS"
	assert_success
	assert_equal "$stderr" ""
	assert_line --index 0 "$FS"
	assert_line --index 3 "	mounted: no"
	assert_line --index 4 "	size cutoff: 1048576"
	assert_line --index 7 "$(printf '\t%8s %12s %8s  %-20s %8s %12s  %s' 5 "$g5" 2 "$date" "$n5" "$b5" -)"
}

@test "reset asks, then drops checkpoints and catalog entries of its filter" {
	btrfs -q subvolume create "$MNT/sv"
	btrfs -q subvolume create "$MNT/sv/in"
	mkfile "$MNT/a" 2M
	copy "$MNT/a" "$MNT/sv/b"
	copy "$MNT/a" "$MNT/sv/in/c"
	# files of the same size, only ever sampled, keep their samples in
	# every subvolume
	mkfile_nocsum "$MNT/sv/u" 2M u
	mkfile "$MNT/sv/in/v" 2M v
	bedup dedup "$MNT" >/dev/null
	assert_equal "$(catalog_col 2 '$6 != "-"')" "5 256 257"
	ls "$STATE/$FS" >"$BATS_TEST_TMPDIR/before"
	# declining is no error: the answer "n", or no answer at all
	run --separate-stderr bedup reset "$MNT/sv" <<<"n"
	assert_success
	assert_output ""
	assert_equal "$stderr" "bedup: reset $FS: checkpoints and catalog entries of subvolumes 256 257? [y/N] 
bedup: $FS: not reset"
	ls "$STATE/$FS" | diff - "$BATS_TEST_TMPDIR/before"
	run --separate-stderr bedup reset "$MNT/sv" </dev/null
	assert_success
	assert_output ""
	assert_equal "$stderr" "bedup: reset $FS: checkpoints and catalog entries of subvolumes 256 257? [y/N] 
bedup: $FS: not reset"
	ls "$STATE/$FS" | diff - "$BATS_TEST_TMPDIR/before"
	run --separate-stderr bedup reset -y vol:"$MNT/sv"
	assert_success
	assert_output "bedup: reset $FS: checkpoints and catalog entries of subvolumes 256"
	assert_equal "$stderr" ""
	[ ! -e "$STATE/$FS/256.gen" ] && [ -e "$STATE/$FS/257.gen" ] && [ -e "$STATE/$FS/5.gen" ]
	assert_equal "$(catalog_col 2)" "5 257"
	assert_equal "$(catalog_col 2 '$6 != "-"')" "5 257"
	run --separate-stderr bedup reset "$MNT/sv" <<<"y"
	assert_success
	assert_output "bedup: reset $FS: checkpoints and catalog entries of subvolumes 256 257"
	[ ! -e "$STATE/$FS/257.gen" ] && [ -e "$STATE/$FS/5.gen" ]
	assert_equal "$(catalog_col 2)" "5"
	assert_equal "$(catalog_col 2 '$6 != "-"')" "5"
	run --separate-stderr bedup reset -y "$FS"
	assert_success
	assert_output "bedup: reset $FS: every checkpoint and the whole catalog"
	# what the last dedups did stays
	run ls "$STATE/$FS"
	assert_output "256.last
257.last
5.last
cutoff
last
lock
run"
	# everything is found again
	copy "$MNT/a" "$MNT/d"
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	assert_equal "$(catalog_ids | wc -l)" 6
}

@test "forget-fs asks, then drops all the state of a filesystem" {
	mkfile "$MNT/a" 2M
	bedup dedup "$MNT" >/dev/null
	[ -d "$STATE/$FS" ]
	ls "$STATE/$FS" >"$BATS_TEST_TMPDIR/before"
	q="bedup: forget $FS: every checkpoint, the catalog and the last dedups? [y/N] "
	run --separate-stderr bedup forget-fs "$FS" <<<"n"
	assert_success
	assert_output ""
	assert_equal "$stderr" "$q
bedup: $FS: not forgotten"
	run --separate-stderr bedup forget-fs "$FS" </dev/null
	assert_success
	assert_output ""
	assert_equal "$stderr" "$q
bedup: $FS: not forgotten"
	ls "$STATE/$FS" | diff - "$BATS_TEST_TMPDIR/before"
	run --separate-stderr bedup forget-fs "$(tr a-f A-F <<<"$FS")" <<<"y"
	assert_success
	assert_output ""
	# (bats drops the trailing blank of a last line)
	assert_equal "$stderr" "${q% }"
	[ ! -e "$STATE/$FS" ]
	bedup dedup "$MNT" >/dev/null
	run --separate-stderr bedup forget-fs -y "$FS" </dev/null
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	[ ! -e "$STATE/$FS" ]
	run --separate-stderr bedup forget-fs -y "$FS"
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "bedup: $FS: nothing known about it in $STATE"
}

@test "the lock: --no-wait skips a filesystem in use; without it, bedup waits" {
	mkfile "$MNT/a" 2M
	copy "$MNT/a" "$MNT/b"
	mkdir -p "$STATE/$FS"
	exec 8>>"$STATE/$FS/lock"
	flock 8
	run --separate-stderr bedup dedup --no-wait "$MNT" 8>&-
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "bedup: $FS: another bedup run is working on it, skipped (--no-wait)"
	apart "$MNT/a" "$MNT/b"
	bedup dedup "$MNT" >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 8>&- 3>&- &
	pid=$!
	sleep 2
	kill -0 "$pid"                  # still waiting for the lock
	apart "$MNT/a" "$MNT/b"
	exec 8>&-
	wait "$pid"
	run cat "$BATS_TEST_TMPDIR/out"
	assert_output --regexp "$(summary_re 1 2097152)"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" ""
	shared "$MNT/a" "$MNT/b"
}

@test "two concurrent runs on one filesystem" {
	mkfile "$MNT/a" 64M
	for i in 1 2 3 4 5; do copy "$MNT/a" "$MNT/a$i"; done
	before=$(fingerprint "$MNT")
	bedup dedup "$MNT" >"$BATS_TEST_TMPDIR/out1" 2>"$BATS_TEST_TMPDIR/err1" 3>&- &
	p1=$!
	bedup dedup "$MNT" >"$BATS_TEST_TMPDIR/out2" 2>"$BATS_TEST_TMPDIR/err2" 3>&- &
	p2=$!
	wait "$p1"
	wait "$p2"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err1" "$BATS_TEST_TMPDIR/err2")" ""
	run cat "$BATS_TEST_TMPDIR/out1" "$BATS_TEST_TMPDIR/out2"
	assert_equal "${#lines[@]}" 2
	# one did it all, the other found nothing left to do
	run sort "$BATS_TEST_TMPDIR/out1" "$BATS_TEST_TMPDIR/out2"
	assert_line --index 0 --regexp "$(summary_re 0 0)"
	assert_line --index 1 --regexp "$(summary_re 5 335544320)"
	shared "$MNT/a" "$MNT"/a[1-5]
	assert_equal "$(fingerprint "$MNT")" "$before"
	catalog_ok "$STATE/$FS/catalog"
	assert_equal "$(catalog_ids | wc -l)" 6
}

# kill_when_reading STAGE BYTES: SIGKILL the session of $KPID once its
# STAGE process has read BYTES
kill_when_reading() {
	local p r i
	for ((i = 0; i < 20000; i++)); do
		for p in $(pgrep -s "$KPID" -x "$1"); do
			r=$(awk '$1 == "rchar:" { print $2 }' "/proc/$p/io" 2>/dev/null)
			if [ "${r:-0}" -ge "$2" ]; then
				kill -KILL -- "-$KPID"
				return 0
			fi
		done
		kill -0 "$KPID" 2>/dev/null || return 1
		sleep 0.005
	done
	return 1
}

# kill_when_shared FILE...: SIGKILL the session of $KPID once bedup-clone
# runs and the first file shares its data
kill_when_shared() {
	local i
	for ((i = 0; i < 20000; i++)); do
		if [ -n "$(pgrep -s "$KPID" -x bedup-clone)" ] &&
			filefrag -v "$1" 2>/dev/null | grep -q shared; then
			kill -KILL -- "-$KPID"
			return 0
		fi
		kill -0 "$KPID" 2>/dev/null || return 1
		sleep 0.005
	done
	return 1
}

# state_intact: the state files parse, no checkpoint was committed
state_intact() {
	catalog_ok "$STATE/$FS/catalog"
	run ls "$STATE/$FS"
	refute_output --partial ".gen"
	refute_output --partial "changes"
}

@test "SIGKILL while hashing: nothing changed, state intact, the rerun does it" {
	mkfile "$MNT/a" 256M
	for i in 1 2 3; do copy "$MNT/a" "$MNT/a$i"; done
	sync -f "$MNT"
	before=$(fingerprint "$MNT")
	start_killable bedup dedup "$MNT"
	kill_when_reading bedup-hash $((64 << 20))
	st=0
	wait "$KPID" || st=$?
	assert_equal "$st" 137          # killed, not finished
	apart "$MNT/a" "$MNT/a1"
	apart "$MNT/a2" "$MNT/a3"
	assert_equal "$(fingerprint "$MNT")" "$before"
	state_intact
	run --separate-stderr bedup dedup --no-wait "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 3 805306368)"
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT/a1" "$MNT/a2" "$MNT/a3"
	assert_equal "$(fingerprint "$MNT")" "$before"
}

@test "SIGKILL while cloning: nothing changed, state intact, the rerun does it" {
	mkfile "$MNT/a" 32M
	for i in $(seq 1 31); do copy "$MNT/a" "$MNT/a$i"; done
	sync -f "$MNT"
	before=$(fingerprint "$MNT")
	start_killable bedup dedup "$MNT"
	kill_when_shared "$MNT/a" "$MNT"/a*
	st=0
	wait "$KPID" || st=$?
	assert_equal "$st" 137          # killed, not finished
	assert_equal "$(fingerprint "$MNT")" "$before"
	state_intact
	run --separate-stderr bedup dedup --no-wait "$MNT"
	assert_success
	assert_output --regexp "^bedup: $FS: [1-9][0-9]* files deduplicated, "
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT"/a[0-9]*
	assert_equal "$(fingerprint "$MNT")" "$before"
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 0 0)"
}

@test "temp files a killed run left in the state directory: the next run removes them, nothing else" {
	mkfile "$MNT/a" 2M
	copy "$MNT/a" "$MNT/b"
	bedup dedup "$MNT" >/dev/null
	# a stage killed as it renames the catalog it merged leaves the new
	# one behind (a run's first rename(2): mv uses renameat2)
	copy "$MNT/a" "$MNT/c"
	run --separate-stderr strace -f -qq -o /dev/null -e trace=rename \
		-e inject=rename:signal=KILL env BEDUP_CATALOG_JOURNAL_MAX=0 bedup dedup "$MNT"
	assert_failure 2
	ls "$STATE/$FS"/catalog.tmp.??????
	# those put_line and put_lines would leave, and names near them, kept
	head -c 65536 /dev/urandom >"$STATE/$FS/catalog.tmp.AbC123"
	echo 7 >"$STATE/$FS/5.gen.tmp.4242"
	mkdir -p "$STATE/$FS/.new"
	echo x >"$STATE/$FS/.new/9.last"
	for f in notes.txt catalog.tmp catalog.tmp.AbC12 catalog.tmp.AbC12-; do
		echo keep >"$STATE/$FS/$f"
	done
	# not while another run holds the lock: it may be writing them
	exec 8>>"$STATE/$FS/lock"
	flock 8
	run bedup dedup --no-wait "$MNT" 8>&-
	assert_failure 1
	exec 8>&-
	[ -e "$STATE/$FS/catalog.tmp.AbC123" ]
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT/b" "$MNT/c"
	catalog_ok "$STATE/$FS/catalog"
	run bash -c "cd '$STATE/$FS' && ls -A | grep -E 'tmp|notes'; ls -A .new"
	assert_output "catalog.tmp
catalog.tmp.AbC12
catalog.tmp.AbC12-
notes.txt"
}

@test "tiny files with inline data are left alone and not taken again" {
	# under 2 KiB btrfs keeps the data in the metadata: sharing frees
	# nothing, and a dedupe would rewrite the files, so that every run
	# would find them changed and "deduplicate" them again
	mkfile "$MNT/t1" 1000 t
	copy "$MNT/t1" "$MNT/t2"
	mkfile "$MNT/s1" 8000 s
	copy "$MNT/s1" "$MNT/s2"
	sync
	meta "$MNT/t1" "$MNT/t2" >"$BATS_TEST_TMPDIR/meta.before"
	run --separate-stderr bedup dedup --size-cutoff 1 "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 8000)"
	assert_equal "$stderr" ""
	shared "$MNT/s1" "$MNT/s2"
	# nothing left for the next run to take again, and not tracked: a
	# new file of their size brings neither back
	run bash -c "cat '$STATE/$FS/changes' 2>/dev/null"
	assert_output ""
	assert_equal "$(catalog_ids)" "$(tracked "$MNT/s1" "$MNT/s2")"
	run --separate-stderr bedup dedup --size-cutoff 1 "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 0 0)"
	assert_equal "$stderr" ""
	meta "$MNT/t1" "$MNT/t2" >"$BATS_TEST_TMPDIR/meta.after"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/meta.after")" "$(cat "$BATS_TEST_TMPDIR/meta.before")"
	assert_equal "$(cmp "$MNT/t1" "$MNT/t2" && echo same)" same
}

@test "a run looks again at what it deduplicated: the next finds nothing changed" {
	btrfs subvolume create "$MNT/v" >/dev/null
	mkfile "$MNT/v/a" 3M a
	copy "$MNT/v/a" "$MNT/v/b"
	copy "$MNT/v/a" "$MNT/c"
	mkfile "$MNT/v/u" 3M u
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 2 6291456)"
	assert_equal "$stderr" ""
	shared "$MNT/v/a" "$MNT/v/b" "$MNT/c"
	# the dedupe gave b and c new transaction ids; the checkpoints the
	# run left are past them, and the catalog kept their digests
	run --separate-stderr bedup-findnew -S "$STATE" "$MNT"
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	tracked "$MNT/v/a" "$MNT/v/b" "$MNT/c" >"$BATS_TEST_TMPDIR/want"
	run bash -c "bedup-catalog -C '$STATE/$FS/catalog' list | awk -F'\t' '\$5 != \"-\" { print \$2 \"\t\" \$3 }' |
		grep -cxFf '$BATS_TEST_TMPDIR/want'"
	assert_output 3
	# and a change after the run is still found
	printf x >>"$MNT/v/b"
	sync
	run --separate-stderr bedup-findnew -S "$STATE" "$MNT"
	assert_success
	assert_output "$(record "$MNT/v/b")"
}

# opened STAGE: the files STAGE opened in the run whose stderr is in
# $stderr, from the lines -v ends with; empty when it has no line
opened() {
	sed -n "s/^bedup: $FS: $1: \\([0-9]*\\) files opened, [0-9]* bytes (.*) read from storage\$/\\1/p" \
		<<<"$stderr"
}

@test "-v ends with each stage's files opened and bytes read, both passes summed" {
	local s
	mkfile "$MNT/a" 1M
	copy "$MNT/a" "$MNT/b"
	copy "$MNT/a" "$MNT/c"
	run --separate-stderr bedup dedup -v "$MNT"
	assert_success
	assert_line --regexp "$(summary_re 2 2097152)"
	# the last five lines, one per stage, in pipeline order
	assert_equal "$(tail -n 5 <<<"$stderr" | sed 's/: [0-9]* files opened, .*//')" \
		"$(for s in findnew group hash lock clone; do echo "bedup: $FS: bedup-$s"; done)"
	# the search and the grouping open no file; each member was read in
	# full, once; lock and clone opened each at least once
	assert_equal "$(opened bedup-findnew)" 0
	assert_equal "$(opened bedup-group)" 0
	[ "$(opened bedup-hash)" -ge 3 ]
	[ "$(opened bedup-lock)" -ge 3 ]
	[ "$(opened bedup-clone)" -ge 3 ]
	# without -v nothing of it
	copy "$MNT/a" "$MNT/d"
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_equal "$stderr" ""
}

@test "one more copy of 60 identical files: the rerun opens a few files, not 60" {
	local i n total
	mkfile "$MNT/f0" 100000 sixty
	for i in $(seq 1 59); do copy "$MNT/f0" "$MNT/f$i"; done
	run --separate-stderr bedup dedup --size-cutoff 1 -v "$MNT"
	assert_success
	assert_line --regexp "$(summary_re 59 [0-9]+)"
	[ "$(opened bedup-hash)" -ge 60 ]
	# its second look: the 59 files shared into now share all of f0's
	# data, and are left out before any stage opens them
	assert_equal "$(grep -c '^bedup-group: 59 files left out: they share all their data with an unchanged tracked file$' <<<"$stderr")" 1
	assert_equal "$(grep -c '^bedup-hash: 0 files opened, ' <<<"$stderr")" 1
	copy "$MNT/f0" "$MNT/f60"
	run --separate-stderr bedup dedup --size-cutoff 1 -v "$MNT"
	assert_success
	assert_line --regexp "$(summary_re 1 [0-9]+)"
	shared "$MNT/f0" "$MNT/f60"
	total=0
	for i in bedup-hash bedup-lock bedup-clone; do
		n=$(opened "$i")
		echo "$i opened $n files"
		total=$((total + n))
	done
	# the new copy and a source of the group, each stage, both passes:
	# a small constant, whatever the size of the group
	[ "$total" -le 8 ]
}

@test "a new copy among 40 files of its size: only its original comes back, in both passes" {
	local i
	for i in $(seq 1 40); do mkfile "$MNT/f$i" 65536 "f$i"; done
	copy "$MNT/f1" "$MNT/c1"
	run --separate-stderr bedup dedup --size-cutoff 1 -v "$MNT"
	assert_success
	assert_line --regexp "$(summary_re 1 65536)"
	# the run learnt every file's checksum key
	assert_equal "$(keys "$STATE/$FS/catalog" | wc -l)" 41
	copy "$MNT/f7" "$MNT/new"
	run --separate-stderr bedup dedup --size-cutoff 1 -v "$MNT"
	assert_success
	assert_line --regexp "$(summary_re 1 65536)"
	shared "$MNT/f7" "$MNT/new"
	# the first pass: of the 41 files tracked, only f7 may hold the new
	# copy's bytes; the second: new, deduplicated into, so changed, now
	# shares all of f7's data, and is left out, its size not looked at
	assert_equal "$(grep -c '^bedup-group: 40 tracked files left out: ' <<<"$stderr")" 1
	assert_equal "$(grep -c 'tracked files left out' <<<"$stderr")" 1
	assert_equal "$(grep -c '^bedup-group: 1 files left out: they share all their data with an unchanged tracked file$' <<<"$stderr")" 1
	# and a rerun finds nothing changed: no group, nothing left out
	run --separate-stderr bedup dedup --size-cutoff 1 -v "$MNT"
	assert_success
	assert_equal "$(grep -c 'tracked files left out' <<<"$stderr")" 0
	assert_equal "$(opened bedup-hash)" 0
}

@test "on compress=zstd, a rerun with nothing changed opens no file and reads no data" {
	local i s dev s0 s1 bytes
	mount -o remount,compress=zstd:1 "$MNT"
	# text compresses: the copies are compressed extents, which FIEMAP
	# cannot tell shared or not
	mkfile "$BATS_TEST_TMPDIR/seed" 300000 zstd
	od -An -tx1 -v "$BATS_TEST_TMPDIR/seed" | head -c 1000000 >"$MNT/a"
	for i in 1 2 3 4; do copy "$MNT/a" "$MNT/c$i"; done
	sync
	filefrag -v "$MNT/a" | grep -q encoded
	run --separate-stderr bedup dedup --size-cutoff 1 -v "$MNT"
	assert_success
	shared "$MNT/a" "$MNT/c1" "$MNT/c2" "$MNT/c3" "$MNT/c4"
	# from a cold cache: the filesystem mounted again
	umount "$MNT"
	mount -o loop,compress=zstd:1 "$IMG" "$MNT"
	dev=$(findmnt -nvo SOURCE "$MNT")
	s0=$(awk '{ print $3 }' "/sys/block/${dev#/dev/}/stat")
	run --separate-stderr bedup dedup --size-cutoff 1 -v "$MNT"
	s1=$(awk '{ print $3 }' "/sys/block/${dev#/dev/}/stat")
	echo "$stderr" | tail -n 5
	echo "loop device: $(((s1 - s0) * 512)) bytes read"
	assert_success
	for s in bedup-hash bedup-lock bedup-clone; do
		assert_equal "$s $(opened "$s")" "$s 0"
	done
	assert_line --regexp "$(summary_re 0 0)"
	# metadata only: the search, the mount; less than the data of one
	# copy, which is about 450 KiB compressed
	bytes=$(sed -n 's/^bedup: [^ ]*: bedup-[a-z]*: [0-9]* files opened, \([0-9]*\) bytes .*/\1/p' \
		<<<"$stderr" | awk '{ s += $1 } END { print s + 0 }')
	[ "$bytes" -lt 262144 ]
	[ $(((s1 - s0) * 512)) -lt 1048576 ]
}

@test "a catalog of bedup 0.1's form is converted on the next run, its digests kept" {
	local h
	mkfile "$MNT/a" 1M old
	copy "$MNT/a" "$MNT/b"
	mkfile "$MNT/x" 1M other
	bedup dedup --size-cutoff 1 "$MNT" >/dev/null
	h=$(xxhsum -H2 "$MNT/a" | cut -d' ' -f1)
	# the state as bedup 0.1 left it: a record (with its path) per file
	bedup-catalog -C "$STATE/$FS/catalog" records -m "$MNT" >"$BATS_TEST_TMPDIR/old"
	assert_equal "$(cut -f2,7 "$BATS_TEST_TMPDIR/old" | sort)" \
		"$(printf '%s\t%s\n' "$h" "$MNT/a" "$h" "$MNT/b" - "$MNT/x" | sort)"
	rm -f "$STATE/$FS/catalog.journal"
	cp "$BATS_TEST_TMPDIR/old" "$STATE/$FS/catalog"
	# a new copy: a's and b's digests come from the converted catalog,
	# so neither is opened
	copy "$MNT/a" "$MNT/c"
	run --separate-stderr bedup dedup --size-cutoff 1 -v "$MNT"
	assert_success
	assert_line --regexp "$(summary_re 1 1048576)"
	shared "$MNT/a" "$MNT/c"
	assert_equal "$(head -n 1 "$STATE/$FS/catalog")" "# bedup catalog 4 $FS"
	catalog_ok "$STATE/$FS/catalog"
	assert_equal "$(catalog_ids)" "$(tracked "$MNT/a" "$MNT/b" "$MNT/c" "$MNT/x")"
	run bash -c "bedup-catalog -C '$STATE/$FS/catalog' list | cut -f5 | grep -c '$h'"
	assert_output 3
}

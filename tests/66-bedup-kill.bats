#!/usr/bin/env bats
# bedup dedup under SIGKILL at 20 points the test picks at random over a
# run, and bedup dedup --same-owner.

load helpers
load bedup

setup() {
	requires root btrfs
	newfs 4G
}

teardown() {
	dropfs
}

# state_parses: every state file of the filesystem is what it should be:
# the catalog reads without a complaint, records in the changes, one
# decimal number in each checkpoint and in the cutoff.
state_parses() {
	local f
	catalog_ok "$STATE/$FS/catalog"
	f=$STATE/$FS/changes
	if [ -e "$f" ]; then
		run --separate-stderr bedup-group "$f"
		assert_success
		assert_equal "$stderr" ""
	fi
	for f in "$STATE/$FS"/*.gen "$STATE/$FS/cutoff"; do
		[ -e "$f" ] || continue
		grep -Eqx '[0-9]+' "$f" && [ "$(wc -l <"$f")" = 1 ] ||
			{ echo "$f: not one decimal line: $(cat "$f")" >&2; return 1; }
	done
}

# set_of N: a directory of 4 identical files of 8 MiB, new for round N.
set_of() {
	mkdir -p "$MNT/s$1"
	mkfile "$MNT/s$1/a" 8M "kill$1"
	for f in b c d; do copy "$MNT/s$1/a" "$MNT/s$1/$f"; done
	sync -f "$MNT"
}

@test "SIGKILL at 20 random points of bedup dedup: files unchanged, state parses, the rerun completes" {
	local round k t0 full ms before st points=
	# the length of a full run over one new set, to spread the points on
	set_of 0
	t0=$(date +%s%N)
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_equal "$stderr" ""
	full=$(( ($(date +%s%N) - t0) / 1000000 ))
	shared "$MNT/s0/a" "$MNT"/s0/[bcd]
	RANDOM=7                    # the same points on every run of the test
	for round in $(seq 1 20); do
		set_of "$round"
		before=$(fingerprint "$MNT")
		ms=$(( RANDOM % (full + full / 5 + 1) ))
		points="$points $ms"
		start_killable bedup dedup "$MNT"
		sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
		kill -KILL -- "-$KPID" 2>/dev/null || true
		st=0
		wait "$KPID" || st=$?
		# every process of the run is gone (pipeline stages too)
		for k in $(seq 500); do
			[ -z "$(pgrep -s "$KPID")" ] && break
			sleep 0.01
		done
		assert_equal "$(pgrep -s "$KPID")" ""
		echo "# round $round: killed after $ms ms of a $full ms run, exit $st" >&3
		assert_equal "$(fingerprint "$MNT")" "$before"
		state_parses
		run --separate-stderr bedup dedup --no-wait "$MNT"
		assert_success
		assert_equal "$stderr" ""
		# (not i and j: a helper of bats overwrote them)
		for k in $(seq 0 "$round"); do
			shared "$MNT/s$k/a" "$MNT"/s"$k"/[bcd]
		done
		assert_equal "$(fingerprint "$MNT")" "$before"
		state_parses
	done
	echo "# kill points (ms):$points" >&3
}

@test "bedup dedup --same-owner: each owner's files shared, never across owners; dedup-files too" {
	mkfile "$MNT/a" 2M own
	for f in b c d e f; do copy "$MNT/a" "$MNT/$f"; done
	chown 1000 "$MNT/a" "$MNT/b" "$MNT/e"
	chown 2000 "$MNT/c" "$MNT/d" "$MNT/f"
	sync -f "$MNT"
	before=$(fingerprint "$MNT")
	run --separate-stderr bedup dedup --same-owner "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 4 8388608)"
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT/b" "$MNT/e"
	shared "$MNT/c" "$MNT/d" "$MNT/f"
	apart "$MNT/a" "$MNT/c"
	assert_equal "$(fingerprint "$MNT")" "$before"
	# dedup-files passes it on: a file of another owner is left alone
	mkfile "$MNT/x" 2M own2
	copy "$MNT/x" "$MNT/y"
	chown 1000 "$MNT/x"
	chown 2000 "$MNT/y"
	run --separate-stderr bedup dedup-files --same-owner "$MNT/x" "$MNT/y"
	assert_success
	assert_output "bedup: 0 files deduplicated, 0 bytes (0 B) newly shared"
	assert_equal "$stderr" ""
	apart "$MNT/x" "$MNT/y"
	# and without it they are shared
	run --separate-stderr bedup dedup-files "$MNT/x" "$MNT/y"
	assert_success
	assert_output "bedup: 1 files deduplicated, 2097152 bytes (2.0 MiB) newly shared"
	assert_equal "$stderr" ""
	shared "$MNT/x" "$MNT/y"
}

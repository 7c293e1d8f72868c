#!/usr/bin/env bats
# bedup dedup and the files it leaves by policy (immutable, append-only,
# nodatacow unlike their group) or for now (in use): notes, exit 0, and
# only what may fare better is taken again; churn between runs is quiet.

load helpers
load bedup

setup() {
	requires root btrfs
	newfs 2G
}

teardown() {
	chattr -i "$MNT/i" 2>/dev/null || true
	dropfs
}

# skip_re FILES BYTES MORE: the summary line, with MORE after the bytes
skip_re() {
	printf '^bedup: %s: %s files deduplicated, %s bytes \\(.*\\) newly shared%s, [0-9]+ s$' \
		"$FS" "$1" "$2" "$3"
}

@test "a skip by policy is a note, exit 0, counted, and not taken again" {
	mkfile "$MNT/a" 2M a
	copy "$MNT/a" "$MNT/b"
	copy "$MNT/a" "$MNT/i"
	chattr +i "$MNT/i"
	# a nodatacow copy of a datacow file: a pair that cannot share
	mkfile "$MNT/x" 3M x
	touch "$MNT/n"
	chattr +C "$MNT/n"
	cat "$MNT/x" >>"$MNT/n"
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(skip_re 1 2097152 ', 2 skipped')"
	assert_equal "$(sort <<<"$stderr")" "bedup-lock: $MNT/i: immutable, skipped
bedup-lock: $MNT/n: nodatacow unlike the rest of its group, skipped"
	shared "$MNT/a" "$MNT/b"
	apart "$MNT/a" "$MNT/i"
	apart "$MNT/x" "$MNT/n"
	# nothing fed back to the next run: no records reach the stages
	[ ! -e "$STATE/$FS/changes" ]
	run --separate-stderr bedup dedup -v "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 0 0)"
	[[ $stderr != *skipped* ]]
	[[ $stderr == *"bedup-lock: 0 of 0 groups, 0 of 0 files passed"* ]]
	[ ! -e "$STATE/$FS/changes" ]
	# a change of the file lifts the skip: chattr -i gives it a new
	# transaction id, the search finds it, the catalog its group
	chattr -i "$MNT/i"
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT/b" "$MNT/i"
	apart "$MNT/x" "$MNT/n"
}

@test "a file in use is a note, exit 0, counted, and taken again" {
	mkfile "$MNT/a" 2M
	copy "$MNT/a" "$MNT/b"
	exec 7>>"$MNT/b"
	run --separate-stderr bedup dedup "$MNT" 7>&-
	exec 7>&-
	assert_success
	assert_output --regexp "$(skip_re 0 0 ', 1 in use')"
	assert_equal "$stderr" "bedup-lock: $MNT/b: in use, skipped"
	apart "$MNT/a" "$MNT/b"
	[ -s "$STATE/$FS/changes" ]
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT/b"
	[ ! -e "$STATE/$FS/changes" ]
}

@test "churn between runs: files deleted and recreated are dropped quietly" {
	local i
	mkdir "$MNT/d"
	# files of one size: one candidate group, each tracked by the catalog
	for i in $(seq 200); do mkfile "$MNT/d/f$i" 8K "s$i"; done
	copy "$MNT/d/f1" "$MNT/d/g1"
	run --separate-stderr bedup dedup -q --size-cutoff 4K "$MNT"
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	# a writer replaces 40 of them (save by rename), deletes 20
	for i in $(seq 2 41); do
		mkfile "$MNT/d/.new" 8K "t$i"
		mv "$MNT/d/.new" "$MNT/d/f$i"
	done
	for i in $(seq 42 61); do rm "$MNT/d/f$i"; done
	copy "$MNT/d/f2" "$MNT/d/g2"
	run --separate-stderr bedup dedup -q "$MNT"
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	shared "$MNT/d/f2" "$MNT/d/g2"
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 0 0)"
	assert_equal "$stderr" ""
}

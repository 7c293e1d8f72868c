#!/usr/bin/env bats
# The benchmark's own instruments (bench/): the corpus generator is seeded
# and deterministic, its computed savings are what the manifest measures on
# the real filesystem, and the manifest sees a changed file.

load helpers

USAGE='usage: mkcorpus [-n FILES] [-S SEED] -i | -p 0|1 DIR | -m DIR'

setup_file() {
	requires root btrfs
	btrfs_mount 2G
	# the layout bench/run makes: subvolumes, phase 0, snapshot, phase 1
	local v
	for v in home home/cache projects media; do
		btrfs -q subvolume create "$MNT/$v" >/dev/null
	done
	mkdir "$MNT/snap"
	"$BEDUP_ROOT/bench/mkcorpus" -n 600 -S 7 -p 0 "$MNT"
	sync
	btrfs -q subvolume snapshot -r "$MNT/home" "$MNT/snap/home-ro" >/dev/null
	"$BEDUP_ROOT/bench/mkcorpus" -n 600 -S 7 -p 1 "$MNT"
	sync
}

teardown_file() {
	btrfs_unmount
}

mkcorpus() { "$BEDUP_ROOT/bench/mkcorpus" "$@"; }
manifest() { "$BEDUP_ROOT/bench/manifest" "$@"; }

@test "mkcorpus -i: the same seed gives the same corpus, another seed another" {
	run --separate-stderr mkcorpus -n 600 -S 7 -i
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	first=$output
	[[ $output == *"files 600"* ]]
	[[ $output == *"files_copy "* ]]
	run --separate-stderr mkcorpus -n 600 -S 7 -i
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	[ "$output" = "$first" ]
	run --separate-stderr mkcorpus -n 600 -S 8 -i
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	[ "$output" != "$first" ]
}

@test "mkcorpus: bad options are exit 2 with the usage; -h prints it" {
	run --separate-stderr mkcorpus -x
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[[ $stderr == *"$USAGE" ]]
	run --separate-stderr mkcorpus -n 1k -i
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[ "$stderr" = "$USAGE" ]
	run --separate-stderr mkcorpus -p 2 "$MNT"
	[ "$status" -eq 2 ]
	[ "$stderr" = "$USAGE" ]
	run --separate-stderr mkcorpus -h
	[ "$status" -eq 0 ]
	[ "$output" = "$USAGE" ]
	[ -z "$stderr" ]
}

@test "the savings mkcorpus computes are what the manifest measures on btrfs" {
	want=$(mkcorpus -n 600 -S 7 -i | awk '$1 == "savings_1" { print $2 }')
	[ "$want" -gt 0 ]
	run --separate-stderr manifest "$MNT"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	printf '%s\n' "$output" | LC_ALL=C sort >"$BATS_FILE_TMPDIR/m1"
	run --separate-stderr awk -F '\t' -v cut=1 -f "$BEDUP_ROOT/bench/left.awk" "$BATS_FILE_TMPDIR/m1"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${output%% *}" = "$want" ]
	# every kind is there: hard links, symlinks, the snapshot, a newline name
	grep -q $'\tl\t' "$BATS_FILE_TMPDIR/m1"
	awk -F '\t' '$2 == "f" && $4 > 1 { n++ } END { exit !n }' "$BATS_FILE_TMPDIR/m1"
	grep -q '^snap/home-ro/' "$BATS_FILE_TMPDIR/m1"
	grep -q '\\nnewline' "$BATS_FILE_TMPDIR/m1"
}

@test "manifest: stable on an unchanged tree; mkcorpus -m changes 2% of the files" {
	manifest "$MNT" | LC_ALL=C sort >"$BATS_FILE_TMPDIR/a"
	manifest "$MNT" | LC_ALL=C sort >"$BATS_FILE_TMPDIR/b"
	cmp "$BATS_FILE_TMPDIR/a" "$BATS_FILE_TMPDIR/b"
	run --separate-stderr mkcorpus -n 600 -S 7 -m "$MNT"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ $output =~ ^changed\ ([0-9]+)$ ]]
	n=${BASH_REMATCH[1]}
	[ "$n" -gt 0 ] && [ "$n" -le 30 ]
	sync
	manifest "$MNT" | LC_ALL=C sort >"$BATS_FILE_TMPDIR/c"
	cut -f1-10 "$BATS_FILE_TMPDIR/a" >"$BATS_FILE_TMPDIR/a10"
	cut -f1-10 "$BATS_FILE_TMPDIR/c" >"$BATS_FILE_TMPDIR/c10"
	! cmp -s "$BATS_FILE_TMPDIR/a10" "$BATS_FILE_TMPDIR/c10"
	# the snapshot is read-only: nothing in it changed
	grep '^snap/' "$BATS_FILE_TMPDIR/a10" >"$BATS_FILE_TMPDIR/sa"
	grep '^snap/' "$BATS_FILE_TMPDIR/c10" >"$BATS_FILE_TMPDIR/sc"
	cmp "$BATS_FILE_TMPDIR/sa" "$BATS_FILE_TMPDIR/sc"
}

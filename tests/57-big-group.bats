#!/usr/bin/env bats
# One group of 131,072 identical files (2^17 reflinked copies of one file:
# distinct inodes, one extent) through bedup-lock and bedup-clone. Hard
# links are told apart once per group by a sort (bd_group_links), n log n:
# the former scan of every earlier record for each record took 5 * 10^9
# comparisons here. Not a speed target: the check is the stage's user CPU
# time, far below what the quadratic scan alone spends (over 30 s on a
# machine where the sort takes under 1 s), and the real outcome.

load helpers

N=131072

setup_file() {
	requires root btrfs
	btrfs_mount 2G
	local d=$MNT/d i fs
	mkdir "$d"
	mkfile "$d/f" 8192
	# each cp -r doubles the tree: 2^17 files in 17 steps
	for i in $(seq 17); do
		cp -r --reflink=always "$d" "$MNT/t" && mv "$MNT/t" "$d/$i" || return 1
	done
	fs=$(fsid "$MNT")
	# the records RECORDS.md gives them, as record() makes them but in
	# batches: generations from lsattr -v, the rest from find
	find "$d" -type f -exec lsattr -v {} + | awk '{ print $3 "\t" $1 }' >"$MNT/gen"
	find "$d" -type f -printf '%s\t%i\t%p\n' >"$MNT/ino"
	awk -F'\t' -v fs="$fs" 'NR == FNR { gen[$1] = $2; next }
		{ printf "%s\t-\t%s\t5\t%s\t%s\t%s\n", $1, fs, $2, gen[$3], $3 }' \
		"$MNT/gen" "$MNT/ino" >"$MNT/group"
	[ "$(wc -l <"$MNT/group")" -eq "$N" ]
}

teardown_file() {
	btrfs_unmount
}

setup() {
	D=$BATS_TEST_TMPDIR
}

# cpu STAGE ARG...: runs STAGE, its output in $D/out and $D/err, its exit
# status in $D/status, its user CPU time (whole seconds) in $D/user
cpu() {
	local TIMEFORMAT=%0U
	{ time "$@" >"$D/out" 2>"$D/err"; echo $? >"$D/status"; } 2>"$D/user"
}

@test "big group: bedup-lock passes 131,072 distinct files of one group, no quadratic scan" {
	cpu bedup-lock "$MNT/group"
	assert_equal "$(cat "$D/status")" 0
	assert_equal "$(cat "$D/err")" ""
	cmp "$D/out" "$MNT/group"
	[ "$(cat "$D/user")" -lt 10 ]
}

@test "big group: bedup-clone finds all 131,071 others sharing with the first, no quadratic scan" {
	cpu bedup-clone "$MNT/group"
	assert_equal "$(cat "$D/status")" 0
	assert_equal "$(cat "$D/err")" ""
	assert_equal "$(cut -f1,2 "$D/out" | sort | uniq -c | sed 's/^ *//')" "$((N - 1)) shared	8192"
	# the source, by its inode: the first, all being equal
	assert_equal "$(cut -f4,5,8 "$D/out" | sort -u)" "5	$(stat -c %i "$MNT/d/f")	$MNT/d/f"
	[ "$(cat "$D/user")" -lt 10 ]
}

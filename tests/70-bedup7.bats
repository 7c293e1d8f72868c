#!/usr/bin/env bats
# The example pipelines of bedup(7), run as the page prints them (with
# /srv replaced by the test's filesystem), so page and tools cannot drift.

load helpers
load bedup

setup() {
	requires root btrfs
	newfs 4G
}

teardown() {
	dropfs
}

# example NAME: the text of the literal block after '.\" test: NAME' in
# bedup.7, roff escapes undone, /srv replaced by $MNT
example() {
	awk -v name="$1" '
		$0 == ".\\\" test: " name { want = 1; next }
		want && /^\.Bd/ { inblock = 1; next }
		inblock && /^\.Ed/ { exit }
		inblock { print }' "$BEDUP_ROOT/cmd/bedup/bedup.7" |
		sed -e 's/\\e/\\/g' -e "s|/srv|$MNT|g"
}

# run_example NAME: runs the example; it must succeed, silently on stderr
run_example() {
	run --separate-stderr sh -c "$(example "$1")"
	assert_success
	assert_equal "$stderr" ""
}

@test "bedup.7 has the examples the tests run" {
	for e in exclude large subvolume dry-run; do
		run example "$e"
		assert_success
		assert_output --partial "bedup-findnew $MNT |"
	done
}

@test "bedup.7: exclude a directory with grep" {
	mkdir "$MNT/cache"
	mkfile "$MNT/a" 2M a
	copy "$MNT/a" "$MNT/b"
	copy "$MNT/a" "$MNT/cache/e"
	mkfile "$MNT/cache/c" 3M c
	copy "$MNT/cache/c" "$MNT/cache/d"
	# a name that is not UTF-8, in a UTF-8 locale: grep must still pass it
	mkfile "$MNT/x"$'\377' 1M x
	copy "$MNT/x"$'\377' "$MNT/y"$'\377'
	before=$(fingerprint "$MNT")
	LC_ALL=C.UTF-8 run_example exclude
	assert_line --index 0 --regexp $'^deduped\t2097152\t'"$IDS""$MNT"$'/[ab]\t'"$MNT"'/[ab]$'
	cut_ids
	assert_line --index 1 "$(printf 'deduped\t1048576\t%s\t%s' "$MNT/x"$'\377' "$MNT/y"$'\377')"
	assert_equal "${#lines[@]}" 2
	shared "$MNT/a" "$MNT/b"
	shared "$MNT/x"$'\377' "$MNT/y"$'\377'
	apart "$MNT/a" "$MNT/cache/e"
	apart "$MNT/cache/c" "$MNT/cache/d"
	assert_equal "$(fingerprint "$MNT")" "$before"
}

@test "bedup.7: only files over 1 GiB, with awk" {
	mkfile "$MNT/big" 4M big
	truncate -s $(((1 << 30) + (8 << 20))) "$MNT/big"
	cp --reflink=never --sparse=always "$MNT/big" "$MNT/big2"
	mkfile "$MNT/small" 4M small
	copy "$MNT/small" "$MNT/small2"
	before=$(fingerprint "$MNT")
	run_example large
	assert_output --regexp $'^deduped\t[0-9]+\t'"$IDS""$MNT"$'/big2?\t'"$MNT"'/big2?$'
	shared "$MNT/big" "$MNT/big2"
	apart "$MNT/small" "$MNT/small2"
	assert_equal "$(fingerprint "$MNT")" "$before"
}

@test "bedup.7: only one subvolume, with awk" {
	btrfs -q subvolume create "$MNT/home"
	btrfs -q subvolume create "$MNT/home/in"
	mkfile "$MNT/home/h1" 2M h
	copy "$MNT/home/h1" "$MNT/home/h2"
	mkfile "$MNT/home/in/i1" 2M i
	copy "$MNT/home/in/i1" "$MNT/home/in/i2"
	mkfile "$MNT/t1" 2M t
	copy "$MNT/t1" "$MNT/t2"
	run_example subvolume
	assert_output --regexp $'^deduped\t2097152\t'"$IDS""$MNT"$'/home/h[12]\t'"$MNT"'/home/h[12]$'
	shared "$MNT/home/h1" "$MNT/home/h2"
	apart "$MNT/home/in/i1" "$MNT/home/in/i2"
	apart "$MNT/t1" "$MNT/t2"
}

@test "bedup.7: what would be shared, changing nothing" {
	for i in 1 2 3 4 5 6; do
		mkfile "$MNT/f$i" "${i}M" "f$i"
		copy "$MNT/f$i" "$MNT/g$i"
		copy "$MNT/f$i" "$MNT/h$i"
	done
	before=$(fingerprint "$MNT")
	run_example dry-run
	assert_equal "${#lines[@]}" 10
	# largest first: the 6M, 5M, ... groups, two files each
	assert_equal "$(printf '%s\n' "$output" | cut -f1,2 | uniq -c | awk '{ print $1, $2, $3 }')" \
		"$(printf '2 would-dedupe %s\n' 6291456 5242880 4194304 3145728 2097152)"
	assert_equal "$(fingerprint "$MNT")" "$before"
	apart "$MNT/f6" "$MNT/g6"
}

@test "bedup.7: two files named" {
	mkfile "$MNT/a" 2M n
	copy "$MNT/a" "$MNT/b"
	run_example named
	cut_ids
	assert_output "$(printf 'deduped\t2097152\t%s\t%s' "$MNT/a" "$MNT/b")"
	shared "$MNT/a" "$MNT/b"
}

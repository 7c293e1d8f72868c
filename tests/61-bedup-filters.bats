#!/usr/bin/env bats
# bedup filters: PATH, vol:PATH, UUID, /dev path, none; --no-crossvol.

load helpers
load bedup

setup() {
	requires root btrfs
	newfs 2G
}

teardown() {
	dropfs
}

# subvol PATH: a new subvolume, its id printed
subvol() {
	btrfs -q subvolume create "$1" && btrfs inspect-internal rootid "$1"
}

@test "vol:PATH is that subvolume alone, PATH also those below it" {
	sv=$(subvol "$MNT/sv")
	in=$(subvol "$MNT/sv/in")
	mkfile "$MNT/t1" 2M t
	copy "$MNT/t1" "$MNT/t2"
	mkfile "$MNT/sv/s1" 2M s
	copy "$MNT/sv/s1" "$MNT/sv/s2"
	mkfile "$MNT/sv/in/i1" 2M i
	copy "$MNT/sv/in/i1" "$MNT/sv/in/i2"
	run --separate-stderr bedup dedup vol:"$MNT/sv"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	assert_equal "$stderr" ""
	shared "$MNT/sv/s1" "$MNT/sv/s2"
	apart "$MNT/sv/in/i1" "$MNT/sv/in/i2"
	apart "$MNT/t1" "$MNT/t2"
	assert_equal "$(cd "$STATE/$FS" && ls *.gen)" "$sv.gen"
	run --separate-stderr bedup dedup "$MNT/sv"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	assert_equal "$stderr" ""
	shared "$MNT/sv/in/i1" "$MNT/sv/in/i2"
	apart "$MNT/t1" "$MNT/t2"
	assert_equal "$(cd "$STATE/$FS" && ls *.gen | sort)" "$(printf '%s.gen\n' "$sv" "$in" | sort)"
	run --separate-stderr bedup dedup vol:"$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	shared "$MNT/t1" "$MNT/t2"
	[ -f "$STATE/$FS/5.gen" ]
}

@test "a directory inside a subvolume stands for its subvolume" {
	subvol "$MNT/sv" >/dev/null
	mkdir -p "$MNT/sv/a/b" "$MNT/sv/c"
	mkfile "$MNT/sv/c/x" 2M
	copy "$MNT/sv/c/x" "$MNT/sv/c/y"
	mkfile "$MNT/t1" 2M t
	copy "$MNT/t1" "$MNT/t2"
	run --separate-stderr bedup dedup "$MNT/sv/a/b"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	assert_equal "$stderr" ""
	shared "$MNT/sv/c/x" "$MNT/sv/c/y"
	apart "$MNT/t1" "$MNT/t2"
}

@test "--no-crossvol keeps subvolumes apart" {
	subvol "$MNT/sv" >/dev/null
	mkfile "$MNT/a" 2M a
	copy "$MNT/a" "$MNT/sv/a"
	mkfile "$MNT/sv/b" 3M b
	copy "$MNT/sv/b" "$MNT/sv/b2"
	mkfile "$MNT/c" 4M c
	copy "$MNT/c" "$MNT/c2"
	before=$(fingerprint "$MNT")
	run --separate-stderr bedup dedup --no-crossvol "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 2 7340032)"
	assert_equal "$stderr" ""
	shared "$MNT/sv/b" "$MNT/sv/b2"
	shared "$MNT/c" "$MNT/c2"
	apart "$MNT/a" "$MNT/sv/a"
	# across subvolumes once the checkpoints are reset
	run bedup reset -y "$MNT"
	assert_success
	run --separate-stderr bedup dedup "$MNT"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	shared "$MNT/a" "$MNT/sv/a"
	assert_equal "$(fingerprint "$MNT")" "$before"
}

# only_subvol: the filesystem mounted by its subvolume "sv" alone, from a
# loop device, at $MNT; the top level holds a pair t1 t2, sv a pair s1 s2
only_subvol() {
	subvol "$MNT/sv" >/dev/null
	mkfile "$MNT/t1" 2M t
	copy "$MNT/t1" "$MNT/t2"
	mkfile "$MNT/sv/s1" 3M s
	copy "$MNT/sv/s1" "$MNT/sv/s2"
	umount "$MNT"
	DEV=$(loopdev "$IMG")
	mount -o subvol=sv "$DEV" "$MNT"
}

# top_check: mounts the top level at $BATS_TEST_TMPDIR/top, checks the
# top-level pair is shared
top_check() {
	mkdir -p "$BATS_TEST_TMPDIR/top"
	mount -o subvolid=5 "$DEV" "$BATS_TEST_TMPDIR/top"
	shared "$BATS_TEST_TMPDIR/top/t1" "$BATS_TEST_TMPDIR/top/t2"
	umount "$BATS_TEST_TMPDIR/top"
}

# no_private_mount: no mount left in the run directory
no_private_mount() {
	! grep -qF "$BEDUP_RUN_DIR" /proc/self/mountinfo
	[ ! -e "$BEDUP_RUN_DIR/$FS" ]
}

@test "UUID: the whole filesystem, through a private mount of the top level" {
	only_subvol
	run --separate-stderr bedup dedup -v "$FS"
	assert_success
	# paths as the user reaches them: sv by its mount, the top level
	# (not mounted) by the filesystem's UUID
	assert_line --regexp $'^deduped\t2097152\t'"$IDS$FS"':/t[12]'$'\t'"$FS"':/t[12]$'
	assert_line --regexp $'^deduped\t3145728\t'"$IDS$MNT"'/s[12]'$'\t'"$MNT"'/s[12]$'
	assert_line --regexp "$(summary_re 2 5242880)"
	[[ $stderr == *"bedup: $FS: mounted privately (top level, all subvolumes)"* ]]
	[[ $stderr == *"bedup: $FS: deduplicating $FS:/"$'\n'* ]]
	[[ $output$stderr != *"$BEDUP_RUN_DIR"* ]]
	no_private_mount
	shared "$MNT/s1" "$MNT/s2"
	top_check
	[ -f "$STATE/$FS/5.gen" ]
}

@test "UUID and /dev path of an unmounted filesystem" {
	only_subvol
	umount "$MNT"
	run --separate-stderr bedup dedup "$FS"
	assert_success
	assert_output --regexp "$(summary_re 2 5242880)"
	assert_equal "$stderr" ""
	no_private_mount
	top_check
	mkdir -p "$BATS_TEST_TMPDIR/top"
	mount "$DEV" "$BATS_TEST_TMPDIR/top"
	copy "$BATS_TEST_TMPDIR/top/t1" "$BATS_TEST_TMPDIR/top/sv/t3"
	umount "$BATS_TEST_TMPDIR/top"
	run --separate-stderr bedup dedup "$DEV"
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	assert_equal "$stderr" ""
	no_private_mount
	mount "$DEV" "$BATS_TEST_TMPDIR/top"
	shared "$BATS_TEST_TMPDIR/top/t1" "$BATS_TEST_TMPDIR/top/sv/t3"
	umount "$BATS_TEST_TMPDIR/top"
}

@test "/dev path of a mounted filesystem" {
	umount "$MNT"
	DEV=$(loopdev "$IMG")
	mount "$DEV" "$MNT"
	mkfile "$MNT/a" 2M
	copy "$MNT/a" "$MNT/b"
	run --separate-stderr bedup dedup -v "$DEV"
	assert_success
	assert_line --index 0 --regexp $'^deduped\t2097152\t'"$IDS$MNT"'/[ab]'
	assert_line --index 1 --regexp "$(summary_re 1 2097152)"
	shared "$MNT/a" "$MNT/b"
}

# in_namespace SCRIPT: runs the bash SCRIPT in a private mount namespace
# where $MNT is the only btrfs mounted (other btrfs mounts are unmounted
# there, and only there)
in_namespace() {
	if [ "$(stat -f -c %T /)" = btrfs ]; then
		skip "the root filesystem is btrfs: cannot hide every other btrfs"
	fi
	run --separate-stderr unshare -m --propagation private bash -c '
		findmnt -rn -t btrfs -o TARGET | while read -r m; do
			m=$(printf "%b" "$m")
			[ "$m" = "$MNT" ] || umount -l "$m" || exit 3
		done
		[ "$(findmnt -rn -t btrfs -o TARGET)" = "$MNT" ] || exit 3
		'"$1"
}

@test "no filter: every read-write btrfs; read-only mounts only when named" {
	mkfile "$MNT/a" 2M
	copy "$MNT/a" "$MNT/b"
	in_namespace 'bedup dedup'
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT/b"
	copy "$MNT/a" "$MNT/c"
	in_namespace 'mount -o remount,bind,ro "$MNT" && bedup dedup'
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "bedup: no mounted read-write btrfs filesystem"
	apart "$MNT/a" "$MNT/c"
	# named by path: a scan can read it
	in_namespace 'mount -o remount,bind,ro "$MNT" && bedup scan "$MNT"'
	assert_success
	assert_output --regexp "^bedup: $FS: [1-9][0-9]* changed files tracked, [0-9]+ s$"
	assert_equal "$stderr" ""
	# named, by path or UUID: deduplicated through a private read-write mount
	in_namespace 'mount -o remount,bind,ro "$MNT" && bedup dedup "$MNT"'
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT/c"
	copy "$MNT/a" "$MNT/d"
	in_namespace 'mount -o remount,bind,ro "$MNT" && bedup dedup "$FS"'
	assert_success
	assert_output --regexp "$(summary_re 1 2097152)"
	assert_equal "$stderr" ""
	shared "$MNT/a" "$MNT/d"
}

@test "messages and -v lines name paths as the user reaches them" {
	subvol "$MNT/home" >/dev/null
	mkfile "$MNT/home/a b" 2M
	copy "$MNT/home/a b" "$MNT/home/c"
	copy "$MNT/home/a b" "$MNT/home/x"
	chattr +i "$MNT/home/x"
	copy "$MNT/home/a b" "$MNT/y"
	chattr +i "$MNT/y"
	# home also mounted by subvol= elsewhere
	H=$BATS_TEST_TMPDIR/home
	mkdir -p "$H"
	mount -o loop,subvol=home "$IMG" "$H"
	# the mount named first: the top level by $MNT
	run --separate-stderr bedup dedup -n -v "$MNT"
	assert_line --regexp $'^would-dedupe\t2097152\t'"$IDS$MNT"'/home/(a b|c)'$'\t'"$MNT"'/home/(a b|c)$'
	[[ $stderr == *"bedup-lock: $MNT/y: immutable, skipped"$'\n'* ]]
	[[ $stderr == *"bedup-lock: $MNT/home/x: immutable, skipped"$'\n'* ]]
	[[ $stderr == *"bedup: $FS: deduplicating $MNT"$'\n'* ]]
	[[ $output$stderr != *"$BEDUP_RUN_DIR"* ]]
	# home by the mount named, the top level by its mount
	run --separate-stderr bedup dedup -v "$H"
	assert_line --regexp $'^deduped\t2097152\t'"$IDS$H"'/(a b|c)'$'\t'"$H"'/(a b|c)$'
	[[ $stderr == *"bedup-lock: $H/x: immutable, skipped"$'\n'* ]]
	[[ $stderr == *"bedup: $FS: deduplicating $H"$'\n'* ]]
	[[ $output$stderr != *"$BEDUP_RUN_DIR"* ]]
	shared "$H/a b" "$H/c"
	# not mounted at all: UUID:/PATH from the top level; a new copy, as
	# the pair already sharing no longer reaches bedup-clone
	copy "$H/a b" "$H/d"
	umount "$H" "$MNT"
	DEV=$(loopdev "$IMG")
	run --separate-stderr bedup dedup -n -v "$FS"
	assert_line --regexp $'^would-dedupe\t2097152\t'"$IDS$FS"':/home/(a b|c)'$'\t'"$FS"':/home/d$'
	refute_line --regexp '^shared'
	[[ $stderr == *"bedup-lock: $FS:/y: immutable, skipped"$'\n'* ]]
	[[ $stderr == *"bedup-lock: $FS:/home/x: immutable, skipped"$'\n'* ]]
	[[ $stderr == *"bedup: $FS: deduplicating $FS:/"$'\n'* ]]
	[[ $output$stderr != *"$BEDUP_RUN_DIR"* ]]
	mount "$DEV" "$MNT"
	chattr -i "$MNT/home/x" "$MNT/y"
}

# bedup.bash: helpers of the tests of the bedup command (load helpers first).

# newfs [SIZE]: a fresh btrfs for this test, mounted at $MNT ($IMG, $FS);
# the state and run directories are the test's own.
newfs() {
	IMG=$BATS_TEST_TMPDIR/fs.img
	MNT=$BATS_TEST_TMPDIR/mnt
	truncate -s "${1:-1G}" "$IMG"
	mkfs.btrfs -q -f "$IMG" >/dev/null 2>&1
	mkdir -p "$MNT"
	mount -o loop "$IMG" "$MNT"
	FS=$(fsid "$MNT")
	STATE=$BATS_TEST_TMPDIR/state
	export IMG MNT FS STATE BEDUP_STATE_DIR=$STATE BEDUP_RUN_DIR=$BATS_TEST_TMPDIR/run
}

# dropfs: unmounts what newfs and loopdev made, never fails.
dropfs() {
	local m d
	for m in $(findmnt -rn -o TARGET | grep -F "$BATS_TEST_TMPDIR/" | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	for d in $(cat "$BATS_TEST_TMPDIR/.loops" 2>/dev/null); do
		losetup -d "$d" 2>/dev/null || true
	done
	rm -f "$BATS_TEST_TMPDIR"/*.img
}

# loopdev IMG: attaches IMG to a loop device, prints it (dropfs detaches).
loopdev() {
	local d
	d=$(losetup -f --show "$1") || return 1
	echo "$d" >>"$BATS_TEST_TMPDIR/.loops"
	echo "$d"
}

# extents FILE: logical and physical ranges of FILE's data (filefrag -v).
extents() {
	sync -f "$1"
	filefrag -v -- "$1" | awk '$1 ~ /^[0-9]+:$/ { print $2, $3, $4, $5, $6 }'
}

# shared A B...: every B maps all its data to A's extents.
shared() {
	local a=$1 f
	shift
	[ -n "$(extents "$a")" ] || { echo "$a: no extents" >&2; return 1; }
	for f; do
		[ "$(extents "$a")" = "$(extents "$f")" ] ||
			{ echo "$f does not share all of $a's extents" >&2; return 1; }
	done
}

# apart A B: A and B have no extent in common.
apart() {
	local common
	common=$(comm -12 <(extents "$1" | awk '{ print $3 }' | sort) \
		<(extents "$2" | awk '{ print $3 }' | sort))
	[ -z "$common" ] || { echo "$1 and $2 share extents" >&2; return 1; }
}

# fingerprint DIR: content and metadata of every file below DIR.
fingerprint() {
	(cd "$1" && find . -type f -printf '%p %s %m %U %G %T@ %i\n' | sort &&
		find . -type f -exec sha256sum {} + | sort -k2)
}

# summary_re FILES BYTES: the regexp of "bedup dedup"'s summary line.
summary_re() {
	printf '^bedup: %s: %s files deduplicated, %s bytes \\(.*\\) newly shared, [0-9]+ s$' \
		"$FS" "$1" "$2"
}

# catalog_ok CATALOG: the catalog (with its journal) reads without a
# complaint, every entry 6 fields, 7 with a checksum key, 8 with a layout
# tag.
catalog_ok() {
	local out
	out=$(bedup-catalog -C "$1" list 2>&1) || { echo "$out" >&2; return 1; }
	[ -z "$out" ] || ! awk -F'\t' '(NF < 6 || NF > 8) || $1 !~ /^[0-9]+$/ { bad = 1 } END { exit !bad }' <<<"$out"
}

# catalog_ids: SUBVOL TAB INO of each entry of the catalog of $FS, sorted
catalog_ids() {
	bedup-catalog -C "$STATE/$FS/catalog" list | cut -f2,3 | sort
}

# tracked FILE...: SUBVOL TAB INO of each FILE, sorted, as catalog_ids
tracked() {
	record "$@" | cut -f4,5 | sort
}

# catalog_col N [AWK-COND]: field N of the catalog's entries of $FS (where
# AWK-COND holds), distinct values sorted numerically, on one line
catalog_col() {
	bedup-catalog -C "$STATE/$FS/catalog" list |
		awk -F'\t' "${2:-1} { print \$$1 }" | sort -un | paste -sd' '
}

# start_killable CMD...: runs CMD in its own session (so that the whole
# pipeline can be killed at once), output in $BATS_TEST_TMPDIR/out|err
start_killable() {
	setsid "$@" >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	KPID=$!
}

# helpers.bash: shared by every bats file (load helpers).
#
# btrfs tests call, in setup_file:   requires root btrfs; btrfs_mount [SIZE]
# and in teardown_file:               btrfs_unmount
# btrfs_mount leaves the mount point in $MNT and the image in $IMG. Under CI
# (CI=true) a missing requirement fails the test instead of skipping it.

BEDUP_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
for _d in "$BEDUP_ROOT"/cmd/*/; do PATH="$_d:$PATH"; done
PATH="$BEDUP_ROOT/tests:$PATH:/usr/sbin:/sbin"
export PATH BEDUP_ROOT
unset _d

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

# A missing capability: loudly a failure under CI, a skip elsewhere.
_missing() {
	if [ "${CI:-}" = true ]; then
		echo "required but missing under CI: $*" >&2
		return 1
	fi
	skip "$*"
}

# requires root|btrfs|strace ...: checks what a test needs.
requires() {
	local r
	for r in "$@"; do
		case $r in
		root) [ "$(id -u)" = 0 ] || { _missing "not root"; return; } ;;
		btrfs)
			command -v mkfs.btrfs >/dev/null || { _missing "no mkfs.btrfs"; return; }
			grep -qw btrfs /proc/filesystems || modprobe btrfs 2>/dev/null ||
				{ _missing "kernel has no btrfs"; return; }
			[ -e /dev/loop-control ] || { _missing "no loop devices"; return; } ;;
		*) command -v "$r" >/dev/null || { _missing "no $r"; return; } ;;
		esac
	done
}

# strace ARGS...: strace, with LeakSanitizer off in what it runs (a
# SANITIZE=1 build): LSan stops the world with ptrace, which a process
# strace already traces cannot do, so it would fail every traced run.
strace() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 command strace "$@"
}

# btrfs_mount [SIZE] [NAME]: makes a sparse image, mkfs.btrfs, mounts it
# with -o loop at $BATS_FILE_TMPDIR/NAME (default mnt), sets MNT and IMG
# (for NAME other than mnt: MNT_NAME and IMG_NAME).
btrfs_mount() {
	local size=${1:-1G} name=${2:-mnt} img mnt
	img=$BATS_FILE_TMPDIR/$name.img
	mnt=$BATS_FILE_TMPDIR/$name
	truncate -s "$size" "$img"
	mkfs.btrfs -q -f "$img" >"$BATS_FILE_TMPDIR/mkfs.log" 2>&1 ||
		{ cat "$BATS_FILE_TMPDIR/mkfs.log" >&2; return 1; }
	mkdir -p "$mnt"
	mount -o loop "$img" "$mnt"
	echo "$mnt" >>"$BATS_FILE_TMPDIR/.mounts"
	if [ "$name" = mnt ]; then
		export MNT=$mnt IMG=$img
	else
		export "MNT_$name=$mnt" "IMG_$name=$img"
	fi
}

# btrfs_unmount: unmounts every image btrfs_mount mounted in this file,
# even after a failure; never fails itself.
btrfs_unmount() {
	local m
	[ -f "$BATS_FILE_TMPDIR/.mounts" ] || return 0
	sort -r "$BATS_FILE_TMPDIR/.mounts" | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	rm -f "$BATS_FILE_TMPDIR/.mounts" "$BATS_FILE_TMPDIR"/*.img
}

# fsid MNT: the filesystem UUID as btrfs filesystem show prints it.
fsid() {
	btrfs filesystem show "$1" | sed -n 's/.*uuid: \([0-9a-f-]*\).*/\1/p'
}

# as_nobody PROG ARG...: runs the bedup program PROG (a stage or the
# wrapper) as user nobody. It runs a copy in a directory every user can
# reach: root may keep the checkout where nobody else can (/root/bedup, a
# mktemp -d), and sh must read a script it runs.
as_nobody() {
	local prog=$1 bin=$BATS_RUN_TMPDIR/nobody-bin
	shift
	mkdir -p "$bin"
	cp "$BEDUP_ROOT/cmd/$prog/$prog" "$bin/$prog"
	chmod 755 "$bin" "$bin/$prog"
	chmod o+x "$BATS_RUN_TMPDIR"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$bin/$prog" "$@"
}

# mkfile PATH SIZE [SEED]: a file of SIZE bytes of seeded pseudo-random
# data (same SEED, same bytes), written without reflinks.
mkfile() {
	local path=$1 size=$2 seed=${3:-$1}
	head -c "$size" < <(openssl enc -aes-128-ctr -pass "pass:$seed" -nosalt \
		</dev/zero 2>/dev/null || yes "$seed") >"$path"
}

# mkfile_nocsum PATH SIZE [SEED]: mkfile, but a file without data
# checksums (nodatacow): its size's group is told apart by samples, as on
# a filesystem whose checksums bedup-hash cannot use, not by checksums.
mkfile_nocsum() {
	touch "$1" && chattr +C "$1" && mkfile "$@"
}

# copy SRC DST: a real copy of the data, never a reflink.
copy() {
	cp --reflink=never -- "$1" "$2"
}

# used_data MNT: bytes of data the filesystem uses, after a sync.
used_data() {
	sync -f "$1"
	btrfs filesystem df -b "$1" | sed -n 's/^Data.*used=\([0-9]*\).*/\1/p'
}

# record PATH...: the record RECORDS.md gives each PATH (HASH -), made with
# coreutils, e2fsprogs and btrfs-progs only, so that a stage's tests need
# no other stage. PATH is made absolute without resolving symlinks.
record() {
	local p abs size fs sv ino gen
	for p; do
		abs=$(realpath -s -- "$p") &&
		size=$(stat -c %s -- "$p") &&
		fs=$(fsid "$(findmnt -nvo TARGET -T "$p")") &&
		# rootid opens a file read-write: in a read-only snapshot ask its directory
		sv=$(btrfs inspect-internal rootid -- "$p" 2>/dev/null ||
			btrfs inspect-internal rootid -- "$(dirname -- "$p")") &&
		ino=$(stat -c %i -- "$p") &&
		gen=$(lsattr -vd -- "$p" | awk 'NR == 1 {print $1}') &&   # the name may hold a LF
		[ -n "$fs" ] && [ -n "$gen" ] || { echo "record: $p: cannot make a record" >&2; return 1; }
		printf '%s\t-\t%s\t%s\t%s\t%s\t' "$size" "$fs" "$sv" "$ino" "$gen"
		printf '%s' "$abs" | recio -e || return 1
		printf '\n'
	done
}

# meta FILE...: the content digest and all the metadata dedupe must keep:
# size, mode, owner, mtime, atime, ctime, inode, flags, xattrs.
meta() {
	local f
	for f; do
		# read first: a read may set atime, the stat after it sees that
		printf '%s ' "$(sha256sum <"$f" | cut -c1-64)"
		printf '%s %s ' "$(stat -c '%s %a %u %g %Y %X %Z %i' -- "$f")" \
			"$(lsattr -d -- "$f" | cut -d' ' -f1)"
		python3 -c 'import os,sys
p = sys.argv[1]
print(sorted((k, os.getxattr(p, k, follow_symlinks=False))
             for k in os.listxattr(p, follow_symlinks=False)))' "$f"
	done
}

# named PATH...: looks up every file under PATHs. The stages open files
# by handle: a file whose dentry is not cached then shows in /proc/PID/fd,
# and to strace -y, as "/" instead of its path. Call before a trace that
# tells files apart by path, and check it with unnamed_reads.
named() {
	# %s makes find stat each file: listing a directory alone looks up
	# no dentry of its files
	find "$@" -printf '%s\n' >/dev/null
}

# unnamed_reads TRACE: reads in an strace -y log on an fd shown as "/",
# which no path in the test could match
unnamed_reads() {
	grep -cE '(read|readv|pread64|preadv2?)\([0-9]+</>' "$1" || true
}

# excl FILE...: bytes each FILE holds that no other file shares.
excl() {
	sync -f "$1"
	btrfs filesystem du --raw -- "$@" | awk 'NR > 1 { print $2 }'
}

# zeros N: N lines of 0, what excl prints for N fully shared files.
zeros() {
	yes 0 | head -n "$1"
}

# wait_shared FILE...: waits (up to 60 s) until the FILEs share all data.
wait_shared() {
	local i
	for i in $(seq 600); do
		[ "$(excl "$@")" = "$(zeros $#)" ] && return 0
		sleep 0.1
	done
	echo "wait_shared: $* never came to share" >&2
	return 1
}

# near ACTUAL WANT: ACTUAL is within 1% of WANT.
near() {
	awk -v a="$1" -v w="$2" 'BEGIN { d = a - w; if (d < 0) d = -d; exit !(d <= w / 100) }' ||
		{ echo "$1 is not within 1% of $2" >&2; return 1; }
}

# IDS: a regexp of the identity fields 3-7 of a bedup-clone line, with the
# TAB after them, for the tests that match its lines whole
IDS=$'[0-9a-f-]{36}\t[0-9]+\t[0-9]+\t[0-9]+\t[0-9]+\t'

# cut_ids: $output (and $lines) of bedup-clone without the identity fields
# 3-7 (FSID SRCSUBVOL SRCINO DSTSUBVOL DSTINO), once each line is checked to
# have them, so that tests compare STATUS BYTES SRC DST. What those fields
# hold is tested in 50-clone.bats.
cut_ids() {
	local LC_ALL=C l re=$'^[^\t]+\t[0-9]+\t[0-9a-f-]{36}\t[0-9]+\t[0-9]+\t[0-9]+\t[0-9]+\t[^\t]*\t[^\t]*$'
	[ -n "$output" ] || return 0
	while IFS= read -r l; do
		[[ $l =~ $re ]] || { echo "cut_ids: not a bedup-clone line: $l" >&2; return 1; }
	done <<<"$output"
	output=$(cut -f1,2,8- <<<"$output")
	mapfile -t lines <<<"$output"
}

# entry FILE [DIGEST [SAMPLE]]: the catalog line of FILE (lib/catalog.c:
# SIZE SUBVOL INO GEN DIGEST SAMPLE), DIGEST and SAMPLE "-" by default.
entry() {
	record "$1" | awk -F'\t' -v OFS='\t' -v d="${2:--}" -v s="${3:--}" '{ print $1, $4, $5, $6, d, s }'
}

# entries CATALOG: its lines, base and journal merged, sorted as text
# (compare with "entry ... | sort"), without the checksum keys (KEY, the
# 7th field: keys CATALOG)
entries() {
	bedup-catalog -C "$1" list | cut -f1-6 | sort
}

# keys CATALOG: "INO KEY" of each entry with a checksum key
keys() {
	bedup-catalog -C "$1" list | awk -F'\t' 'NF >= 7 && $7 != "-" { print $3, $7 }'
}

# layouts CATALOG: "INO LAYOUT" of each entry with a layout tag
layouts() {
	bedup-catalog -C "$1" list | awk -F'\t' 'NF == 8 { print $3, $8 }'
}

# counts_re STAGE OPENED: the regexp of the line a stage's -v ends with
# (OPENED a number or a regexp of one)
counts_re() {
	printf '^%s: %s files opened, [0-9]+ bytes \\([0-9.]+ (B|[KMGTP]iB)\\) read from storage$' "$1" "$2"
}

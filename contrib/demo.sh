#!/bin/sh
# demo.sh (make demo): makes a btrfs filesystem in a sparse image file
# under a temp directory, fills it with duplicate files, deduplicates it
# with "bedup dedup -v", shows the space used before and after and what
# was shared, runs bedup again (nothing to read), and removes everything,
# whatever happens. Needs root; touches nothing else. Its story fits in a
# screen: the tools' own output goes to files, shown when one fails.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
for d in "$root"/cmd/*/; do PATH=$d:$PATH; done
PATH=$PATH:/usr/sbin:/sbin
export PATH

[ "$(id -u)" = 0 ] || { echo "make demo: needs root (it mounts a loop btrfs image)" >&2; exit 2; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/bedup-demo.XXXXXX")
mnt=$dir/mnt
cleanup() {
	if mountpoint -q "$mnt" 2>/dev/null; then
		umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# data SIZE SEED: SIZE bytes of reproducible pseudo-random data
data() {
	openssl enc -aes-128-ctr -pass "pass:$2" -nosalt </dev/zero 2>/dev/null | head -c "$1"
}
copy() { cp --reflink=never -- "$1" "$2"; }
say() { printf '\n== %s\n' "$*"; }

# data_used: bytes of data the filesystem holds on disk
data_used() {
	btrfs filesystem df -b "$mnt" | sed -n 's/^Data.*used=\([0-9]*\).*/\1/p'
}

# du_table: "btrfs filesystem du -s" of the whole and of the subvolumes,
# paths relative to the mount
du_table() {
	(cd "$mnt" && btrfs filesystem du -s . home srv) | sed 's/^/  /'
}

# run_bedup NAME ARGS...: bedup ARGS..., stdout into $dir/NAME.out,
# stderr into $dir/NAME.err; both shown if it fails
run_bedup() {
	rb_log=$dir/$1
	shift
	if ! bedup "$@" >"$rb_log.out" 2>"$rb_log.err"; then
		echo "bedup $*: failed" >&2
		cat "$rb_log.out" "$rb_log.err" >&2
		exit 1
	fi
}

# shared_dirs OUT: what bedup-clone's -v lines in OUT shared, a line per
# directory (paths relative to the mount). The lines are STATUS BYTES
# FSID SRCSUBVOL SRCINO DSTSUBVOL DSTINO SRC DST.
shared_dirs() {
	awk -F'\t' -v m="$mnt/" '
		function rel(p) { return index(p, m) == 1 ? substr(p, length(m) + 1) : p }
		function dir(p) { sub(/\/[^\/]*$/, "", p); return p }
		$1 == "deduped" {
			k = rel(dir($9)) "\t" rel(dir($8))
			if (!(k in n))
				order[++nk] = k
			n[k]++
			b[k] += $2
		}
		# a file shared already (with the snapshot), once, whichever pass
		$1 == "shared" { old[$3 FS $6 FS $7] = 1 }
		$1 == "deduped" { done[$3 FS $6 FS $7] = 1 }
		END {
			for (i = 1; i <= nk; i++) {
				split(order[i], d, "\t")
				f = n[order[i]] (n[order[i]] == 1 ? " file," : " files,")
				printf("  %-17s %9s %3d MiB, same data as %s/\n", d[1] "/", f,
				    b[order[i]] / 1048576, d[2])
			}
			for (k in old)
				if (!(k in done))
					nold++
			if (nold)
				printf("  and %d files that shared their data with the snapshot already\n", nold)
		}' "$1"
}

say "a 20 GiB sparse btrfs image, mounted on $mnt"
truncate -s 20G "$dir/demo.img"
mkfs.btrfs -q "$dir/demo.img" >"$dir/mkfs.log" 2>&1 || { cat "$dir/mkfs.log" >&2; exit 1; }
mkdir "$mnt"
mount -o loop "$dir/demo.img" "$mnt"
btrfs -q subvolume create "$mnt/home"
btrfs -q subvolume create "$mnt/srv"
mkdir -p "$mnt/home/alice/photos" "$mnt/home/bob/backup" "$mnt/srv/iso" "$mnt/srv/vm"

data 300M iso >"$mnt/srv/iso/debian.iso"
copy "$mnt/srv/iso/debian.iso" "$mnt/home/alice/debian.iso"
copy "$mnt/srv/iso/debian.iso" "$mnt/home/bob/debian-copy.iso"
for i in 01 02 03 04 05 06 07 08 09 10 11 12; do
	data 6M "photo$i" >"$mnt/home/alice/photos/img$i.jpg"
	copy "$mnt/home/alice/photos/img$i.jpg" "$mnt/home/bob/backup/img$i.jpg"
done
# a VM image: 2 GiB apparent, 96 MiB of data, and two copies of it
data 96M vm >"$mnt/srv/vm/base.img"
truncate -s 2G "$mnt/srv/vm/base.img"
cp --reflink=never --sparse=always "$mnt/srv/vm/base.img" "$mnt/srv/vm/web.img"
cp --reflink=never --sparse=always "$mnt/srv/vm/base.img" "$mnt/srv/vm/db.img"
# same size as the photos, other content: must stay as they are
data 6M other1 >"$mnt/home/bob/other1.jpg"
data 6M other2 >"$mnt/home/bob/other2.jpg"
# a read-only snapshot keeps its own data
btrfs -q subvolume snapshot -r "$mnt/home" "$mnt/home-snapshot"
sync -f "$mnt"
echo "  home: alice/debian.iso (300 MiB) and alice/photos/ (12 x 6 MiB);"
echo "    bob/debian-copy.iso and bob/backup/, copies of them, and two"
echo "    other photos of the same size; home-snapshot: read-only, of home"
echo "  srv: iso/debian.iso, a third copy; vm/base.img (2 GiB, of which"
echo "    96 MiB data) and two copies of it, vm/web.img and vm/db.img"
echo "  apparent size of the files: $(du -sh --apparent-size "$mnt" | cut -f1)"

say "before: btrfs filesystem du -s"
du_table
before=$(data_used)

say "bedup dedup -v $mnt"
state=$dir/state
run_bedup dedup dedup -v --state-dir "$state" "$mnt"
tail -n 1 "$dir/dedup.out"
shared_dirs "$dir/dedup.out"

say "after: btrfs filesystem du -s"
sync -f "$mnt"
du_table
after=$(data_used)
echo "  data on disk: $((before >> 20)) MiB before, $((after >> 20)) MiB after," \
	"$(((before - after) >> 20)) MiB freed"

say "bedup dedup -v $mnt, again: only what changed is read"
run_bedup again dedup -v --state-dir "$state" "$mnt"
tail -n 1 "$dir/again.out"
echo "  files read: $(sed -n 's/.* \([0-9][0-9]*\) files read.*/\1/p' "$dir/again.err" |
	awk '{ n += $1 } END { print n + 0 }')"

say "done; removing $dir"

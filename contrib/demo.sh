#!/bin/sh
# demo.sh (make demo): makes a btrfs filesystem in a sparse image file
# under a temp directory, fills it with duplicate files, deduplicates it
# with "bedup dedup -v", shows the space used before and after, and
# removes everything, whatever happens. Needs root; touches nothing else.
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

say "a 20 GiB sparse image, btrfs, mounted on $mnt"
truncate -s 20G "$dir/demo.img"
mkfs.btrfs -q "$dir/demo.img" >"$dir/mkfs.log" 2>&1 || { cat "$dir/mkfs.log" >&2; exit 1; }
mkdir "$mnt"
mount -o loop "$dir/demo.img" "$mnt"
btrfs -q subvolume create "$mnt/home"
btrfs -q subvolume create "$mnt/srv"
mkdir -p "$mnt/home/alice/photos" "$mnt/home/bob/backup" "$mnt/srv/iso" "$mnt/srv/vm"

say "files: copies of an ISO, photos and their backup, VM images"
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
echo "apparent size of the files: $(du -sh --apparent-size "$mnt" | cut -f1)"

say "before: btrfs filesystem du -s"
btrfs filesystem du -s "$mnt" "$mnt/home" "$mnt/srv"
before=$(btrfs filesystem df -b "$mnt" | sed -n 's/^Data.*used=\([0-9]*\).*/\1/p')

say "bedup dedup -v $mnt"
state=$dir/state
bedup dedup -v --state-dir "$state" "$mnt"

say "after: btrfs filesystem du -s"
sync -f "$mnt"
btrfs filesystem du -s "$mnt" "$mnt/home" "$mnt/srv"
after=$(btrfs filesystem df -b "$mnt" | sed -n 's/^Data.*used=\([0-9]*\).*/\1/p')
echo "data used: $((before >> 20)) MiB before, $((after >> 20)) MiB after"

say "bedup show $mnt"
bedup show --state-dir "$state" "$mnt"

say "a second run: nothing to read again"
bedup dedup --state-dir "$state" "$mnt"

say "done; removing $dir"

#!/bin/bash
# bench/group-hash.sh: the figures of bedup-group and bedup-hash (as root):
# peak RSS of bedup-group on 1,000,000 records, hashing throughput on a
# 1 GiB warm-cache group against xxhsum -H2, and bytes read by bedup-hash
# on 100 same-size files of which only 2 are identical.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
PATH=$root/cmd/bedup-group:$root/cmd/bedup-hash:$root/tests:$PATH
work=$(mktemp -d "${TMPDIR:-/tmp}/bedup-bench.XXXXXX")
mnt=$work/mnt
cleanup() { umount "$mnt" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# read by tests/helpers.bash
# shellcheck disable=SC2034
BATS_TEST_DIRNAME=$root/tests
bats_require_minimum_version() { :; }
bats_load_library() { :; }
# shellcheck source=/dev/null # a bats helper, checked with the tests
. "$root/tests/helpers.bash"

echo "== bedup-group: peak RSS, 1,000,000 records"
awk 'BEGIN { srand(1); for (i = 1; i <= 1000000; i++)
	printf "%d\t-\t01234567-89ab-cdef-0123-456789abcdef\t5\t%d\t7\t/data/some/dir%d/file-number-%d.dat\n",
	int(rand() * 200000) + 1, i + 256, i % 1000, i }' >"$work/records"
echo "input: $(stat -c %s "$work/records") bytes"
/usr/bin/time -f "bedup-group: %e s, peak RSS %M KiB" bedup-group "$work/records" | wc -l
rm -f "$work/records"

truncate -s 4G "$work/img"
mkfs.btrfs -q -f "$work/img" >/dev/null
mkdir "$mnt"
mount -o loop "$work/img" "$mnt"

echo "== hashing a 1 GiB warm-cache group (2 x 512 MiB)"
mkfile "$mnt/big1" 536870912 big
copy "$mnt/big1" "$mnt/big2"
sync
record "$mnt/big1" "$mnt/big2" >"$work/in"
for i in 1 2 3; do
	cat "$mnt/big1" "$mnt/big2" >/dev/null
	/usr/bin/time -f "bedup-hash -p: %e s" bedup-hash -p "$work/in" >/dev/null
	cat "$mnt/big1" "$mnt/big2" >/dev/null
	/usr/bin/time -f "xxhsum -H2:   %e s" xxhsum -H2 "$mnt/big1" "$mnt/big2" >/dev/null
done
rm "$mnt/big1" "$mnt/big2"

echo "== bytes read: 100 files of 4 MiB, 2 identical"
mkdir "$mnt/h"
for i in $(seq 99); do mkfile "$mnt/h/f$i" 4194304 "seed$i"; done
copy "$mnt/h/f50" "$mnt/h/f100"
sync
record "$mnt/h"/* | bedup-group >"$work/in"
echo 3 >/proc/sys/vm/drop_caches
# a reaped child's I/O is added to its parent's /proc/PID/io
bash -c 'a=$(sed -n "s/read_bytes: //p" /proc/$$/io)
	bedup-hash "$1" | wc -l
	b=$(sed -n "s/read_bytes: //p" /proc/$$/io)
	echo "read_bytes: $((b - a)) of $((100 * 4194304)) bytes of data"' sh "$work/in"

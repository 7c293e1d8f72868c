# bench/lib.sh: what bench/run and bench/scale share, sourced by both
# after they set ROOT, W (their BENCH_DIR) and MNT.
# shellcheck shell=sh

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# ---- the peers ---------------------------------------------------------
# The newest releases, built from the source tarballs of shared/peers
# (PEERS_SRC) into PEERS (default /opt/peers) when they are missing.
PEERS=${PEERS:-/opt/peers}
DUPEREMOVE=$PEERS/duperemove-0.15.2/bin/duperemove
JDUPES=$PEERS/jdupes-1.28.0/bin/jdupes
peers() {
	[ -x "$DUPEREMOVE" ] && [ -x "$JDUPES" ] && return 0
	src=${PEERS_SRC:-}
	if [ -z "$src" ]; then
		for d in "$ROOT/../shared/peers" "$ROOT/../../shared/peers"; do
			[ -x "$d/build.sh" ] && { src=$d; break; }
		done
	fi
	[ -n "$src" ] || { say "no shared/peers beside the checkout (set PEERS_SRC): peers not built"; return 1; }
	say "building the peers from $src into $PEERS (about a minute)"
	PREFIX=$PEERS "$src/build.sh" >"$W/log/peers.log" 2>&1 ||
		{ say "building the peers failed (see $W/log/peers.log)"; return 1; }
}

# ---- the loop image ----------------------------------------------------
LOOP=
MOUNTOPTS=
cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	[ -n "$LOOP" ] && losetup -d "$LOOP"
	LOOP=
}

# attach IMG: loop device with direct I/O, so that a cold read is a read
# of the disk, not of the page cache holding the image file; mounted with
# MOUNTOPTS
attach() {
	LOOP=$(losetup -f --show --direct-io=on "$1" 2>/dev/null)
	[ "$(cat "/sys/block/${LOOP#/dev/}/loop/dio")" = 1 ] ||
		say "warning: $LOOP does not do direct I/O: cold reads may hit the host's cache"
	mkdir -p "$MNT"
	mount ${MOUNTOPTS:+-o "$MOUNTOPTS"} "$LOOP" "$MNT"
}
detach() { cleanup; }
# remount: a cold cache; dropping the caches too costs others little and
# holds even if something still pins the filesystem
remount() {
	umount "$MNT"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	mount ${MOUNTOPTS:+-o "$MOUNTOPTS"} "$LOOP" "$MNT"
}
sectors_read() { awk '{ print $3 }' "/sys/block/${LOOP#/dev/}/stat"; }

# ---- measuring a run ---------------------------------------------------
# sample SIDFILE: once SIDFILE holds a session id (or SIDFILE.end
# exists: the run ended before it was seen), samples every 0.1 s
# until the session is gone, and prints the peak of the summed RSS of
# all its processes at once ("*sum KiB": a pipeline's stages run at
# once, its footprint is the sum), then per process name the largest
# peak RSS (VmHWM: the kernel's own peak, so a peak between samples is
# seen unless the process exits before its first sample).
sample() {
	while [ ! -s "$1" ]; do
		if [ -e "$1.end" ]; then echo '*sum 0'; return; fi
		sleep 0.02
	done
	sid=$(cat "$1")
	: >"$1.samples"
	# cat, not awk's getline: mawk stops on a process gone between open
	# and read, cat goes on
	while kill -0 "$sid" 2>/dev/null; do
		files=$(cat /proc/[0-9]*/stat 2>/dev/null | awk -v sid="$sid" '
			{ p = $1; sub(/^.*\) /, "") } $4 == sid { printf " /proc/%s/status", p }')
		# shellcheck disable=SC2086 # one word per file
		[ -n "$files" ] && cat $files 2>/dev/null | awk '
			$1 == "Name:" { n = $2 } $1 == "VmHWM:" { print n, $2 } $1 == "VmRSS:" { s += $2 }
			END { print "*sum", s + 0 }' >>"$1.samples"
		sleep 0.1
	done
	awk '$2 + 0 > m[$1] { m[$1] = $2 + 0 } END { printf "*sum %d\n", m["*sum"]
		for (k in m) if (k != "*sum") printf "%s %d\n", k, m[k] }' "$1.samples"
	rm -f "$1.samples"
}

# measure DIR CMD OUT ERR: runs the sh command line CMD in DIR as a session
# of its own, writing DIR/../NAME.time ("wall user sys maxrss") and
# .rss (sample's output) beside DIR; returns CMD's exit status
measure() {
	rm -f "$1.sid" "$1.sid.end"
	sample "$1.sid" >"$1.rss" &
	sampler=$!
	set +e
	# setsid: the run's processes are one session, for sample
	# shellcheck disable=SC2016 # $$ and $1 are the inner shell's
	( cd "$1" && /usr/bin/time -f '%e %U %S %M' -o "$1.time" \
		setsid -w sh -c 'echo $$ >"$1"; exec sh -c "$2"' sh "$1.sid" "$2" ) \
		>"$3" 2>"$4"
	rc=$?
	set -e
	: >"$1.sid.end"
	wait "$sampler"
	return "$rc"
}
# state_bytes DIR: bytes of the files under DIR (their sizes)
state_bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

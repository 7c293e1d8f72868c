#!/usr/bin/env bats
# make deb builds a package lintian finds clean; apt-get installs it, the
# installed bedup runs from /usr/bin, its units verify, the timer stays
# disabled; purge leaves nothing behind, not even the state directory.
# The package is built once per run (a copy of the tree, ~40 s).

load helpers
load bedup

setup_file() {
	requires root btrfs dpkg-buildpackage dh lintian systemd-analyze || return
	# never touch an installation that is not this test's own
	if dpkg-query -W -f='${Status}' bedup 2>/dev/null | grep -q 'ok installed'; then
		_missing "bedup is installed on this machine: not replacing it"
		return
	fi
	[ ! -e /var/lib/bedup ] || { _missing "/var/lib/bedup exists: not purging it"; return; }
	VERSION=$(make -s -C "$BEDUP_ROOT" --no-print-directory -f Makefile -f - print-version \
		<<<'print-version: ; @echo $(VERSION)')
	DEB_OUT=$BATS_FILE_TMPDIR/out
	mkdir -p "$DEB_OUT"
	make -s -C "$BEDUP_ROOT" deb DEB_OUT="$DEB_OUT" >"$DEB_OUT/make-deb.log" 2>&1
	echo $? >"$DEB_OUT/make-deb.status"
	export VERSION DEB_OUT
}

teardown() {
	dropfs
	if dpkg-query -W -f='${Status}' bedup 2>/dev/null | grep -q 'ok installed'; then
		apt_get purge bedup >/dev/null 2>&1
	fi
}

# apt_get ARGS...: quiet, unattended, waiting for the dpkg lock
apt_get() {
	DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300 "$@"
}

@test "make deb: the package builds and lintian is clean on the .deb and the .changes" {
	run cat "$DEB_OUT/make-deb.log"
	assert_equal "$(cat "$DEB_OUT/make-deb.status")" 0
	# lintian's tags, whatever their level: none but the info-level ones
	refute_line --regexp '^[EW]: '
	[ -f "$DEB_OUT/bedup_${VERSION}_$(dpkg --print-architecture).deb" ]
	[ -f "$DEB_OUT/bedup_${VERSION}_$(dpkg --print-architecture).changes" ]
	# nothing of the build left in the tree
	run ls -A "$BEDUP_ROOT/debian"
	assert_output "changelog
control
copyright
postrm
rules
source"
}

@test "the package: Debian's places, shlibs Depends, the version" {
	local deb=$DEB_OUT/bedup_${VERSION}_$(dpkg --print-architecture).deb
	run dpkg-deb -f "$deb" Version Depends
	assert_success
	assert_line "Version: $VERSION"
	assert_line --regexp '^Depends: .*libbtrfsutil1 .*libxxhash0 '
	run dpkg-deb -c "$deb"
	assert_success
	local f
	for f in usr/bin/bedup usr/bin/bedup-findnew usr/bin/bedup-group usr/bin/bedup-hash \
		usr/bin/bedup-lock usr/bin/bedup-clone usr/bin/bedup-json usr/bin/bedup-catalog usr/share/man/man8/bedup.8.gz \
		usr/share/man/man7/bedup.7.gz usr/share/man/man1/bedup-hash.1.gz \
		usr/share/bash-completion/completions/bedup \
		lib/systemd/system/bedup.service lib/systemd/system/bedup.timer; do
		assert_line --regexp " \\./$f\$"
	done
	# a plain build, even when the suite runs on a SANITIZE=1 one
	dpkg-deb -x "$deb" "$BATS_TEST_TMPDIR/x"
	run ldd "$BATS_TEST_TMPDIR/x/usr/bin/bedup-hash"
	assert_success
	refute_output --partial asan
}

@test "apt-get install ./bedup_*.deb; run from /usr/bin; units verify; purge" {
	local deb arch
	arch=$(dpkg --print-architecture)
	deb=$DEB_OUT/bedup_${VERSION}_$arch.deb
	run apt_get install "$deb"
	assert_success
	run dpkg -L bedup
	assert_success
	local files=("${lines[@]}")

	run --separate-stderr env -i PATH=/usr/bin:/bin /usr/bin/bedup --version
	assert_success
	assert_output "bedup $VERSION"
	assert_equal "$stderr" ""
	run --separate-stderr /usr/bin/bedup-clone --version
	assert_output "bedup-clone $VERSION"

	# as installed: the service, the timer, and the timer not enabled
	run systemd-analyze verify /lib/systemd/system/bedup.service /lib/systemd/system/bedup.timer
	assert_success
	assert_output ""
	[ ! -e /etc/systemd/system/timers.target.wants/bedup.timer ]
	run grep -E '^ExecStart=' /lib/systemd/system/bedup.service
	assert_output "ExecStart=/usr/bin/bedup dedup"

	# a run with the installed programs and the default state directory
	newfs 1G
	unset BEDUP_STATE_DIR BEDUP_RUN_DIR
	mkfile "$MNT/a" 2097152
	copy "$MNT/a" "$MNT/b"
	sync
	run --separate-stderr env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin /usr/bin/bedup dedup "$MNT"
	assert_success
	assert_output --regexp "^bedup: $FS: 1 files deduplicated, 2097152 bytes "
	assert_equal "$stderr" ""
	[ -s "/var/lib/bedup/$FS/catalog" ] || [ -s "/var/lib/bedup/$FS/catalog.journal" ]

	run apt_get purge bedup
	assert_success
	run dpkg-query -W -f='${Status}' bedup
	refute_output --partial 'ok installed'
	[ ! -e /var/lib/bedup ]
	# every file the package had is gone (directories Debian shares stay)
	for f in "${files[@]}"; do
		[ -d "$f" ] || [ ! -e "$f" ] || { echo "left behind: $f" >&2; return 1; }
	done
}

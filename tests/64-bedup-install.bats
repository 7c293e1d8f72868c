#!/usr/bin/env bats
# The bedup script is clean POSIX sh; make install puts it, its units and
# its completion in place; the completion completes.

load helpers
load bedup

teardown() {
	dropfs
}

@test "bedup and the demo are shellcheck-clean POSIX sh, the completion bash" {
	requires shellcheck
	run --separate-stderr shellcheck -s sh "$BEDUP_ROOT/cmd/bedup/bedup" "$BEDUP_ROOT/contrib/demo.sh"
	assert_success
	assert_output ""
	run --separate-stderr shellcheck -s bash "$BEDUP_ROOT/contrib/bedup.bash-completion"
	assert_success
	assert_output ""
	run --separate-stderr dash -n "$BEDUP_ROOT/cmd/bedup/bedup"
	assert_success
	assert_equal "$stderr" ""
}

# the Makefile's VERSION, the one place the version is written
make_version() {
	make -s -C "$BEDUP_ROOT" --no-print-directory -f Makefile -f - print-version <<<'print-version: ; @echo $(VERSION)'
}

@test "--version: every program prints the Makefile's VERSION on stdout, exit 0" {
	local v p
	v=$(make_version)
	[[ $v =~ ^[0-9]+(\.[0-9]+)+$ ]]
	for p in bedup bedup-findnew bedup-group bedup-hash bedup-lock bedup-clone bedup-json bedup-catalog; do
		run --separate-stderr "$p" --version
		assert_success
		assert_output "$p $v"
		assert_equal "$stderr" ""
	done
	# only as the first argument: elsewhere it is an unknown option
	run --separate-stderr bedup-group -s 1 --version
	assert_failure 2
	assert_output ""
}

@test "make install and uninstall, with PREFIX and DESTDIR" {
	local dest=$BATS_TEST_TMPDIR/dest
	run --separate-stderr make -s -C "$BEDUP_ROOT" install PREFIX=/usr DESTDIR="$dest"
	assert_success
	run sh -c "cd '$dest' && find . -type f | sort"
	assert_line ./usr/bin/bedup
	assert_line ./usr/bin/bedup-findnew
	assert_line ./usr/share/man/man8/bedup.8
	assert_line ./usr/share/man/man7/bedup.7
	assert_line ./usr/share/bash-completion/completions/bedup
	assert_line ./usr/lib/systemd/system/bedup.service
	assert_line ./usr/lib/systemd/system/bedup.timer
	[ -x "$dest/usr/bin/bedup" ]
	run grep -E '^(ExecStart|Nice|IOSchedulingClass|Type)=' "$dest/usr/lib/systemd/system/bedup.service"
	assert_output "Type=oneshot
ExecStart=/usr/bin/bedup dedup
Nice=19
IOSchedulingClass=idle"
	run grep -E '^(OnCalendar|WantedBy)=' "$dest/usr/lib/systemd/system/bedup.timer"
	assert_output "OnCalendar=weekly
WantedBy=timers.target"
	if command -v systemd-analyze >/dev/null; then
		run systemd-analyze calendar weekly
		assert_success
	fi
	run --separate-stderr make -s -C "$BEDUP_ROOT" uninstall PREFIX=/usr DESTDIR="$dest"
	assert_success
	run find "$dest" -type f
	assert_output ""
}

@test "the installed bedup runs the stages installed next to it" {
	requires root btrfs
	newfs 1G
	local dest=$BATS_TEST_TMPDIR/dest
	make -s -C "$BEDUP_ROOT" install PREFIX=/usr DESTDIR="$dest" >/dev/null
	mkfile "$MNT/a" 10
	run --separate-stderr env -i PATH=/usr/bin:/bin "$dest/usr/bin/bedup" find-new -t "$MNT"
	assert_success
	assert_output "$MNT/a"
	assert_equal "$stderr" ""
}

# unit_run UNIT BINDIR ARGS...: runs the ExecStart= line of the service
# file UNIT (@BINDIR@ as BINDIR) as systemd would, as far as a test can:
# its Environment=, its CapabilityBoundingSet= and NoNewPrivileges= (by
# setpriv), stdin /dev/null, output to a pipe. ARGS are added to the line
# (a state directory and a filter) so that the test dedups its own
# filesystem, not every btrfs of the machine.
unit_run() {
	local unit=$1 bindir=$2 exec envs=() caps=-all c
	shift 2
	exec=$(sed -n 's/^ExecStart=//p' "$unit")
	exec=${exec//@BINDIR@/$bindir}
	mapfile -t envs < <(sed -n 's/^Environment=//p' "$unit")
	for c in $(sed -n 's/^CapabilityBoundingSet=//p' "$unit"); do
		c=${c#CAP_}
		caps+=,+${c,,}
	done
	# ExecStart= is split at spaces, as systemd splits a line without quotes
	# shellcheck disable=SC2086
	env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin "${envs[@]}" \
		setpriv --no-new-privs --inh-caps=-all --bounding-set="$caps" \
		$exec "$@" </dev/null
}

# journal_friendly: $output has no terminal escape and no carriage return,
# and every line is "bedup: " and a message (no progress line)
journal_friendly() {
	run grep -c $'[\r\e]' <<<"$output"
	assert_output 0
	run grep -v '^bedup: [0-9a-f-]\{36\}: [0-9]* files deduplicated, ' <<<"$1"
	assert_output ""
}

@test "bedup.service: ExecStart= with the unit's environment and capabilities" {
	requires root btrfs setpriv
	newfs 1G
	mkfile "$MNT/a" 2097152
	copy "$MNT/a" "$MNT/b"
	# another user's, mode 600: reading and leasing them takes the capabilities
	chown 4242:4242 "$MNT/a" "$MNT/b"
	chmod 600 "$MNT/a" "$MNT/b"
	sync
	run --separate-stderr unit_run "$BEDUP_ROOT/contrib/bedup.service" \
		"$BEDUP_ROOT/cmd/bedup" --state-dir "$BATS_TEST_TMPDIR/unit-state" "$MNT"
	assert_success
	assert_output --regexp "^bedup: $FS: 1 files deduplicated, 2097152 bytes \(2\.0 MiB\) newly shared, [0-9]+ s\$"
	assert_equal "$stderr" ""
	journal_friendly "$output"
	[ -s "$BATS_TEST_TMPDIR/unit-state/$FS/catalog" ] || [ -s "$BATS_TEST_TMPDIR/unit-state/$FS/catalog.journal" ]
}

# complete WORDS...: what the completion offers for the last word (WORDS
# split as bash splits them: "vol:x" is "vol" ":" "x")
complete_words() {
	bash -c '
		. /usr/share/bash-completion/bash_completion
		. "$1"
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE=$(printf "%s\n" "$*" | sed "s/ : */:/g")
		COMP_POINT=${#COMP_LINE}
		_bedup
		printf "%s\n" "${COMPREPLY[@]}"' bash "$BEDUP_ROOT/contrib/bedup.bash-completion" "$@"
}

@test "bash completion: commands, options, filters" {
	[ -r /usr/share/bash-completion/bash_completion ] || _missing "no bash-completion"
	mkdir -p "$BATS_TEST_TMPDIR/dir/sub"
	cd "$BATS_TEST_TMPDIR"
	run complete_words bedup de
	assert_output "dedup
dedup-files"
	run complete_words bedup dedup --no-
	assert_output "--no-crossvol
--no-wait"
	run complete_words bedup find-new -
	assert_output "-0
--zero-terminated
-t
--terse
-h
--help"
	# "di", not "d": a filesystem UUID of the machine may start with d
	run complete_words bedup dedup di
	assert_output "dir"
	run complete_words bedup dedup vo
	assert_output "vol:"
	# the part after the colon, as bash replaces only that
	run complete_words bedup show vol : di
	assert_output "dir"
}

@test "the demo tells its story in a screen, with paths the user can open" {
	requires root btrfs openssl
	TMPDIR=$BATS_TEST_TMPDIR run --separate-stderr sh "$BEDUP_ROOT/contrib/demo.sh"
	assert_success
	assert_equal "$stderr" ""
	[ "${#lines[@]}" -le 40 ] || { echo "${#lines[@]} lines" >&2; false; }
	[[ $output != *"/run/bedup"* ]]
	assert_line --regexp '^bedup: [0-9a-f-]{36}: 16 files deduplicated, 905969664 bytes \(864.0 MiB\) newly shared'
	assert_line --regexp '^  data on disk: [0-9]+ MiB before, [0-9]+ MiB after, [1-9][0-9]* MiB freed$'
	assert_line --regexp '^  home/bob/backup/ +12 files, +72 MiB, same data as home-snapshot/alice/photos/$'
	assert_line --regexp '^bedup: [0-9a-f-]{36}: 0 files deduplicated, 0 bytes \(0 B\) newly shared'
	assert_line '  files read: 0'
	# everything removed
	run sh -c "ls -d '$BATS_TEST_TMPDIR'/bedup-demo.* 2>/dev/null"
	assert_output ""
}

#!/usr/bin/env bats
# The catalog (lib/catalog.c) through bedup-catalog: lookups against a
# naive model, crashes, journal replay, the old form, paths from inodes.

load helpers

setup_file() {
	requires root btrfs xxhsum
	btrfs_mount 1G
}

teardown_file() {
	btrfs_unmount
}

setup() {
	C=$BATS_TEST_TMPDIR/cat
}

# gen SEED BATCH N: N random catalog lines (some "gone"), keys from a
# small space so that batches overwrite and remove each other's entries
gen() {
	awk -v seed="$1$2" -v n="$3" 'BEGIN {
		srand(seed); sv[0] = 5; sv[1] = 256; sv[2] = 257
		for (i = 0; i < n; i++) {
			size = int(rand() * 300) + 1; s = sv[int(rand() * 3)]
			ino = int(rand() * 40) + 256; gen = int(rand() * 1000) + 1
			r = rand()
			if (r < 0.15) { print size "\t" s "\t" ino "\t" gen "\tgone\t-"; continue }
			d = r < 0.6 ? sprintf("%08x%08x%08x%08x", rand() * 2^31, rand() * 2^31, rand() * 2^31, size) : "-"
			m = rand() < 0.5 ? sprintf("%08x%08x%08x%08x", rand() * 2^31, size, ino, gen) : "-"
			print size "\t" s "\t" ino "\t" gen "\t" d "\t" m
		}
	}'
}

# model FILE...: the catalog the lines of FILEs make, later wins, gone removes
model() {
	awk -F '\t' '{ k = $1 "\t" $2 "\t" $3; v[k] = $0 } END {
		for (k in v) if (split(v[k], f, "\t") && f[5] != "gone") print v[k] }' "$@" |
		sort -t "$(printf '\t')" -k1,1n -k2,2n -k3,3n
}

# same A B: the two files are equal, else the start of their diff
same() {
	diff "$1" "$2" >"$BATS_TEST_TMPDIR/diff" || { head -n 20 "$BATS_TEST_TMPDIR/diff"; return 1; }
}

# check_model: list, every bucket and some single keys agree with the model
check_model() {
	run --separate-stderr bedup-catalog -C "$C" list
	assert_success
	[ -z "$stderr" ]
	model "$BATS_TEST_TMPDIR"/batch.* >"$BATS_TEST_TMPDIR/want"
	[ -s "$BATS_TEST_TMPDIR/want" ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/list"
	same "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/list"
	seq 0 301 | bedup-catalog -C "$C" lookup >"$BATS_TEST_TMPDIR/buckets"
	same "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/buckets"
	gen "$1" keys 500 | cut -f1-3 | bedup-catalog -C "$C" lookup >"$BATS_TEST_TMPDIR/found"
	gen "$1" keys 500 | cut -f1-3 | awk -F '\t' 'NR == FNR { w[$1 "\t" $2 "\t" $3] = $0; next }
		{ k = $1 "\t" $2 "\t" $3 } k in w { print w[k] }' "$BATS_TEST_TMPDIR/want" - \
		>"$BATS_TEST_TMPDIR/model-found"
	[ -s "$BATS_TEST_TMPDIR/found" ]
	same "$BATS_TEST_TMPDIR/model-found" "$BATS_TEST_TMPDIR/found"
}

# applies: B batches of random sizes, the model checked after each
applies() {
	local b n
	for b in $(seq 1 "$1"); do
		n=$(( (b * 7919) % 900 + 10 ))
		gen "$2" "$b" "$n" >"$BATS_TEST_TMPDIR/batch.$(printf %03d "$b")"
		bedup-catalog -C "$C" apply -f 01234567-89ab-cdef-0123-456789abcdef \
			<"$BATS_TEST_TMPDIR/batch.$(printf %03d "$b")"
		check_model "$2$b"
	done
}

@test "catalog: lookups agree with a naive model, through the journal" {
	applies 8 1
	# the journal held the changes: never merged after the first batch
	[ -s "$C.journal" ]
	[ "$(grep -c '^# commit$' "$C.journal")" -eq 7 ]
}

@test "catalog: lookups agree with a naive model, merged at every batch" {
	BEDUP_CATALOG_JOURNAL_MAX=0 BEDUP_CATALOG_RUN=37 applies 8 2
	[ ! -e "$C.journal" ]
	[ "$(head -n1 "$C")" = "# bedup catalog 4 01234567-89ab-cdef-0123-456789abcdef" ]
}

@test "catalog: lookups agree with a naive model, merges now and then" {
	BEDUP_CATALOG_JOURNAL_MAX=1500 BEDUP_CATALOG_RUN=100 applies 10 3
	run bedup-catalog -C "$C" compact
	assert_success
	[ ! -e "$C.journal" ]
	check_model 3c
}

FSID=01234567-89ab-cdef-0123-456789abcdef

# bigbatch SEED N: N new entries with digests over inodes 256.., sizes spread
bigbatch() {
	awk -v seed="$1" -v n="$2" 'BEGIN { srand(seed)
		for (i = 0; i < n; i++)
			printf "%d\t%d\t%d\t%d\t%08x%08x%08x%08x\t-\n", int(rand() * 100000) + 1,
				5 + int(rand() * 2) * 251, i + 256, seed, rand() * 2^31, rand() * 2^31, i, seed
	}'
}

@test "catalog: SIGKILL at any point of a large apply leaves the old or the new catalog" {
	bigbatch 1 50000 | bedup-catalog -C "$C" apply -f $FSID
	for round in $(seq 1 10); do
		bigbatch $((round + 1)) 200000 >"$BATS_TEST_TMPDIR/batch"
		# odd rounds append to the journal, even ones merge into a new base
		if [ $((round % 2)) = 1 ]; then export BEDUP_CATALOG_JOURNAL_MAX=1000000
		else unset BEDUP_CATALOG_JOURNAL_MAX; fi
		bedup-catalog -C "$C" list >"$BATS_TEST_TMPDIR/old"
		rm -rf "$BATS_TEST_TMPDIR/copy" && mkdir "$BATS_TEST_TMPDIR/copy"
		cp "$C"* "$BATS_TEST_TMPDIR/copy/"
		t=$(date +%s%N)
		bedup-catalog -C "$BATS_TEST_TMPDIR/copy/cat" apply <"$BATS_TEST_TMPDIR/batch"
		t=$(( ($(date +%s%N) - t) / 1000000 ))   # ms the whole apply takes
		bedup-catalog -C "$BATS_TEST_TMPDIR/copy/cat" list >"$BATS_TEST_TMPDIR/new"
		cmp -s "$BATS_TEST_TMPDIR/old" "$BATS_TEST_TMPDIR/new" && return 1
		bedup-catalog -C "$C" apply <"$BATS_TEST_TMPDIR/batch" &
		# killed anywhere from its start to a little after its end
		sleep "$(awk -v t="$t" -v r="$RANDOM" 'BEGIN { printf "%.3f", t * 1.2 * r / 32768 / 1000 }')"
		kill -KILL $! 2>/dev/null || true
		wait $! || true
		run --separate-stderr bedup-catalog -C "$C" list
		assert_success
		assert_equal "$stderr" ""
		printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/after"
		if cmp -s "$BATS_TEST_TMPDIR/after" "$BATS_TEST_TMPDIR/old"; then
			echo "round $round: old"
		else
			same "$BATS_TEST_TMPDIR/after" "$BATS_TEST_TMPDIR/new"
			echo "round $round: new"
		fi
		[ "$(stat -c %a "$C")" = 600 ]
	done
}

@test "catalog: a journal replayed twice gives the same catalog" {
	gen 9 1 800 >"$BATS_TEST_TMPDIR/batch.001"
	gen 9 2 800 >"$BATS_TEST_TMPDIR/batch.002"
	gen 9 3 800 >"$BATS_TEST_TMPDIR/batch.003"
	bedup-catalog -C "$C" apply -f $FSID <"$BATS_TEST_TMPDIR/batch.001"
	bedup-catalog -C "$C" apply <"$BATS_TEST_TMPDIR/batch.002"
	bedup-catalog -C "$C" apply <"$BATS_TEST_TMPDIR/batch.003"
	[ "$(grep -c '^# commit$' "$C.journal")" -eq 2 ]
	[ "$(stat -c %a "$C.journal")" = 600 ]
	bedup-catalog -C "$C" list >"$BATS_TEST_TMPDIR/before"
	cp "$C.journal" "$BATS_TEST_TMPDIR/journal"
	run bedup-catalog -C "$C" compact
	assert_success
	[ ! -e "$C.journal" ]
	# as after a crash between the new base's rename and the unlink
	cp "$BATS_TEST_TMPDIR/journal" "$C.journal"
	run --separate-stderr bedup-catalog -C "$C" list
	assert_success
	assert_equal "$stderr" ""
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/after"
	same "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
	model "$BATS_TEST_TMPDIR"/batch.* >"$BATS_TEST_TMPDIR/want"
	same "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/after"
	# a batch cut by a crash is not read, and the next batch replaces it
	printf '1001\t5\t300\t1\t-\t-\n1002\t5\t' >>"$C.journal"
	run --separate-stderr bedup-catalog -C "$C" list
	assert_success
	assert_equal "$stderr" ""
	same "$BATS_TEST_TMPDIR/before" <(printf '%s\n' "$output")
	printf '1003\t5\t301\t1\t-\t-\n' | bedup-catalog -C "$C" apply
	run bedup-catalog -C "$C" lookup <<<$'1001\n1002\n1003'
	assert_output $'1003\t5\t301\t1\t-\t-'
	tail -n 2 "$C.journal" | diff - <(printf '1003\t5\t301\t1\t-\t-\n# commit\n')
}

@test "catalog: 10,000 entries with digests take under 64 bytes each in the base" {
	bigbatch 3 10000 | bedup-catalog -C "$C" apply -f $FSID
	run bedup-catalog -C "$C" count
	assert_output "$(bigbatch 3 10000 | cut -f2 | sort -n | uniq -c | awk '{ print $2 "\t" $1 }')"
	[ ! -e "$C.journal" ]
	bytes=$(stat -c %s "$C")
	echo "$bytes bytes"
	[ "$bytes" -lt 640000 ]
}

@test "bedup-catalog: malformed apply lines are reported, the rest applied, exit 1" {
	run --separate-stderr bedup-catalog -C "$C" apply -f $FSID <<-EOF
	10	5	256	1	-	-
	10	5	x	1	-	-
	11	0	256	1	-	-
	12	5	256	1	0123	-
	13	5	256	1	-	-	extra
	14	5	257	1	-	ABCDEF0123456789ABCDEF0123456789
	17	5	260	1	-	-	0123456789abcdef	extra
	18	5	261	1	-	-	0123456789abcdef
	19	5	262	1	-	-	-	fedcba98
	20	5	263	1	-	-	x	fedcba98
	21	5	264	1	-	-	-	fedcba98	extra
	22	5	265	1	-	-	-

	15	5	258	2	gone	-
	16	5	259	3	0123456789abcdef0123456789abcdef	fedcba9876543210fedcba9876543210
	EOF
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "bedup-catalog: line 2: bad INO: not a decimal number
bedup-catalog: line 3: bad SUBVOL: zero
bedup-catalog: line 4: bad DIGEST: not '-', 'gone' or 32 lowercase hex digits
bedup-catalog: line 5: bad KEY: not 16 lowercase hex digits
bedup-catalog: line 6: bad SAMPLE: not '-' or 32 lowercase hex digits
bedup-catalog: line 7: bad LAYOUT: not 8 lowercase hex digits
bedup-catalog: line 10: bad KEY: not 16 lowercase hex digits or '-'
bedup-catalog: line 11: expected 6 to 8 fields, got 9
bedup-catalog: line 12: bad KEY: not 16 lowercase hex digits"
	run --separate-stderr bedup-catalog -C "$C" list
	assert_success
	assert_output $'10\t5\t256\t1\t-\t-\n16\t5\t259\t3\t0123456789abcdef0123456789abcdef\tfedcba9876543210fedcba9876543210\n18\t5\t261\t1\t-\t-\t0123456789abcdef\n19\t5\t262\t1\t-\t-\t-\tfedcba98'
}

@test "bedup-catalog: a base and a journal of any bytes are read without a crash" {
	for i in $(seq 1 40); do
		rm -f "$C" "$C.journal"
		{ [ $((i % 2)) = 0 ] && echo "# bedup catalog 2 $FSID"
			head -c $((RANDOM % 4000)) /dev/urandom; } >"$C"
		{ head -c $((RANDOM % 2000)) /dev/urandom; printf '\n# commit\n'; } >"$C.journal"
		run bedup-catalog -C "$C" list
		[ "$status" -le 2 ]
		run bedup-catalog -C "$C" lookup <<<$'1\n2\t5\t3'
		[ "$status" -le 2 ]
	done
	# good lines among bad ones are all found
	{ echo "# bedup catalog 2 $FSID"
		for k in $(seq 1 50); do printf '%d\t5\t%d\t1\t-\t-\n' "$k" "$k"
			head -c 60 /dev/urandom | tr -d '\n'; echo; done; } >"$C"
	rm -f "$C.journal"
	run --separate-stderr bedup-catalog -C "$C" lookup < <(seq 1 50)
	assert_success
	assert_equal "${#lines[@]}" 50
	run --separate-stderr bedup-catalog -C "$C" list
	assert_failure 1
	assert_equal "${#lines[@]}" 50
	[ "$(grep -c "^bedup-catalog: $C: line [0-9]*: " <<<"$stderr")" -eq 50 ]
}

# entries RECORD...: the catalog lines of records (digests kept, no sample)
entries() {
	awk -F '\t' -v OFS='\t' '{ print $1, $4, $5, $6, $2, "-" }'
}

@test "catalog: an old-format catalog is converted on open: inodes, digests, samples kept, no path" {
	D=$MNT/old
	mkdir -p "$D"
	chattr +C "$D"   # no checksums: bedup-hash tells files apart by samples
	mkfile "$D/old1" 3000000 c
	copy "$D/old1" "$D/old2"
	mkfile "$D/other" 3000000 o
	sync
	# the form of bedup 0.1: records, the twins' digests in them, and
	# the samples of all three beside them, as its bedup-hash left them
	record "$D/old1" "$D/old2" "$D/other" |
		awk -F '\t' -v OFS='\t' 'NR < 3 { $2 = "00112233445566778899aabbccddeeff" } { print }' >"$C"
	record "$D/old1" "$D/old2" "$D/other" | awk -F '\t' -v OFS='\t' '{
		print $1, (NR < 3 ? "ffeeddccbbaa99887766554433221100" : "0123456789abcdef0123456789abcdef"),
			$3, $4, $5, $6 }' >"$C.samples"
	[ "$(wc -l <"$C")" -eq 3 ]
	[ "$(wc -l <"$C.samples")" -eq 3 ]
	cp "$C" "$BATS_TEST_TMPDIR/old"
	cp "$C.samples" "$BATS_TEST_TMPDIR/samples"
	want=$(awk -F '\t' -v OFS='\t' 'NR == FNR { s[$1 FS $4 FS $5 FS $6] = $2; next }
		{ k = $1 FS $4 FS $5 FS $6; print $1, $4, $5, $6, $2, k in s ? s[k] : "-" }' \
		"$BATS_TEST_TMPDIR/samples" "$BATS_TEST_TMPDIR/old" | sort -k1,1n -k2,2n -k3,3n)
	[ "$(cut -f5 <<<"$want" | grep -c '^[0-9a-f]\{32\}$')" -eq 2 ]
	[ "$(cut -f6 <<<"$want" | grep -c '^[0-9a-f]\{32\}$')" -eq 3 ]
	run --separate-stderr bedup-catalog -C "$C" list
	assert_success
	assert_equal "$stderr" ""
	assert_output "$want"
	# converted once: a base of the new form, no paths, no samples file
	assert_equal "$(head -n 1 "$C")" "# bedup catalog 4 $(fsid "$MNT")"
	assert_equal "$(tail -n +2 "$C")" "$want"
	[ ! -e "$C.samples" ]
	[ "$(stat -c %a "$C")" = 600 ]
	# the records again, paths found from the inodes
	run --separate-stderr bedup-catalog -C "$C" records -m "$MNT"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sort <<<"$output")" "$(sort "$BATS_TEST_TMPDIR/old")"
}

@test "catalog: old-format lines that are not records are reported and left out" {
	D=$MNT/oldbad
	mkdir -p "$D"
	echo a >"$D/a"
	echo b >"$D/b"
	{ record "$D/a"; echo "not a record"; record "$D/b" | sed 's/\t[0-9a-f-]\{36\}\t/\t00000000-0000-0000-0000-000000000000\t/'; } >"$C"
	run --separate-stderr bedup-catalog -C "$C" list
	assert_failure 1
	assert_output "$(record "$D/a" | entries)"
	assert_equal "$stderr" "bedup-catalog: $C: line 2: expected 7 fields, got 1
bedup-catalog: $C: line 3: FSID is not the first record's"
	run --separate-stderr bedup-catalog -C "$C" list
	assert_success
	assert_equal "$stderr" ""
}

@test "bedup-catalog records: paths from inodes in the top level, subvolumes, a snapshot, odd names" {
	D=$MNT/ino
	mkdir -p "$D"
	echo top >"$D/top"
	btrfs -q subvolume create "$D/sv"
	mkdir "$D/sv/dir"
	echo nested >"$D/sv/dir/nested"
	echo lf >"$D/sv/new"$'\n'"line"
	echo tab >"$D/sv/a"$'\t'"b\\c"
	btrfs -q subvolume create "$D/sv/inner"
	echo deep >"$D/sv/inner/deep"
	btrfs -q subvolume snapshot -r "$D/sv" "$D/snap"
	echo gone >"$D/sv/gone"
	files=("$D/top" "$D/sv/dir/nested" "$D/sv/new"$'\n'"line" "$D/sv/a"$'\t'"b\\c" "$D/sv/inner/deep"
		"$D/snap/dir/nested" "$D/snap/new"$'\n'"line")
	record "${files[@]}" >"$BATS_TEST_TMPDIR/records"
	{ record "${files[@]}"; record "$D/sv/gone"; } | entries |
		bedup-catalog -C "$C" apply -f "$(fsid "$MNT")"
	rm "$D/sv/gone"
	sync
	run --separate-stderr bedup-catalog -C "$C" records -m "$MNT"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sort <<<"$output")" "$(sort "$BATS_TEST_TMPDIR/records")"
	# one subvolume only
	sv=$(btrfs inspect-internal rootid "$D/sv/dir")
	run --separate-stderr bedup-catalog -C "$C" records -m "$MNT" -s "$sv"
	assert_success
	assert_equal "$(sort <<<"$output")" "$(record "$D/sv/dir/nested" "$D/sv/new"$'\n'"line" "$D/sv/a"$'\t'"b\\c" | sort)"
	# a mount of a subvolume, not of the top level, is refused
	mkdir "$BATS_FILE_TMPDIR/bind"
	echo "$BATS_FILE_TMPDIR/bind" >>"$BATS_FILE_TMPDIR/.mounts"
	mount --bind "$D/sv" "$BATS_FILE_TMPDIR/bind"
	run --separate-stderr bedup-catalog -C "$C" records -m "$BATS_FILE_TMPDIR/bind"
	umount "$BATS_FILE_TMPDIR/bind"
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup-catalog: $BATS_FILE_TMPDIR/bind: Invalid argument"
	# another filesystem's catalog is refused
	printf '1\t5\t256\t1\t-\t-\n' | bedup-catalog -C "$C.other" apply -f $FSID
	run --separate-stderr bedup-catalog -C "$C.other" records -m "$MNT"
	assert_failure 2
	assert_equal "$stderr" "bedup-catalog: $MNT: filesystem $(fsid "$MNT"), the catalog's is $FSID"
}

@test "bedup-catalog: a file that is not a catalog is left as it is" {
	printf 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n' >"$C"
	cp "$C" "$BATS_TEST_TMPDIR/orig"
	run --separate-stderr bedup-catalog -C "$C" list
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "bedup-catalog: $C: line 1: not a catalog: expected 7 fields, got 1
bedup-catalog: $C: Protocol error"
	cmp "$C" "$BATS_TEST_TMPDIR/orig"
	echo "# bedup catalog 5 $FSID" >"$C"
	run --separate-stderr bedup-catalog -C "$C" list
	assert_failure 2
	assert_equal "$stderr" "bedup-catalog: $C: line 1: not a catalog of version 4, 3 or 2
bedup-catalog: $C: Protocol error"
}

@test "bedup-catalog drop: a new base without those subvolumes, the journal merged" {
	gen 11 1 900 >"$BATS_TEST_TMPDIR/batch.001"
	gen 11 2 300 >"$BATS_TEST_TMPDIR/batch.002"
	bedup-catalog -C "$C" apply -f $FSID <"$BATS_TEST_TMPDIR/batch.001"
	bedup-catalog -C "$C" apply <"$BATS_TEST_TMPDIR/batch.002"
	[ -s "$C.journal" ]
	run --separate-stderr bedup-catalog -C "$C" drop 256 257
	assert_success
	assert_equal "$stderr" ""
	[ ! -e "$C.journal" ]
	model "$BATS_TEST_TMPDIR"/batch.* | awk -F '\t' '$2 == 5' >"$BATS_TEST_TMPDIR/want"
	[ -s "$BATS_TEST_TMPDIR/want" ]
	same "$BATS_TEST_TMPDIR/want" <(tail -n +2 "$C")
	run bedup-catalog -C "$C" count
	assert_output "5	$(wc -l <"$BATS_TEST_TMPDIR/want")"
}

@test "bedup-catalog: usage errors exit 2 and do nothing" {
	for args in "" "list" "-C $C" "-C $C nosuch" "-C $C drop" "-C $C drop 0" "-C $C records" \
		"-C $C list -x" "-C $C apply -f nouuid" "-C $C count extra"; do
		run --separate-stderr bedup-catalog $args </dev/null
		assert_failure 2
		assert_output ""
		# getopt's own line first, for an unknown option
		[ "${#stderr_lines[@]}" -eq 1 ] || [[ ${stderr_lines[0]} == "bedup-catalog: invalid option -- 'x'" ]]
		assert_equal "${stderr_lines[-1]}" "usage: bedup-catalog -C CATALOG list [-s SUBVOL]... | count | records -m MOUNT [-s SUBVOL]... | lookup | drop SUBVOL... | compact | apply [-f FSID]"
	done
	[ ! -e "$C" ]
	run --separate-stderr bedup-catalog -C "$BATS_TEST_TMPDIR/no/such/dir/cat" apply <<<$'1\t5\t256\t1\t-\t-'
	assert_failure 2
	assert_output ""
	[[ $stderr == "bedup-catalog: commit: No such file or directory" ]]
}

@test "catalog: a commit onto a base of version 3 writes a version 4 base, no journal" {
	{ echo "# bedup catalog 3 $FSID"; printf '10\t5\t256\t1\t-\t-\t0123456789abcdef\n'; } >"$C"
	run --separate-stderr bedup-catalog -C "$C" list
	assert_success
	assert_output $'10\t5\t256\t1\t-\t-\t0123456789abcdef'
	# a version 3 bedup would refuse this base, but never meets a line of
	# version 4 in a journal beside its own base
	printf '11\t5\t257\t1\t-\t-\t-\tfedcba98\n' | bedup-catalog -C "$C" apply
	assert_equal "$(head -n 1 "$C")" "# bedup catalog 4 $FSID"
	[ ! -s "$C.journal" ]
	run --separate-stderr bedup-catalog -C "$C" list
	assert_success
	assert_output $'10\t5\t256\t1\t-\t-\t0123456789abcdef\n11\t5\t257\t1\t-\t-\t-\tfedcba98'
}

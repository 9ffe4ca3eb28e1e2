#!/bin/bash
# contrib/agora-nvmf-connect.sh - connect the drives a storage node
# exports over NVMe-oF (agora-nvmf-export.sh) on an Agora metad or
# gateway host, with nvme-cli, and say what to write in agora.conf.
#
# After `nvme connect` it lists the namespaces of the subsystem, in
# namespace order: each one's /dev/nvmeXnY (numbered by the kernel in
# the order of connection, so different on each host) and its
# /dev/disk/by-id/nvme-uuid.UUID (the namespace's own name, the same on
# every host), and a `drives =` line of the latter. --list only lists,
# --remove disconnects, --dry-run prints the commands and runs none.
#
# A short controller-loss timeout (--ctrl-loss-tmo, default 10 s) makes
# I/O to a storage node that stays away fail instead of hanging: Agora
# then reads around the drive (erasure coding, the mirrored pages) and
# marks it failed.
set -euo pipefail

prog=${0##*/}
sys=/sys
load_modules=1
dry_run=0
mode=connect
transport=tcp
addr=""
svcid=4420
nqn=""
hostnqn=""
ctrl_loss_tmo=10
reconnect_delay=2

usage() {
	cat <<EOF
usage: $prog [--dry-run] [--transport tcp|rdma] --addr ADDR [--port N]
           [--hostnqn NQN] [--ctrl-loss-tmo SEC] --nqn NQN
       $prog --list --nqn NQN
       $prog [--dry-run] --remove --nqn NQN

Connect the NVMe-oF subsystem NQN at ADDR and print its namespaces'
device names for the drives = line of agora.conf.

  --transport tcp|rdma  the fabric (default tcp)
  --addr ADDR           the storage node's address on it
  --port N              its service id (default 4420)
  --nqn NQN             the subsystem (as agora-nvmf-export.sh made it)
  --hostnqn NQN         this host's NQN (default: /etc/nvme/hostnqn)
  --ctrl-loss-tmo SEC   give up on a lost storage node after SEC seconds
                        (default 10; -1 waits for ever)
  --list                list the namespaces of NQN already connected
  --remove              disconnect NQN
  --dry-run             print what would be done, do nothing
  --sysfs DIR           where sysfs is (default /sys; another directory
                        loads no module: for tests)
  -h, --help            this text
EOF
}

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 2
}

# run CMD...: run it, or print it in a dry run
run() {
	if [ "$dry_run" = 1 ]; then
		printf '%s\n' "$*"
	else
		"$@"
	fi
}

# namespaces: "NSID DEVICE ID-PATH" of each block device of subsystem
# $nqn, in namespace order (a multipath head and a controller's own
# namespace both name their subsystem in device/subsysnqn)
namespaces() {
	local b name nsid wwid
	for b in "$sys"/block/nvme*n*; do
		[ -e "$b/device/subsysnqn" ] || continue
		[ "$(cat "$b/device/subsysnqn")" = "$nqn" ] || continue
		name=${b##*/}
		case $name in
		*c*n*) continue ;; # a hidden path of a multipath namespace
		esac
		nsid=$(cat "$b/nsid" 2>/dev/null || echo 0)
		wwid=$(cat "$b/wwid" 2>/dev/null || echo "")
		printf '%s /dev/%s %s\n' "$nsid" "$name" \
			"${wwid:+/dev/disk/by-id/nvme-$wwid}"
	done | sort -n
}

# list: print the namespaces and the drives = line; 1 if there are none
list() {
	local nsid dev id drives="" n=0
	while read -r nsid dev id; do
		n=$((n + 1))
		printf 'namespace %s  %s  %s\n' "$nsid" "$dev" "${id:-(no UUID: name it by $dev)}"
		drives+="${drives:+,}${id:-$dev}"
	done < <(namespaces)
	[ "$n" -gt 0 ] || return 1
	printf 'drives = %s\n' "$drives"
}

while [ $# -gt 0 ]; do
	case $1 in
	--dry-run) dry_run=1 ;;
	--list) mode=list ;;
	--remove) mode=remove ;;
	--transport) transport=${2:?--transport needs a value}; shift ;;
	--addr) addr=${2:?--addr needs a value}; shift ;;
	--port) svcid=${2:?--port needs a value}; shift ;;
	--nqn) nqn=${2:?--nqn needs a value}; shift ;;
	--hostnqn) hostnqn=${2:?--hostnqn needs a value}; shift ;;
	--ctrl-loss-tmo) ctrl_loss_tmo=${2:?--ctrl-loss-tmo needs a value}; shift ;;
	--sysfs) sys=${2:?--sysfs needs a value}; load_modules=0; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument $1" ;;
	esac
	shift
done

[ -n "$nqn" ] || { usage >&2; die "--nqn is required"; }

case $mode in
list)
	list || die "no namespace of $nqn is connected here"
	exit 0
	;;
remove)
	[ "$dry_run" = 1 ] || command -v nvme >/dev/null ||
		die "nvme not found: install nvme-cli"
	run nvme disconnect -n "$nqn"
	exit 0
	;;
esac

[ -n "$addr" ] || { usage >&2; die "--addr is required"; }
case $transport in
tcp | rdma) ;;
*) die "--transport $transport: tcp or rdma" ;;
esac
case $ctrl_loss_tmo in
-1 | [0-9]*) ;;
*) die "--ctrl-loss-tmo $ctrl_loss_tmo: seconds, or -1" ;;
esac
[ "$dry_run" = 1 ] || command -v nvme >/dev/null ||
	die "nvme not found: install nvme-cli"

[ "$load_modules" = 0 ] || run modprobe "nvme-$transport"
args=(-t "$transport" -a "$addr" -s "$svcid" -n "$nqn"
	--ctrl-loss-tmo="$ctrl_loss_tmo" --reconnect-delay="$reconnect_delay")
[ -z "$hostnqn" ] || args+=(--hostnqn="$hostnqn")
run nvme connect "${args[@]}"
if [ "$dry_run" = 1 ]; then
	printf '# dry run: nothing was changed; then the namespaces of %s:\n' "$nqn"
	printf '#   %s --list --nqn %s\n' "$prog" "$nqn"
	exit 0
fi
# udev makes the by-id names a moment after the devices
if command -v udevadm >/dev/null; then
	udevadm settle --timeout=10 || true
fi
for _ in 1 2 3 4 5 6 7 8 9 10; do
	list && exit 0
	sleep 1
done
die "connected, but no namespace of $nqn appeared in $sys/block"

#!/bin/bash
# contrib/agora-nvmf-export.sh - export a storage node's drives to the
# Agora hosts over NVMe-oF, with the kernel's target (nvmet, configured
# through configfs), over TCP or RDMA.
#
# The drives become the namespaces 1, 2, ... of one subsystem, in the
# order given, each with a UUID made from the subsystem's NQN and its
# namespace id: the same after every export, so that the hosts' names
# for them (/dev/disk/by-id/nvme-uuid.UUID) stay those agora.conf lists.
# The subsystem is reached through one port (an address, a transport
# and a service id). --remove takes it all down again. --dry-run prints
# every command and every configfs write and changes nothing.
#
# Run as root on the storage node; agora-nvmf-connect.sh connects the
# subsystem on each metad and gateway host.
set -euo pipefail

prog=${0##*/}
cfs=/sys/kernel/config
load_modules=1
dry_run=0
remove=0
transport=tcp
addr=""
svcid=4420
nqn=""
port_id=1
hosts=()
devices=()

usage() {
	cat <<EOF
usage: $prog [--dry-run] [--transport tcp|rdma] --addr ADDR [--port N]
           [--port-id N] [--allow-host HOSTNQN]... --nqn NQN DEVICE...
       $prog [--dry-run] --remove [--port-id N] --nqn NQN

Export DEVICEs (block devices, or files) as the namespaces 1, 2, ... of
the NVMe-oF subsystem NQN, through the kernel target (nvmet), on ADDR.

  --transport tcp|rdma  the fabric (default tcp; rdma for RoCE/InfiniBand)
  --addr ADDR           this node's IPv4 address on that fabric
  --port N              the service id (default 4420)
  --port-id N           the nvmet port to use or make (default 1)
  --nqn NQN             the subsystem, e.g. nqn.2026-01.org.agora:node1
  --allow-host HOSTNQN  only these hosts may connect (default: any host)
  --remove              take the export of NQN down
  --dry-run             print what would be done, do nothing
  --configfs DIR        configfs's mount point (default /sys/kernel/config;
                        another directory loads no module: for tests)
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

# put VALUE FILE: write VALUE to a configfs attribute
put() {
	if [ "$dry_run" = 1 ]; then
		printf 'echo %s > %s\n' "$1" "$2"
	else
		printf '%s\n' "$1" >"$2"
	fi
}

# ns_uuid NSID: the namespace's UUID, from the NQN and NSID (a name-based
# UUID: version 5's layout, SHA-256's bits)
ns_uuid() {
	local h
	h=$(printf 'agora-nvmf:%s:%s' "$nqn" "$1" | sha256sum)
	printf '%s-%s-5%s-%x%s-%s\n' "${h:0:8}" "${h:8:4}" "${h:13:3}" \
		$(((16#${h:16:1} & 3) | 8)) "${h:17:3}" "${h:20:12}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--dry-run) dry_run=1 ;;
	--remove) remove=1 ;;
	--transport) transport=${2:?--transport needs a value}; shift ;;
	--addr) addr=${2:?--addr needs a value}; shift ;;
	--port) svcid=${2:?--port needs a value}; shift ;;
	--port-id) port_id=${2:?--port-id needs a value}; shift ;;
	--nqn) nqn=${2:?--nqn needs a value}; shift ;;
	--allow-host) hosts+=("${2:?--allow-host needs a value}"); shift ;;
	--configfs) cfs=${2:?--configfs needs a value}; load_modules=0; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; devices+=("$@"); break ;;
	-*) usage >&2; die "unknown option $1" ;;
	*) devices+=("$1") ;;
	esac
	shift
done

[ -n "$nqn" ] || { usage >&2; die "--nqn is required"; }
case $nqn in
nqn.*) ;;
*) die "--nqn $nqn: an NQN starts with nqn. (nqn.YYYY-MM.reverse.domain:name)" ;;
esac
case $port_id in
'' | *[!0-9]*) die "--port-id $port_id: not a number" ;;
esac
nvmet=$cfs/nvmet
subsys=$nvmet/subsystems/$nqn
port=$nvmet/ports/$port_id

if [ "$remove" = 1 ]; then
	[ ${#devices[@]} -eq 0 ] || die "--remove takes no DEVICE"
	if [ "$dry_run" = 0 ] && [ ! -d "$subsys" ]; then
		die "$nqn is not exported here ($subsys does not exist)"
	fi
	run rm -f "$port/subsystems/$nqn"
	if [ "$dry_run" = 1 ] && [ ! -d "$subsys" ]; then
		printf 'echo 0 > %s/namespaces/N/enable   (each namespace N)\n' "$subsys"
		printf 'rmdir %s/namespaces/N\n' "$subsys"
	fi
	for ns in "$subsys"/namespaces/*; do
		[ -d "$ns" ] || continue
		put 0 "$ns/enable"
		run rmdir "$ns"
	done
	for h in "$subsys"/allowed_hosts/*; do
		[ -e "$h" ] || [ -L "$h" ] || continue
		run rm -f "$h"
	done
	run rmdir "$subsys"
	# the port goes too once no subsystem is left on it
	if [ "$dry_run" = 1 ]; then
		printf 'rmdir %s   (if no other subsystem uses it)\n' "$port"
	elif [ -d "$port" ] && [ -z "$(ls -A "$port/subsystems" 2>/dev/null)" ]; then
		rmdir "$port"
	fi
	if [ "$dry_run" = 1 ]; then
		printf '# dry run: nothing was changed\n'
	else
		printf '%s: %s is no longer exported\n' "$prog" "$nqn"
	fi
	exit 0
fi

[ ${#devices[@]} -gt 0 ] || { usage >&2; die "no DEVICE to export"; }
[ -n "$addr" ] || { usage >&2; die "--addr is required"; }
case $transport in
tcp | rdma) ;;
*) die "--transport $transport: tcp or rdma" ;;
esac
case $svcid in
'' | *[!0-9]*) die "--port $svcid: not a number" ;;
esac
for i in "${!devices[@]}"; do
	d=${devices[i]}
	[ -b "$d" ] || [ -f "$d" ] || die "$d: not a block device or a file"
	devices[i]=$(readlink -f "$d")
done
if [ "$dry_run" = 0 ] && [ -e "$subsys" ]; then
	die "$nqn is exported already ($subsys): --remove it first"
fi
# a port in use keeps its address (configfs refuses changes while a
# subsystem is linked): share it only when it is the one asked for
port_new=1
if [ "$dry_run" = 0 ] && [ -d "$port" ] &&
	[ -n "$(ls -A "$port/subsystems" 2>/dev/null)" ]; then
	have="$(cat "$port/addr_trtype") $(cat "$port/addr_traddr"):$(cat "$port/addr_trsvcid")"
	[ "$have" = "$transport $addr:$svcid" ] ||
		die "port $port_id serves $have already: choose another --port-id"
	port_new=0
fi

if [ "$load_modules" = 1 ]; then
	run modprobe nvmet
	run modprobe "nvmet-$transport"
	if [ "$dry_run" = 0 ] && [ ! -d "$nvmet" ]; then
		mountpoint -q "$cfs" || mount -t configfs none "$cfs"
	fi
fi
if [ "$dry_run" = 0 ] && [ ! -d "$nvmet" ]; then
	die "$nvmet does not exist: is the nvmet module loaded?"
fi

run mkdir -p "$subsys"
if [ ${#hosts[@]} -eq 0 ]; then
	put 1 "$subsys/attr_allow_any_host"
else
	put 0 "$subsys/attr_allow_any_host"
	for h in "${hosts[@]}"; do
		run mkdir -p "$nvmet/hosts/$h" "$subsys/allowed_hosts"
		run ln -s "$nvmet/hosts/$h" "$subsys/allowed_hosts/$h"
	done
fi
for i in "${!devices[@]}"; do
	nsid=$((i + 1))
	run mkdir -p "$subsys/namespaces/$nsid"
	put "${devices[i]}" "$subsys/namespaces/$nsid/device_path"
	put "$(ns_uuid "$nsid")" "$subsys/namespaces/$nsid/device_uuid"
	put 1 "$subsys/namespaces/$nsid/enable"
done
if [ "$port_new" = 1 ]; then
	# configfs makes an item's subdirectories with it: -p names them
	# for another directory standing in
	run mkdir -p "$port/subsystems"
	put "$transport" "$port/addr_trtype"
	put ipv4 "$port/addr_adrfam"
	put "$addr" "$port/addr_traddr"
	put "$svcid" "$port/addr_trsvcid"
fi
run ln -s "$subsys" "$port/subsystems/$nqn"

[ "$dry_run" = 1 ] && printf '# dry run: nothing was changed\n'
printf '%s: %s exported on %s %s:%s:\n' "$prog" "$nqn" "$transport" "$addr" "$svcid"
for i in "${!devices[@]}"; do
	printf '  namespace %d  %s  uuid %s\n' $((i + 1)) "${devices[i]}" "$(ns_uuid $((i + 1)))"
done
printf 'on each metad and gateway host:\n'
printf '  agora-nvmf-connect.sh --transport %s --addr %s --port %s --nqn %s\n' \
	"$transport" "$addr" "$svcid" "$nqn"

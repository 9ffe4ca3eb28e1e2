#!/bin/bash
# bench/nfs.sh - large-file reads and writes over NFS (nfs-ganesha, FSAL
# VFS) and SMB (Samba) re-exporting an agora-fused mount, side by side
# with the same servers exporting a local directory next to the drive
# files (aim: at least 0.5x the local directory's speed), and beside the
# mount's own speed (cp to and from it), which bounds what any export of
# it can do: the last column is how much of that the server keeps.
#
#   bench/nfs.sh
#
# ganesha (with rpcbind, for NFSv3) and smbd run in a network namespace
# of their own, configured from contrib/ganesha-agora.conf and
# contrib/smb-agora.conf with a second export of the local directory;
# the clients are libnfs's nfs-cp (NFSv3) and smbclient (SMB3), in the
# same namespace over its loopback. Every figure is the median of
# AGORA_BENCH_RUNS runs; each write sends fresh random bytes (no
# deduplication), caches are dropped before each read. Run as root.
#
# Environment (and those of bench/lib.sh):
#   AGORA_BENCH_SIZE=512M   bytes of the file (K, M, G)
bench_name=nfs
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

size_arg=${AGORA_BENCH_SIZE:-512M}
size=$(numfmt --from=iec "${size_arg%[bB]}" 2>/dev/null) ||
	die "AGORA_BENCH_SIZE=$size_arg: not a size"
fused=$build/fused/agora-fused
[ "$(id -u)" = 0 ] || die "run as root (network namespace, servers, caches)"
for c in ganesha.nfsd rpcbind nfs-cp smbd smbclient smbpasswd ip; do
	command -v "$c" >/dev/null || die "$c not installed (see contrib/packages.txt)"
done

ns=agbench$$
cleanup_ns() { ip netns delete "$ns" 2>/dev/null || true; }
trap 'cleanup_ns; cleanup' EXIT
ip netns add "$ns" || die "cannot make a network namespace"
ip -n "$ns" link set lo up
in_ns() { ip netns exec "$ns" "$@"; }

cluster_start $(( (size * (runs + 2) + (1 << 30)) >> 30 ))G
mkdir -p "$T/agora" "$T/local" "$T/run" "$T/recov" "$T/smb"/{private,lock,state,cache,pid,ncalrpc}
"$fused" -c "$conf" -o "allow_other,keep_mount,log=$T/fused.log,pidfile=$T/fused.pid" \
	"$T/agora" 2>>"$T/fused.log" || die "agora-fused exited $?"
bench_mounts+=("$T/agora")
bench_pids+=("$(cat "$T/fused.pid")")

# ganesha: the example's export of the mount, and a copy of it for the
# local directory (another id, path and pseudo path)
python3 - "$root/contrib/ganesha-agora.conf" "$T/agora" "$T/local" "$T/recov" \
	>"$T/ganesha.conf" <<'PY'
import re, sys
conf, agora, local, recov = sys.argv[1:]
text = open(conf).read().replace("/mnt/agora", agora)
text = re.sub(r"RecoveryRoot = .*;", "RecoveryRoot = %s;" % recov, text)
export = text[text.index("EXPORT {"):]
second = (export.replace("Export_Id = 1;", "Export_Id = 2;")
          .replace("Path = %s;" % agora, "Path = %s;" % local)
          .replace("Pseudo = /agora;", "Pseudo = /local;")
          .replace("Filesystem_id = 17.1;", "Filesystem_id = 18.1;"))
print(text + "\n" + second)
PY
# (ip netns exec runs its command in its own process: $! is the server)
ip netns exec "$ns" sh -c '
	mount --bind "$1/run" /run || exit 1
	rpcbind -f & echo $! >"$1/rpcbind.pid"
	sleep 0.3
	exec ganesha.nfsd -F -f "$1/ganesha.conf" -L "$1/ganesha.log" -p "$1/ganesha.pid"
' sh "$T" >"$T/ganesha.out" 2>&1 &
bench_pids+=("$!")
for ((i = 0; i < 50; i++)); do
	[ -s "$T/rpcbind.pid" ] && break
	sleep 0.1
done
bench_pids+=("$(cat "$T/rpcbind.pid")")

# smbd: the example's share of the mount, and one of the local directory
sed "s|/mnt/agora|$T/agora|" "$root/contrib/smb-agora.conf" >"$T/smb/share.conf"
sed -n '/^\[agora\]/,$p' "$T/smb/share.conf" |
	sed -e 's/^\[agora\]/[local]/' -e "s|path = $T/agora|path = $T/local|" >>"$T/smb/share.conf"
cat >"$T/smb.conf" <<CONF
[global]
	private dir = $T/smb/private
	lock directory = $T/smb/lock
	state directory = $T/smb/state
	cache directory = $T/smb/cache
	pid directory = $T/smb/pid
	ncalrpc dir = $T/smb/ncalrpc
	log file = $T/smbd.log
	interfaces = lo
	bind interfaces only = yes
	include = $T/smb/share.conf
CONF
printf 'bench\nbench\n' | smbpasswd -c "$T/smb.conf" -s -a root >/dev/null
ip netns exec "$ns" smbd -F -s "$T/smb.conf" >"$T/smbd.out" 2>&1 &
bench_pids+=("$!")

nfs_url() { printf 'nfs://127.0.0.1%s/%s?version=3&nfsport=2049&mountport=20048' "$1" "$2"; }
smb() { in_ns smbclient "//127.0.0.1/$1" -U root%bench -m SMB3 -c "$2" >/dev/null 2>&1; }
for ((i = 0; i < 100; i++)); do
	in_ns nfs-ls "$(nfs_url "$T/agora" "")" >/dev/null 2>&1 && smb agora ls && break
	sleep 0.2
done
[ "$i" -lt 100 ] || die "ganesha or smbd does not answer"

# mbps COMMAND...: MB/s (10^6 bytes) of moving $size bytes with COMMAND.
mbps() {
	timed "$@" >/dev/null
	awk -v b="$size" -v w="$wall" 'BEGIN { printf "%.1f", b / w / 1e6 }'
}

declare -A fig
for ((r = 1; r <= runs; r++)); do
	head -c "$size" /dev/urandom >"$T/data"
	fig[mount-write]+=" $(mbps cp "$T/data" "$T/agora/direct-$r")"
	drop_caches
	fig[mount-read]+=" $(mbps cp "$T/agora/direct-$r" "$T/back")"
	rm -f "$T/agora/direct-$r" "$T/back"
	head -c "$size" /dev/urandom >"$T/data"
	for where in agora local; do
		dir=$T/$where
		fig[nfs-write-$where]+=" $(mbps in_ns nfs-cp "$T/data" "$(nfs_url "$dir" "nfs-$r")")"
		fig[smb-write-$where]+=" $(mbps smb "$where" "put $T/data smb-$r")"
		drop_caches
		fig[nfs-read-$where]+=" $(mbps in_ns nfs-cp "$(nfs_url "$dir" "nfs-$r")" "$T/back")"
		cmp -s "$T/data" "$T/back" || die "read over NFS from $where differs"
		drop_caches
		fig[smb-read-$where]+=" $(mbps smb "$where" "get smb-$r $T/back")"
		cmp -s "$T/data" "$T/back" || die "read over SMB from $where differs"
		rm -f "$dir/nfs-$r" "$dir/smb-$r" "$T/back"
	done
	say "run $r of $runs done" >&2
done

say ""
say "NFSv3 (nfs-ganesha, FSAL VFS) and SMB3 (Samba): $size_arg file, median of $runs, MB/s"
printf '%-12s %11s %10s %8s %9s %10s %9s\n' "" agora-fused "local dir" ratio "aim 0.5x" \
	"the mount" "of mount"
for op in nfs-write nfs-read smb-write smb-read; do
	a=$(median_of "${fig[$op-agora]}")
	l=$(median_of "${fig[$op-local]}")
	m=$(median_of "${fig[mount-${op#*-}]}")
	printf '%-12s %11s %10s %8s %9s %10s %9s\n' "$op" "$a" "$l" "$(ratio "$a" "$l")" \
		"$(verdict "$(ratio "$a" "$l")" 0.5)" "$m" "$(ratio "$a" "$m")"
done

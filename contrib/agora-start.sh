#!/bin/bash
# contrib/agora-start.sh - bring up a one-machine Agora cluster to try.
#
#   contrib/agora-start.sh [start]   install packages, build, format, start
#   contrib/agora-start.sh status    show what runs and the cluster status
#   contrib/agora-start.sh stop      unmount work/mnt, stop the cleaner and the
#                                    scrubber, agora-s3d and agora-metad
#
# start installs the Debian packages of contrib/packages.txt that are
# missing (as root, or with sudo), builds Agora out of tree in build/
# (or in place when the source tree is configured in place), writes a
# config in the work directory, formats six 1G drive files there with a
# 4+2 erasure code unless they are formatted already, and starts
# agora-metad in the background, then mounts the cluster on work/mnt with
# agora-fused (when FUSE works here), starts agora-s3d on 127.0.0.1:9000
# the cleaner (`agora clean --watch`: it destages small writes into
# erasure-coded stripes and gives deleted space back past the [clean]
# thresholds of agora.conf(5)) and the scrubber (`agora scrub --watch`:
# it reads every copy at the [scrub] rate every [scrub] interval and
# repairs what is damaged).
#
# Environment:
#   AGORA_WORK=dir     work directory (default: work/ at the top of the tree)
#   AGORA_BUILD=dir    build directory (default: build/ at the top of the tree)
#   AGORA_SKIP_DEPS=1  do not check or install packages
#   AGORA_JOBS=n       parallel make jobs (default 2)
#   AGORA_EXPORTS=nfs,smb  also export the mount (as root), with the
#                      example configs of contrib/: over NFS with
#                      nfs-ganesha (NFSv4 on 127.0.0.1:2049, and NFSv3 when
#                      rpcbind runs here) and over SMB with Samba (share
#                      "agora" on 127.0.0.1:445, user root, password in
#                      work/smb-credentials); the mount is then made with
#                      allow_other,keep_mount
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# abspath PATH: PATH made absolute against the current directory.
abspath() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$PWD/${1#./}" ;;
	esac
}

work=$(abspath "${AGORA_WORK:-$root/work}")
conf=$work/agora.conf
pidfile=$work/agora-metad.pid
sock=$work/metad.sock
log=$work/agora-metad.log
ndrives=6

say() { printf 'agora-start: %s\n' "$*"; }
die() { printf 'agora-start: error: %s\n' "$*" >&2; exit 1; }

# Where the programs are built: in place if the tree was configured in
# place (an out-of-tree build is then refused by configure), else build/.
if [ -n "${AGORA_BUILD:-}" ]; then
	build=$(abspath "$AGORA_BUILD")
elif [ -f "$root/config.status" ]; then
	build=$root
else
	build=$root/build
fi
agora=$build/metad/agora
metad=$build/metad/agora-metad
fused=$build/fused/agora-fused
mnt=$work/mnt
fused_pidfile=$work/agora-fused.pid

running_pid() {
	local pid
	[ -s "$pidfile" ] || return 1
	pid=$(cat "$pidfile")
	kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

do_build() {
	mkdir -p "$work" "$build"
	if [ "${AGORA_SKIP_DEPS:-0}" != 1 ]; then
		say "checking packages (contrib/packages.txt)"
		"$root/contrib/install-deps.sh"
	fi
	if [ ! -x "$root/configure" ]; then
		say "autoreconf -fi"
		(cd "$root" && autoreconf -fi)
	fi
	if [ ! -f "$build/config.status" ]; then
		say "configuring in $build"
		(cd "$build" && "$root/configure") >"$work/configure.log" 2>&1 ||
			{ tail -n 20 "$work/configure.log" >&2; die "configure failed (see $work/configure.log)"; }
	fi
	say "building in $build"
	make -C "$build" -j"${AGORA_JOBS:-2}" >"$work/build.log" 2>&1 ||
		{ tail -n 30 "$work/build.log" >&2; die "build failed (see $work/build.log)"; }
	if [ ! -x "$agora" ] || [ ! -x "$metad" ]; then
		die "build did not produce $agora and $metad"
	fi
}

write_conf() {
	local drives="" i
	if [ -f "$conf" ]; then
		say "keeping the existing config $conf"
		return
	fi
	for ((i = 0; i < ndrives; i++)); do
		drives+="${drives:+,}$work/drives/d$i"
	done
	mkdir -p "$work/drives"
	cat >"$conf" <<EOF
# Agora configuration written by contrib/agora-start.sh; see agora.conf(5).
[cluster]
drives = $drives
ec = 4+2
drive_size = 1G
metad = unix:$sock

[metad]
pidfile = $pidfile
log = $log
EOF
	say "wrote $conf"
}

# The cluster is formatted when drive 0 carries an Agora label.
formatted() {
	local d0=$work/drives/d0
	[ -f "$d0" ] && [ "$(head -c 8 "$d0" 2>/dev/null)" = AGORADRV ]
}

do_start() {
	local pid
	do_build
	write_conf
	if pid=$(running_pid); then
		say "agora-metad already runs (pid $pid)"
	else
		if formatted; then
			say "drives already formatted: keeping their content"
		else
			say "formatting $ndrives drives of 1G (4+2) in $work/drives"
			"$agora" -c "$conf" mkfs || die "agora mkfs failed"
		fi
		rm -f "$pidfile"
		say "starting agora-metad"
		"$metad" -c "$conf" -d -p "$pidfile" ||
			{ [ -f "$log" ] && tail -n 20 "$log" >&2; die "agora-metad did not start (log: $log)"; }
		pid=$(running_pid) || die "agora-metad exited right after starting (log: $log)"
	fi
	fuse_start
	s3_start
	cleaner_start
	scrubber_start
	exports_start
	cat <<EOF

Agora is running.
  agora-metad  pid $pid, socket $sock
  config       $conf
  drives       $work/drives (d0 .. d$((ndrives - 1)))
  log          $log
  mount        $mount_msg
  cleaner      $cleaner_msg
  scrubber     $scrubber_msg
$exports_msg
Try it:
  $agora -c $conf put /etc/services /demo/services
  $agora -c $conf ls -l /demo
  $agora -c $conf get /demo/services - | head
  $agora -c $conf status
  ls -l $mnt

$s3_msg
Stop it:
  $root/contrib/agora-start.sh stop
EOF
}

# ---- the S3 gateway (agora-s3d) on 127.0.0.1:9000 ----

s3d=$build/s3d/agora-s3d
s3_pidfile=$work/agora-s3d.pid
s3_creds=$work/s3-credentials
s3_msg=""

s3_start() {
	local pid key secret
	[ -x "$s3d" ] || return 0
	if ! grep -q '^\[s3\]' "$conf"; then
		printf '\n[s3]\nlisten = 127.0.0.1:9000\npidfile = %s\nlog = %s\n' \
			"$s3_pidfile" "$work/agora-s3d.log" >>"$conf"
	fi
	if [ ! -s "$s3_creds" ]; then
		(umask 077 && "$agora" -c "$conf" user add demo >"$s3_creds") ||
			{ s3_msg="S3: could not add a user"; return 0; }
	fi
	read -r key secret <"$s3_creds"
	if [ -s "$s3_pidfile" ] && kill -0 "$(cat "$s3_pidfile")" 2>/dev/null; then
		say "agora-s3d already runs"
	elif ! "$s3d" -c "$conf" -d; then
		s3_msg="S3: agora-s3d did not start (see $work/agora-s3d.log)"
		return 0
	fi
	pid=$(cat "$s3_pidfile")
	s3_msg="S3 (agora-s3d pid $pid):
  endpoint     http://127.0.0.1:9000
  access key   $key
  secret key   $secret
  try          export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY='$secret'
               aws --endpoint-url http://127.0.0.1:9000 s3 mb s3://demo
               aws --endpoint-url http://127.0.0.1:9000 s3 cp /etc/services s3://demo/
               aws --endpoint-url http://127.0.0.1:9000 s3 ls s3://demo/
"
}

# stop_pidfile WHAT PIDFILE: SIGTERM the process PIDFILE names and wait
# up to 10 s for it to go.
stop_pidfile() {
	local pid n=100
	[ -s "$2" ] || return 0
	pid=$(cat "$2")
	if kill -0 "$pid" 2>/dev/null; then
		say "stopping $1 (pid $pid)"
		kill -TERM "$pid"
		while kill -0 "$pid" 2>/dev/null && [ "$n" -gt 0 ]; do
			n=$((n - 1))
			sleep 0.1
		done
	fi
	rm -f "$2"
}

s3_stop() { stop_pidfile agora-s3d "$s3_pidfile"; }

# ---- the cleaner and the scrubber (agora clean|scrub --watch) ----

cleaner_pidfile=$work/agora-clean.pid
cleaner_msg="none"
scrubber_pidfile=$work/agora-scrub.pid
scrubber_msg="none"

# watch_start COMMAND PIDFILE: start agora COMMAND --watch in the
# background (log in $work/agora-COMMAND.log) unless it runs; print what
# runs.
watch_start() {
	local cmd=$1 pidfile=$2
	if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		echo "pid $(cat "$pidfile") (already running)"
		return
	fi
	setsid "$agora" -c "$conf" "$cmd" --watch >>"$work/agora-$cmd.log" 2>&1 </dev/null &
	echo $! >"$pidfile"
	echo "pid $! (agora $cmd --watch; log $work/agora-$cmd.log)"
}

cleaner_start() { cleaner_msg=$(watch_start clean "$cleaner_pidfile"); }
cleaner_stop() { stop_pidfile "the cleaner" "$cleaner_pidfile"; }
scrubber_start() { scrubber_msg=$(watch_start scrub "$scrubber_pidfile"); }
scrubber_stop() { stop_pidfile "the scrubber" "$scrubber_pidfile"; }

# ---- the FUSE mount (agora-fused) at work/mnt ----

mount_msg="none"

fuse_start() {
	if mountpoint -q "$mnt" 2>/dev/null; then
		mount_msg="$mnt (already mounted)"
		return
	fi
	if [ ! -x "$fused" ] || [ ! -c /dev/fuse ] ||
		! command -v fusermount3 >/dev/null; then
		mount_msg="none (no FUSE here)"
		return
	fi
	mkdir -p "$mnt"
	# NFS and SMB servers: others than the mounting user get in, and
	# the mount (its device, the kernel's handles) outlives a restart
	# of agora-fused
	local opts="log=$work/agora-fused.log,pidfile=$fused_pidfile"
	[ -z "${AGORA_EXPORTS:-}" ] || opts+=,allow_other,keep_mount
	if "$fused" -c "$conf" -o "$opts" "$mnt"; then
		mount_msg="$mnt (agora-fused; fusermount3 -u $mnt to unmount)"
		say "mounted the cluster on $mnt"
	else
		mount_msg="none (agora-fused failed: see $work/agora-fused.log)"
	fi
}

fuse_stop() {
	local pid n=100
	if mountpoint -q "$mnt" 2>/dev/null; then
		say "unmounting $mnt"
		fusermount3 -u "$mnt" || say "could not unmount $mnt (busy?)"
	fi
	# agora-fused commits what it still holds before exiting: let it,
	# while agora-metad still runs
	[ -s "$fused_pidfile" ] || return 0
	pid=$(cat "$fused_pidfile")
	while kill -0 "$pid" 2>/dev/null && [ "$n" -gt 0 ]; do
		n=$((n - 1))
		sleep 0.1
	done
	rm -f "$fused_pidfile"
}

# ---- NFS (nfs-ganesha) and SMB (Samba) exports of the mount ----

ganesha_dir=$work/ganesha
samba_dir=$work/samba
smb_creds=$work/smb-credentials
exports_msg=""
nl=$'\n'

ganesha_start() {
	local protos=4 how="(NFSv4 only: no rpcbind runs here for NFSv3)"
	if ! command -v ganesha.nfsd >/dev/null; then
		exports_msg+="  NFS          none (nfs-ganesha is not installed)$nl"
		return 0
	fi
	if [ -s "$ganesha_dir/ganesha.pid" ] && kill -0 "$(cat "$ganesha_dir/ganesha.pid")" 2>/dev/null; then
		exports_msg+="  NFS          nfs-ganesha pid $(cat "$ganesha_dir/ganesha.pid") (already running)$nl"
		return 0
	fi
	if command -v rpcinfo >/dev/null && rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then
		protos="3, 4"
		how="nfs-ls 'nfs://127.0.0.1$mnt?version=3&mountport=20048'"
	fi
	mkdir -p "$ganesha_dir/recov"
	sed -e "s|/mnt/agora|$mnt|" \
		-e "s|RecoveryRoot = .*|RecoveryRoot = $ganesha_dir/recov;|" \
		-e "s|Protocols = 3, 4;|Protocols = $protos;|" \
		-e "s|^NFS_CORE_PARAM {|NFS_CORE_PARAM {\n\t# this machine only\n\tBind_addr = 127.0.0.1;|" \
		"$root/contrib/ganesha-agora.conf" >"$ganesha_dir/ganesha.conf"
	if ganesha.nfsd -f "$ganesha_dir/ganesha.conf" -L "$ganesha_dir/ganesha.log" \
		-p "$ganesha_dir/ganesha.pid"; then
		exports_msg+="  NFS          nfs-ganesha, config $ganesha_dir/ganesha.conf$nl"
		exports_msg+="               nfs-ls 'nfs://127.0.0.1/agora?version=4'$nl"
		exports_msg+="               $how$nl"
	else
		exports_msg+="  NFS          none (ganesha.nfsd failed: see $ganesha_dir/ganesha.log)$nl"
	fi
}

samba_start() {
	local pass
	if ! command -v smbd >/dev/null; then
		exports_msg+="  SMB          none (samba is not installed)$nl"
		return 0
	fi
	mkdir -p "$samba_dir"/{private,lock,state,cache,pid,ncalrpc}
	sed "s|/mnt/agora|$mnt|" "$root/contrib/smb-agora.conf" >"$samba_dir/share.conf"
	cat >"$samba_dir/smb.conf" <<EOF
# written by contrib/agora-start.sh: the share is in $samba_dir/share.conf
[global]
	private dir = $samba_dir/private
	lock directory = $samba_dir/lock
	state directory = $samba_dir/state
	cache directory = $samba_dir/cache
	pid directory = $samba_dir/pid
	ncalrpc dir = $samba_dir/ncalrpc
	log file = $samba_dir/smbd.log
	interfaces = lo
	bind interfaces only = yes
	include = $samba_dir/share.conf
EOF
	if [ ! -s "$smb_creds" ]; then
		(umask 077 && head -c 12 /dev/urandom | base64 | tr -d '/+=' >"$smb_creds")
	fi
	pass=$(cat "$smb_creds")
	if ! printf '%s\n%s\n' "$pass" "$pass" |
		smbpasswd -c "$samba_dir/smb.conf" -s -a root >/dev/null; then
		exports_msg+="  SMB          none (smbpasswd failed)$nl"
		return 0
	fi
	if smbd_pid >/dev/null; then
		exports_msg+="  SMB          smbd pid $(smbd_pid) (already running)$nl"
	elif smbd -D -s "$samba_dir/smb.conf"; then
		exports_msg+="  SMB          smbd, config $samba_dir/smb.conf$nl"
		exports_msg+="               smbclient //127.0.0.1/agora -U root%'$pass' -c ls$nl"
	else
		exports_msg+="  SMB          none (smbd failed: see $samba_dir/smbd.log)$nl"
	fi
}

# smbd_pid: the pid of our smbd, if it runs (smbd names its pid file
# after its config file).
smbd_pid() {
	local f
	for f in "$samba_dir"/pid/smbd*.pid; do
		[ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && { cat "$f"; return 0; }
	done
	return 1
}

exports_start() {
	[ -n "${AGORA_EXPORTS:-}" ] || return 0
	if ! mountpoint -q "$mnt" 2>/dev/null; then
		exports_msg="  exports      none (nothing is mounted)$nl"
		return 0
	fi
	case ",$AGORA_EXPORTS," in *,nfs,*) ganesha_start ;; esac
	case ",$AGORA_EXPORTS," in *,smb,*) samba_start ;; esac
}

# Before the unmount: the servers hold files of the mount.
exports_stop() {
	local f
	stop_pidfile nfs-ganesha "$ganesha_dir/ganesha.pid"
	for f in "$samba_dir"/pid/smbd*.pid; do
		[ -e "$f" ] && stop_pidfile smbd "$f"
	done
	return 0
}

do_stop() {
	local pid n=100
	exports_stop
	cleaner_stop
	scrubber_stop
	fuse_stop
	s3_stop
	if ! pid=$(running_pid); then
		say "agora-metad is not running"
		rm -f "$pidfile"
		return 0
	fi
	say "stopping agora-metad (pid $pid)"
	kill -TERM "$pid"
	while kill -0 "$pid" 2>/dev/null; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || die "agora-metad (pid $pid) still runs 10 s after SIGTERM"
		sleep 0.1
	done
	rm -f "$pidfile"
	say "stopped"
}

do_status() {
	local pid
	if pid=$(running_pid); then
		say "agora-metad runs: pid $pid, socket $sock, config $conf"
	else
		say "agora-metad is not running"
	fi
	if mountpoint -q "$mnt" 2>/dev/null; then
		say "the cluster is mounted on $mnt"
	fi
	if [ -x "$agora" ] && [ -f "$conf" ] && formatted; then
		"$agora" -c "$conf" status
	fi
}

case ${1:-start} in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
-h | --help | help) sed -n '2,/^set -euo/{/^set/d;s/^# \{0,1\}//;p}' "$0" ;;
*) die "unknown command '$1' (start, stop, status)" ;;
esac

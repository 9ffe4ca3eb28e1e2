# ceph.sh - a single-node Ceph with radosgw beside agora-s3d, for
# bench/s3.sh (sourced after bench/lib.sh).
#
# One mon, one mgr, one OSD (bluestore on a file) and radosgw, from
# Debian's packages, all under $T/ceph, on free ports of 127.0.0.1, with
# authentication off inside the cluster (radosgw still checks SigV4) and
# pools of one copy: the closest Ceph gets to one disk, as Agora here.
# rgw_start: 0 with radosgw answering at 127.0.0.1:$rgw_port and a user
# $rgw_access/$rgw_secret, or 1 with the reason in $rgw_why. cleanup()
# runs rgw_stop.

rgw_dir=$T/ceph
rgw_why=""
rgw_access=AGORABENCHKEY
rgw_secret=agora-bench-secret

rgw_ceph() { timeout 30 ceph -c "$rgw_dir/ceph.conf" "$@"; }

rgw_start() {
	local n fsid mon_port uuid id
	for n in ceph-mon ceph-mgr ceph-osd radosgw radosgw-admin ceph \
		monmaptool ceph-authtool uuidgen; do
		command -v "$n" >/dev/null || {
			rgw_why="$n not installed (Debian: ceph-mon ceph-mgr ceph-osd radosgw)"
			return 1
		}
	done
	bench_cleanups+=(rgw_stop)
	mkdir -p "$rgw_dir"/{mon,mgr/ceph-x,osd0,run,log,rgw}
	fsid=$(uuidgen)
	mon_port=$(free_port)
	rgw_port=$(free_port)
	cat >"$rgw_dir/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
public network = 127.0.0.0/8
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $rgw_dir/run
log file = $rgw_dir/log/\$name.log
admin socket = $rgw_dir/run/\$name.asok
pid file = $rgw_dir/run/\$name.pid
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 2
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
[mon]
mon data = $rgw_dir/mon/\$name
[mgr]
mgr data = $rgw_dir/mgr/\$name
[osd]
osd data = $rgw_dir/osd0
osd objectstore = bluestore
bluestore block path = $rgw_dir/osd0-block
bluestore block create = true
bluestore block size = ${RGW_BLOCK_SIZE:-17179869184}
osd memory target = 2147483648
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $rgw_dir/rgw
CONF
	monmaptool --create --addv a "[v1:127.0.0.1:$mon_port]" --fsid "$fsid" \
		"$rgw_dir/run/monmap" >/dev/null &&
		ceph-authtool --create-keyring "$rgw_dir/run/mon.keyring" --gen-key \
			-n mon. --cap mon 'allow *' >/dev/null &&
		ceph-mon -c "$rgw_dir/ceph.conf" --mkfs -i a \
			--monmap "$rgw_dir/run/monmap" --keyring "$rgw_dir/run/mon.keyring" &&
		ceph-mon -c "$rgw_dir/ceph.conf" -i a || {
		rgw_why="ceph-mon would not start (see $rgw_dir/log)"
		return 1
	}
	ceph-mgr -c "$rgw_dir/ceph.conf" -i x || {
		rgw_why="ceph-mgr would not start"
		return 1
	}
	uuid=$(uuidgen)
	id=$(rgw_ceph osd create "$uuid") &&
		ceph-osd -c "$rgw_dir/ceph.conf" -i "$id" --mkfs --osd-uuid "$uuid" \
			>"$rgw_dir/log/mkfs.log" 2>&1 &&
		ceph-osd -c "$rgw_dir/ceph.conf" -i "$id" 2>>"$rgw_dir/log/mkfs.log" || {
		rgw_why="the OSD would not start (see $rgw_dir/log)"
		return 1
	}
	radosgw -c "$rgw_dir/ceph.conf" -n client.rgw 2>>"$rgw_dir/log/rgw.err" || {
		rgw_why="radosgw would not start"
		return 1
	}
	for ((n = 0; n < 120; n++)); do
		curl -s -o /dev/null "http://127.0.0.1:$rgw_port/" && break
		sleep 0.5
	done
	[ "$n" -lt 120 ] || {
		rgw_why="radosgw did not answer within 60 s"
		return 1
	}
	timeout 60 radosgw-admin -c "$rgw_dir/ceph.conf" -n client.rgw user create \
		--uid=bench --display-name=bench --access-key="$rgw_access" \
		--secret-key="$rgw_secret" >/dev/null || {
		rgw_why="radosgw-admin could not make the user"
		return 1
	}
	return 0
}

rgw_stop() {
	local pidf pid n
	for pidf in "$rgw_dir"/run/*.pid; do
		[ -f "$pidf" ] || continue
		pid=$(cat "$pidf")
		kill "$pid" 2>/dev/null || continue
		for ((n = 0; n < 50; n++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	done
	return 0
}

# gluster.sh - a single-brick GlusterFS volume beside agora-fused, for
# bench/fuse.sh (sourced after bench/lib.sh).
#
# GlusterFS refuses loopback brick addresses, so glusterd, its brick and
# the FUSE client run in a network namespace this script makes, on an
# address of a veth pair that lives wholly inside it: nothing is added
# to the host's own interfaces and nothing listens outside the
# namespace. glusterd's state, the brick, sockets and logs live under
# $T/gluster-*; the mount point, $T/gluster, is in the host's view (the
# client only joins the namespace's network). Everything is stopped and
# removed by gluster_stop, which cleanup() runs.
#
# gluster_start: 0 with the volume mounted at $T/gluster, or 1 with the
# reason in $gluster_why (no glusterd installed, it would not start).

gluster_ns=agora-bench-gl-$$
gluster_addr=10.203.0.1
gluster_mnt=$T/gluster
gluster_why=""

gluster_cli() {
	nsenter --net="/run/netns/$gluster_ns" gluster --mode=script \
		--glusterd-sock="$T/gluster-run/cli.socket" "$@"
}

gluster_start() {
	local n
	for n in glusterd glusterfs gluster nsenter ip; do
		command -v "$n" >/dev/null || {
			gluster_why="$n not installed (Debian: glusterfs-server)"
			return 1
		}
	done
	mkdir -p "$T/gluster-state" "$T/gluster-brick" "$T/gluster-run" \
		"$T/gluster-log" "$gluster_mnt"
	ip netns add "$gluster_ns" 2>/dev/null || {
		gluster_why="cannot make a network namespace (not root?)"
		return 1
	}
	bench_cleanups+=(gluster_stop)
	ip -n "$gluster_ns" link set lo up &&
		ip -n "$gluster_ns" link add gl0 type veth peer name gl1 &&
		ip -n "$gluster_ns" addr add "$gluster_addr/24" dev gl0 &&
		ip -n "$gluster_ns" link set gl0 up &&
		ip -n "$gluster_ns" link set gl1 up || {
		gluster_why="cannot set up the namespace's veth pair"
		return 1
	}
	cat >"$T/gluster-run/glusterd.vol" <<VOL
volume management
    type mgmt/glusterd
    option working-directory $T/gluster-state
    option transport-type socket
    option transport.socket.listen-port 24007
    option transport.socket.bind-address $gluster_addr
    option glusterd-sockfile $T/gluster-run/cli.socket
    option ping-timeout 0
    option event-threads 1
end-volume
VOL
	nsenter --net="/run/netns/$gluster_ns" glusterd \
		-f "$T/gluster-run/glusterd.vol" -p "$T/gluster-run/glusterd.pid" \
		-l "$T/gluster-log/glusterd.log" || {
		gluster_why="glusterd did not start (see $T/gluster-log)"
		return 1
	}
	for n in $(seq 50); do
		[ -S "$T/gluster-run/cli.socket" ] && break
		sleep 0.1
	done
	gluster_cli volume create agbench "$gluster_addr:$T/gluster-brick" force \
		>/dev/null && gluster_cli volume start agbench >/dev/null || {
		gluster_why="the volume would not start (see $T/gluster-log)"
		return 1
	}
	nsenter --net="/run/netns/$gluster_ns" glusterfs \
		--volfile-server="$gluster_addr" --volfile-id=agbench \
		-l "$T/gluster-log/client.log" "$gluster_mnt" || {
		gluster_why="the GlusterFS client would not mount"
		return 1
	}
	for n in $(seq 50); do
		mountpoint -q "$gluster_mnt" && return 0
		sleep 0.1
	done
	gluster_why="the GlusterFS mount did not appear"
	return 1
}

gluster_stop() {
	local pidf
	mountpoint -q "$gluster_mnt" 2>/dev/null && umount -l "$gluster_mnt"
	[ -S "$T/gluster-run/cli.socket" ] &&
		gluster_cli volume stop agbench >/dev/null 2>&1
	for pidf in "$T/gluster-run/glusterd.pid" \
		"$T"/gluster-state/vols/agbench/run/*.pid; do
		[ -f "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null
	done
	ip netns del "$gluster_ns" 2>/dev/null
	return 0
}

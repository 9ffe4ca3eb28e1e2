#!/bin/bash
# test/integ/rdma.sh - the metad RPC over rdma:HOST:PORT (rsockets).
#
# A build without --with-rdma must refuse an rdma: address: agora-metad
# before it takes the lease, the agora tool before it sends anything,
# both with EPROTONOSUPPORT's message and how to get a build that has
# it. A build with it runs put, get, ls and a metad restart through an
# agora-metad at rdma:ADDR:PORT, where there is an RDMA device: one in
# /sys/class/infiniband with an IPv4 address on its netdev, or else a
# soft-RoCE link (rdma_rxe) the test adds over a veth pair in a network
# namespace of its own and removes again. Where there is neither it is
# skipped, saying which is missing.
. "$(dirname "$0")/lib.sh"

write_conf
port=$(free_port)
mkdata "$T/small" 4000 text
mkdata "$T/random" $((5 << 20)) random

if ! grep -q '^#define HAVE_RDMA 1' "$AGORA_BUILDDIR/autoconfig.h"; then
	sed -i "s|^metad = .*|metad = rdma:127.0.0.1:$port|" "$CONF"
	ag mkfs || fail "mkfs exited $?"
	step "a build without --with-rdma refuses metad = rdma:"
	expect_fail "agora-metad at an rdma: address" \
		"built without RDMA: configure it --with-rdma" \
		timeout "$AGORA_TIMEOUT" "$METAD" -c "$CONF"
	grep -q "cannot listen on rdma:127.0.0.1:$port: Protocol not supported" "$T/err" ||
		fail "agora-metad did not say EPROTONOSUPPORT: $(head -n 2 "$T/err")"
	expect_fail "agora put through an rdma: metad" \
		"built without RDMA: configure it --with-rdma" \
		ag put "$T/small" /small
	say "put/get over rdma: needs a build configured --with-rdma"
	exit 0
fi

# ---- a build --with-rdma: find or make an RDMA device ----

RUN=()       # how to run a program where the device's address is
RXE=""       # the soft-RoCE link this test added, if any
rxe_remove() { [ -z "$RXE" ] || rdma link delete "$RXE" 2>/dev/null || true; }
# the soft-RoCE link goes first, then lib.sh's cleanup, with the status
on_exit() {
	local rc=$?
	rxe_remove
	(exit "$rc")
	cleanup
}
trap on_exit EXIT

# first_entry DIR: the name of the first entry of DIR; 1 if none.
first_entry() {
	local e
	for e in "$1"/*; do
		[ -e "$e" ] && { basename "$e"; return 0; }
	done
	return 1
}

# the IPv4 address of the netdev under RDMA device $1
device_address() {
	local dev=$1 netdev
	netdev=$(first_entry "/sys/class/infiniband/$dev/device/net") ||
		netdev=$(rdma link show 2>/dev/null |
		awk -v d="$dev" '$2 ~ "^" d "/" { for (i = 1; i < NF; i++) if ($i == "netdev") { print $(i + 1); exit } }')
	[ -n "$netdev" ] || return 1
	ip -4 -o addr show dev "$netdev" | awk '{ split($4, a, "/"); print a[1]; exit }'
}

if dev=$(first_entry /sys/class/infiniband); then
	ADDR=$(device_address "$dev") || ADDR=""
	[ -n "$ADDR" ] || skip "RDMA device $dev has no netdev with an IPv4 address"
	say "RDMA device $dev, address $ADDR"
else
	command -v rdma >/dev/null ||
		skip "no RDMA device (/sys/class/infiniband is empty or absent) and no rdma tool (iproute2) to add a soft-RoCE one"
	[ -d /sys/module/rdma_rxe ] || modprobe rdma_rxe 2>/dev/null ||
		skip "no RDMA device (/sys/class/infiniband is empty or absent) and no rdma_rxe module for a soft-RoCE one"
	ns=ag$$-rdma
	ip netns add "$ns" 2>"$T/netns.err" ||
		skip "cannot make a network namespace: $(cat "$T/netns.err")"
	started_netns+=("$ns")
	ip -n "$ns" link add ag$$-ra type veth peer name ag$$-rb &&
		ip -n "$ns" addr add 192.168.78.1/24 dev ag$$-ra &&
		ip -n "$ns" addr add 192.168.78.2/24 dev ag$$-rb &&
		ip -n "$ns" link set ag$$-ra up && ip -n "$ns" link set ag$$-rb up &&
		ip -n "$ns" link set lo up || fail "cannot set up the veth pair in $ns"
	RXE=agrxe$$
	ip netns exec "$ns" rdma link add "$RXE" type rxe netdev ag$$-ra 2>"$T/rxe.err" || {
		RXE=""
		skip "no RDMA device, and soft-RoCE over a veth pair failed: $(cat "$T/rxe.err")"
	}
	RUN=(ip netns exec "$ns")
	ADDR=192.168.78.1
	say "soft-RoCE link $RXE over ag$$-ra ($ADDR) in namespace $ns"
fi

sed -i "s|^metad = .*|metad = rdma:$ADDR:$port|" "$CONF"
metad_ha_conf r
rag() { timeout "$AGORA_TIMEOUT" "${RUN[@]}" "$AGORA" -c "$CONF" "$@"; }

step "agora-metad serves rdma:$ADDR:$port"
ag mkfs || fail "mkfs exited $?"
metad_ha_start r "rdma:$ADDR:$port" "${RUN[@]}"
metad_serving r 1 || fail "agora-metad did not serve rdma:$ADDR:$port"

step "put, get and ls over rdma:"
start=$(mono_now)
rag mkdir /b || fail "mkdir over rdma: exited $?"
for f in small random; do
	rag put "$T/$f" "/b/$f" || fail "put /b/$f over rdma: exited $?"
done
for ((i = 0; i < 50; i++)); do
	rag put "$T/small" "/b/n$i" || fail "put /b/n$i over rdma: exited $?"
done
say "52 puts over rdma: in $(python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$start" "$(mono_now)") s"
for f in small random; do
	rag get "/b/$f" "$T/$f.back" || fail "get /b/$f over rdma: exited $?"
	cmp -s "$T/$f" "$T/$f.back" || fail "/b/$f read back over rdma: differs"
done
[ "$(rag ls /b | wc -l)" -eq 52 ] || fail "ls /b over rdma: does not list 52 names"

step "a restarted agora-metad is found again over rdma:"
# shellcheck disable=SC2154 # PID_r: set by metad_ha_start
kill -TERM "$PID_r"
wait_gone "$PID_r" 20 || fail "agora-metad ignored SIGTERM for 20 s"
metad_ha_start r "rdma:$ADDR:$port" "${RUN[@]}"
metad_serving r 2 || fail "agora-metad did not serve rdma: again"
rag put "$T/small" /b/after || fail "put after the restart exited $?"
rag get /b/after "$T/after.back" && cmp -s "$T/small" "$T/after.back" ||
	fail "/b/after read back over rdma: differs"

step "fsck is clean"
kill -TERM "$PID_r"
wait_gone "$PID_r" 20 || fail "agora-metad ignored SIGTERM for 20 s"
ag fsck || fail "fsck exited $?"

#!/bin/bash
# test/integ/failover_netns.sh - the cluster as a deployment runs it: two
# agora-metad hosts and two client hosts, each in a network namespace of
# its own with a veth pair to a bridge (in a namespace of the test's
# too), talking TCP; the drives stay shared files, standing in for
# NVMe-oF namespaces. Each client host runs agora put in a loop. kill -9
# of the active metad, each in turn: the other takes over, the clients
# on the other hosts follow it, the time until a put that began after the
# kill succeeds is measured (median printed, at most 5 s); no
# acknowledged put is lost; fsck clean. Only the test's own namespaces
# and their loopback are used.
. "$(dirname "$0")/lib.sh"

command -v ip >/dev/null || skip "no ip(8)"
rounds=2
[ "$AGORA_LONG" = 1 ] && rounds=10

ns=ag$$
NETS=()
netns_del() {
	local n
	for n in "${NETS[@]}"; do
		ip netns del "$n" 2>/dev/null
	done
}
# the namespaces go first; lib.sh's cleanup stops what runs in them
trap 'rc=$?; netns_del; (exit $rc); cleanup' EXIT
ip netns add "$ns-br" 2>"$T/ip.err" || skip "no network namespaces here: $(cat "$T/ip.err")"
NETS+=("$ns-br")
ip -n "$ns-br" link add br0 type bridge || fail "no bridge"
ip -n "$ns-br" link set br0 up
ip -n "$ns-br" link set lo up
# host NAME N: a namespace with 10.77.0.N on a veth to the bridge
host() {
	ip netns add "$ns-$1" || fail "ip netns add $ns-$1"
	NETS+=("$ns-$1")
	ip -n "$ns-$1" link add eth0 type veth peer name "$1" netns "$ns-br" ||
		fail "no veth for $1"
	ip -n "$ns-br" link set "$1" master br0 up
	ip -n "$ns-$1" addr add "10.77.0.$2/24" dev eth0
	ip -n "$ns-$1" link set eth0 up
	ip -n "$ns-$1" link set lo up
}
host m1 1
host m2 2
host g1 11
host g2 12

write_conf
A=10.77.0.1:7000
B=10.77.0.2:7000
sed -i "s|^metad = .*|metad = $A,$B|" "$CONF"
metad_ha_conf a b
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_ha_start a "$A" sh "$NETNS_RUN" "$ns-m1" ""
metad_serving a 1 5 || fail "agora-metad in m1 does not serve: $(tail -n 3 "$T/metad-a.log")"
metad_ha_start b "$B" sh "$NETNS_RUN" "$ns-m2" ""
# from here on the agora tool runs on the first client host
ag() { timeout "$AGORA_TIMEOUT" ip netns exec "$ns-g1" "$AGORA" -c "$CONF" "$@"; }
ag put /etc/hostname /first ||
	fail "put from g1 to the metad of m1, over the bridge, exited $?"

# put_loop HOST: agora put from that host until $T/stop, each put logged
# with its start and end time when it succeeded
mkdata "$T/obj" 40000 random
put_loop() {
	sh "$NETNS_RUN" "$ns-$1" "" bash -c '
		i=0
		while [ ! -e "$0/stop" ]; do
			t0=$(python3 -c "import time; print(\"%.6f\" % time.clock_gettime(time.CLOCK_MONOTONIC))")
			if timeout 60 "$1" -c "$2" put "$0/obj" "/$3/o$i" 2>>"$0/put-$3.err"; then
				t1=$(python3 -c "import time; print(\"%.6f\" % time.clock_gettime(time.CLOCK_MONOTONIC))")
				echo "$i $t0 $t1" >>"$0/acked-$3"
			fi
			i=$((i + 1))
		done' "$T" "$AGORA" "$CONF" "$1" &
	started_pids+=("$!")
}
put_loop g1
put_loop g2
for ((i = 0; i < 200; i++)); do
	[ -s "$T/acked-g1" ] && [ -s "$T/acked-g2" ] && break
	sleep 0.1
done
[ -s "$T/acked-g1" ] && [ -s "$T/acked-g2" ] ||
	fail "no put succeeded from the client hosts: $(tail -n 2 "$T"/put-g*.err)"

step "kill -9 of the active agora-metad, $((2 * rounds)) times, over TCP between namespaces"
times=()
active=a
na=1
nb=0
for ((r = 0; r < 2 * rounds; r++)); do
	if [ "$active" = a ]; then other=b; nb=$((nb + 1)); n=$nb; else other=a; na=$((na + 1)); n=$na; fi
	sleep 1
	pid=$(eval echo "\$PID_$active")
	kill -KILL "$pid"
	t0=$(mono_now)
	wait_gone "$pid" 10 || fail "agora-metad survived SIGKILL"
	metad_serving "$other" "$n" 20 ||
		fail "the standby did not take over: $(tail -n 3 "$T/metad-$other.log")"
	dt=""
	for ((i = 0; i < 600; i++)); do
		dt=$(cat "$T/acked-g1" "$T/acked-g2" |
			awk -v t0="$t0" '$2 > t0 { d = $3 - t0; if (m == "" || d < m) m = d } END { print m }')
		[ -z "$dt" ] || break
		sleep 0.05
	done
	[ -n "$dt" ] || fail "no put succeeded within 30 s of the kill"
	times+=("$dt")
	say "round $r: $active killed, $other serves, puts succeed again after $dt s"
	if [ "$active" = a ]; then
		metad_ha_start a "$A" sh "$NETNS_RUN" "$ns-m1" ""
	else
		metad_ha_start b "$B" sh "$NETNS_RUN" "$ns-m2" ""
	fi
	active=$other
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
say "failover between namespaces: median $median s over ${#times[@]} rounds (${times[*]})"
awk -v m="$median" 'BEGIN { exit !(m <= 5) }' ||
	fail "puts succeed again only after $median s (median), more than 5 s"

step "every acknowledged put is there, fsck clean"
touch "$T/stop"
sleep 1
n=0
for g in g1 g2; do
	while read -r i _; do
		same "$T/obj" "/$g/o$i"
		n=$((n + 1))
	done <"$T/acked-$g"
done
say "$n acknowledged puts from two client hosts read back"
fsck_clean
tail -n 1 "$T/fsck.out"
printf 'PASS: %d steps, failover median %s s\n' "$steps" "$median"

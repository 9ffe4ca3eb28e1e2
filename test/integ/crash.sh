#!/bin/bash
# test/integ/crash.sh - crash safety. Writers run while agora-metad is
# killed with SIGKILL at a random moment; after a restart every
# acknowledged put must read back exactly, a put in flight must be either
# absent or complete, and fsck must be clean. Then a client is killed in
# the middle of a large put: its segment lease must expire and leave a
# clean cluster. AGORA_LONG=1 runs more rounds.
. "$(dirname "$0")/lib.sh"

rounds=3
writers=3
[ "$AGORA_LONG" = 1 ] && rounds=20

write_conf
ag mkfs || fail "mkfs exited $?"
metad_start

# A pool of source files; writers store them under fresh names.
pool=8
for ((i = 0; i < pool; i++)); do
	if ((i % 2)); then kind=text; else kind=random; fi
	mkdata "$T/src$i" $(((i + 1) * 37000 + RANDOM)) "$kind"
done

# writer ROUND W: put files until the stop file of the round appears;
# journal "start NAME SRC" before each put and "ack NAME SRC" after each
# one that succeeded. A put may fail while metad is down; the writer goes
# on.
writer() {
	local round=$1 w=$2 n=0 src name
	while [ ! -e "$T/stop.$round" ]; do
		src=$T/src$(((n + w) % pool))
		name=/r$round/w$w/f$n
		n=$((n + 1))
		echo "start $name $src" >>"$T/journal.$round.$w"
		if ag put "$src" "$name" >/dev/null 2>&1; then
			echo "ack $name $src" >>"$T/journal.$round.$w"
		else
			sleep 0.05
		fi
	done
}

acked_total=0
for ((r = 1; r <= rounds; r++)); do
	step "round $r: kill -9 agora-metad under $writers writers"
	wpids=()
	for ((w = 0; w < writers; w++)); do
		writer "$r" "$w" &
		wpids+=($!)
	done
	sleep "0.$((3 + RANDOM % 7))"
	metad_kill
	sleep 0.2
	metad_start
	sleep 0.5 # writers resume against the new metad
	touch "$T/stop.$r"
	for pid in "${wpids[@]}"; do
		wait "$pid" || true
	done

	acked=0
	inflight=0
	for ((w = 0; w < writers; w++)); do
		j=$T/journal.$r.$w
		[ -f "$j" ] || continue
		# shellcheck disable=SC2094 # the writers are done: read only
		while read -r -u 3 what name src; do
			case $what in
			ack)
				same "$src" "$name"
				acked=$((acked + 1))
				;;
			start)
				grep -q "^ack $name " "$j" && continue
				# failed or in flight at the kill: absent, or whole
				inflight=$((inflight + 1))
				if ag get "$name" "$T/got" 2>/dev/null; then
					cmp -s "$src" "$T/got" ||
						fail "$name (not acknowledged) is present but not whole"
				fi
				;;
			esac
		done 3<"$j"
	done
	say "round $r: $acked acknowledged puts verified, $inflight unacknowledged checked"
	acked_total=$((acked_total + acked))
	ag fsck || fail "round $r: fsck exited $?"
done
[ "$acked_total" -gt 0 ] || fail "no put was acknowledged in $rounds rounds"

step "a client killed in the middle of a large put"
mkdata "$T/large" $((64 << 20)) random
"$AGORA" -c "$CONF" put "$T/large" /victim >/dev/null 2>&1 &
client=$!
sleep 0.3
kill -KILL "$client" 2>/dev/null || true
wait "$client" 2>/dev/null || true
sleep 4 # lease_timeout is 3 in the test config
ag put "$T/src1" /after-client-kill || fail "put after a client died exited $?"
same "$T/src1" /after-client-kill
if ag get /victim "$T/got" 2>/dev/null; then
	cmp -s "$T/large" "$T/got" || fail "/victim is present but not whole"
fi
ag fsck || fail "fsck after a client died exited $?"

step "clean stop and restart"
metad_stop
metad_start
same "$T/src1" /after-client-kill
ag fsck || fail "final fsck exited $?"

echo "PASS: $steps steps, $acked_total acknowledged puts survived"

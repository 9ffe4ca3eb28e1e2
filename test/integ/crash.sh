#!/bin/bash
# test/integ/crash.sh - crash safety. Writers run while agora-metad is
# killed with SIGKILL at a random moment and while a killer sends SIGKILL
# to writer processes (agora put) at random moments; after a restart
# every acknowledged put must read back with its SHA-256, a put in flight
# must be either absent or complete, and fsck must be clean. Then a
# client is killed in the middle of a large put: its segment lease must
# expire and leave a clean cluster. 3 rounds; AGORA_LONG=1 runs 50.
. "$(dirname "$0")/lib.sh"

rounds=3
writers=3
[ "$AGORA_LONG" = 1 ] && rounds=50

write_conf
# Big sparse drives: every put of new data leases a segment of its own,
# every start of agora-metad takes fresh metadata segments, and nothing
# is removed here; with 4G drives the long tier ran out of segments that
# agora-metad could start with after 43 rounds (see full.sh). The files
# stay sparse: only what is written takes room.
sed -i 's/^drive_size = .*/drive_size = 8G/' "$CONF"
ag mkfs || fail "mkfs exited $?"
metad_start

# A pool of source files; writers 0..writers-1 store them under fresh
# names (deduplicated after their first time). Writer "u" stores new
# random content every time, so that kills land in the data path too.
pool=8
for ((i = 0; i < pool; i++)); do
	if ((i % 2)); then kind=text; else kind=random; fi
	mkdata "$T/src$i" $(((i + 1) * 37000 + RANDOM)) "$kind"
	sha256sum <"$T/src$i" | cut -d ' ' -f 1 >"$T/src$i.sha"
done

# writer ROUND W: put files until the stop file of the round appears;
# journal "start NAME SHA" before each put, and "ack NAME SHA" after each
# one that exited 0 (or "exit NAME RC" when it did not). A put may fail
# while metad is down or be killed; the writer goes on. The pid of the
# put in flight is in $T/cur.ROUND.W, for the killer.
writer() {
	local round=$1 w=$2 n=0 src name sha p='' rc
	# stopped by the cleanup of a failed test: take the put along
	trap '[ -n "$p" ] && kill -KILL "$p" 2>/dev/null; exit 1' TERM
	while [ ! -e "$T/stop.$round" ]; do
		if [ "$w" = u ]; then
			src=$T/u.$round
			mkdata "$src" $(((RANDOM % 1500 + 1) * 1024 + RANDOM % 1024)) random
			sha=$(sha256sum <"$src" | cut -d ' ' -f 1)
		else
			src=$T/src$(((n + w) % pool))
			sha=$(cat "$src.sha")
		fi
		name=/r$round/w$w/f$n
		n=$((n + 1))
		echo "start $name $sha" >>"$T/journal.$round.$w"
		"$AGORA" -c "$CONF" put "$src" "$name" >/dev/null 2>>"$T/put.$w.err" &
		p=$!
		echo "$p" >"$T/cur.$round.$w"
		rc=0
		wait "$p" || rc=$?
		rm -f "$T/cur.$round.$w"
		if [ "$rc" -eq 0 ]; then
			echo "ack $name $sha" >>"$T/journal.$round.$w"
		else
			echo "exit $name $rc" >>"$T/journal.$round.$w"
			sleep 0.05
		fi
	done
}

# killer ROUND: SIGKILL a random writer's put in flight every 0.1 to 0.5
# s until the stop file appears; counts its kills in $T/kills.ROUND.
killer() {
	local round=$1 kills=0 w p
	while [ ! -e "$T/stop.$round" ]; do
		sleep "0.$((1 + RANDOM % 5))"
		w=$((RANDOM % (writers + 1)))
		[ "$w" -eq "$writers" ] && w=u
		p=$(cat "$T/cur.$round.$w" 2>/dev/null) || continue
		# only an agora put of this test (the pid may be gone already)
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "-c $CONF put " ||
			continue
		kill -KILL "$p" 2>/dev/null && kills=$((kills + 1))
	done
	echo "$kills" >"$T/kills.$round"
}

# check_read NAME SHA: NAME reads back with SHA-256 SHA.
check_read() {
	local got
	got=$(ag get "$1" - | sha256sum) || fail "get $1 exited $?"
	[ "${got%% *}" = "$2" ] || fail "$1 (acknowledged) reads back with the wrong SHA-256"
}

acked_total=0
kills_total=0
for ((r = 1; r <= rounds; r++)); do
	step "round $r: kill -9 agora-metad and puts under $((writers + 1)) writers"
	wpids=()
	for w in $(seq 0 $((writers - 1))) u; do
		writer "$r" "$w" 2>>"$T/writers.err" & # bash reports each kill
		wpids+=($!)
	done
	killer "$r" &
	kpid=$!
	started_pids+=("${wpids[@]}" "$kpid") # stopped by cleanup if we fail
	sleep "0.$((3 + RANDOM % 7))"
	metad_kill
	sleep "0.$((1 + RANDOM % 4))"
	metad_start
	sleep "0.$((5 + RANDOM % 5))" # writers resume against the new metad
	touch "$T/stop.$r"
	for pid in "${wpids[@]}" "$kpid"; do
		wait_gone "$pid" "$AGORA_TIMEOUT" ||
			fail "a writer is still running $AGORA_TIMEOUT s after the round (a put hangs?)"
		wait "$pid" || true
	done
	kills=$(cat "$T/kills.$r")

	acked=0
	inflight=0
	for w in $(seq 0 $((writers - 1))) u; do
		j=$T/journal.$r.$w
		[ -f "$j" ] || continue
		# shellcheck disable=SC2094 # the writers are done: read only
		while read -r -u 3 what name sha; do
			case $what in
			ack)
				check_read "$name" "$sha"
				acked=$((acked + 1))
				;;
			start)
				grep -q "^ack $name " "$j" && continue
				# failed, killed or in flight at the kill: absent, or whole
				inflight=$((inflight + 1))
				if got=$(ag get "$name" - 2>/dev/null | sha256sum); then
					[ "${got%% *}" = "$sha" ] ||
						fail "$name (not acknowledged) is present but not whole"
				fi
				;;
			esac
		done 3<"$j"
	done
	say "round $r: $kills puts killed; $acked acknowledged puts verified," \
		"$inflight unacknowledged checked"
	acked_total=$((acked_total + acked))
	kills_total=$((kills_total + kills))
	rc=0
	ag fsck >"$T/fsck.out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		grep DAMAGE "$T/fsck.out" | sed -n "1,10p" | sed 's/^/#   /'
		fail "round $r: fsck exited $rc: $(tail -n 1 "$T/fsck.out")"
	fi
done
[ "$acked_total" -gt 0 ] || fail "no put was acknowledged in $rounds rounds"
[ "$kills_total" -gt 0 ] || fail "no put was killed in $rounds rounds"

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

echo "PASS: $steps steps, $acked_total acknowledged puts survived, $kills_total puts killed"

#!/bin/bash
# test/integ/concurrent.sh - many agora processes through one agora-metad
# at once: four writer loops putting distinct files (two of them the same
# contents at the same moment: a deduplication race), two loops
# overwriting one shared path, a reader that lists a directory while it
# grows, and a loop that reads each file right after another process put
# it. Every put that exited 0 must read back byte-equal, every listing
# must show what was committed before it, and fsck must be clean.
# AGORA_LONG=1 runs 5 rounds of 60 puts per loop instead of 1 of 20.
. "$(dirname "$0")/lib.sh"

rounds=1
per_loop=20
[ "$AGORA_LONG" = 1 ] && rounds=5 && per_loop=60

write_conf
# 4G drives, sparse: each put process leases a segment of its own (the
# long tier makes some 420 puts per round)
sed -i "s/^drive_size = .*/drive_size = 4G/" "$CONF"

ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start

# writer ROUND W SRCDIR: put SRCDIR/f0.. as /rROUND/wW/f0..; journal
# "ack SHA PATH" or "fail RC PATH" for each.
writer() {
	local r=$1 w=$2 src=$3 i rc
	for ((i = 0; i < per_loop; i++)); do
		rc=0
		ag put "$src/f$i" "/r$r/w$w/f$i" 2>>"$T/w$w.err" || rc=$?
		if [ "$rc" -eq 0 ]; then
			echo "ack $(sha256sum <"$src/f$i" | cut -d ' ' -f 1) /r$r/w$w/f$i"
		else
			echo "fail $rc /r$r/w$w/f$i"
		fi
	done >"$T/journal.$r.w$w"
}

# overwriter ROUND O: put versions v0.. over /rROUND/shared, in order.
overwriter() {
	local r=$1 o=$2 i rc
	for ((i = 0; i < per_loop; i++)); do
		rc=0
		ag put "$T/src/o$o/v$i" "/r$r/shared" 2>>"$T/o$o.err" || rc=$?
		if [ "$rc" -eq 0 ]; then
			echo "ack $(sha256sum <"$T/src/o$o/v$i" | cut -d ' ' -f 1) $i"
		else
			echo "fail $rc $i"
		fi
	done >"$T/journal.$r.o$o"
}

# lister ROUND: list /rROUND/w0 until the stop file appears; every
# listing must hold every name of the one before (names only come).
lister() {
	local r=$1 n=0 prev=$T/ls.prev cur=$T/ls.cur
	: >"$prev"
	while [ ! -e "$T/stop.$r" ]; do
		if ag ls "/r$r/w0" >"$cur" 2>"$T/ls.err"; then
			sort "$cur" -o "$cur"
			if [ -n "$(comm -23 "$prev" "$cur")" ]; then
				echo "lost: $(comm -23 "$prev" "$cur" | tr '\n' ' ')"
				return 1
			fi
			mv "$cur" "$prev"
			n=$((n + 1))
		elif ! grep -q 'No such file' "$T/ls.err"; then
			echo "ls failed: $(cat "$T/ls.err")"
			return 1 # only "not yet created" is acceptable
		fi
	done
	echo "$n listings"
}

# read_after_write ROUND: put then get, each by its own process, of the
# same path with new content every time: the get must see the put.
read_after_write() {
	local r=$1 i
	for ((i = 0; i < per_loop; i++)); do
		mkdata "$T/raw.src" $((RANDOM * 5 + 1)) random
		ag put "$T/raw.src" "/r$r/raw" || { echo "put $i exited $?"; return 1; }
		rm -f "$T/raw.got"
		ag get "/r$r/raw" "$T/raw.got" || { echo "get $i exited $?"; return 1; }
		cmp -s "$T/raw.src" "$T/raw.got" ||
			{ echo "get $i right after the put returned other data"; return 1; }
	done
	echo "$per_loop puts each seen by the next process"
}

total_acked=0
for ((r = 1; r <= rounds; r++)); do
	step "round $r: prepare sources"
	rm -rf "$T/src"
	for w in 0 1 2; do
		mkdir -p "$T/src/w$w"
		for ((i = 0; i < per_loop; i++)); do
			head -c $(((RANDOM % 600 + 1) * 1024 + RANDOM % 1000)) \
				/dev/urandom >"$T/src/w$w/f$i"
		done
	done
	ln -s w2 "$T/src/w3" # writer 3 puts what writer 2 puts, at once
	for o in 0 1; do
		mkdir -p "$T/src/o$o"
		for ((i = 0; i < per_loop; i++)); do
			mkdata "$T/src/o$o/v$i" $((RANDOM * 3 + 1)) random
		done
	done

	step "round $r: 4 writers, 2 overwriters, a lister and a reader at once"
	pids=()
	for w in 0 1 2 3; do
		writer "$r" "$w" "$T/src/w$w" &
		pids+=($!)
	done
	for o in 0 1; do
		overwriter "$r" "$o" &
		pids+=($!)
	done
	lister "$r" >"$T/lister.out" &
	lister_pid=$!
	read_after_write "$r" >"$T/raw.out" &
	raw_pid=$!
	started_pids+=("${pids[@]}" "$lister_pid" "$raw_pid") # stopped if we fail
	start=$SECONDS
	for pid in "${pids[@]}"; do
		wait "$pid" || fail "a writer loop exited $?"
	done
	wait "$raw_pid" || fail "read after write: $(cat "$T/raw.out")"
	say "read after write: $(cat "$T/raw.out")"
	touch "$T/stop.$r"
	wait "$lister_pid" || fail "listing while writing: $(cat "$T/lister.out")"
	say "lister: $(cat "$T/lister.out")"
	say "the writers took $((SECONDS - start)) s"

	step "round $r: every acknowledged put reads back"
	cat "$T"/journal."$r".w* >"$T/all.$r"
	acked=$(grep -c '^ack ' "$T/all.$r" || true)
	failed=$(grep -c '^fail ' "$T/all.$r" || true)
	say "$acked puts acknowledged, $failed failed"
	if [ "$failed" -ne 0 ]; then
		grep '^fail ' "$T/all.$r" | sed -n "1,5p" | sed 's/^/#   /'
		tail -n 5 "$T"/w*.err | sed 's/^/#   /'
		fail "$failed concurrent puts failed"
	fi
	while read -r _ sum path; do
		got=$(ag get "$path" - | sha256sum) || fail "get $path exited $?"
		[ "${got%% *}" = "$sum" ] || fail "$path reads back wrong"
	done <"$T/all.$r"
	total_acked=$((total_acked + acked))

	step "round $r: listings from another process show every file"
	for w in 0 1 2 3; do
		ag ls "/r$r/w$w" | sort >"$T/ls.got" || fail "ls /r$r/w$w exited $?"
		grep "^ack .* /r$r/w$w/" "$T/all.$r" | sed 's|.*/||' | sort >"$T/ls.want"
		cmp -s "$T/ls.got" "$T/ls.want" ||
			fail "ls /r$r/w$w: $(diff "$T/ls.want" "$T/ls.got" | grep '^[<>]' | sed -n "1,5p" | tr '\n' ' ')"
	done
	ag ls -l "/r$r" >"$T/ls.got" || fail "ls -l /r$r exited $?"
	for name in w0 w1 w2 w3 shared raw; do
		grep -qw "$name" "$T/ls.got" || fail "ls /r$r does not show $name"
	done

	step "round $r: the shared path holds the last version one of its writers put"
	for o in 0 1; do
		if grep -q '^fail' "$T/journal.$r.o$o"; then
			fail "overwriter $o: $(grep -c '^fail' "$T/journal.$r.o$o") puts failed"
		fi
	done
	got=$(ag get "/r$r/shared" - | sha256sum) || fail "get /r$r/shared exited $?"
	last0=$(tail -n 1 "$T/journal.$r.o0" | cut -d ' ' -f 2)
	last1=$(tail -n 1 "$T/journal.$r.o1" | cut -d ' ' -f 2)
	[ "${got%% *}" = "$last0" ] || [ "${got%% *}" = "$last1" ] ||
		fail "/r$r/shared holds neither writer's last version"

	step "round $r: fsck is clean"
	rc=0
	ag fsck >"$T/fsck.out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		grep DAMAGE "$T/fsck.out" | sed -n "1,10p" | sed 's/^/#   /'
		fail "fsck after round $r exited $rc: $(tail -n 1 "$T/fsck.out")"
	fi
	say "fsck: $(tail -n 2 "$T/fsck.out" | sed -n "1,1p")"
	if ((r < rounds)); then
		ag rm -r "/r$r" || fail "rm -r /r$r exited $?"
		sleep 6 # the freed segments age past metad's grace period
	fi
done

step "metad stops; everything is still there; fsck is clean"
metad_stop
while read -r _ sum path; do
	got=$(ag get "$path" - | sha256sum) || fail "get $path exited $?"
	[ "${got%% *}" = "$sum" ] || fail "$path reads back wrong after metad stopped"
done <"$T/all.$rounds"
ag fsck >"$T/fsck.out" 2>&1 || fail "final fsck: $(tail -n 1 "$T/fsck.out")"

echo "PASS: $steps steps, $total_acked concurrent puts"

#!/bin/bash
# test/integ/protocol.sh - hostile clients on agora-metad's socket
# (frames as in common/meta/rpc.h, transactions as in common/meta/txn.h): garbage,
# absurd frame lengths, truncated frames, unknown frame types, malformed
# transactions, a burst of random frames, many idle connections, and
# clients that stall half-way through a frame. After each, agora-metad
# must still run and a normal put and get must work; a stalled client
# must not hold up the others. AGORA_LONG=1 sends more random frames.
. "$(dirname "$0")/lib.sh"

fuzz_frames=300
[ "$AGORA_LONG" = 1 ] && fuzz_frames=5000

write_conf
SOCK=$T/metad.sock

# The hostile client: python3 $T/hostile.py SOCKET CASE [ARGS]. It prints
# what happened and exits 0 when metad behaved (answered or hung up
# within the time limit, as the case expects), 1 when not.
cat >"$T/hostile.py" <<'PY'
import os, random, socket, struct, sys, time

TXN, STATE, PING, REPLY = 1, 2, 3, 0x80000000
path, case = sys.argv[1], sys.argv[2]
args = sys.argv[3:]

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s

def frame(ftype, payload, rid=1, length=None):
    if length is None:
        length = 12 + len(payload)
    return struct.pack("<IIQ", length, ftype, rid) + payload

def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        got = s.recv(n - len(buf))
        if not got:
            return None
        buf += got
    return buf

def reply(s):
    """(type, id, status, gen) of the next reply; None if metad hung up."""
    try:
        hdr = read_exact(s, 16)
    except ConnectionResetError:
        return None
    if hdr is None:
        return None
    length, ftype, rid = struct.unpack("<IIQ", hdr)
    # the reply struct may grow (the protocol is private); it starts
    # with i32 status, u32 flags, u64 generation; a TXN reply may carry
    # up to 64 pushed metadata pages after it
    if length < 12 + 16 or length > 12 + 4096 + 64 * 4096:
        raise SystemExit("reply of length %d" % length)
    body = read_exact(s, length - 12)
    if body is None:
        return None
    status, flags, gen = struct.unpack_from("<iIQ", body)
    return ftype, rid, status, gen

def hung_up(s, what):
    """metad must close the connection (and not answer)."""
    try:
        r = reply(s)
    except socket.timeout:
        raise SystemExit("%s: connection still open after 10 s" % what)
    if r is not None:
        raise SystemExit("%s: answered %r instead of hanging up" % (what, r))
    print("# %s: metad hung up" % what)

def txn(client, txid, nops, ops=b""):
    return struct.pack("<QQI", client, txid, nops) + ops

def op(otype, body, length=None):
    return struct.pack("<HHI", otype, 0,
                       len(body) if length is None else length) + body

def state_works(s, what):
    s.sendall(frame(STATE, b"", rid=777))
    r = reply(s)
    if r is None or r[0] != STATE | REPLY or r[1] != 777 or r[2] != 0:
        raise SystemExit("%s: STATE on the same connection: %r" % (what, r))

if case == "state":
    s = conn()
    s.sendall(frame(STATE, b"", rid=42))
    r = reply(s)
    if r is None or r[0] != STATE | REPLY or r[1] != 42 or r[2] != 0 or r[3] == 0:
        raise SystemExit("STATE: bad reply %r" % (r,))
    print("# STATE answered: generation %d" % r[3])

elif case == "garbage":
    rng = random.Random(int(args[0]))
    for i in range(20):
        s = conn()
        data = bytes(rng.getrandbits(8) for _ in range(rng.choice([1, 15, 16, 17, 100, 4096, 70000])))
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # metad hung up already
        s.close()
    print("# 20 connections sent random bytes and closed")

elif case == "huge":
    for length in (0xFFFFFFFF, 0x80000000, (64 << 20) + 13, 0, 11):
        s = conn()
        s.sendall(frame(TXN, b"", length=length))
        hung_up(s, "frame length %#x" % length)
    # the largest allowed length, then far less than that, then close
    s = conn()
    s.sendall(frame(TXN, b"x" * 1000, length=64 << 20))
    s.close()
    print("# a 64 MiB frame started and abandoned")

elif case == "truncated":
    body = txn(0x1234567, 1, 0)
    for cut in (3, 8, 15, 16, 16 + 5, 16 + len(body) - 1):
        s = conn()
        s.sendall(frame(TXN, body)[:cut])
        s.close()
    # whole requests whose sender is gone before the reply
    for f in (frame(STATE, b""), frame(TXN, txn(random.getrandbits(63) | 1, 1, 0)),
              frame(PING, struct.pack("<Q", 5))):
        s = conn()
        s.sendall(f)
        s.close()
    s = conn()
    s.sendall(frame(TXN, b"y" * 500, length=12 + 100000))
    s.shutdown(socket.SHUT_WR)
    hung_up(s, "a frame cut short by a half-close")
    print("# truncated frames sent")

elif case == "unknown":
    for ftype in (0, 4, 99, 0xFFFF, STATE | REPLY, TXN | REPLY, 0xFFFFFFFF):
        s = conn()
        s.sendall(frame(ftype, b"payload"))
        hung_up(s, "frame type %#x" % ftype)
    s = conn()
    s.sendall(frame(PING, b"short"))
    hung_up(s, "PING with 5 bytes")
    s = conn()
    s.sendall(frame(STATE, b"unexpected"))
    hung_up(s, "STATE with a payload")

elif case == "badtxn":
    client = random.getrandbits(63) | 1
    bad = {
        "op count 5, no ops": txn(client, 1, 5),
        "empty payload": b"",
        "short header": struct.pack("<QQ", client, 1),
        "op longer than the frame": txn(client, 2, 1, op(1, b"z" * 8, length=10000)),
        "op length 0xffffffff": txn(client, 3, 1, op(1, b"", length=0xFFFFFFFF)),
        "op header cut": txn(client, 4, 1, b"\x01\x00"),
        "unknown op type": txn(client, 5, 1, op(999, b"abc")),
        "op type 0": txn(client, 6, 1, op(0, b"")),
        "mknode body too short": txn(client, 7, 1, op(1, b"\x00" * 7)),
        "trailing bytes": txn(client, 8, 0) + b"junk",
        "op count 2^32-1": txn(client, 9, 0xFFFFFFFF, op(10, b"")),
    }
    for what, payload in bad.items():
        s = conn()
        s.sendall(frame(TXN, payload, rid=9))
        try:
            r = reply(s)
        except socket.timeout:
            raise SystemExit("%s: no answer within 10 s" % what)
        if r is None:
            print("# %s: metad hung up" % what)
            continue
        if r[0] != TXN | REPLY or r[1] != 9:
            raise SystemExit("%s: reply %r" % (what, r))
        if r[2] >= 0:
            raise SystemExit("%s: applied (status %d)" % (what, r[2]))
        print("# %s: refused, status %d" % (what, r[2]))
        state_works(s, what)

elif case == "fuzz":
    rng = random.Random(int(args[0]))
    n, answered, dropped = int(args[1]), 0, 0
    s = conn()
    for i in range(n):
        ftype = rng.choice([TXN, TXN, TXN, STATE, PING, rng.getrandbits(32)])
        if ftype == TXN and rng.random() < 0.7:
            nops = rng.choice([0, 1, 2, 3, rng.getrandbits(32)])
            ops = b"".join(op(rng.randint(0, 14),
                              bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 80))),
                              length=rng.choice([None, rng.randint(0, 100)]))
                           for _ in range(rng.randint(0, 3)))
            payload = txn(rng.getrandbits(64), rng.getrandbits(64), nops, ops)
        else:
            payload = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 120)))
        try:
            s.sendall(frame(ftype, payload, rid=i))
            r = reply(s)
        except (BrokenPipeError, ConnectionResetError):
            r = None
        except socket.timeout:
            raise SystemExit("frame %d (type %#x): no answer within 10 s" % (i, ftype))
        if r is None:
            dropped += 1
            s.close()
            s = conn()
        else:
            if r[1] != i:
                raise SystemExit("frame %d: reply for request %d" % (i, r[1]))
            answered += 1
    print("# %d random frames: %d answered, %d made metad hang up" % (n, answered, dropped))

elif case == "idle":
    # hold N idle connections until the file named by the 2nd argument
    # appears; write "ready N" to stdout once they are open
    import resource
    n, stop = int(args[0]), args[1]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, n + 64) if hard != resource.RLIM_INFINITY else n + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(1000):
            try:
                s.connect(path)
                break
            except (BlockingIOError, InterruptedError):
                time.sleep(0.01)  # the listen backlog is full
        else:
            break
        socks.append(s)
    print("ready %d" % len(socks), flush=True)
    deadline = time.time() + 120
    while not os.path.exists(stop) and time.time() < deadline:
        time.sleep(0.1)

elif case == "stall":
    # connect, send part of a frame, then wait for the stop file
    part, stop = args[0], args[1]
    s = conn()
    if part == "header":
        s.sendall(frame(STATE, b"")[:8])
    else:
        s.sendall(frame(TXN, b"q" * 40, length=12 + 100000))
    print("ready", flush=True)
    deadline = time.time() + 120
    while not os.path.exists(stop) and time.time() < deadline:
        time.sleep(0.1)
    s.close()

elif case == "flood":
    # N connections each declare a 64 MiB frame and send all of it but
    # its last byte, as fast as metad takes it; once metad has taken all
    # it will (nothing moved for 2 s), write "ready BYTES" and hold them
    # silent until the stop file appears; then write "dropped K", the
    # connections metad closed meanwhile
    import select
    n, stop = int(args[0]), args[1]
    total = 64 << 20
    socks, sent, gone = [], [], set()
    for i in range(n):
        s = conn()
        s.sendall(frame(TXN, b"", length=total))
        s.setblocking(False)
        socks.append(s)
        sent.append(0)
    chunk = b"f" * (1 << 20)
    deadline, last_move = time.time() + 60, time.time()
    while time.time() < deadline and time.time() - last_move < 2:
        busy = [s for s, k in zip(socks, sent) if k < total - 12 - 1 and s not in gone]
        if not busy:
            break
        _, ready, _ = select.select([], busy, [], 0.2)
        for s in ready:
            i = socks.index(s)
            want = min(len(chunk), total - 12 - 1 - sent[i])
            try:
                k = s.send(chunk[:want])
            except BlockingIOError:
                continue
            except OSError:
                gone.add(s)  # dropped by metad: silent too long
                continue
            if k:
                sent[i] += k
                last_move = time.time()
    print("ready %d" % sum(sent), flush=True)
    deadline = time.time() + 120
    while not os.path.exists(stop) and time.time() < deadline:
        time.sleep(0.1)
    for s in socks:
        try:
            if s not in gone and s.recv(1) == b"":
                gone.add(s)
        except BlockingIOError:
            pass
        except OSError:
            gone.add(s)
        s.close()
    print("dropped %d" % len(gone), flush=True)

else:
    raise SystemExit("unknown case " + case)
PY

hostile() { timeout "$AGORA_TIMEOUT" python3 "$T/hostile.py" "$SOCK" "$@"; }

# still_serving WHAT: metad runs, and a put and a get work.
checks=0
still_serving() {
	checks=$((checks + 1))
	kill -0 "$METAD_PID" 2>/dev/null || fail "$1: agora-metad died"
	mkdata "$T/probe" $((RANDOM * 7 + 1)) random
	ag put "$T/probe" "/probe/p$checks" || fail "$1: put exited $?"
	same "$T/probe" "/probe/p$checks"
	hostile state || fail "$1: STATE is not answered"
}

step "a cluster and agora-metad; a well-formed STATE request is answered"
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start
still_serving "start"

step "(a) random garbage on 20 connections"
seed=$RANDOM
say "seed $seed"
hostile garbage "$seed" || fail "garbage (seed $seed)"
still_serving "after garbage"

step "(b) frame lengths of 4 GiB, 2 GiB, just over 64 MiB, 0 and 11"
hostile huge || fail "huge frames"
still_serving "after absurd frame lengths"

step "(c) truncated frames, and whole requests, then close"
hostile truncated || fail "truncated frames"
still_serving "after truncated frames"

step "(d) unknown frame types; PING and STATE of the wrong length"
hostile unknown || fail "unknown frame types"
still_serving "after unknown frame types"

step "(e) malformed transactions are refused, the connection goes on"
hostile badtxn || fail "malformed transactions"
still_serving "after malformed transactions"

step "(e) $fuzz_frames random frames, most of them transactions"
seed=$RANDOM
say "seed $seed"
hostile fuzz "$seed" "$fuzz_frames" || fail "random frames (seed $seed)"
still_serving "after random frames"
ag fsck >"$T/fsck.out" 2>&1 || fail "fsck after random frames exited $?"

# hold N idle connections in the background; sets idle_pid
hold_idle() {
	rm -f "$T/idle.stop"
	python3 "$T/hostile.py" "$SOCK" idle "$1" "$T/idle.stop" >"$T/idle.out" &
	idle_pid=$!
	started_pids+=("$idle_pid")
	for ((i = 0; i < 300; i++)); do
		grep -q '^ready' "$T/idle.out" && break
		kill -0 "$idle_pid" 2>/dev/null || fail "the idle client died"
		sleep 0.1
	done
	grep -q '^ready' "$T/idle.out" || fail "the idle connections did not open"
	say "holding $(awk '{ print $2 }' "$T/idle.out") idle connections"
}
release_idle() {
	touch "$T/idle.stop"
	wait "$idle_pid" || fail "the idle client exited $?"
	sleep 0.5 # metad notices the closed connections
}

step "(f) 500 idle connections: others are served meanwhile"
hold_idle 500
still_serving "with 500 idle connections"
release_idle
still_serving "after 500 idle connections"

step "(f) 1100 idle connections (more than metad takes): served afterwards"
hold_idle 1100
kill -0 "$METAD_PID" 2>/dev/null || fail "agora-metad died under 1100 connections"
release_idle
still_serving "after 1100 idle connections"

# stalled WHERE: a client stops half-way through a frame's WHERE (header
# or body); everyone else is served meanwhile.
stalled() {
	local where=$1 stall_pid start i
	step "a client stalled in a $where does not hold up the others"
	rm -f "$T/stall.stop"
	python3 "$T/hostile.py" "$SOCK" stall "$where" "$T/stall.stop" >"$T/stall.out" &
	stall_pid=$!
	started_pids+=("$stall_pid")
	for ((i = 0; i < 100; i++)); do
		grep -q ready "$T/stall.out" && break
		sleep 0.1
	done
	start=$SECONDS
	still_serving "with a client stalled half-way through a $where"
	[ $((SECONDS - start)) -lt 10 ] || fail "the put took $((SECONDS - start)) s next to a stalled client"
	touch "$T/stall.stop"
	wait "$stall_pid" || fail "the stalled client exited $?"
}
stalled header
stalled body

# rss_kib FIELD: agora-metad's VmRSS or VmHWM (its peak), in KiB.
rss_kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$METAD_PID/status"; }

step "16 connections declaring 64 MiB frames: metad's memory stays bounded"
# a frame's body grows as its bytes arrive, and all partial bodies share
# one budget (64 MiB + 32 MiB); a connection past it waits, unread
base=$(rss_kib VmHWM)
rm -f "$T/flood.stop"
python3 "$T/hostile.py" "$SOCK" flood 16 "$T/flood.stop" >"$T/flood.out" &
flood_pid=$!
started_pids+=("$flood_pid")
for ((i = 0; i < 900; i++)); do
	grep -q '^ready' "$T/flood.out" && break
	kill -0 "$flood_pid" 2>/dev/null || fail "the flooding client died: $(cat "$T/flood.out")"
	sleep 0.1
done
grep -q '^ready' "$T/flood.out" || fail "the flooding client never got ready"
still_serving "with 16 connections holding partial 64 MiB frames"
peak=$(rss_kib VmHWM)
say "metad peak RSS $((base / 1024)) MiB before the flood, $((peak / 1024)) MiB under it" \
	"($(($(awk '{ print $2 }' "$T/flood.out") >> 20)) MiB sent by the flood)"
# 96 MiB of partial frames and the rest of the daemon; an ASan build also
# keeps what the growing buffers freed in its quarantine (256 MiB)
bound=128
case $(ldd "$METAD" 2>/dev/null) in *libasan*) bound=$((bound + 256)) ;; esac
[ $((peak - base)) -lt $((bound << 10)) ] ||
	fail "metad grew by $(((peak - base) / 1024)) MiB under the frame flood (bound $bound MiB)"

step "the flood's silent connections are dropped after lease_timeout (3 s)"
# partial frames that all wait for budget would hold it for ever: a
# connection that sent nothing for lease_timeout half-way through a frame
# goes, starved (not read for want of budget) or not
sleep 12
touch "$T/flood.stop"
wait "$flood_pid" || fail "the flooding client exited $?"
grep -q '^dropped 16$' "$T/flood.out" ||
	fail "metad kept flooding connections silent half-way through a frame: $(tail -n 1 "$T/flood.out")"
still_serving "after the frame flood"

step "the cluster is consistent; metad stops cleanly"
metad_stop
ag fsck >"$T/fsck.out" 2>&1 || fail "final fsck exited $?"
for ((i = 1; i <= checks; i++)); do
	ag get "/probe/p$i" - >/dev/null || fail "get /probe/p$i exited $?"
done
say "metad's log: $(grep -c warning "$T/metad.log") warnings, e.g.:"
grep warning "$T/metad.log" | sort | uniq -c | sort -rn | sed -n "1,6p" | sed 's/^/#   /'

echo "PASS: $steps steps"

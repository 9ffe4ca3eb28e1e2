#!/bin/bash
# bench/events.sh - what the event log, the triggers and the catalog
# cost and how fast they follow:
#   - delivery latency, p50 and p99, from a commit (the event's time, on
#     metad's clock) to an exec trigger's command running, and to the
#     line of agora events --follow, one change at a time;
#   - events per second sustained: bench_commit's 8 clients of 8 lazy
#     threads make LOAD creates as fast as metad commits them, while
#     agora events --follow and a webhook trigger (a bare python3 HTTP
#     server) keep up, or say how far behind they end;
#   - agora catalog: a cluster of CATALOG elements (empty files that
#     bench_commit makes, 64 directories of them) built into a new
#     SQLite catalog, the walk's time and rate, and with --follow the
#     time from a commit to its row, one change at a time.
#
#   bench/events.sh
#
# Environment (and those of bench/lib.sh):
#   AGORA_BENCH_CHANGES=200      single changes for the latencies
#   AGORA_BENCH_LOAD=64000       creates for the sustained rate
#   AGORA_BENCH_CATALOG=1000000  elements for the catalog build
bench_name=events
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

changes=${AGORA_BENCH_CHANGES:-200}
load=${AGORA_BENCH_LOAD:-64000}
catalog=${AGORA_BENCH_CATALOG:-1000000}
for v in changes load catalog; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "AGORA_BENCH_${v^^}=${!v}: not a count"
done
bench_commit=$build/bench/bench_commit
command -v sqlite3 >/dev/null || die "no sqlite3 command"

cluster_start 8G

# stamp: each line of stdin as "NOW_NS EVENT_TIME_NS SEQ", as it comes
stamp() {
	python3 -u -c '
import json, sys, time
for line in sys.stdin:
    e = json.loads(line)
    print(time.time_ns(), e["time_ns"], e["seq"], flush=True)'
}
# last_seq: the seq of the newest event
last_seq() { ag events | tail -n 1 | sed 's/^{"seq":\([0-9]*\),.*/\1/'; }
# lat_report WHAT FILE: p50 and p99 of (column 1 - column 2) of FILE
lat_report() {
	python3 - "$1" "$2" <<'PY'
import sys
what, f = sys.argv[1:3]
lat = sorted((int(l.split()[0]) - int(l.split()[1])) / 1e6 for l in open(f))
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print("%-36s p50 %7.1f ms   p99 %7.1f ms   (%d events)" % (what, p(0.5), p(0.99), len(lat)))
PY
}
# count_lines FILE: its lines
count_lines() { wc -l <"$1" | tr -d ' '; }
# wait_lines FILE N SECONDS: until FILE has N lines; 1 after SECONDS
wait_lines() {
	local n=$(($3 * 10))
	until [ "$(count_lines "$1")" -ge "$2" ]; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}
follow_start() { # SINCE OUT: agora events --follow, stamped, into OUT
	("$agora" -c "$conf" events --follow --since "$1" | stamp >"$2") &
	follow_pid=$!
	bench_pids+=("$follow_pid")
}
follow_stop() {
	pkill -TERM -P "$follow_pid" 2>/dev/null || true
	wait "$follow_pid" 2>/dev/null || true
}

say "== delivery latency: $changes single changes, one every 50 ms"
ag mkdir /lat >/dev/null
cat >"$T/exec.sh" <<SH
cat >/dev/null
echo "\$(date +%s%N) \$AGORA_EVENT_TIME_NS \$AGORA_EVENT_SEQ" >>"$T/exec.out"
SH
: >"$T/exec.out"
ag trigger add lat --prefix /lat/ --on created --exec "sh $T/exec.sh" >/dev/null
"$agora" -c "$conf" trigger run --watch >"$T/deliver.log" 2>&1 &
deliver_pid=$!
bench_pids+=("$deliver_pid")
follow_start "$(($(last_seq) + 1))" "$T/follow.out"
sleep 1
for ((i = 0; i < changes; i++)); do
	ag mkdir "/lat/d$i" >/dev/null
	sleep 0.05
done
wait_lines "$T/exec.out" "$changes" 60 || die "the trigger ran $(count_lines "$T/exec.out") of $changes times"
wait_lines "$T/follow.out" "$changes" 60 || die "the follower printed $(count_lines "$T/follow.out") of $changes"
lat_report "commit -> exec trigger's command" "$T/exec.out"
lat_report "commit -> agora events --follow line" "$T/follow.out"
follow_stop
kill -TERM "$deliver_pid"
wait "$deliver_pid" 2>/dev/null || true
ag trigger remove lat >/dev/null

say "== sustained: $load creates by 8 clients of 8 lazy threads"
hook_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -c '
import http.server, sys, time
out = open(sys.argv[2], "w", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        out.write("%d\n" % time.time_ns())
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' \
	"$hook_port" "$T/hook.out" >"$T/hook.log" 2>&1 &
bench_pids+=("$!")
sleep 0.5
: >"$T/hook.out"
ag trigger add sink --prefix /bench-commit/ --on created --webhook "http://127.0.0.1:$hook_port/" >/dev/null
"$agora" -c "$conf" trigger run --watch >"$T/deliver.log" 2>&1 &
deliver_pid=$!
bench_pids+=("$deliver_pid")
follow_start "$(($(last_seq) + 1))" "$T/load.out"
sleep 1
per=$(((load + 63) / 64))
t0=$(date +%s%N)
"$bench_commit" -c "$conf" -t 8 -p 8 -l -n "$per" >"$T/commit.out"
t1=$(date +%s%N)
made=$((per * 64))
# the created events of the files (their directories' come too)
want=$made
wait_lines "$T/load.out" "$want" 300 || say "the follower printed $(count_lines "$T/load.out") of $want in 300 s"
t2=$(date +%s%N)
wait_lines "$T/hook.out" "$want" 600 || say "the webhook got $(count_lines "$T/hook.out") of $want in 600 s"
t3=$(date +%s%N)
say "$(tail -n 1 "$T/commit.out")"
python3 - "$made" "$t0" "$t1" "$t2" "$t3" "$T/load.out" "$T/hook.out" <<'PY'
import sys
made, t0, t1, t2, t3 = map(int, sys.argv[1:6])
fol = [l.split() for l in open(sys.argv[6])]
hook = [int(l) for l in open(sys.argv[7])]
ms = lambda ns: ns / 1e6
print("%-36s %8.0f events/s   (%d in %.2f s)" % ("committed (created events)", made / ((t1 - t0) / 1e9), made, (t1 - t0) / 1e9))
span = (int(fol[-1][0]) - int(fol[0][0])) / 1e9
print("%-36s %8.0f events/s   (%d lines, done %.0f ms after the last commit)" %
      ("agora events --follow", len(fol) / span, len(fol), ms(t2 - t1)))
lag = sorted((int(a) - int(b)) / 1e6 for a, b, _ in fol)
print("%-36s p50 %7.1f ms   p99 %7.1f ms" % ("  its lag behind the commits", lag[len(lag) // 2], lag[int(0.99 * len(lag))]))
hs = (hook[-1] - hook[0]) / 1e9
print("%-36s %8.0f events/s   (%d POSTs, done %.1f s after the last commit)" %
      ("webhook trigger (python3 sink)", len(hook) / hs, len(hook), (t3 - t1) / 1e9))
PY
follow_stop
kill -TERM "$deliver_pid"
wait "$deliver_pid" 2>/dev/null || true
ag trigger remove sink >/dev/null
ag rm -r /bench-commit >/dev/null

say "== catalog: $catalog elements"
per=$(((catalog + 63) / 64))
t0=$(date +%s%N)
"$bench_commit" -c "$conf" -t 8 -p 8 -l -n "$per" >"$T/commit.out"
t1=$(date +%s%N)
say "made $((per * 64)) files in $(((t1 - t0) / 1000000)) ms: $(tail -n 1 "$T/commit.out")"
t0=$(date +%s%N)
ag catalog --db "$T/cat.db" >"$T/cat.out"
t1=$(date +%s%N)
rows=$(sqlite3 "$T/cat.db" "select count(*) from elements")
say "catalog build: $rows rows in $(((t1 - t0) / 1000000)) ms ($(head -n 1 "$T/cat.out")): $((rows * 1000000000 / (t1 - t0))) rows/s, $(du -m "$T/cat.db" | cut -f1) MB"
t0=$(date +%s%N)
sqlite3 "$T/cat.db" "select uid, count(*), sum(size) from elements group by uid" >/dev/null
say "select uid, count(*), sum(size) from elements group by uid: $((($(date +%s%N) - t0) / 1000000)) ms"
"$agora" -c "$conf" catalog --db "$T/cat.db" --follow >"$T/catf.out" 2>&1 &
bench_pids+=("$!")
ag mkdir /catf >/dev/null
sleep 1
: >"$T/catf.lat"
for ((i = 0; i < 20; i++)); do
	ag mkdir "/catf/d$i" >/dev/null
	t0=$(date +%s%N)
	until [ "$(sqlite3 "$T/cat.db" "select count(*) from elements where path = '/catf/d$i'" 2>/dev/null)" = 1 ]; do
		sleep 0.01
	done
	echo "$(date +%s%N) $t0" >>"$T/catf.lat"
done
lat_report "commit -> catalog --follow row" "$T/catf.lat"

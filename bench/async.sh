#!/usr/bin/env bash
# Async invocations (issue 13): enqueue → start latency on an idle node, and sustained async
# invocations per second of a trivial function on SQLite.
#   1. latency: BENCH_LATENCY_N (default 200) invocations one after another on an idle node, each
#      POST /functions/{id}/invocations then polled until its first attempt started; the
#      enqueue → start time is the record's attempts[0].startedAt − startedAt (both server-side,
#      millisecond precision in the API; read in microseconds from the database file instead).
#   2. throughput: wrk POSTs /functions/{id}/invocations at 64 connections for BENCH_DURATION
#      seconds; then waits until the queue is empty; rate = invocations SUCCEEDED / (last
#      finishedAt − first startedAt), read from the database with the sqlite3 shell.
# Writes bench/results/async.json (or $BENCH_OUT). Usage: bench/async.sh NILD (a release build)
set -euo pipefail
NILD=$1
DUR=${BENCH_DURATION:-10}
OUT=${BENCH_OUT:-async.json}  # under bench/results/
LAT_N=${BENCH_LATENCY_N:-200}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/nil-async-XXXXXX)
PID=""
trap '[[ -n "$PID" ]] && kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf $TMP' EXIT
command -v sqlite3 >/dev/null || { echo "bench/async.sh: needs the sqlite3 shell" >&2; exit 1; }
TRIVIAL='(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{}")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 2))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))'
body=$(python3 -c 'import json,sys; print(json.dumps({"name":"trivial","language":"wat","source":sys.argv[1]}))' "$TRIVIAL")
KEY=$($NILD keys create --user admin --data-dir $TMP 2>/dev/null)
$NILD --allow-root --listen 127.0.0.1:0 --data-dir $TMP --port-file $TMP/port --log-level warn \
  2>$TMP/nild.log &
PID=$!
for _ in $(seq 1 200); do [[ -s $TMP/port ]] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat $TMP/port)"
AUTH="Authorization: Bearer $KEY"
FID=$(curl -sS -X POST $URL/functions -H "$AUTH" -H 'Content-Type: application/json' -d "$body" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 1 900); do
  t=$(curl -sS -H "$AUTH" $URL/functions/$FID | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["status"], d.get("tier"))')
  [[ "$t" == "READY native" ]] && break; sleep 0.2
done
echo "function: $t" >&2

# 1. Enqueue → start on an idle node.
python3 - "$URL" "$KEY" "$FID" "$LAT_N" <<'PY'
import json, sys, time, urllib.request
url, key, fid, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def call(method, path, body=None):
    req = urllib.request.Request(url + path, data=body, method=method,
                                 headers={"Authorization": "Bearer " + key,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
for _ in range(n):
    eid = call("POST", "/functions/%s/invocations" % fid, b"{}")["executionId"]
    while call("GET", "/executions/" + eid)["status"] != "SUCCEEDED":
        time.sleep(0.001)
    time.sleep(0.01)  # idle between invocations
PY
LAT=$(sqlite3 $TMP/nil.db "SELECT (json_extract(attempts, '\$[0].startedAt') - started_at) FROM executions WHERE \"trigger\" = 'queue' ORDER BY 1" |
  python3 -c 'import sys; v=[int(x) for x in sys.stdin if x.strip()]; print(v[len(v)//2], v[int(len(v)*0.99)-1])')
read P50 P99 <<<"$LAT"
echo "enqueue → start: p50 ${P50} µs, p99 ${P99} µs (n=$LAT_N)"

# 2. Sustained throughput.
cat > $TMP/post.lua <<LUA
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
sqlite3 $TMP/nil.db "DELETE FROM executions WHERE \"trigger\" = 'queue'"
wrk -t2 -c64 -d${DUR}s -s $TMP/post.lua $URL/functions/$FID/invocations > $TMP/wrk.txt
ENQ=$(awk '/Requests\/sec/ {print $2}' $TMP/wrk.txt)
for _ in $(seq 1 600); do
  left=$(sqlite3 $TMP/nil.db "SELECT COUNT(*) FROM invocations WHERE state != 'DEAD'")
  [[ "$left" == 0 ]] && break; sleep 0.5
done
read DONE RATE <<<"$(sqlite3 -separator ' ' $TMP/nil.db "SELECT COUNT(*), COUNT(*) * 1e6 / (MAX(finished_at) - MIN(started_at)) FROM executions WHERE \"trigger\" = 'queue' AND status = 'SUCCEEDED'")"
echo "enqueue rate (wrk, 64 conns): $ENQ/s; completed $DONE at ${RATE}/s (first enqueue → last finish)"
mkdir -p $ROOT/bench/results
cat > $ROOT/bench/results/$OUT <<JSON
{"enqueueToStartP50Us": $P50, "enqueueToStartP99Us": $P99, "latencySamples": $LAT_N,
 "enqueuePerSecond": $ENQ, "completed": $DONE, "completedPerSecond": $RATE,
 "durationS": $DUR, "connections": 64, "store": "sqlite", "nild": "$($NILD --version 2>/dev/null || echo unknown)"}
JSON

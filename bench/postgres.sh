#!/usr/bin/env bash
# Side by side: one nild on SQLite vs one nild on PostgreSQL (issue 14's target: PostgreSQL at
# >= 80% of SQLite). A trivial WAT function on the native tier; wrk POSTs its execute (the
# execution record is the only store write on that path); the backends alternate round by round;
# prints req/s and latency per round, the medians and the ratio. PostgreSQL is a throwaway local
# server from scripts/test-postgres (fsync=off there, so this measures the store's code path and
# round trips, not the disk).
# Usage: bench/postgres.sh NILD [ROUNDS=5] [DURATION=5s] [CONNECTIONS=64]
set -euo pipefail
NILD=$1; ROUNDS=${2:-5}; DUR=${3:-5s}; CONNS=${4:-64}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/nil-pgbench-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 $p 2>/dev/null || true; done; "$ROOT/scripts/test-postgres" stop $TMP/pg >/dev/null 2>&1 || true; rm -rf $TMP' EXIT
PGURL=$("$ROOT/scripts/test-postgres" start $TMP/pg)
psql -q "$PGURL" -c "CREATE DATABASE nil_bench"
TRIVIAL='(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{}")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 2))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))'
body=$(python3 -c 'import json,sys; print(json.dumps({"name":"trivial","language":"wat","source":sys.argv[1]}))' "$TRIVIAL")
declare -A URL KEY FID DB
DB[sqlite]=""
DB[postgres]="--db ${PGURL%/*}/nil_bench"
for mode in sqlite postgres; do
  mkdir -p $TMP/$mode
  KEY[$mode]=$($NILD keys create --user admin --data-dir $TMP/$mode ${DB[$mode]} 2>/dev/null)
  $NILD --allow-root ${DB[$mode]} --listen 127.0.0.1:0 --data-dir $TMP/$mode --port-file $TMP/$mode/port --log-level warn 2>$TMP/$mode.log &
  pids+=($!)
  for _ in $(seq 1 200); do [[ -s $TMP/$mode/port ]] && break; sleep 0.1; done
  URL[$mode]="http://127.0.0.1:$(cat $TMP/$mode/port)"
  FID[$mode]=$(curl -sS -X POST ${URL[$mode]}/functions -H "Authorization: Bearer ${KEY[$mode]}" -H 'Content-Type: application/json' -d "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  for _ in $(seq 1 900); do
    t=$(curl -sS -H "Authorization: Bearer ${KEY[$mode]}" ${URL[$mode]}/functions/${FID[$mode]} | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["status"], d.get("tier"))')
    [[ "$t" == "READY native" ]] && break; sleep 0.2
  done
  echo "$mode: $t" >&2
  cat > $TMP/$mode.lua <<LUA
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ${KEY[$mode]}"
LUA
  curl -sS -X POST ${URL[$mode]}/functions/${FID[$mode]}/execute -H "Authorization: Bearer ${KEY[$mode]}" -d '{}' -H 'Content-Type: application/json' >/dev/null
done
declare -A res
for r in $(seq 1 $ROUNDS); do
  for mode in sqlite postgres; do
    out=$(wrk -t$(( CONNS < 2 ? 1 : 2 )) -c$CONNS -d$DUR --latency -s $TMP/$mode.lua ${URL[$mode]}/functions/${FID[$mode]}/execute)
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $4}')
    echo "round $r $mode c=$CONNS rps=$rps p50=$p50 p99=$p99 non2xx=${non2xx:-0}"
    res[$mode]+="$rps "
  done
done
declare -A med
for mode in sqlite postgres; do
  med[$mode]=$(echo ${res[$mode]} | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "median $mode c=$CONNS: ${med[$mode]} req/s"
done
echo "postgres/sqlite: $(python3 -c "print(f'{${med[postgres]}/${med[sqlite]}:.2f}')")"
# Every answered execute has its record on PostgreSQL (the group-commit writer flushes on exit).

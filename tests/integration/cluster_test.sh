#!/usr/bin/env bash
# The local cluster of scripts/cluster (docs/operations.md, "Cluster") behind a real HAProxy:
# a function deployed through the load balancer is executed through it, and the answers come
# from all three nodes (X-Nil-Node); one node is SIGTERMed while executions keep flowing: none
# fails, HAProxy takes the node out (its checks of /readyz see 503 while the node still
# accepts), no answer comes from it once it is out, every answered execution has its record,
# and the node exits 0. Then the cluster goes down.
# Usage: cluster_test.sh NILD
# NIL_CLUSTER_STORE picks the store (default: postgres, the nodes on one throwaway PostgreSQL;
# sqlite puts them on one SQLite file).
set -euo pipefail
NILD=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d /tmp/nil-cluster-test-XXXXXX)
chmod 755 "$TMP"
export NILD NIL_CLUSTER_DIR=$TMP/cluster
export NIL_CLUSTER_STORE=${NIL_CLUSTER_STORE:-postgres}
NIL_CLUSTER_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export NIL_CLUSTER_PORT
LB=http://127.0.0.1:$NIL_CLUSTER_PORT
LOAD_PID=""
cleanup() {
  if [[ -n "$LOAD_PID" ]]; then kill "$LOAD_PID" 2>/dev/null || true; fi
  "$SRC/scripts/cluster" down >/dev/null 2>&1 || true
  [[ -n "${NIL_KEEP_TEST_DIRS:-}" ]] || rm -rf "$TMP"
}
trap cleanup EXIT
die() {
  echo "FAIL: $*" >&2
  "$SRC/scripts/cluster" status >&2 || true
  for log in "$NIL_CLUSTER_DIR"/node*/nild.log; do
    [[ -f "$log" ]] && { echo "--- $log" >&2; tail -8 "$log" >&2; }
  done
  exit 1
}

# One request through the load balancer: prints "STATUS NODE EXECUTION-ID" (status 000 when the
# request failed, "-" for a missing header). ask PATH [JSON-BODY]
ask() {
  local args=(-sS -o /dev/null -m 30 -D - -H "Authorization: Bearer $KEY")
  [[ $# -gt 1 ]] && args+=(-X POST -H "Content-Type: application/json" --data-binary "$2")
  curl "${args[@]}" "$LB$1" 2>/dev/null |
    awk 'NR == 1 { status = $2 }
         tolower($1) == "x-nil-node:" { node = $2 }
         tolower($1) == "x-nil-execution-id:" { id = $2 }
         END { sub(/\r$/, "", node); sub(/\r$/, "", id)
               print (status ? status : "000"), (node ? node : "-"), (id ? id : "-") }'
}

"$SRC/scripts/cluster" up >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log" >&2; die "cluster up failed"; }

# An API key in the shared store, then a function deployed through the load balancer.
KEY=$("$NILD" keys create --user admin --data-dir "$TMP/keys" --db "$(cat "$NIL_CLUSTER_DIR/db-url")" 2>"$TMP/keys.log") ||
  die "nild keys create failed: $(cat "$TMP/keys.log")"
body=$(python3 -c 'import json, sys; print(json.dumps({"name": "cluster-echo", "language": "wat", "source": open(sys.argv[1]).read()}))' \
  "$SRC/tests/integration/wat/echo.wat")
ID=$(curl -fsS -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" --data-binary "$body" "$LB/functions" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])') || die "deploy through HAProxy failed"
for _ in $(seq 300); do
  status=$(curl -fsS -H "Authorization: Bearer $KEY" "$LB/functions/$ID" | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])')
  [[ $status == READY || $status == FAILED ]] && break
  sleep 0.1
done
[[ $status == READY ]] || die "the function deployed through HAProxy is $status, not READY"
EXEC=/functions/v1/cluster-echo  # answers carry X-Nil-Execution-Id

# Round robin: 30 executions, every one 200, answered by all three nodes.
for i in $(seq 30); do ask "$EXEC" "{\"n\":$i}"; done >"$TMP/spread"
bad=$(awk '$1 != 200' "$TMP/spread" | wc -l)
[[ $bad = 0 ]] || die "$bad of 30 executions through HAProxy failed: $(sort "$TMP/spread" | uniq -c)"
for n in node1 node2 node3; do
  grep -q " $n " "$TMP/spread" || die "no answer from $n through HAProxy: $(cut -d' ' -f1,2 "$TMP/spread" | sort | uniq -c)"
done

# Steady executions through the load balancer while node2 drains: each line "STATUS NODE ID".
(while :; do ask "$EXEC" '{"during":"drain"}'; done) >"$TMP/load" &
LOAD_PID=$!
sleep 1
NODE2_PID=$(cat "$NIL_CLUSTER_DIR/node2/pid")
kill -TERM "$NODE2_PID"

# HAProxy takes node2 out (DOWN in its stats) within its checks (2 × 500 ms), long before node2
# stops accepting (--drain-accept-ms 3000).
stats="http://127.0.0.1:$(cat "$NIL_CLUSTER_DIR/stats.port")/;csv"
out=""
for _ in $(seq 200); do
  state=$(curl -fsS "$stats" | awk -F, '$1 == "nild" && $2 == "node2" { print $18 }')
  if [[ $state == DOWN* ]]; then out=yes; break; fi
  sleep 0.05
done
[[ -n $out ]] || die "HAProxy did not take node2 out after its SIGTERM (state: $state)"
mark=$(wc -l <"$TMP/load")

# node2 drains and exits 0 (it is not our child: watch its pid, then read its log).
for _ in $(seq 600); do kill -0 "$NODE2_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$NODE2_PID" 2>/dev/null && die "node2 did not exit within 60 s of SIGTERM"
grep -q '"stopped"' "$NIL_CLUSTER_DIR/node2/nild.log" ||
  die "node2 did not finish its drain: $(tail -3 "$NIL_CLUSTER_DIR/node2/nild.log")"
sleep 1  # requests after node2 is gone
kill "$LOAD_PID"
wait "$LOAD_PID" 2>/dev/null || true
LOAD_PID=""

total=$(wc -l <"$TMP/load")
failed=$(awk '$1 != 200' "$TMP/load" | wc -l)
[[ $total -gt 20 ]] || die "only $total requests ran during the drain"
[[ $failed = 0 ]] || die "$failed of $total requests failed during the drain: $(awk '$1 != 200' "$TMP/load" | cut -d' ' -f1,2 | sort | uniq -c)"
late=$(tail -n +$((mark + 1)) "$TMP/load" | awk '$2 == "node2"' | wc -l)
# An answer already on its way when HAProxy marked node2 DOWN may land just after the mark.
[[ $late -le 1 ]] || die "$late answers came from node2 after HAProxy took it out"
after=$(tail -n +$((mark + 1)) "$TMP/load" | wc -l)
[[ $after -gt 0 ]] || die "no requests ran after node2 was taken out"
# Every answered execution has its record, node2's included (read through the other nodes).
missing=0
while read -r _ node id; do
  code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "$LB/executions/$id")
  [[ $code == 200 ]] || { missing=$((missing + 1)); echo "no record of $id (answered by $node): $code" >&2; }
done < <(grep '^200 node2 ' "$TMP/load"; cat "$TMP/spread")
[[ $missing = 0 ]] || die "$missing answered executions have no record"
echo "cluster_test: $total requests during the drain of node2, none failed; $after after it was taken out, $late from node2"

"$SRC/scripts/cluster" down >/dev/null 2>&1 || die "cluster down failed"
for f in "$NIL_CLUSTER_DIR"/node*/pid "$NIL_CLUSTER_DIR/haproxy.pid"; do
  [[ -e $f ]] && die "$f still there after cluster down"
done
echo "cluster_test: OK"

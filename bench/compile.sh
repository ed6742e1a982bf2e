#!/usr/bin/env bash
# Deploy-to-READY latency of server-side compiles (issue 3): a small AssemblyScript and a small C
# function, the first compile right after nild starts, then warm compiles (each source made
# unique so the artifact cache does not answer). Usage: bench/compile.sh BUILD_DIR [WARM_RUNS]
# Prints a table; writes bench/results/compile.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
RUNS=${2:-7}
NILD="$BUILD_DIR/src/nild/nild"
[ -x "$NILD" ] || { echo "compile.sh: $NILD not built" >&2; exit 1; }
TMP=$(mktemp -d)
NILD_PID=
cleanup() { [ -n "$NILD_PID" ] && kill "$NILD_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

start_nild() {
  rm -rf "$TMP/data"; mkdir -p "$TMP/data"
  # Every request is authenticated (docs/security.md): an admin API key, made offline.
  AUTH="Authorization: Bearer $("$NILD" keys create --user admin --data-dir "$TMP/data" 2>/dev/null)"
  "$NILD" --allow-root --listen 127.0.0.1:0 --data-dir "$TMP/data" --port-file "$TMP/data/port" \
    --log-level warn 2>"$TMP/nild.log" &
  NILD_PID=$!
  for _ in $(seq 200); do [ -s "$TMP/data/port" ] && break; sleep 0.05; done
  PORT=$(cat "$TMP/data/port")
}

# deploy LANG NAME SOURCE_FILE → prints milliseconds from POST to READY
deploy_ms() {
  local lang=$1 name=$2 file=$3 t0 id status
  t0=$(now_ms)
  id=$(jq -n --arg n "$name" --arg l "$lang" --rawfile s "$file" '{name:$n, language:$l, source:$s}' |
    curl -sf -X POST "127.0.0.1:$PORT/functions" -H "$AUTH" -H 'Content-Type: application/json' --data-binary @- | jq -r .id)
  for _ in $(seq 6000); do
    status=$(curl -sf -H "$AUTH" "127.0.0.1:$PORT/functions/$id" | jq -r .status)
    case $status in READY) echo $(( $(now_ms) - t0 )); return ;; FAILED) echo "compile.sh: $name FAILED" >&2; echo -1; return ;; esac
    sleep 0.01
  done
  echo -1
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }

declare -A SRC=(
  [assemblyscript]=examples/assemblyscript/wordcount.ts
  [c]=examples/c/wordcount.c
)
declare -A EXT=([assemblyscript]=ts [c]=c)
declare -A FIRST WARM
for lang in assemblyscript c; do
  start_nild
  # Unique comment per run: same program, new cache key.
  cp "${SRC[$lang]}" "$TMP/src0.${EXT[$lang]}"; echo "// run 0 $RANDOM" >>"$TMP/src0.${EXT[$lang]}"
  FIRST[$lang]=$(deploy_ms "$lang" "first-$lang" "$TMP/src0.${EXT[$lang]}")
  : >"$TMP/warm.txt"
  for i in $(seq "$RUNS"); do
    cp "${SRC[$lang]}" "$TMP/src$i.${EXT[$lang]}"; echo "// run $i $RANDOM" >>"$TMP/src$i.${EXT[$lang]}"
    deploy_ms "$lang" "warm-$lang-$i" "$TMP/src$i.${EXT[$lang]}" >>"$TMP/warm.txt"
  done
  WARM[$lang]=$(median <"$TMP/warm.txt")
  kill "$NILD_PID"; wait "$NILD_PID" 2>/dev/null || true; NILD_PID=
done

printf '\n%-16s %18s %18s\n' "deploy→READY" "first after start" "warm p50 (n=$RUNS)"
for lang in assemblyscript c; do
  printf '%-16s %15s ms %15s ms\n' "$lang" "${FIRST[$lang]}" "${WARM[$lang]}"
done
mkdir -p bench/results
jq -n --argjson asf "${FIRST[assemblyscript]}" --argjson asw "${WARM[assemblyscript]}" \
  --argjson cf "${FIRST[c]}" --argjson cw "${WARM[c]}" --argjson runs "$RUNS" --arg when "$(date -u +%FT%TZ)" \
  '{benchmark:"deploy_to_ready", measuredAt:$when, warmRuns:$runs,
    assemblyscript:{firstMs:$asf, warmP50Ms:$asw}, c:{firstMs:$cf, warmP50Ms:$cw}}' >bench/results/compile.json

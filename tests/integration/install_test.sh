#!/usr/bin/env bash
# Installs NIL into a temporary PREFIX (cmake --install, what `make install` runs), starts the
# installed nild from another working directory WITHOUT --project-dir, and deploys and runs a C
# and a WAT function through it: the install carries everything nild needs (SDKs, the
# AssemblyScript worker and its node_modules) and nild finds it beside its own executable.
# Usage: install_test.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd)
TMP=$(mktemp -d /tmp/nil-install-XXXXXX)
NILD_PID=""
cleanup() {
  [[ -n "$NILD_PID" ]] && kill -9 "$NILD_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
die() { echo "FAIL: $*" >&2; [[ -f "$TMP/nild.log" ]] && tail -20 "$TMP/nild.log" >&2; exit 1; }

PREFIX="$TMP/prefix"
cmake --install "$BUILD" --prefix "$PREFIX" >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log" >&2; die "cmake --install failed"; }
for f in bin/nild bin/nil share/nil/sdk/c/nil.h share/nil/src/compile/asc_worker.mjs \
         share/nil/node_modules/assemblyscript/package.json lib/systemd/system/nild.service; do
  [[ -e "$PREFIX/$f" ]] || die "the install lacks $f"
done

# From an unrelated directory, with nothing pointing at the source tree.
cd "$TMP"
unset NIL_PROJECT_DIR
mkdir -p "$TMP/data"
KEY=$(env NIL_ADMIN_PASSWORD=install-test-pw "$PREFIX/bin/nild" keys create --user admin --data-dir "$TMP/data" 2>/dev/null) ||
  die "nild keys create failed"
"$PREFIX/bin/nild" --allow-root --listen 127.0.0.1:0 --data-dir "$TMP/data" --port-file "$TMP/port" \
  --native-tier off --prewarm-compilers false 2>"$TMP/nild.log" &
NILD_PID=$!
for _ in $(seq 1 300); do
  [[ -s "$TMP/port" ]] && break
  kill -0 "$NILD_PID" 2>/dev/null || die "nild exited"
  sleep 0.1
done
[[ -s "$TMP/port" ]] || die "nild wrote no port file"
URL="http://127.0.0.1:$(head -1 "$TMP/port")"
grep -q "\"projectDir\":\"$PREFIX/share/nil\"" "$TMP/nild.log" ||
  die "nild did not use its installed files ($PREFIX/share/nil): $(grep -o '"projectDir":"[^"]*"' "$TMP/nild.log")"

deploy_and_run() {  # NAME LANGUAGE SOURCE EXPECTED-OUTPUT-SUBSTRING
  local body created fid status out
  body=$(python3 -c 'import json,sys; print(json.dumps({"name":sys.argv[1],"language":sys.argv[2],"source":sys.argv[3]}))' "$1" "$2" "$3")
  created=$(curl -sS -X POST "$URL/functions" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "$body")
  fid=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || die "deploy of $1 failed: $created"
  status=""
  for _ in $(seq 1 1200); do
    status=$(curl -sS -H "Authorization: Bearer $KEY" "$URL/functions/$fid" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    [[ "$status" == READY || "$status" == FAILED ]] && break
    sleep 0.1
  done
  [[ "$status" == READY ]] || die "$1 ($2) did not become READY: $(curl -sS -H "Authorization: Bearer $KEY" "$URL/functions/$fid")"
  out=$(curl -sS -X POST "$URL/functions/$fid/execute" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{}')
  echo "$out" | grep -q '"SUCCEEDED"' || die "$1 did not succeed: $out"
  echo "$out" | grep -q "$4" || die "$1 output lacks $4: $out"
  echo "ok: $2 function $1 ran on the installed nild"
}

deploy_and_run inst-c c '#include "nil.h"
#include <stdio.h>
int main(void) { printf("{\"lang\":\"c\"}"); return 0; }' '"lang":"c"'
deploy_and_run inst-wat wat '(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"w\":1}")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 7))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))' '"w":1'
echo "PASS"

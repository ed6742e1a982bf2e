;; hello.wat — the smallest NIL function: a WASI command that reads its input JSON on stdin and
;; writes {"message":"hello from NIL","input":<the input>} on stdout.
;;
;;   curl -s localhost:8080/functions -H 'Content-Type: application/json' \
;;     -d "$(jq -n --rawfile src examples/hello.wat '{name:"hello",language:"wat",source:$src}')"
;;   curl -s localhost:8080/functions/v1/hello -H 'Content-Type: application/json' \
;;     -d '{"name":"world"}'
;;   → {"message":"hello from NIL","input":{"name":"world"}}
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)

  ;; Memory map: iovec {ptr, len} at 0, a byte count at 8, constants at 64, I/O buffer at 1024.
  (data (i32.const 64) "{\"message\":\"hello from NIL\",\"input\":")  ;; 36 bytes
  (data (i32.const 128) "null}")

  ;; Writes len bytes at ptr to stdout.
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func (export "_start")
    (local $n i32)
    (local $total i32)
    (call $write (i32.const 64) (i32.const 36))
    ;; Copy stdin to stdout in 4 KiB chunks.
    (block $eof
      (loop $read
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 4096))
        (br_if $eof (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $eof (i32.eqz (local.get $n)))
        (local.set $total (i32.add (local.get $total) (local.get $n)))
        (call $write (i32.const 1024) (local.get $n))
        (br $read)))
    ;; No input at all: say null, so the output stays JSON.
    (if (i32.eqz (local.get $total))
      (then (call $write (i32.const 128) (i32.const 5)))
      (else (call $write (i32.const 132) (i32.const 1))))))

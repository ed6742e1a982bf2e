;; Prints its WASI environ: stdout gets it as one JSON string ("K=V K2=V2 ", each entry followed
;; by a space), stderr gets the same text as a log line. Environment values in tests hold no
;; characters that need JSON escaping.
(module
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 64) "\22\0a")
  (func (export "_start")
    (local $size i32) (local $i i32)
    (drop (call $sizes (i32.const 0) (i32.const 4)))
    (local.set $size (i32.load (i32.const 4)))
    (drop (call $get (i32.const 1024) (i32.const 8192)))
    ;; NUL separators become spaces
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (local.get $i) (local.get $size)))
        (if (i32.eqz (i32.load8_u (i32.add (i32.const 8192) (local.get $i))))
          (then (i32.store8 (i32.add (i32.const 8192) (local.get $i)) (i32.const 32))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    ;; iovecs at 128: "\"", environ, "\""
    (i32.store (i32.const 128) (i32.const 64))
    (i32.store (i32.const 132) (i32.const 1))
    (i32.store (i32.const 136) (i32.const 8192))
    (i32.store (i32.const 140) (local.get $size))
    (i32.store (i32.const 144) (i32.const 64))
    (i32.store (i32.const 148) (i32.const 1))
    (drop (call $fd_write (i32.const 1) (i32.const 128) (i32.const 3) (i32.const 256)))
    ;; stderr: environ, "\n"
    (i32.store (i32.const 160) (i32.const 8192))
    (i32.store (i32.const 164) (local.get $size))
    (i32.store (i32.const 168) (i32.const 65))
    (i32.store (i32.const 172) (i32.const 1))
    (drop (call $fd_write (i32.const 2) (i32.const 160) (i32.const 2) (i32.const 256)))))

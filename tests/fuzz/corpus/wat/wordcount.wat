;; Word count + upper-case transform in hand-written WAT, no SDK:
;;   {"text": "hello wasm world"} -> {"words":3,"upper":"HELLO WASM WORLD"}
;; A WASI command: _start reads stdin, writes stdout. The "text" string is copied with its JSON
;; escapes intact (only a-z are upper-cased), so the output is valid JSON without decoding.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 16)  ;; 1 MiB: iovecs at 0, input at 64 KiB, output at 512 KiB

  (data (i32.const 256) "\"text\"")           ;; the key we look for (6 bytes)
  (data (i32.const 272) "{\"words\":")        ;; 9 bytes
  (data (i32.const 288) ",\"upper\":\"")      ;; 10 bytes
  (data (i32.const 304) "\"}")                ;; 2 bytes
  (data (i32.const 320) "{\"error\":\"expected a JSON object with a \\\"text\\\" string\"}")  ;; 57 bytes

  (global $in i32 (i32.const 65536))
  (global $in_max i32 (i32.const 458752))
  (global $out i32 (i32.const 524288))

  ;; Reads all of stdin to $in; returns the length.
  (func $read_all (result i32)
    (local $len i32) (local $n i32)
    (block $done
      (loop $more
        (i32.store (i32.const 0) (i32.add (global.get $in) (local.get $len)))
        (i32.store (i32.const 4) (i32.sub (global.get $in_max) (local.get $len)))
        (br_if $done (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $len (i32.add (local.get $len) (local.get $n)))
        (br_if $more (i32.lt_u (local.get $len) (global.get $in_max)))))
    (local.get $len))

  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func $is_space (param $c i32) (result i32)
    (i32.or (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 9)))
            (i32.or (i32.eq (local.get $c) (i32.const 10)) (i32.eq (local.get $c) (i32.const 13)))))

  ;; Copies $len bytes from $src to $dst; returns $dst + $len.
  ;; (A byte loop rather than memory.copy: MVP instructions only.)
  (func $copy (param $dst i32) (param $src i32) (param $len i32) (result i32)
    (block $done
      (loop $byte
        (br_if $done (i32.eqz (local.get $len)))
        (i32.store8 (local.get $dst) (i32.load8_u (local.get $src)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
        (local.set $src (i32.add (local.get $src) (i32.const 1)))
        (local.set $len (i32.sub (local.get $len) (i32.const 1)))
        (br $byte)))
    (local.get $dst))

  ;; Writes $n in decimal at $dst; returns the end.
  (func $itoa (param $dst i32) (param $n i32) (result i32)
    (local $tmp i32) (local $k i32)
    (local.set $tmp (i32.const 200))  ;; scratch, digits backwards
    (loop $digit
      (local.set $tmp (i32.sub (local.get $tmp) (i32.const 1)))
      (i32.store8 (local.get $tmp) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digit (local.get $n)))
    (call $copy (local.get $dst) (local.get $tmp) (i32.sub (i32.const 200) (local.get $tmp))))

  (func $fail
    (call $write (i32.const 320) (i32.const 57)))

  (func (export "_start")
    (local $end i32) (local $p i32) (local $c i32) (local $words i32) (local $in_word i32)
    (local $space i32) (local $start i32) (local $o i32)
    (local.set $end (i32.add (global.get $in) (call $read_all)))
    ;; Find "text" followed by optional spaces, ':', optional spaces, '"'.
    (local.set $p (global.get $in))
    (block $found
      (loop $search
        (if (i32.gt_u (i32.add (local.get $p) (i32.const 6)) (local.get $end))
          (then (call $fail) (return)))
        (if (i32.and (i64.eq (i64.load32_u (local.get $p)) (i64.load32_u (i32.const 256)))
                     (i32.eq (i32.load16_u (i32.add (local.get $p) (i32.const 4))) (i32.load16_u (i32.const 260))))
          (then
            (local.set $start (i32.add (local.get $p) (i32.const 6)))
            (block $no
              (loop $ws1
                (br_if $no (i32.ge_u (local.get $start) (local.get $end)))
                (if (call $is_space (i32.load8_u (local.get $start)))
                  (then (local.set $start (i32.add (local.get $start) (i32.const 1))) (br $ws1))))
              (br_if $no (i32.ne (i32.load8_u (local.get $start)) (i32.const 58)))  ;; ':'
              (local.set $start (i32.add (local.get $start) (i32.const 1)))
              (loop $ws2
                (br_if $no (i32.ge_u (local.get $start) (local.get $end)))
                (if (call $is_space (i32.load8_u (local.get $start)))
                  (then (local.set $start (i32.add (local.get $start) (i32.const 1))) (br $ws2))))
              (br_if $no (i32.ne (i32.load8_u (local.get $start)) (i32.const 34)))  ;; '"'
              (local.set $start (i32.add (local.get $start) (i32.const 1)))
              (br $found))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $search)))
    ;; Copy the string upper-cased into a scratch area after the output header, counting words.
    (local.set $o (i32.add (global.get $out) (i32.const 64)))
    (local.set $p (local.get $start))
    (block $closed
      (loop $char
        (if (i32.ge_u (local.get $p) (local.get $end)) (then (call $fail) (return)))
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $closed (i32.eq (local.get $c) (i32.const 34)))
        (if (i32.eq (local.get $c) (i32.const 92))  ;; backslash: copy the escape as is
          (then
            (local.set $c (i32.load8_u (i32.add (local.get $p) (i32.const 1))))
            (local.set $space (i32.or (i32.or (i32.eq (local.get $c) (i32.const 116))    ;; \t
                                              (i32.eq (local.get $c) (i32.const 110)))   ;; \n
                                      (i32.eq (local.get $c) (i32.const 114))))          ;; \r
            (i32.store8 (local.get $o) (i32.const 92))
            (i32.store8 (i32.add (local.get $o) (i32.const 1)) (local.get $c))
            (local.set $o (i32.add (local.get $o) (i32.const 2)))
            (local.set $p (i32.add (local.get $p) (i32.const 2))))
          (else
            (local.set $space (call $is_space (local.get $c)))
            (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
              (then (local.set $c (i32.sub (local.get $c) (i32.const 32)))))
            (i32.store8 (local.get $o) (local.get $c))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))))
        (if (i32.and (i32.eqz (local.get $space)) (i32.eqz (local.get $in_word)))
          (then (local.set $words (i32.add (local.get $words) (i32.const 1)))))
        (local.set $in_word (i32.eqz (local.get $space)))
        (br $char)))
    ;; {"words":N,"upper":" goes right before the copied text, then "} after it.
    (local.set $p (call $copy (global.get $out) (i32.const 272) (i32.const 9)))
    (local.set $p (call $itoa (local.get $p) (local.get $words)))
    (local.set $p (call $copy (local.get $p) (i32.const 288) (i32.const 10)))
    (local.set $p (call $copy (local.get $p) (i32.add (global.get $out) (i32.const 64))
                        (i32.sub (local.get $o) (i32.add (global.get $out) (i32.const 64)))))
    (local.set $p (call $copy (local.get $p) (i32.const 304) (i32.const 2)))
    (call $write (global.get $out) (i32.sub (local.get $p) (global.get $out)))))

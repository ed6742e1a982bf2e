// The NIL guest SDK for AssemblyScript: `import { readInput, writeOutput, log, Json } from "nil";`
// Host functions: `logAt`, `env`, `httpFetch`, `dbQuery` (import module "nil", docs/abi.md).
//
// A NIL function is a WASI preview1 command: its top-level code is `_start` (the server compiles
// with `--exportStart _start`), it reads the input JSON on stdin, writes the output JSON on stdout,
// and anything on stderr is its log. This file talks to WASI directly so the module imports only
// `wasi_snapshot_preview1` functions; `nilAbort`, `nilTrace` and `nilSeed` replace the
// compiler's `env.abort`/`env.trace`/`env.seed` (the server passes `--use abort=...`).

// ---------------------------------------------------------------------------------------------
// WASI imports (only the subset the NIL engine implements).

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_read")
declare function wasi_fd_read(fd: i32, iovs: usize, iovsLen: usize, nread: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_write")
declare function wasi_fd_write(fd: i32, iovs: usize, iovsLen: usize, nwritten: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "proc_exit")
declare function wasi_proc_exit(code: u32): void;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "random_get")
declare function wasi_random_get(buf: usize, len: usize): u16;

// NIL's host functions (import module "nil", docs/abi.md). A module imports only those it uses.
// @ts-ignore: decorator
@external("nil", "log")
declare function nil_log(level: i32, ptr: usize, len: usize): void;
// @ts-ignore: decorator
@external("nil", "env")
declare function nil_env(keyPtr: usize, keyLen: usize): i32;
// @ts-ignore: decorator
@external("nil", "http_fetch")
declare function nil_http_fetch(reqPtr: usize, reqLen: usize): i32;
// @ts-ignore: decorator
@external("nil", "db_query")
declare function nil_db_query(sqlPtr: usize, sqlLen: usize, paramsPtr: usize, paramsLen: usize): i32;
// @ts-ignore: decorator
@external("nil", "result_read")
declare function nil_result_read(outPtr: usize, outCap: usize): i32;

function writeAll(fd: i32, ptr: usize, len: usize): void {
  const iov = memory.data(16);
  const out = memory.data(8);
  while (len > 0) {
    store<u32>(iov, <u32>ptr, 0);
    store<u32>(iov, <u32>len, 4);
    if (wasi_fd_write(fd, iov, 1, out) != 0) return;
    const n = <usize>load<u32>(out);
    if (n == 0) return;
    ptr += n;
    len -= n;
  }
}

function writeString(fd: i32, s: string): void {
  const buf = String.UTF8.encode(s);
  writeAll(fd, changetype<usize>(buf), <usize>buf.byteLength);
}

// ---------------------------------------------------------------------------------------------
// Input, output, logs.

/** Reads all of stdin (the invocation's input, normally JSON) as a UTF-8 string. */
export function readInput(): string {
  let cap: i32 = 4096;
  let buf = new Uint8Array(cap);
  let len: i32 = 0;
  const iov = memory.data(16);
  const nread = memory.data(8);
  while (true) {
    if (len == cap) {
      const bigger = new Uint8Array(cap * 2);
      bigger.set(buf);
      buf = bigger;
      cap *= 2;
    }
    store<u32>(iov, <u32>(buf.dataStart + <usize>len), 0);
    store<u32>(iov, <u32>(cap - len), 4);
    if (wasi_fd_read(0, iov, 1, nread) != 0) break;
    const n = <i32>load<u32>(nread);
    if (n == 0) break;
    len += n;
  }
  return String.UTF8.decodeUnsafe(buf.dataStart, <usize>len);
}

/** Writes the invocation's output (normally JSON) to stdout. May be called more than once. */
export function writeOutput(s: string): void {
  writeString(1, s);
}

/** Writes one log line to stderr. */
export function log(s: string): void {
  writeString(2, s + "\n");
}

/** Ends the invocation now with the given exit code (0 = success). */
export function exit(code: i32): void {
  wasi_proc_exit(<u32>code);
}

// Replacements for the compiler's env imports (wired with `--use abort=...`). Not for user code.
export function nilAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let s = "abort: " + (message !== null ? message : "(no message)");
  if (fileName !== null) s += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  log(s);
  wasi_proc_exit(134);
  unreachable();
}

export function nilTrace(message: string, n: i32 = 0, a0: f64 = 0, a1: f64 = 0, a2: f64 = 0, a3: f64 = 0, a4: f64 = 0): void {
  let s = "trace: " + message;
  if (n > 0) s += " " + a0.toString();
  if (n > 1) s += " " + a1.toString();
  if (n > 2) s += " " + a2.toString();
  if (n > 3) s += " " + a3.toString();
  if (n > 4) s += " " + a4.toString();
  log(s);
}

export function nilSeed(): f64 {
  const buf = memory.data(8);
  wasi_random_get(buf, 8);
  return <f64>(load<u64>(buf) >> 11);
}

// ---------------------------------------------------------------------------------------------
// Host functions: levelled logs, environment, HTTP, the application database (docs/abi.md).

export enum LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 }

/** A log line at a level: `[warn] message` in the execution's logs. */
export function logAt(level: LogLevel, s: string): void {
  const buf = String.UTF8.encode(s);
  nil_log(<i32>level, changetype<usize>(buf), <usize>buf.byteLength);
}

/** Copies out the answer the host holds after a call (its length `hint` when known). */
function takeResult(hint: i32): string {
  let cap: i32 = hint > 0 ? hint : 256;
  let buf = new Uint8Array(cap);
  let len: i32 = 0;
  while (true) {
    if (len == cap) {
      const bigger = new Uint8Array(cap * 2);
      bigger.set(buf);
      buf = bigger;
      cap *= 2;
    }
    const got = nil_result_read(buf.dataStart + <usize>len, <usize>(cap - len));
    if (got <= 0) break;
    len += got;
  }
  return String.UTF8.decodeUnsafe(buf.dataStart, <usize>len);
}

/** The answer of httpFetch/dbQuery: `status` >= 0 and `json` the answer, or `status` < 0 (see
 *  the NIL_E_* numbers in docs/abi.md) and `json` the error {"error":{"code","message"}}. */
export class HostResult {
  constructor(public status: i32, public json: string) {}
  get ok(): bool { return this.status >= 0; }
  /** The answer parsed. */
  value(): JsonValue { return Json.parse(this.json); }
  /** The error code ("host_not_allowed", "sql_error", ...), or "" when ok. */
  get errorCode(): string {
    if (this.ok) return "";
    const e = this.value().get("error");
    return e !== null ? e.getString("code") : "";
  }
}

/** The value of `key` in the function's environments, or null when absent. */
export function env(key: string): string | null {
  const k = String.UTF8.encode(key);
  const status = nil_env(changetype<usize>(k), <usize>k.byteLength);
  if (status < 0) return null;
  return takeResult(status);
}

/** One HTTP(S) request, e.g. `httpFetch(new JsonObject().str("url", "https://...").toString())`.
 *  Request {"method","url","headers":{},"body"}; answer {"status","headers","body"}. */
export function httpFetch(requestJson: string): HostResult {
  const req = String.UTF8.encode(requestJson);
  const status = nil_http_fetch(changetype<usize>(req), <usize>req.byteLength);
  return new HostResult(status, takeResult(status));
}

/** One SQL statement with bound parameters (a JSON array): answer
 *  {"columns":[...],"rows":[[...]],"rowsAffected":n,"truncated":bool}. */
export function dbQuery(sql: string, paramsJson: string = "[]"): HostResult {
  const q = String.UTF8.encode(sql);
  const p = String.UTF8.encode(paramsJson);
  const status = nil_db_query(changetype<usize>(q), <usize>q.byteLength,
                              changetype<usize>(p), <usize>p.byteLength);
  return new HostResult(status, takeResult(status));
}

// ---------------------------------------------------------------------------------------------
// JSON: a small DOM (parse) and an escaping helper plus a builder (stringify).

export enum JsonKind { Null, Bool, Number, String, Array, Object }

export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  bool: bool = false;
  num: f64 = 0;
  str: string = "";
  items: JsonValue[] = [];
  keys: string[] = [];

  isNull(): bool { return this.kind == JsonKind.Null; }
  isString(): bool { return this.kind == JsonKind.String; }
  isNumber(): bool { return this.kind == JsonKind.Number; }
  isObject(): bool { return this.kind == JsonKind.Object; }
  isArray(): bool { return this.kind == JsonKind.Array; }

  /** The member `key` of an object, or null when absent or not an object. */
  get(key: string): JsonValue | null {
    if (this.kind != JsonKind.Object) return null;
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if (this.keys[i] == key) return this.items[i];
    }
    return null;
  }
  /** Element `i` of an array, or null. */
  at(i: i32): JsonValue | null {
    if (this.kind != JsonKind.Array || i < 0 || i >= this.items.length) return null;
    return this.items[i];
  }
  get length(): i32 { return this.items.length; }

  /** Member `key` as a string, or `fallback` when absent or not a string. */
  getString(key: string, fallback: string = ""): string {
    const v = this.get(key);
    return v !== null && v.kind == JsonKind.String ? v.str : fallback;
  }
  getNumber(key: string, fallback: f64 = 0): f64 {
    const v = this.get(key);
    return v !== null && v.kind == JsonKind.Number ? v.num : fallback;
  }
  getBool(key: string, fallback: bool = false): bool {
    const v = this.get(key);
    return v !== null && v.kind == JsonKind.Bool ? v.bool : fallback;
  }

  toString(): string {
    switch (this.kind) {
      case JsonKind.Null: return "null";
      case JsonKind.Bool: return this.bool ? "true" : "false";
      case JsonKind.Number: return Json.number(this.num);
      case JsonKind.String: return Json.quote(this.str);
      case JsonKind.Array: {
        let s = "[";
        for (let i = 0; i < this.items.length; i++) {
          if (i > 0) s += ",";
          s += this.items[i].toString();
        }
        return s + "]";
      }
      default: {
        let s = "{";
        for (let i = 0; i < this.items.length; i++) {
          if (i > 0) s += ",";
          s += Json.quote(this.keys[i]) + ":" + this.items[i].toString();
        }
        return s + "}";
      }
    }
  }
}

class JsonParser {
  pos: i32 = 0;
  error: string | null = null;
  constructor(public text: string) {}

  fail(what: string): JsonValue {
    if (this.error === null) this.error = what + " at offset " + this.pos.toString();
    return new JsonValue();
  }
  ws(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }
  value(depth: i32): JsonValue {
    if (depth > 256) return this.fail("nesting too deep");
    this.ws();
    if (this.pos >= this.text.length) return this.fail("unexpected end");
    const c = this.text.charCodeAt(this.pos);
    const v = new JsonValue();
    if (c == 0x7b /* { */) {
      v.kind = JsonKind.Object;
      this.pos++;
      this.ws();
      if (this.peek() == 0x7d) { this.pos++; return v; }
      while (this.error === null) {
        this.ws();
        if (this.peek() != 0x22) return this.fail("expected a key");
        const k = this.string();
        this.ws();
        if (this.peek() != 0x3a) return this.fail("expected ':'");
        this.pos++;
        v.keys.push(k);
        v.items.push(this.value(depth + 1));
        this.ws();
        const d = this.peek();
        this.pos++;
        if (d == 0x7d) return v;
        if (d != 0x2c) return this.fail("expected ',' or '}'");
      }
      return v;
    }
    if (c == 0x5b /* [ */) {
      v.kind = JsonKind.Array;
      this.pos++;
      this.ws();
      if (this.peek() == 0x5d) { this.pos++; return v; }
      while (this.error === null) {
        v.items.push(this.value(depth + 1));
        this.ws();
        const d = this.peek();
        this.pos++;
        if (d == 0x5d) return v;
        if (d != 0x2c) return this.fail("expected ',' or ']'");
      }
      return v;
    }
    if (c == 0x22) {
      v.kind = JsonKind.String;
      v.str = this.string();
      return v;
    }
    if (this.text.startsWith("true", this.pos)) { this.pos += 4; v.kind = JsonKind.Bool; v.bool = true; return v; }
    if (this.text.startsWith("false", this.pos)) { this.pos += 5; v.kind = JsonKind.Bool; return v; }
    if (this.text.startsWith("null", this.pos)) { this.pos += 4; return v; }
    const start = this.pos;
    while (this.pos < this.text.length) {
      const d = this.text.charCodeAt(this.pos);
      if ((d >= 0x30 && d <= 0x39) || d == 0x2d || d == 0x2b || d == 0x2e || d == 0x65 || d == 0x45) this.pos++;
      else break;
    }
    if (start == this.pos) return this.fail("unexpected character");
    v.kind = JsonKind.Number;
    v.num = parseFloat(this.text.substring(start, this.pos));
    return v;
  }
  peek(): i32 {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }
  string(): string {
    this.pos++;  // opening quote
    let out = "";
    let run = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c == 0x22) {
        out += this.text.substring(run, this.pos);
        this.pos++;
        return out;
      }
      if (c == 0x5c) {
        out += this.text.substring(run, this.pos);
        this.pos++;
        const e = this.peek();
        this.pos++;
        if (e == 0x6e) out += "\n";
        else if (e == 0x74) out += "\t";
        else if (e == 0x72) out += "\r";
        else if (e == 0x62) out += "\b";
        else if (e == 0x66) out += "\f";
        else if (e == 0x75) {
          const code = I32.parseInt(this.text.substring(this.pos, this.pos + 4), 16);
          this.pos += 4;
          out += String.fromCharCode(code);
        } else out += String.fromCharCode(e);
        run = this.pos;
        continue;
      }
      this.pos++;
    }
    this.fail("unterminated string");
    return out;
  }
}

export class Json {
  /** Parses `text`. Malformed JSON gives a null value and sets `Json.lastError` (else null). */
  static parse(text: string): JsonValue {
    const p = new JsonParser(text);
    const v = p.value(0);
    p.ws();
    if (p.error === null && p.pos != text.length) p.fail("trailing characters");
    Json.lastError = p.error;
    return p.error === null ? v : new JsonValue();
  }
  static lastError: string | null = null;

  /** `s` as a JSON string literal, quotes included. */
  static quote(s: string): string {
    let out = "\"";
    let run = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
      out += s.substring(run, i);
      if (c == 0x22) out += "\\\"";
      else if (c == 0x5c) out += "\\\\";
      else if (c == 0x0a) out += "\\n";
      else if (c == 0x0d) out += "\\r";
      else if (c == 0x09) out += "\\t";
      else out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
      run = i + 1;
    }
    return out + s.substring(run) + "\"";
  }

  /** A number as JSON (integers without ".0"; NaN and infinities as null). */
  static number(n: f64): string {
    if (!isFinite(n)) return "null";
    if (n == Math.floor(n) && Math.abs(n) < 9007199254740992) return (<i64>n).toString();
    return n.toString();
  }
}

/** Builds one JSON object: `new JsonObject().num("words", 3).str("upper", "HI").toString()`. */
export class JsonObject {
  private parts: string[] = [];
  str(key: string, value: string): JsonObject { this.parts.push(Json.quote(key) + ":" + Json.quote(value)); return this; }
  num(key: string, value: f64): JsonObject { this.parts.push(Json.quote(key) + ":" + Json.number(value)); return this; }
  bool(key: string, value: bool): JsonObject { this.parts.push(Json.quote(key) + ":" + (value ? "true" : "false")); return this; }
  null(key: string): JsonObject { this.parts.push(Json.quote(key) + ":null"); return this; }
  /** `json` must already be valid JSON (another object's toString(), an array, ...). */
  raw(key: string, json: string): JsonObject { this.parts.push(Json.quote(key) + ":" + json); return this; }
  toString(): string { return "{" + this.parts.join(",") + "}"; }
}

// The AssemblyScript compile worker: one long-lived Node process (run inside bubblewrap by
// src/compile/assemblyscript_driver.cpp) that compiles many sources with asc's programmatic API,
// so Node start-up and the optimizer's warm-up are paid once, not per compile.
//
// Protocol on stdin/stdout, one request at a time:
//   request:  u32le length, then that many bytes of JSON {"source": "...", "optimize": "O3"}
//   response: u8 status (0 = ok, 1 = compile error), u32le length, then the payload: the wasm
//             binary when ok, the UTF-8 diagnostics otherwise.
// Nothing else is written to stdout; our own failures go to stderr.
//
// The file system asc sees is in memory: `function.ts` (the user's source) and the SDK files
// under `nil-sdk/` (served as the library `~lib/nil`). The AS standard library is bundled in
// asc.js. Every other path — `/etc/passwd`, `../../etc/hostname`, node_modules — reads as absent,
// so a user's import of a host path fails with asc's "File not found" diagnostic.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const sdkDir = process.argv[2];
if (!sdkDir) {
  process.stderr.write("usage: asc_worker.mjs SDK_DIR\n");
  process.exit(2);
}
const sdkFiles = new Map();
for (const name of readdirSync(sdkDir)) {
  if (name.endsWith(".ts")) sdkFiles.set(name, readFileSync(join(sdkDir, name), "utf8"));
}

const asc = (await import("assemblyscript/asc")).default;

const SOURCE = "function.ts";
const LIB = "nil-sdk";

function normalize(p) {
  return p.replace(/\\/g, "/").replace(/^\.\//, "");
}

async function compile(source, optimize) {
  const outputs = new Map();
  let diagnostics = "";
  const stream = {
    write(chunk) {
      diagnostics += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      return true;
    },
  };
  const argv = [
    SOURCE,
    "--outFile", "function.wasm",
    "--lib", LIB,
    "--runtime", "stub",
    "--exportStart", "_start",
    "--use", "abort=~lib/nil/nilAbort",
    "--use", "trace=~lib/nil/nilTrace",
    "--use", "seed=~lib/nil/nilSeed",
    "--noColors",
    "--disableWarning", "235",  // "Only variables, functions and enums become WebAssembly module exports."
    optimize === "Oz" ? "-Oz" : "-O3",
  ];
  const { error } = await asc.main(argv, {
    readFile(name, baseDir) {
      const p = normalize(baseDir && baseDir !== "." ? join(baseDir, name) : name);
      if (p === SOURCE) return source;
      if (p.startsWith(LIB + "/")) {
        const f = sdkFiles.get(p.slice(LIB.length + 1));
        return f === undefined ? null : f;
      }
      return null;
    },
    writeFile(name, contents) {
      outputs.set(normalize(name), contents);
    },
    listFiles(dir, baseDir) {
      const p = normalize(baseDir && baseDir !== "." ? join(baseDir, dir) : dir);
      return p === LIB ? [...sdkFiles.keys()] : [];
    },
    stdout: stream,
    stderr: stream,
  });
  const wasm = outputs.get("function.wasm");
  if (error || !wasm) {
    let text = diagnostics.trim();
    if (!text) text = error ? String(error.message || error) : "compiler produced no output";
    return { ok: false, payload: Buffer.from(text, "utf8") };
  }
  return { ok: true, payload: Buffer.from(wasm) };
}

function send(ok, payload) {
  const header = Buffer.alloc(5);
  header.writeUInt8(ok ? 0 : 1, 0);
  header.writeUInt32LE(payload.length, 1);
  process.stdout.write(Buffer.concat([header, payload]));
}

// Read frames from stdin; compile them strictly one after another.
let pending = Buffer.alloc(0);
let busy = false;
async function pump() {
  if (busy) return;
  busy = true;
  try {
    while (pending.length >= 4) {
      const len = pending.readUInt32LE(0);
      if (pending.length < 4 + len) break;
      const body = pending.subarray(4, 4 + len).toString("utf8");
      pending = pending.subarray(4 + len);
      let result;
      try {
        const req = JSON.parse(body);
        result = await compile(String(req.source), req.optimize);
      } catch (e) {
        result = { ok: false, payload: Buffer.from("internal compiler error: " + (e && e.stack ? e.stack : String(e)), "utf8") };
      }
      send(result.ok, result.payload);
    }
  } finally {
    busy = false;
  }
}
process.stdin.on("data", (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  pump();
});
process.stdin.on("end", () => process.exit(0));

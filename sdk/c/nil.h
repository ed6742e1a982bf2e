/* nil.h — the NIL guest SDK for C and C++ (header only; on the include path of server compiles).
 *
 * A NIL function is a WASI preview1 command: main() reads the input JSON on stdin, writes the
 * output JSON on stdout; stderr is its log. This header only makes that convenient:
 *
 *   size_t len;
 *   char* input = nil_read_input(&len);              // all of stdin, NUL-terminated
 *   char text[256];
 *   nil_json_get_string(input, "text", text, sizeof text);
 *   nil_jw w; nil_jw_init(&w);
 *   nil_jw_begin_object(&w); nil_jw_key(&w, "n"); nil_jw_number(&w, 3); nil_jw_end_object(&w);
 *   nil_write_output(w.data, w.len);
 *   nil_jw_free(&w); free(input);
 *
 * The JSON readers look up a member of the top-level object only; they are small on purpose.
 * Everything is `static` so the header can be included from several files.
 *
 * Host functions (import module "nil", docs/abi.md), when compiled for WebAssembly:
 *
 *   nil_log_level(NIL_LOG_WARN, "retrying %d", n);       // "[warn] retrying 3" in the logs
 *   char* key = nil_env("API_KEY");                        // malloc'd, or NULL when absent
 *   int32_t status;
 *   char* resp = nil_http_fetch("{\"url\":\"https://api.example.com/x\"}", &status);
 *   char* rows = nil_db_query("SELECT body FROM notes WHERE id = ?", "[1]", &status);
 *   // status >= 0: the answer JSON; status < 0 (NIL_E_*): {"error":{"code","message"}}
 *   free(key); free(resp); free(rows);
 */
#ifndef NIL_SDK_NIL_H
#define NIL_SDK_NIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- input, output, logs ------------------------------------------------------------------ */

/* Reads all of stdin. Returns a malloc'd NUL-terminated buffer (free it), or NULL when out of
 * memory; *len (if not NULL) receives the byte count without the NUL. */
static inline char* nil_read_input(size_t* len) {
  size_t cap = 4096, n = 0;
  char* buf = (char*)malloc(cap);
  if (!buf) return NULL;
  for (;;) {
    if (cap - n < 2) {
      char* bigger = (char*)realloc(buf, cap * 2);
      if (!bigger) { free(buf); return NULL; }
      buf = bigger;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, stdin);
    n += got;
    if (got == 0) break;
  }
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

/* Writes the output (normally JSON) to stdout and flushes it. */
static inline void nil_write_output(const char* data, size_t len) {
  fwrite(data, 1, len, stdout);
  fflush(stdout);
}

/* printf-style log line on stderr (a newline is added). */
static inline void nil_log(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* ---- JSON reading: members of the top-level object ----------------------------------------- */

static inline const char* nil__ws(const char* p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

/* Skips one JSON value starting at p; returns the position after it, or NULL if malformed. */
static inline const char* nil__skip(const char* p, int depth) {
  p = nil__ws(p);
  if (depth > 256) return NULL;
  if (*p == '"') {
    for (p++; *p && *p != '"'; p++)
      if (*p == '\\' && !*++p) return NULL;
    return *p ? p + 1 : NULL;
  }
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    p = nil__ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
      if (close == '}') {
        p = nil__skip(p, depth + 1); /* key */
        if (!p) return NULL;
        p = nil__ws(p);
        if (*p++ != ':') return NULL;
      }
      p = nil__skip(p, depth + 1);
      if (!p) return NULL;
      p = nil__ws(p);
      if (*p == close) return p + 1;
      if (*p++ != ',') return NULL;
    }
  }
  const char* start = p;
  while (*p && !strchr(",}] \t\r\n", *p)) p++;
  return p == start ? NULL : p;
}

/* Finds member `key` of the top-level object in `json`; returns a pointer to its value or NULL. */
static inline const char* nil_json_find(const char* json, const char* key) {
  const char* p = nil__ws(json);
  size_t klen = strlen(key);
  if (*p != '{') return NULL;
  p = nil__ws(p + 1);
  if (*p == '}') return NULL;
  for (;;) {
    if (*p != '"') return NULL;
    const char* kstart = p + 1;
    const char* kend = nil__skip(p, 0);
    if (!kend) return NULL;
    int match = (size_t)(kend - 1 - kstart) == klen && memcmp(kstart, key, klen) == 0;
    p = nil__ws(kend);
    if (*p++ != ':') return NULL;
    p = nil__ws(p);
    if (match) return p;
    p = nil__skip(p, 0);
    if (!p) return NULL;
    p = nil__ws(p);
    if (*p++ != ',') return NULL;
    p = nil__ws(p);
  }
}

static inline void nil__put_utf8(char* out, size_t cap, size_t* n, uint32_t cp) {
  char tmp[4];
  size_t k;
  if (cp < 0x80) { tmp[0] = (char)cp; k = 1; }
  else if (cp < 0x800) { tmp[0] = (char)(0xC0 | (cp >> 6)); tmp[1] = (char)(0x80 | (cp & 0x3F)); k = 2; }
  else if (cp < 0x10000) { tmp[0] = (char)(0xE0 | (cp >> 12)); tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); tmp[2] = (char)(0x80 | (cp & 0x3F)); k = 3; }
  else { tmp[0] = (char)(0xF0 | (cp >> 18)); tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3F)); tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); tmp[3] = (char)(0x80 | (cp & 0x3F)); k = 4; }
  for (size_t i = 0; i < k; i++) {
    if (*n + 1 < cap) out[*n] = tmp[i];
    (*n)++;
  }
}

/* Copies the string member `key` (unescaped, NUL-terminated, truncated to cap) into out.
 * Returns the full unescaped length (may exceed cap - 1), or -1 when absent or not a string. */
static inline long nil_json_get_string(const char* json, const char* key, char* out, size_t cap) {
  const char* p = nil_json_find(json, key);
  if (!p || *p != '"') return -1;
  size_t n = 0;
  for (p++; *p && *p != '"'; p++) {
    uint32_t c = (unsigned char)*p;
    if (c == '\\') {
      p++;
      switch (*p) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u': {
          char hex[5] = {0};
          for (int i = 0; i < 4 && p[1]; i++) hex[i] = *++p;
          c = (uint32_t)strtoul(hex, NULL, 16);
          nil__put_utf8(out, cap, &n, c);
          continue;
        }
        case '\0': return -1;
        default: c = (unsigned char)*p;
      }
    }
    if (n + 1 < cap) out[n] = (char)c;
    n++;
  }
  if (cap) out[n < cap ? n : cap - 1] = '\0';
  return (long)n;
}

/* Reads the number member `key` into *out. Returns 0 on success, -1 when absent or not a number. */
static inline int nil_json_get_number(const char* json, const char* key, double* out) {
  const char* p = nil_json_find(json, key);
  if (!p) return -1;
  char* end;
  double v = strtod(p, &end);
  if (end == p) return -1;
  *out = v;
  return 0;
}

/* Reads the boolean member `key`: 1 true, 0 false, -1 absent or not a boolean. */
static inline int nil_json_get_bool(const char* json, const char* key) {
  const char* p = nil_json_find(json, key);
  if (!p) return -1;
  if (strncmp(p, "true", 4) == 0) return 1;
  if (strncmp(p, "false", 5) == 0) return 0;
  return -1;
}

/* ---- JSON writing ------------------------------------------------------------------------- */

typedef struct nil_jw {
  char* data;
  size_t len, cap;
  int need_comma; /* a value was written at this level */
  int failed;     /* out of memory */
} nil_jw;

static inline void nil_jw_init(nil_jw* w) { memset(w, 0, sizeof *w); }
static inline void nil_jw_free(nil_jw* w) { free(w->data); nil_jw_init(w); }

static inline void nil_jw_raw(nil_jw* w, const char* s, size_t n) {
  if (w->failed) return;
  if (w->len + n + 1 > w->cap) {
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n + 1) cap *= 2;
    char* d = (char*)realloc(w->data, cap);
    if (!d) { w->failed = 1; return; }
    w->data = d;
    w->cap = cap;
  }
  memcpy(w->data + w->len, s, n);
  w->len += n;
  w->data[w->len] = '\0';
}

static inline void nil__jw_sep(nil_jw* w) {
  if (w->need_comma) nil_jw_raw(w, ",", 1);
  w->need_comma = 1;
}

static inline void nil__jw_quoted(nil_jw* w, const char* s, size_t n) {
  nil_jw_raw(w, "\"", 1);
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    nil_jw_raw(w, s + run, i - run);
    char esc[8];
    if (c == '"') nil_jw_raw(w, "\\\"", 2);
    else if (c == '\\') nil_jw_raw(w, "\\\\", 2);
    else if (c == '\n') nil_jw_raw(w, "\\n", 2);
    else if (c == '\t') nil_jw_raw(w, "\\t", 2);
    else if (c == '\r') nil_jw_raw(w, "\\r", 2);
    else { snprintf(esc, sizeof esc, "\\u%04x", c); nil_jw_raw(w, esc, 6); }
    run = i + 1;
  }
  nil_jw_raw(w, s + run, n - run);
  nil_jw_raw(w, "\"", 1);
}

static inline void nil_jw_begin_object(nil_jw* w) { nil__jw_sep(w); nil_jw_raw(w, "{", 1); w->need_comma = 0; }
static inline void nil_jw_end_object(nil_jw* w) { nil_jw_raw(w, "}", 1); w->need_comma = 1; }
static inline void nil_jw_begin_array(nil_jw* w) { nil__jw_sep(w); nil_jw_raw(w, "[", 1); w->need_comma = 0; }
static inline void nil_jw_end_array(nil_jw* w) { nil_jw_raw(w, "]", 1); w->need_comma = 1; }
/* A member name; the next value call writes its value. */
static inline void nil_jw_key(nil_jw* w, const char* key) {
  nil__jw_sep(w);
  nil__jw_quoted(w, key, strlen(key));
  nil_jw_raw(w, ":", 1);
  w->need_comma = 0;
}
static inline void nil_jw_string_n(nil_jw* w, const char* s, size_t n) { nil__jw_sep(w); nil__jw_quoted(w, s, n); }
static inline void nil_jw_string(nil_jw* w, const char* s) { nil_jw_string_n(w, s, strlen(s)); }
static inline void nil_jw_number(nil_jw* w, double v) {
  char buf[32];
  nil__jw_sep(w);
  if (v != v || v > 1.7976931348623157e308 || v < -1.7976931348623157e308) { nil_jw_raw(w, "null", 4); return; }
  if (v == (double)(int64_t)v && v < 9007199254740992.0 && v > -9007199254740992.0)
    snprintf(buf, sizeof buf, "%lld", (long long)v);
  else
    snprintf(buf, sizeof buf, "%.17g", v);
  nil_jw_raw(w, buf, strlen(buf));
}
static inline void nil_jw_bool(nil_jw* w, int v) { nil__jw_sep(w); nil_jw_raw(w, v ? "true" : "false", v ? 4 : 5); }
static inline void nil_jw_null(nil_jw* w) { nil__jw_sep(w); nil_jw_raw(w, "null", 4); }


/* ---- host functions: import module "nil" (docs/abi.md) ----------------------------------- */
#if defined(__wasm__)

/* Status numbers of nil_env / nil_http_fetch / nil_db_query below zero (the answer is then the
 * error JSON {"error":{"code","message"}}; the code there is the precise one). */
#define NIL_E_NOT_FOUND (-1)       /* env: no such key */
#define NIL_E_UNAVAILABLE (-2)     /* no host services in this invocation */
#define NIL_E_INVALID_REQUEST (-3) /* bad request/params JSON, bad URL; multiple_statements */
#define NIL_E_FORBIDDEN (-4)       /* host_not_allowed, address_not_allowed, not_authorized */
#define NIL_E_TIMEOUT (-5)
#define NIL_E_TOO_LARGE (-6)       /* response_too_large */
#define NIL_E_SQL (-7)             /* sql_error */
#define NIL_E_FAILED (-8)          /* fetch_failed, too_many_redirects, ... */

enum { NIL_LOG_DEBUG = 0, NIL_LOG_INFO = 1, NIL_LOG_WARN = 2, NIL_LOG_ERROR = 3 };

#define NIL__IMPORT(name) __attribute__((import_module("nil"), import_name(name)))
NIL__IMPORT("log") void nil__host_log(int32_t level, const char* ptr, size_t len);
NIL__IMPORT("env") int32_t nil__host_env(const char* key, size_t key_len);
NIL__IMPORT("http_fetch") int32_t nil__host_http_fetch(const char* req, size_t req_len);
NIL__IMPORT("db_query") int32_t nil__host_db_query(const char* sql, size_t sql_len,
                                                   const char* params, size_t params_len);
NIL__IMPORT("result_read") int32_t nil__host_result_read(char* out, size_t cap);
#undef NIL__IMPORT

/* A log line at a level (NIL_LOG_*), printf-style; it goes to the execution's logs. */
static inline void nil_log_level(int level, const char* fmt, ...) {
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) { nil__host_log(level, small, (size_t)n); return; }
  char* big = (char*)malloc((size_t)n + 1);
  if (!big) { nil__host_log(level, small, sizeof small - 1); return; }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  nil__host_log(level, big, (size_t)n);
  free(big);
}

/* Copies out the answer the host holds after a call (length `hint` when >= 0). Returns a
 * malloc'd NUL-terminated buffer, or NULL when out of memory. */
static inline char* nil__take_result(int32_t hint) {
  size_t cap = hint > 0 ? (size_t)hint + 1 : 256, n = 0;
  char* buf = (char*)malloc(cap);
  if (!buf) return NULL;
  for (;;) {
    if (cap - n < 2) {
      char* bigger = (char*)realloc(buf, cap * 2);
      if (!bigger) { free(buf); return NULL; }
      buf = bigger;
      cap *= 2;
    }
    int32_t got = nil__host_result_read(buf + n, cap - n - 1);
    if (got <= 0) break;
    n += (size_t)got;
  }
  buf[n] = '\0';
  return buf;
}

/* The value of `key` in the function's environments (malloc'd; free it), or NULL when absent. */
static inline char* nil_env(const char* key) {
  int32_t status = nil__host_env(key, strlen(key));
  if (status < 0) return NULL;
  return nil__take_result(status);
}

/* One HTTP(S) request: request_json is {"method","url","headers":{},"body"}. Returns the
 * answer JSON (malloc'd): {"status","headers","body"} when *status >= 0, the error JSON when
 * *status < 0 (NIL_E_*). `status` may be NULL. */
static inline char* nil_http_fetch(const char* request_json, int32_t* status) {
  int32_t s = nil__host_http_fetch(request_json, strlen(request_json));
  if (status) *status = s;
  return nil__take_result(s);
}

/* One SQL statement with bound parameters (params_json: a JSON array, or NULL for none).
 * Returns the answer JSON (malloc'd): {"columns","rows","rowsAffected","truncated"} when
 * *status >= 0, the error JSON when *status < 0. `status` may be NULL. */
static inline char* nil_db_query(const char* sql, const char* params_json, int32_t* status) {
  if (!params_json) params_json = "[]";
  int32_t s = nil__host_db_query(sql, strlen(sql), params_json, strlen(params_json));
  if (status) *status = s;
  return nil__take_result(s);
}

#endif /* __wasm__ */

#ifdef __cplusplus
}
#endif

#endif /* NIL_SDK_NIL_H */

/* A test guest for the nil host interface (docs/abi.md): the input {"op","a","b"} names one
 * call; the output is {"status": <the call's status>, "result": "<the answer text>"}.
 * The imports are declared here (not through sdk/c/nil.h's wrappers) so that the test pins
 * the ABI itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nil.h"

#define HOST(name) __attribute__((import_module("nil"), import_name(name)))
HOST("log") void t_log(int32_t level, const char* p, size_t n);
HOST("env") int32_t t_env(const char* p, size_t n);
HOST("http_fetch") int32_t t_fetch(const char* p, size_t n);
HOST("db_query") int32_t t_db(const char* sql, size_t sql_len, const char* params, size_t params_len);
HOST("result_read") int32_t t_read(char* out, size_t cap);

/* The held answer (or error JSON), NUL-terminated. */
static char* take(void) {
  size_t cap = 4096, n = 0;
  char* b = malloc(cap + 1);
  int32_t got;
  while ((got = t_read(b + n, cap - n)) > 0) {
    n += (size_t)got;
    if (n == cap) {
      cap *= 2;
      b = realloc(b, cap + 1);
    }
  }
  b[n] = '\0';
  return b;
}

static void put_call(nil_jw* w, const char* key, int32_t status) {
  char* res = take();
  nil_jw_key(w, key);
  nil_jw_begin_object(w);
  nil_jw_key(w, "status");
  nil_jw_number(w, status);
  nil_jw_key(w, "result");
  nil_jw_string(w, res);
  nil_jw_end_object(w);
  free(res);
}

int main(void) {
  size_t len = 0;
  char* in = nil_read_input(&len);
  char op[32] = "";
  char* a = calloc(len + 1, 1);
  char* b = calloc(len + 1, 1);
  nil_json_get_string(in, "op", op, sizeof op);
  nil_json_get_string(in, "a", a, len + 1);
  long b_len = nil_json_get_string(in, "b", b, len + 1);

  nil_jw w;
  nil_jw_init(&w);
  nil_jw_begin_object(&w);
  if (strcmp(op, "env") == 0) {
    int32_t st = t_env(a, strlen(a));
    char* value = take();
    t_log(1, value, strlen(value));                /* nil.log */
    fprintf(stderr, "stderr: %s\n", value);       /* WASI stderr */
    nil_jw_key(&w, "status");
    nil_jw_number(&w, st);
    nil_jw_key(&w, "result");
    nil_jw_string(&w, value);
    nil_jw_key(&w, "getenv");
    const char* g = getenv(a);
    if (g) nil_jw_string(&w, g); else nil_jw_null(&w);
  } else if (strcmp(op, "fetch") == 0) {
    int32_t st = t_fetch(a, strlen(a));
    put_call(&w, "call", st);
    nil_jw_key(&w, "after");
    nil_jw_string(&w, "went on");
  } else if (strcmp(op, "db") == 0) {
    int32_t st = t_db(a, strlen(a), b, b_len < 0 ? 0 : strlen(b));
    put_call(&w, "call", st);
  } else if (strcmp(op, "db2") == 0) { /* two calls in one execution: a then b */
    int32_t st = t_db(a, strlen(a), "", 0);
    put_call(&w, "first", st);
    st = t_db(b, strlen(b), "", 0);
    put_call(&w, "second", st);
  } else if (strcmp(op, "oob") == 0) { /* a key pointer past the end of linear memory */
    t_env((const char*)(uintptr_t)0xFFFFFF00u, 4096);
  } else if (strcmp(op, "oob_read") == 0) { /* result_read into memory that does not exist */
    t_env("PLAIN", 5);
    t_read((char*)(uintptr_t)0xFFFFFFF0u, 64);
  }
  nil_jw_end_object(&w);
  nil_write_output(w.data, w.len);
  return 0;
}

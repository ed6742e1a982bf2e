/* The kernels' input: a JSON object on stdin such as {"n": 1000}; read_n returns n, or
 * `fallback` when the input has none. A deliberately tiny reader (not a JSON parser): the
 * kernels measure compute, and the same code must build natively and for wasm32-wasi. */
#ifndef NIL_BENCH_KERNEL_INPUT_H
#define NIL_BENCH_KERNEL_INPUT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long read_n(long fallback) {
  static char buf[4096];
  size_t len = fread(buf, 1, sizeof buf - 1, stdin);
  buf[len] = '\0';
  const char* p = strstr(buf, "\"n\"");
  if (!p || !(p = strchr(p + 3, ':'))) return fallback;
  return strtol(p + 1, NULL, 10);
}

#endif

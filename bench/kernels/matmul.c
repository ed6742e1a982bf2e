// matmul — C = A·B for n×n matrices of doubles, i-k-j loop order (streams rows of B and C:
// memory bandwidth, loop overhead and, natively, auto-vectorization at -O2).
// A WASI command (docs/abi.md): stdin {"n": size}, stdout {"sum","trace"} of C.
// Each C[i][j] is accumulated in the same order in every build, so results are bit-identical.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_input.h"

int main(void) {
  long n = read_n(64);
  if (n < 1 || n > 2048) {
    printf("{\"error\":\"n must be 1..2048\"}\n");
    return 1;
  }
  size_t cells = (size_t)n * (size_t)n;
  double* a = malloc(cells * sizeof(double));
  double* b = malloc(cells * sizeof(double));
  double* c = calloc(cells, sizeof(double));
  if (!a || !b || !c) {
    printf("{\"error\":\"out of memory\"}\n");
    return 1;
  }
  for (long i = 0; i < n; i++) {
    for (long j = 0; j < n; j++) {
      a[i * n + j] = (double)((i * 31 + j * 17) % 97) / 97.0 - 0.5;
      b[i * n + j] = (double)((i * 13 + j * 7) % 89) / 89.0 - 0.5;
    }
  }
  for (long i = 0; i < n; i++) {
    double* ci = c + i * n;
    for (long k = 0; k < n; k++) {
      double aik = a[i * n + k];
      const double* bk = b + k * n;
      for (long j = 0; j < n; j++) ci[j] += aik * bk[j];
    }
  }
  double sum = 0, trace = 0;
  for (size_t i = 0; i < cells; i++) sum += c[i];
  for (long i = 0; i < n; i++) trace += c[i * n + i];
  printf("{\"kernel\":\"matmul\",\"n\":%ld,\"sum\":\"%.12e\",\"trace\":\"%.12e\"}\n", n, sum, trace);
  free(a);
  free(b);
  free(c);
  return 0;
}

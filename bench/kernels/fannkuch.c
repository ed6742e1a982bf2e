// fannkuch — for every permutation of 0..n-1, count the prefix reversals ("pancake flips") until
// 0 is in front (integer work on small arrays: loads, stores, data-dependent branches).
// A WASI command (docs/abi.md): stdin {"n": length}, stdout {"checksum","maxFlips"}.
// checksum: the flip counts summed with alternating signs in the order the permutations are
// generated (the counting order below, so that the answer pins the algorithm down).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_input.h"

#define MAX_N 12

int main(void) {
  long n = read_n(7);
  if (n < 1 || n > MAX_N) {
    printf("{\"error\":\"n must be 1..%d\"}\n", MAX_N);
    return 1;
  }
  int order[MAX_N], work[MAX_N], count[MAX_N];
  for (int i = 0; i < n; i++) order[i] = i;
  long checksum = 0, index = 0;
  int max_flips = 0, r = (int)n;
  for (;;) {
    for (; r > 1; r--) count[r - 1] = r;
    memcpy(work, order, sizeof(int) * (size_t)n);
    int flips = 0;
    for (int k = work[0]; k != 0; k = work[0]) {
      for (int i = 0, j = k; i < j; i++, j--) {
        int t = work[i];
        work[i] = work[j];
        work[j] = t;
      }
      flips++;
    }
    if (flips > max_flips) max_flips = flips;
    checksum += (index % 2 == 0) ? flips : -flips;
    // Next permutation: rotate the first r+1 elements left until a counter has turns left.
    for (;;) {
      if (r == n) {
        printf("{\"kernel\":\"fannkuch\",\"n\":%ld,\"checksum\":%ld,\"maxFlips\":%d}\n", n, checksum,
               max_flips);
        return 0;
      }
      int first = order[0];
      for (int i = 0; i < r; i++) order[i] = order[i + 1];
      order[r] = first;
      if (--count[r] > 0) break;
      r++;
    }
    index++;
  }
}

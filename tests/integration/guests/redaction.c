/* A test guest that prints its secret TOKEN where redaction must catch it (issue 11). The input
 * names the case: {"mode": "..."}.
 *   dup         stdout {"a":"<TOKEN>","a":1}            duplicate keys
 *   escdup      stdout {"a":"<T>\u00XX<OKEN>","a":1}    an escaped spelling, duplicate keys
 *   logcap      stderr 65,531 bytes, then TOKEN          the secret straddles the 64 KiB log cap
 *   logcapesc   the same with TOKEN's second byte as \u00XX
 *   notjson     stdout 195 bytes, then TOKEN             not JSON: the error's excerpt is cut at 200 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void pad_stderr(size_t n) {
  char chunk[4096];
  memset(chunk, 'x', sizeof chunk);
  while (n > 0) {
    size_t k = n < sizeof chunk ? n : sizeof chunk;
    fwrite(chunk, 1, k, stderr);
    n -= k;
  }
}

int main(void) {
  char input[256] = {0};
  fread(input, 1, sizeof input - 1, stdin);
  const char* tok = getenv("TOKEN");
  if (tok == NULL || strlen(tok) < 4) {
    printf("\"no TOKEN\"");
    return 0;
  }
  if (strstr(input, "\"escdup\"")) {
    printf("{\"a\":\"%c\\u%04x%s\",\"a\":1}", tok[0], (unsigned char)tok[1], tok + 2);
  } else if (strstr(input, "\"dup\"")) {
    printf("{\"a\":\"%s\",\"a\":1}", tok);
  } else if (strstr(input, "\"logcapesc\"")) {
    pad_stderr(65536 - 5);
    fprintf(stderr, "%c\\u%04x%s\n", tok[0], (unsigned char)tok[1], tok + 2);
    printf("null");
  } else if (strstr(input, "\"logcap\"")) {
    pad_stderr(65536 - 5);
    fprintf(stderr, "%s\n", tok);
    printf("null");
  } else if (strstr(input, "\"notjson\"")) {
    for (int i = 0; i < 195; ++i) putchar('x');
    printf("%s trailing", tok);
  } else {
    printf("\"unknown mode\"");
  }
  return 0;
}
